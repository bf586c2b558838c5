"""The E1 builder: determinism, dedup, no padding, shortcut audit, CLI; outputs go to tmp folders only."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from opensoc.families.e1.builder import (
    CIC_FILE,
    IOT23_FILE,
    MANIFEST_FILE,
    UNSW_FILE,
    build_e1,
    dedup,
)
from opensoc.families.e1.synthetic import synthetic_flows

pytestmark = pytest.mark.slow  # building the datasets from the real samples, and the command line


def _inputs(d):
    u = d / "unsw_nb15"
    return dict(iot23=[d / "iot23"], unsw=[u / "UNSW-NB15_1.head3000.csv", u / "UNSW_NB15_testing-set.head4528.csv"],
                unsw_features=u / "NUSW-NB15_features.csv",
                cic=[d / "cic_ids_2017" / "Friday-WorkingHours-Afternoon-DDos.pcap_ISCX.head9998.csv"])


@pytest.fixture(scope="module")
def built(shared_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("e1")
    return out, build_e1(out=out, **_inputs(shared_data))


def test_build_is_byte_identical(shared_data, built, tmp_path):
    out, _ = built
    build_e1(out=tmp_path, **_inputs(shared_data))
    for name in (IOT23_FILE, CIC_FILE, UNSW_FILE, MANIFEST_FILE):
        assert (tmp_path / name).read_bytes() == (out / name).read_bytes(), name
    other = tmp_path / "seed7"
    build_e1(out=other, seed=7, **_inputs(shared_data))
    assert (other / IOT23_FILE).read_bytes() != (out / IOT23_FILE).read_bytes()


@pytest.fixture(scope="module")
def unmatched_ports(shared_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("e1-ports")
    return out, build_e1(out=out, match_ports=False, **_inputs(shared_data))


def test_rows_follow_the_interchange_schema(unmatched_ports):
    out, manifest = unmatched_ports
    rows = [json.loads(line) for line in (out / IOT23_FILE).read_text().splitlines()]
    assert len(rows) == 1800 and manifest["files"][IOT23_FILE]["by_label"] == {"Benign": 900, "Malicious": 900}
    assert manifest["files"][IOT23_FILE]["by_split"] == {"dev": 270, "test": 270, "train": 1260}
    for r in rows:
        assert set(r) == {"question", "answer", "meta"} and r["answer"] in ("Benign", "Malicious")
        assert set(r["meta"]) == {"source", "scenario", "attack_family", "hash", "split"}
        assert "label" not in r["question"].lower()
        assert r["meta"]["attack_family"] == "-" or r["meta"]["attack_family"] not in r["question"]
    hashes = [r["meta"]["hash"] for r in rows]
    assert len(set(hashes)) == len(hashes)  # deduplicated by content hash


def test_short_sources_are_reported_not_padded(built):
    out, manifest = built
    cic = manifest["files"][CIC_FILE]
    assert cic["by_label"] == {"Benign": 300} and cic["available_after_dedup"]["Malicious"] == 0
    assert any("0 of the 300 Malicious" in n for n in manifest["notes"])
    assert cic["shortcut_audit"] == {"applicable": False, "reason": cic["shortcut_audit"]["reason"]}
    assert cic["purpose"] == "evaluation: false-positive rate" and manifest["files"][UNSW_FILE]["purpose"] == "task"
    assert any(n.startswith(CIC_FILE) and "evaluation set for the false-positive rate" in n for n in manifest["notes"])
    unsw = manifest["files"][UNSW_FILE]
    assert unsw["rows"] < 600 and unsw["unmatched_fill"] == 0
    assert len((out / UNSW_FILE).read_text().splitlines()) == unsw["rows"]


def test_shortcut_audit(built):
    _, manifest = built
    for name in (IOT23_FILE, UNSW_FILE):
        info = manifest["files"][name]
        audit = info["shortcut_audit"]
        assert audit["rows"] == info["rows"] and audit["folds"] == 10  # every row, cross-validated
        for key in ("best_single_field_rule", "best_two_field_rule", "classifier"):
            lo, hi = audit[key]["ci95"]
            assert lo < audit[key]["accuracy"] < hi, (name, key)
        # The missingness rule that solves Security Verifiers' data 91% of the time is at chance here.
        for key, figure in audit["per_field"].items():
            if "missing" in key:
                assert figure["accuracy"] < 0.6 and figure["ci95"][0] < 0.5, (name, key)
    # UNSW: k-NN leads the best two-field rule by more than the flagging margin, and the interval says so.
    unsw = manifest["files"][UNSW_FILE]["shortcut_audit"]
    assert unsw["classifier_minus_best_rule"]["rule"] == "best_two_field_rule"
    assert unsw["classifier_minus_best_rule"]["ci95"][0] > 5
    # IoT-23: the port-matched sample is small, and a rule on the source port matches the classifier: benign
    # connections to port 80 reuse a few source ports, the attack flows mostly use fresh ones.
    iot = manifest["files"][IOT23_FILE]
    assert iot["rows"] < 1800 and any(n.startswith(IOT23_FILE) and "surface-matched pairs" in n for n in manifest["notes"])
    assert iot["shortcut_audit"]["best_single_field_rule"]["field"] == "orig_port"
    assert any(n.startswith(f"{IOT23_FILE}: SHORTCUT: the one-field rule on orig_port") for n in manifest["notes"])
    assert not any(n.startswith(f"{UNSW_FILE}: SHORTCUT") for n in manifest["notes"])


def test_without_port_matching_the_port_shortcut_is_flagged(unmatched_ports):
    _, manifest = unmatched_ports
    audit = manifest["files"][IOT23_FILE]["shortcut_audit"]
    assert audit["best_single_field_rule"]["field"] == "resp_port" and audit["best_single_field_rule"]["ci95"][0] > 0.95
    assert audit["per_field"]["duration missing ⇒ Malicious"]["accuracy"] < 0.6
    assert any(n.startswith(f"{IOT23_FILE}: SHORTCUT: the one-field rule on resp_port") for n in manifest["notes"])


def test_dedup_keeps_first():
    from opensoc.families.e1.flows import content_hash

    flows = synthetic_flows(50, 1)
    once, _ = dedup(flows)
    unique, dropped = dedup(flows + flows[:10])
    assert unique == once  # repeats add nothing, and the first occurrences keep their order
    assert dropped == 60 - len(unique)
    assert len({content_hash(f.flow) for f in unique}) == len(unique)


def test_cli(shared_data, tmp_path):
    i = _inputs(shared_data)
    cmd = [sys.executable, "-m", "opensoc.cli", "data", "build-e1", "--iot23", *map(str, i["iot23"]),
           "--unsw", *map(str, i["unsw"]), "--unsw-features", str(i["unsw_features"]), "--cic", *map(str, i["cic"]),
           "--out", str(tmp_path), "--seed", "42"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "| iot23-train-dev-test-v1.jsonl | 68 | 34 | 34 | orig_port " in proc.stdout
    assert "| cic-ids-2017-ood-v1.jsonl | 300 | 300 | 0 | n/a (evaluation: false-positive rate) |" in proc.stdout
    assert "not padded" in proc.stderr and "reading" in proc.stderr  # notes and the progress bar
    manifest = json.loads((tmp_path / MANIFEST_FILE).read_text())
    assert {i["kind"] for i in manifest["inputs"]} == {"iot23", "unsw", "cic"}
    assert all(len(i["sha256"]) == 64 for i in manifest["inputs"])


def test_cli_reports_bad_input(tmp_path):
    bad = tmp_path / "x" / "conn.log.labeled"
    bad.parent.mkdir()
    bad.write_text("1\t2\t3\n")
    proc = subprocess.run([sys.executable, "-m", "opensoc.cli", "data", "build-e1", "--iot23", str(bad.parent),
                           "--out", str(tmp_path / "o")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "data before the #fields header" in proc.stderr


@pytest.mark.parametrize(("variant", "suffix"), [("built", ""), ("unmatched_ports", ", `--no-match-ports`")])
def test_documented_audit_figures_match_a_build(request, variant, suffix):
    from support import REPO

    _, manifest = request.getfixturevalue(variant)
    readme = (REPO / "docs" / "e1.md").read_text()

    def shown(figure: dict) -> str:
        return f"{figure['accuracy']:.1%} ({figure['ci95'][0]:.1%}–{figure['ci95'][1]:.1%})"

    for name in (IOT23_FILE, UNSW_FILE):
        row = next(line for line in readme.splitlines() if line.startswith(f"| {name}{suffix} |"))
        info = manifest["files"][name]
        audit = info["shortcut_audit"]
        one, two, gap = audit["best_single_field_rule"], audit["best_two_field_rule"], audit["classifier_minus_best_rule"]
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[1] == f"{info['rows']:,} ({info['by_label']['Benign']} / {info['by_label']['Malicious']})"
        assert cells[2] == shown(audit["per_field"]["duration missing ⇒ Malicious"])
        assert cells[3] == f"{one['field']} {shown(one)}"
        assert cells[4] == f"{' × '.join(two['fields'])} {shown(two)}"
        assert cells[5] == shown(audit["classifier"])
        assert cells[6] == f"{gap['points']:+.1f} ({gap['ci95'][0]:+.1f} to {gap['ci95'][1]:+.1f})"
    cic = manifest["files"][CIC_FILE]
    assert f"| {CIC_FILE} | {cic['rows']:,} ({cic['by_label']['Benign']} / 0) | n/a: one class |" in readme


def test_the_real_cic_slice_is_served_for_evaluation_only(built, monkeypatch):
    from fastapi.testclient import TestClient

    from opensoc.app_runtime import create_app
    from opensoc.eval.policies import make_policy
    from opensoc.eval.runner import load_items, run_policy, summarize
    from opensoc.families.e1.family import e1_dataset

    out, manifest = built
    monkeypatch.setenv("E1_DATA_DIR", str(out))
    monkeypatch.delenv("E1_DATASET_SOURCE", raising=False)
    e1_dataset.cache_clear()
    try:
        client = TestClient(create_app())
        refused = client.post("/reset", json={"task": "e1_cic_ood"})
        assert refused.status_code == 422 and refused.json()["error"]["expected"] == ["ood:eval"]
        assert "300 Benign rows and no Malicious" in refused.json()["error"]["message"]
        assert client.post("/reset", json={"task": "e1_cic_ood", "split": "ood:eval"}).status_code == 200
        assert client.post("/reset", json={"task": "e1_unsw_ood"}).json()["observation"]["flow"]["tier"] == "local"
        records = run_policy(make_policy("always_malicious"), load_items("e1_cic_ood:ood", limit=40), show_progress=False)
        assert summarize(records)["overall"]["fpr"] == 1.0 and len(records) == 40
    finally:
        e1_dataset.cache_clear()
