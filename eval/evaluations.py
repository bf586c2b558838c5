"""How each task family is evaluated: its splits, its items and answer keys, how a policy plays them, its metrics.

``EVALUATIONS`` holds one ``Evaluation`` per evaluated family; ``runner`` picks the one a split or a task belongs
to. Single-turn families (triage, E1) play through ``play.play_single_turn`` with their own reader of a completion
and their own record; investigations play multi-turn through ``investigate``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..families.e1.family import e1_dataset, e1_source
from ..families.e1.loading import EVALUATION_SUFFIX
from ..families.e1.tasks import E1_TASKS
from ..incidents.prompting import triage_action, triage_answer
from ..models import Observation
from ..tasks.frozen import load_holdout, load_investigation_holdout
from .investigate import (
    INVESTIGATION_POLICIES,
    LLMInvestigator,
    run_investigations,
    summarize_investigations,
)
from .metrics import by_task, e1_metrics, soc_metrics
from .play import play_single_turn
from .policies import BUILTIN, make_policy
from .policy import Policy


@dataclass(frozen=True)
class Evaluation:
    """One family's evaluation. ``kind`` names its results' shape (``soc``, ``investigation``, ``e1``); ``policies``
    are the built-in policies that play it (``llm`` and, single-turn, ``hf`` besides)."""

    family: str
    kind: str
    splits: Callable[[], list[str]]
    items: Callable[[str], list[dict]]
    run: Callable[[Any, Sequence[dict], str | None, bool], list[dict]]
    summarize: Callable[[Sequence[dict]], dict]
    policies: Callable[[], list[str]]
    extra_policies: tuple[str, ...]
    make: Callable[..., Any]  # (name, **llm_args) -> the policy


# ------------------------------------------------------------------------------- triage


def _triage_record(item: dict, final: Observation, text: str | None) -> dict:
    d = final.rewards.defender  # type: ignore[attr-defined]
    return {"id": item["id"], "task": item["task"], "stage": item.get("stage"), "seed": item["seed"],
            "gold": d.gold_action, "predicted": d.predicted_action, "cited_log_id": d.cited_log_id,
            "citation_correct": d.citation_correct, "reward": d.reward, "outcome": d.outcome,
            "confidence": _confidence(text), "completion": text}


def _confidence(text: str | None) -> float | None:
    obj = triage_answer(text)
    c = obj.get("confidence") if obj is not None else None
    return float(c) if isinstance(c, (int, float)) and not isinstance(c, bool) and 0 <= c <= 1 else None


def _triage_run(policy: Policy, items: Sequence[dict], url: str | None, show_progress: bool) -> list[dict]:
    return play_single_turn(policy, items, lambda item: {"task": item["task"], "seed": item["seed"],
                                                         "mode": "defender_only"},
                            triage_action, _triage_record, url, show_progress)


def _soc_summary(records: Sequence[dict]) -> dict:
    return {"kind": "soc", "overall": soc_metrics(records), "by_task": by_task(records, soc_metrics)}


# ----------------------------------------------------------------------------------- E1


def _e1_splits() -> list[str]:
    return [f"{task}:{part}" for task, spec in E1_TASKS.items() for part in spec.splits]


def _e1_items(split: str) -> list[dict]:
    task, part = split.split(":", 1)
    spec = E1_TASKS[task]
    rows = [r for r in e1_dataset(spec.dataset_file, e1_source()).rows if r["meta"].get("split") == part]
    if not rows:
        raise ValueError(f"{spec.dataset_file} has no {part!r} rows")
    return [{"id": f"{task}:{part}:{i}", "task": task, "split": part, "seed": i, "answer": r["answer"]}
            for i, r in enumerate(rows)]


def _e1_record(item: dict, final: Observation, text: str | None) -> dict:
    e1, verdict = final.rewards.e1, final.flow_verdict  # type: ignore[attr-defined]
    return {"id": item["id"], "task": item["task"], "split": item["split"], "answer": verdict.answer,
            "predicted": e1.predicted, "confidence": e1.confidence, "reward": e1.reward, "correct": e1.correct,
            "reason": e1.reason, "completion": text}


def _e1_run(policy: Policy, items: Sequence[dict], url: str | None, show_progress: bool) -> list[dict]:
    # Evaluation episodes say so: the service serves a one-class split (a false-positive-rate set) only this way.
    return play_single_turn(policy, items, lambda item: {"task": item["task"], "seed": item["seed"],
                                                         "mode": "defender_only",
                                                         "split": item["split"] + EVALUATION_SUFFIX},
                            lambda text: {"classify_flow": text or ""}, _e1_record, url, show_progress)


def _e1_summary(records: Sequence[dict]) -> dict:
    return {"kind": "e1", "overall": e1_metrics(records), "by_task": by_task(records, e1_metrics)}


def _single_turn(family: str) -> Callable[[], list[str]]:
    return lambda: [name for name, p in BUILTIN.items() if family in p.plays]


def _make_investigator(name: str, **llm_args: Any) -> Any:
    if name == "llm":
        return LLMInvestigator(**{k: v for k, v in llm_args.items() if k in LLMInvestigator.__dataclass_fields__})
    return INVESTIGATION_POLICIES[name]


EVALUATIONS: dict[str, Evaluation] = {e.family: e for e in (
    Evaluation("triage", "soc", lambda: ["holdout"], lambda split: load_holdout(), _triage_run, _soc_summary,
               _single_turn("triage"), ("llm", "hf"), make_policy),
    Evaluation("investigation", "investigation", lambda: ["investigation"], lambda split: load_investigation_holdout(),
               lambda policy, items, url, show: run_investigations(policy, items, url, show), summarize_investigations,
               lambda: list(INVESTIGATION_POLICIES), ("llm",), _make_investigator),
    Evaluation("e1", "e1", _e1_splits, _e1_items, _e1_run, _e1_summary, _single_turn("e1"), ("llm", "hf"), make_policy),
)}
