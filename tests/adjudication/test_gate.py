"""The gate's contest: a rule that covers an event answers only for the techniques it is about, so a context of the
world cannot silence an independent hit of another technique on the events it covers."""

from __future__ import annotations

import pytest
from support.crafting import encoded, incident, proc

from opensoc.adjudication import gate
from opensoc.adjudication.contest import SuspicionHit
from opensoc.verifier import VERDICT_RULES, Window, explain

PS = "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe"


def _managed_inventory():
    """The management agent runs a benign inventory script as SYSTEM: the software-management context covers it."""
    return incident("software_update", "dismiss", proc(
        0, "FIN-WS01", "SYSTEM", "powershell.exe",
        "powershell.exe -NoProfile -EncodedCommand " + encoded("Get-Service -Name CcmExec"), executable=PS,
        parent="CcmExec.exe"))


def _hit(*techniques: str) -> SuspicionHit:
    return SuspicionHit(rule_id="r", title="t", level="high", log_ids=["C-0"], source="sigmahq",
                        techniques=list(techniques))


def test_every_context_answers_for_its_exceptions_and_excuses_only():
    for context in (r for r in VERDICT_RULES if not r.malicious):
        expected = {t.split(".")[0] for rule in VERDICT_RULES if context.rule_id in rule.exceptions
                    for t in rule.technique_ids} | {t.split(".")[0] for t in context.excuses}
        assert gate.CONTEXT_TECHNIQUES[context.rule_id] == expected, context.rule_id
    assert gate.CONTEXT_TECHNIQUES["benign.software_management"] == frozenset()


@pytest.mark.parametrize(("techniques", "contested"), [(("T1490",), True), (("T1059.001",), True), ((), True)])
def test_a_context_does_not_silence_a_hit_it_does_not_answer_for(monkeypatch, techniques, contested):
    params = _managed_inventory()
    window = Window(params)
    assert [x.contexts for x in explain(window)] == [("benign.software_management",)]
    review = gate.adjudicate(params)
    assert review.outcome is None and review.truth.action == "dismiss"
    monkeypatch.setattr(gate, "community_hits", lambda events: [_hit(*techniques)])
    assert bool(gate.contest(window, review.truth)) is contested


def test_a_context_answers_for_the_techniques_it_explains(monkeypatch):
    params = incident("scheduled_backup", "dismiss", proc(
        0, "BKP01", "svc_backup", "wbadmin.exe", "wbadmin.exe delete backup -keepVersions:3 -quiet",
        parent="svchost.exe"))
    window = Window(params)
    review = gate.adjudicate(params)
    assert review.truth.action == "dismiss" and review.outcome is None, review.plausibility.violations
    assert [x.contexts for x in explain(window)] == [("benign.backup_retention",)]
    monkeypatch.setattr(gate, "community_hits", lambda events: [_hit("T1490")])
    assert gate.contest(window, review.truth) == []
    monkeypatch.setattr(gate, "community_hits", lambda events: [_hit("T1003.001")])
    assert gate.contest(window, review.truth) != []
