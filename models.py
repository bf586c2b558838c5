"""Wire models every family shares: an observation's, a state's and a grade's common fields, and the one error type.

Each family (``families``) subclasses ``Observation`` and ``Grade`` with its own fields and a ``family`` tag;
``families.registry`` joins them into the discriminated unions that ``/reset``, ``/step``, ``/grade``, ``/ws`` and
``GET /schema`` carry. ``OpenSOCError`` is every refusal OpenSOC makes, in process, on the server and in the clients:
a stable ``code``, a message, the ``field`` at fault and what was ``expected`` there; the service maps codes to HTTP
statuses in one table (``service.errors``).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from .schema import StrictModel

Role = Literal["attacker", "defender"]
Mode = Literal["defender_only", "self_play", "attacker_only"]
MODES: tuple[str, ...] = ("defender_only", "self_play", "attacker_only")
Phase = Literal["awaiting_attacker", "awaiting_defender", "done"]


class FieldError(StrictModel):
    """One invalid field in a submitted action: where, what was wrong, and the pydantic error type."""

    loc: str = Field(description="Dotted path of the field inside the action, e.g. 'events.0.destination.port'.")
    msg: str = Field(description="What was expected.")
    type: str


class Observation(StrictModel):
    """What a step returns, in every family. ``done`` and ``reward`` travel beside it in the OpenEnv envelope.

    ``shared_fields`` names fields whose values are large, immutable and shared between episodes (a generated
    incident's alert and prompt): the service serialises each such object once.
    """

    shared_fields: ClassVar[tuple[str, ...]] = ()

    family: str = Field(description="The task family, which says what else the observation holds.")
    role: Role | None = Field(description="Whose turn it is; None once the episode is over.")
    episode_id: str
    task: str
    mode: Mode
    seed: int
    prompt: str = Field(description="Ready-to-use prompt for an LLM playing the current role (empty when done).")
    legal_actions: list[str] = Field(description="Action names accepted now; none once the episode is over.")
    errors: list[FieldError] = Field(default_factory=list, description="Invalid fields of the last action, if it was "
                                     "scored as invalid.")
    done: bool = False
    reward: float | None = Field(default=None, description="Reward of the step that produced this observation.")


class OpenSOCState(StrictModel):
    """The episode's bookkeeping; never holds the ground truth before the defender acts."""

    episode_id: str | None = None
    step_count: int = Field(default=0, ge=0)
    task: str | None = None
    mode: Mode | None = None
    seed: int | None = None
    phase: Phase | None = None
    role: Role | None = None
    done: bool = False


class Grade(StrictModel):
    """Scores of a finished episode, in every family."""

    family: str = Field(description="The task family, which says what else the grade holds.")
    episode_id: str
    task: str
    mode: Mode
    score: float = Field(description="The acting role's reward mapped onto [0, 1] (the defender's, the attacker's in "
                                     "attacker_only, the classifier's on E1).")
    defender_reward: float | None
    attacker_reward: float | None
    defender_score: float | None = Field(description="Defender reward normalized to [0, 1].")
    attacker_score: float | None = Field(description="Attacker reward normalized to [0, 1].")


class OpenSOCError(Exception):
    """A request OpenSOC refuses: a stable ``code``, what was wrong, the ``field`` at fault and what was ``expected``.

    Raised by the core (an episode that cannot take a request), the service (a request it cannot parse) and the
    clients (the server's refusal, or a server that did not answer); ``status`` is the HTTP status when one was
    given, ``headers`` any the answer must carry (``Retry-After``), ``body`` the answer as received by a client.
    Subclasses fix a ``code``; a plain instance names its own.
    """

    code = "ERROR"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None, expected: Any = None,
                 status: int | None = None, headers: dict[str, str] | None = None, body: Any = None):
        super().__init__(message)
        self.message, self.field, self.expected, self.status, self.body = message, field, expected, status, body
        self.headers = headers or {}
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return f"{self.code}: {self.message}" + (f" (field: {self.field})" if self.field else "")


class InvalidParameterError(OpenSOCError):
    code = "INVALID_PARAMETER"


class InvalidActionError(OpenSOCError):
    code = "INVALID_ACTION"


class WrongTurnError(OpenSOCError):
    code = "WRONG_TURN"


class EpisodeOverError(OpenSOCError):
    code = "EPISODE_OVER"


class NoEpisodeError(OpenSOCError):
    code = "NO_EPISODE"


class NotGradableError(OpenSOCError):
    code = "NOT_GRADABLE"


class BudgetExhaustedError(OpenSOCError):
    code = "BUDGET_EXHAUSTED"
