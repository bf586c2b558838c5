"""Self-play for language models through TRL: the round structure of ``selfplay_rounds``, one run, two roles.

``LLMLeague`` is the league ``selfplay_rounds.run_rounds`` drives: each round GRPO trains the attacker's adapter in
``self_play`` episodes of the league's run (``SelfPlayAttackerEnv``, TRL's ``environment_factory``), where the current
defender model answers every sound craft and the sound crafts enter the run's replay pool; then GRPO trains the
defender's adapter on ``stage4_adversarial`` episodes that replay that pool (``SelfPlayDefenderEnv``). The roles are
separate models with adapters of their own (``attacker_r<r>/``, ``defender_r<r>/``), and every figure, the cross-play
matrix included, is measured as for the CPU pair. The episodes run in process, so the run (``run_id``) is the league's.

    python -m opensoc.train.selfplay --rounds 3 --defender-adapter runs/adapters/stage4 --out runs/selfplay

``selfplay_phases`` and ``run_selfplay`` are the older server-side phases: the attacker against a built-in defender
in ``attacker_only`` episodes, the defender on the server's replay pool of the same ``run_id``.
"""

from __future__ import annotations

import argparse
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from functools import partial
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..adjudication.contest import community_rules
from ..adjudication.gate import adjudicate
from ..env import OpenSOCEnv
from ..eval.hf_policy import HFPolicy
from ..eval.policy import Policy
from ..families.runs import AttackerRun
from ..models import Observation
from ..schema import IncidentParams
from .config import CONFIG_DIR, StageConfig
from .grpo import run_grpo
from .models import load_model
from .selfplay_rounds import (
    Attacker,
    Bout,
    DefenderUpdate,
    EvalSpec,
    Plan,
    SelfPlayResult,
    briefs,
    markdown,
    play,
    run_rounds,
)
from .trl_env import ATTACKER_INSTRUCTIONS

LLM_EVAL_SEEDS_START = 6_950_000  # the LLM self-play's evaluation briefs, clear of every other seed range


def selfplay_phases(defender: StageConfig, attacker: StageConfig, rounds: int, out: Path,
                    run_id: str | None = None) -> list[StageConfig]:
    """The phase configs in order: attacker then defender, each round continuing from the last adapters, all on
    one server-side attacker run (``run_id``, random unless given)."""
    run_id = run_id or f"selfplay-{uuid.uuid4().hex}"
    phases, d_adapter, a_adapter = [], defender.init_adapter, attacker.init_adapter
    for r in range(1, rounds + 1):
        a = replace(attacker, name=f"attacker_r{r}", init_adapter=a_adapter, output_dir=str(out / f"attacker_r{r}"),
                    role="attacker", reward="service", run_id=run_id)
        d = replace(defender, name=f"defender_r{r}", init_adapter=d_adapter, output_dir=str(out / f"defender_r{r}"),
                    role="defender", reward="service", task="stage4_adversarial", use_replay_pool=True, run_id=run_id)
        phases += [a, d]
        a_adapter, d_adapter = a.output_dir, d.output_dir
    return phases


def run_selfplay(defender: StageConfig, attacker: StageConfig, rounds: int, out: Path, models=None) -> list[Path]:
    """Run every phase; ``models`` optionally maps role → (model, tokenizer) for tests."""
    outputs = []
    for phase in selfplay_phases(defender, attacker, rounds, out):
        model, tokenizer = (models or {}).get(phase.role, (None, None))
        outputs.append(run_grpo(phase, model, tokenizer))
    return outputs


# ----------------------------------------------------------------------------------------------- the LLM league


def read_craft(text: str | None) -> dict:
    """The incident in a model's answer: the ``incident_json`` of a ``craft_incident`` call, or the outermost JSON
    object of the text; ``{}`` (a schema failure) when there is none."""
    if not text or "{" not in text:
        return {}
    try:
        obj = json.loads(text[text.index("{"):text.rindex("}") + 1])
    except json.JSONDecodeError:
        return {}
    if not isinstance(obj, dict):
        return {}
    arguments = obj.get("arguments")
    if isinstance(arguments, dict) and "incident_json" in arguments:
        return read_craft(str(arguments["incident_json"]))
    return obj


class LLMAttacker:
    """A model as a self-play attacker: one craft per brief, greedy, read by ``read_craft``."""

    def __init__(self, policy: HFPolicy, task: str, name: str):
        self.policy, self.task, self.name = policy, task, name

    def plan(self, seeds: Sequence[int], rng: np.random.Generator) -> list[Plan]:
        return [Plan(self.task, s) for s in seeds]

    def craft(self, plans: Sequence[Plan], briefs: Sequence[Observation]) -> list[IncidentParams | dict]:
        texts = self.policy.complete_batch([(b.model_copy(update={"prompt": f"{ATTACKER_INSTRUCTIONS}\n\n{b.prompt}"}), {})
                                            for b in briefs])
        return [read_craft(t) for t in texts]


