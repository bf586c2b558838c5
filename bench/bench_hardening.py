"""The costliest requests one can build inside OpenSOC's limits, and what they do to everyone else.

Starts ``python server.py`` and, for each hostile request below, sends it over and over from
one client (and then from a flood of clients) while another client probes ``/health`` every
10 ms. Reports the hostile request's own latency and the probe's latency meanwhile. With
``--memory`` it also fills the HTTP episode store and the attacker runs with the largest
crafted incidents and reports the server's resident memory. Prints markdown tables and writes
the figures to bench/hardening_results.json.

    python bench/bench_hardening.py [--seconds 4] [--flood 8] [--memory]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import statistics
import sys
import threading
import time
from pathlib import Path

import httpx
from bench_service import _free_port, _start

REPO = Path(__file__).resolve().parent.parent
LIMIT = 1 << 20  # the default OPENSOC_MAX_BODY_BYTES


def largest_craft() -> dict:
    """A plausible incident near the schema's limits: the longest stage-4 incident of 60 seeds, its events repeated
    (later in time) up to 64, command lines at 1,024 characters and a 4,000-character narrative."""
    from opensoc.generator import generate

    craft = max((generate("stage4_adversarial", s) for s in range(60)), key=lambda i: len(i.events)).model_dump(mode="json")
    events, last = craft["events"], craft["events"][-1]["timestamp"]
    for i in range(len(events), 64):
        events.append({**events[i % len(events)], "log_id": f"X{i}", "timestamp": last})
    for event in events:
        if event.get("process.command_line"):
            event["process.command_line"] = (event["process.command_line"] + " " + "a" * 1024)[:1024]
    craft["narrative"] = "n" * 4000
    return craft


def _fill(prefix: str, item: str, suffix: str) -> str:
    """``prefix + item, item, ... + suffix`` as long as fits in the body limit."""
    n = (LIMIT - len(prefix) - len(suffix) - 64) // (len(item) + 1)
    return prefix + ",".join([item] * n) + suffix


class Requests:
    """The hostile requests: each a function of an httpx client that sends one and returns its latency."""

    def __init__(self, http: httpx.Client):
        self.http = http
        self.craft = largest_craft()
        self.run_id = "bench-pool"

    def _episode(self, **reset) -> str:
        return self.http.post("/reset", json=reset).json()["metadata"]["episode_id"]

    def _timed(self, path: str, content: str | bytes) -> float:
        start = time.perf_counter()
        response = self.http.post(path, content=content, headers={"content-type": "application/json"})
        elapsed = time.perf_counter() - start
        assert response.status_code < 500, response.text[:300]
        return elapsed

    def defender_episode(self) -> float:
        """Ordinary traffic: a defender_only reset and triage on a new incident."""
        start = time.perf_counter()
        eid = self._episode(task="stage2_multi", seed=int(time.time() * 1e6) % 10**9)
        self.http.post("/step", json={"episode_id": eid, "action": {"submit_triage": {
            "action": "monitor", "cited_log_id": "L2-0"}}}).raise_for_status()
        return time.perf_counter() - start

    def reproducer(self) -> float:
        """Issue 1's reproducer: a 64 KB unterminated fence, compat scoring."""
        eid = self._episode(task="e1_iot23", seed=1, scoring="compat")
        return self._timed(f"/step?episode_id={eid}", json.dumps({"classify_flow": "```" + " " * 64000 + "x"}))

    def completion_at_cap(self) -> float:
        """An E1 completion of 15,990 characters with an unterminated fence, compat scoring."""
        eid = self._episode(task="e1_iot23", seed=1, scoring="compat")
        return self._timed(f"/step?episode_id={eid}", json.dumps({"classify_flow": "```" + " " * 15_990 + "{"}))

    def lists_as_answer(self) -> float:
        """1 MiB of empty JSON arrays as an E1 answer: the most values a body can hold."""
        eid = self._episode(task="e1_iot23", seed=1)
        return self._timed("/step", _fill('{"episode_id": "%s", "action": {"classify_flow": [' % eid, "[]", "]}}"))

    def objects_on_reset(self) -> float:
        """1 MiB of small JSON objects in a reset body."""
        return self._timed("/reset", _fill('{"junk": [', '{"a":1}', "]}"))

    def events_flood(self) -> float:
        """A craft_incident of 1 MiB of empty events (the schema allows 64)."""
        eid = self._episode(mode="self_play", task="stage2_multi")
        return self._timed("/step", _fill('{"episode_id": "%s", "action": {"craft_incident": {"category": '
                                          '"ransomware", "target_label": "malicious", "events": [' % eid, "{}", "]}}}"))

    def largest_craft(self) -> float:
        """The largest plausible craft_incident, in attacker_only (verifier, plausibility, built-in defender)."""
        eid = self._episode(mode="attacker_only", task="stage4_adversarial", run_id=self.run_id)
        return self._timed("/step", json.dumps({"episode_id": eid, "action": {"craft_incident": self.craft}}))

    def pool_reset(self) -> float:
        """A stage-4 reset drawing from a run's full replay pool (512 of the largest crafts)."""
        return self._timed("/reset", json.dumps({"task": "stage4_adversarial", "seed": int(time.time() * 1e6) % 10**9,
                                                 "use_replay_pool": True, "run_id": self.run_id}))

    def mcp_junk(self) -> float:
        """1 MiB of JSON arrays as a JSON-RPC request."""
        return self._timed("/mcp", _fill("[", "[]", "]"))


