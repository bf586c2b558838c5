"""The HTTP API: both calling styles, episodes, errors, schemas, and no 5xx on any input."""

from __future__ import annotations

import json

import jsonschema
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import opensoc
from opensoc.app_runtime import ServiceSettings, create_app
from opensoc.generator import generate, generate_from_template
from opensoc.verifier import compute_ground_truth

TRIAGE = {"submit_triage": {"action": "monitor", "cited_log_id": "L1-0", "rationale": "smoke"}}
JSON = {"content-type": "application/json"}


@pytest.fixture
def client():
    return TestClient(create_app())


def _ok(response):
    assert response.status_code == 200, response.text
    return response.json()


def _err(response, status, code, field=None):
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code and body["detail"]
    if field is not None:
        assert body["error"]["field"] == field
    return body


def test_health_metadata_tasks(client):
    assert _ok(client.get("/health")) == {"status": "healthy"}
    meta = _ok(client.get("/metadata"))
    assert meta["name"] == "opensoc" and isinstance(meta["description"], str)
    tasks = _ok(client.get("/tasks"))
    assert [t["name"] for t in tasks["tasks"]] == ["stage1_basic", "stage2_multi", "stage3_mixed", "stage4_adversarial",
                                                  "investigate_stage1", "investigate_stage2", "investigate_stage3",
                                                  "investigate_stage4", "e1_iot23", "e1_cic_ood", "e1_unsw_ood"]
    assert tasks["defaults"] == {"task": "stage1_basic", "mode": "defender_only", "seed": 0, "defender_policy": "analyst"}


def test_project_style_curl_pair_refers_to_one_incident(client):
    reset = _ok(client.post("/reset?task=stage1_basic&mode=defender_only"))
    step = _ok(client.post("/step?task=stage1_basic&mode=defender_only", json=TRIAGE))
    assert reset["observation"]["alert"]["events"][0]["log_id"] == "L1-0"
    assert step["done"] is True and isinstance(step["reward"], float)
    truth = compute_ground_truth(generate("stage1_basic", 0))
    assert step["observation"]["verdict"]["correct_action"] == truth.action
    assert step["observation"]["verdict"]["triggering_log_ids"] == truth.triggering_log_ids
    assert step["observation"]["alert"] is None  # the final observation carries the verdict, not the alert again


def test_openenv_style_bodies(client):
    reset = _ok(client.post("/reset", json={"seed": 5, "episode_id": "ep-1", "task": "stage2_multi", "mode": "defender_only"}))
    assert reset["observation"]["episode_id"] == "ep-1" and reset["metadata"] == {"episode_id": "ep-1"}
    assert reset["reward"] is None and reset["done"] is False and set(reset) == {"observation", "reward", "done", "metadata"}
    truth = compute_ground_truth(generate("stage2_multi", 5))
    step = _ok(client.post("/step", json={"action": {"submit_triage": {"action": truth.action,
                                                                      "cited_log_id": truth.triggering_log_ids[0]}},
                                          "episode_id": "ep-1", "timeout_s": 5}))
    assert step["reward"] == pytest.approx(1.1)
    assert _ok(client.get("/state", params={"episode_id": "ep-1"}))["step_count"] == 1
    grade = _ok(client.post("/grade", json={"episode_id": "ep-1"}))
    assert grade["score"] == pytest.approx(1.0) and grade["verdict"]["correct_action"] == truth.action


def test_bare_reset_then_bare_step(client):
    first = _ok(client.post("/reset", content=b""))
    second = _ok(client.post("/reset", json={}))
    assert first["observation"]["alert"]["events"] == second["observation"]["alert"]["events"]
    step = _ok(client.post("/step", json={"action": TRIAGE}))
    truth = compute_ground_truth(generate("stage1_basic", 0))
    assert step["done"] and step["observation"]["verdict"]["correct_action"] == truth.action
    assert (step["observation"]["task"], step["observation"]["seed"]) == ("stage1_basic", 0)
    eid = step["observation"]["episode_id"]
    assert _ok(client.post("/grade", params={"episode_id": eid}))["episode_id"] == eid


def test_self_play_over_http_needs_the_episode_id(client):
    obs = _ok(client.post("/reset", json={"mode": "self_play", "task": "stage2_multi"}))["observation"]
    craft = {"craft_incident": generate_from_template("dns_tunnel", 1).model_dump(mode="json")}
    _err(client.post("/step?mode=self_play", json=craft), 400, "STATELESS_MODE", "episode_id")
    after_craft = _ok(client.post("/step", params={"episode_id": obs["episode_id"]}, json=craft))
    assert after_craft["observation"]["role"] == "defender" and after_craft["reward"] == 0.0
    _err(client.post("/grade", json={"episode_id": obs["episode_id"]}), 409, "NOT_GRADABLE")
    final = _ok(client.post("/step", json={"action": {"submit_triage": {"action": "escalate", "cited_log_id": "L2-0"}},
                                          "episode_id": obs["episode_id"]}))
    assert final["done"] and final["observation"]["rewards"]["attacker"]["outcome"] == "caught"


