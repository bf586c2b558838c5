"""The defender's investigation tools: typed, documented, each with a capped and deterministic output.

- ``search``: events matching a query (``query.py``), within a time range, on a host, by a user; newest last, at
  most ``limit`` (≤ 50) shown.
- ``count``: how many matching events have each value of one field (the top ``limit`` values).
- ``lookup_host`` / ``lookup_user``: what the inventory and the directory know about a host or an account.
- ``process_tree``: the process starts on one host in a time range, each under its parent.

``run_tool`` never raises for a bad call: the result says what was wrong, as a SIEM's error message would, and costs
the call. Every log id an output shows is reported in ``ToolResult.log_ids``: that is what the defender has seen.
"""

from __future__ import annotations

import copy
import ipaddress
import json
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field, StringConstraints, ValidationError

from ...parsing.timestamps import parse_timestamp
from ...schema import Event, Name, ProcessStart, StrictModel, Timestamp
from ...world.inventory import INVENTORY, PRIVILEGED_GROUPS, is_internal_ip
from .query import MAX_QUERY_CHARS, QueryError, parse_query
from .store import FIELDS, LogStore

MAX_OUTPUT_CHARS = 12_000
MAX_VALUE_CHARS = 240
STORE_FIELDS = FIELDS | {"log_id", "timestamp", "host", "user", "event_type", "source"}

QueryText = Annotated[str, StringConstraints(max_length=MAX_QUERY_CHARS)]


class _Range(StrictModel):
    start: Timestamp | None = Field(default=None, description="Earliest event time, ISO-8601 UTC with 'Z'.")
    end: Timestamp | None = Field(default=None, description="Latest event time, ISO-8601 UTC with 'Z'.")
    host: Name | None = Field(default=None, description="Only events on this host.")
    user: Name | None = Field(default=None, description="Only events by this account.")


class SearchArgs(_Range):
    """Find events."""

    query: QueryText = Field(default="", description='Terms that must all hold: field=value (wildcards * ?), field!=value, '
                             'field>N, "text", word, -term. Empty matches everything.')
    limit: Annotated[int, Field(ge=1, le=50)] = Field(default=20, description="Events to show, 1 to 50.")


class CountArgs(_Range):
    """Count events by one field's values."""

    query: QueryText = Field(default="", description="As in search.")
    by: Annotated[str, StringConstraints(max_length=64)] = Field(description="The field to group by, e.g. source.ip.")
    limit: Annotated[int, Field(ge=1, le=30)] = Field(default=10, description="Values to show, 1 to 30.")


class LookupHostArgs(StrictModel):
    """What the inventory knows about a host (by name or internal address)."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(description="Host name or IP address.")


class LookupUserArgs(StrictModel):
    """What the directory knows about an account."""

    name: Name = Field(description="Account name, any domain form.")


class ProcessTreeArgs(_Range):
    """Process starts on one host, each under its parent."""

    host: Name = Field(description="The host.")


TOOL_ARGS: dict[str, type[StrictModel]] = {
    "search": SearchArgs, "count": CountArgs, "lookup_host": LookupHostArgs, "lookup_user": LookupUserArgs,
    "process_tree": ProcessTreeArgs,
}


def tool_specs() -> list[dict]:
    """The tools as function-calling specs: name, description and JSON Schema of the arguments (a fresh copy of
    specs generated once: generating the schemas cost more than the rest of an investigation step)."""
    return copy.deepcopy(_TOOL_SPECS)


_TOOL_SPECS = [{"name": name, "description": (args.__doc__ or "").strip(), "parameters": args.model_json_schema()}
               for name, args in TOOL_ARGS.items()]


@dataclass(frozen=True)
class ToolResult:
    """A tool's answer: the text the defender reads, whether the call was well-formed, and the log ids it showed."""

    name: str
    ok: bool
    text: str
    log_ids: tuple[str, ...] = ()


def _compact(event: Event) -> dict:
    data = event.model_dump(mode="json", by_alias=True, exclude_none=True)
    return {k: (v[:MAX_VALUE_CHARS] + "…" if isinstance(v, str) and len(v) > MAX_VALUE_CHARS else v) for k, v in data.items()}


def _epoch(ts: str | None) -> float | None:
    return parse_timestamp(ts).timestamp() if ts else None


def _events_output(store: LogStore, indices: list[int], limit: int, total: int) -> tuple[str, tuple[str, ...]]:
    shown = indices[-limit:]  # the latest events in range, in time order
    events = [_compact(store.events[i]) for i in shown]
    while events and len(json.dumps(events)) > MAX_OUTPUT_CHARS:  # keep the output bounded whatever the events hold
        events.pop(0)
    text = json.dumps({"total": total, "shown": len(events), "events": events}, separators=(",", ":"))
    return text, tuple(e["log_id"] for e in events)


