"""Ground truth and plausibility, computed from an incident's structured events alone.

``compute_ground_truth`` runs the verdict rule table (``VERDICT_RULES``) over the events
and the asset inventory; ``check_plausibility`` decides whether an attacker's incident is
a coherent one. Neither reads ``narrative`` or ``target_label``, and free-text fields are
only ever matched against fixed detection patterns, never interpreted as instructions.

Invariants:
- the verdict depends only on ``params.events`` (and the fixed inventory);
- the verdict is the most severe action among the malicious rules that fire, ordered
  ``escalate > quarantine_host > block_ip > monitor``; with none, it is ``dismiss``;
- a quarantine-class finding on a critical asset is escalated.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import PureWindowsPath

from pydantic import Field

from .inventory import INVENTORY, PRIVILEGED_GROUPS, is_internal_ip, is_routable_external_ip
from .schema import (
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
    TriageAction,
    parse_timestamp,
)

# ------------------------------------------------------------------------- thresholds

# One table, rendered into docs/verifier.md; every numeric cut-off the rules use is here.
THRESHOLDS: dict[str, tuple[float, str]] = {
    "exfil_bytes": (100_000_000, "bytes uploaded from one internal host to one outside address within the window"),
    "dns_tunnel_queries": (20, "long-label DNS queries from one host to one registered domain"),
    "dns_tunnel_label_len": (30, "characters in the leftmost label for a query to count as tunnel-like"),
    "beacon_min_connections": (3, "small connections from one host to one outside address"),
    "beacon_max_bytes": (20_000, "bytes sent per connection for it to count as a beacon check-in"),
    "beacon_max_jitter": (0.25, "largest relative deviation of an interval from the median interval"),
    "beacon_min_period_s": (5, "shortest median interval, in seconds"),
    "beacon_max_period_s": (21_600, "longest median interval, in seconds"),
    "brute_force_failures": (10, "failed logons from one source address"),
    "scan_distinct_targets": (10, "distinct (destination.ip, destination.port) pairs probed by one source"),
    "mass_file_count": (100, "files renamed or modified by one roll-up record"),
    "max_window_s": (86_400, "longest plausible span of one incident's log window, in seconds"),
    "exfil_internal_bytes": (1_000_000, "bytes to an internal address that make a data_exfiltration incident implausible"),
}


def _t(name: str) -> float:
    return THRESHOLDS[name][0]


# Action precedence: the verdict is the highest-ranked action among firing malicious rules.
ACTION_RANK: dict[str, int] = {"dismiss": 0, "monitor": 1, "block_ip": 2, "quarantine_host": 3, "escalate": 4}

# ----------------------------------------------------------------------- output models


class RuleFiring(StrictModel):
    """One verdict rule that matched, with the events that made it match."""

    rule_id: str
    action: TriageAction = Field(description="Action this firing calls for, after the critical-asset modifier.")
    malicious: bool
    log_ids: list[str]


class GroundTruth(StrictModel):
    """The verifier's answer for an incident."""

    action: TriageAction = Field(description="The correct triage action.")
    malicious: bool = Field(description="True when any malicious rule fired.")
    triggering_log_ids: list[str] = Field(description="Log ids that decided the action; citing one earns the bonus.")
    deciding_rule_ids: list[str] = Field(description="Rules whose firing set the action.")
    rules_fired: list[RuleFiring] = Field(description="Every rule that fired, malicious and benign context rules.")


class Violation(StrictModel):
    """A plausibility failure with a stable machine-readable code."""

    code: str
    message: str
    log_id: str | None = None


class PlausibilityReport(StrictModel):
    ok: bool
    violations: list[Violation]


# ----------------------------------------------------------------- event normalisation

_OFFICE = frozenset({"winword.exe", "excel.exe", "powerpnt.exe", "outlook.exe", "onenote.exe", "mspub.exe"})
_SHELLS = frozenset(
    {"powershell.exe", "pwsh.exe", "cmd.exe", "wscript.exe", "cscript.exe", "mshta.exe", "rundll32.exe",
     "regsvr32.exe", "certutil.exe", "bitsadmin.exe", "msiexec.exe"}
)
_REMOTE_EXEC = frozenset({"psexec.exe", "psexec64.exe", "psexec.c", "paexec.exe", "winrs.exe"})
_RISKY_ATTACHMENTS = frozenset({".docm", ".xlsm", ".pptm", ".iso", ".img", ".lnk", ".js", ".hta", ".vbs", ".one", ".exe", ".scr", ".zip"})
_USER_WRITABLE = ("\\appdata\\", "\\temp\\", "\\users\\public\\", "\\programdata\\", "\\downloads\\")
# Processes that legitimately read LSASS memory, pinned to their install directory so a
# renamed binary elsewhere does not inherit the trust.
_LSASS_READERS = (
    ("msmpeng.exe", "c:\\programdata\\microsoft\\windows defender\\platform\\"),
    ("csrss.exe", "c:\\windows\\system32\\"),
    ("wininit.exe", "c:\\windows\\system32\\"),
    ("sentinelagent.exe", "c:\\program files\\sentinelcloud\\"),
)
_PROCESS_VM_READ = 0x0010

