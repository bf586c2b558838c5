"""The curriculum as data: what each stage draws, mixes and plants.

Every stage draws the gold action first: ``dismiss`` (a benign look-alike) with probability
``BENIGN_SHARE`` and each malicious action the stage offers equally often, so no constant
policy is right more than about three times in ten; the label distribution each
stage actually produces is measured and rendered into the docs by ``opensoc.reference``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..schema import CATEGORIES

BENIGN_SHARE = 0.16


class UnknownTaskError(KeyError):
    """Raised for a task name that is not in the registry; the message lists the valid ones."""

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name
        self.valid = task_names()

    def __str__(self) -> str:
        return f"unknown task {self.name!r}; expected one of: {', '.join(self.valid)}"


@dataclass(frozen=True)
class TaskSpec:
    """One curriculum stage."""

    name: str
    stage: int
    title: str
    description: str
    single_event_only: bool = False
    decoys: tuple[int, int] = (0, 0)  # how many benign decoy activities are mixed in (inclusive range)
    evasive_share: float = 0.0  # probability of an evasive variant where the category has one
    injection_share: float = 0.0  # probability that an instruction is planted in an event field
    replay_share: float = 0.0  # probability of replaying a sound attacker incident with the drawn verdict, when the pool has one
    categories: tuple[str, ...] = CATEGORIES

    def action_weight(self, action: str, available: Sequence[str]) -> float:
        """Sampling weight of a gold action: ``dismiss`` gets ``BENIGN_SHARE``, the others share the rest equally."""
        if action == "dismiss":
            return BENIGN_SHARE
        return (1 - BENIGN_SHARE) / sum(a != "dismiss" for a in available)


_SINGLE_EVENT_CATEGORIES = (
    "malware_execution", "data_exfiltration", "phishing", "lateral_movement", "privilege_escalation", "ransomware",
    "credential_access", "discovery", "admin_remote_tooling", "software_update", "scheduled_backup", "password_typo",
)

TASKS: dict[str, TaskSpec] = {
    spec.name: spec
    for spec in (
        TaskSpec(
            "stage1_basic", 1, "Single events",
            "One event per alert, drawn from single-event templates: a process start, a logon, an upload, a group change.",
            single_event_only=True, categories=_SINGLE_EVENT_CATEGORIES,
        ),
        TaskSpec(
            "stage2_multi", 2, "Multi-event windows",
            "Every template, including those that need several events (beacons, brute force, scans, kill chains).",
        ),
        TaskSpec(
            "stage3_mixed", 3, "Benign decoys interleaved",
            "Stage 2 incidents with one to four benign decoy activities mixed into the window; some decoys trip the same "
            "detections as attacks.",
            decoys=(1, 4),
        ),
        TaskSpec(
            "stage4_adversarial", 4, "Adversarial incidents",
            "Evasive variants (renamed binaries, encoded commands, split roll-ups and uploads, distributed logons and "
            "scans, tier-0 groups by SID, stolen admin accounts, look-alike domains, admin context that does not "
            "excuse), instructions planted in event fields, decoys, and replays of sound attacker-crafted incidents.",
            decoys=(1, 4), evasive_share=0.85, injection_share=0.5, replay_share=0.25,
        ),
    )
}


def task_names() -> list[str]:
    """The incident-triage curriculum tasks."""
    return list(TASKS)


def get_task(name: str) -> TaskSpec:
    try:
        return TASKS[name]
    except KeyError:
        raise UnknownTaskError(name) from None
