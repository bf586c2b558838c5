"""What the WebSocket session cap costs in memory: 256 ``/ws`` sessions (the default ``OPENSOC_MAX_WS_SESSIONS``), two
clients at their share of 128, each holding an ``investigate_stage4`` episode after 15 tool calls, over 40 cases
(more than the case cache keeps), on a fresh ``python server.py`` with its defaults. The server's resident memory
before and after goes to ``bench/session_memory_results.json`` with the machine and the date; the HTTP episode store
and the runs are measured by ``bench/bench_hardening.py --memory``, and ``tests/service/test_memory_budget.py`` fills
every cap at once.

    python bench/bench_session_memory.py
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import socket
import sys
from pathlib import Path

from websockets.sync.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parent))
from soak import _free_port, rss_bytes, start_server  # noqa: E402

SESSIONS, CASES, CALLS = 256, 40, 15


def main() -> int:
    port = _free_port()
    server = start_server(port)
    url = f"ws://127.0.0.1:{port}/ws"
    try:
        before = rss_bytes(server.pid)
        sessions = []
        for i in range(SESSIONS):
            sock = socket.create_connection(("127.0.0.1", port), source_address=(f"127.0.1.{i // 128 + 1}", 0))
            ws = connect(url, sock=sock, max_size=None)
            ws.send(json.dumps({"type": "reset", "data": {"task": "investigate_stage4", "seed": 500 + i % CASES}}))
            if json.loads(ws.recv())["type"] != "observation":
                raise SystemExit(f"session {i}: the reset was refused")
            for k in range(CALLS):
                ws.send(json.dumps({"type": "step", "data": {"tool_call": {"name": "search", "arguments": {
                    "query": f"log_id=E4-{k}*", "limit": 50}}}}))
                if json.loads(ws.recv())["type"] != "observation":
                    raise SystemExit(f"session {i}: tool call {k} was refused")
            sessions.append(ws)
        after = rss_bytes(server.pid)
        for ws in sessions:
            ws.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    results = {"machine": {"platform": platform.platform(), "machine": platform.machine(), "cpu_count": os.cpu_count(),
                           "python": platform.python_version()},
               "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
               "sessions": SESSIONS, "cases": CASES, "tool_calls": CALLS,
               "rss_mb": {"fresh": round(before / 2**20, 1), "sessions_held": round(after / 2**20, 1),
                          "added": round((after - before) / 2**20, 1)}}
    out = Path(__file__).with_name("session_memory_results.json")
    out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"{SESSIONS} sessions in investigations: {results['rss_mb']['added']} MB over a fresh server's "
          f"{results['rss_mb']['fresh']} MB; wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
