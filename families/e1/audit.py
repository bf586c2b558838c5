"""The shortcut audit: could a rule on one or two fields stand in for a classifier on an E1 file?

Every figure is measured by stratified k-fold cross-validation over all rows of the file (10
folds, or fewer when a class is smaller), so each row is predicted once by a model that did
not see it, and every accuracy comes with a 95% Wilson interval over those out-of-fold
predictions. Reported per file:

- ``best_single_field_rule`` and ``best_two_field_rule``: lookup rules over binned field
  values (the majority label of each value, or of each pair of values, and a default label
  for values not seen in training). Inside every training fold the field (or pair) and the
  default with the best leave-one-out accuracy are chosen and then
  scored on the held-out fold, so the figure is the accuracy of *choosing* the best rule and
  is not inflated by picking the winner on the rows it is scored on. The field (pair) named,
  with its default (``otherwise``), is the one chosen in most folds.
- ``classifier``: 5-nearest-neighbours over all question fields (log-scaled magnitudes,
  mismatch counts for categories, a fixed penalty where one side is missing), no tuning.
- ``classifier_minus_best_rule``: the classifier's lead over the better rule, with a 95%
  interval from the paired per-row differences.
- ``per_field``: each field's own rule, and the fixed rule "field missing ⇒ Malicious" (the
  91% shortcut in Security Verifiers' data), each with its interval.

Deterministic for a seed; numpy only.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Sequence
from itertools import combinations

import numpy as np

from .flows import QUESTION_FIELDS, LabeledFlow

Z95 = 1.959963984540054  # two-sided 95% normal quantile
MAX_FOLDS = 10
K_NEIGHBOURS = 5
MISSING_PENALTY = 3.0  # k-NN distance when one flow has a magnitude and the other does not
SHORTCUT_MARGIN = 0.05  # a rule this close to the classifier (or closer) is flagged

NUMERIC_FIELDS = ("duration", "orig_bytes", "resp_bytes", "orig_pkts", "resp_pkts")
CATEGORICAL_FIELDS = tuple(n for n in QUESTION_FIELDS if n not in NUMERIC_FIELDS)
LABELS = ("Benign", "Malicious")
CLASSIFIER = f"{K_NEIGHBOURS}-nearest neighbours over all {len(QUESTION_FIELDS)} question fields"


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion; stays inside [0, 1] and is sane at small n."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def _figure(correct: np.ndarray) -> dict:
    k, n = int(correct.sum()), len(correct)
    lo, hi = wilson(k, n)
    return {"accuracy": round(k / n, 4), "ci95": [round(lo, 4), round(hi, 4)]}


def _bucket(name: str, value: object) -> str:
    """The value a rule looks up: categories as they are (ports name services), magnitudes by power of two."""
    if value is None:
        return "missing"
    if name in CATEGORICAL_FIELDS or isinstance(value, (bool, str)):
        return str(value)
    if value <= 0:
        return "0"
    return f"2^{int(math.log2(value))}"


def _codes(values: Sequence[object]) -> np.ndarray:
    index: dict[object, int] = {}
    return np.array([index.setdefault(v, len(index)) for v in values], dtype=np.int64)


def stratified_folds(labels: np.ndarray, folds: int, rng: random.Random) -> np.ndarray:
    """Fold number of every row: each class shuffled, then dealt round-robin so folds keep the class mix."""
    fold = np.empty(len(labels), dtype=np.int64)
    for cls in (0, 1):
        idx = [int(i) for i in np.flatnonzero(labels == cls)]
        rng.shuffle(idx)
        fold[idx] = np.arange(len(idx)) % folds
    return fold


def _fit(cells: np.ndarray, y: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    mal = np.bincount(cells, weights=y, minlength=size)
    return mal, np.bincount(cells, minlength=size) - mal


def _vote(mal: np.ndarray, ben: np.ndarray, default: int) -> np.ndarray:
    """Majority label of each cell; an empty or tied cell gets the rule's default."""
    return np.where(mal > ben, 1, np.where(ben > mal, 0, default))


