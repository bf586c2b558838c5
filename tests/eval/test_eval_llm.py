"""The LLM policy against a small OpenAI-compatible server started by the test (loopback only).

The server answers by the prompt's hash: well-formed, malformed, flaky (one 503 before a good
answer) or slow (beyond the client's timeout). The test checks retries, caching and that
failed or malformed answers are counted as format violations, never dropped.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections import Counter

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from support.server import ThreadedApp, free_port

from opensoc.eval.policies import LLMPolicy
from opensoc.eval.runner import load_items, run_policy, summarize


def _kind(prompt: str) -> str:
    return ("good", "malformed", "flaky", "slow")[int(hashlib.sha256(prompt.encode()).hexdigest(), 16) % 4]


class FakeOpenAI:
    def __init__(self) -> None:
        self.calls: Counter = Counter()
        self.auth: set = set()
        app = FastAPI()

        @app.post("/v1/chat/completions")
        async def chat(request: Request):
            body = await request.json()
            prompt = body["messages"][-1]["content"]
            kind = _kind(prompt)
            self.calls[kind] += 1
            self.auth.add(request.headers.get("authorization"))
            if kind == "flaky" and self.calls[("flaky", prompt)] == 0:
                self.calls[("flaky", prompt)] += 1
                return JSONResponse({"error": "overloaded"}, status_code=503)
            if kind == "slow":
                await asyncio.sleep(6)  # a model far slower than the client's timeout
            text = ("I think this is bad" if kind == "malformed"
                    else '{"action": "escalate", "cited_log_id": "L1-0", "rationale": "r", "confidence": 0.7}')
            return {"choices": [{"message": {"role": "assistant", "content": text}}]}

        self.served = ThreadedApp(app)
        self.port = self.served.port

    def __enter__(self):
        self.served.__enter__()
        return self

    def __exit__(self, *exc):
        self.served.__exit__(*exc)


@pytest.fixture
def fake():
    with FakeOpenAI() as f:
        yield f


@pytest.mark.slow
def test_retries_caching_and_format_violations(fake, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_KEY", "sk-test")
    items = load_items("holdout", ["stage1_basic"], limit=16)
    policy = LLMPolicy(base_url=f"http://127.0.0.1:{fake.port}/v1", model="fake-1", api_key_env="FAKE_KEY",
                       concurrency=4, timeout_s=1.5, retries=2, cache_dir=tmp_path / "cache", backoff_s=0.01)
    records = run_policy(policy, items, show_progress=False)
    assert len(records) == 16  # nothing dropped
    kinds = Counter(_kind(r_prompt) for r_prompt in _prompts(items))
    assert kinds["slow"] and kinds["malformed"] and kinds["flaky"]  # the sample exercises every behaviour
    stats = policy.client.stats
    assert stats.failures == kinds["slow"]  # timed out on every attempt
    assert stats.retries == kinds["flaky"] + 2 * kinds["slow"]
    metrics = summarize(records)["overall"]
    assert metrics["format_violation_rate"] == pytest.approx((kinds["malformed"] + kinds["slow"]) / 16)
    assert {r["predicted"] for r in records if r["completion"] and "escalate" in r["completion"]} == {"escalate"}
    assert fake.auth == {"Bearer sk-test"}

    # A rerun is served from the cache: the server sees only the slow prompts again.
    before = sum(v for k, v in fake.calls.items() if isinstance(k, str))
    again = LLMPolicy(base_url=f"http://127.0.0.1:{fake.port}/v1", model="fake-1", api_key_env="FAKE_KEY",
                      concurrency=4, timeout_s=1.5, retries=0, cache_dir=tmp_path / "cache")
    rerun = run_policy(again, items, show_progress=False)
    after = sum(v for k, v in fake.calls.items() if isinstance(k, str))
    assert again.client.stats.cache_hits == 16 - kinds["slow"]
    assert after - before == kinds["slow"]
    assert [r["reward"] for r in rerun if _kind_of(r, items) != "slow"] == \
           [r["reward"] for r in records if _kind_of(r, items) != "slow"]


def _prompts(items):
    from opensoc.env import OpenSOCEnv

    return [OpenSOCEnv().reset(task=i["task"], seed=i["seed"]).prompt for i in items]


def _kind_of(record, items):
    item = next(i for i in items if i["id"] == record["id"])
    return _kind(_prompts([item])[0])


def test_permanent_errors_are_not_retried(tmp_path):
    app = FastAPI()
    calls = Counter()

    @app.post("/v1/chat/completions")
    async def chat():
        calls["n"] += 1
        return JSONResponse({"error": "bad model"}, status_code=404)

    with ThreadedApp(app) as served:
        policy = LLMPolicy(base_url=f"http://127.0.0.1:{served.port}/v1", model="nope", api_key_env=None, retries=3,
                           cache_dir=None, backoff_s=0.01)
        records = run_policy(policy, load_items("holdout", ["stage2_multi"], limit=2), show_progress=False)
    assert calls["n"] == 2 and policy.client.stats.failures == 2
    assert all(r["predicted"] is None and r["outcome"] == "format_violation" for r in records)


def _eval_cli(tmp_path, base_url: str, *extra: str) -> tuple[int, list[dict]]:
    from opensoc.cli import main

    out = tmp_path / "run"
    status = main(["eval", "--policy", "llm", "--base-url", base_url, "--model", "x", "--tasks", "stage1_basic",
                   "--limit", "2", "--retries", "1", "--timeout", "5", "--cache-dir", str(tmp_path / "cache"),
                   "--out", str(out), *extra])
    return status, [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]


@pytest.mark.slow  # more than a second
def test_nothing_listening_is_a_failed_run_not_a_score(tmp_path, capsys):
    url = f"http://127.0.0.1:{free_port()}/v1"  # a loopback port with nothing behind it
    status, records = _eval_cli(tmp_path, url)
    assert status == 1
    assert len(records) == 2 and all("ConnectError" in r["error"] and r["outcome"] == "format_violation" for r in records)
    err = capsys.readouterr().err
    assert "2 of 2 requests of llm:x got no answer" in err and "--allow-failures" in err
    status, records = _eval_cli(tmp_path, url, "--allow-failures")  # failures are still recorded, the run succeeds
    assert status == 0 and all(r["error"] for r in records)


@pytest.mark.slow  # more than a second
def test_a_server_error_is_retried_then_reported(tmp_path):
    app = FastAPI()
    calls = Counter()

    @app.post("/v1/chat/completions")
    async def chat():
        calls["n"] += 1
        return JSONResponse({"error": "model crashed"}, status_code=500)

    with ThreadedApp(app) as served:
        status, records = _eval_cli(tmp_path, f"http://127.0.0.1:{served.port}/v1")
    assert status == 1 and calls["n"] == 2 * 2  # two prompts, each tried once and retried once
    assert all(r["error"].startswith("HTTP 500 from http://127.0.0.1:") and "model crashed" in r["error"] for r in records)


def test_a_malformed_answer_is_the_model_s_format_violation(tmp_path):
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat():
        return {"choices": [{"message": {"role": "assistant", "content": "I think this is bad"}}]}

    with ThreadedApp(app) as served:
        status, records = _eval_cli(tmp_path, f"http://127.0.0.1:{served.port}/v1")
    assert status == 0
    assert all("error" not in r and r["outcome"] == "format_violation" for r in records)
