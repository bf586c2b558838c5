"""E1 for ``verifiers``: ``load_environment(...)`` in either generation of its API.

- verifiers 0.4 and later (``verifiers.v1``): an ``E1Taskset`` (``e1.verifiers_v1``), one ``E1Task`` per flow, scored
  by OpenSOC's rubric as a ``@vf.reward`` on the trace's final reply.
- verifiers below 0.4 (the legacy API, 0.1.9 to 0.3.x): a ``SingleTurnEnv`` with the split's rows as ``dataset``
  and the dev/test rows as ``eval_dataset``.

``pip install 'opensoc[verifiers]'`` brings the current release. Unlike Security Verifiers' loader, both honour
``split`` and ``seed``, state their data tier in every row, and reject unknown arguments instead of ignoring them.
A split holding one class only is refused as a training set (``E1SplitError``, a ``ValueError``), and a dataset
asked for by name is never replaced by the synthetic tier (``e1.loading``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ...incidents.prompting import completion_text
from .loading import DatasetSource, episode_rows, load_e1_dataset
from .scoring import SYSTEM_PROMPT, E1Score, ParseFailure, score_compat, score_default, strict_parse

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


def legacy_api() -> bool:
    """Whether the installed verifiers is the legacy generation (its root exports ``SingleTurnEnv``)."""
    import verifiers

    return hasattr(verifiers, "SingleTurnEnv")


def load_environment(dataset_name: str | None = None, dataset_source: DatasetSource = "auto",
                     max_examples: int | None = None, split: str | None = None, seed: int = 0,
                     scoring: str = "default"):
    """E1 over the installed verifiers: a ``SingleTurnEnv`` (below 0.4) or an ``E1Taskset`` (0.4 and later).

    ``dataset_name`` defaults to the IoT-23 file, which under ``dataset_source="auto"`` may be stood in for by the
    synthetic tier (announced in the log and every row); a name given is loaded as asked or refused.
    """
    if not legacy_api():
        from .verifiers_v1 import E1Taskset, E1TasksetConfig

        # A taskset loads when iterated; checking the arguments now makes a wrong one fail here, as in the legacy API.
        e1_rows(dataset_name, dataset_source, max_examples, split, seed, scoring)
        return E1Taskset(E1TasksetConfig(dataset_name=dataset_name, dataset_source=dataset_source,
                                         max_examples=max_examples, split=split, seed=seed, scoring=scoring))
    import verifiers as vf
    from datasets import Dataset

    rows = e1_rows(dataset_name, dataset_source, max_examples, split, seed, scoring)

    class E1Parser(vf.Parser):
        """Reads the label from the final answer with OpenSOC's strict parser."""

        def parse(self, text: str) -> str | None:
            return parse_label(text)

    def e1_reward(completion, answer, **kwargs) -> float:
        return score_completion(completion, answer, scoring).reward

    def e1_correct(completion, answer, **kwargs) -> float:
        return float(score_completion(completion, answer, scoring).correct)

    parser = E1Parser()
    rubric = vf.Rubric(funcs=[e1_reward, e1_correct], weights=[1.0, 0.0], parser=parser)
    return vf.SingleTurnEnv(dataset=Dataset.from_list(rows.train), eval_dataset=Dataset.from_list(rows.evaluation),
                            system_prompt=SYSTEM_PROMPT, parser=parser, rubric=rubric)