def _loo_fit(cells: np.ndarray, y: np.ndarray, size: int) -> tuple[float, int]:
    """Leave-one-out accuracy of the lookup rule on ``cells`` and its better default, in closed form.

    The default (the label of values not seen in training, and of tied ones) is part of the
    rule: "a source port seen before ⇒ Benign, a new one ⇒ Malicious" is a one-field rule. It
    is chosen here, on training rows only; in leave-one-out a value seen once becomes unseen,
    so the choice is tested the way a held-out row in an unseen cell will be.
    """
    mal, ben = _fit(cells, y, size)
    mal_wo, ben_wo = mal[cells] - y, ben[cells] - (1 - y)
    best = (-1.0, 0)
    for default in (1, 0):  # Malicious first: on a tie the costlier class to miss
        accuracy = float((_vote(mal_wo, ben_wo, default) == y).mean())
        best = max(best, (accuracy, default), key=lambda t: t[0])
    return best


def _rule_predictions(cells: np.ndarray, size: int, y: np.ndarray, train: np.ndarray, test: np.ndarray) -> np.ndarray:
    _, default = _loo_fit(cells[train], y[train], size)
    mal, ben = _fit(cells[train], y[train], size)
    return _vote(mal, ben, default)[cells[test]]


def _distances(flows: Sequence[LabeledFlow]) -> np.ndarray:
    """Pairwise k-NN distances: |log1p a − log1p b| per magnitude, a penalty per one-sided gap, 1 per other mismatch."""
    n = len(flows)
    d = np.zeros((n, n))
    for name in NUMERIC_FIELDS:
        raw = [getattr(f.flow, name) for f in flows]
        missing = np.array([v is None for v in raw])
        x = np.array([0.0 if v is None else math.log1p(v) for v in raw])
        both = ~missing[:, None] & ~missing[None, :]
        one_sided = np.where(missing[:, None] == missing[None, :], 0.0, MISSING_PENALTY)
        d += np.where(both, np.abs(x[:, None] - x[None, :]), one_sided)
    for name in CATEGORICAL_FIELDS:
        c = _codes([getattr(f.flow, name) for f in flows])
        d += c[:, None] != c[None, :]
    return d


def _knn_predictions(dist: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray) -> np.ndarray:
    sub = dist[np.ix_(test, train)]
    nearest = np.argsort(sub, axis=1, kind="stable")[:, :K_NEIGHBOURS]  # ties: the earlier row, as in the data
    k = nearest.shape[1]
    return (2 * y[train][nearest].sum(axis=1) > k).astype(np.int64)


def _paired_gap(a: np.ndarray, b: np.ndarray) -> dict:
    """Mean of a − b per row (in accuracy points) with a 95% normal interval over the paired differences."""
    diff = a.astype(float) - b.astype(float)
    n = len(diff)
    mean = float(diff.mean())
    se = float(diff.std(ddof=1)) / math.sqrt(n) if n > 1 else float("inf")
    lo, hi = mean - Z95 * se, mean + Z95 * se
    return {"points": round(100 * mean, 1), "ci95": [round(100 * lo, 1), round(100 * hi, 1)]}


