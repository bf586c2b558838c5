"""What the demo shows, from demo.data: live and baked cases, highlighting, and the attacker check."""

from __future__ import annotations

import json

from opensoc.demo import data as dd
from opensoc.families.triage.family import materialized_incident


def test_live_case_holds_both_decisions_and_the_truth():
    case = dd.live_case("stage3_mixed", 4)
    truth = materialized_incident("stage3_mixed", 4).truth
    assert case.truth_action == truth.action and list(case.triggering_log_ids) == truth.triggering_log_ids
    assert case.before.policy == dd.BEFORE and case.after.policy == dd.AFTER
    assert case.before.action and case.after.action
    html = dd.log_window_html(case)
    assert html.count("<tr") == len(case.alert.events) + 1
    for lid in case.triggering_log_ids:
        assert f'data-log-id="{lid}"' in html
    assert "evidence" in html and "cited" in html


def test_live_and_baked_modes_name_the_defenders_the_same_way():
    baked = dd.baked_cases()
    assert baked, "data/demo_examples.json is committed"
    live = dd.live_case(baked[0].title.split(",")[0], 0)
    assert {(c.before.policy, c.after.policy) for c in baked} == {(live.before.policy, live.after.policy)}
    assert (live.before.policy, live.after.policy) == ("Baseline: heuristic", "Trained: cpu_defender")
    examples = json.loads(dd.DEMO_EXAMPLES.read_text())
    assert (examples["before"], examples["after"]) == ("heuristic", "cpu_defender")  # what the titles name


def test_log_window_escapes_untrusted_text():
    # A stage-4 incident with an instruction planted as an HTML comment in an event field.
    seed = next(s for s in range(200)
                if any("<!--" in e.model_dump_json() for e in materialized_incident("stage4_adversarial", s).incident.events))
    html = dd.log_window_html(dd.live_case("stage4_adversarial", seed))
    assert "&lt;!--" in html and "<!--" not in html  # shown as text, never markup


def test_baked_cases():
    cases = dd.baked_cases()
    data = json.loads(dd.DEMO_EXAMPLES.read_text())
    assert len(cases) == len(data["examples"]) == 50
    assert {c.title.split(",")[0] for c in cases} == {"stage1_basic", "stage2_multi", "stage3_mixed", "stage4_adversarial"}
    assert all(c.before.policy == dd.BEFORE and c.after.policy == dd.AFTER for c in cases)
    # The recomputed rewards match the ones baked into the file.
    for case, example in zip(cases, data["examples"], strict=True):
        assert case.before.reward == example["before"]["reward"] and case.after.reward == example["after"]["reward"]


def test_decisions_show_the_reward_breakdown():
    case = dd.live_case("stage1_basic", 2)
    text = dd.decision_markdown(case.before, case.truth_action)
    assert "Breakdown: action" in text
    assert sum(v for _, v in case.before.breakdown) == case.before.reward


def test_attacker_check_messages():
    bad = dd.check_craft('{"category": "ransomware", ')
    assert not bad.ok and bad.message.startswith("**Invalid JSON** at line 1")
    schema = dd.check_craft('{"category": "ransomware"}')
    assert not schema.ok and "`target_label`" in schema.message and "`events`" in schema.message
    good = dd.check_craft(dd.example_craft("stage2_multi", 1))
    assert good.ok and "Plausibility: passes" in good.message and dd.BEFORE in good.message and dd.AFTER in good.message
    wrapped = dd.check_craft(json.dumps({"craft_incident": json.loads(dd.example_craft("stage1_basic", 3))}))
    assert wrapped.ok
    implausible = json.loads(dd.example_craft("stage1_basic", 3))
    implausible["events"][0]["host"] = "NOT-A-HOST"
    result = dd.check_craft(json.dumps(implausible))
    assert "Plausibility: fails" in result.message and "UNKNOWN_HOST" in result.message


def test_investigation_replay_steps_through_a_case():
    from opensoc.demo.replay import investigation_replay
    from opensoc.demo_app import replay_step

    replay = investigation_replay("investigate_stage2", 3)
    assert replay.steps[0].title == "Alert" and replay.steps[-1].title == "Triage"
    assert all(s.title.startswith("Call ") for s in replay.steps[1:-1]) and len(replay.steps) >= 3
    assert "The verifier's verdict is" in replay.steps[-1].markdown
    title, _, events, index = replay_step("investigate_stage2", 3, 0, 1)
    assert index == 1 and "Call 1" in title and "data-log-id" in events
    assert replay_step("investigate_stage2", 3, index, -5)[3] == 0  # clamped at the first step
    last = replay_step("investigate_stage2", 3, 0, 99)
    assert last[3] == len(replay.steps) - 1 and "Triage" in last[0]
