"""OpenSOCEnv: the one episode state machine behind every transport.

``reset`` finds the family that serves the task (``families.registry``) and lets it start an episode; ``step``
checks the request against the episode (an action that is no action, the wrong role's action, a step after the
end) and hands the action to the family, which scores it. Request-level mistakes raise ``OpenSOCError`` and leave
the episode untouched; a well-formed action whose content fails the schema is the policy's mistake, and the family
scores it. Nothing here knows any family's tasks, options or actions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from .families.base import DEFAULT_SEED, DEFAULT_TASK, Episode, Family, ResetRequest
from .families.registry import action_names, require_family
from .families.runs import AttackerRun
from .models import (
    EpisodeOverError,
    Grade,
    InvalidActionError,
    InvalidParameterError,
    NoEpisodeError,
    NotGradableError,
    Observation,
    OpenSOCError,
    OpenSOCState,
    WrongTurnError,
)
from .tasks.catalog import CATALOG, UnknownSplitError

__all__ = ["OpenSOCEnv", "check_episode_id", "check_seed"]


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


class OpenSOCEnv:
    """One episode at a time; ``reset`` starts the next. Safe to run many instances side by side."""

    SUPPORTS_CONCURRENT_SESSIONS = True

    def __init__(self, run: AttackerRun | None = None):
        self.run = run if run is not None else AttackerRun()
        self._ep: Episode | None = None
        self._family: Family | None = None

    def reset(self, task: str | None = None, seed: int | None = None, episode_id: str | None = None,
              split: str | None = None, index: int | None = None, **options: Any) -> Observation:
        """Start an episode. Defaults: task ``stage1_basic``, seed 0.

        ``options`` are the task family's own (``GET /tasks`` lists them): incident-triage tasks take ``mode``
        (default ``defender_only``), ``defender_policy`` (``attacker_only``'s built-in defender) and
        ``use_replay_pool`` (stage 4 draws sound attacker incidents recorded by this run; off by default so that
        (task, seed) always names the same incident); investigation tasks take ``mode`` and ``defender_policy``; E1
        tasks take ``split`` and ``scoring`` (the flow shown is row ``seed mod len(split)``). An option left at
        ``None`` (or ``False``) is not given.

        ``split`` with ``index`` picks a task of OpenEnv's Task API instead (``tasks.catalog``): the task at that
        index names the task and seed (and a dataset row's split), so neither may be given beside it.
        """
        if index is not None:
            task, seed, split = _task_api_choice(split, index, task, seed)
        family = require_family(task if task is not None else DEFAULT_TASK)
        given = {k: v for k, v in {**options, "split": split}.items() if v is not None and v is not False}
        request = ResetRequest(task=task if task is not None else DEFAULT_TASK, seed=check_seed(seed),
                               episode_id=check_episode_id(episode_id), options=given)
        self._ep, self._family = family.reset(request, self.run), family
        return family.observe(self._ep)

    def step(self, action: Mapping[str, Any] | BaseModel) -> Observation:
        """Apply one role's action. Raises ``OpenSOCError`` for requests the episode cannot take."""
        ep, family = self._require_episode()
        name, content = _unwrap(action)
        if ep.done:
            raise EpisodeOverError("the episode is over; call reset to start another")
        legal = family.legal_actions(ep)
        if name not in legal:
            refusal = family.refusal(ep, name)
            if refusal is not None:
                raise refusal
            role = ep.role or "nobody"
            raise WrongTurnError(f"it is the {role}'s turn: send {' or '.join(legal)}, not {name}", field=name,
                                 expected=legal[0] if len(legal) == 1 else legal)
        ep.step_count += 1
        ep.errors = []
        family.step(ep, name, content, self.run)
        return family.observe(ep)

    def _require_episode(self) -> tuple[Episode, Family]:
        if self._ep is None or self._family is None:
            raise NoEpisodeError("no episode yet; call reset first")
        return self._ep, self._family

    @property
    def family(self) -> Family | None:
        """The family of the current episode."""
        return self._family

    @property
    def episode(self) -> Episode | None:
        return self._ep

    @property
    def state(self) -> OpenSOCState:
        ep = self._ep
        if ep is None:
            return OpenSOCState()
        return OpenSOCState(episode_id=ep.episode_id, step_count=ep.step_count, task=ep.task, mode=ep.mode, seed=ep.seed,
                            phase=ep.phase, role=ep.role, done=ep.done)

    @property
    def done(self) -> bool:
        return self._ep is not None and self._ep.done

    def grade(self) -> Grade:
        """Scores of the finished episode; refuses before the defender (or built-in defender) has acted."""
        ep, family = self._require_episode()
        if not ep.done:
            raise NotGradableError("the episode is not finished: it is graded once the defender has acted",
                                   field="episode_id")
        return family.grade(ep)

    def close(self) -> None:
        self._ep, self._family = None, None


def _task_api_choice(split: Any, index: Any, task: Any, seed: Any) -> tuple[str, int, str | None]:
    """The (task, seed, dataset split) a Task API ``split`` and ``index`` name; refuses a task or seed beside them."""
    for name, value in (("task", task), ("seed", seed)):
        if value is not None:
            raise InvalidParameterError(f"{name} is given with index: a Task API split and index name the task and "
                                        f"seed, so give one or the other", field=name, expected="omit it, or omit index")
    if split is None:
        raise InvalidParameterError("index picks a task of a Task API split: name the split too", field="split",
                                    expected=list(CATALOG.split_names()))
    try:
        entry = CATALOG.entry(split, index)
    except UnknownSplitError as exc:
        raise InvalidParameterError(str(exc), field="split", expected=exc.expected) from None
    except IndexError as exc:  # 400, as the Task API's GET /tasks/{index} answers the same index
        raise OpenSOCError(str(exc), code="INDEX_OUT_OF_RANGE", field="index", expected=f"an integer from 0 to "
                           f"{CATALOG.num_tasks(split) - 1}") from None
    return entry.reset["task"], entry.reset["seed"], entry.reset.get("split")


def _unwrap(action: Mapping[str, Any] | BaseModel) -> tuple[str, Any]:
    names = action_names()
    if isinstance(action, BaseModel):
        given = [n for n in names if getattr(action, n, None) is not None]
        if len(given) == 1:
            return given[0], getattr(action, given[0])
        action = action.model_dump(exclude_none=True)
    if not isinstance(action, Mapping):
        raise InvalidActionError("an action is a JSON object holding " + ", ".join(names), field="action",
                                 expected=list(names))
    unknown = [k for k in action if k not in names]
    if unknown:
        raise InvalidActionError(f"unknown action field {str(unknown[0])[:64]!r}; expected one of: {', '.join(names)}",
                                 field=str(unknown[0])[:64], expected=list(names))
    present = [k for k in names if action.get(k) is not None]
    if len(present) != 1:
        raise InvalidActionError(f"an action holds exactly one of: {', '.join(names)}", field="action",
                                 expected=list(names))
    return present[0], action[present[0]]
