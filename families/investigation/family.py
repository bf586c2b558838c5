"""Investigation: the defender finds the evidence in a SIEM before it triages.

    defender_only:  reset ─▶ awaiting_defender ─tool_call*▶ awaiting_defender ─submit_triage▶ done
    self_play:      reset ─▶ awaiting_attacker ─craft_incident▶ (planted in a store) awaiting_defender ─…▶ done
    attacker_only:  reset ─▶ awaiting_attacker ─craft_incident▶ (planted; the scripted investigator answers) done

The defender first sees only the case's alert (the detection and the one event it fired on) and the tools. Each
``tool_call`` is a step (reward 0) that answers with the tool's output; calls past the task's budget are refused.
``submit_triage`` is scored by the same verdict table as triage, except that the citation bonus needs the cited
event to have been shown by a tool, and the score reports ``evidence_recall``: the share of the triggering events
seen before acting. An attacker's craft must be sound (``adjudication``) to be planted; an unsound one ends the
episode with 0, as in triage.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from typing import Any

from ...adjudication.gate import Adjudication
from ..runs import AttackerRun
from ...generator import seed_material
from .case import Case, build_case, plant
from .investigator import scripted_investigator
from .tools import run_tool, tool_specs
from ...models import MODES, Grade, InvestigationView, OpenSOCObservation, RewardBreakdown, ToolOutput
from ...incidents.prompting import investigation_prompt, tool_result_prompt
from ...rubric import AttackerScore, DefenderScore, score_triage
from ...schema import IncidentParams, SubmitTriage, ToolCall
from ...tasks.registry import get_task
from .tasks import INVESTIGATION_TASKS, InvestigationTaskSpec
from ...verifier import GroundTruth
from ..base import (
    DEFAULT_MODE,
    BudgetExhaustedError,
    Episode,
    ResetRequest,
    check_choice,
    check_episode_id,
    check_seed,
    refuse_options,
)
from ..triage.family import attacker_brief, grade_roles, parse_triage_action, receive_craft, score_attacker, verdict_of

INVESTIGATION_DEFENDERS = ("scripted_investigator",)


@dataclass
class InvestigationEpisode(Episode):
    defender_policy: str = "scripted_investigator"
    target_category: str | None = None
    case: Case | None = None
    incident: IncidentParams | None = None  # the attacker's craft, as crafted (self_play, attacker_only)
    adjudication: Adjudication | None = None
    calls_used: int = 0
    retrieved: set[str] = field(default_factory=set)
    transcript: list[dict] = field(default_factory=list)
    last_tool: ToolOutput | None = None
    triage: SubmitTriage | None = None
    defender: DefenderScore | None = None
    attacker: AttackerScore | None = None

    @property
    def truth(self) -> GroundTruth | None:
        return self.case.truth if self.case else (self.adjudication.truth if self.adjudication else None)


def _spec(task: str) -> InvestigationTaskSpec:
    return INVESTIGATION_TASKS[task]


class InvestigationFamily:
    """Investigation tasks: an alert, a SIEM to query within a call budget, one triage."""

    name = "investigation"

    def owns(self, task: str) -> bool:
        return task in INVESTIGATION_TASKS

    def reset(self, request: ResetRequest, run: AttackerRun) -> InvestigationEpisode:
        refuse_options(request, "investigation", {"mode", "defender_policy"})
        spec = _spec(request.task)
        mode = check_choice("mode", request.mode if request.mode is not None else DEFAULT_MODE, MODES)
        policy = check_choice("defender_policy", request.defender_policy or INVESTIGATION_DEFENDERS[0], INVESTIGATION_DEFENDERS)
        seed, episode_id = check_seed(request.seed), check_episode_id(request.episode_id)
        ep = InvestigationEpisode(episode_id=episode_id or str(uuid.uuid4()), task=request.task, mode=mode, seed=seed,
                                  defender_policy=policy,
                                  phase="awaiting_defender" if mode == "defender_only" else "awaiting_attacker")
        if mode == "defender_only":
            ep.case = build_case(request.task, seed)
        else:
            stage = get_task(spec.curriculum_task)
            ep.target_category = random.Random(seed_material(f"{request.task}/brief", seed)).choice(stage.categories)
        return ep

    def legal_actions(self, ep: InvestigationEpisode) -> list[str]:
        if ep.phase == "awaiting_attacker":
            return ["craft_incident"]
        if ep.phase == "awaiting_defender":
            return ["tool_call", "submit_triage"] if ep.calls_used < ep.case.call_budget else ["submit_triage"]
        return []

    def step(self, ep: InvestigationEpisode, action: str, content: Any, run: AttackerRun) -> None:
        if action == "craft_incident":
            self._on_craft(ep, content, run)
        elif action == "tool_call":
            self._on_tool(ep, content)
        else:
            ep.triage, ep.errors = parse_triage_action(content)
            ep.defender = score_triage(ep.case.truth, ep.triage, ep.retrieved)
            if ep.mode == "self_play":
                ep.attacker = score_attacker(ep, run, ep.triage.action if ep.triage else None)
            ep.finish(ep.defender.reward)

    def _on_tool(self, ep: InvestigationEpisode, content: Any) -> None:
        if ep.calls_used >= ep.case.call_budget:
            raise BudgetExhaustedError(f"the {ep.case.call_budget} tool calls of this case are spent: send submit_triage",
                                       field="tool_call", expected="submit_triage")
        ep.calls_used += 1
        try:
            call = content if isinstance(content, ToolCall) else ToolCall.model_validate(content)
        except ValueError:
            result = ToolOutput(name="?", ok=False, output='error: a tool call is {"name": "<tool>", "arguments": {...}}')
        else:
            answer = run_tool(ep.case.store, call.name, call.arguments)
            result = ToolOutput(name=answer.name, ok=answer.ok, output=answer.text, log_ids=list(answer.log_ids))
            ep.transcript.append({"name": call.name, "arguments": call.arguments, "ok": answer.ok,
                                  "shown": len(answer.log_ids)})
        ep.retrieved.update(result.log_ids)
        ep.last_tool, ep.last_reward = result, 0.0

    def _on_craft(self, ep: InvestigationEpisode, content: Any, run: AttackerRun) -> None:
        params = receive_craft(ep, content, run)
        if params is None:  # an unsound craft is never planted, never paid, never replayed
            return
        spec = _spec(ep.task)
        ep.case = plant(params, stage=spec.stage, hours=spec.store_hours, target_size=spec.store_events,
                        rng=random.Random(seed_material(f"{ep.task}/store", ep.seed)), call_budget=spec.call_budget,
                        task=ep.task, seed=ep.seed)
        if ep.mode == "self_play":
            ep.phase, ep.last_reward = "awaiting_defender", 0.0
            return

        def call(name: str, arguments: dict) -> str:
            self._on_tool(ep, {"name": name, "arguments": arguments})
            return ep.last_tool.output

        ep.triage = scripted_investigator(ep.case.alert, call, spec.call_budget)
        ep.defender = score_triage(ep.case.truth, ep.triage, ep.retrieved)
        ep.attacker = score_attacker(ep, run, ep.triage.action)
        ep.finish(ep.attacker.reward)

    def _view(self, ep: InvestigationEpisode) -> InvestigationView:
        return InvestigationView(alert=ep.case.alert, tools=tool_specs(), call_budget=ep.case.call_budget,
                                 calls_used=ep.calls_used, retrieved=len(ep.retrieved), last_tool=ep.last_tool)

    def observe(self, ep: InvestigationEpisode) -> OpenSOCObservation:
        role, done = ep.role, ep.done
        brief, prompt, view = None, "", None
        if role == "attacker":
            spec = _spec(ep.task)
            brief, prompt = attacker_brief(ep.task, spec.stage, ep.target_category)
        elif role == "defender":
            view = self._view(ep)
            if ep.last_tool is None:
                prompt = investigation_prompt(ep.case.alert.model_dump_json(), view.tools, ep.case.call_budget)
            else:
                prompt = tool_result_prompt(ep.last_tool.name, ep.last_tool.output, ep.case.call_budget - ep.calls_used)
        return OpenSOCObservation(
            role=role, episode_id=ep.episode_id, task=ep.task, mode=ep.mode, seed=ep.seed, prompt=prompt,
            legal_actions=self.legal_actions(ep), brief=brief, investigation=view, verdict=verdict_of(ep),
            rewards=RewardBreakdown(defender=ep.defender, attacker=ep.attacker) if done else None,
            errors=ep.errors, done=done, reward=ep.last_reward,
        )

    def grade(self, ep: InvestigationEpisode) -> Grade:
        return grade_roles(ep)
