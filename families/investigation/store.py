"""An episode's SIEM: every event of the store, in time order, indexed for the investigation tools.

``LogStore`` holds validated schema events. Field values are read by the schema's dotted names, lower-cased once
(on first use) for matching; a time index (``bisect`` over epoch seconds) bounds every search to its range. Each
search or count scans at most the events in its range once, so a call costs time linear in the store.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Sequence
from functools import cached_property
from typing import get_args

from ...parsing.timestamps import parse_timestamp
from ...schema import Event
from ...world.inventory import canonical_host_name, canonical_user_name
from .query import Term, term_holds

_EVENT_CLASSES = get_args(get_args(Event)[0])


def _aliases() -> frozenset[str]:
    names = set()
    for cls in _EVENT_CLASSES:
        for name, info in cls.model_fields.items():
            names.add(info.alias or name)
    return frozenset(names)


FIELDS: frozenset[str] = _aliases()


class LogStore:
    """Events in time order with their ids, times and matchable field values."""

    def __init__(self, events: Sequence[Event]):
        self.events: tuple[Event, ...] = tuple(sorted(events, key=lambda e: (parse_timestamp(e.timestamp), e.log_id)))
        self.by_id = {e.log_id: e for e in self.events}
        self.times = [parse_timestamp(e.timestamp).timestamp() for e in self.events]

    def __len__(self) -> int:
        return len(self.events)

    @cached_property
    def _rows(self) -> list[tuple[dict[str, str], dict[str, float], str]]:
        rows = []
        for e in self.events:
            data = e.model_dump(mode="json", by_alias=True, exclude_none=True)
            strings = {k: str(v).lower() for k, v in data.items()}
            strings["host"] = canonical_host_name(e.host).lower()
            if e.user:
                strings["user"] = canonical_user_name(e.user)
            numbers = {k: float(v) for k, v in data.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
            rows.append((strings, numbers, " ".join(strings.values())))
        return rows

    def _span(self, start: float | None, end: float | None) -> range:
        lo = 0 if start is None else bisect.bisect_left(self.times, start)
        hi = len(self.times) if end is None else bisect.bisect_right(self.times, end)
        return range(lo, hi)

    def select(self, terms: Sequence[Term], *, start: float | None = None, end: float | None = None,
               host: str | None = None, user: str | None = None) -> list[int]:
        """Indices of the events in [start, end] (epoch seconds) on ``host`` and by ``user`` where every term holds."""
        host_key = canonical_host_name(host).lower() if host else None
        user_key = canonical_user_name(user) if user else None
        rows, out = self._rows, []
        for i in self._span(start, end):
            strings, numbers, text = rows[i]
            if host_key is not None and strings["host"] != host_key:
                continue
            if user_key is not None and strings.get("user") != user_key:
                continue
            if all(term_holds(t, strings, numbers, text) for t in terms):
                out.append(i)
        return out

    def count(self, indices: Sequence[int], by: str) -> Counter:
        """How many of the events at ``indices`` have each value of field ``by`` (absent values count as ``-``)."""
        rows = self._rows
        return Counter(rows[i][0].get(by, "-") for i in indices)
