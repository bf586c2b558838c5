"""``opensoc audit``: the report it prints and writes, and its exit status."""

from __future__ import annotations

import json

import pytest

from opensoc.audit import report
from opensoc.cli import main


@pytest.mark.slow  # plays the SigmaHQ corpus when the rules are present
def test_the_audit_reports_honest_play_rewrites_and_the_attacker(tmp_path, capsys):
    out = tmp_path / "audit.json"
    assert main(["audit", "--seeds", "2", "--attacker-episodes", "3", "--json", str(out)]) == 0
    written = json.loads(out.read_text())
    honest = written["honest_play"]
    assert honest["incidents"] == 8 and sum(honest["refused"].values()) == 0 and honest["mislabelled"] == 0
    assert set(written["rewrites"]) == set(report.REWRITES)
    assert all(r["paid_flips"] == 0 for r in written["rewrites"].values())
    assert {name: a["episodes"] for name, a in written["attacker"].items() if name != "actions"} == \
        {"uniform": 3, "trained": 3}
    catalog = written["catalog"]
    assert catalog["programs"] == len(report.PROGRAMS) and catalog["cmdlets"] == len(report.CMDLETS)
    printed = capsys.readouterr().out
    assert printed == report.render(written) and "Honest play: 8 generated incidents" in printed


def test_the_audit_refuses_sizes_it_cannot_run(capsys):
    assert main(["audit", "--seeds", "0"]) == 2
    assert "--seeds must be at least 1" in capsys.readouterr().err
