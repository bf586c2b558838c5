"""Typed results and errors shared by the HTTP and WebSocket clients."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..families.registry import grade_adapter, observation_adapter
from ..models import Grade, Observation, OpenSOCError, OpenSOCState

__all__ = ["OpenSOCError", "StepResult", "http_error", "parse_grade", "parse_state"]


@dataclass(frozen=True)
class StepResult:
    """One reset or step: the observation (its family's model: ``observation.family`` says which), its reward and
    whether the episode ended."""

    observation: Observation
    reward: float | None
    done: bool

    @property
    def episode_id(self) -> str:
        return self.observation.episode_id

    @classmethod
    def from_envelope(cls, payload: dict[str, Any]) -> StepResult:
        obs = observation_adapter().validate_python(
            {**payload["observation"], "reward": payload.get("reward"), "done": payload.get("done", False)})
        return cls(observation=obs, reward=payload.get("reward"), done=bool(payload.get("done", False)))


def parse_state(payload: dict[str, Any]) -> OpenSOCState:
    return OpenSOCState.model_validate(payload)


def parse_grade(payload: dict[str, Any]) -> Grade:
    return grade_adapter().validate_python(payload)


def http_error(status: int, payload: Any) -> OpenSOCError:
    if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
        err = payload["error"]
        return OpenSOCError(err.get("message", ""), code=err.get("code", "ERROR"), field=err.get("field"),
                            expected=err.get("expected"), status=status, body=payload)
    detail = payload.get("detail") if isinstance(payload, dict) else payload
    return OpenSOCError(str(detail), code="VALIDATION_ERROR" if status == 422 else "HTTP_ERROR", status=status,
                        body=payload)
