"""The ``hf`` policy on a CPU with a tiny model built from a config and a local tokenizer (no downloads): the options
for device and batch size, batched left-padded generation, and a model and tokenizer given back as they came."""

from __future__ import annotations

import json
from importlib.util import find_spec

import pytest
from support.tiny_lm import build_model, build_tokenizer, corpus

from opensoc.eval.hf_policy import HFPolicy
from opensoc.eval.runner import load_items, run_policy
from opensoc.tasks.frozen import SFT_PATH

# Every test builds, saves and generates with a model. The extras are looked for, not imported, so that collecting
# the fast suite does not pay for importing them.
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not all(find_spec(m) for m in ("transformers", "peft")),
                                                    reason="the train extra is not installed")]

ITEMS = dict(split="holdout", tasks=["stage1_basic", "stage3_mixed"], limit=3)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A tiny model and its tokenizer saved as a local model folder, and a LoRA adapter folder on top of it."""
    from peft import LoraConfig, get_peft_model

    root = tmp_path_factory.mktemp("tiny-hf")
    tokenizer = build_tokenizer(corpus(SFT_PATH))
    model = build_model(tokenizer)
    model.save_pretrained(root / "model")
    tokenizer.save_pretrained(root / "model")
    lora = get_peft_model(build_model(tokenizer), LoraConfig(r=2, lora_alpha=4, target_modules=["q_proj", "v_proj"],
                                                             init_lora_weights=False))
    lora.save_pretrained(root / "adapter")
    tokenizer.save_pretrained(root / "adapter")
    return root


def _items():
    return load_items(ITEMS["split"], ITEMS["tasks"], ITEMS["limit"])


def test_batches_give_the_answers_of_one_at_a_time_and_leave_the_model_and_tokenizer_as_they_were(saved):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(saved / "model").train()
    tokenizer = AutoTokenizer.from_pretrained(saved / "model")
    tokenizer.padding_side = "right"  # as SFT's collator wants it
    items = _items()
    one = run_policy(HFPolicy("tiny", loaded=(model, tokenizer), max_new_tokens=6, batch_size=1), items,
                     show_progress=False)
    batched_policy = HFPolicy("tiny", loaded=(model, tokenizer), max_new_tokens=6, batch_size=4)
    batched = run_policy(batched_policy, items, show_progress=False)
    assert [r["completion"] for r in batched] == [r["completion"] for r in one]
    assert all(r["completion"] for r in batched)
    assert tokenizer.padding_side == "right" and model.training
    g = batched_policy.generation
    assert (g["device"], g["dtype"], g["batch_size"], g["prompts"]) == ("cpu", "float32", 4, len(items))
    assert 0 < g["new_tokens"] <= 6 * len(items) and g["tokens_per_s"] > 0


def test_opensoc_eval_runs_a_local_model_with_its_adapter_on_the_chosen_device(saved, tmp_path, capsys):
    from opensoc.cli import main

    out = tmp_path / "run"
    status = main(["eval", "--policy", "hf", "--hf-model", str(saved / "model"), "--hf-adapter", str(saved / "adapter"),
                   "--hf-device", "cpu", "--hf-batch-size", "2", "--hf-max-new-tokens", "5", "--tasks", *ITEMS["tasks"],
                   "--limit", str(ITEMS["limit"]), "--out", str(out)])
    assert status == 0
    result = json.loads((out / "results.json").read_text())["policies"][f"hf:{saved / 'adapter'}"]
    assert result["overall"]["n"] == 6
    assert {k: result["generation"][k] for k in ("device", "dtype", "batch_size", "prompts")} == \
        {"device": "cpu", "dtype": "float32", "batch_size": 2, "prompts": 6}
    assert "tokens/s) on cpu in float32, batch 2" in capsys.readouterr().err


def test_a_cuda_device_that_is_not_there_is_an_error(saved, tmp_path, capsys):
    import torch

    from opensoc.cli import main

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    status = main(["eval", "--policy", "hf", "--hf-model", str(saved / "model"), "--hf-device", "cuda", "--tasks",
                   "stage1_basic", "--limit", "1", "--out", str(tmp_path / "run")])
    assert status == 2 and "no CUDA device is available" in capsys.readouterr().err


def test_bake_demo_after_hf_takes_the_device_and_batch_size(saved):
    from opensoc.eval.bake_demo import bake

    data = bake("heuristic", "hf", n=4, hf_model=str(saved / "model"), hf_device="cpu", hf_batch_size=3,
                hf_max_new_tokens=5)
    assert data["after"] == f"hf:{saved / 'model'}" and len(data["examples"]) == 4
    assert all(e["after"]["outcome"] for e in data["examples"])
