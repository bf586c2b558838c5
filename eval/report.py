"""Write one run's outputs into a folder: results.json, table.md, records.jsonl and PNG plots."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..schema import TRIAGE_ACTIONS  # noqa: E402
from .metrics import INVALID  # noqa: E402


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x:.1%}"


def _num(x: float | None) -> str:
    return "–" if x is None else f"{x:+.3f}"


def _per_task(results: dict, second: str, cell) -> list[str]:
    """One row per policy, one ``accuracy / <second>`` cell per task."""
    tasks = list(next(iter(results.values()))["by_task"])
    lines = ["", "| policy | " + " | ".join(f"{t} accuracy / {second}" for t in tasks) + " |", "|---|" + "---|" * len(tasks)]
    for name, r in results.items():
        lines.append(f"| {name} | " + " | ".join(cell(r["by_task"][t]) for t in tasks) + " |")
    return lines


def markdown_table(results: dict) -> str:
    """The per-policy headline table (and, for triage, one row per policy and stage)."""
    kind = next(iter(results.values()))["kind"]
    lines = []
    if kind == "soc":
        lines += ["| policy | accuracy | macro-F1 | dismiss-on-malicious | over-reaction | citation | format violations | mean reward |",
                  "|---|---|---|---|---|---|---|---|"]
        for name, r in results.items():
            m = r["overall"]
            lines.append(f"| {name} | {_pct(m['accuracy'])} | {_pct(m['macro_f1'])} | {_pct(m['dismiss_on_malicious_rate'])} | "
                         f"{_pct(m['over_reaction_rate'])} | {_pct(m['citation_accuracy'])} | {_pct(m['format_violation_rate'])} | "
                         f"{_num(m['mean_reward'])} |")
        lines += _per_task(results, "reward", lambda m: f"{_pct(m['accuracy'])} / {_num(m['mean_reward'])}")
    elif kind == "investigation":
        lines += ["| policy | accuracy | dismiss-on-malicious | over-reaction | citation | evidence recall | tool calls | mean reward |",
                  "|---|---|---|---|---|---|---|---|"]
        for name, r in results.items():
            m = r["overall"]
            lines.append(f"| {name} | {_pct(m['accuracy'])} | {_pct(m['dismiss_on_malicious_rate'])} | "
                         f"{_pct(m['over_reaction_rate'])} | {_pct(m['citation_accuracy'])} | {_pct(m['evidence_recall'])} | "
                         f"{m['calls_used']:.1f} | {_num(m['mean_reward'])} |")
        lines += _per_task(results, "evidence recall", lambda m: f"{_pct(m['accuracy'])} / {_pct(m['evidence_recall'])}")
    else:
        lines += ["| policy | TPR | FPR | FNR | F1 | abstain | ECE | Brier | AURC | expected cost | format violations | mean reward |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for name, r in results.items():
            m = r["overall"]
            cal = m["calibration"]
            lines.append(f"| {name} | {_pct(m['tpr'])} | {_pct(m['fpr'])} | {_pct(m['fnr'])} | {_pct(m['f1'])} | "
                         f"{_pct(m['abstain_rate'])} | {_num(cal['ece'])} | {_num(cal['brier'])} | {_num(m['aurc'])} | "
                         f"{m['expected_cost']:.3f} | {_pct(m['format_violation_rate'])} | {_num(m['mean_reward'])} |")
    return "\n".join(lines) + "\n"


def _legend_below(ax, entries: int) -> None:
    """The legend under the axes, never over a bar: grouped bars fill the plot from edge to edge."""
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=min(entries, 4), frameon=False)


def _save(fig, ax, title: str, path: Path) -> None:
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _confusion_plot(name: str, metrics: dict, path: Path) -> None:
    cols = [*TRIAGE_ACTIONS, INVALID]
    rows = [g for g in TRIAGE_ACTIONS if g in metrics["confusion"]]
    grid = np.array([[metrics["confusion"][g].get(p, 0) for p in cols] for g in rows])
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.imshow(grid, cmap="Blues")
    ax.set_xticks(range(len(cols)), cols, rotation=30, ha="right")
    ax.set_yticks(range(len(rows)), rows)
    for i in range(len(rows)):
        for j in range(len(cols)):
            ax.text(j, i, str(int(grid[i, j])), ha="center", va="center", color="white" if grid[i, j] > grid.max() / 2 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold (verifier)")
    _save(fig, ax, f"Confusion matrix: {name}", path)


def _headline_plot(results: dict, path: Path) -> None:
    names = list(results)
    x = np.arange(len(names))
    dom = [results[n]["overall"]["dismiss_on_malicious_rate"] or 0.0 for n in names]
    f1 = [results[n]["overall"]["macro_f1"] or 0.0 for n in names]
    fig, ax = plt.subplots(figsize=(1.6 * len(names) + 2.5, 3.8))
    ax.bar(x - 0.2, dom, 0.4, label="dismiss-on-malicious (lower is better)", color="#c0392b")
    ax.bar(x + 0.2, f1, 0.4, label="macro-F1 (higher is better)", color="#2e86c1")
    ax.set_xticks(x, names, rotation=15)
    ax.set_ylim(0, 1.3)
    ax.legend(loc="upper center", ncol=2, fontsize=8, frameon=False)
    _save(fig, ax, "Hold-out headline", path)


def _by_task_bars(results: dict, metric: str, title: str, ylabel: str, path: Path, ylim: tuple | None = None) -> None:
    """One group of bars per task, one bar per policy, of ``by_task[task][metric]``; a zero line when the metric can
    be negative (no ``ylim``)."""
    names = list(results)
    tasks = list(next(iter(results.values()))["by_task"])
    x = np.arange(len(tasks))
    width = 0.8 / len(names)
    fig, ax = plt.subplots(figsize=(2.2 * len(tasks) + 2, 3.8 + 0.25 * -(-len(names) // 4)))
    for i, n in enumerate(names):
        ax.bar(x + (i - (len(names) - 1) / 2) * width, [results[n]["by_task"][t][metric] or 0.0 for t in tasks],
               width, label=n)
    if ylim is None:
        ax.axhline(0, color="black", linewidth=0.6)
    ax.set_xticks(x, tasks)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set_ylabel(ylabel)
    _legend_below(ax, len(names))
    _save(fig, ax, title, path)


def _e1_plot(results: dict, path: Path) -> None:
    names = list(results)
    keys = [("tpr", "TPR"), ("fpr", "FPR"), ("abstain_rate", "abstain"), ("f1", "F1")]
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(1.6 * len(names) + 2.5, 3.8))
    for i, (k, label) in enumerate(keys):
        ax.bar(x + (i - 1.5) * 0.2, [results[n]["overall"][k] or 0.0 for n in names], 0.2, label=label)
    ax.set_xticks(x, names, rotation=15)
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=8)
    _save(fig, ax, "E1 detection", path)


def write_run(out: Path, split: str, results: dict, records: dict[str, list[dict]]) -> list[Path]:
    """Write a run's files; returns the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "results.json", out / "table.md", out / "records.jsonl"]
    # Policies keep the order they were run in: tables and charts read left to right as the command lists them.
    (out / "results.json").write_text(json.dumps({"split": split, "policies": results}, indent=2) + "\n")
    (out / "table.md").write_text(markdown_table(results))
    with (out / "records.jsonl").open("w") as f:
        for name, rows in records.items():
            for r in rows:
                f.write(json.dumps({"policy": name, **r}, sort_keys=True) + "\n")
    kind = next(iter(results.values()))["kind"]
    if kind in ("soc", "investigation"):
        for name, r in results.items():
            path = out / f"confusion_{name.replace(':', '_').replace('/', '_')}.png"
            _confusion_plot(name, r["overall"], path)
            written.append(path)
        _headline_plot(results, out / "headline.png")
        _by_task_bars(results, "mean_reward", "Reward per task", "mean reward", out / "reward_by_stage.png")
        written += [out / "headline.png", out / "reward_by_stage.png"]
        if kind == "investigation":
            _by_task_bars(results, "evidence_recall", "Evidence recall per task", "share of triggering events seen",
                          out / "evidence_recall.png", ylim=(0, 1.15))
            written.append(out / "evidence_recall.png")
    else:
        _e1_plot(results, out / "e1_detection.png")
        written.append(out / "e1_detection.png")
    return written
