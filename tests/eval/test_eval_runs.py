"""Evaluation runs: in-process and HTTP give the same numbers; the CLI writes its outputs; the documented figures are real."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from support import REPO

from opensoc.eval.policies import make_policy
from opensoc.eval.report import markdown_table
from opensoc.eval.runner import load_items, run_policy, summarize

BASELINES = ["always_dismiss", "random", "heuristic", "verifier_oracle"]
HEADLINE = ["always_dismiss", "random", "heuristic", "analyst", "cpu_defender_untrained", "cpu_defender", "verifier_oracle"]


@pytest.mark.slow
@pytest.mark.parametrize("policy", ["heuristic", "random"])
def test_in_process_and_http_agree(live_server, policy):
    items = load_items("holdout", limit=6)
    local = run_policy(make_policy(policy), items, show_progress=False)
    remote = run_policy(make_policy(policy), items, url=live_server, show_progress=False)
    assert local == remote
    assert summarize(local) == summarize(remote)


@pytest.mark.slow
def test_e1_in_process_and_http_agree(live_server):
    items = load_items("e1_iot23:test", limit=15)
    local = run_policy(make_policy("random"), items, show_progress=False)
    remote = run_policy(make_policy("random"), items, url=live_server, show_progress=False)
    assert local == remote and summarize(local)["kind"] == "e1"


def test_baselines_are_ordered():
    results = {p: summarize(run_policy(make_policy(p), load_items("holdout"), show_progress=False)) for p in BASELINES}
    acc = {p: results[p]["overall"]["accuracy"] for p in BASELINES}
    assert acc["verifier_oracle"] == 1.0 and acc["always_dismiss"] <= 0.25
    for stage in ("stage3_mixed", "stage4_adversarial"):
        h = results["heuristic"]["by_task"][stage]["accuracy"]
        floor = max(results[p]["by_task"][stage]["accuracy"] for p in ("always_dismiss", "random"))
        assert floor + 0.2 < h < 1.0 - 0.2, stage  # clearly above the floor, clearly below the oracle


@pytest.mark.slow
def test_cli_writes_a_run_folder(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "opensoc.cli", "eval", "--policy", "always_dismiss", "heuristic",
                           "--split", "holdout", "--tasks", "stage3_mixed", "--limit", "5", "--out", str(out)],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "heuristic" in proc.stdout and "ex/s" in proc.stderr  # the table, and the progress bar
    results = json.loads((out / "results.json").read_text())
    assert set(results["policies"]) == {"always_dismiss", "heuristic"}
    assert len((out / "records.jsonl").read_text().splitlines()) == 10
    for png in ("headline.png", "reward_by_stage.png", "confusion_heuristic.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    e1 = subprocess.run([sys.executable, "-m", "opensoc.cli", "eval", "--policy", "always_malicious", "e1_oracle",
                         "--split", "e1_iot23:test", "--limit", "20", "--out", str(tmp_path / "e1")],
                        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert e1.returncode == 0, e1.stderr
    e1_results = json.loads((tmp_path / "e1" / "results.json").read_text())["policies"]
    assert e1_results["e1_oracle"]["overall"]["tpr"] == 1.0 and e1_results["always_malicious"]["overall"]["fpr"] == 1.0
    bad = subprocess.run([sys.executable, "-m", "opensoc.cli", "eval", "--policy", "llm"], capture_output=True,
                         text=True, timeout=60, cwd=tmp_path)
    assert bad.returncode == 2 and "--base-url" in bad.stderr


def test_the_documented_headline_is_a_real_run():
    committed = json.loads((REPO / "docs" / "eval" / "results.json").read_text())
    fresh = {p: summarize(run_policy(make_policy(p), load_items("holdout"), show_progress=False)) for p in HEADLINE}
    assert committed["policies"] == json.loads(json.dumps(fresh))
    page = (REPO / "docs" / "evaluation.md").read_text()
    assert markdown_table(fresh) in page
