"""Typed results and errors shared by the HTTP and WebSocket clients."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..models import OpenSOCObservation, OpenSOCState


class OpenSOCError(RuntimeError):
    """An error answer from the server: HTTP status (or the WebSocket error code), stable code, field."""

    def __init__(self, status: int | None, code: str, message: str, field: str | None = None, body: Any = None):
        super().__init__(f"{code}: {message}" + (f" (field: {field})" if field else ""))
        self.status, self.code, self.message, self.field, self.body = status, code, message, field, body


@dataclass(frozen=True)
class StepResult:
    """One reset or step: the observation, its reward and whether the episode ended."""

    observation: OpenSOCObservation
    reward: float | None
    done: bool

    @property
    def episode_id(self) -> str:
        return self.observation.episode_id

    @classmethod
    def from_envelope(cls, payload: dict[str, Any]) -> StepResult:
        obs = OpenSOCObservation.model_validate(
            {**payload["observation"], "reward": payload.get("reward"), "done": payload.get("done", False)})
        return cls(observation=obs, reward=payload.get("reward"), done=bool(payload.get("done", False)))


def parse_state(payload: dict[str, Any]) -> OpenSOCState:
    return OpenSOCState.model_validate(payload)


def http_error(status: int, payload: Any) -> OpenSOCError:
    if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
        err = payload["error"]
        return OpenSOCError(status, err.get("code", "ERROR"), err.get("message", ""), err.get("field"), payload)
    detail = payload.get("detail") if isinstance(payload, dict) else payload
    return OpenSOCError(status, "VALIDATION_ERROR" if status == 422 else "HTTP_ERROR", str(detail), None, payload)
