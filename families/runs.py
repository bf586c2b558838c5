"""What a run of attacker episodes shares: the ways to win already credited, the replay pool, and its outcomes.

A run is the unit novelty and replay are scoped to: the service keeps one per ``run_id``, an in-process
``OpenSOCEnv`` one per instance. Only sound crafts (``adjudication``) enter the pool, filed under their verdict, so
``generate`` can draw a replay for the gold action it drew first.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import MutableSet
from dataclasses import dataclass, field

from ..rubric import AttackerScore
from ..schema import TRIAGE_ACTIONS, IncidentParams

REPLAY_POOL_SIZE = 512  # sound crafts kept per run, shared equally among the verdict actions


def _pool_by_action() -> dict[str, deque[IncidentParams]]:
    return {a: deque(maxlen=REPLAY_POOL_SIZE // len(TRIAGE_ACTIONS)) for a in TRIAGE_ACTIONS}


@dataclass
class AttackerRun:
    """The ways to win already credited (at most ``MAX_NOVELTY_PER_RUN``), the stage-4 replay pool of sound crafts
    by verdict, and a count of craft outcomes."""

    seen_signatures: MutableSet[str] = field(default_factory=set)
    replay_pool: dict[str, deque[IncidentParams]] = field(default_factory=_pool_by_action)
    outcomes: Counter = field(default_factory=Counter)

    def record(self, params: IncidentParams | None, score: AttackerScore, verdict: str | None) -> None:
        self.outcomes[score.outcome] += 1
        if score.novel and score.signature is not None:
            self.seen_signatures.add(score.signature)
        if params is not None and score.outcome in ("evaded", "caught") and verdict is not None:
            self.replay_pool[verdict].append(params)

    def pool(self) -> dict[str, tuple[IncidentParams, ...]]:
        """A snapshot of the replay pool for ``generate``: verdict action -> sound crafts with that verdict."""
        return {a: tuple(crafts) for a, crafts in self.replay_pool.items() if crafts}
