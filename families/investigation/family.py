"""Investigation: the defender finds the evidence in a SIEM before it triages, on the two-role skeleton.

    defender_only:  reset ─▶ awaiting_defender ─tool_call*▶ awaiting_defender ─submit_triage▶ done
    self_play:      reset ─▶ awaiting_attacker ─craft_incident▶ (planted in a store) awaiting_defender ─…▶ done
    attacker_only:  reset ─▶ awaiting_attacker ─craft_incident▶ (planted; the scripted investigator answers) done

The defender first sees only the case's alert (the detection and the one event it fired on) and the tools. Each
``tool_call`` is a step (reward 0) that answers with the tool's output; calls past the task's budget are refused.
``submit_triage`` is scored by the same verdict table as triage, except that the citation bonus needs the cited
event to have been shown by a tool, and the score reports ``evidence_recall``: the share of the triggering events
seen before acting. A sound craft is planted in a store of background telemetry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, ClassVar, Literal

from pydantic import Field

from ...incidents.prompting import investigation_prompt, tool_result_prompt
from ...models import BudgetExhaustedError, InvalidParameterError, OpenSOCError
from ...rubric import DefenderScore, score_triage
from ...schema import IncidentParams, StrictModel, SubmitTriage
from ...tasks.entries import SplitSource, TaskEntry
from ...tasks.frozen import load_investigation_holdout
from ..base import Episode, McpTool, Option, ResetRequest, TaskInfo
from ..roles import IncidentEpisode, IncidentGrade, IncidentObservation, TwoRoleFamily
from ..runs import AttackerRun
from .case import (
    Case,
    CaseAlert,
    CaseKey,
    build_case,
    case_for,
    craft_digest,
    planted_case,
)
from .investigator import scripted_investigator
from .tasks import INVESTIGATION_TASKS, InvestigationTaskSpec
from .tools import TOOL_ARGS, run_tool, tool_specs

INVESTIGATION_DEFENDERS = ("scripted_investigator",)


class ToolCall(StrictModel):
    """An investigation step: one call of one tool (``search``, ``count``, ``lookup_host``, ``lookup_user``,
    ``process_tree``); a malformed call is answered with an error message as the tool's output, and costs the call."""

    name: str = Field(min_length=1, max_length=64, description="The tool to call.")
    arguments: dict[str, Any] = Field(default_factory=dict, description="The tool's arguments, as its schema gives them.")


class ToolOutput(StrictModel):
    """What one investigation tool call returned."""

    name: str
    ok: bool = Field(description="False when the call was malformed; the output then says what was expected.")
    output: str = Field(description="The tool's answer as text (JSON for well-formed calls).")
    log_ids: list[str] = Field(default_factory=list, description="The events this output showed.")


class InvestigationView(StrictModel):
    """An investigation's state as the defender sees it."""

    alert: CaseAlert = Field(description="The detection that opened the case and the one event it fired on.")
    tools: list[dict[str, Any]] = Field(description="The tools: name, description and JSON Schema of their arguments.")
    call_budget: int = Field(description="Tool calls allowed before the triage.")
    calls_used: int
    retrieved: int = Field(description="Distinct events the tools have shown so far.")
    last_tool: ToolOutput | None = Field(default=None, description="The last call's output.")


class InvestigationObservation(IncidentObservation):
    """An investigation observation: on the defender's turn, the case and the tools."""

    family: Literal["investigation"] = "investigation"
    investigation: InvestigationView | None = Field(default=None, description="The case and the tools (defender's "
                                                    "turn).")


class InvestigationGrade(IncidentGrade):
    family: Literal["investigation"] = "investigation"


@dataclass
class InvestigationEpisode(IncidentEpisode):
    case_key: CaseKey | None = None  # the case is named, never held: see case.case_for
    calls_used: int = 0
    retrieved: set[str] = field(default_factory=set)
    transcript: list[dict] = field(default_factory=list)
    last_tool: ToolOutput | None = None

    @property
    def case(self) -> Case | None:
        """The episode's case, from the shared cache (rebuilt when it was evicted)."""
        if self.case_key is None:
            return None
        return case_for(self.case_key, self.incident if self.case_key.craft_digest else None)


