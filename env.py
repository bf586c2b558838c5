"""OpenSOCEnv: the one episode state machine behind every transport.

Phases::

    defender_only:  reset ─▶ awaiting_defender ─submit_triage▶ done
    self_play:      reset ─▶ awaiting_attacker ─craft_incident▶ awaiting_defender ─submit_triage▶ done
    attacker_only:  reset ─▶ awaiting_attacker ─craft_incident▶ (built-in defender answers) done

A craft that is not sound (implausible, contested or mislabelled: ``adjudication``) ends the
episode at once: it pays the attacker nothing, no defender is asked about it, and it never
enters the replay pool.

Request-level mistakes (an action that is neither role's, the wrong role's action, a step
after the end, an unknown task) raise ``EpisodeError`` and leave the episode untouched.
A well-formed action whose triage or incident fails the schema is the policy's mistake:
it is scored (format violation, schema failure) and the observation lists each bad field.
"""

from __future__ import annotations

import json
import os
import random
import uuid
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

from pydantic import ValidationError

from .adjudication import Adjudication, adjudicate
from .alerting import materialize_alert
from .defenders import DEFENDER_POLICIES
from .generator import generate, seed_material
from .inventory import INVENTORY
from .models import (
    MODES,
    AttackerBrief,
    FieldError,
    Grade,
    OpenSOCObservation,
    OpenSOCState,
    RewardBreakdown,
    Verdict,
)
from .prompting import attacker_prompt, defender_prompt
from .rubric import (
    ATTACKER_REWARD_RANGE,
    DEFENDER_REWARD_RANGE,
    AttackerScore,
    DefenderScore,
    normalized,
    score_incident,
    score_triage,
)
from .schema import TRIAGE_ACTIONS, Alert, IncidentParams, OpenSOCAction, SubmitTriage
from .e1.loading import DATASET_SOURCES, E1Dataset, E1SplitError, episode_rows, load_e1_dataset
from .e1.scoring import SYSTEM_PROMPT as E1_SYSTEM_PROMPT
from .e1.scoring import E1Score, reward_range, score_compat, score_default
from .models import FlowQuestion, FlowVerdict
from .tasks.registry import E1_TASKS, UnknownTaskError, all_task_names, get_task
from .verifier import GroundTruth, PlausibilityReport, compute_ground_truth

DEFAULT_TASK = "stage1_basic"
DEFAULT_MODE = "defender_only"
DEFAULT_SEED = 0
DEFAULT_DEFENDER_POLICY = "analyst"
REPLAY_POOL_SIZE = 512  # sound crafts kept per run, shared equally among the verdict actions
MATERIALIZED_CACHE_SIZE = 8192
MAX_FIELD_ERRORS = 50
ACTION_NAMES = ("craft_incident", "submit_triage", "classify_flow")
E1_SCORING = ("default", "compat")


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


