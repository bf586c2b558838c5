"""OpenEnv's Task API over OpenSOC's curriculum and hold-outs: splits of tasks a sampler draws by index.

OpenEnv (0.10) serves ``GET /list_environments``, ``GET /{env}/splits`` and ``POST /{env}/tasks|num_tasks|task|
task_range`` from an environment's ``TaskProvider`` methods; ``OpenSOCTaskCatalog`` is that provider. A task is
one episode's identity (a curriculum task and a seed, or an E1 row), with the ``difficulty`` (the curriculum stage)
and ``group`` (the curriculum task) a sampler filters on, and the ``reset`` arguments that start it. Choosing a task
is a reset: ``reset(split=..., index=...)`` on any transport starts exactly the episode ``get_task`` describes.

Splits:

- ``train``: every task a family marks for training (the triage and investigation stages),
  ``TRAIN_SEEDS_PER_TASK`` seeds each from the training window (``tasks.seeds.TRAIN_SEEDS_START``, the seeds GRPO
  trains on; seeds past the window work through ``reset(task=..., seed=...)``), task by task in registry order.
- then each family's own splits (``Family.splits``): the frozen hold-outs ``holdout`` and ``investigation`` that
  ``opensoc eval`` measures, in file order and never trained on, and ``<e1 task>:<split>``, the rows of the E1
  dataset loaded now (their number depends on the data tier, which every task names: ``data_tier``).

Everything here is metadata: listing tasks starts no episode and never shows an answer.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..families.registry import families
from .entries import SplitSource, TaskEntry, TaskSplit
from .seeds import TRAIN_SEEDS_PER_TASK, TRAIN_SEEDS_START

ENV_NAME = "opensoc"  # the {env_name} of OpenEnv's Task API routes (OpenEnv compares it case-insensitively)


class UnknownSplitError(ValueError):
    """A split name the catalog does not have; ``expected`` lists the ones it has."""

    def __init__(self, split: object, expected: list[str]):
        super().__init__(f"unknown split {str(split)[:64]!r}; expected one of: {', '.join(expected)}")
        self.expected = expected


@cache
def _train_entries(split: str) -> tuple[TaskEntry, ...]:
    tasks = [t for f in families() for t in f.tasks() if t.train]
    return tuple(TaskEntry(id=f"{t.name}-{TRAIN_SEEDS_START + k}", index=i, split=split, task=t.name, family=t.family,
                           group=t.name, difficulty=t.stage, seed=TRAIN_SEEDS_START + k,
                           reset={"task": t.name, "seed": TRAIN_SEEDS_START + k})
                 for i, (t, k) in enumerate((t, k) for t in tasks for k in range(TRAIN_SEEDS_PER_TASK)))


def sources() -> dict[str, SplitSource]:
    """Every split: ``train``, then each registered family's own."""
    trained = [t for f in families() for t in f.tasks() if t.train]
    out = {"train": SplitSource("train", f"{len(trained)} curriculum tasks (" + ", ".join(sorted({t.family for t in trained}))
                                + f" stages), {TRAIN_SEEDS_PER_TASK} training seeds each", _train_entries)}
    for f in families():
        out.update(f.splits())
    return out


class OpenSOCTaskCatalog:
    """OpenEnv's ``TaskProvider`` protocol over ``sources()``: side-effect free, sync, cheap after the first call."""

    def list_splits(self) -> list[dict[str, Any]]:
        return [TaskSplit(name=name, type=source.type, num_tasks=self.num_tasks(name),
                          description=source.description).model_dump(mode="json") for name, source in sources().items()]

    def list_tasks(self, split: str) -> list[dict[str, Any]]:
        return [entry.model_dump(mode="json") for entry in self._entries(split)]

    def num_tasks(self, split: str) -> int:
        return len(self._entries(split))

    def get_task(self, split: str, index: int) -> dict[str, Any]:
        return self.entry(split, index).model_dump(mode="json")

    def get_task_range(self, split: str, start: int | None = None, stop: int | None = None) -> list[dict[str, Any]]:
        return [entry.model_dump(mode="json") for entry in self._entries(split)[start:stop]]

    def entry(self, split: str, index: int) -> TaskEntry:
        """The task at ``index``; an ``IndexError`` (OpenEnv's signal for a 400) past either end."""
        entries = self._entries(split)
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(entries):
            raise IndexError(f"index {index!r} is outside split {split!r}, which holds {len(entries)} tasks "
                             f"(0 to {len(entries) - 1})")
        return entries[index]

    def split_names(self) -> tuple[str, ...]:
        return tuple(sources())

    def _entries(self, split: str) -> tuple[TaskEntry, ...]:
        known = sources()
        source = known.get(split) if isinstance(split, str) else None
        if source is None:
            raise UnknownSplitError(split, list(known))
        return source.entries(split)


CATALOG = OpenSOCTaskCatalog()


class SplitRequest(BaseModel):
    """``POST /opensoc/tasks`` and ``/num_tasks``: OpenEnv's ListTasksRequest and NumTasksRequest."""

    model_config = ConfigDict(extra="forbid", strict=True)

    split: str = Field(max_length=64, description="A split `GET /opensoc/splits` lists.")


class TaskIndexRequest(SplitRequest):
    """``POST /opensoc/task``: OpenEnv's GetTaskRequest."""

    index: int = Field(description="The task's position in the split, from 0.")


class TaskRangeRequest(SplitRequest):
    """``POST /opensoc/task_range``: OpenEnv's GetTaskRangeRequest (Python slice bounds)."""

    start: int | None = Field(default=None, description="Inclusive start; omitted, the split's beginning.")
    stop: int | None = Field(default=None, description="Exclusive stop; omitted, the split's end.")


__all__ = ["CATALOG", "ENV_NAME", "OpenSOCTaskCatalog", "SplitRequest", "TaskEntry", "TaskIndexRequest",
           "TaskRangeRequest", "TaskSplit", "UnknownSplitError", "sources"]
