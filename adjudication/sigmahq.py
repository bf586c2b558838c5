"""A second opinion on crafted incidents: the SigmaHQ community rules over the raw values of OpenSOC events.

OpenSOC's own checks read events through ``opensoc.parsing`` (normalised images, parsed command lines, the
inventory). This module shares none of that: it lays each event out the way a SIEM running Sigma would see it,
in the Sysmon / Windows Security / proxy / Zeek field taxonomy SigmaHQ's rules are written for (``ROWS``, one
table per event type), and evaluates the rules over those raw values.

- ``load_rules(path)`` reads a SigmaHQ checkout (``rules/``, ``rules-emerging-threats/``, ``rules-threat-hunting/``)
  rule by rule with pySigma, keeps the rules of the wanted levels whose log source ``ROWS`` produces, and counts
  every rule it leaves out and why (``SigmaRuleSet.skipped``).
- Each kept rule's detection, after pySigma has applied its modifiers, becomes a small expression tree (``Node``)
  and then a Python closure over one row: a dict of lower-cased Sigma field names to (raw, lower-cased) values.
- ``SigmaRuleSet.matches(events)`` evaluates only the rules a row can match: every rule carries the literals one
  of which must appear in the row for it to match (its anchors, derived conservatively from the tree), and a
  4-gram index finds the anchors present in one pass over the row's values. Rules with no usable anchor are always
  evaluated. ``matches(events, brute_force=True)`` evaluates every rule, for tests.
- ``describe(hit)`` words a hit as the Detection Rule License asks: the rule's title, level and author(s).

The rules are Sigma's, not OpenSOC's: they are loaded from a path (``rules_path()``, ``$OPENSOC_SIGMAHQ_RULES``)
and nothing derived from them is stored in the repository.

Sigma semantics kept here: string values match case-insensitively unless ``|cased``; ``*`` and ``?`` are wildcards;
``|re`` is a case-sensitive regular expression searched anywhere in the value (``|i``, ``|m``, ``|s`` set its
flags); a value match on a field the row does not have is false, and ``field: null`` is true exactly when the field
is absent; a keyword (a value without a field) matches when it is contained in any of the row's values; a rule with
several conditions matches when any of them does.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import TypeAdapter
from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.exceptions import SigmaError
from sigma.modifiers import reverse_modifier_mapping
from sigma.rule import SigmaRule
from sigma.types import (
    CompareOperators,
    Placeholder,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SpecialChars,
)

from ..schema import Event

__all__ = [
    "ENV_VAR",
    "ROWS",
    "RULE_FOLDERS",
    "WC_MULTI",
    "WC_SINGLE",
    "CompiledRule",
    "RowSpec",
    "SigmaHit",
    "SigmaRuleSet",
    "UnsupportedRule",
    "build_matcher",
    "compile_detection",
    "compile_rule",
    "decode_encoded_command",
    "describe",
    "event_rows",
    "load_rules",
    "logsource_text",
    "mapping_table",
    "rules_path",
]

ENV_VAR = "OPENSOC_SIGMAHQ_RULES"
RULE_FOLDERS: tuple[str, ...] = ("rules", "rules-emerging-threats", "rules-threat-hunting")

LogSource = tuple[str | None, str | None, str | None]  # (product, category, service), as in a rule's logsource

try:  # libyaml's parser reads the 3,754 files about ten times faster than the pure-Python one
    _YAML_LOADER: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _YAML_LOADER = yaml.SafeLoader


# ============================================================================ the field mapping (raw values)


@dataclass(frozen=True)
class Derived:
    """A Sigma field's value computed from the event by ``fn``; ``doc`` says how, for generated documentation."""

    doc: str
    fn: Callable[[Any], Any]


@dataclass(frozen=True)
class Const:
    """A Sigma field with a fixed value in every row of its log source."""

    value: str | int


FieldSource = str | Derived | Const  # a str is the schema's dotted alias of the event field, read as logged


@dataclass(frozen=True)
class RowSpec:
    """One row an event of some type yields: a Sigma log source and how each of its fields is read.

    ``sources``: the event sources the row applies to (None: all); ``when``: (alias, values) the event must carry;
    ``requires``: a Sigma field without which no row is emitted (the row describes a log the event implies only
    when that value exists, e.g. the script PowerShell logs for an encoded command). A field whose value is None is
    absent from the row. A ``Derived`` value that is a tuple yields one row per element (the same event in each of
    the spellings the log format itself can take).
    """

    logsource: LogSource
    fields: Mapping[str, FieldSource]
    sources: frozenset[str] | None = None
    when: tuple[str, tuple[str, ...]] | None = None
    requires: str | None = None


def _read(event: Any, alias: str) -> Any:
    return getattr(event, _ATTRIBUTE[type(event)][alias])


def _basename(path: str) -> str:
    return re.split(r"[\\/]", path)[-1]


def _image_of(event: Any) -> str | None:
    executable = getattr(event, "process_executable", None)
    if executable:
        return executable
    name = getattr(event, "process_name", None)
    return _as_path(name)


def _as_path(name: str | None) -> str | None:
    if not name:
        return None
    return name if ("\\" in name or "/" in name) else "\\" + name


def _parent_image(event: Any) -> str | None:
    return _as_path(event.process_parent_name)


def _hashes(event: Any) -> str | None:
    return f"SHA256={event.process_hash_sha256.upper()}" if event.process_hash_sha256 else None


_POWERSHELL_IMAGES = frozenset({"powershell.exe", "pwsh.exe", "powershell_ise.exe"})
_POWERSHELL_ORIGINAL_NAMES = frozenset({"powershell.exe", "pwsh.dll", "pwsh.exe", "powershell_ise.exe"})
_DASHES = "-/\u2013\u2014\u2015"  # PowerShell reads en dash, em dash and horizontal bar as a dash too
# Switches of powershell.exe / pwsh.exe that take a value (the next token is not a switch). Abbreviations of a
# switch are accepted when they are a prefix of its name at least as long as the shortest unambiguous one.
_VALUE_SWITCHES = (("executionpolicy", "ex"), ("ep", "ep"), ("windowstyle", "w"), ("version", "v"),
                   ("inputformat", "inp"), ("if", "if"), ("outputformat", "o"), ("of", "of"),
                   ("configurationname", "config"), ("workingdirectory", "wo"), ("wd", "wd"),
                   ("settingsfile", "settings"), ("psconsolefile", "psconsolefile"),
                   ("custompipename", "custompipename"), ("encodedarguments", "encodeda"), ("ea", "ea"))


