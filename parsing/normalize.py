"""Events read the way the systems that wrote them mean them: the one normalisation layer every rule reads.

A log can name the same thing in many forms. ``normalize_event`` turns one schema event into a
``NormalizedEvent`` whose fields are canonical, so a rule written once matches every form:

- executables by PE original name (renaming a file does not change it), then by base name, whatever the path
  form (``C:\\...``, ``C:/...``, ``\\\\?\\C:\\...``, ``\\Device\\HarddiskVolume3\\...``, ``%SystemRoot%``, quoted,
  trailing dots), parents likewise;
- command lines as the programs they run, through ``commandline.parse_command_line`` (cmd.exe and PowerShell
  parsing, encoded commands, comments);
- accounts and groups by canonical name whatever the domain prefix or case, groups also by well-known SID;
- hosts and their OS and role from the inventory, host names case-insensitively and by FQDN;
- registry keys whatever the hive spelling (``HKLM``, ``HKEY_LOCAL_MACHINE``, ``\\REGISTRY\\MACHINE``, ``HKU\\<sid>``);
- domains by registered domain (the Public Suffix List), and outside addresses as sanctioned only when the
  address and the name belong to the same known-good service.

What cannot be read is listed in ``unmodelled``; the plausibility checker refuses such events. The layer is
pure: it reads the event and the fixed inventory, nothing else.
"""

from __future__ import annotations

import ntpath
import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import PureWindowsPath

from publicsuffixlist import PublicSuffixList

from ..schema import (
    DnsQuery,
    EmailReceived,
    FileActivity,
    GroupMembershipChange,
    HttpRequest,
    NetworkConnection,
    ProcessAccess,
    ProcessStart,
    RegistrySet,
)
from ..world.environment import expand_cmd
from ..world.inventory import (
    INVENTORY,
    ExternalService,
    Group,
    Host,
    canonical_user_name,
    is_internal_ip,
)
from .commandline import (
    ParsedCommandLine,
    canonical_image,
    parse_command_line,
    split_argv,
)
from .registry import registry_location
from .timestamps import parse_timestamp

# Folders any user can write to: a binary or autostart payload there is not an installed program.
USER_WRITABLE_MARKERS = ("\\appdata\\", "\\temp\\", "\\tmp\\", "c:\\users\\public\\", "c:\\programdata\\",
                         "\\downloads\\", "\\desktop\\", "c:\\perflogs\\", "\\$recycle.bin\\", "c:\\windows\\tasks\\")

@lru_cache(maxsize=1)
def _psl() -> PublicSuffixList:
    return PublicSuffixList()


@lru_cache(maxsize=1 << 14)
def registered_domain(name: str) -> str:
    """The registrable domain of ``name`` by the Public Suffix List (``a.b.evil.co.uk`` → ``evil.co.uk``); a name
    that has none (a bare suffix, an internal name) is returned whole."""
    name = name.lower().rstrip(".")
    return _psl().privatesuffix(name) or name


# The 8.3 names NTFS gives the root's long folders on every Windows install (in the order setup creates them).
_ROOT_SHORT_NAMES = {"1": "program files", "2": "program files (x86)", "3": "programdata"}


@lru_cache(maxsize=1 << 14)
def windows_path(raw: str | None, user: str = "*") -> str | None:
    """A Windows path in one canonical form: lower-case, backslashes, ``..`` resolved, known folder variables
    expanded, the ``\\\\?\\``, ``\\??\\`` and ``\\\\.\\`` prefixes and quotes removed, trailing dots and spaces dropped.
    ``\\Device\\HarddiskVolumeN\\`` becomes ``?:\\`` (its drive letter is not in the log, so no folder-based trust
    applies to it). None when ``raw`` is not a Windows path."""
    if not raw:
        return None
    path = expand_cmd(raw.strip().strip('"').strip(), None if user == "*" else user).replace("/", "\\")
    lower = path.lower()
    for prefix in ("\\\\?\\", "\\??\\", "\\\\.\\"):
        if lower.startswith(prefix):
            lower = lower[len(prefix):]
    lower = re.sub(r"^\\systemroot\\", "c:\\\\windows\\\\", lower)
    lower = re.sub(r"^\\device\\harddiskvolume\d+\\", "?:\\\\", lower)
    lower = re.sub(r"^([a-z]):\\progra~([123])(?=\\|$)",
                   lambda m: f"{m.group(1)}:\\{_ROOT_SHORT_NAMES[m.group(2)]}", lower)
    if not re.match(r"^([a-z?]:\\|\\\\[^\\]+\\)", lower):
        return None
    parts = [p.rstrip(". ") or p for p in lower.split("\\")]
    return ntpath.normpath("\\".join(parts)).lower()


