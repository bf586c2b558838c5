"""E1: classify one network flow as Benign, Malicious or Abstain with a confidence.

    reset ─▶ awaiting_defender ─classify_flow▶ done

The flow shown is row ``seed mod len(split)`` of the task's dataset file (``split`` defaults to the task's default
split). The answer is a ``ClassifyFlow`` object or the model's raw completion text; both go through the same rubric
(``scoring``: ``default`` or ``compat``), so one answer gets one score. A one-class split is refused as a task (a
constant answer would earn its maximum) and served only as an evaluation set (``<split>:eval``).
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, StringConstraints

from ...models import FieldError, Grade, InvalidParameterError, Observation
from ...rubric import normalized
from ...schema import StrictModel
from ...tasks.entries import SplitSource, SplitType, TaskEntry
from ..base import (
    Episode,
    Family,
    Option,
    ResetRequest,
    TaskInfo,
    check_choice,
    refuse_options,
)
from ..runs import AttackerRun
from .loading import (
    DATASET_SOURCES,
    EVALUATION_SUFFIX,
    E1Dataset,
    E1SplitError,
    episode_rows,
    load_task_dataset,
)
from .scoring import (
    MAX_COMPLETION,
    SYSTEM_PROMPT,
    E1Score,
    reward_range,
    score_compat,
    score_default,
)
from .tasks import E1_TASKS

E1_SCORING = ("default", "compat")
E1Label = Literal["Benign", "Malicious", "Abstain"]
E1_SPLIT_TYPES: dict[str, SplitType] = {"train": "train", "dev": "validation", "test": "test", "ood": "test"}


class ClassifyFlow(StrictModel):
    """The E1 answer: a label for one network flow and the probability that it is right."""

    label: E1Label = Field(description="Benign, Malicious, or Abstain when the evidence is insufficient.")
    confidence: float = Field(ge=0.0, le=1.0, description="Probability that the label is correct.")
    rationale: str = Field(default="", max_length=2000)


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


class FlowRewards(StrictModel):
    e1: E1Score | None = None


class FlowObservation(Observation):
    """An E1 observation: the question while it is open, the answer key and the score once it is answered."""

    family: Literal["e1"] = "e1"
    flow: FlowQuestion | None = Field(default=None, description="The E1 question.")
    flow_verdict: FlowVerdict | None = Field(default=None, description="The E1 answer key, once classified.")
    rewards: FlowRewards | None = Field(default=None, description="The classifier's score when done.")


class FlowGrade(Grade):
    family: Literal["e1"] = "e1"
    rewards: FlowRewards
    flow_verdict: FlowVerdict


@lru_cache(maxsize=16)
def e1_dataset(dataset_file: str, dataset_source: str) -> E1Dataset:
    """An E1 task's dataset, loaded once per process and source (the tier it used is logged once)."""
    return load_task_dataset(dataset_file, dataset_source)


def e1_source() -> str:
    source = os.environ.get("E1_DATASET_SOURCE", "auto")
    if source not in DATASET_SOURCES:
        raise InvalidParameterError(f"E1_DATASET_SOURCE={source!r}; expected one of: {', '.join(DATASET_SOURCES)}",
                                    field="dataset_source", expected=list(DATASET_SOURCES))
    return source


@dataclass
class FlowEpisode(Episode):
    flow: FlowQuestion | None = None
    answer: str | None = None
    prompt: str = ""
    e1: E1Score | None = None


def _split_entries(split: str) -> tuple[TaskEntry, ...]:
    # Not cached: the rows are those of the tier loaded now (e1_dataset caches the dataset per tier).
    task, part = split.split(":", 1)
    spec = E1_TASKS[task]
    served = part if E1_SPLIT_TYPES[part] == "train" else part + EVALUATION_SUFFIX
    dataset = e1_dataset(spec.dataset_file, e1_source())
    try:
        rows = episode_rows(dataset, served)
    except ValueError:  # the loaded file has no rows of this split
        return ()
    return tuple(TaskEntry(id=f"{task}-{part}-{i}", index=i, split=split, task=task, family="e1", group=task,
                           difficulty=None, seed=i, reset={"task": task, "split": served, "seed": i},
                           data_tier=dataset.tier) for i in range(len(rows)))


