"""Default-deny admission: a crafted incident is adjudicated only when the verifier understands every value of every
event; anything else is refused with a code that names the value and what was expected.

``check_plausibility`` runs the checks below and reports every ``Violation``. They fall in five groups:

- identity and time: duplicate ids and copies, order, the world's epoch, the window's length, causes after effects;
- the world: hosts, accounts, groups, mailboxes and internal addresses the inventory has; outside addresses that can
  be on the internet; which log sources and event kinds a host's OS and role can produce, and which fields each
  source records;
- physics: a connection's state against its bytes, a protocol against its transport, bytes against the flow's
  duration and the host's link, one address family per flow, names a resolver could send;
- reading: every process image, command line, cmdlet, stored command, URL and registry place resolves in the
  software catalog and the parsers (``world.catalog``, ``parsing``), or the event is refused, never taken as benign;
- explanation: every event is accounted for by a verdict rule or an ordinary activity of the world
  (``verifier.explain``), and the declared category is depicted by the rules that carry it.

No check reads the verdict it gates (``truth`` is accepted for symmetry and never read).
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from pydantic import Field

from ..parsing.normalize import NormalizedEvent, has_posix_form, has_windows_form
from ..parsing.urls import dns_name_problem, find_urls
from ..schema import (
    BENIGN_CATEGORIES,
    Authentication,
    DnsQuery,
    EmailReceived,
    FileActivity,
    GroupMembershipChange,
    HttpRequest,
    IncidentParams,
    NetworkConnection,
    ProcessAccess,
    ProcessStart,
    RegistrySet,
    StrictModel,
)
from ..verifier import CATEGORY_DEPICTIONS, THRESHOLDS, GroundTruth, Window, explain
from ..world.catalog import OFFICE
from ..world.inventory import EMAIL_DOMAIN, INVENTORY, is_internal_ip, is_routable_external_ip

# Numeric limits of the world's physics and of a plausible window, rendered into docs/verifier.md.
LIMITS: dict[str, tuple[float, str]] = {
    "max_window_s": (86_400, "longest plausible span of one incident's log window, in seconds"),
    "max_identical_events": (2, "events identical in every field but log_id that one window may hold"),
    "link_bits_per_s": (10_000_000_000, "the fastest link a host of the world has (10 Gbit/s): a flow's bytes over its duration"),
    "instant_bytes": (1_000_000, "bytes a flow of duration 0 may carry"),
}
# The world's epoch: its logs are from this year.
WORLD_TIME_RANGE = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC))


def _limit(name: str) -> float:
    return LIMITS[name][0]


class Violation(StrictModel):
    """A refusal with a stable machine-readable code."""

    code: str
    message: str
    log_id: str | None = None


class PlausibilityReport(StrictModel):
    ok: bool
    violations: list[Violation] = Field(description="Every reason the incident is refused; empty when it is admitted.")


# code -> what it refuses; rendered into docs/verifier.md. Codes are stable API.
PLAUSIBILITY_CODES: dict[str, str] = {
    "DUPLICATE_LOG_ID": "two events share a log_id",
    "DUPLICATE_EVENTS": "more than max_identical_events events are identical in every field but log_id",
    "TIMESTAMP_ORDER": "events are not in non-decreasing time order",
    "TIMESTAMP_RANGE": "an event's time lies outside the world's epoch (2026)",
    "WINDOW_TOO_LONG": "the log window spans more than max_window_s seconds",
    "CAUSE_AFTER_EFFECT": "an effect precedes its cause: a child process before its parent's start, an Office child process before the mail that delivered to its user, a success before the brute-force failures it would follow",
    "UNKNOWN_HOST": "an event's host is not in the asset inventory",
    "UNKNOWN_USER": "an event's user is not in the directory (failed logons may name unknown accounts)",
    "UNKNOWN_GROUP": "a group membership change names a group (or SID) that is not in the directory",
    "UNKNOWN_MAILBOX": "a message is delivered to an address no mailbox of the directory has, or logged for another user than its recipient",
    "BUILTIN_IN_DOMAIN_GROUP": "a built-in account (SYSTEM, a local service) is added to a domain group, which Windows does not allow",
    "HOST_IP_MISMATCH": "a network event's host owns neither its source.ip nor its destination.ip",
    "INTERNAL_IP_UNASSIGNED": "an address inside an internal subnet belongs to no inventory host",
    "INVALID_IP": "an outside address is not routable (loopback, multicast, link-local, reserved, documentation or foreign private)",
    "INVALID_PORT": "a TCP or UDP port is 0, or an ICMP record carries ports",
    "ADDRESS_FAMILY": "one flow joins an IPv4 and an IPv6 address",
    "CONN_STATE_BYTES": "a connection Zeek saw refused or unanswered (S0, REJ, RSTOS0, SH) carries payload bytes",
    "PROTOCOL_TRANSPORT": "an application protocol runs over a transport it never uses (TLS or HTTP over UDP, DNS over ICMP)",
    "LINK_RATE": "a flow moves more bytes than the host's link carries in its duration",
    "SOURCE_FIELDS": "an event carries a field its log source never records (bytes, duration or state on a Sysmon network event)",
    "OS_MISMATCH": "a host cannot produce this log source or event kind: Windows logs, registry, LSASS, Windows paths or SYSTEM on Linux; Linux paths on Windows; process, file or registry telemetry from a Linux host, which the world does not collect",
    "ROLE_MISMATCH": "the host cannot log this: mail off the mail gateway, a domain group change off a domain controller, a DNS query to an internal address that is no resolver",
    "EVENT_ID_MISMATCH": "winlog.event_id contradicts the event: its source, its outcome (4624/4625), its file action (11 create, 23 delete) or its group's scope (4728 global, 4732 local, 4756 universal)",
    "PROCESS_MISSING": "a process, process-access or registry event names no process",
    "INVALID_NAME": "a DNS name or a URL host that could not be on the wire: a label over 63 characters, a name over 253, characters no resolver sends, a numeric host that is no address",
    "UNKNOWN_PROGRAM": "a process image, an accessing process, a program a command line runs or a cmdlet is not in the software catalog (and, for a program, does not run from a folder any user can write to)",
    "UNKNOWN_FORM": "a living-off-the-land binary or remote tool is used in a form the catalog does not list",
    "UNMODELLED_VALUE": "a value the verifier cannot read: an unresolved obfuscation, an encoded command that does not decode, an unknown powershell.exe parameter, a short (8.3) or stream file name, a registry path in no hive, process.name and process.executable naming different files, a character no log shows as written (a control or format character such as a zero-width space or a right-to-left override, a space other than U+0020, a combining mark left after NFC composition, a value not in Unicode's NFC form)",
    "HTTP_FORM": "an HTTP request whose method and path do not fit (a CONNECT to a path rather than host:port)",
    "UNEXPLAINED_EVENT": "no verdict rule and no ordinary activity of the world accounts for an event: the verifier cannot say what it is, so it does not say it is benign",
    "EXFIL_INTERNAL_DESTINATION": "a data_exfiltration incident sends ≥ exfil_internal_bytes to an internal address",
    "CATEGORY_NOT_DEPICTED": "no rule of the declared category fires (see the category depictions)",
    "CATEGORY_LABEL_MISMATCH": "target_label claims benign for a malicious category, or an attack for a benign one",
}


def _logged(n: NormalizedEvent) -> Any:
    """The event as logged, for the checks that read one schema type's fields after selecting it by type."""
    return n.event