def _switch(token: str, name: str, shortest: str) -> bool:
    return name.startswith(token) and len(token) >= len(shortest)


def _command_tokens(command_line: str) -> list[str]:
    return [a or b for a, b in re.findall(r'"([^"]*)"|(\S+)', command_line)]


def decode_encoded_command(command_line: str) -> str | None:
    """The script a PowerShell ``-EncodedCommand`` (any accepted abbreviation, dash or slash) carries, decoded from
    base64 UTF-16LE as PowerShell itself does; None when there is none or it does not decode. Switches are read
    left to right up to the first ``-Command``/``-File`` or positional argument, as PowerShell reads them."""
    tokens = _command_tokens(command_line)
    if tokens and tokens[0][:1] not in _DASHES:
        tokens = tokens[1:]  # the program itself
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token[:1] not in _DASHES or len(token) < 2:
            return None  # a positional argument: the rest is a command, not switches
        key = token[1:].lower()
        if key == "ec" or _switch(key, "encodedcommand", "e"):
            if i + 1 >= len(tokens):
                return None
            payload = tokens[i + 1].strip("'\"")
            try:
                raw = base64.b64decode(payload, validate=True)
                return raw.decode("utf-16-le") if raw else None
            except (binascii.Error, ValueError, UnicodeDecodeError):
                return None
        if _switch(key, "command", "c") or _switch(key, "file", "f") or key in ("cwa", "commandwithargs"):
            return None
        i += 2 if any(_switch(key, name, shortest) for name, shortest in _VALUE_SWITCHES) else 1
    return None


def _encoded_script(event: Any) -> str | None:
    image = _image_of(event)
    original = event.process_pe_original_file_name
    powershell = (image is not None and _basename(image).lower() in _POWERSHELL_IMAGES) or (
        original is not None and original.lower() in _POWERSHELL_ORIGINAL_NAMES)
    if not powershell or not event.process_command_line:
        return None
    return decode_encoded_command(event.process_command_line)


def _logon_event_id(event: Any) -> int:
    return event.winlog_event_id or (4624 if event.outcome == "success" else 4625)


def _group_account(event: Any) -> str:
    return event.group_name.replace("/", "\\").rsplit("\\", 1)[-1]


def _group_domain(event: Any) -> str | None:
    name = event.group_name.replace("/", "\\")
    return name.rsplit("\\", 1)[0] if "\\" in name else None


# How Sysmon spells the registry hives: a path logged with the long hive name or the kernel's \REGISTRY\ form is
# also given in Sysmon's own spelling, which SigmaHQ's rules are written against.
_HIVES = (("hkey_local_machine\\", "HKLM\\"), ("\\registry\\machine\\", "HKLM\\"), ("hkey_users\\", "HKU\\"),
          ("\\registry\\user\\", "HKU\\"), ("hkey_classes_root\\", "HKCR\\"))


def _registry_paths(event: Any) -> tuple[str, ...]:
    path = event.registry_path
    lower = path.lower()
    for long_form, short in _HIVES:
        if lower.startswith(long_form):
            return (path, short + path[len(long_form):])
    return (path,)


def _url_path(event: Any) -> str:
    return event.url_path


def _url_stem(event: Any) -> str:
    return event.url_path.split("?", 1)[0]


def _url_query(event: Any) -> str | None:
    return event.url_path.split("?", 1)[1] if "?" in event.url_path else None


def _url_extension(event: Any) -> str | None:
    last = _url_stem(event).rsplit("/", 1)[-1]
    return last.rsplit(".", 1)[1] if "." in last and not last.endswith(".") else None


_IMAGE = Derived("process.executable, else '\\' + process.name", _image_of)
_PARENT = Derived("'\\' + process.parent.name (as logged when it holds a path)", _parent_image)

