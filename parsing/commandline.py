"""How Windows reads a command line: argv splitting, cmd.exe's operators and escapes, PowerShell's parameters,
encoded commands and statements.

``parse_command_line(command_line, image)`` returns every program and cmdlet the line runs, outermost first:
``cmd.exe /c "vssadmin delete shadows /all"`` runs ``cmd.exe`` and then ``vssadmin.exe`` with the arguments
``delete shadows /all``. Verdict rules match programs and their arguments, never substrings of the whole line,
so a file name, a search string or a comment that mentions a technique is data, not the technique.

What the model reads the way Windows does:
- argv: ``CommandLineToArgvW``'s rules (quotes group, ``2n`` backslashes before a quote are ``n`` and the quote
  toggles, ``2n+1`` backslashes give a literal quote);
- cmd.exe: ``^`` escapes, ``&``, ``&&``, ``||``, ``|`` and parentheses between commands, redirections,
  ``rem`` comments, ``start`` and ``call``, ``/c`` / ``/k`` / ``/r`` command strings, nested to any depth up to
  ``MAX_DEPTH``;
- PowerShell (``powershell.exe``, ``pwsh.exe``): switches written with ``-``, ``/`` or the en dash, em dash or
  horizontal bar PowerShell accepts; any unambiguous prefix of a parameter (``-EncodedCom``, ``-enc``, ``-e``,
  ``-ec``); ``-EncodedCommand`` decoded from base64 UTF-16LE; ``#`` and ``<# #>`` comments removed; backtick
  escapes and ``'a'+'b'`` concatenation resolved; cmdlet aliases (``iex``, ``iwr``, ``icm``, ...) resolved;
- ``wmic process call create "..."`` and ``Start-Process`` run the command they are given.

What it cannot resolve is reported in ``unresolved``: cmd.exe variable substrings and substitutions
(``%COMSPEC:~-16,1%``), delayed expansion (``!v!``), PowerShell strings built at run time (``[char]``, ``-join``,
``-f``, ``-replace``, ``.Replace(``, ``-bxor``, reversal), an encoded command that does not decode, and an
unknown ``powershell.exe`` parameter. The plausibility checker refuses such events: an incident whose meaning
this model cannot read earns nothing.

Everything here is pure and bounded: at most ``MAX_DEPTH`` levels of nesting and ``MAX_INVOCATIONS`` programs per
line, on a line the schema caps at 1,024 characters.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

MAX_DEPTH = 4
MAX_INVOCATIONS = 32

# Characters Windows tools accept as a switch prefix: PowerShell accepts all five, so do most LOLBins.
SWITCH_DASHES = "-/\u2013\u2014\u2015"
_DASH_TRANSLATION = str.maketrans({"\u2013": "-", "\u2014": "-", "\u2015": "-"})

# A binary's canonical name. PE original names that differ from the file name map to the binary they
# identify, as do the 64-bit builds of Sysinternals tools.
_IMAGE_ALIASES = {
    "psexec.c": "psexec.exe",
    "psexec64.exe": "psexec.exe",
    "paexec64.exe": "paexec.exe",
    "procdump64.exe": "procdump.exe",
    "procdump64a.exe": "procdump.exe",
    "procdump": "procdump.exe",
    "pwsh.dll": "pwsh.exe",
    "nltestrk.exe": "nltest.exe",
    "net1.exe": "net.exe",
    "powershell_ise.exe": "powershell.exe",
}
_POWERSHELL = frozenset({"powershell.exe", "pwsh.exe"})
_CMD = "cmd.exe"

# powershell.exe's own parameters: name -> takes a value. Any unambiguous prefix selects one; PowerShell
# itself resolves the ambiguous "-e" and "-ec" to -EncodedCommand, as the ``_PS_FORCED`` table records.
_PS_PARAMETERS = {
    "command": True, "encodedcommand": True, "file": True, "executionpolicy": True, "windowstyle": True,
    "noprofile": False, "noninteractive": False, "nologo": False, "noexit": False, "sta": False, "mta": False,
    "version": True, "inputformat": True, "outputformat": True, "configurationname": True,
    "encodedarguments": True, "psconsolefile": True, "workingdirectory": True, "help": False,
    "settingsfile": True, "login": False, "commandwithargs": True, "custompipename": True,
}
_PS_FORCED = {"e": "encodedcommand", "ec": "encodedcommand", "enc": "encodedcommand", "en": "encodedcommand",
              "c": "command", "f": "file", "ep": "executionpolicy", "ex": "executionpolicy", "w": "windowstyle",
              "nop": "noprofile", "noni": "noninteractive", "v": "version", "wd": "workingdirectory",
              "?": "help", "l": "login", "cwa": "commandwithargs"}

# PowerShell aliases of the cmdlets the rules read.
_PS_ALIASES = {
    "iex": "invoke-expression", "iwr": "invoke-webrequest", "curl": "invoke-webrequest", "wget": "invoke-webrequest",
    "irm": "invoke-restmethod", "icm": "invoke-command", "etsn": "enter-pssession", "nsn": "new-pssession",
    "saps": "start-process", "start": "start-process", "gwmi": "get-wmiobject", "rwmi": "remove-wmiobject",
    "iwmi": "invoke-wmimethod", "gcim": "get-ciminstance", "rcim": "remove-ciminstance", "icim": "invoke-cimmethod",
    "sal": "set-alias", "ni": "new-item", "sp": "set-itemproperty", "gci": "get-childitem",
}

# cmd.exe's internal commands: they start no process.
_CMD_BUILTINS = frozenset({"echo", "set", "if", "for", "cd", "chdir", "dir", "copy", "del", "erase", "move", "type",
                           "mkdir", "md", "rd", "rmdir", "ren", "rename", "cls", "exit", "pause", "title", "ver",
                           "vol", "pushd", "popd", "goto", "shift", "setlocal", "endlocal", "assoc", "ftype", "path",
                           "prompt", "color", "date", "time", "verify", "mklink", "break"})

# Words that begin a PowerShell statement without naming a command.
_PS_KEYWORDS = frozenset({"if", "else", "elseif", "foreach", "for", "while", "do", "until", "switch", "function",
                          "filter", "param", "return", "try", "catch", "finally", "throw", "begin", "process", "end",
                          "trap", "break", "continue", "exit", "in", "class", "data", "dynamicparam", "using"})

_CMD_UNRESOLVED = re.compile(r"%[^%\s]*:~|%[^%\s:]+:[^%=]*=[^%]*%|![a-z_][a-z0-9_]*!")
_PS_UNRESOLVED = re.compile(
    r"\[char\]|\[char\[\]\]|-join\b|\[string\]::join|-f\s*\(|-f\s+['\"$]|['\"]\s*-f\b|-replace\b|\.replace\(|-bxor\b|"
    r"\[array\]::reverse|\[regex\]::|-split\b|\$env:comspec\[|\$pshome\[|\$shellid\[|\.invoke\(|\$\{[^}]*\}\s*\("
)


@dataclass(frozen=True)
class Invocation:
    """One program or cmdlet a command line runs.

    ``program`` is a lower-case file name with its extension (``vssadmin.exe``) for a process, or a lower-case
    cmdlet name with its alias resolved (``invoke-webrequest``). ``args`` are its arguments, lower-case, quotes
    removed, every switch dash written ``-``. ``script`` is, for PowerShell, the text it runs (lower-case, comments
    and escapes removed).
    """

    program: str
    args: tuple[str, ...]
    kind: Literal["process", "cmdlet"] = "process"
    script: str = ""

    def has_switch(self, *names: str) -> bool:
        """True when a switch ``-name`` (any of ``names``, any dash, ``:value`` allowed) is among the arguments."""
        wanted = set(names)
        return any(a[:1] in SWITCH_DASHES and _switch_name(a) in wanted for a in self.args)

    def has_parameter(self, name: str, *aliases: str, min_prefix: int = 2) -> bool:
        """True when a PowerShell-style parameter ``-name`` is given as any unambiguous prefix of at least
        ``min_prefix`` characters, or as one of its ``aliases``."""
        for a in self.args:
            if a[:1] in SWITCH_DASHES and len(a) > 1:
                given = _switch_name(a)
                if given in aliases or (len(given) >= min_prefix and name.startswith(given)):
                    return True
        return False

    def switch_value(self, *names: str) -> str | None:
        """The value of switch ``-name value`` or ``-name:value``; None when absent."""
        wanted = set(names)
        for i, a in enumerate(self.args):
            if a[:1] in SWITCH_DASHES and _switch_name(a) in wanted:
                if ":" in a:
                    return a.split(":", 1)[1]
                return self.args[i + 1] if i + 1 < len(self.args) else ""
        return None


@dataclass(frozen=True)
class ParsedCommandLine:
    """Every invocation a command line makes, outermost first, and what the model could not resolve."""

    invocations: tuple[Invocation, ...]
    unresolved: tuple[str, ...]

    @property
    def programs(self) -> tuple[str, ...]:
        return tuple(i.program for i in self.invocations)


def _switch_name(arg: str) -> str:
    return arg[1:].split(":", 1)[0]


@lru_cache(maxsize=1 << 14)
def canonical_image(name: str) -> str:
    """A binary's canonical name from any path form or PE name: lower-case base name, ``.exe`` when it has no
    extension (Windows resolves ``net`` to ``net.exe``), trailing dots and spaces dropped (Win32 drops them), and the
    aliases above applied (``PsExec64.exe`` and the PE name ``psexec.c`` are both ``psexec.exe``)."""
    base = re.split(r"[\\/]", name.strip().strip('"').strip())[-1].lower().rstrip(". ")
    if base and "." not in base:
        base += ".exe"
    return _IMAGE_ALIASES.get(base, base)


def split_argv(line: str) -> list[str]:
    """Split ``line`` into arguments by ``CommandLineToArgvW``'s rules (the rules the C runtime applies too)."""
    args: list[str] = []
    i, n = 0, len(line)
    while i < n:
        while i < n and line[i] in " \t\r\n":
            i += 1
        if i >= n:
            break
        current: list[str] = []
        in_quotes = False
        while i < n and (in_quotes or line[i] not in " \t\r\n"):
            if line[i] == "\\":
                j = i
                while j < n and line[j] == "\\":
                    j += 1
                slashes = j - i
                if j < n and line[j] == '"':
                    current.append("\\" * (slashes // 2))
                    if slashes % 2:
                        current.append('"')
                        i = j + 1
                    else:
                        i = j  # the quote is handled below
                else:
                    current.append("\\" * slashes)
                    i = j
                continue
            if line[i] == '"':
                if in_quotes and i + 1 < n and line[i + 1] == '"':  # "" inside quotes is a literal quote
                    current.append('"')
                    i += 2
                    continue
                in_quotes = not in_quotes
                i += 1
                continue
            current.append(line[i])
            i += 1
        args.append("".join(current))
    return args


def _cmd_segments(text: str) -> tuple[list[str], bool]:
    """cmd.exe's view of a command string: the commands ``&``, ``&&``, ``||``, ``|`` and parentheses separate,
    with ``^`` escapes applied, redirections dropped and a ``rem`` comment ending the line. Returns the segments
    and whether a comment was cut."""
    segments, current, in_quotes, i = [], [], False, 0
    cut = False
    while i < len(text):
        ch = text[i]
        if ch == "^" and not in_quotes and i + 1 < len(text):
            current.append(text[i + 1])
            i += 2
            continue
        if ch == '"':
            in_quotes = not in_quotes
        if not in_quotes and ch in "&|()":
            segments.append("".join(current))
            current = []
            i += 2 if text[i:i + 2] in ("&&", "||") else 1
            continue
        if not in_quotes and ch in "<>":  # a redirection: drop it and its target
            j = i + 1
            while j < len(text) and text[j] in ">&0123456789":
                j += 1
            while j < len(text) and text[j] == " ":
                j += 1
            while j < len(text) and text[j] not in " &|()":
                j += 1
            if current and current[-1] in "0123456789":  # the handle number of 2>&1
                current.pop()
            i = j
            continue
        current.append(ch)
        i += 1
    segments.append("".join(current))
    out = []
    for seg in segments:
        seg = seg.strip().lstrip("@").strip()
        if not seg:
            continue
        if re.match(r"(?i)rem(\s|$)|::", seg):
            cut = True
            break  # rem swallows the rest of the line, operators included
        out.append(seg)
    return out, cut


def _strip_cmd_prefixes(argv: list[str]) -> list[str]:
    """``start [/b] [/min] ["title"] prog args`` and ``call prog args`` run ``prog``."""
    while argv and argv[0].lower() in ("call", "start"):
        was_start = argv[0].lower() == "start"
        argv = argv[1:]
        if was_start:  # start's own switches, and the empty title people write as ""
            while argv and (argv[0].startswith("/") or argv[0] == ""):
                argv = argv[1:]
    return argv


def _ps_parameter(token: str) -> str | None:
    """The powershell.exe parameter a switch token names, by PowerShell's prefix rule; None if it names none."""
    name = token[1:].split(":", 1)[0].lower()
    if not name:
        return None
    if name in _PS_FORCED:
        return _PS_FORCED[name]
    matches = [p for p in _PS_PARAMETERS if p.startswith(name)]
    if len(matches) == 1:
        return matches[0]
    if name in matches:
        return name
    return None


def decode_encoded_command(value: str) -> str | None:
    """The script an ``-EncodedCommand`` value carries (base64 of UTF-16LE text), or None when it is not one."""
    value = value.strip().strip("'\"")
    try:
        raw = base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
        text = raw.decode("utf-16-le")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    # Random base64 decodes to some UTF-16 text too (mostly CJK); a script is overwhelmingly ASCII.
    ascii_share = sum(ch.isascii() and (ch.isprintable() or ch in "\r\n\t") for ch in text) / max(1, len(text))
    if not text or ascii_share < 0.9:
        return None
    return text


def normalize_powershell(script: str) -> str:
    """PowerShell text as it executes: comments removed, backtick escapes and ``'a'+'b'`` concatenations resolved,
    lower-case, whitespace collapsed."""
    out: list[str] = []
    i, n, quote = 0, len(script), ""
    while i < n:
        ch = script[i]
        if quote:
            if ch == "`" and quote == '"' and i + 1 < n:
                out.append(script[i + 1])
                i += 2
                continue
            if ch == quote:
                quote = ""
            out.append(ch)
            i += 1
            continue
        if script.startswith("<#", i):
            end = script.find("#>", i + 2)
            i = n if end < 0 else end + 2
            out.append(" ")
            continue
        if ch == "#" and (not out or out[-1] in " \t\r\n;{(|"):
            end = script.find("\n", i)
            i = n if end < 0 else end
            continue
        if ch == "`" and i + 1 < n:
            out.append(script[i + 1])
            i += 2
            continue
        if ch in "'\"":
            quote = ch
        out.append(ch)
        i += 1
    text = "".join(out).lower().translate(_DASH_TRANSLATION)
    text = re.sub(r"(['\"])\s*\+\s*\1", "", text)
    return " ".join(text.split())


def _ps_fragments(script: str) -> list[str]:
    """Pipeline elements of normalised PowerShell: text between ``;``, ``|``, braces and parentheses outside quotes."""
    fragments, current, quote = [], [], ""
    for ch in script:
        if quote:
            current.append(ch)
            if ch == quote:
                quote = ""
            continue
        if ch in "'\"":
            quote = ch
            current.append(ch)
            continue
        if ch in ";|{}()\n":
            fragments.append("".join(current))
            current = []
            continue
        current.append(ch)
    fragments.append("".join(current))
    return [f.strip() for f in fragments if f.strip()]


class _Parser:
    def __init__(self) -> None:
        self.invocations: list[Invocation] = []
        self.unresolved: list[str] = []

    def add(self, inv: Invocation) -> bool:
        if len(self.invocations) >= MAX_INVOCATIONS:
            self.unresolved.append(f"more than {MAX_INVOCATIONS} invocations")
            return False
        self.invocations.append(inv)
        return True

    def process(self, line: str, image: str | None, depth: int) -> None:
        """A process started with command line ``line`` (its image is ``image`` when known)."""
        if depth > MAX_DEPTH:
            self.unresolved.append(f"nested deeper than {MAX_DEPTH} levels")
            return
        if _CMD_UNRESOLVED.search(line.lower()):
            self.unresolved.append("cmd.exe variable substring, substitution or delayed expansion")
        argv = split_argv(line.replace("^", ""))
        if not argv and not image:
            return
        program = canonical_image(image or argv[0])
        args = tuple(a.lower().translate(_DASH_TRANSLATION) for a in argv[1:])
        if program == _CMD:
            # cmd.exe's own arguments are its switches; the command string after /c is read as the commands it runs.
            switches = []
            for a in args:
                switches.append(a)
                if a[:1] in SWITCH_DASHES and a[1:] in ("c", "k", "r"):
                    break
            self.add(Invocation(program, tuple(switches)))
            self._cmd(line, depth)
        elif program in _POWERSHELL:
            self._powershell(program, argv[1:], depth)
        else:
            if not self.add(Invocation(program, args)):
                return
            if program == "wmic.exe" and "create" in args:
                after = args[args.index("create") + 1:]
                if after:
                    self.process(" ".join(argv[1:][args.index("create") + 1:]), None, depth + 1)

    def _cmd(self, line: str, depth: int) -> None:
        # The command string is everything after the first /c, /k or /r switch, with one pair of outer quotes removed.
        match = re.search(r"(?i)(?:^|\s)[" + SWITCH_DASHES + r"][ckr](?=\s|\"|$)", line)
        if match is None:
            return
        rest = line[match.end():].strip()
        if rest.startswith('"') and rest.count('"') >= 2:
            last = rest.rfind('"')
            rest = rest[1:last] + rest[last + 1:]
        segments, _ = _cmd_segments(rest)
        for seg in segments:
            argv = _strip_cmd_prefixes(split_argv(seg))
            if argv and argv[0].lower() not in _CMD_BUILTINS:
                self.process(" ".join(_requote(a) for a in argv), None, depth + 1)

    def _powershell(self, program: str, argv: list[str], depth: int) -> None:
        script, positional, i = None, [], 0
        args_out: list[str] = []
        while i < len(argv):
            token = argv[i]
            if token[:1] in SWITCH_DASHES and len(token) > 1:
                param = _ps_parameter(token)
                if param is None:
                    self.unresolved.append(f"unknown {program} parameter {token[:40]!r}")
                    args_out.append(token.lower().translate(_DASH_TRANSLATION))
                    i += 1
                    continue
                args_out.append("-" + param)
                value = token.split(":", 1)[1] if ":" in token else None
                if _PS_PARAMETERS[param] and value is None:
                    i += 1
                    value = argv[i] if i < len(argv) else ""
                if param == "command" or param == "commandwithargs":
                    script = " ".join([value or "", *argv[i + 1:]]).strip()
                    break
                if param == "encodedcommand":
                    decoded = decode_encoded_command(value or "")
                    if decoded is None:
                        self.unresolved.append("an -EncodedCommand value that is not base64 UTF-16LE text")
                        script = ""
                    else:
                        script = decoded
                elif param == "file":
                    args_out.append((value or "").lower())
                elif value is not None:
                    args_out.append(value.lower())
                i += 1
                continue
            positional = argv[i:]  # powershell.exe runs its first positional argument and the rest as -Command
            script = " ".join(positional)
            break
        text = normalize_powershell(script or "")
        if not self.add(Invocation(program, tuple(args_out), script=text)):
            return
        if _PS_UNRESOLVED.search(text):
            self.unresolved.append("a PowerShell string built at run time")
        self._ps_statements(text, depth)

    def _ps_statements(self, text: str, depth: int) -> None:
        for fragment in _ps_fragments(text):
            if fragment[:1] in "'\"":  # a string expression, not a command
                continue
            argv = split_argv(fragment.replace("'", '"'))
            if argv and argv[0] in ("&", "."):
                argv = argv[1:]
            if not argv or argv[0][:1] in "$.[@" or argv[0][:1].isdigit():
                continue
            head = argv[0]
            if head in _PS_KEYWORDS:
                continue
            name = _PS_ALIASES.get(head, head)
            if "-" in name and "\\" not in name and "." not in name:  # a cmdlet: Verb-Noun
                inv = Invocation(name, tuple(argv[1:]), kind="cmdlet")
                if not self.add(inv):
                    return
                if name == "start-process":
                    target = inv.switch_value("filepath", "file", "path") or next(
                        (a for a in inv.args if a[:1] not in SWITCH_DASHES), None)
                    if target:
                        extra = inv.switch_value("argumentlist", "args") or ""
                        self.process(f"{_requote(target)} {extra}", None, depth + 1)
                continue
            program = canonical_image(head)
            if program.endswith((".exe", ".com")):
                self.process(" ".join(_requote(a) for a in argv), None, depth + 1)


def _requote(arg: str) -> str:
    return f'"{arg}"' if (" " in arg or not arg) and not arg.startswith('"') else arg


@lru_cache(maxsize=1 << 14)
def normalize_command_line(command_line: str | None) -> str:
    """A command line as flat text for surface matching: lower-case, carets, quotes and backticks removed, switch
    dashes written ``-``, whitespace collapsed. Verdict rules read ``parse_command_line`` instead."""
    if not command_line:
        return ""
    text = command_line.lower().translate(_DASH_TRANSLATION)
    for ch in "^\"'`":
        text = text.replace(ch, "")
    return " ".join(text.split())


@lru_cache(maxsize=1 << 14)
def parse_command_line(command_line: str | None, image: str | None = None) -> ParsedCommandLine:
    """Every invocation ``command_line`` makes, outermost first; ``image`` names the process when the log does."""
    parser = _Parser()
    if command_line or image:
        parser.process(command_line or "", image, 0)
    return ParsedCommandLine(tuple(parser.invocations), tuple(dict.fromkeys(parser.unresolved)))
