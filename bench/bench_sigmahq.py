"""Speed of the SigmaHQ second opinion: loading the rules, and matching them against one crafted incident.

- load: ``load_rules`` on the snapshot, cold (a fresh interpreter: imports, YAML, pySigma, compiling and indexing;
  the median of ``--cold-runs``) and again in the same process (the files in the OS cache). There is no on-disk
  cache of compiled rules: a cold load stays under the 3 s that would call for one.
- match: ``SigmaRuleSet.matches(incident.events)`` per incident, each timed as the best of ``--repeat`` calls with
  garbage collection paused; median and p95 over ``--incidents`` generated stage3_mixed incidents (and over those
  of 1 to 20 events), over every corpus event as a one-event incident, and over incidents of 1 to 20 corpus events
  (rule-shaped events only: the worst realistic case). Brute force (every rule of the log source, no prefilter)
  is timed beside the first.

    OPENSOC_SIGMAHQ_RULES=../shared/data/sigmahq python bench/bench_sigmahq.py [--incidents 300] [--out ...]

Without the variable, the snapshot beside the repository (../shared/data/sigmahq) is used.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_RULES = REPO.parent / "shared" / "data" / "sigmahq"

_COLD = """
import json, sys, time
start = time.perf_counter()
from opensoc.adjudication.sigmahq import load_rules
imported = time.perf_counter()
rules = load_rules(sys.argv[1])
print(json.dumps({"import_s": imported - start, "load_s": time.perf_counter() - imported, "kept": rules.kept}))
"""


def _best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        gc.disable()
        try:
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        finally:
            gc.enable()
    return min(times)


def _summary(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    return {"n": len(ordered), "median_ms": round(statistics.median(ordered) * 1e3, 4),
            "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] * 1e3, 4),
            "max_ms": round(ordered[-1] * 1e3, 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=Path, default=None, help="SigmaHQ folder (default: $OPENSOC_SIGMAHQ_RULES)")
    parser.add_argument("--incidents", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cold-runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("sigmahq_results.json"))
    args = parser.parse_args()

    from opensoc.adjudication.sigmahq import load_rules, rules_path
    from opensoc.audit.sigma_corpus import build_corpus
    from opensoc.generator import generate

    root = args.rules or rules_path() or DEFAULT_RULES
    cold = []
    for _ in range(args.cold_runs):
        out = subprocess.run([sys.executable, "-c", _COLD, str(root)], capture_output=True, text=True, check=True,
                             cwd=REPO.parent)
        cold.append(json.loads(out.stdout))
    rules = load_rules(root)
    start = time.perf_counter()
    rules = load_rules(root)
    warm_s = time.perf_counter() - start

    incidents = [generate("stage3_mixed", seed).events for seed in range(args.incidents)]
    generated = [_best(lambda ev=ev: rules.matches(ev), args.repeat) for ev in incidents]
    typical = [t for t, ev in zip(generated, incidents, strict=True) if 1 <= len(ev) <= 20]
    brute = [_best(lambda ev=ev: rules.matches(ev, brute_force=True), 1) for ev in incidents]

    start = time.perf_counter()
    corpus = build_corpus(rules)
    corpus_s = time.perf_counter() - start
    from pydantic import TypeAdapter

    from opensoc.schema import Event

    adapter = TypeAdapter(Event)
    events = [adapter.validate_python(item.event) for item in corpus.items]
    singles = [_best(lambda e=e: rules.matches([e]), args.repeat) for e in events]
    rng = random.Random(0)
    groups = []
    for i in range(args.incidents):
        picked = rng.sample(events, rng.randint(1, 20))
        groups.append([e.model_copy(update={"log_id": f"L{i}-{j}"}) for j, e in enumerate(picked)])
    grouped = [_best(lambda g=g: rules.matches(g), args.repeat) for g in groups]

    results = {
        "machine": {"platform": platform.platform(), "processor": platform.processor() or "unknown",
                    "python": platform.python_version(), "cpu_count": os.cpu_count()},
        "rules": {"kept": rules.kept, "skipped": sum(rules.skipped.values()),
                  "skipped_by_reason": dict(rules.skipped.most_common()), "by_logsource": dict(rules.by_logsource())},
        "load_s": {"cold_median": round(statistics.median(c["import_s"] + c["load_s"] for c in cold), 3),
                   "cold_load_only_median": round(statistics.median(c["load_s"] for c in cold), 3),
                   "cold_runs": [round(c["import_s"] + c["load_s"], 3) for c in cold],
                   "same_process_again": round(warm_s, 3), "on_disk_cache": None},
        "match_per_incident": {
            "generated_stage3_mixed": _summary(generated),
            "generated_stage3_mixed_1_to_20_events": _summary(typical),
            "generated_stage3_mixed_brute_force": _summary(brute),
            "corpus_single_events": _summary(singles),
            "corpus_incidents_1_to_20_events": _summary(grouped),
        },
        "corpus": {"build_s": round(corpus_s, 3), "events": len(corpus.items), "rules": rules.kept,
                   "yield_by_logsource": {k: {"yielded": y, "rules": n} for k, (y, n) in
                                          corpus.yield_by_logsource().items()},
                   "unwritten_reasons_top": dict(corpus.reasons().most_common(12))},
        "measured": time.strftime("%Y-%m-%d"),
    }
    args.out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
