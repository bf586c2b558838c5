"""Semantics-preserving rewrites: the surface forms an attacker tries to hide an incident's meaning behind.

Each family takes one event (a dict keyed by the schema's dotted names) and a random source, and returns the event
written another way that means the same to the system that reads it (cmd.exe, PowerShell, a URL parser, Windows'
path rules), or ``None`` where the family has nothing to rewrite in that event. A rewrite must never turn into a paid
flip: the verifier either keeps its verdict on the rewritten incident or refuses it (``sweep`` counts both).

The families are generators of variants, not lists of examples: every draw picks the form, the position and the
spelling at random, so a property-based test and ``opensoc audit`` explore them the same way.
"""

from __future__ import annotations

import base64
import copy
import ipaddress
import random
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from pydantic import ValidationError

from ..adjudication.gate import adjudicate
from ..generator import generate
from ..parsing.commandline import split_argv
from ..schema import BENIGN_CATEGORIES, MALICIOUS_CATEGORIES, IncidentParams
from ..verifier import CATEGORY_DEPICTIONS, Window

Rewrite = Callable[[dict, random.Random], dict | None]

_CMD_EXE = "C:\\Windows\\System32\\cmd.exe"
_POWERSHELL_EXE = "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe"
_SHELLS = ("cmd.exe", "powershell.exe", "pwsh.exe")
# Folders Windows names with an environment variable, and the 8.3 names of long ones (as NTFS writes them).
_ENV_FOLDERS = (("C:\\Windows\\System32", ("%SystemRoot%\\System32", "%windir%\\system32", "%WINDIR%\\System32")),
                ("C:\\Windows", ("%SystemRoot%", "%windir%")),
                ("C:\\Program Files (x86)", ("%ProgramFiles(x86)%",)),
                ("C:\\Program Files", ("%ProgramFiles%", "%ProgramW6432%")),
                ("C:\\ProgramData", ("%ProgramData%", "%ALLUSERSPROFILE%")))
_SHORT_NAMES = (("C:\\Program Files (x86)", "C:\\PROGRA~2"), ("C:\\Program Files", "C:\\PROGRA~1"),
                ("C:\\ProgramData", "C:\\PROGRA~3"))
_URL = re.compile(r"(?i)\b(https?)://([^/\s\"'?#]+)")


def _is_process(event: dict) -> bool:
    return event.get("event_type") == "process_start" and bool(event.get("process.command_line"))


def _image(event: dict) -> str:
    name = event.get("process.pe.original_file_name") or event.get("process.name") or ""
    return name.rsplit("\\", 1)[-1].lower()


def _encoded(script: str) -> str:
    return base64.b64encode(script.encode("utf-16-le")).decode("ascii")


def _random_case(text: str, rng: random.Random) -> str:
    return "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in text)


def _as_shell(event: dict, image: str, command_line: str) -> dict:
    """``event`` as the shell process ``image`` that runs ``command_line`` (the program it wrapped is its child)."""
    out = {k: v for k, v in event.items() if k not in ("process.pe.original_file_name", "process.hash.sha256")}
    out["process.name"] = image.rsplit("\\", 1)[-1]
    out["process.executable"] = image
    out["process.command_line"] = command_line
    return out


def _plain_command(event: dict) -> str | None:
    """The event's command line when its process is not a shell and cmd.exe can run it unchanged (no characters
    that cmd would read as its own syntax)."""
    line = event["process.command_line"]
    if _image(event) in _SHELLS or any(c in line for c in "&|<>^%!()"):
        return None
    return line


# ------------------------------------------------------------------------------------------------ cmd.exe


def cmd_control(event: dict, rng: random.Random) -> dict | None:
    """The same command behind cmd.exe control syntax: ``if``, ``call``, ``for /f``, ``start``, ``&&`` chains,
    ``%COMSPEC%``, leading delimiters, carets and quoting of the whole line."""
    if not _is_process(event):
        return None
    line = _plain_command(event)
    if line is None:
        return None
    argv = split_argv(line)
    program, rest = (argv[0], line[len(line) - len(line.lstrip()):].split(None, 1)[1:]) if argv else ("", [])
    tail = f" {rest[0]}" if rest else ""
    caret = "".join(c + "^" if c.isalpha() and rng.random() < 0.3 else c for c in program).rstrip("^")
    forms = [f"cmd.exe /c if 1==1 {line}", f"cmd.exe /c call {line}", f'cmd.exe /c for /f %i in ("x") do {line}',
             f"cmd.exe /c echo off && {line}", f"cmd.exe /c ver || {line}", f"cmd.exe /c ,;, {line}",
             f"cmd.exe /c {caret}{tail}", f'cmd.exe /s /c "{line}"', f"cmd.exe /v:on /c {line}",
             f"cmd.exe /c %COMSPEC% /c {line}", f'cmd.exe /c start "" /b {line}', f"cmd.exe /q /c {line}",
             f"cmd.exe /c cd /d C:\\ & {line}", f"cmd.exe /k {line}"]
    return _as_shell(event, _CMD_EXE, rng.choice(forms))


