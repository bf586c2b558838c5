"""The world's software catalog: every program and cmdlet its hosts run, where each is installed, and each way it is
used, with that use's class, ATT&CK techniques and meaning. One table, in code; the reference docs render it.

``judge(invocation, context)`` reads one invocation (``parsing.commandline``) against the catalog and returns the
``Use`` it is, or why it cannot be read:

- a program is found by its canonical name (the PE original name comes first at the event level, so renaming a
  file does not change what it is); one the catalog does not list is unknown and refused, unless it runs from a
  folder any user can write to, where it is an untrusted executable (a use of its own, not a pass);
- a program that runs from outside the folders it is installed in is masquerading, whatever its arguments;
- its arguments are matched against its uses in order; the first that matches is what the invocation is. A program
  whose ``otherwise`` is None (living-off-the-land binaries, remote tools) has no use for forms the catalog does not
  list: such a form is refused, not taken as harmless;
- a cmdlet likewise: one the catalog does not list is refused.

A use's ``klass`` says what it is (``ordinary`` is benign); the verdict rules read the class, never the program
name, and the admin context decides only for the classes it may excuse (remote execution, discovery, proxy
execution: ``verifier``).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import PureWindowsPath
from typing import Literal

from ..parsing.commandline import SWITCH_DASHES, Invocation, judged_registry_write
from ..parsing.normalize import is_user_writable, sanctioned_domain, windows_path
from ..parsing.urls import find_urls
from .inventory import INVENTORY, is_internal_ip

UseClass = Literal[
    "ordinary", "download", "proxy_execution", "remote_execution", "domain_discovery", "recovery_inhibition",
    "credential_dump", "persistence", "defense_evasion", "offensive_tool", "untrusted_executable", "masquerade",
    "backup_retention", "management",
]
USE_CLASSES: dict[str, str] = {
    "ordinary": "what the program is for: benign",
    "management": "the world's software management agent or its deployment account at work: benign",
    "backup_retention": "the backup account pruning old backups on the backup server: benign",
    "download": "fetches code or a file from outside (ingress tool transfer)",
    "proxy_execution": "a signed system binary made to run code it was not built for",
    "remote_execution": "code launched on another host",
    "domain_discovery": "account, group or trust discovery against the domain",
    "recovery_inhibition": "shadow copies, the backup catalog or boot recovery removed or disabled",
    "credential_dump": "credential material written out (LSASS memory, the SAM or NTDS hives)",
    "persistence": "a command kept for later (a task, a service, an autostart value) that runs untrusted code",
    "defense_evasion": "a security tool switched off or blinded",
    "offensive_tool": "a tool made for attacking",
    "untrusted_executable": "a program no catalog entry lists, run from a folder any user can write to",
    "masquerade": "a known program's name on a file outside the folders it is installed in",
}
BENIGN_CLASSES = frozenset({"ordinary", "management", "backup_retention"})

ProgramKind = Literal["system", "shell", "interpreter", "lolbin", "admin_tool", "application", "agent", "security",
                      "offensive", "service"]
SYSTEM32 = ("c:\\windows\\system32\\", "c:\\windows\\syswow64\\")
WINDOWS = ("c:\\windows\\",)


@dataclass(frozen=True)
class Context:
    """What judging an invocation may read beyond it: who runs it, where, and what started it."""

    user: str | None = None
    host_role: str | None = None
    admin_context: bool = False
    parent: str | None = None


@dataclass(frozen=True)
class Use:
    """One labelled way a program or cmdlet is used: its class, techniques, meaning and the test that recognises it."""

    name: str
    klass: UseClass
    techniques: tuple[str, ...]
    description: str
    test: Callable[[Invocation, Context], bool] = field(repr=False, compare=False)

    @property
    def benign(self) -> bool:
        return self.klass in BENIGN_CLASSES


@dataclass(frozen=True)
class Program:
    """A program of the world: where it is installed (``install``: canonical folder prefixes; empty means it is
    portable and may run from anywhere), its PE original names, its uses, and what any other form is
    (``otherwise``; None: refused)."""

    image: str
    kind: ProgramKind
    install: tuple[str, ...]
    uses: tuple[Use, ...] = ()
    otherwise: Use | None = None
    original_names: tuple[str, ...] = ()
    os: Literal["windows", "linux"] = "windows"


@dataclass(frozen=True)
class Judgment:
    """What an invocation is: its use, or the reason the catalog cannot say (then it is refused)."""

    use: Use | None
    program: Program | None = None
    problem: str | None = None
    known: bool = False  # the name is in the catalog (a problem is then a form it does not list)


# ---------------------------------------------------------------------------------------------------- helpers


def _has(inv: Invocation, *names: str) -> bool:
    return inv.has_switch(*names)


# Programs that fetch the URL they are given, written with a scheme or without one (they then use http).
_FETCHERS = frozenset({"invoke-webrequest", "invoke-restmethod", "start-bitstransfer", "curl.exe"})
_BARE_URL = re.compile(r"(?:[a-z0-9_-]+\.)+[a-z][a-z0-9-]*\.?(?::[0-9]+)?(?:[/?#\\].*)?|\[[0-9a-f:.]+\](?::[0-9]+)?(?:[/?#\\].*)?"
                       r"|[0-9.]+(?::[0-9]+)?(?:[/?#\\].*)?")


def urls(inv: Invocation) -> list[str | None]:
    """The hosts of the URLs an invocation names (None for a URL whose host cannot be read); for a program that
    fetches what it is given, an argument written without a scheme (``iwr cdn.example/a.exe``) is an http URL."""
    found = [u.host for u in find_urls(inv.text)]
    if not found and inv.program in _FETCHERS:
        for arg in inv.args:
            if arg[:1] not in SWITCH_DASHES and _BARE_URL.fullmatch(arg):
                found.extend(u.host for u in find_urls("http://" + arg))
    return found


def _internal(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host.endswith(".corp.example.com") or "." not in host  # a single-label name resolves inside
    mapped = getattr(address, "ipv4_mapped", None)  # [::ffff:10.0.0.5] is the IPv4 address 10.0.0.5
    return is_internal_ip(str(mapped or address))


def unsanctioned_urls(inv: Invocation) -> list[str]:
    """URL hosts outside the enterprise that no known-good service answers for (an unreadable host counts)."""
    return [h or "?" for h in urls(inv) if h is None or (not _internal(h) and not sanctioned_domain(h))]


def _paths(inv: Invocation) -> list[str]:
    return [p for p in (windows_path(a) for a in inv.args) if p]


def _writable_arg(inv: Invocation) -> bool:
    return any(is_user_writable(p) for p in _paths(inv)) or any(is_user_writable(windows_path(a.split(",")[0]))
                                                             for a in inv.args)


def _always(_: Invocation, __: Context) -> bool:
    return True


def _ordinary(name: str, description: str = "ordinary use") -> Use:
    return Use(name, "ordinary", (), description, _always)


def _form(name: str, description: str, test: Callable[[Invocation], bool]) -> Use:
    """An ordinary use in one listed form; an invocation in none of a program's forms is refused."""
    return Use(name, "ordinary", (), description, lambda inv, ctx: test(inv))


