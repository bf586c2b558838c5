"""What both generations of E1's verifiers environment are built from: the rows, and OpenSOC's rubric on an answer."""

from __future__ import annotations

import random
from dataclasses import dataclass

from ...incidents.prompting import completion_text
from .loading import DatasetSource, episode_rows, load_e1_dataset
from .scoring import E1Score, ParseFailure, score_compat, score_default, strict_parse

SCORINGS = ("default", "compat")


@dataclass(frozen=True)
class E1Rows:
    """The rows a verifiers environment is built from, in the order ``seed`` shuffles them."""

    train: list[dict]  # {"question", "answer", "info"}, the ``split`` asked for
    evaluation: list[dict]  # dev and test beside a train split; the split itself otherwise
    split: str
    tier: str


def e1_rows(dataset_name: str | None, dataset_source: DatasetSource, max_examples: int | None, split: str | None,
            seed: int, scoring: str) -> E1Rows:
    """Load, check and shuffle the E1 rows both API generations serve."""
    if scoring not in SCORINGS:
        raise ValueError(f"unknown scoring {str(scoring)[:32]!r}; expected one of: {', '.join(SCORINGS)}")
    data = load_e1_dataset(dataset_name, dataset_source, seed=seed)
    splits = {r["meta"].get("split") for r in data.rows}
    train_split = split or ("train" if "train" in splits else "ood")
    if train_split not in splits:
        raise ValueError(f"unknown split {train_split!r}: {data.name} ({data.tier} tier) has {sorted(splits)}")
    episode_rows(data, train_split)  # refuses a one-class split: a constant answer would earn its maximum
    eval_splits = {"dev", "test"} if train_split == "train" else {train_split}

    def rows(keep: set[str]) -> list[dict]:
        picked = [{"question": r["question"], "answer": r["answer"], "info": r["meta"]}
                  for r in data.rows if r["meta"].get("split") in keep]
        random.Random(f"e1-verifiers:{seed}").shuffle(picked)
        return picked[:max_examples] if max_examples is not None else picked

    return E1Rows(rows({train_split}), rows(eval_splits), train_split, data.tier)


def score_completion(completion: object, answer: str, scoring: str) -> E1Score:
    """OpenSOC's rubric on a model's final answer (a string or a message list)."""
    text = completion_text(completion)
    return score_compat(text, answer) if scoring == "compat" else score_default(text, answer)


def parse_label(text: str) -> str | None:
    """The label OpenSOC's strict parser reads from the final answer, or None."""
    try:
        return strict_parse(text)[0]
    except ParseFailure:
        return None
