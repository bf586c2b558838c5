"""Verdict rules and plausibility codes, each with failing and passing examples."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.incident_helpers import rebuild

from opensoc.adjudication.admission import PLAUSIBILITY_CODES, check_plausibility
from opensoc.generator import generate, generate_from_template
from opensoc.schema import BENIGN_CATEGORIES, MALICIOUS_CATEGORIES
from opensoc.tasks import task_names
from opensoc.verifier import RULES_BY_ID, VERDICT_RULES, compute_ground_truth
from opensoc.world.inventory import INVENTORY


def _set(data, index, **fields):
    data["events"][index].update({k.replace("__", "."): v for k, v in fields.items()})
    return data


def _conn_index(data):
    return next(i for i, e in enumerate(data["events"]) if e["event_type"] in ("network_connection", "http_request"))


# code -> (template whose incident passes, mutation that makes it fail that check)
CASES = {
    "DUPLICATE_LOG_ID": ("dns_tunnel", lambda d: _set(d, 1, log_id=d["events"][0]["log_id"])),
    "TIMESTAMP_ORDER": ("dns_tunnel", lambda d: _set(d, 0, timestamp=d["events"][-1]["timestamp"][:11] + "23:59:59Z")),
    "WINDOW_TOO_LONG": ("dns_tunnel", lambda d: _set(d, len(d["events"]) - 1, timestamp="2027-01-01T00:00:00Z")),
    "UNKNOWN_HOST": ("lsass_memory_read", lambda d: _set(d, 0, host="ROGUE-PC")),
    "UNKNOWN_USER": ("lolbin_download", lambda d: _set(d, 0, user="mallory")),
    "HOST_IP_MISMATCH": ("bulk_upload", lambda d: _set(d, 0, host="DC02")),
    "INTERNAL_IP_UNASSIGNED": ("external_port_scan", lambda d: _set(d, 0, destination__ip="10.20.0.99")),
    "INVALID_IP": ("bulk_upload", lambda d: _set(d, 0, destination__ip="224.0.0.251")),
    "INVALID_PORT": ("https_beacon", lambda d: _set(d, _conn_index(d), destination__port=0)
                     if d["events"][_conn_index(d)]["event_type"] == "network_connection" else _port0_fallback(d)),
    "EVENT_ID_MISMATCH": ("single_typo", lambda d: _set(d, 0, winlog__event_id=4624)),
    "PROCESS_MISSING": ("lolbin_download", lambda d: d["events"][0].pop("process.name") and d),
    "EXFIL_INTERNAL_DESTINATION": ("bulk_upload", lambda d: _set(d, 0, destination__ip=INVENTORY.host("FILE01").ip)),
    "DUPLICATE_EVENTS": ("lsass_memory_read", lambda d: d | {"events": [dict(d["events"][0], log_id=f"C-{i}") for i in range(3)]}),
    "TIMESTAMP_RANGE": ("lsass_memory_read", lambda d: _set(d, 0, timestamp="0001-01-01T00:00:00Z")),
    "CAUSE_AFTER_EFFECT": ("opened_attachment", lambda d: _swap_times(d)),
    "UNKNOWN_GROUP": ("privileged_group_add", lambda d: _set(d, 0, group__name="Totally Real Admins")),
    "OS_MISMATCH": ("lsass_memory_read", lambda d: _set(d, 0, host="WEB01")),
    "ROLE_MISMATCH": ("malicious_attachment", lambda d: _set(d, 0, host="FILE01")),
    "UNMODELLED_VALUE": ("lolbin_download", lambda d: _set(d, 0, process__name="powershell.exe", process__executable=
                         "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
                         process__command_line="powershell.exe -enc QUJDREVGR0hJSktMTU5PUFFSU1RVVldY")),
    "UNKNOWN_PROGRAM": ("lolbin_download", lambda d: _set(d, 0, process__name="zzqx.exe", process__command_line="zzqx.exe -go",
                        process__executable="C:\\Windows\\System32\\zzqx.exe")),
    "UNKNOWN_FORM": ("lolbin_download", lambda d: _set(d, 0, process__command_line="certutil.exe -frobnicate")),
    "UNKNOWN_MAILBOX": ("malicious_attachment", lambda d: _set(d, 0, email__to__address="nobody@corp.example.com")),
    "BUILTIN_IN_DOMAIN_GROUP": ("privileged_group_add", lambda d: _set(d, 0, user__target__name="SYSTEM",
                                                                       group__name="Domain Admins", winlog__event_id=4728,
                                                                       host="DC01")),
    "ADDRESS_FAMILY": ("bulk_upload", lambda d: _set(d, 0, destination__ip="2606:4700::1111")),
    "CONN_STATE_BYTES": ("external_port_scan", lambda d: _set(d, 0, source__bytes=5_000)),
    "PROTOCOL_TRANSPORT": ("external_port_scan", lambda d: _set(d, 0, network__protocol="ntp")),
    "LINK_RATE": ("external_port_scan", lambda d: _set(d, 0, zeek__connection__state="SF", event__duration=0.001,
                                                      source__bytes=90_000_000)),
    "SOURCE_FIELDS": ("external_port_scan", lambda d: _set(d, 0, source="sysmon")),
    "HTTP_FORM": ("bulk_upload", lambda d: _set(d, 0, http__request__method="CONNECT", url__path="/etc/passwd")),
    "INVALID_NAME": ("dns_tunnel", lambda d: _set(d, 0, dns__question__name="a" * 70 + ".example.org")),
    "UNEXPLAINED_EVENT": ("lsass_memory_read", lambda d: d | {"events": [*d["events"], {
        "log_id": "U-1", "timestamp": d["events"][-1]["timestamp"], "host": "DC01", "user": "nobody_here",
        "event_type": "authentication", "source": "windows_security", "winlog.event_id": 4625,
        "event.outcome": "failure", "winlog.logon.type": 3, "source.ip": INVENTORY.host("FIN-WS01").ip}]}),
    "CATEGORY_NOT_DEPICTED": ("lolbin_download", lambda d: d | {"category": "phishing", "target_label": "monitor"}),
    "CATEGORY_LABEL_MISMATCH": ("mass_encryption", lambda d: d | {"target_label": "benign"}),
}


def _swap_times(data):
    """The macro shell first, the mail that would have delivered its document after it."""
    mail, shell = data["events"]
    mail["timestamp"], shell["timestamp"] = shell["timestamp"], mail["timestamp"]
    data["events"] = [shell, mail]
    return data


def _port0_fallback(data):
    data["events"].append(dict(generate_from_template("external_port_scan", 0).model_dump(mode="json", exclude_none=True)["events"][0],
                               log_id="P0", timestamp=data["events"][-1]["timestamp"], **{"destination.port": 0}))
    data["events"][-1]["source.ip"] = "45.133.1.9"
    return data


def test_every_code_has_a_case():
    assert set(CASES) == set(PLAUSIBILITY_CODES)


@pytest.mark.parametrize("code", sorted(PLAUSIBILITY_CODES))
def test_plausibility_code_fails_and_passes(code, incident):
    template, mutate = CASES[code]
    passing = rebuild(incident(template))
    report = check_plausibility(passing)
    assert report.ok, report.violations
    failing = rebuild(mutate(incident(template)))
    codes = [v.code for v in check_plausibility(failing).violations]
    assert code in codes
    violation = next(v for v in check_plausibility(failing).violations if v.code == code)
    assert violation.message


def test_invalid_ip_kinds(incident):
    for ip in ("127.0.0.1", "0.0.0.0", "169.254.10.1", "192.168.1.20", "172.16.5.5", "192.0.2.7"):
        data = _set(incident("bulk_upload"), 0, destination__ip=ip)
        assert "INVALID_IP" in [v.code for v in check_plausibility(rebuild(data)).violations], ip


def test_rule_table_is_well_formed():
    ids = [r.rule_id for r in VERDICT_RULES]
    assert len(ids) == len(set(ids))
    from opensoc.world.attack import TECHNIQUES

    for rule in VERDICT_RULES:
        assert all(t in TECHNIQUES for t in rule.technique_ids), rule.rule_id
        if rule.malicious:  # an attack rule evidences a malicious category; a context rule a benign one, or none
            assert rule.category in MALICIOUS_CATEGORIES, rule.rule_id
        else:
            assert rule.category is None or rule.category in BENIGN_CATEGORIES, rule.rule_id
        assert all(not RULES_BY_ID[e].malicious for e in rule.exceptions), rule.rule_id


def test_critical_asset_escalates_quarantine_findings(incident):
    data = incident("lsass_memory_read")
    assert compute_ground_truth(rebuild(data)).action == "quarantine_host"
    data["events"][0]["host"] = "DC01"
    truth = compute_ground_truth(rebuild(data))
    assert truth.action == "escalate"
    assert truth.deciding_rule_ids == ["cred.lsass_memory_read"]


def test_most_severe_rule_decides(incident):
    scan = incident("external_port_scan")  # block_ip
    lsass = incident("lsass_memory_read")  # quarantine_host
    lsass["events"][0]["timestamp"] = scan["events"][-1]["timestamp"]
    lsass["events"][0]["log_id"] = "X-1"
    scan["events"].append(lsass["events"][0])
    truth = compute_ground_truth(rebuild(scan))
    assert truth.action == "quarantine_host"
    assert truth.triggering_log_ids == ["X-1"]
    assert {f.rule_id for f in truth.rules_fired} >= {"recon.external_port_scan", "cred.lsass_memory_read"}


def test_benign_context_rule_is_cited_for_dismiss():
    params = generate_from_template("backup_upload", 3)
    truth = compute_ground_truth(params)
    assert truth.action == "dismiss" and truth.triggering_log_ids == [params.events[0].log_id]
    assert truth.deciding_rule_ids == ["benign.backup_job"]


def test_no_detection_means_dismiss_with_nothing_to_cite(incident):
    data = incident("single_typo")
    data["events"][0].update({"event.outcome": "success", "winlog.event_id": 4624})
    truth = compute_ground_truth(rebuild(data))
    assert truth.action == "dismiss" and truth.triggering_log_ids == [] and truth.rules_fired == []


def test_thresholds_bound_the_rules(incident):
    data = incident("chunked_upload")
    total = sum(e["source.bytes"] for e in data["events"])
    assert total >= 100_000_000
    for e in data["events"]:
        e["source.bytes"] = 99_000_000 // len(data["events"])
    assert not compute_ground_truth(rebuild(data | {"category": "software_update"})).malicious


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    task=st.sampled_from(task_names()),
    seed=st.integers(min_value=0, max_value=10**6),
    narrative=st.text(max_size=400),
    label=st.sampled_from(["benign", "malicious"]),
)
def test_verdict_ignores_narrative_and_target_label(task, seed, narrative, label):
    params = generate(task, seed)
    changed = params.model_copy(update={"narrative": narrative, "target_label": label})
    assert compute_ground_truth(changed) == compute_ground_truth(params)
    # The claim is checked against the category only (CATEGORY_LABEL_MISMATCH); the narrative never.
    codes = {v.code for v in check_plausibility(changed).violations}
    assert codes <= {"CATEGORY_LABEL_MISMATCH"}
    assert check_plausibility(params.model_copy(update={"narrative": narrative})) == check_plausibility(params)


def test_rules_by_id_complete():
    assert set(RULES_BY_ID) == {r.rule_id for r in VERDICT_RULES}
