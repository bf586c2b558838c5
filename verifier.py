"""Ground truth and plausibility, computed from an incident's structured events alone.

``compute_ground_truth`` runs the verdict rule table (``VERDICT_RULES``) over the normalised events
(``normalize.normalize_event``: executables, command lines, accounts, groups, registry keys and domains read
the way the systems that wrote them mean them) and the asset inventory. ``check_plausibility`` decides whether an
attacker's incident lies inside the world the verdict models: a closed world, so an event of a kind, value or
combination the rules do not model is refused with a code that says so, rather than silently judged benign.
Neither reads ``narrative``, ``target_label`` or ``category`` (the category is checked against the events by
``CATEGORY_DEPICTIONS``, which are independent of the verdict rules); free-text fields are parsed as the programs
that would read them parse them, never interpreted as instructions.

Invariants:
- the verdict depends only on ``params.events`` (and the fixed inventory);
- the verdict is the most severe action among the malicious rules that fire, ordered
  ``escalate > quarantine_host > block_ip > monitor``; with none, it is ``dismiss``;
- a quarantine-class finding on a critical asset is escalated;
- rules that describe an aggregate (roll-ups, uploads, failed logons, scans) sum over the whole window.
"""

from __future__ import annotations

import ipaddress
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property
from pathlib import PureWindowsPath

from pydantic import Field

from .parsing.commandline import SWITCH_DASHES, Invocation
from .parsing.normalize import (
    NormalizedEvent,
    attachment_type,
    backup_job,
    has_posix_form,
    has_windows_form,
    is_user_writable,
    normalize_event,
    sanctioned_domain,
    subdomain,
    upload_sanctioned,
)
from .schema import (
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
    TriageAction,
)
from .world.inventory import (
    INVENTORY,
    TRUSTED_LSASS_READERS,
    is_internal_ip,
    is_routable_external_ip,
)

# ------------------------------------------------------------------------- thresholds

# One table, rendered into docs/verifier.md; every numeric cut-off the rules and checks use is here.
THRESHOLDS: dict[str, tuple[float, str]] = {
    "exfil_bytes": (100_000_000, "bytes sent from one internal host to outside destinations not sanctioned for its uploads, summed over the window"),
    "exfil_min_chunk": (1_000_000, "bytes a single transfer must carry to count toward exfil_bytes (64 events of less cannot reach it)"),
    "dns_tunnel_queries": (20, "long-label DNS queries from one host to one registered domain"),
    "dns_tunnel_label_len": (30, "characters in the leftmost label for a query to count as tunnel-like"),
    "dns_tunnel_names": (10, "distinct names queried from one host under one registered domain for the volume test"),
    "dns_tunnel_chars": (400, "characters of distinct subdomain text sent from one host to one registered domain"),
    "beacon_min_connections": (3, "small connections from one host to one outside destination"),
    "beacon_max_bytes": (20_000, "bytes sent per connection for it to count as a beacon check-in"),
    "beacon_max_jitter": (0.25, "largest relative deviation of an interval from the median interval"),
    "beacon_min_period_s": (1, "shortest median interval, in seconds"),
    "beacon_max_period_s": (21_600, "longest median interval, in seconds"),
    "brute_force_failures": (10, "failed logons from one source, or against one account from several outside sources"),
    "typo_failures": (4, "failed logons from one source and against one account that pass for typing mistakes"),
    "scan_distinct_targets": (10, "distinct (destination.ip, destination.port) pairs probed by one source or one outside /24"),
    "mass_file_count": (100, "files renamed or modified, or both written and deleted, by one process on one host"),
    "max_window_s": (86_400, "longest plausible span of one incident's log window, in seconds"),
    "exfil_internal_bytes": (1_000_000, "bytes to an internal address that make a data_exfiltration incident implausible"),
    "max_identical_events": (2, "events identical in every field but log_id that one window may hold"),
}

# Timestamps outside this range are not plausible log times (a clock at year 1 is a crafting error, not an evasion).
PLAUSIBLE_TIME_RANGE = (datetime(2015, 1, 1, tzinfo=timezone.utc), datetime(2035, 12, 31, 23, 59, 59, tzinfo=timezone.utc))


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


# ------------------------------------------------------------------------- vocabulary

_OFFICE = frozenset({"winword.exe", "excel.exe", "powerpnt.exe", "outlook.exe", "onenote.exe", "mspub.exe",
                     "msaccess.exe", "visio.exe"})
_SHELLS = frozenset({"powershell.exe", "pwsh.exe", "cmd.exe", "wscript.exe", "cscript.exe", "mshta.exe", "rundll32.exe",
                     "regsvr32.exe", "certutil.exe", "bitsadmin.exe", "msiexec.exe", "wmic.exe", "schtasks.exe",
                     "curl.exe", "msbuild.exe", "installutil.exe", "cmstp.exe", "hh.exe", "forfiles.exe", "bash.exe"})
_REMOTE_EXEC_IMAGES = frozenset({"psexec.exe", "paexec.exe", "winrs.exe"})
_REMOTE_CMDLETS = frozenset({"invoke-command", "enter-pssession", "new-pssession"})
# Attachment types that run code when opened: risky from any outside sender.
_EXECUTABLE_ATTACHMENTS = frozenset({".iso", ".img", ".vhd", ".vhdx", ".lnk", ".js", ".jse", ".hta", ".vbs", ".vbe",
                                     ".wsf", ".exe", ".scr", ".com", ".bat", ".cmd", ".ps1", ".one", ".msi", ".cpl",
                                     ".jar", ".chm"})
_PROCESS_VM_READ = 0x0010
_URL = re.compile(r"(?:https?|ftp)://([a-z0-9.-]+)")
_DOWNLOAD_CRADLE = re.compile(r"downloadstring|downloadfile|downloaddata|openread\(|net\.webclient|frombase64string|"
                              r"start-bitstransfer|bitstransfer|invoke-webrequest|invoke-restmethod|xmlhttp|"
                              r"msxml2\.|winhttprequest")
def _urls(inv: Invocation) -> list[str]:
    return _URL.findall(" ".join(inv.args) + " " + inv.script)


def _unsanctioned_urls(inv: Invocation) -> list[str]:
    return [d for d in _urls(inv) if not _is_internal_name(d) and not sanctioned_domain(d)]


def _is_internal_name(domain: str) -> bool:
    try:
        return is_internal_ip(str(ipaddress.ip_address(domain)))
    except ValueError:
        return domain.endswith(".corp.example.com") or "." not in domain