def is_user_writable(path: str | None) -> bool:
    """True for a canonical Windows path inside a folder ordinary users can write to."""
    return bool(path) and any(m in path for m in USER_WRITABLE_MARKERS)


def has_windows_form(text: str | None) -> bool:
    return bool(text) and bool(re.match(r'^"?([a-zA-Z]:[\\/]|\\\\|%[a-z]+%)', text.strip(), re.I))


def has_posix_form(text: str | None) -> bool:
    return bool(text) and text.strip().strip('"').startswith("/")


@dataclass(frozen=True, slots=True)
class NormalizedEvent:
    """One event with its canonical reading. ``event`` is the event as logged; nothing else is read from it."""

    event: object
    log_id: str
    event_type: str
    time: datetime
    host: Host | None
    user: str | None
    admin_context: bool
    image: str | None = None
    image_path: str | None = None
    parent_image: str | None = None
    command: ParsedCommandLine | None = None
    outbound: bool = False
    destination_service: ExternalService | None = None
    domain: str | None = None
    group: Group | None = None
    autostart: str | None = None
    registry_kind: str | None = None  # registry_location's kind, for registry events
    payload: ParsedCommandLine | None = None
    payload_path: str | None = None
    unmodelled: tuple[str, ...] = ()

    @property
    def host_name(self) -> str | None:
        return self.host.name if self.host else None


def sanctioned_service(ip: str, domain: str | None = None) -> ExternalService | None:
    """The known-good service at ``ip``, when the name used (if any) is that same service's."""
    service = INVENTORY.service_by_ip(ip)
    if service is None:
        return None
    if domain is not None and INVENTORY.service_by_domain(domain) != service:
        return None
    return service


def upload_sanctioned(n: NormalizedEvent) -> bool:
    """An upload to a known-good service that takes uploads from this host's role (the backup vault from the backup
    server); a download mirror or a SaaS endpoint is sanctioned for what it serves, not for bulk uploads."""
    owner = INVENTORY.host_by_ip(n.event.source_ip)
    service = n.destination_service
    return service is not None and owner is not None and owner.role in service.uploads_from


@lru_cache(maxsize=1)
def _sanctioned_registered() -> frozenset[str]:
    return frozenset(registered_domain(s.domain) for s in INVENTORY.services)


def sanctioned_domain(domain: str | None) -> bool:
    """True when ``domain`` lies under a known-good service's registered domain (its vendor answers for it)."""
    return bool(domain) and registered_domain(domain) in _sanctioned_registered()


def subdomain(name: str) -> str:
    """The part of a DNS name left of its registered domain (``abc.def.evil.com`` → ``abc.def``)."""
    name = name.lower().rstrip(".")
    base = registered_domain(name)
    return name[: -len(base)].rstrip(".") if name != base else ""


def attachment_type(name: str | None) -> str:
    """An attachment's final extension as Windows would act on it (trailing dots and spaces dropped)."""
    return PureWindowsPath(name.strip().rstrip(". ").lower()).suffix if name else ""


def backup_job(n: NormalizedEvent) -> bool:
    """File activity of the sanctioned backup job: the backup account on the backup server."""
    return n.user == "svc_backup" and n.host is not None and n.host.role == "backup_server"


def effective_image(event) -> str:
    """The binary an event's process really is: its PE original name when logged (renaming a file does not change
    it), else the base name of its executable path, else of its name."""
    original = vars(event).get("process_pe_original_file_name")
    if original:
        return canonical_image(original)
    return canonical_image(vars(event).get("process_executable") or vars(event).get("process_name") or "")