def _violation(code: str, message: str, log_id: str | None = None) -> Violation:
    assert code in PLAUSIBILITY_CODES, code
    return Violation(code=code, message=message, log_id=log_id)


# -------------------------------------------------------------------------------------------- identity and time


def _check_identity(params: IncidentParams) -> list[Violation]:
    out, seen = [], set()
    copies: dict[str, list[str]] = defaultdict(list)
    for e in params.events:
        if e.log_id in seen:
            out.append(_violation("DUPLICATE_LOG_ID", f"log_id {e.log_id!r} appears more than once", e.log_id))
        seen.add(e.log_id)
        copies[e.model_dump_json(exclude={"log_id"})].append(e.log_id)
    for ids in copies.values():
        if len(ids) > _limit("max_identical_events"):
            out.append(_violation("DUPLICATE_EVENTS", f"{len(ids)} events ({', '.join(ids[:4])}, ...) are identical but "
                                  f"for their log_id; at most {_limit('max_identical_events'):.0f} are plausible", ids[0]))
    return out


def _check_time(w: Window) -> list[Violation]:
    out = []
    times = [(n.log_id, n.time) for n in w.events]
    for (_, a), (lid, b) in zip(times, times[1:], strict=False):
        if b < a:
            out.append(_violation("TIMESTAMP_ORDER", f"{lid} is earlier than the event before it", lid))
    low, high = WORLD_TIME_RANGE
    for lid, t in times:
        if not low <= t <= high:
            out.append(_violation("TIMESTAMP_RANGE", f"{lid} is dated {t:%Y-%m-%d}; the world's logs are from "
                                  f"{low:%Y-%m-%d} to {high:%Y-%m-%d}", lid))
    span = (max(t for _, t in times) - min(t for _, t in times)).total_seconds()
    if span > _limit("max_window_s"):
        out.append(_violation("WINDOW_TOO_LONG", f"the window spans {span:.0f} s; at most {_limit('max_window_s'):.0f} s "
                              "is plausible"))
    return out


