"""Hashed features of a defender observation, for the small CPU policies.

The representation is generic: tokens of every event field (names and values, numbers
bucketed by log2), tokens of the alert's detection and enrichment, and a few aggregate
counts over the window (events per type, repeated pairs, failed logons per source, distinct
targets, bytes out). It never consults the verifier. Hashing is SHA-1 based, so a feature's
index is the same in every process.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter, defaultdict
from functools import lru_cache

import numpy as np

from ..schema import Alert

DIM = 1 << 12
_TOKEN = re.compile(r"[a-z0-9]+(?:\.[a-z0-9]+)*")


@lru_cache(maxsize=1 << 17)
def _index(token: str) -> int:
    return int.from_bytes(hashlib.sha1(token.encode()).digest()[:4], "little") % DIM


def _bucket(x: float) -> str:
    return "0" if x <= 0 else str(int(math.log2(x)))


def _value_tokens(key: str, value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, bool):
        return [f"{key}={value}"]
    if isinstance(value, (int, float)):
        return [f"{key}~{_bucket(value)}"]
    return [f"{key}:{t}" for t in _TOKEN.findall(str(value).lower())[:24]]


def tokens(alert: Alert) -> list[str]:
    out = [f"rule:{alert.rule_name}", f"severity:{alert.severity}", *(f"tech:{t}" for t in alert.technique_ids)]
    ents = alert.entities
    out += [f"host_role:{h.role}" for h in ents.hosts] + [f"host_critical={h.critical}" for h in ents.hosts]
    out += [f"user_it_admin={u.it_admin}" for u in ents.users] + [f"user_kind:{u.kind}" for u in ents.users]
    out += [f"ip:{i.scope}:{'known' if i.known_good_service else 'unknown'}" for i in ents.ips]
    out += [f"domain:{'known' if d.known_good_service else 'unknown'}" for d in ents.domains]
    pair_counts: Counter = Counter()
    fails: Counter = Counter()
    targets: dict[str, set] = defaultdict(set)
    bytes_out: Counter = Counter()
    types = Counter(e.event_type for e in alert.events)
    for e in alert.events:
        for key, value in e.model_dump(exclude={"log_id", "timestamp"}).items():
            out += _value_tokens(f"{e.event_type}.{key}", value)
        src, dst = getattr(e, "source_ip", None), getattr(e, "destination_ip", None)
        if src and dst:
            pair_counts[(src, dst)] += 1
            targets[src].add((dst, getattr(e, "destination_port", None)))
            bytes_out[(src, dst)] += getattr(e, "source_bytes", 0) or 0
        if e.event_type == "authentication" and e.outcome == "failure":
            fails[e.source_ip] += 1
    out += [f"count:{t}~{_bucket(n)}" for t, n in types.items()]
    out.append(f"max_pair~{_bucket(max(pair_counts.values(), default=0))}")
    out.append(f"max_fail~{_bucket(max(fails.values(), default=0))}")
    out.append(f"max_targets~{_bucket(max((len(v) for v in targets.values()), default=0))}")
    out.append(f"max_bytes_out~{_bucket(max(bytes_out.values(), default=0))}")
    out.append(f"events~{_bucket(len(alert.events))}")
    return out


def featurize(alert: Alert) -> np.ndarray:
    """A DIM-vector: log(1 + count) of each hashed token, plus a bias slot at index 0."""
    x = np.zeros(DIM, dtype=np.float32)
    for t in tokens(alert):
        x[_index(t)] += 1.0
    np.log1p(x, out=x)
    x[0] = 1.0
    return x
