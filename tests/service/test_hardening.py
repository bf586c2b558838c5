"""The service in public: no request freezes it, crashes it, hijacks or locks out another client.

One section per way it once failed; each test runs the failing request and checks the answer.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading

import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketDenialResponse
from support import REPO
from support.server import free_port, running_server
from support.timing import best_time

from opensoc.app_runtime import ServiceSettings, create_app
from opensoc.generator import generate, generate_from_template
from opensoc.service.episodes import SignatureMemory
from opensoc.verifier import compute_ground_truth

JSON = {"content-type": "application/json"}
TRIAGE = {"submit_triage": {"action": "monitor", "cited_log_id": "L1-0", "rationale": "x"}}
TOKEN = "opensoc-test-token-0123456789"


@pytest.fixture
def client():
    return TestClient(create_app())


def _error(response, status: int, code: str, field: str | None = None) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"] and "field" in error and "expected" in error, error
    if field is not None:
        assert error["field"] == field and error["expected"] is not None, error
    return error


def _e1_episode(client, scoring: str = "compat") -> str:
    reset = client.post("/reset", json={"task": "e1_iot23", "seed": 1, "scoring": scoring})
    return reset.json()["metadata"]["episode_id"]


# -------------------------------------------------------- 1. one request froze every client


@pytest.mark.slow  # more than a second
def test_the_unterminated_fence_reproducer_answers_at_once(client):
    for scoring, length in (("compat", 64_000), ("compat", 15_990), ("default", 15_990)):
        steps = []

        def step():
            eid = _e1_episode(client, scoring)
            steps.append(client.post(f"/step?episode_id={eid}", json={"classify_flow": "```" + " " * length + "x"}))

        assert best_time(step) < 1.0  # it took 19.7 s at 64 KB, 2.6 s at 16,000 characters
        assert all(s.status_code == 200 and s.json()["done"] is True for s in steps)
    over = client.post(f"/step?episode_id={_e1_episode(client)}", json={"classify_flow": "x" * 16_001}).json()
    assert over["reward"] == 0.0 and "at most 16,000 are read" in over["observation"]["errors"][0]["msg"]


def test_the_completion_cap_holds_over_the_websocket(client):
    with client.websocket_connect("/ws") as ws:
        ws.send_json({"type": "reset", "data": {"task": "e1_iot23", "seed": 2}})
        ws.receive_json()
        ws.send_json({"type": "step", "data": {"classify_flow": '{"label": "Benign", "confidence": 1}' + " " * 16_000}})
        step = ws.receive_json()["data"]
        assert step["done"] and "at most 16,000 are read" in step["observation"]["errors"][0]["msg"]


def test_health_answers_while_the_core_worker_is_busy():
    app = create_app()
    client = TestClient(app)
    client.get("/health")  # starts the app's portal
    release = threading.Event()
    for costly in (False, True):  # both of the worker's threads are now stuck, as under long requests
        app.state.worker.submit(release.wait, client="someone else", costly=costly)
    result = {}
    resetting = threading.Thread(target=lambda: result.update(reset=client.post("/reset")))
    resetting.start()
    try:
        assert client.get("/health").json() == {"status": "healthy"}  # the event loop never waits for the worker
        with client.websocket_connect("/ws") as ws:  # nor do small defender frames on /ws
            ws.send_json({"type": "reset", "data": {"seed": 4}})
            assert ws.receive_json()["type"] == "observation"
        assert "reset" not in result  # the HTTP reset waits its turn on the worker
    finally:
        release.set()
        resetting.join(timeout=30)
    assert result["reset"].status_code == 200


# -------------------------------------------------------- 2. seven inputs gave HTTP 500

DEEP = "[" * 1000 + "]" * 1000
BIG_INT = '{"seed": ' + "1" * 4400 + "}"


@pytest.mark.parametrize("path", ["/reset", "/step", "/grade"])
@pytest.mark.parametrize(("body", "code", "field"), [(DEEP, "UNSUPPORTED_JSON", "body"),
                                                     (BIG_INT, "UNSUPPORTED_JSON", "seed"),
                                                     ('{"\\ud800": 1}', "UNSUPPORTED_JSON", "body"),
                                                     ("NaN", "MALFORMED_JSON", "body"),
                                                     ('{"seed": 1e999}', "UNSUPPORTED_JSON", "body")])
def test_hostile_json_is_a_400(client, path, body, code, field):
    _error(client.post(path, content=body, headers=JSON), 400, code, field)  # an over-long integer is named where it is


@pytest.mark.parametrize("body", [DEEP, BIG_INT, '{"jsonrpc": "2.0", "id": "\\udfff", "method": "tools/list"}'])
def test_hostile_json_on_mcp_is_a_parse_error(client, body):
    answer = client.post("/mcp", content=body, headers=JSON)
    assert answer.status_code == 200 and answer.json()["error"]["code"] == -32700 and answer.json()["id"] is None


def test_mcp_ids_and_arguments_of_the_wrong_type(client):
    nested_id = client.post("/mcp", json={"jsonrpc": "2.0", "id": {"a": [1]}, "method": "tools/list"}).json()
    assert nested_id["error"]["code"] == -32600 and nested_id["id"] is None
    bad_task = client.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                         "params": {"name": "get_alert", "arguments": {"task": ["x"]}}}).json()
    assert bad_task["error"]["code"] == -32602 and bad_task["error"]["message"].startswith("task:")


def test_unicode_digit_timestamp_is_a_scored_schema_failure(client):
    craft = generate("stage2_multi", 1).model_dump(mode="json")
    craft["events"][0]["timestamp"] = "２０２６-01-01T00:00:00Z"
    eid = client.post("/reset", json={"mode": "self_play", "task": "stage2_multi"}).json()["metadata"]["episode_id"]
    step = client.post("/step", json={"action": {"craft_incident": craft}, "episode_id": eid})
    assert step.status_code == 200 and step.json()["done"] and step.json()["reward"] == -0.5
    assert step.json()["observation"]["errors"][0]["loc"].endswith("timestamp")
    assert client.get("/state", params={"episode_id": eid}).json()["phase"] == "done"  # not left half-stepped


@pytest.mark.parametrize("classify", [
    {"label": "Malicious", "confidence": 10**19},
    "[" * 1500 + "]" * 1500,
    '{"label": "Malicious", "confidence": ' + "1" * 5000 + "}",
])
def test_hostile_e1_answers_are_scored(client, classify):
    eid = _e1_episode(client, "default")
    step = client.post("/step", json={"action": {"classify_flow": classify}, "episode_id": eid})
    assert step.status_code == 200 and step.json()["done"] and step.json()["observation"]["errors"]


def test_hostile_frames_keep_the_websocket_open(client):
    with client.websocket_connect("/ws") as ws:
        for frame in (DEEP, BIG_INT, '{"type": "reset", "data": {"\\ud800": 1}}', b"\xff\xfe"):
            ws.send_bytes(frame) if isinstance(frame, bytes) else ws.send_text(frame)
            reply = ws.receive_json()
            assert reply["type"] == "error" and reply["data"]["code"] == "INVALID_JSON", reply
        ws.send_json({"type": "reset", "data": {"seed": 1}})
        assert ws.receive_json()["type"] == "observation"


@pytest.mark.slow  # a live server in a subprocess
def test_hostile_requests_keep_the_connection_alive(live_server):
    with httpx.Client(base_url=live_server, headers=JSON) as http:
        for path, body in (("/reset", DEEP), ("/step", BIG_INT), ("/grade", '{"\\ud800": 1}'), ("/mcp", DEEP)):
            response = http.post(path, content=body)
            assert response.status_code < 500 and response.headers.get("connection") != "close"
            assert response.headers["content-type"] == "application/json"
        assert http.get("/health").json() == {"status": "healthy"}


# -------------------------------------------------------- 3. episode ids could be taken over


def test_a_live_episode_id_cannot_be_reset_by_another_client(client):
    first = client.post("/reset", json={"episode_id": "ep-1", "task": "stage2_multi", "seed": 5})
    assert first.status_code == 200
    for seed in range(6, 21):  # fifteen more clients using the README's id
        _error(client.post("/reset", json={"episode_id": "ep-1", "task": "stage2_multi", "seed": seed}), 409,
               "EPISODE_EXISTS", "episode_id")
    truth = compute_ground_truth(generate("stage2_multi", 5))
    step = client.post("/step", json={"action": {"submit_triage": {"action": truth.action, "cited_log_id": "L2-0"}},
                                      "episode_id": "ep-1"}).json()
    assert step["observation"]["seed"] == 5 and step["observation"]["verdict"]["correct_action"] == truth.action


def test_server_made_ids_are_unguessable(client):
    ids = {client.post("/reset").json()["metadata"]["episode_id"] for _ in range(50)}
    assert len(ids) == 50 and all(len(i) == 36 and i.count("-") == 4 for i in ids)  # uuid4: 122 random bits


# -------------------------------------------------------- 4. anyone could lock HTTP for 30 minutes


def test_unstepped_resets_make_room_instead_of_locking_everyone_out():
    now = [0.0]
    client = TestClient(create_app(ServiceSettings(max_http_episodes=8, max_http_episodes_per_client=8, episode_grace_s=30,
                                                      clock=lambda: now[0])))
    squatted = [client.post("/reset").json()["metadata"]["episode_id"] for _ in range(8)]
    # Within the grace period nothing may be evicted: a new episode waits, told for how long.
    full = client.post("/reset")
    _error(full, 429, "TOO_MANY_EPISODES")
    assert full.headers["retry-after"] == "30"
    # A stateless defender_only step never needs a slot.
    assert client.post("/step?seed=3", json=TRIAGE).status_code == 200
    for _ in range(20):  # polling state does not keep the squatters alive
        client.get("/state", params={"episode_id": squatted[0]})
    now[0] += 31
    mine = client.post("/reset").json()["metadata"]["episode_id"]
    error = _error(client.post("/step", json={"action": TRIAGE, "episode_id": squatted[0]}), 404, "EPISODE_EVICTED")
    assert "evicted after 31 s idle to make room" in error["message"]
    assert client.post("/step", json={"action": TRIAGE, "episode_id": mine}).json()["done"] is True
    assert len(client.app.state.store) == 8


# -------------------------------------------------------- 5. size limits were checked after buffering


def _asgi_post(app, headers: list[tuple[bytes, bytes]], chunks):
    """POST /step through the raw ASGI interface; returns (status, body, chunks the app read)."""
    sent, read = [], [0]

    async def receive():
        read[0] += 1
        chunk = next(chunks, None)
        if chunk is None:
            raise AssertionError("the body was read although its Content-Length was over the limit")
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/step", "raw_path": b"/step", "root_path": "", "query_string": b"",
             "headers": [(b"content-type", b"application/json"), *headers], "client": ("127.0.0.1", 1),
             "server": ("testserver", 80)}
    asyncio.run(app(scope, receive, send))
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], json.loads(body), read[0]


def test_a_declared_length_over_the_limit_is_refused_unread():
    app = create_app(ServiceSettings(max_body_bytes=4096))
    status, body, read = _asgi_post(app, [(b"content-length", b"268435456")], iter(()))
    assert (status, body["error"]["code"], read) == (413, "BODY_TOO_LARGE", 0)


def test_a_body_without_length_is_cut_at_the_limit():
    app = create_app(ServiceSettings(max_body_bytes=4096))
    endless = (b" " * 1024 for _ in range(10**9))
    status, body, read = _asgi_post(app, [], endless)
    assert (status, body["error"]["code"]) == (413, "BODY_TOO_LARGE") and read == 5  # 5 KiB read, then refused


def test_websocket_frames_are_measured_in_bytes():
    client = TestClient(create_app(ServiceSettings(max_body_bytes=4096)))
    with client.websocket_connect("/ws") as ws:
        ws.send_text(json.dumps({"type": "state", "data": None}) + " " * 10 + "é" * 2100)  # 2,100 characters, 4,200 bytes
        reply = ws.receive_json()["data"]
        assert reply["code"] == "VALIDATION_ERROR" and "bytes" in reply["message"]


@pytest.mark.slow  # a live server in a subprocess
def test_the_server_refuses_oversized_frames_before_buffering(live_server):
    from websockets.exceptions import ConnectionClosedError
    from websockets.sync.client import connect

    with connect(live_server.replace("http", "ws") + "/ws", max_size=None) as ws:
        # The application would answer an error frame and keep the session; the WebSocket layer closes it instead.
        with pytest.raises(ConnectionClosedError) as closed:
            ws.send("x" * (2 << 20))
            ws.recv()
    # 1009, message too big, when the close frame arrives before the server drops the half-sent frame's connection
    assert closed.value.rcvd is None or closed.value.rcvd.code == 1009
    with httpx.Client(base_url=live_server) as http:
        files = {"files": ("big.bin", b"\0" * (2 << 20))}
        assert http.post("/demo/gradio_api/upload", files=files).status_code == 413  # the demo's uploads too
        small = http.post("/demo/gradio_api/upload", files={"files": ("a.txt", b"hello")})
        assert small.status_code == 403 and small.json()["error"]["code"] == "UPLOADS_OFF"  # and it takes none


# -------------------------------------------------------- 6. keeping strangers out


def test_the_token_guards_every_route_but_health():
    client = TestClient(create_app(ServiceSettings(api_token=TOKEN)))
    assert client.get("/health").status_code == 200
    for method, path in (("POST", "/reset"), ("POST", "/step"), ("GET", "/state"), ("POST", "/grade"),
                         ("POST", "/mcp"), ("GET", "/schema"), ("GET", "/tasks"), ("GET", "/openapi.json")):
        denied = client.request(method, path)
        _error(denied, 401, "UNAUTHORIZED", "Authorization")
        assert denied.headers["www-authenticate"].startswith("Bearer")
    _error(client.post("/reset", headers={"Authorization": "Bearer wrong-token-0123456789"}), 401, "UNAUTHORIZED")
    assert client.post("/reset", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    with pytest.raises(WebSocketDenialResponse) as denied:
        with client.websocket_connect("/ws"):
            pass
    assert denied.value.status_code == 401 and denied.value.json()["error"]["code"] == "UNAUTHORIZED"
    with client.websocket_connect("/ws", headers={"Authorization": f"Bearer {TOKEN}"}) as ws:
        ws.send_json({"type": "reset"})
        assert ws.receive_json()["type"] == "observation"


@pytest.fixture(scope="module")
def token_server():
    """``python server.py`` started with OPENSOC_API_TOKEN."""
    with running_server(OPENSOC_API_TOKEN=TOKEN) as url:
        yield url


@pytest.mark.slow  # a live server in a subprocess
def test_opensoc_and_openenv_clients_send_the_token(token_server, monkeypatch):
    from openenv.core.generic_client import GenericEnvClient

    from opensoc.client import OpenSOCClient, OpenSOCError, OpenSOCSession
    from opensoc.train.trl_env import OpenSOCDefenderEnv

    monkeypatch.delenv("OPENSOC_API_TOKEN", raising=False)
    with OpenSOCClient(token_server) as anonymous, pytest.raises(OpenSOCError) as refused:
        anonymous.reset()
    assert (refused.value.status, refused.value.code) == (401, "UNAUTHORIZED")
    with OpenSOCClient(token_server, token=TOKEN) as c:
        c.reset(seed=2)
        assert c.step(TRIAGE).done and 0 <= c.grade().score <= 1
    with OpenSOCSession(token_server, token=TOKEN) as s:
        assert s.reset(seed=2).observation.role == "defender"
    monkeypatch.setenv("OPENSOC_API_TOKEN", TOKEN)
    monkeypatch.setenv("OPENSOC_URL", token_server)
    assert "LOGS" in OpenSOCDefenderEnv().reset(task="stage1_basic", seed=1)
    with GenericEnvClient(base_url=token_server, headers={"Authorization": f"Bearer {TOKEN}"}).sync() as env:
        assert env.reset(seed=3).observation["role"] == "defender"
    demo = httpx.get(f"{token_server}/demo/config")
    assert demo.status_code == 401  # the demo asks for the token on its own login page


@pytest.mark.slow  # a live server in a subprocess
def test_documented_token_snippet_works_as_written(token_server):
    import re

    deploy = (REPO / "docs" / "deploy.md").read_text()
    block = next(b for b in re.findall(r"```python\n(.*?)```", deploy, re.S) if '"Bearer ..."' in b)
    code = ("from opensoc.client import OpenSOCSession\nfrom openenv.core.generic_client import GenericEnvClient\n"
            + block.replace("https://<user>-<space>.hf.space", token_server).replace("...", TOKEN))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={k: v for k, v in os.environ.items() if k != "OPENSOC_API_TOKEN"})
    assert proc.returncode == 0, proc.stderr


@pytest.mark.slow  # more than a second
def test_websocket_origins():
    client = TestClient(create_app(ServiceSettings(allowed_origins=("https://trainer.example",),
                                                   public_url="https://opensoc.example")))
    for origin, host in ((None, None), ("https://trainer.example", None), ("https://opensoc.example", None),
                         ("http://localhost:8000", "127.0.0.1:8000"), ("http://127.0.0.1:5173", "localhost:8000")):
        headers = {**({"origin": origin} if origin else {}), **({"host": host} if host else {})}
        with client.websocket_connect("/ws", headers=headers) as ws:
            ws.send_json({"type": "state"})
            assert ws.receive_json()["type"] == "state"
    # Origin equal to Host is what a page whose DNS name was rebound to this server sends: refused, as is a loopback
    # origin reaching a server by a public name, and any other page.
    for origin, host in (("http://evil.example", "evil.example"), ("http://testserver", "testserver"),
                         ("http://localhost", "opensoc.example"), ("https://evil.example", None)):
        headers = {"origin": origin, **({"host": host} if host else {})}
        with pytest.raises(WebSocketDenialResponse) as denied:
            with client.websocket_connect("/ws", headers=headers):
                pass
        assert denied.value.status_code == 403 and denied.value.json()["error"]["field"] == "Origin"


def test_bodies_must_be_json_but_may_be_empty(client):
    for path in ("/reset", "/step", "/grade", "/mcp"):
        for media in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
            _error(client.post(path, content=b"{}", headers={"content-type": media}), 415, "UNSUPPORTED_MEDIA_TYPE",
                   "Content-Type")
    assert client.post("/reset?seed=2").status_code == 200  # no body, no content type: the README's curl
    assert client.post("/reset", content=b"{}", headers={"content-type": "application/json; charset=utf-8"}).status_code == 200
    assert client.post("/mcp", content=b'{"jsonrpc":"2.0","id":1,"method":"tools/list"}',
                       headers={"content-type": "application/vnd.api+json"}).status_code == 200


def test_idle_websocket_sessions_are_closed():
    from starlette.websockets import WebSocketDisconnect

    client = TestClient(create_app(ServiceSettings(ws_idle_s=0.2)))
    with client.websocket_connect("/ws") as ws:
        ws.send_json({"type": "reset"})
        ws.receive_json()
        notice = ws.receive_json()  # the client says nothing; the server gives up on it
        assert notice["data"]["code"] == "SESSION_ERROR" and "0.2 s" in notice["data"]["message"]
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 1000


def test_opensoc_sessions_reconnect_on_reset_after_an_idle_close():
    import uvicorn

    from opensoc.client import OpenSOCError, OpenSOCSession

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(ServiceSettings(ws_idle_s=0.3)), host="127.0.0.1", port=port,
                                           log_level="warning", ws="websockets-sansio"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            thread.join(0.05)  # startup polling: the loop ends on the server's own flag
        with OpenSOCSession(f"http://127.0.0.1:{port}") as s:
            s.reset(seed=1)
            s._ws.recv()  # blocks until the server's idle notice: the session is now closed
            with pytest.raises(OpenSOCError) as closed:
                s.step(TRIAGE)
            assert closed.value.code == "SESSION_CLOSED"
            assert s.reset(seed=1).observation.role == "defender"  # a new connection, a new episode
            assert s.step(TRIAGE).done
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _replays(client, run_id: str, events: list) -> list[int]:
    """Seeds whose stage-4 incident replays the craft: its events among the stage's decoys, under new ids and times."""
    marks = {e["source.bytes"] for e in events}
    seeds = []
    for seed in range(60):
        obs = client.post("/reset", json={"task": "stage4_adversarial", "seed": seed, "use_replay_pool": True,
                                          "run_id": run_id}).json()["observation"]
        seeds += [seed] if marks <= {e.get("source.bytes") for e in obs["alert"]["events"]} else []
    return seeds


