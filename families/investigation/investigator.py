"""Baseline investigators: they see the alert, call the tools within the budget, then triage.

- ``scripted_investigator``: what a tier-1 analyst does first. Pivot from the alert's entities (the host, the
  account, an outside address), search the store around the alert's time, then triage what came back with the
  ``analyst`` playbook. It never reads the verifier.
- ``oracle_investigator``: reads the answer key, retrieves one triggering event (so its citation counts) and submits
  the verdict: the ceiling.

Each takes ``call(name, arguments) -> str`` (the tool's text, as any transport returns it), so the same code runs
in-process, over HTTP or over ``/ws``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

from pydantic import TypeAdapter, ValidationError

from ...incidents.alerting import materialize_alert
from ...incidents.defenders import analyst
from ...parsing.timestamps import format_timestamp, parse_timestamp
from ...schema import Event, IncidentParams, SubmitTriage
from ...world.inventory import is_internal_ip
from .case import CaseAlert

ToolCall = Callable[[str, dict], str]
_EVENTS = TypeAdapter(list[Event])
WINDOW = timedelta(minutes=45)


def _events(text: str) -> list[dict]:
    try:
        return json.loads(text).get("events", [])
    except (json.JSONDecodeError, AttributeError):
        return []


def scripted_investigator(alert: CaseAlert, call: ToolCall, budget: int) -> SubmitTriage:
    """Pivot from the alert's host, account and outside addresses; triage the retrieved events with the playbook."""
    t = parse_timestamp(alert.time)
    around = {"start": format_timestamp(t - WINDOW), "end": format_timestamp(t + WINDOW)}
    plan: list[tuple[str, dict]] = [("search", {"host": alert.host, "limit": 50, **around})]
    if alert.user:
        plan.append(("search", {"user": alert.user, "limit": 50, **around}))
    event = alert.event
    for field in ("source_ip", "destination_ip"):
        ip = getattr(event, field, None)
        if ip and not is_internal_ip(ip):
            plan.append(("search", {"query": f"{field.replace('_', '.')}={ip}", "limit": 50}))
    if event.event_type in ("process_start", "process_access", "registry_set"):
        plan.append(("process_tree", {"host": alert.host, **around}))
    seen: dict[str, dict] = {}
    for name, args in plan[:budget]:
        for e in _events(call(name, args)):
            seen.setdefault(e["log_id"], e)
    chosen = _nearest(list(seen.values()), event.log_id, t)
    try:
        events = _EVENTS.validate_python(chosen)
    except ValidationError:
        events = [event]
    if not any(e.log_id == event.log_id for e in events):
        events = [event, *events][:64]
    events.sort(key=lambda e: e.timestamp)
    window = IncidentParams.model_construct(category="malware_execution", target_label="malicious", events=events, narrative="")
    return analyst(materialize_alert(window))


def _nearest(events: list[dict], keep: str, t) -> list[dict]:
    """At most 64 events, the alert's own first, then the nearest in time."""
    ranked = sorted(events, key=lambda e: (e["log_id"] != keep, abs((parse_timestamp(e["timestamp"]) - t).total_seconds())))
    return ranked[:64]


def oracle_investigator(alert: CaseAlert, call: ToolCall, budget: int, action: str, triggering: list[str]) -> SubmitTriage:
    """The ceiling: retrieve one triggering event so the citation counts, then submit the verdict."""
    cite = triggering[0] if triggering else alert.event.log_id
    if triggering and budget > 0:
        call("search", {"query": f"log_id={cite}", "limit": 1})
    return SubmitTriage(action=action, cited_log_id=cite, rationale="the verifier's verdict")
