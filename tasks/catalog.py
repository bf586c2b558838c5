"""OpenEnv's Task API over OpenSOC's curriculum and hold-outs: splits of tasks a sampler draws by index.

OpenEnv (0.10) serves ``GET /list_environments``, ``GET /{env}/splits`` and ``POST /{env}/tasks|num_tasks|task|
task_range`` from an environment's ``TaskProvider`` methods; ``OpenSOCTaskCatalog`` is that provider. A task is
one episode's identity (a curriculum task and a seed, or an E1 row), with the ``difficulty`` (the curriculum stage)
and ``group`` (the curriculum task) a sampler filters on, and the ``reset`` arguments that start it. Choosing a task
is a reset: ``reset(split=..., index=...)`` on any transport starts exactly the episode ``get_task`` describes.

Splits:

- ``train``: every triage and investigation stage, ``TRAIN_SEEDS_PER_TASK`` seeds each from the training window
  (``eval.frozen.TRAIN_SEEDS_START``, the seeds GRPO trains on; seeds past the window work through
  ``reset(task=..., seed=...)``), task by task in curriculum order.
- ``holdout`` and ``investigation``: the frozen hold-outs ``opensoc eval --split holdout|investigation`` measures,
  in file order. Never trained on.
- ``<e1 task>:<split>`` (``e1_iot23:train|dev|test``, ``e1_cic_ood:ood``, ``e1_unsw_ood:ood``): the rows of the E1
  dataset loaded now. Their number depends on the data tier, which every task names (``data_tier``); evaluation
  splits reset as ``<split>:eval``, as ``opensoc eval`` does.

Everything here is metadata: listing tasks starts no episode and never shows an answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..families.e1.loading import EVALUATION_SUFFIX, episode_rows
from ..service.metadata import NAME
from ..families.e1.tasks import E1_TASKS
from ..families.investigation.tasks import INVESTIGATION_TASKS
from .registry import TASKS

TRAIN_SEEDS_PER_TASK = 1000
SplitType = Literal["train", "validation", "test"]
E1_SPLIT_TYPES: dict[str, SplitType] = {"train": "train", "dev": "validation", "test": "test", "ood": "test"}


class TaskEntry(BaseModel):
    """One task of a split: which episode it is, how hard, and how to start it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="Stable id: `<task>-<seed>` for generated episodes, `<task>-<split>-<row>` for E1.")
    index: int = Field(ge=0, description="Position in the split; `reset(split=..., index=...)` starts this task.")
    split: str = Field(description="The split this task belongs to.")
    task: str = Field(description="The curriculum task (`/tasks` lists them).")
    family: Literal["triage", "investigation", "e1"] = Field(description="Which kind of episode it is.")
    group: str = Field(description="The stratum a sampler groups by: the curriculum task.")
    difficulty: int | None = Field(description="The curriculum stage, 1 (single events) to 4 (adversarial); null on E1.")
    seed: int = Field(ge=0, description="The episode's seed (on E1, the row it shows is `seed mod rows`).")
    reset: dict[str, Any] = Field(description="The reset arguments that start this episode on any transport.")
    data_tier: str | None = Field(default=None, description="E1 only: the tier its rows came from (local, hub or "
                                  "synthetic); a synthetic tier stands in for data that is not on this machine.")


