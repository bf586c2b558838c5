"""What a single-turn evaluation policy is: a batch of (observation, item) pairs in, one completion per pair out."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..models import Observation

Pair = tuple[Observation, dict]
TRIAGE, E1, ANY = ("triage",), ("e1",), ("triage", "e1")


class Policy:
    name = "policy"
    plays: tuple[str, ...] = TRIAGE  # the task families it answers

    def complete(self, obs: Observation, item: dict) -> str:
        raise NotImplementedError

    def complete_batch(self, pairs: Sequence[Pair], progress=None) -> list[str | None]:
        out = []
        for obs, item in pairs:
            out.append(self.complete(obs, item))
            if progress is not None:
                progress.update(1)
        return out


class FunctionPolicy(Policy):
    """A policy whose answer is ``fn(observation, item)``."""

    def __init__(self, name: str, plays: tuple[str, ...], fn: Callable[[Observation, dict], str]):
        self.name, self.plays, self._fn = name, plays, fn

    def complete(self, obs: Observation, item: dict) -> str:
        return self._fn(obs, item)