def shortcut_audit(flows: Sequence[LabeledFlow], seed: int | str = 0) -> dict:
    """Cross-validated accuracy, with 95% intervals, of the best one- and two-field rules beside k-NN."""
    labels = Counter(f.label for f in flows)
    if len(labels) < 2:
        return {"applicable": False, "reason": "single-class data: no rule or classifier can be measured"}
    folds = min(MAX_FOLDS, min(labels.values()))
    if folds < 2:
        return {"applicable": False, "reason": f"too few rows of one class to cross-validate ({dict(labels)})"}
    y = np.array([f.label == "Malicious" for f in flows], dtype=np.int64)
    n = len(y)
    fold = stratified_folds(y, folds, random.Random(f"e1-audit:{seed}"))

    field_cells = {name: _codes([_bucket(name, getattr(f.flow, name)) for f in flows]) for name in QUESTION_FIELDS}
    candidates: dict[tuple[str, ...], tuple[np.ndarray, int]] = {
        (name,): (c, int(c.max()) + 1) for name, c in field_cells.items()}
    for a, b in combinations(QUESTION_FIELDS, 2):
        pair = _codes(list(zip(field_cells[a].tolist(), field_cells[b].tolist())))
        candidates[(a, b)] = (pair, int(pair.max()) + 1)

    dist = _distances(flows)
    per_field_pred = {name: np.empty(n, dtype=np.int64) for name in QUESTION_FIELDS}
    chosen_pred = {1: np.empty(n, dtype=np.int64), 2: np.empty(n, dtype=np.int64)}
    chosen: dict[int, Counter] = {1: Counter(), 2: Counter()}
    knn_pred = np.empty(n, dtype=np.int64)
    for k in range(folds):
        train, test = np.flatnonzero(fold != k), np.flatnonzero(fold == k)
        for name in QUESTION_FIELDS:
            cells, size = candidates[(name,)]
            per_field_pred[name][test] = _rule_predictions(cells, size, y, train, test)
        for width in (1, 2):
            # Choose on the training fold alone (leave-one-out), then score on the held-out fold.
            scored = {key: _loo_fit(candidates[key][0][train], y[train], candidates[key][1])
                      for key in candidates if len(key) == width}
            best = max(scored, key=lambda key: scored[key][0])
            chosen[width][(best, scored[best][1])] += 1
            cells, size = candidates[best]
            chosen_pred[width][test] = _rule_predictions(cells, size, y, train, test)
        knn_pred[test] = _knn_predictions(dist, y, train, test)

    def most_chosen(width: int) -> dict:
        order = {key: i for i, key in enumerate(candidates)}  # ties: the earlier field, for determinism
        fields, default = min(chosen[width], key=lambda c: (-chosen[width][c], order[c[0]], c[1]))
        return {"field" if width == 1 else "fields": fields[0] if width == 1 else list(fields),
                "otherwise": LABELS[default], "chosen_in_folds": chosen[width][(fields, default)]}
    correct = {1: chosen_pred[1] == y, 2: chosen_pred[2] == y}
    knn_correct = knn_pred == y
    better = 2 if correct[2].sum() >= correct[1].sum() else 1
    per_field = {}
    for name in QUESTION_FIELDS:
        per_field[name] = _figure(per_field_pred[name] == y)
        missing = np.array([getattr(f.flow, name) is None for f in flows], dtype=np.int64)
        per_field[f"{name} missing ⇒ Malicious"] = _figure(missing == y)
    return {
        "applicable": True,
        "method": (f"{folds}-fold stratified cross-validation over all {n} rows; 95% Wilson intervals; rules chosen "
                   "inside each training fold by leave-one-out accuracy"),
        "rows": n,
        "folds": folds,
        "best_single_field_rule": {**most_chosen(1), **_figure(correct[1])},
        "best_two_field_rule": {**most_chosen(2), **_figure(correct[2])},
        "classifier": {"name": CLASSIFIER, **_figure(knn_correct)},
        "classifier_minus_best_rule": {"rule": "best_two_field_rule" if better == 2 else "best_single_field_rule",
                                       **_paired_gap(knn_correct, correct[better])},
        "per_field": per_field,
    }


def rate_measured(label: str) -> str:
    """What a file holding only ``label`` rows can measure."""
    return "false-positive rate" if label == "Benign" else "detection rate"


def one_class_purpose(label: str, count: int) -> str:
    """Why a one-class file or split is an evaluation set and not a task."""
    other = "Malicious" if label == "Benign" else "Benign"
    return (f"holds {count} {label} rows and no {other} ones, so answering {label} every time would earn the maximum "
            f"reward: it is an evaluation set for the {rate_measured(label)}, not a rewarded task")


def _rule_name(rule: dict) -> str:
    fields = rule.get("fields") or [rule["field"]]
    return (f"{'two' if len(fields) == 2 else 'one'}-field rule on {' × '.join(fields)} "
            f"(values unseen in training ⇒ {rule['otherwise']})")


def shortcut_notes(name: str, audit: dict) -> list[str]:
    """``SHORTCUT`` when a rule comes within ``SHORTCUT_MARGIN`` of the classifier; a caution when size cannot tell."""
    if not audit.get("applicable"):
        return []
    clf = audit["classifier"]["accuracy"]
    notes = []
    for rule in (audit["best_single_field_rule"], audit["best_two_field_rule"]):
        if rule["accuracy"] >= clf - SHORTCUT_MARGIN:
            notes.append(f"{name}: SHORTCUT: the {_rule_name(rule)} scores {rule['accuracy']:.1%} (95% CI "
                         f"{rule['ci95'][0]:.1%}–{rule['ci95'][1]:.1%}), within {100 * SHORTCUT_MARGIN:.0f} points of "
                         f"the classifier's {clf:.1%} or above it")
    gap = audit["classifier_minus_best_rule"]
    if not notes and gap["ci95"][0] < 100 * SHORTCUT_MARGIN:
        notes.append(f"{name}: the classifier's lead over the best rule ({gap['points']:+.1f} points, 95% CI "
                     f"{gap['ci95'][0]:+.1f} to {gap['ci95'][1]:+.1f}) is not resolved at {audit['rows']} rows")
    return notes
