"""Self-play rounds and their bookkeeping, for any pair of policies: the CPU's numpy pair and the LLMs through TRL.

    round r:  attacker_r trains against defender_(r-1) in self_play episodes of the run (its sound crafts enter the
              run's replay pool), then defender_r trains from defender_(r-1) on the curriculum plus that pool.

``run_rounds`` drives a ``League`` (who trains how) through the rounds and keeps every round's pair; ``play`` scores
crafts in real ``self_play`` episodes of ``OpenSOCEnv``, so every figure here is the environment's own verdict. Each
figure is measured on a fresh run, so measuring records nothing into the training run's pool or novelty memory, and
on the same evaluation seeds for every attacker. ``cross_play`` plays every round's attacker against every round's
defender; its cells (attacker r, defender r-1) and (attacker r, defender r) repeat the round's own figures.
``SelfPlayResult`` is written as JSON (no clock, no paths: the same seed gives the same bytes), a markdown table and
two PNGs (``plot_curves``, ``plot_matrix``).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from tqdm import tqdm

from ..env import OpenSOCEnv
from ..eval.policy import Policy
from ..eval.runner import load_items, run_policy, summarize
from ..families.runs import AttackerRun
from ..incidents.prompting import triage_action
from ..models import Observation
from ..rubric import AttackerScore
from ..schema import IncidentParams
from ..verifier import RULES_BY_ID

UNSOUND = ("implausible", "contested", "mislabelled")  # adjudicated and refused: never shown, paid or replayed
OUTCOMES = ("evaded", "caught", *UNSOUND, "schema_invalid")
Z95 = 1.959964


# ----------------------------------------------------------------------------------------------- the policies


@dataclass(frozen=True)
class Plan:
    """One craft to make: the ``self_play`` episode it is made in, and what the attacker means to build, when it can
    say (the CPU attacker's template, style and thinning; None for an LLM, whose intent is its text)."""

    task: str
    seed: int
    intent: str | None = None


class Attacker(Protocol):
    """An attacker policy: it plans its episodes, then crafts one incident per brief."""

    name: str

    def plan(self, seeds: Sequence[int], rng: np.random.Generator) -> list[Plan]:
        """One plan per seed; ``rng`` draws whatever the policy samples."""
        ...

    def craft(self, plans: Sequence[Plan], briefs: Sequence[Observation]) -> list[IncidentParams | dict]:
        """The craft for each plan, given the attacker's observation of its episode (``{}`` for no readable craft,
        which the environment scores as a schema failure)."""
        ...


class League(Protocol):
    """How a self-play's two roles are built and trained. The league owns the run (``run_id``) its training
    episodes record into; ``run_rounds`` never touches it."""

    run_id: str

    def initial_attacker(self) -> Attacker:
        """The attacker before any round (untrained)."""
        ...

    def initial_defender(self) -> Policy:
        """The defender the first round's attacker trains against."""
        ...

    def train_attacker(self, round_: int, attacker: Attacker, defender: Policy) -> tuple[Attacker, list[Bout]]:
        """``attacker`` trained against ``defender`` in the run's self_play episodes, and every craft it made."""
        ...

    def train_defender(self, round_: int, defender: Policy) -> Policy:
        """``defender`` trained further on the curriculum plus the run's replay pool."""
        ...

    def pool_size(self) -> int | None:
        """Sound crafts in the run's replay pool now (None when the league cannot see it, e.g. on a server)."""
        ...

    def defender_update(self, round_: int) -> DefenderUpdate | None:
        """How ``train_defender`` decided round ``round_``'s defender on its validation set (None: it has no gate)."""
        ...


# ----------------------------------------------------------------------------------------------- playing


@dataclass(frozen=True)
class Bout:
    """One craft played in one real ``self_play`` episode, as the environment scored it."""

    task: str
    seed: int
    intent: str | None
    category: str | None  # what the craft declared; None when it failed the schema
    outcome: str  # one of OUTCOMES
    reasons: tuple[str, ...]  # why it was refused: plausibility codes, CONTESTED:<rule>, MISLABELLED:<claim>-><verdict>
    verdict: str | None  # the verifier's action
    defender_action: str | None  # None: not shown to a defender, or the defender's answer was unreadable
    attacker_reward: float
    techniques: tuple[str, ...]  # ATT&CK techniques of the verdict's deciding rules
    signature: str | None  # the way it won (rubric.winning_signature), when it evaded

    @property
    def sound(self) -> bool:
        return self.outcome in ("evaded", "caught")


def _reasons(score: AttackerScore, craft: IncidentParams | dict, verdict: str | None) -> tuple[str, ...]:
    if score.outcome == "implausible":
        return tuple(sorted(set(score.violation_codes)))
    if score.outcome == "contested":
        return tuple(sorted({f"CONTESTED:{h.rule_id}" for h in score.contested_by}))
    if score.outcome == "mislabelled":
        claim = craft.target_label if isinstance(craft, IncidentParams) else craft.get("target_label")
        return (f"MISLABELLED:{claim}->{verdict}",)
    return ()


def _bout(plan: Plan, craft: IncidentParams | dict, obs: Observation) -> Bout:
    rewards, verdict = getattr(obs, "rewards", None), getattr(obs, "verdict", None)
    score = rewards.attacker if rewards is not None else None
    if score is None:
        raise RuntimeError(f"episode {obs.episode_id} ended without scoring the attacker's craft")
    action = verdict.correct_action if verdict is not None else None
    category = craft.category if isinstance(craft, IncidentParams) else craft.get("category")
    techniques = sorted({t for r in (verdict.deciding_rule_ids if verdict else ()) for t in RULES_BY_ID[r].technique_ids})
    return Bout(task=plan.task, seed=plan.seed, intent=plan.intent,
                category=category if score.outcome != "schema_invalid" else None, outcome=score.outcome,
                reasons=_reasons(score, craft, action), verdict=action,
                defender_action=verdict.defender_action if verdict is not None and score.outcome in ("evaded", "caught")
                else None, attacker_reward=float(score.reward), techniques=tuple(techniques), signature=score.signature)


def briefs(plans: Sequence[Plan]) -> list[Observation]:
    """The attacker's observation of each plan's episode (its brief), as ``reset`` shows it."""
    return [OpenSOCEnv().reset(task=p.task, seed=p.seed, mode="self_play") for p in plans]


def make_crafts(attacker: Attacker, plans: Sequence[Plan]) -> list[IncidentParams | dict]:
    return attacker.craft(plans, briefs(plans))


def play(plans: Sequence[Plan], crafts: Sequence[IncidentParams | dict], defender: Policy, run: AttackerRun) -> list[Bout]:
    """Each craft in its own ``self_play`` episode on ``run``: adjudicated, and when sound shown to ``defender``
    (answers batched through ``Policy.complete_batch`` and read as the evaluation reads them), then scored."""
    envs = [OpenSOCEnv(run) for _ in plans]
    for env, p in zip(envs, plans, strict=True):
        env.reset(task=p.task, seed=p.seed, mode="self_play")
    finals: list[Observation] = [env.step({"craft_incident": c}) for env, c in zip(envs, crafts, strict=True)]
    waiting = [i for i, obs in enumerate(finals) if not obs.done]  # sound: the defender's turn
    if waiting:
        texts = defender.complete_batch([(finals[i], {}) for i in waiting])
        for i, text in zip(waiting, texts, strict=True):
            finals[i] = envs[i].step(triage_action(text))
    return [_bout(p, c, obs) for p, c, obs in zip(plans, crafts, finals, strict=True)]


# ----------------------------------------------------------------------------------------------- statistics


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``k / n`` (95% by default); (0, 1) when ``n`` is 0."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    centre, half = p + z * z / (2 * n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return round(max(0.0, (centre - half) / (1 + z * z / n)), 4), round(min(1.0, (centre + half) / (1 + z * z / n)), 4)


@dataclass
class Rate:
    """``k`` of ``n``, with its 95% Wilson interval."""

    k: int
    n: int
    rate: float
    lo: float
    hi: float

    @classmethod
    def of(cls, k: int, n: int) -> Rate:
        lo, hi = wilson(k, n)
        return cls(k, n, round(k / n, 4) if n else 0.0, lo, hi)

    def __str__(self) -> str:
        return f"{self.rate:.1%} [{self.lo:.1%}, {self.hi:.1%}]" if self.n else "n/a"


def bootstrap_mean(values: Sequence[float], seed: int, resamples: int = 2000) -> tuple[float, float, float]:
    """Mean of ``values`` with the 2.5th and 97.5th percentiles of its bootstrap distribution (seeded)."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return 0.0, 0.0, 0.0
    means = x[np.random.default_rng(seed).integers(0, x.size, (resamples, x.size))].mean(axis=1)
    return round(float(x.mean()), 4), round(float(np.percentile(means, 2.5)), 4), round(float(np.percentile(means, 97.5)), 4)


def entropy_bits(counts: Counter) -> float:
    total = sum(counts.values())
    return round(-sum(c / total * math.log2(c / total) for c in counts.values() if c), 4) if total else 0.0


# ----------------------------------------------------------------------------------------------- figures


@dataclass
class Outcomes:
    """What became of a set of crafts: shares by outcome, unsound ones with an interval, and why they were refused."""

    n: int
    by_outcome: dict[str, int]
    unsound: Rate
    reasons: dict[str, int]  # reason -> crafts refused for it (a craft may have several)

    @classmethod
    def of(cls, bouts: Sequence[Bout]) -> Outcomes:
        counts = Counter(b.outcome for b in bouts)
        reasons = Counter(r for b in bouts for r in b.reasons)
        return cls(len(bouts), {o: counts.get(o, 0) for o in OUTCOMES},
                   Rate.of(sum(counts[o] for o in UNSOUND), len(bouts)), dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))))


@dataclass
class Diversity:
    """How varied an attacker's crafts are: what it meant to build (its templates), what it declared (categories),
    what the verdict's deciding rules name (ATT&CK techniques, sound crafts only) and the ways it won."""

    templates: int  # distinct intents (template / style / thinning for the CPU attacker)
    template_families: int  # distinct templates, whatever the style and thinning
    template_entropy_bits: float
    effective_templates: float  # 2 ** entropy: how many equally used templates the spread is worth
    top_template_share: float
    categories: int
    techniques: int
    ways_to_win: int  # distinct winning signatures among the evasions

    @classmethod
    def of(cls, bouts: Sequence[Bout]) -> Diversity:
        intents = Counter(b.intent or b.category or "unknown" for b in bouts)
        families = Counter((b.intent or b.category or "unknown").split("/")[0] for b in bouts)
        h = entropy_bits(families)
        return cls(templates=len(intents), template_families=len(families), template_entropy_bits=h,
                   effective_templates=round(2 ** h, 3),
                   top_template_share=round(max(families.values()) / len(bouts), 4) if bouts else 0.0,
                   categories=len({b.category for b in bouts if b.category}),
                   techniques=len({t for b in bouts if b.sound for t in b.techniques}),
                   ways_to_win=len({b.signature for b in bouts if b.outcome == "evaded"}))


@dataclass
class Holdout:
    """A defender on the frozen hold-out (``data/holdout.jsonl``, through the evaluation harness)."""

    accuracy: Rate
    mean_reward: float
    mean_reward_ci: tuple[float, float]
    rewards: list[float] = field(repr=False)  # per item, in the hold-out's order: for paired comparisons

    def to_json(self) -> dict:
        return {"accuracy": asdict(self.accuracy), "mean_reward": self.mean_reward, "mean_reward_ci": list(self.mean_reward_ci)}


def holdout(defender: Policy, seed: int = 0) -> Holdout:
    """``defender`` on every item of the frozen triage hold-out."""
    records = run_policy(defender, load_items("holdout"), show_progress=False)
    overall = summarize(records)["overall"]
    rewards = [float(r["reward"]) for r in records]
    correct = sum(r["predicted"] == r["gold"] for r in records)
    mean, lo, hi = bootstrap_mean(rewards, seed)
    assert abs(overall["mean_reward"] - mean) < 1e-3 and abs(overall["accuracy"] - correct / len(records)) < 1e-9
    return Holdout(Rate.of(correct, len(records)), mean, (lo, hi), rewards)


def paired_change(before: Holdout, after: Holdout, seed: int) -> dict:
    """The hold-out mean reward of ``after`` minus ``before``, paired by item, with a 95% bootstrap interval."""
    mean, lo, hi = bootstrap_mean([a - b for a, b in zip(after.rewards, before.rewards, strict=True)], seed)
    return {"mean_reward": mean, "ci": [lo, hi], "accuracy": round(after.accuracy.rate - before.accuracy.rate, 4)}


def caught_share(bouts: Sequence[Bout]) -> Rate:
    """The defender's accuracy on the sound crafts among ``bouts`` (the only ones a defender is shown)."""
    sound = [b for b in bouts if b.sound]
    return Rate.of(sum(b.outcome == "caught" for b in sound), len(sound))


def evasion(bouts: Sequence[Bout]) -> Rate:
    """Evasions among all crafts: an unsound craft evades nobody."""
    return Rate.of(sum(b.outcome == "evaded" for b in bouts), len(bouts))


NOT_WRITTEN = {"written": False}  # a field's metadata: kept in memory, left out of ``SelfPlayResult.to_json``


@dataclass
class Validation:
    """A defender on one part of a validation set (never the frozen hold-out): accuracy, and mean reward to break
    ties. ``rewards`` keeps each item's reward, in the part's order, to compare two defenders item by item (it is
    not written out: its field is marked ``NOT_WRITTEN``, which ``SelfPlayResult.to_json`` leaves)."""

    accuracy: Rate
    mean_reward: float
    rewards: tuple[float, ...] = field(default=(), repr=False, compare=False, metadata=NOT_WRITTEN)

    @classmethod
    def of(cls, correct: Sequence[bool], rewards: Sequence[float]) -> Validation:
        return cls(Rate.of(sum(correct), len(correct)), round(float(np.mean(rewards)), 6) if len(rewards) else 0.0,
                   tuple(float(r) for r in rewards))

    def not_below(self, other: Validation) -> bool:
        """Accuracy at least ``other``'s, and on equal accuracy a mean reward at least ``other``'s."""
        mine, theirs = self.accuracy.k * other.accuracy.n, other.accuracy.k * self.accuracy.n  # k/n, exactly
        return mine > theirs or (mine == theirs and self.mean_reward >= other.mean_reward)

    def worse_than(self, other: Validation) -> int:
        """How many items this defender answers for a lower reward than ``other`` did (the same items, in order)."""
        if len(self.rewards) != len(other.rewards):
            raise ValueError(f"{len(self.rewards)} items against {len(other.rewards)}: not the same validation part")
        return sum(mine < theirs - 1e-9 for mine, theirs in zip(self.rewards, other.rewards, strict=True))

    def __str__(self) -> str:
        return f"{self.accuracy.rate:.1%} {self.mean_reward:+.3f}"


def _written(value: Any) -> Any:
    """``value`` as JSON data, as ``dataclasses.asdict`` would give it, less every field marked ``NOT_WRITTEN``."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _written(getattr(value, f.name)) for f in fields(value) if f.metadata.get("written", True)}
    if isinstance(value, (list, tuple)):
        return [_written(v) for v in value]
    if isinstance(value, dict):
        return {k: _written(v) for k, v in value.items()}
    return value


@dataclass
class DefenderUpdate:
    """How a round's defender was decided: each candidate (trained from the previous weights at the learning rate
    halved 0, 1, ... times) is scored on every validation part; of those not below the previous defender on each
    part, the one that answers the fewest curriculum incidents worse than the previous defender is accepted
    (``halvings`` names it); when none is admissible, the previous weights are kept."""

    decision: str  # "accepted", "accepted after k halvings" or "kept"
    halvings: int  # the accepted candidate's halvings of the learning rate; when kept, the most tried
    learning_rate: float | None  # the accepted candidate's; None when kept
    previous: dict[str, Validation]  # part -> the previous defender's score
    candidates: list[dict[str, Validation]]  # each candidate's, in the order tried
    worse: list[int] = field(default_factory=list)  # each candidate's curriculum items answered worse than before

    @property
    def kept(self) -> bool:
        return self.decision == "kept"

    @property
    def chosen(self) -> dict[str, Validation]:
        """The new defender's scores: the accepted candidate's, or the previous defender's when kept."""
        return self.previous if self.kept else self.candidates[self.halvings]

    def summary(self) -> str:
        """Each part's accuracy and mean reward, the previous defender's → the new one's."""
        return "; ".join(f"{part} {self.previous[part]} → {self.chosen[part]}" for part in self.previous)