class TaskSplit(BaseModel):
    """A split as ``GET /opensoc/splits`` lists it (OpenEnv's ``{name, type}`` plus what a sampler needs)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="The split's name, as the other Task API routes take it.")
    type: SplitType = Field(description="OpenEnv's split type: train, validation or test.")
    num_tasks: int = Field(ge=0, description="How many tasks it holds.")
    description: str = Field(description="What it is drawn from.")


class UnknownSplitError(ValueError):
    """A split name the catalog does not have; ``expected`` lists the ones it has."""

    def __init__(self, split: object, expected: list[str]):
        super().__init__(f"unknown split {str(split)[:64]!r}; expected one of: {', '.join(expected)}")
        self.expected = expected


@dataclass(frozen=True)
class _SplitSource:
    type: SplitType
    description: str
    entries: Callable[[str], tuple[TaskEntry, ...]]


def _episode_entry(split: str, index: int, task: str, seed: int) -> TaskEntry:
    if task in INVESTIGATION_TASKS:
        family, stage = "investigation", INVESTIGATION_TASKS[task].stage
    else:
        family, stage = "triage", TASKS[task].stage
    return TaskEntry(id=f"{task}-{seed}", index=index, split=split, task=task, family=family, group=task,
                     difficulty=stage, seed=seed, reset={"task": task, "seed": seed})


@lru_cache(maxsize=None)
def _train_entries(split: str) -> tuple[TaskEntry, ...]:
    from ..eval.frozen import TRAIN_SEEDS_START  # eval.frozen imports the environment, which imports this module

    tasks = [*TASKS, *INVESTIGATION_TASKS]
    return tuple(_episode_entry(split, i, task, TRAIN_SEEDS_START + k)
                 for i, (task, k) in enumerate((t, k) for t in tasks for k in range(TRAIN_SEEDS_PER_TASK)))


def _frozen_entries(path_name: str) -> Callable[[str], tuple[TaskEntry, ...]]:
    @lru_cache(maxsize=None)
    def entries(split: str) -> tuple[TaskEntry, ...]:
        from ..eval import frozen

        lines = getattr(frozen, path_name).read_text(encoding="utf-8").splitlines()
        rows = [json.loads(line) for line in lines if line.strip()]
        return tuple(_episode_entry(split, i, row["task"], row["seed"]) for i, row in enumerate(rows))

    return entries


def _e1_entries(split: str) -> tuple[TaskEntry, ...]:
    # Not cached: the rows are those of the tier loaded now (families.flow caches the dataset per tier).
    from ..families.e1.family import e1_dataset, e1_source

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


def _sources() -> dict[str, _SplitSource]:
    stages = len(TASKS) + len(INVESTIGATION_TASKS)
    sources = {
        "train": _SplitSource("train", f"{stages} curriculum tasks (triage and investigation stages 1-4), "
                              f"{TRAIN_SEEDS_PER_TASK} training seeds each", _train_entries),
        "holdout": _SplitSource("test", "the frozen triage hold-out (data/holdout.jsonl), 50 incidents per stage",
                                _frozen_entries("HOLDOUT_PATH")),
        "investigation": _SplitSource("test", "the frozen investigation hold-out (data/investigation_holdout.jsonl), "
                                      "20 cases per stage", _frozen_entries("INVESTIGATION_HOLDOUT_PATH")),
    }
    for name, spec in E1_TASKS.items():
        for part in spec.splits:
            sources[f"{name}:{part}"] = _SplitSource(E1_SPLIT_TYPES[part], f"{spec.title}: the {part!r} rows of "
                                                     f"{spec.dataset_file} in the tier loaded now", _e1_entries)
    return sources


SOURCES = _sources()


class OpenSOCTaskCatalog:
    """OpenEnv's ``TaskProvider`` protocol over ``SOURCES``: side-effect free, sync, cheap after the first call."""

    def list_splits(self) -> list[dict[str, Any]]:
        return [TaskSplit(name=name, type=source.type, num_tasks=self.num_tasks(name),
                          description=source.description).model_dump(mode="json") for name, source in SOURCES.items()]

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
        return tuple(SOURCES)

    def _entries(self, split: str) -> tuple[TaskEntry, ...]:
        source = SOURCES.get(split) if isinstance(split, str) else None
        if source is None:
            raise UnknownSplitError(split, list(SOURCES))
        return source.entries(split)


CATALOG = OpenSOCTaskCatalog()


def task_overview() -> list[dict[str, Any]]:
    """Every curriculum task by family, as ``GET /tasks`` and ``opensoc tasks`` show them."""
    return (
        [{"name": s.name, "family": "triage", "stage": s.stage, "title": s.title, "description": s.description}
         for s in TASKS.values()]
        + [{"name": s.name, "family": "investigation", "stage": s.stage, "title": s.title, "description": s.description,
            "call_budget": s.call_budget, "store_events": s.store_events, "store_hours": s.store_hours}
           for s in INVESTIGATION_TASKS.values()]
        + [{"name": s.name, "family": "e1", "stage": None, "title": s.title, "description": s.description,
            "splits": list(s.splits), "default_split": s.default_split, "scoring": ["default", "compat"]}
           for s in E1_TASKS.values()]
    )




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


__all__ = ["CATALOG", "NAME", "SOURCES", "TRAIN_SEEDS_PER_TASK", "OpenSOCTaskCatalog", "SplitRequest", "TaskEntry",
           "TaskIndexRequest", "TaskRangeRequest", "TaskSplit", "UnknownSplitError", "task_overview"]