def _verb(*verbs: str) -> Callable[[Invocation], bool]:
    return lambda inv: bool(inv.args) and inv.args[0] in verbs


def rundll32_entry(inv: Invocation) -> tuple[str, str]:
    """(dll, entry point) of a rundll32 invocation: ``dll,Entry``, ``dll, Entry`` and ``dll #24`` forms."""
    text = " ".join(inv.args)
    dll, _, rest = text.partition(",")
    if not rest:
        dll, _, rest = text.partition(" ")
    return PureWindowsPath(dll.strip()).name, rest.strip().split(" ")[0] if rest.strip() else ""


_CRADLE = re.compile(r"downloadstring|downloadfile|downloaddata|openread\(|net\.webclient|frombase64string|"
                     r"start-bitstransfer|bitstransfer|invoke-webrequest|invoke-restmethod|\biwr\b|\birm\b|xmlhttp|"
                     r"msxml2\.|winhttprequest")


# --------------------------------------------------------------------------------------------------- the table


def _use(name: str, klass: UseClass, techniques: tuple[str, ...], description: str,
         test: Callable[[Invocation, Context], bool]) -> Use:
    return Use(name, klass, techniques, description, test)


def _program(image: str, kind: ProgramKind, install: tuple[str, ...], *uses: Use, otherwise: Use | None | str = "ordinary",
             original_names: tuple[str, ...] = (), os: Literal["windows", "linux"] = "windows") -> Program:
    fallback = _ordinary(f"{image}.run") if otherwise == "ordinary" else otherwise
    assert fallback is None or isinstance(fallback, Use)
    return Program(image, kind, install, tuple(uses), fallback, original_names, os)


def _sys(image: str, *uses: Use, otherwise: Use | None | str = "ordinary", extra: tuple[str, ...] = ()) -> Program:
    return _program(image, "system", SYSTEM32 + extra, *uses, otherwise=otherwise)


def _lol(image: str, *uses: Use, extra: tuple[str, ...] = (), otherwise: Use | None | str = None,
         folders: tuple[str, ...] = SYSTEM32) -> Program:
    return _program(image, "lolbin", folders + extra, *uses, otherwise=otherwise)


def _app(image: str, *folders: str, uses: tuple[Use, ...] = ()) -> Program:
    return _program(image, "application", tuple(folders), *uses)


OFFICE = ("winword.exe", "excel.exe", "powerpnt.exe", "outlook.exe", "onenote.exe", "mspub.exe", "msaccess.exe",
          "visio.exe")
_OFFICE_DIRS = ("c:\\program files\\microsoft office\\*", "c:\\program files (x86)\\microsoft office\\*")
_USER_APPS = "c:\\users\\*"  # per-user installs live in the user's own AppData


def _download(name: str, test: Callable[[Invocation, Context], bool], techniques: tuple[str, ...] = ("T1105",)) -> Use:
    return _use(name, "download", techniques, "fetches a file or script from an outside site no known-good service "
                "answers for", lambda inv, ctx: bool(unsanctioned_urls(inv)) and test(inv, ctx))


def _remote_node(inv: Invocation) -> bool:
    node = inv.switch_value("node")
    return node is not None and node.strip('"') not in ("", ".", "localhost", "127.0.0.1")


def _lsass_target(inv: Invocation) -> bool:
    return any(a in ("lsass", "lsass.exe") or a.endswith("\\lsass.exe") for a in inv.args)


_NET_VERBS = ("accounts", "computer", "config", "continue", "file", "group", "help", "helpmsg", "localgroup", "name",
              "pause", "print", "session", "share", "start", "statistics", "stop", "time", "use", "user", "users",
              "view")


def _net_discovery(inv: Invocation, ctx: Context) -> bool:
    verb = inv.args[0] if inv.args else ""
    privileged = any(INVENTORY.group(a) is not None and INVENTORY.group(a).tier0 for a in inv.args[1:])  # type: ignore[union-attr]
    return verb in ("group", "localgroup", "user", "users", "view", "accounts") and (inv.has_switch("domain") or privileged)


def _wbadmin_delete(inv: Invocation) -> bool:
    return bool(inv.args) and inv.args[0] == "delete" and any(a in ("catalog", "systemstatebackup", "backup")
                                                               for a in inv.args[1:])


def _backup_retention(inv: Invocation, ctx: Context) -> bool:
    """The backup job's own pruning: ``wbadmin delete backup -keepVersions:N`` by the backup account on the backup
    server (the catalog and system-state backups are never pruned this way)."""
    return (inv.args[:2] == ("delete", "backup") and any(a.startswith("-keepversions:") for a in inv.args)
            and ctx.user == "svc_backup" and ctx.host_role == "backup_server")


def _management(ctx: Context) -> bool:
    """The world's software management agent (ConfigMgr's ccmexec, Intune's agent executor) or its deployment
    account runs this."""
    return ctx.parent in ("ccmexec.exe", "agentexecutor.exe") or ctx.user == "svc_deploy"


def _schtasks_remote(inv: Invocation) -> bool:
    return inv.has_switch("s") and (inv.has_switch("create") or inv.has_switch("run") or inv.has_switch("change"))


def _sc_remote(inv: Invocation) -> bool:
    return any(a.startswith("\\\\") for a in inv.args) and bool({"create", "config", "start"} & set(inv.args))