def _check_causes(w: Window) -> list[Violation]:
    out = []
    starts: dict[tuple[str | None, str | None], list[datetime]] = defaultdict(list)
    for n in w.processes:
        starts[(n.host_name, n.image)].append(n.time)
    mail_to: dict[str | None, list[datetime]] = defaultdict(list)
    for n in w.of(EmailReceived):
        user = INVENTORY.user(_logged(n).to_address.split("@")[0])
        mail_to[user.name if user else None].append(n.time)
    for n in w.processes:
        parents = starts.get((n.host_name, n.parent_image), [])
        if parents and all(t > n.time for t in parents):
            out.append(_violation("CAUSE_AFTER_EFFECT", f"{n.log_id} starts before its parent {n.parent_image} does", n.log_id))
        mails = mail_to.get(n.user, [])
        if n.parent_image in OFFICE and mails and all(t > n.time for t in mails):
            out.append(_violation("CAUSE_AFTER_EFFECT", f"{n.log_id} runs from {n.parent_image} before any mail reaches "
                                  f"{n.user}", n.log_id))
    successes = [n for n in w.of(Authentication) if _logged(n).outcome == "success"]
    for _, sources, failures in w.brute_force_campaigns:
        first_fail = min(n.time for n in failures)
        targeted = {n.user for n in failures}
        for n in successes:
            if n.user in targeted and _logged(n).source_ip in sources and n.time < first_fail:
                out.append(_violation("CAUSE_AFTER_EFFECT", f"{n.log_id}: the success precedes the failures from "
                                      f"{_logged(n).source_ip}", n.log_id))
    return out


# ---------------------------------------------------------------------------------------------------- the world


def _check_ip(ip: str, log_id: str) -> list[Violation]:
    if is_internal_ip(ip):
        if INVENTORY.host_by_ip(ip) is None:
            return [_violation("INTERNAL_IP_UNASSIGNED", f"{ip} is internal but assigned to no inventory host", log_id)]
        return []
    if not is_routable_external_ip(ip):
        return [_violation("INVALID_IP", f"{ip} is not a routable outside address", log_id)]
    return []


