"""Render OpenSOC's reference documentation from the tables in code.

``python -m opensoc.reference`` rewrites ``docs/verifier.md`` whole and the generated sections of the other docs
pages (between ``<!-- BEGIN GENERATED: name -->`` and ``<!-- END GENERATED: name -->``; ``SECTIONS`` says which
page holds which); ``--check`` exits 1 when any is stale. Nothing in these sections is written by hand: the rule,
reward, plausibility, template, curriculum, tool and scoring tables all come from the modules that enforce them.
"""

from __future__ import annotations

import argparse
import json
import json as _json
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from ..adjudication.admission import LIMITS, PLAUSIBILITY_CODES, WORLD_TIME_RANGE
from ..adjudication.contest import suspicion_rules
from ..adjudication.sigmahq import ENV_VAR as SIGMA_ENV_VAR
from ..adjudication.sigmahq import mapping_table
from ..families.e1.scoring import (
    DEFAULT_COSTS,
    reward_range,
    score_compat,
    score_default,
)
from ..families.investigation.query import __doc__ as query_doc
from ..families.investigation.tasks import INVESTIGATION_TASKS
from ..families.investigation.tools import tool_specs
from ..generator import TEMPLATES, generate
from ..rubric import (
    ATTACKER_EVASION,
    ATTACKER_NOVELTY,
    ATTACKER_OUTCOMES,
    ATTACKER_SCHEMA_INVALID,
    ATTACKER_UNSOUND,
    CITATION_BONUS,
    DEFENDER_REWARD,
    DEFENDER_REWARD_RANGE,
    FORMAT_VIOLATION_BENIGN,
    FORMAT_VIOLATION_MALICIOUS,
    MAX_NOVELTY_PER_RUN,
)
from ..schema import EVENT_TYPES, TRIAGE_ACTIONS, IncidentParams, SubmitTriage
from ..tasks.registry import BENIGN_SHARE, TASKS
from ..verifier import (
    ACTION_RANK,
    CATEGORY_DEPICTIONS,
    CRITICAL_ASSET_MODIFIER,
    ORDINARY,
    THRESHOLDS,
    VERDICT_RULES,
    compute_ground_truth,
)
from ..world.attack import ATTACK_VERSION, TECHNIQUES
from ..world.catalog import BENIGN_CLASSES, BUILTINS, CMDLETS, METHODS, PROGRAMS, USE_CLASSES

ROOT = Path(__file__).resolve().parent.parent
LABEL_SAMPLE = 500  # seeds per stage for the measured label distribution


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _fmt(x: float) -> str:
    return f"{x:+g}"


def action_space() -> str:
    triage = SubmitTriage.model_json_schema()["properties"]
    rows = [[f"`{name}`", prop.get("description", "")] for name, prop in triage.items()]
    return "\n".join([
        "A step sends exactly one of two actions, as JSON:",
        "",
        "- `{\"submit_triage\": {...}}` (defender):",
        "",
        _table(["field", "meaning"], rows),
        "",
        "  Actions, least to most severe: " + ", ".join(f"`{a}`" for a in sorted(TRIAGE_ACTIONS, key=ACTION_RANK.get)) + ".",
        "",
        "- `{\"craft_incident\": {...}}` (attacker): an incident with "
        + ", ".join(f"`{k}`" for k in IncidentParams.model_fields) + "; 1 to 64 events of the types "
        + ", ".join(f"`{t}`" for t in EVENT_TYPES) + ". Its JSON Schema is `GET /schema`'s `action`.",
    ])


def defender_rewards() -> str:
    rows = [[f"**{g}**"] + [f"{_fmt(DEFENDER_REWARD[(g, p)].reward)} ({DEFENDER_REWARD[(g, p)].outcome})" for p in TRIAGE_ACTIONS]
            for g in TRIAGE_ACTIONS]
    return "\n".join([
        "Rows are the verifier's action, columns the defender's:",
        "",
        _table(["gold \\ predicted"] + [f"`{p}`" for p in TRIAGE_ACTIONS], rows),
        "",
        f"- Citation bonus: {_fmt(CITATION_BONUS)} when the action is correct and `cited_log_id` is one of the "
        "verifier's triggering log ids (one id per triage; a list is a format violation).",
        f"- Format violation (no valid `submit_triage`): {_fmt(FORMAT_VIOLATION_BENIGN)} on a benign incident; on a "
        f"malicious one it scores as a dismiss ({_fmt(FORMAT_VIOLATION_MALICIOUS)}), so malformed output never beats an answer.",
        f"- Range: [{DEFENDER_REWARD_RANGE[0]:g}, {DEFENDER_REWARD_RANGE[1]:g}].",
    ])


