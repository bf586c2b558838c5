"""Trainer callbacks the SFT and GRPO stages attach from their config: a hold-out evaluation during training, and a
guard that stops GRPO when its groups carry no reward spread (and so no gradient).

``HoldoutEvaluation`` scores the model being trained through ``opensoc eval``'s own runner (``run_policy``: a real
episode per item, the prompt's parser, the environment's reward) with greedy decoding, and appends each result to the
trainer's ``log_history``, which ``save_stage`` writes to ``metrics.json``.
"""

from __future__ import annotations

import sys

from tqdm import tqdm
from transformers import TrainerCallback

from ..eval.hf_policy import HFPolicy
from ..eval.runner import load_items, run_policy, summarize
from .config import StageConfig

HOLDOUT_KEYS = ("accuracy", "mean_reward", "format_violation_rate", "n")


def evaluate_model(model, tokenizer, items: list[dict], max_new_tokens: int = 256, batch_size: int = 16,
                   show_progress: bool = False) -> tuple[list[dict], dict]:
    """(per-item records, overall metrics) of ``model`` on ``items``, greedy, through the evaluation harness.

    ``HFPolicy`` generates in eval mode with left padding and gives the model's mode and the tokenizer's padding side
    back as they were, so a trainer can call this mid-run."""

    policy = HFPolicy("in-training", loaded=(model, tokenizer), max_new_tokens=max_new_tokens, batch_size=batch_size)
    records = run_policy(policy, items, show_progress=show_progress)
    return records, summarize(records)["overall"]


class HoldoutEvaluation(TrainerCallback):
    """Every ``every`` optimizer steps, and once when training ends, evaluate on ``items`` and log
    ``holdout/<metric>`` for each of ``HOLDOUT_KEYS`` at that step."""

    def __init__(self, items: list[dict], every: int, max_new_tokens: int, batch_size: int = 16) -> None:
        self.items, self.every, self.max_new_tokens, self.batch_size = items, every, max_new_tokens, batch_size
        self.last_step: int | None = None

    def _evaluate(self, state, model, tokenizer) -> None:
        _, overall = evaluate_model(model, tokenizer, self.items, self.max_new_tokens, self.batch_size)
        state.log_history.append({"step": state.global_step, **{f"holdout/{k}": overall[k] for k in HOLDOUT_KEYS}})
        self.last_step = state.global_step
        tqdm.write(f"hold-out at step {state.global_step}: accuracy {overall['accuracy']:.0%}, format violations "
                   f"{overall['format_violation_rate']:.0%}, mean reward {overall['mean_reward']:+.3f} "
                   f"({overall['n']} items)", file=sys.stderr)

    def on_step_end(self, args, state, control, model=None, processing_class=None, **kwargs):
        if state.global_step % self.every == 0:
            self._evaluate(state, model, processing_class)

    def on_train_end(self, args, state, control, model=None, processing_class=None, **kwargs):
        if self.last_step != state.global_step:
            self._evaluate(state, model, processing_class)


class RewardSpreadGuard(TrainerCallback):
    """Stops GRPO once ``patience`` logged steps in a row had every group of completions score alike
    (``frac_reward_zero_std`` of 1): group-relative advantages are then all zero and further steps cannot learn.
    The stop is logged as ``stopped_without_signal`` at its step."""

    def __init__(self, patience: int) -> None:
        self.patience, self.streak = patience, 0

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or "frac_reward_zero_std" not in logs:
            return
        self.streak = self.streak + 1 if logs["frac_reward_zero_std"] >= 1.0 else 0
        if self.streak >= self.patience:
            control.should_training_stop = True
            state.log_history.append({"step": state.global_step, "stopped_without_signal": self.streak})
            print(f"GRPO stopped at step {state.global_step}: no reward spread in any group for {self.streak} logged "
                  "steps in a row", file=sys.stderr)


def stage_callbacks(config: StageConfig) -> list[TrainerCallback]:
    """The callbacks ``config`` asks for: the hold-out evaluation (defender stages only: the hold-out is triage) and,
    for GRPO, the reward-spread guard."""
    callbacks: list[TrainerCallback] = []
    if config.eval_every:
        if config.role != "defender":
            raise ValueError(f"eval_every evaluates on the triage hold-out; role {config.role!r} has none")

        items = load_items("holdout", [config.task] if config.task else None, config.eval_limit)
        callbacks.append(HoldoutEvaluation(items, config.eval_every, config.eval_max_new_tokens, config.eval_batch_size))
    if config.kind == "grpo" and config.stop_without_signal:
        callbacks.append(RewardSpreadGuard(config.stop_without_signal))
    return callbacks
