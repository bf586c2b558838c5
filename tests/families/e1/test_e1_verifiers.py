"""E1 for verifiers, in both API generations: the legacy SingleTurnEnv (below 0.4: the dev extras install it) and
the verifiers.v1 taskset (0.4: scripts/test_verifiers_04.sh installs the verifiers extra alone in an environment of its own and runs this file).
Each generation's tests run where it is installed and skip, saying so, where it is not."""

from __future__ import annotations

import asyncio
import json

import pytest

vf = pytest.importorskip("verifiers")

from opensoc.families.e1.builder import IOT23_FILE  # noqa: E402
from opensoc.families.e1.loading import E1DataError, UnknownDatasetError  # noqa: E402
from opensoc.families.e1.scoring import SYSTEM_PROMPT, score_compat, score_default  # noqa: E402
from opensoc.families.e1.verifiers_env import legacy_api, load_environment  # noqa: E402

LEGACY = legacy_api()
legacy_only = pytest.mark.skipif(not LEGACY, reason=f"verifiers {vf.__version__} has no legacy API (below 0.4)")
v1_only = pytest.mark.skipif(LEGACY, reason=f"verifiers {getattr(vf, '__version__', '?')} is the legacy API; the 0.4 "
                             "taskset is tested by scripts/test_verifiers_04.sh in an environment of its own")


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    monkeypatch.delenv("E1_HF_REPO", raising=False)
    monkeypatch.setenv("E1_DATA_DIR", str(tmp_path))


def test_the_documented_entry_point_is_the_same_function():
    from opensoc.e1.verifiers_env import load_environment as documented

    assert documented is load_environment


@legacy_only
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


@legacy_only
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
    from opensoc.families.e1.builder import CIC_FILE
    from opensoc.families.e1.loading import synthetic_rows

    rows = [r for r in synthetic_rows(CIC_FILE, 80, seed=2) if r["answer"] == "Benign"]
    (tmp_path / CIC_FILE).write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(ValueError, match=f"holds {len(rows)} Benign rows .* evaluation set for the false-positive rate"):
        load_environment(CIC_FILE, dataset_source="local")
    both = load_environment(CIC_FILE, dataset_source="synthetic", max_examples=10)  # with attack rows it trains
    answers = {r["answer"] for r in both.dataset} if LEGACY else {t.data.answer for t in both}
    assert answers == {"Benign", "Malicious"}


def test_names_that_do_not_exist_are_errors_not_synthetic_data():
    with pytest.raises(UnknownDatasetError, match="e1_iot23.* is a task"):
        load_environment(dataset_name="e1_iot23")
    with pytest.raises(E1DataError, match="asked for by name"):
        load_environment(IOT23_FILE)  # named, and on no tier here: never the synthetic stand-in
    with pytest.raises(ValueError, match="auto, local, hub, synthetic"):
        load_environment(dataset_source="s3")
    with pytest.raises(ValueError, match="scoring"):
        load_environment(dataset_source="synthetic", scoring="hybrid")


def _v1_score(task, reply: str):
    trace = vf.v1.Trace(task=vf.v1.TraceTask(type=type(task).__name__, data=task.data),
                        agent=vf.v1.AgentInfo(config=vf.v1.AgentConfig()), root_reply=reply)
    asyncio.run(task.score(trace))
    return trace


@v1_only
def test_v1_taskset_honours_split_seed_and_tier():
    import verifiers.v1 as v1

    taskset = load_environment(dataset_source="synthetic", max_examples=50, split="train", seed=3)
    assert isinstance(taskset, v1.Taskset) and taskset.bounded
    tasks = list(taskset)
    assert len(tasks) == 50 and {t.data.split for t in tasks} == {"train"} and [t.data.idx for t in tasks] == list(range(50))
    assert all(t.data.tier == "synthetic" and t.data.system_prompt == SYSTEM_PROMPT for t in tasks)
    again = [t.data.prompt for t in load_environment(dataset_source="synthetic", max_examples=50, split="train", seed=3)]
    other = [t.data.prompt for t in load_environment(dataset_source="synthetic", max_examples=50, split="train", seed=4)]
    assert [t.data.prompt for t in tasks] == again != other
    test = list(load_environment(dataset_source="synthetic", split="test", max_examples=5))
    assert {t.data.split for t in test} == {"test"}
    assert len(list(taskset.shuffle(seed=1).take(7))) == 7  # verifiers' own views work on it


@v1_only
@pytest.mark.parametrize("scoring", ["default", "compat"])
def test_v1_reward_is_opensocs_rubric(scoring):
    (task,) = list(load_environment(dataset_source="synthetic", max_examples=1, scoring=scoring))
    score = score_compat if scoring == "compat" else score_default
    for reply in (f'<think>x</think>{{"label": "{task.data.answer}", "confidence": 0.7}}',
                  '{"label": "Abstain", "confidence": 0.5}', "no idea", '{"label": "Benign"}' + " " * 16_000):
        trace = _v1_score(task, reply)
        assert trace.rewards["e1_reward"].score == score(reply.strip(), task.data.answer).reward
        assert trace.metrics["e1_correct"] == float(score(reply.strip(), task.data.answer).correct)
        assert trace.reward == trace.rewards["e1_reward"].score  # the metric is recorded, not summed


@legacy_only
@pytest.mark.parametrize("scoring", ["default", "compat"])
def test_the_completion_cap_holds_in_the_verifiers_environment(scoring):
    from support.timing import best_time

    env = load_environment(IOT23_FILE, dataset_source="synthetic", max_examples=5, scoring=scoring)
    reward_fn = _reward_fn(env)
    answer = '{"label": "Malicious", "confidence": 1.0}'
    over = [{"role": "assistant", "content": answer + " " * 16_000}]
    unterminated = [{"role": "assistant", "content": "```" + " " * 15_990 + "x"}]
    assert best_time(lambda: reward_fn(completion=unterminated, answer="Malicious")) < 0.5  # it once took seconds
    assert reward_fn(completion=over, answer="Malicious") == (-2.0 if scoring == "default" else 0.0)
    assert env.parser.parse_answer(over) is None
