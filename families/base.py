"""The episode protocol every task family implements, and the pieces it is built from.

A family (incident triage, investigation, E1 flow classification, or one a user registers) owns its episodes: which
tasks it serves, the reset options it takes, the actions it accepts in each phase, how an action is scored, and what
its observation and grade hold. ``env.OpenSOCEnv`` finds the family of a task and dispatches to it; the service, the
Task API and MCP ask the family, never branch on it. A family is a folder under ``families/`` and one line in
``registry``; if adding one would mean naming it anywhere else, the protocol lacks a method.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar

from pydantic import ValidationError

from ..models import FieldError, Grade, InvalidParameterError, Observation, OpenSOCError
from ..tasks.entries import SplitSource
from .runs import AttackerRun

DEFAULT_TASK = "stage1_basic"
DEFAULT_MODE = "defender_only"
DEFAULT_SEED = 0
MAX_FIELD_ERRORS = 50


@dataclass(frozen=True)
class Option:
    """A reset option a family takes: its wire type, what it means, and what a valid value looks like.

    ``needs_run``: the option reads the attacker run the episode belongs to, so a transport must name one.
    """

    annotation: Any
    description: str
    expected: Any = None
    max_length: int | None = None
    needs_run: bool = False
    default: Any = None


@dataclass(frozen=True)
class TaskInfo:
    """One task a family serves, as ``/tasks``, ``opensoc tasks`` and the Task API describe it.

    ``stage`` is the curriculum stage (1-4) where there is one; ``train`` puts the task in the Task API's ``train``
    split; ``details`` holds what else the family says of it (budgets, splits, scoring modes).
    """

    name: str
    family: str
    title: str
    description: str
    stage: int | None = None
    train: bool = False
    details: Mapping[str, Any] = field(default_factory=dict)

    def overview(self) -> dict[str, Any]:
        return {"name": self.name, "family": self.family, "stage": self.stage, "title": self.title,
                "description": self.description, **self.details}


@dataclass(frozen=True)
class McpTool:
    """A stateless tool a family offers MCP clients for one of its tasks and a seed.

    ``properties`` are the JSON Schema properties of the arguments beside ``task`` and ``seed`` (``required`` names
    the ones that must be given); ``call(task, seed, arguments)`` returns the tool's text and whether it is an error.
    ``costly`` tools run on the service's worker. ``budget(task)``, when given, is how many calls one client may make
    on one (task, seed): the same ration an episode of the task gets.
    """

    name: str
    description: str
    properties: Mapping[str, Any]
    call: Callable[[str, int, dict[str, Any]], tuple[str, bool]]
    required: tuple[str, ...] = ()
    costly: bool = False
    budget: Callable[[str], int] | None = None


@dataclass(frozen=True)
class ResetRequest:
    """A reset's arguments: the task, its seed, the episode id, and the family's own options (unchecked)."""

    task: str
    seed: int
    episode_id: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


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


class Family(ABC):
    """A task family: its tasks, options, actions, episodes and their scoring.

    Subclasses set ``name``, ``observation`` and ``grade_model`` (their ``family`` field is ``Literal[name]``),
    ``actions`` (action name -> the type its content validates as) and ``options`` (reset option -> ``Option``).
    """

    name: ClassVar[str]
    observation: ClassVar[type[Observation]]
    grade_model: ClassVar[type[Grade]]
    actions: ClassVar[Mapping[str, Any]]
    options: ClassVar[Mapping[str, Option]] = {}

    @abstractmethod
    def tasks(self) -> Sequence[TaskInfo]:
        """The tasks this family serves, in the order ``/tasks`` lists them."""

    @cached_property
    def task_names(self) -> frozenset[str]:
        return frozenset(t.name for t in self.tasks())

    def owns(self, task: str) -> bool:
        return task in self.task_names

    @abstractmethod
    def reset(self, request: ResetRequest, run: AttackerRun) -> Episode:
        """Start an episode; refuse options this family does not take or values it cannot use."""

    @abstractmethod
    def legal_actions(self, episode: Episode) -> list[str]:
        """The action names the episode takes now; none once it is over."""

    def refusal(self, episode: Episode, action: str) -> OpenSOCError | None:
        """A refusal more specific than "wrong turn" for ``action``, which the episode does not take now."""
        return None

    @abstractmethod
    def step(self, episode: Episode, action: str, content: Any, run: AttackerRun) -> None:
        """Apply a legal action; content that fails its schema is the policy's mistake, scored, not raised."""

    @abstractmethod
    def observe(self, episode: Episode) -> Observation:
        """What the acting role sees now (the final observation once the episode is over)."""

    @abstractmethod
    def grade(self, episode: Episode) -> Grade:
        """Scores of a finished episode."""

    def stateless_refusal(self, options: Mapping[str, Any]) -> str | None:
        """Why a step without an episode id cannot re-create this family's episode from (task, seed, options), or
        None when it can (the episode is fixed by them and one step ends it)."""
        return None

    def cheap_reset(self, request: ResetRequest) -> bool:
        """Whether a reset costs a small, fixed time (the service may then run it on its event loop)."""
        return True

    def cheap_step(self, episode: Episode, action: str) -> bool:
        """Whether this step costs a small, fixed time."""
        return True

    def splits(self) -> Mapping[str, SplitSource]:
        """The Task API splits this family contributes beside ``train`` (hold-outs, dataset splits)."""
        return {}

    def mcp_tools(self) -> Sequence[McpTool]:
        """The stateless tools this family offers MCP clients."""
        return ()


def field_errors(exc: ValidationError) -> list[FieldError]:
    return [FieldError(loc=".".join(str(p) for p in e["loc"]) or "(root)", msg=e["msg"][:300], type=e["type"])
            for e in exc.errors()[:MAX_FIELD_ERRORS]]


def check_choice(name: str, value: Any, valid: Sequence[str]) -> str:
    if value not in valid:
        raise InvalidParameterError(f"unknown {name} {str(value)[:64]!r}; expected one of: {', '.join(valid)}",
                                    field=name, expected=list(valid))
    return value


def refuse_options(request: ResetRequest, family: Family) -> None:
    """Refuse reset options ``family`` does not take, naming the option and the family."""
    for name in request.options:
        if name not in family.options:
            raise InvalidParameterError(
                f"{name} does not apply to {family.name} tasks", field=name,
                expected=f"one of the options {family.name} tasks take: {', '.join(sorted(family.options)) or 'none'}")
