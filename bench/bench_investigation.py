"""Speed of the investigation mode: building a case's store, and answering each tool.

For each investigation task: building a case from a new seed (the incident, hours of background telemetry, the
renumbering and the check that the background leaves the verdict alone), indexing it on the first query, and then
the median latency of each tool on a built case (a host search over the alert's hour, a free-text search over the
whole store, a count, a lookup, a process tree). Also the size of the first prompt. Each figure is the median over
``--cases`` cases; the JSON goes to bench/investigation_results.json.

    python bench/bench_investigation.py [--cases 20]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from datetime import timedelta
from pathlib import Path


def _ms(fn) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def main() -> None:
    from opensoc.env import OpenSOCEnv
    from opensoc.families.investigation.case import build_case
    from opensoc.families.investigation.tasks import INVESTIGATION_TASKS
    from opensoc.families.investigation.tools import run_tool
    from opensoc.parsing.timestamps import format_timestamp, parse_timestamp

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=20)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("investigation_results.json"))
    args = parser.parse_args()
    results = {}
    for task in INVESTIGATION_TASKS:
        build, index, sizes, prompts = [], [], [], []
        tools: dict[str, list[float]] = {k: [] for k in ("search_host_hour", "search_text", "count", "lookup_host", "process_tree")}
        for i in range(args.cases):
            seed = 9_000_000 + i
            build.append(_ms(lambda task=task, seed=seed: build_case(task, seed)))
            case = build_case(task, seed)
            sizes.append(len(case.store))
            index.append(_ms(lambda case=case: run_tool(case.store, "search", {"query": "log_id=none"})))
            t = parse_timestamp(case.alert.time)
            hour = {"start": format_timestamp(t - timedelta(minutes=30)),
                    "end": format_timestamp(t + timedelta(minutes=30))}
            calls = {"search_host_hour": ("search", {"host": case.alert.host, "limit": 50, **hour}),
                     "search_text": ("search", {"query": "powershell", "limit": 50}),
                     "count": ("count", {"query": "event_type=network_connection", "by": "destination.ip"}),
                     "lookup_host": ("lookup_host", {"name": case.alert.host}),
                     "process_tree": ("process_tree", {"host": case.alert.host, **hour})}
            for key, (name, arguments) in calls.items():
                tools[key].append(_ms(lambda case=case, name=name, arguments=arguments: run_tool(case.store, name, arguments)))
            prompts.append(len(OpenSOCEnv().reset(task=task, seed=seed).prompt))
        results[task] = {
            "store_events_median": statistics.median(sizes),
            "build_ms_median": round(statistics.median(build), 1),
            "first_query_ms_median": round(statistics.median(index), 1),
            "tool_ms_median": {k: round(statistics.median(v), 2) for k, v in tools.items()},
            "first_prompt_chars_median": statistics.median(prompts),
        }
        print(f"{task}: {results[task]}")
    out = {"machine": f"{platform.machine()}, Python {platform.python_version()}", "cases": args.cases, "tasks": results}
    args.out.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
