"""LLM self-play at smoke size on a CPU: the scratch model in both roles, through TRL, on the rounds' bookkeeping."""

from __future__ import annotations

import json
import os
from importlib.util import find_spec

import pytest
from support.tiny_lm import build_model, build_tokenizer, corpus

from opensoc.tasks.frozen import SFT_PATH
from opensoc.train.config import StageConfig

# GRPO runs for both roles; the extras are looked for, not imported, so that collecting the fast suite stays cheap.
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not all(find_spec(m) for m in ("trl", "peft")),
                                                    reason="the train extra is not installed")]

LORA = {"r": 4, "alpha": 8, "dropout": 0.0, "target_modules": ["q_proj", "v_proj"]}
TINY = dict(kind="grpo", bf16=False, use_cpu=True, logging_steps=1, per_device_train_batch_size=2, lora=LORA,
            max_steps=1, num_generations=2, max_completion_length=8, train_examples=2)


def test_llm_rounds_keep_the_same_books(tmp_path):
    from opensoc.train.selfplay import read_craft, run_llm_selfplay

    os.environ["TRL_EXPERIMENTAL_SILENCE"] = "1"
    tokenizer = build_tokenizer(corpus(SFT_PATH))
    built: list[str] = []

    def models(role):
        built.append(role)
        return build_model(tokenizer), tokenizer

    defender = StageConfig.from_dict(dict(name="d", output_dir="unused", task="stage4_adversarial", **TINY))
    attacker = StageConfig.from_dict(dict(name="a", output_dir="unused", role="attacker", task="stage2_multi", **TINY))
    result = run_llm_selfplay(defender, attacker, 1, tmp_path, models=models, eval_episodes=3, max_new_tokens=8,
                              show_progress=False)
    (r1,) = result.rounds
    # Every rollout's craft was scored in a self_play episode of the run: TRL's batch of two completions per step.
    assert r1.training.n == 2 and sum(r1.training.by_outcome.values()) == 2
    assert result.replay_pool_sound is True and r1.pool_size == r1.pool_added
    assert result.cross_play[1][0] == r1.evasion and result.cross_play[1][1] == r1.evasion_after
    assert result.cross_play[0][0] == result.initial_evasion and all(c.n == 3 for row in result.cross_play for c in row)
    for role in ("attacker_r1", "defender_r1"):  # separate adapters, one per role and round
        assert (tmp_path / role / "adapter_config.json").is_file()
    assert json.loads((tmp_path / "selfplay.json").read_text())["run_id"] == "selfplay-llm-0"
    assert "attacker" in built and "defender" in built
    assert read_craft('<tool_call>{"name": "craft_incident", "arguments": {"incident_json": "{\\"category\\": 1}"}}'
                      "</tool_call>") == {"category": 1}
    assert read_craft("no incident") == {} and read_craft("[1, 2]") == {}
