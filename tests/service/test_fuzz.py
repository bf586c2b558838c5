"""Property-based fuzzing: thousands of malformed and adversarial requests, and no 5xx, crash or dropped session.

- schemathesis generates requests from ``/openapi.json`` (the real request bodies and query
  parameters), both ones that fit the schema and ones that break it;
- hypothesis generates ``/ws`` frames and ``craft_incident`` mutations.

Every answer must be JSON; every 4xx must carry OpenSOC's error object; the service must
still answer afterwards.
"""

from __future__ import annotations

import json

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opensoc.app_runtime import create_app
from opensoc.generator import generate

pytestmark = pytest.mark.slow  # hypothesis and schemathesis search for a minute

APP = create_app()
SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", APP)
CLIENT = TestClient(APP)


def _assert_answer(response) -> None:
    assert response.status_code < 500, response.text[:500]
    if response.status_code == 202:  # JSON-RPC notifications alone: answered with nothing
        assert not response.content
        return
    media = response.headers["content-type"]
    media = media[0] if isinstance(media, list) else media  # schemathesis lists each header's values
    assert media.startswith("application/json"), response.headers
    body = response.json()
    if 400 <= response.status_code < 500:
        error = body["error"]
        assert isinstance(error["code"], str) and error["code"] and error["message"] and body["detail"]
        assert "field" in error and "expected" in error
        if error["field"] is not None:
            assert error["expected"] is not None, body


@SCHEMA.parametrize()
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
def test_openapi_fuzz(case):
    _assert_answer(case.call())


def test_the_service_still_answers_after_fuzzing():
    assert CLIENT.get("/health").json() == {"status": "healthy"}
    episode = CLIENT.post("/reset", json={"seed": 3}).json()["metadata"]["episode_id"]
    step = CLIENT.post("/step", json={"action": {"submit_triage": {"action": "dismiss", "cited_log_id": "L1-0"}},
                                      "episode_id": episode})
    assert step.status_code == 200 and step.json()["done"]


# Adversarial JSON: huge and tiny numbers, deep nesting, surrogates, the field names the service reads.
_KEYS = st.sampled_from(["type", "data", "action", "submit_triage", "craft_incident", "classify_flow", "episode_id",
                         "seed", "task", "mode", "run_id", "use_replay_pool", "events", "jsonrpc", "method", "id",
                         "params", "label", "confidence"]) | st.text(max_size=6)
_SCALARS = (st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=12)
            | st.sampled_from(["reset", "step", "state", "mcp", "stage4_adversarial", "e1_iot23", "self_play",
                               "attacker_only", "tools/call", "2.0", "```", "２０２６-01-01T00:00:00Z"]))
_JSON = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=4),
                     max_leaves=25)
_RAW = st.sampled_from(["[" * 2000, '{"type": "reset", "data": {"seed": ' + "9" * 5000 + "}}", '"\\ud800"', "NaN",
                        '{"type": "step", "data": {"classify_flow": "```' + " " * 20000 + '"}}', "\x00", ""])


def _frame(value) -> str:
    return json.dumps(value, allow_nan=True)


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(frames=st.lists(st.one_of(_JSON.map(_frame), st.fixed_dictionaries(
    {"type": st.sampled_from(["reset", "step", "state", "mcp"]), "data": _JSON}).map(_frame), _RAW), min_size=1,
    max_size=6))
def test_websocket_fuzz(frames):
    with CLIENT.websocket_connect("/ws") as ws:
        for frame in frames:
            ws.send_text(frame)
            reply = ws.receive_json()
            assert reply["type"] in ("observation", "state", "mcp", "error"), reply
            assert "internal error" not in json.dumps(reply), reply
        ws.send_json({"type": "state"})
        assert ws.receive_json()["type"] == "state"  # the session is still open


_CRAFT = generate("stage3_mixed", 2).model_dump(mode="json")


@st.composite
def _mutated_craft(draw):
    craft = json.loads(json.dumps(_CRAFT))
    for _ in range(draw(st.integers(1, 4))):
        event = craft["events"][draw(st.integers(0, len(craft["events"]) - 1))]
        key = draw(st.sampled_from(sorted(event)) | _KEYS)
        event[key] = draw(_JSON)
    if draw(st.booleans()):
        craft[draw(st.sampled_from(["category", "target_label", "narrative", "events", "extra"]))] = draw(_JSON)
    return craft


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(craft=_mutated_craft(), mode=st.sampled_from(["self_play", "attacker_only"]))
def test_craft_incident_fuzz(craft, mode):
    episode = CLIENT.post("/reset", json={"mode": mode, "task": "stage3_mixed"}).json()["metadata"]["episode_id"]
    response = CLIENT.post("/step", content=_frame({"action": {"craft_incident": craft}, "episode_id": episode}),
                           headers={"content-type": "application/json"})
    _assert_answer(response)
    if response.status_code == 200 and mode == "self_play" and not response.json()["done"]:
        triage = {"submit_triage": {"action": "escalate", "cited_log_id": craft["events"][0].get("log_id", "L0")}}
        _assert_answer(CLIENT.post("/step", json={"action": triage, "episode_id": episode}))


@pytest.mark.parametrize("path", ["/reset", "/step", "/grade", "/mcp"])
@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=st.one_of(_JSON.map(_frame), _RAW))
def test_http_json_fuzz(path, body):
    _assert_answer(CLIENT.post(path, content=body, headers={"content-type": "application/json"}))
