"""Rewards for both roles, as tables in code.

Defender: ``score_triage(truth, triage)`` looks up the (gold, predicted) cell of
``DEFENDER_REWARD``, adds the citation bonus, and handles format violations.
Attacker: ``score_incident(params, defender_action, seen)`` pays only for a sound incident
(plausible, uncontested, correctly labelled: ``adjudication``) that the defender got wrong,
plus a bounded bonus the first time a run wins a new way.

Every score carries its breakdown; every reward is a plain ``float``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection
from dataclasses import dataclass

from pydantic import Field

from .adjudication.contest import SuspicionHit
from .adjudication.gate import Adjudication, adjudicate
from .schema import (
    TRIAGE_ACTIONS,
    IncidentParams,
    StrictModel,
    SubmitTriage,
    TriageAction,
)
from .verifier import GroundTruth


@dataclass(frozen=True)
class Cell:
    reward: float
    outcome: str
    why: str


# (gold, predicted) -> reward. Rows are the verifier's action, columns the defender's.
# The shape: +1 for the right action; -1 for dismissing an attack (the cardinal failure);
# -0.3 for a disruptive action on something that needs none; -0.5 for doing too little or
# the wrong containment; -0.05 for escalating what tier 1 should have handled.
DEFENDER_REWARD: dict[tuple[str, str], Cell] = {
    ("dismiss", "dismiss"): Cell(1.0, "correct", "benign activity closed"),
    ("dismiss", "monitor"): Cell(-0.1, "over_reaction_mild", "a watch on benign activity costs a little analyst time"),
    ("dismiss", "quarantine_host"): Cell(-0.3, "over_reaction", "isolating a healthy host disrupts its user"),
    ("dismiss", "block_ip"): Cell(-0.3, "over_reaction", "blocking a legitimate peer breaks a business service"),
    ("dismiss", "escalate"): Cell(-0.3, "over_reaction", "paging incident response for benign activity"),
    ("monitor", "dismiss"): Cell(-1.0, "missed_attack", "a live threat indicator was closed"),
    ("monitor", "monitor"): Cell(1.0, "correct", "an unconfirmed threat is watched"),
    ("monitor", "quarantine_host"): Cell(-0.3, "over_reaction", "containment on evidence that does not yet warrant it"),
    ("monitor", "block_ip"): Cell(-0.3, "over_reaction", "containment on evidence that does not yet warrant it"),
    ("monitor", "escalate"): Cell(-0.05, "unnecessary_escalate", "tier 1 could have handled it"),
    ("quarantine_host", "dismiss"): Cell(-1.0, "missed_attack", "a compromised host was left running"),
    ("quarantine_host", "monitor"): Cell(-0.5, "under_reaction", "the compromised host keeps running while watched"),
    ("quarantine_host", "quarantine_host"): Cell(1.0, "correct", "the compromised host is isolated"),
    ("quarantine_host", "block_ip"): Cell(-0.5, "wrong_containment", "blocking an address leaves the infected host running"),
    ("quarantine_host", "escalate"): Cell(-0.05, "unnecessary_escalate", "tier 1 could have isolated the host"),
    ("block_ip", "dismiss"): Cell(-1.0, "missed_attack", "an outside attacker keeps trying"),
    ("block_ip", "monitor"): Cell(-0.5, "under_reaction", "the outside attacker is watched, not stopped"),
    ("block_ip", "quarantine_host"): Cell(-0.5, "wrong_containment", "isolating the victim while the attacker keeps going"),
    ("block_ip", "block_ip"): Cell(1.0, "correct", "the attacking address is blocked"),
    ("block_ip", "escalate"): Cell(-0.05, "unnecessary_escalate", "tier 1 could have blocked the address"),
    ("escalate", "dismiss"): Cell(-1.0, "missed_attack", "a major incident was closed"),
    ("escalate", "monitor"): Cell(-0.5, "under_reaction", "a major incident is only watched"),
    ("escalate", "quarantine_host"): Cell(-0.5, "under_reaction", "local containment without incident response"),
    ("escalate", "block_ip"): Cell(-0.5, "under_reaction", "local containment without incident response"),
    ("escalate", "escalate"): Cell(1.0, "correct", "incident response engaged"),
}
assert set(DEFENDER_REWARD) == {(g, p) for g in TRIAGE_ACTIONS for p in TRIAGE_ACTIONS}

CITATION_BONUS = 0.1  # correct action AND cited_log_id among the verifier's triggering log ids
FORMAT_VIOLATION_BENIGN = -0.1  # unparseable triage on a benign incident
# On a malicious incident an unparseable triage handles nothing: it scores as a dismiss,
# so emitting garbage can never beat committing to an answer.
FORMAT_VIOLATION_MALICIOUS = DEFENDER_REWARD[("escalate", "dismiss")].reward
DEFENDER_REWARD_RANGE = (-1.0, 1.0 + CITATION_BONUS)

ATTACKER_EVASION = 1.0  # a sound incident AND the defender wrong: the only way to earn it
ATTACKER_SCHEMA_INVALID = -0.5
ATTACKER_UNSOUND = 0.0  # implausible, contested or mislabelled: no reward, no novelty, never replayed
ATTACKER_NOVELTY = 0.2  # with an evasion, once per new way to win in a run
MAX_NOVELTY_PER_RUN = 32  # a run credits at most this many ways to win, so novelty cannot be farmed without end
ATTACKER_REWARD_RANGE = (ATTACKER_SCHEMA_INVALID, ATTACKER_EVASION + ATTACKER_NOVELTY)
ATTACKER_OUTCOMES = {
    "schema_invalid": "the incident fails schema validation",
    "implausible": "schema-valid but outside the world the verdict models (a plausibility code says why)",
    "contested": "plausible, but the independent suspicion check flags events no verdict or context rule covers",
    "mislabelled": "plausible and uncontested, but target_label contradicts the verdict",
    "evaded": "sound, and the defender's action differs from the verdict",
    "caught": "sound, and the defender's action is the verdict",
}


class DefenderScore(StrictModel):
    """The defender's reward for one triage, with its parts."""

    reward: float = Field(description="Total reward: action + citation, or the format-violation value.")
    outcome: str = Field(description="Name of the reward cell, e.g. 'correct', 'missed_attack', 'format_violation'.")
    gold_action: TriageAction
    predicted_action: TriageAction | None
    breakdown: dict[str, float] = Field(description="action, citation and format components; they sum to reward.")
    cited_log_id: str | None = None
    citation_correct: bool = False
    evidence_recall: float | None = Field(
        default=None, description="Investigations: the share of the verdict's triggering events the defender's tools had "
        "shown before the triage (not part of the reward).")