def test_errors_name_the_problem(client):
    body = _err(client.post("/reset?task=stage9"), 422, "INVALID_PARAMETER", "task")
    assert body["error"]["expected"][:4] == ["stage1_basic", "stage2_multi", "stage3_mixed", "stage4_adversarial"]
    assert "e1_iot23" in body["error"]["expected"]
    _err(client.post("/reset?mode=coop"), 422, "INVALID_PARAMETER", "mode")
    _err(client.post("/reset?seed=abc"), 422, "INVALID_PARAMETER", "seed")
    _err(client.post("/reset", json={"seed": -3}), 422, "INVALID_PARAMETER", "seed")
    _err(client.post("/reset", json={"seed": "3"}), 422, "INVALID_PARAMETER", "seed")
    _err(client.post("/reset", json={"colour": "red"}), 422, "INVALID_PARAMETER", "colour")
    _err(client.post("/reset?seed=1", json={"seed": 2}), 422, "INVALID_REQUEST", "seed")
    _err(client.post("/reset?bogus=1"), 422, "INVALID_REQUEST", "bogus")
    _err(client.post("/reset", json=[1, 2]), 422, "INVALID_REQUEST")
    _err(client.post("/reset", content=b"{not json", headers=JSON), 400, "MALFORMED_JSON")
    _err(client.post("/step", content=b"\xff\xfe", headers=JSON), 400, "MALFORMED_JSON")
    _err(client.post("/step", json="dismiss"), 422, "INVALID_REQUEST", "body")
    _err(client.post("/step", json={"action": "dismiss"}), 422, "INVALID_ACTION", "action")
    _err(client.post("/step", json={"action": TRIAGE, "extra": 1}), 422, "INVALID_REQUEST", "extra")
    _err(client.post("/step", json={"verdict": "dismiss"}), 422, "INVALID_ACTION", "verdict")
    _err(client.post("/step", json={"craft_incident": {}}), 409, "WRONG_TURN", "craft_incident")
    body = _err(client.post("/step", params={"episode_id": "missing"}, json=TRIAGE), 404, "UNKNOWN_EPISODE", "episode_id")
    assert "no episode of that id" in body["detail"]
    _err(client.post("/grade", json={}), 422, "INVALID_REQUEST", "episode_id")


def test_wrong_turn_and_episode_over(client):
    eid = _ok(client.post("/reset", json={"mode": "self_play"}))["observation"]["episode_id"]
    body = _err(client.post("/step", json={"action": TRIAGE, "episode_id": eid}), 409, "WRONG_TURN")
    assert "attacker's turn" in body["detail"]
    eid = _ok(client.post("/reset"))["observation"]["episode_id"]
    _ok(client.post("/step", json={"action": TRIAGE, "episode_id": eid}))
    body = _err(client.post("/step", json={"action": TRIAGE, "episode_id": eid}), 409, "EPISODE_OVER")
    assert "over" in body["detail"]


def test_body_size_is_bounded():
    client = TestClient(create_app(ServiceSettings(max_body_bytes=2048)))
    _err(client.post("/step", content=b"{" + b" " * 4096 + b"}", headers=JSON), 413, "BODY_TOO_LARGE")


def test_episode_store_expiry_eviction_and_retry_after():
    now = [1000.0]
    settings = ServiceSettings(max_http_episodes=2, episode_ttl_s=600, episode_grace_s=60, clock=lambda: now[0])
    client = TestClient(create_app(settings))
    _ok(client.post("/reset", json={"episode_id": "a"}))
    now[0] += 601
    body = _err(client.post("/step", json={"action": TRIAGE, "episode_id": "a"}), 404, "EPISODE_EXPIRED", "episode_id")
    assert "expired after 600 s idle" in body["detail"]
    _ok(client.post("/reset", json={"episode_id": "b"}))
    now[0] += 10
    _ok(client.post("/reset", json={"episode_id": "c"}))
    body = _err(client.post("/reset", json={"episode_id": "d"}), 429, "TOO_MANY_EPISODES")
    retry = client.post("/reset", json={"episode_id": "d"}).headers["retry-after"]
    assert retry == "50" and "retry in 50 s" in body["detail"]  # b becomes evictable 60 s after its last use
    now[0] += 50
    _ok(client.get("/state", params={"episode_id": "b"}))  # reading is not a use: b stays the oldest
    _ok(client.post("/reset", json={"episode_id": "d"}))  # the least recently used episode, b, made room
    body = _err(client.get("/state", params={"episode_id": "b"}), 404, "EPISODE_EVICTED", "episode_id")
    assert "evicted after 60 s idle to make room" in body["detail"]
    assert _ok(client.get("/state", params={"episode_id": "c"}))["phase"] == "awaiting_defender"


