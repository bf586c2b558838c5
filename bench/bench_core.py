"""In-process speed of OpenSOC's core: episodes per second for each curriculum stage, and crafted incidents checked per second.

An episode here is what a defender_only reset and step cost when the incident is new: generate the
incident, compute its ground truth, materialise the alert and the defender's prompt, and score a
triage. A craft is what an attacker's step costs: schema validation, plausibility, the independent
suspicion check and the attacker's score. Seeds are distinct, so no cache helps. Each figure is the
median of ``--rounds`` interleaved rounds; the JSON goes to bench/core_results.json (or ``--out``). It also times
checking one craft call by call (``craft_check_ms_median``), with the SigmaHQ rules when ``$OPENSOC_SIGMAHQ_RULES``
names them.

    python bench/bench_core.py [--seconds 2] [--rounds 5] [--out bench/core_results.json]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import statistics
import time
from pathlib import Path

TASKS = ("stage1_basic", "stage2_multi", "stage3_mixed", "stage4_adversarial")


def _episodes(task: str, seconds: float, seed0: int) -> float:
    from opensoc.families.triage.family import materialize
    from opensoc.generator import generate
    from opensoc.rubric import score_triage
    from opensoc.schema import SubmitTriage

    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        m = materialize(generate(task, seed0 + n))
        score_triage(m.truth, SubmitTriage(action="monitor", cited_log_id=m.incident.events[0].log_id))
        n += 1
    return n / (time.perf_counter() - start)


@functools.cache
def _warm_up() -> None:
    """Adjudicate incidents of every stage once, on seeds no measurement uses, so that every rule set (the SigmaHQ
    rules load per log source) is loaded before anything is timed."""
    from opensoc.adjudication.gate import adjudicate
    from opensoc.generator import generate

    for task in TASKS:
        for seed in range(90_000_000, 90_000_020):
            adjudicate(generate(task, seed))


def _crafts(task: str, seconds: float, seed0: int) -> float:
    from opensoc.generator import generate
    from opensoc.rubric import score_incident
    from opensoc.schema import IncidentParams

    payloads = [generate(task, seed0 + i).model_dump(mode="json") for i in range(200)]
    _warm_up()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        params = IncidentParams.model_validate(payloads[n % len(payloads)])
        score_incident(params, "dismiss")
        n += 1
    return n / (time.perf_counter() - start)


def _craft_latency(task: str, n: int, seed0: int) -> float:
    """Median milliseconds to check one craft (validation and adjudication, the SigmaHQ rules included when
    ``$OPENSOC_SIGMAHQ_RULES`` names them), timed call by call over ``n`` distinct incidents."""
    from opensoc.adjudication.gate import adjudicate
    from opensoc.generator import generate
    from opensoc.schema import IncidentParams

    payloads = [generate(task, seed0 + i).model_dump(mode="json") for i in range(n)]
    _warm_up()
    times = []
    for payload in payloads[1:]:
        start = time.perf_counter()
        adjudicate(IncidentParams.model_validate(payload))
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("core_results.json"))
    args = parser.parse_args()
    rounds: dict[str, list[float]] = {}
    latency: dict[str, list[float]] = {}
    for r in range(args.rounds):
        for task in TASKS:
            seed0 = 1_000_000 * (r + 1)
            rounds.setdefault(f"episodes/{task}", []).append(_episodes(task, args.seconds, seed0))
            rounds.setdefault(f"crafts/{task}", []).append(_crafts(task, args.seconds / 2, seed0))
            latency.setdefault(task, []).append(_craft_latency(task, 200, seed0 + 500_000))
    result = {
        "machine": f"{platform.machine()}, {platform.processor() or 'unknown CPU'}, Python {platform.python_version()}",
        "rounds": args.rounds,
        "median_per_s": {k: round(statistics.median(v), 1) for k, v in rounds.items()},
        "min_per_s": {k: round(min(v), 1) for k, v in rounds.items()},
        "max_per_s": {k: round(max(v), 1) for k, v in rounds.items()},
        "craft_check_ms_median": {k: round(statistics.median(v), 3) for k, v in latency.items()},
        "sigmahq_rules": bool(os.environ.get("OPENSOC_SIGMAHQ_RULES")),
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    for k, v in result["median_per_s"].items():
        print(f"{k:32s} {v:10,.0f}/s  ({result['min_per_s'][k]:,.0f}-{result['max_per_s'][k]:,.0f})")
    for k, ms in result["craft_check_ms_median"].items():
        print(f"craft check/{k:21s} {ms:8.2f} ms median")


if __name__ == "__main__":
    main()
