"""The CPU-trained defender and attacker: they learn from the environment's reward, and the committed artifacts hold up."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from opensoc.eval.policies import make_policy
from opensoc.eval.runner import load_items, run_policy, summarize
from opensoc.incidents.features import DIM
from opensoc.incidents.linear_policy import ARTIFACT
from opensoc.train import cpu_attacker, cpu_defender


@pytest.mark.slow
def test_defender_learns_from_reward_alone():
    config = cpu_defender.DefenderTrainConfig(incidents_per_stage=400, eval_every=200, eval_seeds=60,
                                              stages=("stage1_basic", "stage2_multi"), learning_rate=0.03)
    policy, log = cpu_defender.train_defender(config)
    untrained = cpu_defender.LinearPolicy()
    seeds = range(900_000, 900_080)  # seeds neither training nor the hold-out uses
    for stage in config.stages:
        assert cpu_defender.greedy_reward(policy, stage, seeds) > cpu_defender.greedy_reward(untrained, stage, seeds) + 0.3
    assert len(log.steps) == 4 and log.stage == ["stage1_basic"] * 2 + ["stage2_multi"] * 2


def test_committed_defender_beats_its_start_and_random():
    assert ARTIFACT.stat().st_size < 1_000_000
    items = load_items("holdout")
    scores = {p: summarize(run_policy(make_policy(p), items, show_progress=False))["overall"]
              for p in ("cpu_defender", "cpu_defender_untrained", "random")}
    trained = scores["cpu_defender"]
    assert trained["accuracy"] > scores["cpu_defender_untrained"]["accuracy"] + 0.3
    assert trained["accuracy"] > scores["random"]["accuracy"] + 0.3
    assert trained["mean_reward"] > max(scores["cpu_defender_untrained"]["mean_reward"], scores["random"]["mean_reward"]) + 0.5
    log = json.loads((ARTIFACT.parent / "cpu_defender_log.json").read_text())
    assert log["holdout_after"]["accuracy"] == trained["accuracy"]


def test_defender_artifact_round_trips(tmp_path):
    policy = cpu_defender.LinearPolicy(np.random.default_rng(0).normal(size=(5, DIM)).astype(np.float32))
    policy.save(tmp_path / "p.npz")
    loaded = cpu_defender.LinearPolicy.load(tmp_path / "p.npz")
    assert np.allclose(loaded.W, policy.W, atol=1e-2)  # stored as float16 to stay small


@pytest.mark.slow
def test_attacker_raises_its_reward():
    before = cpu_attacker.evasion_rate(cpu_attacker.CategoricalAttacker(), 90, "analyst", 7)
    attacker, log = cpu_attacker.train_attacker(cpu_attacker.AttackerTrainConfig(steps=400, eval_every=200, eval_episodes=90))
    after = cpu_attacker.evasion_rate(attacker, 90, "analyst", 7)
    assert after > before + 0.15
    assert log.mean_reward[-1] > log.mean_reward[0]


def test_attacker_crafts_are_sound_unless_thinned_and_deterministic():
    from opensoc.adjudication.gate import adjudicate

    outcomes = {True: [], False: []}
    for action in range(0, len(cpu_attacker.ACTIONS), 5):
        params = cpu_attacker.craft(action, 3)
        outcomes[cpu_attacker.ACTIONS[action][2]].append(adjudicate(params).outcome)
        assert params == cpu_attacker.craft(action, 3)
    assert set(outcomes[False]) == {None}  # whole templates are sound crafts
    assert set(outcomes[True]) & {"implausible", "contested", "mislabelled"}  # thinning is how crafts go unsound


def test_committed_attacker_artifact():
    assert cpu_attacker.ARTIFACT.stat().st_size < 1_000_000
    attacker = cpu_attacker.CategoricalAttacker.load()
    meta = json.loads(cpu_attacker.ARTIFACT.read_text())["meta"]
    assert meta["evasion_rate_after"] > meta["evasion_rate_before"] + 0.3
    assert cpu_attacker.evasion_rate(attacker, 60, "analyst", 11) > meta["evasion_rate_before"] + 0.3


@pytest.mark.slow
def test_cli_trains_into_a_folder(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "opensoc.cli", "train", "cpu", "--role", "attacker", "--attacker-steps",
                           "60", "--out", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "evasion rate against analyst" in proc.stdout and "update" in proc.stderr
    assert (tmp_path / "cpu_attacker_curve.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((tmp_path / "cpu_attacker_log.json").read_text())["config"]["steps"] == 60


def test_the_documented_training_figures_are_the_committed_results():
    from support import REPO

    readme = (REPO / "docs" / "training.md").read_text()
    policies = json.loads((REPO / "docs" / "eval" / "results.json").read_text())["policies"]
    for name in ("cpu_defender_untrained", "random", "heuristic", "analyst", "cpu_defender"):
        row = next(line for line in readme.splitlines() if line.startswith(f"| `{name}`"))
        overall, by_task = policies[name]["overall"], policies[name]["by_task"]
        reward = f"{overall['mean_reward']:+.3f}".replace("-", "−")
        stages = f"{by_task['stage3_mixed']['accuracy']:.0%} / {by_task['stage4_adversarial']['accuracy']:.0%}"
        assert f"| {overall['accuracy']:.1%} | {reward} | {stages} |" in row, name
    meta = json.loads(cpu_attacker.ARTIFACT.read_text())["meta"]
    assert f"from {meta['evasion_rate_before']:.0%} (uniform" in readme and f"to {meta['evasion_rate_after']:.1%}" in readme