@dataclass
class RoundRecord:
    """One round's figures. ``evasion`` and ``defender_on_latest`` are on the round's evaluation crafts (fresh seeds,
    fresh run); ``training`` is every craft the attacker made while it trained."""

    round: int
    training: Outcomes  # the attacker's training crafts, all scored in the run
    pool_added: int  # sound training crafts, each recorded into the run's replay pool
    pool_size: int | None  # the pool after the round (it keeps the newest crafts of each verdict)
    evasion: Rate  # the round's attacker against the defender it trained against: cross-play cell (r, r-1)
    evasion_after: Rate  # the same crafts against the round's new defender: cross-play cell (r, r)
    evaluation: Outcomes  # what became of the round's evaluation crafts
    diversity: Diversity  # of the evaluation crafts
    defender_before_on_latest: Rate  # accuracy of the defender it trained against on its sound evaluation crafts
    defender_on_latest: Rate  # accuracy of the round's new defender on them
    holdout: dict  # the round's new defender on the frozen hold-out
    holdout_change: dict  # against the previous defender, paired by item
    defender_update: DefenderUpdate | None = None  # the validation gate's decision (None: the league has none)


@dataclass
class SelfPlayResult:
    """Everything a self-play run measured; ``to_json`` is deterministic for the run's configuration."""

    run_id: str
    config: dict
    initial_holdout: dict
    initial_diversity: Diversity
    initial_evasion: Rate  # the untrained attacker against the initial defender
    rounds: list[RoundRecord]
    cross_play: list[list[Rate]]  # [attacker 0..R][defender 0..R]: evasion rate
    replay_pool_sound: bool | None  # every craft in the run's pool re-adjudicated sound (None: not visible)
    sigmahq_rules: int = 0  # SigmaHQ rules contesting the crafts ($OPENSOC_SIGMAHQ_RULES); 0: OpenSOC's own only

    def to_json(self) -> str:
        return json.dumps(_written(self), indent=1, sort_keys=False) + "\n"

    @property
    def holdout_series(self) -> list[float]:
        return [self.initial_holdout["accuracy"]["rate"], *(r.holdout["accuracy"]["rate"] for r in self.rounds)]