class FlowFamily(Family):
    """The E1 tasks: one flow, one classification."""

    name = "e1"
    observation = FlowObservation
    grade_model = FlowGrade
    actions: ClassVar[dict[str, Any]] = {
        "classify_flow": ClassifyFlow | Annotated[str, StringConstraints(max_length=MAX_COMPLETION)]}
    options: ClassVar[dict[str, Option]] = {
        "mode": Option(str, "E1 tasks have a single role: defender_only.", ["defender_only"], 32, default="defender_only"),
        "split": Option(str, "train, dev, test or ood (`<split>:eval` measures a policy; a one-class split is "
                        "served only that way).",
                        sorted({s for spec in E1_TASKS.values() for s in spec.splits}), 64),
        "scoring": Option(str, "default or compat.", list(E1_SCORING), 16, default="default"),
    }

    def tasks(self) -> list[TaskInfo]:
        return [TaskInfo(s.name, self.name, s.title, s.description,
                         details={"splits": list(s.splits), "default_split": s.default_split,
                                  "scoring": list(E1_SCORING)}) for s in E1_TASKS.values()]

    def reset(self, request: ResetRequest, run: AttackerRun) -> FlowEpisode:
        refuse_options(request, self)
        opts = request.options
        if opts.get("mode", "defender_only") != "defender_only":
            raise InvalidParameterError("E1 tasks have a single role: mode must be defender_only", field="mode",
                                        expected=["defender_only"])
        spec = E1_TASKS[request.task]
        split = check_choice("split", opts.get("split") or spec.default_split, spec.served_splits)
        scoring = check_choice("scoring", opts.get("scoring") or "default", E1_SCORING)
        dataset = e1_dataset(spec.dataset_file, e1_source())
        try:  # a one-class split is refused as a task: a constant answer would earn its maximum
            rows = episode_rows(dataset, split)
        except E1SplitError as exc:
            raise InvalidParameterError(str(exc), field="split", expected=exc.expected) from None
        index = request.seed % len(rows)
        row = rows[index]
        return FlowEpisode(episode_id=request.episode_id or str(uuid.uuid4()), task=request.task, mode="defender_only",
                           seed=request.seed, phase="awaiting_defender",
                           flow=FlowQuestion(question=row["question"], dataset=spec.dataset_file, split=split,
                                             index=index, tier=dataset.tier, scoring=scoring),
                           answer=row["answer"], prompt=SYSTEM_PROMPT + "\n\n" + row["question"])

    def legal_actions(self, ep: Episode) -> list[str]:
        return [] if ep.done else ["classify_flow"]

    def step(self, ep: Episode, action: str, content: Any, run: AttackerRun) -> None:
        assert isinstance(ep, FlowEpisode) and ep.flow is not None and ep.answer is not None
        # A completion string is scored as the model wrote it; a structured answer goes through the same rubric.
        if hasattr(content, "model_dump"):
            content = content.model_dump()
        if not isinstance(content, (str, dict)):
            content = json.dumps(content)
        if ep.flow.scoring == "compat":
            ep.e1 = score_compat(content if isinstance(content, str) else json.dumps(content), ep.answer)
        else:
            ep.e1 = score_default(content, ep.answer)
        if not ep.e1.format_ok and ep.e1.reason:
            ep.errors = [FieldError(loc="classify_flow", msg=ep.e1.reason, type="format")]
        ep.finish(ep.e1.reward)

    def _verdict(self, ep: FlowEpisode) -> FlowVerdict:
        assert ep.e1 is not None and ep.answer in ("Benign", "Malicious")
        return FlowVerdict(answer=ep.answer, predicted=ep.e1.predicted, correct=ep.e1.correct)

    def observe(self, ep: Episode) -> FlowObservation:
        assert isinstance(ep, FlowEpisode)
        done = ep.done
        return FlowObservation(
            role=ep.role, episode_id=ep.episode_id, task=ep.task, mode="defender_only", seed=ep.seed,
            prompt="" if done else ep.prompt, legal_actions=self.legal_actions(ep), flow=ep.flow,
            flow_verdict=self._verdict(ep) if done else None, rewards=FlowRewards(e1=ep.e1) if done else None,
            errors=ep.errors, done=done, reward=ep.last_reward,
        )

    def grade(self, ep: Episode) -> FlowGrade:
        assert isinstance(ep, FlowEpisode) and ep.e1 is not None and ep.flow is not None
        r = ep.e1.reward
        score = normalized(r, reward_range(ep.flow.scoring))
        return FlowGrade(episode_id=ep.episode_id, task=ep.task, mode="defender_only", score=score, defender_reward=r,
                         attacker_reward=None, defender_score=score, attacker_score=None, rewards=FlowRewards(e1=ep.e1),
                         flow_verdict=self._verdict(ep))

    def splits(self) -> dict[str, SplitSource]:
        return {f"{name}:{part}": SplitSource(E1_SPLIT_TYPES[part], f"{spec.title}: the {part!r} rows of "
                                              f"{spec.dataset_file} in the tier loaded now", _split_entries)
                for name, spec in E1_TASKS.items() for part in spec.splits}
