"""A soak: many WebSocket episodes of all three families against one server, and whether it stays healthy.

Starts ``python server.py`` with its defaults and drives ``--sessions`` concurrent ``/ws`` sessions (one asyncio
process) through ``--episodes`` episodes in all, the families in turn: a triage episode (a ``defender_only`` reset of
a curriculum stage and one ``submit_triage``), an E1 episode (a reset and one ``classify_flow``) and an
investigation episode (a reset, one ``search`` on the alert's host and a ``submit_triage`` citing the alert's event).
Triage and E1 episodes are each a new incident or flow (``--group 1``); investigation seeds come in groups of
``--group`` episodes, as GRPO plays one prompt several times (a new case costs a log store of thousands of events).
Every cache the server keeps is bounded, and fresh triage incidents fill the largest of them (8,192 materialised
incidents) within the warm-up, so memory measured after it is what a server on fresh work settles at. It counts errors (an error frame, a closed session, a timeout), the latency of each episode by family,
and samples the server's resident memory (psutil if installed, else /proc) every ``--sample-s`` seconds; memory is
compared with its value once ``--warmup`` of the episodes are done (the caches are full by then). Results go to
``bench/soak_results.json`` (or ``--out``) with the machine and the date, and the figures so far every
``--checkpoint-s`` seconds (``complete``: false until the last episode), so a run cut short still leaves them.

    python bench/soak.py [--episodes 100000] [--sessions 16] [--group 8] [--warmup 0.3]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STAGES = ["stage1_basic", "stage2_multi", "stage3_mixed", "stage4_adversarial"]
INVESTIGATIONS = ["investigate_stage1", "investigate_stage2", "investigate_stage3", "investigate_stage4"]
E1_TASKS = ["e1_iot23"]
FAMILIES = ("triage", "e1", "investigation")


def rss_bytes(pid: int) -> int:
    """The resident memory of process ``pid``; 0 for no process (``--url``: a server this script did not start)."""
    if not pid:
        return 0
    try:
        import psutil

        return int(psutil.Process(pid).memory_info().rss)
    except ImportError:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int) -> subprocess.Popen:
    env = dict(os.environ, PORT=str(port), HOST="127.0.0.1", LOG_LEVEL="warning")
    proc = subprocess.Popen([sys.executable, "server.py"], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT)
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the server exited during start-up")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.2)  # readiness polling
    proc.terminate()
    raise SystemExit("the server did not start")


class Soak:
    def __init__(self, url: str, episodes: int, group: int):
        self.url, self.episodes, self.group = url, episodes, group
        self.next_episode = 0
        self.done = 0
        self.errors: list[str] = []
        self.latency: dict[str, list[float]] = {f: [] for f in FAMILIES}

    def plan(self, n: int) -> tuple[str, dict, str]:
        """Episode ``n``: its family, reset data and kind of play."""
        family, k = FAMILIES[n % 3], n // 3
        if family == "triage":
            return family, {"task": STAGES[k % 4], "seed": 10_000 + k}, "triage"
        if family == "e1":
            return family, {"task": E1_TASKS[0], "seed": 10_000 + k}, "e1"
        round_ = k // self.group  # a new case every group
        return family, {"task": INVESTIGATIONS[round_ % 4], "seed": 10_000 + round_}, "investigation"

    async def session(self, websockets) -> None:
        while self.next_episode < self.episodes:
            try:
                async with websockets.connect(self.url, max_size=None, open_timeout=60, ping_interval=None) as ws:
                    while self.next_episode < self.episodes:
                        n = self.next_episode
                        self.next_episode += 1
                        await self.episode(ws, n)
            except Exception as exc:  # noqa: BLE001 - counted, and the session reconnects
                self.errors.append(f"session: {type(exc).__name__}: {str(exc)[:200]}")

    async def ask(self, ws, message: dict) -> dict:
        await ws.send(json.dumps(message))
        reply = json.loads(await asyncio.wait_for(ws.recv(), timeout=120))
        if reply.get("type") == "error":
            raise RuntimeError(json.dumps(reply["data"])[:300])
        return reply["data"]

    async def episode(self, ws, n: int) -> None:
        family, reset, kind = self.plan(n)
        start = time.perf_counter()
        try:
            obs = (await self.ask(ws, {"type": "reset", "data": reset}))["observation"]
            if kind == "triage":
                cited = obs["alert"]["events"][0]["log_id"]
                final = await self.ask(ws, {"type": "step", "data": {"submit_triage": {
                    "action": "escalate", "cited_log_id": cited, "rationale": "soak"}}})
            elif kind == "e1":
                final = await self.ask(ws, {"type": "step", "data": {"classify_flow": json.dumps(
                    {"label": "Malicious", "confidence": 0.5})}})
            else:
                alert = obs["investigation"]["alert"]
                await self.ask(ws, {"type": "step", "data": {"tool_call": {"name": "search", "arguments": {
                    "host": alert["host"], "limit": 10}}}})
                final = await self.ask(ws, {"type": "step", "data": {"submit_triage": {
                    "action": "escalate", "cited_log_id": alert["event"]["log_id"], "rationale": "soak"}}})
            if not final["done"]:
                raise RuntimeError(f"{family} episode {n} did not end")
        except Exception as exc:  # noqa: BLE001 - counted
            self.errors.append(f"{family}: {type(exc).__name__}: {str(exc)[:200]}")
            raise
        self.latency[family].append(time.perf_counter() - start)
        self.done += 1


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def drive(url: str, pid: int, args: argparse.Namespace) -> dict:
    """Run the soak; every ``--checkpoint-s`` seconds the figures so far are written to ``--out`` (``complete``:
    false), so a run cut short still leaves what it measured."""
    import websockets

    soak = Soak(url, args.episodes, args.group)
    samples: list[tuple[float, int, int]] = []
    start = time.perf_counter()

    async def sample() -> None:
        last_checkpoint = time.perf_counter()
        while True:
            samples.append((round(time.perf_counter() - start, 1), soak.done, rss_bytes(pid)))
            await asyncio.sleep(args.sample_s)  # the sampling period, not synchronisation
            if args.progress and len(samples) % 30 == 0:
                rate = soak.done / (time.perf_counter() - start)
                print(f"{soak.done:,} episodes, {rate:.0f}/s, rss {samples[-1][2] / 2**20:.0f} MB, "
                      f"{len(soak.errors)} errors", flush=True)
            if args.checkpoint_s and time.perf_counter() - last_checkpoint >= args.checkpoint_s:
                last_checkpoint = time.perf_counter()
                write(args.out, summarize(soak, samples, time.perf_counter() - start, pid, args, complete=False))

    sampler = asyncio.create_task(sample())
    await asyncio.gather(*(soak.session(websockets) for _ in range(args.sessions)))
    elapsed = time.perf_counter() - start
    sampler.cancel()
    samples.append((round(elapsed, 1), soak.done, rss_bytes(pid)))
    return summarize(soak, samples, elapsed, pid, args, complete=True)


def write(path: Path, results: dict) -> None:
    """``results`` as JSON at ``path``, replaced whole (a reader never sees half a file)."""
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(results, indent=1) + "\n")
    partial.replace(path)


def summarize(soak: Soak, samples: list[tuple[float, int, int]], elapsed: float, pid: int, args: argparse.Namespace,
              complete: bool) -> dict:
    """The figures of ``soak`` so far: errors, latency per family, memory against its value after the warm-up."""
    samples = list(samples)
    warm = int(args.warmup * args.episodes)
    after = [rss for _, done, rss in samples if done >= warm] if pid else []
    at_warm = after[0] if after else float("nan")
    families = {f: {"episodes": len(v), "p50_ms": round(1000 * statistics.median(v), 1) if v else None,
                    "p99_ms": round(1000 * percentile(v, 0.99), 1), "max_ms": round(1000 * max(v), 1) if v else None}
                for f, v in soak.latency.items()}
    every = max(1, len(samples) // 400)
    return {
        "machine": {"platform": platform.platform(), "machine": platform.machine(), "cpu_count": os.cpu_count(),
                    "python": platform.python_version()},
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "complete": complete, "episodes": soak.done, "planned_episodes": args.episodes, "sessions": args.sessions,
        "group": args.group, "seconds": round(elapsed, 1),
        "episodes_per_s": round(soak.done / elapsed, 1),
        "hours_for_a_million": round(1_000_000 / (soak.done / elapsed) / 3600, 2) if soak.done else None,
        "errors": len(soak.errors), "first_errors": soak.errors[:20], "families": families,
        "all_p99_ms": round(1000 * percentile([x for v in soak.latency.values() for x in v], 0.99), 1),
        "rss_mb": None if not pid else {"start": round(samples[0][2] / 2**20, 1), "after_warmup": round(at_warm / 2**20, 1),
                   "max_after_warmup": round(max(after) / 2**20, 1) if after else None,
                   "final": round(samples[-1][2] / 2**20, 1),
                   "max_over_warmup": round(max(after) / at_warm, 3) if after else None,
                   "warmup_episodes": warm},
        "rss_samples": [(t, d, round(r / 2**20, 1)) for t, d, r in samples[::every]],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=100_000)
    parser.add_argument("--sessions", type=int, default=16)
    parser.add_argument("--group", type=int, default=8, help="investigation episodes per case (GRPO's rollouts per "
                        "prompt)")
    parser.add_argument("--warmup", type=float, default=0.3, help="share of the episodes before memory is compared")
    parser.add_argument("--sample-s", type=float, default=2.0)
    parser.add_argument("--url", help="an already running server (its memory is not sampled)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "soak_results.json")
    parser.add_argument("--progress", action="store_true")
    parser.add_argument("--checkpoint-s", type=float, default=600.0, help="write the figures so far this often "
                        "(0: only at the end)")
    args = parser.parse_args()

    port = _free_port()
    server = None if args.url else start_server(port)
    base = args.url or f"http://127.0.0.1:{port}"
    try:
        results = asyncio.run(drive(base.replace("http", "ws", 1) + "/ws", server.pid if server else 0, args))
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
    write(args.out, results)
    fam = ", ".join(f"{f} p50/p99 {r['p50_ms']}/{r['p99_ms']} ms" for f, r in results["families"].items())
    rss = results["rss_mb"]
    memory = ("memory not sampled (--url)" if rss is None else f"rss {rss['after_warmup']} MB after warm-up, max "
              f"{rss['max_after_warmup']} MB (x{rss['max_over_warmup']}), final {rss['final']} MB")
    print(f"{results['episodes']:,} episodes in {results['seconds']:,} s ({results['episodes_per_s']}/s), "
          f"{results['errors']} errors; {fam}; {memory}")
    return 0 if results["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