def _check_entities(w: Window) -> list[Violation]:
    out = []
    for n in w.events:
        e, host = _logged(n), n.host
        if host is None:
            out.append(_violation("UNKNOWN_HOST", f"host {e.host!r} is not in the inventory", e.log_id))
        failed_logon = isinstance(e, Authentication) and e.outcome == "failure"
        if e.user is not None and INVENTORY.user(e.user) is None and not failed_logon:
            out.append(_violation("UNKNOWN_USER", f"user {e.user!r} is not in the directory", e.log_id))
        if isinstance(e, GroupMembershipChange):
            member = INVENTORY.user(e.member)
            if member is None:
                out.append(_violation("UNKNOWN_USER", f"member {e.member!r} is not in the directory", e.log_id))
            elif member.name == "SYSTEM" and n.group is not None and n.group.scope != "builtin":
                out.append(_violation("BUILTIN_IN_DOMAIN_GROUP", f"{e.member!r} is a built-in account; Windows does not "
                                      f"add it to the domain group {n.group.name}", e.log_id))
            if n.group is None:
                out.append(_violation("UNKNOWN_GROUP", f"group {e.group_name!r} is not in the directory", e.log_id))
        if isinstance(e, EmailReceived):
            local, _, domain = e.to_address.lower().partition("@")
            mailbox = INVENTORY.user(local) if domain == EMAIL_DOMAIN else None
            if mailbox is None or mailbox.kind != "human":
                out.append(_violation("UNKNOWN_MAILBOX", f"{e.to_address!r} is no mailbox of the directory "
                                      f"(mailboxes are <user>@{EMAIL_DOMAIN})", e.log_id))
            elif e.user is not None and INVENTORY.user(e.user) is not mailbox:
                out.append(_violation("UNKNOWN_MAILBOX", f"a message to {e.to_address!r} is logged for {e.user!r}",
                                      e.log_id))
        ips = [ip for ip in (vars(e).get("source_ip"), vars(e).get("destination_ip")) if ip]
        for ip in ips:
            out.extend(_check_ip(ip, e.log_id))
        if isinstance(e, (NetworkConnection, DnsQuery, HttpRequest)) and host is not None and host.ip not in ips:
            out.append(_violation("HOST_IP_MISMATCH", f"host {host.name} ({host.ip}) is neither end of {ips[0]} → {ips[1]}", e.log_id))
    return out


# Which winlog.event_id each (source, event type) may carry; None means the source writes no Windows event id.
_EVENT_IDS: dict[tuple[str, str], set[int] | None] = {
    ("sysmon", "process_start"): {1}, ("sysmon", "network_connection"): {3}, ("sysmon", "process_access"): {10},
    ("sysmon", "file_activity"): {11, 23}, ("sysmon", "registry_set"): {13}, ("sysmon", "dns_query"): {22},
    ("windows_security", "process_start"): {4688}, ("windows_security", "authentication"): {4624, 4625},
    ("windows_security", "group_membership_change"): {4728, 4732, 4756},
}
_SCOPE_EVENT_ID = {"global": 4728, "universal": 4756, "domain_local": 4732, "builtin": 4732}


def _check_event_ids(w: Window) -> list[Violation]:
    out = []
    for n in w.events:
        e = _logged(n)
        eid = vars(e).get("winlog_event_id")
        if eid is None:
            continue
        allowed = _EVENT_IDS.get((e.source, e.event_type))
        wrong = allowed is None or eid not in allowed
        wrong |= isinstance(e, Authentication) and (eid == 4624) != (e.outcome == "success")
        wrong |= isinstance(e, FileActivity) and ((eid == 11) != (e.action == "creation") or (eid == 23) != (e.action == "deletion"))
        wrong |= isinstance(e, GroupMembershipChange) and n.group is not None and eid != _SCOPE_EVENT_ID[n.group.scope]
        if wrong:
            out.append(_violation("EVENT_ID_MISMATCH", f"winlog.event_id {eid} does not fit a {e.source} {e.event_type}", e.log_id))
    return out


_WINDOWS_ONLY_SOURCES = frozenset({"sysmon", "windows_security"})
# What a Linux host of the world logs: network sensors see its flows, names and web requests; its SSH daemon logs
# logons. No process, file or registry telemetry is collected from it.
_LINUX_EVENT_TYPES = frozenset({"network_connection", "dns_query", "http_request", "authentication"})