ROWS: dict[str, tuple[RowSpec, ...]] = {
    "process_start": (
        RowSpec(("windows", "process_creation", None), {
            "Image": _IMAGE,
            "OriginalFileName": "process.pe.original_file_name",
            "CommandLine": "process.command_line",
            "ParentImage": _PARENT,
            "User": "user",
            "Hashes": Derived("'SHA256=' + process.hash.sha256, upper-cased as Sysmon writes it", _hashes),
        }),
        RowSpec(("windows", None, "security"), {
            "EventID": Const(4688),
            "NewProcessName": _IMAGE,
            "CommandLine": "process.command_line",
            "ParentProcessName": _PARENT,
            "SubjectUserName": "user",
        }, sources=frozenset({"windows_security"})),
        RowSpec(("windows", "ps_script", None), {
            "ScriptBlockText": Derived("the base64 UTF-16LE script of a PowerShell -EncodedCommand (event 4104)",
                                       _encoded_script),
        }, requires="ScriptBlockText"),
    ),
    "process_access": (
        RowSpec(("windows", "process_access", None), {
            "SourceImage": _IMAGE,
            "TargetImage": "winlog.event_data.TargetImage",
            "GrantedAccess": "winlog.event_data.GrantedAccess",
            "SourceUser": "user",
        }),
    ),
    "network_connection": (
        RowSpec(("windows", "network_connection", None), {
            "Image": _IMAGE,
            "User": "user",
            "SourceIp": "source.ip",
            "SourcePort": "source.port",
            "DestinationIp": "destination.ip",
            "DestinationPort": "destination.port",
            "Protocol": "network.transport",
            "Initiated": Const("true"),
        }, sources=frozenset({"sysmon", "firewall"})),
        RowSpec((None, "firewall", None), {
            "src_ip": "source.ip",
            "src_port": "source.port",
            "dst_ip": "destination.ip",
            "dst_port": "destination.port",
            "protocol": "network.transport",
        }, sources=frozenset({"firewall"})),
        RowSpec(("zeek", None, "conn"), {
            "id.orig_h": "source.ip",
            "id.orig_p": "source.port",
            "id.resp_h": "destination.ip",
            "id.resp_p": "destination.port",
            "proto": "network.transport",
            "service": "network.protocol",
            "duration": "event.duration",
            "orig_bytes": "source.bytes",
            "resp_bytes": "destination.bytes",
            "conn_state": "zeek.connection.state",
        }, sources=frozenset({"zeek_conn"})),
    ),
    "dns_query": (
        RowSpec(("windows", "dns_query", None), {
            "QueryName": "dns.question.name",
            "User": "user",
        }, sources=frozenset({"sysmon"})),
        RowSpec((None, "dns", None), {
            "query": "dns.question.name",
            "record_type": "dns.question.type",
            "src_ip": "source.ip",
            "dst_ip": "destination.ip",
        }, sources=frozenset({"zeek_dns"})),
        RowSpec(("zeek", None, "dns"), {
            "query": "dns.question.name",
            "qtype_name": "dns.question.type",
            "rcode_name": "dns.response_code",
            "id.orig_h": "source.ip",
            "id.resp_h": "destination.ip",
        }, sources=frozenset({"zeek_dns"})),
    ),
    "http_request": (
        RowSpec((None, "proxy", None), {
            "c-uri": Derived("url.path (with its query)", _url_path),
            "cs-uri": Derived("url.path (with its query)", _url_path),
            "cs-uri-stem": Derived("url.path before '?'", _url_stem),
            "c-uri-stem": Derived("url.path before '?'", _url_stem),
            "c-uri-query": Derived("url.path after '?'", _url_query),
            "cs-uri-query": Derived("url.path after '?'", _url_query),
            "c-uri-extension": Derived("the extension of url.path's last segment, without the dot", _url_extension),
            "cs-host": "url.domain",
            "r-dns": "url.domain",
            "cs-method": "http.request.method",
            "sc-status": "http.response.status_code",
            "c-useragent": "user_agent.original",
            "cs-bytes": "source.bytes",
            "sc-bytes": "destination.bytes",
            "c-ip": "source.ip",
            "src_ip": "source.ip",
            "dst_ip": "destination.ip",
            "cs-username": "user",
        }),
    ),
    "authentication": (
        RowSpec(("windows", None, "security"), {
            "EventID": Derived("winlog.event_id, else 4624 (success) or 4625 (failure)", _logon_event_id),
            "LogonType": "winlog.logon.type",
            "TargetUserName": "user",
            "IpAddress": "source.ip",
        }, sources=frozenset({"windows_security"})),
    ),
    "group_membership_change": (
        RowSpec(("windows", None, "security"), {
            "EventID": "winlog.event_id",
            "TargetUserName": Derived("group.name without its domain prefix", _group_account),
            "TargetDomainName": Derived("group.name's domain prefix", _group_domain),
            "TargetSid": "group.id",
            "MemberName": "user.target.name",
            "SubjectUserName": "user",
        }),
    ),
    "registry_set": tuple(
        RowSpec(("windows", category, None), {
            "TargetObject": Derived("registry.path as logged, and in Sysmon's HKLM/HKU/HKCR spelling",
                                    _registry_paths),
            "Details": "registry.data.strings",
            "EventType": Const("SetValue"),
            "Image": _IMAGE,
            "User": "user",
        }) for category in ("registry_set", "registry_event")
    ),
    "file_activity": tuple(
        RowSpec(("windows", category, None), {
            "TargetFilename": "file.path",
            "Image": _IMAGE,
            "User": "user",
        }, when=("event.action", actions)) for category, actions in (
            ("file_event", ("creation", "modification")), ("file_delete", ("deletion",)),
            ("file_rename", ("rename",)))
    ),
    "email_received": (),  # SigmaHQ has no log source for a mail gateway's delivery records
}

MODELLED_LOGSOURCES: frozenset[LogSource] = frozenset(spec.logsource for specs in ROWS.values() for spec in specs)


def mapping_table() -> list[tuple[str, str, str, str, str]]:
    """``ROWS`` flattened for documentation: (event type, log source, event sources, Sigma field, where its raw
    value comes from)."""
    out = []
    for event_type, specs in ROWS.items():
        for spec in specs:
            sources = ", ".join(sorted(spec.sources)) if spec.sources else "any"
            if spec.when is not None:
                sources += f"; {spec.when[0]} in {', '.join(spec.when[1])}"
            for name, src in spec.fields.items():
                how = src.doc if isinstance(src, Derived) else repr(src.value) if isinstance(src, Const) else src
                out.append((event_type, logsource_text(spec.logsource), sources, name, how))
    return out


def _event_classes() -> tuple[type, ...]:
    return get_args(get_args(Event)[0])


def _attribute_table() -> dict[type, dict[str, str]]:
    """Per event class: dotted alias (or plain name) -> attribute name."""
    return {cls: {(info.alias or name): name for name, info in cls.model_fields.items()} for cls in _event_classes()}


_ATTRIBUTE = _attribute_table()
_EVENT_ADAPTER: TypeAdapter = TypeAdapter(Event)


def _getter(source: FieldSource) -> Callable[[Any], Any]:
    if isinstance(source, Const):
        value = source.value
        return lambda event: value
    if isinstance(source, Derived):
        return source.fn
    alias = source
    return lambda event: _read(event, alias)


@dataclass(frozen=True)
class _CompiledSpec:
    spec: RowSpec
    getters: tuple[tuple[str, Callable[[Any], Any]], ...]  # (lower-cased Sigma field, getter)


_SPECS: dict[str, tuple[_CompiledSpec, ...]] = {
    event_type: tuple(_CompiledSpec(spec, tuple((name.lower(), _getter(src)) for name, src in spec.fields.items()))
                      for spec in specs)
    for event_type, specs in ROWS.items()
}

Row = dict[str, tuple[str, str]]  # lower-cased Sigma field -> (raw value, lower-cased value)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _spec_rows(compiled: _CompiledSpec, event: Any) -> list[Row]:
    spec = compiled.spec
    if spec.sources is not None and event.source not in spec.sources:
        return []
    if spec.when is not None and _read(event, spec.when[0]) not in spec.when[1]:
        return []
    row: Row = {}
    variants: tuple[str, tuple] | None = None
    for name, get in compiled.getters:
        value = get(event)
        if value is None:
            continue
        if isinstance(value, tuple):
            variants = (name, value)
            continue
        text = _text(value)
        row[name] = (text, text.lower())
    if spec.requires is not None and spec.requires.lower() not in row:
        return []
    if variants is None:
        return [row]
    name, values = variants
    rows = []
    for value in values:
        text = _text(value)
        rows.append({**row, name: (text, text.lower())})
    return rows