PROGRAMS: dict[str, Program] = {p.image: p for p in (
    # --- shells and interpreters: what they run is judged invocation by invocation
    _program("cmd.exe", "shell", SYSTEM32),
    _program("powershell.exe", "interpreter", ("c:\\windows\\system32\\windowspowershell\\v1.0\\",
                                               "c:\\windows\\syswow64\\windowspowershell\\v1.0\\"),
             _download("powershell.download_cradle", lambda inv, ctx: bool(_CRADLE.search(inv.script)),
                       ("T1059.001", "T1105")),
             original_names=("powershell.exe",)),
    _program("pwsh.exe", "interpreter", ("c:\\program files\\powershell\\*",),
             _download("pwsh.download_cradle", lambda inv, ctx: bool(_CRADLE.search(inv.script)), ("T1059.001", "T1105"))),
    _program("conhost.exe", "system", SYSTEM32),
    _program("wscript.exe", "lolbin", SYSTEM32,
             _use("wscript.user_writable_script", "proxy_execution", ("T1059.005", "T1059.007"),
                  "runs a script from a folder any user can write to", lambda inv, ctx: _writable_arg(inv)),
             _download("wscript.url_script", _always, ("T1059.005",)),
             otherwise=_ordinary("wscript.installed_script", "runs an installed script")),
    _program("cscript.exe", "lolbin", SYSTEM32,
             _use("cscript.user_writable_script", "proxy_execution", ("T1059.005",),
                  "runs a script from a folder any user can write to", lambda inv, ctx: _writable_arg(inv)),
             otherwise=_ordinary("cscript.installed_script", "runs an installed script")),
    # --- living-off-the-land binaries: every form they are used in, or refused
    _lol("certutil.exe",
         _download("certutil.url_download", lambda inv, ctx: _has(inv, "urlcache", "verifyctl", "split")),
         _use("certutil.decode_to_user_writable_executable", "proxy_execution", ("T1140",),
              "decodes a file into an executable in a folder any user can write to",
              lambda inv, ctx: _has(inv, "decode", "decodehex") and any(
                  is_user_writable(p) and p.endswith((".exe", ".dll", ".ps1", ".bat", ".hta", ".js", ".vbs"))
                  for p in _paths(inv))),
         _form("certutil.decode", "decodes a certificate or a file elsewhere (T1140 without a payload)",
               lambda inv: _has(inv, "decode", "decodehex", "encode", "encodehex")),
         _form("certutil.certificate_tasks", "verifies, dumps or hashes a certificate or file, or reads a store",
               lambda inv: _has(inv, "verify", "dump", "hashfile", "store", "viewstore", "addstore", "delstore",
                                "verifystore", "repairstore", "ping", "cainfo", "getconfig", "verifykeys", "pulse")),
         ),
    _lol("bitsadmin.exe",
         _download("bitsadmin.transfer", lambda inv, ctx: _has(inv, "transfer", "addfile"), ("T1197", "T1105")),
         _use("bitsadmin.notify_command", "proxy_execution", ("T1197",), "runs a command when a BITS job ends",
              lambda inv, ctx: _has(inv, "setnotifycmdline")),
         _form("bitsadmin.inspect", "lists, inspects or manages BITS jobs",
               lambda inv: _has(inv, "list", "info", "monitor", "getstate", "getbytestransferred", "cancel", "complete",
                                "reset", "create", "resume", "suspend", "setpriority", "getdisplayname"))),
    _lol("mshta.exe",
         _download("mshta.url", _always, ("T1218.005",)),
         _use("mshta.inline_script", "proxy_execution", ("T1218.005",), "runs inline script or a user-writable HTA",
              lambda inv, ctx: any(a.startswith(("javascript:", "vbscript:", "about:")) for a in inv.args)
              or _writable_arg(inv)),
         _form("mshta.installed_hta", "opens an HTA installed with Windows or an application",
               lambda inv: any(a.endswith(".hta") for a in inv.args))),
    _lol("rundll32.exe",
         _use("rundll32.comsvcs_minidump", "credential_dump", ("T1003.001",), "writes LSASS memory with comsvcs.dll",
              lambda inv, ctx: rundll32_entry(inv)[0] in ("comsvcs.dll", "comsvcs")
              and rundll32_entry(inv)[1].lower() in ("minidump", "#24", "minidumpw")),
         _download("rundll32.url", _always, ("T1218.011",)),
         _use("rundll32.script_or_writable_dll", "proxy_execution", ("T1218.011",),
              "runs script or a DLL from a folder any user can write to",
              lambda inv, ctx: "javascript:" in " ".join(inv.args) or _writable_arg(inv)),
         _use("rundll32.url_handler", "proxy_execution", ("T1218.011",), "opens a file or URL through url.dll/ieframe",
              lambda inv, ctx: rundll32_entry(inv)[0] in ("url.dll", "ieframe.dll", "shdocvw.dll")
              and rundll32_entry(inv)[1].lower() in ("fileprotocolhandler", "openurl", "openurla")),
         _form("rundll32.system_dll", "calls a Windows DLL's exported entry point (the control panel, printing)",
               lambda inv: all(rundll32_entry(inv)))),
    _lol("regsvr32.exe",
         _download("regsvr32.scriptlet_url", lambda inv, ctx: True, ("T1218.010",)),
         _use("regsvr32.scriptlet", "proxy_execution", ("T1218.010",), "registers a scriptlet (scrobj.dll) or a DLL any "
              "user could have written", lambda inv, ctx: "scrobj.dll" in inv.args or any(a.startswith("-i:") for a in inv.args)
              or _writable_arg(inv)),
         _form("regsvr32.register_dll", "registers an installed DLL",
               lambda inv: any(a.endswith((".dll", ".ocx", ".ax")) for a in inv.args))),
    _lol("msiexec.exe",
         _download("msiexec.remote_package", lambda inv, ctx: _has(inv, "i", "package", "y"), ("T1218.007",)),
         _use("msiexec.user_writable_package", "proxy_execution", ("T1218.007",),
              "installs a package from a folder any user can write to, outside software management",
              lambda inv, ctx: _writable_arg(inv) and not _management(ctx)),
         _use("msiexec.managed_install", "management", (), "installs a package the management agent staged",
              lambda inv, ctx: _management(ctx) or (ctx.user or "").lower() == "system"),
         _form("msiexec.install", "installs, repairs or removes a local package",
               lambda inv: _has(inv, "i", "x", "package", "uninstall", "f", "fa", "fu", "fm", "a", "p", "update"))),
    _lol("wmic.exe",
         _use("wmic.remote_node", "remote_execution", ("T1047",), "runs a WMI command on another host",
              lambda inv, ctx: _remote_node(inv)),
         _use("wmic.shadowcopy_delete", "recovery_inhibition", ("T1490",), "deletes shadow copies",
              lambda inv, ctx: "shadowcopy" in inv.args and "delete" in inv.args),
         _form("wmic.process_create", "starts a process on this host (its command line is judged)",
               lambda inv: {"process", "call", "create"} <= set(inv.args)),
         _form("wmic.query", "reads WMI classes on this host (get, list)",
               lambda inv: bool({"get", "list"} & set(inv.args)) and not {"create", "delete", "set", "call"} & set(inv.args)),
         folders=("c:\\windows\\system32\\wbem\\", "c:\\windows\\syswow64\\wbem\\")),
    _lol("schtasks.exe",
         _use("schtasks.remote", "remote_execution", ("T1053.005",), "creates, runs or changes a task on another host",
              lambda inv, ctx: _schtasks_remote(inv)),
         _ordinary("schtasks.local", "queries or manages tasks on this host (a created task's action is judged)")),
    _lol("sc.exe",
         _use("sc.remote_service", "remote_execution", ("T1569.002", "T1021.002"), "creates, configures or starts a "
              "service on another host", lambda inv, ctx: _sc_remote(inv)),
         _ordinary("sc.local", "queries or manages a service on this host (a binPath is judged)")),
    _lol("reg.exe",
         _use("reg.save_credential_hive", "credential_dump", ("T1003.002",), "saves the SAM, SECURITY or SYSTEM hive",
              lambda inv, ctx: inv.args[:1] in (("save",), ("export",)) and any(
                  a.endswith(("\\sam", "\\security", "\\system")) for a in inv.args)),
         _form("reg.read", "queries, compares, exports or saves keys", _verb("query", "compare", "export", "save")),
         _form("reg.autostart_value", "writes an autostart value or a service's image path (its command is judged)",
               lambda inv: inv.args[:1] == ("add",) and len(inv.args) > 1 and inv.switch_value("d") is not None
               and judged_registry_write(inv.args[1], inv.switch_value("v")))),
    _lol("vssadmin.exe",
         _use("vssadmin.delete_shadows", "recovery_inhibition", ("T1490",), "deletes or shrinks shadow copy storage",
              lambda inv, ctx: inv.args[:2] in (("delete", "shadows"), ("resize", "shadowstorage"))),
         _form("vssadmin.list", "lists or creates shadow copies, lists writers and providers",
               _verb("list", "create", "add", "query"))),
    _lol("wbadmin.exe",
         _use("wbadmin.retention", "backup_retention", (), "prunes old backups, keeping the newest versions",
              _backup_retention),
         _use("wbadmin.delete_backups", "recovery_inhibition", ("T1490",), "deletes the backup catalog or backups",
              lambda inv, ctx: _wbadmin_delete(inv)),
         _form("wbadmin.backup", "starts, lists or inspects backups", _verb("start", "get", "enable", "stop"))),
    _lol("bcdedit.exe",
         _use("bcdedit.disable_recovery", "recovery_inhibition", ("T1490",), "disables boot recovery",
              lambda inv, ctx: inv.has_switch("set") and ("recoveryenabled no" in " ".join(inv.args)
                                                         or "ignoreallfailures" in " ".join(inv.args))),
         _form("bcdedit.inspect", "lists the boot entries or sets the boot menu's timeout and order",
               lambda inv: not inv.args or _has(inv, "enum", "v", "timeout", "displayorder", "default", "export"))),
    _lol("curl.exe",
         _download("curl.download", lambda inv, ctx: _has(inv, "o", "output", "remote-name") or any(
             a.startswith("-o") for a in inv.args)),
         _ordinary("curl.request", "makes a web request without saving a file")),
    _lol("msbuild.exe",
         _use("msbuild.user_writable_project", "proxy_execution", ("T1127.001",), "builds (and runs) a project file from "
              "a folder any user can write to", lambda inv, ctx: _writable_arg(inv)),
         _ordinary("msbuild.build", "builds an installed project"),
         extra=("c:\\windows\\microsoft.net\\*",)),
    _lol("installutil.exe",
         _use("installutil.run", "proxy_execution", ("T1218.004",), "runs an assembly's installer code", _always),
         extra=("c:\\windows\\microsoft.net\\*",)),
    _lol("cmstp.exe", _use("cmstp.profile", "proxy_execution", ("T1218.003",), "installs a connection profile that runs "
                           "code", _always)),
    _lol("hh.exe", _download("hh.url", _always, ("T1218.001",)),
         _use("hh.user_writable_help", "proxy_execution", ("T1218.001",), "opens a compiled help file any user could have "
              "written", lambda inv, ctx: _writable_arg(inv)),
         _ordinary("hh.help", "opens installed help"), extra=WINDOWS),
    _lol("forfiles.exe", _ordinary("forfiles.run", "runs a command per file (the command is judged)")),
    _lol("mavinject.exe", _use("mavinject.inject", "proxy_execution", ("T1218.013",), "injects a DLL into a process",
                               _always)),
    _lol("odbcconf.exe", _use("odbcconf.regsvr", "proxy_execution", ("T1218.008",), "loads a DLL through a response "
                              "file or REGSVR action", _always)),
    _lol("regasm.exe", _use("regasm.run", "proxy_execution", ("T1218.009",), "runs an assembly's registration code",
                            _always), extra=("c:\\windows\\microsoft.net\\*",)),
    _lol("regsvcs.exe", _use("regsvcs.run", "proxy_execution", ("T1218.009",), "runs an assembly's registration code",
                             _always), extra=("c:\\windows\\microsoft.net\\*",)),
    _lol("esentutl.exe", _use("esentutl.copy_ntds", "credential_dump", ("T1003.003",), "copies the NTDS or a locked "
                              "hive", lambda inv, ctx: any("ntds" in a or a.endswith(("\\sam", "\\system"))
                                                           for a in inv.args)),
         _ordinary("esentutl.maintenance", "checks or repairs a database")),
    _lol("ntdsutil.exe", _use("ntdsutil.ifm", "credential_dump", ("T1003.003",), "creates an install-from-media copy of "
                              "the directory database", lambda inv, ctx: "ifm" in " ".join(inv.args)),
         _ordinary("ntdsutil.maintenance", "maintains the directory database")),
    # --- remote and discovery tools
    _program("psexec.exe", "admin_tool", (), _use("psexec.remote", "remote_execution", ("T1569.002", "T1021.002"),
                                                  "runs a command on another host", _always),
             original_names=("psexec.c",)),
    _program("paexec.exe", "admin_tool", (), _use("paexec.remote", "remote_execution", ("T1569.002",),
                                                  "runs a command on another host", _always)),
    _sys("winrs.exe", _use("winrs.remote", "remote_execution", ("T1021.006",), "runs a command over WinRM", _always)),
    _program("procdump.exe", "admin_tool", (),
             _use("procdump.lsass", "credential_dump", ("T1003.001",), "writes LSASS memory to a file",
                  lambda inv, ctx: _lsass_target(inv) and any(a[:1] in SWITCH_DASHES and a[1:3] in ("ma", "mm", "mp")
                                                              for a in inv.args)),
             _ordinary("procdump.dump", "dumps another process for debugging")),
    _sys("net.exe", _use("net.domain_discovery", "domain_discovery", ("T1087.002", "T1069.002"),
                         "lists domain accounts or groups, or a tier-0 group", _net_discovery),
         _form("net.session", "maps shares, starts services, shows local settings",
               _verb(*_NET_VERBS)), extra=(), otherwise=None),
    _sys("nltest.exe", _use("nltest.domain_discovery", "domain_discovery", ("T1482", "T1018"),
                            "lists domain controllers or trusts",
                            lambda inv, ctx: inv.has_switch("dclist", "domain_trusts", "dsgetdc", "trusted_domains",
                                                            "parentdomain")),
         _ordinary("nltest.query", "queries the secure channel")),
    _sys("whoami.exe", _use("whoami.discovery", "domain_discovery", ("T1033",), "lists the user's groups or privileges",
                            lambda inv, ctx: inv.has_switch("all", "groups", "priv")),
         _ordinary("whoami.name", "prints the user name")),
    _program("adfind.exe", "admin_tool", (), _use("adfind.query", "domain_discovery", ("T1087.002", "T1482"),
                                                  "queries the directory", _always)),
    _sys("dsquery.exe", _use("dsquery.query", "domain_discovery", ("T1087.002",), "queries the directory", _always)),
    # --- offensive tools: whatever their arguments
    *(_program(name, "offensive", (), otherwise=_use(f"{name.split('.')[0]}.run", "offensive_tool", techniques,
                                                     "runs a tool made for attacking", _always))
      for name, techniques in (("mimikatz.exe", ("T1003.001",)), ("rubeus.exe", ("T1558.003",)),
                               ("sharphound.exe", ("T1087.002",)), ("lazagne.exe", ("T1555",)),
                               ("nc.exe", ("T1095",)), ("ncat.exe", ("T1095",)), ("chisel.exe", ("T1572",)),
                               ("plink.exe", ("T1572",)), ("pwdump.exe", ("T1003.002",)),
                               ("secretsdump.exe", ("T1003.002",)), ("kerbrute.exe", ("T1110.003",)),
                               ("seatbelt.exe", ("T1082",)), ("winpeas.exe", ("T1082",)))),
    # --- Windows' own processes and tools
    *(_sys(name) for name in (
        "svchost.exe", "services.exe", "lsass.exe", "csrss.exe", "wininit.exe", "winlogon.exe", "smss.exe",
        "explorer.exe", "taskhostw.exe", "runtimebroker.exe", "dllhost.exe", "wmiprvse.exe", "mmc.exe", "taskmgr.exe",
        "searchindexer.exe", "werfault.exe", "notepad.exe", "findstr.exe", "ipconfig.exe", "ping.exe", "nslookup.exe",
        "systeminfo.exe", "tasklist.exe", "hostname.exe", "netstat.exe", "quser.exe", "query.exe", "gpupdate.exe",
        "gpresult.exe", "mstsc.exe", "robocopy.exe", "xcopy.exe", "attrib.exe", "icacls.exe", "takeown.exe", "tar.exe",
        "timeout.exe", "tracert.exe", "route.exe", "arp.exe", "getmac.exe", "chcp.com", "more.com", "sort.exe",
        "where.exe", "sfc.exe", "dism.exe", "cleanmgr.exe", "defrag.exe", "taskkill.exe", "shutdown.exe", "w32tm.exe",
        "wevtutil.exe", "auditpol.exe", "fsutil.exe", "netsh.exe", "msinfo32.exe", "control.exe", "calc.exe",
        "mspaint.exe", "write.exe", "sethc.exe", "osk.exe", "consent.exe", "userinit.exe", "lodctr.exe", "spoolsv.exe",
        "dwm.exe", "fontdrvhost.exe", "sihost.exe", "ctfmon.exe", "smartscreen.exe", "backgroundtaskhost.exe",
        "searchprotocolhost.exe", "searchfilterhost.exe", "compattelrunner.exe", "wuauclt.exe", "usoclient.exe",
        "mousocoreworker.exe", "tiworker.exe", "trustedinstaller.exe", "msdt.exe", "wusa.exe", "expand.exe",
        "extrac32.exe", "makecab.exe", "print.exe", "choice.exe", "clip.exe", "cipher.exe", "cmdkey.exe", "klist.exe",
        "setspn.exe", "repadmin.exe", "dcdiag.exe", "gpedit.exe", "eventvwr.exe", "perfmon.exe", "resmon.exe",
        "regedit.exe", "mrt.exe")),
    _program("w3wp.exe", "service", ("c:\\windows\\system32\\inetsrv\\",)),
    # --- security tools, agents and services of the world
    _program("msmpeng.exe", "security", ("c:\\programdata\\microsoft\\windows defender\\platform\\*",
                                         "c:\\program files\\windows defender\\*")),
    _program("mpcmdrun.exe", "security", ("c:\\programdata\\microsoft\\windows defender\\platform\\*",
                                          "c:\\program files\\windows defender\\*"),
             _download("mpcmdrun.download", lambda inv, ctx: _has(inv, "downloadfile"), ("T1105",))),
    _program("sentinelagent.exe", "security", ("c:\\program files\\sentinelcloud\\*",)),
    _program("ccmexec.exe", "agent", ("c:\\windows\\ccm\\",)),
    _program("agentexecutor.exe", "agent", ("c:\\program files (x86)\\microsoft intune management extension\\*",)),
    _program("veeamagent.exe", "agent", ("c:\\program files\\veeam\\*",)),
    # --- applications
    *(_app(name, *_OFFICE_DIRS) for name in OFFICE),
    _app("chrome.exe", "c:\\program files\\google\\chrome\\*", "c:\\program files (x86)\\google\\chrome\\*"),
    _app("msedge.exe", "c:\\program files (x86)\\microsoft\\edge\\*", "c:\\program files\\microsoft\\edge\\*"),
    _app("firefox.exe", "c:\\program files\\mozilla firefox\\*"),
    _app("teams.exe", _USER_APPS, "c:\\program files\\windowsapps\\*"),
    _app("onedrive.exe", _USER_APPS, "c:\\program files\\microsoft onedrive\\*"),
    _app("acrord32.exe", "c:\\program files\\adobe\\*", "c:\\program files (x86)\\adobe\\*"),
    _app("7z.exe", "c:\\program files\\7-zip\\*"),
    _app("code.exe", _USER_APPS, "c:\\program files\\microsoft vs code\\*"),
    _app("git.exe", "c:\\program files\\git\\*"),
    _app("python.exe", _USER_APPS, "c:\\program files\\python*"),
    _app("zoom.exe", _USER_APPS),
    _app("slack.exe", _USER_APPS),
)}
# Program-name lookups also by PE original name spellings.
_ORIGINAL_NAMES = {name.lower(): p for p in PROGRAMS.values() for name in p.original_names}
# The 64-bit and ARM builds Sysinternals ships beside each tool are the same program.
_BUILDS = {f"{p.image[:-4]}{suffix}.exe": p for p in PROGRAMS.values() if p.kind == "admin_tool"
           for suffix in ("64", "64a")}


