"""E1 as a verifiers SingleTurnEnv (the optional extra, installed with the dev extras)."""

from __future__ import annotations

import json

import pytest

vf = pytest.importorskip("verifiers")

from opensoc.e1.builder import IOT23_FILE  # noqa: E402
from opensoc.e1.scoring import SYSTEM_PROMPT, score_default  # noqa: E402
from opensoc.e1.verifiers_env import load_environment  # noqa: E402


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    monkeypatch.delenv("E1_HF_REPO", raising=False)
    monkeypatch.setenv("E1_DATA_DIR", str(tmp_path))


def test_load_environment_honours_split_seed_and_eval_set():
    env = load_environment(IOT23_FILE, dataset_source="synthetic", max_examples=50, split="train", seed=3)
    assert isinstance(env, vf.SingleTurnEnv)
    assert len(env.dataset) == 50 and {r["info"]["split"] for r in env.dataset} == {"train"}
    assert {r["info"]["split"] for r in env.eval_dataset} <= {"dev", "test"} and len(env.eval_dataset) == 50
    assert all(r["info"]["tier"] == "synthetic" for r in env.dataset)
    assert env.system_prompt == SYSTEM_PROMPT
    other = load_environment(IOT23_FILE, dataset_source="synthetic", max_examples=50, split="train", seed=4)
    assert [r["question"] for r in env.dataset] != [r["question"] for r in other.dataset]


def _reward_fn(env):
    # verifiers wraps the environment's rubric in a RubricGroup beside its own monitor rubric.
    rubrics = getattr(env.rubric, "rubrics", [env.rubric])
    return next(r for r in rubrics if r.funcs and r.funcs[0].__name__ == "e1_reward").funcs[0]


def test_rubric_is_opensocs():
    env = load_environment(IOT23_FILE, dataset_source="synthetic", max_examples=5)
    reward_fn = _reward_fn(env)
    completion = [{"role": "assistant", "content": '<think>x</think>{"label": "Malicious", "confidence": 0.7}'}]
    assert reward_fn(completion=completion, answer="Malicious") == score_default(completion[0]["content"], "Malicious").reward
    assert env.parser.parse_answer(completion) == "Malicious"
    assert env.parser.parse_answer([{"role": "assistant", "content": "no idea"}]) is None
    compat = load_environment(IOT23_FILE, dataset_source="synthetic", max_examples=5, scoring="compat")
    assert _reward_fn(compat)(completion=[{"role": "assistant", "content": '{"label":"Malicious","confidence":true}'}],
                                  answer="Malicious") == pytest.approx(1.8)


def test_unknown_arguments_are_rejected():
    with pytest.raises(TypeError):
        load_environment(IOT23_FILE, dataset_source="synthetic", reward_source="hybrid")
    with pytest.raises(ValueError, match="split"):
        load_environment(IOT23_FILE, dataset_source="synthetic", split="ood")


def test_a_one_class_file_is_not_a_training_set(tmp_path):
    from opensoc.e1.builder import CIC_FILE
    from opensoc.e1.loading import synthetic_rows

    rows = [r for r in synthetic_rows(CIC_FILE, 80, seed=2) if r["answer"] == "Benign"]
    (tmp_path / CIC_FILE).write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(ValueError, match=f"holds {len(rows)} Benign rows .* evaluation set for the false-positive rate"):
        load_environment(CIC_FILE, dataset_source="local")
    both = load_environment(CIC_FILE, dataset_source="synthetic", max_examples=10)  # with attack rows it trains
    assert {r["answer"] for r in both.dataset} == {"Benign", "Malicious"}


@pytest.mark.parametrize("scoring", ["default", "compat"])
def test_the_completion_cap_holds_in_the_verifiers_environment(scoring):
    from conftest import best_time

    env = load_environment(IOT23_FILE, dataset_source="synthetic", max_examples=5, scoring=scoring)
    reward_fn = _reward_fn(env)
    answer = '{"label": "Malicious", "confidence": 1.0}'
    over = [{"role": "assistant", "content": answer + " " * 16_000}]
    unterminated = [{"role": "assistant", "content": "```" + " " * 15_990 + "x"}]
    assert best_time(lambda: reward_fn(completion=unterminated, answer="Malicious")) < 0.5  # it once took seconds
    assert reward_fn(completion=over, answer="Malicious") == (-2.0 if scoring == "default" else 0.0)
    assert env.parser.parse_answer(over) is None
