"""OpenEnv's WebSocket protocol on /ws."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from opensoc.app_runtime import ServiceSettings, create_app
from opensoc.generator import generate, generate_from_template
from opensoc.verifier import compute_ground_truth


def _send(ws, frame):
    ws.send_text(frame if isinstance(frame, str) else json.dumps(frame))
    return ws.receive_json()


def test_reset_step_state_close():
    client = TestClient(create_app())
    with client.websocket_connect("/ws") as ws:
        msg = _send(ws, {"type": "reset", "data": {"seed": 7, "episode_id": "ep-42", "task": "stage2_multi", "mode": "defender_only"}})
        assert msg["type"] == "observation" and msg["data"]["reward"] is None and msg["data"]["done"] is False
        assert msg["data"]["observation"]["episode_id"] == "ep-42"
        state = _send(ws, {"type": "state"})
        assert state == {"type": "state", "data": {"episode_id": "ep-42", "step_count": 0, "task": "stage2_multi",
                                                   "mode": "defender_only", "seed": 7, "phase": "awaiting_defender",
                                                   "role": "defender", "done": False}}
        truth = compute_ground_truth(generate("stage2_multi", 7))
        msg = _send(ws, {"type": "step", "data": {"submit_triage": {"action": truth.action, "cited_log_id": truth.triggering_log_ids[0]}}})
        assert msg["data"]["done"] is True and msg["data"]["reward"] == pytest.approx(1.1)
        assert _send(ws, {"type": "state"})["data"]["step_count"] == 1
        ws.send_text(json.dumps({"type": "close"}))


def test_error_frames_keep_the_session_open():
    client = TestClient(create_app())
    with client.websocket_connect("/ws") as ws:
        assert _send(ws, "not json")["data"]["code"] == "INVALID_JSON"
        assert _send(ws, {"type": "dance"})["data"] == {"message": "Unknown message type: dance", "code": "UNKNOWN_TYPE",
                                                         "field": "type",
                                                         "expected": ["reset", "step", "state", "close", "mcp"]}
        assert _send(ws, {"kind": "reset"})["data"]["code"] == "VALIDATION_ERROR"
        assert _send(ws, {"type": "step", "data": "dismiss"})["data"]["code"] == "VALIDATION_ERROR"
        early = _send(ws, {"type": "step", "data": {"submit_triage": {"action": "dismiss", "cited_log_id": "L1-0"}}})
        assert early["data"]["code"] == "EXECUTION_ERROR" and early["data"]["reason"] == "NO_EPISODE"
        bad_task = _send(ws, {"type": "reset", "data": {"task": "nope"}})
        assert bad_task["data"]["code"] == "EXECUTION_ERROR" and "stage1_basic" in bad_task["data"]["message"]
        for unhashable in (["stage1_basic"], {"name": "stage1_basic"}):
            shaped = _send(ws, {"type": "reset", "data": {"task": unhashable}})
            assert shaped["type"] == "error" and shaped["data"]["field"] == "task"
        bad_key = _send(ws, {"type": "reset", "data": {"difficulty": 3}})
        assert bad_key["data"]["code"] == "VALIDATION_ERROR"
        _send(ws, {"type": "reset", "data": {"mode": "self_play"}})
        wrong = _send(ws, {"type": "step", "data": {"submit_triage": {"action": "dismiss", "cited_log_id": "L1-0"}}})
        assert wrong["data"]["code"] == "EXECUTION_ERROR" and "attacker's turn" in wrong["data"]["message"]
        craft = {"craft_incident": generate_from_template("external_port_scan", 3).model_dump(mode="json")}
        assert _send(ws, {"type": "step", "data": craft})["data"]["observation"]["role"] == "defender"
        final = _send(ws, {"type": "step", "data": {"submit_triage": {"action": "block_ip", "cited_log_id": "L2-0"}}})
        assert final["data"]["done"] and final["data"]["observation"]["rewards"]["attacker"]["outcome"] == "caught"
        mcp = _send(ws, {"type": "mcp", "data": {"jsonrpc": "2.0", "method": "tools/list", "id": 1}})
        assert mcp["type"] == "mcp" and mcp["data"]["result"]["tools"]


def test_capacity_reached_past_the_cap():
    client = TestClient(create_app(ServiceSettings(max_ws_sessions=1)))
    with client.websocket_connect("/ws") as first:
        _send(first, {"type": "reset"})
        with client.websocket_connect("/ws") as second:
            msg = second.receive_json()
            assert msg["data"]["code"] == "CAPACITY_REACHED"
            assert (msg["data"]["active_sessions"], msg["data"]["max_sessions"]) == (1, 1)
        assert _send(first, {"type": "state"})["data"]["step_count"] == 0
    with client.websocket_connect("/ws") as third:  # the slot was released
        assert _send(third, {"type": "reset"})["type"] == "observation"


def test_each_connection_has_its_own_environment():
    client = TestClient(create_app())
    with client.websocket_connect("/ws") as a, client.websocket_connect("/ws") as b:
        _send(a, {"type": "reset", "data": {"seed": 1, "episode_id": "A"}})
        _send(b, {"type": "reset", "data": {"seed": 2, "episode_id": "B", "mode": "self_play"}})
        _send(a, {"type": "step", "data": {"submit_triage": {"action": "dismiss", "cited_log_id": "L1-0"}}})
        assert _send(b, {"type": "state"})["data"]["episode_id"] == "B"
        assert _send(b, {"type": "state"})["data"]["step_count"] == 0