def _check_sources(w: Window) -> list[Violation]:
    out = []
    for n in w.events:
        e, host = _logged(n), n.host
        if host is None:
            continue
        paths = [vars(e).get(f) for f in ("process_executable", "file_path", "target_image")]
        why = None
        if host.os_family == "linux":
            why = ("a Windows log source" if e.source in _WINDOWS_ONLY_SOURCES
                   else f"a {e.event_type} (the world collects no process, file or registry telemetry from Linux hosts)"
                   if e.event_type not in _LINUX_EVENT_TYPES
                   else "a Windows path" if any(has_windows_form(p) for p in paths)
                   else "the Windows SYSTEM account" if (n.user or "").lower() == "system"
                   else "a Windows logon type" if isinstance(e, Authentication) and e.logon_type is not None
                   else None)
        elif any(has_posix_form(p) for p in paths):
            why = "a Linux path"
        if why:
            out.append(_violation("OS_MISMATCH", f"{host.name} runs {host.os}; {e.log_id} carries {why}", e.log_id))
        if isinstance(e, NetworkConnection) and e.source == "sysmon" and (
                e.source_bytes or e.destination_bytes or e.conn_state or e.event_duration is not None):
            out.append(_violation("SOURCE_FIELDS", f"{e.log_id}: Sysmon's network connection event records no bytes, "
                                  "duration or connection state", e.log_id))
    return out


def _check_roles(w: Window) -> list[Violation]:
    out = []
    for n in w.events:
        e, host = _logged(n), n.host
        if host is None:
            continue
        if isinstance(e, EmailReceived) and "mail_gateway" not in host.functions:
            out.append(_violation("ROLE_MISMATCH", f"{host.name} is not the mail gateway", e.log_id))
        if isinstance(e, GroupMembershipChange) and n.group is not None and n.group.scope != "builtin" \
                and "domain_controller" not in host.functions:
            out.append(_violation("ROLE_MISMATCH", f"{n.group.name} is a domain group; {host.name} is not a domain controller", e.log_id))
        if isinstance(e, DnsQuery) and is_internal_ip(e.destination_ip) and e.destination_ip != host.ip:
            resolver = INVENTORY.host_by_ip(e.destination_ip)
            if resolver is None or "dns_resolver" not in resolver.functions:
                out.append(_violation("ROLE_MISMATCH", f"{e.destination_ip} answers no DNS", e.log_id))
    return out


# ------------------------------------------------------------------------------------------------------ physics

_TCP_PROTOCOLS = frozenset({"ssl", "tls", "http", "smb", "ssh", "rdp", "ftp", "smtp", "ldap_tcp", "mysql", "imap",
                            "pop3", "irc", "socks"})
_UDP_PROTOCOLS = frozenset({"ntp", "dhcp", "snmp", "syslog", "quic"})
_BOTH = frozenset({"dns", "krb", "krb_tcp", "ldap", "ldap_udp", "dce_rpc", "sip"})
_SILENT_STATES = frozenset({"S0", "REJ", "RSTOS0", "SH"})


def _check_physics(w: Window) -> list[Violation]:
    out = []
    for n in w.of(NetworkConnection):
        e = _logged(n)
        if (":" in e.source_ip) != (":" in e.destination_ip):
            out.append(_violation("ADDRESS_FAMILY", f"{e.log_id} joins {e.source_ip} and {e.destination_ip}", e.log_id))
        if e.network_transport in ("tcp", "udp") and 0 in (e.source_port, e.destination_port):
            out.append(_violation("INVALID_PORT", "port 0 is not a valid TCP/UDP port", e.log_id))
        if e.network_transport == "icmp" and (e.source_port > 255 or e.destination_port > 255):
            out.append(_violation("INVALID_PORT", "an ICMP record carries a type and a code (0-255), not ports", e.log_id))
        if e.conn_state in _SILENT_STATES and (e.source_bytes or e.destination_bytes):
            out.append(_violation("CONN_STATE_BYTES", f"{e.log_id}: state {e.conn_state} means no payload was exchanged, "
                                  f"yet {e.source_bytes + e.destination_bytes} bytes are logged", e.log_id))
        protocol = (e.network_protocol or "").lower()
        if protocol:
            fits = (protocol in _BOTH and e.network_transport != "icmp"
                    or protocol in _TCP_PROTOCOLS and e.network_transport == "tcp"
                    or protocol in _UDP_PROTOCOLS and e.network_transport == "udp")
            known = protocol in _BOTH | _TCP_PROTOCOLS | _UDP_PROTOCOLS
            if not known:
                out.append(_violation("UNMODELLED_VALUE", f"{e.log_id}: network.protocol {protocol[:32]!r} is no "
                                      "protocol Zeek names", e.log_id))
            elif not fits:
                out.append(_violation("PROTOCOL_TRANSPORT", f"{e.log_id}: {protocol} does not run over "
                                      f"{e.network_transport}", e.log_id))
        out.extend(_rate(e.log_id, e.source_bytes + e.destination_bytes, e.event_duration))
    for n in w.of(HttpRequest):
        e = _logged(n)
        if (":" in e.source_ip) != (":" in e.destination_ip):
            out.append(_violation("ADDRESS_FAMILY", f"{e.log_id} joins {e.source_ip} and {e.destination_ip}", e.log_id))
        if e.method == "CONNECT" and not _authority(e.url_path):
            out.append(_violation("HTTP_FORM", f"{e.log_id}: a CONNECT names host:port, not the path {e.url_path[:60]!r}",
                                  e.log_id))
    return out


