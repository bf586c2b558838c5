"""SFT warm-start with LoRA on ``data/sft_train.jsonl``: ``python -m opensoc.train.sft --config train/configs/sft.yaml``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .config import StageConfig
from .datasets import sft_dataset
from .models import attach_adapter, load_model, lora_config


def run_sft(config: StageConfig, model=None, tokenizer=None, limit: int | None = None) -> Path:
    """Train and save the adapter; ``model``/``tokenizer`` may be passed in (tests use a tiny local model)."""
    from trl import SFTConfig, SFTTrainer

    if model is None:
        model, tokenizer = load_model(config)
    else:
        model = attach_adapter(model, config)
    args = SFTConfig(
        output_dir=config.output_dir, max_steps=config.max_steps, learning_rate=config.learning_rate,
        per_device_train_batch_size=config.per_device_train_batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps, max_length=config.max_length,
        logging_steps=config.logging_steps, bf16=config.bf16, use_cpu=config.use_cpu, seed=config.seed,
        report_to=[], save_strategy="no", completion_only_loss=True,
    )
    trainer = SFTTrainer(model=model, args=args, train_dataset=sft_dataset(limit or config.train_examples),
                         processing_class=tokenizer, peft_config=None if config.init_adapter else lora_config(config))
    trainer.train()
    out = Path(config.output_dir)
    trainer.save_model(str(out))
    (out / "metrics.json").write_text(json.dumps(trainer.state.log_history, indent=1) + "\n")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", required=True)
    parser.add_argument("--base-model")
    parser.add_argument("--output-dir")
    args = parser.parse_args()
    run_sft(StageConfig.load(args.config, base_model=args.base_model, output_dir=args.output_dir))


if __name__ == "__main__":
    main()
