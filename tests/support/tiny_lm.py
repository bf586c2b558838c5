"""The tiny model and tokenizer the CPU smoke tests train: ``opensoc.train.scratch_lm`` at its smallest shape."""

from __future__ import annotations

from pathlib import Path

from opensoc.train.scratch_lm import TINY_SHAPE, sft_texts
from opensoc.train.scratch_lm import build_model as _build_model
from opensoc.train.scratch_lm import build_tokenizer as _build_tokenizer


def build_tokenizer(corpus: list[str], vocab_size: int = 1500):
    return _build_tokenizer(corpus, vocab_size)


def build_model(tokenizer):
    return _build_model(tokenizer, TINY_SHAPE, seed=0)


def corpus(sft_path: Path, n: int = 40) -> list[str]:
    return sft_texts(sft_path, limit=n)
