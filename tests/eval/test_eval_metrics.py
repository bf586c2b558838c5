"""Metric functions against hand-computed cases."""

from __future__ import annotations

import pytest

from opensoc.eval.metrics import aurc, calibration, e1_metrics, soc_metrics


def _r(gold, pred, reward=0.0, cite=False, conf=None, task="stage1_basic"):
    return {"task": task, "gold": gold, "predicted": pred, "reward": reward, "citation_correct": cite, "confidence": conf}


def test_soc_metrics_by_hand():
    records = [
        _r("dismiss", "dismiss", 1.0, True, 0.9),
        _r("dismiss", "quarantine_host", -0.3, False, 0.8),
        _r("escalate", "escalate", 1.1, True, 0.6),
        _r("escalate", "dismiss", -1.0, False, 0.7),
        _r("block_ip", None, -1.0),  # format violation
    ]
    m = soc_metrics(records)
    assert m["n"] == 5 and m["accuracy"] == pytest.approx(2 / 5)
    # dismiss: tp1 fp1 fn1 → P .5 R .5 F1 .5; escalate: tp1 fn1 → P 1 R .5 F1 2/3; block_ip: tp0 fn1 → F1 0
    assert m["per_class"]["dismiss"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert m["per_class"]["escalate"]["f1"] == pytest.approx(2 / 3, abs=1e-6)
    assert m["per_class"]["quarantine_host"] == {"precision": 0.0, "recall": None, "f1": 0.0, "support": 0}
    assert m["macro_f1"] == pytest.approx((0.5 + 2 / 3 + 0.0) / 3, abs=1e-6)
    assert m["dismiss_on_malicious_rate"] == pytest.approx(1 / 3, abs=1e-6)  # of 3 malicious, 1 dismissed
    assert m["over_reaction_rate"] == pytest.approx(0.5)
    assert m["citation_accuracy"] == pytest.approx(0.5)  # 2 of the 4 valid answers cite a triggering log
    assert m["format_violation_rate"] == pytest.approx(0.2)
    assert m["mean_reward"] == pytest.approx((1.0 - 0.3 + 1.1 - 1.0 - 1.0) / 5)
    assert m["confusion"]["block_ip"] == {"invalid": 1}
    assert m["calibration"]["n"] == 4
    # Brier: (.9-1)^2 + (.8-0)^2 + (.6-1)^2 + (.7-0)^2 = .01 + .64 + .16 + .49 = 1.30 → /4
    assert m["calibration"]["brier"] == pytest.approx(1.30 / 4)


def test_calibration_by_hand():
    pairs = [(0.95, True), (0.95, False), (0.15, False), (0.15, False)]
    c = calibration(pairs)
    # bin 9: conf .95, acc .5 → |.45|·.5 ; bin 1: conf .15, acc 0 → .15·.5
    assert c["ece"] == pytest.approx(0.45 * 0.5 + 0.15 * 0.5)
    assert c["brier"] == pytest.approx((0.0025 + 0.9025 + 0.0225 + 0.0225) / 4)
    assert calibration([])["ece"] is None
    assert calibration([(1.0, True)])["ece"] == 0.0  # 1.0 falls in the last, closed bin


def test_aurc_by_hand():
    # ranked by confidence: T, F, T → risks 0, 1/2, 1/3 → mean 5/18
    assert aurc([(0.9, True), (0.8, False), (0.1, True)]) == pytest.approx(5 / 18, abs=1e-6)
    assert aurc([]) is None


def test_e1_metrics_by_hand():
    def e(ans, pred, conf=1.0, reward=0.0):
        return {"task": "e1_iot23", "answer": ans, "predicted": pred, "confidence": conf, "reward": reward}

    records = [e("Malicious", "Malicious"), e("Malicious", "Benign"), e("Benign", "Benign"), e("Benign", "Malicious"),
               e("Benign", "Benign"), e("Malicious", "Abstain", 0.5), e("Malicious", None, None)]
    m = e1_metrics(records)
    assert m["confusion"] == {"tp": 1, "fn": 1, "fp": 1, "tn": 2, "abstain": 1, "invalid": 1}
    assert m["tpr"] == 0.5 and m["fnr"] == 0.5 and m["fpr"] == pytest.approx(1 / 3, abs=1e-6)
    assert m["precision"] == 0.5 and m["f1"] == 0.5
    assert m["abstain_rate"] == pytest.approx(1 / 6, abs=1e-6) and m["format_violation_rate"] == pytest.approx(1 / 7, abs=1e-6)
    # cost: FN 1 + the invalid answer on an attack (counted as missed) → 10·2; FP 1 → 1; over 7 rows
    assert m["expected_cost"] == pytest.approx(21 / 7)
    assert m["accuracy_decided"] == pytest.approx(3 / 5)
