"""Which seeds each use draws from: one table, so no two uses overlap and no name means two things.

Seeds are episode identities (``generate(task, seed)``); every frozen or trained-on set owns a disjoint range.
"""

from __future__ import annotations

CPU_TRAIN_SEEDS_START = 10_000  # opensoc train cpu: 100,000 seeds per stage from here
HOLDOUT_SEEDS = range(1_000_000, 1_100_000)  # the frozen triage hold-out (data/holdout.jsonl)
SFT_SEEDS = range(2_000_000, 2_100_000)  # the frozen SFT set (data/sft_train.jsonl)
TRAIN_SEEDS_START = 3_000_000  # GRPO and the Task API's train split draw from here
INVESTIGATION_SEEDS = range(4_000_000, 4_100_000)  # the frozen investigation hold-out
TRAIN_SEEDS_PER_TASK = 1000  # the Task API's train split: this many seeds of each task from TRAIN_SEEDS_START
