"""The curriculum as data: what each stage draws, mixes and plants.

Every stage draws the gold action first: ``dismiss`` (a benign look-alike) with probability
``BENIGN_SHARE`` and each malicious action the stage offers equally often, so no constant
policy is right more than about three times in ten; the label distribution each
stage actually produces is measured and rendered into the docs by ``opensoc.reference``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..e1.loading import EVALUATION_SUFFIX
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


@dataclass(frozen=True)
class E1TaskSpec:
    """An E1 network-flow task: one dataset file, its splits, and the split a reset uses by default.

    Every split may also be asked for as ``<split>:eval``, an episode drawn to measure a
    policy; a split whose loaded rows hold one class only is served that way alone, because a
    constant answer would earn its maximum (``e1.loading.episode_rows`` decides from the data).
    """

    name: str
    title: str
    description: str
    dataset_file: str
    splits: tuple[str, ...]
    default_split: str

    @property
    def served_splits(self) -> tuple[str, ...]:
        return self.splits + tuple(s + EVALUATION_SUFFIX for s in self.splits)


E1_TASKS: dict[str, E1TaskSpec] = {
    spec.name: spec
    for spec in (
        E1TaskSpec("e1_iot23", "E1: IoT-23 flows", "Classify one IoT-23 Zeek flow as Benign, Malicious or Abstain.",
                   "iot23-train-dev-test-v1.jsonl", ("train", "dev", "test"), "train"),
        E1TaskSpec("e1_cic_ood", "E1: CIC-IDS-2017 (out of distribution)",
                   "The same question on CIC-IDS-2017 flows. While the loaded file holds benign flows only (the public "
                   "samples do), it is a false-positive-rate set, served as split 'ood:eval' and refused as a task.",
                   "cic-ids-2017-ood-v1.jsonl", ("ood",), "ood"),
        E1TaskSpec("e1_unsw_ood", "E1: UNSW-NB15 (out of distribution)", "The same question on UNSW-NB15 flows.",
                   "unsw-nb15-ood-v1.jsonl", ("ood",), "ood"),
    )
}


@dataclass(frozen=True)
class InvestigationTaskSpec:
    """An investigation task: a curriculum stage's incident inside a log store, and the tools' call budget."""

    name: str
    stage: int
    title: str
    description: str
    curriculum_task: str  # the stage whose incidents are planted
    store_hours: float  # the span of background telemetry around the incident
    store_events: int  # about how many events the store holds
    call_budget: int  # tool calls allowed before the triage


INVESTIGATION_TASKS: dict[str, InvestigationTaskSpec] = {
    spec.name: spec
    for spec in (
        InvestigationTaskSpec("investigate_stage1", 1, "Investigate: single events",
                              "A stage-1 incident in two hours of an office's telemetry.", "stage1_basic", 2.0, 400, 6),
        InvestigationTaskSpec("investigate_stage2", 2, "Investigate: multi-event windows",
                              "A stage-2 incident in four hours of telemetry.", "stage2_multi", 4.0, 800, 10),
        InvestigationTaskSpec("investigate_stage3", 3, "Investigate: decoys interleaved",
                              "A stage-3 incident, decoys and all, in six hours of telemetry.", "stage3_mixed", 6.0, 1500, 12),
        InvestigationTaskSpec("investigate_stage4", 4, "Investigate: adversarial incidents",
                              "A stage-4 incident in eight hours of telemetry.", "stage4_adversarial", 8.0, 2500, 15),
    )
}


def task_names() -> list[str]:
    """The incident-triage curriculum tasks."""
    return list(TASKS)


def all_task_names() -> list[str]:
    """Every task the service serves: the curriculum, then investigation, then E1."""
    return list(TASKS) + list(INVESTIGATION_TASKS) + list(E1_TASKS)


def get_task(name: str) -> TaskSpec:
    try:
        return TASKS[name]
    except KeyError:
        raise UnknownTaskError(name) from None
