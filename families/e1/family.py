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
from typing import Any

from ..runs import AttackerRun
from .loading import DATASET_SOURCES, E1Dataset, E1SplitError, episode_rows, load_task_dataset
from .scoring import SYSTEM_PROMPT, E1Score, reward_range, score_compat, score_default
from ...models import FieldError, FlowQuestion, FlowVerdict, Grade, OpenSOCObservation, RewardBreakdown
from ...rubric import normalized
from .tasks import E1_TASKS
from ..base import Episode, InvalidParameterError, ResetRequest, check_choice, check_episode_id, check_seed, refuse_options

E1_SCORING = ("default", "compat")


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


class FlowFamily:
    """The E1 tasks: one flow, one classification."""

    name = "e1"

    def owns(self, task: str) -> bool:
        return task in E1_TASKS

    def reset(self, request: ResetRequest, run: AttackerRun) -> FlowEpisode:
        refuse_options(request, "E1", {"mode", "split", "scoring"})
        if request.mode not in (None, "defender_only"):
            raise InvalidParameterError("E1 tasks have a single role: mode must be defender_only", field="mode",
                                        expected=["defender_only"])
        spec = E1_TASKS[request.task]
        split = check_choice("split", request.split or spec.default_split, spec.served_splits)
        scoring = check_choice("scoring", request.scoring or "default", E1_SCORING)
        seed, episode_id = check_seed(request.seed), check_episode_id(request.episode_id)
        dataset = e1_dataset(spec.dataset_file, e1_source())
        try:  # a one-class split is refused as a task: a constant answer would earn its maximum
            rows = episode_rows(dataset, split)
        except E1SplitError as exc:
            raise InvalidParameterError(str(exc), field="split", expected=exc.expected) from None
        index = seed % len(rows)
        row = rows[index]
        return FlowEpisode(episode_id=episode_id or str(uuid.uuid4()), task=request.task, mode="defender_only", seed=seed,
                           phase="awaiting_defender",
                           flow=FlowQuestion(question=row["question"], dataset=spec.dataset_file, split=split, index=index,
                                             tier=dataset.tier, scoring=scoring),
                           answer=row["answer"], prompt=SYSTEM_PROMPT + "\n\n" + row["question"])

    def legal_actions(self, ep: FlowEpisode) -> list[str]:
        return [] if ep.done else ["classify_flow"]

    def step(self, ep: FlowEpisode, action: str, content: Any, run: AttackerRun) -> None:
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
        return FlowVerdict(answer=ep.answer, predicted=ep.e1.predicted, correct=ep.e1.correct)

    def observe(self, ep: FlowEpisode) -> OpenSOCObservation:
        done = ep.done
        return OpenSOCObservation(
            role=ep.role, episode_id=ep.episode_id, task=ep.task, mode=ep.mode, seed=ep.seed,
            prompt="" if done else ep.prompt, legal_actions=self.legal_actions(ep), flow=ep.flow,
            flow_verdict=self._verdict(ep) if done else None, rewards=RewardBreakdown(e1=ep.e1) if done else None,
            errors=ep.errors, done=done, reward=ep.last_reward,
        )

    def grade(self, ep: FlowEpisode) -> Grade:
        r = ep.e1.reward
        score = normalized(r, reward_range(ep.flow.scoring))
        return Grade(episode_id=ep.episode_id, task=ep.task, mode=ep.mode, score=score, defender_reward=r,
                     attacker_reward=None, defender_score=score, attacker_score=None, rewards=RewardBreakdown(e1=ep.e1),
                     verdict=None, flow_verdict=self._verdict(ep))
