"""The E1 builder: determinism, dedup, no padding, shortcut audit, CLI; outputs go to tmp folders only."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from opensoc.e1.builder import CIC_FILE, IOT23_FILE, MANIFEST_FILE, UNSW_FILE, build_e1, dedup
from opensoc.e1.synthetic import synthetic_flows


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
    unsw = manifest["files"][UNSW_FILE]
    assert unsw["rows"] < 600 and unsw["unmatched_fill"] == 0
    assert len((out / UNSW_FILE).read_text().splitlines()) == unsw["rows"]


def test_shortcut_audit(built):
    _, manifest = built
    for name in (IOT23_FILE, UNSW_FILE):
        audit = manifest["files"][name]["shortcut_audit"]
        # The missingness rule that solves Security Verifiers' data 91% of the time is at chance here.
        assert max(v for k, v in audit["per_field"].items() if "missing" in k) < 0.6, name
        # ... and no single field comes near a classifier that uses them all.
        assert audit["best_single_field_rule"]["accuracy"] <= audit["knn_classifier_accuracy"] - 0.08, name
    assert not any("SHORTCUT" in n for n in manifest["notes"])
    assert manifest["files"][IOT23_FILE]["rows"] < 1800  # the samples hold few port-matched pairs: reported, not padded
    assert any(n.startswith(IOT23_FILE) and "surface-matched pairs" in n for n in manifest["notes"])


def test_without_port_matching_the_port_shortcut_is_flagged(unmatched_ports):
    _, manifest = unmatched_ports
    audit = manifest["files"][IOT23_FILE]["shortcut_audit"]
    assert audit["best_single_field_rule"]["field"] == "resp_port" and audit["best_single_field_rule"]["accuracy"] > 0.9
    assert audit["per_field"]["duration missing ⇒ Malicious"] < 0.6
    assert any(n.startswith(f"{IOT23_FILE}: SHORTCUT") for n in manifest["notes"])


def test_dedup_keeps_first():
    from opensoc.e1.flows import content_hash

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
    assert "| iot23-train-dev-test-v1.jsonl | 68 | 34 | 34 |" in proc.stdout
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
def test_readme_audit_figures_match_a_build(request, variant, suffix):
    import re

    from conftest import REPO

    _, manifest = request.getfixturevalue(variant)
    readme = (REPO / "README.md").read_text()
    for name in (IOT23_FILE, UNSW_FILE):
        row = next(line for line in readme.splitlines() if line.startswith(f"| {name}{suffix} |"))
        info = manifest["files"][name]
        audit = info["shortcut_audit"]
        best = audit["best_single_field_rule"]
        assert f"{info['rows']:,} ({info['by_label']['Benign']} / {info['by_label']['Malicious']})" in row
        assert f"{audit['per_field']['duration missing ⇒ Malicious']:.1%}" in row
        assert f"{best['field']} {best['accuracy']:.1%}" in row
        assert re.search(rf"\| {audit['knn_classifier_accuracy']:.1%} \|$", row)