@dataclass(frozen=True)
class Cmdlet:
    name: str
    uses: tuple[Use, ...] = ()
    otherwise: Use | None = None


def _fetch(name: str) -> Use:
    """A fetch from the enterprise or a known-good service: a URL that can be read, and none outside them (a URL held
    in a variable is not read, so such a fetch is refused)."""
    return _form(f"{name}.known_good", "fetches from a host inside the enterprise or a known-good service",
                 lambda inv: bool(urls(inv)) and not unsanctioned_urls(inv))


def _cmdlet(name: str, *uses: Use, otherwise: Use | None | str = "ordinary") -> Cmdlet:
    fallback = _ordinary(f"{name}.run") if otherwise == "ordinary" else otherwise
    assert fallback is None or isinstance(fallback, Use)
    return Cmdlet(name, tuple(uses), fallback)


def _shadow_cmdlet(inv: Invocation, ctx: Context) -> bool:
    return "win32_shadowcopy" in " ".join(inv.args) or "win32_shadowcopy" in inv.piped


def _remote_cmdlet(inv: Invocation, ctx: Context) -> bool:
    return (inv.has_parameter("computername", "cn", min_prefix=3) or inv.has_parameter("connectionuri", min_prefix=5)
            or inv.has_parameter("hostname", min_prefix=2) or inv.has_parameter("session", min_prefix=3))


