"""``opensoc train scratch`` at test size: a model built from nothing learns the answer format through the project's
own SFT, then takes GRPO steps against the environment, all measured on the whole stage-1 hold-out."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("trl")

from opensoc.train.config import StageConfig  # noqa: E402
from opensoc.train.scratch import POINTS, paired_bootstrap  # noqa: E402

FAST = ["--size", "small", "--sft-steps", "60", "--sft-learning-rate", "3e-3", "--grpo-steps", "2",
        "--grpo-prompts-per-step", "2", "--num-generations", "4", "--eval-every", "30"]


def test_sft_teaches_the_format_and_grpo_runs(tmp_path, capsys):
    from opensoc.cli import main

    assert main(["train", "scratch", "--out", str(tmp_path), *FAST]) == 0
    assert "after_grpo: format violations" in capsys.readouterr().out
    results = json.loads((tmp_path / "results.json").read_text())
    points = results["points"]
    assert [p["n"] for p in points.values()] == [50, 50, 50]  # every stage-1 hold-out item, at every point
    assert points["before_sft"]["format_violation_rate"] == 1.0  # a random model writes no parseable answer
    assert points["after_sft"]["format_violation_rate"] <= 0.5
    assert points["after_sft"]["mean_reward"] > points["before_sft"]["mean_reward"]
    change = results["grpo_change"]
    assert change["n"] == 50 and change["ci95"][0] <= change["mean"] <= change["ci95"][1]
    assert results["config"]["sft_steps"] == 60 and results["config"]["num_generations"] == 4
    for name in ("sft_curve.png", "grpo_curve.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    assert "after GRPO" in (tmp_path / "results.md").read_text()
    records = json.loads((tmp_path / "holdout_records.json").read_text())
    assert list(records) == list(POINTS) and all(len(rows) == 50 for rows in records.values())
    sft_log = json.loads((tmp_path / "models" / "sft" / "metrics.json").read_text())
    assert [h["step"] for h in sft_log if "holdout/accuracy" in h] == [30, 60]  # the evaluation callback's points


def test_paired_bootstrap():
    change = paired_bootstrap([0.0] * 40, [1.0] * 30 + [0.0] * 10, resamples=2000, seed=0)
    assert change["mean"] == 0.75 and 0.6 < change["ci95"][0] < 0.75 < change["ci95"][1] < 0.9
    assert (change["improved"], change["worsened"]) == (30, 0)
    assert change == paired_bootstrap([0.0] * 40, [1.0] * 30 + [0.0] * 10, resamples=2000, seed=0)
    with pytest.raises(ValueError):
        paired_bootstrap([1.0], [1.0, 2.0], resamples=10, seed=0)


def test_stage_config_regimes():
    full = StageConfig.from_dict({"name": "s", "kind": "sft", "output_dir": "o", "finetune": "full"})
    assert full.resolved_learning_rate == 2e-5
    lora = StageConfig.from_dict({"name": "g", "kind": "grpo", "output_dir": "o"})
    assert lora.resolved_learning_rate == 1e-5
    assert StageConfig.from_dict({"name": "g", "kind": "grpo", "output_dir": "o", "learning_rate": 3e-4}).resolved_learning_rate == 3e-4
    import torch

    assert lora.resolved_use_cpu is not torch.cuda.is_available()
    assert lora.resolved_bf16 is (torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    for cleared in ("none", "", "null"):
        assert StageConfig.from_dict({"name": "g", "kind": "grpo", "output_dir": "o", "init_adapter": cleared}).init_adapter is None
    with pytest.raises(ValueError, match="finetune: full"):
        StageConfig.from_dict({"name": "g", "kind": "grpo", "output_dir": "o", "finetune": "full", "init_adapter": "a"})
