"""Readers for the public network-intrusion datasets, yielding ``LabeledFlow`` records.

Each reader handles the quirks of the files as they are distributed:
- IoT-23 ``conn.log.labeled``: header from ``#separator``/``#fields``; the last three fields
  separated by spaces, not tabs; CRLF or LF; ``-`` and ``(empty)``; lower-case ``benign``;
  an optional ``#close`` footer; no trailing newline.
- UNSW-NB15: the raw 49-column file without a header (names from ``NUSW-NB15_features.csv``;
  an empty ``attack_cat`` means normal traffic) and the 45-column train/test partition; a
  UTF-8 BOM; hexadecimal ports.
- CIC-IDS-2017: header names with leading spaces and a duplicated ``Fwd Header Length``;
  both the MachineLearningCVE and the TrafficLabelling layouts.
Label columns are read into ``LabeledFlow.label``/``attack_family`` only, never into the flow.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator
from pathlib import Path

from .flows import FlowRecord, LabeledFlow

_PROTO_NUMBERS = {"6": "tcp", "17": "udp", "1": "icmp", "0": "hopopt"}


class ReaderError(ValueError):
    """A file that does not have the expected format; the message names the file and line."""


def _missing(value: str | None) -> bool:
    return value is None or value.strip() in ("", "-", "(empty)", "nan", "NaN", "Infinity", "inf")


def _int(value: str | None) -> int | None:
    if _missing(value):
        return None
    v = value.strip()
    try:
        return int(v, 16) if v.lower().startswith("0x") else int(float(v))
    except ValueError:
        return None


def _float(value: str | None) -> float | None:
    if _missing(value):
        return None
    try:
        f = float(value)
    except ValueError:
        return None
    return f if math.isfinite(f) else None


def _str(value: str | None) -> str | None:
    return None if _missing(value) else value.strip()


def _bool(value: str | None) -> bool | None:
    return {"T": True, "F": False}.get((value or "").strip())


def _label(raw: str, path: Path, line: int) -> str:
    v = raw.strip().lower()
    if v in ("benign", "normal", "0"):
        return "Benign"
    if v in ("malicious", "1") or v:
        return "Malicious"
    raise ReaderError(f"{path}:{line}: empty label")


# ------------------------------------------------------------------------------ IoT-23


def read_iot23(path: str | Path) -> Iterator[LabeledFlow]:
    """Flows of one IoT-23 ``conn.log.labeled`` file; ``scenario`` is its capture folder's name."""
    path = Path(path)
    scenario = path.parent.name
    fields: list[str] | None = None
    separator = "\t"
    with path.open("r", encoding="utf-8", newline="") as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.rstrip("\r\n")
            if not line:
                continue
            if line.startswith("#"):
                if line.startswith("#separator"):
                    separator = line.split(" ", 1)[1].encode().decode("unicode_escape")
                elif line.startswith("#fields"):
                    fields = _split_iot23(line, separator)[1:]
                continue
            if fields is None:
                raise ReaderError(f"{path}:{lineno}: data before the #fields header")
            values = _split_iot23(line, separator)
            if len(values) != len(fields):
                raise ReaderError(f"{path}:{lineno}: {len(values)} fields, expected {len(fields)}")
            row = dict(zip(fields, values))
            flow = FlowRecord(
                proto=_str(row.get("proto")), service=_str(row.get("service")),
                orig_port=_int(row.get("id.orig_p")), resp_port=_int(row.get("id.resp_p")),
                duration=_float(row.get("duration")),
                orig_bytes=_int(row.get("orig_bytes")), resp_bytes=_int(row.get("resp_bytes")),
                orig_pkts=_int(row.get("orig_pkts")), resp_pkts=_int(row.get("resp_pkts")),
                conn_state=_str(row.get("conn_state")), history=_str(row.get("history")),
                local_orig=_bool(row.get("local_orig")), local_resp=_bool(row.get("local_resp")),
            )
            detailed = _str(row.get("detailed-label")) or "-"
            yield LabeledFlow(flow, _label(row.get("label", ""), path, lineno), "iot23", scenario, detailed)


def _split_iot23(line: str, separator: str) -> list[str]:
    # The last tab-separated field holds "tunnel_parents   label   detailed-label", split by spaces.
    head = line.split(separator)
    return head[:-1] + head[-1].split()