def attacker_rewards() -> str:
    reward = {"schema_invalid": _fmt(ATTACKER_SCHEMA_INVALID), "implausible": _fmt(ATTACKER_UNSOUND),
              "contested": _fmt(ATTACKER_UNSOUND), "mislabelled": _fmt(ATTACKER_UNSOUND),
              "evaded": f"{_fmt(ATTACKER_EVASION)} (the only way to earn it), {_fmt(ATTACKER_NOVELTY)} more the first time "
                        "the run wins this way", "caught": "+0"}
    rows = [[f"`{k}`", v, reward[k]] for k, v in ATTACKER_OUTCOMES.items()]
    return "\n".join([
        _table(["outcome", "when", "reward"], rows),
        "",
        "A craft is *sound* when it is plausible, uncontested and correctly labelled; only a sound craft is played to a "
        "defender in `self_play`, can pay, and can enter a replay pool. `target_label` is `benign` or `malicious`, or "
        "the exact action the attacker expects; `benign` matches `dismiss` and `malicious` any other verdict.",
        f"A way to win is the verdict, the rules that decided it and the defender's answer; names, values, counts and "
        f"text are left out, so padding or rewording an incident is the same way to win. A run credits at most "
        f"{MAX_NOVELTY_PER_RUN} ways.",
    ])


def verdict_rules() -> str:
    rows = [[f"`{r.rule_id}`", r.category or "(context)", f"`{r.action}`", ", ".join(r.technique_ids) or "-", r.condition]
            for r in VERDICT_RULES]
    name, text = CRITICAL_ASSET_MODIFIER
    return "\n".join([
        "The verdict is the most severe action among the malicious rules that fire "
        "(`escalate` > `quarantine_host` > `block_ip` > `monitor`), and `dismiss` only when every event is explained: "
        "by a context rule (the world's named benign services, each an exception of the attack rules it lists) or by "
        "an ordinary activity below. An event nothing explains, and any value the software catalog and parsers cannot "
        "read, is refused at admission, never taken as benign. Only structured event fields, the inventory and the "
        "catalog are read.",
        "",
        _table(["rule", "category", "action", "ATT&CK", "condition"], rows),
        "",
        f"Modifier `{name}`: {text}.",
    ])


def ordinary() -> str:
    return _table(["activity", "what it is"], [[f"`{k}`", text] for k, (text, _) in ORDINARY.items()])


