"""Metrics over per-example records, for incident triage and for E1.

Triage records carry ``gold``, ``predicted`` (None for a format violation), ``reward``,
``citation_correct`` and an optional ``confidence`` (probability the action is right).
E1 records carry ``answer``, ``predicted`` (Benign/Malicious/Abstain or None), ``confidence``,
``reward``. Format violations are counted, never dropped.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

from ..schema import TRIAGE_ACTIONS

INVALID = "invalid"
E1_FN_WEIGHT, E1_FP_WEIGHT = 10.0, 1.0  # the cost weights Security Verifiers' E1 metrics use


def _ratio(num: float, den: float) -> float | None:
    return round(num / den, 6) if den else None


def calibration(pairs: Sequence[tuple[float, bool]], bins: int = 10) -> dict:
    """ECE over equal-width bins ([i/10, (i+1)/10), the last one closed) and the Brier score."""
    if not pairs:
        return {"n": 0, "ece": None, "brier": None}
    buckets: dict[int, list[tuple[float, bool]]] = defaultdict(list)
    for c, ok in pairs:
        buckets[min(int(c * bins), bins - 1)].append((c, ok))
    ece = sum(len(b) / len(pairs) * abs(sum(c for c, _ in b) / len(b) - sum(ok for _, ok in b) / len(b))
              for b in buckets.values())
    brier = sum((c - float(ok)) ** 2 for c, ok in pairs) / len(pairs)
    return {"n": len(pairs), "ece": round(ece, 6), "brier": round(brier, 6)}


def soc_metrics(records: Sequence[dict]) -> dict:
    n = len(records)
    preds = [r["predicted"] or INVALID for r in records]
    golds = [r["gold"] for r in records]
    per_class = {}
    for a in TRIAGE_ACTIONS:
        tp = sum(p == a and g == a for p, g in zip(preds, golds, strict=True))
        fp = sum(p == a and g != a for p, g in zip(preds, golds, strict=True))
        fn = sum(p != a and g == a for p, g in zip(preds, golds, strict=True))
        precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
        f1 = _ratio(2 * tp, 2 * tp + fp + fn)
        per_class[a] = {"precision": precision, "recall": recall, "f1": f1, "support": tp + fn}
    present = [a for a in TRIAGE_ACTIONS if per_class[a]["support"]]
    malicious = [(p, g) for p, g in zip(preds, golds, strict=True) if g != "dismiss"]
    benign = [p for p, g in zip(preds, golds, strict=True) if g == "dismiss"]
    valid = [r for r in records if r["predicted"] is not None]
    confusion = {g: dict(Counter(p for p, gg in zip(preds, golds, strict=True) if gg == g)) for g in TRIAGE_ACTIONS if g in golds}
    return {
        "n": n,
        "accuracy": _ratio(sum(p == g for p, g in zip(preds, golds, strict=True)), n),
        "macro_f1": _ratio(sum(per_class[a]["f1"] or 0.0 for a in present), len(present)),
        "per_class": per_class,
        "dismiss_on_malicious_rate": _ratio(sum(p == "dismiss" for p, _ in malicious), len(malicious)),
        "over_reaction_rate": _ratio(sum(p not in ("dismiss", INVALID) for p in benign), len(benign)),
        "citation_accuracy": _ratio(sum(bool(r["citation_correct"]) for r in valid), len(valid)),
        "mean_reward": _ratio(sum(r["reward"] for r in records), n),
        "format_violation_rate": _ratio(n - len(valid), n),
        "confusion": confusion,
        "calibration": calibration([(r["confidence"], r["predicted"] == r["gold"]) for r in valid
                                    if r.get("confidence") is not None]),
    }


def aurc(pairs: Sequence[tuple[float, bool]]) -> float | None:
    """Area under the risk-coverage curve: answers sorted by confidence, risk averaged over every coverage."""
    if not pairs:
        return None
    ranked = sorted(pairs, key=lambda p: -p[0])
    errors, risks = 0, []
    for k, (_, ok) in enumerate(ranked, 1):
        errors += not ok
        risks.append(errors / k)
    return round(sum(risks) / len(risks), 6)


def e1_metrics(records: Sequence[dict]) -> dict:
    n = len(records)
    parsed = [r for r in records if r["predicted"] is not None]
    decided = [r for r in parsed if r["predicted"] != "Abstain"]
    tp = sum(r["predicted"] == "Malicious" and r["answer"] == "Malicious" for r in decided)
    fn = sum(r["predicted"] == "Benign" and r["answer"] == "Malicious" for r in decided)
    fp = sum(r["predicted"] == "Malicious" and r["answer"] == "Benign" for r in decided)
    tn = sum(r["predicted"] == "Benign" and r["answer"] == "Benign" for r in decided)
    # A format failure on an attack leaves it undetected: it costs like a missed attack.
    invalid_on_attacks = sum(r["predicted"] is None and r["answer"] == "Malicious" for r in records)
    pairs = [(r["confidence"], r["predicted"] == r["answer"]) for r in decided if r.get("confidence") is not None]
    return {
        "n": n,
        "tpr": _ratio(tp, tp + fn), "fpr": _ratio(fp, fp + tn), "fnr": _ratio(fn, tp + fn),
        "precision": _ratio(tp, tp + fp), "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "accuracy_decided": _ratio(tp + tn, len(decided)),
        "abstain_rate": _ratio(len(parsed) - len(decided), len(parsed)),
        "format_violation_rate": _ratio(n - len(parsed), n),
        "calibration": calibration(pairs),
        "aurc": aurc(pairs),
        "expected_cost": _ratio(E1_FN_WEIGHT * (fn + invalid_on_attacks) + E1_FP_WEIGHT * fp, n),
        "mean_reward": _ratio(sum(r["reward"] for r in records), n),
        "confusion": {"tp": tp, "fn": fn, "fp": fp, "tn": tn, "abstain": len(parsed) - len(decided), "invalid": n - len(parsed)},
    }


def by_task(records: Sequence[dict], fn) -> dict:
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        groups[r["task"]].append(r)
    return {task: fn(rows) for task, rows in groups.items()}
