"""The alert a defender sees is built from events only and enriched from the inventory."""

from __future__ import annotations

from collections import Counter

import pytest

from opensoc.generator import generate, generate_from_template
from opensoc.incidents.alerting import materialize_alert
from opensoc.tasks import task_names
from opensoc.verifier import compute_ground_truth


@pytest.mark.parametrize("task", task_names())
def test_alert_holds_the_window_in_order(task):
    for seed in range(30):
        params = generate(task, seed)
        alert = materialize_alert(params)
        assert alert.events == params.events
        assert alert.first_seen == params.events[0].timestamp and alert.last_seen == params.events[-1].timestamp
        assert alert.alert_id.startswith("ALERT-")


def test_enrichment_states_the_context_that_decides():
    alert = materialize_alert(generate_from_template("backup_upload", 0))
    external = [ip for ip in alert.entities.ips if ip.scope == "external"]
    assert external and external[0].known_good_service == "Offsite backup vault"
    assert any(h.role == "backup_server" for h in alert.entities.hosts)
    admin = materialize_alert(generate_from_template("admin_remote_tooling", 0))
    assert any(u.it_admin for u in admin.entities.users)
    assert any(h.role == "admin_jump" for h in admin.entities.hosts)


def test_critical_assets_raise_severity():
    plain = materialize_alert(generate_from_template("lsass_memory_read", 0))
    critical = materialize_alert(generate_from_template("lsass_read_on_critical", 0))
    assert (plain.severity, critical.severity) == ("high", "critical")


def test_rule_names_are_shared_by_attacks_and_look_alikes():
    names = {True: Counter(), False: Counter()}
    for seed in range(400):
        params = generate("stage3_mixed", seed)
        names[compute_ground_truth(params).malicious][materialize_alert(params).rule_name] += 1
    shared = set(names[True]) & set(names[False])
    assert len(shared) >= 6


def test_alert_is_deterministic():
    assert materialize_alert(generate("stage4_adversarial", 9)) == materialize_alert(generate("stage4_adversarial", 9))
