"""The two-role skeleton that incident triage and investigation share, written once.

    defender_only:  reset ─▶ awaiting_defender ─(family's defender actions)▶ done
    self_play:      reset ─▶ awaiting_attacker ─craft_incident▶ awaiting_defender ─…▶ done
    attacker_only:  reset ─▶ awaiting_attacker ─craft_incident▶ (the built-in defender answers) done

An attacker's craft is read by the schema, then adjudicated (``adjudication``): a craft that is not sound
(implausible, contested or mislabelled) ends the episode at once, pays the attacker nothing, is never shown to a
defender and never enters the replay pool. A sound one is staged by the family (``stage``): shown as an alert, or
planted in a log store. The defender's ``submit_triage`` is scored by the verdict table; a triage that fails the
schema is a format violation, scored, with each bad field listed. A family built on this skeleton supplies how an
episode's incident is staged, what the defender sees, how the built-in defender answers, and how a triage is scored.
"""

from __future__ import annotations

import json
import random
import uuid
from abc import abstractmethod
from dataclasses import dataclass
from functools import cache
from typing import Any, ClassVar

from pydantic import Field, ValidationError

from ..adjudication.admission import PlausibilityReport
from ..adjudication.gate import Adjudication, adjudicate
from ..generator import seed_material
from ..incidents.prompting import attacker_prompt
from ..models import MODES, Grade, InvalidParameterError, Observation
from ..rubric import (
    ATTACKER_REWARD_RANGE,
    DEFENDER_REWARD_RANGE,
    AttackerScore,
    DefenderScore,
    normalized,
    score_incident,
)
from ..schema import IncidentParams, StrictModel, SubmitTriage, TriageAction
from ..tasks.registry import get_task
from ..verifier import GroundTruth
from ..world.inventory import INVENTORY
from .base import (
    DEFAULT_MODE,
    Episode,
    Family,
    McpTool,
    Option,
    ResetRequest,
    check_choice,
    field_errors,
    refuse_options,
)
from .runs import AttackerRun


class AttackerBrief(StrictModel):
    """What the attacker is asked to build, and the world it must be consistent with."""

    target_category: str = Field(description="Category the incident should depict.")
    task: str = Field(description="Curriculum task; sets the difficulty.")
    stage: int
    inventory: dict[str, Any] = Field(description="Subnets, hosts, users, groups and known-good services.")
    event_schema: dict[str, Any] = Field(description="JSON Schema of craft_incident (IncidentParams).")


class Verdict(StrictModel):
    """The verifier's decision, revealed once the defender has acted."""

    correct_action: TriageAction
    malicious: bool
    triggering_log_ids: list[str]
    deciding_rule_ids: list[str]
    defender_action: TriageAction | None = Field(description="What the defender chose; None for a format violation.")
    plausibility: PlausibilityReport | None = Field(default=None, description="For attacker-crafted incidents.")


class RoleRewards(StrictModel):
    """Both roles' scores, each with its parts; a role that did not act has none."""

    defender: DefenderScore | None = None
    attacker: AttackerScore | None = None


class IncidentObservation(Observation):
    """What both incident families' observations carry beside the common fields."""

    brief: AttackerBrief | None = Field(default=None, description="The attacker's brief (attacker turn only).")
    verdict: Verdict | None = Field(default=None, description="Ground truth, once the defender has acted.")
    rewards: RoleRewards | None = Field(default=None, description="Both roles' scores when done.")


class IncidentGrade(Grade):
    """A finished incident episode's grade: both roles' scores and the verdict."""

    rewards: RoleRewards
    verdict: Verdict | None = Field(description="None when there is no incident: an attacker craft that failed the schema.")


@dataclass
class IncidentEpisode(Episode):
    defender_policy: str = ""
    target_category: str | None = None
    incident: IncidentParams | None = None  # the attacker's craft, as crafted, or the generated incident
    adjudication: Adjudication | None = None  # attacker crafts only
    truth: GroundTruth | None = None
    triage: SubmitTriage | None = None
    defender: DefenderScore | None = None
    attacker: AttackerScore | None = None


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


def score_attacker(ep: IncidentEpisode, run: AttackerRun, defender_action: str | None) -> AttackerScore:
    """Score and record the attacker's craft of ``ep`` (which has ``incident`` and ``adjudication``)."""
    score = score_incident(ep.incident, defender_action, run.seen_signatures, adjudication=ep.adjudication)
    run.record(ep.incident, score, ep.truth.action if ep.truth else None)
    return score


