"""What the demo's Investigation tab shows: an investigation replayed step by step.

``investigation_replay(task, seed)`` plays the scripted investigator on a case in-process and keeps every step: the
alert it started from, each tool call with its arguments and the events it showed, and the final triage with the
verdict, the reward and the evidence recall. The page renders one step at a time.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from functools import lru_cache

from ..env import OpenSOCEnv
from ..families.investigation.investigator import scripted_investigator


@dataclass(frozen=True)
class ReplayStep:
    title: str
    markdown: str  # what happened
    events_html: str  # the events this step showed, highlighted where they are evidence


@dataclass(frozen=True)
class Replay:
    task: str
    seed: int
    steps: tuple[ReplayStep, ...]


_COLUMNS = ("log_id", "timestamp", "host", "user", "event_type")


def _detail(event: dict) -> str:
    keys = ("process.command_line", "process.name", "destination.ip", "source.ip", "url.domain", "dns.question.name",
            "event.outcome", "group.name", "file.path", "winlog.event_data.TargetImage", "registry.path", "email.subject")
    parts = [f"{k}={event[k]}" for k in keys if event.get(k) is not None]
    return "; ".join(str(p) for p in parts)[:220]


def _table(events: list[dict], evidence: set[str]) -> str:
    if not events:
        return "<p><em>no events</em></p>"
    head = "".join(f"<th>{c}</th>" for c in (*_COLUMNS, "detail (untrusted log data)"))
    rows = []
    for e in events:
        style = "background:#fdebd0;" if e.get("log_id") in evidence else ""
        cells = "".join(f"<td>{html.escape(str(e.get(c, '') or ''))}</td>" for c in _COLUMNS)
        rows.append(f'<tr style="{style}" data-log-id="{html.escape(str(e.get("log_id")))}">{cells}'
                    f"<td style='font-family:monospace;font-size:12px'>{html.escape(_detail(e))}</td></tr>")
    return ('<div class="replay-events" style="overflow-x:auto"><table style="width:100%;border-collapse:collapse">'
            f"<tr>{head}</tr>{''.join(rows)}</table></div>")


@lru_cache(maxsize=64)
def investigation_replay(task: str, seed: int) -> Replay:
    """The scripted investigator's episode on ``(task, seed)``, step by step."""
    env = OpenSOCEnv()
    obs = env.reset(task=task, seed=seed)
    alert = obs.investigation.alert
    steps = [ReplayStep("Alert", f"**{html.escape(alert.rule_name)}** ({alert.severity}) on {alert.host} at {alert.time}. "
                        f"The SIEM holds {alert.store_events:,} events from {alert.store_start} to {alert.store_end}; "
                        f"{obs.investigation.call_budget} tool calls allowed.",
                        _table([alert.event.model_dump(mode="json", by_alias=True, exclude_none=True)], set()))]
    calls: list[tuple[str, dict, str]] = []

    def call(name: str, arguments: dict) -> str:
        nonlocal obs
        obs = env.step({"tool_call": {"name": name, "arguments": arguments}})
        calls.append((name, arguments, obs.investigation.last_tool.output))
        return obs.investigation.last_tool.output

    triage = scripted_investigator(alert, call, obs.investigation.call_budget)
    final = env.step({"submit_triage": triage.model_dump()})
    evidence = set(final.verdict.triggering_log_ids)
    for i, (name, arguments, output) in enumerate(calls, 1):
        try:
            body = json.loads(output)
        except json.JSONDecodeError:
            body = {}
        events = body.get("events", [])
        shown = sum(e.get("log_id") in evidence for e in events)
        steps.append(ReplayStep(
            f"Call {i}: {name}",
            f"`{name}({json.dumps(arguments)})` → {body.get('total', len(events))} match(es), "
            f"{len(events)} shown, {shown} of them evidence.",
            _table(events, evidence) if events else f"<pre>{html.escape(output[:1500])}</pre>"))
    d = final.rewards.defender
    steps.append(ReplayStep(
        "Triage",
        f"The investigator answers **{d.predicted_action}**, citing `{d.cited_log_id}`. The verifier's verdict is "
        f"**{final.verdict.correct_action}** ({', '.join(final.verdict.deciding_rule_ids) or 'no rule'}). Reward "
        f"**{d.reward:+.2f}** ({d.outcome}); the tools showed {d.evidence_recall:.0%} of the triggering events.",
        ""))
    return Replay(task, seed, tuple(steps))
