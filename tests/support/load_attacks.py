"""The audit's seven ways one client took the service from everyone else, as attacks on a running server.

Each attack runs in a process of its own (so its client-side work cannot slow the probe), from the loopback address
127.0.0.2 (so it is another client than the probe's 127.0.0.1), until told to stop. ``under_attack`` runs one while
probing ``/health`` and timing a victim's triage reset-and-step, and returns the figures. ``python
tests/support/load_attacks.py URL`` prints them for every attack against a server already running (the before/after
figures of the audit come from it).
"""

from __future__ import annotations

import json
import multiprocessing
import socket
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable

import httpx

ATTACKER = "127.0.0.2"
JSON = {"content-type": "application/json"}


def reproducer(size: int) -> str:
    """Issue 1's reproducer: a quote, escaped quotes up to ``size``, then 2,049 opening brackets."""
    return '"' + '\\"' * ((size - 2060) // 2) + "[" * 2049


def _http(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=60, transport=httpx.HTTPTransport(local_address=ATTACKER))


def _threads(n: int, body: Callable[[], None], stop) -> None:
    def loop() -> None:
        while not stop.is_set():
            try:
                body()
            except Exception:  # noqa: BLE001 - an attacker shrugs off refusals and resets
                time.sleep(0.01)  # pace after a refusal, not synchronisation

    threads = [threading.Thread(target=loop, daemon=True) for _ in range(n)]
    for t in threads:
        t.start()
    stop.wait()


def quadratic_json(url: str, stop) -> None:
    """Item 1: the 64 KB reproducer on every JSON route, and 8 KB reproducer frames from four WebSocket sessions."""
    from websockets.sync.client import connect

    body = reproducer(64 << 10).encode()

    def post() -> None:
        with _http(url) as http:
            for path in ("/reset", "/step", "/grade", "/mcp", "/opensoc/tasks"):
                http.post(path, content=body, headers=JSON)

    def frames() -> None:
        sock = socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), source_address=(ATTACKER, 0))
        with connect(url.replace("http", "ws", 1) + "/ws", sock=sock, max_size=None) as ws:
            frame = reproducer(8150)
            while not stop.is_set():
                ws.send(frame)
                ws.recv()

    threading.Thread(target=_threads, args=(4, frames, stop), daemon=True).start()
    _threads(4, post, stop)


def idle_connections(url: str, stop, count: int = 1024) -> None:
    """Item 2: 1,024 connections that send nothing, half a request head, or a body a byte at a time."""
    port = int(url.rsplit(":", 1)[1])
    held: list[socket.socket] = []
    kinds = [b"", b"GET /health HTTP/1.1\r\nHost: x\r\n",
             b"POST /reset HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n{"]
    while not stop.is_set():
        for s in list(held):  # the server closes what it will not hold; open another in its place
            try:
                s.setblocking(False)
                if s.recv(1) == b"":
                    raise OSError
            except BlockingIOError:
                continue
            except OSError:
                held.remove(s)
                s.close()
        while len(held) < count and not stop.is_set():
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=2, source_address=(ATTACKER, 0))
                s.sendall(kinds[len(held) % 3])
                held.append(s)
            except OSError:
                break
        for s in held[2::3]:  # the slow bodies: a byte now and then
            try:
                s.send(b" ")
            except OSError:
                pass
        stop.wait(0.5)


def investigation_memory(url: str, stop) -> None:
    """Item 3: held investigate_stage4 episodes on fresh seeds, each after a search."""
    seeds = iter(range(1_000_000, 2_000_000))

    def one() -> None:
        with _http(url) as http:
            reset = http.post("/reset", json={"task": "investigate_stage4", "seed": next(seeds)}).json()
            http.post("/step", json={"episode_id": reset["metadata"]["episode_id"], "action": {"tool_call": {
                "name": "search", "arguments": {"query": "", "limit": 50}}}})

    _threads(2, one, stop)


def reset_flood(url: str, stop) -> None:
    """Item 4: four threads of resets, as fast as the server answers."""
    http = _http(url)
    _threads(4, lambda: http.post("/reset", json={"task": "stage2_multi"}), stop)


def mcp_investigate_flood(url: str, stop) -> None:
    """Item 5: eight streams of MCP investigate calls on fresh seeds."""
    seeds = iter(range(3_000_000, 4_000_000))

    def call() -> None:
        with _http(url) as http:
            http.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
                "name": "investigate", "arguments": {"task": "investigate_stage4", "seed": next(seeds),
                                                     "tool": "search", "arguments": {"query": "powershell"}}}})

    _threads(8, call, stop)