def cmd_switches(event: dict, rng: random.Random) -> dict | None:
    """The same command behind cmd.exe's switches as cmd.exe reads them: ``/c`` glued to the command or to the
    program's name (``/cwhoami``, ``cmd.exe/c``, ``cmd/c``), chained flags (``/q/c``, ``/d/c``), and either case."""
    if not _is_process(event):
        return None
    line = _plain_command(event)
    if line is None:
        return None
    switch = rng.choice(("/c", "/C"))
    forms = [f"cmd.exe {switch}{line}", f"cmd.exe{switch} {line}", f"cmd{switch} {line}", f"CMD.EXE {switch}{line}",
             f"cmd.exe /q{switch} {line}", f"cmd.exe /d{switch}{line}", f"cmd.exe /Q /D {switch} {line}",
             f"{_CMD_EXE}{switch} {line}", f'"{_CMD_EXE}" {switch}{line}', f"cmd.exe /v:on/d{switch} {line}"]
    return _as_shell(event, _CMD_EXE, rng.choice(forms))


def cmd_environment(event: dict, rng: random.Random) -> dict | None:
    """A path in the command line spelled with the environment variable cmd.exe expands to it."""
    if not _is_process(event):
        return None
    line = _plain_command(event)
    if line is None:
        return None
    for folder, names in _ENV_FOLDERS:
        index = line.lower().find(folder.lower() + "\\")
        if index >= 0:
            spelled = line[:index] + rng.choice(names) + line[index + len(folder):]
            return _as_shell(event, _CMD_EXE, f"cmd.exe /c {spelled}")
    program = split_argv(line)[0] if split_argv(line) else ""
    if "\\" in program or not program.lower().endswith(".exe"):
        return None
    folder = "%SystemRoot%\\System32" if rng.random() < 0.5 else "%windir%\\system32"
    if _image(event) not in ("wmic.exe",) and (event.get("process.executable") or "").lower().startswith(
            "c:\\windows\\system32\\") and event["process.executable"].count("\\") == 3:
        return _as_shell(event, _CMD_EXE, f"cmd.exe /c {folder}\\{line}")
    return None


# ------------------------------------------------------------------------------------------------ PowerShell


def _ps_quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def powershell_call(event: dict, rng: random.Random) -> dict | None:
    """The same command run from PowerShell: the call operator on a string, a concatenation or a path built from
    ``$env:``, dot-sourcing, ``Start-Process``, ``Invoke-Expression`` of a literal, backticks in the name, and the
    whole script encoded."""
    if not _is_process(event):
        return None
    line = _plain_command(event)
    if line is None or "'" in line or '"' in line or "$" in line or "`" in line or "#" in line or ";" in line:
        return None
    argv = split_argv(line)
    if not argv:
        return None
    program, args = argv[0], " ".join(argv[1:])
    stem = program.rsplit("\\", 1)[-1]
    cut = rng.randint(1, max(1, len(stem) - 1))
    executable = event.get("process.executable") or ""
    env_path = None
    if executable.lower().startswith("c:\\windows\\"):
        env_path = '\\"$env:windir' + executable[len("C:\\Windows"):] + '\\"'
    tick = "".join(c + "`" if c.isalpha() and c.lower() not in "0abefnrtuvx" and rng.random() < 0.3 else c
                   for c in stem.removesuffix(".exe")).rstrip("`")
    forms = [f"& {_ps_quote(stem)} {args}", f"&({_ps_quote(stem[:cut])}+{_ps_quote(stem[cut:])}) {args}",
             f". {_ps_quote(stem)} {args}", f"Invoke-Expression {_ps_quote(line)}", f"iex {_ps_quote(line)}",
             f"{tick} {args}", f"Start-Process {_ps_quote(stem)} -ArgumentList {_ps_quote(args)}" if args else None,
             f"& {env_path} {args}" if env_path else None]
    script = rng.choice([f for f in forms if f])
    if rng.random() < 0.3:
        return _as_shell(event, _POWERSHELL_EXE, f"powershell.exe -NoProfile -EncodedCommand {_encoded(script)}")
    flag = rng.choice(("-c", "-Command", "/c", "-comm", "-C"))
    return _as_shell(event, _POWERSHELL_EXE, f'powershell.exe -NoProfile {flag} "{script}"')