CMDLETS: dict[str, Cmdlet] = {c.name: c for c in (
    _cmdlet("invoke-expression", otherwise=_ordinary("invoke-expression.literal", "runs a literal script (its commands "
                                                     "are judged; a download through it is the interpreter's cradle)")),
    _cmdlet("invoke-webrequest", _download("invoke-webrequest.download", _always), _fetch("invoke-webrequest"),
            otherwise=None),
    _cmdlet("invoke-restmethod", _download("invoke-restmethod.download", _always), _fetch("invoke-restmethod"),
            otherwise=None),
    _cmdlet("start-bitstransfer", _download("start-bitstransfer.download", _always, ("T1197", "T1105")),
            _fetch("start-bitstransfer"), otherwise=None),
    _cmdlet("new-object"),
    _cmdlet("invoke-command", _use("invoke-command.remote", "remote_execution", ("T1021.006",),
                                   "runs a script block on another host", _remote_cmdlet)),
    _cmdlet("enter-pssession", _use("enter-pssession.remote", "remote_execution", ("T1021.006",),
                                    "opens a session on another host", _always)),
    _cmdlet("new-pssession", _use("new-pssession.remote", "remote_execution", ("T1021.006",),
                                  "opens a session on another host", _always)),
    _cmdlet("invoke-wmimethod", _use("invoke-wmimethod.remote", "remote_execution", ("T1047",),
                                     "calls a WMI method on another host", _remote_cmdlet)),
    _cmdlet("invoke-cimmethod", _use("invoke-cimmethod.remote", "remote_execution", ("T1047",),
                                     "calls a CIM method on another host", _remote_cmdlet)),
    _cmdlet("remove-wmiobject", _use("remove-wmiobject.shadowcopy", "recovery_inhibition", ("T1490",),
                                     "deletes shadow copies (named, or piped in from a query)", _shadow_cmdlet)),
    _cmdlet("remove-ciminstance", _use("remove-ciminstance.shadowcopy", "recovery_inhibition", ("T1490",),
                                       "deletes shadow copies (named, or piped in from a query)", _shadow_cmdlet)),
    _cmdlet("out-minidump", otherwise=_use("out-minidump.dump", "credential_dump", ("T1003.001",),
                                           "writes a process's memory to a file", _always)),
    _cmdlet("set-mppreference", _use("set-mppreference.disable", "defense_evasion", ("T1562.001",),
                                     "switches off or excludes Defender's protection",
                                     lambda inv, ctx: any(a.startswith("-disable") or a.startswith("-exclusion")
                                                          for a in inv.args))),
    _cmdlet("add-mppreference", _use("add-mppreference.exclusion", "defense_evasion", ("T1562.001",),
                                     "adds a Defender exclusion", lambda inv, ctx: any(a.startswith("-exclusion")
                                                                                       for a in inv.args))),
    _cmdlet("start-process"), _cmdlet("get-process"), _cmdlet("stop-process"), _cmdlet("get-service"),
    _cmdlet("start-service"), _cmdlet("stop-service"), _cmdlet("restart-service"), _cmdlet("get-childitem"),
    _cmdlet("get-item"), _cmdlet("get-itemproperty"), _cmdlet("get-content"), _cmdlet("set-content"),
    _cmdlet("add-content"), _cmdlet("copy-item"), _cmdlet("move-item"), _cmdlet("remove-item"), _cmdlet("new-item"),
    _cmdlet("set-location"), _cmdlet("get-location"), _cmdlet("select-object"), _cmdlet("where-object"),
    _cmdlet("sort-object"), _cmdlet("measure-object"), _cmdlet("foreach-object"), _cmdlet("format-table"),
    _cmdlet("format-list"), _cmdlet("out-file"), _cmdlet("out-string"), _cmdlet("out-null"), _cmdlet("write-output"),
    _cmdlet("write-host"), _cmdlet("get-winevent"), _cmdlet("get-eventlog"), _cmdlet("get-hotfix"),
    _cmdlet("get-wmiobject"), _cmdlet("get-ciminstance"), _cmdlet("test-netconnection"), _cmdlet("test-connection"),
    _cmdlet("resolve-dnsname"), _cmdlet("get-netadapter"), _cmdlet("get-netipaddress"), _cmdlet("get-date"),
    _cmdlet("get-computerinfo"), _cmdlet("get-localuser"), _cmdlet("get-localgroupmember"), _cmdlet("get-acl"),
    _cmdlet("get-filehash"), _cmdlet("expand-archive"), _cmdlet("compress-archive"), _cmdlet("import-module"),
    _cmdlet("get-module"), _cmdlet("get-command"), _cmdlet("get-help"), _cmdlet("get-member"),
    _cmdlet("convertto-json"), _cmdlet("convertfrom-json"), _cmdlet("export-csv"), _cmdlet("import-csv"),
    _cmdlet("clear-host"), _cmdlet("get-history"), _cmdlet("get-variable"), _cmdlet("set-variable"),
    _cmdlet("new-variable"), _cmdlet("tee-object"), _cmdlet("out-host"), _cmdlet("get-scheduledtask"),
    _cmdlet("get-mpcomputerstatus"), _cmdlet("update-mpsignature"), _cmdlet("start-mpscan"), _cmdlet("restart-computer"),
    *(_cmdlet(name, _use(f"{name}.domain_discovery", "domain_discovery", ("T1087.002", "T1069.002"),
                         "queries the directory", _always))
      for name in ("get-aduser", "get-adgroup", "get-adgroupmember", "get-adcomputer", "get-addomain",
                   "get-adtrust", "get-adobject", "get-adprincipalgroupmembership", "get-addomaincontroller")),
)}


