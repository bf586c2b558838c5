"""JSON on the wire: the one parser for every request body, WebSocket frame and JSON-RPC call, and the
error body every 4xx carries.

``json.loads`` alone accepts more than OpenSOC can answer for: ``NaN`` and ``Infinity``,
numbers that overflow to infinity, integer literals of thousands of digits (which raise a
``ValueError`` of their own), nesting deep enough to exhaust the stack, and ``\\ud800``
escapes that decode to lone surrogates no response can encode. ``parse_json`` refuses each
with a ``WireError`` that names what was expected, so a transport turns it into a 4xx (or an
error frame) instead of a crash.

Its cost is linear in the text, and the part that holds the interpreter lock throughout (the
C decoder building containers) is bounded too: a text with more than ``MAX_COLLECTIONS``
arrays and objects, or more than ``MAX_ITEMS`` separators, outside its strings, is refused
before it is decoded. The largest real action, a 64-event incident, holds about 70 and 1,600.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from ..models import OpenSOCError

MAX_DEPTH = 32  # the deepest action, craft_incident inside OpenEnv's step envelope, is 5 levels
MAX_INT_DIGITS = 20  # seeds, ports, byte counts and JSON-RPC ids all fit in 64 bits
MAX_SEED = 2**63 - 1  # a seed any client language holds in a signed 64-bit integer
MAX_COLLECTIONS = 2048  # arrays and objects in one text
MAX_ITEMS = 16384  # commas between values in one text

# A JSON string (matched without backtracking) or one of the characters that count toward the bounds.
_TOKEN = re.compile(r'"(?:[^"\\]++|\\.)*+"|[\[{,]')

# A lone surrogate can only come from a \uD800-\uDFFF escape: UTF-8 cannot encode one.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class WireError(OpenSOCError):
    """A body or frame that is not JSON OpenSOC accepts; ``code`` is stable and ``expected`` says what would be."""

    def __init__(self, code: str, message: str, expected: str):
        super().__init__(message, code=code, expected=expected)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise WireError("UNSUPPORTED_JSON", f"the number {text[:40]} is beyond the range of a double",
                        "numbers within ±1.8e308")
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise WireError("UNSUPPORTED_JSON", f"an integer of {len(text.lstrip('-'))} digits",
                        f"integers of at most {MAX_INT_DIGITS} digits")
    return int(text)


def _not_json(name: str) -> Any:
    raise WireError("MALFORMED_JSON", f"{name} is not JSON", "JSON numbers only: no NaN or Infinity")


_DECODER = json.JSONDecoder(parse_float=_finite_float, parse_int=_bounded_int, parse_constant=_not_json)


def _check_tree(value: Any, max_depth: int, strings: bool) -> None:
    """Refuse nesting deeper than ``max_depth`` and (when ``strings``) strings holding lone surrogates."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            raise WireError("UNSUPPORTED_JSON", f"the JSON is nested deeper than {max_depth} levels",
                            f"JSON nested at most {max_depth} deep")
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
                            raise WireError("UNSUPPORTED_JSON", "a string holds a lone UTF-16 surrogate escape",
                                            "valid Unicode: \\uD800-\\uDFFF only in high-low pairs") from None


def _structure(text: str) -> tuple[int, int]:
    """(arrays and objects, commas) outside the text's strings, counted until either passes its bound.

    Counting the whole text at C speed is exact when strings hold none of these characters.
    Otherwise tokens are counted one by one, which lets other threads run, and stops early: a
    valid text within the bounds has at most three tokens per array, object or comma.
    """
    collections, items = text.count("[") + text.count("{"), text.count(",")
    if collections <= MAX_COLLECTIONS and items <= MAX_ITEMS:
        return collections, items  # counted with the strings: already within bounds
    collections = items = tokens = 0
    budget = 3 * (MAX_COLLECTIONS + MAX_ITEMS) + 1
    for token in _TOKEN.finditer(text):
        first = text[token.start()]
        collections += first in "[{"
        items += first == ","
        tokens += 1
        if collections > MAX_COLLECTIONS or items > MAX_ITEMS or tokens > budget:
            return max(collections, MAX_COLLECTIONS + 1), max(items, MAX_ITEMS + 1)
    return collections, items


def parse_json(raw: bytes | str, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON value of ``raw`` (UTF-8 bytes or text), or ``WireError``."""
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise WireError("MALFORMED_JSON", f"the body is not UTF-8: {exc.reason} at byte {exc.start}",
                            "UTF-8 JSON text") from None
    else:
        text = raw
    collections, items = _structure(text)
    if collections > MAX_COLLECTIONS or items > MAX_ITEMS:
        raise WireError("UNSUPPORTED_JSON", f"the JSON holds more than {MAX_COLLECTIONS:,} arrays and objects or "
                        f"{MAX_ITEMS:,} commas outside its strings",
                        f"at most {MAX_COLLECTIONS} arrays and objects and {MAX_ITEMS} commas")
    try:
        value = _DECODER.decode(text)
    except WireError:
        raise
    except json.JSONDecodeError as exc:
        raise WireError("MALFORMED_JSON", f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                        "one JSON value") from None
    except RecursionError:
        raise WireError("UNSUPPORTED_JSON", f"the JSON is nested deeper than {max_depth} levels",
                        f"JSON nested at most {max_depth} deep") from None
    if isinstance(value, (dict, list)):
        # A text with fewer arrays and objects than the depth limit cannot nest past it.
        shallow = collections <= max_depth
        surrogates = _SURROGATE_ESCAPE.search(text) is not None
        if not shallow or surrogates:
            _check_tree(value, max_depth, surrogates)
    elif isinstance(value, str) and _SURROGATE_ESCAPE.search(text):
        _check_tree([value], max_depth, True)
    return value


def error_body(code: str, message: str, field: str | None = None, expected: Any = None) -> dict:
    """OpenSOC's 4xx body: ``detail`` for FastAPI-style clients, ``error`` with the stable code, the field at
    fault (null when none is) and what was expected there."""
    return {"detail": message, "error": {"code": code, "message": message, "field": field, "expected": expected}}


def json_bytes(value: Any) -> bytes:
    """Compact JSON, ASCII-escaped so that no string can make the encoding fail."""
    return json.dumps(value, ensure_ascii=True, separators=(",", ":")).encode("ascii")
