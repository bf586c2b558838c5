"""Investigations over every transport: HTTP episodes, WebSocket sessions and MCP tools, with the same scores."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from opensoc.app_runtime import create_app
from opensoc.families.investigation.case import build_case


@pytest.fixture
def client():
    return TestClient(create_app())


def _target(task: str, seed: int) -> tuple[str, str]:
    case = build_case(task, seed)
    return case.truth.action, case.truth.triggering_log_ids[0]


def test_an_investigation_over_http(client):
    reset = client.post("/reset", json={"task": "investigate_stage1", "seed": 2})
    assert reset.status_code == 200
    body = reset.json()
    eid, view = body["metadata"]["episode_id"], body["observation"]["investigation"]
    assert body["observation"]["legal_actions"] == ["tool_call", "submit_triage"] and view["call_budget"] == 6
    action, target = _target("investigate_stage1", 2)
    step = client.post("/step", json={"action": {"tool_call": {"name": "search", "arguments": {"query": f"log_id={target}"}}},
                                      "episode_id": eid})
    assert step.status_code == 200 and step.json()["reward"] == 0.0
    assert step.json()["observation"]["investigation"]["last_tool"]["log_ids"] == [target]
    for _ in range(5):
        client.post("/step", json={"action": {"tool_call": {"name": "lookup_host", "arguments": {"name": "DC01"}}},
                                   "episode_id": eid})
    refused = client.post("/step", json={"action": {"tool_call": {"name": "search", "arguments": {}}}, "episode_id": eid})
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "BUDGET_EXHAUSTED" and error["field"] == "tool_call" and error["expected"] == "submit_triage"
    done = client.post("/step", json={"action": {"submit_triage": {"action": action, "cited_log_id": target}}, "episode_id": eid})
    assert done.json()["reward"] == pytest.approx(1.1) and done.json()["done"] is True
    grade = client.post("/grade", json={"episode_id": eid}).json()
    assert grade["score"] == pytest.approx(1.0) and grade["rewards"]["defender"]["evidence_recall"] > 0


def test_a_stateless_step_is_refused_for_an_investigation(client):
    response = client.post("/step?task=investigate_stage1", json={"tool_call": {"name": "search", "arguments": {}}})
    assert response.status_code == 400 and response.json()["error"]["code"] == "STATELESS_MODE"


def test_an_investigation_over_the_websocket(client):
    action, target = _target("investigate_stage2", 5)
    with client.websocket_connect("/ws") as ws:
        ws.send_text(json.dumps({"type": "reset", "data": {"task": "investigate_stage2", "seed": 5}}))
        first = json.loads(ws.receive_text())["data"]["observation"]
        assert first["investigation"]["alert"]["store_events"] >= 800
        ws.send_text(json.dumps({"type": "step", "data": {"tool_call": {"name": "search",
                                                                          "arguments": {"query": f"log_id={target}"}}}}))
        shown = json.loads(ws.receive_text())["data"]
        assert shown["reward"] == 0.0 and shown["observation"]["investigation"]["retrieved"] == 1
        ws.send_text(json.dumps({"type": "step", "data": {"tool_call": {"name": "count", "arguments": {"query": "x=1", "by": "host"}}}}))
        bad = json.loads(ws.receive_text())["data"]["observation"]["investigation"]["last_tool"]
        assert not bad["ok"] and "unknown field" in bad["output"]
        ws.send_text(json.dumps({"type": "step", "data": {"submit_triage": {"action": action, "cited_log_id": target}}}))
        final = json.loads(ws.receive_text())["data"]
        assert final["done"] and final["reward"] == pytest.approx(1.1)
        ws.send_text(json.dumps({"type": "state"}))
        assert json.loads(ws.receive_text())["data"]["step_count"] == 3


def _mcp(client, name: str, arguments: dict) -> dict:
    body = client.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                     "params": {"name": name, "arguments": arguments}})
    assert body.status_code == 200
    return body.json()


def test_an_investigation_over_mcp_tools(client):
    tools = client.post("/mcp", json={"jsonrpc": "2.0", "id": 0, "method": "tools/list"}).json()["result"]["tools"]
    investigate = next(t for t in tools if t["name"] == "investigate")
    assert "investigate_stage3" in investigate["inputSchema"]["properties"]["task"]["enum"]
    action, target = _target("investigate_stage3", 8)
    found = _mcp(client, "investigate", {"task": "investigate_stage3", "seed": 8, "tool": "search",
                                         "arguments": {"query": f"log_id={target}"}})["result"]
    assert found["isError"] is False and target in found["content"][0]["text"]
    alert = json.loads(_mcp(client, "get_alert", {"task": "investigate_stage3", "seed": 8})["result"]["content"][0]["text"])
    assert alert["investigation"]["alert"]["store_events"] > 0
    scored = json.loads(_mcp(client, "submit_triage", {"task": "investigate_stage3", "seed": 8, "action": action,
                                                       "cited_log_id": target})["result"]["content"][0]["text"])
    # Stateless calls cannot show the defender saw the cited event, so no citation bonus is paid.
    assert scored["verdict"]["correct_action"] == action and scored["reward"] == pytest.approx(1.0)
    assert scored["defender"]["breakdown"]["citation"] == 0.0


def test_mcp_investigate_refuses_what_it_cannot_run(client):
    triage_task = _mcp(client, "investigate", {"task": "stage1", "tool": "count"})
    assert triage_task["error"]["code"] == -32602 and "investigate_stage1" in triage_task["error"]["message"]
    stray = _mcp(client, "investigate", {"task": "investigate_stage1", "tool": "count", "query": "x"})
    assert stray["error"]["code"] == -32602 and "query" in stray["error"]["message"]
    unknown_tool = _mcp(client, "investigate", {"task": "investigate_stage1", "tool": "nope"})["result"]
    assert unknown_tool["isError"] is True and "lookup_host" in unknown_tool["content"][0]["text"]
    bad_args = _mcp(client, "investigate", {"task": "investigate_stage1", "tool": "count", "arguments": ["x"]})["result"]
    assert bad_args["isError"] is True
