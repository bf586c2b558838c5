"""A small defender that learns on a CPU: a softmax-linear policy over hashed features, trained by GRPO-style
policy gradient from the environment's reward alone, stage by stage through the curriculum.

For each training incident the policy samples a group of actions; each is scored by a real
``defender_only`` episode, and the group-relative advantage (reward minus the group mean,
over the group's standard deviation) weights ∇ log π. The citation is the alert's primary
log id. The weights are saved as a small ``.npz``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..env import OpenSOCEnv
from ..eval.policies import FunctionPolicy
from ..eval.runner import load_items, run_policy, summarize
from ..incidents.defenders import primary_log_id
from ..incidents.features import featurize
from ..incidents.linear_policy import LinearPolicy
from ..incidents.prompting import format_triage_answer
from ..schema import TRIAGE_ACTIONS
from ..tasks.registry import TASKS
from ..tasks.seeds import CPU_TRAIN_SEEDS_START


@dataclass
class DefenderTrainConfig:
    incidents_per_stage: int = 5000
    group_size: int = 8
    learning_rate: float = 0.015
    batch: int = 16
    eval_every: int = 500
    eval_seeds: int = 100
    replay_share: float = 0.3  # share of incidents drawn from earlier stages, so earlier skills are kept
    seed: int = 0
    stages: tuple[str, ...] = tuple(TASKS)


@dataclass
class TrainLog:
    steps: list[int] = field(default_factory=list)
    stage: list[str] = field(default_factory=list)
    mean_reward: list[float] = field(default_factory=list)  # of the sampled actions, per logging window
    greedy_reward: list[float] = field(default_factory=list)  # of the greedy policy on held-back training seeds


def _rewards_for_group(env: OpenSOCEnv, task: str, seed: int, actions: list[int], cite: str) -> list[float]:
    out = []
    for a in actions:
        env.reset(task=task, seed=seed)
        obs = env.step({"submit_triage": {"action": TRIAGE_ACTIONS[a], "cited_log_id": cite}})
        out.append(obs.reward)
    return out


def greedy_reward(policy: LinearPolicy, task: str, seeds: range) -> float:
    env, total = OpenSOCEnv(), 0.0
    for seed in seeds:
        obs = env.reset(task=task, seed=seed)
        total += env.step({"submit_triage": policy.act(obs.alert).model_dump()}).reward
    return total / len(seeds)


def train_defender(config: DefenderTrainConfig | None = None, progress=None) -> tuple[LinearPolicy, TrainLog]:
    config = config or DefenderTrainConfig()
    rng = np.random.default_rng(config.seed)
    policy, log, env = LinearPolicy(), TrainLog(), OpenSOCEnv()
    m, v = np.zeros_like(policy.W), np.zeros_like(policy.W)  # Adam moments
    step, window = 0, []
    grad = np.zeros_like(policy.W)
    for s_i, task in enumerate(config.stages):
        seeds = range(CPU_TRAIN_SEEDS_START + s_i * 100_000, CPU_TRAIN_SEEDS_START + s_i * 100_000 + config.incidents_per_stage)
        eval_seeds = range(seeds.stop, seeds.stop + config.eval_seeds)  # training-distribution seeds never trained on
        for n, seed in enumerate(seeds, 1):
            drawn = task
            if s_i and rng.random() < config.replay_share:
                drawn = config.stages[int(rng.integers(s_i))]
            obs = env.reset(task=drawn, seed=seed)
            x = featurize(obs.alert)
            p = policy.probs(x)
            actions = list(rng.choice(len(TRIAGE_ACTIONS), size=config.group_size, p=p))
            rewards = np.array(_rewards_for_group(env, drawn, seed, actions, primary_log_id(obs.alert)))
            window.extend(rewards.tolist())
            adv = (rewards - rewards.mean()) / (rewards.std() + 1e-6)
            for a, A in zip(actions, adv, strict=True):  # ∇ log softmax = (onehot(a) − p) ⊗ x
                g = -p.copy()
                g[a] += 1.0
                grad += A * np.outer(g, x) / config.group_size
            if n % config.batch == 0:
                step += 1
                grad /= config.batch
                m = 0.9 * m + 0.1 * grad
                v = 0.999 * v + 0.001 * grad * grad
                policy.W += config.learning_rate * (m / (1 - 0.9 ** step)) / (np.sqrt(v / (1 - 0.999 ** step)) + 1e-8)
                grad[:] = 0.0
            if n % config.eval_every == 0:
                log.steps.append(s_i * config.incidents_per_stage + n)
                log.stage.append(task)
                log.mean_reward.append(float(np.mean(window)))
                log.greedy_reward.append(greedy_reward(policy, task, eval_seeds))
                window = []
            if progress is not None:
                progress.update(1)
    return policy, log


def plot_curve(log: TrainLog, path: Path, title: str = "CPU defender training") -> None:
    import matplotlib  # optional heavy dependency: matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # optional heavy dependency: matplotlib

    fig, ax = plt.subplots(figsize=(7.5, 4.1))
    ax.plot(log.steps, log.mean_reward, label="sampled actions (mean reward)", color="#7f8c8d")
    ax.plot(log.steps, log.greedy_reward, label="greedy policy on unseen training seeds", color="#2e86c1", marker="o", ms=3)
    bounds = {}
    for x, s in zip(log.steps, log.stage, strict=True):
        bounds.setdefault(s, x)
    for s, x in bounds.items():
        ax.axvline(x - 0.5, color="#bbbbbb", linewidth=0.6)
        ax.text(x, ax.get_ylim()[0], s, fontsize=7, rotation=90, va="bottom")
    ax.set_xlabel("training incidents")
    ax.set_ylabel("defender reward")
    # Below the axes: inside, the legend hid the last stage's curve and its label.
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def holdout_scores(policy: LinearPolicy) -> dict:
    """Accuracy and mean reward of ``policy`` on the frozen hold-out, through the eval harness."""
    def answer(obs, item):
        t = policy.act(obs.alert)
        return format_triage_answer(t.action, t.cited_log_id, t.rationale)

    records = run_policy(FunctionPolicy("cpu", ("triage",), answer), load_items("holdout"), show_progress=False)
    overall = summarize(records)["overall"]
    return {"accuracy": overall["accuracy"], "mean_reward": overall["mean_reward"]}


def load_log(path: Path) -> TrainLog:
    """The training log ``save_log`` wrote (what the committed curve is drawn from)."""
    return TrainLog(**json.loads(path.read_text())["log"])


def save_log(log: TrainLog, config: DefenderTrainConfig, path: Path, extra: dict | None = None) -> None:
    path.write_text(json.dumps({"config": asdict(config), "log": asdict(log), **(extra or {})}, indent=1) + "\n")
