"""Materialise the SIEM alert a defender sees from an incident's events.

The alert is what a detection pipeline would raise: surface detections (``DETECTIONS``)
that match attacks and their benign look-alikes alike, a severity, ATT&CK technique ids,
inventory-enriched entities and a templated summary. It is built from ``events`` only;
the incident's ``category``, ``target_label`` and ``narrative`` never reach it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PureWindowsPath

from ..parsing.commandline import normalize_command_line
from ..parsing.normalize import effective_image
from ..schema import (
    SEVERITIES,
    Alert,
    AlertEntities,
    Authentication,
    DnsQuery,
    DomainEntity,
    EmailReceived,
    FileActivity,
    GroupMembershipChange,
    HostEntity,
    HttpRequest,
    IncidentParams,
    IpEntity,
    NetworkConnection,
    ProcessAccess,
    ProcessStart,
    RegistrySet,
    UserEntity,
)
from ..world.attack import TECHNIQUES
from ..world.inventory import INVENTORY, is_internal_ip


@dataclass(frozen=True)
class Detection:
    """A SIEM correlation rule: a surface pattern on one event."""

    name: str
    severity: str
    technique_ids: tuple[str, ...]
    matches: Callable[[object], bool]


def _cmd(e) -> str:
    return normalize_command_line(vars(e).get("process_command_line"))


_SCRIPTING = ("powershell.exe", "pwsh.exe", "certutil.exe", "mshta.exe", "rundll32.exe", "regsvr32.exe", "bitsadmin.exe")

DETECTIONS: tuple[Detection, ...] = (
    Detection("Shadow copy or recovery tampering", "critical", ("T1490",),
              lambda e: isinstance(e, ProcessStart) and any(k in _cmd(e) for k in ("shadow", "wbadmin", "recoveryenabled"))),
    Detection("Mass file rename or modification", "critical", ("T1486",),
              lambda e: isinstance(e, FileActivity) and e.action in ("rename", "modification") and e.file_count >= 50),
    Detection("LSASS process access", "high", ("T1003.001",),
              lambda e: isinstance(e, ProcessAccess) and e.target_image.lower().endswith("lsass.exe")),
    Detection("Credential dumping tool usage", "high", ("T1003.001",),
              lambda e: isinstance(e, ProcessStart) and ("lsass" in _cmd(e) or "minidump" in _cmd(e))),
    Detection("Privileged group membership change", "high", ("T1098.007",),
              lambda e: isinstance(e, GroupMembershipChange)),
    Detection("Office application spawned a child process", "high", ("T1204.002",),
              lambda e: isinstance(e, ProcessStart) and (e.process_parent_name or "").lower().endswith(
                  ("winword.exe", "excel.exe", "powerpnt.exe", "outlook.exe"))),
    Detection("Remote execution tool launched", "medium", ("T1569.002", "T1021.002"),
              lambda e: isinstance(e, ProcessStart) and (effective_image(e) in ("psexec.c", "psexec.exe", "psexec64.exe", "paexec.exe", "winrs.exe")
                                                         or "/node:" in _cmd(e) or "-computername" in _cmd(e))),
    Detection("Scripting engine or LOLBin with arguments of interest", "medium", ("T1059.001", "T1218.011"),
              lambda e: isinstance(e, ProcessStart) and effective_image(e) in _SCRIPTING
              and any(k in _cmd(e) for k in ("-enc", "-e ", "http", "iex", "download", "urlcache", "decode", ".dll", "scrobj"))),
    Detection("Installer executed", "low", ("T1204.002",),
              lambda e: isinstance(e, ProcessStart) and effective_image(e) == "msiexec.exe"),
    Detection("Account or group discovery command", "low", ("T1087.002", "T1069.002"),
              lambda e: isinstance(e, ProcessStart) and any(k in _cmd(e) for k in ("/domain", "nltest", "whoami", "adfind", "get-ad"))),
    Detection("Registry Run key modified", "medium", ("T1547.001",),
              lambda e: isinstance(e, RegistrySet) and "\\currentversion\\run" in e.registry_path.lower()),
    Detection("Large outbound transfer", "medium", ("T1048", "T1567.002"),
              lambda e: isinstance(e, (NetworkConnection, HttpRequest)) and not is_internal_ip(e.destination_ip)
              and e.source_bytes >= 20_000_000),
    Detection("Large download from the internet", "low", ("T1105",),
              lambda e: isinstance(e, (NetworkConnection, HttpRequest)) and not is_internal_ip(e.destination_ip)
              and e.destination_bytes >= 1_000_000),
    Detection("Long DNS query names", "medium", ("T1071.004", "T1048.003"),
              lambda e: isinstance(e, DnsQuery) and len(e.question_name.split(".")[0]) >= 24),
    Detection("Email with attachment or link from an outside sender", "medium", ("T1566.001", "T1566.002"),
              lambda e: isinstance(e, EmailReceived) and (e.attachment_name is not None or e.link_domain is not None)),
    Detection("Failed logon", "low", ("T1110.001",),
              lambda e: isinstance(e, Authentication) and e.outcome == "failure"),
    Detection("Remote interactive logon", "medium", ("T1021.001",),
              lambda e: isinstance(e, Authentication) and e.outcome == "success" and e.logon_type == 10),
    Detection("Connection attempts to internal services", "medium", ("T1046",),
              lambda e: isinstance(e, NetworkConnection) and is_internal_ip(e.destination_ip) and e.conn_state in ("S0", "REJ")),
    Detection("Repeated outbound connections", "low", ("T1071.001",),
              lambda e: isinstance(e, (NetworkConnection, HttpRequest)) and not is_internal_ip(e.destination_ip)
              and e.source_bytes < 20_000),
)
assert all(t in TECHNIQUES for d in DETECTIONS for t in d.technique_ids)

_FALLBACK = Detection("Activity for review", "low", (), lambda e: True)


def _bump(severity: str) -> str:
    return SEVERITIES[min(SEVERITIES.index(severity) + 1, len(SEVERITIES) - 1)]


def _entities(params: IncidentParams) -> AlertEntities:
    hosts: dict[str, HostEntity] = {}
    users: dict[str, UserEntity] = {}
    ips: dict[str, IpEntity] = {}
    domains: dict[str, DomainEntity] = {}

    def add_host(name: str) -> None:
        if name in hosts:
            return
        h = INVENTORY.host(name)
        hosts[name] = HostEntity(name=name, ip=h.ip if h else None, role=h.role if h else None,
                                 critical=bool(h and h.critical), owner=h.owner if h else None)

    def add_user(name: str | None) -> None:
        if not name or name in users:
            return
        u = INVENTORY.user(name)
        users[name] = UserEntity(name=name, groups=list(u.groups) if u else [], kind=u.kind if u else "unknown",
                                 it_admin=INVENTORY.is_it_admin(name))

    def add_ip(ip: str | None) -> None:
        if not ip or ip in ips:
            return
        if is_internal_ip(ip):
            owner = INVENTORY.host_by_ip(ip)
            ips[ip] = IpEntity(ip=ip, scope="internal", host=owner.name if owner else None)
        else:
            svc = INVENTORY.service_by_ip(ip)
            ips[ip] = IpEntity(ip=ip, scope="external", known_good_service=svc.name if svc else None)

    def add_domain(domain: str | None) -> None:
        if not domain or domain in domains or len(domains) >= 32:
            return
        svc = INVENTORY.service_by_domain(domain)
        domains[domain] = DomainEntity(domain=domain, known_good_service=svc.name if svc else None)

    for e in params.events:
        add_host(e.host)
        add_user(e.user)
        add_ip(vars(e).get("source_ip"))
        add_ip(vars(e).get("destination_ip"))
        add_domain(vars(e).get("url_domain") or vars(e).get("link_domain"))
        if isinstance(e, DnsQuery):
            add_domain(".".join(e.question_name.rstrip(".").split(".")[-2:]))
        if isinstance(e, GroupMembershipChange):
            add_user(e.member)
    return AlertEntities(hosts=list(hosts.values()), users=list(users.values()), ips=list(ips.values()),
                         domains=list(domains.values()))


def _describe(e) -> str:
    if isinstance(e, ProcessStart):
        return f"{PureWindowsPath(e.process_name or '?').name} started by {e.user or 'unknown user'} on {e.host}"
    if isinstance(e, ProcessAccess):
        return f"{e.process_name or '?'} opened {PureWindowsPath(e.target_image).name} on {e.host}"
    if isinstance(e, (NetworkConnection, HttpRequest)):
        return f"{e.source_ip} → {e.destination_ip} ({e.source_bytes} bytes out, {e.destination_bytes} in)"
    if isinstance(e, DnsQuery):
        return f"{e.host} looked up {e.question_name[:80]}"
    if isinstance(e, EmailReceived):
        return f"mail for {e.to_address} from {e.from_address}"
    if isinstance(e, Authentication):
        return f"logon {e.outcome} for {e.user} on {e.host} from {e.source_ip}"
    if isinstance(e, FileActivity):
        return f"{e.file_count} file(s) {e.action} under {e.file_path} on {e.host}"
    if isinstance(e, GroupMembershipChange):
        return f"{e.member} added to {e.group_name} by {e.user}"
    return f"{e.event_type} on {e.host}"


def detections_matching(event) -> list[Detection]:
    """The SIEM detections one event trips, most severe first."""
    return sorted((d for d in DETECTIONS if d.matches(event)), key=lambda d: -SEVERITIES.index(d.severity))


def materialize_alert(params: IncidentParams) -> Alert:
    """The alert for ``params``: the most severe detection that matches any event (earliest on ties)."""
    matched = [(d, i, e) for i, e in enumerate(params.events) for d in DETECTIONS if d.matches(e)]
    if matched:
        primary, _, event = max(matched, key=lambda m: (SEVERITIES.index(m[0].severity), -m[1]))
    else:
        primary, event = _FALLBACK, params.events[0]
    host = INVENTORY.host(event.host)
    severity = _bump(primary.severity) if host is not None and host.critical else primary.severity
    techniques = sorted({t for d, _, _ in matched for t in d.technique_ids})
    times = [e.timestamp for e in params.events]
    digest = hashlib.sha256(params.model_dump_json(include={"events"}).encode()).hexdigest()[:12]
    summary = (f"{primary.name}: {_describe(event)} (log {event.log_id}). "
               f"{len(params.events)} event(s) in the window from {min(times)} to {max(times)}.")
    return Alert(
        alert_id=f"ALERT-{digest}",
        rule_name=primary.name,
        severity=severity,
        technique_ids=techniques[:32],
        entities=_entities(params),
        summary=summary[:1024],
        first_seen=min(times),
        last_seen=max(times),
        events=list(params.events),
    )