def _authority(path: str) -> bool:
    host, _, port = path.rpartition(":")
    return bool(host) and port.isdigit() and "/" not in host


def _rate(log_id: str, total: int, duration: float | None) -> list[Violation]:
    if duration is None:
        return []
    if duration == 0:
        if total > _limit("instant_bytes"):
            return [_violation("LINK_RATE", f"{log_id}: {total} bytes in a flow of duration 0", log_id)]
        return []
    if total * 8 / duration > _limit("link_bits_per_s"):
        return [_violation("LINK_RATE", f"{log_id}: {total} bytes in {duration:g} s is {total * 8 / duration / 1e9:.1f} "
                           f"Gbit/s; the fastest link of the world carries {_limit('link_bits_per_s') / 1e9:g}", log_id)]
    return []


# ------------------------------------------------------------------------------------------------------ reading


def _check_names(w: Window) -> list[Violation]:
    out = []
    for n in w.events:
        e = _logged(n)
        names = []
        if isinstance(e, DnsQuery):
            names.append(("dns.question.name", e.question_name))
        if isinstance(e, HttpRequest):
            names.append(("url.domain", e.url_domain))
        if isinstance(e, EmailReceived) and e.link_domain:
            names.append(("url.domain", e.link_domain))
        for field, name in names:
            problem = dns_name_problem(name)
            if problem:
                out.append(_violation("INVALID_NAME", f"{e.log_id}: {field} is {problem}", e.log_id))
    for log_id, judged in w.judgments.items():
        for inv, _ in judged:
            for url in find_urls(inv.text):
                if url.problem:
                    out.append(_violation("INVALID_NAME", f"{log_id}: the URL {url.raw[:60]!r}: {url.problem}", log_id))
    return out


# Free-text fields, where a log keeps tabs and line breaks as written (a PowerShell script's new lines); in every
# other field (paths, names, addresses) a control character is no part of a value any system logs.
_TEXT_FIELDS = frozenset({"process.command_line", "registry.data.strings", "email.subject", "user_agent.original"})
_UNSHOWN = frozenset({"Cf", "Cs", "Co", "Cn", "Zl", "Zp"})  # format, surrogate, private, unassigned, separators


def unreadable_character(value: str, text: bool = False) -> str | None:
    """What in ``value`` a log does not show as written, or None: a control character (tabs and line breaks allowed
    in free ``text``), a format character (a zero-width space, a joiner, a byte-order mark, a bidirectional
    override), a line or paragraph separator, a space other than U+0020, a combining mark left over after NFC
    composition (the world's programs, paths, names and scripts have none), or a decomposed form (not NFC). Such a
    value reads as one thing to an analyst and as another to the system that would have logged it (``svchost.exe``
    with a zero-width space first is no file in System32), so it is refused, never read as if the character were
    not there."""
    if unicodedata.normalize("NFC", value) != value:
        return "a decomposed character (the value is not in Unicode's NFC form)"
    for ch in value:
        category = unicodedata.category(ch)
        if (category in _UNSHOWN or (category == "Cc" and not (text and ch in "\t\r\n"))
                or (category == "Zs" and ch != " ") or category in ("Mn", "Me")):
            return f"U+{ord(ch):04X} ({unicodedata.name(ch, 'a character with no name').lower()})"
    return None


