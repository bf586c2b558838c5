"""Investigation episodes through the one state machine: tools as steps, a budget, evidence-aware scoring, and
attacker crafts planted in a store."""

from __future__ import annotations

import json

import pytest

from opensoc.env import OpenSOCEnv
from opensoc.families.investigation.case import build_case
from opensoc.generator import generate_from_template
from opensoc.models import BudgetExhaustedError, EpisodeOverError, WrongTurnError


def test_the_defender_starts_with_the_alert_and_the_tools_only():
    env = OpenSOCEnv()
    obs = env.reset(task="investigate_stage3", seed=4)
    case = build_case("investigate_stage3", 4)
    assert obs.role == "defender" and obs.legal_actions == ["tool_call", "submit_triage"]
    view = obs.investigation
    assert view.alert == case.alert and view.call_budget == 12 and view.calls_used == 0 and view.last_tool is None
    assert {t["name"] for t in view.tools} == {"search", "count", "lookup_host", "lookup_user", "process_tree"}
    assert "ALERT" in obs.prompt and "TOOLS (12 calls" in obs.prompt and not hasattr(obs, "alert")
    # the first prompt holds the alert's one event, not the incident's others
    others = [e.log_id for e in case.incident.events if e.log_id != case.alert.event.log_id]
    assert all(f'"{i}"' not in obs.prompt for i in others)
    assert len(obs.prompt) < 6000


def test_tool_calls_are_steps_within_the_budget_and_citations_need_retrieval():
    env = OpenSOCEnv()
    obs = env.reset(task="investigate_stage1", seed=2)
    case = build_case("investigate_stage1", 2)
    target = case.truth.triggering_log_ids[0]
    obs = env.step({"tool_call": {"name": "search", "arguments": {"query": "log_id=NOPE-1"}}})
    assert obs.reward == 0.0 and not obs.done and obs.investigation.calls_used == 1
    assert json.loads(obs.investigation.last_tool.output)["total"] == 0 and "TOOL RESULT (search" in obs.prompt
    obs = env.step({"tool_call": {"name": "search", "arguments": {"query": "bogus=1"}}})
    assert not obs.investigation.last_tool.ok and "unknown field" in obs.investigation.last_tool.output
    obs = env.step({"tool_call": {"nme": "search"}})  # a malformed call costs the call and says what was expected
    assert not obs.investigation.last_tool.ok and '{"name"' in obs.investigation.last_tool.output
    obs = env.step({"tool_call": {"name": "search", "arguments": {"query": f"log_id={target}"}}})
    assert obs.investigation.last_tool.log_ids == [target] and obs.investigation.retrieved == 1
    obs = env.step({"submit_triage": {"action": case.truth.action, "cited_log_id": target}})
    assert obs.done and obs.reward == pytest.approx(1.1)
    assert obs.rewards.defender.citation_correct and obs.rewards.defender.evidence_recall == pytest.approx(
        1 / len(case.truth.triggering_log_ids))
    assert obs.verdict.triggering_log_ids == case.truth.triggering_log_ids
    assert env.state.step_count == 5 and env.grade().score == pytest.approx(1.0)


def test_a_citation_of_an_unseen_event_earns_no_bonus_and_the_budget_is_enforced():
    env = OpenSOCEnv()
    env.reset(task="investigate_stage1", seed=3)
    case = build_case("investigate_stage1", 3)
    for _ in range(case.call_budget):
        obs = env.step({"tool_call": {"name": "lookup_host", "arguments": {"name": "DC01"}}})
    assert obs.legal_actions == ["submit_triage"] and "No tool calls left" in obs.prompt
    with pytest.raises(BudgetExhaustedError) as refused:
        env.step({"tool_call": {"name": "search", "arguments": {}}})
    assert refused.value.field == "tool_call" and refused.value.expected == "submit_triage"
    obs = env.step({"submit_triage": {"action": case.truth.action, "cited_log_id": case.truth.triggering_log_ids[0]}})
    assert obs.reward == 1.0 and not obs.rewards.defender.citation_correct and obs.rewards.defender.evidence_recall == 0.0


def test_self_play_plants_a_sound_craft_and_scores_both_roles():
    env = OpenSOCEnv()
    obs = env.reset(task="investigate_stage2", mode="self_play", seed=1)
    assert obs.role == "attacker" and obs.brief is not None and obs.investigation is None
    craft = generate_from_template("lsass_memory_read", 4).model_dump(mode="json")
    obs = env.step({"craft_incident": craft})
    assert obs.role == "defender" and obs.investigation.alert.rule_name == "LSASS process access"
    assert obs.investigation.alert.store_events >= 800
    obs = env.step({"submit_triage": {"action": "dismiss", "cited_log_id": obs.investigation.alert.event.log_id}})
    assert obs.done and obs.reward == -1.0 and obs.rewards.attacker.outcome == "evaded"
    assert env.run.pool()["quarantine_host"]


def test_an_unsound_craft_is_never_planted():
    env = OpenSOCEnv()
    env.reset(task="investigate_stage2", mode="self_play", seed=1)
    craft = generate_from_template("lsass_memory_read", 4).model_dump(mode="json") | {"target_label": "escalate"}
    obs = env.step({"craft_incident": craft})
    assert obs.done and obs.reward == 0.0 and obs.rewards.attacker.outcome == "mislabelled" and obs.investigation is None
    with pytest.raises(EpisodeOverError):
        env.step({"tool_call": {"name": "search", "arguments": {}}})


def test_attacker_only_the_scripted_investigator_answers():
    env = OpenSOCEnv()
    env.reset(task="investigate_stage2", mode="attacker_only", seed=2)
    obs = env.step({"craft_incident": generate_from_template("bulk_upload", 5).model_dump(mode="json")})
    assert obs.done and obs.rewards.defender is not None and obs.rewards.defender.evidence_recall is not None
    assert obs.rewards.attacker.outcome in ("caught", "evaded") and env.grade().attacker_reward == obs.reward


def test_wrong_turns_name_the_legal_actions():
    env = OpenSOCEnv()
    env.reset(task="investigate_stage1", seed=0)
    with pytest.raises(WrongTurnError) as wrong:
        env.step({"classify_flow": {"label": "Benign", "confidence": 0.5}})
    assert wrong.value.expected == ["tool_call", "submit_triage"]
    with pytest.raises(Exception, match="does not apply"):
        env.reset(task="investigate_stage1", split="test")
