"""E1 served by the same service, over HTTP and WebSocket, with both scoring modes and tier reporting."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from opensoc.app_runtime import create_app
from opensoc.e1.builder import IOT23_FILE
from opensoc.e1.loading import synthetic_rows
from opensoc.env import e1_dataset


@pytest.fixture
def client(monkeypatch, tmp_path):
    monkeypatch.delenv("E1_HF_REPO", raising=False)
    monkeypatch.setenv("E1_DATA_DIR", str(tmp_path / "none"))
    monkeypatch.delenv("E1_DATASET_SOURCE", raising=False)
    e1_dataset.cache_clear()
    yield TestClient(create_app())
    e1_dataset.cache_clear()


def _answer_for(obs: dict, rows: list[dict]) -> str:
    return next(r["answer"] for r in rows if r["question"] == obs["flow"]["question"])


def test_http_episode_with_a_raw_completion(client):
    reset = client.post("/reset", json={"task": "e1_iot23", "seed": 4, "split": "test"}).json()
    obs = reset["observation"]
    assert obs["legal_actions"] == ["classify_flow"] and obs["flow"]["tier"] == "synthetic"
    assert obs["flow"]["split"] == "test" and obs["prompt"].startswith("You are a network security analyst")
    assert "answer" not in json.dumps(obs["flow"]).lower().replace("reply", "")
    gold = _answer_for(obs, synthetic_rows(IOT23_FILE))
    completion = f'<think>looking at the flow</think>{{"label": "{gold}", "confidence": 0.8}}'
    step = client.post("/step", json={"action": {"classify_flow": completion}, "episode_id": obs["episode_id"]}).json()
    assert step["done"] and step["reward"] == pytest.approx(1.0 + 0.2 * (1 - 0.04) + 0.1)
    assert step["observation"]["flow_verdict"] == {"answer": gold, "predicted": gold, "correct": True}
    grade = client.post("/grade", json={"episode_id": obs["episode_id"]}).json()
    assert 0.9 < grade["score"] <= 1.0 and grade["rewards"]["e1"]["mode"] == "default"


def test_structured_answer_and_compat_mode(client):
    obs = client.post("/reset", json={"task": "e1_unsw_ood", "seed": 2, "scoring": "compat"}).json()["observation"]
    step = client.post("/step", json={"action": {"classify_flow": {"label": "Abstain", "confidence": 0.0}},
                                      "episode_id": obs["episode_id"]}).json()
    assert step["reward"] == pytest.approx(0.3)  # Security Verifiers' Abstain score
    assert step["observation"]["rewards"]["e1"]["mode"] == "compat"


def test_format_failure_is_scored_and_explained(client):
    obs = client.post("/reset", json={"task": "e1_iot23", "seed": 9}).json()["observation"]
    step = client.post("/step", json={"action": {"classify_flow": '{"label":"Malicious","confidence":true}'},
                                      "episode_id": obs["episode_id"]}).json()
    assert step["done"] and step["reward"] in (-2.0, -0.5)
    assert step["observation"]["errors"][0]["msg"] == "confidence must be a JSON number"


def test_e1_request_errors(client):
    assert client.post("/reset", json={"task": "e1_iot23", "split": "holdout"}).json()["error"]["field"] == "split"
    assert client.post("/reset", json={"task": "e1_iot23", "mode": "self_play"}).json()["error"]["field"] == "mode"
    assert client.post("/reset", json={"task": "stage1_basic", "split": "test"}).json()["error"]["field"] == "split"
    assert client.post("/reset", json={"task": "e1_iot23", "scoring": "lenient"}).status_code == 422
    eid = client.post("/reset", json={"task": "e1_cic_ood"}).json()["observation"]["episode_id"]
    wrong = client.post("/step", json={"action": {"submit_triage": {"action": "dismiss", "cited_log_id": "L1-0"}},
                                       "episode_id": eid})
    assert wrong.status_code == 409 and "classify_flow" in wrong.json()["detail"]


def test_local_tier_through_the_service(monkeypatch, tmp_path):
    rows = synthetic_rows(IOT23_FILE, 50, seed=11)
    for r in rows:
        r["meta"]["source"] = "iot23"
    (tmp_path / IOT23_FILE).write_text("".join(json.dumps(r) + "\n" for r in rows))
    monkeypatch.setenv("E1_DATA_DIR", str(tmp_path))
    e1_dataset.cache_clear()
    try:
        client = TestClient(create_app())
        obs = client.post("/reset", json={"task": "e1_iot23", "seed": 0, "split": "train"}).json()["observation"]
        assert obs["flow"]["tier"] == "local"
        train = [r for r in rows if r["meta"]["split"] == "train"]
        assert obs["flow"]["question"] == train[0]["question"]
    finally:
        e1_dataset.cache_clear()


def test_e1_over_websocket(client):
    with client.websocket_connect("/ws") as ws:
        ws.send_text(json.dumps({"type": "reset", "data": {"task": "e1_iot23", "seed": 1, "split": "dev"}}))
        obs = ws.receive_json()["data"]["observation"]
        gold = _answer_for(obs, synthetic_rows(IOT23_FILE))
        ws.send_text(json.dumps({"type": "step", "data": {"classify_flow": {"label": gold, "confidence": 1.0}}}))
        step = ws.receive_json()["data"]
        assert step["done"] and step["reward"] == pytest.approx(1.3)
        ws.send_text(json.dumps({"type": "state"}))
        assert ws.receive_json()["data"]["task"] == "e1_iot23"
