"""The generator's templates give their documented verdicts, and stages mix labels as documented."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from opensoc.adjudication.admission import check_plausibility
from opensoc.generator import INJECTIONS, TEMPLATES, generate, generate_from_template
from opensoc.schema import (
    BENIGN_CATEGORIES,
    CATEGORIES,
    MALICIOUS_CATEGORIES,
    TRIAGE_ACTIONS,
    IncidentParams,
)
from opensoc.tasks import TASKS, task_names
from opensoc.verifier import RULES_BY_CATEGORY, compute_ground_truth
from opensoc.world.inventory import INVENTORY

SEEDS = range(15)


def test_vocabulary_sizes():
    assert len(MALICIOUS_CATEGORIES) >= 10
    assert len(BENIGN_CATEGORIES) >= 5
    assert {t.category for t in TEMPLATES} == set(CATEGORIES)


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.name)
def test_template_gives_documented_verdict(template):
    for seed in SEEDS:
        params = generate_from_template(template.name, seed)
        truth = compute_ground_truth(params)
        assert truth.action == template.expected_action, (seed, truth.deciding_rule_ids)
        assert params.category == template.category
        report = check_plausibility(params, truth)
        assert report.ok, (seed, report.violations)
        if template.category in RULES_BY_CATEGORY:
            fired = {f.rule_id for f in truth.rules_fired}
            assert fired & set(RULES_BY_CATEGORY[template.category])
        assert set(truth.triggering_log_ids) <= {e.log_id for e in params.events}


@pytest.mark.parametrize("template", [t for t in TEMPLATES if t.single_event], ids=lambda t: t.name)
def test_single_event_templates_have_one_event(template):
    assert len(generate_from_template(template.name, 0, task="stage1_basic").events) == 1


@pytest.mark.parametrize("task", task_names())
def test_every_stage_incident_is_plausible_and_labelled_consistently(task):
    for seed in range(120):
        params = generate(task, seed)
        truth = compute_ground_truth(params)
        assert check_plausibility(params, truth).ok, seed
        assert params.target_label == truth.action
        assert all(e.log_id.startswith(f"L{TASKS[task].stage}-") for e in params.events)
        if task == "stage1_basic":
            assert len(params.events) == 1


def test_stage1_log_ids_match_the_readme_example():
    assert generate("stage1_basic", 1).events[0].log_id == "L1-0"


@pytest.mark.slow  # more than a second
@pytest.mark.parametrize("task", task_names())
def test_no_constant_policy_does_well(task):
    n = 600
    counts = Counter(compute_ground_truth(generate(task, s)).action for s in range(n))
    assert counts["dismiss"] / n <= 0.2
    assert max(counts[a] for a in TRIAGE_ACTIONS) / n <= 0.4
    assert len([a for a in TRIAGE_ACTIONS if counts[a]]) >= (4 if task == "stage1_basic" else 5)


def test_stage3_windows_hold_decoys_beside_the_attack():
    multi = [generate("stage3_mixed", s) for s in range(60)]
    assert all(len(p.events) >= 2 for p in multi)
    with_benign_context = 0
    for p in multi:
        truth = compute_ground_truth(p)
        if truth.malicious:
            decided = set(truth.triggering_log_ids)
            assert decided < {e.log_id for e in p.events}, "decoys add events outside the evidence"
            with_benign_context += any(not f.malicious for f in truth.rules_fired)
    assert with_benign_context >= 10


_LEAK_WORDS = re.compile(
    "|".join(re.escape(w) for w in (*CATEGORIES, *TRIAGE_ACTIONS, "malicious", "benign", "attacker", "exfil", "beacon",
                                     "lookalike", "decoy", "evasive")),
    re.I,
)


def _strings(params) -> list[str]:
    return [v for e in params.model_dump(mode="json")["events"] for k, v in e.items()
            if isinstance(v, str) and k not in ("event_type", "source", "event.action")]


@pytest.mark.parametrize("task", ["stage1_basic", "stage2_multi", "stage3_mixed"])
def test_generated_text_never_names_the_label(task):
    for seed in range(150):
        params = generate(task, seed)
        assert params.narrative == ""
        for text in _strings(params):
            assert not _LEAK_WORDS.search(text), (seed, text)


def _injected(params) -> bool:
    stems = [i.split("{")[0][:20] for i in INJECTIONS]
    return any(stem in text for text in _strings(params) for stem in stems)


@pytest.mark.slow  # more than a second
def test_stage4_injections_carry_no_label_information():
    seen = {True: [0, 0], False: [0, 0]}
    for seed in range(1200):
        params = generate("stage4_adversarial", seed)
        malicious = compute_ground_truth(params).malicious
        seen[malicious][0] += _injected(params)
        seen[malicious][1] += 1
    rate = {k: hits / total for k, (hits, total) in seen.items()}
    assert 0.35 < rate[True] < 0.65 and 0.35 < rate[False] < 0.65
    assert abs(rate[True] - rate[False]) < 0.12
    # Outside stage 4 nothing is planted.
    assert not any(_injected(generate("stage3_mixed", s)) for s in range(200))


def test_stage4_uses_evasive_templates():
    import random

    from opensoc.generator import (  # the draw generate() makes
        _choose_template,
        seed_material,
    )

    spec = TASKS["stage4_adversarial"]
    names = Counter(_choose_template(spec, random.Random(seed_material(spec.name, s))).name for s in range(400))
    evasive = {t.name for t in TEMPLATES if t.evasive}
    assert sum(names[n] for n in evasive) >= 80
    assert not any(_choose_template(TASKS["stage2_multi"], random.Random(s)).evasive for s in range(300))


def test_replay_pool_is_drawn_deterministically_in_stage4_only():
    crafts = {"escalate": (generate_from_template("bulk_upload", 99),), "quarantine_host": (generate_from_template("https_beacon", 99),)}
    marks = {a: {e.source_bytes for e in c.events if getattr(e, "source_bytes", 0)} for a, (c,) in crafts.items()}

    def replay_of(params):  # a replay carries the craft's events (among the stage's decoys), under new ids and times
        sent = {getattr(e, "source_bytes", None) for e in params.events}
        return next((a for a, m in marks.items() if m <= sent), None)

    replayed = {s: replay_of(p) for s in range(400) if replay_of(p := generate("stage4_adversarial", s, crafts))}
    assert 15 <= len(replayed) <= 60  # replay share 0.25 of the seeds whose gold action the pool holds (about 2 in 5)
    assert replayed == {s: replay_of(p) for s in range(400) if replay_of(p := generate("stage4_adversarial", s, crafts))}
    for seed, action in replayed.items():  # the gold action is drawn first: replays keep the stage's label mix
        params = generate("stage4_adversarial", seed, crafts)
        assert compute_ground_truth(params).action == action == params.target_label
        assert all(e.log_id == f"L4-{i}" for i, e in enumerate(params.events))
        assert replay_of(generate("stage4_adversarial", seed)) is None  # without a pool, generated as usual
    assert not any(replay_of(generate("stage3_mixed", s, crafts)) for s in range(100))


def test_inventory_entities_only():
    for seed in range(100):
        for e in generate("stage3_mixed", seed).events:
            assert INVENTORY.host(e.host) is not None


@pytest.mark.slow  # more than a second
@pytest.mark.parametrize("task", ["stage2_multi", "stage3_mixed", "stage4_adversarial"])
def test_generated_incidents_are_sound_crafts(task):
    """Replayed as a craft, every generated incident is plausible, uncontested by the Sigma check and correctly
    labelled: the generator lives inside the world the verdict models."""
    from opensoc.adjudication.gate import adjudicate

    for seed in range(150):
        review = adjudicate(generate(task, seed))
        assert review.sound, (seed, review.outcome, review.plausibility.violations, review.contested_by)
    for template in TEMPLATES:
        for seed in range(3):
            review = adjudicate(generate_from_template(template.name, seed, task=task))
            assert review.sound, (template.name, seed, review.outcome, review.contested_by)


def test_decoys_that_name_techniques_trip_no_rule():
    import random

    from opensoc.generator import DECOYS, Scene, _start_time

    for i, build in enumerate(DECOYS):
        for seed in range(20):
            rng = random.Random(seed)
            events = build(Scene(rng, _start_time(rng)))
            for k, ev in enumerate(events):
                ev["log_id"] = f"D-{k}"
            params = IncidentParams.model_validate({"category": "software_update", "target_label": "dismiss",
                                                    "events": events, "narrative": ""})
            assert not compute_ground_truth(params).malicious, (i, seed)