def event_rows(event: Any) -> list[tuple[LogSource, dict[str, str]]]:
    """The (log source, {Sigma field: raw value}) rows an OpenSOC event yields under ``ROWS``."""
    if isinstance(event, Mapping):
        event = _EVENT_ADAPTER.validate_python(dict(event))
    out = []
    for compiled in _SPECS[event.event_type]:
        for row in _spec_rows(compiled, event):
            names = {name.lower(): name for name in compiled.spec.fields}
            out.append((compiled.spec.logsource, {names[k]: raw for k, (raw, _) in row.items()}))
    return out


# ============================================================================ rules as expression trees

# A detection compiles to a tree of tuples (picklable, comparable):
#   ("and", (node, ...)), ("or", (node, ...)), ("not", node), ("true",), ("false",)
#   ("m", field, op, payload): a match on the lower-cased Sigma field `field`
#   ("k", op, payload): a keyword, true when any of the row's values matches
# String ops compare lower-cased values (suffix "c": the raw, for |cased): "eq" (frozenset), "sw", "ew" (tuples of
# prefixes / suffixes), "in" (tuple: any contained), "all" (tuple: all contained), "wc" (tuple of full-match
# patterns with wildcards); "any" (the field exists, from a lone '*'); "re" (tuple of (pattern, flags), searched in
# the raw value); "num" (number), "bool" (bool), "null", "exists" (bool), "cidr" (tuple of networks as text),
# "cmp" ((operator, number)), "ref" ((other field, startswith, endswith)).
Node = tuple


class UnsupportedRule(ValueError):
    """A rule whose detection uses a feature this evaluator does not implement; the message is the skip reason."""


_RE_FLAGS = {SigmaRegularExpressionFlag.IGNORECASE: re.IGNORECASE, SigmaRegularExpressionFlag.MULTILINE: re.MULTILINE,
             SigmaRegularExpressionFlag.DOTALL: re.DOTALL}
_CMP = {CompareOperators.LT: "lt", CompareOperators.LTE: "lte", CompareOperators.GT: "gt",
        CompareOperators.GTE: "gte", CompareOperators.NEQ: "neq"}


WC_MULTI, WC_SINGLE = 1, 2  # the wildcard items of a "wc" pattern (`*`, `?`); its other items are literal strings


def _string_leaf(value: SigmaString, cased: bool, keyword: bool = False) -> tuple[str, Any]:
    parts: list[Any] = []
    for part in value.s:
        if isinstance(part, Placeholder):
            raise UnsupportedRule("unsupported modifier expand")
        if isinstance(part, str):
            parts.append(part if cased else part.lower())
        else:
            parts.append(WC_MULTI if part is SpecialChars.WILDCARD_MULTI else WC_SINGLE)
    if keyword:  # a keyword is searched for within the values, not compared with them
        if parts[:1] != [WC_MULTI]:
            parts.insert(0, WC_MULTI)
        if parts[-1:] != [WC_MULTI]:
            parts.append(WC_MULTI)
    suffix = "c" if cased else ""
    if all(isinstance(p, str) for p in parts):
        return "eq" + suffix, frozenset({"".join(parts)})
    if parts == [WC_MULTI] or parts == [WC_MULTI, WC_MULTI]:
        return "any", None
    if len(parts) == 3 and parts[0] == WC_MULTI and parts[2] == WC_MULTI and isinstance(parts[1], str):
        return "in" + suffix, (parts[1],)
    if len(parts) == 2 and parts[0] == WC_MULTI and isinstance(parts[1], str):
        return "ew" + suffix, (parts[1],)
    if len(parts) == 2 and parts[1] == WC_MULTI and isinstance(parts[0], str):
        return "sw" + suffix, (parts[0],)
    return "wc" + suffix, (tuple(parts),)


def _wildcard_regex(pattern: tuple) -> str:
    return "".join(re.escape(p) if isinstance(p, str) else (".*" if p == WC_MULTI else ".") for p in pattern)


def _value_leaf(value: Any, field_name: str | None) -> Node:
    """One (field, value) pair of a detection as a tree node."""
    if isinstance(value, SigmaExpansion):
        return ("or", tuple(_value_leaf(v, field_name) for v in value.values))
    if isinstance(value, SigmaString):
        op, payload = _string_leaf(value, isinstance(value, SigmaCasedString), keyword=field_name is None)
        if field_name is None and op == "any":
            return ("true",)
    elif isinstance(value, SigmaRegularExpression):
        if value.regexp.contains_placeholder():
            raise UnsupportedRule("unsupported modifier expand")
        flags = 0
        for flag in value.flags:
            flags |= _RE_FLAGS[flag]
        pattern = str(value.regexp)
        re.compile(pattern, flags)
        op, payload = "re", ((pattern, flags),)
    elif isinstance(value, SigmaBool):
        op, payload = "bool", bool(value.boolean)
    elif isinstance(value, SigmaNumber):
        if type(value) is not SigmaNumber:
            raise UnsupportedRule(f"unsupported value type {type(value).__name__}")
        op, payload = "num", value.number
    elif isinstance(value, SigmaNull):
        op, payload = "null", None
    elif isinstance(value, SigmaExists):
        op, payload = "exists", bool(value.exists)
    elif isinstance(value, SigmaCIDRExpression):
        op, payload = "cidr", (str(value.network),)
    elif isinstance(value, SigmaCompareExpression):
        op, payload = "cmp", (_CMP[value.op], value.number.number)
    elif isinstance(value, SigmaFieldReference):
        if field_name is None:
            raise UnsupportedRule("unsupported keyword field reference")
        op, payload = "ref", (value.field.lower(), value.starts_with, value.ends_with)
    else:
        raise UnsupportedRule(f"unsupported value type {type(value).__name__}")
    if field_name is None:
        if op in ("null", "exists", "ref"):
            raise UnsupportedRule(f"unsupported keyword {op}")
        return ("k", op, payload)
    return ("m", field_name.lower(), op, payload)