def run_squat(url: str, stop) -> None:
    """Item 6: resets with fresh run_ids, refused (422) and accepted."""
    http = _http(url)

    def squat() -> None:
        run_id = uuid.uuid4().hex
        http.post("/reset", json={"run_id": run_id, "task": "no_such_task"})
        http.post("/reset", json={"run_id": run_id})

    _threads(2, squat, stop)


def uploads(url: str, stop) -> None:
    """Item 7: files posted to the demo's upload route, to be served back to others."""
    http = _http(url)
    _threads(2, lambda: http.post("/demo/gradio_api/upload", files={"files": ("x.html", b"<script>1</script>")}), stop)


ATTACKS = {"quadratic_json": quadratic_json, "idle_connections": idle_connections,
           "investigation_memory": investigation_memory, "reset_flood": reset_flood,
           "mcp_investigate_flood": mcp_investigate_flood, "run_squat": run_squat, "uploads": uploads}


def _attack(name: str, url: str, stop) -> None:
    ATTACKS[name](url, stop)


def victim_episode(http: httpx.Client, seed: int, run_id: str | None = None) -> tuple[float, int]:
    """A triage reset and step from the victim: (seconds, the worse status)."""
    start = time.perf_counter()
    reset = http.post("/reset", json={"task": "stage2_multi", "seed": seed, **({"run_id": run_id} if run_id else {})})
    if reset.status_code != 200:
        return time.perf_counter() - start, reset.status_code
    step = http.post("/step", json={"episode_id": reset.json()["metadata"]["episode_id"], "action": {"submit_triage": {
        "action": "monitor", "cited_log_id": "L2-0"}}})
    return time.perf_counter() - start, max(reset.status_code, step.status_code)


def probe(url: str, seconds: float, seed0: int = 0, run_id: str | None = None) -> dict:
    """/health every 50 ms and a victim's episode every 200 ms for ``seconds``, from 127.0.0.1; every other episode
    names ``run_id`` when one is given (the first creates the run)."""
    health, episodes, statuses = [], [], []
    deadline, n = time.perf_counter() + seconds, 0
    http = httpx.Client(base_url=url, timeout=30)
    try:
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            try:
                ok = http.get("/health").status_code == 200
            except httpx.TransportError:
                ok = False
                http.close()
                http = httpx.Client(base_url=url, timeout=30)
            health.append(time.perf_counter() - start if ok else float("inf"))
            if n % 4 == 0:
                try:
                    elapsed, status = victim_episode(http, seed0 + n, run_id=run_id if n % 8 == 0 else None)
                except httpx.TransportError:
                    elapsed, status = 30.0, 0  # no answer within the client's timeout
                    http.close()
                    http = httpx.Client(base_url=url, timeout=30)
                episodes.append(elapsed)
                statuses.append(status)
            n += 1
            time.sleep(0.05)  # the probe's pace, not synchronisation
    finally:
        http.close()
    finite = [h for h in health if h != float("inf")]
    return {"health_ms_median": round(1000 * statistics.median(health), 1),
            "health_ms_max": round(1000 * max(finite), 1) if finite else None,
            "health_failures": len(health) - len(finite), "probes": len(health),
            "victim_ms_median": round(1000 * statistics.median(episodes), 1) if episodes else None,
            "victim_statuses": sorted(set(statuses))}


def under_attack(url: str, name: str, seconds: float = 5.0, ramp_s: float = 1.5) -> dict:
    """Run attack ``name`` against ``url`` and probe meanwhile (after ``ramp_s`` for it to build up)."""
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    attacker = ctx.Process(target=_attack, args=(name, url, stop), daemon=True)
    attacker.start()
    try:
        time.sleep(ramp_s)  # lets the attack reach full strength before measuring, not synchronisation
        return probe(url, seconds, seed0=list(ATTACKS).index(name) * 1000,
                     run_id=f"victim-{uuid.uuid4().hex[:8]}" if name == "run_squat" else None)
    finally:
        stop.set()
        attacker.join(timeout=20)
        if attacker.is_alive():
            attacker.terminate()


if __name__ == "__main__":
    target = sys.argv[1]
    figures = {"idle": probe(target, 5.0)}
    for attack in (sys.argv[2:] or ATTACKS):
        figures[attack] = under_attack(target, attack)
        print(attack, figures[attack], flush=True)
    print(json.dumps(figures, indent=1))
