"""The E1 tasks: one dataset file each, its splits, and the split a reset uses by default."""

from __future__ import annotations

from dataclasses import dataclass

from .loading import EVALUATION_SUFFIX


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
