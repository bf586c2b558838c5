"""``opensoc train scratch``: an LLM defender learned from nothing on a CPU, through the project's own SFT and GRPO.

One run, no downloads:

1. a byte-level BPE tokenizer trained on the SFT set's text and a Qwen3-shaped model initialised at random
   (``scratch_lm``);
2. SFT with every weight trained (``run_sft``, ``finetune: full``) on the stage's rows of ``data/sft_train.jsonl``;
3. GRPO on the stage (``run_grpo``, in-process reward: each completion is parsed and scored in a real episode of
   the environment), from the SFT model;
4. the frozen hold-out's items of that stage, all of them, evaluated before SFT, after SFT and after GRPO through
   ``opensoc eval``'s runner and parser with greedy decoding.

It writes ``results.json`` (per point: format-violation rate, accuracy, mean reward, item count; the GRPO change as a
paired difference over the same items with a 95% bootstrap interval), ``holdout_records.json`` (every completion),
``sft_curve.png``, ``grpo_curve.png``, ``results.md`` and the two trained models under ``models/``. A run is
deterministic for its seed on a given machine and thread count.
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from ..eval.runner import load_items
from ..tasks.frozen import SFT_PATH
from .config import StageConfig
from .grpo import run_grpo
from .scratch_lm import (
    TINY_SHAPE,
    ModelShape,
    build_model,
    build_tokenizer,
    parameter_count,
    sft_texts,
)
from .sft import run_sft

POINTS = ("before_sft", "after_sft", "after_grpo")
POINT_LABELS = {"before_sft": "before SFT (random init)", "after_sft": "after SFT", "after_grpo": "after GRPO"}
SHAPES = {
    "tiny": TINY_SHAPE,  # the test suite's: seconds per phase, learns the format only partly
    "small": ModelShape(),  # about 1.3M parameters: the 2-core CPU default
    "base": ModelShape(hidden_size=256, intermediate_size=768, num_hidden_layers=6, num_attention_heads=8,
                       num_key_value_heads=4, head_dim=32),  # about 6M: a larger CPU or a GPU
    "large": ModelShape(hidden_size=512, intermediate_size=1536, num_hidden_layers=8, num_attention_heads=8,
                        num_key_value_heads=4, head_dim=64),  # about 30M: a GPU
}


@dataclass
class ScratchConfig:
    """Everything a scratch run depends on; ``results.json`` records it."""

    seed: int = 0
    task: str = "stage1_basic"
    size: str = "small"  # a key of SHAPES
    vocab_size: int = 4096
    chat_template: str = "qwen2.5"  # scratch_lm says why not qwen3
    sft_steps: int = 200
    sft_batch_size: int = 8
    sft_learning_rate: float = 2e-3
    grpo_steps: int = 100
    grpo_prompts_per_step: int = 4
    num_generations: int = 8
    grpo_learning_rate: float = 5e-5
    temperature: float = 1.0
    min_p: float | None = 0.1
    beta: float = 0.0
    # Policy-gradient steps on the most uncertain 20% of completion tokens (the action and the cited log id, mostly):
    # on all tokens, the rationale's words drift while the answer does not improve.
    top_entropy_quantile: float = 0.2
    stop_without_signal: int = 4  # logged GRPO steps in a row with no reward spread in any group before stopping
    max_completion_length: int = 96
    eval_every: int = 25  # hold-out evaluations during SFT and GRPO, for the curves
    eval_max_new_tokens: int = 96
    eval_batch_size: int = 50
    bootstrap_resamples: int = 10_000
    device: str = "auto"  # auto, cpu or cuda
    logging_steps: int = 5

    @property
    def shape(self) -> ModelShape:
        return SHAPES[self.size]


def _stage(config: ScratchConfig, kind: Literal["sft", "grpo"], out: Path, **kwargs):
    """A ``StageConfig`` for one phase: full fine-tuning of the in-memory model, with the hold-out callback."""

    use_cpu = None if config.device == "auto" else config.device == "cpu"
    return StageConfig(name=f"scratch_{kind}", kind=kind, output_dir=str(out / "models" / kind), finetune="full",
                       task=config.task, seed=config.seed, use_cpu=use_cpu, bf16=False,
                       logging_steps=config.logging_steps, eval_every=config.eval_every,
                       eval_max_new_tokens=config.eval_max_new_tokens, eval_batch_size=config.eval_batch_size, **kwargs)


def sft_stage(config: ScratchConfig, out: Path):
    return _stage(config, "sft", out, max_steps=config.sft_steps, learning_rate=config.sft_learning_rate,
                  per_device_train_batch_size=config.sft_batch_size, max_length=None)


def grpo_stage(config: ScratchConfig, out: Path):
    """GRPO on ``config.task`` with the in-process reward: ``grpo_prompts_per_step`` prompts of
    ``num_generations`` completions each per optimizer step, fresh training seeds throughout."""
    completions = config.grpo_prompts_per_step * config.num_generations
    return _stage(config, "grpo", out, reward="in_process", max_steps=config.grpo_steps,
                  learning_rate=config.grpo_learning_rate, per_device_train_batch_size=completions,
                  num_generations=config.num_generations, train_examples=config.grpo_steps * config.grpo_prompts_per_step,
                  temperature=config.temperature, min_p=config.min_p, beta=config.beta, top_entropy_quantile=config.top_entropy_quantile,
                  stop_without_signal=config.stop_without_signal, max_completion_length=config.max_completion_length)


def paired_bootstrap(before: list[float], after: list[float], resamples: int, seed: int) -> dict:
    """Mean of ``after - before`` over paired items, with the 2.5th and 97.5th percentiles of that mean over
    ``resamples`` resamplings of the items (with replacement)."""

    if len(before) != len(after) or not before:
        raise ValueError("a paired difference needs two equally long, non-empty lists")
    diff = np.asarray(after, dtype=float) - np.asarray(before, dtype=float)
    idx = np.random.default_rng(seed).integers(0, len(diff), size=(resamples, len(diff)))
    lo, hi = np.percentile(diff[idx].mean(axis=1), [2.5, 97.5])
    return {"mean": round(float(diff.mean()), 6), "ci95": [round(float(lo), 6), round(float(hi), 6)], "n": len(diff),
            "resamples": resamples, "improved": int((diff > 0).sum()), "worsened": int((diff < 0).sum())}


def point_summary(overall: dict) -> dict:
    return {k: overall[k] for k in ("n", "format_violation_rate", "accuracy", "mean_reward")}


def holdout_curve(log: list[dict], key: str) -> tuple[list[int], list[float]]:
    rows = [h for h in log if f"holdout/{key}" in h]
    return [h["step"] for h in rows], [h[f"holdout/{key}"] for h in rows]


def train_curve(log: list[dict], key: str) -> tuple[list[int], list[float]]:
    rows = [h for h in log if key in h]
    return [h["step"] for h in rows], [h[key] for h in rows]


def plot_phase(log: list[dict], title: str, train_key: str, train_label: str, path: Path,
               extra_key: str | None = None, extra_label: str = "") -> None:
    """Two panels: the trainer's own signal (``train_key``, optionally ``extra_key``) by step, and the hold-out's
    accuracy, format-violation rate and mean reward at each evaluation."""
    import matplotlib  # optional heavy dependency: matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # optional heavy dependency: matplotlib

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.plot(*train_curve(log, train_key), label=train_label)
    if extra_key:
        left.plot(*train_curve(log, extra_key), label=extra_label, alpha=0.7)
    left.set_xlabel("optimizer step")
    left.set_title(f"{title}: training")
    left.legend()
    for key, label in (("accuracy", "accuracy"), ("format_violation_rate", "format violations"),
                       ("mean_reward", "mean reward")):
        right.plot(*holdout_curve(log, key), marker="o", label=label)
    right.axhline(0, color="grey", lw=0.5)
    right.set_xlabel("optimizer step")
    right.set_title(f"{title}: hold-out (greedy)")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown_table(results: dict) -> str:
    lines = ["| point | format violations | accuracy | mean reward | items |", "|---|---|---|---|---|"]
    for point in POINTS:
        p = results["points"][point]
        lines.append(f"| {POINT_LABELS[point]} | {p['format_violation_rate']:.0%} | {p['accuracy']:.0%} | "
                     f"{p['mean_reward']:+.3f} | {p['n']} |")
    for name, label in (("sft_change", "SFT"), ("grpo_change", "GRPO")):
        c = results[name]
        lines.append(f"\n{label} change in mean hold-out reward, paired over the same {c['n']} items: "
                     f"{c['mean']:+.3f} (95% bootstrap interval {c['ci95'][0]:+.3f} to {c['ci95'][1]:+.3f}; "
                     f"{_items(c['improved'])} better, {c['worsened']} worse).")
    return "\n".join(lines) + "\n"


def _items(n: int) -> str:
    return f"{n} item" if n == 1 else f"{n} items"


def _machine() -> dict:
    import torch  # optional heavy dependency: torch

    return {"torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(), "cuda": torch.cuda.is_available(),
            "platform": platform.platform(), "load_average": list(os.getloadavg())}


def run_scratch(config: ScratchConfig, out: Path, show_progress: bool = True) -> dict:
    """Run the four steps above into ``out`` and return what ``results.json`` holds."""
    from .callbacks import evaluate_model  # optional heavy dependency: pulls in transformers

    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    out.mkdir(parents=True, exist_ok=True)
    started, seconds = time.perf_counter(), {}
    tokenizer = build_tokenizer(sft_texts(SFT_PATH), config.vocab_size, config.chat_template)
    model = build_model(tokenizer, config.shape, config.seed)
    items = load_items("holdout", [config.task])
    records, points = {}, {}

    def evaluate(point: str) -> None:
        rows, overall = evaluate_model(model, tokenizer, items, config.eval_max_new_tokens, config.eval_batch_size,
                                       show_progress=show_progress)
        records[point], points[point] = rows, point_summary(overall)

    evaluate("before_sft")
    t = time.perf_counter()
    sft_dir = run_sft(sft_stage(config, out), model, tokenizer)
    seconds["sft"] = time.perf_counter() - t
    evaluate("after_sft")
    t = time.perf_counter()
    grpo_dir = run_grpo(grpo_stage(config, out), model, tokenizer)
    seconds["grpo"] = time.perf_counter() - t
    evaluate("after_grpo")
    seconds["total"] = time.perf_counter() - started

    sft_log, grpo_log = (json.loads((d / "metrics.json").read_text()) for d in (sft_dir, grpo_dir))
    rewards = {p: [r["reward"] for r in records[p]] for p in POINTS}
    results = {
        "config": asdict(config), "shape": asdict(config.shape), "parameters": parameter_count(model),
        "task": config.task, "points": points,
        "sft_change": paired_bootstrap(rewards["before_sft"], rewards["after_sft"], config.bootstrap_resamples, config.seed),
        "grpo_change": paired_bootstrap(rewards["after_sft"], rewards["after_grpo"], config.bootstrap_resamples,
                                        config.seed),
        "grpo_no_signal_fraction": _mean([h["frac_reward_zero_std"] for h in grpo_log if "frac_reward_zero_std" in h]),
        # The step at which the reward-spread guard stopped GRPO (its groups all scored alike), or None.
        "grpo_stopped_without_signal_at": next((h["step"] for h in grpo_log if "stopped_without_signal" in h), None),
        "seconds": {k: round(v, 1) for k, v in seconds.items()}, "machine": _machine(),
    }
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    (out / "holdout_records.json").write_text(json.dumps(records, indent=1) + "\n")
    (out / "results.md").write_text(markdown_table(results))
    plot_phase(sft_log, "SFT", "loss", "training loss", out / "sft_curve.png")
    plot_phase(grpo_log, "GRPO", "reward", "mean sampled reward", out / "grpo_curve.png", "frac_reward_zero_std",
               "share of groups with no reward spread")
    return results


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 6) if values else None
