"""``opensoc audit``: how much of what an attacker can write the verifier reads, measured.

Five measurements, each deterministic for its arguments:

- the software catalog's size (programs, cmdlets, .NET methods, uses by class) and the verdict table's;
- admission of honest play: the generator's incidents of every stage, each adjudicated as a craft (refused,
  contested and mislabelled counts, all expected to be 0, and which rule contested what);
- semantics-preserving rewrites of those incidents (``audit.rewrites``): kept, refused by code, paid flips (0);
- the SigmaHQ corpus (one event per community rule, written from the rule alone) played as one-event crafts
  claimed benign, when the rules are loaded (``$OPENSOC_SIGMAHQ_RULES``);
- the CPU attacker (uniform over its actions, and the committed trained policy): how often its crafts evade the
  built-in defender on sound ground, and how often they are unsound (refused, so paid nothing).

``bench/audit_before.json`` holds the same attacker figures measured on the verifier this design replaced, so the
report prints them side by side.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from ..adjudication.contest import community_rules
from ..adjudication.gate import adjudicate
from ..env import OpenSOCEnv
from ..families.runs import AttackerRun
from ..families.triage.family import DEFAULT_DEFENDER_POLICY
from ..generator import generate
from ..train.cpu_attacker import ACTIONS, CategoricalAttacker, play
from ..verifier import VERDICT_RULES
from ..world.catalog import BENIGN_CLASSES, BUILTINS, CMDLETS, METHODS, PROGRAMS, Cmdlet, Program
from .rewrites import REWRITES, judge_corpus_event, sweep
from .sigma_corpus import build_corpus

STAGES = ("stage1_basic", "stage2_multi", "stage3_mixed", "stage4_adversarial")
BEFORE = Path(__file__).resolve().parent.parent / "bench" / "audit_before.json"

Progress = Callable[[int], None]


def catalog_size() -> dict[str, Any]:
    entries: list[Program | Cmdlet] = [*PROGRAMS.values(), *CMDLETS.values(), *METHODS.values(), *BUILTINS.values()]
    classes = Counter(u.klass for e in entries for u in (*e.uses, e.otherwise) if u is not None)
    return {"programs": len(PROGRAMS), "cmdlets": len(CMDLETS), "methods": len(METHODS), "builtins": len(BUILTINS),
            "uses": sum(classes.values()), "uses_by_class": dict(sorted(classes.items())),
            "benign_classes": sorted(BENIGN_CLASSES),
            "verdict_rules": sum(r.malicious for r in VERDICT_RULES),
            "context_rules": sum(not r.malicious for r in VERDICT_RULES)}


def honest_play(seeds: Iterable[int], progress: Progress | None = None) -> dict[str, Any]:
    """Every stage's generated incidents adjudicated as crafts: refusals by code, contests by rule, mislabels."""
    seeds = list(seeds)
    refused: Counter[str] = Counter()
    contested: Counter[str] = Counter()
    mislabelled = 0
    for task in STAGES:
        for seed in seeds:
            params = generate(task, seed)
            result = adjudicate(params)
            refused.update(v.code for v in result.plausibility.violations)
            contested.update(f"{h.source}: {h.title}" for h in result.contested_by)
            mislabelled += result.truth.action != params.target_label
            if progress:
                progress(1)
    n = len(STAGES) * len(seeds)
    return {"incidents": n, "refused": dict(refused), "contested_by_rule": dict(contested.most_common()),
            "mislabelled": mislabelled, "sigmahq_loaded": community_rules() is not None}


def rewrites(seeds: Iterable[int], progress: Progress | None = None) -> dict[str, Any]:
    results = sweep(STAGES, list(seeds), progress=progress)
    return {family: {"rewrites": r.total, "kept": r.kept, "refused": dict(r.refused.most_common()),
                     "paid_flips": len(r.flipped), "flips": r.flipped[:10], "what": REWRITES[family][0]}
            for family, r in results.items()}


def sigma_corpus(progress: Progress | None = None) -> dict[str, Any] | None:
    """The SigmaHQ corpus played as one-event crafts claimed benign: none may be paid as ``dismiss``."""
    ruleset = community_rules()
    if ruleset is None:
        return None
    corpus = build_corpus(ruleset)
    outcomes: Counter[str] = Counter()
    paid = []
    for item in corpus.items:
        refusal, verdict = judge_corpus_event(item.event)
        outcomes[f"refused: {refusal}" if refusal else f"sound: {verdict}"] += 1
        if refusal is None and verdict == "dismiss":
            paid.append(item.title)
        if progress:
            progress(1)
    return {"events": len(corpus.items), "outcomes": dict(outcomes.most_common()), "paid_as_dismiss": paid}


