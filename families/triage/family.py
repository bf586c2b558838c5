"""Incident triage: the curriculum tasks, in three modes.

    defender_only:  reset ─▶ awaiting_defender ─submit_triage▶ done
    self_play:      reset ─▶ awaiting_attacker ─craft_incident▶ awaiting_defender ─submit_triage▶ done
    attacker_only:  reset ─▶ awaiting_attacker ─craft_incident▶ (built-in defender answers) done

A craft that is not sound (implausible, contested or mislabelled: ``adjudication``) ends the episode at once: it
pays the attacker nothing, no defender is asked about it, and it never enters the replay pool. A well-formed
triage or incident that fails the schema is the policy's mistake: it is scored (format violation, schema failure)
and the observation lists each bad field.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from pydantic import ValidationError

from ...adjudication.gate import Adjudication, adjudicate
from ...incidents.alerting import materialize_alert
from ..runs import AttackerRun
from ...incidents.defenders import DEFENDER_POLICIES
from ...generator import generate, seed_material
from ...world.inventory import INVENTORY
from ...models import MODES, AttackerBrief, Grade, OpenSOCObservation, RewardBreakdown, Verdict
from ...incidents.prompting import attacker_prompt, defender_prompt
from ...rubric import (
    ATTACKER_REWARD_RANGE,
    DEFENDER_REWARD_RANGE,
    AttackerScore,
    DefenderScore,
    normalized,
    score_incident,
    score_triage,
)
from ...schema import Alert, IncidentParams, SubmitTriage
from ...tasks.registry import TASKS, get_task
from ...verifier import GroundTruth, compute_ground_truth
from ..base import (
    DEFAULT_MODE,
    Episode,
    ResetRequest,
    check_choice,
    check_episode_id,
    check_seed,
    field_errors,
    refuse_options,
)

DEFAULT_DEFENDER_POLICY = "analyst"
MATERIALIZED_CACHE_SIZE = 8192


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

    Generation is deterministic, so sessions may share the result: GRPO groups and eval runs ask for the same
    (task, seed) many times.
    """
    return materialize(generate(task, seed))


@cache
def event_schema() -> dict:
    return IncidentParams.model_json_schema()


@cache
def inventory_summary() -> str:
    hosts = "; ".join(f"{h.name} {h.ip} {h.role}" + (f" owner={h.owner}" if h.owner else "") for h in INVENTORY.hosts)
    users = "; ".join(f"{u.name} [{', '.join(u.groups) or '-'}]" for u in INVENTORY.users)
    services = "; ".join(f"{s.name} {s.domain} {s.ip}" for s in INVENTORY.services)
    return f"Hosts: {hosts}\nUsers: {users}\nKnown-good services: {services}"


def attacker_brief(task: str, stage: int, target_category: str) -> tuple[AttackerBrief, str]:
    brief = AttackerBrief(target_category=target_category, task=task, stage=stage, inventory=INVENTORY.to_dict(),
                          event_schema=event_schema())
    return brief, attacker_prompt(target_category, task, inventory_summary())


@dataclass
class TriageEpisode(Episode):
    defender_policy: str = DEFAULT_DEFENDER_POLICY
    target_category: str | None = None
    incident: IncidentParams | None = None
    truth: GroundTruth | None = None
    adjudication: Adjudication | None = None
    alert: Alert | None = None
    prompt: str = ""
    triage: SubmitTriage | None = None
    defender: DefenderScore | None = None
    attacker: AttackerScore | None = None

    def adopt(self, m: Materialized) -> None:
        self.incident, self.truth, self.alert, self.prompt = m.incident, m.truth, m.alert, m.defender_prompt


def parse_craft(content: Any) -> tuple[IncidentParams | None, list]:
    """The crafted incident, or None with the schema's field errors."""
    try:
        return (content if isinstance(content, IncidentParams) else IncidentParams.model_validate(content)), []
    except ValidationError as exc:
        return None, field_errors(exc)


def parse_triage_action(content: Any) -> tuple[SubmitTriage | None, list]:
    """The triage, or None (a format violation) with the schema's field errors."""
    try:
        return (content if isinstance(content, SubmitTriage) else SubmitTriage.model_validate(content)), []
    except ValidationError as exc:
        return None, field_errors(exc)


def receive_craft(ep, content: Any, run: AttackerRun) -> IncidentParams | None:
    """Read an attacker's craft into ``ep``: the schema, then the adjudication. A craft that fails either ends the
    episode with the attacker's score (an unsound craft cannot pay and must not teach a defender); a sound one is
    returned for the family to stage."""
    params, ep.errors = parse_craft(content)
    if params is None:
        ep.attacker = score_incident(None, None)
        run.record(None, ep.attacker, None)
        ep.finish(ep.attacker.reward)
        return None
    ep.incident, ep.adjudication = params, adjudicate(params)
    if not ep.adjudication.sound:
        ep.attacker = score_attacker(ep, run, None)
        ep.finish(ep.attacker.reward)
        return None
    return params


