"""The ``opensoc`` command line as a user runs it: version, serve, tasks, working folders, regeneration, help."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import httpx
import pytest
from support import REPO
from support.server import free_port, wait_healthy

import opensoc
from opensoc.eval.investigate import INVESTIGATION_POLICIES
from opensoc.eval.policies import BUILTIN
from opensoc.families.registry import all_task_names
from opensoc.reference.committed import COMMITTED_RUNS, DEFENDER_CURVE, DEMO_EXAMPLES
from opensoc.tasks.catalog import CATALOG


def opensoc_cli(*args: str, cwd=REPO, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "opensoc.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout)


@pytest.mark.slow
def test_help_names_every_command_and_every_policy():
    top = opensoc_cli("--help").stdout
    for command in ("serve", "tasks", "eval", "regenerate", "train", "data"):
        assert command in top
    words = set(opensoc_cli("eval", "--help").stdout.replace(",", " ").replace(";", " ").split())
    assert {*BUILTIN, *INVESTIGATION_POLICIES, "llm", "hf"} <= words


@pytest.mark.slow
def test_tasks_lists_every_task_and_split():
    table = opensoc_cli("tasks")
    assert table.returncode == 0
    for name in [*all_task_names(), *CATALOG.split_names()]:
        assert name in table.stdout
    listing = json.loads(opensoc_cli("tasks", "--json").stdout)
    assert [t["name"] for t in listing["tasks"]] == all_task_names()
    assert [s["name"] for s in listing["splits"]] == list(CATALOG.split_names())


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
def test_eval_refuses_a_task_the_split_does_not_hold(tmp_path):
    ran = opensoc_cli("eval", "--policy", "heuristic", "--tasks", "stage9_imaginary", cwd=tmp_path)
    assert ran.returncode == 2 and "stage9_imaginary" in ran.stderr and "stage1_basic" in ran.stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
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


@pytest.mark.slow
@pytest.mark.parametrize("args", [["eval", "--policy", "nonexistent"], ["eval", "--split", "e1_iot23:tset"]])
def test_unknown_names_are_errors_that_list_what_exists(tmp_path, args):
    ran = opensoc_cli(*args, cwd=tmp_path)
    assert ran.returncode == 2 and "expected" in ran.stderr


# ------------------------------------------------------------------ every policy against every split


def _all_policy_names() -> list[str]:
    from opensoc.eval.runner import policy_names, split_names

    return sorted({name for split in split_names() for name in policy_names(split)} | {*BUILTIN, *INVESTIGATION_POLICIES})


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1 and err.startswith("opensoc: error: "), err
    return err


def test_every_policy_on_every_split_plays_it_or_is_refused_in_one_line(tmp_path, capsys):
    """``split_names()`` x every policy name: a policy that plays the split's family scores an episode of it without
    a format violation; any other is refused before any work, in one line naming the policies that fit."""
    from opensoc.cli import main
    from opensoc.eval.runner import (
        load_items,
        make_policy_for,
        policy_names,
        run_policy,
        split_names,
        summarize,
    )

    played = refused = 0
    for split in split_names():
        fits = policy_names(split)
        items = None
        for name in _all_policy_names():
            if name in fits and name in ("llm", "hf"):  # they need an endpoint or a model: named in one line
                assert main(["eval", "--policy", name, "--split", split, "--out", str(tmp_path / "x")]) == 2
                assert ("--base-url" if name == "llm" else "--hf-model") in _one_line_error(capsys)
            elif name in fits:
                items = items or load_items(split, limit=1)
                summary = summarize(run_policy(make_policy_for(split, name), items[:1], show_progress=False))
                assert summary["overall"]["n"] == 1 and summary["overall"]["format_violation_rate"] == 0, (split, name)
                played += 1
            else:
                assert main(["eval", "--policy", name, "--split", split, "--out", str(tmp_path / "x")]) == 2
                err = _one_line_error(capsys)
                assert f"'{name}'" in err and f"'{split}'" in err and all(f in err for f in fits), err
                with pytest.raises(ValueError, match="does not play"):
                    make_policy_for(split, name)
                refused += 1
    assert not (tmp_path / "x").exists()  # nothing was written for a refused command
    assert played >= len(split_names()) * 3 and refused >= len(split_names()) * 3
    capsys.readouterr()


def test_the_runner_refuses_a_policy_object_of_another_family():
    from opensoc.eval.runner import load_items, run_policy

    for split, name in (("holdout", "always_abstain"), ("e1_iot23:test", "heuristic"), ("investigation", "heuristic")):
        with pytest.raises(ValueError, match="does not play"):
            run_policy(BUILTIN[name], load_items(split, limit=1), show_progress=False)


@pytest.mark.parametrize("args", [["train", "scratch", "--size", "tiny"],
                                  ["eval", "--policy", "hf", "--hf-model", "some/model", "--limit", "1"]])
def test_training_commands_without_the_train_extra_name_it(args, tmp_path, capsys, monkeypatch):
    from opensoc.cli import main

    for module in ("torch", "transformers"):
        monkeypatch.setitem(sys.modules, module, None)  # as if not installed: find_spec and import both fail
    assert main([*args, "--out", str(tmp_path / "out")]) == 2
    err = _one_line_error(capsys)
    assert "missing: torch, transformers" in err and "pip install -e '.[train]'" in err and "download.pytorch.org" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.slow  # more than a second
def test_a_rerun_into_the_same_folder_says_what_it_replaces(tmp_path, capsys):
    from opensoc.cli import main

    out = str(tmp_path / "run")
    assert main(["eval", "--policy", "heuristic", "always_dismiss", "--tasks", "stage1_basic", "--limit", "1",
                 "--out", out]) == 0
    assert "warning" not in capsys.readouterr().err
    assert main(["eval", "--policy", "heuristic", "--tasks", "stage1_basic", "--limit", "1", "--out", out]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("opensoc: warning:")]
    assert len(warnings) == 2, warnings
    assert "holds a previous run (heuristic, always_dismiss;" in warnings[0] and "--out" in warnings[0]
    assert warnings[1].endswith("not rewritten by this one: confusion_always_dismiss.png")
    assert list(json.loads((tmp_path / "run" / "results.json").read_text())["policies"]) == ["heuristic"]
