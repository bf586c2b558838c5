"""Whether an attacker's craft can be adjudicated, and so whether it may pay: the gate in front of the attacker's reward.

A craft is *sound* when three independent checks agree that the verdict on it is trustworthy:

1. admission (``admission.check_plausibility``): every value of every event is read and the events lie inside the
   world the verdict models, each one explained by a verdict rule or an ordinary activity of the world;
2. no contest (``contest``): rules written apart from the verdict see nothing the verdict does not answer for.
   OpenSOC's own indicators (``rules/opensoc.yml``, over the normalised events, aggregates included) contest a hit
   whose events no verdict or context rule covers; the SigmaHQ community rules (``sigmahq``, over the raw field
   values, sharing none of the verifier's parsing) contest a high or critical hit on an event when the verdict is
   dismiss or monitor, unless a rule that covers that event answers for the hit's ATT&CK technique: a verdict rule
   that fired on it names the same technique (the two agree on what the event is, and the verdict already weighs
   it), or a context rule of the world covers it whose look-alikes include that technique (``CONTEXT_TECHNIQUES``:
   the management agent's context answers for nothing, so a shadow-copy deletion run under it is contested);
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
from ..verifier import RULES_BY_ID, VERDICT_RULES, GroundTruth, Window, compute_ground_truth, explain, label_agrees
from .admission import PlausibilityReport, check_plausibility
from .contest import SuspicionHit, community_hits, unexplained_hits

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


def _base(technique: str) -> str:
    return technique.split(".", 1)[0]


# context rule -> the base ATT&CK techniques of the attack rules that name it as their exception and of its own
# ``excuses``: the look-alikes of attacks it explains, and the only independent hits it answers for on the events it
# covers ("*": any). A hit of another technique on those events contests the verdict, context or not.
CONTEXT_TECHNIQUES: dict[str, frozenset[str]] = {
    context.rule_id: frozenset(_base(t) for rule in VERDICT_RULES if context.rule_id in rule.exceptions
                               for t in rule.technique_ids) | frozenset(_base(t) for t in context.excuses)
    for context in VERDICT_RULES if not context.malicious
}


def contest(window: Window, truth: GroundTruth) -> list[SuspicionHit]:
    """The independent rules' hits the verdict does not answer for (see the module's docstring)."""
    covered = {log_id for firing in truth.rules_fired for log_id in firing.log_ids}
    hits = unexplained_hits(window.events, covered)
    if truth.action in ("dismiss", "monitor"):
        named: dict[str, set[str]] = {}  # log id -> base techniques the rules that cover it answer for
        for firing in truth.rules_fired:
            for log_id in firing.log_ids:
                named.setdefault(log_id, set()).update(_base(t) for t in RULES_BY_ID[firing.rule_id].technique_ids)
        for x in explain(window):
            for context in x.contexts:
                named.setdefault(x.log_id, set()).update(CONTEXT_TECHNIQUES[context])

        def answered(hit: SuspicionHit, log_id: str) -> bool:
            techniques = named.get(log_id, set())
            return "*" in techniques or bool(techniques & {_base(t) for t in hit.techniques})

        hits += [h for h in community_hits(window.params.events) if not all(answered(h, i) for i in h.log_ids)]
    return hits


def adjudicate(params: IncidentParams) -> Adjudication:
    """Verdict, plausibility, contest and claim of one craft, from one normalisation of its events."""
    window = Window(params)
    truth = compute_ground_truth(params, window)
    plausibility = check_plausibility(params, window=window)
    contested: list[SuspicionHit] = []
    if plausibility.ok:  # an implausible craft is refused whatever else is true of it
        contested = contest(window, truth)
    result = Adjudication(truth=truth, plausibility=plausibility, contested_by=contested,
                          label_agrees=label_agrees(params.target_label, truth))
    if result.outcome in ("contested", "mislabelled"):
        log.info("unsound craft (%s): %s", result.outcome, json.dumps({
            "verdict": truth.action, "deciding_rules": truth.deciding_rule_ids, "target_label": params.target_label,
            "category": params.category, "contested_by": [h.model_dump() for h in contested],
            "events": params.model_dump(mode="json", include={"events"})["events"]}, separators=(",", ":")))
    return result
