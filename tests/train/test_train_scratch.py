"""``opensoc train scratch`` at test size: a model built from nothing learns the answer format through the project's
own SFT, then takes GRPO steps against the environment, all measured on the whole stage-1 hold-out."""

from __future__ import annotations

import json
from importlib.util import find_spec

import pytest

pytestmark = pytest.mark.skipif(find_spec("trl") is None, reason="the train extra is not installed")

from opensoc.train.config import StageConfig  # noqa: E402
from opensoc.train.scratch import POINTS, paired_bootstrap  # noqa: E402

# About two minutes on 2 cores: SFT in batches of 4 (twice the updates of the default's 8 in the same time) is long
# enough for the answer format to appear; 2 GRPO steps show that phase runs and is scored.
FAST = ["--size", "small", "--sft-steps", "140", "--sft-batch-size", "4", "--grpo-steps", "2",
        "--grpo-prompts-per-step", "2", "--num-generations", "4", "--eval-every", "70"]


@pytest.mark.slow
def test_sft_teaches_the_format_and_grpo_runs(tmp_path, capsys):
    from opensoc.cli import main

    assert main(["train", "scratch", "--out", str(tmp_path), *FAST]) == 0
    assert "after_grpo: format violations" in capsys.readouterr().out
    results = json.loads((tmp_path / "results.json").read_text())
    points = results["points"]
    assert [p["n"] for p in points.values()] == [50, 50, 50]  # every stage-1 hold-out item, at every point
    assert points["before_sft"]["format_violation_rate"] == 1.0  # a random model writes no parseable answer
    assert points["after_sft"]["format_violation_rate"] <= 0.75  # SFT teaches the format (48% at 120 steps here)
    assert points["after_sft"]["mean_reward"] > points["before_sft"]["mean_reward"]
    change = results["grpo_change"]
    assert change["n"] == 50 and change["ci95"][0] <= change["mean"] <= change["ci95"][1]
    assert results["config"]["sft_steps"] == 140 and results["config"]["num_generations"] == 4
    for name in ("sft_curve.png", "grpo_curve.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    assert "after GRPO" in (tmp_path / "results.md").read_text()
    records = json.loads((tmp_path / "holdout_records.json").read_text())
    assert list(records) == list(POINTS) and all(len(rows) == 50 for rows in records.values())
    sft_log = json.loads((tmp_path / "models" / "sft" / "metrics.json").read_text())
    assert [h["step"] for h in sft_log if "holdout/accuracy" in h] == [70, 140]  # the evaluation callback's points


def test_paired_bootstrap():
    change = paired_bootstrap([0.0] * 40, [1.0] * 30 + [0.0] * 10, resamples=2000, seed=0)
    assert change["mean"] == 0.75 and 0.6 < change["ci95"][0] < 0.75 < change["ci95"][1] < 0.9
    assert (change["improved"], change["worsened"]) == (30, 0)
    assert change == paired_bootstrap([0.0] * 40, [1.0] * 30 + [0.0] * 10, resamples=2000, seed=0)
    with pytest.raises(ValueError):
        paired_bootstrap([1.0], [1.0, 2.0], resamples=10, seed=0)


@pytest.mark.slow  # more than a second
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


@pytest.mark.slow
def test_a_run_is_deterministic_for_its_seed(tmp_path):
    """Two runs of one configuration and seed write the same completions for every hold-out item at every point: the
    tokenizer, the initial weights, SFT's batches and GRPO's samples all follow the seed."""
    from opensoc.train.scratch import ScratchConfig, run_scratch

    config = ScratchConfig(size="tiny", vocab_size=1024, sft_steps=3, grpo_steps=1, grpo_prompts_per_step=2,
                           num_generations=2, eval_every=0, eval_max_new_tokens=16, max_completion_length=16)
    first = run_scratch(config, tmp_path / "a", show_progress=False)
    second = run_scratch(config, tmp_path / "b", show_progress=False)
    assert first["points"] == second["points"] and first["grpo_change"] == second["grpo_change"]
    assert (tmp_path / "a" / "holdout_records.json").read_bytes() == (tmp_path / "b" / "holdout_records.json").read_bytes()


@pytest.mark.slow  # trains a tokenizer
def test_the_scratch_tokenizer_opens_the_answer_at_once():
    """With ``qwen2.5`` the generation prompt ends where the answer starts; ``qwen3`` puts its think block in the
    assistant turn instead; any other template name is refused."""
    from opensoc.train.scratch_lm import build_tokenizer

    corpus = ['{"action": "dismiss", "cited_log_id": "L1-0"}'] * 4
    turn = [{"role": "user", "content": "alert"}]
    answer = turn + [{"role": "assistant", "content": '{"action": "dismiss"}'}]
    for name, think in (("qwen2.5", False), ("qwen3", True)):
        tokenizer = build_tokenizer(corpus, 300, name)
        prompt = tokenizer.apply_chat_template(turn, tokenize=False, add_generation_prompt=True)
        full = tokenizer.apply_chat_template(answer, tokenize=False)
        assert full.startswith(prompt) and prompt.endswith("<|im_start|>assistant\n")
        assert ("<think>" in full[len(prompt):]) is think
    with pytest.raises(ValueError, match="expected one of qwen3, qwen2.5"):
        build_tokenizer(corpus, 300, "llama")


def test_the_training_page_shows_the_committed_run():
    """docs/training.md's table of the from-scratch run is the committed run's own, as ``markdown_table`` writes it."""
    from support import REPO

    from opensoc.train.scratch import markdown_table

    committed = REPO / "train" / "artifacts" / "scratch"
    results = json.loads((committed / "results.json").read_text())
    assert (committed / "results.md").read_text() == markdown_table(results)
    assert markdown_table(results).strip() in (REPO / "docs" / "training.md").read_text(encoding="utf-8")
    assert results["points"]["after_sft"]["format_violation_rate"] <= 0.10
    assert all(p["n"] == 50 for p in results["points"].values())