class AttackerScore(StrictModel):
    """The attacker's reward for one crafted incident, with its parts."""

    reward: float
    outcome: str = Field(description="schema_invalid, implausible, contested, mislabelled, evaded or caught.")
    breakdown: dict[str, float] = Field(description="schema, evasion and novelty components; they sum to reward.")
    signature: str | None = Field(default=None, description="The way this craft won (verdict, deciding rules, the "
                                  "defender's answer), hashed; None unless it evaded.")
    novel: bool = False
    violation_codes: list[str] = Field(default_factory=list)
    contested_by: list[SuspicionHit] = Field(default_factory=list, description="What contested the verdict, if anything.")


def normalized(reward: float, bounds: tuple[float, float]) -> float:
    """Map a reward onto [0, 1] given its role's (min, max)."""
    lo, hi = bounds
    return round(min(1.0, max(0.0, (reward - lo) / (hi - lo))), 6)


def score_triage(truth: GroundTruth, triage: SubmitTriage | None, retrieved: Collection[str] | None = None) -> DefenderScore:
    """Score a defender's triage against the verifier's ground truth.

    ``triage`` is None when the defender's output was not a valid ``submit_triage``. ``retrieved`` is, in an
    investigation, the log ids the defender's tools have shown: the citation bonus then needs the cited event to be
    among them (a defender cannot cite what it never saw), and ``evidence_recall`` reports how many of the triggering
    events it saw.
    """
    gold = truth.action
    recall = None
    if retrieved is not None:
        seen = set(retrieved)
        recall = (sum(i in seen for i in truth.triggering_log_ids) / len(truth.triggering_log_ids)
                  if truth.triggering_log_ids else 1.0)
    if triage is None:
        penalty = FORMAT_VIOLATION_BENIGN if gold == "dismiss" else FORMAT_VIOLATION_MALICIOUS
        return DefenderScore(reward=float(penalty), outcome="format_violation", gold_action=gold, predicted_action=None,
                             breakdown={"action": 0.0, "citation": 0.0, "format": float(penalty)}, evidence_recall=recall)
    cell = DEFENDER_REWARD[(gold, triage.action)]
    cited_right = triage.cited_log_id in truth.triggering_log_ids and (retrieved is None or triage.cited_log_id in seen)
    bonus = CITATION_BONUS if (cited_right and triage.action == gold) else 0.0
    return DefenderScore(
        reward=float(round(cell.reward + bonus, 6)),
        outcome=cell.outcome,
        gold_action=gold,
        predicted_action=triage.action,
        breakdown={"action": float(cell.reward), "citation": float(bonus), "format": 0.0},
        cited_log_id=triage.cited_log_id,
        citation_correct=cited_right,
        evidence_recall=recall,
    )


