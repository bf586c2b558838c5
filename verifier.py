"""Ground truth from an incident's structured events alone, and what explains each event.

``compute_ground_truth`` runs the verdict rule table (``VERDICT_RULES``) over the normalised events
(``parsing.normalize``: executables, command lines, accounts, groups, registry keys and domains read the way the
systems that wrote them mean them), the software catalog (``world.catalog``: what each program and cmdlet
invocation is) and the asset inventory. ``explain`` says, for every event, what accounts for it: a rule that fired
on it (an attack, or a named benign context of the world), or an ordinary activity of the world (``ORDINARY``).

Invariants:
- the verdict depends only on ``params.events`` (and the fixed world: inventory and catalog);
- the verdict is the most severe action among the malicious rules that fire, ordered
  ``escalate > quarantine_host > block_ip > monitor``, and ``dismiss`` only when every event is explained by a
  benign rule or an ordinary activity: an event nothing explains is not "nothing happened", it is an incident the
  verifier cannot adjudicate, and admission (``adjudication.admission``) refuses it;
- a process's meaning comes from its catalog use (its class), never from its name or a substring of its command;
- a quarantine-class finding on a critical asset is escalated;
- rules that describe an aggregate (roll-ups, uploads, failed logons, scans) sum over the whole window; each names
  the world's context that is its exception, and that context explains only the events it covers.
"""

from __future__ import annotations

import ipaddress
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from pydantic import Field

from .parsing.commandline import Invocation, canonical_image
from .parsing.normalize import (
    NormalizedEvent,
    attachment_type,
    backup_job,
    is_user_writable,
    normalize_event,
    sanctioned_domain,
    subdomain,
    upload_sanctioned,
)
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
)
from .world.catalog import OFFICE, Context, Judgment, judge, judge_running, program_for
from .world.inventory import INVENTORY, TRUSTED_LSASS_READERS, is_internal_ip

# ------------------------------------------------------------------------- thresholds

# One table, rendered into docs/verifier.md; every numeric cut-off the rules use is here.
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


# ------------------------------------------------------------------------- vocabulary

_SHELLS = frozenset({"powershell.exe", "pwsh.exe", "cmd.exe", "wscript.exe", "cscript.exe", "mshta.exe", "rundll32.exe",
                     "regsvr32.exe", "certutil.exe", "bitsadmin.exe", "msiexec.exe", "wmic.exe", "schtasks.exe",
                     "curl.exe", "msbuild.exe", "installutil.exe", "cmstp.exe", "hh.exe", "forfiles.exe", "bash.exe"})
# Attachment types that run code when opened: risky from any outside sender.
_EXECUTABLE_ATTACHMENTS = frozenset({".iso", ".img", ".vhd", ".vhdx", ".lnk", ".js", ".jse", ".hta", ".vbs", ".vbe",
                                     ".wsf", ".exe", ".scr", ".com", ".bat", ".cmd", ".ps1", ".one", ".msi", ".cpl",
                                     ".jar", ".chm"})
_PROCESS_VM_READ = 0x0010
# Host roles whose job is to reach many hosts at once (the scanner, the remote-access gateway, single sign-on, software
# management): their connections are no scan.
_FAN_OUT_ROLES = frozenset({"scanner", "vpn_gateway", "sso_server", "management_server"})
_MANAGEMENT_AGENTS = frozenset({"ccmexec.exe", "agentexecutor.exe"})


def _invocations(n: NormalizedEvent) -> tuple[Invocation, ...]:
    if n.command is not None and n.command.invocations:
        return n.command.invocations
    return (Invocation(n.image or "", ()),) if n.image else ()