def _check_characters(params: IncidentParams) -> list[Violation]:
    out = []
    for e in params.events:
        for field, value in e.model_dump(mode="json", by_alias=True, exclude_none=True).items():
            if isinstance(value, str) and (problem := unreadable_character(value, field in _TEXT_FIELDS)):
                out.append(_violation("UNMODELLED_VALUE", f"{e.log_id}: {field} holds {problem}, which no log shows as "
                                      "written", e.log_id))
    return out


def _check_processes(w: Window) -> list[Violation]:
    return [_violation("PROCESS_MISSING", f"{n.event_type} event names no process (process.name)", n.log_id)
            for n in w.of(ProcessStart, ProcessAccess, RegistrySet) if not _logged(n).process_name]


def _check_readable(w: Window) -> list[Violation]:
    out = [_violation("UNMODELLED_VALUE", f"{n.log_id}: {why}", n.log_id) for n in w.events for why in n.unmodelled]
    for log_id, judged in w.judgments.items():
        for _, judgment in judged:
            if judgment.problem is None:
                continue
            code = "UNKNOWN_FORM" if judgment.program is not None or judgment.known else "UNKNOWN_PROGRAM"
            out.append(_violation(code, f"{log_id}: {judgment.problem}", log_id))
    return out


# -------------------------------------------------------------------------------------------------- explanation


def _check_explained(w: Window) -> list[Violation]:
    return [_violation("UNEXPLAINED_EVENT", f"{x.log_id}: no verdict rule and no ordinary activity of the world accounts "
                       f"for this {next(n.event_type for n in w.events if n.log_id == x.log_id)}", x.log_id)
            for x in explain(w) if not x.explained]


def _check_category(params: IncidentParams, w: Window) -> list[Violation]:
    out = []
    benign_category = params.category in BENIGN_CATEGORIES
    benign_label = params.target_label in ("benign", "dismiss")
    if benign_category != benign_label:
        out.append(_violation("CATEGORY_LABEL_MISMATCH", f"category {params.category} is "
                              f"{'benign' if benign_category else 'malicious'} but target_label is {params.target_label}"))
    what, depicted = CATEGORY_DEPICTIONS[params.category]
    if not depicted(w):
        out.append(_violation("CATEGORY_NOT_DEPICTED", f"category {params.category} is carried by {what}; none fires"))
    if params.category == "data_exfiltration":
        for n in w.of(NetworkConnection, HttpRequest):
            if is_internal_ip(_logged(n).destination_ip) and _logged(n).source_bytes >= THRESHOLDS["exfil_internal_bytes"][0]:
                out.append(_violation("EXFIL_INTERNAL_DESTINATION",
                                      f"{_logged(n).source_bytes} bytes go to internal address {_logged(n).destination_ip}", n.log_id))
    return out


def check_plausibility(params: IncidentParams, truth: GroundTruth | None = None, window: Window | None = None) -> PlausibilityReport:
    """Whether ``params`` lies inside the world the verdict models and every value of it is read. ``truth`` is
    accepted for symmetry with the scoring path but never read: no check may depend on the verdict it gates."""
    del truth
    w = window or Window(params)
    violations = (
        _check_identity(params)
        + _check_time(w)
        + _check_causes(w)
        + _check_entities(w)
        + _check_event_ids(w)
        + _check_sources(w)
        + _check_roles(w)
        + _check_physics(w)
        + _check_processes(w)
        + _check_names(w)
        + _check_characters(params)
        + _check_readable(w)
    )
    if not violations:  # what explains an event is asked only of events that are read
        violations += _check_explained(w) + _check_category(params, w)
    else:
        violations += [v for v in _check_category(params, w) if v.code == "CATEGORY_LABEL_MISMATCH"]
    return PlausibilityReport(ok=not violations, violations=violations)
