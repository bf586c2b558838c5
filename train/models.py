"""Loading the base model (optionally through Unsloth) and continuing from a previous stage's adapter."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from .config import StageConfig


def lora_config(config: StageConfig):
    """The PEFT config a trainer should attach: None for full fine-tuning, and None when ``init_adapter`` already
    brought a trainable adapter."""
    if config.finetune == "full" or config.init_adapter:
        return None
    from peft import LoraConfig  # optional heavy dependency: peft

    return LoraConfig(r=config.lora.r, lora_alpha=config.lora.alpha, lora_dropout=config.lora.dropout,
                      target_modules=config.lora.target_modules, task_type="CAUSAL_LM")


def load_model(config: StageConfig):
    """(model, tokenizer) for ``config``: the base model, with ``init_adapter`` loaded trainable when given."""
    if config.use_unsloth:
        try:
            from unsloth import FastLanguageModel  # optional heavy dependency: unsloth
        except ImportError:
            raise SystemExit("use_unsloth is set but unsloth is not installed (pip install unsloth)") from None
        model, tokenizer = FastLanguageModel.from_pretrained(config.init_adapter or config.base_model,
                                                             max_seq_length=config.max_length, load_in_4bit=False)
        return model, tokenizer
    import torch  # optional heavy dependency: torch
    from transformers import AutoModelForCausalLM, AutoTokenizer  # optional heavy dependency: transformers

    dtype = torch.bfloat16 if config.resolved_bf16 else torch.float32
    model = AutoModelForCausalLM.from_pretrained(config.base_model, dtype=dtype)
    tokenizer = AutoTokenizer.from_pretrained(config.base_model)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return attach_adapter(model, config), tokenizer


def prepare_model(config: StageConfig, model=None, tokenizer=None):
    """(model, tokenizer) to train: loaded from ``config``, or the given pair with ``init_adapter`` attached."""
    if model is None:
        return load_model(config)
    return attach_adapter(model, config), tokenizer


def attach_adapter(model, config: StageConfig):
    """``model`` with ``config.init_adapter`` loaded trainable on top (unchanged when there is none)."""
    if not config.init_adapter:
        return model
    from peft import PeftModel  # optional heavy dependency: peft

    return PeftModel.from_pretrained(model, config.init_adapter, is_trainable=True)


def save_stage(trainer, output_dir: str):
    """Save the trained adapter (the whole model and its tokenizer with ``finetune: full``) and TRL's log
    (``metrics.json``, with any hold-out evaluations) to ``output_dir``; returns its path."""

    out = Path(output_dir)
    trainer.save_model(str(out))
    (out / "metrics.json").write_text(json.dumps(trainer.state.log_history, indent=1) + "\n")
    return out


def trainer_args(config: StageConfig) -> dict:
    """The training arguments SFT and GRPO share, from ``config``."""
    return dict(output_dir=config.output_dir, max_steps=config.max_steps, learning_rate=config.resolved_learning_rate,
                per_device_train_batch_size=config.per_device_train_batch_size,
                gradient_accumulation_steps=config.gradient_accumulation_steps, logging_steps=config.logging_steps,
                bf16=config.resolved_bf16, use_cpu=config.resolved_use_cpu, seed=config.seed, report_to=[],
                save_strategy="no")


def generation_args(config: StageConfig) -> dict:
    """GRPOConfig's generation backend: transformers' ``generate`` (runs anywhere) unless ``use_vllm``, which needs
    vLLM installed and then passes the stage's ``vllm`` settings."""
    if not config.use_vllm:
        return {"use_vllm": False}

    if importlib.util.find_spec("vllm") is None:
        raise SystemExit("use_vllm is set but vLLM is not installed: pip install -e '.[train-vllm]' (needs CUDA)")
    v = config.vllm
    if v.mode == "server":
        return {"use_vllm": True, "vllm_mode": "server", "vllm_server_base_url": v.server_base_url}
    return {"use_vllm": True, "vllm_mode": "colocate", "vllm_max_model_length": v.max_model_length,
            "vllm_gpu_memory_utilization": v.gpu_memory_utilization}