class SelfPlayAttackerEnv:
    """TRL environment: one ``self_play`` episode of the league's run per rollout; the tool is ``craft_incident``;
    the league's current defender answers a sound craft, and the attacker is paid as the episode scores it."""

    def __init__(self, league: LLMLeague):
        self._league = league
        self.reward, self.done, self._plan = 0.0, False, Plan("stage2_multi", 0)

    def reset(self, **kwargs) -> str:
        """Start the episode for the dataset row; returns the attacker's brief."""
        self._plan = Plan(str(kwargs.get("task", "stage2_multi")), int(kwargs.get("seed", 0)))
        self.reward, self.done = 0.0, False
        return "\n\n" + briefs([self._plan])[0].prompt

    def craft_incident(self, incident_json: str) -> str:
        """Submit the crafted incident. Call it once.

        Args:
            incident_json: The incident as one JSON object with category, target_label, events and narrative.

        Returns:
            The outcome: whether the incident was sound and whether the defender was fooled.
        """
        if self.done:
            raise ValueError("This episode's incident has already been submitted.")
        bout = self._league.score_craft(self._plan, read_craft(incident_json))
        self.reward, self.done = bout.attacker_reward, True
        return f"Outcome: {bout.outcome}." + (f" Refused for: {', '.join(bout.reasons)}." if bout.reasons else "")

    def get_reward(self) -> float:
        if not self.done:  # no tool call: scored as a craft that fails the schema
            self.craft_incident("")
        return self.reward


class SelfPlayDefenderEnv:
    """TRL environment: one defender episode per rollout on the league's run (stage 4 replays its pool); the tool is
    ``submit_triage``."""

    def __init__(self, league: LLMLeague):
        self._env = OpenSOCEnv(league.run)
        self.reward, self.done = 0.0, False

    def reset(self, **kwargs) -> str:
        """Start the episode for the dataset row; returns the alert to show the model."""
        obs = self._env.reset(task=str(kwargs.get("task", "stage4_adversarial")), seed=int(kwargs.get("seed", 0)),
                              use_replay_pool=bool(kwargs.get("use_replay_pool", False)))
        self.reward, self.done = 0.0, False
        return "\n\n" + obs.prompt

    def submit_triage(self, action: str, cited_log_id: str, rationale: str = "") -> str:
        """Submit the triage decision for the alert. Call it once.

        Args:
            action: One of dismiss, monitor, quarantine_host, block_ip, escalate.
            cited_log_id: The log_id of the single event that drove the decision, for example L2-3.
            rationale: One sentence explaining the decision.

        Returns:
            A confirmation that the decision was recorded.
        """
        return self._submit({"action": action, "cited_log_id": cited_log_id, "rationale": rationale[:2000]})

    def _submit(self, triage: dict) -> str:
        if self.done:
            raise ValueError("This episode's triage has already been submitted.")
        obs = self._env.step({"submit_triage": triage})
        self.reward, self.done = float(obs.reward or 0.0), True
        if obs.errors:
            return "Invalid triage: " + "; ".join(f"{e.loc}: {e.msg}" for e in obs.errors)
        return f"Recorded: {triage['action']}."

    def get_reward(self) -> float:
        if not self.done:  # no tool call: the environment scores the format violation
            self._submit({})
        return self.reward


ModelFactory = Callable[[str], tuple[Any, Any]]  # role -> a fresh (base model, tokenizer)


