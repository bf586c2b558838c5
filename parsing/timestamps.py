"""OpenSOC's one timestamp form, read and written in one place: UTC ISO-8601 to the second (or finer) with a ``Z``.

``parse_timestamp`` reads a timestamp the schema accepted into an aware ``datetime``; ``format_timestamp`` writes one.
"""

from __future__ import annotations

from datetime import datetime, timezone, UTC

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def parse_timestamp(value: str) -> datetime:
    """An OpenSOC timestamp (``2026-03-02T09:15:00Z``, fractions allowed) as an aware UTC datetime."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def format_timestamp(moment: datetime) -> str:
    """``moment`` (aware, or naive meaning UTC) as an OpenSOC timestamp, to the second."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime(TIMESTAMP_FORMAT)