def _spec(task: str) -> InvestigationTaskSpec:
    return INVESTIGATION_TASKS[task]


def _holdout_entries(split: str) -> tuple[TaskEntry, ...]:
    return tuple(TaskEntry(id=f"{row['task']}-{row['seed']}", index=i, split=split, task=row["task"],
                           family="investigation", group=row["task"], difficulty=_spec(row["task"]).stage,
                           seed=row["seed"], reset={"task": row["task"], "seed": row["seed"]})
                 for i, row in enumerate(load_investigation_holdout()))


class InvestigationFamily(TwoRoleFamily):
    """Investigation tasks: an alert, a SIEM to query within a call budget, one triage."""

    name = "investigation"
    observation = InvestigationObservation
    grade_model = InvestigationGrade
    actions: ClassVar[dict[str, Any]] = {"craft_incident": IncidentParams, "submit_triage": SubmitTriage,
                                         "tool_call": ToolCall}
    defenders = INVESTIGATION_DEFENDERS
    options: ClassVar[dict[str, Option]] = {
        **TwoRoleFamily.options,
        "defender_policy": Option(str, f"attacker_only's built-in investigator; default {defenders[0]}.",
                                  list(defenders), 32, default=defenders[0]),
    }

    def tasks(self) -> list[TaskInfo]:
        return [TaskInfo(s.name, self.name, s.title, s.description, stage=s.stage, train=True,
                         details={"call_budget": s.call_budget, "store_events": s.store_events,
                                  "store_hours": s.store_hours}) for s in INVESTIGATION_TASKS.values()]

    def stage_number(self, task: str) -> int:
        return _spec(task).stage

    def curriculum_task(self, task: str) -> str:
        return _spec(task).curriculum_task

    def new_episode(self, **fields: Any) -> InvestigationEpisode:
        return InvestigationEpisode(**fields)

    def start(self, ep: IncidentEpisode, request: ResetRequest, run: AttackerRun) -> None:
        assert isinstance(ep, InvestigationEpisode)
        ep.case_key = CaseKey(ep.task, ep.seed)
        case = build_case(ep.task, ep.seed)
        ep.incident, ep.truth = case.incident, case.truth

    def stage(self, ep: IncidentEpisode, params: IncidentParams) -> None:
        assert isinstance(ep, InvestigationEpisode)
        ep.case_key = CaseKey(ep.task, ep.seed, craft_digest(params))
        ep.truth = planted_case(ep.case_key, params).truth

    def defend(self, ep: IncidentEpisode) -> SubmitTriage:
        assert isinstance(ep, InvestigationEpisode)
        case = ep.case
        assert case is not None

        def call(name: str, arguments: dict) -> str:
            self._on_tool(ep, {"name": name, "arguments": arguments}, case)
            assert ep.last_tool is not None
            return ep.last_tool.output

        return scripted_investigator(case.alert, call, case.call_budget)

    def score_defender(self, ep: IncidentEpisode, triage: SubmitTriage | None) -> DefenderScore:
        assert isinstance(ep, InvestigationEpisode) and ep.truth is not None
        return score_triage(ep.truth, triage, ep.retrieved)

    def legal_actions(self, ep: IncidentEpisode) -> list[str]:
        if ep.phase == "awaiting_defender":
            assert isinstance(ep, InvestigationEpisode)
            return ["tool_call", "submit_triage"] if ep.calls_used < _spec(ep.task).call_budget else ["submit_triage"]
        return super().legal_actions(ep)

    def refusal(self, ep: Episode, action: str) -> OpenSOCError | None:
        if action == "tool_call" and ep.phase == "awaiting_defender":
            return BudgetExhaustedError("the tool calls of this case are spent: send submit_triage", field="tool_call",
                                        expected="submit_triage")
        return None

    def step(self, ep: IncidentEpisode, action: str, content: Any, run: AttackerRun) -> None:
        if action == "tool_call":
            assert isinstance(ep, InvestigationEpisode)
            self._on_tool(ep, content)
        else:
            super().step(ep, action, content, run)

    def _on_tool(self, ep: InvestigationEpisode, content: Any, case: Case | None = None) -> None:
        budget = _spec(ep.task).call_budget
        if ep.calls_used >= budget:
            raise BudgetExhaustedError(f"the {budget} tool calls of this case are spent: send "
                                       "submit_triage", field="tool_call", expected="submit_triage")
        ep.calls_used += 1
        try:
            call = content if isinstance(content, ToolCall) else ToolCall.model_validate(content)
        except ValueError:
            result = ToolOutput(name="?", ok=False, output='error: a tool call is {"name": "<tool>", "arguments": {...}}')
        else:
            case = case or ep.case
            assert case is not None
            answer = run_tool(case.store, call.name, call.arguments)
            result = ToolOutput(name=answer.name, ok=answer.ok, output=answer.text, log_ids=list(answer.log_ids))
            ep.transcript.append({"name": call.name, "arguments": call.arguments, "ok": answer.ok,
                                  "shown": len(answer.log_ids)})
        ep.retrieved.update(result.log_ids)
        ep.last_tool, ep.last_reward = result, 0.0

    def defender_fields(self, ep: IncidentEpisode) -> tuple[str, dict[str, Any]]:
        assert isinstance(ep, InvestigationEpisode)
        case = ep.case
        assert case is not None
        view = InvestigationView(alert=case.alert, tools=tool_specs(), call_budget=case.call_budget,
                                 calls_used=ep.calls_used, retrieved=len(ep.retrieved), last_tool=ep.last_tool)
        if ep.last_tool is None:
            prompt = investigation_prompt(case.alert.model_dump_json(), view.tools, case.call_budget)
        else:
            prompt = tool_result_prompt(ep.last_tool.name, ep.last_tool.output, case.call_budget - ep.calls_used)
        return prompt, {"investigation": view}

    def stateless_refusal(self, options: dict[str, Any]) -> str | None:
        return ("an investigation keeps state between steps (its tool calls and what they showed): pass the "
                "episode_id that /reset returned (or use /ws)")

    def cheap_reset(self, request: ResetRequest) -> bool:
        return False  # a case's log store is built, or planted, on demand

    def cheap_step(self, ep: Episode, action: str) -> bool:
        return False

    def splits(self) -> dict[str, SplitSource]:
        return {"investigation": SplitSource("test", "the frozen investigation hold-out "
                                             "(data/investigation_holdout.jsonl), 20 cases per stage",
                                             lru_cache(maxsize=None)(_holdout_entries))}

    def mcp_tools(self) -> list[McpTool]:
        investigate = McpTool(
            "investigate", "Run one SIEM tool (search, count, lookup_host, lookup_user, process_tree) on the log store "
            "of an investigation task's case (task, seed); a client gets the case's call budget, as an episode does.",
            {"tool": {"type": "string", "enum": list(TOOL_ARGS)},
             "arguments": {"type": "object", "description": "The tool's arguments."}},
            self._mcp_investigate, ("tool",), costly=True, budget=lambda task: _spec(task).call_budget)
        return [*super().mcp_tools(), investigate]

    def _mcp_investigate(self, task: str, seed: int, arguments: dict[str, Any]) -> tuple[str, bool]:
        unknown = sorted(set(arguments) - {"tool", "arguments"})
        if unknown:
            raise InvalidParameterError(f"investigate takes task, seed, tool and arguments; got {unknown[:8]}")
        result = run_tool(build_case(task, seed).store, str(arguments.get("tool", ""))[:64], arguments.get("arguments"))
        return result.text, not result.ok