# ----------------------------------------------------------------------------------------------- the rounds


@dataclass(frozen=True)
class EvalSpec:
    """The crafts each attacker is measured by: ``episodes`` plans on the seeds from ``seed_start``, sampled with
    ``rng_seed`` (the same for every attacker, so rows of the cross-play matrix differ by the policy alone)."""

    episodes: int
    seed_start: int
    rng_seed: int

    def plans(self, attacker: Attacker) -> list[Plan]:
        return attacker.plan(range(self.seed_start, self.seed_start + self.episodes), np.random.default_rng(self.rng_seed))


def cross_play(attackers: Sequence[Attacker], defenders: Sequence[Policy], spec: EvalSpec,
               progress: Callable[[int], Any] | None = None) -> list[list[Rate]]:
    """Evasion of every attacker against every defender: each attacker's evaluation crafts, made once, each played
    in a real episode against each defender on a fresh run."""
    matrix = []
    for attacker in attackers:
        plans = spec.plans(attacker)
        crafts = make_crafts(attacker, plans)
        row = []
        for defender in defenders:
            row.append(evasion(play(plans, crafts, defender, AttackerRun())))
            if progress is not None:
                progress(1)
        matrix.append(row)
    return matrix


def run_rounds(league: League, rounds: int, spec: EvalSpec, holdout_seed: int = 0,
               on_round: Callable[[int, Attacker, Policy], None] | None = None,
               show_progress: bool = True) -> tuple[SelfPlayResult, list[Attacker], list[Policy]]:
    """Run ``rounds`` rounds of ``league`` and measure them; returns the result and every round's attacker and
    defender (index 0: before the first round). ``on_round`` is called with each round's new pair (to save it)."""
    attackers: list[Attacker] = [league.initial_attacker()]
    defenders: list[Policy] = [league.initial_defender()]
    holdouts = [holdout(defenders[0], holdout_seed)]
    plans0 = spec.plans(attackers[0])
    bouts0 = play(plans0, make_crafts(attackers[0], plans0), defenders[0], AttackerRun())
    records: list[RoundRecord] = []
    for r in tqdm(range(1, rounds + 1), desc="self-play rounds", unit="round", disable=not show_progress):
        attacker, training = league.train_attacker(r, attackers[-1], defenders[-1])
        plans = spec.plans(attacker)
        crafts = make_crafts(attacker, plans)
        against_current = play(plans, crafts, defenders[-1], AttackerRun())
        defender = league.train_defender(r, defenders[-1])
        update = league.defender_update(r)
        against_new = play(plans, crafts, defender, AttackerRun())
        scored = holdout(defender, holdout_seed + r)
        records.append(RoundRecord(
            round=r, training=Outcomes.of(training), pool_added=sum(b.sound for b in training),
            pool_size=league.pool_size(), evasion=evasion(against_current), evasion_after=evasion(against_new),
            evaluation=Outcomes.of(against_current),
            diversity=Diversity.of(against_current), defender_before_on_latest=caught_share(against_current),
            defender_on_latest=caught_share(against_new), holdout=scored.to_json(),
            holdout_change=paired_change(holdouts[-1], scored, holdout_seed + 1000 + r), defender_update=update))
        attackers.append(attacker)
        defenders.append(defender)
        holdouts.append(scored)
        if on_round is not None:
            on_round(r, attacker, defender)
    with tqdm(total=len(attackers) * len(defenders), desc="cross-play", unit="cell", disable=not show_progress) as bar:
        matrix = cross_play(attackers, defenders, spec, bar.update)
    result = SelfPlayResult(run_id=league.run_id, config={}, initial_holdout=holdouts[0].to_json(),
                            initial_diversity=Diversity.of(bouts0), initial_evasion=evasion(bouts0), rounds=records,
                            cross_play=matrix, replay_pool_sound=None)
    return result, attackers, defenders