_LOLBIN_PATTERNS: dict[str, re.Pattern[str]] = {
    "powershell.exe": re.compile(
        r"(\s-e(nc?|ncodedcommand|c)?\s+[a-z0-9+/=]{16,})|downloadstring|downloadfile|frombase64string|"
        r"invoke-expression|\biex\b|(invoke-webrequest|\biwr\b|start-bitstransfer).*https?://"
    ),
    "certutil.exe": re.compile(r"[-/](urlcache|decode)\b"),
    "mshta.exe": re.compile(r"https?://|javascript:|vbscript:"),
    "rundll32.exe": re.compile(r"javascript:|https?://|\\(appdata|temp|users\\public|programdata)\\"),
    "regsvr32.exe": re.compile(r"/i:https?://|scrobj\.dll"),
    "bitsadmin.exe": re.compile(r"/transfer\b"),
    "msiexec.exe": re.compile(r"/i\s+https?://"),
}
_LOLBIN_PATTERNS["pwsh.exe"] = _LOLBIN_PATTERNS["powershell.exe"]
_URL_DOMAIN = re.compile(r"https?://([a-z0-9.-]+)")
_DISCOVERY = re.compile(
    r"\bnet1?(\.exe)?\s+(group|user|localgroup)\b.*(/domain|admins)|\bnltest\b|/dclist|whoami(\.exe)?\s+/(all|groups)|"
    r"\badfind\b|\bdsquery\b|get-ad(user|group|groupmember|computer)\b"
)
_REMOTE_EXEC_CMD = re.compile(r"wmic(\.exe)?\s+/node:|invoke-command\b.*-computername|enter-pssession\b|\\\\[a-z0-9.-]+\s+-[su]\b")
_SHADOW_DELETE = re.compile(
    r"vssadmin(\.exe)?\s+delete\s+shadows|wmic(\.exe)?\s+shadowcopy\s+delete|wbadmin(\.exe)?\s+delete\s+catalog|"
    r"bcdedit(\.exe)?\s+.*recoveryenabled\s+no|win32_shadowcopy.*delete"
)
_LSASS_DUMP = re.compile(r"(procdump(64)?(\.exe)?\s.*lsass)|(comsvcs(\.dll)?.*minidump)|(minidump.*lsass)")


def normalize_command_line(command_line: str | None) -> str:
    """Lower-case a command line and strip the quoting and caret tricks used to dodge matching."""
    if not command_line:
        return ""
    return " ".join(command_line.lower().replace("^", "").replace('"', "").replace("'", "").replace("`", "").split())


def effective_image(event: ProcessStart | ProcessAccess | RegistrySet | NetworkConnection | FileActivity) -> str:
    """The binary's real name: the PE header name when present (renaming a file does not change it)."""
    original = getattr(event, "process_pe_original_file_name", None)
    name = original or event.process_name or ""
    return PureWindowsPath(name.lower()).name


def _executable(event: ProcessStart | ProcessAccess) -> str:
    return (event.process_executable or "").lower()


def _registered_domain(name: str) -> str:
    labels = name.lower().rstrip(".").split(".")
    return ".".join(labels[-2:])


# ------------------------------------------------------------------------ rule context


@dataclass(frozen=True)
class Window:
    """An incident's events with the derived facts rules share (parsed once per call)."""

    params: IncidentParams

    @cached_property
    def events(self) -> tuple:
        return tuple(self.params.events)

    @cached_property
    def times(self) -> dict[str, datetime]:
        return {e.log_id: parse_timestamp(e.timestamp) for e in self.events}

    def of(self, *types: type) -> list:
        return [e for e in self.events if isinstance(e, types)]

    def admin_context(self, event) -> bool:
        """An IT admin working from an admin jump host: the sanctioned place for admin tooling."""
        host = INVENTORY.host(event.host)
        return INVENTORY.is_it_admin(event.user) and host is not None and host.role == "admin_jump"


@dataclass(frozen=True)
class Match:
    """A rule match: the events involved and the host a containment would act on."""

    log_ids: tuple[str, ...]
    host: str | None


def _known_good(ip: str, domain: str | None = None) -> bool:
    service = INVENTORY.service_by_ip(ip)
    if service is None:
        return False
    return domain is None or INVENTORY.service_by_domain(domain) == service


