"""Built-in defender policies: what answers the attacker in ``attacker_only`` mode.

Each policy maps an ``Alert`` (what any defender sees) to a ``SubmitTriage``. None of
them calls the verifier. ``heuristic`` is a small SOC playbook keyed on the alert's
detection and its inventory enrichment; it looks at the alert's primary detection only,
which is why decoys and evasions in later stages fool it. ``analyst`` applies the same
playbook to every detection in the window, each in its own event's context, and dismisses
a window with none: the default reference defender in ``attacker_only``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PureWindowsPath

from ..schema import (
    Alert,
    Authentication,
    EmailReceived,
    GroupMembershipChange,
    HttpRequest,
    NetworkConnection,
    ProcessAccess,
    SubmitTriage,
)
from ..world.inventory import TRUSTED_LSASS_READERS
from .alerting import detections_matching

DefenderPolicy = Callable[[Alert], SubmitTriage]

# Actions, least to most severe, as the playbook ranks them.
_SEVERITY = ("dismiss", "monitor", "block_ip", "quarantine_host", "escalate")
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


@dataclass(frozen=True)
class _Context:
    """What the playbook reads beside a detection: the enrichment of the hosts, users and addresses involved."""

    admin_user: bool
    on_jump: bool
    critical: bool
    sanctioned: bool


def _playbook(rule: str, ctx: _Context, alert: Alert) -> tuple[str, str] | None:
    """The playbook's (action, why) for one detection, or None when it has no entry."""
    if rule in ("Shadow copy or recovery tampering", "Mass file rename or modification", "Privileged group membership change",
                "Long DNS query names"):
        return "escalate", f"{rule} is a major-incident indicator"
    if rule in ("LSASS process access", "Credential dumping tool usage", "Office application spawned a child process",
                "Registry Run key modified"):
        return ("escalate" if ctx.critical else "quarantine_host"), f"{rule} indicates a compromised host"
    if rule in ("Remote execution tool launched", "Scripting engine or LOLBin with arguments of interest",
                "Account or group discovery command"):
        if ctx.admin_user and ctx.on_jump:
            return "dismiss", "admin tooling from a jump host"
        action = {"Remote execution tool launched": "escalate", "Account or group discovery command": "monitor"}.get(
            rule, "quarantine_host")
        return action, f"{rule} outside the admin context"
    if rule == "Large outbound transfer":
        return ("dismiss" if ctx.sanctioned else "escalate"), "upload destination checked against the inventory"
    if rule in ("Large download from the internet", "Installer executed"):
        return "dismiss", "software delivery"
    if rule == "Email with attachment or link from an outside sender":
        return "monitor", "inbound mail with content of interest"
    if rule == "Failed logon":
        worst = max(_failures_by_source(alert).items(), key=lambda kv: kv[1], default=("", 0))
        if worst[1] >= 10:
            internal = any(ip.ip == worst[0] and ip.scope == "internal" for ip in alert.entities.ips)
            return ("quarantine_host" if internal else "block_ip"), "repeated failed logons"
        return "dismiss", "a few failed logons"
    if rule == "Remote interactive logon":
        return ("escalate" if ctx.critical and not ctx.admin_user else "dismiss"), "RDP logon checked"
    if rule == "Connection attempts to internal services":
        sources = {e.source_ip for e in alert.events if isinstance(e, NetworkConnection)}
        scanner = any(ip.ip in sources and ip.host == "SCAN01" for ip in alert.entities.ips)
        external = any(ip.ip in sources and ip.scope == "external" for ip in alert.entities.ips)
        return ("dismiss" if scanner else "block_ip" if external else "quarantine_host"), "probing checked"
    if rule == "Repeated outbound connections":
        return ("dismiss" if ctx.sanctioned else "quarantine_host"), "periodic traffic checked"
    return None


def _alert_context(alert: Alert) -> _Context:
    ents = alert.entities
    return _Context(admin_user=any(u.it_admin for u in ents.users), on_jump=any(h.role == "admin_jump" for h in ents.hosts),
                    critical=any(h.critical for h in ents.hosts),
                    sanctioned=any(ip.known_good_service for ip in ents.ips if ip.scope == "external"))