def software_catalog() -> str:
    """The catalog: each program, cmdlet and .NET method with its install folders and every use, its class and its
    ATT&CK techniques, in the order a use is tried."""
    def uses(entry) -> str:
        listed = [f"`{u.name}` ({u.klass}{'; ' + ', '.join(u.techniques) if u.techniques else ''}): {u.description}"
                  for u in entry.uses]
        listed.append(f"otherwise `{entry.otherwise.name}`: {entry.otherwise.description}" if entry.otherwise
                      else "otherwise refused (a form the catalog does not list)")
        return "<br>".join(listed)

    programs = [[f"`{p.image}`", p.kind, "<br>".join(f"`{f}`" for f in p.install) or "anywhere (portable)",
                 ", ".join(f"`{n}`" for n in p.original_names) or "-", uses(p)] for p in PROGRAMS.values()]
    cmdlets = [[f"`{c.name}`", uses(c)] for c in CMDLETS.values() if c.uses or c.otherwise is None
               or c.otherwise.klass != "ordinary"]
    plain = sorted(c.name for c in CMDLETS.values() if not c.uses and c.otherwise is not None
                   and c.otherwise.klass == "ordinary")
    methods = [[f"`{m.name}`", uses(m)] for m in METHODS.values()]
    builtins = [[f"`{b.name}`", uses(b)] for b in BUILTINS.values()]
    classes = [[f"`{k}`", text, "benign" if k in BENIGN_CLASSES else "suspicious or malicious"]
               for k, text in USE_CLASSES.items()]
    return "\n".join([
        f"Every process image resolves by its path and PE original name to one of {len(PROGRAMS)} programs; every "
        f"PowerShell command to one of {len(CMDLETS)} cmdlets (aliases resolved) and every .NET method call to one of "
        f"{len(METHODS)} methods. A program run from outside the folders it is installed in is masquerading (a "
        "folder ending in `*` includes the application's own tree); an unknown program in a folder users can write "
        "is an untrusted executable; any other unknown name, or a form a program's uses do not list, is refused.",
        "", "### Use classes", "", _table(["class", "meaning", "kind"], classes),
        "", "### Programs", "", _table(["image", "kind", "installed in", "PE original names", "uses, in order"], programs),
        "", "### Cmdlets with uses of their own", "", _table(["cmdlet", "uses, in order"], cmdlets),
        "", f"Cmdlets in ordinary use only: {', '.join(f'`{n}`' for n in plain)}.",
        "", "### .NET methods", "", _table(["method", "uses, in order"], methods),
        "", "### cmd.exe internal commands", "", _table(["command", "uses, in order"], builtins),
    ])


def thresholds() -> str:
    low, high = WORLD_TIME_RANGE
    return "\n".join([
        _table(["name", "value", "meaning"], [[f"`{k}`", f"{v:g}", m] for k, (v, m) in {**THRESHOLDS, **LIMITS}.items()]),
        "",
        f"The world's epoch: event times from {low:%Y-%m-%d} to {high:%Y-%m-%d}.",
    ])


def depictions() -> str:
    return _table(["category", "at least one event shows"], [[f"`{c}`", what] for c, (what, _) in CATEGORY_DEPICTIONS.items()])


def suspicion() -> str:
    rows = [[r.title, r.level, ", ".join(t.removeprefix("attack.").upper() for t in r.tags if t.startswith("attack.t")) or "-",
             f"`{r.rule_id[-4:]}`"] for r in suspicion_rules()]
    return "\n".join([
        "Sigma rules in `adjudication/rules/opensoc.yml`, written apart from the verdict rules and wider on purpose. On a "
        "crafted incident, a hit whose events no verdict or context rule covers contests the verdict: the craft pays "
        "nothing and is never replayed.",
        "",
        _table(["indicator", "level", "ATT&CK", "id (last digits)"], rows),
    ])


def community() -> str:
    rows = [[f"`{t}`", f"`{src}`", sources, f"`{name}`", str(how)] for t, src, sources, name, how in mapping_table()]
    return "\n".join([
        f"With `${SIGMA_ENV_VAR}` naming a SigmaHQ rules folder (a checkout or the pinned snapshot; never copied into "
        "this repository), its high and critical rules are a second opinion that shares none of the verifier's "
        "parsing: they read the raw field values below, as a SIEM would. A hit on an event the verdict calls "
        "`dismiss` or `monitor` contests the craft, unless a context rule of the world covers that event or a verdict "
        "rule that fired on it names the same ATT&CK technique as the rule (they agree on what it is). A message "
        "based on a hit names the rule's author, as the Detection Rule License asks.",
        "",
        _table(["event type", "Sigma log source", "OpenSOC sources", "Sigma field", "raw value"], rows),
    ])


def plausibility() -> str:
    return _table(["code", "rejects"], [[f"`{c}`", d] for c, d in PLAUSIBILITY_CODES.items()])


def templates() -> str:
    rows = [[t.category, f"`{t.name}`", f"`{t.expected_action}`", "yes" if t.single_event else "", "yes" if t.evasive else ""]
            for t in sorted(TEMPLATES, key=lambda t: (t.category, t.name))]
    return _table(["category", "template", "verdict", "stage 1", "evasive"], rows)