def _search(store: LogStore, a: SearchArgs) -> ToolResult:
    terms = parse_query(a.query, STORE_FIELDS)
    indices = store.select(terms, start=_epoch(a.start), end=_epoch(a.end), host=a.host, user=a.user)
    text, ids = _events_output(store, indices, a.limit, len(indices))
    return ToolResult("search", True, text, ids)


def _count(store: LogStore, a: CountArgs) -> ToolResult:
    if a.by not in STORE_FIELDS:
        raise QueryError(f"unknown field {a.by!r} to count by; fields are: {', '.join(sorted(STORE_FIELDS))}")
    terms = parse_query(a.query, STORE_FIELDS)
    indices = store.select(terms, start=_epoch(a.start), end=_epoch(a.end), host=a.host, user=a.user)
    counts = store.count(indices, a.by)
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:a.limit]
    return ToolResult("count", True, json.dumps({"total": len(indices), "by": a.by, "values": [{"value": v, "count": c}
                                                                                               for v, c in top]}))


def _lookup_host(a: LookupHostArgs) -> ToolResult:
    host = INVENTORY.host(a.name) or INVENTORY.host_by_ip(a.name)
    if host is None:
        known = "an internal address with no host" if _is_ip(a.name) and is_internal_ip(a.name) else "not in the inventory"
        service = INVENTORY.service_by_ip(a.name) if _is_ip(a.name) else None
        facts = {"name": a.name, "known": False, "note": known}
        if service is not None:
            facts |= {"known_good_service": service.name, "domain": service.domain, "purpose": service.purpose}
        return ToolResult("lookup_host", True, json.dumps(facts))
    return ToolResult("lookup_host", True, json.dumps({"name": host.name, "known": True, "ip": host.ip, "role": host.role,
                                                       "os": host.os, "critical": host.critical, "owner": host.owner,
                                                       "functions": list(host.functions)}))


def _is_ip(text: str) -> bool:

    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def _lookup_user(a: LookupUserArgs) -> ToolResult:
    user = INVENTORY.user(a.name)
    if user is None:
        return ToolResult("lookup_user", True, json.dumps({"name": a.name, "known": False, "note": "not in the directory"}))
    return ToolResult("lookup_user", True, json.dumps({
        "name": user.name, "known": True, "kind": user.kind, "groups": list(user.groups),
        "it_admin": INVENTORY.is_it_admin(user.name), "tier0": sorted(set(user.groups) & PRIVILEGED_GROUPS),
        "workstation": next((h.name for h in INVENTORY.hosts if h.owner == user.name), None)}))


def _process_tree(store: LogStore, a: ProcessTreeArgs) -> ToolResult:
    indices = store.select((), start=_epoch(a.start), end=_epoch(a.end), host=a.host)
    procs = [store.events[i] for i in indices if isinstance(store.events[i], ProcessStart)][-40:]
    nodes = [{"log_id": p.log_id, "timestamp": p.timestamp, "process": p.process_name, "parent": p.process_parent_name,
              "user": p.user, "command_line": (p.process_command_line or "")[:MAX_VALUE_CHARS]} for p in procs]
    children: dict[str, list[str]] = {}
    for p in procs:
        children.setdefault((p.process_parent_name or "?").lower(), []).append(p.log_id)
    text = json.dumps({"host": a.host, "processes": nodes,
                       "children_by_parent": {k: v for k, v in sorted(children.items())}}, separators=(",", ":"))
    return ToolResult("process_tree", True, text[:MAX_OUTPUT_CHARS], tuple(p.log_id for p in procs))


def run_tool(store: LogStore, name: str, arguments: Any) -> ToolResult:
    """Run tool ``name``; a malformed call is answered with a message saying what was expected."""
    args_model = TOOL_ARGS.get(name)
    if args_model is None:
        return ToolResult(name, False, f"error: unknown tool {name!r}; tools are: {', '.join(TOOL_ARGS)}")
    try:
        args = args_model.model_validate(arguments if arguments is not None else {})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}" for e in exc.errors()[:5])
        return ToolResult(name, False, f"error: bad arguments for {name}: {problems}")
    try:
        if name == "search":
            return _search(store, args)
        if name == "count":
            return _count(store, args)
        if name == "lookup_host":
            return _lookup_host(args)
        if name == "lookup_user":
            return _lookup_user(args)
        return _process_tree(store, args)
    except QueryError as exc:
        return ToolResult(name, False, f"error: {exc}")
