"""Tiered loading of E1 datasets: local files, then the Hugging Face Hub, then the synthetic tier.

Nothing falls back silently, and nothing falls back for a name the caller gave:

- a dataset name must be one of ``DATASETS`` (the files ``opensoc data build-e1`` writes) or the path of an
  existing file; anything else is an ``UnknownDatasetError`` that lists what exists. A source must be one of
  ``DATASET_SOURCES``.
- a tier is chosen only under ``dataset_source="auto"``, and the synthetic tier stands in only where no name was
  given (``load_e1_dataset()`` with its default, or the service's own tasks through ``load_task_dataset``): a
  dataset asked for by name is that dataset or an ``E1DataError`` saying where it was looked for.
- the tier used and why are logged at WARNING level when it is not the local file, and written into every row's
  ``meta.tier`` and ``meta.tier_reason``.

- ``local``: ``dataset_name`` as a path, or under ``data_dir`` (``$E1_DATA_DIR``, default
  ``~/.cache/opensoc/e1``), where ``opensoc data build-e1 --out`` puts it.
- ``hub``: ``datasets.load_dataset($E1_HF_REPO, data_files=dataset_name)`` with ``$HF_TOKEN``
  when set. ``E1_HF_REPO`` may also name a local dataset folder.
- ``synthetic``: seeded flows from ``e1.synthetic``; the offline default of the service.
- ``auto``: local, then hub (when ``E1_HF_REPO`` is set), then synthetic.

A split whose loaded rows hold one class only (the CIC-IDS-2017 samples have no attack rows)
is an evaluation set, not a task: answering that class every time would earn the maximum.
``load_e1_dataset`` logs it at WARNING level and lists it in ``E1Dataset.evaluation_only``;
``episode_rows`` refuses it unless asked for as ``<split>:eval`` (what ``opensoc eval``
does). The decision is made from the rows actually loaded, so a build with both classes is
an ordinary task again.
"""

from __future__ import annotations

import json
import logging
import os
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .audit import one_class_purpose
from .builder import CIC_FILE, IOT23_FILE, UNSW_FILE, assign_splits, to_row
from .synthetic import synthetic_flows

log = logging.getLogger("opensoc.e1")

DatasetSource = Literal["auto", "local", "hub", "synthetic"]
DATASET_SOURCES = ("auto", "local", "hub", "synthetic")
SYNTHETIC_ROWS = 600
EVALUATION_SUFFIX = ":eval"  # "ood:eval": the ood rows, drawn to be measured rather than trained on


DATASETS = (IOT23_FILE, CIC_FILE, UNSW_FILE)  # what `opensoc data build-e1` writes, and what the synthetic tier imitates
DATASET_TASKS = {"e1_iot23": IOT23_FILE, "e1_cic_ood": CIC_FILE, "e1_unsw_ood": UNSW_FILE}  # task name -> its file


class E1DataError(RuntimeError):
    """The requested tier cannot provide the dataset; the message says what was tried."""


class UnknownDatasetError(ValueError):
    """A dataset name that names no E1 dataset and no file; ``expected`` lists the names that exist."""

    def __init__(self, name: object):
        hint = f" ({name!r} is a task; its dataset is {DATASET_TASKS[name]!r})" if name in DATASET_TASKS else ""
        super().__init__(f"unknown E1 dataset {str(name)[:200]!r}{hint}; expected one of: {', '.join(DATASETS)}, "
                         "or the path of an E1 JSONL file")
        self.expected = list(DATASETS)


class E1SplitError(ValueError):
    """A split an episode cannot be drawn from; ``expected`` lists the splits it can."""

    def __init__(self, message: str, expected: list[str]):
        super().__init__(message)
        self.expected = expected


@dataclass(frozen=True)
class E1Dataset:
    name: str
    rows: tuple[dict, ...]
    tier: str
    origin: str
    reason: str
    evaluation_only: dict[str, str] = field(default_factory=dict)  # split -> why it is not a task


