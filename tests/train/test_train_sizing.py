"""The stage configs are sized from measurement: at least 8 prompts x 8 generations per optimizer step, a vLLM context
over every training prompt plus its completion, an SFT length over every row, an attacker budget over most real
incidents; and the generation backend is transformers' unless a stage asks for vLLM."""

from __future__ import annotations

import json

import pytest

from opensoc.train.config import CONFIG_DIR, StageConfig
from opensoc.train.models import generation_args

MEASURED = json.loads((CONFIG_DIR / "prompt_lengths.json").read_text())["configs"]
CONFIGS = {path.stem: StageConfig.load(path) for path in sorted(CONFIG_DIR.glob("*.yaml"))}
GRPO = [name for name, c in CONFIGS.items() if c.kind == "grpo"]


def test_every_config_was_measured_as_it_is():
    assert set(MEASURED) == set(CONFIGS)
    for name, config in CONFIGS.items():
        m = MEASURED[name]
        assert (m["kind"], m["task"], m["role"], m["reward"]) == (config.kind, config.task, config.role, config.reward)
        assert m["tokens"]["n"] >= min(config.train_examples, 600)  # every training row (SFT has 600)


@pytest.mark.parametrize("name", GRPO)
def test_a_grpo_step_sees_at_least_8_prompts_of_8_generations(name):
    config = CONFIGS[name]
    completions = config.per_device_train_batch_size * config.gradient_accumulation_steps
    assert config.num_generations >= 8 and completions % config.num_generations == 0
    assert completions // config.num_generations >= 8


@pytest.mark.parametrize("name", GRPO)
def test_vllm_s_context_holds_the_longest_prompt_and_a_full_completion(name):
    config = CONFIGS[name]
    assert config.vllm.max_model_length >= MEASURED[name]["tokens"]["max"] + config.max_completion_length


def test_sft_keeps_every_row_whole_and_the_attacker_budget_holds_most_real_incidents():
    assert CONFIGS["sft"].max_length >= MEASURED["sft"]["tokens"]["max"]
    answers = MEASURED["attacker"]["answer_tokens"]
    assert answers["p95"] <= CONFIGS["attacker"].max_completion_length < answers["max"] + 1024


@pytest.mark.slow  # more than a second
def test_generation_is_transformers_unless_a_stage_asks_for_vllm(monkeypatch):
    import importlib.util

    from opensoc.train.models import trainer_args

    config = CONFIGS["stage3"]
    assert not config.use_vllm and generation_args(config) == {"use_vllm": False}
    config = StageConfig.load(CONFIG_DIR / "stage3.yaml", use_vllm=True, output_dir="unused")
    if importlib.util.find_spec("vllm") is None:
        with pytest.raises(SystemExit, match=r"pip install -e '.\[train-vllm\]'"):
            generation_args(config)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object() if name == "vllm" else real(name, *a))
    colocate = generation_args(config)
    assert colocate == {"use_vllm": True, "vllm_mode": "colocate", "vllm_max_model_length": 7168,
                        "vllm_gpu_memory_utilization": 0.3}
    config.vllm.mode = "server"
    server = generation_args(config)
    assert server == {"use_vllm": True, "vllm_mode": "server", "vllm_server_base_url": "http://localhost:8001"}
    pytest.importorskip("trl")
    from trl import GRPOConfig

    for args in (colocate, server):  # TRL takes them as they are
        built = GRPOConfig(**{**trainer_args(config), "bf16": False, "use_cpu": True}, **args)
        assert built.use_vllm and built.vllm_mode == args["vllm_mode"]


@pytest.mark.slow  # more than a second
def test_the_measurement_runs_with_any_chat_tokenizer(tmp_path, capsys):
    pytest.importorskip("transformers")
    from support.tiny_lm import build_tokenizer, corpus

    from opensoc.tasks.frozen import SFT_PATH
    from opensoc.train.prompt_lengths import main

    build_tokenizer(corpus(SFT_PATH)).save_pretrained(tmp_path / "tok")
    main(["--tokenizer", str(tmp_path / "tok"), "--n", "3", "--out", str(tmp_path / "lengths.json"), "--label", "tiny"])
    figures = json.loads((tmp_path / "lengths.json").read_text())
    assert figures["tokenizer"] == "tiny" and set(figures["configs"]) == set(CONFIGS)
    measured = figures["configs"]
    assert all(m["tokens"]["n"] == 3 for m in measured.values())
    # The alert dominates an in-process prompt; the attacker's brief carries the tool's schema.
    assert measured["stage2"]["tokens"]["max"] > 300 and measured["attacker"]["tokens"]["max"] > 300
    assert measured["attacker"]["answer_tokens"]["n"] > 100
    assert "| stage4 | prompt (in_process) |" in capsys.readouterr().out


def test_the_training_page_shows_the_measured_lengths_and_the_launch_config_reads():
    from support import REPO

    readme = (REPO / "docs" / "training.md").read_text()
    for name, m in MEASURED.items():
        assert f"{m['tokens']['max']:,}" in readme, name
    assert f"{MEASURED['attacker']['answer_tokens']['max']:,}" in readme
    pytest.importorskip("accelerate")
    from accelerate.commands.config.config_args import load_config_from_file

    launch = load_config_from_file(str(REPO / "train" / "accelerate" / "multi_gpu.yaml"))
    assert launch.distributed_type == "MULTI_GPU" and launch.mixed_precision == "bf16" and not launch.use_cpu
    assert "--config_file train/accelerate/multi_gpu.yaml" in readme
