"""The frozen hold-out and SFT data: pinned hashes, byte-identical regeneration, coverage, disjoint seeds."""

from __future__ import annotations

import subprocess
import sys

import pytest
from support import REPO

from opensoc.eval.frozen import holdout_rows, label_counts, render, sft_rows, sha256
from opensoc.incidents.prompting import parse_triage
from opensoc.tasks import TASKS
from opensoc.tasks.frozen import HOLDOUT_PATH, SFT_PATH, load_holdout

HOLDOUT_SHA256 = "32502953b6ace3a8089c18abdcfb20ea0d9bb48c4997ab1131ebfa2b96095db4"
SFT_SHA256 = "d75d50abca097223772a10c260e7acacfd313308e1e9162c0abf5d01a486be63"


def test_holdout_hash_is_pinned():
    assert sha256(HOLDOUT_PATH) == HOLDOUT_SHA256
    assert sha256(SFT_PATH) == SFT_SHA256


@pytest.mark.slow
def test_regeneration_is_byte_identical():
    assert render(holdout_rows()) == HOLDOUT_PATH.read_bytes()
    assert render(sft_rows()) == SFT_PATH.read_bytes()
    proc = subprocess.run([sys.executable, "scripts/make_frozen_data.py", "--check"], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_holdout_covers_every_stage_and_label():
    rows = load_holdout()
    assert len(rows) == 200
    counts = label_counts(rows)
    assert set(counts) == set(TASKS)
    for task, labels in counts.items():
        assert sum(labels.values()) == 50
        assert len(labels) == (4 if task == "stage1_basic" else 5)
        assert max(labels.values()) - min(labels.values()) <= 1


def test_sft_is_disjoint_and_parses_to_gold():
    holdout = {(r["task"], r["seed"]) for r in load_holdout()}
    sft = [__import__("json").loads(line) for line in SFT_PATH.read_text().splitlines()]
    assert len(sft) == 600 and not holdout & {(r["task"], r["seed"]) for r in sft}
    for r in sft:
        parsed = parse_triage(r["completion"])
        assert parsed is not None and parsed.action == r["gold_action"]
        assert "LOGS" in r["prompt"] and r["prompt"].startswith("You are a tier-1 SOC analyst")
