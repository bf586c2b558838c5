"""The results committed with OpenSOC, and the one command that makes them: ``opensoc regenerate``.

The evaluation tables in docs/, the demo's Results tab (the evaluation plots and the CPU defender's curve, drawn from its
committed training log) and its baked before/after examples all read these files, so they are made by one function
from the same code and seeds, byte for byte: ``opensoc regenerate`` rewrites them in a source
checkout, ``opensoc regenerate --check`` rebuilds them in a scratch folder and names every file that differs.
Everyday evaluation writes elsewhere (``opensoc eval``'s working folder), so it can never overwrite them.
"""

from __future__ import annotations

import filecmp
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..eval.bake_demo import bake
from ..eval.report import write_run
from ..eval.runner import load_items, make_policy_for, run_policy, summarize
from ..train.cpu_defender import load_log, plot_curve

SOURCE_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class CommittedRun:
    """One committed evaluation: its folder under the checkout, the split, and the policies in table order."""

    folder: str
    split: str
    policies: tuple[str, ...]

    def command(self) -> str:
        """The ``opensoc eval`` command that writes the same files."""
        return f"opensoc eval --split {self.split} --policy {' '.join(self.policies)} --out {self.folder}"


COMMITTED_RUNS = (
    CommittedRun("docs/eval", "holdout", ("always_dismiss", "random", "heuristic", "analyst", "cpu_defender_untrained",
                                          "cpu_defender", "verifier_oracle")),
    CommittedRun("docs/eval_investigation", "investigation", ("always_dismiss", "scripted_investigator",
                                                              "investigation_oracle")),
)
DEMO_EXAMPLES = "data/demo_examples.json"
DEFENDER_LOG, DEFENDER_CURVE = "train/artifacts/cpu_defender_log.json", "train/artifacts/cpu_defender_curve.png"


def write_committed_run(run: CommittedRun, root: Path) -> list[Path]:
    """Evaluate ``run``'s policies in-process and write its folder under ``root``; returns the files written."""
    items = load_items(run.split)
    records = {name: run_policy(make_policy_for(run.split, name), items, show_progress=False) for name in run.policies}
    results = {name: summarize(rows) for name, rows in records.items()}
    return write_run(root / run.folder, run.split, results, records)


def write_demo_examples(root: Path) -> Path:
    """Bake the demo's before/after examples (heuristic, then the CPU-trained defender) under ``root``."""
    path = root / DEMO_EXAMPLES
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(bake(), indent=1, sort_keys=True) + "\n")
    return path


def write_defender_curve(root: Path) -> Path:
    """Redraw the CPU defender's training curve from its committed log (training itself is ``opensoc train cpu``)."""
    path = root / DEFENDER_CURVE
    path.parent.mkdir(parents=True, exist_ok=True)
    plot_curve(load_log(SOURCE_ROOT / DEFENDER_LOG), path)
    return path


def regenerate(root: Path) -> list[Path]:
    """Write every committed result under ``root``; returns the files written, relative to ``root``."""
    written = [p for run in COMMITTED_RUNS for p in write_committed_run(run, root)] + [write_demo_examples(root),
                                                                                       write_defender_curve(root)]
    return [p.relative_to(root) for p in written]


def drift(root: Path = SOURCE_ROOT) -> list[str]:
    """The committed files under ``root`` that differ from a fresh regeneration (missing ones included)."""
    with tempfile.TemporaryDirectory(prefix="opensoc-regenerate-") as scratch:
        fresh = Path(scratch)
        return [str(rel) for rel in regenerate(fresh)
                if not (root / rel).is_file() or not filecmp.cmp(fresh / rel, root / rel, shallow=False)]


def source_checkout() -> Path:
    """The OpenSOC source checkout this package runs from; an installed copy is refused (its files are not the
    repository's, and writing into site-packages would change what the next run serves)."""
    if not (SOURCE_ROOT / "pyproject.toml").is_file() or not (SOURCE_ROOT / ".git").exists():
        raise ValueError(f"{SOURCE_ROOT} is not an OpenSOC source checkout: run `opensoc regenerate` from an "
                         "editable install (pip install -e .) of a clone, or pass --into DIR")
    return SOURCE_ROOT