def attacker_rates(episodes: int, seed: int = 0, progress: Progress | None = None) -> dict[str, Any]:
    """The CPU attacker's crafts against the built-in defender: outcome shares for a uniform choice over its
    actions and for the committed trained policy."""
    policies = {"uniform": CategoricalAttacker(), "trained": CategoricalAttacker.load()}
    out: dict[str, Any] = {}
    for name, attacker in policies.items():
        rng, env = np.random.default_rng(seed), OpenSOCEnv(AttackerRun())
        outcomes: Counter[str] = Counter()
        for i, action in enumerate(attacker.sample(rng, episodes)):
            outcomes[play(env, int(action), 7_000_000 + i, DEFAULT_DEFENDER_POLICY)[1]] += 1
            if progress:
                progress(1)
        unsound = sum(outcomes[o] for o in ("implausible", "contested", "mislabelled"))
        out[name] = {"episodes": episodes, "evasion_rate": outcomes["evaded"] / episodes,
                     "unsound_rate": unsound / episodes, "outcomes": dict(outcomes.most_common())}
    out["actions"] = len(ACTIONS)
    return out


def before() -> dict[str, Any] | None:
    return json.loads(BEFORE.read_text()) if BEFORE.is_file() else None


def render(report: dict[str, Any]) -> str:
    """The report as text, one block per measurement."""
    lines = []
    c = report["catalog"]
    lines += ["Software catalog",
              f"  {c['programs']} programs, {c['cmdlets']} cmdlets, {c['methods']} .NET methods, {c['builtins']} cmd.exe "
              f"internal commands: {c['uses']} uses",
              "  by class: " + ", ".join(f"{k} {v}" for k, v in c["uses_by_class"].items()),
              f"  verdict table: {c['verdict_rules']} attack rules, {c['context_rules']} context rules", ""]
    h = report["honest_play"]
    lines += [f"Honest play: {h['incidents']} generated incidents adjudicated as crafts "
              f"(SigmaHQ rules {'loaded' if h['sigmahq_loaded'] else 'NOT loaded: set OPENSOC_SIGMAHQ_RULES'})",
              f"  refused: {sum(h['refused'].values())}" + (f" {h['refused']}" if h["refused"] else ""),
              f"  contested: {sum(h['contested_by_rule'].values())}",
              *[f"    {n} x {rule}" for rule, n in h["contested_by_rule"].items()],
              f"  mislabelled: {h['mislabelled']}", ""]
    was = report.get("before") or {}
    lines += ["Semantics-preserving rewrites (kept / refused / paid flips" + (f"; paid flips on {was['commit']}"
                                                                             if was else "") + ")"]
    for family, r in report["rewrites"].items():
        refused = ", ".join(f"{k} {v}" for k, v in r["refused"].items())
        old = was.get("rewrites", {}).get(family)
        then = f"; before {old['paid_flips']} of {old['rewrites']}" if old else ""
        lines.append(f"  {family:<20} {r['rewrites']:>5} rewrites: kept {r['kept']}, refused {sum(r['refused'].values())}"
                     f"{f' ({refused})' if refused else ''}, paid flips {r['paid_flips']}{then}")
    lines.append("")
    s = report.get("sigma_corpus")
    if s is None:
        lines += ["SigmaHQ corpus: not played (set OPENSOC_SIGMAHQ_RULES to a SigmaHQ rules folder)", ""]
    else:
        lines += [f"SigmaHQ corpus: {s['events']} real-attack events written from the community rules, played as "
                  f"one-event crafts claimed benign: {len(s['paid_as_dismiss'])} paid as dismiss"
                  + (f" (before: {len(was['sigma_corpus']['paid_as_dismiss'])})" if was.get("sigma_corpus") else ""),
                  *[f"  {n} {o}" for o, n in s["outcomes"].items()], ""]
    a = report.get("attacker")
    if a is not None:
        old = was.get("attacker", {})
        lines.append("CPU attacker against the built-in defender (evasion on sound crafts / unsound crafts)")
        for name in ("uniform", "trained"):
            if name not in a:
                continue
            now = a[name]
            was = old.get(name)
            then = (f"before {was['evasion_rate']:.1%} / {was['unsound_rate']:.1%}, " if was else "")
            lines.append(f"  {name:<8} {then}now {now['evasion_rate']:.1%} / {now['unsound_rate']:.1%} "
                         f"({now['episodes']} crafts: {now['outcomes']})")
    return "\n".join(lines).rstrip() + "\n"
