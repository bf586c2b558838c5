"""The episode state machine in all three modes."""

from __future__ import annotations

import pytest

from opensoc.env import OpenSOCEnv
from opensoc.generator import generate, generate_from_template
from opensoc.models import (
    EpisodeOverError,
    InvalidActionError,
    InvalidParameterError,
    NoEpisodeError,
    NotGradableError,
    WrongTurnError,
)
from opensoc.rubric import score_triage
from opensoc.schema import SubmitTriage
from opensoc.verifier import compute_ground_truth


def _craft(template="https_beacon", seed=0, **update):
    data = generate_from_template(template, seed).model_dump(mode="json")
    data.update(update)
    return {"craft_incident": data}


def test_defender_only_episode():
    env = OpenSOCEnv()
    obs = env.reset(task="stage2_multi", seed=4)
    assert (obs.role, obs.legal_actions, obs.done, obs.reward) == ("defender", ["submit_triage"], False, None)
    assert obs.alert is not None and obs.brief is None and obs.verdict is None and "LOGS" in obs.prompt
    truth = compute_ground_truth(generate("stage2_multi", 4))
    obs = env.step({"submit_triage": {"action": truth.action, "cited_log_id": truth.triggering_log_ids[0]}})
    assert obs.done and obs.reward == pytest.approx(1.1) and obs.role is None and obs.legal_actions == []
    assert obs.verdict.correct_action == truth.action and obs.rewards.defender.outcome == "correct"
    assert env.state.step_count == 1 and env.state.done
    assert env.grade().score == pytest.approx(1.0)


def test_defaults_are_documented_values():
    obs = OpenSOCEnv().reset()
    assert (obs.task, obs.mode, obs.seed) == ("stage1_basic", "defender_only", 0)


def test_self_play_both_rewards_and_hidden_claims():
    env = OpenSOCEnv()
    obs = env.reset(task="stage3_mixed", mode="self_play", seed=2)
    assert obs.role == "attacker" and obs.legal_actions == ["craft_incident"]
    assert obs.brief.target_category and obs.brief.inventory["hosts"] and "properties" in obs.brief.event_schema
    assert obs.alert is None
    craft = _craft(narrative="SECRET-NARRATIVE", target_label="malicious")
    obs = env.step(craft)
    assert obs.role == "defender" and not obs.done and obs.reward == 0.0
    shown = obs.model_dump_json()
    assert "SECRET-NARRATIVE" not in shown and "target_label" not in shown and "c2_beacon" not in shown
    assert obs.brief is None and obs.verdict is None
    obs = env.step({"submit_triage": {"action": "dismiss", "cited_log_id": obs.alert.events[0].log_id}})
    assert obs.done and obs.reward == -1.0
    assert obs.rewards.attacker.outcome == "evaded" and obs.rewards.attacker.reward == pytest.approx(1.2)
    assert obs.verdict.plausibility.ok and env.state.step_count == 2


@pytest.mark.parametrize(("update", "outcome"), [
    ({"category": "phishing", "target_label": "monitor"}, "implausible"),  # no mail in a beacon
    ({"target_label": "escalate"}, "mislabelled"),  # the verdict is quarantine_host
])
def test_self_play_never_plays_an_unsound_craft_to_the_defender(update, outcome):
    env = OpenSOCEnv()
    env.reset(task="stage3_mixed", mode="self_play", seed=2)
    obs = env.step(_craft(**update))
    assert obs.done and obs.role is None and obs.reward == 0.0 and obs.rewards.attacker.outcome == outcome
    assert obs.rewards.defender is None and env.grade().defender_reward is None
    assert env.run.outcomes[outcome] == 1 and not env.run.pool()


def test_attacker_only_built_in_defender():
    env = OpenSOCEnv()
    env.reset(mode="attacker_only", seed=1)
    obs = env.step(_craft("lsass_memory_read"))
    assert obs.done and obs.rewards.defender.predicted_action == "quarantine_host"  # the analyst catches it
    assert obs.reward == obs.rewards.attacker.reward == 0.0 and obs.rewards.attacker.outcome == "caught"
    env.reset(mode="attacker_only", seed=1, defender_policy="always_dismiss")
    obs = env.step(_craft("lsass_memory_read", 1))
    assert obs.rewards.attacker.outcome == "evaded" and obs.reward == pytest.approx(1.2)  # a new way to win
    env.reset(mode="attacker_only", seed=2, defender_policy="always_dismiss")
    obs = env.step(_craft("lsass_memory_read", 2))
    assert obs.rewards.attacker.outcome == "evaded" and obs.reward == 1.0  # the same way again: no novelty


def test_attacker_only_default_defender_dismisses_a_lone_benign_event():
    env = OpenSOCEnv()
    env.reset(mode="attacker_only", seed=3)
    obs = env.step(_craft("update_download", 3))
    assert obs.rewards.defender.predicted_action == "dismiss" and obs.rewards.attacker.outcome == "caught"
    assert obs.reward == 0.0