def powershell_statements(event: dict, rng: random.Random) -> dict | None:
    """The same command as one statement among others in a PowerShell script: after a harmless statement and a new
    line (LF, CRLF or CR, which end a statement as ``;`` does), inside a grouping ``( )``, a cast ``[void]( )``, an
    array ``@( )`` or a subexpression ``$( )``, or as the argument of ``Write-Output ( )``; encoded or not."""
    if not _is_process(event):
        return None
    line = _plain_command(event)
    if line is None or any(c in line for c in "'\"$`#;{}"):
        return None
    statement = rng.choice((line, f"({line})", f"[void]({line})", f"@({line})", f"$({line})", f"Write-Output ({line})"))
    before = rng.choice(("Get-Date", "Get-Service -Name CcmExec", "Write-Output 'ready'", "$ErrorActionPreference = 'Stop'"))
    script = before + rng.choice(("\n", "\r\n", "\r", "\n\n", "; ")) + statement
    if rng.random() < 0.5 or "\n" in script or "\r" in script:
        return _as_shell(event, _POWERSHELL_EXE, f"powershell.exe -NoProfile -EncodedCommand {_encoded(script)}")
    return _as_shell(event, _POWERSHELL_EXE, f'powershell.exe -NoProfile -Command "{script}"')


def powershell_encoding(event: dict, rng: random.Random) -> dict | None:
    """A PowerShell ``-Command`` script re-sent encoded, under any prefix of ``-EncodedCommand``."""
    if not _is_process(event) or _image(event) not in ("powershell.exe", "pwsh.exe"):
        return None
    line = event["process.command_line"]
    match = re.search(r'(?i)\s[-/](?:c|co|com|comm|comma|comman|command)\s+(.+)$', line)
    if match is None:
        return None
    script = match.group(1).strip()
    if script.startswith('"') and script.endswith('"') and script.count('"') == 2:
        script = script[1:-1]
    elif '"' in script:
        return None
    flag = rng.choice(("-e", "-ec", "-en", "-enc", "-EncodedCommand", "-encodedc", "/enc", "-EnCoDeDcOmMaNd"))
    out = dict(event)
    out["process.command_line"] = line[:match.start()] + f" {flag} {_encoded(script)}"
    return out


# ------------------------------------------------------------------------------------------------ case, quotes, paths


def case_and_quotes(event: dict, rng: random.Random) -> dict | None:
    """The command line in another case (cmd.exe and Windows' programs ignore it) or with its arguments quoted."""
    if not _is_process(event):
        return None
    line = event["process.command_line"]
    if any(c in line for c in "'\"$`&|^%") or re.search(r"[A-Za-z0-9+/]{40,}", line):
        return None  # encoded text, URLs' paths and PowerShell strings keep their case
    if _URL.search(line):
        return None
    out = dict(event)
    if rng.random() < 0.5:
        out["process.command_line"] = _random_case(line, rng)
    else:
        argv = split_argv(line)
        out["process.command_line"] = " ".join(f'"{a}"' if a and rng.random() < 0.7 else a for a in argv)
    return out


def path_forms(event: dict, rng: random.Random) -> dict | None:
    """A path the event holds (image, parent, target, a path in the command line) in another spelling Windows reads
    the same: case, 8.3 short names, forward slashes, ``\\\\?\\`` and redundant ``.`` segments."""
    fields = [f for f in ("process.executable", "process.command_line", "winlog.event_data.TargetImage",
                          "registry.data.strings", "file.path") if isinstance(event.get(f), str) and ":\\" in event[f]]
    if not fields:
        return None
    name = rng.choice(fields)
    value = event[name]
    style = rng.randrange(4)
    if style == 0:
        for long, short in _SHORT_NAMES:
            if long.lower() in value.lower():
                start = value.lower().find(long.lower())
                value = value[:start] + short + value[start + len(long):]
                break
        else:
            return None
    elif style == 1:
        value = re.sub(r"(?i)C:\\", lambda m: rng.choice(("c:\\", "C:\\")), value)
        value = re.sub(r"(?i)\\windows\\system32\\", lambda m: _random_case(m.group(0), rng), value)
    elif style == 2:
        if name == "process.command_line":
            return None
        value = "\\\\?\\" + value if value[1:3] == ":\\" else None  # type: ignore[assignment]
        if value is None:
            return None
    else:
        value = re.sub(r"(?i)(C:\\Windows)\\", r"\1\\.\\", value, count=1)
        if value == event[name]:
            return None
    out = dict(event)
    out[name] = value
    return out


