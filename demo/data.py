"""What the demo shows, computed from the core: incidents with both defenders' decisions, and attacker checks.

The demo page only renders what these functions return. The baseline ("before") is the built-in
``heuristic`` playbook and the trained defender ("after") ``cpu_defender`` (``train/artifacts``); baked
cases come from ``data/demo_examples.json`` (``opensoc regenerate``), and both modes title a decision
``defender_title(side, policy)``.
"""

from __future__ import annotations

import html
import json
import logging
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pydantic import ValidationError

from ..adjudication.gate import adjudicate
from ..families.triage.family import materialize, materialized_incident
from ..incidents.defenders import heuristic
from ..incidents.linear_policy import LinearPolicy
from ..rubric import score_incident, score_triage
from ..schema import Alert, IncidentParams, SubmitTriage
from ..service.wire import WireError, parse_json
from ..verifier import GroundTruth

ROOT = Path(__file__).resolve().parent.parent
DEMO_EXAMPLES = ROOT / "data" / "demo_examples.json"
RESULT_IMAGES = (
    ("Hold-out headline", ROOT / "docs" / "eval" / "headline.png"),
    ("Reward per stage", ROOT / "docs" / "eval" / "reward_by_stage.png"),
    ("Heuristic confusion matrix", ROOT / "docs" / "eval" / "confusion_heuristic.png"),
    ("CPU defender training", ROOT / "train" / "artifacts" / "cpu_defender_curve.png"),
    ("CPU attacker training", ROOT / "train" / "artifacts" / "cpu_attacker_curve.png"),
)
# Both modes name a defender the same way: its side, then the policy's name as `opensoc eval` and the baked file
# write it. Live cases use the same two policies bake_demo bakes by default.
SIDE_TITLES = {"before": "Baseline", "after": "Trained"}


def defender_title(side: str, policy: str) -> str:
    return f"{SIDE_TITLES[side]}: {policy}"


BEFORE, AFTER = defender_title("before", "heuristic"), defender_title("after", "cpu_defender")


@dataclass(frozen=True)
class Decision:
    policy: str
    action: str | None
    cited_log_id: str | None
    reward: float
    outcome: str
    breakdown: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class DemoCase:
    title: str
    alert: Alert
    truth_action: str
    triggering_log_ids: tuple[str, ...]
    deciding_rule_ids: tuple[str, ...]
    before: Decision
    after: Decision


@cache
def _trained():
    return LinearPolicy.load()


def _decide(policy: str, triage: SubmitTriage | None, truth: GroundTruth) -> Decision:
    score = score_triage(truth, triage)
    return Decision(policy, triage.action if triage else None, triage.cited_log_id if triage else None, score.reward,
                    score.outcome, tuple((k, v) for k, v in score.breakdown.items() if v or k != "format"))


def live_case(task: str, seed: int) -> DemoCase:
    """A freshly generated incident for (task, seed), answered by both defenders."""
    m = materialized_incident(task, seed)
    return DemoCase(
        title=f"{task}, seed {seed} (live)", alert=m.alert, truth_action=m.truth.action,
        triggering_log_ids=tuple(m.truth.triggering_log_ids), deciding_rule_ids=tuple(m.truth.deciding_rule_ids),
        before=_decide(BEFORE, heuristic(m.alert), m.truth), after=_decide(AFTER, _trained().act(m.alert), m.truth),
    )


@cache
def baked_cases() -> tuple[DemoCase, ...]:
    """The 50 baked before/after pairs, or none when the file is missing."""
    if not DEMO_EXAMPLES.is_file():
        return ()
    data = json.loads(DEMO_EXAMPLES.read_text(encoding="utf-8"))
    cases = []
    for e in data["examples"]:
        # The verifier's answer key is all score_triage reads, so the breakdown is recomputed, not stored.
        truth = GroundTruth(action=e["truth"]["action"], malicious=e["truth"]["action"] != "dismiss",
                            triggering_log_ids=e["truth"]["triggering_log_ids"],
                            deciding_rule_ids=e["truth"]["deciding_rule_ids"], rules_fired=[])

        def decision(side: str, e: dict = e, truth: GroundTruth = truth) -> Decision:
            d = e[side]
            triage = SubmitTriage(action=d["action"], cited_log_id=d["cited_log_id"]) if d["action"] else None
            return _decide(defender_title(side, d["policy"]), triage, truth)

        cases.append(DemoCase(
            title=f"{e['task']}, seed {e['seed']} (baked)", alert=Alert.model_validate(e["alert"]),
            truth_action=e["truth"]["action"], triggering_log_ids=tuple(e["truth"]["triggering_log_ids"]),
            deciding_rule_ids=tuple(e["truth"]["deciding_rule_ids"]), before=decision("before"), after=decision("after"),
        ))
    return tuple(cases)


# ------------------------------------------------------------------------ rendering


def _fields(event) -> list[str]:
    data = event.model_dump(mode="json", exclude_none=True, exclude={"log_id", "timestamp", "event_type", "source",
                                                                        "host", "user"})
    return [f"{k}={v}" for k, v in data.items()]


LOG_TABLE_STYLE = ("<style>#log-window{overflow-x:auto;max-width:100%}"
                   "#log-window table{width:100%;border-collapse:collapse;font-size:13px}"
                   "#log-window th,#log-window td{padding:4px 6px;vertical-align:top;text-align:left}"
                   "#log-window td.fields{font-family:monospace;font-size:12px;overflow-wrap:anywhere;width:50%;"
                   "min-width:14em}</style>")