@pytest.mark.slow  # more than a second
def test_the_replay_pool_belongs_to_a_run(client):
    craft = generate_from_template("bulk_upload", 5).model_dump(mode="json")
    for run_id in ("trainer-a", None):
        eid = client.post("/reset", json={"mode": "attacker_only", "task": "stage4_adversarial",
                                          **({"run_id": run_id} if run_id else {})}).json()["metadata"]["episode_id"]
        assert client.post("/step", json={"action": {"craft_incident": craft}, "episode_id": eid}).status_code == 200
    assert _replays(client, "trainer-a", craft["events"])  # the run that recorded it replays it
    # A run this process never held has no pool to draw from: said, not silently empty (as after a restart).
    _error(client.post("/reset", json={"task": "stage4_adversarial", "use_replay_pool": True, "run_id": "stranger"}),
           404, "UNKNOWN_RUN", "run_id")
    assert client.post("/reset", json={"run_id": "stranger"}).status_code == 200
    assert not _replays(client, "stranger", craft["events"])  # another run never sees it
    _error(client.post("/reset", json={"task": "stage4_adversarial", "use_replay_pool": True}), 422,
           "INVALID_PARAMETER", "run_id")


def test_runs_are_bounded_and_say_when_they_were_evicted():
    now = [0.0]
    client = TestClient(create_app(ServiceSettings(max_runs=2, max_runs_per_client=2, run_grace_s=100, clock=lambda: now[0])))
    for run_id in ("a", "b"):
        assert client.post("/reset", json={"run_id": run_id}).status_code == 200
    full = client.post("/reset", json={"run_id": "c"})
    _error(full, 429, "TOO_MANY_RUNS")
    assert full.headers["retry-after"] == "100"
    now[0] += 101
    assert client.post("/reset", json={"run_id": "c"}).status_code == 200
    assert "evicted" in _error(client.post("/reset", json={"run_id": "a"}), 404, "RUN_EVICTED", "run_id")["message"]


