"""Both reward tables, cell by cell."""

from __future__ import annotations

import pytest

from opensoc.generator import generate_from_template
from opensoc.rubric import (
    ATTACKER_REWARD_RANGE,
    DEFENDER_REWARD,
    DEFENDER_REWARD_RANGE,
    MAX_NOVELTY_PER_RUN,
    normalized,
    score_incident,
    score_triage,
    winning_signature,
)
from opensoc.schema import TRIAGE_ACTIONS, SubmitTriage
from opensoc.verifier import compute_ground_truth

# One incident per gold action, so each table cell is scored against a real verdict.
GOLD_TEMPLATES = {
    "dismiss": "backup_upload",
    "monitor": "domain_enumeration",
    "quarantine_host": "lsass_memory_read",
    "block_ip": "external_password_guessing",
    "escalate": "bulk_upload",
}

# The documented table, restated independently: (gold, predicted) -> reward.
EXPECTED = {
    ("dismiss", "dismiss"): 1.0, ("dismiss", "monitor"): -0.1, ("dismiss", "quarantine_host"): -0.3,
    ("dismiss", "block_ip"): -0.3, ("dismiss", "escalate"): -0.3,
    ("monitor", "dismiss"): -1.0, ("monitor", "monitor"): 1.0, ("monitor", "quarantine_host"): -0.3,
    ("monitor", "block_ip"): -0.3, ("monitor", "escalate"): -0.05,
    ("quarantine_host", "dismiss"): -1.0, ("quarantine_host", "monitor"): -0.5, ("quarantine_host", "quarantine_host"): 1.0,
    ("quarantine_host", "block_ip"): -0.5, ("quarantine_host", "escalate"): -0.05,
    ("block_ip", "dismiss"): -1.0, ("block_ip", "monitor"): -0.5, ("block_ip", "quarantine_host"): -0.5,
    ("block_ip", "block_ip"): 1.0, ("block_ip", "escalate"): -0.05,
    ("escalate", "dismiss"): -1.0, ("escalate", "monitor"): -0.5, ("escalate", "quarantine_host"): -0.5,
    ("escalate", "block_ip"): -0.5, ("escalate", "escalate"): 1.0,
}


def _truth(gold: str):
    params = generate_from_template(GOLD_TEMPLATES[gold], 1)
    truth = compute_ground_truth(params)
    assert truth.action == gold
    return params, truth


@pytest.mark.parametrize(("gold", "predicted"), sorted(EXPECTED))
def test_defender_cell(gold, predicted):
    params, truth = _truth(gold)
    uncited = next((e.log_id for e in params.events if e.log_id not in truth.triggering_log_ids), "Z-0")
    score = score_triage(truth, SubmitTriage(action=predicted, cited_log_id=uncited, rationale="r"))
    assert score.reward == pytest.approx(EXPECTED[(gold, predicted)])
    assert type(score.reward) is float
    assert sum(score.breakdown.values()) == pytest.approx(score.reward)
    assert score.outcome == DEFENDER_REWARD[(gold, predicted)].outcome
    assert (score.outcome == "correct") == (gold == predicted)
    if gold != "dismiss" and predicted == "dismiss":
        assert score.outcome == "missed_attack"


def test_table_covers_all_25_cells():
    assert set(DEFENDER_REWARD) == set(EXPECTED) == {(g, p) for g in TRIAGE_ACTIONS for p in TRIAGE_ACTIONS}


@pytest.mark.parametrize("gold", TRIAGE_ACTIONS)
def test_citation_bonus_only_with_the_right_action(gold):
    _, truth = _truth(gold)
    cite = truth.triggering_log_ids[0]
    right = score_triage(truth, SubmitTriage(action=gold, cited_log_id=cite))
    assert right.reward == pytest.approx(1.1) and right.citation_correct and right.breakdown["citation"] == 0.1
    wrong_action = next(a for a in TRIAGE_ACTIONS if a != gold)
    wrong = score_triage(truth, SubmitTriage(action=wrong_action, cited_log_id=cite))
    assert wrong.breakdown["citation"] == 0.0
    assert wrong.reward == pytest.approx(EXPECTED[(gold, wrong_action)])


