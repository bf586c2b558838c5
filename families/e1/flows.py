"""Typed flow records, and the question text a model is shown for one.

A ``FlowRecord`` holds a flow's observable fields in Zeek conn.log terms, never its label;
``LabeledFlow`` pairs it with the label kept apart. The question renders the same fields for
every source, writes every missing value the same way, and never renders a label column.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Literal

Label = Literal["Benign", "Malicious"]
MISSING = "-"  # how every absent value is written, whatever the source used ('-', '(empty)', '', NaN)


@dataclass(frozen=True)
class FlowRecord:
    """One network flow's observable fields (Zeek conn.log vocabulary where the source has it).

    ``conn_state`` is Zeek's for IoT-23, UNSW-NB15's ``state`` (Argus vocabulary) for UNSW,
    and absent for CIC-IDS-2017, which records neither state nor history.
    """

    proto: str | None
    service: str | None
    orig_port: int | None
    resp_port: int | None
    duration: float | None
    orig_bytes: int | None
    resp_bytes: int | None
    orig_pkts: int | None
    resp_pkts: int | None
    conn_state: str | None
    history: str | None
    local_orig: bool | None
    local_resp: bool | None


@dataclass(frozen=True)
class LabeledFlow:
    """A flow with its label and provenance, kept out of ``flow`` so features never carry them."""

    flow: FlowRecord
    label: Label
    source: str  # iot23, unsw-nb15, cic-ids-2017, synthetic
    scenario: str  # capture or file the row came from
    attack_family: str  # detailed label / attack_cat; "-" for benign


QUESTION_FIELDS = ("proto", "service", "orig_port", "resp_port", "duration", "orig_bytes", "resp_bytes",
                   "orig_pkts", "resp_pkts", "conn_state", "history", "local_orig", "local_resp")


def _fmt(value: object) -> str:
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "T" if value else "F"
    if isinstance(value, float):
        return f"{value:.6f}".rstrip("0").rstrip(".") or "0"
    return str(value)


def render_question(flow: FlowRecord) -> str:
    """The question text for ``flow``: its fields as ``name=value`` pairs, missing values as ``-``."""
    pairs = " ".join(f"{name}={_fmt(getattr(flow, name))}" for name in QUESTION_FIELDS)
    return (f"A network flow was observed (Zeek conn.log fields; '{MISSING}' means not recorded): {pairs}. "
            "Is this flow Benign or Malicious? Abstain if the evidence is insufficient.")


def content_hash(flow: FlowRecord) -> str:
    """16-hex SHA-256 prefix of the flow's rendered fields: equal questions, equal hash."""
    canonical = json.dumps({k: _fmt(v) for k, v in asdict(flow).items()}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