# ----------------------------------------------------------------------------------------------- reports


def markdown(result: SelfPlayResult) -> str:
    """The per-round table and the cross-play matrix, as markdown."""
    contest = (f"crafts contested by OpenSOC's indicators and {result.sigmahq_rules} SigmaHQ rules"
               if result.sigmahq_rules else "crafts contested by OpenSOC's own indicators only (no SigmaHQ rules)")
    lines = [f"Self-play run `{result.run_id}`: {len(result.rounds)} rounds, {contest}. Intervals are 95% (Wilson for "
             "shares, bootstrap for mean rewards).", "",
             "| round | evasion vs the defender it trained against | unsound (training crafts) | unsound (evaluation) | "
             "top refusal reasons | templates (effective) | techniques | ways to win | defender it trained against, on its sound crafts | "
             "new defender, on its sound crafts | defender update | validation, previous → new (accuracy, mean reward) | "
             "hold-out accuracy | hold-out mean reward | pool |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    h0 = result.initial_holdout
    d0 = result.initial_diversity
    lines.append(f"| 0 (untrained attacker, curriculum defender) | {result.initial_evasion} | | | | {d0.template_families} "
                 f"({d0.effective_templates:.1f}) | {d0.techniques} | {d0.ways_to_win} | | | | | {Rate(**h0['accuracy'])} | "
                 f"{h0['mean_reward']:+.3f} [{h0['mean_reward_ci'][0]:+.3f}, {h0['mean_reward_ci'][1]:+.3f}] | |")
    for r in result.rounds:
        reasons = ", ".join(f"{k} {v}" for k, v in list(r.evaluation.reasons.items())[:3]) or "-"
        d, h, u = r.diversity, r.holdout, r.defender_update
        lines.append(f"| {r.round} | {r.evasion} | {r.training.unsound} | {r.evaluation.unsound} | {reasons} | "
                     f"{d.template_families} ({d.effective_templates:.1f}) | {d.techniques} | {d.ways_to_win} | "
                     f"{r.defender_before_on_latest} | {r.defender_on_latest} | {u.decision if u else '-'} | "
                     f"{u.summary() if u else '-'} | {Rate(**h['accuracy'])} | "
                     f"{h['mean_reward']:+.3f} [{h['mean_reward_ci'][0]:+.3f}, {h['mean_reward_ci'][1]:+.3f}] | "
                     f"{r.pool_size if r.pool_size is not None else '-'} |")
    if any(r.defender_update for r in result.rounds):
        lines += ["", "Defender update: each round's new weights are scored on a validation set held back from all "
                  "training and evaluation (curriculum incidents of every stage, and sound crafts of the round's "
                  "attacker). The update is fitted at the learning rate and at each halving of it; of the candidates not "
                  "below the previous defender on each part (accuracy, then mean reward), the one that answers the "
                  "fewest curriculum incidents for a lower reward than the previous defender did is accepted, and "
                  "when none is, the previous weights are kept. Training targets on curriculum incidents the "
                  "previous defender answers right lean towards its own answer (distillation, against churn). The "
                  "frozen hold-out decides nothing."]
    n = len(result.cross_play)
    lines += ["", "Cross-play: evasion rate of each round's attacker (rows) against each round's defender (columns); "
              "attacker 0 is untrained, defender 0 trained on the curriculum alone. Cell (r, r-1) is the round's own "
              "figure.", "", "| attacker \\ defender | " + " | ".join(str(c) for c in range(n)) + " |",
              "|---|" + "---|" * n]
    for a, row in enumerate(result.cross_play):
        lines.append(f"| {a} | " + " | ".join(str(cell) for cell in row) + " |")
    return "\n".join(lines) + "\n"


def plot_curves(result: SelfPlayResult, path: Path, title: str = "Self-play on a CPU, round by round") -> None:
    import matplotlib  # optional heavy dependency: matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # optional heavy dependency: matplotlib

    rounds = [r.round for r in result.rounds]
    xs = [0, *rounds]
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2))

    def band(axis, x, rates, label, color, marker="o"):
        axis.plot(x, [q.rate for q in rates], label=label, color=color, marker=marker, ms=4)
        axis.fill_between(x, [q.lo for q in rates], [q.hi for q in rates], color=color, alpha=0.15, linewidth=0)

    band(ax, xs, [result.initial_evasion, *(r.evasion for r in result.rounds)],
         "attacker's evasion vs the defender it trained against", "#c0392b")
    band(ax, rounds, [r.defender_on_latest for r in result.rounds], "new defender's accuracy on those sound crafts",
         "#2e86c1", "s")
    band(ax, rounds, [r.training.unsound for r in result.rounds], "unsound training crafts (paid nothing)", "#2c3e50", "^")
    band(ax, xs, [Rate(**result.initial_holdout["accuracy"]), *(Rate(**r.holdout["accuracy"]) for r in result.rounds)],
         "defender's hold-out accuracy", "#27ae60", "D")
    ax.set_ylim(0, 1.05)
    ax.set_xticks(xs)
    ax.set_xlabel("round (0: before self-play)")
    ax.legend(fontsize=7.5, loc="lower left")
    ax.set_title("both roles (95% intervals)")
    divs = [result.initial_diversity, *(r.diversity for r in result.rounds)]
    bx.plot(xs, [d.effective_templates for d in divs], label="effective templates (2^entropy)", color="#8e44ad", marker="o")
    bx.plot(xs, [d.template_families for d in divs], label="distinct templates", color="#8e44ad", linestyle="--")
    bx.plot(xs, [d.techniques for d in divs], label="ATT&CK techniques (sound crafts)", color="#d35400", marker="s")
    bx.plot(xs, [d.ways_to_win for d in divs], label="ways to win (distinct signatures)", color="#c0392b", marker="^")
    bx.set_xticks(xs)
    bx.set_xlabel("round")
    bx.set_ylim(bottom=0)
    bx.legend(fontsize=7.5)
    bx.set_title("what the attacker builds (evaluation crafts)")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)