def context_of(n: NormalizedEvent) -> Context:
    return Context(user=n.user, host_role=n.host.role if n.host else None, admin_context=n.admin_context,
                   parent=n.parent_image)


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
    def judgments(self) -> dict[str, tuple[tuple[Invocation, Judgment], ...]]:
        """Each process start's invocations (the event's own process judged at its logged path), each registry
        write's stored command, and each process access's accessor, with their catalog judgments."""
        out: dict[str, tuple[tuple[Invocation, Judgment], ...]] = {}
        for n in self.events:
            ctx = context_of(n)
            if isinstance(n.event, ProcessStart):
                invs = _invocations(n)
                out[n.log_id] = tuple((inv, judge(inv, ctx, n.image_path if i == 0 else None))
                                      for i, inv in enumerate(invs))
            elif isinstance(n.event, RegistrySet) and n.payload is not None:
                out[n.log_id] = tuple((inv, judge(inv, Context(user=n.user, host_role=ctx.host_role)))
                                      for inv in n.payload.invocations)
            elif isinstance(n.event, ProcessAccess) and n.image:
                out[n.log_id] = ((Invocation(n.image, ()), judge_running(n.image, ctx, n.image_path)),)
        return out

    @cached_property
    def logon_failures(self) -> list[NormalizedEvent]:
        return [n for n in self.of(Authentication) if n.event.outcome == "failure"]

    @cached_property
    def stale_service_logons(self) -> list[NormalizedEvent]:
        """Failed logons of a service account from a host its service runs on: a password nobody updated."""
        out = []
        for n in self.logon_failures:
            account = INVENTORY.user(n.user) if n.user else None
            source = INVENTORY.host_by_ip(n.event.source_ip)
            if account is not None and account.kind == "service" and source is not None and source.name in account.runs_on:
                out.append(n)
        return out

    @cached_property
    def brute_force_campaigns(self) -> list[tuple[str, frozenset[str], list[NormalizedEvent]]]:
        """Failed-logon campaigns: ("source", {ip}, failures) for a source with ≥ brute_force_failures failures, and
        ("account", sources, failures) for an account failing that often from two or more outside sources. A service
        account's failures from its own host (a stale password) are no campaign."""
        stale = {n.log_id for n in self.stale_service_logons}
        by_source: dict[str, list[NormalizedEvent]] = defaultdict(list)
        by_account: dict[str, list[NormalizedEvent]] = defaultdict(list)
        for n in self.logon_failures:
            if n.log_id in stale:
                continue
            by_source[n.event.source_ip].append(n)
            if not is_internal_ip(n.event.source_ip):  # an account's own user fails from inside; attackers from outside
                by_account[n.user or ""].append(n)
        campaigns = [("source", frozenset({src}), evs) for src, evs in by_source.items()
                     if len(evs) >= _t("brute_force_failures")]
        campaigns += [("account", frozenset(n.event.source_ip for n in evs), evs) for user, evs in by_account.items()
                      if len(evs) >= _t("brute_force_failures") and len({n.event.source_ip for n in evs}) >= 2]
        return campaigns

    @cached_property
    def firings(self) -> list[RuleFiring]:
        return evaluate_rules(self.params, self)


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
            and n.event.destination_bytes >= 1_000_000]


def _blocklist_lookup(n: NormalizedEvent) -> bool:
    """A DNS blocklist lookup by a host whose function asks that list (the mail relay asking about a sender)."""
    name = n.event.question_name.lower().rstrip(".")
    return n.host is not None and any(
        s.purpose == "dnsbl" and (name == s.domain or name.endswith("." + s.domain))
        and bool(set(s.queried_from) & set(n.host.functions)) for s in INVENTORY.services)


def _dns_tunnel(w: Window) -> list[Match]:
    groups: dict[tuple[str, str], list[NormalizedEvent]] = defaultdict(list)
    for n in w.of(DnsQuery):
        if not sanctioned_domain(n.domain) and not _is_internal_name(n.event.question_name.lower()):
            groups[(n.host_name or n.event.source_ip, n.domain or "")].append(n)
    matches = []
    for (host, _), evs in groups.items():
        long_labels = [n for n in evs if len(n.event.question_name.split(".")[0]) >= _t("dns_tunnel_label_len")]
        distinct = {subdomain(n.event.question_name) for n in evs} - {""}
        volume = len(distinct) >= _t("dns_tunnel_names") and sum(len(s) for s in distinct) >= _t("dns_tunnel_chars")
        if len(long_labels) >= _t("dns_tunnel_queries") or volume:
            matches.append(Match(tuple(n.log_id for n in evs), host))
    return matches


def _is_internal_name(domain: str) -> bool:
    try:
        return is_internal_ip(str(ipaddress.ip_address(domain)))
    except ValueError:
        return domain.endswith(".corp.example.com") or "." not in domain


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
        gaps = sorted(b - a for a, b in zip(times, times[1:], strict=False))
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
    """Failed logons few enough to be typos: of an account the directory has, at most typo_failures from their source
    and against their account (a name nobody has is a guess, not a typo)."""
    stale = {n.log_id for n in w.stale_service_logons}
    per_source: dict[str, list[str]] = defaultdict(list)
    per_account: dict[str, int] = defaultdict(int)
    for n in w.logon_failures:
        if n.log_id in stale:
            continue
        per_source[n.event.source_ip].append(n.log_id)
        per_account[n.user or ""] += 1
    ok = {n.log_id for n in w.logon_failures if n.log_id not in stale and INVENTORY.user(n.user or "") is not None
          and len(per_source[n.event.source_ip]) <= _t("typo_failures") and per_account[n.user or ""] <= _t("typo_failures")}
    return [Match(tuple(i for i in ids if i in ok), None) for ids in per_source.values() if any(i in ok for i in ids)]


def _stale_service_password(w: Window) -> list[Match]:
    groups: dict[str, list[str]] = defaultdict(list)
    for n in w.stale_service_logons:
        groups[n.user or ""].append(n.log_id)
    return [Match(tuple(ids), None) for ids in groups.values()]


def _block(ip: str) -> str:
    """The /24 (IPv4) or /64 (IPv6) an address belongs to: the unit one actor usually holds."""
    return str(ipaddress.ip_network(f"{ip}/{24 if ':' not in ip else 64}", strict=False))


def _port_scan(w: Window, *, internal: bool) -> list[Match]:
    groups: dict[str, list[NormalizedEvent]] = defaultdict(list)
    for n in w.of(NetworkConnection):
        if not is_internal_ip(n.event.destination_ip):
            continue
        src = n.event.source_ip
        if is_internal_ip(src) != internal:
            continue
        owner = INVENTORY.host_by_ip(src)
        if owner is not None and owner.role in _FAN_OUT_ROLES:
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