def test_format_violation():
    _, benign = _truth("dismiss")
    _, malicious = _truth("escalate")
    assert score_triage(benign, None).reward == pytest.approx(-0.1)
    assert score_triage(malicious, None).reward == pytest.approx(-1.0)
    assert score_triage(malicious, None).outcome == "format_violation"


def test_rewards_stay_in_declared_range():
    for gold in TRIAGE_ACTIONS:
        _, truth = _truth(gold)
        for predicted in TRIAGE_ACTIONS:
            for cite in (truth.triggering_log_ids[0], "nope"):
                r = score_triage(truth, SubmitTriage(action=predicted, cited_log_id=cite)).reward
                assert DEFENDER_REWARD_RANGE[0] <= r <= DEFENDER_REWARD_RANGE[1]
                assert 0.0 <= normalized(r, DEFENDER_REWARD_RANGE) <= 1.0


def test_attacker_table():
    params = generate_from_template("https_beacon", 2)
    truth = compute_ground_truth(params)
    sig = winning_signature(truth, "dismiss")

    schema_invalid = score_incident(None, "dismiss")
    assert (schema_invalid.reward, schema_invalid.outcome) == (-0.5, "schema_invalid")

    evaded_new = score_incident(params, "dismiss")
    assert (evaded_new.reward, evaded_new.outcome, evaded_new.novel) == (pytest.approx(1.2), "evaded", True)
    assert evaded_new.signature == sig

    evaded_seen = score_incident(params, "dismiss", {sig})
    assert (evaded_seen.reward, evaded_seen.novel) == (1.0, False)
    other_way = score_incident(params, "monitor", {sig})  # a different wrong answer is a different way to win
    assert (other_way.reward, other_way.novel) == (pytest.approx(1.2), True)

    caught = score_incident(params, truth.action)
    assert (caught.reward, caught.outcome, caught.novel) == (0.0, "caught", False)  # novelty only with a win

    no_triage = score_incident(params, None, {sig})
    assert no_triage.outcome == "evaded" and no_triage.reward == pytest.approx(1.2)

    gibberish = params.model_copy(update={"category": "phishing"})
    implausible = score_incident(gibberish, "dismiss")
    assert (implausible.reward, implausible.outcome) == (0.0, "implausible")
    assert "CATEGORY_NOT_DEPICTED" in implausible.violation_codes

    mislabelled = score_incident(params.model_copy(update={"target_label": "escalate"}), "dismiss")
    assert (mislabelled.reward, mislabelled.outcome) == (0.0, "mislabelled")
    for s in (schema_invalid, evaded_new, caught, implausible, mislabelled):
        assert sum(s.breakdown.values()) == pytest.approx(s.reward)
        assert ATTACKER_REWARD_RANGE[0] <= s.reward <= ATTACKER_REWARD_RANGE[1]
        assert type(s.reward) is float


def test_novelty_is_bounded_per_run():
    params = generate_from_template("https_beacon", 2)
    seen = {f"{i:016x}" for i in range(MAX_NOVELTY_PER_RUN)}
    full = score_incident(params, "dismiss", seen)
    assert (full.reward, full.novel) == (1.0, False)
    assert score_incident(params, "dismiss", set(list(seen)[:-1])).novel


def test_signature_is_deterministic_and_coarse():
    a = generate_from_template("https_beacon", 2)
    ta = compute_ground_truth(a)
    rebuilt = type(a).model_validate_json(a.model_dump_json())  # a separate object with the same content
    assert winning_signature(compute_ground_truth(rebuilt), "dismiss") == winning_signature(ta, "dismiss")
    b = generate_from_template("https_beacon", 7)  # other hosts, counts, timing: the same way to win
    assert winning_signature(compute_ground_truth(b), "dismiss") == winning_signature(ta, "dismiss")
    other = generate_from_template("bulk_upload", 2)
    assert winning_signature(compute_ground_truth(other), "dismiss") != winning_signature(ta, "dismiss")
    assert winning_signature(ta, "monitor") != winning_signature(ta, "dismiss")