def _condition_node(cond: Any) -> Node:
    if cond is None:
        return ("false",)
    if isinstance(cond, ConditionAND):
        return ("and", tuple(_condition_node(a) for a in cond.args))
    if isinstance(cond, ConditionOR):
        return ("or", tuple(_condition_node(a) for a in cond.args))
    if isinstance(cond, ConditionNOT):
        return ("not", _condition_node(cond.args[0]))
    if isinstance(cond, ConditionFieldEqualsValueExpression):
        return _value_leaf(cond.value, cond.field)
    if isinstance(cond, ConditionValueExpression):
        return _value_leaf(cond.value, None)
    raise UnsupportedRule(f"unsupported condition {type(cond).__name__}")


_MERGEABLE = frozenset({"eq", "sw", "ew", "in", "wc", "eqc", "swc", "ewc", "inc", "wcc", "re", "cidr"})


def simplify(node: Node) -> Node:
    """Flatten nested and/or, fold constants, and merge sibling matches on one field with one operator (an OR of
    suffixes becomes one ``endswith`` on a tuple, an AND of substrings one ``all``)."""
    kind = node[0]
    if kind == "not":
        inner = simplify(node[1])
        if inner[0] in ("true", "false"):
            return ("false",) if inner[0] == "true" else ("true",)
        if inner[0] == "not":
            return inner[1]
        return ("not", inner)
    if kind not in ("and", "or"):
        return node
    children: list[Node] = []
    for child in (simplify(c) for c in node[1]):
        if child[0] == kind:
            children.extend(child[1])
        else:
            children.append(child)
    absorbing, neutral = ("false", "true") if kind == "and" else ("true", "false")
    if any(c[0] == absorbing for c in children):
        return (absorbing,)
    children = [c for c in children if c[0] != neutral]
    merged: list[Node] = []
    slots: dict[tuple, int] = {}
    for child in children:
        key = None
        if child[0] in ("m", "k"):
            op = child[-2]
            if kind == "or" and op in _MERGEABLE:
                key = (child[0], child[1] if child[0] == "m" else None, op)
            elif kind == "and" and child[0] == "m" and (op == "all" or (op == "in" and len(child[-1]) == 1)):
                # substrings that must all be in one field's value; keywords may each be in a different value
                key = ("m", child[1], "all")
        if key is None or key not in slots:
            if key is not None:
                slots[key] = len(merged)
                if kind == "and":
                    child = (*child[:-2], "all", tuple(child[-1]))
            merged.append(child)
            continue
        previous = merged[slots[key]]
        if kind == "and":
            payload: Any = tuple(dict.fromkeys(previous[-1] + tuple(child[-1])))
            merged[slots[key]] = (*previous[:-2], "all", payload)
        elif previous[-2] in ("eq", "eqc"):
            merged[slots[key]] = (*previous[:-1], previous[-1] | child[-1])
        else:
            merged[slots[key]] = (*previous[:-1], tuple(dict.fromkeys(previous[-1] + child[-1])))
    merged = [(*m[:-2], "in", m[-1]) if m[0] in ("m", "k") and m[-2] == "all" and len(m[-1]) == 1 else m
              for m in merged]
    if not merged:
        return (neutral,)
    if len(merged) == 1:
        return merged[0]
    return (kind, tuple(merged))


_UNSUPPORTED_MODIFIERS = frozenset({"expand", "minute", "hour", "day", "week", "month", "year"})


def compile_detection(rule: SigmaRule) -> Node:
    """The rule's detection (all its conditions, ORed) as a simplified tree; raises ``UnsupportedRule``."""
    for detection in rule.detection.detections.values():
        stack: list[Any] = list(detection.detection_items)
        while stack:
            item = stack.pop()
            if hasattr(item, "detection_items"):
                stack.extend(item.detection_items)
                continue
            names = [reverse_modifier_mapping[m.__name__] for m in item.modifiers]
            unsupported = [n for n in names if n in _UNSUPPORTED_MODIFIERS]
            if unsupported:
                raise UnsupportedRule("unsupported modifier " + "|".join(unsupported))
    trees = [_condition_node(c.parsed) for c in rule.detection.parsed_condition]
    return simplify(("or", tuple(trees)))


# ============================================================================ evaluation


def _num_equal(number: float) -> Callable[[str], bool]:
    rendered = _text(number)
    integral = isinstance(number, int)

    def test(raw: str) -> bool:
        # A plain ASCII integer with leading zeros still equals an integer value (0004688 is 4688).
        return raw == rendered or (integral and raw.isascii() and raw.isdigit() and int(raw) == number)

    return test


def _value_test(op: str, payload: Any) -> tuple[int, Callable[[str], bool]]:
    """(which value to test: 0 raw, 1 lower-cased; a test of one string) for a string/number operator."""
    if op in ("eq", "eqc"):
        values = payload
        if len(values) == 1:
            (only,) = values
            return (0 if op == "eqc" else 1), (lambda v: v == only)
        return (0 if op == "eqc" else 1), values.__contains__
    if op in ("sw", "swc"):
        prefixes = payload
        return (0 if op == "swc" else 1), (lambda v: v.startswith(prefixes))
    if op in ("ew", "ewc"):
        suffixes = payload
        return (0 if op == "ewc" else 1), (lambda v: v.endswith(suffixes))
    if op in ("in", "inc"):
        subs = payload
        which = 0 if op == "inc" else 1
        if len(subs) == 1:
            (sub,) = subs
            return which, (lambda v: sub in v)

        def any_in(v: str) -> bool:
            for s in subs:
                if s in v:
                    return True
            return False

        return which, any_in
    if op == "all":
        subs = payload

        def all_in(v: str) -> bool:
            for s in subs:
                if s not in v:
                    return False
            return True

        return 1, all_in
    if op in ("wc", "wcc"):
        regex = re.compile("(?:" + "|".join(_wildcard_regex(p) for p in payload) + ")", re.DOTALL)
        return (0 if op == "wcc" else 1), (lambda v: regex.fullmatch(v) is not None)
    if op == "re":
        regexes = tuple(re.compile(p, f) for p, f in payload)
        if len(regexes) == 1:
            search = regexes[0].search
            return 0, (lambda v: search(v) is not None)
        return 0, (lambda v: any(r.search(v) is not None for r in regexes))
    if op == "num":
        return 0, _num_equal(payload)
    if op == "bool":
        expected = "true" if payload else "false"
        return 1, (lambda v: v == expected)
    if op == "any":
        return 0, (lambda v: True)
    if op == "cidr":
        networks = tuple(ipaddress.ip_network(n) for n in payload)

        def in_network(v: str) -> bool:
            try:
                address = ipaddress.ip_address(v)
            except ValueError:
                return False
            return any(address in n for n in networks)

        return 0, in_network
    if op == "cmp":
        operator, number = payload

        def compare(v: str) -> bool:
            try:
                x = float(v)
            except ValueError:
                return False
            return {"lt": x < number, "lte": x <= number, "gt": x > number, "gte": x >= number,
                    "neq": x != number}[operator]

        return 0, compare
    raise ValueError(f"no value test for {op!r}")


