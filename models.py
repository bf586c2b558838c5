"""Wire models of an OpenSOC episode: observation, state and grade.

These are what ``/reset``, ``/step``, ``/state``, ``/grade`` and ``/ws`` send, and what
``GET /schema`` describes. The defender's observation carries the alert and nothing of
the attacker's narrative, claimed label or category.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from .families.e1.scoring import E1Score
from .families.investigation.case import CaseAlert
from .rubric import AttackerScore, DefenderScore
from .schema import Alert, StrictModel, TriageAction
from .verifier import PlausibilityReport

Role = Literal["attacker", "defender"]
Mode = Literal["defender_only", "self_play", "attacker_only"]
MODES: tuple[str, ...] = ("defender_only", "self_play", "attacker_only")
Phase = Literal["awaiting_attacker", "awaiting_defender", "done"]


class FieldError(StrictModel):
    """One invalid field in a submitted action: where, what was wrong, and the pydantic error type."""

    loc: str = Field(description="Dotted path of the field inside the action, e.g. 'events.0.destination.port'.")
    msg: str = Field(description="What was expected.")
    type: str


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


class FlowQuestion(StrictModel):
    """An E1 question as the classifier sees it: the flow's fields as text, and where it came from."""

    question: str
    dataset: str
    split: str
    index: int
    tier: str = Field(description="Dataset tier actually used: local, hub or synthetic.")
    scoring: Literal["default", "compat"]


class FlowVerdict(StrictModel):
    """The E1 answer key, revealed once the flow has been classified."""

    answer: Literal["Benign", "Malicious"]
    predicted: str | None
    correct: bool


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


class RewardBreakdown(StrictModel):
    defender: DefenderScore | None = None
    attacker: AttackerScore | None = None
    e1: E1Score | None = None


class OpenSOCObservation(StrictModel):
    """What a step returns. ``done`` and ``reward`` travel beside it in the OpenEnv envelope."""

    role: Role | None = Field(description="Whose turn it is; None once the episode is over.")
    episode_id: str
    task: str
    mode: Mode
    seed: int
    prompt: str = Field(description="Ready-to-use prompt for an LLM playing the current role (empty when done).")
    legal_actions: list[str] = Field(description="Action names accepted now: craft_incident, submit_triage, "
                                     "classify_flow, tool_call, or none once the episode is over.")
    alert: Alert | None = Field(default=None, description="The alert and log window (defender turn only).")
    brief: AttackerBrief | None = Field(default=None, description="The attacker's brief (attacker turn only).")
    flow: FlowQuestion | None = Field(default=None, description="The E1 question (E1 tasks only).")
    investigation: InvestigationView | None = Field(default=None, description="The case and the tools (investigation "
                                                    "tasks, defender's turn).")
    verdict: Verdict | None = Field(default=None, description="Ground truth, once the defender has acted.")
    flow_verdict: FlowVerdict | None = Field(default=None, description="The E1 answer key, once classified.")
    rewards: RewardBreakdown | None = Field(default=None, description="Both roles' scores when done.")
    errors: list[FieldError] = Field(default_factory=list, description="Invalid fields of the last action, if it was scored as invalid.")
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
    """Scores of a finished episode."""

    episode_id: str
    task: str
    mode: Mode
    score: float = Field(description="The acting role's reward mapped onto [0, 1] (the defender's, the attacker's in "
                                     "attacker_only, the classifier's on E1).")
    defender_reward: float | None
    attacker_reward: float | None
    defender_score: float | None = Field(description="Defender reward normalized to [0, 1].")
    attacker_score: float | None = Field(description="Attacker reward normalized to [0, 1].")
    rewards: RewardBreakdown
    verdict: Verdict | None = Field(description="None when there is no incident: an attacker craft that failed the schema, or E1.")
    flow_verdict: FlowVerdict | None = None