def test_one_clients_bad_requests_do_not_disturb_another(client):
    good = _ok(client.post("/reset", json={"task": "stage3_mixed", "seed": 8, "episode_id": "good"}))
    bad = _ok(client.post("/reset", json={"mode": "self_play", "episode_id": "bad"}))
    assert bad["observation"]["role"] == "attacker"
    for junk in (b"{", b"[]", json.dumps({"action": {"craft_incident": {"events": "x" * 500}}, "episode_id": "bad"}).encode(),
                 json.dumps({"action": TRIAGE, "episode_id": "bad"}).encode()):
        assert client.post("/step", content=junk, headers=JSON).status_code < 500
    state = _ok(client.get("/state", params={"episode_id": "good"}))
    assert state["step_count"] == 0 and state["phase"] == "awaiting_defender"
    truth = compute_ground_truth(generate("stage3_mixed", 8))
    step = _ok(client.post("/step", json={"action": {"submit_triage": {"action": truth.action, "cited_log_id": truth.triggering_log_ids[0]}},
                                          "episode_id": "good"}))
    assert step["reward"] == pytest.approx(1.1)
    assert set(step["observation"]["verdict"]["triggering_log_ids"]) <= {
        e["log_id"] for e in good["observation"]["alert"]["events"]}


def _validator(client, key):
    return jsonschema.Draft202012Validator(_ok(client.get("/schema"))[key])


def test_schema_matches_what_is_sent(client):
    schema = _ok(client.get("/schema"))
    assert set(schema) >= {"action", "observation", "state"}
    obs_v, state_v, action_v = _validator(client, "observation"), _validator(client, "state"), _validator(client, "action")
    craft = {"craft_incident": generate_from_template("ransomware_chain", 2).model_dump(mode="json")}
    triage = {"submit_triage": {"action": "escalate", "cited_log_id": "L2-0"}}
    action_v.validate(craft)
    action_v.validate(triage)
    for mode, actions in (("defender_only", [triage]), ("self_play", [craft, triage]), ("attacker_only", [craft])):
        payload = _ok(client.post("/reset", json={"mode": mode, "task": "stage4_adversarial", "seed": 3}))
        eid = payload["observation"]["episode_id"]
        payloads = [payload] + [_ok(client.post("/step", json={"action": a, "episode_id": eid})) for a in actions]
        for p in payloads:
            obs_v.validate({**p["observation"], "reward": p["reward"], "done": p["done"]})
            assert p["observation"].get("reward", "absent") == "absent"
        state_v.validate(_ok(client.get("/state", params={"episode_id": eid})))
    # One closed model per family, told apart by its "family" tag.
    union = schema["observation"]
    assert union["discriminator"]["propertyName"] == "family" and len(union["oneOf"]) == 3
    assert all(union["$defs"][ref["$ref"].rsplit("/", 1)[1]].get("additionalProperties") is False for ref in union["oneOf"])


def test_mcp_always_answers_200(client):
    assert _ok(client.post("/mcp", json={}))["error"]["code"] == -32600
    assert _ok(client.post("/mcp", content=b"{oops", headers=JSON))["error"]["code"] == -32700
    assert _ok(client.post("/mcp", json={"jsonrpc": "2.0", "method": "nope", "id": 1}))["error"]["code"] == -32601
    tools = _ok(client.post("/mcp", json={"jsonrpc": "2.0", "method": "tools/list", "id": 2}))["result"]["tools"]
    assert [t["name"] for t in tools] == ["get_alert", "submit_triage", "investigate"]
    alert = _ok(client.post("/mcp", json={"jsonrpc": "2.0", "method": "tools/call", "id": 3,
                                          "params": {"name": "get_alert", "arguments": {"task": "stage1_basic", "seed": 2}}}))
    shown = json.loads(alert["result"]["content"][0]["text"])
    assert shown["alert"]["events"][0]["log_id"] == "L1-0"
    truth = compute_ground_truth(generate("stage1_basic", 2))
    scored = _ok(client.post("/mcp", json={"jsonrpc": "2.0", "method": "tools/call", "id": 4, "params": {
        "name": "submit_triage", "arguments": {"task": "stage1_basic", "seed": 2, "action": truth.action, "cited_log_id": "L1-0"}}}))
    assert json.loads(scored["result"]["content"][0]["text"])["reward"] == pytest.approx(1.1)
    bad = _ok(client.post("/mcp", json={"jsonrpc": "2.0", "method": "tools/call", "id": 5, "params": {
        "name": "submit_triage", "arguments": {"action": "nuke", "cited_log_id": "L1-0"}}}))
    assert bad["error"]["code"] == -32602 and "action" in bad["error"]["message"]


def test_openapi_lists_the_simulation_routes(client):
    spec = _ok(client.get("/openapi.json"))
    assert spec["info"]["version"] == opensoc.__version__ and spec["info"]["title"] == "OpenSOC"
    assert {"/reset", "/step", "/state", "/grade", "/tasks", "/schema"} <= set(spec["paths"])


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["action", "submit_triage", "craft_incident", "episode_id", "seed", "task", "mode", "events",
                         "cited_log_id", "x"]) | st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@pytest.mark.slow  # more than a second
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=_json, path=st.sampled_from(["/reset", "/step", "/grade", "/mcp"]))
def test_no_input_causes_a_server_error(client, body, path):
    response = client.post(path, content=json.dumps(body), headers=JSON)
    assert response.status_code < 500, (path, body, response.text)
    assert response.headers["content-type"].startswith("application/json")
