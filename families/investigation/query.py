"""The investigation query language: small, documented, and parsed in linear time.

A query is a space-separated list of terms; every term must hold (AND). A term is one of:

- ``field=value``: the field equals the value, case-insensitively; ``*`` and ``?`` in the value are wildcards
  (``process.name=power*``, ``destination.ip=185.220.*``);
- ``field!=value``: the field is absent or differs;
- ``field>N``, ``field>=N``, ``field<N``, ``field<=N``: numeric comparison (``source.bytes>=1000000``);
- ``"quoted text"`` or a bare word: the text appears in any field's value, case-insensitively;
- a leading ``-`` negates a term (``-event_type=dns_query``).

Fields are the schema's dotted names (``process.command_line``, ``source.ip``, ``winlog.event_id``, ...) plus
``log_id``, ``timestamp``, ``host``, ``user``, ``event_type`` and ``source``. Values with spaces go in quotes
(``user.target.name="Domain Admins"``). An empty query matches every event. A malformed query raises
``QueryError`` with a message that says what was expected; it never reaches the store.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import translate
from functools import lru_cache

MAX_QUERY_CHARS = 512
MAX_TERMS = 16

_TERM = re.compile(r'\s*(-?)(?:([A-Za-z_][A-Za-z0-9_.]*)\s*(!=|>=|<=|=|>|<)\s*("(?:[^"\\]|\\.)*"|[^\s"]+)|("(?:[^"\\]|\\.)*")|([^\s"]+))')


class QueryError(ValueError):
    """A query the language cannot read; the message says what was expected."""


@dataclass(frozen=True)
class Term:
    field: str | None  # None: free text over every field
    op: str  # "=", "!=", ">", ">=", "<", "<=", or "text"
    value: str
    negated: bool = False

    @property
    def pattern(self) -> re.Pattern[str] | None:
        return _wildcard(self.value) if self.op in ("=", "!=") and any(c in self.value for c in "*?") else None


@lru_cache(maxsize=1024)
def _wildcard(value: str) -> re.Pattern[str]:
    return re.compile(translate(value.lower()), re.S)


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    return text


def parse_query(query: str, fields: frozenset[str]) -> tuple[Term, ...]:
    """The terms of ``query``; ``fields`` are the field names the store knows."""
    if not isinstance(query, str):
        raise QueryError("query must be a string")
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(f"query is {len(query)} characters; at most {MAX_QUERY_CHARS}")
    terms: list[Term] = []
    pos = 0
    text = query.strip()
    while pos < len(text):
        match = _TERM.match(text, pos)
        if match is None or match.end() == pos:
            raise QueryError(f"cannot read the query at character {pos}: {text[pos:pos + 30]!r}; expected field=value, "
                             'field>N, "text" or a word')
        negated, field, op, value, quoted, word = match.groups()
        pos = match.end()
        if field is not None:
            if field not in fields:
                raise QueryError(f"unknown field {field!r}; fields are: {', '.join(sorted(fields))}")
            value = _unquote(value)
            if op in (">", ">=", "<", "<="):
                try:
                    float(value)
                except ValueError:
                    raise QueryError(f"{field}{op}{value}: a comparison needs a number") from None
            terms.append(Term(field, op, value, bool(negated)))
        else:
            terms.append(Term(None, "text", _unquote(quoted or word).lower(), bool(negated)))
        if len(terms) > MAX_TERMS:
            raise QueryError(f"at most {MAX_TERMS} terms in a query")
    return tuple(terms)


def term_holds(term: Term, row: dict[str, str], numbers: dict[str, float], text: str) -> bool:
    """Whether ``term`` holds on one event, given its lower-cased string fields, numeric fields and joined text."""
    if term.op == "text":
        result = term.value in text
    elif term.op in ("=", "!="):
        value = row.get(term.field)
        pattern = term.pattern
        equal = value is not None and (pattern.fullmatch(value) is not None if pattern else value == term.value.lower())
        result = equal if term.op == "=" else not equal
    else:
        number = numbers.get(term.field)
        bound = float(term.value)
        result = number is not None and {">": number > bound, ">=": number >= bound, "<": number < bound,
                                         "<=": number <= bound}[term.op]
    return result != term.negated