def test_a_runs_signature_memory_is_bounded():
    memory = SignatureMemory(capacity=3)
    for signature in "abcd":
        memory.add(signature)
    assert len(memory) == 3 and "a" not in memory and list(memory) == ["b", "c", "d"]


# -------------------------------------------------------- 7. the 4xx contract was half kept


def test_framework_errors_carry_the_error_object(client):
    assert "/reset" in _error(client.get("/nowhere"), 404, "NOT_FOUND", "path")["expected"]
    assert _error(client.delete("/reset"), 405, "METHOD_NOT_ALLOWED", "method")["expected"] == ["POST"]
    _error(TestClient(create_app(ServiceSettings(max_body_bytes=64))).post("/reset", json={"task": "x" * 100}),
           413, "BODY_TOO_LARGE", "body")


@pytest.mark.parametrize(("request_args", "status", "code", "field"), [
    (("/grade", {"json": {"episode_id": {}}}), 422, "INVALID_REQUEST", "episode_id"),
    (("/step", {"json": {"action": TRIAGE, "episode_id": {}}}), 422, "INVALID_REQUEST", "episode_id"),
    (("/step", {"json": {"action": TRIAGE, "episode_id": 7}}), 422, "INVALID_REQUEST", "episode_id"),
    (("/step", {"json": {"action": TRIAGE, "timeout_s": "5"}}), 422, "INVALID_REQUEST", "timeout_s"),
    (("/reset", {"json": {"use_replay_pool": None}}), 422, "INVALID_PARAMETER", "use_replay_pool"),
    (("/reset?use_replay_pool=null", {}), 422, "INVALID_PARAMETER", "use_replay_pool"),
    (("/reset?seed=%D9%A3", {}), 422, "INVALID_PARAMETER", "seed"),  # an Arabic-Indic three
    (("/reset?seed=1&seed=2", {}), 422, "INVALID_REQUEST", "seed"),
    (("/reset", {"json": {"seed": 2**63}}), 422, "INVALID_PARAMETER", "seed"),
    (("/state?episode_id=x&extra=1", {}), 422, "INVALID_REQUEST", "extra"),
])
def test_wrong_types_are_refused_not_coerced(client, request_args, status, code, field):
    path, kwargs = request_args
    method = client.get if path.startswith("/state") else client.post
    _error(method(path, **kwargs), status, code, field)


