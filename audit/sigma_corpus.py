"""Test events written from the SigmaHQ rules' own detections: one OpenSOC event per rule, which the rule matches.

SigmaHQ's rules describe attack telemetry as people outside this project have seen it. For each kept rule of a log
source OpenSOC can produce (process creation and access, registry, file, DNS, network, proxy, PowerShell script and
Windows Security records), ``synthesise`` picks concrete raw values that satisfy the rule's condition and lays them
out as an OpenSOC schema event (a dict with the schema's dotted names), on the inventory Windows host ``FIN-WS01``
of ``alice.chen`` (10.10.1.11) at 2026-03-02T09:00:00Z:

- the condition is rewritten with negations pushed onto its matches, and its conjunctions of matches are tried in
  rule order (each OR of values tried value by value: ``windash`` gives '-' first);
- a field's value is assembled from what the conjunction asks of it: an exact value as written; ``startswith``,
  ``contains`` (``all`` of them, joined by spaces) and ``endswith`` parts in that order, a bare ``\\x.exe`` suffix
  of an image becoming ``C:\\Windows\\System32\\x.exe``; wildcards filled with a short word; an example string
  for a regular expression; the rule's own capitalisation where it wrote the value;
- a negated match (``not filter``) is satisfied by leaving its field out or by avoiding its values;
- the Sigma fields are written back to the OpenSOC fields ``adjudication.sigmahq.ROWS`` reads them from (a
  PowerShell script block becomes the ``-EncodedCommand`` of a powershell.exe start, as PowerShell logs it).

Every event is then validated against the schema and checked against its rule with the rule set's own matcher;
only those that match are kept. A rule yields None with the reason when no conjunction could be written (most often:
it needs a field OpenSOC's events do not carry, such as ParentCommandLine or CallTrace).
"""

from __future__ import annotations

import base64
import ipaddress
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import exrex
import yaml
from pydantic import TypeAdapter, ValidationError
from sigma.types import SigmaString

from ..adjudication.sigmahq import (
    ROWS,
    WC_MULTI,
    CompiledRule,
    LogSource,
    Node,
    SigmaRuleSet,
    build_matcher,
    logsource_text,
)
from ..schema import Event

HOST = "FIN-WS01"
HOST_IP = "10.10.1.11"
USER = "alice.chen"
TIMESTAMP = "2026-03-02T09:00:00Z"
LOG_ID = "L1-0"
FILLER = "x"  # what a wildcard becomes
SYSTEM32 = "C:\\Windows\\System32"
POWERSHELL = "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe"
MAX_CONJUNCTIONS = 64

_EVENT: TypeAdapter = TypeAdapter(Event)


class Unwritable(Exception):
    """A conjunction that cannot be written as an OpenSOC event; the message says why."""


# ============================================================================ the condition as conjunctions

Literal = tuple[bool, Node]  # (negated, leaf)


def _nnf(node: Node, negate: bool = False) -> Node:
    kind = node[0]
    if kind == "not":
        return _nnf(node[1], not negate)
    if kind in ("and", "or"):
        flipped = {"and": "or", "or": "and"}[kind] if negate else kind
        return (flipped, tuple(_nnf(c, negate) for c in node[1]))
    if kind in ("true", "false"):
        return ({"true": "false", "false": "true"}[kind],) if negate else node
    return ("lit", negate, node)


def _alternatives(leaf: Node) -> list[Node]:
    """A positive OR-merged match split into one match per value (in the rule's order; sets sorted)."""
    op, payload = leaf[-2], leaf[-1]
    if op in ("eq", "eqc"):
        return [(*leaf[:-1], frozenset({v})) for v in sorted(payload)]
    if op in ("sw", "ew", "in", "swc", "ewc", "inc", "wc", "wcc", "re", "cidr") and len(payload) > 1:
        return [(*leaf[:-1], (v,)) for v in payload]
    return [leaf]


def _conjunctions(node: Node) -> Iterator[list[Literal]]:
    kind = node[0]
    if kind == "true":
        yield []
    elif kind == "false":
        return
    elif kind == "lit":
        _, negated, leaf = node
        if negated:
            yield [(True, leaf)]
        else:
            for alternative in _alternatives(leaf):
                yield [(False, alternative)]
    elif kind == "or":
        for child in node[1]:
            yield from _conjunctions(child)
    else:  # and
        yield from _product(node[1], 0)