# ------------------------------------------------------------------------------------------------ URLs and names


def _host_spelling(host: str, rng: random.Random) -> str | None:
    try:
        ip = ipaddress.IPv4Address(host)
    except ValueError:
        return rng.choice((host.upper(), _random_case(host, rng), host + "."))
    value = int(ip)
    return rng.choice((str(value), hex(value), ".".join(f"0{int(p):o}" for p in str(ip).split(".")), f"[::ffff:{ip}]"))


def url_spellings(event: dict, rng: random.Random) -> dict | None:
    """A URL's host written another way a URL parser reads as the same or names as something else: userinfo before
    the host (``https://trusted@other/``), a trusted name after ``?@``, ``#@`` or ``\\@`` (query, fragment or path,
    not the host), case, a trailing dot, an IPv4 host as one number, in hex or octal."""
    out = dict(event)
    if isinstance(event.get("url.domain"), str) and rng.random() < 0.4:
        spelled = _host_spelling(event["url.domain"], rng)
        if spelled is None:
            return None
        out["url.domain"] = spelled
        return out
    for name in ("process.command_line", "registry.data.strings"):
        value = event.get(name)
        if isinstance(value, str) and (match := _URL.search(value)):
            host = match.group(2)
            if re.search(r"[A-Za-z0-9+/]{40,}", value):
                return None
            style = rng.randrange(4)
            decoy = rng.choice(("login.microsoftonline.com", "download.windowsupdate.com", "corp.example.com"))
            if style == 0:
                new = f"{decoy}@{host}"
            elif style == 1:  # the authority ends at ?, # or \: the decoy after them is query, fragment or path
                new = f"{host}{rng.choice(('?', '#', chr(92)))}@{decoy}"
            else:
                new = _host_spelling(host, rng) or host
            out[name] = value[:match.start(2)] + new + value[match.end(2):]
            return out
    if isinstance(event.get("dns.question.name"), str):
        out["dns.question.name"] = rng.choice((event["dns.question.name"].upper(), event["dns.question.name"] + "."))
        return out
    return None


REWRITES: dict[str, tuple[str, Rewrite]] = {
    "cmd_control": ("cmd.exe control syntax around the command", cmd_control),
    "cmd_environment": ("environment variables cmd.exe expands in paths", cmd_environment),
    "powershell_call": ("PowerShell call operator, concatenation, $env:, iex, backticks, Start-Process", powershell_call),
    "cmd_switches": ("cmd.exe switches glued to the command or the program, chained, in either case", cmd_switches),
    "powershell_encoding": ("-EncodedCommand under any of its prefixes", powershell_encoding),
    "powershell_statements": ("a statement after a new line, or inside ( ), [void]( ), @( ), $( ), Write-Output ( )",
                              powershell_statements),
    "case_and_quotes": ("case and quoting of a command line", case_and_quotes),
    "path_forms": ("path spellings: case, 8.3 names, \\\\?\\, . segments", path_forms),
    "url_spellings": ("URL host spellings: userinfo, case, trailing dot, numeric IPv4", url_spellings),
}


def rewrite_incident(data: dict, family: str, rng: random.Random, *, log_ids: Iterable[str] | None = None) -> dict | None:
    """``data`` (an incident as JSON) with one event rewritten by ``family``: an event among ``log_ids`` when given
    (the events the verdict rests on), else any; ``None`` when the family rewrites none of them."""
    rewrite = REWRITES[family][1]
    wanted = set(log_ids or ())
    indices = [i for i, e in enumerate(data["events"]) if not wanted or e.get("log_id") in wanted]
    rng.shuffle(indices)
    for i in indices:
        new = rewrite(copy.deepcopy(data["events"][i]), rng)
        if new is not None and new != data["events"][i]:
            out = copy.deepcopy(data)
            out["events"][i] = new
            return out
    return None


