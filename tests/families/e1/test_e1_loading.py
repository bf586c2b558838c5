"""Tiered E1 loading: local, hub (real `datasets` code on local files), synthetic; every tier announced."""

from __future__ import annotations

import json
import logging

import pytest

from opensoc.families.e1.builder import CIC_FILE, IOT23_FILE
from opensoc.families.e1.loading import (
    DATASETS,
    E1DataError,
    UnknownDatasetError,
    load_e1_dataset,
    load_task_dataset,
    synthetic_rows,
)
from opensoc.families.e1.synthetic import BENIGN_FAMILIES, MALICIOUS_FAMILIES


@pytest.fixture(autouse=True)
def _no_ambient_config(monkeypatch, tmp_path):
    monkeypatch.delenv("E1_HF_REPO", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("E1_DATA_DIR", str(tmp_path / "empty-data-dir"))
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))


def _write(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_local_tier(tmp_path, caplog):
    rows = synthetic_rows(IOT23_FILE, 40, seed=3)
    _write(tmp_path / "data" / IOT23_FILE, rows)
    with caplog.at_level(logging.INFO, "opensoc.families.e1"):
        ds = load_e1_dataset(IOT23_FILE, "local", data_dir=tmp_path / "data")
    assert ds.tier == "local" and len(ds.rows) == 40
    assert all(r["meta"]["tier"] == "local" for r in ds.rows)
    assert [r["question"] for r in ds.rows] == [r["question"] for r in rows]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_auto_without_a_name_falls_back_to_synthetic_loudly(caplog):
    with caplog.at_level(logging.WARNING, "opensoc.families.e1"):
        ds = load_e1_dataset(dataset_source="auto", max_examples=25)
    assert ds.tier == "synthetic" and len(ds.rows) == 25
    (record,) = [r for r in caplog.records if "SYNTHETIC" in r.getMessage()]
    assert record.levelno == logging.WARNING
    assert "no local file" in record.getMessage() and "E1_HF_REPO is not set" in record.getMessage()
    assert all(r["meta"]["tier"] == "synthetic" and "E1_HF_REPO" in r["meta"]["tier_reason"] for r in ds.rows)


def test_local_only_refuses_to_fall_back():
    with pytest.raises(E1DataError, match="no local file"):
        load_e1_dataset(IOT23_FILE, "local")


def test_hub_tier_reads_through_datasets(tmp_path, monkeypatch, caplog):
    rows = synthetic_rows(IOT23_FILE, 30, seed=5)
    for r in rows[:10]:
        r["answer"] = 1 if r["answer"] == "Malicious" else 0  # ClassLabel-style integers, as some exports store them
    repo = tmp_path / "hub-repo"
    _write(repo / IOT23_FILE, rows)
    monkeypatch.setenv("E1_HF_REPO", str(repo))
    with caplog.at_level(logging.WARNING, "opensoc.families.e1"):
        ds = load_e1_dataset(IOT23_FILE, "auto")
    assert ds.tier == "hub" and ds.origin == str(repo) and len(ds.rows) == 30
    assert {r["answer"] for r in ds.rows} == {"Benign", "Malicious"}
    assert any("HUB" in r.getMessage() for r in caplog.records)
    assert ds.rows[0]["meta"]["split"] == rows[0]["meta"]["split"] and ds.rows[0]["meta"]["tier"] == "hub"


def test_hub_failure_is_reported_then_synthetic(tmp_path, monkeypatch):
    monkeypatch.setenv("E1_HF_REPO", str(tmp_path / "no-such-repo"))
    ds = load_e1_dataset()
    assert ds.tier == "synthetic" and "hub: could not load" in ds.reason
    with pytest.raises(E1DataError, match="asked for by name.*could not load"):
        load_e1_dataset(IOT23_FILE, "auto")
    with pytest.raises(E1DataError, match="could not load"):
        load_e1_dataset(IOT23_FILE, "hub")


def test_hub_needs_a_repo():
    with pytest.raises(E1DataError, match="E1_HF_REPO is not set"):
        load_e1_dataset(IOT23_FILE, "hub")


def test_unknown_source():
    with pytest.raises(ValueError, match="expected one of: auto, local, hub, synthetic"):
        load_e1_dataset(IOT23_FILE, "s3")


@pytest.mark.parametrize("source", ["auto", "local", "synthetic"])
@pytest.mark.parametrize("name", ["e1_iot23", "iot23-train-dev-test-v2.jsonl", "nope"])
def test_an_unknown_name_is_an_error_that_lists_the_datasets(name, source):
    with pytest.raises(UnknownDatasetError) as caught:
        load_e1_dataset(name, source)
    assert caught.value.expected == list(DATASETS) and all(d in str(caught.value) for d in DATASETS)
    if name == "e1_iot23":
        assert f"its dataset is {IOT23_FILE!r}" in str(caught.value)


def test_a_dataset_asked_for_by_name_never_becomes_synthetic(caplog):
    with pytest.raises(E1DataError, match="asked for by name.*no local file.*E1_HF_REPO is not set"):
        load_e1_dataset(IOT23_FILE)
    with pytest.raises(E1DataError, match="asked for by name"):
        load_e1_dataset(dataset_name=CIC_FILE, dataset_source="auto")
    explicit = load_e1_dataset(IOT23_FILE, "synthetic", max_examples=5)  # asked for: the stand-in, and it says so
    assert explicit.tier == "synthetic" and all(r["meta"]["tier"] == "synthetic" for r in explicit.rows)


def test_a_file_path_is_a_name_that_exists(tmp_path):
    path = _write(tmp_path / "elsewhere" / "my-flows.jsonl", synthetic_rows(IOT23_FILE, 12, seed=8))
    ds = load_e1_dataset(str(path))
    assert ds.tier == "local" and ds.origin == str(path) and len(ds.rows) == 12
    with pytest.raises(E1DataError, match="synthetic tier imitates"):
        load_e1_dataset(str(path), "synthetic")


def test_the_service_tasks_stand_in_only_under_auto(caplog):
    with caplog.at_level(logging.WARNING, "opensoc.families.e1"):
        ds = load_task_dataset(CIC_FILE, "auto")
    assert ds.tier == "synthetic" and any("SYNTHETIC" in r.getMessage() for r in caplog.records)
    assert all(r["meta"]["tier"] == "synthetic" and r["meta"]["tier_reason"] for r in ds.rows)
    with pytest.raises(E1DataError, match="no local file"):
        load_task_dataset(CIC_FILE, "local")


def test_synthetic_tier_is_seeded_balanced_and_free_of_giveaways():
    a, b = synthetic_rows(IOT23_FILE, 600, seed=1), synthetic_rows(IOT23_FILE, 600, seed=1)
    assert a == b and a != synthetic_rows(IOT23_FILE, 600, seed=2)
    assert sum(r["answer"] == "Malicious" for r in a) == 300
    splits = [r["meta"]["split"] for r in a]
    assert (splits.count("train"), splits.count("dev"), splits.count("test")) == (420, 90, 90)
    # Family names of the malicious side and label words; protocol names (dns, http, ...) are real field values.
    words = [*MALICIOUS_FAMILIES, "malware", "attack", "malicious", "benign", "c2", "flood"]
    assert not set(BENIGN_FAMILIES) & set(MALICIOUS_FAMILIES)
    for r in a:
        body = r["question"].split("):", 1)[1].split("Is this flow")[0].lower()
        assert not any(w in body for w in words), r["question"]
        assert r["meta"]["source"] == "synthetic"