def log_window_html(case: DemoCase) -> str:
    """The log window as a table; cited and triggering rows are highlighted. Long field values wrap, and on a
    screen too narrow for the table it scrolls sideways instead of being cut off."""
    cited = {case.before.cited_log_id, case.after.cited_log_id}
    rows = []
    for e in case.alert.events:
        marks = []
        style = ""
        if e.log_id in case.triggering_log_ids:
            marks.append("evidence")
            style = "background:#fdebd0;"
        if e.log_id in cited:
            marks.append("cited")
            style = style or "background:#eaf2f8;"
        rows.append(
            f'<tr style="{style}" data-log-id="{html.escape(e.log_id)}"><td><b>{html.escape(e.log_id)}</b></td>'
            f"<td>{html.escape(e.timestamp)}</td><td>{html.escape(e.event_type)}</td><td>{html.escape(e.host)}</td>"
            f"<td>{html.escape(e.user or '')}</td><td class='fields'>{'<br>'.join(map(html.escape, _fields(e)))}</td>"
            f"<td>{', '.join(marks)}</td></tr>"
        )
    head = "<tr><th>log_id</th><th>time</th><th>type</th><th>host</th><th>user</th><th>fields (untrusted log data)</th><th></th></tr>"
    return f'{LOG_TABLE_STYLE}<div id="log-window"><table>{head}{"".join(rows)}</table></div>'


def alert_markdown(case: DemoCase) -> str:
    a = case.alert
    return (f"### {html.escape(a.rule_name)} ({a.severity})\n\n**{case.title}** · {len(a.events)} events · "
            f"ATT&CK {', '.join(a.technique_ids) or '–'}\n\n{html.escape(a.summary)}")


def decision_markdown(d: Decision, truth_action: str) -> str:
    verdict = "correct" if d.action == truth_action else "wrong: " + d.outcome.replace("_", " ")
    parts = " + ".join(f"{name} {value:+.2f}" for name, value in d.breakdown)
    return (f"**{d.policy}**\n\nAction: **{d.action or 'no valid answer'}**  \nCited: `{d.cited_log_id or '–'}`  \n"
            f"Reward: **{d.reward:+.2f}** ({verdict})  \nBreakdown: {parts or '–'}")


def truth_markdown(case: DemoCase) -> str:
    return (f"**Ground truth (verifier): {case.truth_action}**  \nEvidence: {', '.join(case.triggering_log_ids) or '–'}  \n"
            f"Rules: {', '.join(case.deciding_rule_ids) or 'none fired'}")


# ------------------------------------------------------------------------- attacker tab


@dataclass(frozen=True)
class AttackerCheck:
    ok: bool
    message: str  # markdown


def example_craft(task: str, seed: int) -> str:
    """A generated incident as craft_incident JSON, to start editing from."""
    return materialized_incident(task, seed).incident.model_dump_json(indent=1, exclude_none=True)


def check_craft(text: str) -> AttackerCheck:
    """Plausibility, ground truth and both defenders' answers for a pasted craft_incident JSON.

    The text is read by the service's own parser (bounded and linear in its length, whatever is pasted), and the
    answer is always a message written here: never an exception's text, which would show the visitor the server's
    internals (the failure itself is logged)."""

    try:
        data = parse_json(text)
    except WireError as exc:
        where = re.fullmatch(r"invalid JSON: (.*) at line (\d+) column (\d+)", exc.message)
        if where:
            return AttackerCheck(False, f"**Invalid JSON** at line {where[2]}, column {where[3]}: {where[1]}.")
        return AttackerCheck(False, f"**Invalid JSON**: {exc.message}. Expected {exc.expected}.")
    try:
        return _check_parsed(data)
    except Exception:  # noqa: BLE001 - a visitor sees a sentence, the log gets the traceback
        logging.getLogger("opensoc.demo").exception("checking a pasted incident failed")
        return AttackerCheck(False, "**This incident could not be checked.** Start from a generated incident "
                             "(*Load generated incident*) and edit it step by step.")


def _check_parsed(data: object) -> AttackerCheck:
    if isinstance(data, dict) and "craft_incident" in data:
        data = data["craft_incident"]
    try:
        params = IncidentParams.model_validate(data)
    except ValidationError as exc:
        lines = [f"- `{'.'.join(map(str, e['loc'])) or '(root)'}`: {e['msg']}" for e in exc.errors()[:12]]
        return AttackerCheck(False, "**The incident does not match the schema** (attacker reward −0.5):\n" + "\n".join(lines))

    review = adjudicate(params)
    m = materialize(params, review.truth)
    plaus = review.plausibility
    parts = [f"**Plausibility: {'passes' if plaus.ok else 'fails'}**"]
    parts += [f"- `{v.code}`: {v.message}" for v in plaus.violations]
    parts += [f"- contested by the suspicion check: {h.title} ({', '.join(h.log_ids)})" for h in review.contested_by]
    if plaus.ok and not review.label_agrees:
        parts.append(f"- mislabelled: target_label `{params.target_label}` contradicts the verdict")
    parts.append(f"\n**Ground truth: {m.truth.action}** (rules: {', '.join(m.truth.deciding_rule_ids) or 'none'})")
    for name, triage in ((BEFORE, heuristic(m.alert)), (AFTER, _trained().act(m.alert))):
        score = score_incident(params, triage.action, adjudication=review)
        parts.append(f"- {name} answers **{triage.action}** → attacker {score.outcome}, reward {score.reward:+.2f}")
    return AttackerCheck(True, "\n".join(parts))