def _pool_by_action() -> dict[str, deque[IncidentParams]]:
    return {a: deque(maxlen=REPLAY_POOL_SIZE // len(TRIAGE_ACTIONS)) for a in TRIAGE_ACTIONS}


@dataclass
class AttackerRun:
    """What a run of attacker episodes shares: the ways to win already credited (at most ``MAX_NOVELTY_PER_RUN``),
    the stage-4 replay pool of sound crafts by verdict, and a count of craft outcomes."""

    seen_signatures: set[str] = field(default_factory=set)
    replay_pool: dict[str, deque[IncidentParams]] = field(default_factory=_pool_by_action)
    outcomes: Counter = field(default_factory=Counter)

    def record(self, params: IncidentParams, score: AttackerScore, verdict: str | None) -> None:
        self.outcomes[score.outcome] += 1
        if score.novel and score.signature is not None:
            self.seen_signatures.add(score.signature)
        if score.outcome in ("evaded", "caught") and verdict is not None:
            self.replay_pool[verdict].append(params)

    def pool(self) -> dict[str, tuple[IncidentParams, ...]]:
        """A snapshot of the replay pool for ``generate``: verdict action -> sound crafts with that verdict."""
        return {a: tuple(crafts) for a, crafts in self.replay_pool.items() if crafts}


@dataclass(frozen=True)
class Materialized:
    """Everything derived from one incident, computed once; all parts are immutable."""

    incident: IncidentParams
    truth: GroundTruth
    alert: Alert
    defender_prompt: str


def materialize(params: IncidentParams, truth: GroundTruth | None = None) -> Materialized:
    """Ground truth, alert and defender prompt of ``params`` (``truth`` when it is already known)."""
    alert = materialize_alert(params)
    return Materialized(params, truth or compute_ground_truth(params), alert, defender_prompt(alert))


@lru_cache(maxsize=MATERIALIZED_CACHE_SIZE)
def materialized_incident(task: str, seed: int) -> Materialized:
    """The generated incident for (task, seed), materialized once per process.

    Generation is deterministic, so sessions may share the result: GRPO groups and eval
    runs ask for the same (task, seed) many times.
    """
    return materialize(generate(task, seed))


@dataclass
class _Episode:
    episode_id: str
    task: str
    mode: str
    seed: int
    defender_policy: str
    phase: str
    step_count: int = 0
    target_category: str | None = None
    incident: IncidentParams | None = None
    truth: GroundTruth | None = None
    plausibility: PlausibilityReport | None = None
    adjudication: Adjudication | None = None
    alert: Alert | None = None
    prompt: str = ""
    triage: SubmitTriage | None = None
    defender: DefenderScore | None = None
    attacker: AttackerScore | None = None
    errors: list[FieldError] = field(default_factory=list)
    last_reward: float | None = None
    flow: FlowQuestion | None = None  # E1 episodes only
    flow_answer: str | None = None
    e1: E1Score | None = None


def _field_errors(exc: ValidationError) -> list[FieldError]:
    return [FieldError(loc=".".join(str(p) for p in e["loc"]) or "(root)", msg=e["msg"][:300], type=e["type"])
            for e in exc.errors()[:MAX_FIELD_ERRORS]]


@lru_cache(maxsize=16)
def e1_dataset(dataset_file: str, dataset_source: str) -> E1Dataset:
    """An E1 dataset, loaded once per process and source (the tier it used is logged once)."""
    return load_e1_dataset(dataset_file, dataset_source)


def e1_source() -> str:
    source = os.environ.get("E1_DATASET_SOURCE", "auto")
    if source not in DATASET_SOURCES:
        raise InvalidParameterError(f"E1_DATASET_SOURCE={source!r}; expected one of: {', '.join(DATASET_SOURCES)}",
                                    field="dataset_source", expected=list(DATASET_SOURCES))
    return source


@cache
def _event_schema() -> dict:
    return IncidentParams.model_json_schema()


@cache
def _inventory_summary() -> str:
    hosts = "; ".join(f"{h.name} {h.ip} {h.role}" + (f" owner={h.owner}" if h.owner else "") for h in INVENTORY.hosts)
    users = "; ".join(f"{u.name} [{', '.join(u.groups) or '-'}]" for u in INVENTORY.users)
    services = "; ".join(f"{s.name} {s.domain} {s.ip}" for s in INVENTORY.services)
    return f"Hosts: {hosts}\nUsers: {users}\nKnown-good services: {services}"


def _check_seed(seed: Any) -> int:
    seed = DEFAULT_SEED if seed is None else seed
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InvalidParameterError(f"seed must be a non-negative integer, got {seed!r}", field="seed")
    return seed


def _check_episode_id(episode_id: Any) -> str | None:
    if episode_id is not None and (not isinstance(episode_id, str) or not 0 < len(episode_id) <= 255):
        raise InvalidParameterError("episode_id must be a string of 1 to 255 characters", field="episode_id")
    return episode_id


def _check_choice(name: str, value: Any, valid: tuple[str, ...] | list[str]) -> str:
    if value not in valid:
        raise InvalidParameterError(f"unknown {name} {value!r}; expected one of: {', '.join(valid)}", field=name,
                                    expected=list(valid))
    return value


class OpenSOCEnv:
    """One episode at a time; ``reset`` starts the next. Safe to run many instances side by side."""

    SUPPORTS_CONCURRENT_SESSIONS = True

    def __init__(self, run: AttackerRun | None = None):
        self.run = run if run is not None else AttackerRun()
        self._ep: _Episode | None = None

    # ------------------------------------------------------------------ reset

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
    ) -> OpenSOCObservation:
        """Start an episode. Defaults: task ``stage1_basic``, mode ``defender_only``, seed 0.

        ``use_replay_pool`` lets stage-4 draw sound attacker incidents recorded by this
        run; it is off by default so that (task, seed) always names the same incident.
        E1 tasks take ``split`` (their default split otherwise) and ``scoring`` (``default``
        or ``compat``); the flow shown is row ``seed mod len(split)``.
        """
        task = task if task is not None else DEFAULT_TASK
        if task in E1_TASKS:
            return self._reset_e1(task, mode, seed, episode_id, split, scoring)
        if split is not None or scoring is not None:
            name = "split" if split is not None else "scoring"
            raise InvalidParameterError(f"{name} applies to the E1 tasks only", field=name)
        try:
            spec = get_task(task)
        except UnknownTaskError:
            raise InvalidParameterError(f"unknown task {task!r}; expected one of: {', '.join(all_task_names())}",
                                        field="task", expected=all_task_names()) from None
        mode = _check_choice("mode", mode if mode is not None else DEFAULT_MODE, MODES)
        policy = _check_choice("defender_policy", defender_policy or DEFAULT_DEFENDER_POLICY, tuple(DEFENDER_POLICIES))
        seed, episode_id = _check_seed(seed), _check_episode_id(episode_id)
        ep = _Episode(
            episode_id=episode_id or str(uuid.uuid4()),
            task=task, mode=mode, seed=seed, defender_policy=policy,
            phase="awaiting_defender" if mode == "defender_only" else "awaiting_attacker",
        )
        if mode == "defender_only":
            if use_replay_pool and self.run.pool():
                self._adopt(ep, materialize(generate(task, seed, self.run.pool())))
            else:
                self._adopt(ep, materialized_incident(task, seed))
        else:
            rng = random.Random(seed_material(f"{task}/brief", seed))
            ep.target_category = rng.choice(spec.categories)
        self._ep = ep
        return self._observe()

    def _reset_e1(self, task: str, mode: str | None, seed: int | None, episode_id: str | None,
                  split: str | None, scoring: str | None) -> OpenSOCObservation:
        spec = E1_TASKS[task]
        if mode not in (None, "defender_only"):
            raise InvalidParameterError("E1 tasks have a single role: mode must be defender_only", field="mode",
                                        expected=["defender_only"])
        split = _check_choice("split", split or spec.default_split, spec.served_splits)
        scoring = _check_choice("scoring", scoring or "default", E1_SCORING)
        seed, episode_id = _check_seed(seed), _check_episode_id(episode_id)
        dataset = e1_dataset(spec.dataset_file, e1_source())
        try:  # a one-class split is refused as a task: a constant answer would earn its maximum
            rows = episode_rows(dataset, split)
        except E1SplitError as exc:
            raise InvalidParameterError(str(exc), field="split", expected=exc.expected) from None
        index = seed % len(rows)
        row = rows[index]
        ep = _Episode(episode_id=episode_id or str(uuid.uuid4()), task=task, mode="defender_only", seed=seed,
                      defender_policy=DEFAULT_DEFENDER_POLICY, phase="awaiting_defender")
        ep.flow = FlowQuestion(question=row["question"], dataset=spec.dataset_file, split=split, index=index,
                               tier=dataset.tier, scoring=scoring)
        ep.flow_answer = row["answer"]
        ep.prompt = E1_SYSTEM_PROMPT + "\n\n" + row["question"]
        self._ep = ep
        return self._observe()

    # ------------------------------------------------------------------- step

    def step(self, action: Mapping[str, Any] | OpenSOCAction) -> OpenSOCObservation:
        """Apply one role's action. Raises ``EpisodeError`` for requests the episode cannot take."""
        ep = self._require_episode()
        name, content = self._unwrap(action)
        if ep.phase == "done":
            raise EpisodeOverError("the episode is over; call reset to start another")
        expected = ("craft_incident" if ep.phase == "awaiting_attacker"
                    else "classify_flow" if ep.flow is not None else "submit_triage")
        if name != expected:
            role = "attacker" if expected == "craft_incident" else "defender"
            raise WrongTurnError(f"it is the {role}'s turn: send {expected}, not {name}", field=name, expected=expected)
        ep.step_count += 1
        ep.errors = []
        if name == "craft_incident":
            self._on_craft(ep, content)
        elif name == "classify_flow":
            self._on_classify(ep, content)
        else:
            self._on_triage(ep, content)
        return self._observe()

    def _unwrap(self, action: Mapping[str, Any] | OpenSOCAction) -> tuple[str, Any]:
        if isinstance(action, OpenSOCAction):
            return action.name, getattr(action, action.name)
        if not isinstance(action, Mapping):
            raise InvalidActionError("an action is a JSON object holding craft_incident, submit_triage or classify_flow",
                                     field="action")
        unknown = [k for k in action if k not in ACTION_NAMES]
        if unknown:
            raise InvalidActionError(f"unknown action field {unknown[0]!r}; expected one of: {', '.join(ACTION_NAMES)}",
                                     field=str(unknown[0])[:64], expected=list(ACTION_NAMES))
        present = [k for k in ACTION_NAMES if action.get(k) is not None]
        if len(present) != 1:
            raise InvalidActionError(f"an action holds exactly one of: {', '.join(ACTION_NAMES)}", field="action",
                                     expected=list(ACTION_NAMES))
        return present[0], action[present[0]]

    def _on_craft(self, ep: _Episode, content: Any) -> None:
        try:
            params = content if isinstance(content, IncidentParams) else IncidentParams.model_validate(content)
        except ValidationError as exc:
            ep.errors = _field_errors(exc)
            ep.attacker = score_incident(None, None)
            self.run.outcomes[ep.attacker.outcome] += 1
            self._finish(ep, ep.attacker.reward)
            return
        adjudication = adjudicate(params)
        self._adopt(ep, materialize(params, adjudication.truth))
        ep.plausibility, ep.adjudication = adjudication.plausibility, adjudication
        if not adjudication.sound:
            # An unsound craft cannot pay and must not teach a defender: the episode ends here.
            self._score_attacker(ep)
            self._finish(ep, ep.attacker.reward)
            return
        if ep.mode == "self_play":
            ep.phase = "awaiting_defender"
            ep.last_reward = 0.0  # the attacker is paid once the defender has answered
            return
        ep.triage = DEFENDER_POLICIES[ep.defender_policy](ep.alert)
        ep.defender = score_triage(ep.truth, ep.triage)
        self._score_attacker(ep)
        self._finish(ep, ep.attacker.reward)

    def _on_triage(self, ep: _Episode, content: Any) -> None:
        try:
            ep.triage = content if isinstance(content, SubmitTriage) else SubmitTriage.model_validate(content)
        except ValidationError as exc:
            ep.errors = _field_errors(exc)
            ep.triage = None
        ep.defender = score_triage(ep.truth, ep.triage)
        if ep.mode == "self_play":
            self._score_attacker(ep)
        self._finish(ep, ep.defender.reward)

    def _on_classify(self, ep: _Episode, content: Any) -> None:
        # A completion string is scored as the model wrote it; a structured answer goes through
        # the same rubric, so both paths give one score for one answer.
        if hasattr(content, "model_dump"):
            content = content.model_dump()
        if not isinstance(content, (str, dict)):
            content = json.dumps(content)
        if ep.flow.scoring == "compat":
            ep.e1 = score_compat(content if isinstance(content, str) else json.dumps(content), ep.flow_answer)
        else:
            ep.e1 = score_default(content, ep.flow_answer)
        if not ep.e1.format_ok and ep.e1.reason:
            ep.errors = [FieldError(loc="classify_flow", msg=ep.e1.reason, type="format")]
        self._finish(ep, ep.e1.reward)

    def _score_attacker(self, ep: _Episode) -> None:
        ep.attacker = score_incident(ep.incident, ep.triage.action if ep.triage else None, self.run.seen_signatures,
                                     adjudication=ep.adjudication)
        self.run.record(ep.incident, ep.attacker, ep.truth.action if ep.truth else None)

    @staticmethod
    def _adopt(ep: _Episode, m: Materialized) -> None:
        ep.incident, ep.truth, ep.alert, ep.prompt = m.incident, m.truth, m.alert, m.defender_prompt

    @staticmethod
    def _finish(ep: _Episode, reward: float) -> None:
        ep.phase = "done"
        ep.last_reward = reward

    # ------------------------------------------------------------- inspection

    def _require_episode(self) -> _Episode:
        if self._ep is None:
            raise NoEpisodeError("no episode yet; call reset first")
        return self._ep

    @property
    def state(self) -> OpenSOCState:
        ep = self._ep
        if ep is None:
            return OpenSOCState()
        return OpenSOCState(episode_id=ep.episode_id, step_count=ep.step_count, task=ep.task, mode=ep.mode, seed=ep.seed,
                            phase=ep.phase, role=self._role(ep), done=ep.phase == "done")

    @property
    def done(self) -> bool:
        return self._ep is not None and self._ep.phase == "done"

    @staticmethod
    def _role(ep: _Episode) -> str | None:
        return {"awaiting_attacker": "attacker", "awaiting_defender": "defender"}.get(ep.phase)

    def _verdict(self, ep: _Episode) -> Verdict | None:
        if ep.phase != "done" or ep.truth is None:
            return None
        return Verdict(correct_action=ep.truth.action, malicious=ep.truth.malicious,
                       triggering_log_ids=ep.truth.triggering_log_ids, deciding_rule_ids=ep.truth.deciding_rule_ids,
                       defender_action=ep.triage.action if ep.triage else None, plausibility=ep.plausibility)

    def _observe(self) -> OpenSOCObservation:
        ep = self._require_episode()
        role = self._role(ep)
        done = ep.phase == "done"
        brief = prompt = None
        if role == "attacker":
            spec = get_task(ep.task)
            brief = AttackerBrief(target_category=ep.target_category, task=ep.task, stage=spec.stage,
                                  inventory=INVENTORY.to_dict(), event_schema=_event_schema())
            prompt = attacker_prompt(ep.target_category, ep.task, _inventory_summary())
        elif role == "defender":
            prompt = ep.prompt
        if ep.flow is not None:
            return OpenSOCObservation(
                role=role, episode_id=ep.episode_id, task=ep.task, mode=ep.mode, seed=ep.seed,
                prompt="" if done else ep.prompt, legal_actions=[] if done else ["classify_flow"],
                flow=ep.flow,
                flow_verdict=FlowVerdict(answer=ep.flow_answer, predicted=ep.e1.predicted, correct=ep.e1.correct)
                if done else None,
                rewards=RewardBreakdown(e1=ep.e1) if done else None,
                errors=ep.errors, done=done, reward=ep.last_reward,
            )
        return OpenSOCObservation(
            role=role, episode_id=ep.episode_id, task=ep.task, mode=ep.mode, seed=ep.seed,
            prompt=prompt or "",
            legal_actions=[] if done else ["craft_incident" if role == "attacker" else "submit_triage"],
            # The alert travels on the defender's turn; the final observation carries the verdict instead.
            alert=ep.alert if role == "defender" else None,
            brief=brief,
            verdict=self._verdict(ep),
            rewards=RewardBreakdown(defender=ep.defender, attacker=ep.attacker) if done else None,
            errors=ep.errors,
            done=done,
            reward=ep.last_reward,
        )

    def grade(self) -> Grade:
        """Scores of the finished episode; refuses before the defender (or built-in defender) has acted."""
        ep = self._require_episode()
        if ep.phase != "done":
            raise NotGradableError("the episode is not finished: it is graded once the defender has acted",
                                   field="episode_id")
        if ep.flow is not None:
            r = ep.e1.reward
            score = normalized(r, reward_range(ep.flow.scoring))
            return Grade(episode_id=ep.episode_id, task=ep.task, mode=ep.mode, score=score, defender_reward=r,
                         attacker_reward=None, defender_score=score, attacker_score=None,
                         rewards=RewardBreakdown(e1=ep.e1), verdict=None,
                         flow_verdict=FlowVerdict(answer=ep.flow_answer, predicted=ep.e1.predicted, correct=ep.e1.correct))
        d = ep.defender.reward if ep.defender else None
        a = ep.attacker.reward if ep.attacker else None
        d_norm = normalized(d, DEFENDER_REWARD_RANGE) if d is not None else None
        a_norm = normalized(a, ATTACKER_REWARD_RANGE) if a is not None else None
        return Grade(
            episode_id=ep.episode_id, task=ep.task, mode=ep.mode,
            score=(a_norm if ep.mode == "attacker_only" or d_norm is None else d_norm),
            defender_reward=d, attacker_reward=a, defender_score=d_norm, attacker_score=a_norm,
            rewards=RewardBreakdown(defender=ep.defender, attacker=ep.attacker), verdict=self._verdict(ep),
        )

    def close(self) -> None:
        self._ep = None
