"""Throughput of OpenSOC: in-process episodes, and HTTP and WebSocket episodes under concurrent clients.

Starts ``python server.py`` and, side by side in the same run, the ``openenv`` library's
own server with a do-nothing echo environment, then drives both from one load process.
An episode is a reset plus one step (defender_only for OpenSOC). OpenSOC is measured in
two regimes: every episode a new incident (distinct seeds, the worst case) and GRPO-style
groups, where each seed is played ``--group`` times, as GRPO's rollouts of one prompt are.
Prints a markdown table and writes the figures to bench/results.json.

    python bench/bench_service.py [--clients 32] [--episodes 60] [--seconds 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

REPO = Path(__file__).resolve().parent.parent
TASKS = ("stage1_basic", "stage2_multi", "stage3_mixed", "stage4_adversarial")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(cmd: list[str], port: int, env: dict | None = None) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, cwd=REPO, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"server did not start: {' '.join(cmd)}")


def bench_in_process(seconds: float) -> dict[str, float]:
    from opensoc.env import OpenSOCEnv
    from opensoc.incidents.defenders import heuristic

    out = {}
    env = OpenSOCEnv()
    for task in TASKS:
        n, start, seed = 0, time.perf_counter(), 0
        while time.perf_counter() - start < seconds / len(TASKS):
            obs = env.reset(task=task, seed=seed)
            env.step({"submit_triage": heuristic(obs.alert).model_dump()})
            n, seed = n + 1, seed + 1
        out[task] = n / (time.perf_counter() - start)
    return out


def _seed(seed_base: int, i: int, group: int) -> int:
    return seed_base + i // group


async def _ws_client(url: str, episodes: int, reset: dict, action: dict, seed_base: int, group: int) -> int:
    async with connect(url, max_size=16 << 20) as ws:
        for i in range(episodes):
            await ws.send(json.dumps({"type": "reset", "data": {**reset, "seed": _seed(seed_base, i, group)}}))
            await ws.recv()
            await ws.send(json.dumps({"type": "step", "data": action}))
            await ws.recv()
    return episodes


async def _http_client(url: str, episodes: int, reset: dict, step: dict, seed_base: int, group: int) -> int:
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        for i in range(episodes):
            r = (await http.post("/reset", json={**reset, "seed": _seed(seed_base, i, group)})).json()
            eid = r.get("metadata", {}).get("episode_id") if isinstance(r.get("metadata"), dict) else None
            body = {"action": step, **({"episode_id": eid} if eid else {})}
            (await http.post("/step", json=body)).raise_for_status()
    return episodes


async def _drive(kind: str, base: str, clients: int, episodes: int, reset: dict, action: dict, group: int = 1,
                 seed_offset: int = 0) -> float:
    start = time.perf_counter()
    bases = [seed_offset + c * 10_000 for c in range(clients)]
    if kind == "ws":
        url = base.replace("http://", "ws://") + "/ws"
        done = await asyncio.gather(*[_ws_client(url, episodes, reset, action, b, group) for b in bases])
    else:
        done = await asyncio.gather(*[_http_client(base, episodes, reset, action, b, group) for b in bases])
    return sum(done) / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients per measurement")
    parser.add_argument("--episodes", type=int, default=60, help="episodes per client")
    parser.add_argument("--seconds", type=float, default=8.0, help="in-process measuring time")
    parser.add_argument("--group", type=int, default=8, help="rollouts per seed in the GRPO-style regime")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved rounds; the median is reported")
    args = parser.parse_args()

    print(f"[in-process] {args.seconds:g} s over {len(TASKS)} tasks", flush=True)
    in_process = bench_in_process(args.seconds)

    ours_port, echo_port = _free_port(), _free_port()
    ours = _start([sys.executable, "server.py"], ours_port, {"PORT": str(ours_port), "HOST": "127.0.0.1",
                                                           "LOG_LEVEL": "warning", "OPENSOC_MAX_WS_SESSIONS": "1024"})
    echo = _start([sys.executable, "bench/openenv_echo_server.py", str(echo_port)], echo_port)
    triage = {"submit_triage": {"action": "monitor", "cited_log_id": "L2-0", "rationale": "bench"}}
    plan = [  # (key, port, reset data, action, rollouts per seed); OpenEnv's own HTTP routes are stateless, so its
        # episodes are measured on /ws only
        ("opensoc_ws_distinct", ours_port, "ws", {"task": "stage2_multi", "mode": "defender_only"}, triage, 1),
        ("opensoc_ws_grouped", ours_port, "ws", {"task": "stage2_multi", "mode": "defender_only"}, triage, args.group),
        ("opensoc_http_distinct", ours_port, "http", {"task": "stage2_multi", "mode": "defender_only"}, triage, 1),
        ("opensoc_http_grouped", ours_port, "http", {"task": "stage2_multi", "mode": "defender_only"}, triage, args.group),
        ("openenv_echo_ws", echo_port, "ws", {}, {"message": "hello"}, 1),
    ]
    samples: dict[str, list[float]] = {key: [] for key, *_ in plan}
    try:
        for _, port, kind, reset, action, group in plan:  # warm-up on seeds no measurement uses
            asyncio.run(_drive(kind, f"http://127.0.0.1:{port}", 4, 5, reset, action, group, seed_offset=90_000_000))
        # Rounds interleave the servers so that drift on a shared machine hits them alike.
        for r in range(args.repeats):
            for n, (key, port, kind, reset, action, group) in enumerate(plan):
                print(f"[round {r + 1}/{args.repeats}] {key}: {args.clients} clients x {args.episodes} episodes", flush=True)
                samples[key].append(asyncio.run(_drive(kind, f"http://127.0.0.1:{port}", args.clients, args.episodes,
                                                       reset, action, group, seed_offset=1_000_000 * (n + 10 * r))))
        runs = {key: statistics.median(v) for key, v in samples.items()}
    finally:
        for proc in (ours, echo):
            proc.terminate()
            proc.wait(timeout=10)

    results = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "clients": args.clients,
        "group": args.group,
        "episodes_per_client": args.episodes,
        "in_process_episodes_per_s": {k: round(v, 1) for k, v in in_process.items()},
        "repeats": args.repeats,
        "episodes_per_s": {k: round(v, 1) for k, v in runs.items()},
        "episodes_per_s_min_max": {k: [round(min(v), 1), round(max(v), 1)] for k, v in samples.items()},
    }
    (REPO / "bench" / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print()
    print("| measurement | episodes/s |")
    print("|---|---|")
    for task, v in results["in_process_episodes_per_s"].items():
        print(f"| in-process, {task} | {v:,.0f} |")
    labels = {"opensoc_ws_distinct": "OpenSOC over /ws, every episode a new incident",
              "opensoc_ws_grouped": f"OpenSOC over /ws, GRPO-style groups of {args.group} rollouts per seed",
              "opensoc_http_distinct": "OpenSOC over HTTP /reset + /step, every episode a new incident",
              "opensoc_http_grouped": f"OpenSOC over HTTP /reset + /step, groups of {args.group}",
              "openenv_echo_ws": "openenv's own server, do-nothing echo environment, over /ws"}
    for key, v in results["episodes_per_s"].items():
        print(f"| {labels[key]}, {args.clients} clients (median of {args.repeats}) | {v:,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
