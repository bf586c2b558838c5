"""Both E1 rubrics: the compatibility outcome table, the default table, incentives, and adversarial outputs."""

from __future__ import annotations

import json

import pytest

from opensoc.families.e1.scoring import (
    DEFAULT_COSTS,
    E1Costs,
    reward_range,
    score_compat,
    score_default,
    strict_parse,
)


def _ans(label, conf=0.9, **extra) -> str:
    return json.dumps({"label": label, "confidence": conf, **extra})


# ---------------------------------------------------------------- compatibility mode

# Security Verifiers' outcome table (gold Malicious unless stated): (output, gold, reward).
COMPAT = [
    (_ans("Malicious", 1.0), "Malicious", 1.8),
    (_ans("Malicious", 0.9), "Malicious", 1.78),
    (_ans("Malicious", 0.3), "Benign", 0.1 + 0.2 * 0.7),  # false positive
    (_ans("Benign", 0.3), "Malicious", 0.1 + 0.2 * 0.7 - 0.5),  # missed attack
    (_ans("Abstain", 0.0), "Malicious", 0.3),  # Abstain: cost term 0 even on an attack
    (_ans("Abstain", 0.0), "Benign", 0.3),
    ('{"label":"Malicious","confidence":true}', "Malicious", 1.8),  # a bool passes their number check
    (_ans("Malicious", "0.9"), "Malicious", 1.68),  # string: format 0, confidence still parsed
    ('{"label":"Malicious"}', "Malicious", 1.5),  # missing confidence → 0
    ('{"label":"Malicious","confidence":NaN}', "Malicious", 1.5),
    ('{"label":"Benign","confidence":"1.0"}', "Malicious", -0.5),  # the minimum
    ('{"label":"malicious","confidence":0.9}', "Malicious", 0.0),  # case-sensitive labels
    ('Sure! {"label":"Malicious","confidence":0.9} and {"label":"Benign","confidence":0.9}', "Malicious", 1.78),
    ('<think>maybe {"label":"Benign"}</think>{"label":"Malicious","confidence":0.9}', "Malicious", -0.3),
    ('{"label":"Malicious","label":"Benign","confidence":0.9}', "Malicious", 0.1 + 0.02 - 0.5),
    ("```json\n" + _ans("Benign", 0.8) + "\n```", "Benign", 1.76),
    ("plain text Malicious", "Malicious", 0.0),
]


@pytest.mark.parametrize(("output", "gold", "reward"), COMPAT)
def test_compat_outcome_table(output, gold, reward):
    s = score_compat(output, gold)
    assert s.reward == pytest.approx(reward)
    assert sum(s.breakdown.values()) == pytest.approx(s.reward)
    assert reward_range("compat")[0] <= s.reward <= reward_range("compat")[1]


def test_compat_abstain_is_dominated():
    # The flaw being reproduced: Malicious@0 scores at least Abstain@0 on every row.
    for gold in ("Benign", "Malicious"):
        assert score_compat(_ans("Malicious", 0.0), gold).reward >= score_compat(_ans("Abstain", 0.0), gold).reward


# ------------------------------------------------------------------------ default mode

DEFAULT = [  # (output, gold, reward) with the default costs: FN -2, FP -0.5, Abstain +0.2
    (_ans("Malicious", 1.0), "Malicious", 1.0 + 0.2 + 0.1),
    (_ans("Benign", 0.8), "Benign", 1.0 + 0.2 * (1 - 0.04) + 0.1),
    (_ans("Malicious", 0.9), "Benign", -0.5 + 0.2 * (1 - 0.81) + 0.1),
    (_ans("Benign", 0.9), "Malicious", -2.0 + 0.2 * (1 - 0.81) + 0.1),
    (_ans("Abstain", 0.3), "Malicious", 0.2 + 0.2 * 0.75 + 0.1),
    (_ans("Abstain", 0.9), "Benign", 0.2 + 0.2 * 0.75 + 0.1),
]


@pytest.mark.parametrize(("output", "gold", "reward"), DEFAULT)
def test_default_outcome_table(output, gold, reward):
    s = score_default(output, gold)
    assert s.reward == pytest.approx(reward) and s.format_ok
    assert sum(s.breakdown.values()) == pytest.approx(s.reward)


