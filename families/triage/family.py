"""Incident triage: one alert with its log window, one triage, on the two-role skeleton (``families.roles``).

In ``defender_only`` the incident is generated from (task, seed), or, with ``use_replay_pool`` on stage 4, drawn
from the sound crafts this run recorded. A sound craft is shown to its defender as the alert the detection
pipeline raises from its events (``incidents.alerting``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar, Literal

from pydantic import Field

from ...generator import generate
from ...incidents.alerting import materialize_alert
from ...incidents.defenders import DEFENDER_POLICIES
from ...incidents.prompting import defender_prompt
from ...rubric import DefenderScore, score_triage
from ...schema import Alert, IncidentParams, SubmitTriage
from ...tasks.entries import SplitSource, TaskEntry
from ...tasks.frozen import load_holdout
from ...tasks.registry import TASKS
from ...verifier import GroundTruth, compute_ground_truth
from ..base import Option, ResetRequest, TaskInfo
from ..roles import IncidentEpisode, IncidentGrade, IncidentObservation, TwoRoleFamily
from ..runs import AttackerRun

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


class TriageObservation(IncidentObservation):
    """An incident-triage observation: on the defender's turn, the alert and its log window."""

    shared_fields: ClassVar[tuple[str, ...]] = ("alert", "prompt")

    family: Literal["triage"] = "triage"
    alert: Alert | None = Field(default=None, description="The alert and log window (defender turn only).")


class TriageGrade(IncidentGrade):
    family: Literal["triage"] = "triage"


@dataclass
class TriageEpisode(IncidentEpisode):
    alert: Alert | None = None
    prompt: str = ""

    def adopt(self, m: Materialized) -> None:
        self.incident, self.truth, self.alert, self.prompt = m.incident, m.truth, m.alert, m.defender_prompt


def _holdout_entries(split: str) -> tuple[TaskEntry, ...]:
    return tuple(TaskEntry(id=f"{row['task']}-{row['seed']}", index=i, split=split, task=row["task"], family="triage",
                           group=row["task"], difficulty=TASKS[row["task"]].stage, seed=row["seed"],
                           reset={"task": row["task"], "seed": row["seed"]})
                 for i, row in enumerate(load_holdout()))


class TriageFamily(TwoRoleFamily):
    """The four curriculum stages: one alert with its log window, one triage."""

    name = "triage"
    observation = TriageObservation
    grade_model = TriageGrade
    actions: ClassVar[dict[str, Any]] = {"craft_incident": IncidentParams, "submit_triage": SubmitTriage}
    defenders = (DEFAULT_DEFENDER_POLICY, *(p for p in DEFENDER_POLICIES if p != DEFAULT_DEFENDER_POLICY))
    options: ClassVar[dict[str, Option]] = {
        **TwoRoleFamily.options,
        "defender_policy": Option(str, f"attacker_only's built-in defender; default {DEFAULT_DEFENDER_POLICY}.",
                                  list(defenders), 32, default=DEFAULT_DEFENDER_POLICY),
        "use_replay_pool": Option(bool, "Stage 4: replay sound attacker incidents of the run named by run_id.",
                                  "true or false", needs_run=True),
    }

    def tasks(self) -> list[TaskInfo]:
        return [TaskInfo(s.name, self.name, s.title, s.description, stage=s.stage, train=True) for s in TASKS.values()]

    def new_episode(self, **fields: Any) -> TriageEpisode:
        return TriageEpisode(**fields)

    def start(self, ep: IncidentEpisode, request: ResetRequest, run: AttackerRun) -> None:
        assert isinstance(ep, TriageEpisode)
        pool = run.pool() if request.options.get("use_replay_pool") else {}
        ep.adopt(materialize(generate(ep.task, ep.seed, pool)) if pool else materialized_incident(ep.task, ep.seed))

    def stage(self, ep: IncidentEpisode, params: IncidentParams) -> None:
        assert isinstance(ep, TriageEpisode) and ep.truth is not None
        ep.adopt(materialize(params, ep.truth))

    def defend(self, ep: IncidentEpisode) -> SubmitTriage:
        assert isinstance(ep, TriageEpisode) and ep.alert is not None
        return DEFENDER_POLICIES[ep.defender_policy](ep.alert)

    def score_defender(self, ep: IncidentEpisode, triage: SubmitTriage | None) -> DefenderScore:
        assert ep.truth is not None
        return score_triage(ep.truth, triage)

    def defender_fields(self, ep: IncidentEpisode) -> tuple[str, dict[str, Any]]:
        assert isinstance(ep, TriageEpisode)
        # The alert travels on the defender's turn; the final observation carries the verdict instead.
        return ep.prompt, {"alert": ep.alert}

    def cheap_reset(self, request: ResetRequest) -> bool:
        return not request.options.get("use_replay_pool")  # a replay materialises a crafted incident

    def splits(self) -> dict[str, SplitSource]:
        return {"holdout": SplitSource("test", "the frozen triage hold-out (data/holdout.jsonl), 50 incidents per "
                                       "stage", lru_cache(maxsize=None)(_holdout_entries))}
