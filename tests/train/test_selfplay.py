"""CPU self-play at test size: two rounds of the numpy pair, and the bookkeeping that makes its figures trustworthy."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from opensoc.adjudication.gate import adjudicate
from opensoc.train.cpu_selfplay import SelfPlayConfig, run_selfplay, write
from opensoc.train.selfplay_rounds import OUTCOMES, Rate, markdown, wilson

TINY = SelfPlayConfig(rounds=2, initial_incidents_per_stage=40, attacker_steps=8, group_size=4, defender_incidents=40,
                      eval_episodes=24, validation_per_task=20, validation_crafts=16)


@pytest.fixture(scope="module")
def tiny_run():
    return run_selfplay(TINY, show_progress=False)


def test_every_training_craft_is_scored_in_the_run(tiny_run):
    result, league, _, _ = tiny_run
    crafts = TINY.attacker_steps * TINY.group_size
    assert [r.training.n for r in result.rounds] == [crafts] * TINY.rounds
    # The run counts every craft its episodes scored; measurement plays on runs of its own and adds nothing.
    total = Counter({o: sum(r.training.by_outcome[o] for r in result.rounds) for o in OUTCOMES})
    assert +league.run.outcomes == +total
    for r in result.rounds:
        assert sum(r.training.by_outcome.values()) == r.training.n
        refused = sum(r.training.by_outcome[o] for o in ("implausible", "contested", "mislabelled"))
        assert r.training.unsound.k == refused and (refused == 0) == (not r.training.reasons)


def test_each_defender_update_is_decided_on_validation(tiny_run):
    result, league, _, defenders = tiny_run
    for r in result.rounds:
        u = r.defender_update
        assert u is not None and u is league.updates[r.round]
        assert set(u.previous) == {"curriculum", "crafts"} and all(set(c) == set(u.previous) for c in u.candidates)
        assert u.previous["curriculum"].accuracy.n == TINY.validation_per_task * 4
        # Every halving is tried; each candidate's churn is how many curriculum items it answers worse.
        assert len(u.candidates) == len(u.worse) == TINY.max_halvings + 1
        assert u.worse == [c["curriculum"].worse_than(u.previous["curriculum"]) for c in u.candidates]
        admissible = [h for h, c in enumerate(u.candidates) if all(c[p].not_below(s) for p, s in u.previous.items())]
        if u.kept:  # no candidate good enough: the previous weights stay
            assert not admissible and u.learning_rate is None
            assert (defenders[r.round].weights.W == defenders[r.round - 1].weights.W).all()
        else:  # the admissible candidate with the least churn, at the learning rate halved that many times
            assert u.halvings in admissible and u.worse[u.halvings] == min(u.worse[h] for h in admissible)
            assert u.chosen is u.candidates[u.halvings]
            assert u.learning_rate == TINY.defender_learning_rate / 2 ** u.halvings
            assert u.decision == ("accepted" if not u.halvings else f"accepted after {u.halvings} halving"
                                  + "s" * (u.halvings > 1))
        # An accepted update never lowers the validation score (accuracy, then mean reward) on either part.
        for part, before in u.previous.items():
            after = u.chosen[part]
            assert after.not_below(before)
            assert after.accuracy.rate > before.accuracy.rate or (
                after.accuracy.k * before.accuracy.n == before.accuracy.k * after.accuracy.n
                and after.mean_reward >= before.mean_reward)
        # The new defender's recorded score is its own: scored again, it is the same.
        assert league.validate(defenders[r.round], [])["curriculum"] == u.chosen["curriculum"]


def test_the_replay_pool_holds_only_sound_crafts(tiny_run):
    result, league, _, _ = tiny_run
    assert result.replay_pool_sound is True
    pooled = [(verdict, p) for verdict, crafts in league.run.replay_pool.items() for p in crafts]
    assert pooled and len(pooled) == result.rounds[-1].pool_size == sum(r.pool_added for r in result.rounds)
    for verdict, params in pooled:
        adjudication = adjudicate(params)
        assert adjudication.sound and adjudication.truth.action == verdict


def test_the_cross_play_matrix_repeats_the_rounds_figures(tiny_run):
    result, _, attackers, defenders = tiny_run
    matrix = result.cross_play
    assert len(attackers) == len(defenders) == len(matrix) == TINY.rounds + 1
    assert all(len(row) == TINY.rounds + 1 and all(c.n == TINY.eval_episodes for c in row) for row in matrix)
    assert matrix[0][0] == result.initial_evasion
    for r in result.rounds:
        assert matrix[r.round][r.round - 1] == r.evasion  # against the defender it trained against
        assert matrix[r.round][r.round] == r.evasion_after  # against the round's new defender
        # The new defender's accuracy on the sound crafts is the other side of the same episodes.
        sound = r.evaluation.n - r.evaluation.unsound.k - r.evaluation.by_outcome["schema_invalid"]
        assert r.defender_on_latest.n == sound and r.evasion_after.k == sound - r.defender_on_latest.k
        assert r.evasion.k == r.evaluation.by_outcome["evaded"]
    assert [a.name for a in attackers] == ["attacker_r0", "attacker_r1", "attacker_r2"]
    assert len({id(d) for d in defenders}) == len(defenders)  # separate policies, one per round


def test_the_result_is_written_without_clock_or_paths(tiny_run, tmp_path):
    result, _, attackers, defenders = tiny_run
    write(result, attackers, defenders, tmp_path)
    data = json.loads((tmp_path / "selfplay.json").read_text())
    assert data["config"]["rounds"] == 2 and data["run_id"] == "selfplay-cpu-0"
    assert not (tmp_path / "timing.json").exists()
    assert (tmp_path / "selfplay.md").read_text() == markdown(result)
    assert all((tmp_path / n).stat().st_size > 0 for n in ("selfplay_curves.png", "selfplay_crossplay.png"))
    assert sorted(p.name for p in (tmp_path / "policies").iterdir()) == [
        *(f"attacker_r{r}.json" for r in range(3)), *(f"defender_r{r}.npz" for r in range(3))]
    # Per-item validation rewards stay in memory only; every other field is written, whatever its name.
    update = data["rounds"][0]["defender_update"]
    assert set(update["previous"]["curriculum"]) == {"accuracy", "mean_reward"}


@pytest.mark.slow  # a second run of the same configuration
def test_a_run_is_deterministic_for_its_seed(tiny_run):
    again, _, _, _ = run_selfplay(TINY, show_progress=False)
    assert again.to_json() == tiny_run[0].to_json()


def test_only_fields_marked_not_written_are_left_out_of_the_json():
    from dataclasses import dataclass, field

    from opensoc.train.selfplay_rounds import NOT_WRITTEN, Validation, _written

    @dataclass
    class Holder:
        rewards: list[float]  # a field of the same name as Validation's, not marked: written
        scores: dict[str, Validation]
        hidden: int = field(default=7, metadata=NOT_WRITTEN)

    v = Validation.of([True, False], [1.0, -0.5])
    assert v.rewards == (1.0, -0.5)
    assert json.loads(json.dumps(_written(Holder([0.5], {"curriculum": v})))) == {
        "rewards": [0.5], "scores": {"curriculum": {"accuracy": {"k": 1, "n": 2, "rate": 0.5, "lo": v.accuracy.lo,
                                                                   "hi": v.accuracy.hi}, "mean_reward": 0.25}}}


def test_wilson_interval():
    assert wilson(0, 0) == (0.0, 1.0)
    lo, hi = wilson(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-4) and hi == pytest.approx(0.9433, abs=1e-4)
    assert str(Rate.of(1, 4)) == "25.0% [4.6%, 69.9%]"


def test_training_targets_lean_towards_the_previous_defender_only_where_it_was_right():
    import numpy as np

    from opensoc.incidents.features import DIM
    from opensoc.incidents.linear_policy import LinearPolicy
    from opensoc.train.cpu_selfplay import CpuLeague

    league = CpuLeague(TINY, show_progress=False)
    previous = LinearPolicy(np.zeros((5, DIM), dtype=np.float32))
    previous.W[2, 0] = 3.0  # answers action 2 wherever feature 0 is set
    x = np.zeros(DIM, dtype=np.float32)
    x[0] = 1.0
    right, wrong = np.eye(5)[2] * 0.9 + 0.02, np.eye(5)[4] * 0.9 + 0.02
    incidents = [("stage1_basic", 1, False, None), ("stage1_basic", 2, False, None),
                 ("stage4_adversarial", 3, True, None), ("stage2_multi", 4, False, {"a": "craft"}),
                 ("stage1_basic", 5, False, None)]
    targets = [(x, right), (x, wrong), (x, right), (x, right), None]
    anchored = league._anchored(targets, incidents, previous)
    a = TINY.anchor_weight
    assert 0 < a < 1 and np.allclose(anchored[0][1], (1 - a) * right + a * previous.probs(x))
    assert anchored[0][1].sum() == pytest.approx(1.0) and np.argmax(anchored[0][1]) == 2
    # Where the previous defender was wrong, on the pool's replays and on crafts, the target is the reward's alone.
    assert anchored[1][1] is wrong and anchored[2][1] is right and anchored[3][1] is right and anchored[4] is None