def test_schema_invalid_craft_is_scored_with_named_fields():
    env = OpenSOCEnv()
    env.reset(mode="self_play")
    bad = _craft()
    bad["craft_incident"]["events"][0]["destination.port"] = "443"
    obs = env.step(bad)
    assert obs.done and obs.reward == -0.5 and obs.rewards.attacker.outcome == "schema_invalid"
    assert any(e.loc.endswith("destination.port") for e in obs.errors)
    assert env.grade().verdict is None


def test_invalid_triage_is_a_scored_format_violation():
    env = OpenSOCEnv()
    env.reset(task="stage1_basic", seed=1)
    obs = env.step({"submit_triage": {"action": "isolate", "cited_log_id": "L1-0,L1-1"}})
    assert obs.done and obs.rewards.defender.outcome == "format_violation"
    assert {e.loc for e in obs.errors} == {"action", "cited_log_id"}
    gold = compute_ground_truth(generate("stage1_basic", 1))
    assert obs.reward == score_triage(gold, None).reward


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"task": "stage9"}, "task"), ({"mode": "coop"}, "mode"), ({"seed": -1}, "seed"), ({"seed": "1"}, "seed"),
    ({"defender_policy": "oracle"}, "defender_policy"), ({"episode_id": ""}, "episode_id"),
])
def test_reset_rejects_bad_parameters(kwargs, field):
    with pytest.raises(InvalidParameterError) as exc:
        OpenSOCEnv().reset(**kwargs)
    assert exc.value.field == field


def test_unknown_task_lists_the_valid_ones():
    with pytest.raises(InvalidParameterError) as exc:
        OpenSOCEnv().reset(task="nope")
    assert "stage1_basic" in exc.value.message and exc.value.expected[-1] == "e1_unsw_ood"


def test_request_level_errors_leave_the_episode_untouched():
    env = OpenSOCEnv()
    with pytest.raises(NoEpisodeError):
        env.step({"submit_triage": {"action": "dismiss", "cited_log_id": "L1-0"}})
    env.reset(mode="self_play")
    with pytest.raises(WrongTurnError, match="attacker's turn"):
        env.step({"submit_triage": {"action": "dismiss", "cited_log_id": "L1-0"}})
    for bad in ({}, {"submit_triage": {}, "craft_incident": {}}, {"verdict": "dismiss"}, ["submit_triage"]):
        with pytest.raises(InvalidActionError):
            env.step(bad)
    assert env.state.step_count == 0 and env.state.phase == "awaiting_attacker"
    with pytest.raises(NotGradableError):
        env.grade()
    env.step(_craft())
    with pytest.raises(WrongTurnError, match="defender's turn"):
        env.step(_craft())
    env.step({"submit_triage": {"action": "dismiss", "cited_log_id": "L2-0"}})
    with pytest.raises(EpisodeOverError, match="over"):
        env.step({"submit_triage": {"action": "dismiss", "cited_log_id": "L2-0"}})


def test_ground_truth_never_shown_before_the_defender_acts():
    env = OpenSOCEnv()
    obs = env.reset(task="stage4_adversarial", seed=3)
    assert obs.verdict is None and obs.rewards is None
    assert "correct_action" not in env.state.model_dump_json()
    with pytest.raises(NotGradableError):
        env.grade()


def test_typed_actions_accepted():
    from opensoc.families.registry import action_model

    OpenSOCAction = action_model()
    env = OpenSOCEnv()
    env.reset(seed=1)
    obs = env.step(OpenSOCAction(submit_triage=SubmitTriage(action="monitor", cited_log_id="L1-0")))
    assert obs.done


def test_replay_pool_feeds_stage4_only_when_asked():
    env = OpenSOCEnv()
    env.reset(mode="self_play", task="stage4_adversarial")
    craft = _craft("bulk_upload", 5)
    env.step(craft)
    env.step({"submit_triage": {"action": "escalate", "cited_log_id": "L2-0"}})
    assert {a: len(v) for a, v in env.run.pool().items()} == {"escalate": 1}
    crafted = {e["source.bytes"] for e in craft["craft_incident"]["events"]}

    def replayed(obs) -> bool:  # re-materialised: the same activity among the stage's decoys, new ids and times
        return crafted <= {getattr(e, "source_bytes", None) for e in obs.alert.events}

    hits = [s for s in range(60) if replayed(env.reset(task="stage4_adversarial", seed=s, use_replay_pool=True))]
    assert hits and all(not replayed(env.reset(task="stage4_adversarial", seed=s)) for s in hits)
    obs = env.reset(task="stage4_adversarial", seed=hits[0], use_replay_pool=True)
    assert all(e.log_id.startswith("L4-") for e in obs.alert.events)
    assert obs.alert.events[0].timestamp != craft["craft_incident"]["events"][0]["timestamp"]
