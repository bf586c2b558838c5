"""The GPU check's measurements, through the project's own entry points; run by ``scripts/gpu_check.sh``.

For each model shape (Qwen2.5-0.5B and -3B, randomly initialised from a config, bf16, on CUDA; ``--smoke``: a tiny
shape in float32 on the CPU): a few steps of ``run_sft`` and of ``run_grpo`` on stage 1 (and, at 3B, stage 4, the
longest prompts) at the stage configs' batch shape, then greedy generation through ``HFPolicy`` and a hold-out
evaluation through ``opensoc eval --policy hf``, and (0.5B) one round of the LLM self-play, both roles through
TRL on one run (``opensoc.train.selfplay``); then ``opensoc train scratch``, scaled by the arguments after
``--``. It writes one JSON file: seconds per SFT and GRPO step, generation tokens/s, peak GPU memory per phase, the
evaluation's and the scratch run's results, and every phase's failure or skip with its reason. Nothing is
downloaded: the tokenizer is the 4,096-token BPE the smoke tests build from the SFT set (tests/support/tiny_lm.py), so prompts
run to other lengths than under Qwen2.5's own BPE (``prompt_tokens`` says how long; on this BPE stage 1 prompts are
about 0.85x and stage 4 prompts about 1.3x the Qwen2.5 counts in train/configs/prompt_lengths.json).

Exit status: 0 when every phase ran and CUDA was used (on the CPU in ``--smoke``), 4 when a phase failed or did not
fit the time budget.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # support.tiny_lm: the tokenizer and smallest shape the smoke tests train

# Qwen2.5's shapes (its 151,936-token embedding included, since it dominates the small model's memory).
SHAPES = {
    "qwen2.5-0.5b": dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
                         num_key_value_heads=2, vocab_size=151936, tie_word_embeddings=True),
    "qwen2.5-3b": dict(hidden_size=2048, intermediate_size=11008, num_hidden_layers=36, num_attention_heads=16,
                       num_key_value_heads=2, vocab_size=151936, tie_word_embeddings=True),
    "smoke": dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                  num_key_value_heads=1, tie_word_embeddings=True),
}


@dataclass(frozen=True)
class Plan:
    """What one mode measures: shapes, steps, batch shape, generation lengths and the evaluation's size."""

    device: str
    shapes: tuple[str, ...]
    sft_steps: int
    grpo_steps: int
    grpo_stage4_steps: dict = field(default_factory=dict)  # per shape; the longest prompts
    sft_batch: tuple[int, int] = (4, 4)  # sft.yaml's rows per device x accumulation
    prompts_per_step: int = 8  # the stage configs' 8 prompts x 8 generations
    generations: int = 8
    completion_tokens: int = 256
    eval_limit: int | None = None  # hold-out items per task (None: all 50)
    eval_new_tokens: int = 128
    generation_prompts: int = 64
    eval_shapes: tuple[str, ...] = ()  # shapes evaluated through opensoc eval (a 3B save alone is 6 GB)
    only: tuple[str, ...] = ()  # run only these phases of each shape, and no scratch run (empty: every phase)
    selfplay_shapes: tuple[str, ...] = ()  # shapes that play the LLM self-play
    selfplay_rounds: int = 1
    selfplay_steps: int = 1  # GRPO steps per role and round
    selfplay_eval_episodes: int = 16  # crafts per attacker for each self-play figure
    budget_s: float = 420.0


GPU = Plan(device="cuda", shapes=("qwen2.5-0.5b", "qwen2.5-3b"), sft_steps=4, grpo_steps=2,
           grpo_stage4_steps={"qwen2.5-3b": 1}, eval_shapes=("qwen2.5-0.5b",))
# The self-play check (--selfplay): its own 8 minutes, since the measurements above fill theirs.
GPU_SELFPLAY = Plan(device="cuda", shapes=("qwen2.5-0.5b",), sft_steps=0, grpo_steps=0, only=("selfplay",),
                    selfplay_shapes=("qwen2.5-0.5b",), selfplay_rounds=2, selfplay_steps=2)
SMOKE = Plan(device="cpu", shapes=("smoke",), sft_steps=2, grpo_steps=1, grpo_stage4_steps={"smoke": 1},
             sft_batch=(2, 1), prompts_per_step=2, generations=2, completion_tokens=8, eval_limit=1, eval_new_tokens=8,
             generation_prompts=4, eval_shapes=("smoke",), selfplay_shapes=("smoke",), selfplay_eval_episodes=2,
             budget_s=300.0)