def _one_class_splits(name: str, tier: str, rows: tuple[dict, ...]) -> dict[str, str]:
    by_split: dict[str, Counter] = {}
    for r in rows:
        by_split.setdefault(r["meta"].get("split"), Counter())[r["answer"]] += 1
    out = {}
    for split, labels in sorted(by_split.items(), key=lambda kv: str(kv[0])):
        if len(labels) == 1:
            (label, count), = labels.items()
            out[split] = f"split {split!r} of the {tier} {name} {one_class_purpose(label, count)}"
    return out


def episode_rows(dataset: E1Dataset, split: str) -> list[dict]:
    """The rows an episode on ``split`` is drawn from; a one-class split only as ``<split>:eval``."""
    base = split.removesuffix(EVALUATION_SUFFIX)
    rows = [r for r in dataset.rows if r["meta"].get("split") == base]
    tasks = sorted({str(r["meta"].get("split")) for r in dataset.rows} - set(dataset.evaluation_only))
    if not rows:
        raise E1SplitError(f"the {dataset.tier} {dataset.name} has no {base!r} rows", expected=tasks)
    if base in dataset.evaluation_only and split == base:
        raise E1SplitError(f"{dataset.evaluation_only[base]}; reset with split {base + EVALUATION_SUFFIX!r} to measure "
                           "it (as `opensoc eval` does)", expected=[base + EVALUATION_SUFFIX] + tasks)
    return rows


def default_data_dir() -> Path:
    return Path(os.environ.get("E1_DATA_DIR") or Path.home() / ".cache" / "opensoc" / "e1")


def _local(name: str, data_dir: Path) -> Path | None:
    for candidate in (Path(name), data_dir / name):
        if candidate.is_file():
            return candidate
    return None


def _read_jsonl(path: Path) -> list[dict]:
    rows = []
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if line.strip():
                row = json.loads(line)
                if not isinstance(row, dict) or "question" not in row or "answer" not in row:
                    raise E1DataError(f"{path}:{lineno}: not an E1 row ({{question, answer, meta}})")
                rows.append(row)
    return rows


def _hub(name: str) -> tuple[list[dict], str]:
    repo = os.environ.get("E1_HF_REPO")
    if not repo:
        raise E1DataError("E1_HF_REPO is not set")
    try:
        import datasets  # optional heavy dependency (datasets): pip install 'opensoc[hub]'
    except ImportError:
        raise E1DataError("the 'datasets' package is not installed (pip install 'opensoc[hub]')") from None
    try:
        ds = datasets.load_dataset(repo, data_files=name, split="train", token=os.environ.get("HF_TOKEN") or None)
    except Exception as exc:  # noqa: BLE001 - any hub failure is reported, and auto moves to the next tier
        raise E1DataError(f"could not load {name} from {repo}: {type(exc).__name__}: {exc}") from None
    rows = []
    for r in ds:
        answer = r["answer"]
        if isinstance(answer, (bool, int)):  # Hub exports may store the label as a ClassLabel integer
            answer = "Malicious" if int(answer) == 1 else "Benign"
        rows.append({"question": r["question"], "answer": answer, "meta": dict(r.get("meta") or {})})
    return rows, repo


def synthetic_rows(name: str, n: int = SYNTHETIC_ROWS, seed: int = 0) -> list[dict]:
    """Rows shaped like ``name``'s: train/dev/test splits for the IoT-23 file, 'ood' for the others."""

    flows = synthetic_flows(n, seed)
    splits = assign_splits(flows, random.Random(f"e1-synthetic-splits:{seed}")) if name == IOT23_FILE else ["ood"] * n
    return [to_row(f, s) for f, s in zip(flows, splits)]


def load_e1_dataset(dataset_name: str | None = None, dataset_source: DatasetSource = "auto",
                    max_examples: int | None = None, data_dir: Path | None = None, seed: int = 0) -> E1Dataset:
    """The dataset ``dataset_name`` (default: the IoT-23 file) from the requested tier.

    ``auto`` tries local, then the hub; only without a ``dataset_name`` does it end on the synthetic tier.
    """
    name = IOT23_FILE if dataset_name is None else dataset_name
    return _load(name, dataset_source, max_examples, data_dir, seed, stand_in=dataset_name is None)


