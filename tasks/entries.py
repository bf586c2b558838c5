"""What the Task API lists: a task entry (one episode's identity and how to start it), a split, and a split's source.

Families build their splits from these (``families.base.Family.splits``); ``tasks.catalog`` serves them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SplitType = Literal["train", "validation", "test"]


class TaskEntry(BaseModel):
    """One task of a split: which episode it is, how hard, and how to start it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="Stable id: `<task>-<seed>` for generated episodes, `<task>-<split>-<row>` for rows "
                    "of a dataset.")
    index: int = Field(ge=0, description="Position in the split; `reset(split=..., index=...)` starts this task.")
    split: str = Field(description="The split this task belongs to.")
    task: str = Field(description="The task (`/tasks` lists them).")
    family: str = Field(description="Which kind of episode it is: the task's family.")
    group: str = Field(description="The stratum a sampler groups by: the task.")
    difficulty: int | None = Field(description="The curriculum stage, 1 (single events) to 4 (adversarial); null "
                                   "where the task has none.")
    seed: int = Field(ge=0, description="The episode's seed (on a dataset, the row it shows is `seed mod rows`).")
    reset: dict[str, Any] = Field(description="The reset arguments that start this episode on any transport.")
    data_tier: str | None = Field(default=None, description="Dataset tasks only: the tier its rows came from (local, "
                                  "hub or synthetic); a synthetic tier stands in for data that is not on this machine.")


class TaskSplit(BaseModel):
    """A split as ``GET /opensoc/splits`` lists it (OpenEnv's ``{name, type}`` plus what a sampler needs)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="The split's name, as the other Task API routes take it.")
    type: SplitType = Field(description="OpenEnv's split type: train, validation or test.")
    num_tasks: int = Field(ge=0, description="How many tasks it holds.")
    description: str = Field(description="What it is drawn from.")


@dataclass(frozen=True)
class SplitSource:
    """Where a split's tasks come from: its type, a description, and a function from the split's name to its entries
    (cached by the source where the entries never change)."""

    type: SplitType
    description: str
    entries: Callable[[str], tuple[TaskEntry, ...]]
