"""``opensoc train selfplay``: the CPU's numpy attacker and defender in an arms race, round by round, on one run.

The attacker is ``cpu_attacker``'s softmax over incidents (template, style, thinning); the defender is
``cpu_defender``'s softmax-linear policy over hashed alert features, first trained on the curriculum alone. Each round
(``selfplay_rounds``): the attacker, from last round's policy, plays groups of crafts against the current defender in
``self_play`` episodes of the run, and after each group moves towards the Boltzmann policy of its estimated rewards
(temperature ``attacker_temperature``: it exploits what wins without collapsing onto one template); every craft is
scored there and the sound ones enter the run's replay pool. Then the defender trains on from last round's weights on
the curriculum, where a share of its incidents are stage-4 episodes that replay the pool and a share are crafts of
earlier rounds' attackers (the pool keeps only the newest). The update is gated on a validation set that no training,
evaluation or hold-out uses (curriculum incidents of every stage, and sound crafts of the round's attacker, all on
seeds held back for it): accepted when not below the previous defender on each part and when it answers none of the
curriculum incidents worse than the previous defender did, else retried at half the learning
rate, else the previous weights are kept. The two roles are separate policies, and every round's pair is kept
(``policies/``).

Writes ``selfplay.json`` (every figure; the same config gives the same bytes), ``selfplay.md``, ``selfplay_curves.png``,
``selfplay_crossplay.png`` and ``timing.json`` (the machine and the wall time, which no other file holds).
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..adjudication.contest import community_rules
from ..adjudication.gate import adjudicate
from ..env import OpenSOCEnv
from ..eval.policy import TRIAGE, Policy
from ..eval.runner import run_policy
from ..families.runs import AttackerRun
from ..families.triage.family import TriageObservation
from ..incidents.defenders import primary_log_id
from ..incidents.features import featurize
from ..incidents.linear_policy import LinearPolicy
from ..incidents.prompting import format_triage_answer, triage_action
from ..models import Observation
from ..schema import TRIAGE_ACTIONS, Alert, IncidentParams
from ..tasks.registry import TASKS
from ..tasks.seeds import CPU_TRAIN_SEEDS_START
from .cpu_attacker import ACTIONS, CategoricalAttacker, craft
from .selfplay_rounds import (
    Attacker,
    Bout,
    DefenderUpdate,
    EvalSpec,
    Plan,
    SelfPlayResult,
    Validation,
    markdown,
    play,
    plot_curves,
    plot_matrix,
    run_rounds,
)

ARTIFACTS = Path(__file__).resolve().parent / "artifacts" / "selfplay"
# Seeds of this self-play's own episodes, clear of every range in tasks.seeds and of cpu_attacker's evaluation
# (5,000,000+): round r's attacker trains on SELFPLAY_SEEDS_START + r * 100,000 onwards; evaluation crafts come from
# SELFPLAY_EVAL_SEEDS_START. The defender's curriculum incidents continue cpu_defender's seed ranges per stage.
# Round 0's block, where no attacker trains, holds the defender's validation set: curriculum incidents of every stage
# from VALIDATION_SEEDS_START, and each round's validation crafts from VALIDATION_SEEDS_START + ARCHIVE_SEEDS_OFFSET.
SELFPLAY_SEEDS_START = 6_000_000
SELFPLAY_EVAL_SEEDS_START = 6_900_000
ARCHIVE_SEEDS_OFFSET = 50_000  # within round r's block: the earlier attackers' crafts the round's defender trains on
VALIDATION_SEEDS_START = SELFPLAY_SEEDS_START
POOL_TASK = "stage4_adversarial"  # the stage whose episodes replay the run's sound crafts (generator.generate)


def intent(action: int) -> str:
    template, style, thin = ACTIONS[action]
    return f"{template}/{style}/{'thinned' if thin else 'whole'}"


INTENTS = {intent(a): a for a in range(len(ACTIONS))}


@dataclass
class SelfPlayConfig:
    """Everything a CPU self-play run depends on; ``selfplay.json`` records it."""

    rounds: int = 5
    seed: int = 0
    run_id: str = ""  # "" names it selfplay-cpu-<seed>
    # The defender before the first round: cpu_defender's curriculum training (opensoc train cpu's defender).
    initial_defender: str = ""  # a saved linear defender (.npz) to start from instead; "" trains it here
    initial_incidents_per_stage: int = 3000
    curriculum_replay_share: float = 0.3  # of a stage's incidents, drawn from the earlier stages (as cpu_defender)
    # The attacker, each round: against the current defender, towards the Boltzmann policy of its estimated rewards.
    attacker_steps: int = 150
    group_size: int = 8
    attacker_temperature: float = 0.12  # τ of p ∝ exp(estimated reward / τ): lower exploits more, 0 collapses
    attacker_step_size: float = 0.1  # share of the way the logits move towards that target after each group
    attacker_prior_weight: float = 2.0  # pseudo-crafts shrinking a craft's estimate to its template's (and a template's to the round's)
    # The defender, each round: GRPO from last round's weights on the curriculum plus the pool.
    defender_incidents: int = 2000
    defender_learning_rate: float = 0.015
    defender_temperature: float = 0.25  # τ of the target policy q ∝ exp(reward / τ) the defender moves towards
    defender_batch: int = 16
    pool_task_share: float = 0.5  # share of the round's incidents from POOL_TASK with the run's replay pool
    # Share of the round's incidents crafted by an earlier round's attacker (fictitious play): the pool keeps only
    # the newest crafts, and a defender trained on them alone forgets how earlier attackers won.
    archive_share: float = 0.25
    # The defender's gate, on a validation set no training, evaluation or hold-out uses: each round's update is fitted
    # at the learning rate and at up to ``max_halvings`` halvings of it; a candidate is admissible when not below the
    # previous defender on the curriculum incidents nor on the round attacker's sound crafts (accuracy, then mean
    # reward); when none is, the previous weights are kept.
    validation_per_task: int = 250
    validation_crafts: int = 200  # the round's attacker's crafts; only the sound ones are shown to a defender
    max_halvings: int = 3
    # Churn control: every halving is tried, and of the candidates not below the previous defender the one answering
    # the fewest curriculum incidents worse is kept; training targets on the curriculum incidents the previous
    # defender answers right lean ``anchor_weight`` towards its own policy.
    anchor_weight: float = 0.5
    # Measurement: crafts per attacker for every figure and every cross-play cell.
    eval_episodes: int = 400

    def __post_init__(self) -> None:
        if self.rounds < 1:
            raise ValueError("at least 1 round: a round trains the attacker, then the defender")
        if min(self.attacker_steps, self.defender_incidents, self.eval_episodes) < 1:
            raise ValueError("attacker_steps, defender_incidents and eval_episodes must be at least 1")
        if self.attacker_steps * self.group_size > ARCHIVE_SEEDS_OFFSET or self.defender_incidents > ARCHIVE_SEEDS_OFFSET:
            raise ValueError(f"attacker_steps * group_size and defender_incidents must stay under {ARCHIVE_SEEDS_OFFSET:,}")
        if self.initial_incidents_per_stage + self.rounds * self.defender_incidents > 100_000:
            raise ValueError("the defender's incidents overrun a stage's 100,000 curriculum seeds")
        if SELFPLAY_SEEDS_START + (self.rounds + 1) * 100_000 > SELFPLAY_EVAL_SEEDS_START:
            raise ValueError(f"at most {(SELFPLAY_EVAL_SEEDS_START - SELFPLAY_SEEDS_START) // 100_000 - 1} rounds: "
                             "later rounds' seeds would reach the evaluation's")
        if self.validation_per_task > ARCHIVE_SEEDS_OFFSET or self.rounds * self.validation_crafts > ARCHIVE_SEEDS_OFFSET:
            raise ValueError(f"validation_per_task and rounds * validation_crafts must stay under {ARCHIVE_SEEDS_OFFSET:,}")

    @property
    def name(self) -> str:
        return self.run_id or f"selfplay-cpu-{self.seed}"


# ----------------------------------------------------------------------------------------------- the two policies


class CpuAttacker:
    """``CategoricalAttacker`` as a self-play attacker: it samples what to build, and builds it for the seed."""

    def __init__(self, logits: np.ndarray | None = None, name: str = "cpu_attacker"):
        self.policy, self.name = CategoricalAttacker(logits), name

    def plan(self, seeds: Sequence[int], rng: np.random.Generator) -> list[Plan]:
        actions = self.policy.sample(rng, len(seeds))
        return [Plan(ACTIONS[a][1], s, intent(a)) for a, s in zip(actions, seeds, strict=True)]

    def craft(self, plans: Sequence[Plan], briefs: Sequence[Observation]) -> list[IncidentParams | dict]:
        return [craft(INTENTS[p.intent], p.seed) for p in plans if p.intent is not None]


class LinearDefender(Policy):
    """The linear defender as an evaluation policy: its greedy triage, written as a defender's answer."""

    plays = TRIAGE

    def __init__(self, weights: LinearPolicy, name: str):
        self.weights, self.name = weights, name

    def complete(self, obs: Observation, item: dict) -> str:
        t = self.weights.act(_alert(obs))
        return format_triage_answer(t.action, t.cited_log_id, t.rationale)