def _outbound(event: NetworkConnection | HttpRequest) -> bool:
    return is_internal_ip(event.source_ip) and not is_internal_ip(event.destination_ip)


def _domain_of(event) -> str | None:
    return getattr(event, "url_domain", None)


def _owner_name(ip: str) -> str | None:
    host = INVENTORY.host_by_ip(ip)
    return host.name if host else None


# ---------------------------------------------------------------------- rule predicates


def _bulk_upload(w: Window, *, known_good: bool) -> list[Match]:
    groups: dict[tuple[str, str], list] = defaultdict(list)
    for e in w.of(NetworkConnection, HttpRequest):
        if _outbound(e) and _known_good(e.destination_ip, _domain_of(e)) == known_good and e.source_bytes > 0:
            groups[(e.source_ip, e.destination_ip)].append(e)
    return [
        Match(tuple(e.log_id for e in evs), _owner_name(src))
        for (src, _), evs in groups.items()
        if sum(e.source_bytes for e in evs) >= _t("exfil_bytes")
    ]


def _known_good_download(w: Window) -> list[Match]:
    return [
        Match((e.log_id,), e.host)
        for e in w.of(NetworkConnection, HttpRequest)
        if _outbound(e) and _known_good(e.destination_ip, _domain_of(e)) and e.destination_bytes >= 1_000_000
    ]


def _dns_tunnel(w: Window) -> list[Match]:
    groups: dict[tuple[str, str], list[DnsQuery]] = defaultdict(list)
    for e in w.of(DnsQuery):
        first_label = e.question_name.split(".")[0]
        domain = _registered_domain(e.question_name)
        if len(first_label) >= _t("dns_tunnel_label_len") and INVENTORY.service_by_domain(domain) is None:
            groups[(e.host, domain)].append(e)
    return [
        Match(tuple(e.log_id for e in evs), host)
        for (host, _), evs in groups.items()
        if len(evs) >= _t("dns_tunnel_queries")
    ]