@dataclass
class SweepResult:
    """What the rewrites of one family did: the verdict kept, the rewrite refused (by code or outcome), or a paid
    flip (the rewritten incident admitted, uncontested and judged otherwise)."""

    family: str
    kept: int = 0
    refused: Counter = field(default_factory=Counter)
    flipped: list[tuple[str, int, str, str]] = field(default_factory=list)  # (task, seed, before, after)

    @property
    def total(self) -> int:
        return self.kept + sum(self.refused.values()) + len(self.flipped)


def judge_verdict(data: dict) -> tuple[str | None, str | None]:
    """(refusal, verdict) of an incident as JSON: why it cannot pay, or None and the verdict it is paid on."""
    try:
        params = IncidentParams.model_validate(data)
    except ValidationError as err:
        return f"SCHEMA:{err.errors()[0]['loc'][-1]}", None
    result = adjudicate(params)
    if not result.plausibility.ok:
        return result.plausibility.violations[0].code, result.truth.action
    if result.contested_by:
        return "CONTESTED", result.truth.action
    return None, result.truth.action


def recategorised(data: dict, verdict: str) -> dict:
    """``data`` claimed as ``verdict`` under a category of its kind that its events depict, as a gaming attacker
    would send it."""
    kinds = BENIGN_CATEGORIES if verdict == "dismiss" else MALICIOUS_CATEGORIES
    window = Window(IncidentParams.model_validate(data))
    category = next((c for c in kinds if CATEGORY_DEPICTIONS[c][1](window)), data["category"])
    return {**data, "category": category, "target_label": verdict}


def judge_corpus_event(event: dict) -> tuple[str | None, str | None]:
    """(refusal, verdict) of one real-attack event played alone as a craft claimed benign, as a gaming attacker
    plays it: re-claimed under a category it depicts when the benign claim is refused for its category."""
    data = {"category": "software_update", "target_label": "dismiss", "narrative": "",
            "events": [{**event, "log_id": "L1-0"}]}
    refusal, verdict = judge_verdict(data)
    if refusal and refusal.startswith("CATEGORY") and verdict:
        refusal, verdict = judge_verdict(recategorised(data, verdict))
    return refusal, verdict


def judge_rewrite(original: str, rewritten: dict) -> tuple[str, str | None]:
    """How one rewrite of an incident the verifier judged ``original`` ends: ``("kept", None)``, ``("refused",
    code)`` or ``("flipped", verdict)`` (admitted, uncontested and judged otherwise even when claimed as such)."""
    refusal, verdict = judge_verdict(rewritten)
    if verdict == original and refusal is None:
        return "kept", None
    if refusal is not None and (verdict is None or verdict == original):
        return "refused", refusal
    assert verdict is not None
    claimed = recategorised(rewritten, verdict)
    refusal, again = judge_verdict(claimed)
    if refusal is None and again != original:
        return "flipped", again
    return "refused", refusal or "MISLABELLED"


def sweep(tasks: Iterable[str], seeds: Iterable[int], families: Iterable[str] = tuple(REWRITES),
          tries: int = 2, progress: Callable[[int], None] | None = None) -> dict[str, SweepResult]:
    """Every family's rewrites of the generated incidents of ``tasks`` x ``seeds`` (``tries`` draws each, aimed at
    the events the verdict rests on), each judged by ``judge_rewrite``. Deterministic: each draw is seeded by its
    family, task, seed and try."""
    results = {f: SweepResult(f) for f in families}
    for task in tasks:
        for seed in seeds:
            params = generate(task, seed)
            truth = adjudicate(params).truth
            data = params.model_dump(mode="json", exclude_none=True)
            aim = {i for f in truth.rules_fired for i in f.log_ids} or None
            for family, result in results.items():
                for attempt in range(tries):
                    rng = random.Random(f"{family}:{task}:{seed}:{attempt}")
                    rewritten = rewrite_incident(data, family, rng, log_ids=aim)
                    if rewritten is None:
                        continue
                    outcome, detail = judge_rewrite(truth.action, rewritten)
                    if outcome == "kept":
                        result.kept += 1
                    elif outcome == "refused":
                        result.refused[detail] += 1
                    else:
                        result.flipped.append((task, seed, truth.action, str(detail)))
            if progress is not None:
                progress(1)
    return results