def plot_matrix(result: SelfPlayResult, path: Path, title: str = "Cross-play: attacker's evasion rate") -> None:
    import matplotlib  # optional heavy dependency: matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # optional heavy dependency: matplotlib

    m = np.array([[c.rate for c in row] for row in result.cross_play])
    n_a, n_d = m.shape
    fig, ax = plt.subplots(figsize=(1.1 * n_d + 2.2, 0.8 * n_a + 1.6))
    im = ax.imshow(m, cmap="Reds", vmin=0, vmax=1, aspect="auto")  # cells fill the axes: no empty margin beside them
    for a in range(n_a):
        for d in range(n_d):
            c = result.cross_play[a][d]
            ax.text(d, a, f"{c.rate:.0%}\n[{c.lo:.0%}, {c.hi:.0%}]", ha="center", va="center", fontsize=7.5,
                    color="white" if c.rate > 0.6 else "black", fontweight="bold" if d == a - 1 else "normal")
    ax.set_xticks(range(n_d), [f"D{d}" for d in range(n_d)])
    ax.set_yticks(range(n_a), [f"A{a}" for a in range(n_a)])
    ax.set_xlabel("defender after round (D0: curriculum only)")
    ax.set_ylabel("attacker of round (A0: untrained)")
    ax.set_title(title + "\n(bold: each attacker against the defender it trained against)", fontsize=9.5)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)
