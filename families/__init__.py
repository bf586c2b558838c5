"""The task families OpenSOC serves, each behind the episode protocol of ``families.base``."""

from __future__ import annotations

from .base import Family
from .flow import FlowFamily
from .investigation import InvestigationFamily
from .triage import TriageFamily

FAMILIES: tuple[Family, ...] = (TriageFamily(), InvestigationFamily(), FlowFamily())


def family_for(task: str) -> Family | None:
    """The family that serves ``task``, or None when no family does."""
    return next((f for f in FAMILIES if f.owns(task)), None)
