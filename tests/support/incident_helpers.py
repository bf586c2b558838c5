"""Helpers for building and mutating incidents in tests."""

from __future__ import annotations

import copy

from opensoc.schema import IncidentParams


def as_dict(params: IncidentParams) -> dict:
    """An incident as the JSON an attacker would send (dotted field names)."""
    return copy.deepcopy(params.model_dump(mode="json", exclude_none=True))


def rebuild(data: dict) -> IncidentParams:
    return IncidentParams.model_validate(data)
