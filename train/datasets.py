"""Training datasets for the TRL pipeline, one per curriculum stage, from seeds disjoint from the hold-out."""

from __future__ import annotations

import json

from ..families.triage.family import materialized_incident
from ..tasks.frozen import SFT_PATH
from ..tasks.seeds import TRAIN_SEEDS_START
from .trl_env import (
    ATTACKER_INSTRUCTIONS,
    DEFENDER_INSTRUCTIONS,
    INVESTIGATOR_INSTRUCTIONS,
)

GRPO_SEEDS_START = TRAIN_SEEDS_START  # the hold-out uses 1,000,000+, the SFT set 2,000,000+, the investigation hold-out 4,000,000+


def sft_dataset(limit: int | None = None, task: str | None = None):
    """``data/sft_train.jsonl`` (only ``task``'s rows when given; the first ``limit``) as a conversational
    prompt/completion dataset."""
    from datasets import Dataset  # optional heavy dependency: datasets

    rows = [json.loads(line) for line in SFT_PATH.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [r for r in rows if task is None or r["task"] == task]
    if not rows:
        raise ValueError(f"no SFT rows for task {task!r}")
    rows = rows[:limit] if limit else rows
    return Dataset.from_list([{"prompt": [{"role": "user", "content": r["prompt"]}],
                               "completion": [{"role": "assistant", "content": r["completion"]}]} for r in rows])


def _run_column(rows: list[dict], run_id: str | None) -> list[dict]:
    return rows if run_id is None else [{**row, "run_id": run_id} for row in rows]


def grpo_dataset(task: str, n: int, *, with_alert: bool, offset: int = 0, use_replay_pool: bool = False,
                 run_id: str | None = None):
    """Rows with ``task`` and ``seed`` columns; ``with_alert`` puts the alert in the prompt (in-process reward),
    otherwise the environment's ``reset`` supplies it (``environment_factory``). ``run_id`` names the server's
    attacker run whose replay pool the rows draw from."""
    from datasets import Dataset  # optional heavy dependency: datasets

    seeds = range(GRPO_SEEDS_START + offset, GRPO_SEEDS_START + offset + n)
    rows = []
    for seed in seeds:
        content = materialized_incident(task, seed).defender_prompt if with_alert else DEFENDER_INSTRUCTIONS
        rows.append({"prompt": [{"role": "user", "content": content}], "task": task, "seed": seed,
                     "use_replay_pool": use_replay_pool})
    return Dataset.from_list(_run_column(rows, run_id))


def attacker_dataset(task: str, n: int, offset: int = 0, run_id: str | None = None):
    """Attacker rows; ``run_id`` names the server's attacker run that records the crafts."""
    from datasets import Dataset  # optional heavy dependency: datasets

    return Dataset.from_list(_run_column([{"prompt": [{"role": "user", "content": ATTACKER_INSTRUCTIONS}], "task": task,
                                           "seed": GRPO_SEEDS_START + offset + i} for i in range(n)], run_id))


def investigation_dataset(task: str, n: int, offset: int = 0):
    """Investigation rows (``task`` and ``seed``); the environment's ``reset`` supplies the alert and the tools."""
    from datasets import Dataset  # optional heavy dependency: datasets

    return Dataset.from_list([{"prompt": [{"role": "user", "content": INVESTIGATOR_INSTRUCTIONS}], "task": task,
                               "seed": GRPO_SEEDS_START + offset + i} for i in range(n)])