Matcher = Callable[[Row], bool]


def build_matcher(node: Node) -> Matcher:
    """A closure evaluating the tree over one row."""
    kind = node[0]
    if kind == "true":
        return lambda row: True
    if kind == "false":
        return lambda row: False
    if kind == "not":
        inner = build_matcher(node[1])
        return lambda row: not inner(row)
    if kind in ("and", "or"):
        parts = tuple(build_matcher(c) for c in node[1])
        if kind == "and":
            if len(parts) == 2:
                a, b = parts
                return lambda row: a(row) and b(row)

            def all_of(row: Row) -> bool:
                for p in parts:
                    if not p(row):
                        return False
                return True

            return all_of
        if len(parts) == 2:
            a, b = parts
            return lambda row: a(row) or b(row)

        def any_of(row: Row) -> bool:
            for p in parts:
                if p(row):
                    return True
            return False

        return any_of
    if kind == "k":
        _, op, payload = node
        which, test = _value_test(op, payload)
        return lambda row: any(test(t[which]) for t in row.values())
    _, name, op, payload = node
    if op == "null":
        return lambda row: name not in row
    if op == "exists":
        return (lambda row: name in row) if payload else (lambda row: name not in row)
    if op == "ref":
        other, starts, ends = payload

        def reference(row: Row) -> bool:
            mine, theirs = row.get(name), row.get(other)
            if mine is None or theirs is None:
                return False
            if starts and ends:
                return theirs[1] in mine[1]
            if starts:
                return mine[1].startswith(theirs[1])
            if ends:
                return mine[1].endswith(theirs[1])
            return mine[1] == theirs[1]

        return reference
    which, test = _value_test(op, payload)
    get = dict.get

    def leaf(row: Row) -> bool:
        t = get(row, name)
        return t is not None and test(t[which])

    return leaf


# ------------------------------------------------------------------ anchors: what must appear for a rule to match


def _regex_literal(pattern: str, flags: int) -> str | None:
    """A literal every match of a case-sensitive regex contains, lower-cased: the longest run of plain characters
    that starts the pattern when the pattern holds no alternation, group, class or escape that could change that.
    None (no anchor: the rule is always evaluated) whenever that cannot be read off the text safely."""
    if flags & re.IGNORECASE or pattern.startswith("(?"):
        return None
    if any(ch in pattern for ch in "|()[]\\"):
        return None
    run = []
    for i, ch in enumerate(pattern):
        if ch in ".^$*+?{}":
            if ch in "*?{" and run:  # the quantifier applies to the last character: it may be absent
                run.pop()
            break
        run.append(ch)
    literal = "".join(run)
    return literal.lower() if literal and literal.isascii() else None


def _literals(op: str, payload: Any) -> frozenset[str] | None:
    """Literals, one of which the lower-cased value must contain for the string operator to hold; None if none."""
    if op in ("eqc", "swc", "ewc", "inc", "wcc") and not all(
            all(p.isascii() for p in (v if isinstance(v, tuple) else (v,)) if isinstance(p, str)) for v in payload):
        return None  # a cased match compares the raw value: lower-casing non-ASCII text can change its neighbours
    if op in ("eq", "eqc", "sw", "swc", "ew", "ewc", "in", "inc"):
        out = frozenset(s.lower() for s in payload)
    elif op == "all":
        out = frozenset({max(payload, key=len)})
    elif op in ("wc", "wcc"):
        found = set()
        for pattern in payload:
            longest = max((p for p in pattern if isinstance(p, str)), key=len, default="")
            if not longest:
                return None
            found.add(longest.lower())
        out = frozenset(found)
    elif op == "re":
        found = set()
        for pattern, flags in payload:
            literal = _regex_literal(pattern, flags)
            if literal is None:
                return None
            found.add(literal)
        out = frozenset(found)
    elif op == "num":
        out = frozenset({_text(payload)})
    elif op == "bool":
        out = frozenset({"true" if payload else "false"})
    else:
        return None
    return None if any(s == "" for s in out) else out


def requirement(node: Node, cost: Callable[[frozenset[str]], float]) -> frozenset[str] | None:
    """A set of literals one of which every row the tree matches contains (in some lower-cased value); None when
    no such set can be derived (the rule must always be evaluated). Conservative by construction: an OR needs one
    of its children's sets, an AND any one child's (the cheapest by ``cost``), a NOT nothing."""
    kind = node[0]
    if kind == "false":
        return frozenset()
    if kind in ("true", "not"):
        return None
    if kind == "or":
        out: set[str] = set()
        for child in node[1]:
            sub = requirement(child, cost)
            if sub is None:
                return None
            out |= sub
        return frozenset(out)
    if kind == "and":
        options = [s for s in (requirement(c, cost) for c in node[1]) if s is not None]
        return min(options, key=cost) if options else None
    return _literals(node[-2], node[-1])


def _node_literals(node: Node) -> Iterable[str]:
    kind = node[0]
    if kind in ("and", "or"):
        for child in node[1]:
            yield from _node_literals(child)
    elif kind == "not":
        yield from _node_literals(node[1])
    elif kind in ("m", "k"):
        found = _literals(node[-2], node[-1])
        if found:
            yield from found


GRAM = 4


