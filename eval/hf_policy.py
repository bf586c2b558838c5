"""A policy backed by a local Hugging Face model (optionally with a LoRA adapter), generating greedily."""

from __future__ import annotations

from collections.abc import Sequence

from .policies import Pair, Policy


class HFPolicy(Policy):
    """Greedy generation with transformers; for trained adapters without an inference server."""

    kind = "any"

    def __init__(self, model: str, adapter: str | None = None, max_new_tokens: int = 256, batch_size: int = 4,
                 loaded=None):
        self.name = f"hf:{adapter or model}"
        self._spec = (model, adapter)
        self._loaded = loaded  # (model, tokenizer), for callers that already hold them
        self.max_new_tokens, self.batch_size = max_new_tokens, batch_size

    def _load(self):
        if self._loaded is None:
            from transformers import AutoModelForCausalLM, AutoTokenizer

            model_name, adapter = self._spec
            model = AutoModelForCausalLM.from_pretrained(model_name)
            tokenizer = AutoTokenizer.from_pretrained(adapter or model_name)
            if adapter:
                from peft import PeftModel

                model = PeftModel.from_pretrained(model, adapter)
            self._loaded = (model.eval(), tokenizer)
        return self._loaded

    def complete_batch(self, pairs: Sequence[Pair], progress=None) -> list[str | None]:
        import torch

        model, tokenizer = self._load()
        out: list[str | None] = []
        for i in range(0, len(pairs), self.batch_size):
            chunk = pairs[i:i + self.batch_size]
            texts = [tokenizer.apply_chat_template([{"role": "user", "content": obs.prompt}], tokenize=False,
                                                   add_generation_prompt=True) for obs, _ in chunk]
            # Left padding for this call only: the tokenizer may be shared with a trainer that pads on its own side.
            enc = tokenizer(texts, return_tensors="pt", padding=True, padding_side="left")
            with torch.no_grad():
                gen = model.generate(**enc, max_new_tokens=self.max_new_tokens, do_sample=False,
                                     pad_token_id=tokenizer.pad_token_id)
            out += tokenizer.batch_decode(gen[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
            if progress is not None:
                progress.update(len(chunk))
        return out
