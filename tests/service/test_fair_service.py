"""No client's requests may starve, queue behind or lock out another's: the worker's turns, the episode and run
shares, MCP's batches, notifications and budgets, and the server's entry points."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient

from opensoc.app_runtime import ServiceSettings, create_app
from opensoc.service.core import CoreWorker

JSON = {"content-type": "application/json"}
TRIAGE = {"submit_triage": {"action": "monitor", "cited_log_id": "L1-0", "rationale": "x"}}


def _client(settings: ServiceSettings, address: str) -> TestClient:
    return TestClient(create_app(settings), client=(address, 50000))


# -------------------------------------------------------- the worker serves clients in turn


def test_a_clients_work_waits_behind_its_own_not_a_strangers():
    worker = CoreWorker()
    gate, started, order = threading.Event(), threading.Event(), []
    first = worker.submit(lambda: (started.set(), gate.wait()), client="flooder")  # holds the costly thread
    assert started.wait(10)
    flood = [worker.submit(order.append, f"flood-{i}", client="flooder", stream=i % 4) for i in range(20)]
    mine = worker.submit(order.append, "victim", client="victim")
    gate.set()
    for future in (first, *flood, mine):
        future.result(timeout=10)
    assert order.index("victim") == 1  # one flood job was already next in line; the victim's comes straight after
    # Within the flooder, its four streams took turns.
    assert order[0] == "flood-0" and [int(o.split("-")[1]) % 4 for o in order[2:6]] == [1, 2, 3, 0]


def test_cheap_work_never_waits_for_costly_work():
    worker = CoreWorker()
    gate = threading.Event()
    stuck = worker.submit(gate.wait, client="flooder", costly=True)
    try:
        assert worker.submit(lambda: "done", client="victim", costly=False).result(timeout=10) == "done"
    finally:
        gate.set()
    stuck.result(timeout=10)


def test_an_abandoned_request_is_never_run():
    worker = CoreWorker()
    gate, ran = threading.Event(), []
    worker.submit(gate.wait, client="a")
    abandoned = worker.submit(ran.append, 1, client="a")
    abandoned.cancel()
    gate.set()
    worker.submit(ran.append, 2, client="a").result(timeout=10)
    assert ran == [2]


# -------------------------------------------------------- shares of the episode store and the runs


def test_a_reset_flood_churns_the_flooders_own_episodes():
    now = [0.0]
    settings = ServiceSettings(max_http_episodes=8, max_http_episodes_per_client=4, episode_grace_s=30,
                               clock=lambda: now[0])
    app = create_app(settings)
    flooder, victim = TestClient(app, client=("10.0.0.1", 1)), TestClient(app, client=("10.0.0.2", 1))
    mine = victim.post("/reset").json()["metadata"]["episode_id"]
    for _ in range(4):
        assert flooder.post("/reset").status_code == 200
    full = flooder.post("/reset")  # its share is used, all within the grace period: told to wait, nobody evicted
    assert full.status_code == 429 and "its share" in full.json()["error"]["message"]
    now[0] += 31
    for _ in range(4):  # past the grace, the flooder's new episodes replace its own oldest
        assert flooder.post("/reset").status_code == 200
    assert flooder.post("/reset").status_code == 429  # and then it waits for them to idle in turn
    assert app.state.store.held_by("10.0.0.1") == 4 and app.state.store.held_by("10.0.0.2") == 1
    assert victim.post("/step", json={"action": TRIAGE, "episode_id": mine}).json()["done"] is True


def test_a_full_store_takes_room_from_the_client_holding_the_most():
    now = [0.0]
    settings = ServiceSettings(max_http_episodes=6, max_http_episodes_per_client=4, episode_grace_s=30,
                               clock=lambda: now[0])
    app = create_app(settings)
    clients = [TestClient(app, client=(f"10.0.1.{i}", 1)) for i in range(3)]
    for _ in range(4):
        clients[0].post("/reset")
    clients[1].post("/reset")
    clients[1].post("/reset")
    # Full, everything recent: the newcomer gets in, the client holding the most gives up its oldest.
    assert clients[2].post("/reset").status_code == 200
    assert [app.state.store.held_by(f"10.0.1.{i}") for i in range(3)] == [3, 2, 1]


def test_a_refused_reset_takes_no_run_slot():
    client = _client(ServiceSettings(max_runs=2, max_runs_per_client=2, run_grace_s=600), "10.0.2.1")
    for i in range(8):  # fresh run_ids on resets that are refused
        assert client.post("/reset", json={"run_id": f"squat-{i}", "task": "no_such_task"}).status_code == 422
        assert client.post("/reset", json={"run_id": f"squat-{i}", "seed": -1}).status_code == 422
    assert len(client.app.state.service.runs) == 0
    assert client.post("/reset", json={"run_id": "real"}).status_code == 200
    assert len(client.app.state.service.runs) == 1


def test_runs_are_shared_out_per_client():
    settings = ServiceSettings(max_runs=8, max_runs_per_client=2, run_grace_s=600)
    app = create_app(settings)
    squatter, trainer = TestClient(app, client=("10.0.3.1", 1)), TestClient(app, client=("10.0.3.2", 1))
    for i in range(2):
        assert squatter.post("/reset", json={"run_id": f"squat-{i}"}).status_code == 200
    refused = squatter.post("/reset", json={"run_id": "squat-2"})
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "TOO_MANY_RUNS"
    assert trainer.post("/reset", json={"run_id": "mine"}).status_code == 200  # others are not locked out
    with trainer.websocket_connect("/ws") as ws:
        ws.send_json({"type": "reset", "data": {"run_id": "mine-too"}})
        assert ws.receive_json()["type"] == "observation"


def test_the_replay_pool_of_a_run_this_process_never_held_is_refused_over_the_websocket():
    client = TestClient(create_app())
    with client.websocket_connect("/ws") as ws:
        ws.send_json({"type": "reset", "data": {"task": "stage4_adversarial", "use_replay_pool": True,
                                                "run_id": "after-a-restart"}})
        reply = ws.receive_json()["data"]
        assert reply["reason"] == "UNKNOWN_RUN" and reply["field"] == "run_id"


def test_websocket_sessions_are_shared_out_per_client():
    settings = ServiceSettings(max_ws_sessions=4, max_ws_sessions_per_client=2)
    app = create_app(settings)
    hog, other = TestClient(app, client=("10.0.4.1", 1)), TestClient(app, client=("10.0.4.2", 1))
    with hog.websocket_connect("/ws"), hog.websocket_connect("/ws"):
        with hog.websocket_connect("/ws") as third:
            refusal = third.receive_json()["data"]
            assert refusal["code"] == "CAPACITY_REACHED" and "its share" in refusal["message"]
        with other.websocket_connect("/ws") as ws:
            ws.send_json({"type": "state"})
            assert ws.receive_json()["type"] == "state"


# -------------------------------------------------------- JSON-RPC as written


def test_a_batch_gets_an_array_and_notifications_get_nothing():
    client = TestClient(create_app())
    batch = [{"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
             {"jsonrpc": "2.0", "method": "notifications/initialized"},
             {"jsonrpc": "2.0", "id": "b", "method": "nope"}]
    answers = client.post("/mcp", json=batch).json()
    assert [a["id"] for a in answers] == [1, "b"] and "result" in answers[0] and answers[1]["error"]["code"] == -32601
    only = client.post("/mcp", json={"jsonrpc": "2.0", "method": "notifications/initialized"})
    assert only.status_code == 202 and not only.content
    assert client.post("/mcp", json=batch[1:2]).status_code == 202
    empty = client.post("/mcp", json=[]).json()
    assert empty["error"]["code"] == -32600 and empty["id"] is None
    assert client.post("/mcp", json=batch * 20).json()["error"]["code"] == -32600  # over the batch limit
    null_id = client.post("/mcp", json={"jsonrpc": "2.0", "id": None, "method": "tools/list"}).json()
    assert null_id["id"] is None and "result" in null_id  # an id of null is a request, not a notification
    with client.websocket_connect("/ws") as ws:
        ws.send_json({"type": "mcp", "data": batch})
        assert [a["id"] for a in ws.receive_json()["data"]] == [1, "b"]
        ws.send_json({"type": "mcp", "data": batch[1]})  # no frame for a notification
        ws.send_json({"type": "state"})
        assert ws.receive_json()["type"] == "state"


def test_mcp_investigate_keeps_the_cases_call_budget_per_client():
    from opensoc.families.investigation.tasks import INVESTIGATION_TASKS

    app = create_app()
    budget = INVESTIGATION_TASKS["investigate_stage1"].call_budget
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "investigate", "arguments": {
        "task": "investigate_stage1", "seed": 5, "tool": "count", "arguments": {"by": "host"}}}}
    reader, other = TestClient(app, client=("10.0.5.1", 1)), TestClient(app, client=("10.0.5.2", 1))
    for _ in range(budget):
        assert reader.post("/mcp", json=call).json()["result"]["isError"] is False
    spent = reader.post("/mcp", json=call).json()["error"]
    assert spent["code"] == -32602 and "spent" in spent["message"]
    assert "result" in other.post("/mcp", json=call).json()  # another client has its own ration
    other_case = {**call, "params": {**call["params"], "arguments": {**call["params"]["arguments"], "seed": 6}}}
    assert "result" in reader.post("/mcp", json=other_case).json()


# -------------------------------------------------------- the error contract


def test_openapi_declares_every_refusal_on_every_route():
    spec = TestClient(create_app()).get("/openapi.json").json()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            declared = set(operation["responses"])
            assert {"400", "404", "409", "413", "415", "422", "429", "503"} <= declared, (method, path, declared)


# -------------------------------------------------------- the entry points agree


def test_entry_points_share_one_rule(monkeypatch):
    from opensoc import server

    monkeypatch.delenv("HOST", raising=False)
    monkeypatch.delenv("PORT", raising=False)
    args = server.parse_args([])
    assert (args.host, args.port) == ("127.0.0.1", 8000)  # a developer's server answers on this machine only
    monkeypatch.setenv("HOST", "0.0.0.0")  # as the Dockerfile sets it
    monkeypatch.setenv("PORT", "9000")
    assert (server.parse_args([]).host, server.parse_args([]).port) == ("0.0.0.0", 9000)
    flags = server.parse_args(["--host", "127.0.0.2", "--port", "9100"])
    assert (flags.host, flags.port) == ("127.0.0.2", 9100)
    monkeypatch.setattr("sys.argv", ["opensoc", "serve", "--port", "9200"])  # opensoc serve's own command line
    assert server.parse_args().port == 9200
    with pytest.raises(SystemExit):
        server.parse_args(["--port", "٣"])
    line = server.startup_line("0.0.0.0", 8000, ServiceSettings())
    assert "http://localhost:8000" in line and "/demo" in line and "/docs" in line and "no API token" in line
    assert "token is required" in server.startup_line("127.0.0.1", 8000, ServiceSettings(api_token="x" * 16))


def test_on_a_space_the_proxy_names_the_client_and_the_space_is_the_public_origin(monkeypatch):
    for name in ("OPENSOC_TRUSTED_PROXIES", "OPENSOC_PUBLIC_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("SPACE_HOST", raising=False)
    assert ServiceSettings.from_env().trusted_proxies == () and ServiceSettings.from_env().public_url is None
    monkeypatch.setenv("SPACE_HOST", "someone-opensoc.hf.space")
    settings = ServiceSettings.from_env()
    assert "10.0.0.0/8" in settings.trusted_proxies and "*" not in settings.trusted_proxies
    assert settings.public_url == "https://someone-opensoc.hf.space"
    monkeypatch.setenv("OPENSOC_TRUSTED_PROXIES", "10.0.0.0/8")
    assert ServiceSettings.from_env().trusted_proxies == ("10.0.0.0/8",)
