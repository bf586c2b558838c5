"""Run a policy over an evaluation split, in-process or against a running server, with one scoring path.

``load_items(split)`` reads a split's examples (with their answer keys, which only oracles read); ``run_policy``
plays each as a real episode through the evaluation of the family the split belongs to (``evaluations``), after
checking that the policy plays that family; ``summarize`` computes that family's metrics. Nothing here knows any
family: a split, a task or a record leads to its evaluation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..families.registry import family_for
from .evaluations import EVALUATIONS, Evaluation

__all__ = ["evaluation_for_split", "evaluation_for_task", "load_items", "make_policy_for", "policy_names",
           "request_failures", "run_policy", "split_names", "summarize"]


def split_names() -> list[str]:
    """Every split ``opensoc eval`` measures."""
    return [s for e in EVALUATIONS.values() for s in e.splits()]


def evaluation_for_split(split: str) -> Evaluation:
    for evaluation in EVALUATIONS.values():
        if split in evaluation.splits():
            return evaluation
    raise ValueError(f"unknown split {split!r}; expected one of: {', '.join(split_names())}")


def evaluation_for_task(task: str) -> Evaluation:
    family = family_for(task)
    evaluation = EVALUATIONS.get(family.name) if family is not None else None
    if evaluation is None:
        raise ValueError(f"task {task!r} has no evaluation; the evaluated splits are: {', '.join(split_names())}")
    return evaluation


def policy_names(split: str) -> list[str]:
    """The policies that can play ``split``: its family's built-in ones, then ``llm`` (and ``hf``)."""
    evaluation = evaluation_for_split(split)
    return [*evaluation.policies(), *evaluation.extra_policies]


def make_policy_for(split: str, name: str, **llm_args: Any) -> Any:
    """The policy ``name`` for ``split`` (``llm`` and ``hf`` configured by ``llm_args``); a name that does not play
    the split is refused, naming the ones that do."""
    names = policy_names(split)
    if name not in names:
        raise ValueError(f"policy {name!r} does not play split {split!r}; expected one of: {', '.join(names)}")
    return evaluation_for_split(split).make(name, **llm_args)


def load_items(split: str = "holdout", tasks: Sequence[str] | None = None, limit: int | None = None) -> list[dict]:
    """Examples of ``split`` (``holdout``, ``investigation``, ``<e1 task>:<split>``), only those of ``tasks`` when
    given, and at most ``limit`` of each task (so every task stays represented)."""
    items = evaluation_for_split(split).items(split)
    if tasks:
        unknown = sorted(set(tasks) - {i["task"] for i in items})
        if unknown:
            raise ValueError(f"task {unknown[0]!r} is not in split {split!r}; it holds "
                             + ", ".join(sorted({i['task'] for i in items})))
        items = [i for i in items if i["task"] in tasks]
    if limit is not None:
        kept: dict[str, int] = {}
        out = []
        for i in items:
            if kept.get(i["task"], 0) < limit:
                kept[i["task"]] = kept.get(i["task"], 0) + 1
                out.append(i)
        items = out
    return items


def run_policy(policy: Any, items: Sequence[dict], url: str | None = None, show_progress: bool = True) -> list[dict]:
    """Per-example records of ``policy`` on ``items`` (all of one split); a policy that does not play the split's
    family is refused before any episode starts."""
    if not items:
        return []
    evaluation = evaluation_for_task(items[0]["task"])
    plays = getattr(policy, "plays", ())
    if evaluation.family not in plays:
        name = getattr(policy, "name", str(policy))
        raise ValueError(f"policy {name!r} does not play {evaluation.family} episodes; the policies that do: "
                         f"{', '.join([*evaluation.policies(), *evaluation.extra_policies])}")
    return evaluation.run(policy, items, url, show_progress)


def request_failures(records: Sequence[dict]) -> list[dict]:
    """The records whose answer never came: the model endpoint failed, after its retries (``error`` says how)."""
    return [r for r in records if r.get("error")]


def summarize(records: Sequence[dict]) -> dict:
    """The metrics of one split's records, overall and by task, as their family's evaluation computes them."""
    if not records:
        raise ValueError("no records to summarize")
    return evaluation_for_task(records[0]["task"]).summarize(records)
