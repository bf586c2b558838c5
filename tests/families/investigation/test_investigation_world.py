"""Investigation worlds: deterministic stores, background that never fires a rule, a query language that answers or
explains, tools with capped outputs, and baselines that investigate."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest

from opensoc.families.investigation.case import build_case
from opensoc.families.investigation.investigator import (
    oracle_investigator,
    scripted_investigator,
)
from opensoc.families.investigation.query import QueryError, parse_query
from opensoc.families.investigation.tasks import INVESTIGATION_TASKS
from opensoc.families.investigation.tools import (
    MAX_OUTPUT_CHARS,
    STORE_FIELDS,
    run_tool,
    tool_specs,
)
from opensoc.rubric import score_triage
from opensoc.schema import IncidentParams
from opensoc.verifier import compute_ground_truth

_SCRIPT = """
import hashlib, sys
from opensoc.families.investigation.case import build_case
case = build_case(sys.argv[1], int(sys.argv[2]))
print(hashlib.sha256("".join(e.model_dump_json() for e in case.store.events).encode()).hexdigest())
"""


def _store_hash(case) -> str:
    return hashlib.sha256("".join(e.model_dump_json() for e in case.store.events).encode()).hexdigest()


@pytest.mark.slow
def test_a_case_is_the_same_in_another_process():
    case = build_case("investigate_stage3", 11)
    out = subprocess.run([sys.executable, "-c", _SCRIPT, "investigate_stage3", "11"], capture_output=True, text=True,
                         check=True, env={"PYTHONHASHSEED": "77", "PATH": ""})
    assert out.stdout.strip() == _store_hash(case)


@pytest.mark.slow  # more than a second
@pytest.mark.parametrize("task", list(INVESTIGATION_TASKS))
def test_background_is_benign_and_the_verdict_is_the_incidents(task):
    spec = INVESTIGATION_TASKS[task]
    for seed in range(6):
        case = build_case(task, seed)
        assert spec.store_events <= len(case.store) <= 4 * spec.store_events
        ids = [e.log_id for e in case.store.events]
        assert len(set(ids)) == len(ids) and all(i.startswith(f"E{spec.stage}-") for i in ids)
        incident_ids = {e.log_id for e in case.incident.events}
        whole = IncidentParams.model_construct(category=case.incident.category, target_label=case.incident.target_label,
                                               events=list(case.store.events), narrative="")
        truth = compute_ground_truth(whole)
        assert truth.action == case.truth.action == case.incident.target_label, (seed, truth.deciding_rule_ids)
        for firing in truth.rules_fired:  # an aggregate may sweep in background, but never fires without the incident
            if firing.malicious:
                assert set(firing.log_ids) & incident_ids, (seed, firing.rule_id)
        background = IncidentParams.model_construct(category="software_update", target_label="dismiss", narrative="",
                                                    events=[e for e in case.store.events if e.log_id not in incident_ids])
        alone = compute_ground_truth(background)
        assert alone.action == "dismiss" and not alone.malicious, (seed, alone.deciding_rule_ids)


def test_query_language():
    fields = STORE_FIELDS
    assert parse_query("", fields) == ()
    terms = parse_query('host=FIN-WS01 -event_type=dns_query source.bytes>=1000000 "domain admins" lsass', fields)
    assert [(t.field, t.op, t.negated) for t in terms] == [("host", "=", False), ("event_type", "=", True),
                                                             ("source.bytes", ">=", False), (None, "text", False),
                                                             (None, "text", False)]
    for bad, why in [("bogus=1", "unknown field"), ("source.bytes>lots", "needs a number"), ('"unterminated', "cannot read"),
                     ("a " * 20, "at most 16"), ("x" * 600, "at most 512")]:
        with pytest.raises(QueryError, match=why):
            parse_query(bad, fields)


def test_search_count_and_lookups_answer_within_their_caps():
    case = build_case("investigate_stage4", 5)
    store = case.store
    found = run_tool(store, "search", {"query": f"host={case.alert.host.lower()}", "limit": 7})
    body = json.loads(found.text)
    assert found.ok and body["shown"] == len(found.log_ids) <= 7 and body["total"] >= body["shown"]
    assert all(store.by_id[i].host.upper() == case.alert.host.upper() for i in found.log_ids)
    wild = run_tool(store, "search", {"query": "process.name=power*", "limit": 50})
    assert all(store.by_id[i].process_name.lower().startswith("power") for i in wild.log_ids)
    big = run_tool(store, "search", {"query": "", "limit": 50})
    assert len(big.text) <= MAX_OUTPUT_CHARS + 200 and json.loads(big.text)["total"] == len(store)
    counted = json.loads(run_tool(store, "count", {"query": "event_type=network_connection", "by": "destination.ip"}).text)
    assert counted["total"] == sum(1 for e in store.events if e.event_type == "network_connection")
    assert counted["values"] == sorted(counted["values"], key=lambda v: (-v["count"], v["value"]))
    host = json.loads(run_tool(store, "lookup_host", {"name": "dc01.corp.example.com"}).text)
    assert host["role"] == "critical" and "domain_controller" in host["functions"]
    vault = json.loads(run_tool(store, "lookup_host", {"name": "52.95.110.40"}).text)
    assert not vault["known"] and vault["known_good_service"] == "Offsite backup vault"
    assert json.loads(run_tool(store, "lookup_user", {"name": "CORP\\julia.santos"}).text)["it_admin"] is True
    tree = json.loads(run_tool(store, "process_tree", {"host": case.alert.host}).text)
    assert all(store.by_id[p["log_id"]].event_type == "process_start" for p in tree["processes"])


@pytest.mark.parametrize(("name", "args", "says"), [
    ("search", {"query": "nonsense=1"}, "unknown field"),
    ("search", {"limit": 500}, "limit"),
    ("search", {"start": "yesterday"}, "start"),
    ("count", {"query": ""}, "by"),
    ("count", {"by": "favourite.colour"}, "unknown field"),
    ("lookup_user", {"name": ""}, "name"),
    ("rm_rf", {}, "unknown tool"),
    ("search", ["not", "an", "object"], "bad arguments"),
])
def test_a_bad_call_is_answered_not_raised(name, args, says):
    result = run_tool(build_case("investigate_stage1", 0).store, name, args)
    assert not result.ok and result.text.startswith("error:") and says in result.text and not result.log_ids


def test_tools_are_documented():
    specs = {s["name"]: s for s in tool_specs()}
    assert set(specs) == {"search", "count", "lookup_host", "lookup_user", "process_tree"}
    for spec in specs.values():
        assert spec["description"] and all(p.get("description") for p in spec["parameters"]["properties"].values())


def test_tool_specs_are_the_argument_models_schemas_and_each_caller_gets_its_own():
    from opensoc.families.investigation.tools import TOOL_ARGS

    specs = tool_specs()
    assert [s["parameters"] for s in specs] == [args.model_json_schema() for args in TOOL_ARGS.values()]
    specs[0]["parameters"]["properties"].clear()  # a caller that edits its copy changes nobody else's
    assert tool_specs()[0]["parameters"]["properties"]


@pytest.mark.slow
def test_baselines_investigate():
    scripted, oracle, dismiss = [], [], []
    for seed in range(30):
        case = build_case("investigate_stage2", 200 + seed)
        for policy, out in ((scripted_investigator, scripted), (None, oracle)):
            retrieved: set[str] = set()

            def call(name, args, retrieved=retrieved, case=case):
                result = run_tool(case.store, name, args)
                retrieved.update(result.log_ids)
                return result.text

            if policy is None:
                triage = oracle_investigator(case.alert, call, case.call_budget, case.truth.action, case.truth.triggering_log_ids)
            else:
                triage = policy(case.alert, call, case.call_budget)
            out.append(score_triage(case.truth, triage, retrieved))
        from opensoc.schema import SubmitTriage

        dismiss.append(score_triage(case.truth, SubmitTriage(action="dismiss", cited_log_id=case.alert.event.log_id), set()))
    mean = lambda scores: sum(s.reward for s in scores) / len(scores)  # noqa: E731
    assert mean(oracle) == pytest.approx(1.1)
    assert mean(dismiss) + 0.8 < mean(scripted) < mean(oracle)
    assert sum(s.evidence_recall for s in scripted) / len(scripted) > 0.5
    # A citation of an event the defender never retrieved earns no bonus.
    case = build_case("investigate_stage2", 200)
    from opensoc.schema import SubmitTriage

    blind = score_triage(case.truth, SubmitTriage(action=case.truth.action, cited_log_id=case.truth.triggering_log_ids[0]), set())
    assert blind.reward == 1.0 and not blind.citation_correct and blind.evidence_recall == 0.0