def _invocations(n: NormalizedEvent) -> tuple[Invocation, ...]:
    if n.command is not None and n.command.invocations:
        return n.command.invocations
    return (Invocation(n.image or "", ()),) if n.image else ()


def _rundll32_entry(inv: Invocation) -> tuple[str, str]:
    """(dll, entry point) of a rundll32 invocation: ``dll,Entry``, ``dll, Entry`` and ``dll #24`` forms."""
    text = " ".join(inv.args)
    dll, _, rest = text.partition(",")
    if not rest:
        dll, _, rest = text.partition(" ")
    return PureWindowsPath(dll.strip()).name, rest.strip().split(" ")[0] if rest.strip() else ""


# ---------------------------------------------------------------- command predicates


def lolbin_abuse(inv: Invocation) -> str | None:
    """Why a living-off-the-land binary invocation downloads, decodes or proxies code (``"download"`` when it
    fetches from an outside source, ``"execution"`` otherwise), or None."""
    p, has, urls = inv.program, inv.has_switch, _urls(inv)
    if p in ("powershell.exe", "pwsh.exe"):
        if _DOWNLOAD_CRADLE.search(inv.script) and urls:
            return "download"
        if inv.has_switch("encodedcommand") or _DOWNLOAD_CRADLE.search(inv.script):
            return "execution"
        return None
    if inv.kind == "cmdlet":
        if p == "invoke-expression":
            return "execution"
        if p in ("invoke-webrequest", "invoke-restmethod", "start-bitstransfer") and urls:
            return "download"
        return None
    if p == "certutil.exe":
        if has("urlcache", "verifyctl") and urls:
            return "download"
        return "execution" if has("decode", "decodehex", "urlcache") else None
    if p == "bitsadmin.exe" and (has("transfer", "addfile") and urls or has("setnotifycmdline")):
        return "download" if urls else "execution"
    if p == "mshta.exe":
        if urls:
            return "download"
        if any(a.startswith(("javascript:", "vbscript:", "about:")) or is_user_writable(a) for a in inv.args):
            return "execution"
    if p == "rundll32.exe":
        dll, entry = _rundll32_entry(inv)
        if urls:
            return "download"
        if "javascript:" in " ".join(inv.args) or is_user_writable(" ".join(inv.args)):
            return "execution"
        if dll in ("url.dll", "ieframe.dll", "shdocvw.dll") and entry.lower() in ("fileprotocolhandler", "openurl", "openurla"):
            return "execution"
    if p == "regsvr32.exe" and (urls or "scrobj.dll" in inv.args or any(a.startswith("-i:http") for a in inv.args)):
        return "download" if urls else "execution"
    if p == "msiexec.exe" and has("i", "package", "y") and _unsanctioned_urls(inv):
        return "download"
    if p == "curl.exe" and urls and (has("o", "output", "remote-name") or any(a.startswith("-o") for a in inv.args)):
        return "download"
    return None


def remote_execution(inv: Invocation) -> bool:
    """Code launched on another host: PsExec-family tools, ``wmic /node:``, PowerShell remoting, ``sc \\\\host``
    service changes, ``schtasks /s host`` task changes."""
    if inv.program in _REMOTE_EXEC_IMAGES:
        return True
    if inv.program == "wmic.exe":
        node = inv.switch_value("node")
        return node is not None and node.strip('"') not in ("", ".", "localhost", "127.0.0.1")
    if inv.kind == "cmdlet" and inv.program in _REMOTE_CMDLETS:
        return inv.has_parameter("computername", "cn", min_prefix=3) or inv.has_parameter("connectionuri", min_prefix=5) \
            or inv.has_parameter("hostname", min_prefix=2)
    if inv.program == "sc.exe":
        return any(a.startswith("\\\\") for a in inv.args) and bool({"create", "config", "start"} & set(inv.args))
    if inv.program == "schtasks.exe":
        return inv.has_switch("s") and (inv.has_switch("create") or inv.has_switch("run") or inv.has_switch("change"))
    return False


def domain_discovery(inv: Invocation) -> bool:
    """Account, group or trust discovery against the domain (ATT&CK T1087.002, T1069.002, T1033)."""
    p = inv.program
    if p == "net.exe":
        verb = inv.args[0] if inv.args else ""
        privileged = any(INVENTORY.group(a) is not None and INVENTORY.group(a).tier0 for a in inv.args[1:])
        return verb in ("group", "localgroup", "user", "users", "view", "accounts") and (inv.has_switch("domain") or privileged)
    if p == "nltest.exe":
        return inv.has_switch("dclist", "domain_trusts", "dsgetdc", "trusted_domains", "parentdomain")
    if p == "whoami.exe":
        return inv.has_switch("all", "groups", "priv")
    if p in ("adfind.exe", "dsquery.exe"):
        return True
    return inv.kind == "cmdlet" and p.startswith("get-ad")


def recovery_inhibition(inv: Invocation) -> bool:
    """Shadow copies, the backup catalog or boot recovery removed or disabled (ATT&CK T1490)."""
    p, args = inv.program, inv.args
    if p == "vssadmin.exe":
        return (args[:2] == ("delete", "shadows")) or (args[:2] == ("resize", "shadowstorage"))
    if p == "wmic.exe":
        return "shadowcopy" in args and "delete" in args
    if p == "wbadmin.exe":
        return bool(args) and args[0] == "delete" and any(a in ("catalog", "systemstatebackup", "backup") for a in args[1:])
    if p == "bcdedit.exe":
        text = " ".join(args)
        return inv.has_switch("set") and ("recoveryenabled no" in text or "ignoreallfailures" in text)
    if p in ("powershell.exe", "pwsh.exe"):
        return "win32_shadowcopy" in inv.script and bool(re.search(r"remove-wmiobject|remove-ciminstance|\.delete\(\)|rwmi|rcim", inv.script))
    return False


def lsass_dump(inv: Invocation) -> bool:
    """A command that writes LSASS's memory to a file (ATT&CK T1003.001)."""
    if inv.program == "procdump.exe":
        return any(a in ("lsass", "lsass.exe") for a in inv.args) and any(a[:1] in SWITCH_DASHES and a[1:3] in ("ma", "mm", "mp") for a in inv.args)
    if inv.program == "rundll32.exe":
        dll, entry = _rundll32_entry(inv)
        return dll in ("comsvcs.dll", "comsvcs") and entry.lower() in ("minidump", "#24", "minidumpw")
    return inv.kind == "cmdlet" and inv.program == "out-minidump"


# ------------------------------------------------------------------------ rule context