def _event_context(alert: Alert, event) -> _Context:
    hosts = {h.name: h for h in alert.entities.hosts}
    users = {u.name: u for u in alert.entities.users}
    ips = {ip.ip: ip for ip in alert.entities.ips}
    host = hosts.get(event.host)
    user = users.get(event.user) if event.user else None
    destination = ips.get(getattr(event, "destination_ip", None) or "")
    return _Context(admin_user=bool(user and user.it_admin), on_jump=bool(host and host.role == "admin_jump"),
                    critical=bool(host and host.critical),
                    sanctioned=bool(destination and destination.scope == "external" and destination.known_good_service))


def _explained(event, rule: str, alert: Alert) -> bool:
    """Context an analyst checks on the event itself: a trusted reader of LSASS at its install path, authenticated mail
    with nothing that runs, or one IT-Admin adding another to a group."""
    if rule == "LSASS process access" and isinstance(event, ProcessAccess):
        name = PureWindowsPath((event.process_executable or event.process_name or "").lower())
        return any(name.name == n and str(name).startswith(prefix) for n, prefix in TRUSTED_LSASS_READERS)
    if rule == "Email with attachment or link from an outside sender" and isinstance(event, EmailReceived):
        passed = event.spf == "pass" and event.dmarc == "pass"
        inert = (event.attachment_name or "").lower().endswith((".pdf", ".txt", ".csv", ".png", ".jpg", ".ics"))
        return passed and (inert or event.attachment_name is None)
    if rule == "Privileged group membership change" and isinstance(event, GroupMembershipChange):
        admins = {u.name for u in alert.entities.users if u.it_admin}
        return event.user in admins and event.member in admins
    return False


def heuristic(alert: Alert) -> SubmitTriage:
    """A rule-of-thumb playbook over the alert's primary detection and the window's enrichment."""
    decision = _playbook(alert.rule_name, _alert_context(alert), alert)
    action, why = decision or ("monitor", "no playbook entry")
    return _triage(alert, action, why)


def analyst(alert: Alert) -> SubmitTriage:
    """The same playbook applied to every detection on every event of the window, each with the context of its own
    event, taking the most severe answer; a window no detection matches is dismissed. It is the reference defender
    for ``attacker_only``: a craft must beat a reading of the whole window, not of its first line."""
    best: tuple[int, str, str, str] | None = None
    outbound: dict[tuple[str, str], int] = {}
    for e in alert.events:
        if isinstance(e, (NetworkConnection, HttpRequest)):
            outbound[(e.source_ip, e.destination_ip)] = outbound.get((e.source_ip, e.destination_ip), 0) + 1
    for event in alert.events:
        for detection in detections_matching(event):
            if detection.name == "Repeated outbound connections" and outbound.get((event.source_ip, event.destination_ip), 0) < 3:
                continue  # one small request is browsing, not a pattern
            decision = _playbook(detection.name, _event_context(alert, event), alert)
            if decision is None:
                continue
            if _explained(event, detection.name, alert):
                decision = ("dismiss", "routine for this account and binary")
            rank = _SEVERITY.index(decision[0])
            if best is None or rank > best[0]:
                best = (rank, decision[0], decision[1], event.log_id)
    if best is None:
        return SubmitTriage(action="dismiss", cited_log_id=alert.events[0].log_id, rationale="no detection in the window")
    return SubmitTriage(action=best[1], cited_log_id=best[3], rationale=best[2])


def always_dismiss(alert: Alert) -> SubmitTriage:
    """The floor: closes everything."""
    return _triage(alert, "dismiss", "closed")


def always_escalate(alert: Alert) -> SubmitTriage:
    """Pages incident response for everything."""
    return _triage(alert, "escalate", "escalated")


DEFENDER_POLICIES: dict[str, DefenderPolicy] = {
    "analyst": analyst,
    "heuristic": heuristic,
    "always_dismiss": always_dismiss,
    "always_escalate": always_escalate,
}