def _fan_out_hosts(w: Window, *roles: str) -> list[Match]:
    """Connections and logons made by a host whose job is to reach many hosts (``roles``)."""
    out = []
    for n in w.of(NetworkConnection, Authentication):
        owner = INVENTORY.host_by_ip(n.event.source_ip)
        if owner is not None and owner.role in roles:
            out.append(Match((n.log_id,), n.host_name))
    return out


# Programs that only show, search or write text: what their arguments say is data, not something run.
TEXT_PROGRAMS = frozenset({"notepad.exe", "findstr.exe", "find.exe", "cmd.exe", "wordpad.exe"})


def _text_naming_technique(w: Window) -> list[Match]:
    """Process starts whose every invocation is an ordinary use of a text program (the words of a technique in a
    file name, a search or a comment: an analyst's note, not an attack)."""
    out = []
    for n in w.processes:
        judged = w.judgments.get(n.log_id, ())
        if judged and all((inv.kind == "builtin" or inv.kind == "process" and inv.program in TEXT_PROGRAMS)
                          and j.use is not None and j.use.benign for inv, j in judged) \
                and not (n.command and n.command.unresolved):
            out.append(Match((n.log_id,), n.host_name))
    return out


def _judged(w: Window, klasses: set[str], *, admin: bool | None = None, stored: bool | None = None,
            own: bool = False) -> list[Match]:
    """Process starts (and registry writes' stored commands) with an invocation whose catalog use is of one of
    ``klasses``; ``admin`` keeps only those in (True) or outside (False) the admin context, ``stored`` only
    invocations kept for later (True) or run now (False), ``own`` only the event's own process."""
    out = []
    for n in w.processes:
        if admin is not None and n.admin_context != admin:
            continue
        for i, (inv, j) in enumerate(w.judgments.get(n.log_id, ())):
            if own and i:
                break
            if j.use is not None and j.use.klass in klasses and (stored is None or inv.stored == stored):
                out.append(Match((n.log_id,), n.host_name))
                break
    return out


def _renamed(n: NormalizedEvent) -> bool:
    """A catalog program under another file name: its PE original name is not the name it ran as."""
    original = n.event.process_pe_original_file_name if isinstance(n.event, ProcessStart) else None
    shown = vars(n.event).get("process_executable") or vars(n.event).get("process_name")
    return bool(original and shown) and program_for(canonical_image(original)) is not None and \
        canonical_image(original) != canonical_image(shown)


def _masquerading(w: Window) -> list[Match]:
    return _judged(w, {"masquerade"}) + [Match((n.log_id,), n.host_name) for n in w.processes if _renamed(n)]


def _office_child_shell(w: Window) -> list[Match]:
    return [Match((n.log_id,), n.host_name) for n in w.processes if n.parent_image in OFFICE and n.image in _SHELLS]


def _management(w: Window) -> list[Match]:
    """Work of the software management agent: a process it starts as SYSTEM, all of whose invocations are benign."""
    return [Match((n.log_id,), n.host_name) for n in w.processes
            if n.parent_image in _MANAGEMENT_AGENTS and (n.user or "").lower() == "system"
            and all(j.use is not None and j.use.benign for _, j in w.judgments.get(n.log_id, ()))]


def _lsass_access(w: Window, *, allow_listed: bool) -> list[Match]:
    matches = []
    for n in w.of(ProcessAccess):
        if n.parent_image != "lsass.exe" or not int(n.event.granted_access, 16) & _PROCESS_VM_READ:
            continue
        trusted = any(n.image == name and (n.image_path or "").startswith(prefix) for name, prefix in TRUSTED_LSASS_READERS)
        if trusted == allow_listed:
            matches.append(Match((n.log_id,), n.host_name))
    return matches


def _registry(w: Window, kinds: set[str], *, benign: bool | None) -> list[Match]:
    """Registry writes to places of ``kinds`` whose stored command is benign (True), not benign (False), or any."""
    out = []
    for n in w.of(RegistrySet):
        if n.registry_kind not in kinds:
            continue
        judgments = w.judgments.get(n.log_id, ())
        if not judgments:
            continue
        harmless = all(j.use is not None and j.use.benign for _, j in judgments) and not is_user_writable(n.payload_path)
        if benign is None or harmless == benign:
            out.append(Match((n.log_id,), n.host_name))
    return out


_DWORD = re.compile(r"dword \((0x[0-9a-f]{1,8})\)|dword:([0-9a-f]{8})|(0x[0-9a-f]{1,8})|([0-9]{1,10})|(true|false)")


def _dword(data: str) -> int | None:
    """A REG_DWORD's value from the spellings the log sources write (lower-case): Sysmon's ``DWORD (0x00000001)``,
    ``reg export``'s ``dword:00000001``, ``0x1``, ``1``; ``true`` and ``false`` as 1 and 0; None for anything else."""
    m = _DWORD.fullmatch(data)
    if m is None:
        return None
    sysmon, exported, hexa, decimal, boolean = m.groups()
    if boolean:
        return int(boolean == "true")
    return int(sysmon or hexa, 16) if (sysmon or hexa) else int(exported, 16) if exported else int(decimal)