def _shadow_copies(inv: Invocation, ctx: Context) -> bool:
    return "win32_shadowcopy" in inv.script


# .NET methods a PowerShell expression calls: string and collection helpers, path and date arithmetic, and the web
# client's transfers, base64 decoding (what it decodes is judged where it is run or written). A method outside this
# table (reflection, raw file writes, process or registry APIs) is refused rather than taken as harmless.
_WEB_METHODS = ("downloadstring", "downloadfile", "downloaddata", "openread", "downloadstringasync",
                "downloadfileasync", "uploadstring", "uploadfile", "uploaddata", "uploadvalues")
_PLAIN_METHODS = ("tostring", "trim", "trimstart", "trimend", "split", "replace", "tolower", "toupper", "substring",
                  "contains", "startswith", "endswith", "indexof", "padleft", "padright", "equals", "gettype", "add",
                  "adddays", "addhours", "addminutes", "addseconds", "toshortdatestring", "tolongdatestring",
                  "close", "dispose", "readtoend", "readline", "getenumerator", "where", "foreach",
                  "string::join", "string::format", "string::isnullorempty", "string::isnullorwhitespace",
                  "math::round", "math::max", "math::min", "datetime::parse", "io.path::combine",
                  "io.path::getfilename", "io.path::getextension", "io.path::getdirectoryname", "io.file::exists",
                  "io.directory::exists", "io.file::readalltext", "io.file::readalllines",
                  "environment::getenvironmentvariable", "convert::toint32", "net.dns::gethostaddresses",
                  "net.dns::gethostentry", "convert::frombase64string", "convert::tobase64string",
                  "text.encoding::utf8.getstring", "text.encoding::unicode.getstring", "text.encoding::ascii.getstring",
                  "text.encoding::utf8.getbytes", "text.encoding::unicode.getbytes")
