"""Compatibility proven with the real ``openenv`` library and the documented commands and snippets (the README's and
docs/clients.md's), against ``python server.py``."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
from support import REPO

from opensoc.generator import generate
from opensoc.verifier import compute_ground_truth

openenv = pytest.importorskip("openenv")
from openenv.core.generic_client import GenericEnvClient  # noqa: E402


@pytest.mark.slow
def test_generic_env_client_reset_step_state(live_server):
    truth = compute_ground_truth(generate("stage2_multi", 3))
    with GenericEnvClient(base_url=live_server).sync() as env:
        reset = env.reset(seed=3, episode_id="judge-ep-1", task="stage2_multi", mode="defender_only")
        assert reset.done is False and reset.reward is None
        assert reset.observation["role"] == "defender"
        result = env.step({"submit_triage": {"action": truth.action, "cited_log_id": truth.triggering_log_ids[0],
                                             "rationale": "openenv client"}})
        assert result.done is True and result.reward == pytest.approx(1.1)
        state = env.state()
        assert state["episode_id"] == "judge-ep-1" and state["step_count"] == 1


@pytest.mark.slow
def test_generic_env_client_self_play_counts_steps(live_server):
    craft = generate("stage2_multi", 11).model_dump(mode="json")
    with GenericEnvClient(base_url=live_server).sync() as env:
        env.reset(seed=0, episode_id="sp-1", task="stage2_multi", mode="self_play")
        assert env.state()["step_count"] == 0
        mid = env.step({"craft_incident": craft})
        assert mid.done is False and mid.observation["role"] == "defender" and mid.reward == 0.0
        end = env.step({"submit_triage": {"action": "dismiss", "cited_log_id": "L2-0", "rationale": "x"}})
        assert end.done is True and isinstance(end.reward, float)
        state = env.state()
        assert (state["episode_id"], state["step_count"]) == ("sp-1", 2)


def _openenv_cli() -> str:
    path = shutil.which("openenv", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    assert path, "the openenv CLI comes with the dev extra"
    return path


@pytest.mark.slow
@pytest.mark.e2e
def test_openenv_validate_url_passes_every_criterion(live_server):
    proc = subprocess.run([_openenv_cli(), "validate", "--url", live_server, "--json"], capture_output=True, text=True,
                          timeout=120)
    report = json.loads(proc.stdout)
    assert report["passed"] is True, report
    assert report["summary"]["passed_count"] == report["summary"]["total_count"] == 6
    assert all(c["passed"] for c in report["criteria"])


@pytest.mark.slow
@pytest.mark.e2e
def test_openenv_validate_manifest_static():
    proc = subprocess.run([_openenv_cli(), "validate", "--level", "static", "--json", str(REPO)], capture_output=True,
                          text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["verdict"] == "pass"
    assert report["manifest"]["reward"]["range"] == [-2.0, 1.8]


def test_declared_reward_range_matches_the_rubric():
    import yaml

    from opensoc.families.e1.scoring import reward_range
    from opensoc.rubric import ATTACKER_REWARD_RANGE, DEFENDER_REWARD_RANGE

    ranges = [DEFENDER_REWARD_RANGE, ATTACKER_REWARD_RANGE, reward_range("default"), reward_range("compat")]
    manifest = yaml.safe_load((REPO / "openenv.yaml").read_text())
    low, high = manifest["validation"]["reward"]["range"]
    assert (low, high) == (min(r[0] for r in ranges), max(r[1] for r in ranges))
    assert (manifest["spec_version"], manifest["runtime"], manifest["port"], manifest["type"]) == (1, "fastapi", 8000, "space")
    assert manifest["app"] == "opensoc.server:app"


def _doc_block(marker: str, page: str = "README.md") -> str:
    """The first bash or python block of ``page`` (from the checkout's root) that holds ``marker``."""
    text = (REPO / page).read_text()
    blocks = re.findall(r"```(?:bash|python)\n(.*?)```", text, re.S)
    return next(b for b in blocks if marker in b)


@pytest.mark.slow
def test_readme_curl_commands_work_as_written(live_server):
    commands = [line for line in _doc_block("curl -s http://localhost:8000/health").splitlines() if line.startswith("curl")]
    assert len(commands) == 3
    outputs = []
    for command in commands:
        proc = subprocess.run(["bash", "-c", command.replace("http://localhost:8000", live_server)], capture_output=True,
                              text=True, timeout=30)
        assert proc.returncode == 0, proc.stderr
        outputs.append(json.loads(proc.stdout))
    assert outputs[0] == {"status": "healthy"}
    assert outputs[1]["observation"]["alert"]["events"][0]["log_id"] == "L1-0"
    truth = compute_ground_truth(generate("stage1_basic", 0))  # no seed given: the documented default
    assert outputs[2]["done"] is True and outputs[2]["observation"]["verdict"]["correct_action"] == truth.action
    assert outputs[2]["observation"]["verdict"]["triggering_log_ids"] == ["L1-0"]


@pytest.mark.slow
def test_the_client_snippets_work_as_written(live_server, monkeypatch):
    snippet = _doc_block("c = OpenSOCClient()")
    proc = subprocess.run([sys.executable, "-c", snippet], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, OPENSOC_URL=live_server))
    assert proc.returncode == 0, proc.stderr
    reward, correct, score = proc.stdout.split()
    assert correct == compute_ground_truth(generate("stage1_basic", 1)).action and 0 <= float(score) <= 1
    generic = _doc_block("GenericEnvClient(base_url=", "docs/clients.md").replace("http://localhost:8000", live_server)
    proc = subprocess.run([sys.executable, "-c", generic], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "ep-1" in proc.stdout


def test_readme_setup_starts_with_a_venv_and_installs_the_client_the_snippets_import():
    import tomllib

    from packaging.requirements import Requirement

    setup = _doc_block("python3 -m venv")
    assert setup.index("python3 -m venv") < setup.index("pip install")  # Debian's Python refuses pip outside a venv
    first = next(line for line in setup.splitlines() if "pip install" in line)
    extras = set(re.search(r"'\.\[([a-z,-]+)\]'", first).group(1).split(","))
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    installed = {Requirement(r).name for extra in extras for r in declared[extra]}
    generic = _doc_block("GenericEnvClient(base_url=", "docs/clients.md")
    imported = {m.split(".")[0] for m in re.findall(r"^from ([\w.]+) import", generic, re.M)}
    assert imported == {"openenv"} <= installed

