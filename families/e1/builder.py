"""Build E1 datasets from the public downloads: dedup, shortcut-aware sampling, splits, audit, manifest.

``build_e1`` writes ``iot23-train-dev-test-v1.jsonl`` (balanced, 70/15/15 splits),
``cic-ids-2017-ood-v1.jsonl`` and ``unsw-nb15-ood-v1.jsonl`` as rows of
``{question, answer, meta{source, scenario, attack_family, hash, split}}`` (Security Verifiers'
schema), plus ``sampling-e1-v1.json``. The same inputs and seed give byte-identical files.

Shortcut control: Security Verifiers' data is solved 91% of the time by "duration missing
⇒ Malicious". Here rows are sampled in pairs matched on the cheap surface of a flow
(protocol, connection state, destination port, and which fields are missing), so no rule
on those alone beats chance; ``e1.audit`` then cross-validates, over all rows of every
file, the best one- and two-field rules beside a k-NN classifier over all fields, with 95%
intervals, and flags any file where a rule comes close to it; the figures go in the
manifest. A source short of a class is reported and written short, never padded; a file
left with one class is marked as an evaluation set (``purpose``), not a task.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .audit import one_class_purpose, rate_measured, shortcut_audit, shortcut_notes
from .flows import FlowRecord, LabeledFlow, content_hash, render_question
from .readers import read_cic, read_iot23, read_unsw

IOT23_FILE = "iot23-train-dev-test-v1.jsonl"
CIC_FILE = "cic-ids-2017-ood-v1.jsonl"
UNSW_FILE = "unsw-nb15-ood-v1.jsonl"
MANIFEST_FILE = "sampling-e1-v1.json"
SPLITS = (("train", 0.70), ("dev", 0.15), ("test", 0.15))


def dedup(flows: Iterable[LabeledFlow]) -> tuple[list[LabeledFlow], int]:
    """Flows with unique content hash (first kept), and how many were dropped."""
    seen, out, dropped = set(), [], 0
    for lf in flows:
        h = content_hash(lf.flow)
        if h in seen:
            dropped += 1
            continue
        seen.add(h)
        out.append(lf)
    return out, dropped


def surface(flow: FlowRecord, match_ports: bool = True) -> tuple:
    """The cheap features a one-line rule would use; sampling matches classes on them.

    Which fields are missing (the 91% shortcut in Security Verifiers' data, and the tell of
    which file layout a UNSW row came from), the protocol and the connection state. With
    ``match_ports`` the destination port too: a port that only one class uses is real
    signal, but it lets a one-field rule stand in for a classifier.
    """
    base = (flow.proto, flow.conn_state, flow.duration is None, flow.orig_bytes is None, flow.service is None,
            flow.orig_port is None)
    return base + (flow.resp_port,) if match_ports else base


def pattern(flow: FlowRecord) -> tuple:
    """What a flow talks to and how: rows sharing it are near-copies of one behaviour."""
    return (flow.proto, flow.service, flow.resp_port, flow.conn_state)


def _diverse_order(pool: list[LabeledFlow], rng: random.Random) -> list[LabeledFlow]:
    """Shuffle, then interleave by ``pattern`` so the first rows taken cover many behaviours, not one."""
    groups: dict[tuple, list[LabeledFlow]] = defaultdict(list)
    for f in pool:
        groups[pattern(f.flow)].append(f)
    ordered_groups = [groups[k] for k in sorted(groups, key=repr)]
    for g in ordered_groups:
        rng.shuffle(g)
    out = []
    for i in range(max((len(g) for g in ordered_groups), default=0)):
        out.extend(g[i] for g in ordered_groups if i < len(g))
    return out


@dataclass
class Sample:
    rows: list[LabeledFlow]
    requested: dict[str, int]
    available: dict[str, int]
    matched_pairs: int
    unmatched_fill: int
    notes: list[str] = field(default_factory=list)


def sample_balanced(flows: Sequence[LabeledFlow], n: int, rng: random.Random, name: str, *,
                    match_ports: bool = True, allow_unmatched: bool = False) -> Sample:
    """Up to n/2 rows per class in pairs matched on ``surface``; shortfalls are reported, not padded.

    ``allow_unmatched`` tops a short class up with unmatched rows (counted in the manifest),
    at the price of letting surface shortcuts back in.
    """
    per_class = n // 2
    by_class = {"Benign": [f for f in flows if f.label == "Benign"], "Malicious": [f for f in flows if f.label == "Malicious"]}
    available = {k: len(v) for k, v in by_class.items()}
    strata: dict[tuple, dict[str, list[LabeledFlow]]] = defaultdict(lambda: {"Benign": [], "Malicious": []})
    for f in flows:
        strata[surface(f.flow, match_ports)][f.label].append(f)
    keys = sorted(strata, key=repr)
    for key in keys:
        for label, pool in strata[key].items():
            strata[key][label] = _diverse_order(pool, rng)
    matched = {"Benign": [], "Malicious": []}
    # Round-robin over strata so the matched sample spreads across surfaces instead of piling into one.
    depth = 0
    while len(matched["Benign"]) < per_class:
        progressed = False
        for key in keys:
            b, m = strata[key]["Benign"], strata[key]["Malicious"]
            if depth < min(len(b), len(m)) and len(matched["Benign"]) < per_class:
                matched["Benign"].append(b[depth])
                matched["Malicious"].append(m[depth])
                progressed = True
        if not progressed:
            break
        depth += 1
    pairs = len(matched["Benign"])
    chosen = {label: list(rows) for label, rows in matched.items()}
    if min(available.values()) == 0:  # one class only: nothing to match against; keep what exists
        present = max(available, key=available.get)
        chosen[present] = _diverse_order(by_class[present], rng)[:per_class]
    fill = 0
    for label, pool in by_class.items():
        used = {id(f) for f in chosen[label]}
        rest = [f for f in pool if id(f) not in used]
        rng.shuffle(rest)
        extra = rest[: max(0, per_class - len(chosen[label]))] if allow_unmatched else []
        fill += len(extra)
        chosen[label] += extra
    notes = []
    if pairs < per_class:
        notes.append(f"{name}: {pairs} surface-matched pairs of the {per_class} requested"
                     + (f"; {fill} rows filled without matching" if allow_unmatched else ""))
    for label in ("Benign", "Malicious"):
        if len(chosen[label]) < per_class:
            why = "the source has no more" if available[label] <= len(chosen[label]) else "no more could be surface-matched"
            notes.append(f"{name}: wrote {len(chosen[label])} of the {per_class} {label} rows requested "
                         f"({available[label]} after dedup; {why}; not padded)")
    rows = chosen["Benign"] + chosen["Malicious"]
    rng.shuffle(rows)
    return Sample(rows, {"Benign": per_class, "Malicious": per_class}, available, pairs, fill, notes)


def assign_splits(rows: Sequence[LabeledFlow], rng: random.Random) -> list[str]:
    """70/15/15 train/dev/test, stratified by label."""
    splits = [""] * len(rows)
    for label in ("Benign", "Malicious"):
        idx = [i for i, r in enumerate(rows) if r.label == label]
        rng.shuffle(idx)
        cut1, cut2 = round(len(idx) * SPLITS[0][1]), round(len(idx) * (SPLITS[0][1] + SPLITS[1][1]))
        for pos, i in enumerate(idx):
            splits[i] = "train" if pos < cut1 else "dev" if pos < cut2 else "test"
    return splits


def to_row(lf: LabeledFlow, split: str) -> dict:
    return {"question": render_question(lf.flow), "answer": lf.label,
            "meta": {"source": lf.source, "scenario": lf.scenario, "attack_family": lf.attack_family,
                     "hash": content_hash(lf.flow), "split": split}}


# ---------------------------------------------------------------------------- the build


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def _ood(flows: list[LabeledFlow], n: int, rng: random.Random, name: str, **how) -> tuple[list[dict], Sample]:
    sample = sample_balanced(flows, n, rng, name, **how)
    return [to_row(f, "ood") for f in sample.rows], sample


def build_e1(*, iot23: Sequence[Path], unsw: Sequence[Path] = (), unsw_features: Path | None = None,
             cic: Sequence[Path] = (), out: Path, seed: int = 42, iot23_rows: int = 1800, ood_rows: int = 600,
             match_ports: bool = True, allow_unmatched: bool = False, progress=None) -> dict:
    """Read, dedup, sample, split, audit and write; returns the manifest (also written to ``out``)."""

    out.mkdir(parents=True, exist_ok=True)
    inputs: list[tuple[str, Path]] = []
    for d in iot23:
        d = Path(d)
        inputs += [("iot23", p) for p in (sorted(d.rglob("conn.log.labeled")) if d.is_dir() else [d])]
    inputs += [("unsw", Path(p)) for p in unsw] + [("cic", Path(p)) for p in cic]
    flows: dict[str, list[LabeledFlow]] = {"iot23": [], "unsw": [], "cic": []}
    for kind, path in (progress(inputs) if progress else inputs):
        reader = {"iot23": read_iot23, "unsw": lambda p: read_unsw(p, unsw_features), "cic": read_cic}[kind]
        flows[kind].extend(reader(path))

    how = {"match_ports": match_ports, "allow_unmatched": allow_unmatched}
    manifest: dict = {"version": "e1-v1", "seed": seed, "sampling": how,
                      "inputs": [{"kind": k, "file": p.name, "sha256": _sha256(p)} for k, p in inputs], "files": {}, "notes": []}
    rng = random.Random(f"e1-build:{seed}")

    iot, dropped = dedup(flows["iot23"])
    sample = sample_balanced(iot, iot23_rows, rng, IOT23_FILE, **how)
    splits = assign_splits(sample.rows, rng)
    rows = [to_row(f, s) for f, s in zip(sample.rows, splits)]
    _write_jsonl(out / IOT23_FILE, rows)
    manifest["files"][IOT23_FILE] = _describe(rows, sample, dropped, shortcut_audit(sample.rows, f"{seed}:{IOT23_FILE}"),
                                              IOT23_FILE)
    manifest["notes"] += manifest["files"][IOT23_FILE]["notes"]

    for kind, name in (("cic", CIC_FILE), ("unsw", UNSW_FILE)):
        unique, dropped = dedup(flows[kind])
        rows, sample = _ood(unique, ood_rows, rng, name, **how)
        _write_jsonl(out / name, rows)
        manifest["files"][name] = _describe(rows, sample, dropped, shortcut_audit(sample.rows, f"{seed}:{name}"), name)
        manifest["notes"] += manifest["files"][name]["notes"]
    (out / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return manifest


def _describe(rows: list[dict], sample: Sample, dropped: int, audit: dict, name: str) -> dict:
    notes = list(sample.notes) + shortcut_notes(name, audit)
    by_label = Counter(r["answer"] for r in rows)
    purpose = "task"
    if len(by_label) == 1:  # announced here and enforced where the file is served (e1.loading.episode_rows)
        (label, count), = by_label.items()
        purpose = f"evaluation: {rate_measured(label)}"
        notes.append(f"{name}: {one_class_purpose(label, count)}")
    return {
        "rows": len(rows),
        "requested": sample.requested,
        "available_after_dedup": sample.available,
        "duplicates_dropped": dropped,
        "by_label": dict(sorted(by_label.items())),
        "by_split": dict(sorted(Counter(r["meta"]["split"] for r in rows).items())),
        "by_attack_family": dict(sorted(Counter(r["meta"]["attack_family"] for r in rows).items())),
        "surface_matched_pairs": sample.matched_pairs,
        "unmatched_fill": sample.unmatched_fill,
        "purpose": purpose,
        "shortcut_audit": audit,
        "notes": notes,
    }
