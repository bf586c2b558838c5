"""SFT warm-start with LoRA on ``data/sft_train.jsonl``: ``python -m opensoc.train.sft --config train/configs/sft.yaml``."""

from __future__ import annotations

from pathlib import Path

from .config import StageConfig, stage_main
from .datasets import sft_dataset
from .models import lora_config, prepare_model, save_stage, trainer_args


def run_sft(config: StageConfig, model=None, tokenizer=None, limit: int | None = None) -> Path:
    """Train and save the adapter; ``model``/``tokenizer`` may be passed in (tests use a tiny local model)."""
    from trl import SFTConfig, SFTTrainer

    model, tokenizer = prepare_model(config, model, tokenizer)
    args = SFTConfig(**trainer_args(config), max_length=config.max_length, completion_only_loss=True)
    trainer = SFTTrainer(model=model, args=args, train_dataset=sft_dataset(limit or config.train_examples),
                         processing_class=tokenizer, peft_config=None if config.init_adapter else lora_config(config))
    trainer.train()
    return save_stage(trainer, config.output_dir)


def main() -> None:
    stage_main(run_sft, __doc__)


if __name__ == "__main__":
    main()
