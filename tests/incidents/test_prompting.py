"""The one place that reads a model's answer: completion text, the triage object, and the step action."""

from __future__ import annotations

from types import SimpleNamespace

from opensoc.incidents.prompting import (
    completion_text,
    format_triage_answer,
    parse_triage,
    triage_action,
    triage_answer,
)

ANSWER = format_triage_answer("escalate", "L2-3", "exfil", 0.8)


def test_completion_text_forms():
    assert completion_text(ANSWER) == ANSWER
    assert completion_text([{"role": "user", "content": "q"}, {"role": "assistant", "content": ANSWER}]) == ANSWER
    assert completion_text([SimpleNamespace(role="assistant", content=ANSWER)]) == ANSWER
    assert completion_text([{"role": "assistant", "content": ANSWER}, {"role": "tool", "content": "ok"}]) == ANSWER
    assert completion_text([{"content": ANSWER}]) == ANSWER  # TRL's completions carry no role for plain text
    assert completion_text([SimpleNamespace(role="assistant", content=None)]) == ""
    assert completion_text(None) == ""


def test_triage_answer_and_action():
    assert triage_answer(f"Reasoning first.\n```json\n{ANSWER}\n```")["action"] == "escalate"
    assert triage_answer('{"submit_triage": {"action": "monitor", "cited_log_id": "L1-0"}}')["action"] == "monitor"
    assert triage_answer("no json here") is None
    assert triage_action("no json here") == {"submit_triage": {}}  # scored by the environment, never dropped
    assert triage_action(ANSWER)["submit_triage"]["cited_log_id"] == "L2-3"
    assert parse_triage(ANSWER).confidence == 0.8
    assert parse_triage('{"action": "isolate", "cited_log_id": "L1-0"}') is None


def test_in_process_reward_equals_the_service_path():
    from opensoc.env import OpenSOCEnv
    from opensoc.train.rewards import defender_reward

    completions = [[{"role": "assistant", "content": ANSWER}], "garbage"]
    rewards = defender_reward(completions, task=["stage2_multi"] * 2, seed=[5, 5])
    env = OpenSOCEnv()
    expected = []
    for text in (ANSWER, "garbage"):
        env.reset(task="stage2_multi", seed=5)
        expected.append(env.step(triage_action(text)).reward)
    assert rewards == expected