def curriculum() -> str:
    rows = []
    for spec in TASKS.values():
        counts = Counter(compute_ground_truth(generate(spec.name, s)).action for s in range(LABEL_SAMPLE))
        dist = ", ".join(f"{a} {counts[a] / LABEL_SAMPLE:.0%}" for a in TRIAGE_ACTIONS if counts[a])
        rows.append([f"`{spec.name}`", spec.title, spec.description, dist])
    return "\n".join([
        f"Benign look-alikes are drawn with probability {BENIGN_SHARE:g}; the malicious actions a stage offers share "
        f"the rest equally. Label distribution measured on seeds 0–{LABEL_SAMPLE - 1}:",
        "",
        _table(["task", "stage", "what it draws", "label distribution"], rows),
    ])


def attack_table() -> str:
    rows = [[f"`{tid}`", name, ", ".join(tactics)] for tid, (name, tactics) in TECHNIQUES.items()]
    return "\n".join([
        f"Technique ids are checked offline against MITRE ATT&CK® Enterprise v{ATTACK_VERSION} "
        "(© The MITRE Corporation, used under the ATT&CK Terms of Use):",
        "",
        _table(["id", "name", "tactics"], rows),
    ])


def verifier_doc() -> str:
    return "\n".join([
        "# OpenSOC verifier reference",
        "",
        "_Generated by `python -m opensoc.reference` from `verifier.py`, `world/catalog.py`, "
        "`adjudication/admission.py`, `adjudication/rules/opensoc.yml`, `rubric.py`, `generator.py` and "
        "`tasks/registry.py`; do not edit by hand._",
        "",
        "## Verdict rules", "", verdict_rules(), "",
        "## Ordinary activities", "",
        "What the world does every day: an event no rule covers must be one of these, or the craft is refused.", "",
        ordinary(), "",
        "## Software catalog", "", software_catalog(), "",
        "## Thresholds", "", thresholds(), "",
        "## Plausibility codes", "",
        "An attacker's incident earns reward only when it passes every check below.", "", plausibility(), "",
        "## Category depictions", "",
        "The declared category must be shown by the events; these tests are independent of the verdict rules.", "",
        depictions(), "",
        "## Suspicion indicators", "", suspicion(), "",
        "## SigmaHQ community rules", "", community(), "",
        "## Defender reward", "", defender_rewards(), "",
        "## Attacker reward", "", attacker_rewards(), "",
        "## Incident templates", "", templates(), "",
        "## Curriculum", "", curriculum(), "",
        "## ATT&CK techniques", "", attack_table(), "",
    ])


