"""``scripts/gpu_check.sh``: the GPU check's whole path, run on the CPU with tiny sizes (``--smoke``), and its refusal
to pass for a GPU run where there is no CUDA device."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest
from support import REPO

pytestmark = [pytest.mark.slow,  # the check script, and its smoke run trains
              pytest.mark.skipif(find_spec("trl") is None, reason="the train extra is not installed")]

SCRIPT = REPO / "scripts" / "gpu_check.sh"
ENV = dict(os.environ, PYTHON=sys.executable, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")


def test_the_smoke_run_measures_every_phase_through_the_project_s_entry_points(tmp_path):
    out = tmp_path / "gpu_results.json"
    done = subprocess.run(["bash", str(SCRIPT), "--smoke", "--out", str(out)], cwd=REPO, env=ENV, capture_output=True,
                          text=True, timeout=600)
    results = json.loads(out.read_text())
    phases = results["phases"]
    assert results["mode"] == "smoke" and results["device"] == "cpu"
    assert phases["smoke/sft"]["steps"] == 2 and phases["smoke/sft"]["s_per_step"] > 0
    for stage in ("grpo_stage1", "grpo_stage4"):
        grpo = phases[f"smoke/{stage}"]
        assert grpo["steps"] == 1 and grpo["s_per_step"] > 0 and grpo["device"] == "cpu"
        assert grpo["prompt_tokens"]["max"] > 0 and grpo["completion_tokens_mean"] > 0
    assert phases["smoke/grpo_stage4"]["prompt_tokens"]["mean"] > phases["smoke/grpo_stage1"]["prompt_tokens"]["mean"]
    generation = phases["smoke/generation"]
    assert generation["device"] == "cpu" and generation["new_tokens"] > 0 and generation["tokens_per_s"] > 0
    evaluation = phases["smoke/eval"]  # opensoc eval --policy hf, one hold-out item per stage
    assert evaluation["items"] == 4 and evaluation["generation"]["device"] == "cpu"
    selfplay = phases["smoke/selfplay"]  # one round of the LLM self-play: both roles through TRL on one run
    assert selfplay["device"] == "cpu" and selfplay["pool_sound"] is True
    (round1,) = selfplay["rounds"]
    assert round1["training_crafts"] > 0 and sum(round1["training_outcomes"].values()) == round1["training_crafts"]
    assert [len(row) for row in selfplay["cross_play"]] == [2, 2] and selfplay["cross_play"][1][0] == round1["evasion"]
    assert "Cross-play" in selfplay["selfplay_md"]
    assert done.returncode == 0, done.stderr
    assert results["incomplete"] == []
    scratch = phases["scratch"]["results"]  # opensoc train scratch at its smallest, every stage-1 hold-out item
    assert [scratch["points"][p]["n"] for p in ("before_sft", "after_sft", "after_grpo")] == [50, 50, 50]


def test_a_gpu_run_without_cuda_fails_at_once():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    for mode in ([], ["--selfplay"]):
        done = subprocess.run(["bash", str(SCRIPT), *mode], cwd=REPO, env=ENV, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 2 and "no CUDA device here" in done.stderr, mode
