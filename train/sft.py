"""SFT warm-start on ``data/sft_train.jsonl``: ``python -m opensoc.train.sft --config train/configs/sft.yaml``.

LoRA adapters by default; ``finetune: full`` trains every weight (for a model built from scratch). ``task`` keeps one
stage's rows. Rows longer than ``max_length`` tokens are left out, never cut: a cut row would teach an answer with its
end missing, or a prompt whose decisive log line is gone.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .config import StageConfig, stage_main
from .datasets import sft_dataset
from .models import lora_config, prepare_model, save_stage, trainer_args


def rows_that_fit(dataset, tokenizer, max_length: int | None):
    """``dataset`` without the rows whose chat-rendered prompt and completion exceed ``max_length`` tokens; says on
    stderr how many were left out."""
    if max_length is None:
        return dataset

    def fits(row) -> bool:
        text = tokenizer.apply_chat_template(row["prompt"] + row["completion"], tokenize=False)
        return len(tokenizer(text, add_special_tokens=False)["input_ids"]) <= max_length

    kept = dataset.filter(fits)
    if len(kept) < len(dataset):
        print(f"SFT: left out {len(dataset) - len(kept)} of {len(dataset)} rows longer than max_length "
              f"{max_length} tokens", file=sys.stderr)
    if not len(kept):
        raise ValueError(f"no SFT row fits in max_length {max_length}")
    return kept


def run_sft(config: StageConfig, model=None, tokenizer=None, limit: int | None = None) -> Path:
    """Train and save the adapter (or, with ``finetune: full``, the model); ``model``/``tokenizer`` may be passed in
    (a model built locally, as ``opensoc train scratch`` and the tests do)."""
    from trl import SFTConfig, SFTTrainer  # optional heavy dependency: trl

    from .callbacks import stage_callbacks  # optional heavy dependency: pulls in transformers

    model, tokenizer = prepare_model(config, model, tokenizer)
    args = SFTConfig(**trainer_args(config), max_length=config.max_length, completion_only_loss=True)
    dataset = rows_that_fit(sft_dataset(limit or config.train_examples, task=config.task), tokenizer, config.max_length)
    trainer = SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer,
                         peft_config=lora_config(config), callbacks=stage_callbacks(config))
    trainer.train()
    return save_stage(trainer, config.output_dir)


def main() -> None:
    stage_main(run_sft, __doc__)


if __name__ == "__main__":
    main()
