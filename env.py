"""OpenSOCEnv: the one episode state machine behind every transport.

``reset`` finds the family that serves the task (incident triage, investigation, E1: ``families``) and lets it
start an episode; ``step`` checks the request against the episode (an action that is no action, the wrong role's
action, a step after the end) and hands the action to the family, which scores it. Request-level mistakes raise
``EpisodeError`` and leave the episode untouched; a well-formed action whose content fails the schema is the
policy's mistake, and the family scores it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .families.runs import REPLAY_POOL_SIZE, AttackerRun
from .families.registry import family_for
from .families.base import (
    DEFAULT_MODE,
    DEFAULT_SEED,
    DEFAULT_TASK,
    BudgetExhaustedError,
    Episode,
    EpisodeError,
    EpisodeOverError,
    InvalidActionError,
    InvalidParameterError,
    NoEpisodeError,
    NotGradableError,
    ResetRequest,
    WrongTurnError,
)
from .families.e1.family import E1_SCORING, e1_dataset, e1_source
from .families.triage.family import DEFAULT_DEFENDER_POLICY, Materialized, materialize, materialized_incident
from .models import Grade, OpenSOCObservation, OpenSOCState
from .schema import ACTION_NAMES, OpenSOCAction
from .families.registry import all_task_names

__all__ = [
    "ACTION_NAMES", "DEFAULT_DEFENDER_POLICY", "DEFAULT_MODE", "DEFAULT_SEED", "DEFAULT_TASK", "E1_SCORING",
    "REPLAY_POOL_SIZE", "AttackerRun", "BudgetExhaustedError", "EpisodeError", "EpisodeOverError", "InvalidActionError",
    "InvalidParameterError", "Materialized", "NoEpisodeError", "NotGradableError", "OpenSOCEnv", "WrongTurnError",
    "e1_dataset", "e1_source", "materialize", "materialized_incident",
]


class OpenSOCEnv:
    """One episode at a time; ``reset`` starts the next. Safe to run many instances side by side."""

    SUPPORTS_CONCURRENT_SESSIONS = True

    def __init__(self, run: AttackerRun | None = None):
        self.run = run if run is not None else AttackerRun()
        self._ep: Episode | None = None
        self._family = None

    def reset(
        self,
        task: str | None = None,
        mode: str | None = None,
        seed: int | None = None,
        episode_id: str | None = None,
        defender_policy: str | None = None,
        use_replay_pool: bool = False,
        split: str | None = None,
        scoring: str | None = None,
        index: int | None = None,
    ) -> OpenSOCObservation:
        """Start an episode. Defaults: task ``stage1_basic``, mode ``defender_only``, seed 0.

        Incident-triage tasks take ``mode``, ``defender_policy`` (``attacker_only``'s built-in defender) and
        ``use_replay_pool`` (stage 4 draws sound attacker incidents recorded by this run; off by default so that
        (task, seed) always names the same incident). Investigation tasks take ``mode`` and ``defender_policy``.
        E1 tasks take ``split`` and ``scoring``; the flow shown is row ``seed mod len(split)``.

        ``split`` with ``index`` picks a task of OpenEnv's Task API instead (``task_api``): the task at that index
        names the task and seed (and an E1 row's split), so neither may be given beside it.
        """
        if index is not None:
            task, seed, split = _task_api_choice(split, index, task, seed)
        task = task if task is not None else DEFAULT_TASK
        family = family_for(task) if isinstance(task, str) else None
        if family is None:
            raise InvalidParameterError(f"unknown task {task!r}; expected one of: {', '.join(all_task_names())}",
                                        field="task", expected=all_task_names())
        request = ResetRequest(task=task, mode=mode, seed=seed, episode_id=episode_id, defender_policy=defender_policy,
                               use_replay_pool=use_replay_pool, split=split, scoring=scoring)
        self._ep, self._family = family.reset(request, self.run), family
        return family.observe(self._ep)

    def step(self, action: Mapping[str, Any] | OpenSOCAction) -> OpenSOCObservation:
        """Apply one role's action. Raises ``EpisodeError`` for requests the episode cannot take."""
        ep = self._require_episode()
        name, content = _unwrap(action)
        if ep.done:
            raise EpisodeOverError("the episode is over; call reset to start another")
        legal = self._family.legal_actions(ep)
        if name not in legal:
            if name == "tool_call" and "submit_triage" in legal and ep.task in _tool_tasks():
                raise BudgetExhaustedError("the tool calls of this case are spent: send submit_triage",
                                           field="tool_call", expected="submit_triage")
            role = ep.role or "nobody"
            raise WrongTurnError(f"it is the {role}'s turn: send {' or '.join(legal)}, not {name}", field=name,
                                 expected=legal[0] if len(legal) == 1 else legal)
        ep.step_count += 1
        ep.errors = []
        self._family.step(ep, name, content, self.run)
        return self._family.observe(ep)

    def _require_episode(self) -> Episode:
        if self._ep is None:
            raise NoEpisodeError("no episode yet; call reset first")
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
        ep = self._require_episode()
        if not ep.done:
            raise NotGradableError("the episode is not finished: it is graded once the defender has acted",
                                   field="episode_id")
        return self._family.grade(ep)

    def close(self) -> None:
        self._ep, self._family = None, None


def _task_api_choice(split: Any, index: Any, task: Any, seed: Any) -> tuple[str, int, str | None]:
    """The (task, seed, E1 split) a Task API ``split`` and ``index`` name; refuses a task or seed given beside them."""
    from .tasks.catalog import CATALOG, UnknownSplitError  # task_api reads the frozen files, whose module imports this one

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
    except IndexError as exc:
        raise InvalidParameterError(str(exc), field="index", expected=f"an integer from 0 to "
                                    f"{CATALOG.num_tasks(split) - 1}") from None
    return entry.reset["task"], entry.reset["seed"], entry.reset.get("split")


def _tool_tasks() -> set[str]:
    from .families.investigation.tasks import INVESTIGATION_TASKS

    return set(INVESTIGATION_TASKS)


def _unwrap(action: Mapping[str, Any] | OpenSOCAction) -> tuple[str, Any]:
    if isinstance(action, OpenSOCAction):
        return action.name, getattr(action, action.name)
    if not isinstance(action, Mapping):
        raise InvalidActionError("an action is a JSON object holding " + ", ".join(ACTION_NAMES), field="action",
                                 expected=list(ACTION_NAMES))
    unknown = [k for k in action if k not in ACTION_NAMES]
    if unknown:
        raise InvalidActionError(f"unknown action field {str(unknown[0])[:64]!r}; expected one of: {', '.join(ACTION_NAMES)}",
                                 field=str(unknown[0])[:64], expected=list(ACTION_NAMES))
    present = [k for k in ACTION_NAMES if action.get(k) is not None]
    if len(present) != 1:
        raise InvalidActionError(f"an action holds exactly one of: {', '.join(ACTION_NAMES)}", field="action",
                                 expected=list(ACTION_NAMES))
    return present[0], action[present[0]]


