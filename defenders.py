"""Built-in defender policies: what answers the attacker in ``attacker_only`` mode.

Each policy maps an ``Alert`` (what any defender sees) to a ``SubmitTriage``. None of
them calls the verifier. ``heuristic`` is a small SOC playbook keyed on the alert's
detection and its inventory enrichment; it looks at the alert's primary detection only,
which is why decoys and evasions in later stages fool it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .schema import Alert, Authentication, NetworkConnection, SubmitTriage

DefenderPolicy = Callable[[Alert], SubmitTriage]

_PRIMARY_LOG = re.compile(r"\(log ([A-Za-z0-9][A-Za-z0-9_.:-]{0,31})\)")


def primary_log_id(alert: Alert) -> str:
    """The log id the alert's summary names as the event its detection fired on."""
    match = _PRIMARY_LOG.search(alert.summary)
    return match.group(1) if match else alert.events[0].log_id


def _triage(alert: Alert, action: str, why: str) -> SubmitTriage:
    return SubmitTriage(action=action, cited_log_id=primary_log_id(alert), rationale=why)


def _failures_by_source(alert: Alert) -> dict[str, int]:
    counts: dict[str, int] = {}
    for e in alert.events:
        if isinstance(e, Authentication) and e.outcome == "failure":
            counts[e.source_ip] = counts.get(e.source_ip, 0) + 1
    return counts


def heuristic(alert: Alert) -> SubmitTriage:
    """A rule-of-thumb playbook over the alert's rule name and enrichment."""
    rule = alert.rule_name
    ents = alert.entities
    admin_user = any(u.it_admin for u in ents.users)
    on_jump = any(h.role == "admin_jump" for h in ents.hosts)
    critical = any(h.critical for h in ents.hosts)
    sanctioned = any(ip.known_good_service for ip in ents.ips if ip.scope == "external")
    if rule in ("Shadow copy or recovery tampering", "Mass file rename or modification", "Privileged group membership change",
                "Long DNS query names"):
        return _triage(alert, "escalate", f"{rule} is a major-incident indicator")
    if rule in ("LSASS process access", "Credential dumping tool usage", "Office application spawned a child process",
                "Registry Run key modified"):
        return _triage(alert, "escalate" if critical else "quarantine_host", f"{rule} indicates a compromised host")
    if rule in ("Remote execution tool launched", "Scripting engine or LOLBin with arguments of interest",
                "Account or group discovery command"):
        if admin_user and on_jump:
            return _triage(alert, "dismiss", "admin tooling from a jump host")
        action = {"Remote execution tool launched": "escalate", "Account or group discovery command": "monitor"}.get(
            rule, "quarantine_host")
        return _triage(alert, action, f"{rule} outside the admin context")
    if rule == "Large outbound transfer":
        return _triage(alert, "dismiss" if sanctioned else "escalate", "upload destination checked against the inventory")
    if rule in ("Large download from the internet", "Installer executed"):
        return _triage(alert, "dismiss", "software delivery")
    if rule == "Email with attachment or link from an outside sender":
        return _triage(alert, "monitor", "inbound mail with content of interest")
    if rule == "Failed logon":
        worst = max(_failures_by_source(alert).items(), key=lambda kv: kv[1], default=("", 0))
        if worst[1] >= 10:
            internal = any(ip.ip == worst[0] and ip.scope == "internal" for ip in ents.ips)
            return _triage(alert, "quarantine_host" if internal else "block_ip", "repeated failed logons")
        return _triage(alert, "dismiss", "a few failed logons")
    if rule == "Remote interactive logon":
        return _triage(alert, "escalate" if critical and not admin_user else "dismiss", "RDP logon checked")
    if rule == "Connection attempts to internal services":
        sources = {e.source_ip for e in alert.events if isinstance(e, NetworkConnection)}
        scanner = any(ip.ip in sources and ip.host == "SCAN01" for ip in ents.ips)
        external = any(ip.ip in sources and ip.scope == "external" for ip in ents.ips)
        return _triage(alert, "dismiss" if scanner else "block_ip" if external else "quarantine_host", "probing checked")
    if rule == "Repeated outbound connections":
        return _triage(alert, "dismiss" if sanctioned else "quarantine_host", "periodic traffic checked")
    return _triage(alert, "monitor", "no playbook entry")


def always_dismiss(alert: Alert) -> SubmitTriage:
    """The floor: closes everything."""
    return _triage(alert, "dismiss", "closed")


def always_escalate(alert: Alert) -> SubmitTriage:
    """Pages incident response for everything."""
    return _triage(alert, "escalate", "escalated")


DEFENDER_POLICIES: dict[str, DefenderPolicy] = {
    "heuristic": heuristic,
    "always_dismiss": always_dismiss,
    "always_escalate": always_escalate,
}
