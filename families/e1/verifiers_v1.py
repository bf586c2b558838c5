"""E1 as a verifiers 0.4 (``verifiers.v1``) taskset: one ``E1Task`` per flow, scored by OpenSOC's rubric.

``E1Taskset(E1TasksetConfig(split="train", seed=3))`` yields the split's flows in the order ``seed`` shuffles them;
each task's prompt is the flow question under OpenSOC's system prompt, and its ``@vf.reward`` scores the trace's
final reply exactly as the service does (``scoring``: ``default`` or ``compat``). ``e1_correct`` is a metric (recorded,
not summed). Importing this module needs verifiers 0.4 or later; ``e1.verifiers_env.load_environment`` picks it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import verifiers.v1 as vf
from pydantic import Field

from .loading import DatasetSource
from .scoring import SYSTEM_PROMPT
from .verifiers_rows import e1_rows, score_completion


class E1TasksetConfig(vf.TasksetConfig):
    """Which E1 rows to serve and how to score them (the arguments of ``load_environment``)."""

    dataset_name: str | None = Field(default=None, description="An E1 dataset name or file; default the IoT-23 file.")
    dataset_source: DatasetSource = Field(default="auto", description="auto, local, hub or synthetic.")
    max_examples: int | None = Field(default=None, ge=1, description="At most this many rows, after shuffling.")
    split: str | None = Field(default=None, description="train (default), dev, test or ood.")
    seed: int = Field(default=0, ge=0, description="Shuffles the rows (and seeds the synthetic tier).")
    scoring: Literal["default", "compat"] = Field(default="default", description="OpenSOC's rubric or SV-compatible.")


class E1Data(vf.TaskData):
    """One flow: the question is the prompt; the answer and the row's provenance ride along for scoring."""

    answer: str = Field(description="Benign or Malicious.")
    split: str = Field(description="The split the row belongs to.")
    tier: str = Field(description="The data tier the row came from (local, hub or synthetic).")
    scoring: Literal["default", "compat"] = Field(description="The rubric its reward uses.")


class E1Task(vf.Task[E1Data]):
    """Classify one flow; rewarded by OpenSOC's E1 rubric."""

    @vf.reward
    async def e1_reward(self, task: E1Data, trace: vf.Trace) -> float:
        return score_completion(trace.last_reply, task.answer, task.scoring).reward

    @vf.metric
    async def e1_correct(self, task: E1Data, trace: vf.Trace) -> float:
        return float(score_completion(trace.last_reply, task.answer, task.scoring).correct)


class E1Taskset(vf.Taskset[E1Task, E1TasksetConfig]):
    """The E1 flows of one split, as verifiers 0.4 tasks."""

    def load(self) -> Iterator[E1Task]:
        c = self.config
        rows = e1_rows(c.dataset_name, c.dataset_source, c.max_examples, c.split, c.seed, c.scoring)
        for k, row in enumerate(rows.train):
            data = E1Data(id=f"{rows.split}-{k}", name=f"e1 {rows.split} flow {k}", prompt=row["question"],
                          system_prompt=SYSTEM_PROMPT, answer=row["answer"], split=rows.split,
                          tier=row["info"]["tier"], scoring=c.scoring)
            yield E1Task(data, c.task)


__all__ = ["E1Data", "E1Task", "E1Taskset", "E1TasksetConfig"]