class LLMLeague:
    """The two models' training, each round from the last round's adapters, on one in-process run.

    ``models`` builds a fresh base (model, tokenizer) for a role (tests: the scratch model); without it each role's
    ``base_model`` is loaded. A round's adapter is loaded onto a fresh base to play, so every round's pair is kept.
    """

    def __init__(self, defender: StageConfig, attacker: StageConfig, out: Path, models: ModelFactory | None = None,
                 run_id: str | None = None, max_new_tokens: int = 256):
        self.defender_config, self.attacker_config, self.out = defender, attacker, out
        self.models, self.max_new_tokens = models, max_new_tokens
        self.run_id, self.run = run_id or f"selfplay-{uuid.uuid4().hex}", AttackerRun()
        self._defender: Policy | None = None  # the defender the attacker trains against now
        self._bouts: list[Bout] = []
        self._adapters = {"attacker": attacker.init_adapter, "defender": defender.init_adapter}
        self._task = attacker.task or "stage2_multi"  # the attacker's briefs

    def _base(self, role: str) -> tuple[Any, Any]:
        if self.models is not None:
            return self.models(role)
        return load_model(replace(self._config(role), init_adapter=None))

    def _config(self, role: str) -> StageConfig:
        return self.attacker_config if role == "attacker" else self.defender_config

    def _policy(self, role: str, name: str) -> HFPolicy:
        """The role's model with its latest adapter merged, as a greedy policy."""
        model, tokenizer = self._base(role)
        adapter = self._adapters[role]
        if adapter:
            from peft import PeftModel  # optional heavy dependency: peft

            model = PeftModel.from_pretrained(model, adapter).merge_and_unload()
        return HFPolicy(name, loaded=(model, tokenizer), max_new_tokens=self.max_new_tokens)

    def initial_attacker(self) -> Attacker:
        return LLMAttacker(self._policy("attacker", "attacker_r0"), self._task, "attacker_r0")

    def initial_defender(self) -> Policy:
        return self._policy("defender", "defender_r0")

    def score_craft(self, plan: Plan, craft: IncidentParams | dict) -> Bout:
        """``craft`` played in a self_play episode of the run against the current defender, and kept."""
        assert self._defender is not None, "score_craft is for the attacker's training phase"
        bout = play([plan], [craft], self._defender, self.run)[0]
        self._bouts.append(bout)
        return bout

    def _train(self, role: Literal["attacker", "defender"], round_: int, factory: Callable[[], Any], **overrides: Any) -> None:
        base = self._config(role)
        phase = replace(base, name=f"{role}_r{round_}", init_adapter=self._adapters[role], run_id=self.run_id,
                        output_dir=str(self.out / f"{role}_r{round_}"), role=role, reward="service", **overrides)
        model, tokenizer = self._base(role) if self.models is not None else (None, None)
        self._adapters[role] = str(run_grpo(phase, model, tokenizer, environment_factory=factory))

    def train_attacker(self, round_: int, attacker: Attacker, defender: Policy) -> tuple[Attacker, list[Bout]]:
        self._defender, self._bouts = defender, []
        self._train("attacker", round_, partial(SelfPlayAttackerEnv, self))
        self._defender = None
        name = f"attacker_r{round_}"
        return LLMAttacker(self._policy("attacker", name), self._task, name), self._bouts

    def train_defender(self, round_: int, defender: Policy) -> Policy:
        self._train("defender", round_, partial(SelfPlayDefenderEnv, self), task="stage4_adversarial",
                    use_replay_pool=True)
        return self._policy("defender", f"defender_r{round_}")

    def pool_size(self) -> int:
        return sum(len(crafts) for crafts in self.run.replay_pool.values())

    def defender_update(self, round_: int) -> DefenderUpdate | None:
        """None: the LLM defender's update is not gated (its GRPO run is the round's defender)."""
        return None


def run_llm_selfplay(defender: StageConfig, attacker: StageConfig, rounds: int, out: Path,
                     models: ModelFactory | None = None, eval_episodes: int = 64, seed: int = 0,
                     max_new_tokens: int = 256, show_progress: bool = True) -> SelfPlayResult:
    """``rounds`` rounds of the two models, measured as the CPU pair is; writes ``selfplay.json`` and ``selfplay.md``
    into ``out`` beside the adapters."""
    league = LLMLeague(defender, attacker, out, models, f"selfplay-llm-{seed}", max_new_tokens)
    spec = EvalSpec(eval_episodes, LLM_EVAL_SEEDS_START, seed)
    result, _, _ = run_rounds(league, rounds, spec, holdout_seed=seed, show_progress=show_progress)
    result.config = {"rounds": rounds, "seed": seed, "eval_episodes": eval_episodes, "max_new_tokens": max_new_tokens,
                     "attacker": asdict(attacker), "defender": asdict(defender)}
    result.replay_pool_sound = all(adjudicate(p).sound and adjudicate(p).truth.action == verdict
                                   for verdict, crafts in league.run.replay_pool.items() for p in crafts)
    rules = community_rules()
    result.sigmahq_rules = rules.kept if rules is not None else 0
    out.mkdir(parents=True, exist_ok=True)
    (out / "selfplay.json").write_text(result.to_json(), encoding="utf-8")
    (out / "selfplay.md").write_text(markdown(result), encoding="utf-8")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--defender-config", default=str(CONFIG_DIR / "stage4.yaml"))
    parser.add_argument("--attacker-config", default=str(CONFIG_DIR / "attacker.yaml"))
    parser.add_argument("--defender-adapter")
    parser.add_argument("--eval-episodes", type=int, default=64, help="crafts per attacker for each figure")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/selfplay")
    args = parser.parse_args()
    defender = StageConfig.load(args.defender_config, init_adapter=args.defender_adapter)
    result = run_llm_selfplay(defender, StageConfig.load(args.attacker_config), args.rounds, Path(args.out),
                              eval_episodes=args.eval_episodes, seed=args.seed)
    print(markdown(result))


if __name__ == "__main__":
    main()