@dataclass(frozen=True)
class Window:
    """An incident's normalised events with the facts several rules share, each computed once per call."""

    params: IncidentParams

    @cached_property
    def events(self) -> tuple[NormalizedEvent, ...]:
        return tuple(normalize_event(e) for e in self.params.events)

    @cached_property
    def times(self) -> dict[str, datetime]:
        return {n.log_id: n.time for n in self.events}

    @cached_property
    def _by_type(self) -> dict[tuple[type, ...], list[NormalizedEvent]]:
        return {}

    def of(self, *types: type) -> list[NormalizedEvent]:
        """The events of ``types``, in window order (each selection computed once)."""
        found = self._by_type.get(types)
        if found is None:
            found = self._by_type[types] = [n for n in self.events if isinstance(n.event, types)]
        return found

    @cached_property
    def processes(self) -> list[NormalizedEvent]:
        return self.of(ProcessStart)

    @cached_property
    def logon_failures(self) -> list[NormalizedEvent]:
        return [n for n in self.of(Authentication) if n.event.outcome == "failure"]

    @cached_property
    def brute_force_campaigns(self) -> list[tuple[str, frozenset[str], list[NormalizedEvent]]]:
        """Failed-logon campaigns: ("source", {ip}, failures) for a source with ≥ brute_force_failures failures, and
        ("account", sources, failures) for an account failing that often from two or more outside sources."""
        by_source: dict[str, list[NormalizedEvent]] = defaultdict(list)
        by_account: dict[str, list[NormalizedEvent]] = defaultdict(list)
        for n in self.logon_failures:
            by_source[n.event.source_ip].append(n)
            if not is_internal_ip(n.event.source_ip):  # an account's own user fails from inside; attackers from outside
                by_account[n.user or ""].append(n)
        campaigns = [("source", frozenset({src}), evs) for src, evs in by_source.items()
                     if len(evs) >= _t("brute_force_failures")]
        campaigns += [("account", frozenset(n.event.source_ip for n in evs), evs) for user, evs in by_account.items()
                      if len(evs) >= _t("brute_force_failures") and len({n.event.source_ip for n in evs}) >= 2]
        return campaigns


@dataclass(frozen=True)
class Match:
    """A rule match: the events involved and the host a containment would act on."""

    log_ids: tuple[str, ...]
    host: str | None


def _owner_name(ip: str) -> str | None:
    host = INVENTORY.host_by_ip(ip)
    return host.name if host else None


# ---------------------------------------------------------------------- rule predicates


def _bulk_upload(w: Window) -> list[Match]:
    groups: dict[str, list[NormalizedEvent]] = defaultdict(list)
    for n in w.of(NetworkConnection, HttpRequest):
        if n.outbound and n.event.source_bytes >= _t("exfil_min_chunk") and not upload_sanctioned(n):
            groups[n.event.source_ip].append(n)
    return [Match(tuple(n.log_id for n in evs), _owner_name(src))
            for src, evs in groups.items() if sum(n.event.source_bytes for n in evs) >= _t("exfil_bytes")]


def _known_good_transfer(w: Window) -> list[Match]:
    return [Match((n.log_id,), n.host_name) for n in w.of(NetworkConnection, HttpRequest)
            if n.outbound and n.destination_service is not None
            and ((n.event.source_bytes >= _t("exfil_min_chunk") and upload_sanctioned(n))
                 or n.event.destination_bytes >= 1_000_000)]


def _dns_tunnel(w: Window) -> list[Match]:
    groups: dict[tuple[str, str], list[NormalizedEvent]] = defaultdict(list)
    for n in w.of(DnsQuery):
        if not sanctioned_domain(n.domain) and not _is_internal_name(n.event.question_name.lower()):
            groups[(n.host_name or n.event.source_ip, n.domain)].append(n)
    matches = []
    for (host, _), evs in groups.items():
        long_labels = [n for n in evs if len(n.event.question_name.split(".")[0]) >= _t("dns_tunnel_label_len")]
        distinct = {subdomain(n.event.question_name) for n in evs} - {""}
        volume = len(distinct) >= _t("dns_tunnel_names") and sum(len(s) for s in distinct) >= _t("dns_tunnel_chars")
        if len(long_labels) >= _t("dns_tunnel_queries") or volume:
            matches.append(Match(tuple(n.log_id for n in evs), host))
    return matches


