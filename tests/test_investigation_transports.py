"""Investigations over every transport: HTTP episodes, WebSocket sessions and MCP tools, with the same scores."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from opensoc.app_runtime import create_app
from opensoc.investigation.case import build_case


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
