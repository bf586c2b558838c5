"""The TRL path, end to end on a CPU with no downloads: a tiny random causal LM and a locally built tokenizer.

SFT for a few steps, GRPO for two steps with the in-process reward and over the running
service through ``environment_factory`` (defender and attacker), a self-play round, and the
trained adapter evaluated through the eval harness. Each run must log real OpenSOC rewards and
save an adapter.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
from importlib.util import find_spec

import pytest
from support import REPO
from support.tiny_lm import build_model, build_tokenizer, corpus

from opensoc.families.investigation.tasks import INVESTIGATION_TASKS
from opensoc.tasks.frozen import SFT_PATH
from opensoc.train.config import CONFIG_DIR, StageConfig

# Training runs, in process and over a live server. The extras are looked for, not imported, so that collecting the
# fast suite does not pay for importing them.
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not all(find_spec(m) for m in ("trl", "peft")),
                                                    reason="the train extra is not installed")]

LORA = {"r": 4, "alpha": 8, "dropout": 0.0, "target_modules": ["q_proj", "v_proj"]}
TINY = dict(bf16=False, use_cpu=True, logging_steps=1, per_device_train_batch_size=2, lora=LORA)


@pytest.fixture(scope="module")
def tokenizer():
    os.environ["TRL_EXPERIMENTAL_SILENCE"] = "1"
    return build_tokenizer(corpus(SFT_PATH))


def _rewards(out) -> list[float]:
    return [h["reward"] for h in json.loads((out / "metrics.json").read_text()) if "reward" in h]


def _assert_adapter(out) -> None:
    assert (out / "adapter_config.json").is_file() and (out / "adapter_model.safetensors").stat().st_size > 0


def test_sft_then_grpo_in_process(tokenizer, tmp_path):
    from opensoc.eval.hf_policy import HFPolicy
    from opensoc.eval.runner import load_items, run_policy
    from opensoc.train.grpo import run_grpo
    from opensoc.train.sft import run_sft

    sft = StageConfig.from_dict(dict(name="sft", kind="sft", output_dir=str(tmp_path / "sft"), max_steps=3,
                                     train_examples=6, max_length=4096, **TINY))
    model = build_model(tokenizer)
    out = run_sft(sft, model, tokenizer)
    _assert_adapter(out)
    assert [h for h in json.loads((out / "metrics.json").read_text()) if "loss" in h]

    # As the pipeline does: the next stage starts from the base model and loads the previous stage's adapter.
    grpo = StageConfig.from_dict(dict(name="s1", kind="grpo", task="stage1_basic", output_dir=str(tmp_path / "g1"),
                                      init_adapter=str(out), max_steps=2, num_generations=2, max_completion_length=12,
                                      train_examples=4, **TINY))
    model = build_model(tokenizer)
    out = run_grpo(grpo, model, tokenizer)
    _assert_adapter(out)
    rewards = _rewards(out)
    assert len(rewards) == 2 and all(-1.0 <= r <= 1.1 for r in rewards)

    # The trained adapter goes through the same eval harness as any policy.
    policy = HFPolicy("tiny", loaded=(model, tokenizer), max_new_tokens=8)
    records = run_policy(policy, load_items("holdout", ["stage1_basic"], limit=2), show_progress=False)
    assert len(records) == 2 and all(r["outcome"] for r in records)


@pytest.mark.parametrize("role", ["defender", "attacker"])
def test_grpo_over_the_service(tokenizer, tmp_path, live_server, monkeypatch, role):
    from opensoc.train.grpo import run_grpo

    monkeypatch.setenv("OPENSOC_URL", live_server)
    config = StageConfig.from_dict(dict(name=role, kind="grpo", role=role, task="stage2_multi", reward="service",
                                        output_dir=str(tmp_path / role), max_steps=2, num_generations=2,
                                        max_completion_length=12, train_examples=4, **TINY))
    out = run_grpo(config, build_model(tokenizer), tokenizer)
    _assert_adapter(out)
    metrics = json.loads((out / "metrics.json").read_text())
    key = f"rewards/OpenSOC{role.title()}Env/mean"
    assert [h[key] for h in metrics if key in h]  # the environment's own get_reward was logged
    if role == "attacker":  # and the attacker's curves carry its contested and unsound rates
        assert [h["attacker/contested_rate"] for h in metrics if "attacker/contested_rate" in h]
        assert all(0.0 <= h["attacker/unsound_rate"] <= 1.0 for h in metrics if "attacker/unsound_rate" in h)
    low = -1.0 if role == "defender" else -0.5
    assert all(low <= r <= 1.2 for r in _rewards(out))


def test_selfplay_round(tokenizer, tmp_path, live_server, monkeypatch):
    from opensoc.train.selfplay import run_selfplay, selfplay_phases

    monkeypatch.setenv("OPENSOC_URL", live_server)
    base = dict(kind="grpo", max_steps=1, num_generations=2, max_completion_length=8, train_examples=2, **TINY)
    defender = StageConfig.from_dict(dict(name="d", output_dir="unused", task="stage4_adversarial", **base))
    attacker = StageConfig.from_dict(dict(name="a", output_dir="unused", role="attacker", task="stage2_multi", **base))
    phases = selfplay_phases(defender, attacker, 2, tmp_path)
    assert [p.name for p in phases] == ["attacker_r1", "defender_r1", "attacker_r2", "defender_r2"]
    assert phases[1].use_replay_pool and phases[1].reward == "service" and phases[3].init_adapter == phases[1].output_dir
    # Every phase records into and replays from one private run of the server.
    assert len({p.run_id for p in phases}) == 1 and phases[0].run_id.startswith("selfplay-")
    outs = run_selfplay(defender, attacker, 1, tmp_path,
                        models={"defender": (build_model(tokenizer), tokenizer), "attacker": (build_model(tokenizer), tokenizer)})
    for out in outs:
        _assert_adapter(out)


def test_environment_classes_directly(live_server, monkeypatch):
    import inspect

    from opensoc.train.trl_env import OpenSOCAttackerEnv, OpenSOCDefenderEnv

    monkeypatch.setenv("OPENSOC_URL", live_server)
    env = OpenSOCDefenderEnv()
    prompt = env.reset(task="stage1_basic", seed=5)
    assert "LOGS" in prompt
    from opensoc.families.triage.family import materialized_incident

    truth = materialized_incident("stage1_basic", 5).truth
    assert env.submit_triage(truth.action, truth.triggering_log_ids[0], "because").startswith("Recorded")
    assert env.get_reward() == pytest.approx(1.1)
    with pytest.raises(ValueError):
        env.submit_triage("dismiss", "L1-0")
    from opensoc.rubric import score_triage

    silent = OpenSOCDefenderEnv()
    silent.reset(task="stage1_basic", seed=5)
    # A rollout without a tool call is scored as a format violation on this incident.
    assert silent.get_reward() == score_triage(truth, None).reward
    tools = [n for n, m in inspect.getmembers(OpenSOCDefenderEnv, inspect.isfunction) if not n.startswith("_")]
    assert sorted(tools) == ["get_reward", "reset", "submit_triage"]
    assert "Args:" in OpenSOCDefenderEnv.submit_triage.__doc__

    attacker = OpenSOCAttackerEnv()
    assert "TARGET CATEGORY" in attacker.reset(task="stage2_multi", seed=1)
    from opensoc.generator import generate_from_template

    outcome = attacker.craft_incident(generate_from_template("external_guess_then_success", 3).model_dump_json())
    assert outcome.startswith("Outcome: evaded") and attacker.get_reward() == pytest.approx(1.2)
    broken = OpenSOCAttackerEnv()
    broken.reset()
    assert "schema_invalid" in broken.craft_incident("not json") and broken.get_reward() == -0.5


def test_configs_notebook_and_pipeline_script():
    for path in sorted(CONFIG_DIR.glob("*.yaml")):
        config = StageConfig.load(path)
        assert config.kind in ("sft", "grpo") and config.output_dir
        if config.role == "investigator":
            assert config.task in INVESTIGATION_TASKS and config.reward == "service", path.name
    with pytest.raises(ValueError, match="unknown config keys"):
        StageConfig.from_dict({"name": "x", "kind": "sft", "output_dir": "o", "learning_rte": 1})
    notebook = json.loads((REPO / "train" / "train_grpo.ipynb").read_text())
    code = "\n".join("".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code")
    tree = ast.parse(code)
    imported = {(n.module, a.name) for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
    for module, name in imported:
        assert hasattr(__import__(module, fromlist=[name]), name), (module, name)
    assert subprocess.run(["bash", "-n", str(REPO / "scripts" / "run_full_pipeline.sh")]).returncode == 0


def test_stage_command_line_applies_overrides():
    from opensoc.train.config import stage_main

    seen: list[StageConfig] = []
    stage_main(seen.append, "doc", ["--config", str(CONFIG_DIR / "stage2.yaml"), "--base-model", "tiny/model",
                                    "--init-adapter", "runs/a/stage1", "--output-dir", "runs/a/stage2"])
    (config,) = seen
    assert (config.base_model, config.init_adapter, config.output_dir) == ("tiny/model", "runs/a/stage1", "runs/a/stage2")
    assert config.task == "stage2_multi" and config.kind == "grpo"


def test_the_investigator_environment_directly(live_server, monkeypatch):
    import inspect

    from opensoc.families.investigation.case import build_case
    from opensoc.train.trl_env import OpenSOCInvestigatorEnv

    monkeypatch.setenv("OPENSOC_URL", live_server)
    tools = sorted(n for n, _ in inspect.getmembers(OpenSOCInvestigatorEnv, inspect.isfunction) if not n.startswith("_"))
    assert tools == ["count", "get_reward", "lookup_host", "lookup_user", "process_tree", "reset", "search", "submit_triage"]
    assert all("Args:" in getattr(OpenSOCInvestigatorEnv, t).__doc__ for t in tools if t not in ("get_reward", "reset"))
    case = build_case("investigate_stage1", 4)
    env = OpenSOCInvestigatorEnv()
    assert "TOOLS (6 calls" in env.reset(task="investigate_stage1", seed=4)
    target = case.truth.triggering_log_ids[0]
    assert target in env.search(query=f"log_id={target}")
    assert '"values"' in env.count(by="host") and '"role": "critical"' in env.lookup_host("DC01")
    for _ in range(4):
        env.lookup_user("alice.chen")
    assert env.search().startswith("Refused")  # the budget of 6 is spent
    assert env.submit_triage(case.truth.action, target).startswith("Recorded")
    assert env.get_reward() == pytest.approx(1.1)


def test_grpo_trains_an_investigator_over_the_service(tokenizer, tmp_path, live_server, monkeypatch):
    from opensoc.train.grpo import run_grpo

    monkeypatch.setenv("OPENSOC_URL", live_server)
    config = StageConfig.from_dict(dict(name="inv", kind="grpo", role="investigator", task="investigate_stage1",
                                        reward="service", output_dir=str(tmp_path / "inv"), max_steps=2, num_generations=2,
                                        max_completion_length=12, train_examples=4, **TINY))
    out = run_grpo(config, build_model(tokenizer), tokenizer)
    _assert_adapter(out)
    metrics = json.loads((out / "metrics.json").read_text())
    assert [h for h in metrics if "rewards/OpenSOCInvestigatorEnv/mean" in h]
    assert all(-1.0 <= r <= 1.1 for r in _rewards(out))
