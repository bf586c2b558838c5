"""A small attacker that learns on a CPU against a fixed defender.

Its action is a choice among incidents: which template (category and evasion variant) to
build, how (a clean window, benign decoys around it, or the adversarial mix of decoys and
planted instructions), and whether to thin it (keep a random half of the template's own
events: the cheap way to slip under a threshold, which the independent suspicion check is
there to catch). The generator builds the incident, the service's ``attacker_only`` episode
adjudicates it and lets the built-in defender answer, and the attacker's reward (evasion,
plus novelty the first time a run wins a new way) trains a softmax over the choices with a
group-relative baseline. The log records how often its crafts were unsound (implausible,
contested or mislabelled), which pays nothing.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from ..env import OpenSOCEnv
from ..families.runs import AttackerRun
from ..families.triage.family import DEFAULT_DEFENDER_POLICY
from ..generator import TEMPLATES, TEMPLATES_BY_NAME, build_incident, seed_material
from ..schema import IncidentParams
from ..tasks.registry import TASKS

ARTIFACT = Path(__file__).resolve().parent / "artifacts" / "cpu_attacker.json"
STYLES = ("stage2_multi", "stage3_mixed", "stage4_adversarial")  # clean window, decoys, decoys + planted text
ACTIONS: tuple[tuple[str, str, bool], ...] = tuple(
    (t.name, style, thin) for t in TEMPLATES for style in STYLES for thin in (False, True))
UNSOUND = ("implausible", "contested", "mislabelled")


def craft(action: int, seed: int) -> IncidentParams:
    """The incident the attacker's ``action`` builds for ``seed``."""
    template, style, thin = ACTIONS[action]
    rng = random.Random(seed_material(f"attacker/{style}/{template}/{int(thin)}", seed))
    built = TEMPLATES_BY_NAME[template].build
    if thin:  # keep a random half of the template's own events (at least one), before decoys are mixed in
        def built(scene, _build=built):
            events = _build(scene)
            return [e for e in events if scene.rng.random() < 0.5] or events[:1]
    spec = TASKS[style]
    template_obj = TEMPLATES_BY_NAME[template]
    return build_incident(spec, replace(template_obj, build=built), rng)


def play(env: OpenSOCEnv, action: int, seed: int, defender: str) -> tuple[float, str]:
    env.reset(task=ACTIONS[action][1], mode="attacker_only", seed=seed, defender_policy=defender)
    obs = env.step({"craft_incident": craft(action, seed)})
    return obs.reward, obs.rewards.attacker.outcome


@dataclass
class AttackerTrainConfig:
    steps: int = 600
    group_size: int = 8
    learning_rate: float = 0.5
    defender: str = DEFAULT_DEFENDER_POLICY
    eval_every: int = 50
    eval_episodes: int = 300
    seed: int = 0


@dataclass
class AttackerLog:
    steps: list[int] = field(default_factory=list)
    mean_reward: list[float] = field(default_factory=list)
    evasion_rate: list[float] = field(default_factory=list)
    unsound_rate: list[float] = field(default_factory=list)  # implausible, contested or mislabelled: paid nothing
    contested_rate: list[float] = field(default_factory=list)


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
        if [tuple(a) for a in data["actions"]] != [tuple(a) for a in ACTIONS]:
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
    env = OpenSOCEnv(AttackerRun())  # one run: a way to win earns novelty only the first time
    window, outcomes = [], []
    for step in range(1, config.steps + 1):
        p = attacker.probs()
        actions = attacker.sample(rng, config.group_size)
        played = [play(env, a, step * config.group_size + i, config.defender) for i, a in enumerate(actions)]
        rewards = np.array([r for r, _ in played])
        window.extend(rewards.tolist())
        outcomes.extend(o for _, o in played)
        adv = (rewards - rewards.mean()) / (rewards.std() + 1e-6)
        grad = np.zeros_like(attacker.logits)
        for a, A in zip(actions, adv, strict=True):
            grad -= A * p
            grad[a] += A
        attacker.logits += config.learning_rate * grad / config.group_size
        if step % config.eval_every == 0:
            log.steps.append(step)
            log.mean_reward.append(float(np.mean(window)))
            log.evasion_rate.append(evasion_rate(attacker, config.eval_episodes // 3, config.defender, seed=step))
            log.unsound_rate.append(sum(o in UNSOUND for o in outcomes) / len(outcomes))
            log.contested_rate.append(outcomes.count("contested") / len(outcomes))
            window, outcomes = [], []
        if progress is not None:
            progress.update(1)
    return attacker, log


def plot_curve(log: AttackerLog, baseline: float, path: Path, defender: str = DEFAULT_DEFENDER_POLICY) -> None:
    import matplotlib  # optional heavy dependency: matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # optional heavy dependency: matplotlib

    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    ax.plot(log.steps, log.mean_reward, label="training reward (evasion + novelty)", color="#7f8c8d")
    ax.plot(log.steps, log.evasion_rate, label="evasion rate of the current policy", color="#c0392b", marker="o", ms=3)
    ax.plot(log.steps, log.unsound_rate, label="unsound crafts (paid nothing)", color="#2c3e50", linestyle=":")
    ax.plot(log.steps, log.contested_rate, label="contested crafts", color="#8e44ad", linestyle="-.")
    ax.axhline(baseline, color="#c0392b", linestyle="--", linewidth=0.8, label=f"uniform attacker ({baseline:.0%})")
    ax.set_xlabel("updates (groups of incidents)")
    ax.set_ylim(0, 1.3)
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title(f"CPU attacker against the {defender} defender")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def save_log(log: AttackerLog, config: AttackerTrainConfig, path: Path, extra: dict) -> None:
    path.write_text(json.dumps({"config": asdict(config), "log": asdict(log), **extra}, indent=1) + "\n")
