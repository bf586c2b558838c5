"""The frozen files under ``data/`` and how to read them: the triage hold-out, the SFT set, the investigation
hold-out. Pure reads; ``eval.frozen`` writes them (``opensoc regenerate``, ``scripts/make_frozen_data.py``)."""

from __future__ import annotations

import json
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
HOLDOUT_PATH = DATA_DIR / "holdout.jsonl"
SFT_PATH = DATA_DIR / "sft_train.jsonl"
INVESTIGATION_HOLDOUT_PATH = DATA_DIR / "investigation_holdout.jsonl"


def read_jsonl(path: Path) -> list[dict]:
    """The rows of a JSON-lines file."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def load_holdout(path: Path = HOLDOUT_PATH) -> list[dict]:
    return read_jsonl(path)


def load_investigation_holdout(path: Path = INVESTIGATION_HOLDOUT_PATH) -> list[dict]:
    return read_jsonl(path)
