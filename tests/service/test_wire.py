"""The one JSON parser for bodies, frames and JSON-RPC calls: what it refuses, and that it stays cheap."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.timing import best_time

from opensoc.service.wire import (
    MAX_COLLECTIONS,
    MAX_DEPTH,
    MAX_ITEMS,
    WireError,
    parse_json,
)


@pytest.mark.parametrize(("text", "code", "expected"), [
    ("[" * 40 + "]" * 40, "UNSUPPORTED_JSON", "deep"),
    ("[" * 5000 + "]" * 5000, "UNSUPPORTED_JSON", "arrays and objects"),
    ('{"seed": ' + "9" * 21 + "}", "UNSUPPORTED_JSON", "digits"),
    ('{"seed": ' + "9" * 5000 + "}", "UNSUPPORTED_JSON", "digits"),
    ("[1e400]", "UNSUPPORTED_JSON", "±1.8e308"),
    ("[NaN]", "MALFORMED_JSON", "NaN"),
    ("[-Infinity]", "MALFORMED_JSON", "NaN"),
    ('{"\\ud800": 1}', "UNSUPPORTED_JSON", "surrogate"),
    ('["\\udc00x"]', "UNSUPPORTED_JSON", "surrogate"),
    ('"\\ud800"', "UNSUPPORTED_JSON", "surrogate"),
    (b"\xff\xfe{}", "MALFORMED_JSON", "UTF-8"),
    ("{oops", "MALFORMED_JSON", "one JSON value"),
    ("[" + ",".join(["[]"] * (MAX_COLLECTIONS + 1)) + "]", "UNSUPPORTED_JSON", "arrays and objects"),
    ("[" + ",".join(["0"] * (MAX_ITEMS + 2)) + "]", "UNSUPPORTED_JSON", "commas"),
    ("[" + ",".join(['"a"'] * (MAX_ITEMS + 2)) + "]", "UNSUPPORTED_JSON", "commas"),
])
def test_what_is_refused(text, code, expected):
    with pytest.raises(WireError) as refused:
        parse_json(text)
    assert refused.value.code == code and expected in (refused.value.message + refused.value.expected)


def test_what_is_accepted():
    assert parse_json('{"a": ["\\ud83d\\ude00", -9223372036854775807, 0.5, null, true]}') == {
        "a": ["\U0001F600", -9223372036854775807, 0.5, None, True]}
    assert parse_json("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
    brackets_in_strings = json.dumps({"classify_flow": "[{," * 10_000})  # counted only outside strings
    assert parse_json(brackets_in_strings.encode())["classify_flow"].startswith("[{,")


@pytest.mark.parametrize("item", ["[]", '"a"', '{"a":1}', "0"])
def test_a_mebibyte_of_small_values_is_refused_in_milliseconds(item):
    text = "[" + ",".join([item] * ((1 << 20) // (len(item) + 1))) + "]"

    def refuse():
        with pytest.raises(WireError):
            parse_json(text)

    assert best_time(refuse) < 0.1  # decoding it would hold the interpreter lock for over 100 ms


_VALUES = st.recursive(st.none() | st.booleans() | st.integers(-2**62, 2**62) | st.floats(allow_nan=False, allow_infinity=False)
                       | st.text(max_size=8), lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
                       max_leaves=20)


@settings(max_examples=200, deadline=None)
@given(_VALUES)
def test_ordinary_json_round_trips(value):
    text = json.dumps(value)  # hypothesis's text holds no lone surrogates
    assert parse_json(text) == json.loads(text)


@pytest.mark.parametrize(("text", "field"), [
    ('{"type": "reset", "data": {"seed": ' + "9" * 60 + "}}", "data.seed"),
    ('{"items": [1, 2, ' + "7" * 25 + "]}", "items[2]"),
    ("9" * 30, None),
])
def test_an_overlong_integer_is_refused_where_it_is(text, field):
    with pytest.raises(WireError) as refused:
        parse_json(text)
    assert refused.value.field == field and "digits" in refused.value.message
    assert (field or "the value") in refused.value.message