METHODS: dict[str, Cmdlet] = {
    **{name: _cmdlet(name, _download(f"method.{name}", _always, ("T1059.001", "T1105")),
                     otherwise=_ordinary(f"method.{name}", "transfers with a known-good service"))
       for name in _WEB_METHODS},
    "delete": _cmdlet("delete", _use("method.delete_shadow_copy", "recovery_inhibition", ("T1490",),
                                     "deletes shadow copies through their WMI objects", _shadow_copies),
                      otherwise=None),
    **{name: _cmdlet(name, otherwise=_ordinary(f"method.{name.replace('::', '.')}", "a string, date, path or "
                                               "collection helper")) for name in _PLAIN_METHODS},
}


def _plain_paths(inv: Invocation) -> bool:
    """No path argument in a Windows or program folder, a backup, or a device a shadow copy hides behind."""
    paths = _paths(inv) + [a for a in inv.args if "globalroot" in a or "shadowcopy" in a]
    return not any(p.startswith(("c:\\windows\\", "c:\\program files", "c:\\programdata\\microsoft\\"))
                   or "backup" in p or "globalroot" in p or "shadowcopy" in p for p in paths)


_QUIET_BUILTINS = ("echo", "echo.", "cd", "chdir", "dir", "type", "cls", "exit", "pause", "title", "ver", "vol",
                   "pushd", "popd", "goto", "shift", "setlocal", "endlocal", "prompt", "color", "break", "else",
                   "verify", "set", "path", "date", "time")