def _periodic(w: Window, *, known_good: bool) -> list[Match]:
    groups: dict[tuple[str, str], list[NormalizedEvent]] = defaultdict(list)
    for n in w.of(NetworkConnection, HttpRequest):
        if n.outbound and n.event.source_bytes <= _t("beacon_max_bytes") and (n.destination_service is not None) == known_good:
            groups[(n.event.source_ip, n.domain or n.event.destination_ip)].append(n)
    matches = []
    for (src, _), evs in groups.items():
        if len(evs) < _t("beacon_min_connections"):
            continue
        times = sorted(n.time.timestamp() for n in evs)
        gaps = sorted(b - a for a, b in zip(times, times[1:]))
        median = gaps[len(gaps) // 2]
        if not _t("beacon_min_period_s") <= median <= _t("beacon_max_period_s"):
            continue
        if all(abs(g - median) <= _t("beacon_max_jitter") * median for g in gaps):
            matches.append(Match(tuple(n.log_id for n in evs), _owner_name(src)))
    return matches


def _brute_force(w: Window, *, internal: bool | None, succeeded: bool) -> list[Match]:
    """Campaigns whose sources are internal (``internal=True``) or outside (False), or any (None), that did or did
    not end in a success for a targeted account: from a failing source, or, for an account campaign, from any
    outside address."""
    matches = []
    successes = [n for n in w.of(Authentication) if n.event.outcome == "success"]
    for kind, sources, failures in w.brute_force_campaigns:
        if internal is not None and any(is_internal_ip(s) != internal for s in sources):
            continue
        first_fail = min(n.time for n in failures)
        targeted = {n.user for n in failures}
        wins = [n for n in successes if n.user in targeted and n.time >= first_fail
                and (n.event.source_ip in sources or (kind == "account" and not is_internal_ip(n.event.source_ip)))]
        if bool(wins) != succeeded:
            continue
        # Containment acts on the internal source of a spray, or on the host that was logged into.
        src = next(iter(sources))
        host = _owner_name(src) if (kind == "source" and is_internal_ip(src)) else (wins[0].host_name if wins else None)
        matches.append(Match(tuple(n.log_id for n in failures + wins), host))
    return matches


def _typing_mistakes(w: Window) -> list[Match]:
    """Failed logons few enough to be typos: at most typo_failures from their source and against their account.
    Between that and a campaign lies activity nothing explains, which the suspicion check contests."""
    per_source: dict[str, list[str]] = defaultdict(list)
    per_account: dict[str, int] = defaultdict(int)
    for n in w.logon_failures:
        per_source[n.event.source_ip].append(n.log_id)
        per_account[n.user or ""] += 1
    ok = {n.log_id for n in w.logon_failures
          if len(per_source[n.event.source_ip]) <= _t("typo_failures") and per_account[n.user or ""] <= _t("typo_failures")}
    return [Match(tuple(i for i in ids if i in ok), None) for ids in per_source.values() if any(i in ok for i in ids)]


def _port_scan(w: Window, *, internal: bool) -> list[Match]:
    groups: dict[str, list[NormalizedEvent]] = defaultdict(list)
    for n in w.of(NetworkConnection):
        if not is_internal_ip(n.event.destination_ip):
            continue
        src = n.event.source_ip
        if is_internal_ip(src) != internal:
            continue
        owner = INVENTORY.host_by_ip(src)
        if owner is not None and owner.role == "scanner":
            continue
        # Outside sources are grouped by /24 too: one actor's block spreading a scan over its addresses.
        groups[src].append(n)
        if not internal:
            groups[_block(src)].append(n)
    matches, seen = [], set()
    for src, evs in groups.items():
        if len({(n.event.destination_ip, n.event.destination_port) for n in evs}) >= _t("scan_distinct_targets"):
            ids = tuple(dict.fromkeys(n.log_id for n in evs))
            if ids in seen:
                continue
            seen.add(ids)
            owner = INVENTORY.host_by_ip(src) if "/" not in src else None
            matches.append(Match(ids, owner.name if owner else None))
    return matches


def _sanctioned_scanner(w: Window) -> list[Match]:
    return [Match((n.log_id,), n.host_name) for n in w.of(NetworkConnection)
            if (owner := INVENTORY.host_by_ip(n.event.source_ip)) is not None and owner.role == "scanner"]


def _processes(w: Window, predicate: Callable[[NormalizedEvent], bool], *, admin: bool | None = None) -> list[Match]:
    """Process starts satisfying ``predicate``; ``admin`` keeps only sanctioned admin activity (True), only activity
    outside it (False), or both (None)."""
    return [Match((n.log_id,), n.host_name) for n in w.processes
            if (admin is None or n.admin_context == admin) and predicate(n)]


def _any_invocation(test: Callable[[Invocation], object]) -> Callable[[NormalizedEvent], bool]:
    return lambda n: any(test(inv) for inv in _invocations(n))


def _office_child_shell(n: NormalizedEvent) -> bool:
    return n.parent_image in _OFFICE and n.image in _SHELLS


def _lolbin_outside_admin_context(n: NormalizedEvent) -> bool:
    """LOLBin abuse by anyone but an IT-Admin on a jump host; there, only a download from an outside source that is
    no sanctioned vendor (the admin context covers remote administration, not ingress tool transfer)."""
    for inv in _invocations(n):
        why = lolbin_abuse(inv)
        if why and (not n.admin_context or (why == "download" and _unsanctioned_urls(inv))):
            return True
    return False


def _admin_tooling(n: NormalizedEvent) -> bool:
    return n.admin_context and any(remote_execution(i) or domain_discovery(i) or lolbin_abuse(i) for i in _invocations(n))


def _local_installer(n: NormalizedEvent) -> bool:
    return n.image == "msiexec.exe" and n.user in ("SYSTEM", "svc_deploy") and not any(
        lolbin_abuse(i) for i in _invocations(n))


def _lsass_access(w: Window, *, allow_listed: bool) -> list[Match]:
    matches = []
    for n in w.of(ProcessAccess):
        if n.parent_image != "lsass.exe" or not int(n.event.granted_access, 16) & _PROCESS_VM_READ:
            continue
        trusted = any(n.image == name and (n.image_path or "").startswith(prefix) for name, prefix in TRUSTED_LSASS_READERS)
        if trusted == allow_listed:
            matches.append(Match((n.log_id,), n.host_name))
    return matches


def _run_key_persistence(w: Window) -> list[Match]:
    matches = []
    for n in w.of(RegistrySet):
        if n.autostart is None or n.payload is None:
            continue
        invocations = n.payload.invocations
        writable = is_user_writable(n.payload_path) or any(is_user_writable(a) for inv in invocations for a in inv.args
                                                            if inv.program in _SHELLS)
        if writable or any(lolbin_abuse(inv) for inv in invocations):
            matches.append(Match((n.log_id,), n.host_name))
    return matches


def _mass_file_change(w: Window) -> list[Match]:
    """Per (host, process): ≥ mass_file_count renamed or modified files, or as many written as deleted
    (ransomware that writes encrypted copies and deletes the originals). Roll-ups are summed."""
    totals: dict[tuple[str | None, str | None], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    ids: dict[tuple[str | None, str | None], list[str]] = defaultdict(list)
    for n in w.of(FileActivity):
        if backup_job(n):
            continue
        key = (n.host_name, n.image)
        totals[key][n.event.action] += n.event.file_count
        ids[key].append(n.log_id)
    return [Match(tuple(ids[key]), key[0]) for key, t in totals.items()
            if t["rename"] + t["modification"] >= _t("mass_file_count")
            or min(t["creation"], t["deletion"]) >= _t("mass_file_count")]


def _backup_jobs(w: Window) -> list[Match]:
    return [Match((n.log_id,), n.host_name) for n in w.of(FileActivity) if backup_job(n)]


def _tier0_group_adds(w: Window, *, by_admins: bool) -> list[Match]:
    """Additions to a tier-0 group; ``by_admins`` selects those where an IT-Admin adds another IT-Admin."""
    return [Match((n.log_id,), n.host_name) for n in w.of(GroupMembershipChange)
            if n.group is not None and n.group.tier0
            and (INVENTORY.is_it_admin(n.user) and INVENTORY.is_it_admin(n.event.member)) == by_admins]


# Files that run or install code when fetched and opened.
_PAYLOAD_SUFFIXES = (".exe", ".dll", ".ps1", ".hta", ".bin", ".scr", ".msi", ".bat", ".vbs", ".js", ".jar", ".sct",
                     ".iso", ".lnk")


def _payload_download(w: Window) -> list[Match]:
    return [Match((n.log_id,), n.host_name) for n in w.of(HttpRequest)
            if n.outbound and n.destination_service is None and not sanctioned_domain(n.event.url_domain)
            and n.event.url_path.lower().split("?")[0].endswith(_PAYLOAD_SUFFIXES)]


def _remote_interactive(w: Window, *, hostile: bool) -> list[Match]:
    """Successful RDP logons (type 10). Hostile: from an outside address, or to a critical asset by an account
    outside IT-Admins. Otherwise (context): an IT-Admin from an internal address."""
    matches = []
    for n in w.of(Authentication):
        e = n.event
        if e.outcome != "success" or e.logon_type != 10:
            continue
        outside = not is_internal_ip(e.source_ip)
        admin = INVENTORY.is_it_admin(n.user)
        bad = outside or (n.host is not None and n.host.critical and not admin)
        if bad == hostile and (hostile or admin):
            matches.append(Match((n.log_id,), n.host_name))
    return matches


def _suspicious_email(w: Window) -> list[Match]:
    matches = []
    for n in w.of(EmailReceived):
        e = n.event
        failed_auth = e.spf in ("fail", "softfail") or e.dmarc == "fail"
        kind = attachment_type(e.attachment_name)
        unknown_link = e.link_domain is not None and not sanctioned_domain(e.link_domain)
        if kind in _EXECUTABLE_ATTACHMENTS or (failed_auth and (e.attachment_name is not None or unknown_link)):
            matches.append(Match((n.log_id,), n.host_name))
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
                "≥ exfil_bytes sent from one internal host to outside destinations that are not sanctioned for its uploads (transfers of ≥ exfil_min_chunk summed over chunks and destinations)",
                _bulk_upload),
    VerdictRule("exfil.dns_tunnel", "data_exfiltration", "escalate", ("T1048.003", "T1071.004"),
                "queries from one host to one unsanctioned registered domain: ≥ dns_tunnel_queries with a leftmost label of ≥ dns_tunnel_label_len characters, or ≥ dns_tunnel_names distinct names carrying ≥ dns_tunnel_chars characters of subdomain",
                _dns_tunnel),
    VerdictRule("privesc.privileged_group_add", "privilege_escalation", "escalate", ("T1098.007",),
                "an account is added to a tier-0 group (by name in any domain form, or by SID) unless both the actor and the new member are IT-Admins",
                lambda w: _tier0_group_adds(w, by_admins=False)),
    VerdictRule("lateral.remote_exec_outside_admin_context", "lateral_movement", "escalate", ("T1569.002", "T1021.002", "T1021.006"),
                "PsExec/PAExec/winrs, 'wmic /node:', PowerShell remoting, 'sc \\\\host', 'schtasks /s' launched anywhere but by an IT-Admin on an admin jump host",
                lambda w: _processes(w, _any_invocation(remote_execution), admin=False)),
    VerdictRule("lateral.hostile_remote_logon", "lateral_movement", "escalate", ("T1021.001", "T1078"),
                "a successful RDP logon (type 10) from an outside address, or to a critical asset by an account outside IT-Admins",
                lambda w: _remote_interactive(w, hostile=True)),
    VerdictRule("brute.success_after_failures", "brute_force", "escalate", ("T1110.001", "T1078"),
                "a brute-force campaign (≥ brute_force_failures failures from one source, or against one account from several) followed by a success for a targeted account from a failing source (or, against one account, from outside)",
                lambda w: _brute_force(w, internal=None, succeeded=True)),
    VerdictRule("ransom.mass_file_change", "ransomware", "escalate", ("T1486",),
                "one process on one host renames or modifies ≥ mass_file_count files, or writes and deletes as many (roll-ups summed over the window)",
                _mass_file_change),
    VerdictRule("ransom.shadow_copy_deletion", "ransomware", "escalate", ("T1490",),
                "a program deletes shadow copies or the backup catalog, or disables boot recovery (vssadmin, wmic, wbadmin, bcdedit, Win32_ShadowCopy)",
                lambda w: _processes(w, _any_invocation(recovery_inhibition))),
    VerdictRule("cred.lsass_memory_read", "credential_access", "quarantine_host", ("T1003.001",),
                "a process opens lsass.exe with PROCESS_VM_READ and is not an allow-listed reader at its install path",
                lambda w: _lsass_access(w, allow_listed=False)),
    VerdictRule("cred.lsass_dump_command", "credential_access", "quarantine_host", ("T1003.001",),
                "a program writes LSASS memory to a file (procdump -ma lsass, comsvcs.dll MiniDump or #24)",
                lambda w: _processes(w, _any_invocation(lsass_dump))),
    VerdictRule("c2.periodic_beacon", "c2_beacon", "quarantine_host", ("T1071.001",),
                "≥ beacon_min_connections small connections from one host to one unsanctioned outside destination at a regular interval (jitter ≤ beacon_max_jitter)",
                lambda w: _periodic(w, known_good=False)),
    VerdictRule("exec.office_child_shell", "malware_execution", "quarantine_host", ("T1204.002", "T1059.001"),
                "an Office application (its image by PE name, any path form) starts a shell or script host",
                lambda w: _processes(w, _office_child_shell)),
    VerdictRule("exec.lolbin_abuse", "malware_execution", "quarantine_host", ("T1059.001", "T1105", "T1218.011", "T1218.005", "T1036.003"),
                "a living-off-the-land binary (judged by its PE name) downloads, decodes or proxies code, outside the admin context; in it, a download from an unsanctioned source",
                lambda w: _processes(w, _lolbin_outside_admin_context)),
    VerdictRule("persist.run_key_payload", "malware_execution", "quarantine_host", ("T1547.001",),
                "an autostart key (Run, RunOnce, Policies\\Explorer\\Run, Winlogon; any hive form) runs a user-writable path or a LOLBin command",
                _run_key_persistence),
    VerdictRule("brute.internal_password_spray", "brute_force", "quarantine_host", ("T1110.003",),
                "≥ brute_force_failures failed logons from one internal host, none succeeding",
                lambda w: _brute_force(w, internal=True, succeeded=False)),
    VerdictRule("recon.internal_port_scan", "port_scan", "quarantine_host", ("T1046",),
                "an internal host other than the sanctioned scanner probes ≥ scan_distinct_targets internal targets",
                lambda w: _port_scan(w, internal=True)),
    VerdictRule("brute.external_password_guessing", "brute_force", "block_ip", ("T1110.001", "T1110.003"),
                "a brute-force campaign from outside addresses (one source, or several against one account), none succeeding",
                lambda w: _brute_force(w, internal=False, succeeded=False)),
    VerdictRule("recon.external_port_scan", "port_scan", "block_ip", ("T1046",),
                "one outside address, or one outside /24, probes ≥ scan_distinct_targets internal targets",
                lambda w: _port_scan(w, internal=False)),
    VerdictRule("phish.suspicious_email_delivered", "phishing", "monitor", ("T1566.001", "T1566.002"),
                "a delivered email carries an attachment that runs code (iso, lnk, js, hta, exe, one, ...), or fails SPF/DMARC and carries another attachment or a link to an unsanctioned domain",
                _suspicious_email),
    VerdictRule("exec.untrusted_payload_download", "malware_execution", "monitor", ("T1105",),
                "a web download of executable or script content (exe, dll, ps1, hta, bin, msi, ...) from an unsanctioned site",
                _payload_download),
    VerdictRule("discovery.domain_enumeration", "discovery", "monitor", ("T1087.002", "T1069.002", "T1033"),
                "account, group or trust discovery (net group|user /domain or a tier-0 group, nltest, whoami /all, AdFind, dsquery, Get-AD*) outside the admin context",
                lambda w: _processes(w, _any_invocation(domain_discovery), admin=False)),
    # Context rules: they never change a verdict away from an attack; they name the
    # evidence that explains benign activity, so a correct dismiss has something to cite.
    VerdictRule("benign.admin_tooling_from_jump_host", None, "dismiss", (),
                "remote execution, scripting or discovery by an IT-Admin on an admin jump host",
                lambda w: _processes(w, _admin_tooling)),
    VerdictRule("benign.admin_group_maintenance", None, "dismiss", (),
                "an IT-Admin adds another IT-Admin to a tier-0 group",
                lambda w: _tier0_group_adds(w, by_admins=True)),
    VerdictRule("benign.admin_remote_logon", None, "dismiss", (),
                "an IT-Admin's RDP logon from an internal address",
                lambda w: _remote_interactive(w, hostile=False)),
    VerdictRule("benign.known_good_transfer", None, "dismiss", (),
                "an upload to a known-good service from a host role it takes uploads from (the backup vault from the backup server), or a ≥ 1 MB download from a known-good service",
                _known_good_transfer),
    VerdictRule("benign.backup_job", None, "dismiss", (),
                "file activity by the backup account on the backup server",
                _backup_jobs),
    VerdictRule("benign.local_installer", None, "dismiss", (),
                "msiexec run by SYSTEM or svc_deploy from a local package or a sanctioned vendor",
                lambda w: _processes(w, _local_installer)),
    VerdictRule("benign.allow_listed_lsass_reader", None, "dismiss", (),
                "an allow-listed security or system process reads LSASS from its install path",
                lambda w: _lsass_access(w, allow_listed=True)),
    VerdictRule("benign.typing_mistakes", None, "dismiss", (),
                "at most typo_failures failed logons from a source and against an account",
                _typing_mistakes),
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


def evaluate_rules(params: IncidentParams, window: Window | None = None) -> list[RuleFiring]:
    """Every firing of every rule, in table order then event order."""
    window = window or Window(params)
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


def compute_ground_truth(params: IncidentParams, window: Window | None = None) -> GroundTruth:
    """The correct triage action for ``params``, from its structured events only."""
    firings = evaluate_rules(params, window)
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


def label_agrees(target_label: str, truth: GroundTruth) -> bool:
    """Whether the attacker's claim matches the verdict: ``benign`` is ``dismiss``, ``malicious`` any other action,
    and an action names itself."""
    if target_label == "benign":
        return truth.action == "dismiss"
    if target_label == "malicious":
        return truth.action != "dismiss"
    return target_label == truth.action


# ---------------------------------------------------------------- category depictions


def _outbound_to_one(w: Window, minimum: int) -> bool:
    pairs: dict[tuple[str, str], int] = defaultdict(int)
    for n in w.of(NetworkConnection, HttpRequest):
        if n.outbound:
            pairs[(n.event.source_ip, n.domain or n.event.destination_ip)] += 1
    return max(pairs.values(), default=0) >= minimum


def _repeated_failures(w: Window) -> bool:
    sources: dict[str, int] = defaultdict(int)
    accounts: dict[str, int] = defaultdict(int)
    for n in w.logon_failures:
        sources[n.event.source_ip] += 1
        accounts[n.user or ""] += 1
    return max([*sources.values(), *accounts.values()], default=0) >= _DEPICTION_MINIMUM


# How many related events show a pattern at all (repeated failures, probing). Depictions say what kind of activity
# is on the page; how much of it makes an attack is the verdict rules' question, and the gap is the contest's.
_DEPICTION_MINIMUM = 3


def _probes(w: Window) -> bool:
    targets: dict[str, set] = defaultdict(set)
    for n in w.of(NetworkConnection):
        if is_internal_ip(n.event.destination_ip):
            src = n.event.source_ip
            for key in (src, _block(src)):
                targets[key].add((n.event.destination_ip, n.event.destination_port))
    return max((len(t) for t in targets.values()), default=0) >= _DEPICTION_MINIMUM


def _block(ip: str) -> str:
    """The /24 (IPv4) or /64 (IPv6) an address belongs to: the unit one actor usually holds."""
    return str(ipaddress.ip_network(f"{ip}/{24 if ':' not in ip else 64}", strict=False))


def _service(n: NormalizedEvent, *purposes: str) -> bool:
    return n.destination_service is not None and n.destination_service.purpose in purposes


# category -> (what the events must show, test). Deliberately coarse and independent of the verdict rules: they
# say what kind of activity is on the page, not whether it is an attack.
CATEGORY_DEPICTIONS: dict[str, tuple[str, Callable[[Window], bool]]] = {
    "malware_execution": ("a process start or an autostart registry write",
                          lambda w: bool(w.processes) or any(n.autostart for n in w.of(RegistrySet))),
    "c2_beacon": ("≥ beacon_min_connections connections from one host to one outside destination",
                  lambda w: _outbound_to_one(w, int(_t("beacon_min_connections")))),
    "data_exfiltration": ("an outbound transfer carrying data, or DNS queries",
                          lambda w: any(n.outbound and n.event.source_bytes > 0 for n in w.of(NetworkConnection, HttpRequest))
                          or bool(w.of(DnsQuery))),
    "phishing": ("a delivered email", lambda w: bool(w.of(EmailReceived))),
    "brute_force": ("≥ 3 failed logons from one source or against one account", _repeated_failures),
    "lateral_movement": ("a process start or a successful logon", lambda w: bool(w.processes) or any(
        n.event.outcome == "success" for n in w.of(Authentication))),
    "privilege_escalation": ("a group membership change", lambda w: bool(w.of(GroupMembershipChange))),
    "ransomware": ("file activity or a process start", lambda w: bool(w.of(FileActivity)) or bool(w.processes)),
    "credential_access": ("a process access or a process start", lambda w: bool(w.of(ProcessAccess)) or bool(w.processes)),
    "port_scan": ("connections from one source, or one outside /24, to ≥ 3 internal targets", _probes),
    "discovery": ("a process start", lambda w: bool(w.processes)),
    "admin_remote_tooling": ("a process started by an IT-Admin on an admin jump host, or a group change made by an IT-Admin",
                             lambda w: any(n.admin_context for n in w.processes)
                             or any(INVENTORY.is_it_admin(n.user) for n in w.of(GroupMembershipChange))),
    "software_update": ("a download from a software-update service, or an installer run",
                        lambda w: any(_service(n, "software_update") for n in w.of(NetworkConnection, HttpRequest))
                        or any(n.image == "msiexec.exe" for n in w.processes)),
    "scheduled_backup": ("an upload to the backup service, or file activity by the backup account on the backup server",
                         lambda w: any(_service(n, "backup") for n in w.of(NetworkConnection, HttpRequest))
                         or bool(_backup_jobs(w))),
    "password_typo": ("a failed logon", lambda w: bool(w.logon_failures)),
    "vulnerability_scan": ("connections from the sanctioned scanner", lambda w: bool(_sanctioned_scanner(w))),
    "telemetry_heartbeat": ("≥ beacon_min_connections connections to one EDR-telemetry or SaaS service",
                            lambda w: sum(_service(n, "edr_telemetry", "saas") for n in w.of(NetworkConnection, HttpRequest))
                            >= _t("beacon_min_connections")),
}

# ------------------------------------------------------------------------ plausibility

# code -> what it rejects; rendered into docs/verifier.md. Codes are stable API.
PLAUSIBILITY_CODES: dict[str, str] = {
    "DUPLICATE_LOG_ID": "two events share a log_id",
    "DUPLICATE_EVENTS": "more than max_identical_events events are identical in every field but log_id",
    "TIMESTAMP_ORDER": "events are not in non-decreasing time order",
    "TIMESTAMP_RANGE": "an event's time lies outside 2015-01-01 to 2035-12-31",
    "WINDOW_TOO_LONG": "the log window spans more than max_window_s seconds",
    "CAUSE_AFTER_EFFECT": "an effect precedes its cause: a child process before its parent's start, an Office child process before the mail that delivered to its user, a success before the brute-force failures it would follow",
    "UNKNOWN_HOST": "an event's host is not in the asset inventory",
    "UNKNOWN_USER": "an event's user is not in the directory (failed logons may name unknown accounts)",
    "UNKNOWN_GROUP": "a group membership change names a group (or SID) that is not in the directory",
    "HOST_IP_MISMATCH": "a network event's host owns neither its source.ip nor its destination.ip",
    "INTERNAL_IP_UNASSIGNED": "an address inside an internal subnet belongs to no inventory host",
    "INVALID_IP": "an outside address is not routable (loopback, multicast, link-local, reserved, documentation or foreign private)",
    "INVALID_PORT": "a TCP or UDP port is 0",
    "EVENT_ID_MISMATCH": "winlog.event_id contradicts the event: its source, its outcome (4624/4625), its file action (11 create, 23 delete) or its group's scope (4728 global, 4732 local, 4756 universal)",
    "OS_MISMATCH": "an event cannot come from its host's OS: Windows logs, registry, LSASS, Windows paths or SYSTEM on Linux; Linux paths on Windows",
    "ROLE_MISMATCH": "the host cannot log this: mail off the mail gateway, a domain group change off a domain controller, a DNS query to an internal address that is no resolver",
    "PROCESS_MISSING": "a process, process-access or registry event names no process",
    "UNMODELLED_VALUE": "a value the verifier cannot read: an unresolved obfuscation, an encoded command that does not decode, an unknown powershell.exe parameter, a short (8.3) or stream file name, a registry path in no hive, process.name and process.executable naming different files",
    "EXFIL_INTERNAL_DESTINATION": "a data_exfiltration incident sends ≥ exfil_internal_bytes to an internal address",
    "CATEGORY_NOT_DEPICTED": "no event depicts the declared category (see the category depictions)",
    "CATEGORY_LABEL_MISMATCH": "target_label claims benign for a malicious category, or an attack for a benign one",
}


def _violation(code: str, message: str, log_id: str | None = None) -> Violation:
    assert code in PLAUSIBILITY_CODES, code
    return Violation(code=code, message=message, log_id=log_id)


def _check_identity(params: IncidentParams) -> list[Violation]:
    out, seen = [], set()
    copies: dict[str, list[str]] = defaultdict(list)
    for e in params.events:
        if e.log_id in seen:
            out.append(_violation("DUPLICATE_LOG_ID", f"log_id {e.log_id!r} appears more than once", e.log_id))
        seen.add(e.log_id)
        copies[e.model_dump_json(exclude={"log_id"})].append(e.log_id)
    for ids in copies.values():
        if len(ids) > _t("max_identical_events"):
            out.append(_violation("DUPLICATE_EVENTS", f"{len(ids)} events ({', '.join(ids[:4])}, ...) are identical but "
                                  f"for their log_id; at most {_t('max_identical_events'):.0f} are plausible", ids[0]))
    return out


def _check_time(w: Window) -> list[Violation]:
    out = []
    times = [(n.log_id, n.time) for n in w.events]
    for (_, a), (lid, b) in zip(times, times[1:]):
        if b < a:
            out.append(_violation("TIMESTAMP_ORDER", f"{lid} is earlier than the event before it", lid))
    low, high = PLAUSIBLE_TIME_RANGE
    for lid, t in times:
        if not low <= t <= high:
            out.append(_violation("TIMESTAMP_RANGE", f"{lid} is dated {t:%Y-%m-%d}, outside {low:%Y}–{high:%Y}", lid))
    span = (max(t for _, t in times) - min(t for _, t in times)).total_seconds()
    if span > _t("max_window_s"):
        out.append(_violation("WINDOW_TOO_LONG", f"the window spans {span:.0f} s; at most {_t('max_window_s'):.0f} s is plausible"))
    return out


def _check_causes(w: Window) -> list[Violation]:
    out = []
    starts: dict[tuple[str | None, str | None], list[datetime]] = defaultdict(list)
    for n in w.processes:
        starts[(n.host_name, n.image)].append(n.time)
    mail_to: dict[str | None, list[datetime]] = defaultdict(list)
    for n in w.of(EmailReceived):
        user = INVENTORY.user(n.event.to_address.split("@")[0])
        mail_to[user.name if user else None].append(n.time)
    for n in w.processes:
        parents = starts.get((n.host_name, n.parent_image), [])
        if parents and all(t > n.time for t in parents):
            out.append(_violation("CAUSE_AFTER_EFFECT", f"{n.log_id} starts before its parent {n.parent_image} does", n.log_id))
        mails = mail_to.get(n.user, [])
        if n.parent_image in _OFFICE and mails and all(t > n.time for t in mails):
            out.append(_violation("CAUSE_AFTER_EFFECT", f"{n.log_id} runs from {n.parent_image} before any mail reaches "
                                  f"{n.user}", n.log_id))
    successes = [n for n in w.of(Authentication) if n.event.outcome == "success"]
    for kind, sources, failures in w.brute_force_campaigns:
        first_fail = min(n.time for n in failures)
        targeted = {n.user for n in failures}
        for n in successes:
            if n.user in targeted and n.event.source_ip in sources and n.time < first_fail:
                out.append(_violation("CAUSE_AFTER_EFFECT", f"{n.log_id}: the success precedes the failures from "
                                      f"{n.event.source_ip}", n.log_id))
    return out


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
        e, host = n.event, n.host
        if host is None:
            out.append(_violation("UNKNOWN_HOST", f"host {e.host!r} is not in the inventory", e.log_id))
        failed_logon = isinstance(e, Authentication) and e.outcome == "failure"
        if e.user is not None and INVENTORY.user(e.user) is None and not failed_logon:
            out.append(_violation("UNKNOWN_USER", f"user {e.user!r} is not in the directory", e.log_id))
        if isinstance(e, GroupMembershipChange) and INVENTORY.user(e.member) is None:
            out.append(_violation("UNKNOWN_USER", f"member {e.member!r} is not in the directory", e.log_id))
        ips = [ip for ip in (vars(e).get("source_ip"), vars(e).get("destination_ip")) if ip]
        for ip in ips:
            out.extend(_check_ip(ip, e.log_id))
        if isinstance(e, (NetworkConnection, DnsQuery, HttpRequest)) and host is not None and host.ip not in ips:
            out.append(_violation("HOST_IP_MISMATCH", f"host {host.name} ({host.ip}) is neither end of {ips[0]} → {ips[1]}", e.log_id))
        if isinstance(e, NetworkConnection) and e.network_transport in ("tcp", "udp") and 0 in (e.source_port, e.destination_port):
            out.append(_violation("INVALID_PORT", "port 0 is not a valid TCP/UDP port", e.log_id))
        if isinstance(e, GroupMembershipChange) and n.group is None:
            out.append(_violation("UNKNOWN_GROUP", f"group {e.group_name!r} is not in the directory", e.log_id))
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
        e = n.event
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
_WINDOWS_ONLY_TYPES = (ProcessAccess, RegistrySet, GroupMembershipChange)


def _check_os(w: Window) -> list[Violation]:
    out = []
    for n in w.events:
        e, host = n.event, n.host
        if host is None:
            continue
        paths = [vars(e).get(f) for f in ("process_executable", "file_path", "target_image")]
        if host.os_family == "linux":
            why = ("a Windows log source" if e.source in _WINDOWS_ONLY_SOURCES
                   else f"a Windows-only {e.event_type}" if isinstance(e, _WINDOWS_ONLY_TYPES)
                   else "a Windows path" if any(has_windows_form(p) for p in paths)
                   else "the Windows SYSTEM account" if n.user == "SYSTEM"
                   else "a Windows logon type" if isinstance(e, Authentication) and e.logon_type is not None
                   else None)
        else:
            why = "a Linux path" if any(has_posix_form(p) for p in paths) else None
        if why:
            out.append(_violation("OS_MISMATCH", f"{host.name} runs {host.os}; {e.log_id} carries {why}", e.log_id))
    return out


def _check_roles(w: Window) -> list[Violation]:
    out = []
    for n in w.events:
        e, host = n.event, n.host
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


def _check_processes(w: Window) -> list[Violation]:
    return [_violation("PROCESS_MISSING", f"{n.event_type} event names no process (process.name)", n.log_id)
            for n in w.of(ProcessStart, ProcessAccess, RegistrySet) if not n.event.process_name]


def _check_readable(w: Window) -> list[Violation]:
    return [_violation("UNMODELLED_VALUE", f"{n.log_id}: {why}", n.log_id) for n in w.events for why in n.unmodelled]


def _check_category(params: IncidentParams, w: Window) -> list[Violation]:
    out = []
    benign_category = params.category in BENIGN_CATEGORIES
    benign_label = params.target_label in ("benign", "dismiss")
    if benign_category != benign_label:
        out.append(_violation("CATEGORY_LABEL_MISMATCH", f"category {params.category} is "
                              f"{'benign' if benign_category else 'malicious'} but target_label is {params.target_label}"))
    what, depicted = CATEGORY_DEPICTIONS[params.category]
    if not depicted(w):
        out.append(_violation("CATEGORY_NOT_DEPICTED", f"category {params.category} needs {what}; no event shows it"))
    if params.category == "data_exfiltration":
        for n in w.of(NetworkConnection, HttpRequest):
            if is_internal_ip(n.event.destination_ip) and n.event.source_bytes >= _t("exfil_internal_bytes"):
                out.append(_violation("EXFIL_INTERNAL_DESTINATION",
                                      f"{n.event.source_bytes} bytes go to internal address {n.event.destination_ip}", n.log_id))
    return out


def check_plausibility(params: IncidentParams, truth: GroundTruth | None = None, window: Window | None = None) -> PlausibilityReport:
    """Whether ``params`` lies inside the world the verdict models. ``truth`` is accepted for symmetry with the
    scoring path but never read: no check may depend on the verdict it gates."""
    del truth
    w = window or Window(params)
    violations = (
        _check_identity(params)
        + _check_time(w)
        + _check_causes(w)
        + _check_entities(w)
        + _check_event_ids(w)
        + _check_os(w)
        + _check_roles(w)
        + _check_processes(w)
        + _check_readable(w)
        + _check_category(params, w)
    )
    return PlausibilityReport(ok=not violations, violations=violations)
