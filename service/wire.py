"""JSON on the wire: the one parser for every request body, WebSocket frame and JSON-RPC call, and the
error body every 4xx carries.

The parser is orjson's (a bounded, linear-time decoder written in Rust): it refuses ``NaN`` and ``Infinity``,
numbers that overflow a double, lone UTF-16 surrogate escapes, control characters in strings, trailing commas and
nesting past 1,024 levels on its own. OpenSOC adds what it cannot answer for, each a ``WireError`` that names what
was expected, so a transport turns it into a 4xx (or an error frame) instead of a crash:

- nesting deeper than ``MAX_DEPTH``;
- integer literals of more than ``MAX_INT_DIGITS`` digits (orjson would turn one past 64 bits into a float, so a
  text holding a run of 19 digits or more is decoded by the standard library's decoder with a bounded ``int``
  instead, which keeps every integer exact);
- more than ``MAX_COLLECTIONS`` arrays and objects, or more than ``MAX_ITEMS`` commas, outside the strings: a body
  of a mebibyte of empty arrays would otherwise hold the interpreter lock (and with it every other client) for
  tens of milliseconds while the decoder builds them. These are counted before anything is decoded.

Every step is linear in the length of the text, and ``tests/test_linear_parsing.py`` times growing inputs of the
hostile shapes on every route to hold it: the bytes are counted at C speed, and only a text that is over a bound
by that count and holds strings is tokenised, by a pattern whose string token always matches from its opening quote
(a string left unterminated runs to the end of the text), so no position is ever scanned twice. The old pattern
retried an unterminated string from every quote inside it, and a 64 KB body froze the server for 20 seconds.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson

from ..models import OpenSOCError

MAX_DEPTH = 32  # the deepest action, craft_incident inside OpenEnv's step envelope, is 5 levels
MAX_INT_DIGITS = 20  # seeds, ports, byte counts and JSON-RPC ids all fit in 64 bits
MAX_SEED = 2**63 - 1  # a seed any client language holds in a signed 64-bit integer
MAX_COLLECTIONS = 2048  # arrays and objects in one text
MAX_ITEMS = 16384  # commas between values in one text

# A JSON string token, or one of the characters that count toward the bounds. The string alternative always matches
# once it has its opening quote: it ends at the closing quote, or (unterminated) at the end of the text, so finditer
# moves past it and never rescans its inside. Possessive quantifiers: nothing to backtrack into.
_TOKEN = re.compile(rb'"(?:[^"\\]++|\\[\s\S])*+(?:"|\\?\Z)|[\[{,]')
# Where a number literal might be too long for orjson to keep as an integer (it has at most 18 digits below).
_LONG_DIGITS = re.compile(rb"[0-9]{19}")
# A lone surrogate can only come from a \uD800-\uDFFF escape: UTF-8 cannot encode one.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")

_EXPECTED_JSON = "one JSON value in UTF-8, numbers as JSON writes them (no NaN or Infinity)"


class WireError(OpenSOCError):
    """A body or frame that is not JSON OpenSOC accepts; ``code`` is stable and ``expected`` says what would be."""

    def __init__(self, code: str, message: str, expected: str, field: str | None = None):
        super().__init__(message, code=code, expected=expected, field=field)


def _too_deep(max_depth: int) -> WireError:
    return WireError("UNSUPPORTED_JSON", f"the JSON is nested deeper than {max_depth} levels",
                     f"JSON nested at most {max_depth} deep")


def _surrogate() -> WireError:
    return WireError("UNSUPPORTED_JSON", "a string holds a lone UTF-16 surrogate escape",
                     "valid Unicode: \\uD800-\\uDFFF only in high-low pairs")


def _out_of_range(text: str) -> WireError:
    return WireError("UNSUPPORTED_JSON", f"the number {text[:40]} is beyond the range of a double",
                     "numbers within ±1.8e308")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _out_of_range(text)
    return value


class _LongInteger(str):
    """An integer literal longer than ``MAX_INT_DIGITS``, kept as its text until its place in the value is known."""


def _bounded_int(text: str) -> int | _LongInteger:
    return _LongInteger(text) if len(text.lstrip("-")) > MAX_INT_DIGITS else int(text)


def _refuse_long_integers(value: Any) -> None:
    """Refuse the first over-long integer literal of ``value``, naming where it is (``data.seed``, ``items[2]``)."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        node, path = stack.pop()
        if isinstance(node, _LongInteger):
            raise WireError("UNSUPPORTED_JSON", f"{path or 'the value'} is an integer of {len(node.lstrip('-'))} digits",
                            f"integers of at most {MAX_INT_DIGITS} digits", field=path or None)
        if isinstance(node, dict):
            stack.extend((child, f"{path}.{key}" if path else str(key)) for key, child in reversed(node.items()))
        elif isinstance(node, list):
            stack.extend((child, f"{path}[{i}]") for i, child in reversed(list(enumerate(node))))