_FILE_BUILTINS = ("copy", "move", "del", "erase", "ren", "rename", "md", "mkdir", "rd", "rmdir", "mklink")
# cmd.exe's internal commands: what they do is read here, not in a program's entry. A file operation on a Windows or
# program folder, a backup or a shadow copy device, and a file association changed (assoc/ftype with "="), is a form
# the catalog does not list: refused.
BUILTINS: dict[str, Cmdlet] = {
    **{name: _cmdlet(name, otherwise=_ordinary(f"cmd.{name}", "shows or sets the shell's own state"))
       for name in _QUIET_BUILTINS},
    **{name: _cmdlet(name, _form(f"cmd.{name}", "copies, moves, renames, links or deletes files outside Windows' and "
                                 "programs' folders, backups and shadow copies", _plain_paths), otherwise=None)
       for name in _FILE_BUILTINS},
    **{name: _cmdlet(name, _form(f"cmd.{name}", "shows file associations",
                                 lambda inv: not any("=" in a for a in inv.args)), otherwise=None)
       for name in ("assoc", "ftype")},
}


RUNNING = _ordinary("running", "a running process of a known program at its install path (what it was started to "
                   "do is judged on its own process start)")


def judge_running(image: str, ctx: Context, path: str | None) -> Judgment:
    """What a running process (the accessor of a process access) is: a known program at its install path, an
    untrusted or masquerading one, or one the catalog does not know; its arguments are not in this log."""
    judgment = judge(Invocation(image, ()), ctx, path)
    if judgment.program is not None and judgment.use is None:
        return Judgment(RUNNING, judgment.program)
    return judgment


UNTRUSTED = _use("untrusted_executable", "untrusted_executable", ("T1204.002",),
                 "a program no catalog entry lists, run from a folder any user can write to", _always)
MASQUERADE = _use("masquerade", "masquerade", ("T1036.005",),
                  "a known program's name on a file outside the folders it is installed in", _always)


def program_for(image: str) -> Program | None:
    """The catalog's program for a canonical image name or PE original name."""
    return PROGRAMS.get(image) or _BUILDS.get(image) or _ORIGINAL_NAMES.get(image.lower())


def installed(program: Program, path: str | None) -> bool:
    """Whether ``path`` (canonical) lies in one of the folders ``program`` is installed in: that folder itself, or any
    folder below one written with a trailing ``*`` (an application's own tree; never a Windows folder, since
    ``C:\\Windows\\System32\\Tasks`` and its like are writable by users). A portable program, or a path the log did
    not give, is taken where it is."""
    if not program.install or not path or "\\" not in path:
        return True
    folder = path.rsplit("\\", 1)[0] + "\\"
    return any(folder.startswith(prefix[:-1]) if prefix.endswith("*") else folder == prefix
               for prefix in program.install)


_SPELLING = {"c:": "C:", "windows": "Windows", "system32": "System32", "syswow64": "SysWOW64",
             "windowspowershell": "WindowsPowerShell", "program files": "Program Files",
             "program files (x86)": "Program Files (x86)", "inetsrv": "inetsrv", "wbem": "wbem"}


def home(image: str) -> str:
    """Where the world installs the Windows program ``image``, spelled as Explorer shows it (the first folder its
    catalog entry lists); a name the catalog does not hold, or one installed only in an application's own tree, is a
    ``KeyError``."""
    program = program_for(image.lower())
    if program is None or not program.install or program.install[0].endswith("*"):
        raise KeyError(f"the catalog names no single install folder for {image!r}")
    parts = program.install[0].rstrip("\\").split("\\")
    return "\\".join(_SPELLING.get(part, part) for part in parts) + "\\" + image


@lru_cache(maxsize=1 << 14)
def _written_path(written: str, user: str | None) -> str | None:
    path = windows_path(written, user or "*")
    return path if path and "\\" in path else None


@lru_cache(maxsize=1 << 14)  # pure: the same invocation in the same context is the same use (templates repeat)
def judge(inv: Invocation, ctx: Context, path: str | None = None) -> Judgment:
    """What ``inv`` is: its use, or why the catalog cannot say. ``path`` is the event's canonical image path for the
    event's own process; a nested invocation's path is what its command line wrote."""
    if inv.kind in ("cmdlet", "method", "builtin"):
        cmdlet = {"cmdlet": CMDLETS, "method": METHODS, "builtin": BUILTINS}[inv.kind].get(inv.program)
        if cmdlet is None:
            what = {"cmdlet": "cmdlet", "method": ".NET method", "builtin": "cmd.exe internal command"}[inv.kind]
            return Judgment(None, None, f"the {what} {inv.program[:60]!r} is not in the software catalog")
        use = next((u for u in cmdlet.uses if u.test(inv, ctx)), cmdlet.otherwise)
        return Judgment(use, None, None if use else f"a form of {inv.program} the catalog does not list: "
                                                    f"{' '.join(inv.args)[:80]!r}", known=True)
    path = path or (_written_path(inv.written, ctx.user) if inv.written else None)
    if path and path.startswith("?:"):  # \Device\HarddiskVolumeN\: which drive it is, the log does not say
        return Judgment(None, None, f"the device path {path[:80]!r} names no drive letter, so its folder is unknown")
    program = program_for(inv.program)
    if program is None:
        if path and is_user_writable(path):
            return Judgment(UNTRUSTED)
        where = f" at {path[:80]}" if path else ""
        return Judgment(None, None, f"the program {inv.program[:60]!r}{where} is not in the software catalog")
    if not installed(program, path):
        return Judgment(MASQUERADE, program)
    use = next((u for u in program.uses if u.test(inv, ctx)), program.otherwise)
    if use is None:
        return Judgment(None, program, f"a form of {program.image} the catalog does not list: "
                                       f"{' '.join(inv.args)[:80]!r}")
    return Judgment(use, program)