def _alert(obs: Observation) -> Alert:
    if not isinstance(obs, TriageObservation) or obs.alert is None:
        raise TypeError(f"expected a triage observation on the defender's turn, got {type(obs).__name__}")
    return obs.alert


def _crafted_turn(plan: Plan, crafted: IncidentParams | dict) -> tuple[OpenSOCEnv | None, Observation]:
    """A ``self_play`` episode of ``plan`` on a run of its own, at the defender's turn after ``crafted``; None for the
    environment when the craft was unsound (never shown to a defender)."""
    env = OpenSOCEnv(AttackerRun())
    env.reset(task=plan.task, seed=plan.seed, mode="self_play")
    obs = env.step({"craft_incident": crafted})
    return (None if obs.done else env), obs


TEMPLATE_OF = np.array([sorted({t for t, _, _ in ACTIONS}).index(t) for t, _, _ in ACTIONS])  # action -> template


def estimated_rewards(counts: np.ndarray, sums: np.ndarray, prior_weight: float) -> np.ndarray:
    """Each action's mean reward so far, shrunk towards its template's mean, itself shrunk towards the mean of every
    craft (``prior_weight`` pseudo-crafts each time): an action never tried is worth its template's record."""
    overall = sums.sum() / max(counts.sum(), 1.0)
    t_counts, t_sums = (np.bincount(TEMPLATE_OF, weights=w) for w in (counts, sums))
    template = (t_sums + prior_weight * overall) / (t_counts + prior_weight)
    return (sums + prior_weight * template[TEMPLATE_OF]) / (counts + prior_weight)


