"""The registry of task families: every family OpenSOC serves, and the one that serves a task."""

from __future__ import annotations

from ..tasks.registry import TASKS
from .base import Family
from .e1.tasks import E1_TASKS
from .investigation.tasks import INVESTIGATION_TASKS
from .e1.family import FlowFamily
from .investigation.family import InvestigationFamily
from .triage.family import TriageFamily

FAMILIES: tuple[Family, ...] = (TriageFamily(), InvestigationFamily(), FlowFamily())


def all_task_names() -> list[str]:
    """Every task the service serves: the curriculum, then investigation, then E1."""
    return list(TASKS) + list(INVESTIGATION_TASKS) + list(E1_TASKS)


def family_for(task: str) -> Family | None:
    """The family that serves ``task``, or None when no family does."""
    return next((f for f in FAMILIES if f.owns(task)), None)