def test_episode_errors_name_the_episode(client):
    eid = client.post("/reset").json()["metadata"]["episode_id"]
    client.post("/step", json={"action": TRIAGE, "episode_id": eid})
    over = _error(client.post("/step", json={"action": TRIAGE, "episode_id": eid}), 409, "EPISODE_OVER", "episode_id")
    assert "reset" in over["expected"]
    pending = client.post("/reset", json={"mode": "self_play"}).json()["metadata"]["episode_id"]
    _error(client.post("/grade", json={"episode_id": pending}), 409, "NOT_GRADABLE", "episode_id")


# -------------------------------------------------------- the documented figures


def test_documented_hardening_figures_come_from_the_benchmark():
    bench = json.loads((REPO / "bench" / "hardening_results.json").read_text())
    page = (REPO / "docs" / "service.md").read_text()
    start = page.index("## Running it in public")
    end = page.find("\n## ", start + 1)
    section = page[start:end if end > 0 else len(page)]
    rows = [line for line in section.splitlines() if line.startswith("| ") and " ms |" in line]
    measured = list(bench["single"].values()) + list(bench["flood"].values()) + list(bench["full"].values())
    assert len(rows) == len(measured) + 1  # and the idle server's row
    for row, r in zip(rows[1:], measured):
        assert row.endswith(f"| {r['request_ms_median']} / {r['request_ms_max']} ms | {r['health_ms_p50']} / "
                            f"{r['health_ms_p99']} / {r['health_ms_max']} ms |"), row
    reproducer = bench["single"]["reproducer"]
    assert reproducer["request_ms_max"] < 1000 and reproducer["health_ms_p99"] < 100
    memory = list(bench["memory"].values())
    assert f"{memory[1]:,.0f} MB with all 4,096 HTTP episodes" in section and f"{memory[2]:,.0f} MB with all 8 runs" in section
    assert "x86_64" in bench["machine"] and "2 cores" in bench["machine"]
