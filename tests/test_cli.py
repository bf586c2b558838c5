"""The ``opensoc`` command line as a user runs it: version, serve, tasks, working folders, regeneration, help."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import httpx
import pytest
from conftest import REPO, free_port, wait_healthy

import opensoc
from opensoc.reference.committed import COMMITTED_RUNS, DEFENDER_CURVE, DEMO_EXAMPLES
from opensoc.eval.investigate import INVESTIGATION_POLICIES
from opensoc.eval.policies import BUILTIN
from opensoc.tasks.catalog import CATALOG
from opensoc.families.registry import all_task_names


def opensoc_cli(*args: str, cwd=REPO, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "opensoc.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout)


def test_help_names_every_command_and_every_policy():
    top = opensoc_cli("--help").stdout
    for command in ("serve", "tasks", "eval", "regenerate", "train", "data"):
        assert command in top
    words = set(opensoc_cli("eval", "--help").stdout.replace(",", " ").replace(";", " ").split())
    assert {*BUILTIN, *INVESTIGATION_POLICIES, "llm", "hf"} <= words


def test_tasks_lists_every_task_and_split():
    table = opensoc_cli("tasks")
    assert table.returncode == 0
    for name in [*all_task_names(), *CATALOG.split_names()]:
        assert name in table.stdout
    listing = json.loads(opensoc_cli("tasks", "--json").stdout)
    assert [t["name"] for t in listing["tasks"]] == all_task_names()
    assert [s["name"] for s in listing["splits"]] == list(CATALOG.split_names())


def test_serve_answers_on_the_port_it_is_given():
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "opensoc.cli", "serve", "--port", str(port)], cwd=REPO,
                            env=dict(os.environ, LOG_LEVEL="warning"), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc)
        assert httpx.get(f"http://127.0.0.1:{port}/metadata").json()["version"] == opensoc.__version__
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_eval_and_training_write_to_a_working_folder(tmp_path):
    ran = opensoc_cli("eval", "--policy", "heuristic", "--limit", "1", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert json.loads((tmp_path / "runs/eval/holdout/results.json").read_text())["split"] == "holdout"
    e1 = opensoc_cli("eval", "--policy", "e1_oracle", "--split", "e1_iot23:test", "--limit", "2", cwd=tmp_path)
    assert e1.returncode == 0 and (tmp_path / "runs/eval/e1_iot23_test/results.json").is_file()
    trained = opensoc_cli("train", "cpu", "--incidents-per-stage", "10", "--attacker-steps", "2", cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    assert {"cpu_defender.npz", "cpu_attacker.json"} <= {p.name for p in (tmp_path / "runs/train/cpu").iterdir()}
    assert not subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True).stdout.count(
        "train/artifacts")  # the committed policies are untouched


def test_eval_refuses_a_task_the_split_does_not_hold(tmp_path):
    ran = opensoc_cli("eval", "--policy", "heuristic", "--tasks", "stage9_imaginary", cwd=tmp_path)
    assert ran.returncode == 2 and "stage9_imaginary" in ran.stderr and "stage1_basic" in ran.stderr
    assert not (tmp_path / "runs").exists()


def test_regenerate_reproduces_the_committed_results_byte_for_byte(tmp_path):
    committed = [run.folder for run in COMMITTED_RUNS] + [DEMO_EXAMPLES, DEFENDER_CURVE]
    for rel in committed:
        source, target = REPO / rel, tmp_path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if source.is_dir() else shutil.copyfile)(source, target)
    (tmp_path / "docs/eval/table.md").write_text("edited by hand\n")
    check = opensoc_cli("regenerate", "--check", "--into", str(tmp_path))
    assert check.returncode == 1
    assert check.stderr.splitlines() == ["differs from a fresh regeneration: docs/eval/table.md"]  # every other file
    written = opensoc_cli("regenerate", "--into", str(tmp_path / "fresh"))
    assert written.returncode == 0 and all(run.command() in written.stdout for run in COMMITTED_RUNS)


@pytest.mark.parametrize("args", [["eval", "--policy", "nonexistent"], ["eval", "--split", "e1_iot23:tset"]])
def test_unknown_names_are_errors_that_list_what_exists(tmp_path, args):
    ran = opensoc_cli(*args, cwd=tmp_path)
    assert ran.returncode == 2 and "expected" in ran.stderr
