"""Whether an attacker's craft can be adjudicated, and so whether it may pay: the gate in front of the attacker's reward.

A craft is *sound* when three independent checks agree that the verdict on it is trustworthy:

1. plausibility (``verifier.check_plausibility``): the events lie inside the world the verdict models;
2. no contest (``suspicion.unexplained_hits``): Sigma rules written apart from the verdict rules see nothing that no
   verdict or context rule covers;
3. the claim (``target_label``) matches the verdict: an attacker that meant an attack the verdict calls benign has
   found a blind spot, not a defender's mistake.

Only a sound craft is played to a defender in ``self_play``, can pay the attacker, and can enter a replay pool. An
unsound one is logged with both sides (the verdict and what contested it) so the rules can be improved.
"""

from __future__ import annotations

import json
import logging

from pydantic import Field

from ..schema import IncidentParams, StrictModel
from ..verifier import (
    GroundTruth,
    PlausibilityReport,
    Window,
    check_plausibility,
    compute_ground_truth,
    label_agrees,
)
from .contest import SuspicionHit, unexplained_hits

log = logging.getLogger("opensoc.adjudication")


class Adjudication(StrictModel):
    """The verdict on a craft and the three checks that decide whether it can be trusted."""

    truth: GroundTruth
    plausibility: PlausibilityReport
    contested_by: list[SuspicionHit] = Field(
        description="Suspicion hits no verdict or context rule explains; any makes the verdict contested.")
    label_agrees: bool = Field(description="Whether target_label matches the verdict.")

    @property
    def outcome(self) -> str | None:
        """Why the craft cannot pay (``implausible``, ``contested``, ``mislabelled``), or None when it is sound."""
        if not self.plausibility.ok:
            return "implausible"
        if self.contested_by:
            return "contested"
        if not self.label_agrees:
            return "mislabelled"
        return None

    @property
    def sound(self) -> bool:
        return self.outcome is None


def adjudicate(params: IncidentParams) -> Adjudication:
    """Verdict, plausibility, contest and claim of one craft, from one normalisation of its events."""
    window = Window(params)
    truth = compute_ground_truth(params, window)
    plausibility = check_plausibility(params, window=window)
    contested: list[SuspicionHit] = []
    if plausibility.ok:  # an implausible craft is refused whatever else is true of it
        covered = {log_id for firing in truth.rules_fired for log_id in firing.log_ids}
        contested = unexplained_hits(window.events, covered)
    result = Adjudication(truth=truth, plausibility=plausibility, contested_by=contested,
                          label_agrees=label_agrees(params.target_label, truth))
    if result.outcome in ("contested", "mislabelled"):
        log.info("unsound craft (%s): %s", result.outcome, json.dumps({
            "verdict": truth.action, "deciding_rules": truth.deciding_rule_ids, "target_label": params.target_label,
            "category": params.category, "contested_by": [h.model_dump() for h in contested],
            "events": params.model_dump(mode="json", include={"events"})["events"]}, separators=(",", ":")))
    return result