def _probe(url: str, seconds: float, out) -> None:
    """GET /health every 10 ms for ``seconds``; sends the latencies through the pipe ``out``."""
    latencies, deadline = [], time.perf_counter() + seconds
    with httpx.Client(base_url=url, timeout=30) as http:
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            http.get("/health").raise_for_status()
            latencies.append(time.perf_counter() - start)
            time.sleep(0.01)  # the probe's pace, not synchronisation
    out.send(latencies)


def measure(url: str, name: str, seconds: float, clients: int) -> dict:
    """``clients`` clients send request ``name`` for ``seconds`` while /health is probed from another process (so
    that the hostile clients' own work cannot delay the probe)."""
    stop, latencies = threading.Event(), []
    lock = threading.Lock()
    receiver, sender = multiprocessing.Pipe(duplex=False)
    prober = multiprocessing.get_context("spawn").Process(target=_probe, args=(url, seconds, sender))

    def hammer() -> None:
        with httpx.Client(base_url=url, timeout=120) as http:
            requests = Requests(http)
            while not stop.is_set():
                elapsed = getattr(requests, name)()
                with lock:
                    latencies.append(elapsed)

    threads = [threading.Thread(target=hammer) for _ in range(clients)]
    for t in threads:
        t.start()
    prober.start()
    health = sorted(receiver.recv())
    prober.join()
    stop.set()
    for t in threads:
        t.join()
    out = {"health_ms_p50": round(1000 * health[len(health) // 2], 1),
           "health_ms_p99": round(1000 * health[int(len(health) * 0.99)], 1), "health_ms_max": round(1000 * health[-1], 1)}
    if latencies:
        out.update(requests=len(latencies), request_ms_median=round(1000 * statistics.median(latencies), 1),
                   request_ms_max=round(1000 * max(latencies), 1))
    return out


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def memory(url: str, pid: int, episodes: int, runs: int, pool: int) -> dict:
    """RSS with the HTTP store full of self-play episodes holding the largest craft, then every run's pool full
    (the ``Requests`` run is already full, so ``runs - 1`` more are filled)."""
    out = {"idle_mb": _rss_mb(pid)}
    with httpx.Client(base_url=url, timeout=120) as http:
        craft = largest_craft()
        for _ in range(episodes):
            eid = http.post("/reset", json={"mode": "self_play", "task": "stage4_adversarial"}).json()["metadata"]["episode_id"]
            http.post("/step", json={"episode_id": eid, "action": {"craft_incident": craft}}).raise_for_status()
        out[f"store_full_{episodes}_mb"] = _rss_mb(pid)
        for r in range(runs - 1):
            for _ in range(pool):
                eid = http.post("/reset", json={"mode": "attacker_only", "task": "stage4_adversarial",
                                                "run_id": f"bench-run-{r}"}).json()["metadata"]["episode_id"]
                http.post("/step", json={"episode_id": eid, "action": {"craft_incident": craft}}).raise_for_status()
        out[f"plus_{runs}_runs_of_{pool}_mb"] = _rss_mb(pid)
    return out


NAMES = ["defender_episode", "reproducer", "completion_at_cap", "lists_as_answer", "objects_on_reset", "events_flood", "largest_craft",
         "pool_reset", "mcp_junk"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="measuring time per request kind")
    parser.add_argument("--flood", type=int, default=8, help="concurrent hostile clients in the flood rounds")
    parser.add_argument("--memory", action="store_true", help="also fill the store and the runs (about 2 minutes)")
    args = parser.parse_args()

    port = _free_port()
    # One load process is one client: it may fill every cap (the shares per client are tested elsewhere).
    server = _start([sys.executable, "server.py"], port, {"PORT": str(port), "HOST": "127.0.0.1", "LOG_LEVEL": "warning",
                                                        "OPENSOC_EPISODE_GRACE_S": "1",
                                                        "OPENSOC_MAX_HTTP_EPISODES_PER_CLIENT": "4096",
                                                        "OPENSOC_MAX_RUNS_PER_CLIENT": "8",
                                                        "OPENSOC_MAX_CONNECTIONS_PER_CLIENT": "1024"})
    url = f"http://127.0.0.1:{port}"
    results: dict = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
                     "seconds": args.seconds, "flood_clients": args.flood, "single": {}, "flood": {}}
    try:
        with httpx.Client(base_url=url, timeout=120) as http:  # fill the run's replay pool for pool_reset
            requests = Requests(http)
            for _ in range(512):
                requests.largest_craft()
        results["idle"] = measure(url, "", args.seconds, 0)
        for name in NAMES:
            print(f"[single] {name}", flush=True)
            results["single"][name] = measure(url, name, args.seconds, 1)
        for name in ("largest_craft", "lists_as_answer"):
            print(f"[flood x{args.flood}] {name}", flush=True)
            results["flood"][name] = measure(url, name, args.seconds, args.flood)
        if args.memory:
            print("[memory] filling 4096 episodes and 8 runs of 512 crafts", flush=True)
            results["memory"] = memory(url, server.pid, 4096, 8, 512)
            print("[memory] ordinary traffic with everything full", flush=True)
            results["full"] = {"defender_episode": measure(url, "defender_episode", args.seconds, 1)}
    finally:
        server.terminate()
        server.wait(timeout=10)

    (REPO / "bench" / "hardening_results.json").write_text(json.dumps(results, indent=2) + "\n")
    docs = {name: getattr(Requests, name).__doc__.split(":")[0].rstrip(".") for name in NAMES}
    idle = results["idle"]
    print(f"\n/health with no load: p50 / p99 / max {idle['health_ms_p50']} / {idle['health_ms_p99']} / "
          f"{idle['health_ms_max']} ms\n")
    print("| request | its latency (median / max) | /health meanwhile (p50 / p99 / max) |")
    print("|---|---|---|")
    rows_by_kind = [("", results["single"]), (f"{args.flood} clients at once: ", results["flood"])]
    if "full" in results:
        rows_by_kind.append(("store and runs full: ", results["full"]))
    for kind, rows in rows_by_kind:
        for name, r in rows.items():
            print(f"| {kind}{docs[name]} | {r['request_ms_median']} / {r['request_ms_max']} ms | "
                  f"{r['health_ms_p50']} / {r['health_ms_p99']} / {r['health_ms_max']} ms |")
    if "memory" in results:
        print("\n" + ", ".join(f"{k}: {v} MB" for k, v in results["memory"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