# ----------------------------------------------------------------------------------------------- the league

# A defender's training incident: (task, seed, replay the run's pool, a craft to play in a self_play episode or None).
Incident = tuple[str, int, bool, IncidentParams | dict | None]



class CpuLeague:
    """The numpy pair's training, on one in-process run (``run``: novelty memory and replay pool)."""

    def __init__(self, config: SelfPlayConfig, show_progress: bool = True):
        self.config, self.show_progress = config, show_progress
        self.run_id, self.run = config.name, AttackerRun()
        self.rng = np.random.default_rng(config.seed)
        self.attackers: list[CpuAttacker] = []  # every round's trained attacker, in order
        self.updates: dict[int, DefenderUpdate] = {}  # round -> how its defender was decided
        self.validation_items = [{"id": f"{task}-{seed}", "task": task, "seed": seed, "stage": s_i + 1}
                                 for s_i, task in enumerate(TASKS)
                                 for seed in range(VALIDATION_SEEDS_START, VALIDATION_SEEDS_START + config.validation_per_task)]

    def _bar(self, total: int, desc: str, unit: str):
        return tqdm(total=total, desc=desc, unit=unit, leave=False, disable=not self.show_progress)

    def initial_attacker(self) -> CpuAttacker:
        return CpuAttacker(name="attacker_r0")

    def initial_defender(self) -> Policy:
        """The curriculum alone, stage by stage, with a share of each stage's incidents from the earlier stages."""
        c, stages = self.config, list(TASKS)
        if c.initial_defender:
            return LinearDefender(LinearPolicy.load(Path(c.initial_defender)), "defender_r0")
        incidents: list[Incident] = []
        for s_i, task in enumerate(stages):
            for n in range(c.initial_incidents_per_stage):
                drawn = stages[int(self.rng.integers(s_i))] if s_i and self.rng.random() < c.curriculum_replay_share else task
                incidents.append((drawn, CPU_TRAIN_SEEDS_START + s_i * 100_000 + n, False, None))
        return LinearDefender(self._improve(LinearPolicy(), incidents, "defender r0 (curriculum)"), "defender_r0")

    def train_attacker(self, round_: int, attacker: Attacker, defender: Policy) -> tuple[Attacker, list[Bout]]:
        """From ``attacker``'s policy, groups of crafts played against ``defender`` in the run's self_play episodes;
        after each group the logits move ``attacker_step_size`` of the way towards the round's estimated rewards
        over ``attacker_temperature``. Estimates start afresh each round: the defender has changed."""
        assert isinstance(attacker, CpuAttacker), attacker
        c = self.config
        new = CpuAttacker(attacker.policy.logits.copy(), name=f"attacker_r{round_}")
        counts, sums = np.zeros(len(ACTIONS)), np.zeros(len(ACTIONS))
        bouts: list[Bout] = []
        start = SELFPLAY_SEEDS_START + round_ * 100_000
        with self._bar(c.attacker_steps, f"attacker r{round_}", "group") as bar:
            for step in range(c.attacker_steps):
                plans = new.plan(range(start + step * c.group_size, start + (step + 1) * c.group_size), self.rng)
                played = play(plans, new.craft(plans, ()), defender, self.run)
                bouts += played
                for plan, bout in zip(plans, played, strict=True):
                    counts[INTENTS[plan.intent or ""]] += 1
                    sums[INTENTS[plan.intent or ""]] += bout.attacker_reward
                target = estimated_rewards(counts, sums, c.attacker_prior_weight) / c.attacker_temperature
                new.policy.logits = (1 - c.attacker_step_size) * new.policy.logits + c.attacker_step_size * target
                bar.update(1)
        self.attackers.append(new)
        return new, bouts

    def train_defender(self, round_: int, defender: Policy) -> Policy:
        """From ``defender``'s weights, on fresh curriculum incidents, ``pool_task_share`` of them stage-4 episodes that
        replay the run's pool; the first candidate, halving the learning rate each time, that is not below
        ``defender`` on any validation part, or ``defender``'s weights when none is (``updates[round_]`` says which)."""
        c, stages = self.config, list(TASKS)
        others = [s for s in stages if s != POOL_TASK]
        incidents: list[Incident] = []
        earlier = self.attackers[:round_ - 1]  # every earlier round's attacker: what the pool no longer holds
        for n in range(c.defender_incidents):
            if earlier and c.archive_share and self.rng.random() < c.archive_share:
                attacker = earlier[int(self.rng.integers(len(earlier)))]
                (plan,) = attacker.plan([SELFPLAY_SEEDS_START + round_ * 100_000 + ARCHIVE_SEEDS_OFFSET + n], self.rng)
                incidents.append((plan.task, plan.seed, False, attacker.craft([plan], ())[0]))
                continue
            task = POOL_TASK if self.rng.random() < c.pool_task_share else others[int(self.rng.integers(len(others)))]
            seed = (CPU_TRAIN_SEEDS_START + stages.index(task) * 100_000 + c.initial_incidents_per_stage
                    + (round_ - 1) * c.defender_incidents + n)
            incidents.append((task, seed, task == POOL_TASK, None))
        assert isinstance(defender, LinearDefender), defender
        targets = self._anchored(self._targets(incidents, f"defender r{round_}"), incidents, defender.weights)
        crafts = self._validation_crafts(round_)
        previous = self.validate(defender, crafts)
        candidates: list[dict[str, Validation]] = []
        fitted: list[LinearDefender] = []
        worse: list[int] = []
        for halvings in range(c.max_halvings + 1):
            rate = c.defender_learning_rate / 2 ** halvings
            fitted.append(LinearDefender(self._fit(LinearPolicy(defender.weights.W.copy()), targets, rate),
                                         f"defender_r{round_}"))
            candidates.append(self.validate(fitted[-1], crafts))
            worse.append(candidates[-1]["curriculum"].worse_than(previous["curriculum"]))
        admissible = [h for h, scores in enumerate(candidates)
                      if all(scores[part].not_below(score) for part, score in previous.items())]
        if not admissible:
            self.updates[round_] = DefenderUpdate("kept", c.max_halvings, None, previous, candidates, worse)
            return LinearDefender(LinearPolicy(defender.weights.W.copy()), f"defender_r{round_}")
        # The admissible candidate that answers the fewest curriculum incidents worse (churn: what a gain on the
        # crafts costs elsewhere), then the one that catches the most crafts, then the larger step.
        halvings = min(admissible, key=lambda h: (worse[h], -candidates[h]["crafts"].accuracy.k, h))
        decision = "accepted" + (f" after {halvings} halving{'s' * (halvings > 1)}" if halvings else "")
        self.updates[round_] = DefenderUpdate(decision, halvings, c.defender_learning_rate / 2 ** halvings, previous,
                                              candidates, worse)
        return fitted[halvings]

    def _anchored(self, targets: list[tuple[np.ndarray, np.ndarray] | None], incidents: Sequence[Incident],
                  previous: LinearPolicy) -> list[tuple[np.ndarray, np.ndarray] | None]:
        """On each curriculum incident (no craft, no replay of the pool) that the previous defender answers right,
        the target moves ``anchor_weight`` of the way to the previous defender's own policy (distillation towards
        the model being replaced, a standard way to cut prediction churn): the update learns the new crafts without
        re-deciding what the defender already got right."""
        a = self.config.anchor_weight
        out = list(targets)
        for i, (target, (_, _, replay, crafted)) in enumerate(zip(targets, incidents, strict=True)):
            if a and target is not None and not replay and crafted is None:
                x, q = target
                old = previous.probs(x)
                if int(np.argmax(old)) == int(np.argmax(q)):
                    out[i] = (x, (1 - a) * q + a * old)
        return out

    def defender_update(self, round_: int) -> DefenderUpdate | None:
        return self.updates.get(round_)

    # ------------------------------------------------------------------------------------------- the validation set

    def _validation_crafts(self, round_: int) -> list[tuple[Plan, IncidentParams | dict]]:
        """The round's attacker's sound crafts on its validation seeds (never trained on, never in an evaluation)."""
        c, attacker = self.config, self.attackers[-1]
        start = VALIDATION_SEEDS_START + ARCHIVE_SEEDS_OFFSET + (round_ - 1) * c.validation_crafts
        plans = attacker.plan(range(start, start + c.validation_crafts), np.random.default_rng((c.seed, 1, round_)))
        crafted = zip(plans, attacker.craft(plans, ()), strict=True)
        return [(plan, params) for plan, params in crafted if _crafted_turn(plan, params)[0] is not None]

    def validate(self, defender: LinearDefender, crafts: Sequence[tuple[Plan, IncidentParams | dict]]) -> dict[str, Validation]:
        """``defender`` on each part of the validation set: the curriculum incidents (scored as the hold-out is, in
        ``defender_only`` episodes) and ``crafts``, each in a ``self_play`` episode of its own."""
        records = run_policy(defender, self.validation_items, show_progress=False)
        correct, rewards = [], []
        for plan, params in crafts:
            env, obs = _crafted_turn(plan, params)
            assert env is not None, plan  # sound when drawn: adjudication is deterministic
            scored = env.step(triage_action(defender.complete(obs, {}))).rewards.defender  # type: ignore[attr-defined]
            correct.append(scored.predicted_action == scored.gold_action)
            rewards.append(float(scored.reward))
        return {"curriculum": Validation.of([r["predicted"] == r["gold"] for r in records], [float(r["reward"]) for r in records]),
                "crafts": Validation.of(correct, rewards)}

    # ------------------------------------------------------------------------------------------- training

    def _improve(self, weights: LinearPolicy, incidents: Sequence[Incident], desc: str) -> LinearPolicy:
        return self._fit(weights, self._targets(incidents, desc), self.config.defender_learning_rate)

    def _targets(self, incidents: Sequence[Incident], desc: str) -> list[tuple[np.ndarray, np.ndarray] | None]:
        """Each incident's features and the Boltzmann policy q ∝ exp(reward / τ) of the rewards of all five triage
        actions, each scored in an episode of its own; None for an unsound craft, which is never shown to a defender.
        An incident with a craft is a ``self_play`` episode on a run of its own (the training run's books stay the
        attacker's). Neither depends on the weights, so a retry at another learning rate reuses them."""
        c = self.config
        targets: list[tuple[np.ndarray, np.ndarray] | None] = []
        with self._bar(len(incidents), desc, "incident") as bar:
            for incident in incidents:
                rewards = np.zeros(len(TRIAGE_ACTIONS))
                for a, action in enumerate(TRIAGE_ACTIONS):
                    env, obs = self._defender_turn(incident)
                    if env is None:
                        targets.append(None)
                        break
                    if a == 0:
                        alert = _alert(obs)  # the same incident in all five episodes
                        x, cite = featurize(alert), primary_log_id(alert)
                    rewards[a] = env.step({"submit_triage": {"action": action, "cited_log_id": cite}}).reward
                else:  # every action scored: the incident was shown
                    z = (rewards - rewards.max()) / c.defender_temperature
                    targets.append((x, np.exp(z) / np.exp(z).sum()))
                bar.update(1)
        return targets

    def _fit(self, weights: LinearPolicy, targets: Sequence[tuple[np.ndarray, np.ndarray] | None],
             learning_rate: float) -> LinearPolicy:
        """``weights`` moved, incident by incident, towards each target policy q (Adam, one step per
        ``defender_batch`` incidents; a skipped incident still counts in its batch).

        The gradient of KL(q || π) is (q − π) ⊗ x: unlike a sampled group's, it does not vanish when the policy is
        sure of a wrong answer (a saturated softmax samples nothing else to compare).
        """
        c = self.config
        m, v, grad = np.zeros_like(weights.W), np.zeros_like(weights.W), np.zeros_like(weights.W)
        step = 0
        for n, target in enumerate(targets, 1):
            if target is not None:
                x, q = target
                grad += np.outer(q - weights.probs(x), x)
            if n % c.defender_batch == 0 or n == len(targets):
                step += 1
                grad /= c.defender_batch
                m = 0.9 * m + 0.1 * grad
                v = 0.999 * v + 0.001 * grad * grad
                weights.W += learning_rate * (m / (1 - 0.9 ** step)) / (np.sqrt(v / (1 - 0.999 ** step)) + 1e-8)
                grad[:] = 0.0
        return weights

    def _defender_turn(self, incident: Incident) -> tuple[OpenSOCEnv | None, Observation]:
        """A new episode of ``incident`` at the defender's turn; None for the environment when the craft was unsound."""
        task, seed, replay, crafted = incident
        if crafted is None:
            env = OpenSOCEnv(self.run)
            return env, env.reset(task=task, seed=seed, use_replay_pool=replay)  # False is not given
        return _crafted_turn(Plan(task, seed), crafted)

    def pool_size(self) -> int:
        return sum(len(crafts) for crafts in self.run.replay_pool.values())

    def pool_is_sound(self) -> bool:
        """Whether every craft in the run's replay pool is sound when adjudicated again, under the verdict it is filed."""
        return all(adjudicate(params).sound and adjudicate(params).truth.action == verdict
                   for verdict, crafts in self.run.replay_pool.items() for params in crafts)


