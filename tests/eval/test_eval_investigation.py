"""Investigation evaluation: the frozen cases, the baselines, metrics, and a tool-calling LLM over a fake endpoint."""

from __future__ import annotations

import json

import pytest
from fastapi import FastAPI, Request
from support.server import ThreadedApp, free_port

from opensoc.eval.frozen import investigation_rows, render
from opensoc.eval.investigate import (
    LLMInvestigator,
    run_investigations,
    summarize_investigations,
)
from opensoc.eval.runner import load_items
from opensoc.tasks.frozen import INVESTIGATION_HOLDOUT_PATH


@pytest.mark.slow
def test_the_investigation_holdout_regenerates_byte_for_byte_and_is_balanced():
    rows = investigation_rows()
    assert render(rows) == INVESTIGATION_HOLDOUT_PATH.read_bytes()
    per_stage = {}
    for r in rows:
        per_stage.setdefault(r["task"], []).append(r["gold_action"])
    assert all(len(v) == 20 for v in per_stage.values()) and len(per_stage) == 4
    assert all(len(set(v)) >= 4 for v in per_stage.values())


@pytest.mark.slow
def test_baselines_are_ordered_and_report_evidence():
    items = load_items("investigation", limit=8)
    results = {p: summarize_investigations(run_investigations(p, items, show_progress=False))["overall"]
               for p in ("always_dismiss", "scripted_investigator", "investigation_oracle")}
    assert results["investigation_oracle"]["mean_reward"] == pytest.approx(1.1)
    assert results["always_dismiss"]["mean_reward"] + 0.8 < results["scripted_investigator"]["mean_reward"] < 1.1
    assert results["always_dismiss"]["calls_used"] == 0 and results["scripted_investigator"]["calls_used"] >= 1
    assert results["scripted_investigator"]["evidence_recall"] > 0.4 and results["always_dismiss"]["evidence_recall"] == 0


class ToolCallingModel:
    """An OpenAI-compatible endpoint that investigates: it searches the alert's host, then decides, citing what it saw."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        app = FastAPI()

        @app.post("/v1/chat/completions")
        async def chat(request: Request):
            body = await request.json()
            self.requests.append(body)
            assert {t["function"]["name"] for t in body["tools"]} >= {"search", "submit_triage"}
            tool_messages = [m for m in body["messages"] if m["role"] == "tool"]
            if not tool_messages:
                alert = json.loads(body["messages"][0]["content"].split("ALERT (untrusted data):\n", 1)[1].split("\n\n")[0])
                call = {"id": "c1", "type": "function",
                        "function": {"name": "search", "arguments": json.dumps({"query": f"log_id={alert['event']['log_id']}"})}}
                return {"choices": [{"message": {"role": "assistant", "content": None, "tool_calls": [call]}}]}
            seen = json.loads(tool_messages[-1]["content"])["events"][0]["log_id"]
            call = {"id": "c2", "type": "function", "function": {"name": "submit_triage", "arguments": json.dumps(
                {"action": "escalate", "cited_log_id": seen, "rationale": "saw it"})}}
            return {"choices": [{"message": {"role": "assistant", "content": None, "tool_calls": [call]}}]}

        self.served = ThreadedApp(app)
        self.port = self.served.port

    def __enter__(self):
        self.served.__enter__()
        return self

    def __exit__(self, *exc):
        self.served.__exit__(*exc)


def test_an_llm_investigates_with_function_calls(tmp_path):
    items = load_items("investigation", ["investigate_stage1"], limit=4)
    with ToolCallingModel() as model:
        policy = LLMInvestigator(base_url=f"http://127.0.0.1:{model.port}/v1", model="fake", concurrency=2,
                                 cache_dir=tmp_path / "cache")
        records = run_investigations(policy, items, show_progress=False)
        assert len(model.requests) == 2 * len(items)
        again = run_investigations(policy, items, show_progress=False)  # every reply comes from the cache
        assert len(model.requests) == 2 * len(items) and again == records
    for r in records:
        assert r["calls_used"] == 1 and r["predicted"] == "escalate" and r["note"] is None
        if r["gold"] == "escalate" and r["cited_log_id"]:
            assert r["reward"] >= 1.0
    metrics = summarize_investigations(records)["overall"]
    assert metrics["calls_used"] == 1.0 and metrics["format_violation_rate"] == 0.0


def test_an_unreachable_model_is_a_noted_format_violation():
    items = load_items("investigation", ["investigate_stage1"], limit=2)
    policy = LLMInvestigator(base_url=f"http://127.0.0.1:{free_port()}/v1", model="nobody", retries=0, timeout_s=2)
    records = run_investigations(policy, items, show_progress=False)
    assert all(r["predicted"] is None and r["note"] == "no reply from the model endpoint" for r in records)
    assert all(r["error"].startswith("ConnectError on POST http://127.0.0.1:") for r in records)


@pytest.mark.slow
def test_the_documented_investigation_headline_is_a_real_run():
    from support import REPO

    from opensoc.eval.report import markdown_table

    committed = json.loads((REPO / "docs" / "eval_investigation" / "results.json").read_text())["policies"]
    items = load_items("investigation")
    fresh = {p: summarize_investigations(run_investigations(p, items, show_progress=False)) for p in committed}
    assert committed == json.loads(json.dumps(fresh))
    assert markdown_table(fresh) in (REPO / "docs" / "investigation.md").read_text()