class Budget:
    """The check's time: a phase starts only while there is time left for it."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds

    def left(self) -> float:
        return self.deadline - time.monotonic()


def _tokenizer():
    from support.tiny_lm import build_tokenizer, corpus

    from opensoc.tasks.frozen import SFT_PATH

    return build_tokenizer(corpus(SFT_PATH, 600), vocab_size=4096)


def _model(shape: str, tokenizer, plan: Plan):
    """A random-init Qwen2 model of ``shape``, built directly on the device in the dtype it trains in."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    sizes = {"vocab_size": len(tokenizer), **SHAPES[shape]}
    config = Qwen2Config(**sizes, max_position_embeddings=32768, pad_token_id=tokenizer.pad_token_id,
                         eos_token_id=tokenizer.eos_token_id, bos_token_id=None)
    dtype = torch.bfloat16 if plan.device == "cuda" else torch.float32
    with torch.device(plan.device):
        return Qwen2ForCausalLM._from_config(config, dtype=dtype)


def _stage(plan: Plan, out: Path, **fields):
    from opensoc.train.config import StageConfig

    lora = {"r": 16, "alpha": 32, "dropout": 0.05, "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"]}
    return StageConfig.from_dict(dict(output_dir=str(out), bf16=plan.device == "cuda", use_cpu=plan.device == "cpu",
                                      logging_steps=1, lora=lora, **fields))


def _peak_gib(plan: Plan) -> float | None:
    import torch

    return round(torch.cuda.max_memory_allocated() / 2**30, 2) if plan.device == "cuda" else None


def _reset_peak(plan: Plan) -> None:
    import torch

    if plan.device == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def _per_step(out: Path, steps: int) -> dict:
    """Seconds per optimizer step from the trainer's own log (its run time includes the first step's warm-up)."""
    log = json.loads((out / "metrics.json").read_text())
    runtime = next(h["train_runtime"] for h in reversed(log) if "train_runtime" in h)
    return {"steps": steps, "s_per_step": round(runtime / steps, 2), "train_runtime_s": round(runtime, 1)}


def sft_phase(shape: str, tokenizer, plan: Plan, work: Path) -> dict:
    from opensoc.train.sft import run_sft

    out = work / shape / "sft"
    config = _stage(plan, out, name="sft", kind="sft", max_steps=plan.sft_steps, train_examples=64,
                    per_device_train_batch_size=plan.sft_batch[0], gradient_accumulation_steps=plan.sft_batch[1],
                    max_length=8192)
    model = _model(shape, tokenizer, plan)
    run_sft(config, model, tokenizer)
    return {**_per_step(out, plan.sft_steps), "batch": "{} rows x {} accumulated".format(*plan.sft_batch), "peak_gib": _peak_gib(plan),
            "device": str(next(model.parameters()).device)}


def grpo_phase(shape: str, task: str, steps: int, tokenizer, plan: Plan, work: Path) -> dict:
    from opensoc.train.grpo import run_grpo
    from opensoc.train.prompt_lengths import grpo_prompt_lengths

    out = work / shape / f"grpo_{task}"
    config = _stage(plan, out, name=task, kind="grpo", task=task, max_steps=steps,
                    train_examples=plan.prompts_per_step * steps, per_device_train_batch_size=plan.generations,
                    gradient_accumulation_steps=plan.prompts_per_step, num_generations=plan.generations,
                    max_completion_length=plan.completion_tokens)
    model = _model(shape, tokenizer, plan)
    run_grpo(config, model, tokenizer)
    lengths = grpo_prompt_lengths(tokenizer, config, config.train_examples)
    log = json.loads((out / "metrics.json").read_text())
    completion = [h["completions/mean_length"] for h in log if "completions/mean_length" in h]
    return {**_per_step(out, steps), "batch": f"{plan.prompts_per_step} prompts x {plan.generations} generations",
            "completion_tokens_mean": round(sum(completion) / len(completion), 1) if completion else None,
            "prompt_tokens": {"mean": round(sum(lengths) / len(lengths)), "max": max(lengths)},
            "peak_gib": _peak_gib(plan), "device": str(next(model.parameters()).device)}


def generation_phase(shape: str, tokenizer, plan: Plan) -> dict:
    """Greedy tokens/s of the model through ``HFPolicy`` (eval mode, left-padded, one batch of hold-out prompts)."""
    from opensoc.eval.hf_policy import HFPolicy
    from opensoc.eval.runner import load_items, run_policy

    model = _model(shape, tokenizer, plan)
    items = load_items("holdout")[:plan.generation_prompts]
    policy = HFPolicy(shape, loaded=(model, tokenizer), max_new_tokens=plan.eval_new_tokens,
                      batch_size=plan.generation_prompts)
    run_policy(policy, items, show_progress=False)
    return {**policy.generation, "peak_gib": _peak_gib(plan)}


