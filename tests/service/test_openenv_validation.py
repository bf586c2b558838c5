"""OpenEnv 0.10's validation, run for real: the manifest's execution declaration, the runtime graders of
``openenv validate`` against ``python server.py``, and an RFC 008 style sweep of oracle, floor and episode state."""

from __future__ import annotations

import hashlib
import json
import math
import os
import subprocess
import sys

import pytest
import yaml
from support import REPO
from support.server import free_port, wait_healthy

from opensoc.env import OpenSOCEnv
from opensoc.eval.investigate import run_investigations
from opensoc.eval.runner import load_items
from opensoc.families.e1.family import e1_dataset, e1_source
from opensoc.families.e1.loading import EVALUATION_SUFFIX, E1SplitError, episode_rows
from opensoc.families.e1.scoring import reward_range
from opensoc.families.e1.tasks import E1_TASKS
from opensoc.families.triage.family import materialized_incident
from opensoc.rubric import DEFENDER_REWARD_RANGE
from opensoc.schema import TRIAGE_ACTIONS
from opensoc.service.runtime_plan import PLAN_PATH, plan_text
from opensoc.tasks.catalog import CATALOG

openenv = pytest.importorskip("openenv")
from openenv.validation.runner import run_validation  # noqa: E402
from openenv.validation.types import ProviderCapability  # noqa: E402

MANIFEST = yaml.safe_load((REPO / "openenv.yaml").read_text())
DECLARED_LOW, DECLARED_HIGH = MANIFEST["validation"]["reward"]["range"]
FLOOR_MARGIN = MANIFEST["validation"]["reward"]["floor_margin"]


def test_the_runtime_plan_is_generated_from_code():
    assert PLAN_PATH.read_text() == plan_text(), "run python -m opensoc.service.runtime_plan"
    assert MANIFEST["validation"]["execution"]["probe_path"] == "validation/runtime.json"


@pytest.mark.slow
@pytest.mark.e2e
def test_static_validation_sees_the_execution_declaration():
    cli = os.path.join(os.path.dirname(sys.executable), "openenv")
    proc = subprocess.run([cli, "validate", "--level", "static", "--json", str(REPO)], capture_output=True, text=True,
                          timeout=120, cwd=REPO)
    report = json.loads(proc.stdout)
    assert proc.returncode == 0 and report["verdict"] == "pass", proc.stdout
    assert report["manifest"]["manifest_schema_version"] == "2"
    assert report["manifest"]["execution"]["kind"] == "openenv_ws"
    assert report["manifest"]["capabilities"]["task_api"] is True
    declared = report["manifest"]["capabilities"]["declared_task_count"]
    assert declared == {name: CATALOG.num_tasks(name) for name in declared}


class _ServedProcess:
    """``python server.py`` as OpenEnv's runner sees a started container: a base URL, then stop()."""

    def __init__(self) -> None:
        port = free_port()
        self.proc = subprocess.Popen([sys.executable, "server.py"], cwd=REPO, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True,
                                     env=dict(os.environ, PORT=str(port), HOST="127.0.0.1", LOG_LEVEL="warning"))
        self.base_url = f"http://127.0.0.1:{port}"
        wait_healthy(self.base_url, self.proc)
        self.peak_rss_kb = 0

    def inspect(self) -> dict:
        return {"pid": self.proc.pid}

    def logs(self, max_bytes: int = 65536) -> str:
        return ""

    def exec(self, argv, timeout_s):
        raise NotImplementedError("no exec: the provider declares no EXEC capability")

    def stop(self) -> None:
        status = open(f"/proc/{self.proc.pid}/status").read()
        self.peak_rss_kb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")))
        self.proc.terminate()
        self.proc.wait(timeout=10)


class LocalProcessProvider:
    """OpenEnv's ValidationProvider protocol over a local process instead of a Docker image: the build is the
    checkout itself (named by its source digest), so the runtime graders run where no Docker daemon is."""

    name = "local-process"
    capabilities = frozenset({ProviderCapability.IMAGE_BUILD})
    supported_network_modes = frozenset({"public"})

    def __init__(self) -> None:
        self.started: list[_ServedProcess] = []

    def build(self, root, execution) -> str:
        assert (root / execution.dockerfile).is_file() and (root / execution.probe_path).is_file()
        return "sha256:" + hashlib.sha256(plan_text().encode()).hexdigest()

    def start(self, spec) -> _ServedProcess:
        self.started.append(_ServedProcess())
        return self.started[-1]


@pytest.mark.slow
@pytest.mark.e2e
def test_openenvs_runtime_graders_pass_against_the_server():
    provider = LocalProcessProvider()
    report = json.loads(run_validation(REPO, provider=provider).model_dump_json())
    status = {r["check_id"]: r["status"] for r in report["results"]}
    for check in ("static.manifest", "runtime.startup", "runtime.observation_schema", "runtime.reward_well_formed",
                  "runtime.state_contract"):
        assert status[check] == "pass", report["results"]
    assert "fail" not in status.values() and "error" not in status.values()
    declared_mb = MANIFEST["validation"]["resources"]["memory_mb"]
    assert 0 < provider.started[0].peak_rss_kb / 1024 < declared_mb  # the declared memory holds the whole server


