"""A language model built locally from nothing: a byte-level BPE tokenizer trained on the SFT set and a randomly
initialised Qwen3-shaped causal LM. No weights or vocabularies are downloaded.

The tokenizer carries one of TRL's known Qwen chat templates (both render tool calls, so ``environment_factory``
training works) and ends an assistant turn with ``<|im_end|>``, its EOS. ``qwen2.5`` (the default base model's) opens
the answer at once; ``qwen3`` opens it with an empty think block, which a model trained from nothing must first learn
to write and close (early in SFT a small one loops on its newlines instead). ``build_model`` is deterministic for a
seed: the same shape and seed give the same weights.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>", "<tool_response>",
                  "</tool_response>", "<think>", "</think>"]


@dataclass(frozen=True)
class ModelShape:
    """The sizes of a Qwen3-shaped decoder; ``num_attention_heads`` must be a multiple of ``num_key_value_heads``."""

    hidden_size: int = 128
    intermediate_size: int = 384
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    head_dim: int = 32
    max_position_embeddings: int = 8192


# A shape small enough for smoke tests: a forward pass on a 1,000-token prompt takes milliseconds.
TINY_SHAPE = ModelShape(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                        num_key_value_heads=1, head_dim=16)


def sft_texts(sft_path: Path, tasks: Iterable[str] | None = None, limit: int | None = None) -> list[str]:
    """Prompt and completion of each SFT row (of ``tasks`` when given, the first ``limit``), the tokenizer's corpus."""
    rows = [json.loads(line) for line in sft_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    wanted = set(tasks) if tasks else None
    rows = [r for r in rows if wanted is None or r["task"] in wanted][:limit]
    # The tool name appears in the chat template's tool rendering but in no SFT row.
    return [r["prompt"] + "\n" + r["completion"] for r in rows] + ["submit_triage action cited_log_id rationale"]


def build_tokenizer(corpus: list[str], vocab_size: int = 4096, chat_template: str = "qwen3"):
    """A byte-level BPE of ``vocab_size`` tokens trained on ``corpus`` (about a second on the SFT set), as a
    transformers tokenizer with ``chat_template`` (``qwen3`` or ``qwen2.5``); byte-level, so any text encodes without
    unknown tokens."""
    from tokenizers import (  # optional heavy dependency: tokenizers
        Tokenizer,
        decoders,
        models,
        pre_tokenizers,
        trainers,
    )
    from transformers import PreTrainedTokenizerFast  # optional heavy dependency: transformers
    from trl import chat_template_utils  # optional heavy dependency: trl

    templates = {"qwen3": chat_template_utils.qwen3_chat_template, "qwen2.5": chat_template_utils.qwen2_5_chat_template}
    if chat_template not in templates:
        raise ValueError(f"chat_template {chat_template!r}: expected one of {', '.join(templates)}")

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus, trainer)
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                 bos_token=None, unk_token=None)
    hf.chat_template = templates[chat_template]
    return hf


def build_model(tokenizer, shape: ModelShape = ModelShape(), seed: int = 0):
    """A randomly initialised ``Qwen3ForCausalLM`` of ``shape`` over ``tokenizer``'s vocabulary, float32, with tied
    input and output embeddings (at this size the embedding is most of the parameters)."""
    import torch  # optional heavy dependency: torch
    from transformers import Qwen3Config, Qwen3ForCausalLM  # optional heavy dependency: transformers

    torch.manual_seed(seed)
    config = Qwen3Config(vocab_size=len(tokenizer), **asdict(shape), pad_token_id=tokenizer.pad_token_id,
                         eos_token_id=tokenizer.eos_token_id, bos_token_id=None, tie_word_embeddings=True)
    return Qwen3ForCausalLM(config)


def parameter_count(model) -> int:
    return sum(p.numel() for p in model.parameters())