def evaluation_phase(shape: str, tokenizer, plan: Plan, work: Path) -> dict:
    """``opensoc eval --policy hf`` on the hold-out, with the SFT phase's adapter on the saved random-init model."""
    base = work / shape / "base"
    _model(shape, tokenizer, plan).save_pretrained(base)
    tokenizer.save_pretrained(base)
    out = work / shape / "eval"
    command = [sys.executable, "-m", "opensoc.cli", "eval", "--policy", "hf", "--hf-model", str(base),
               "--hf-adapter", str(work / shape / "sft"), "--hf-device", plan.device, "--hf-batch-size", "64",
               "--hf-max-new-tokens", str(plan.eval_new_tokens), "--out", str(out)]
    if plan.eval_limit is not None:
        command += ["--limit", str(plan.eval_limit)]
    subprocess.run(command, cwd=REPO, check=True)
    (result,) = json.loads((out / "results.json").read_text())["policies"].values()
    return {"items": result["overall"]["n"], "accuracy": result["overall"]["accuracy"],
            "format_violation_rate": result["overall"]["format_violation_rate"], "generation": result["generation"]}


def selfplay_phase(shape: str, tokenizer, plan: Plan, work: Path) -> dict:
    """``plan.selfplay_rounds`` rounds of the LLM self-play (``opensoc.train.selfplay``): each round GRPO trains the
    attacker's adapter in ``self_play`` episodes against the defender model, then the defender's on the run's replay
    pool, each role a model of ``shape`` with adapters of its own, on one run; then every figure and the cross-play
    matrix (the run's ``selfplay.md`` is kept in the results, so it comes back with them)."""
    from opensoc.train.selfplay import run_llm_selfplay

    out = work / shape / "selfplay"
    steps = dict(kind="grpo", max_steps=plan.selfplay_steps, train_examples=plan.prompts_per_step * plan.selfplay_steps,
                 per_device_train_batch_size=plan.generations, gradient_accumulation_steps=plan.prompts_per_step,
                 num_generations=plan.generations, max_completion_length=plan.completion_tokens)
    defender = _stage(plan, out, name="defender", task="stage4_adversarial", **steps)
    attacker = _stage(plan, out, name="attacker", role="attacker", task="stage2_multi", **steps)
    devices: set[str] = set()

    def models(role: str):
        model = _model(shape, tokenizer, plan)
        devices.add(str(next(model.parameters()).device))
        return model, tokenizer

    result = run_llm_selfplay(defender, attacker, plan.selfplay_rounds, out, models=models,
                              eval_episodes=plan.selfplay_eval_episodes, max_new_tokens=plan.completion_tokens,
                              show_progress=False)
    pool_sound = result.replay_pool_sound is True and result.rounds[-1].pool_size == sum(r.pool_added for r in result.rounds)
    return {"rounds": [{"round": r.round, "training_crafts": r.training.n, "training_outcomes": dict(r.training.by_outcome),
                        "evasion": str(r.evasion), "evasion_after": str(r.evasion_after),
                        "holdout_accuracy": r.holdout["accuracy"]["rate"]} for r in result.rounds],
            "grpo_steps_per_role": plan.selfplay_steps, "initial_evasion": str(result.initial_evasion),
            "pool_sound": pool_sound, "cross_play": [[str(c) for c in row] for row in result.cross_play],
            "selfplay_md": (out / "selfplay.md").read_text(encoding="utf-8"), "peak_gib": _peak_gib(plan), "device": ",".join(sorted(devices))}


def scratch_phase(args: list[str], out: Path, timeout_s: float) -> dict:
    """``opensoc train scratch`` with ``args``; its results.json is read from ``out``."""
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "opensoc.cli", "train", "scratch", *args], cwd=REPO, check=True,
                   timeout=timeout_s)
    return {"args": args, "wall_s": round(time.monotonic() - start, 1),
            "results": json.loads((out / "results.json").read_text())}


def _run(results: dict, key: str, budget: Budget, need_s: float, fn, *args) -> None:
    """Run one phase into ``results[key]``; a failure or a phase that no longer fits is recorded, never dropped."""
    if budget.left() < need_s:
        results[key] = {"skipped": f"{budget.left():.0f} s of the budget left, the phase needs about {need_s:.0f} s"}
        print(f"gpu_check: {key} skipped: {results[key]['skipped']}", file=sys.stderr)
        return
    start = time.monotonic()
    print(f"gpu_check: {key} ...", file=sys.stderr, flush=True)
    try:
        results[key] = {**fn(*args), "phase_wall_s": round(time.monotonic() - start, 1)}
    except Exception as exc:  # noqa: BLE001 - recorded with its traceback, and the check fails
        results[key] = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc(limit=6)}
        print(f"gpu_check: {key} failed: {results[key]['error']}", file=sys.stderr)