def e1_scoring() -> str:


    c = DEFAULT_COSTS
    low, high = c.abstain_band()
    cells = [[f"**{gold}**"] + [f"{_fmt(c.decision_value(pred, gold))}" for pred in ("Benign", "Malicious", "Abstain")]
             for gold in ("Benign", "Malicious")]
    examples = [
        ("correct, confidence 0.9", _json.dumps({"label": "Malicious", "confidence": 0.9}), "Malicious"),
        ("missed attack, confidence 0.9", _json.dumps({"label": "Benign", "confidence": 0.9}), "Malicious"),
        ("false alarm, confidence 0.9", _json.dumps({"label": "Malicious", "confidence": 0.9}), "Benign"),
        ("Abstain on an attack", _json.dumps({"label": "Abstain", "confidence": 0.5}), "Malicious"),
        ("`confidence: true`", '{"label": "Malicious", "confidence": true}', "Malicious"),
        ('`confidence: "0.9"`', '{"label": "Malicious", "confidence": "0.9"}', "Malicious"),
        ("JSON in `<think>`, answer after it", '<think>{"label": "Benign"}</think>{"label": "Malicious", "confidence": 0.9}', "Malicious"),
        ("two JSON objects", '{"label": "Malicious", "confidence": 0.9} {"label": "Benign", "confidence": 0.9}', "Malicious"),
        ("lower-case label", '{"label": "malicious", "confidence": 0.9}', "Malicious"),
    ]
    rows = [[why, gold, f"{score_compat(text, gold).reward:+.3g}", f"{score_default(text, gold).reward:+.3g}"]
            for why, text, gold in examples]
    return "\n".join([
        "**Compatibility mode** (`scoring=compat`) reproduces Security Verifiers' E1: "
        "`R = 1.0·accuracy + 0.1·format + 0.2·(1 − |conf − correct|) + 0.5·cost`, cost +1 correct, −1 missed attack, "
        f"0 otherwise, with their lenient parser; range {list(reward_range('compat'))}.",
        "",
        "**Default mode**: decision value (rows gold, columns answer) + "
        f"{c.calibration_weight:g}·(1 − (conf − correct)²) + {c.format_weight:g} for a well-formed answer; range "
        f"{list(reward_range('default'))}.",
        "",
        _table(["gold \\ answer", "Benign", "Malicious", "Abstain"], cells),
        "",
        f"- The Brier term is a proper scoring rule: reporting your real probability of being right maximises it. "
        f"An Abstain earns the calibration credit of a 50/50 forecast ({0.75 * c.calibration_weight:g}).",
        f"- With these costs Abstain has the highest expected decision value when P(Malicious) lies in "
        f"({low:.3f}, {high:.3f}); below it answer Benign, above it Malicious. `E1Costs` sets FN, FP and Abstain values.",
        "- Parsing is strict: exactly one JSON object in the final answer (after any `</think>`), no duplicate keys or "
        "extra fields, a label among Benign/Malicious/Abstain (case and surrounding spaces ignored), and a confidence "
        "that is a JSON number in [0, 1]. Anything else scores the row's worst answer "
        f"({_fmt(-c.fn_cost)} on an attack, {_fmt(-c.fp_cost)} on benign traffic), so malformed output never pays.",
        "",
        _table(["output", "gold", "compat", "default"], rows),
    ])


def investigation() -> str:

    tasks = _table(["task", "incidents from", "store", "tool calls"],
                   [[f"`{s.name}`", f"`{s.curriculum_task}`", f"about {s.store_events:,} events over {s.store_hours:g} h",
                     str(s.call_budget)] for s in INVESTIGATION_TASKS.values()])
    tools = _table(["tool", "what it does", "arguments"],
                   [[f"`{t['name']}`", t["description"],
                     "; ".join(f"`{k}`: {v.get('description', '')}" for k, v in t["parameters"]["properties"].items())]
                    for t in tool_specs()])
    language = query_doc.split("\n\n", 1)[1]
    return "\n".join([tasks, "", tools, "", "**The query language.** " + language.strip()])


def investigation_headline() -> str:
    from ..eval.report import markdown_table  # optional heavy dependency: pulls in matplotlib

    results = json.loads((ROOT / "docs" / "eval_investigation" / "results.json").read_text(encoding="utf-8"))
    return markdown_table(results["policies"]).rstrip("\n")


def eval_headline() -> str:
    from ..eval.report import markdown_table  # optional heavy dependency: pulls in matplotlib

    results = json.loads((ROOT / "docs" / "eval" / "results.json").read_text(encoding="utf-8"))
    return markdown_table(results["policies"]).rstrip("\n")