def _not_json(name: str) -> Any:
    raise WireError("MALFORMED_JSON", f"{name} is not JSON", "JSON numbers only: no NaN or Infinity")


# The exact decoder for texts that hold a long run of digits: every integer literal is checked by its length.
_EXACT = json.JSONDecoder(parse_float=_finite_float, parse_int=_bounded_int, parse_constant=_not_json)


def _structure(data: bytes) -> tuple[int, int]:
    """(arrays and objects, commas) outside the text's strings, counted until either passes its bound.

    Counting the whole text at C speed is exact when it holds no strings, and an upper bound otherwise. Past a
    bound, tokens are counted one by one (which lets other threads run) and the count stops early: a valid text
    within the bounds has at most three tokens per array, object or comma.
    """
    collections, items = data.count(b"[") + data.count(b"{"), data.count(b",")
    if (collections <= MAX_COLLECTIONS and items <= MAX_ITEMS) or b'"' not in data:
        return collections, items
    collections = items = tokens = 0
    budget = 3 * (MAX_COLLECTIONS + MAX_ITEMS) + 1
    for token in _TOKEN.finditer(data):
        first = data[token.start()]
        collections += first in b"[{"
        items += first == 44  # ","
        tokens += 1
        if collections > MAX_COLLECTIONS or items > MAX_ITEMS or tokens > budget:
            return max(collections, MAX_COLLECTIONS + 1), max(items, MAX_ITEMS + 1)
    return collections, items


def _check_tree(value: Any, max_depth: int, strings: bool) -> None:
    """Refuse nesting deeper than ``max_depth`` and (when ``strings``) strings holding lone surrogates."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            raise _too_deep(max_depth)
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, child in items:
            if isinstance(child, (dict, list)):
                stack.append((child, depth + 1))
            elif strings:
                for text in (key, child):
                    if isinstance(text, str) and not text.isascii():
                        try:
                            text.encode("utf-8")
                        except UnicodeEncodeError:
                            raise _surrogate() from None


def _orjson(data: bytes, max_depth: int) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        reason = exc.msg
        if reason.startswith("str is not valid UTF-8"):  # orjson checks the bytes before it parses anything
            raise WireError("MALFORMED_JSON", "the body is not UTF-8", "UTF-8 JSON text") from None
        if "surrogate" in reason:
            raise _surrogate() from None
        if "infinity" in reason:
            start = max(0, exc.pos - 1)
            raise _out_of_range(data[start:start + 40].decode("utf-8", "replace").split(",")[0]) from None
        if "depth limit" in reason:
            raise _too_deep(max_depth) from None
        raise WireError("MALFORMED_JSON", f"invalid JSON: {reason} at line {exc.lineno} column {exc.colno}",
                        _EXPECTED_JSON) from None


def _exact(data: bytes, max_depth: int) -> Any:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WireError("MALFORMED_JSON", f"the body is not UTF-8: {exc.reason} at byte {exc.start}",
                        "UTF-8 JSON text") from None
    try:
        value = _EXACT.decode(text)
    except WireError:
        raise
    except json.JSONDecodeError as exc:
        raise WireError("MALFORMED_JSON", f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                        _EXPECTED_JSON) from None
    except RecursionError:
        raise _too_deep(max_depth) from None
    if _SURROGATE_ESCAPE.search(data):
        _check_tree([value], max_depth + 1, True)
    _refuse_long_integers(value)
    return value


def parse_json(raw: bytes | str, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON value of ``raw`` (UTF-8 bytes or text), or ``WireError``."""
    if isinstance(raw, str):
        try:
            data = raw.encode("utf-8")
        except UnicodeEncodeError:
            raise _surrogate() from None
    else:
        data = bytes(raw)
    collections, items = _structure(data)
    if collections > MAX_COLLECTIONS or items > MAX_ITEMS:
        raise WireError("UNSUPPORTED_JSON", f"the JSON holds more than {MAX_COLLECTIONS:,} arrays and objects or "
                        f"{MAX_ITEMS:,} commas outside its strings",
                        f"at most {MAX_COLLECTIONS} arrays and objects and {MAX_ITEMS} commas")
    value = _exact(data, max_depth) if _LONG_DIGITS.search(data) else _orjson(data, max_depth)
    # A text with fewer arrays and objects than the depth limit cannot nest past it.
    if collections > max_depth and isinstance(value, (dict, list)):
        _check_tree(value, max_depth, False)
    return value


def error_body(code: str, message: str, field: str | None = None, expected: Any = None) -> dict:
    """OpenSOC's 4xx body: ``detail`` for FastAPI-style clients, ``error`` with the stable code, the field at
    fault (null when none is) and what was expected there."""
    return {"detail": message, "error": {"code": code, "message": message, "field": field, "expected": expected}}


def json_bytes(value: Any) -> bytes:
    """Compact JSON, ASCII-escaped so that no string can make the encoding fail."""
    return json.dumps(value, ensure_ascii=True, separators=(",", ":")).encode("ascii")