# (description, output, gold, expected reward, expected predicted label or None)
ADVERSARIAL = [
    ("two JSON objects", '{"label":"Malicious","confidence":0.9} {"label":"Benign","confidence":0.9}', "Malicious", -2.0, None),
    ("two objects on a benign row", '{"label":"Benign","confidence":0.9}\n{"label":"Malicious","confidence":0.9}', "Benign", -0.5, None),
    ("duplicate keys", '{"label":"Malicious","label":"Benign","confidence":0.9}', "Malicious", -2.0, None),
    ("JSON only inside <think>", '<think>{"label":"Malicious","confidence":0.99}</think>', "Malicious", -2.0, None),
    ("unclosed <think>", '<think>{"label":"Malicious","confidence":0.99}', "Malicious", -2.0, None),
    ("<think> ignored, final answer read", '<think>{"label":"Benign","confidence":1}</think>' + _ans("Malicious", 1.0), "Malicious", 1.3, "Malicious"),
    ("confidence true", '{"label":"Malicious","confidence":true}', "Malicious", -2.0, None),
    ("confidence as a string", _ans("Malicious", "0.9"), "Malicious", -2.0, None),
    ("confidence NaN", '{"label":"Malicious","confidence":NaN}', "Malicious", -2.0, None),
    ("confidence 1e9", '{"label":"Malicious","confidence":1e9}', "Malicious", -2.0, None),
    ("confidence negative", _ans("Malicious", -0.1), "Malicious", -2.0, None),
    ("confidence missing", '{"label":"Malicious"}', "Malicious", -2.0, None),
    ("label lower case", _ans("malicious", 1.0), "Malicious", 1.3, "Malicious"),
    ("label with whitespace", _ans("  Benign\n", 1.0), "Benign", 1.3, "Benign"),
    ("two labels in one string", _ans("Malicious|Benign", 1.0), "Malicious", -2.0, None),
    ("label as a list", '{"label":["Malicious","Benign"],"confidence":0.5}', "Malicious", -2.0, None),
    ("plain text", "Malicious", "Malicious", -2.0, None),
    ("truncated JSON", '{"label":"Malicious","confid', "Malicious", -2.0, None),
    ("extra field claiming the reward", _ans("Benign", 0.9, reward=1.8), "Malicious", -2.0, None),
    ("prose around one object", "After analysis: " + _ans("Benign", 1.0) + " Done.", "Benign", 1.3, "Benign"),
    ("two code blocks", "```json\n" + _ans("Benign", 1) + "\n```\n```json\n" + _ans("Malicious", 1) + "\n```", "Benign", -0.5, None),
]


@pytest.mark.parametrize(("why", "output", "gold", "reward", "predicted"), ADVERSARIAL, ids=[a[0] for a in ADVERSARIAL])
def test_default_adversarial_outputs(why, output, gold, reward, predicted):
    s = score_default(output, gold)
    assert s.reward == pytest.approx(reward)
    assert s.predicted == predicted
    if predicted is None:
        assert not s.format_ok and s.reason


def test_garbage_never_beats_any_answer():
    for gold in ("Benign", "Malicious"):
        garbage = score_default("???", gold).reward
        for label in ("Benign", "Malicious", "Abstain"):
            for c in (0.0, 0.5, 1.0):
                assert score_default(_ans(label, c), gold).reward >= garbage


def _expected(label: str, c: float, q: float, costs: E1Costs = DEFAULT_COSTS) -> float:
    """Expected default reward of answering (label, c) when P(Malicious) = q."""
    return q * score_default(_ans(label, c), "Malicious", costs).reward + (1 - q) * score_default(_ans(label, c), "Benign", costs).reward


def _best(q: float, costs: E1Costs = DEFAULT_COSTS) -> str:
    options = {("Malicious", q): 0, ("Benign", 1 - q): 0, ("Abstain", 0.5): 0}
    return max(options, key=lambda o: _expected(o[0], o[1], q, costs))[0]


def test_abstain_is_rational_when_uncertain_and_not_otherwise():
    low, high = DEFAULT_COSTS.abstain_band()
    assert 0 < low < high < 0.5  # a missed attack costs most: the band sits below one half
    assert _best(0.05) == "Benign" and _best(0.9) == "Malicious"
    assert _best((low + high) / 2) == "Abstain"


def test_no_constant_policy_dominates_abstain():
    # Always-Malicious does not score at least Abstain on every row (it did in compatibility mode).
    assert score_default(_ans("Malicious", 0.5), "Benign").reward < score_default(_ans("Abstain", 0.5), "Benign").reward
    assert score_default(_ans("Benign", 0.5), "Malicious").reward < score_default(_ans("Abstain", 0.5), "Malicious").reward