def _security_tampering(w: Window) -> list[Match]:
    """Defender switched off or excluded, LSA protection lowered, WDigest made to keep clear-text credentials."""
    out = _judged(w, {"defense_evasion"})
    for n in w.of(RegistrySet):
        _, value = (n.event.registry_path.rsplit("\\", 1) + [""])[:2]
        value, data = value.lower(), n.event.registry_data.strip().lower()
        number = _dword(data)
        on, off = number == 1, number == 0
        if n.registry_kind == "defender" and ((value.startswith("disable") and on) or "exclusion" in n.event.registry_path.lower()):
            out.append(Match((n.log_id,), n.host_name))
        elif n.registry_kind == "lsa" and ((value in ("uselogoncredential",) and on) or (value == "runasppl" and off)
                                          or (value == "disablerestrictedadmin" and off)):
            out.append(Match((n.log_id,), n.host_name))
    return out


def _mass_file_change(w: Window, *, developer: bool) -> list[Match]:
    """Per (host, process): ≥ mass_file_count renamed or modified files, or as many written as deleted
    (ransomware that writes encrypted copies and deletes the originals). Roll-ups are summed. ``developer`` selects
    instead a developer's checkout: git on an engineer's own workstation, in their repositories."""
    totals: dict[tuple[str | None, str | None], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    ids: dict[tuple[str | None, str | None], list[str]] = defaultdict(list)
    for n in w.of(FileActivity):
        if backup_job(n) or _checkout(n) != developer:
            continue
        key = (n.host_name, n.image)
        totals[key][n.event.action] += n.event.file_count
        ids[key].append(n.log_id)
    return [Match(tuple(ids[key]), key[0]) for key, t in totals.items()
            if developer or t["rename"] + t["modification"] >= _t("mass_file_count")
            or min(t["creation"], t["deletion"]) >= _t("mass_file_count")]


def _checkout(n: NormalizedEvent) -> bool:
    """File activity of git on the workstation of an engineer who owns it, inside their repositories folder."""
    user = INVENTORY.user(n.user) if n.user else None
    path = (n.event.file_path if isinstance(n.event, FileActivity) else "").lower().replace("/", "\\")
    return (n.image == "git.exe" and user is not None and "Engineering" in user.groups and n.host is not None
            and n.host.owner == user.name and path.startswith(f"c:\\users\\{user.name}\\source\\repos\\"))


def _backup_jobs(w: Window) -> list[Match]:
    """The backup job's file activity, and its uploads to the service that takes them from the backup server."""
    return ([Match((n.log_id,), n.host_name) for n in w.of(FileActivity) if backup_job(n)]
            + [Match((n.log_id,), n.host_name) for n in w.of(NetworkConnection, HttpRequest)
               if n.outbound and n.event.source_bytes >= _t("exfil_min_chunk") and upload_sanctioned(n)])


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


def _sanctioned_scanner(w: Window) -> list[Match]:
    return [Match((n.log_id,), n.host_name) for n in w.of(NetworkConnection)
            if (owner := INVENTORY.host_by_ip(n.event.source_ip)) is not None and owner.role == "scanner"]


# ---------------------------------------------------------------------- the rule table


@dataclass(frozen=True)
class VerdictRule:
    """One row of the verdict table: a structured condition, the action it calls for, and the context rules that
    are its named exceptions (documented beside it; the condition already leaves their events out)."""

    rule_id: str
    category: str | None  # the incident category this rule evidences (benign categories for context rules)
    action: TriageAction
    technique_ids: tuple[str, ...]
    condition: str  # the condition in words, rendered into docs/verifier.md
    match: Callable[[Window], list[Match]]
    exceptions: tuple[str, ...] = ()
    # A context rule's look-alikes: ATT&CK techniques of independent (Sigma) hits it answers for on the events it
    # covers, beyond those of the attack rules that name it as their exception; "*" answers for any technique.
    excuses: tuple[str, ...] = ()

    @property
    def malicious(self) -> bool:
        return self.action != "dismiss"


VERDICT_RULES: tuple[VerdictRule, ...] = (
    VerdictRule("exfil.bulk_upload_external", "data_exfiltration", "escalate", ("T1048", "T1567.002"),
                "≥ exfil_bytes sent from one internal host to outside destinations that are not sanctioned for its uploads (transfers of ≥ exfil_min_chunk summed over chunks and destinations)",
                _bulk_upload, ("benign.backup_job",)),
    VerdictRule("exfil.dns_tunnel", "data_exfiltration", "escalate", ("T1048.003", "T1071.004"),
                "queries from one host to one unsanctioned registered domain: ≥ dns_tunnel_queries with a leftmost label of ≥ dns_tunnel_label_len characters, or ≥ dns_tunnel_names distinct names carrying ≥ dns_tunnel_chars characters of subdomain",
                _dns_tunnel, ("benign.mail_blocklist_lookup",)),
    VerdictRule("privesc.privileged_group_add", "privilege_escalation", "escalate", ("T1098.007",),
                "an account is added to a tier-0 group (by name in any domain form, or by SID) unless both the actor and the new member are IT-Admins",
                lambda w: _tier0_group_adds(w, by_admins=False), ("benign.admin_group_maintenance",)),
    VerdictRule("lateral.remote_exec_outside_admin_context", "lateral_movement", "escalate", ("T1569.002", "T1021.002", "T1021.006"),
                "a catalog use of class remote_execution (PsExec/PAExec/winrs, 'wmic /node:', PowerShell remoting, 'sc \\\\host', 'schtasks /s') anywhere but by an IT-Admin on an admin jump host",
                lambda w: _judged(w, {"remote_execution"}, admin=False), ("benign.admin_tooling_from_jump_host",)),
    VerdictRule("lateral.hostile_remote_logon", "lateral_movement", "escalate", ("T1021.001", "T1078"),
                "a successful RDP logon (type 10) from an outside address, or to a critical asset by an account outside IT-Admins",
                lambda w: _remote_interactive(w, hostile=True), ("benign.admin_remote_logon",)),
    VerdictRule("brute.success_after_failures", "brute_force", "escalate", ("T1110.001", "T1078"),
                "a brute-force campaign (≥ brute_force_failures failures from one source, or against one account from several) followed by a success for a targeted account from a failing source (or, against one account, from outside)",
                lambda w: _brute_force(w, internal=None, succeeded=True), ("benign.stale_service_password",)),
    VerdictRule("ransom.mass_file_change", "ransomware", "escalate", ("T1486",),
                "one process on one host renames or modifies ≥ mass_file_count files, or writes and deletes as many (roll-ups summed over the window)",
                lambda w: _mass_file_change(w, developer=False), ("benign.backup_job", "benign.developer_checkout")),
    VerdictRule("ransom.shadow_copy_deletion", "ransomware", "escalate", ("T1490",),
                "a catalog use of class recovery_inhibition: shadow copies, the backup catalog or boot recovery deleted or disabled (vssadmin, wmic, wbadmin, bcdedit, Win32_ShadowCopy)",
                lambda w: _judged(w, {"recovery_inhibition"}), ("benign.backup_retention",)),
    VerdictRule("cred.lsass_memory_read", "credential_access", "quarantine_host", ("T1003.001",),
                "a process opens lsass.exe with PROCESS_VM_READ and is not an allow-listed reader at its install path",
                lambda w: _lsass_access(w, allow_listed=False), ("benign.allow_listed_lsass_reader",)),
    VerdictRule("cred.lsass_dump_command", "credential_access", "quarantine_host", ("T1003.001", "T1003.002", "T1003.003"),
                "a catalog use of class credential_dump: LSASS memory, the SAM or the NTDS written to a file (procdump -ma lsass, comsvcs.dll MiniDump or #24, reg save, ntdsutil ifm)",
                lambda w: _judged(w, {"credential_dump"})),
    VerdictRule("c2.periodic_beacon", "c2_beacon", "quarantine_host", ("T1071.001",),
                "≥ beacon_min_connections small connections from one host to one unsanctioned outside destination at a regular interval (jitter ≤ beacon_max_jitter)",
                lambda w: _periodic(w, known_good=False), ("benign.known_good_periodic",)),
    VerdictRule("exec.office_child_shell", "malware_execution", "quarantine_host", ("T1204.002", "T1059.001"),
                "an Office application (its image by PE name, any path form) starts a shell or script host",
                _office_child_shell),
    VerdictRule("exec.lolbin_abuse", "malware_execution", "quarantine_host", ("T1059.001", "T1105", "T1218.011", "T1218.005"),
                "a catalog use of class download (from an outside site no known-good service answers for), or of class proxy_execution outside the admin context",
                lambda w: _judged(w, {"download"}) + _judged(w, {"proxy_execution"}, admin=False),
                ("benign.admin_tooling_from_jump_host",)),
    VerdictRule("exec.untrusted_executable", "malware_execution", "quarantine_host", ("T1204.002",),
                "a program no catalog entry lists runs from a folder any user can write to",
                lambda w: _judged(w, {"untrusted_executable"})),
    VerdictRule("exec.offensive_tool", "malware_execution", "quarantine_host", ("T1588.002",),
                "a tool made for attacking runs (mimikatz, Rubeus, SharpHound, netcat, ...: the catalog's offensive tools)",
                lambda w: _judged(w, {"offensive_tool"})),
    VerdictRule("defense.masquerading", "malware_execution", "quarantine_host", ("T1036.005", "T1036.003"),
                "a catalog program runs from outside the folders it is installed in, or under another file name than its PE original name",
                _masquerading),
    VerdictRule("evasion.security_tool_tampering", "malware_execution", "quarantine_host", ("T1562.001", "T1556"),
                "Defender switched off or given an exclusion (a cmdlet or its registry policy), LSA protection lowered, WDigest set to keep clear-text credentials",
                _security_tampering),
    VerdictRule("persist.run_key_payload", "malware_execution", "quarantine_host", ("T1547.001", "T1543.003"),
                "an autostart value or a service's image path (any hive form) whose command is not a benign catalog use of an installed program",
                lambda w: _registry(w, {"autostart", "service_image"}, benign=False), ("benign.installed_autostart",)),
    VerdictRule("persist.ifeo_debugger", "malware_execution", "quarantine_host", ("T1546.012",),
                "an Image File Execution Options Debugger value is set (the program runs in place of another)",
                lambda w: _registry(w, {"ifeo_debugger"}, benign=None)),
    VerdictRule("persist.stored_command", "malware_execution", "quarantine_host", ("T1053.005", "T1543.003", "T1547.001"),
                "a command line creates a task, a service or an autostart value whose stored command is no benign catalog use",
                lambda w: _judged(w, {"download", "proxy_execution", "untrusted_executable", "masquerade",
                                      "offensive_tool", "credential_dump", "recovery_inhibition", "defense_evasion"},
                                  stored=True)),
    VerdictRule("brute.internal_password_spray", "brute_force", "quarantine_host", ("T1110.003",),
                "≥ brute_force_failures failed logons from one internal host, none succeeding",
                lambda w: _brute_force(w, internal=True, succeeded=False), ("benign.stale_service_password",)),
    VerdictRule("recon.internal_port_scan", "port_scan", "quarantine_host", ("T1046",),
                "an internal host probes ≥ scan_distinct_targets internal targets, unless it is one whose job is to reach many hosts (the scanner, the remote-access gateway, single sign-on, software management)",
                lambda w: _port_scan(w, internal=True), ("benign.sanctioned_scanner", "benign.remote_access_gateway")),
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
                "a catalog use of class domain_discovery (net group|user /domain or a tier-0 group, nltest, whoami /all, AdFind, dsquery, Get-AD*) outside the admin context",
                lambda w: _judged(w, {"domain_discovery"}, admin=False), ("benign.admin_tooling_from_jump_host",)),
    # Context rules: they never change a verdict away from an attack; they name the world's context that explains
    # benign activity, so a correct dismiss has something to cite, and they excuse the independent check's hits on
    # exactly the events they cover.
    VerdictRule("benign.admin_tooling_from_jump_host", "admin_remote_tooling", "dismiss", (),
                "remote execution, proxy execution or discovery by an IT-Admin on an admin jump host",
                lambda w: _judged(w, {"remote_execution", "domain_discovery", "proxy_execution"}, admin=True),
                excuses=("T1047", "T1587.001")),  # WMI remote commands; SigmaHQ tags PsExec's -s service so
    VerdictRule("benign.admin_group_maintenance", "admin_remote_tooling", "dismiss", (),
                "an IT-Admin adds another IT-Admin to a tier-0 group",
                lambda w: _tier0_group_adds(w, by_admins=True)),
    VerdictRule("benign.admin_remote_logon", "admin_remote_tooling", "dismiss", (),
                "an IT-Admin's RDP logon from an internal address",
                lambda w: _remote_interactive(w, hostile=False)),
    VerdictRule("benign.known_good_transfer", "software_update", "dismiss", (),
                "a ≥ 1 MB download from a known-good service",
                _known_good_transfer),
    VerdictRule("benign.backup_job", "scheduled_backup", "dismiss", (),
                "file activity by the backup account on the backup server, and uploads of ≥ exfil_min_chunk to the known-good service that takes them from the backup server (the offsite vault)",
                _backup_jobs),
    VerdictRule("benign.backup_retention", "scheduled_backup", "dismiss", (),
                "the backup account prunes old backups on the backup server, keeping the newest versions (wbadmin delete backup -keepVersions)",
                lambda w: _judged(w, {"backup_retention"})),
    VerdictRule("benign.local_installer", "software_update", "dismiss", (),
                "msiexec installs a package staged by software management or run by SYSTEM or the deployment account",
                lambda w: _judged(w, {"management"})),
    VerdictRule("benign.software_management", "software_update", "dismiss", (),
                "the software management agent (ConfigMgr, Intune) runs a benign command as SYSTEM",
                _management),
    VerdictRule("benign.allow_listed_lsass_reader", "telemetry_heartbeat", "dismiss", (),
                "an allow-listed security or system process (Defender, the EDR, Windows' malicious software removal tool) reads LSASS from its install path",
                lambda w: _lsass_access(w, allow_listed=True)),
    VerdictRule("benign.typing_mistakes", "password_typo", "dismiss", (),
                "at most typo_failures failed logons from a source and against an account of the directory",
                _typing_mistakes),
    VerdictRule("benign.stale_service_password", "password_typo", "dismiss", (),
                "failed logons of a service account from a host its service runs on: a password nobody updated",
                _stale_service_password),
    VerdictRule("benign.sanctioned_scanner", "vulnerability_scan", "dismiss", (),
                "connections from the sanctioned vulnerability scanner",
                _sanctioned_scanner),
    VerdictRule("benign.remote_access_gateway", "admin_remote_tooling", "dismiss", (),
                "connections and logons of the remote-access gateway, single sign-on or software management server: bursts to many hosts are their job",
                lambda w: _fan_out_hosts(w, "vpn_gateway", "sso_server", "management_server")),
    VerdictRule("benign.known_good_periodic", "telemetry_heartbeat", "dismiss", (),
                "regular small connections to a known-good service (EDR telemetry, SaaS, the time server)",
                lambda w: _periodic(w, known_good=True)),
    VerdictRule("benign.mail_blocklist_lookup", "telemetry_heartbeat", "dismiss", (),
                "the mail relay looks a sender up in a DNS blocklist",
                lambda w: [Match((n.log_id,), n.host_name) for n in w.of(DnsQuery) if _blocklist_lookup(n)]),
    VerdictRule("benign.developer_checkout", "software_update", "dismiss", (),
                "git rewrites files in an engineer's own repositories on their workstation (a checkout or a rebase)",
                lambda w: _mass_file_change(w, developer=True)),
    VerdictRule("benign.technique_named_in_text", None, "dismiss", (),
                "a program that only reads or writes text (notepad, findstr, find, cmd's echo and rem) names a technique inside a document name, a search pattern or a comment, and runs nothing else",
                _text_naming_technique, excuses=("*",)),  # whatever technique the text names
    VerdictRule("benign.installed_autostart", "software_update", "dismiss", (),
                "an autostart value or service image path that starts an installed program for a benign use",
                lambda w: _registry(w, {"autostart", "service_image"}, benign=True)),
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
assert all(e in RULES_BY_ID and not RULES_BY_ID[e].malicious for r in VERDICT_RULES for e in r.exceptions)


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
            if not match.log_ids:
                continue
            firings.append(RuleFiring(rule_id=rule.rule_id, action=_firing_action(rule, match), malicious=rule.malicious,
                                      log_ids=sorted(set(match.log_ids), key=lambda i: order.get(i, 0))))
    return firings


def compute_ground_truth(params: IncidentParams, window: Window | None = None) -> GroundTruth:
    """The correct triage action for ``params``, from its structured events only."""
    window = window or Window(params)
    firings = window.firings
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


# -------------------------------------------------------------- what explains each event

# Ordinary activity of the world: what a benign event is when no rule covers it. Each is a test of one event (its
# catalog judgments where it has any); an event none of them and no rule accounts for is unexplained.
_WEB_PORTS = frozenset({80, 443, 8080, 8443})
# Services the world's hosts offer, by host function or role, to the rest of the network: (transport, port).
_SERVICES_BY_FUNCTION: dict[str, frozenset[tuple[str, int]]] = {
    "domain_controller": frozenset({("tcp", 88), ("udp", 88), ("tcp", 389), ("udp", 389), ("tcp", 636), ("tcp", 445),
                                    ("tcp", 135), ("tcp", 3268), ("tcp", 3269), ("tcp", 464), ("udp", 123)}),
    "dns_resolver": frozenset({("udp", 53), ("tcp", 53)}),
    "mail_gateway": frozenset({("tcp", 25), ("tcp", 587), ("tcp", 443)}),
    "file_server": frozenset({("tcp", 445), ("tcp", 139)}),
    "update_server": frozenset({("tcp", 8530), ("tcp", 8531), ("tcp", 80), ("tcp", 443)}),
    "single_sign_on": frozenset({("tcp", 443)}),
    "software_management": frozenset({("tcp", 443), ("tcp", 80), ("tcp", 10123)}),
    "vpn_gateway": frozenset({("udp", 1194), ("tcp", 443)}),
}
_SERVICES_BY_ROLE: dict[str, frozenset[tuple[str, int]]] = {
    "server": frozenset({("tcp", 445), ("tcp", 443), ("tcp", 80), ("tcp", 3389), ("tcp", 5985), ("tcp", 1433)}),
    "critical": frozenset({("tcp", 445), ("tcp", 443), ("tcp", 3389), ("tcp", 5985), ("tcp", 1433)}),
    "admin_jump": frozenset({("tcp", 3389), ("tcp", 5985), ("tcp", 445)}),
    "backup_server": frozenset({("tcp", 445), ("tcp", 443)}),
    "workstation": frozenset({("tcp", 445), ("tcp", 135)}),
}
_REFUSED_STATES = frozenset({"S0", "REJ", "RSTOS0", "SH"})


def _served(ip: str, transport: str, port: int) -> bool:
    host = INVENTORY.host_by_ip(ip)
    if host is None:
        return False
    offered = set(_SERVICES_BY_ROLE.get(host.role, frozenset()))
    for function in host.functions:
        offered |= _SERVICES_BY_FUNCTION.get(function, frozenset())
    return (transport, port) in offered


def _ordinary_program(w: Window, n: NormalizedEvent) -> bool:
    judged = w.judgments.get(n.log_id, ())
    return bool(judged) and all(j.use is not None and j.use.benign for _, j in judged)


def _ordinary_connection(w: Window, n: NormalizedEvent) -> bool:
    e = n.event
    if not isinstance(e, NetworkConnection):
        return False
    inside_src, inside_dst = is_internal_ip(e.source_ip), is_internal_ip(e.destination_ip)
    if n.destination_service is not None:
        return True
    if inside_src and inside_dst:
        return _served(e.destination_ip, e.network_transport, e.destination_port)
    if inside_src:  # out to the internet: the web, and little of it
        return (e.network_transport == "tcp" and e.destination_port in _WEB_PORTS
                and e.source_bytes < _t("exfil_min_chunk"))
    # In from the internet: probes that got nothing (internet background), or to a service a host offers.
    return e.conn_state in _REFUSED_STATES or _served(e.destination_ip, e.network_transport, e.destination_port)


def _ordinary_web(w: Window, n: NormalizedEvent) -> bool:
    e = n.event
    return (isinstance(e, HttpRequest) and (n.destination_service is not None
                                            or e.source_bytes < _t("exfil_min_chunk")))


def _ordinary_logon(w: Window, n: NormalizedEvent) -> bool:
    """A logon from inside the network by an account of the directory: a success, or a failure (a mistyped password)
    that no brute-force rule counts into a burst."""
    e = n.event
    return (isinstance(e, Authentication) and is_internal_ip(e.source_ip)
            and (e.outcome == "success" or INVENTORY.user(e.user) is not None))


def _ordinary_file(w: Window, n: NormalizedEvent) -> bool:
    """Documents edited by a catalog application in its user's own profile (not a program, script or shortcut, and
    nothing in the Startup folder: those run, so they are no document)."""
    e = n.event
    if not isinstance(e, FileActivity) or n.image is None or n.user is None:
        return False
    program = program_for(n.image)
    path = e.file_path.lower().replace("/", "\\")
    return (program is not None and program.kind == "application" and e.file_count < _t("mass_file_count")
            and path.startswith(f"c:\\users\\{n.user}\\") and "\\start menu\\programs\\startup\\" not in path
            and not any(x.endswith(_RUNNABLE) for x in ((e.file_extension or "").lower(), path)))


_RUNNABLE = _PAYLOAD_SUFFIXES + (".cmd", ".jse", ".wsf", ".com", ".pif", ".cpl")


def _ordinary_group_change(w: Window, n: NormalizedEvent) -> bool:
    e = n.event
    return (isinstance(e, GroupMembershipChange) and n.group is not None and not n.group.tier0
            and INVENTORY.is_it_admin(n.user))


def _ordinary_access(w: Window, n: NormalizedEvent) -> bool:
    """A known, installed program opening a process other than LSASS (or LSASS without reading its memory)."""
    e = n.event
    if not isinstance(e, ProcessAccess):
        return False
    reads_lsass = n.parent_image == "lsass.exe" and int(e.granted_access, 16) & _PROCESS_VM_READ
    return not reads_lsass and _ordinary_program(w, n)


ORDINARY: dict[str, tuple[str, Callable[[Window, NormalizedEvent], bool]]] = {
    "ordinary.program_use": ("a process start whose every invocation is a benign catalog use of an installed program",
                             lambda w, n: isinstance(n.event, ProcessStart) and _ordinary_program(w, n)),
    "ordinary.process_inspection": ("a known, installed program opens another process (not reading LSASS memory)",
                                    _ordinary_access),
    "ordinary.network_service": ("a connection to a known-good service, to a service the destination host offers, out "
                                 "to the web with little data, or in from the internet refused", _ordinary_connection),
    "ordinary.web": ("a proxied web request to a known-good service, or one that sends little", _ordinary_web),
    "ordinary.name_resolution": ("a DNS query to a resolver", lambda w, n: isinstance(n.event, DnsQuery)),
    "ordinary.mail": ("a message delivered to a mailbox of the directory", lambda w, n: isinstance(n.event, EmailReceived)),
    "ordinary.logon": ("a logon from inside the network: a success, or a directory account's failure no brute-force "
                       "rule counts", _ordinary_logon),
    "ordinary.document_editing": ("fewer than mass_file_count files of a user's own profile written by an application",
                                  _ordinary_file),
    "ordinary.group_maintenance": ("an IT-Admin changes a group outside tier 0", _ordinary_group_change),
}


@dataclass(frozen=True)
class Explanation:
    """What accounts for one event: the rules that cover it and the ordinary activities it is."""

    log_id: str
    rules: tuple[str, ...]
    ordinary: tuple[str, ...]

    @property
    def explained(self) -> bool:
        return bool(self.rules or self.ordinary)

    @property
    def contexts(self) -> tuple[str, ...]:
        """The benign context rules that cover it (the world's named context, which excuses an independent hit)."""
        return tuple(r for r in self.rules if not RULES_BY_ID[r].malicious)


def explain(window: Window) -> list[Explanation]:
    """What explains each event of the window, in window order. Ordinary activities are looked for only where no
    rule covers the event."""
    covering: dict[str, list[str]] = defaultdict(list)
    for firing in window.firings:
        for log_id in firing.log_ids:
            covering[log_id].append(firing.rule_id)
    out = []
    for n in window.events:
        rules = tuple(dict.fromkeys(covering.get(n.log_id, ())))
        ordinary = () if rules else tuple(name for name, (_, test) in ORDINARY.items() if test(window, n))
        out.append(Explanation(n.log_id, rules, ordinary))
    return out


# ---------------------------------------------------------------- category depictions


def _depicted_by(*rule_ids: str) -> Callable[[Window], bool]:
    wanted = set(rule_ids)
    return lambda w: any(f.rule_id in wanted for f in w.firings)


# category -> (what the events must show, test). A category is depicted by the rules that carry its activity: a
# malicious category by one of its verdict rules firing, a benign one by one of its context rules explaining events.
# An ordinary event beside them (a download, a logon) depicts nothing.
CATEGORY_DEPICTIONS: dict[str, tuple[str, Callable[[Window], bool]]] = {
    category: (", ".join(f"`{r}`" for r in rules), _depicted_by(*rules))
    for category, rules in sorted(RULES_BY_CATEGORY.items())
}
