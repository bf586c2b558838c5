"""E1 served by the same service, over HTTP and WebSocket, with both scoring modes and tier reporting."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient

from opensoc.app_runtime import create_app
from opensoc.families.e1.builder import CIC_FILE, IOT23_FILE
from opensoc.families.e1.family import e1_dataset
from opensoc.families.e1.loading import synthetic_rows


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


def _serve(monkeypatch, tmp_path, name: str, rows: list[dict]) -> TestClient:
    (tmp_path / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    monkeypatch.setenv("E1_DATA_DIR", str(tmp_path))
    e1_dataset.cache_clear()
    return TestClient(create_app())


@pytest.mark.parametrize(("kept", "measured"), [("Benign", "false-positive rate"), ("Malicious", "detection rate")])
def test_a_one_class_file_is_refused_as_a_task_and_served_for_evaluation(monkeypatch, tmp_path, caplog, kept, measured):
    rows = [r for r in synthetic_rows(CIC_FILE, 120, seed=5) if r["answer"] == kept]
    with caplog.at_level(logging.WARNING, "opensoc.families.e1"):
        client = _serve(monkeypatch, tmp_path, CIC_FILE, rows)
        refused = client.post("/reset", json={"task": "e1_cic_ood", "seed": 1})
    try:
        assert refused.status_code == 422
        error = refused.json()["error"]
        assert error["field"] == "split" and error["expected"] == ["ood:eval"]
        assert f"holds {len(rows)} {kept} rows" in error["message"] and measured in error["message"]
        assert any(measured in r.getMessage() and CIC_FILE in r.getMessage() for r in caplog.records)  # announced
        obs = client.post("/reset", json={"task": "e1_cic_ood", "seed": 1, "split": "ood:eval"}).json()["observation"]
        assert obs["flow"]["split"] == "ood:eval" and obs["flow"]["tier"] == "local"
        assert obs["flow"]["question"] == rows[1]["question"]
        step = client.post("/step", json={"action": {"classify_flow": {"label": kept, "confidence": 1.0}},
                                          "episode_id": obs["episode_id"]}).json()
        assert step["observation"]["flow_verdict"]["correct"] is True
    finally:
        e1_dataset.cache_clear()


def test_the_same_file_with_both_classes_is_an_ordinary_task(monkeypatch, tmp_path, caplog):
    rows = synthetic_rows(CIC_FILE, 120, seed=5)
    with caplog.at_level(logging.WARNING, "opensoc.families.e1"):
        client = _serve(monkeypatch, tmp_path, CIC_FILE, rows)
        reset = client.post("/reset", json={"task": "e1_cic_ood", "seed": 1})
    try:
        assert reset.status_code == 200 and reset.json()["observation"]["flow"]["split"] == "ood"
        assert not [r for r in caplog.records if "evaluation set" in r.getMessage()]
    finally:
        e1_dataset.cache_clear()


def test_eval_reports_the_false_positive_rate_of_a_one_class_file(monkeypatch, tmp_path):
    from opensoc.eval.policies import make_policy
    from opensoc.eval.runner import load_items, run_policy, summarize

    rows = [r for r in synthetic_rows(CIC_FILE, 200, seed=6) if r["answer"] == "Benign"]
    _serve(monkeypatch, tmp_path, CIC_FILE, rows)
    try:
        items = load_items("e1_cic_ood:ood")
        assert len(items) == len(rows)
        alarmist = summarize(run_policy(make_policy("always_malicious"), items, show_progress=False))["overall"]
        quiet = summarize(run_policy(make_policy("always_benign"), items, show_progress=False))["overall"]
        assert (alarmist["fpr"], quiet["fpr"]) == (1.0, 0.0)
        assert alarmist["tpr"] is None and alarmist["confusion"]["fp"] == len(rows)
    finally:
        e1_dataset.cache_clear()
