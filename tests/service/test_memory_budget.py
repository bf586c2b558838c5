"""Every cap full of the costliest thing it may hold, on a live server with its defaults: resident memory stays under
``MEMORY_BUDGET_MB``, a quarter of a free Hugging Face CPU Space's 16 GB.

Filled: the HTTP episode store (4,096 ``self_play`` episodes holding the largest sound crafted incident, staged for
its defender, from
four clients), every attacker run's replay pool (8 runs of 512 such crafts over /ws, from four clients at their
share of 2), 256 WebSocket sessions (two clients at their share of 128) each holding an
investigation after its tool calls, over more distinct cases than the case caches keep.
"""

from __future__ import annotations

import json
import socket
from concurrent.futures import ThreadPoolExecutor

import httpx
import psutil
import pytest
from support.server import running_server
from websockets.sync.client import connect

pytestmark = pytest.mark.slow

MEMORY_BUDGET_MB = 4096


def largest_sound_craft() -> dict:
    """The longest generated stage-4 incident of 60 seeds that adjudication finds sound, its command lines at 1,024
    characters and a 4,000-character narrative: sound, so it is staged for a defender and enters a run's pool."""
    from opensoc.adjudication.gate import adjudicate
    from opensoc.generator import generate

    sound = [i for i in (generate("stage4_adversarial", s) for s in range(60)) if adjudicate(i).sound]
    craft = max(sound, key=lambda i: len(i.model_dump_json())).model_dump(mode="json")
    craft["narrative"] = "n" * 4000
    for event in craft["events"]:
        if event.get("process.command_line"):
            event["process.command_line"] = (event["process.command_line"] + " " + "a" * 1024)[:1024]
    return craft


def _server_pid(url: str) -> int:
    port = int(url.rsplit(":", 1)[1])
    return next(c.pid for c in psutil.net_connections("tcp") if c.laddr and c.laddr.port == port
                and c.status == psutil.CONN_LISTEN)


def _http(url: str, address: str) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=120, transport=httpx.HTTPTransport(local_address=address))


def test_every_cap_full_stays_under_the_budget():
    craft = json.dumps({"craft_incident": largest_sound_craft()})
    with running_server() as url:
        process = psutil.Process(_server_pid(url))
        idle_mb = process.memory_info().rss / 2**20

        def fill_store(address: str) -> None:
            with _http(url, address) as http:
                for _ in range(1024):
                    eid = http.post("/reset", json={"mode": "self_play", "task": "stage4_adversarial"}).json()[
                        "metadata"]["episode_id"]
                    step = http.post(f"/step?episode_id={eid}", content=craft, headers={"content-type": "application/json"})
                    assert step.status_code == 200 and not step.json()["done"], step.text[:300]  # staged

        def fill_runs(address: str) -> None:  # over /ws: its episodes take no HTTP store slot
            port = int(url.rsplit(":", 1)[1])
            for r in range(2):
                sock = socket.create_connection(("127.0.0.1", port), source_address=(address, 0))
                with connect(url.replace("http", "ws", 1) + "/ws", sock=sock, max_size=None) as ws:
                    for _ in range(512):
                        ws.send(json.dumps({"type": "reset", "data": {"mode": "attacker_only", "task":
                                                                     "stage4_adversarial", "run_id": f"{address}-{r}"}}))
                        assert json.loads(ws.recv())["type"] == "observation"
                        ws.send('{"type": "step", "data": ' + craft + "}")
                        assert json.loads(ws.recv())["data"]["done"] is True

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(fill_store, [f"127.0.0.{i}" for i in range(2, 6)]))
            list(pool.map(fill_runs, [f"127.0.0.{i}" for i in range(6, 10)]))
        store_and_runs_mb = process.memory_info().rss / 2**20

        port = int(url.rsplit(":", 1)[1])
        sessions = []
        for i in range(256):
            sock = socket.create_connection(("127.0.0.1", port), source_address=(f"127.0.1.{i // 128 + 1}", 0))
            ws = connect(url.replace("http", "ws", 1) + "/ws", sock=sock, max_size=None)
            ws.send(json.dumps({"type": "reset", "data": {"task": "investigate_stage4", "seed": 500 + i % 40}}))
            alert = json.loads(ws.recv())["data"]["observation"]["investigation"]["alert"]
            for k in range(15):
                ws.send(json.dumps({"type": "step", "data": {"tool_call": {"name": "search", "arguments": {
                    "query": f"log_id=E4-{k}*", "limit": 50}}}}))
                assert json.loads(ws.recv())["type"] == "observation"
            assert alert["host"]
            sessions.append(ws)
        full_mb = process.memory_info().rss / 2**20
        for ws in sessions:
            ws.close()
        assert httpx.get(f"{url}/health").status_code == 200
    print(f"idle {idle_mb:.0f} MB, store and runs full {store_and_runs_mb:.0f} MB, and 256 sessions {full_mb:.0f} MB")
    assert full_mb < MEMORY_BUDGET_MB, (idle_mb, store_and_runs_mb, full_mb)
