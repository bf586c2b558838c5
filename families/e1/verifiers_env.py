"""E1 for ``verifiers``: ``load_environment(...)`` in either generation of its API.

- verifiers 0.4 and later (``verifiers.v1``): an ``E1Taskset`` (``verifiers_v1``), one ``E1Task`` per flow, scored
  by OpenSOC's rubric as a ``@vf.reward`` on the trace's final reply.
- verifiers below 0.4 (the legacy API, 0.1.9 to 0.3.x): a ``SingleTurnEnv`` with the split's rows as ``dataset``
  and the dev/test rows as ``eval_dataset``.

``pip install 'opensoc[verifiers]'`` brings the current release. Unlike Security Verifiers' loader, both honour
``split`` and ``seed``, state their data tier in every row, and reject unknown arguments instead of ignoring them.
A split holding one class only is refused as a training set (``E1SplitError``, a ``ValueError``), and a dataset
asked for by name is never replaced by the synthetic tier (``e1.loading``).
"""

from __future__ import annotations

from .loading import DatasetSource
from .scoring import SYSTEM_PROMPT
from .verifiers_rows import e1_rows, parse_label, score_completion


def legacy_api() -> bool:
    """Whether the installed verifiers is the legacy generation (its root exports ``SingleTurnEnv``)."""
    import verifiers  # optional heavy dependency: the verifiers extra

    return hasattr(verifiers, "SingleTurnEnv")


def load_environment(dataset_name: str | None = None, dataset_source: DatasetSource = "auto",
                     max_examples: int | None = None, split: str | None = None, seed: int = 0,
                     scoring: str = "default"):
    """E1 over the installed verifiers: a ``SingleTurnEnv`` (below 0.4) or an ``E1Taskset`` (0.4 and later).

    ``dataset_name`` defaults to the IoT-23 file, which under ``dataset_source="auto"`` may be stood in for by the
    synthetic tier (announced in the log and every row); a name given is loaded as asked or refused.
    """
    if not legacy_api():
        from .verifiers_v1 import (  # optional heavy dependency: verifiers 0.4's v1 API
            E1Taskset,
            E1TasksetConfig,
        )

        # A taskset loads when iterated; checking the arguments now makes a wrong one fail here, as in the legacy API.
        e1_rows(dataset_name, dataset_source, max_examples, split, seed, scoring)
        return E1Taskset(E1TasksetConfig(dataset_name=dataset_name, dataset_source=dataset_source,
                                         max_examples=max_examples, split=split, seed=seed, scoring=scoring))
    import verifiers as vf  # optional heavy dependency: the verifiers extra
    from datasets import Dataset  # optional heavy dependency: the verifiers extra

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