# ----------------------------------------------------------------------------------------- RFC 008 sweep


def _play(env: OpenSOCEnv, reset: dict, actions: list[dict], episode_id: str) -> float:
    """One episode; checks the state after every frame and each reward against the declared range."""
    env.reset(episode_id=episode_id, **reset)
    reward = None
    for step, action in enumerate(actions, 1):
        obs = env.step(action)
        state = env.state
        assert (state.episode_id, state.step_count) == (episode_id, step)
        reward = obs.reward
        assert type(reward) is float and math.isfinite(reward) and DECLARED_LOW <= reward <= DECLARED_HIGH
    assert obs.done
    assert env.grade().defender_reward == reward  # /grade reports the reward the wire carried
    return reward


def _triage(action: str, cite: str) -> dict:
    return {"submit_triage": {"action": action, "cited_log_id": cite, "rationale": "constant"}}


DO_NOTHING = {"submit_triage": {}}


def _floor_gap(rewards: dict[str, list[float]], oracle_max: float) -> dict[str, float]:
    """Each non-oracle policy's mean, after checking it sits at least the declared margin below the oracle."""
    means = {name: sum(r) / len(r) for name, r in rewards.items()}
    for name, mean in means.items():
        assert mean <= oracle_max - FLOOR_MARGIN, (name, mean)
    return means


@pytest.mark.parametrize("split", ["holdout", "train"])
def test_triage_oracle_is_max_and_constants_sit_below(split):
    env, max_reward = OpenSOCEnv(), DEFENDER_REWARD_RANGE[1]
    entries = CATALOG.list_tasks(split)
    entries = entries if split == "holdout" else entries[::100]  # the train split: 10 seeds per triage stage
    entries = [e for e in entries if e["family"] == "triage"]
    by_task: dict[str, dict[str, list[float]]] = {}
    for e in entries:
        truth, first = (m := materialized_incident(e["task"], e["seed"])).truth, m.alert.events[0].log_id
        oracle = _play(env, e["reset"], [_triage(truth.action, truth.triggering_log_ids[0] if truth.triggering_log_ids
                                                 else first)], f"{e['id']}-oracle")
        assert oracle == max_reward, e
        policies = {f"always_{a}": _triage(a, first) for a in TRIAGE_ACTIONS} | {"do_nothing": DO_NOTHING}
        for name, action in policies.items():
            by_task.setdefault(e["task"], {}).setdefault(name, []).append(
                _play(env, e["reset"], [action], f"{e['id']}-{name}"))
    for rewards in by_task.values():
        _floor_gap(rewards, max_reward)


@pytest.mark.slow
def test_investigation_oracle_is_max_and_constants_sit_below():
    items = load_items("investigation")
    assert all(r["reward"] == DEFENDER_REWARD_RANGE[1]
               for r in run_investigations("investigation_oracle", items, show_progress=False))
    env = OpenSOCEnv()
    by_task: dict[str, dict[str, list[float]]] = {}
    for e in CATALOG.list_tasks("investigation"):
        cite = env.reset(**e["reset"]).investigation.alert.event.log_id
        for name, action in ({f"always_{a}": _triage(a, cite) for a in TRIAGE_ACTIONS} | {"do_nothing": DO_NOTHING}).items():
            by_task.setdefault(e["task"], {}).setdefault(name, []).append(
                _play(env, e["reset"], [action], f"{e['id']}-{name}"))
    for rewards in by_task.values():
        _floor_gap(rewards, DEFENDER_REWARD_RANGE[1])


def _is_evaluation_only(task: str, part: str) -> bool:
    try:
        episode_rows(e1_dataset(E1_TASKS[task].dataset_file, e1_source()), part)
        return False
    except E1SplitError:
        return True


@pytest.mark.parametrize("split", [f"{t}:{p}" for t, spec in E1_TASKS.items() for p in spec.splits])
def test_e1_oracle_is_max_and_constants_sit_below(split):
    task, part = split.split(":")
    env, max_reward = OpenSOCEnv(), reward_range("default")[1]
    entries = CATALOG.list_tasks(split)[:120]
    answers = {r: row["answer"] for r, row in enumerate(
        episode_rows(e1_dataset(E1_TASKS[task].dataset_file, e1_source()), part + EVALUATION_SUFFIX))}
    rewards: dict[str, list[float]] = {}
    for e in entries:
        oracle = {"classify_flow": json.dumps({"label": answers[e["seed"]], "confidence": 1.0})}
        assert _play(env, e["reset"], [oracle], f"{e['id']}-oracle") == max_reward
        for label in ("Benign", "Malicious", "Abstain"):
            answer = {"classify_flow": json.dumps({"label": label, "confidence": 0.5 if label == "Abstain" else 1.0})}
            rewards.setdefault(f"always_{label}", []).append(_play(env, e["reset"], [answer], f"{e['id']}-{label}"))
        rewards.setdefault("do_nothing", []).append(_play(env, e["reset"], [{"classify_flow": ""}], f"{e['id']}-none"))
    if _is_evaluation_only(task, part):
        # A one-class split pays a constant its maximum: it is served only to measure, and refused as a task.
        with pytest.raises(Exception, match="one class|only|eval"):
            env.reset(task=task, split=part)
        return
    _floor_gap(rewards, max_reward)