# Rough seconds each phase needs on one H200 (from the H100 figures), so a phase that cannot finish is not started.
# The self-play round is an estimate from its parts (two GRPO steps, about 700 greedy answers for the hold-out and
# the matrix): no GPU has run it yet.
NEED_S = {"qwen2.5-0.5b": {"sft": 20, "grpo_stage1": 40, "generation": 15, "eval": 40, "selfplay": 110},
          "qwen2.5-3b": {"sft": 45, "grpo_stage1": 110, "grpo_stage4": 80, "generation": 30}}


def phases(shape: str, tokenizer, plan: Plan, work: Path):
    """(name, function, arguments) of each phase of one shape, in order (``plan.only``: those alone); the evaluation
    reads the SFT adapter."""
    for name, fn, args in _phases(shape, tokenizer, plan, work):
        if not plan.only or name in plan.only:
            yield name, fn, args


def _phases(shape: str, tokenizer, plan: Plan, work: Path):
    yield "sft", sft_phase, (shape, tokenizer, plan, work)
    yield "grpo_stage1", grpo_phase, (shape, "stage1_basic", plan.grpo_steps, tokenizer, plan, work)
    if plan.grpo_stage4_steps.get(shape):
        yield "grpo_stage4", grpo_phase, (shape, "stage4_adversarial", plan.grpo_stage4_steps[shape], tokenizer, plan,
                                          work)
    yield "generation", generation_phase, (shape, tokenizer, plan)
    if shape in plan.eval_shapes:
        yield "eval", evaluation_phase, (shape, tokenizer, plan, work)
    if shape in plan.selfplay_shapes:
        yield "selfplay", selfplay_phase, (shape, tokenizer, plan, work)


def measure(plan: Plan, work: Path, scratch_args: list[str], scratch_out: Path) -> dict:
    import torch

    results: dict = {"mode": "smoke" if plan.device == "cpu" else "gpu", "date": time.strftime("%Y-%m-%d"),
                     "torch": torch.__version__, "plan": plan.__dict__,
                     "device": torch.cuda.get_device_name(0) if plan.device == "cuda" else "cpu", "phases": {}}
    budget, done = Budget(plan.budget_s), results["phases"]
    tokenizer = _tokenizer()
    results["tokenizer"] = f"{len(tokenizer)}-token BPE trained on data/sft_train.jsonl (tests/support/tiny_lm.py)"
    for shape in plan.shapes:
        for name, fn, args in phases(shape, tokenizer, plan, work):
            _reset_peak(plan)
            _run(done, f"{shape}/{name}", budget, NEED_S.get(shape, {}).get(name, 0), fn, *args)
    if scratch_args and not plan.only:
        _run(done, "scratch", budget, 60 if plan.device == "cuda" else 0, scratch_phase, scratch_args, scratch_out,
             max(budget.left(), 1))
    return results


def verdict(results: dict, plan: Plan) -> int:
    """The exit status; a GPU run also asserts that its training and generation ran on CUDA."""
    phases = results["phases"]
    broken = [k for k, v in phases.items() if "error" in v or "skipped" in v]
    if plan.device == "cuda":
        on_cuda = all(v.get("device", "cuda").startswith("cuda") for v in phases.values() if "error" not in v)
        on_cuda &= all(v["generation"]["device"].startswith("cuda") for k, v in phases.items() if k.endswith("/eval")
                       and "generation" in v)
        on_cuda &= all((v.get("peak_gib") or 0) > 0 for k, v in phases.items() if "peak_gib" in v)
        results["cuda_used"] = on_cuda
        if not on_cuda:
            broken.append("cuda_used")
    results["incomplete"] = broken
    return 4 if broken else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes on the CPU (what the test suite runs)")
    parser.add_argument("--selfplay", action="store_true", help="on CUDA, the LLM self-play alone (its own 8 minutes)")
    parser.add_argument("--out", type=Path, required=True, help="the JSON file to write")
    parser.add_argument("--work", type=Path, required=True, help="a scratch folder for models and runs")
    parser.add_argument("--scratch-out", type=Path, required=True, help="where the scratch arguments write")
    parser.add_argument("--budget-s", type=float, help="seconds for all phases (default: the mode's)")
    parser.add_argument("scratch_args", nargs="*", help="after --: the arguments of opensoc train scratch")
    args = parser.parse_args()
    plan = SMOKE if args.smoke else GPU_SELFPLAY if args.selfplay else GPU
    if args.budget_s:
        plan = Plan(**{**plan.__dict__, "budget_s": args.budget_s})
    if plan.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            print(f"gpu_check: no CUDA device (torch {torch.__version__}); --smoke runs on the CPU", file=sys.stderr)
            return 2
    results = measure(plan, args.work, args.scratch_args, args.scratch_out)
    status = verdict(results, plan)
    results["status"] = status
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1, default=str) + "\n")
    print(f"gpu_check: wrote {args.out} (status {status}; incomplete: {', '.join(results['incomplete']) or 'none'})",
          file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