def _periodic(w: Window, *, known_good: bool) -> list[Match]:
    groups: dict[tuple[str, str], list] = defaultdict(list)
    for e in w.of(NetworkConnection, HttpRequest):
        if (
            _outbound(e)
            and e.source_bytes <= _t("beacon_max_bytes")
            and _known_good(e.destination_ip, _domain_of(e)) == known_good
        ):
            groups[(e.source_ip, e.destination_ip)].append(e)
    matches = []
    for (src, _), evs in groups.items():
        if len(evs) < _t("beacon_min_connections"):
            continue
        times = sorted(w.times[e.log_id].timestamp() for e in evs)
        gaps = sorted(b - a for a, b in zip(times, times[1:]))
        median = gaps[len(gaps) // 2]
        if not _t("beacon_min_period_s") <= median <= _t("beacon_max_period_s"):
            continue
        if all(abs(g - median) <= _t("beacon_max_jitter") * median for g in gaps):
            matches.append(Match(tuple(e.log_id for e in evs), _owner_name(src)))
    return matches


def _logon_groups(w: Window) -> dict[str, list[Authentication]]:
    groups: dict[str, list[Authentication]] = defaultdict(list)
    for e in w.of(Authentication):
        groups[e.source_ip].append(e)
    return groups


def _brute_force(w: Window, *, internal: bool, succeeded: bool) -> list[Match]:
    matches = []
    for src, evs in _logon_groups(w).items():
        if is_internal_ip(src) != internal:
            continue
        failures = [e for e in evs if e.outcome == "failure"]
        if len(failures) < _t("brute_force_failures"):
            continue
        first_fail = min(w.times[e.log_id] for e in failures)
        targeted = {e.user for e in failures}
        wins = [e for e in evs if e.outcome == "success" and e.user in targeted and w.times[e.log_id] >= first_fail]
        if bool(wins) != succeeded:
            continue
        log_ids = tuple(e.log_id for e in failures + wins)
        # Containment acts on the internal source of a spray, or on the host that was logged into.
        host = _owner_name(src) if internal else (wins[0].host if wins else None)
        matches.append(Match(log_ids, host))
    return matches


def _isolated_logon_failures(w: Window) -> list[Match]:
    return [
        Match(tuple(e.log_id for e in evs if e.outcome == "failure"), None)
        for evs in _logon_groups(w).values()
        if 0 < sum(e.outcome == "failure" for e in evs) < _t("brute_force_failures")
    ]


def _scan_groups(w: Window) -> dict[str, list[NetworkConnection]]:
    groups: dict[str, list[NetworkConnection]] = defaultdict(list)
    for e in w.of(NetworkConnection):
        if is_internal_ip(e.destination_ip):
            groups[e.source_ip].append(e)
    return groups


def _port_scan(w: Window, *, internal: bool) -> list[Match]:
    matches = []
    for src, evs in _scan_groups(w).items():
        if is_internal_ip(src) != internal:
            continue
        owner = INVENTORY.host_by_ip(src)
        if owner is not None and owner.role == "scanner":
            continue
        if len({(e.destination_ip, e.destination_port) for e in evs}) >= _t("scan_distinct_targets"):
            matches.append(Match(tuple(e.log_id for e in evs), owner.name if owner else None))
    return matches


def _sanctioned_scanner(w: Window) -> list[Match]:
    return [
        Match((e.log_id,), e.host)
        for e in w.of(NetworkConnection)
        if (owner := INVENTORY.host_by_ip(e.source_ip)) is not None and owner.role == "scanner"
    ]


def _processes(w: Window, predicate: Callable[[ProcessStart, str, str], bool], *, admin: bool | None = None) -> list[Match]:
    """Process starts whose (event, image, normalised command line) satisfy ``predicate``.

    ``admin`` filters on the admin context: True keeps only sanctioned admin activity,
    False only activity outside it, None keeps both.
    """
    return [
        Match((e.log_id,), e.host)
        for e in w.of(ProcessStart)
        if predicate(e, effective_image(e), normalize_command_line(e.process_command_line))
        and (admin is None or w.admin_context(e) == admin)
    ]


def _office_child_shell(e: ProcessStart, image: str, cmd: str) -> bool:
    return (e.process_parent_name or "").lower() in _OFFICE and image in _SHELLS


def _lolbin_abuse(e: ProcessStart, image: str, cmd: str) -> bool:
    pattern = _LOLBIN_PATTERNS.get(image)
    if pattern is None or not pattern.search(cmd):
        return False
    if image == "msiexec.exe":  # installers pulled straight from a sanctioned vendor are updates
        urls = _URL_DOMAIN.findall(cmd)
        return not urls or any(INVENTORY.service_by_domain(d) is None for d in urls)
    return True


def _remote_exec(e: ProcessStart, image: str, cmd: str) -> bool:
    return image in _REMOTE_EXEC or bool(_REMOTE_EXEC_CMD.search(cmd))


def _discovery(e: ProcessStart, image: str, cmd: str) -> bool:
    return bool(_DISCOVERY.search(cmd))


def _shadow_delete(e: ProcessStart, image: str, cmd: str) -> bool:
    return bool(_SHADOW_DELETE.search(cmd))


def _lsass_dump_command(e: ProcessStart, image: str, cmd: str) -> bool:
    return bool(_LSASS_DUMP.search(cmd))


def _local_installer(e: ProcessStart, image: str, cmd: str) -> bool:
    return image == "msiexec.exe" and e.user in ("SYSTEM", "svc_deploy") and not _lolbin_abuse(e, image, cmd)


def _lsass_access(w: Window) -> list[Match]:
    matches = []
    for e in w.of(ProcessAccess):
        if PureWindowsPath(e.target_image.lower()).name != "lsass.exe":
            continue
        if not int(e.granted_access, 16) & _PROCESS_VM_READ:
            continue
        image, path = effective_image(e), _executable(e)
        if any(image == name and path.startswith(prefix) for name, prefix in _LSASS_READERS):
            continue
        matches.append(Match((e.log_id,), e.host))
    return matches


def _run_key_persistence(w: Window) -> list[Match]:
    matches = []
    for e in w.of(RegistrySet):
        path, data = e.registry_path.lower(), normalize_command_line(e.registry_data)
        if "\\currentversion\\run" not in path:
            continue
        payload_in_user_dir = any(d in data for d in _USER_WRITABLE)
        payload_is_lolbin = any(p.search(data) for p in _LOLBIN_PATTERNS.values())
        if payload_in_user_dir or payload_is_lolbin:
            matches.append(Match((e.log_id,), e.host))
    return matches


def _mass_file_change(w: Window) -> list[Match]:
    return [
        Match((e.log_id,), e.host)
        for e in w.of(FileActivity)
        if e.action in ("rename", "modification") and e.file_count >= _t("mass_file_count")
    ]


def _privileged_group_add(w: Window) -> list[Match]:
    privileged = {g.lower() for g in PRIVILEGED_GROUPS}
    return [
        Match((e.log_id,), e.host)
        for e in w.of(GroupMembershipChange)
        if e.group_name.lower() in privileged and not (INVENTORY.is_it_admin(e.user) and INVENTORY.is_it_admin(e.member))
    ]


def _rdp_to_critical(w: Window) -> list[Match]:
    return [
        Match((e.log_id,), e.host)
        for e in w.of(Authentication)
        if e.outcome == "success"
        and e.logon_type == 10
        and (h := INVENTORY.host(e.host)) is not None
        and h.critical
        and not INVENTORY.is_it_admin(e.user)
    ]


def _suspicious_email(w: Window) -> list[Match]:
    matches = []
    for e in w.of(EmailReceived):
        failed_auth = e.spf in ("fail", "softfail") or e.dmarc == "fail"
        risky_attachment = e.attachment_name is not None and PureWindowsPath(e.attachment_name.lower()).suffix in _RISKY_ATTACHMENTS
        unknown_link = e.link_domain is not None and INVENTORY.service_by_domain(_registered_domain(e.link_domain)) is None \
            and INVENTORY.service_by_domain(e.link_domain) is None
        if failed_auth and (risky_attachment or unknown_link):
            matches.append(Match((e.log_id,), e.host))
    return matches


# ---------------------------------------------------------------------- the rule table


@dataclass(frozen=True)
class VerdictRule:
    """One row of the verdict table: a structured condition and the action it calls for."""

    rule_id: str
    category: str | None  # the incident category this rule evidences; None for context rules
    action: TriageAction
    technique_ids: tuple[str, ...]
    condition: str  # the condition in words, rendered into docs/verifier.md
    match: Callable[[Window], list[Match]]

    @property
    def malicious(self) -> bool:
        return self.action != "dismiss"


VERDICT_RULES: tuple[VerdictRule, ...] = (
    VerdictRule("exfil.bulk_upload_external", "data_exfiltration", "escalate", ("T1048", "T1567.002"),
                "≥ exfil_bytes sent from one internal host to one outside address that is not a known-good service (chunks are summed)",
                lambda w: _bulk_upload(w, known_good=False)),
    VerdictRule("exfil.dns_tunnel", "data_exfiltration", "escalate", ("T1048.003", "T1071.004"),
                "≥ dns_tunnel_queries queries from one host to one unsanctioned domain with a leftmost label of ≥ dns_tunnel_label_len characters",
                _dns_tunnel),
    VerdictRule("privesc.privileged_group_add", "privilege_escalation", "escalate", ("T1098.007",),
                "an account is added to a privileged group unless both the actor and the new member are IT-Admins",
                _privileged_group_add),
    VerdictRule("lateral.remote_exec_outside_admin_context", "lateral_movement", "escalate", ("T1569.002", "T1021.002", "T1021.006"),
                "PsExec/PAExec/winrs, 'wmic /node:' or PowerShell remoting launched anywhere but by an IT-Admin on an admin jump host",
                lambda w: _processes(w, _remote_exec, admin=False)),
    VerdictRule("lateral.rdp_to_critical_asset", "lateral_movement", "escalate", ("T1021.001",),
                "a successful RDP logon (type 10) to a critical asset by an account outside IT-Admins",
                _rdp_to_critical),
    VerdictRule("brute.success_after_failures", "brute_force", "escalate", ("T1110.001", "T1078"),
                "≥ brute_force_failures failed logons from one source followed by a success for a targeted account",
                lambda w: _brute_force(w, internal=False, succeeded=True) + _brute_force(w, internal=True, succeeded=True)),
    VerdictRule("ransom.mass_file_change", "ransomware", "escalate", ("T1486",),
                "one roll-up record renames or modifies ≥ mass_file_count files",
                _mass_file_change),
    VerdictRule("ransom.shadow_copy_deletion", "ransomware", "escalate", ("T1490",),
                "a command deletes shadow copies or the backup catalog, or disables recovery (vssadmin, wmic, wbadmin, bcdedit)",
                lambda w: _processes(w, _shadow_delete)),
    VerdictRule("cred.lsass_memory_read", "credential_access", "quarantine_host", ("T1003.001",),
                "a process opens lsass.exe with PROCESS_VM_READ and is not an allow-listed reader at its install path",
                _lsass_access),
    VerdictRule("cred.lsass_dump_command", "credential_access", "quarantine_host", ("T1003.001",),
                "a command line dumps LSASS (procdump on lsass, comsvcs.dll MiniDump)",
                lambda w: _processes(w, _lsass_dump_command)),
    VerdictRule("c2.periodic_beacon", "c2_beacon", "quarantine_host", ("T1071.001",),
                "≥ beacon_min_connections small connections from one host to one unsanctioned outside address at a regular interval (jitter ≤ beacon_max_jitter)",
                lambda w: _periodic(w, known_good=False)),
    VerdictRule("exec.office_child_shell", "malware_execution", "quarantine_host", ("T1204.002", "T1059.001"),
                "an Office application starts a shell or script host",
                lambda w: _processes(w, _office_child_shell)),
    VerdictRule("exec.lolbin_abuse", "malware_execution", "quarantine_host", ("T1059.001", "T1105", "T1218.011", "T1218.005", "T1036.003"),
                "a living-off-the-land binary (judged by its PE name) downloads, decodes or runs remote code, outside the admin context",
                lambda w: _processes(w, _lolbin_abuse, admin=False)),
    VerdictRule("persist.run_key_payload", "malware_execution", "quarantine_host", ("T1547.001",),
                "a Run key points at a user-writable path or a LOLBin command",
                _run_key_persistence),
    VerdictRule("brute.internal_password_spray", "brute_force", "quarantine_host", ("T1110.003",),
                "≥ brute_force_failures failed logons from one internal host, none succeeding",
                lambda w: _brute_force(w, internal=True, succeeded=False)),
    VerdictRule("recon.internal_port_scan", "port_scan", "quarantine_host", ("T1046",),
                "an internal host other than the sanctioned scanner probes ≥ scan_distinct_targets internal targets",
                lambda w: _port_scan(w, internal=True)),
    VerdictRule("brute.external_password_guessing", "brute_force", "block_ip", ("T1110.001", "T1110.003"),
                "≥ brute_force_failures failed logons from one outside address, none succeeding",
                lambda w: _brute_force(w, internal=False, succeeded=False)),
    VerdictRule("recon.external_port_scan", "port_scan", "block_ip", ("T1046",),
                "one outside address probes ≥ scan_distinct_targets internal targets",
                lambda w: _port_scan(w, internal=False)),
    VerdictRule("phish.suspicious_email_delivered", "phishing", "monitor", ("T1566.001", "T1566.002"),
                "a delivered email fails SPF/DMARC and carries a risky attachment type or a link to an unsanctioned domain",
                _suspicious_email),
    VerdictRule("discovery.domain_enumeration", "discovery", "monitor", ("T1087.002", "T1069.002", "T1033"),
                "account or group discovery commands (net group /domain, nltest, whoami /all, AdFind, Get-AD*) outside the admin context",
                lambda w: _processes(w, _discovery, admin=False)),
    # Context rules: they never change a verdict away from an attack; they name the
    # evidence that explains benign activity, so a correct dismiss has something to cite.
    VerdictRule("benign.admin_tooling_from_jump_host", None, "dismiss", (),
                "remote execution, scripting or discovery by an IT-Admin on an admin jump host",
                lambda w: _processes(w, lambda e, i, c: _remote_exec(e, i, c) or _lolbin_abuse(e, i, c) or _discovery(e, i, c), admin=True)),
    VerdictRule("benign.known_good_transfer", None, "dismiss", (),
                "a large upload to, or ≥ 1 MB download from, a known-good service (backup vault, vendor updates)",
                lambda w: _bulk_upload(w, known_good=True) + _known_good_download(w)),
    VerdictRule("benign.local_installer", None, "dismiss", (),
                "msiexec run by SYSTEM or svc_deploy from a local package or a sanctioned vendor",
                lambda w: _processes(w, _local_installer)),
    VerdictRule("benign.isolated_logon_failures", None, "dismiss", (),
                "fewer than brute_force_failures failed logons from a source",
                _isolated_logon_failures),
    VerdictRule("benign.sanctioned_scanner", None, "dismiss", (),
                "connections from the sanctioned vulnerability scanner",
                _sanctioned_scanner),
    VerdictRule("benign.known_good_periodic", None, "dismiss", (),
                "regular small connections to a known-good service (EDR telemetry, SaaS)",
                lambda w: _periodic(w, known_good=True)),
)

CRITICAL_ASSET_MODIFIER = (
    "context.critical_asset",
    "a quarantine_host finding on a host whose inventory role is 'critical' becomes escalate",
)

RULES_BY_ID: dict[str, VerdictRule] = {r.rule_id: r for r in VERDICT_RULES}
RULES_BY_CATEGORY: dict[str, tuple[str, ...]] = {
    cat: tuple(r.rule_id for r in VERDICT_RULES if r.category == cat)
    for cat in {r.category for r in VERDICT_RULES if r.category}
}


def _firing_action(rule: VerdictRule, match: Match) -> TriageAction:
    host = INVENTORY.host(match.host) if match.host else None
    if rule.action == "quarantine_host" and host is not None and host.critical:
        return "escalate"
    return rule.action


def evaluate_rules(params: IncidentParams) -> list[RuleFiring]:
    """Every firing of every rule, in table order then event order."""
    window = Window(params)
    order = {e.log_id: i for i, e in enumerate(params.events)}
    firings = []
    for rule in VERDICT_RULES:
        for match in rule.match(window):
            firings.append(
                RuleFiring(
                    rule_id=rule.rule_id,
                    action=_firing_action(rule, match),
                    malicious=rule.malicious,
                    log_ids=sorted(set(match.log_ids), key=lambda i: order.get(i, 0)),
                )
            )
    return firings


def compute_ground_truth(params: IncidentParams) -> GroundTruth:
    """The correct triage action for ``params``, from its structured events only."""
    firings = evaluate_rules(params)
    malicious = [f for f in firings if f.malicious]
    if malicious:
        action = max((f.action for f in malicious), key=ACTION_RANK.__getitem__)
        deciding = [f for f in malicious if f.action == action]
    else:
        action, deciding = "dismiss", firings
    order = {e.log_id: i for i, e in enumerate(params.events)}
    triggering = sorted({i for f in deciding for i in f.log_ids}, key=lambda i: order.get(i, 0))
    return GroundTruth(
        action=action,
        malicious=bool(malicious),
        triggering_log_ids=triggering,
        deciding_rule_ids=list(dict.fromkeys(f.rule_id for f in deciding)),
        rules_fired=firings,
    )


# ------------------------------------------------------------------------ plausibility

# code -> what it rejects; rendered into docs/verifier.md. Codes are stable API.
PLAUSIBILITY_CODES: dict[str, str] = {
    "DUPLICATE_LOG_ID": "two events share a log_id",
    "TIMESTAMP_ORDER": "events are not in non-decreasing time order",
    "WINDOW_TOO_LONG": "the log window spans more than max_window_s seconds",
    "UNKNOWN_HOST": "an event's host is not in the asset inventory",
    "UNKNOWN_USER": "an event's user is not in the directory (failed logons may name unknown accounts)",
    "HOST_IP_MISMATCH": "a network event's host owns neither its source.ip nor its destination.ip",
    "INTERNAL_IP_UNASSIGNED": "an address inside an internal subnet belongs to no inventory host",
    "INVALID_IP": "an outside address is not routable (loopback, multicast, link-local, reserved, documentation or foreign private)",
    "INVALID_PORT": "a TCP or UDP port is 0",
    "EVENT_ID_MISMATCH": "winlog.event_id contradicts the event (4624 on a failure, 4625 on a success, 4688 from sysmon, 1 from windows_security)",
    "PROCESS_MISSING": "a process, process-access or registry event names no process",
    "EXFIL_INTERNAL_DESTINATION": "a data_exfiltration incident sends ≥ exfil_internal_bytes to an internal address",
    "BEACON_TOO_FEW": "a c2_beacon incident has fewer than beacon_min_connections connections from one host to one outside address",
    "BRUTE_FORCE_TOO_FEW": "a brute_force incident has fewer than brute_force_failures failed logons from any one source",
    "CATEGORY_EVIDENCE_MISSING": "a malicious category, but none of that category's verdict rules fires",
    "CATEGORY_CONTRADICTED": "a benign category, but a malicious verdict rule fires",
}


def _violation(code: str, message: str, log_id: str | None = None) -> Violation:
    assert code in PLAUSIBILITY_CODES, code
    return Violation(code=code, message=message, log_id=log_id)


def _check_identity(params: IncidentParams) -> list[Violation]:
    out, seen = [], set()
    for e in params.events:
        if e.log_id in seen:
            out.append(_violation("DUPLICATE_LOG_ID", f"log_id {e.log_id!r} appears more than once", e.log_id))
        seen.add(e.log_id)
    return out


def _check_time(params: IncidentParams) -> list[Violation]:
    out = []
    times = [(e.log_id, parse_timestamp(e.timestamp)) for e in params.events]
    for (_, a), (lid, b) in zip(times, times[1:]):
        if b < a:
            out.append(_violation("TIMESTAMP_ORDER", f"{lid} is earlier than the event before it", lid))
    span = (max(t for _, t in times) - min(t for _, t in times)).total_seconds()
    if span > _t("max_window_s"):
        out.append(_violation("WINDOW_TOO_LONG", f"the window spans {span:.0f} s; at most {_t('max_window_s'):.0f} s is plausible"))
    return out


def _check_ip(ip: str, log_id: str) -> list[Violation]:
    if is_internal_ip(ip):
        if INVENTORY.host_by_ip(ip) is None:
            return [_violation("INTERNAL_IP_UNASSIGNED", f"{ip} is internal but assigned to no inventory host", log_id)]
        return []
    if not is_routable_external_ip(ip):
        return [_violation("INVALID_IP", f"{ip} is not a routable outside address", log_id)]
    return []


def _check_entities(params: IncidentParams) -> list[Violation]:
    out = []
    for e in params.events:
        host = INVENTORY.host(e.host)
        if host is None:
            out.append(_violation("UNKNOWN_HOST", f"host {e.host!r} is not in the inventory", e.log_id))
        failed_logon = isinstance(e, Authentication) and e.outcome == "failure"
        if e.user is not None and INVENTORY.user(e.user) is None and not failed_logon:
            out.append(_violation("UNKNOWN_USER", f"user {e.user!r} is not in the directory", e.log_id))
        ips = [ip for ip in (getattr(e, "source_ip", None), getattr(e, "destination_ip", None)) if ip]
        for ip in ips:
            out.extend(_check_ip(ip, e.log_id))
        if isinstance(e, (NetworkConnection, DnsQuery, HttpRequest)) and host is not None and host.ip not in ips:
            out.append(_violation("HOST_IP_MISMATCH", f"host {e.host} ({host.ip}) is neither end of {ips[0]} → {ips[1]}", e.log_id))
        if isinstance(e, NetworkConnection) and e.network_transport in ("tcp", "udp") and 0 in (e.source_port, e.destination_port):
            out.append(_violation("INVALID_PORT", "port 0 is not a valid TCP/UDP port", e.log_id))
    return out


_SOURCE_EVENT_IDS = {"sysmon": {1, 3, 10, 11, 13, 22, 23}, "windows_security": {4624, 4625, 4688, 4728, 4732, 4756}}


def _check_event_ids(params: IncidentParams) -> list[Violation]:
    out = []
    for e in params.events:
        eid = getattr(e, "winlog_event_id", None)
        if eid is None:
            continue
        allowed = _SOURCE_EVENT_IDS.get(e.source)
        wrong_source = allowed is not None and eid not in allowed
        wrong_outcome = isinstance(e, Authentication) and (eid == 4624) != (e.outcome == "success")
        if wrong_source or wrong_outcome:
            out.append(_violation("EVENT_ID_MISMATCH", f"winlog.event_id {eid} does not fit a {e.source} {e.event_type}", e.log_id))
    return out


def _check_processes(params: IncidentParams) -> list[Violation]:
    return [
        _violation("PROCESS_MISSING", f"{e.event_type} event names no process (process.name)", e.log_id)
        for e in params.events
        if isinstance(e, (ProcessStart, ProcessAccess, RegistrySet)) and not e.process_name
    ]


def _check_category_shape(params: IncidentParams) -> list[Violation]:
    out = []
    window = Window(params)
    if params.category == "data_exfiltration":
        for e in window.of(NetworkConnection, HttpRequest):
            if is_internal_ip(e.destination_ip) and e.source_bytes >= _t("exfil_internal_bytes"):
                out.append(_violation("EXFIL_INTERNAL_DESTINATION",
                                      f"{e.source_bytes} bytes go to internal address {e.destination_ip}", e.log_id))
    if params.category == "c2_beacon":
        pairs: dict[tuple[str, str], int] = defaultdict(int)
        for e in window.of(NetworkConnection, HttpRequest):
            if _outbound(e):
                pairs[(e.source_ip, e.destination_ip)] += 1
        if max(pairs.values(), default=0) < _t("beacon_min_connections"):
            out.append(_violation("BEACON_TOO_FEW", f"a beacon needs ≥ {_t('beacon_min_connections'):.0f} connections to one outside address"))
    if params.category == "brute_force":
        fails: dict[str, int] = defaultdict(int)
        for e in window.of(Authentication):
            fails[e.source_ip] += e.outcome == "failure"
        if max(fails.values(), default=0) < _t("brute_force_failures"):
            out.append(_violation("BRUTE_FORCE_TOO_FEW", f"brute force needs ≥ {_t('brute_force_failures'):.0f} failures from one source"))
    return out


def _check_category_evidence(params: IncidentParams, truth: GroundTruth) -> list[Violation]:
    fired = {f.rule_id for f in truth.rules_fired}
    if params.category in RULES_BY_CATEGORY:
        if not fired & set(RULES_BY_CATEGORY[params.category]):
            return [_violation("CATEGORY_EVIDENCE_MISSING",
                               f"no {params.category} rule fires; expected one of {', '.join(RULES_BY_CATEGORY[params.category])}")]
    elif truth.malicious:
        return [_violation("CATEGORY_CONTRADICTED",
                           f"category {params.category} is benign but {', '.join(truth.deciding_rule_ids)} fired")]
    return []


def check_plausibility(params: IncidentParams, truth: GroundTruth | None = None) -> PlausibilityReport:
    """Whether ``params`` is a coherent incident; ``truth`` may be passed to avoid recomputing it."""
    truth = truth or compute_ground_truth(params)
    violations = (
        _check_identity(params)
        + _check_time(params)
        + _check_entities(params)
        + _check_event_ids(params)
        + _check_processes(params)
        + _check_category_shape(params)
        + _check_category_evidence(params, truth)
    )
    return PlausibilityReport(ok=not violations, violations=violations)