def _image_problems(event) -> list[str]:
    name, path = vars(event).get("process_name"), vars(event).get("process_executable")
    problems = []
    if name and path and canonical_image(name) != canonical_image(path):
        problems.append(f"process.name {name!r} is not the file process.executable names")
    for value in (name, path):
        base = canonical_image(value or "")
        if re.search(r"~\d", base):
            problems.append(f"8.3 short name {base!r}: the real file name is not in the log")
    folder = (windows_path(path) or "").rsplit("\\", 1)[0]
    if re.search(r"~\d", folder):
        problems.append(f"8.3 short folder name in {path!r}: the world knows the short names of the root's program "
                        "folders only")
        if ":" in base:
            problems.append(f"alternate data stream in {value!r}")
    return problems


def normalize_event(event) -> NormalizedEvent:
    """The canonical reading of one schema event."""
    host = INVENTORY.host(event.host)
    user_record = INVENTORY.user(event.user) if event.user else None
    user = user_record.name if user_record else (canonical_user_name(event.user) if event.user else None)
    admin_context = INVENTORY.is_it_admin(user) and host is not None and host.role == "admin_jump"
    base = dict(event=event, log_id=event.log_id, event_type=event.event_type, time=parse_timestamp(event.timestamp),
                host=host, user=user, admin_context=admin_context)
    if isinstance(event, ProcessStart):
        image = effective_image(event)
        command = (parse_command_line(event.process_command_line, image, user) if event.process_command_line or image
                   else None)
        problems = _image_problems(event) + list(command.unresolved if command else ())
        return NormalizedEvent(**base, image=image, image_path=windows_path(event.process_executable, user or "*"),
                               parent_image=canonical_image(event.process_parent_name) if event.process_parent_name else None,
                               command=command, unmodelled=tuple(problems))
    if isinstance(event, ProcessAccess):
        return NormalizedEvent(**base, image=effective_image(event),
                               image_path=windows_path(event.process_executable, user or "*"),
                               parent_image=canonical_image(event.target_image), unmodelled=tuple(_image_problems(event)))
    if isinstance(event, (NetworkConnection, HttpRequest)):
        domain = vars(event).get("url_domain")
        outbound = is_internal_ip(event.source_ip) and not is_internal_ip(event.destination_ip)
        return NormalizedEvent(**base, outbound=outbound, destination_service=sanctioned_service(event.destination_ip, domain),
                               domain=registered_domain(domain) if domain else None,
                               image=canonical_image(event.process_name) if vars(event).get("process_name") else None)
    if isinstance(event, DnsQuery):
        return NormalizedEvent(**base, domain=registered_domain(event.question_name))
    if isinstance(event, EmailReceived):
        return NormalizedEvent(**base, domain=registered_domain(event.link_domain) if event.link_domain else None)
    if isinstance(event, GroupMembershipChange):
        by_name = INVENTORY.group(event.group_name)
        by_sid = INVENTORY.group(sid=event.group_id) if event.group_id else None
        problems = []
        if event.group_id and by_sid is None:
            problems.append(f"group.id {event.group_id!r} is no group of this domain")
        if by_name is None and not event.group_id:
            problems.append(f"group {event.group_name!r} is not in the directory")
        if by_name is not None and by_sid is not None and by_name != by_sid:
            problems.append(f"group.name {event.group_name!r} and group.id {event.group_id!r} name different groups")
        return NormalizedEvent(**base, group=by_sid or by_name, unmodelled=tuple(problems))
    if isinstance(event, RegistrySet):
        kind, rel, _ = registry_location(event.registry_path)
        key = rel if kind == "autostart" else None
        runs = kind in ("autostart", "ifeo_debugger", "service_image")
        payload = parse_command_line(event.registry_data, None, user, stored=True) if runs else None
        argv = split_argv(expand_cmd(event.registry_data, user)) if runs else []
        problems = [] if kind != "none" else [f"registry.path {event.registry_path[:80]!r} is in no hive"]
        return NormalizedEvent(**base, image=effective_image(event), autostart=key, registry_kind=kind, payload=payload,
                               payload_path=windows_path(argv[0], user or "*") if argv else None,
                               unmodelled=tuple(problems + list(payload.unresolved if payload else ())))
    if isinstance(event, FileActivity):
        return NormalizedEvent(**base, image=canonical_image(event.process_name) if event.process_name else None)
    return NormalizedEvent(**base)