def test_calibration_is_proper():
    # For a fixed answer, the expected calibration term peaks at the true probability of being right.
    for p in (0.2, 0.55, 0.8):
        grid = [i / 100 for i in range(101)]
        expected = lambda c, p=p: p * (1 - (c - 1) ** 2) + (1 - p) * (1 - c ** 2)  # noqa: E731
        assert max(grid, key=expected) == pytest.approx(p, abs=0.01)
        r = lambda c, p=p: p * score_default(_ans("Malicious", c), "Malicious").reward + (1 - p) * score_default(_ans("Malicious", c), "Benign").reward  # noqa: E731
        assert max(grid, key=r) == pytest.approx(p, abs=0.01)


def test_costs_are_settable_and_validated():
    harsh = E1Costs(fn_cost=10.0, fp_cost=1.0)
    assert score_default(_ans("Benign", 1.0), "Malicious", harsh).reward == pytest.approx(-10.0 + 0.1)
    assert harsh.abstain_band()[0] < DEFAULT_COSTS.abstain_band()[0]
    for bad in (dict(fn_cost=0.5, fp_cost=1.0), dict(fp_cost=0.0), dict(abstain_value=1.0)):
        with pytest.raises(ValueError):
            E1Costs(**bad)


def test_structured_answers_use_the_same_rules():
    assert strict_parse({"label": "Abstain", "confidence": 0.4}) == ("Abstain", 0.4)
    assert score_default({"label": "Malicious", "confidence": True}, "Malicious").format_ok is False


# ------------------------------------------------------------- linear time and hostile input

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from opensoc.families.e1.scoring import (  # noqa: E402
    MAX_COMPLETION,  # noqa: E402
    _sv_extract_fence,
    code_blocks,
)

# Pieces that exercise the fence grammar: backticks, the json tag in any case, ASCII and Unicode whitespace.
_FENCE_TEXT = st.lists(st.sampled_from(["`", "```", "json", "JSON", "jSoN", " ", "\n", "\t", "\u00a0", "x", "{", "}"]),
                       max_size=16).map("".join)


@settings(max_examples=400, deadline=None)
@given(_FENCE_TEXT)
def test_code_blocks_find_what_the_fence_regexes_found(text):
    import re

    # The regexes the parsers used before (quadratic on unclosed fences), on texts short enough to run them.
    assert [text[a:b] for a, b in code_blocks(text)] == re.findall(r"```(?:json)?\s*(.*?)```", text, re.S | re.I)
    m = re.search(r"```(?:json)?\s*\n?(.*?)\n?```", text, re.S | re.I)
    assert _sv_extract_fence(text) == (m.group(1) if m else text)


@pytest.mark.parametrize("scorer", [score_compat, score_default])
def test_an_unclosed_fence_costs_linear_time(scorer):
    from support.timing import best_time

    text = "```" + " " * (MAX_COMPLETION - 10) + "x"
    # Quadratic parsing took seconds at the cap; linear parsing takes well under a millisecond.
    assert best_time(lambda: scorer(text, "Malicious")) < 0.05


def test_completions_over_the_cap_are_not_read():
    long = _ans("Malicious", 1.0) + " " * MAX_COMPLETION
    compat, default = score_compat(long, "Malicious"), score_default(long, "Malicious")
    assert (compat.reward, compat.format_ok, compat.predicted) == (0.0, False, None)
    assert "at most 16,000 are read" in compat.reason
    assert default.reward == -2.0 and "at most 16,000 are read" in default.reason
    just_inside = _ans("Malicious", 1.0) + " " * (MAX_COMPLETION - len(_ans("Malicious", 1.0)))
    assert score_default(just_inside, "Malicious").reward == pytest.approx(1.3)


@pytest.mark.parametrize(("output", "parses"), [
    ('{"label": "Malicious", "confidence": ' + "1" * 310 + "}", False),  # past float range
    ('{"label": "Malicious", "confidence": ' + "1" * 5000 + "}", False),  # past Python's integer digit limit
    ("[" * 1500 + '{"label": "Malicious", "confidence": 1}' + "]" * 1500, True),  # the first object is the answer
    ("{" * 1500, False),
    ('{"label": "Malicious", "confidence": 1e999}', False),
])
def test_hostile_completions_are_scored_not_raised(output, parses):
    assert score_default(output, "Malicious").format_ok is parses
    assert score_compat(output, "Malicious").reward <= 1.8


def test_structured_confidence_past_float_range():
    score = score_default({"label": "Malicious", "confidence": 10**309}, "Malicious")
    assert not score.format_ok and score.reason == "confidence must be a finite number in [0, 1]"
    compat = score_compat(json.dumps({"label": "Malicious", "confidence": 10**309}), "Malicious")
    assert compat.format_ok is False and compat.confidence == 0.0