class _Prefilter:
    """Finds, for one log source, the rules a row may match: those whose anchor literals occur in its values.

    Each literal of at least ``GRAM`` characters is filed under its rarest ``GRAM``-gram (rarest among all the
    literals), shorter ones are tested one by one; a row's grams are intersected with the filed ones (a set
    operation in C), and only the literals filed under a present gram are searched for."""

    def __init__(self, anchors: Sequence[frozenset[str] | None]) -> None:
        self.always: tuple[int, ...] = tuple(i for i, a in enumerate(anchors) if a is None)
        rules_of: dict[str, list[int]] = {}
        for i, a in enumerate(anchors):
            for literal in a or ():
                rules_of.setdefault(literal, []).append(i)
        gram_count: Counter[str] = Counter()
        for literal in rules_of:
            gram_count.update({literal[j:j + GRAM] for j in range(len(literal) - GRAM + 1)})
        self.by_gram: dict[str, list[tuple[str, tuple[int, ...]]]] = {}
        short = []
        for literal, rules in rules_of.items():
            if len(literal) < GRAM:
                short.append((literal, tuple(rules)))
                continue
            grams = [literal[j:j + GRAM] for j in range(len(literal) - GRAM + 1)]
            key = min(grams, key=lambda g: (gram_count[g], g))
            self.by_gram.setdefault(key, []).append((literal, tuple(rules)))
        self.short = tuple(short)
        self.keys = frozenset(self.by_gram)

    def candidates(self, text: str) -> set[int]:
        found = set(self.always)
        for literal, rules in self.short:
            if literal in text:
                found.update(rules)
        present = self.keys.intersection({text[j:j + GRAM] for j in range(len(text) - GRAM + 1)})
        for gram in present:
            for literal, rules in self.by_gram[gram]:
                if literal in text:
                    found.update(rules)
        return found


# ============================================================================ rules, hits and the rule set


@dataclass(frozen=True)
class SigmaHit:
    """One SigmaHQ rule that matched one event."""

    rule_id: str
    title: str
    level: str
    author: str
    tags: tuple[str, ...]
    path: str  # relative to the rules folder, e.g. 'rules/windows/process_creation/proc_creation_win_....yml'
    log_ids: tuple[str, ...]


@dataclass
class CompiledRule:
    """A kept rule: its metadata, its detection tree, its anchors and its matcher."""

    rule_id: str
    title: str
    level: str
    author: str
    tags: tuple[str, ...]
    path: str
    logsource: LogSource
    tree: Node
    matcher: Matcher = field(repr=False, compare=False)
    anchors: frozenset[str] | None = None

    def matches_row(self, row: Row) -> bool:
        return self.matcher(row)


def _applies(rule_source: LogSource, row_source: LogSource) -> bool:
    return all(r is None or r == s for r, s in zip(rule_source, row_source))


def logsource_text(source: LogSource) -> str:
    return " ".join(f"{k}={v}" for k, v in zip(("product", "category", "service"), source) if v is not None) or "empty"


