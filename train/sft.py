"""SFT warm-start with LoRA on ``data/sft_train.jsonl``: ``python -m opensoc.train.sft --config train/configs/sft.yaml``."""

from __future__ import annotations

import argparse
from pathlib import Path

from .config import StageConfig
from .datasets import sft_dataset
from .models import attach_adapter, load_model, lora_config, save_stage, trainer_args


def run_sft(config: StageConfig, model=None, tokenizer=None, limit: int | None = None) -> Path:
    """Train and save the adapter; ``model``/``tokenizer`` may be passed in (tests use a tiny local model)."""
    from trl import SFTConfig, SFTTrainer

    if model is None:
        model, tokenizer = load_model(config)
    else:
        model = attach_adapter(model, config)
    args = SFTConfig(**trainer_args(config), max_length=config.max_length, completion_only_loss=True)
    trainer = SFTTrainer(model=model, args=args, train_dataset=sft_dataset(limit or config.train_examples),
                         processing_class=tokenizer, peft_config=None if config.init_adapter else lora_config(config))
    trainer.train()
    return save_stage(trainer, config.output_dir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", required=True)
    parser.add_argument("--base-model")
    parser.add_argument("--output-dir")
    args = parser.parse_args()
    run_sft(StageConfig.load(args.config, base_model=args.base_model, output_dir=args.output_dir))


if __name__ == "__main__":
    main()
