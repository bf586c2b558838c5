"""E1 as a ``verifiers`` environment: ``load_environment(...)`` returns a ``SingleTurnEnv``.

Requires the optional extra (``pip install 'opensoc[verifiers]'``; verifiers ``>=0.1.9,<0.4``,
whose legacy ``SingleTurnEnv``/``Rubric``/``Parser`` API this uses). Unlike Security
Verifiers' loader it honours ``split`` and ``seed``, gives the dev/test rows as the eval
dataset, states its data tier, and rejects unknown arguments instead of ignoring them. A
split holding one class only is refused as a training set (``E1SplitError``, a ``ValueError``).
"""

from __future__ import annotations

import random

from .builder import IOT23_FILE
from ..prompting import completion_text
from .loading import DatasetSource, episode_rows, load_e1_dataset
from .scoring import SYSTEM_PROMPT, ParseFailure, score_compat, score_default, strict_parse


def load_environment(dataset_name: str = IOT23_FILE, dataset_source: DatasetSource = "auto",
                     max_examples: int | None = None, split: str | None = None, seed: int = 0,
                     scoring: str = "default"):
    """A verifiers ``SingleTurnEnv`` over the E1 dataset, scored by OpenSOC's rubric (or ``scoring="compat"``)."""
    import verifiers as vf
    from datasets import Dataset

    if scoring not in ("default", "compat"):
        raise ValueError(f"scoring {scoring!r}; expected default or compat")
    data = load_e1_dataset(dataset_name, dataset_source, seed=seed)
    splits = {r["meta"].get("split") for r in data.rows}
    train_split = split or ("train" if "train" in splits else "ood")
    if train_split not in splits:
        raise ValueError(f"split {train_split!r} is not in {dataset_name} ({data.tier} tier); it has {sorted(splits)}")
    episode_rows(data, train_split)  # refuses a one-class split: a constant answer would earn its maximum
    eval_splits = {"dev", "test"} if train_split == "train" else {train_split}

    def rows(keep: set[str]) -> list[dict]:
        picked = [{"question": r["question"], "answer": r["answer"], "info": r["meta"]}
                  for r in data.rows if r["meta"].get("split") in keep]
        random.Random(f"e1-verifiers:{seed}").shuffle(picked)
        return picked[:max_examples] if max_examples is not None else picked

    class E1Parser(vf.Parser):
        """Reads the label from the final answer with OpenSOC's strict parser."""

        def parse(self, text: str) -> str | None:
            try:
                return strict_parse(text)[0]
            except ParseFailure:
                return None

    def e1_reward(completion, answer, **kwargs) -> float:
        text = completion_text(completion)
        return (score_compat(text, answer) if scoring == "compat" else score_default(text, answer)).reward

    def e1_correct(completion, answer, **kwargs) -> float:
        text = completion_text(completion)
        return float((score_compat(text, answer) if scoring == "compat" else score_default(text, answer)).correct)

    parser = E1Parser()
    rubric = vf.Rubric(funcs=[e1_reward, e1_correct], weights=[1.0, 0.0], parser=parser)
    return vf.SingleTurnEnv(dataset=Dataset.from_list(rows({train_split})), eval_dataset=Dataset.from_list(rows(eval_splits)),
                            system_prompt=SYSTEM_PROMPT, parser=parser, rubric=rubric)
