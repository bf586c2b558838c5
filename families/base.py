"""The episode protocol every task family implements, and the errors an episode raises.

A family (incident triage, E1 flow classification, investigation) owns its episodes: which tasks it serves, how a
reset starts one, which actions it takes in which phase, how an action is scored, and what an observation and a
grade hold. ``env.OpenSOCEnv`` finds the family of a task and dispatches to it; it knows nothing of any family's
internals. Adding a family adds a module here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import ValidationError

from .runs import AttackerRun
from ..models import FieldError, Grade, OpenSOCObservation

DEFAULT_TASK = "stage1_basic"
DEFAULT_MODE = "defender_only"
DEFAULT_SEED = 0
MAX_FIELD_ERRORS = 50


class EpisodeError(Exception):
    """A request the episode cannot take; ``code`` is stable, ``field`` names the culprit when there is one."""

    code = "EPISODE_ERROR"

    def __init__(self, message: str, *, field: str | None = None, expected: Any = None):
        super().__init__(message)
        self.message, self.field, self.expected = message, field, expected


class InvalidParameterError(EpisodeError):
    code = "INVALID_PARAMETER"


class InvalidActionError(EpisodeError):
    code = "INVALID_ACTION"


class WrongTurnError(EpisodeError):
    code = "WRONG_TURN"


class EpisodeOverError(EpisodeError):
    code = "EPISODE_OVER"


class NoEpisodeError(EpisodeError):
    code = "NO_EPISODE"


class NotGradableError(EpisodeError):
    code = "NOT_GRADABLE"


class BudgetExhaustedError(EpisodeError):
    code = "BUDGET_EXHAUSTED"


@dataclass
class Episode:
    """What every episode has; a family's episode adds its own state."""

    episode_id: str
    task: str
    mode: str
    seed: int
    phase: str  # awaiting_attacker, awaiting_defender or done
    step_count: int = 0
    errors: list[FieldError] = field(default_factory=list)
    last_reward: float | None = None

    @property
    def done(self) -> bool:
        return self.phase == "done"

    @property
    def role(self) -> str | None:
        return {"awaiting_attacker": "attacker", "awaiting_defender": "defender"}.get(self.phase)

    def finish(self, reward: float) -> None:
        self.phase = "done"
        self.last_reward = reward


@dataclass(frozen=True)
class ResetRequest:
    """A reset's arguments, as the transports pass them; each family checks the ones it takes and refuses the rest."""

    task: str
    mode: str | None = None
    seed: int | None = None
    episode_id: str | None = None
    defender_policy: str | None = None
    use_replay_pool: bool = False
    split: str | None = None
    scoring: str | None = None


class Family(Protocol):
    """A task family: its tasks, its episodes and their scoring."""

    name: str

    def owns(self, task: str) -> bool: ...

    def reset(self, request: ResetRequest, run: AttackerRun) -> Episode: ...

    def legal_actions(self, episode: Episode) -> list[str]: ...

    def step(self, episode: Episode, action: str, content: Any, run: AttackerRun) -> None: ...

    def observe(self, episode: Episode) -> OpenSOCObservation: ...

    def grade(self, episode: Episode) -> Grade: ...


def field_errors(exc: ValidationError) -> list[FieldError]:
    return [FieldError(loc=".".join(str(p) for p in e["loc"]) or "(root)", msg=e["msg"][:300], type=e["type"])
            for e in exc.errors()[:MAX_FIELD_ERRORS]]


def check_seed(seed: Any) -> int:
    seed = DEFAULT_SEED if seed is None else seed
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InvalidParameterError(f"seed must be a non-negative integer, got {seed!r}", field="seed",
                                    expected="an integer ≥ 0")
    return seed


def check_episode_id(episode_id: Any) -> str | None:
    if episode_id is not None and (not isinstance(episode_id, str) or not 0 < len(episode_id) <= 255):
        raise InvalidParameterError("episode_id must be a string of 1 to 255 characters", field="episode_id",
                                    expected="a string of 1 to 255 characters")
    return episode_id


def check_choice(name: str, value: Any, valid: tuple[str, ...] | list[str]) -> str:
    if value not in valid:
        raise InvalidParameterError(f"unknown {name} {value!r}; expected one of: {', '.join(valid)}", field=name,
                                    expected=list(valid))
    return value


def refuse_options(request: ResetRequest, family: str, allowed: set[str]) -> None:
    """Refuse reset options a family does not take, naming the option and the family."""
    given = {"mode": request.mode is not None, "defender_policy": request.defender_policy is not None,
             "use_replay_pool": request.use_replay_pool, "split": request.split is not None,
             "scoring": request.scoring is not None}
    for name, present in given.items():
        if present and name not in allowed:
            raise InvalidParameterError(f"{name} does not apply to {family} tasks", field=name,
                                        expected=f"one of the options {family} tasks take: {', '.join(sorted(allowed)) or 'none'}")