def winning_signature(truth: GroundTruth, defender_action: TriageAction | None) -> str:
    """A way to win, at a coarse grain: the verdict, the rules that decided it, and what the defender answered
    instead. Names, values, counts and text are left out, so padding, rewording or relabelling an incident is the
    same way to win."""
    shape = {"verdict": truth.action, "rules": sorted(truth.deciding_rule_ids), "defender": defender_action or "none"}
    return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()[:16]


def score_incident(
    params: IncidentParams | None,
    defender_action: TriageAction | None,
    seen_signatures: Collection[str] = (),
    *,
    adjudication: Adjudication | None = None,
) -> AttackerScore:
    """Score an attacker's crafted incident.

    ``params`` is None when the craft failed schema validation. ``defender_action`` is None when the defender
    produced no valid triage (which counts as getting it wrong). ``seen_signatures`` are the ways to win already
    credited in this run; the caller adds a novel signature to it. Only a sound craft (``adjudication.sound``) can
    pay, and novelty pays only with an evasion, while the run has credited fewer than ``MAX_NOVELTY_PER_RUN``.
    """
    zero = {"schema": 0.0, "evasion": 0.0, "novelty": 0.0}
    if params is None:
        return AttackerScore(reward=ATTACKER_SCHEMA_INVALID, outcome="schema_invalid",
                             breakdown=zero | {"schema": ATTACKER_SCHEMA_INVALID})
    adjudication = adjudication or adjudicate(params)
    if not adjudication.sound:
        return AttackerScore(reward=ATTACKER_UNSOUND, outcome=adjudication.outcome, breakdown=zero,
                             violation_codes=[v.code for v in adjudication.plausibility.violations],
                             contested_by=adjudication.contested_by)
    truth = adjudication.truth
    if defender_action == truth.action:
        return AttackerScore(reward=0.0, outcome="caught", breakdown=zero)
    signature = winning_signature(truth, defender_action)
    novel = signature not in seen_signatures and len(seen_signatures) < MAX_NOVELTY_PER_RUN
    novelty = ATTACKER_NOVELTY if novel else 0.0
    return AttackerScore(reward=float(round(ATTACKER_EVASION + novelty, 6)), outcome="evaded",
                         breakdown={"schema": 0.0, "evasion": ATTACKER_EVASION, "novelty": novelty},
                         signature=signature, novel=novel)