def audit_figures() -> str:
    """``opensoc audit``'s committed figures (bench/audit_results.json) beside the verifier it replaced
    (bench/audit_before.json)."""
    now = json.loads((ROOT / "bench" / "audit_results.json").read_text())
    was = json.loads((ROOT / "bench" / "audit_before.json").read_text())
    c, h = now["catalog"], now["honest_play"]
    rows = [[f"`{f}`", r["what"], str(r["rewrites"]), str(r["kept"]), str(sum(r["refused"].values())),
             str(r["paid_flips"]), f"{was['rewrites'][f]['paid_flips']} of {was['rewrites'][f]['rewrites']}"]
            for f, r in now["rewrites"].items()]
    total = sum(r["rewrites"] for r in now["rewrites"].values())
    corpus, old_corpus = now["sigma_corpus"], was["sigma_corpus"]
    attack = [[name, f"{was['attacker'][name]['evasion_rate']:.1%} / {was['attacker'][name]['unsound_rate']:.1%}",
               f"{now['attacker'][name]['evasion_rate']:.1%} / {now['attacker'][name]['unsound_rate']:.1%}"]
              for name in ("uniform", "trained") if name in now.get("attacker", {})]
    contested = sum(h["contested_by_rule"].values())
    return "\n".join([
        f"`opensoc audit --seeds {h['incidents'] // 4}"
        + (f" --attacker-episodes {now['attacker']['uniform']['episodes']}" if "attacker" in now else "")
        + f" --json bench/audit_results.json`, with the SigmaHQ rules "
        f"{'loaded' if h['sigmahq_loaded'] else 'not loaded'}; before: `bench/audit_before.json`, the same "
        f"measurements on the verifier this design replaced (commit {was['commit']}, `bench/audit_before.py`).",
        "",
        f"- Software catalog: {c['programs']} programs, {c['cmdlets']} cmdlets, {c['methods']} .NET methods and "
        f"{c['builtins']} cmd.exe internal commands, {c['uses']} uses; {c['verdict_rules']} attack rules and "
        f"{c['context_rules']} context rules.",
        f"- Honest play: {h['incidents']} generated incidents (all four stages) adjudicated as crafts: "
        f"{sum(h['refused'].values())} refused, {contested} contested, {h['mislabelled']} mislabelled.",
        f"- SigmaHQ corpus: {corpus['events']} real-attack events written from the community rules, played as one-event "
        f"crafts claimed benign: {len(corpus['paid_as_dismiss'])} paid as `dismiss` (before: "
        f"{len(old_corpus['paid_as_dismiss'])}).",
        f"- Semantics-preserving rewrites: {total} drawn, {sum(r['paid_flips'] for r in now['rewrites'].values())} "
        f"paid flips (before: {sum(r['paid_flips'] for r in was['rewrites'].values())} of "
        f"{sum(r['rewrites'] for r in was['rewrites'].values())}).",
        "",
        _table(["family", "what it rewrites", "drawn", "verdict kept", "refused", "paid flips", "paid flips before"], rows),
        "",
        "The CPU attacker against the built-in `analyst` defender (evasion on sound crafts / crafts refused as unsound):",
        "",
        _table(["policy", "before", "now"], attack),
    ])


# Where each generated section is written: the docs page whose text it belongs to (paths from the checkout's root).
SECTIONS: dict[str, dict[str, Callable[[], str]]] = {
    "docs/reward.md": {"audit": audit_figures},
    "docs/service.md": {"action-space": action_space},
    "docs/investigation.md": {"investigation": investigation, "investigation-headline": investigation_headline},
    "docs/evaluation.md": {"eval-headline": eval_headline},
    "docs/e1.md": {"e1-scoring": e1_scoring},
}


def _between(body: str) -> Callable[[re.Match[str]], str]:
    """A substitution that puts ``body`` between a match's markers."""
    return lambda m: m.group(1) + body + m.group(2)


def render_sections(text: str, sections: dict[str, Callable[[], str]], page: str = "the page") -> str:
    """``text`` with each of ``sections`` re-rendered between its markers; a missing section is an error."""
    for name, render in sections.items():
        pattern = re.compile(rf"(<!-- BEGIN GENERATED: {name} -->\n).*?(<!-- END GENERATED: {name} -->)", re.S)
        if not pattern.search(text):
            raise ValueError(f"{page} lacks the generated section {name!r}")
        text = pattern.sub(_between(render() + "\n"), text)
    return text


def outputs() -> dict[Path, str]:
    """Every generated document, by path, as it should read now."""
    pages = {ROOT / page: render_sections((ROOT / page).read_text(encoding="utf-8"), sections, page)
             for page, sections in SECTIONS.items()}
    return {ROOT / "docs" / "verifier.md": verifier_doc(), **pages}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m opensoc.reference", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a generated document is stale")
    args = parser.parse_args(argv)
    stale = []
    for path, content in outputs().items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current != content:
            stale.append(path)
            if not args.check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(content, encoding="utf-8")
    for path in stale:
        print(f"{'stale' if args.check else 'wrote'}: {path.relative_to(ROOT)}")
    return 1 if (args.check and stale) else 0