def score_attacker(ep, run: AttackerRun, defender_action: str | None) -> AttackerScore:
    """Score and record the attacker's craft of ``ep`` (which has ``incident``, ``adjudication`` and ``truth``)."""
    score = score_incident(ep.incident, defender_action, run.seen_signatures, adjudication=ep.adjudication)
    run.record(ep.incident, score, ep.truth.action if ep.truth else None)
    return score


def verdict_of(ep) -> Verdict | None:
    if not ep.done or ep.truth is None:
        return None
    return Verdict(correct_action=ep.truth.action, malicious=ep.truth.malicious,
                   triggering_log_ids=ep.truth.triggering_log_ids, deciding_rule_ids=ep.truth.deciding_rule_ids,
                   defender_action=ep.triage.action if ep.triage else None,
                   plausibility=ep.adjudication.plausibility if ep.adjudication else None)


def grade_roles(ep) -> Grade:
    """The grade of an episode with a defender and, maybe, an attacker score."""
    d = ep.defender.reward if ep.defender else None
    a = ep.attacker.reward if ep.attacker else None
    d_norm = normalized(d, DEFENDER_REWARD_RANGE) if d is not None else None
    a_norm = normalized(a, ATTACKER_REWARD_RANGE) if a is not None else None
    return Grade(episode_id=ep.episode_id, task=ep.task, mode=ep.mode,
                 score=(a_norm if ep.mode == "attacker_only" or d_norm is None else d_norm),
                 defender_reward=d, attacker_reward=a, defender_score=d_norm, attacker_score=a_norm,
                 rewards=RewardBreakdown(defender=ep.defender, attacker=ep.attacker), verdict=verdict_of(ep))


class TriageFamily:
    """The four curriculum stages: one alert with its log window, one triage."""

    name = "triage"

    def owns(self, task: str) -> bool:
        return task in TASKS

    def reset(self, request: ResetRequest, run: AttackerRun) -> TriageEpisode:
        refuse_options(request, "incident-triage", {"mode", "defender_policy", "use_replay_pool"})
        spec = get_task(request.task)
        mode = check_choice("mode", request.mode if request.mode is not None else DEFAULT_MODE, MODES)
        policy = check_choice("defender_policy", request.defender_policy or DEFAULT_DEFENDER_POLICY, tuple(DEFENDER_POLICIES))
        seed, episode_id = check_seed(request.seed), check_episode_id(request.episode_id)
        ep = TriageEpisode(episode_id=episode_id or str(uuid.uuid4()), task=request.task, mode=mode, seed=seed,
                           defender_policy=policy,
                           phase="awaiting_defender" if mode == "defender_only" else "awaiting_attacker")
        if mode == "defender_only":
            pool = run.pool() if request.use_replay_pool else {}
            ep.adopt(materialize(generate(request.task, seed, pool)) if pool else materialized_incident(request.task, seed))
        else:
            ep.target_category = random.Random(seed_material(f"{request.task}/brief", seed)).choice(spec.categories)
        return ep

    def legal_actions(self, ep: TriageEpisode) -> list[str]:
        return {"awaiting_attacker": ["craft_incident"], "awaiting_defender": ["submit_triage"]}.get(ep.phase, [])

    def step(self, ep: TriageEpisode, action: str, content: Any, run: AttackerRun) -> None:
        if action == "craft_incident":
            self._on_craft(ep, content, run)
        else:
            ep.triage, ep.errors = parse_triage_action(content)
            ep.defender = score_triage(ep.truth, ep.triage)
            if ep.mode == "self_play":
                ep.attacker = score_attacker(ep, run, ep.triage.action if ep.triage else None)
            ep.finish(ep.defender.reward)

    def _on_craft(self, ep: TriageEpisode, content: Any, run: AttackerRun) -> None:
        params = receive_craft(ep, content, run)
        if ep.adjudication is not None:
            ep.adopt(materialize(ep.incident, ep.adjudication.truth))  # the verdict shows, even on an unsound craft
        if params is None:
            return
        if ep.mode == "self_play":
            ep.phase, ep.last_reward = "awaiting_defender", 0.0  # the attacker is paid once the defender has answered
            return
        ep.triage = DEFENDER_POLICIES[ep.defender_policy](ep.alert)
        ep.defender = score_triage(ep.truth, ep.triage)
        ep.attacker = score_attacker(ep, run, ep.triage.action)
        ep.finish(ep.attacker.reward)

    def observe(self, ep: TriageEpisode) -> OpenSOCObservation:
        role, done = ep.role, ep.done
        brief, prompt = None, ""
        if role == "attacker":
            brief, prompt = attacker_brief(ep.task, get_task(ep.task).stage, ep.target_category)
        elif role == "defender":
            prompt = ep.prompt
        return OpenSOCObservation(
            role=role, episode_id=ep.episode_id, task=ep.task, mode=ep.mode, seed=ep.seed, prompt=prompt,
            legal_actions=self.legal_actions(ep),
            # The alert travels on the defender's turn; the final observation carries the verdict instead.
            alert=ep.alert if role == "defender" else None, brief=brief, verdict=verdict_of(ep),
            rewards=RewardBreakdown(defender=ep.defender, attacker=ep.attacker) if done else None,
            errors=ep.errors, done=done, reward=ep.last_reward,
        )

    def grade(self, ep: TriageEpisode) -> Grade:
        return grade_roles(ep)