def _product(children: tuple, i: int) -> Iterator[list[Literal]]:
    if i == len(children):
        yield []
        return
    for head in islice(_conjunctions(children[i]), MAX_CONJUNCTIONS):
        for rest in islice(_product(children, i + 1), MAX_CONJUNCTIONS):
            yield head + rest


# ============================================================================ values from constraints


def _regex_example(pattern: str, flags: int) -> str | None:
    """A short string the regex matches (searched), or None when one cannot be written: exrex enumerates the regex's
    matches shortest pieces first, and the first of a few that ``re`` itself accepts is taken."""
    try:
        candidates = exrex.generate(pattern, limit=4)
        for text in islice(candidates, 64):
            if re.search(pattern, text, flags):
                return text
    except Exception:  # noqa: BLE001 - exrex refuses some constructs (lookbehinds of a class, back references)
        return None
    return None


def _case_table(rule: CompiledRule, ruleset: SigmaRuleSet) -> tuple[dict[str, str], dict[str, str]]:
    """Lower-cased value pieces and field names of the rule's detection -> as the rule capitalised them."""
    table: dict[str, str] = {}
    names: dict[str, str] = {}
    if ruleset.root is None:
        return table, names
    try:
        doc = yaml.safe_load((ruleset.root / rule.path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return table, names

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                name = str(k).split("|")[0]
                names.setdefault(name.lower(), name)
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        elif isinstance(value, str):
            for part in SigmaString(value).s:
                if isinstance(part, str):
                    table.setdefault(part.lower(), part)

    for key, value in (doc.get("detection") or {}).items():
        if key != "condition":
            walk(value)
    return table, names


PATH_FIELDS = frozenset({"image", "parentimage", "newprocessname", "parentprocessname", "sourceimage", "targetimage",
                         "targetfilename"})


def _overlap(left: str, right: str) -> int:
    """The longest end of ``left`` that ``right`` starts with (case-insensitively), so 'C:' + ':\\Perflogs' reads
    'C:\\Perflogs'."""
    lower_left, lower_right = left.lower(), right.lower()
    for k in range(min(len(left), len(right)), 0, -1):
        if lower_left.endswith(lower_right[:k]):
            return k
    return 0


def _path_join(pieces: list[str]) -> str:
    out = pieces[0]
    for piece in pieces[1:]:
        k = _overlap(out, piece)
        if k:
            piece = piece[k:]
        elif out.endswith("\\") and piece.startswith("."):
            out += FILLER
        elif not out.endswith("\\") and not piece.startswith("\\"):
            out += "\\" + (FILLER if piece.startswith(".") else "")
        out += piece
    return out


def _text_join(pieces: list[str]) -> str:
    out = pieces[0]
    for piece in pieces[1:]:
        out += piece if out[-1:].isspace() or piece[:1].isspace() else " " + piece
    return out


def _fill(pattern: tuple, case: dict[str, str], middle: str = FILLER) -> str:
    return "".join(case.get(p, p) if isinstance(p, str) else (middle if p == WC_MULTI else "a") for p in pattern)


def _candidates(name: str, positives: list[Node], case: dict[str, str]) -> list[str]:
    """Values to try for one field, from the positive matches a conjunction asks of it."""
    exact = [v for leaf in positives if leaf[-2] in ("eq", "eqc") for v in sorted(leaf[-1])]
    if exact:
        return [case.get(exact[0], exact[0])]
    prefix = max((leaf[-1][0] for leaf in positives if leaf[-2] in ("sw", "swc")), key=len, default="")
    suffix = max((leaf[-1][0] for leaf in positives if leaf[-2] in ("ew", "ewc")), key=len, default="")
    middle: list[str] = []
    for leaf in positives:
        if leaf[-2] in ("in", "inc", "all"):
            middle.extend(s for s in leaf[-1] if s not in middle)
    middle = [case.get(s, s) for s in middle if not any(s in other for other in middle if other != s)]
    for leaf in positives:
        if leaf[-2] == "re":
            example = _regex_example(*leaf[-1][0])
            if example is None:
                return []
            middle.append(example)
    prefix, suffix = case.get(prefix, prefix), case.get(suffix, suffix)
    scalar = []
    for leaf in positives:
        op, payload = leaf[-2], leaf[-1]
        if op == "num":
            scalar.append(str(payload))
        elif op == "bool":
            scalar.append("true" if payload else "false")
        elif op == "cidr":
            network = ipaddress.ip_network(payload[0])
            scalar.append(str(network.network_address + (1 if network.num_addresses > 1 else 0)))
        elif op == "cmp":
            operator, number = payload
            value = {"lt": number - 1, "lte": number, "gt": number + 1, "gte": number, "neq": number + 1}[operator]
            scalar.append(str(int(value) if float(value).is_integer() else value))
    if scalar:
        return scalar[:1]
    wildcards = [leaf[-1][0] for leaf in positives if leaf[-2] in ("wc", "wcc")]
    if wildcards:
        joined = " ".join(middle) if middle else FILLER
        return [_fill(wildcards[0], case), _fill(wildcards[0], case, joined)]
    pieces = [p for p in (prefix, *middle, suffix) if p]
    if not pieces:
        return [FILLER]  # only asked to exist ('*', exists)
    out = []
    if name in PATH_FIELDS:
        root = [] if prefix else ([SYSTEM32] if not middle else ["C:"])
        out.append(_path_join(root + pieces))
    out.append(_text_join(pieces))
    out.append(" ".join(pieces))
    out.append("".join(pieces))
    return list(dict.fromkeys(out))


def _solve_field(name: str, positives: list[Node], negatives: list[Node], case: dict[str, str]) -> str:
    tests = [build_matcher(("m", "f", *leaf[2:])) for leaf in positives]
    avoid = [build_matcher(("m", "f", *leaf[2:])) for leaf in negatives]
    for value in _candidates(name, positives, case):
        row = {"f": (value, value.lower())}
        if all(t(row) for t in tests) and not any(a(row) for a in avoid):
            return value
    raise Unwritable(f"no value satisfies the matches on {name}")


# ============================================================================ Sigma fields -> OpenSOC events


class _Fields:
    """The Sigma field values of one conjunction (lower-cased names), consumed by a writer."""

    def __init__(self, values: dict[str, str], names: dict[str, str]) -> None:
        self.values = dict(values)
        self.names = names

    def take(self, *names: str) -> str | None:
        found = None
        for name in names:
            value = self.values.pop(name, None)
            if value is not None:
                if found is not None and value.lower() != found.lower():
                    raise Unwritable(f"{' and '.join(self.names.get(n, n) for n in names)} must agree")
                found = value
        return found

    def done(self) -> None:
        if self.values:
            raise Unwritable("needs " + ", ".join(sorted(self.names.get(n, n) for n in self.values)))


def _base(event_type: str, source: str, **extra: Any) -> dict[str, Any]:
    return {"log_id": LOG_ID, "timestamp": TIMESTAMP, "host": HOST, "user": USER, "event_type": event_type,
            "source": source, **extra}


def _name(value: str, what: str) -> str:
    if not 1 <= len(value) <= 64:
        raise Unwritable(f"{what} longer than 64 characters")
    return value


def _bare(value: str) -> str:
    """A logged '\\name.exe' is the name alone (the mapping puts the backslash back); a path stays as written."""
    return value[1:] if re.fullmatch(r"\\[^\\/]+", value) else value


def _set_image(event: dict, value: str | None, executable: bool) -> None:
    if value is None:
        return
    if executable and not re.fullmatch(r"\\[^\\/]+", value):
        event["process.executable"] = value
        base = re.split(r"[\\/]", value)[-1]
        if 1 <= len(base) <= 64:
            event["process.name"] = base
    else:
        event["process.name"] = _name(_bare(value), "image name")


def _set_name(event: dict, value: str | None, enrich: bool) -> None:
    """An image logged by name alone: the file name when enriching (the mapping writes it back as '\\name'), else
    the value as written (a path is logged as it is)."""
    if value is None:
        return
    base = re.split(r"[\\/]", value)[-1]
    event["process.name"] = _name(base if enrich and base else _bare(value), "image name")


def _user(event: dict, value: str | None) -> None:
    if value is not None:
        event["user"] = _name(value, "user")


def _int(value: str, what: str) -> int:
    if not re.fullmatch(r"[0-9]{1,10}", value):
        raise Unwritable(f"{what} {value!r} is not a number")
    return int(value)


def _ip(value: str, what: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise Unwritable(f"{what} {value!r} is not an IP address") from None


def _first_program(command_line: str) -> str | None:
    match = re.match(r'\s*"?([^"\s]+\.exe)\b', command_line, re.IGNORECASE)
    return re.split(r"[\\/]", match.group(1))[-1] if match else None


def _process_creation(f: _Fields, enrich: bool) -> dict:
    event = _base("process_start", "sysmon")
    _set_image(event, f.take("image"), executable=True)
    original = f.take("originalfilename")
    if original is not None:
        event["process.pe.original_file_name"] = _name(original, "OriginalFileName")
    command = f.take("commandline")
    if command is not None:
        event["process.command_line"] = command
    parent = f.take("parentimage")
    if parent is not None:
        event["process.parent.name"] = _name(_bare(parent), "parent image")
    _user(event, f.take("user"))
    hashes = f.take("hashes")
    if hashes is not None:
        match = re.fullmatch(r"sha256=([0-9a-f]{64})", hashes.lower())
        if match is None:
            raise Unwritable("needs Hashes other than one SHA256")
        event["process.hash.sha256"] = match.group(1)
    if enrich and command:
        _enrich_command(event)
    return event


def _enrich_command(event: dict) -> None:
    """Make a bare argument list read as a logged command line: the program first, and the image named by it."""
    command = event["process.command_line"]
    name = event.get("process.name")
    if name is None:
        program = _first_program(command)
        if program:
            event["process.name"] = program
    elif not command.lower().lstrip(' "').startswith((name.lower(), event.get("process.executable", name).lower())):
        enriched = name + ("" if command[:1].isspace() else " ") + command
        if len(enriched) <= 1024:
            event["process.command_line"] = enriched


def _process_creation_4688(f: _Fields, enrich: bool) -> dict:
    event_id = f.take("eventid")
    if event_id not in (None, "4688"):
        raise Unwritable(f"needs EventID {event_id}")
    event = _base("process_start", "windows_security", **{"winlog.event_id": 4688})
    _set_image(event, f.take("newprocessname"), executable=True)
    command = f.take("commandline")
    if command is not None:
        event["process.command_line"] = command
    parent = f.take("parentprocessname")
    if parent is not None:
        event["process.parent.name"] = _name(_bare(parent), "parent image")
    _user(event, f.take("subjectusername"))
    if enrich and command:
        _enrich_command(event)
    return event


def _logon(f: _Fields, enrich: bool) -> dict:
    event_id = f.take("eventid") or "4624"
    if event_id not in ("4624", "4625"):
        raise Unwritable(f"needs EventID {event_id}")
    event = _base("authentication", "windows_security", **{
        "winlog.event_id": int(event_id), "event.outcome": "success" if event_id == "4624" else "failure",
        "source.ip": HOST_IP})
    logon_type = f.take("logontype")
    if logon_type is not None:
        event["winlog.logon.type"] = _int(logon_type, "LogonType")
    _user(event, f.take("targetusername"))
    address = f.take("ipaddress")
    if address is not None:
        event["source.ip"] = _ip(address, "IpAddress")
    return event


def _group_change(f: _Fields, enrich: bool) -> dict:
    event_id = f.take("eventid")
    if event_id not in (None, "4728", "4732", "4756"):
        raise Unwritable(f"needs EventID {event_id}")
    group = f.take("targetusername") or "Administrators"
    domain = f.take("targetdomainname")
    event = _base("group_membership_change", "windows_security", **{
        "group.name": _name(f"{domain}\\{group}" if domain else group, "group name"),
        "user.target.name": _name(f.take("membername") or "bob.smith", "member")})
    if event_id is not None:
        event["winlog.event_id"] = int(event_id)
    sid = f.take("targetsid")
    if sid is not None:
        event["group.id"] = sid
    _user(event, f.take("subjectusername"))
    return event


def _ps_script(f: _Fields, enrich: bool) -> dict:
    script = f.take("scriptblocktext")
    if script is None:
        raise Unwritable("needs ScriptBlockText")
    encoded = base64.b64encode(script.encode("utf-16-le")).decode()
    command = f"powershell.exe -NoProfile -EncodedCommand {encoded}"
    if len(command) > 1024:
        raise Unwritable("script block too long for one command line")
    return _base("process_start", "sysmon", **{"process.name": "powershell.exe", "process.executable": POWERSHELL,
                                                "process.command_line": command})


def _process_access(f: _Fields, enrich: bool) -> dict:
    event = _base("process_access", "sysmon", **{
        "winlog.event_data.TargetImage": f.take("targetimage") or "C:\\Windows\\System32\\svchost.exe",
        "winlog.event_data.GrantedAccess": f.take("grantedaccess") or "0x1000"})
    if not re.fullmatch(r"0x[0-9a-fA-F]{1,8}", event["winlog.event_data.GrantedAccess"]):
        raise Unwritable("GrantedAccess is not a hexadecimal mask")
    _set_image(event, f.take("sourceimage"), executable=True)
    _user(event, f.take("sourceuser"))
    return event


def _network(source: str, names: dict[str, str]) -> Callable[[_Fields, bool], dict]:
    def write(f: _Fields, enrich: bool) -> dict:
        event = _base("network_connection", source, **{
            "source.ip": HOST_IP, "source.port": 49752, "destination.ip": "203.0.113.10", "destination.port": 443,
            "network.transport": "tcp"})
        for key, alias in (("source_ip", "source.ip"), ("destination_ip", "destination.ip")):
            value = f.take(names[key])
            if value is not None:
                event[alias] = _ip(value, key)
        for key, alias in (("source_port", "source.port"), ("destination_port", "destination.port")):
            value = f.take(names[key])
            if value is not None:
                port = _int(value, key)
                if port > 65535:
                    raise Unwritable(f"{key} out of range")
                event[alias] = port
        protocol = f.take(names["protocol"])
        if protocol is not None:
            if protocol.lower() not in ("tcp", "udp", "icmp"):
                raise Unwritable(f"protocol {protocol!r}")
            event["network.transport"] = protocol.lower()
        if "image" in names:
            _set_name(event, f.take("image"), enrich)
            _user(event, f.take("user"))
            if f.take("initiated") not in (None, "true"):
                raise Unwritable("Initiated is not 'true'")
        return event

    return write


_SYSMON_NET = {"source_ip": "sourceip", "destination_ip": "destinationip", "source_port": "sourceport",
               "destination_port": "destinationport", "protocol": "protocol", "image": "image"}
_FIREWALL = {"source_ip": "src_ip", "destination_ip": "dst_ip", "source_port": "src_port",
             "destination_port": "dst_port", "protocol": "protocol"}
_QTYPES = ("A", "AAAA", "CNAME", "MX", "TXT", "NS", "PTR", "SRV")
_RCODES = ("NOERROR", "NXDOMAIN", "SERVFAIL", "REFUSED")


def _dns(source: str, names: dict[str, str]) -> Callable[[_Fields, bool], dict]:
    def write(f: _Fields, enrich: bool) -> dict:
        name = f.take(names["query"]) or "www.example.com"
        if not 1 <= len(name) <= 253:
            raise Unwritable("query name length")
        event = _base("dns_query", source, **{"source.ip": HOST_IP, "destination.ip": "10.10.0.53",
                                              "dns.question.name": name, "dns.question.type": "A",
                                              "dns.response_code": "NOERROR"})
        qtype = f.take(names["qtype"]) if "qtype" in names else None
        if qtype is not None:
            if qtype.upper() not in _QTYPES:
                raise Unwritable(f"record type {qtype!r}")
            event["dns.question.type"] = qtype.upper()
        rcode = f.take(names["rcode"]) if "rcode" in names else None
        if rcode is not None:
            if rcode.upper() not in _RCODES:
                raise Unwritable(f"response code {rcode!r}")
            event["dns.response_code"] = rcode.upper()
        for key, alias in (("src", "source.ip"), ("dst", "destination.ip")):
            if key in names:
                value = f.take(names[key])
                if value is not None:
                    event[alias] = _ip(value, key)
        if "user" in names:
            _user(event, f.take("user"))
        return event

    return write


_METHODS = ("GET", "POST", "PUT", "HEAD", "CONNECT", "OPTIONS", "DELETE", "PATCH")


def _proxy(f: _Fields, enrich: bool) -> dict:
    full = f.take("c-uri", "cs-uri")
    stem = f.take("cs-uri-stem", "c-uri-stem")
    query = f.take("c-uri-query", "cs-uri-query")
    extension = f.take("c-uri-extension")
    if full is None:
        full = stem or "/"
        if extension is not None and not full.lower().endswith("." + extension.lower()):
            full = full.rstrip("/") + f"/{FILLER}.{extension}"
        if query is not None:
            full += "?" + query
    event = _base("http_request", "proxy", **{
        "source.ip": HOST_IP, "destination.ip": "203.0.113.10", "url.domain": f.take("cs-host", "r-dns") or
        "www.example.com", "url.path": full, "http.request.method": "GET", "http.response.status_code": 200})
    method = f.take("cs-method")
    if method is not None:
        if method.upper() not in _METHODS:
            raise Unwritable(f"method {method!r}")
        event["http.request.method"] = method.upper()
    status = f.take("sc-status")
    if status is not None:
        event["http.response.status_code"] = _int(status, "sc-status")
    agent = f.take("c-useragent")
    if agent is not None:
        event["user_agent.original"] = agent
    for name, alias in (("cs-bytes", "source.bytes"), ("sc-bytes", "destination.bytes")):
        value = f.take(name)
        if value is not None:
            event[alias] = _int(value, name)
    for names, alias in ((("c-ip", "src_ip"), "source.ip"), (("dst_ip",), "destination.ip")):
        value = f.take(*names)
        if value is not None:
            event[alias] = _ip(value, names[0])
    _user(event, f.take("cs-username"))
    return event


def _registry(f: _Fields, enrich: bool) -> dict:
    if f.take("eventtype") not in (None, "setvalue", "SetValue"):
        raise Unwritable("EventType is not SetValue")
    event = _base("registry_set", "sysmon", **{
        "registry.path": f.take("targetobject") or "HKLM\\SOFTWARE\\Contoso\\Agent\\Setting",
        "registry.data.strings": f.take("details") or "DWORD (0x00000001)"})
    _set_name(event, f.take("image"), enrich)
    _user(event, f.take("user"))
    return event


def _file(action: str) -> Callable[[_Fields, bool], dict]:
    def write(f: _Fields, enrich: bool) -> dict:
        event = _base("file_activity", "sysmon", **{
            "event.action": action,
            "file.path": f.take("targetfilename") or "C:\\Users\\alice.chen\\Documents\\report.docx"})
        _set_name(event, f.take("image"), enrich)
        _user(event, f.take("user"))
        return event

    return write


@dataclass(frozen=True)
class Writer:
    """How a row of one log source is written back as an OpenSOC event; ``keyword``: the field a keyword goes in."""

    logsource: LogSource
    write: Callable[[_Fields, bool], dict]
    keyword: str
    defaults: dict[str, tuple[str, ...]] = field(default_factory=dict)  # values to try where a filter forbids the
    # writer's own default (its first value)


WRITERS: tuple[Writer, ...] = (
    Writer(("windows", "process_creation", None), _process_creation, "commandline"),
    Writer(("windows", "ps_script", None), _ps_script, "scriptblocktext"),
    Writer(("windows", None, "security"), _logon, "targetusername",
           {"ipaddress": (HOST_IP, "198.51.100.23"), "targetusername": (USER, "svc-report")}),
    Writer(("windows", None, "security"), _group_change, "targetusername"),
    Writer(("windows", None, "security"), _process_creation_4688, "commandline"),
    Writer(("windows", "process_access", None), _process_access, "targetimage",
           {"grantedaccess": ("0x1000", "0x1400"),
            "targetimage": ("C:\\Windows\\System32\\svchost.exe", "C:\\Program Files\\Contoso\\agent.exe")}),
    Writer(("windows", "network_connection", None), _network("sysmon", _SYSMON_NET), "image",
           {"destinationport": ("443", "8443"), "destinationip": ("203.0.113.10", "198.51.100.23"),
            "sourceport": ("49752", "50123")}),
    Writer((None, "firewall", None), _network("firewall", _FIREWALL), "dst_ip",
           {"dst_port": ("443", "8443"), "dst_ip": ("203.0.113.10", "198.51.100.23")}),
    Writer(("windows", "dns_query", None), _dns("sysmon", {"query": "queryname", "user": "user"}), "queryname"),
    Writer((None, "dns", None), _dns("zeek_dns", {"query": "query", "qtype": "record_type", "src": "src_ip",
                                                  "dst": "dst_ip"}), "query"),
    Writer(("zeek", None, "dns"), _dns("zeek_dns", {"query": "query", "qtype": "qtype_name", "rcode": "rcode_name",
                                                    "src": "id.orig_h", "dst": "id.resp_h"}), "query"),
    Writer((None, "proxy", None), _proxy, "c-uri",
           {"cs-host": ("www.example.com", "cdn.example.xyz"), "r-dns": ("www.example.com", "cdn.example.xyz"),
            "cs-method": ("GET", "POST"), "dst_ip": ("203.0.113.10", "198.51.100.23")}),
    Writer(("windows", "registry_set", None), _registry, "targetobject"),
    Writer(("windows", "registry_event", None), _registry, "targetobject"),
    Writer(("windows", "file_event", None), _file("creation"), "targetfilename"),
    Writer(("windows", "file_delete", None), _file("deletion"), "targetfilename"),
    Writer(("windows", "file_rename", None), _file("rename"), "targetfilename"),
)


def _applies(rule_source: LogSource, row_source: LogSource) -> bool:
    return all(r is None or r == s for r, s in zip(rule_source, row_source))


# ============================================================================ synthesis

def _spellings() -> dict[str, str]:

    return {name.lower(): name for specs in ROWS.values() for spec in specs for name in spec.fields}


_SPELLED = _spellings()  # lower-cased Sigma field -> its spelling in ROWS, for messages




@dataclass(frozen=True)
class Synthesis:
    """A rule's synthesised event (None when none could be written) and, then, why."""

    rule_id: str
    event: dict | None
    reason: str | None = None


def _written(rule: CompiledRule, ruleset: SigmaRuleSet, reasons: list[str]) -> Iterator[tuple[int, Any, dict]]:
    """(conjunction number, schema event, dict) for every event the rule's conjunctions are written as, in order;
    the reason each failure gave is appended to ``reasons``."""
    writers = [w for w in WRITERS if _applies(rule.logsource, w.logsource)]
    if not writers:
        reasons.append(f"no writer for {logsource_text(rule.logsource)}")
        return
    case, spelled = _case_table(rule, ruleset)
    spelled = {**_SPELLED, **spelled}
    for number, conjunction in enumerate(islice(_conjunctions(_nnf(rule.tree)), MAX_CONJUNCTIONS)):
        for writer in writers:
            try:
                attempts = _write_all(conjunction, writer, case, spelled)
            except Unwritable as e:
                reasons.append(str(e))
                continue
            for event in attempts:
                try:
                    model = _EVENT.validate_python(event)
                except ValidationError as e:
                    reasons.append(f"schema: {e.errors()[0]['loc']} {e.errors()[0]['type']}")
                    continue
                yield number, model, event


def synthesise(rule: CompiledRule, ruleset: SigmaRuleSet) -> Synthesis:
    """One OpenSOC event (a dict with the schema's dotted names) that ``rule`` matches, or None and the reason."""
    reasons: list[str] = []
    for _, model, event in _written(rule, ruleset, reasons):
        if ruleset.rule_matches(rule, model):
            return Synthesis(rule.rule_id, event)
        reasons.append("the written event does not match")
    return Synthesis(rule.rule_id, None, reasons[0] if reasons else "the condition can never hold")


def branch_events(rule: CompiledRule, ruleset: SigmaRuleSet, limit: int = 16) -> list[Any]:
    """Schema events written from up to ``limit`` of the rule's conjunctions, one per conjunction (the first that
    validates), matching or not: every branch of the condition, for testing that the prefilter keeps the rule
    wherever it can match."""
    events: dict[int, Any] = {}
    for number, model, _ in _written(rule, ruleset, []):
        if number >= limit:
            break
        events.setdefault(number, model)
    return list(events.values())


def _write_all(conjunction: list[Literal], writer: Writer, case: dict[str, str], spelled: dict[str, str]) -> list[dict]:
    """The events (enriched first, then minimal) one conjunction is written as by one writer."""
    positives: dict[str, list[Node]] = {}
    negatives: dict[str, list[Node]] = {}
    for negated, leaf in conjunction:
        if leaf[0] == "k":
            leaf = ("m", writer.keyword, *leaf[1:])
        name, op = leaf[1], leaf[2]
        if op == "null" or (op == "exists" and not leaf[3]):
            negated, leaf = not negated, ("m", name, "exists", True)
        (negatives if negated else positives).setdefault(name, []).append(leaf)
    values: dict[str, str] = {}
    for name, leaves in positives.items():
        if any(leaf[2] == "ref" for leaf in leaves):
            raise Unwritable(f"{spelled.get(name, name)} compares with another field")
        if any(leaf[2] == "exists" for leaf in negatives.get(name, [])):
            raise Unwritable(f"{spelled.get(name, name)} must both exist and not")
        present = [leaf for leaf in leaves if leaf[2] != "exists"]
        avoid = [leaf for leaf in negatives.get(name, []) if leaf[2] not in ("exists", "ref")]
        values[name] = _solve_field(name, present, avoid, case)
    for name, leaves in negatives.items():  # a default the writer would use must avoid the filters too
        if name in values or name not in writer.defaults:
            continue
        avoid = [build_matcher(("m", "f", *leaf[2:])) for leaf in leaves if leaf[2] not in ("exists", "ref")]
        for value in writer.defaults[name]:
            if not any(a({"f": (value, value.lower())}) for a in avoid):
                values[name] = value
                break
    events = []
    for enrich in (True, False):
        event = writer.write(fields := _Fields(values, spelled), enrich)
        fields.done()
        if event not in events:
            events.append(event)
    return events


# ============================================================================ the corpus


@dataclass(frozen=True)
class CorpusItem:
    """A rule and the event synthesised from it (which the rule matches)."""

    rule_id: str
    title: str
    level: str
    author: str
    logsource: str
    path: str
    event: dict


@dataclass
class Corpus:
    """Every synthesised (rule, event) pair, sorted by rule id, and why the other rules yielded none."""

    items: tuple[CorpusItem, ...]
    unwritten: dict[str, str]  # rule id -> reason
    totals: Counter[str] = field(default_factory=Counter)  # rules per log source

    def yield_by_logsource(self) -> dict[str, tuple[int, int]]:
        """Log source -> (rules that yielded an event, rules of that log source)."""
        got = Counter(item.logsource for item in self.items)
        return {source: (got[source], total) for source, total in sorted(self.totals.items())}

    def reasons(self) -> Counter[str]:
        return Counter(self.unwritten.values())


def build_corpus(ruleset: SigmaRuleSet) -> Corpus:
    """Synthesise one event per kept rule; keep those the rule matches. Deterministic, sorted by rule id."""
    items = []
    unwritten = {}
    totals: Counter[str] = Counter()
    for rule in sorted(ruleset.rules, key=lambda r: (r.rule_id, r.path)):
        source = logsource_text(rule.logsource)
        totals[source] += 1
        result = synthesise(rule, ruleset)
        if result.event is None:
            unwritten[rule.rule_id] = result.reason or "unknown"
            continue
        items.append(CorpusItem(rule.rule_id, rule.title, rule.level, rule.author, source, rule.path, result.event))
    return Corpus(tuple(items), unwritten, totals)


__all__ = ["WRITERS", "Corpus", "CorpusItem", "Synthesis", "Unwritable", "Writer", "branch_events", "build_corpus",
           "synthesise"]