# ----------------------------------------------------------------------------------------------- the run


def run_selfplay(config: SelfPlayConfig, out: Path | None = None,
                 show_progress: bool = True) -> tuple[SelfPlayResult, CpuLeague, list[Attacker], list[Policy]]:
    """Run ``config``; with ``out``, write the figures, the plots and every round's pair there."""
    league = CpuLeague(config, show_progress)
    spec = EvalSpec(config.eval_episodes, SELFPLAY_EVAL_SEEDS_START, config.seed + 7_919)
    started = time.perf_counter()
    result, attackers, defenders = run_rounds(league, config.rounds, spec, holdout_seed=config.seed,
                                              show_progress=show_progress)
    result.config = asdict(config) | {"run_id": league.run_id}
    result.replay_pool_sound = league.pool_is_sound()
    rules = community_rules()  # None, with the notice, when $OPENSOC_SIGMAHQ_RULES names no rules
    result.sigmahq_rules = rules.kept if rules is not None else 0
    if out is not None:
        write(result, attackers, defenders, out, time.perf_counter() - started)
    return result, league, attackers, defenders


def write(result: SelfPlayResult, attackers: Sequence[Attacker], defenders: Sequence[Policy], out: Path,
          seconds: float | None = None) -> None:
    """Write the figures, the table, both plots and every round's pair into ``out``; ``timing.json`` only when
    ``seconds`` is given."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "selfplay.json").write_text(result.to_json(), encoding="utf-8")
    (out / "selfplay.md").write_text(markdown(result), encoding="utf-8")
    plot_curves(result, out / "selfplay_curves.png")
    plot_matrix(result, out / "selfplay_crossplay.png")
    policies = out / "policies"
    for r, (a, d) in enumerate(zip(attackers, defenders, strict=True)):
        assert isinstance(a, CpuAttacker) and isinstance(d, LinearDefender), (a, d)
        a.policy.save(policies / f"attacker_r{r}.json", {"round": r, "run_id": result.run_id})
        d.weights.save(policies / f"defender_r{r}.npz", {"round": r, "run_id": result.run_id})
    if seconds is not None:
        timing = {"wall_s": round(seconds, 1), "machine": platform.machine(), "cpus": os.cpu_count(),
                  "python": platform.python_version(), "processor": platform.processor() or None}
        (out / "timing.json").write_text(json.dumps(timing, indent=1) + "\n", encoding="utf-8")


def config_from(overrides: dict) -> SelfPlayConfig:
    """A config with the given fields (None values left at their defaults)."""
    known = {f.name for f in fields(SelfPlayConfig)}
    return SelfPlayConfig(**{k: v for k, v in overrides.items() if k in known and v is not None})