# --------------------------------------------------------------------------- UNSW-NB15


def read_unsw_features(path: str | Path) -> list[str]:
    """Column names of the raw UNSW-NB15 files, from UNSW's ``NUSW-NB15_features.csv`` (cp1252)."""
    text = Path(path).read_bytes().decode("cp1252")
    rows = list(csv.reader(io.StringIO(text)))
    return [r[1].strip().replace(" ", "") for r in rows[1:] if len(r) > 1 and r[1].strip()]


def read_unsw(path: str | Path, features: str | Path | None = None) -> Iterator[LabeledFlow]:
    """Flows of a UNSW-NB15 CSV: the raw 49-column layout (pass ``features``) or the 45-column partition."""
    path = Path(path)
    with path.open("r", encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        first = next(reader, None)
        if first is None:
            return
        if first and first[0].strip() == "id":  # the train/test partition carries its header
            names, rows = [c.strip() for c in first], reader
        else:
            if features is None:
                raise ReaderError(f"{path}: a raw UNSW-NB15 file has no header; pass NUSW-NB15_features.csv")
            names = read_unsw_features(features)
            rows = _chain([first], reader)
        for lineno, values in enumerate(rows, 2 if names and names[0] == "id" else 1):
            if len(values) != len(names):
                raise ReaderError(f"{path}:{lineno}: {len(values)} fields, expected {len(names)}")
            r = {k.lower(): v for k, v in zip(names, values)}
            flow = FlowRecord(
                proto=_str(r.get("proto")), service=_str(r.get("service")),
                orig_port=_int(r.get("sport")), resp_port=_int(r.get("dsport")),
                duration=_float(r.get("dur")), orig_bytes=_int(r.get("sbytes")), resp_bytes=_int(r.get("dbytes")),
                orig_pkts=_int(r.get("spkts")), resp_pkts=_int(r.get("dpkts")),
                conn_state=_str(r.get("state")), history=None, local_orig=None, local_resp=None,
            )
            family = (r.get("attack_cat") or "").strip()
            label = _label(r.get("label", ""), path, lineno)
            if label == "Benign" or family.lower() == "normal":
                family = "-"
            yield LabeledFlow(flow, label, "unsw-nb15", path.name, family or "-")


def _chain(first: list, rest) -> Iterator:
    yield from first
    yield from rest


# ------------------------------------------------------------------------ CIC-IDS-2017


def read_cic(path: str | Path) -> Iterator[LabeledFlow]:
    """Flows of a CIC-IDS-2017 CSV (MachineLearningCVE or TrafficLabelling layout)."""
    path = Path(path)
    with path.open("r", encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            return
        index: dict[str, int] = {}
        for i, name in enumerate(header):
            index.setdefault(name.strip(), i)  # the duplicated 'Fwd Header Length' keeps its first position
        for required in ("Destination Port", "Flow Duration", "Label"):
            if required not in index:
                raise ReaderError(f"{path}: no {required!r} column; is this a CIC-IDS-2017 flow CSV?")

        def get(values: list[str], name: str) -> str | None:
            i = index.get(name)
            return values[i] if i is not None and i < len(values) else None

        for lineno, values in enumerate(reader, 2):
            if len(values) != len(header):
                raise ReaderError(f"{path}:{lineno}: {len(values)} fields, expected {len(header)}")
            micros = _float(get(values, "Flow Duration"))
            proto = _str(get(values, "Protocol"))
            flow = FlowRecord(
                proto=_PROTO_NUMBERS.get(proto, proto) if proto else None, service=None,
                orig_port=_int(get(values, "Source Port")), resp_port=_int(get(values, "Destination Port")),
                duration=micros / 1e6 if micros is not None and micros >= 0 else None,
                orig_bytes=_int(get(values, "Total Length of Fwd Packets")),
                resp_bytes=_int(get(values, "Total Length of Bwd Packets")),
                orig_pkts=_int(get(values, "Total Fwd Packets")), resp_pkts=_int(get(values, "Total Backward Packets")),
                conn_state=None, history=None, local_orig=None, local_resp=None,
            )
            raw_label = (get(values, "Label") or "").strip()
            label = "Benign" if raw_label.upper() == "BENIGN" else _label(raw_label, path, lineno)
            yield LabeledFlow(flow, label, "cic-ids-2017", path.name, "-" if label == "Benign" else raw_label)