@dataclass
class SigmaRuleSet:
    """The kept rules, indexed by the log source of the rows they apply to, and the count of those left out."""

    rules: tuple[CompiledRule, ...]
    skipped: Counter[str]
    root: Path | None = None
    load_seconds: float = 0.0
    errors: tuple[tuple[str, str], ...] = ()  # (path, message) of every rule that failed to parse
    _by_source: dict[LogSource, tuple[tuple[int, ...], _Prefilter]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._index()

    def _index(self) -> None:
        literal_rules: Counter[str] = Counter()
        for rule in self.rules:
            literal_rules.update(set(_node_literals(rule.tree)))

        def cost(literals: frozenset[str]) -> float:
            # A literal many rules name (an image such as \powershell.exe) is common in events too; a short one
            # occurs by chance. The AND branch with the lowest total is the rule's anchor.
            return sum((1.0 + literal_rules[s]) / min(len(s), 12) ** 1.5 for s in literals)

        for rule in self.rules:
            rule.anchors = requirement(rule.tree, cost)
        self._by_source = {}
        for source in MODELLED_LOGSOURCES:
            members = tuple(i for i, r in enumerate(self.rules) if _applies(r.logsource, source))
            if members:
                self._by_source[source] = (members, _Prefilter([self.rules[i].anchors for i in members]))

    @property
    def kept(self) -> int:
        return len(self.rules)

    def by_logsource(self) -> Counter[str]:
        return Counter(logsource_text(r.logsource) for r in self.rules)

    def _rows(self, event: Any) -> Iterable[tuple[LogSource, Row]]:
        for compiled in _SPECS[event.event_type]:
            if compiled.spec.logsource not in self._by_source:
                continue  # no kept rule reads this log source: the row is not even built
            for row in _spec_rows(compiled, event):
                yield compiled.spec.logsource, row

    def candidate_rules(self, event: Any) -> set[int]:
        """Indexes of the rules the prefilter has evaluated on the event: a superset of those that match."""
        if isinstance(event, Mapping):
            event = _EVENT_ADAPTER.validate_python(dict(event))
        found: set[int] = set()
        for source, row in self._rows(event):
            members, prefilter = self._by_source[source]
            found.update(members[p] for p in prefilter.candidates("\n".join(low for _, low in row.values())))
        return found

    def rules_for(self, event: Any, brute_force: bool = False) -> list[int]:
        """Indexes (into ``rules``) of the rules that match the event, in rule order."""
        if isinstance(event, Mapping):
            event = _EVENT_ADAPTER.validate_python(dict(event))
        matched: set[int] = set()
        for source, row in self._rows(event):
            members, prefilter = self._by_source[source]
            if brute_force:
                positions: Iterable[int] = range(len(members))
            else:
                positions = prefilter.candidates("\n".join(low for _, low in row.values()))
            for position in positions:
                index = members[position]
                if index not in matched and self.rules[index].matcher(row):
                    matched.add(index)
        return sorted(matched)

    def matches(self, events: Iterable[Any], brute_force: bool = False) -> list[SigmaHit]:
        """One hit per (rule, event) that matches, in event order then rule order. ``events``: schema events (the
        ``IncidentParams.events`` objects) or their dicts. ``brute_force`` evaluates every rule, skipping the
        prefilter (the reference the prefilter is tested against)."""
        hits = []
        for event in events:
            if isinstance(event, Mapping):
                event = _EVENT_ADAPTER.validate_python(dict(event))
            for index in self.rules_for(event, brute_force):
                r = self.rules[index]
                hits.append(SigmaHit(r.rule_id, r.title, r.level, r.author, r.tags, r.path, (event.log_id,)))
        return hits

    def rule(self, rule_id: str) -> CompiledRule:
        for r in self.rules:
            if r.rule_id == rule_id:
                return r
        raise KeyError(rule_id)

    def rule_matches(self, rule: CompiledRule, event: Any) -> bool:
        """Whether this one rule matches the event (on any of the rows of the rule's log source)."""
        if isinstance(event, Mapping):
            event = _EVENT_ADAPTER.validate_python(dict(event))
        for compiled in _SPECS[event.event_type]:
            if _applies(rule.logsource, compiled.spec.logsource) and any(
                    rule.matcher(row) for row in _spec_rows(compiled, event)):
                return True
        return False


def describe(hit: SigmaHit) -> str:
    """One line naming the rule, its level and its author(s), as the Detection Rule License asks of any message
    based on a rule's match."""
    author = hit.author.strip() or "author not stated"
    return f"SigmaHQ '{hit.title}' ({hit.level}, by {author}) matches {', '.join(hit.log_ids)}"


# ============================================================================ loading


def _rule_files(path: Path) -> list[Path]:
    folders = [path / name for name in RULE_FOLDERS if (path / name).is_dir()] or [path]
    return sorted(p for folder in folders for p in folder.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file())


def rules_path() -> Path | None:
    """The SigmaHQ rules folder named by ``$OPENSOC_SIGMAHQ_RULES``; None when the variable is unset (or empty).

    A set variable must name an existing folder holding SigmaHQ rule files (its rules/, rules-emerging-threats/ or
    rules-threat-hunting/, or .yml files of its own): anything else is an error, never a quiet fallback."""
    value = os.environ.get(ENV_VAR, "")
    if not value.strip():
        return None
    path = Path(value).expanduser()
    if not path.is_dir():
        raise ValueError(f"${ENV_VAR} is {value!r}, which is not a folder; expected a SigmaHQ checkout holding "
                         f"{', '.join(f + '/' for f in RULE_FOLDERS)} (or unset it)")
    if not _rule_files(path):
        raise ValueError(f"${ENV_VAR} is {value!r}, a folder with no Sigma rule files (*.yml); expected a SigmaHQ "
                         f"checkout holding {', '.join(f + '/' for f in RULE_FOLDERS)} (or unset it)")
    return path


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:  # pragma: no cover - rglob stays under root
        return path.as_posix()


def _modelled(source: LogSource) -> bool:
    return any(_applies(source, row) for row in MODELLED_LOGSOURCES)


def _compile_doc(doc: dict, relpath: str, levels: frozenset[str], skipped: Counter[str],
                 errors: list[tuple[str, str]]) -> CompiledRule | None:
    if "correlation" in doc:
        skipped["correlation rule"] += 1
        return None
    if "filter" in doc and "detection" not in doc:
        skipped["filter rule"] += 1
        return None
    level = str(doc.get("level") or "missing")
    if level not in levels:
        skipped[f"level {level}"] += 1
        return None
    logsource = doc.get("logsource") if isinstance(doc.get("logsource"), dict) else {}
    source: LogSource = (logsource.get("product"), logsource.get("category"), logsource.get("service"))
    if not _modelled(source):
        skipped[f"logsource not modelled: {logsource_text(source)}"] += 1
        return None
    try:
        return compile_rule(doc, relpath)
    except UnsupportedRule as e:
        skipped[str(e)] += 1
    except (SigmaError, re.error, ValueError, TypeError, KeyError) as e:
        skipped[f"parse error: {type(e).__name__}"] += 1
        errors.append((relpath, f"{type(e).__name__}: {e}"))
    return None


def compile_rule(doc: Mapping[str, Any], path: str = "") -> CompiledRule:
    """One Sigma rule (its parsed YAML) parsed by pySigma and compiled; raises ``UnsupportedRule`` or pySigma's
    errors. ``path``: where it was read from, relative to the rules folder."""
    rule = SigmaRule.from_dict(dict(doc))
    tree = compile_detection(rule)
    logsource = doc.get("logsource") if isinstance(doc.get("logsource"), Mapping) else {}
    author = doc.get("author")
    author = ", ".join(map(str, author)) if isinstance(author, list) else str(author or "")
    return CompiledRule(
        rule_id=str(doc.get("id") or path), title=str(doc.get("title") or path),
        level=str(doc.get("level") or "missing"), author=author, tags=tuple(str(t) for t in doc.get("tags") or ()),
        path=path, logsource=(logsource.get("product"), logsource.get("category"), logsource.get("service")),
        tree=tree, matcher=build_matcher(tree))


def load_rules(path: Path | str, levels: Sequence[str] = ("high", "critical")) -> SigmaRuleSet:
    """Every rule under ``path`` (a SigmaHQ checkout; its rule folders are walked) parsed one by one with pySigma,
    kept when its level is one of ``levels`` and ``ROWS`` yields rows of its log source, compiled; every rule left
    out is counted in ``skipped`` under its reason. Each YAML document is one rule: with one rule per file, as in
    SigmaHQ, ``kept + sum(skipped.values())`` is the number of rule files."""
    start = time.perf_counter()
    root = Path(path)
    if not root.is_dir():
        raise ValueError(f"SigmaHQ rules folder {str(root)!r} does not exist")
    wanted = frozenset(levels)
    skipped: Counter[str] = Counter()
    errors: list[tuple[str, str]] = []
    kept: list[CompiledRule] = []
    for file in _rule_files(root):
        relpath = _relative(file, root)
        try:
            docs = [d for d in yaml.load_all(file.read_text(encoding="utf-8"), Loader=_YAML_LOADER) if d is not None]
        except (yaml.YAMLError, UnicodeDecodeError) as e:
            skipped[f"parse error: {type(e).__name__}"] += 1
            errors.append((relpath, f"{type(e).__name__}: {e}"))
            continue
        if not docs:
            skipped["empty file"] += 1
            continue
        for doc in docs:
            if not isinstance(doc, dict):
                skipped["parse error: not a mapping"] += 1
                errors.append((relpath, "YAML document is not a mapping"))
                continue
            compiled = _compile_doc(doc, relpath, wanted, skipped, errors)
            if compiled is not None:
                kept.append(compiled)
    return SigmaRuleSet(rules=tuple(kept), skipped=skipped, root=root, errors=tuple(errors),
                        load_seconds=time.perf_counter() - start)