def verdict_of(ep: IncidentEpisode) -> Verdict | None:
    if not ep.done or ep.truth is None:
        return None
    return Verdict(correct_action=ep.truth.action, malicious=ep.truth.malicious,
                   triggering_log_ids=ep.truth.triggering_log_ids, deciding_rule_ids=ep.truth.deciding_rule_ids,
                   defender_action=ep.triage.action if ep.triage else None,
                   plausibility=ep.adjudication.plausibility if ep.adjudication else None)


class TwoRoleFamily(Family):
    """The skeleton: modes, the attacker's turn, the adjudication gate and both roles' scoring.

    A subclass sets ``defenders`` (the built-in defenders ``attacker_only`` may name; the first is the default) and
    implements ``start``, ``stage``, ``defend``, ``score_defender`` and ``defender_fields``.
    """

    defenders: ClassVar[tuple[str, ...]]
    options: ClassVar[dict[str, Option]] = {
        "mode": Option(str, f"defender_only, self_play or attacker_only; default {DEFAULT_MODE}.", list(MODES), 32,
                       default=DEFAULT_MODE),
        "defender_policy": Option(str, "attacker_only's built-in defender.", None, 32),
    }

    @abstractmethod
    def new_episode(self, **fields: Any) -> IncidentEpisode:
        """An empty episode of this family's episode type."""

    @abstractmethod
    def start(self, ep: IncidentEpisode, request: ResetRequest, run: AttackerRun) -> None:
        """Stage the generated incident of a ``defender_only`` episode."""

    @abstractmethod
    def stage(self, ep: IncidentEpisode, params: IncidentParams) -> None:
        """Stage a sound craft for its defender."""

    @abstractmethod
    def defend(self, ep: IncidentEpisode) -> SubmitTriage:
        """The built-in defender's triage of the staged craft (``attacker_only``)."""

    @abstractmethod
    def score_defender(self, ep: IncidentEpisode, triage: SubmitTriage | None) -> DefenderScore:
        """The defender's score for ``triage`` of the staged incident."""

    @abstractmethod
    def defender_fields(self, ep: IncidentEpisode) -> tuple[str, dict[str, Any]]:
        """The defender's prompt and the observation fields it sees on its turn."""

    def stage_number(self, task: str) -> int:
        return get_task(task).stage

    def curriculum_task(self, task: str) -> str:
        return task

    def reset(self, request: ResetRequest, run: AttackerRun) -> IncidentEpisode:
        refuse_options(request, self)
        opts = request.options
        mode = check_choice("mode", opts.get("mode", DEFAULT_MODE), MODES)
        policy = check_choice("defender_policy", opts.get("defender_policy", self.defenders[0]), self.defenders)
        ep = self.new_episode(episode_id=request.episode_id or str(uuid.uuid4()), task=request.task, mode=mode,
                              seed=request.seed, defender_policy=policy,
                              phase="awaiting_defender" if mode == "defender_only" else "awaiting_attacker")
        if mode == "defender_only":
            self.start(ep, request, run)
        else:
            categories = get_task(self.curriculum_task(request.task)).categories
            ep.target_category = random.Random(seed_material(f"{request.task}/brief", request.seed)).choice(categories)
        return ep

    def legal_actions(self, ep: IncidentEpisode) -> list[str]:
        return {"awaiting_attacker": ["craft_incident"], "awaiting_defender": ["submit_triage"]}.get(ep.phase, [])

    def step(self, ep: IncidentEpisode, action: str, content: Any, run: AttackerRun) -> None:
        if action == "craft_incident":
            self._on_craft(ep, content, run)
        elif action == "submit_triage":
            ep.triage, ep.errors = parse_triage_action(content)
            ep.defender = self.score_defender(ep, ep.triage)
            if ep.mode == "self_play":
                ep.attacker = score_attacker(ep, run, ep.triage.action if ep.triage else None)
            ep.finish(ep.defender.reward)

    def _on_craft(self, ep: IncidentEpisode, content: Any, run: AttackerRun) -> None:
        params, ep.errors = parse_craft(content)
        if params is None:
            ep.attacker = score_incident(None, None)
            run.record(None, ep.attacker, None)
            ep.finish(ep.attacker.reward)
            return
        ep.incident, ep.adjudication = params, adjudicate(params)
        ep.truth = ep.adjudication.truth  # the verdict shows once the episode is over, sound or not
        if not ep.adjudication.sound:  # never staged, never paid, never replayed
            ep.attacker = score_attacker(ep, run, None)
            ep.finish(ep.attacker.reward)
            return
        self.stage(ep, params)
        if ep.mode == "self_play":
            ep.phase, ep.last_reward = "awaiting_defender", 0.0  # the attacker is paid once the defender has answered
            return
        ep.triage = self.defend(ep)
        ep.defender = self.score_defender(ep, ep.triage)
        ep.attacker = score_attacker(ep, run, ep.triage.action)
        ep.finish(ep.attacker.reward)

    def observe(self, ep: IncidentEpisode) -> Observation:
        role, done = ep.role, ep.done
        fields: dict[str, Any] = {}
        prompt = ""
        if role == "attacker":
            brief, prompt = attacker_brief(ep.task, self.stage_number(ep.task), ep.target_category)
            fields["brief"] = brief
        elif role == "defender":
            prompt, fields = self.defender_fields(ep)
        return self.observation(
            family=self.name, role=role, episode_id=ep.episode_id, task=ep.task, mode=ep.mode, seed=ep.seed,
            prompt=prompt, legal_actions=self.legal_actions(ep), verdict=verdict_of(ep),
            rewards=RoleRewards(defender=ep.defender, attacker=ep.attacker) if done else None,
            errors=ep.errors, done=done, reward=ep.last_reward, **fields,
        )

    def grade(self, ep: IncidentEpisode) -> Grade:
        d = ep.defender.reward if ep.defender else None
        a = ep.attacker.reward if ep.attacker else None
        d_norm = normalized(d, DEFENDER_REWARD_RANGE) if d is not None else None
        a_norm = normalized(a, ATTACKER_REWARD_RANGE) if a is not None else None
        return self.grade_model(
            family=self.name, episode_id=ep.episode_id, task=ep.task, mode=ep.mode,
            score=(a_norm if ep.mode == "attacker_only" or d_norm is None else d_norm),
            defender_reward=d, attacker_reward=a, defender_score=d_norm, attacker_score=a_norm,
            rewards=RoleRewards(defender=ep.defender, attacker=ep.attacker), verdict=verdict_of(ep))

    def stateless_refusal(self, options: dict[str, Any]) -> str | None:
        mode = options.get("mode", DEFAULT_MODE)
        if mode != "defender_only":
            return (f"mode {str(mode)[:32]!r} keeps state between turns: pass the episode_id that /reset returned "
                    "(or use /ws)")
        return None

    def cheap_step(self, ep: Episode, action: str) -> bool:
        return action != "craft_incident"  # adjudicating a craft costs what its events cost

    def mcp_tools(self) -> list[McpTool]:
        return [
            McpTool("get_alert", "The SIEM alert, log window (or investigation case) and prompt a defender sees for "
                    "(task, seed).", {}, self._mcp_alert, costly=not self.cheap_reset(ResetRequest("", 0))),
            McpTool("submit_triage", "Triage the alert for (task, seed); returns the reward and the verdict.",
                    SubmitTriage.model_json_schema()["properties"], self._mcp_triage, ("action", "cited_log_id"),
                    costly=not self.cheap_reset(ResetRequest("", 0))),
        ]

    def _defender_episode(self, task: str, seed: int) -> IncidentEpisode:
        ep = self.reset(ResetRequest(task, seed), AttackerRun())
        assert isinstance(ep, IncidentEpisode)
        return ep

    def _mcp_alert(self, task: str, seed: int, arguments: dict[str, Any]) -> tuple[str, bool]:
        if arguments:
            raise InvalidParameterError(f"get_alert takes task and seed only; got {sorted(arguments)[:8]}")
        obs = self.observe(self._defender_episode(task, seed))
        return obs.model_dump_json(exclude={"reward", "done"}), False

    def _mcp_triage(self, task: str, seed: int, arguments: dict[str, Any]) -> tuple[str, bool]:
        triage = SubmitTriage.model_validate(arguments)
        ep = self._defender_episode(task, seed)
        self.step(ep, "submit_triage", triage, AttackerRun())
        verdict = verdict_of(ep)
        payload = {"reward": ep.last_reward, "verdict": verdict.model_dump(mode="json") if verdict else None,
                   "defender": ep.defender.model_dump(mode="json") if ep.defender else None,
                   "episode_id": ep.episode_id}
        return json.dumps(payload), False
