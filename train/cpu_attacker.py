"""A small attacker that learns on a CPU against a fixed defender.

Its action is a choice among plausible incidents: which template (category and evasion
variant) to build, and how (a clean window, benign decoys around it, or the adversarial
mix of decoys and planted instructions). The generator builds the incident, the service's
``attacker_only`` episode checks it and lets the built-in defender answer, and the
attacker's reward (evasion, plus novelty while a signature is new) trains a softmax over
the choices with a group-relative baseline.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..env import AttackerRun, OpenSOCEnv
from ..generator import TEMPLATES, TEMPLATES_BY_NAME, build_incident, seed_material
from ..schema import IncidentParams
from ..tasks.registry import TASKS

ARTIFACT = Path(__file__).resolve().parent / "artifacts" / "cpu_attacker.json"
STYLES = ("stage2_multi", "stage3_mixed", "stage4_adversarial")  # clean window, decoys, decoys + planted text
ACTIONS: tuple[tuple[str, str], ...] = tuple((t.name, style) for t in TEMPLATES for style in STYLES)


def craft(action: int, seed: int) -> IncidentParams:
    """The incident the attacker's ``action`` builds for ``seed``."""
    template, style = ACTIONS[action]
    rng = random.Random(seed_material(f"attacker/{style}/{template}", seed))
    return build_incident(TASKS[style], TEMPLATES_BY_NAME[template], rng)


def play(env: OpenSOCEnv, action: int, seed: int, defender: str) -> tuple[float, str]:
    env.reset(task=ACTIONS[action][1], mode="attacker_only", seed=seed, defender_policy=defender)
    obs = env.step({"craft_incident": craft(action, seed)})
    return obs.reward, obs.rewards.attacker.outcome


@dataclass
class AttackerTrainConfig:
    steps: int = 600
    group_size: int = 8
    learning_rate: float = 0.5
    defender: str = "heuristic"
    eval_every: int = 50
    eval_episodes: int = 300
    seed: int = 0


@dataclass
class AttackerLog:
    steps: list[int] = field(default_factory=list)
    mean_reward: list[float] = field(default_factory=list)
    evasion_rate: list[float] = field(default_factory=list)


class CategoricalAttacker:
    def __init__(self, logits: np.ndarray | None = None):
        self.logits = logits if logits is not None else np.zeros(len(ACTIONS))

    def probs(self) -> np.ndarray:
        z = np.exp(self.logits - self.logits.max())
        return z / z.sum()

    def sample(self, rng: np.random.Generator, n: int) -> list[int]:
        return list(rng.choice(len(ACTIONS), size=n, p=self.probs()))

    def top(self, k: int = 5) -> list[tuple[str, str, float]]:
        p = self.probs()
        return [(*ACTIONS[i], round(float(p[i]), 4)) for i in np.argsort(-p)[:k]]

    def save(self, path: Path = ARTIFACT, meta: dict | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"actions": [list(a) for a in ACTIONS], "logits": [round(float(x), 5) for x in self.logits],
                                    "meta": meta or {}}, indent=0) + "\n")

    @classmethod
    def load(cls, path: Path = ARTIFACT) -> CategoricalAttacker:
        data = json.loads(path.read_text())
        if [tuple(a) for a in data["actions"]] != list(ACTIONS):
            raise ValueError(f"{path} was trained for a different action set; retrain it")
        return cls(np.array(data["logits"], dtype=float))


def evasion_rate(attacker: CategoricalAttacker, episodes: int, defender: str, seed: int) -> float:
    """Share of sampled incidents the defender gets wrong (a fresh run, so novelty plays no part)."""
    rng, env = np.random.default_rng(seed), OpenSOCEnv(AttackerRun())
    actions = attacker.sample(rng, episodes)
    return sum(play(env, a, 5_000_000 + seed * episodes + i, defender)[1] == "evaded" for i, a in enumerate(actions)) / episodes


def train_attacker(config: AttackerTrainConfig | None = None, progress=None) -> tuple[CategoricalAttacker, AttackerLog]:
    config = config or AttackerTrainConfig()
    rng = np.random.default_rng(config.seed)
    attacker, log = CategoricalAttacker(), AttackerLog()
    env = OpenSOCEnv(AttackerRun())  # one run: a signature earns novelty only the first time
    window = []
    for step in range(1, config.steps + 1):
        p = attacker.probs()
        actions = attacker.sample(rng, config.group_size)
        rewards = np.array([play(env, a, step * config.group_size + i, config.defender)[0] for i, a in enumerate(actions)])
        window.extend(rewards.tolist())
        adv = (rewards - rewards.mean()) / (rewards.std() + 1e-6)
        grad = np.zeros_like(attacker.logits)
        for a, A in zip(actions, adv):
            grad -= A * p
            grad[a] += A
        attacker.logits += config.learning_rate * grad / config.group_size
        if step % config.eval_every == 0:
            log.steps.append(step)
            log.mean_reward.append(float(np.mean(window)))
            log.evasion_rate.append(evasion_rate(attacker, config.eval_episodes // 3, config.defender, seed=step))
            window = []
        if progress is not None:
            progress.update(1)
    return attacker, log


def plot_curve(log: AttackerLog, baseline: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    ax.plot(log.steps, log.mean_reward, label="training reward (evasion + novelty)", color="#7f8c8d")
    ax.plot(log.steps, log.evasion_rate, label="evasion rate of the current policy", color="#c0392b", marker="o", ms=3)
    ax.axhline(baseline, color="#c0392b", linestyle="--", linewidth=0.8, label=f"uniform attacker ({baseline:.0%})")
    ax.set_xlabel("updates (groups of incidents)")
    ax.set_ylim(0, 1.3)
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title("CPU attacker against the heuristic defender")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def save_log(log: AttackerLog, config: AttackerTrainConfig, path: Path, extra: dict) -> None:
    path.write_text(json.dumps({"config": asdict(config), "log": asdict(log), **extra}, indent=1) + "\n")