def load_task_dataset(dataset_file: str, dataset_source: DatasetSource = "auto") -> E1Dataset:
    """An E1 task's own dataset (a name from the task registry, not the user), with the synthetic stand-in under
    ``auto`` when the real file is on neither tier: the service's offline default, announced like any tier."""
    return _load(dataset_file, dataset_source, None, None, 0, stand_in=True)


def _check_name(name: str, source: str, data_dir: Path) -> None:
    """Refuse a name no tier can have; a repository on the hub may hold files of other names, and answers itself."""
    if name in DATASETS or _local(name, data_dir) is not None:
        return
    if source in ("auto", "hub") and os.environ.get("E1_HF_REPO"):
        return
    raise UnknownDatasetError(name)


def _load(dataset_name: str, dataset_source: str, max_examples: int | None, data_dir: Path | None, seed: int,
          stand_in: bool) -> E1Dataset:
    if dataset_source not in DATASET_SOURCES:
        raise ValueError(f"unknown dataset_source {str(dataset_source)[:64]!r}; expected one of: "
                         f"{', '.join(DATASET_SOURCES)}")
    data_dir = data_dir or default_data_dir()
    _check_name(dataset_name, dataset_source, data_dir)
    if dataset_source == "synthetic" and dataset_name not in DATASETS:
        raise E1DataError(f"the synthetic tier imitates {', '.join(DATASETS)}; {dataset_name!r} is a file of its own: "
                          "load it with dataset_source='local'")
    tried: list[str] = []
    rows, tier, origin = None, "", ""
    if dataset_source in ("auto", "local"):
        path = _local(dataset_name, data_dir)
        if path is not None:
            rows, tier, origin = _read_jsonl(path), "local", str(path)
        else:
            tried.append(f"no local file {dataset_name} (looked in . and {data_dir})")
            if dataset_source == "local":
                raise E1DataError("; ".join(tried))
    if rows is None and dataset_source in ("auto", "hub"):
        if dataset_source == "auto" and not os.environ.get("E1_HF_REPO"):
            tried.append("hub skipped: E1_HF_REPO is not set")
        else:
            try:
                rows, origin = _hub(dataset_name)
                tier = "hub"
            except E1DataError as exc:
                tried.append(f"hub: {exc}")
                if dataset_source == "hub":
                    raise E1DataError("; ".join(tried)) from None
    if rows is None and not stand_in and dataset_source != "synthetic":
        raise E1DataError(f"E1 dataset {dataset_name!r} was asked for by name and is on no tier: {'; '.join(tried)}. "
                          "Build it with `opensoc data build-e1 --out DIR` (then E1_DATA_DIR=DIR), or ask for "
                          "dataset_source='synthetic' to use the synthetic stand-in")
    if rows is None:
        rows, tier, origin = synthetic_rows(dataset_name, max(max_examples or 0, SYNTHETIC_ROWS), seed), "synthetic", f"seed={seed}"
    reason = "; ".join(tried) if tried else f"requested {dataset_source}"
    if tier != "local":
        log.warning("E1 dataset %s: using the %s tier (%s) because %s", dataset_name, tier.upper(), origin, reason)
    else:
        log.info("E1 dataset %s: local file %s", dataset_name, origin)
    if max_examples is not None:
        rows = rows[:max_examples]
    stamped = tuple({**r, "meta": {**(r.get("meta") or {}), "tier": tier, "tier_reason": reason}} for r in rows)
    evaluation_only = _one_class_splits(dataset_name, tier, stamped)
    for why in evaluation_only.values():
        log.warning("E1 dataset %s: %s", dataset_name, why)
    return E1Dataset(dataset_name, stamped, tier, origin, reason, evaluation_only)
