"""The attacker, rewrite, SigmaHQ-corpus and honest-play figures of ``opensoc audit`` on another tree of OpenSOC.

``bench/audit_before.json`` holds them for the verifier that default-deny admission replaced (commit 525c710), so
``opensoc audit`` prints before and after side by side. To measure a tree, put it on the path as ``opensoc`` with this
tree's ``audit/rewrites.py`` copied into it (the rewrites are the yardstick, so both sides use the same ones)::

    git worktree add /tmp/before 525c710 && cp audit/rewrites.py /tmp/before/audit/
    mkdir -p /tmp/pkg && ln -s /tmp/before /tmp/pkg/opensoc
    PYTHONPATH=/tmp/pkg python bench/audit_before.py --rules ../shared/data/sigmahq > bench/audit_before.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
from collections import Counter

STAGES = ("stage1_basic", "stage2_multi", "stage3_mixed", "stage4_adversarial")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=400, help="crafts per CPU attacker policy")
    parser.add_argument("--seeds", type=int, default=100, help="generated incidents per stage")
    parser.add_argument("--rules", required=True, help="a SigmaHQ rules folder (for the corpus)")
    args = parser.parse_args()

    import numpy as np

    import opensoc
    from opensoc.adjudication.gate import adjudicate
    from opensoc.adjudication.sigmahq import load_rules
    from opensoc.audit.rewrites import judge_corpus_event, sweep
    from opensoc.audit.sigma_corpus import build_corpus
    from opensoc.env import OpenSOCEnv
    from opensoc.families.runs import AttackerRun
    from opensoc.families.triage.family import DEFAULT_DEFENDER_POLICY
    from opensoc.generator import generate
    from opensoc.train.cpu_attacker import CategoricalAttacker, play

    attacker = {}
    for name, policy in {"uniform": CategoricalAttacker(), "trained": CategoricalAttacker.load()}.items():
        rng, env = np.random.default_rng(0), OpenSOCEnv(AttackerRun())
        outcomes: Counter[str] = Counter()
        for i, action in enumerate(policy.sample(rng, args.episodes)):
            outcomes[play(env, int(action), 7_000_000 + i, DEFAULT_DEFENDER_POLICY)[1]] += 1
        unsound = sum(outcomes[o] for o in ("implausible", "contested", "mislabelled"))
        attacker[name] = {"episodes": args.episodes, "evasion_rate": outcomes["evaded"] / args.episodes,
                          "unsound_rate": unsound / args.episodes, "outcomes": dict(outcomes.most_common())}
    rewrites = {f: {"rewrites": r.total, "kept": r.kept, "refused": dict(r.refused.most_common()),
                    "paid_flips": len(r.flipped)} for f, r in sweep(STAGES, range(args.seeds)).items()}
    corpus = build_corpus(load_rules(args.rules))
    played: Counter[str] = Counter()
    paid = []
    for item in corpus.items:
        refusal, verdict = judge_corpus_event(item.event)
        played[f"refused: {refusal}" if refusal else f"sound: {verdict}"] += 1
        if refusal is None and verdict == "dismiss":
            paid.append(item.title)
    honest = Counter(adjudicate(generate(t, s)).outcome or "sound" for t in STAGES for s in range(args.seeds))
    commit = subprocess.run(["git", "-C", opensoc.__path__[0], "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    print(json.dumps({"commit": commit, "attacker": attacker, "rewrites": rewrites,
                      "sigma_corpus": {"events": len(corpus.items), "outcomes": dict(played.most_common()),
                                       "paid_as_dismiss": paid},
                      "honest_play": dict(honest)}, indent=1))


if __name__ == "__main__":
    main()
