"""How Windows reads a command line: argv splitting, cmd.exe's grammar and variables, PowerShell's parameters,
encoded commands, call operator and statements, and the command lines other programs run or keep for later.

``parse_command_line(command_line, image, user)`` returns every program and cmdlet the line runs (or stores to run
later), outermost first: ``cmd.exe /c "vssadmin delete shadows /all"`` runs ``cmd.exe`` and then ``vssadmin.exe``
with the arguments ``delete shadows /all``. Rules match programs and their arguments, never substrings of the
whole line, so a file name, a search string or a comment that mentions a technique is data, not the technique.

What the model reads the way Windows does:
- argv: ``CommandLineToArgvW``'s rules (quotes group, ``2n`` backslashes before a quote are ``n`` and the quote
  toggles, ``2n+1`` backslashes give a literal quote);
- cmd.exe: ``%NAME%`` expanded from the host's environment (``world.environment``; a name it does not set stays as
  written), ``^`` escapes, ``&``, ``&&``, ``||``, ``|`` and parentheses between commands, redirections, ``rem`` and
  ``::`` comments, ``,``, ``;`` and ``=`` as delimiters, ``start``, ``call``, ``if`` (its condition, then its
  command), ``for`` (a ``for /f`` set that is a command runs it; the ``do`` command runs), ``/c`` / ``/k`` / ``/r``
  command strings nested to any depth up to ``MAX_DEPTH`` (cmd.exe's own switches read as it reads them: ``/c``
  glued to the command or to the program's name, chained flags such as ``/q/c``; any other argument of cmd.exe is
  unresolved), and a command piped into ``cmd`` or ``powershell -`` from ``echo``;
- PowerShell: switches written with ``-``, ``/`` or the en dash, em dash or horizontal bar; any unambiguous prefix
  of a parameter; ``-EncodedCommand`` decoded from base64 UTF-16LE; comments removed; backtick escapes and
  ``'a'+'b'`` concatenation resolved; ``$env:NAME`` expanded; aliases resolved; the call operator ``&`` (and ``.``)
  on a string, a parenthesised concatenation of strings, or a script block; ``Invoke-Expression`` (``iex``) of a
  string or of a download; a new line ends a statement as ``;`` does (unless the statement goes on, after ``|``
  or an operator, or a backtick ends the line); what parentheses hold runs (``(cmd)``, ``[void](...)``, ``@(...)``,
  ``$(...)``, an argument ``(...)``);
- command lines run or kept by other programs: ``wmic process call create``, ``Start-Process``, ``forfiles /c``,
  ``conhost --headless``, ``runas``, ``schtasks /create|/change /tr``, ``sc create|config binPath=``, ``sc failure
  command=``, ``reg add /d`` to an autostart key or a service (the kept ones are marked ``stored``); a task defined
  in an XML file is unresolved.

What it cannot resolve is reported in ``unresolved``, and the event is refused rather than read as harmless:
cmd.exe variable substrings and substitutions (``%COMSPEC:~-16,1%``), delayed expansion (``!v!``), PowerShell
strings built at run time (``[char]``, ``-join``, ``-f``, ``-replace``, ``.Replace(``, ``-bxor``, reversal), a
variable or expression used as a command name, an ``Invoke-Expression`` of something that is not a literal or a
download, a command piped into an interpreter from anything but ``echo``, an encoded command that does not decode,
and an unknown ``powershell.exe`` parameter.

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

from ..world.environment import expand_cmd, expand_powershell
from .registry import registry_location

MAX_DEPTH = 6
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
    "cmd.exe.mui": "cmd.exe",
}
INTERPRETERS = frozenset({"powershell.exe", "pwsh.exe"})
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

# PowerShell's built-in aliases of the cmdlets the world knows.
PS_ALIASES = {
    "iex": "invoke-expression", "iwr": "invoke-webrequest", "curl": "invoke-webrequest", "wget": "invoke-webrequest",
    "irm": "invoke-restmethod", "icm": "invoke-command", "etsn": "enter-pssession", "nsn": "new-pssession",
    "saps": "start-process", "start": "start-process", "gwmi": "get-wmiobject", "rwmi": "remove-wmiobject",
    "iwmi": "invoke-wmimethod", "gcim": "get-ciminstance", "rcim": "remove-ciminstance", "icim": "invoke-cimmethod",
    "sal": "set-alias", "ni": "new-item", "sp": "set-itemproperty", "gci": "get-childitem", "ls": "get-childitem",
    "dir": "get-childitem", "gps": "get-process", "ps": "get-process", "gsv": "get-service", "sasv": "start-service",
    "spsv": "stop-service", "select": "select-object", "where": "where-object", "?": "where-object",
    "foreach": "foreach-object", "%": "foreach-object", "sort": "sort-object", "measure": "measure-object",
    "ft": "format-table", "fl": "format-list", "echo": "write-output", "write": "write-output", "cat": "get-content",
    "gc": "get-content", "type": "get-content", "cp": "copy-item", "copy": "copy-item", "mv": "move-item",
    "move": "move-item", "rm": "remove-item", "del": "remove-item", "erase": "remove-item", "ri": "remove-item",
    "cd": "set-location", "sl": "set-location", "pwd": "get-location", "gl": "get-location", "kill": "stop-process",
    "spps": "stop-process", "cls": "clear-host", "h": "get-history", "history": "get-history", "gm": "get-member",
    "ipmo": "import-module", "gcm": "get-command", "gi": "get-item", "gp": "get-itemproperty", "ac": "add-content",
    "sc": "set-content", "tee": "tee-object", "irm ": "invoke-restmethod", "nal": "new-alias", "sv": "set-variable",
    "gv": "get-variable", "nv": "new-variable", "oh": "out-host", "ogv": "out-gridview", "epal": "export-alias",
}

# cmd.exe's internal commands: they start no process.
_CMD_BUILTINS = frozenset({"echo", "set", "cd", "chdir", "dir", "copy", "del", "erase", "move", "type",
                           "mkdir", "md", "rd", "rmdir", "ren", "rename", "cls", "exit", "pause", "title", "ver",
                           "vol", "pushd", "popd", "goto", "shift", "setlocal", "endlocal", "assoc", "ftype", "path",
                           "prompt", "color", "date", "time", "verify", "mklink", "break", "echo.", "else"})
# Words that begin a PowerShell statement without naming a command.
_PS_KEYWORDS = frozenset({"if", "else", "elseif", "foreach", "for", "while", "do", "until", "switch", "function",
                          "filter", "param", "return", "try", "catch", "finally", "throw", "begin", "process", "end",
                          "trap", "break", "continue", "exit", "in", "class", "data", "dynamicparam", "using"})

_CMD_UNRESOLVED = re.compile(r"%[^%\s]*:~|%[^%\s:]+:[^%=]*=[^%]*%|![a-z_][a-z0-9_]*!")
_PS_UNRESOLVED = re.compile(
    r"\[char\]|\[char\[\]\]|-join\b|\[string\]::join|-f\s*\(|-f\s+['\"$]|['\"]\s*-f\b|-replace\b|\.replace\(|-bxor\b|"
    r"\[array\]::reverse|\[regex\]::|-split\b|\$env:comspec\[|\$pshome\[|\$shellid\[|\.invoke\(|\$\{[^}]*\}\s*\("
)
_DOWNLOAD = re.compile(r"downloadstring|downloaddata|downloadfile|openread\(|invoke-webrequest|invoke-restmethod|"
                       r"\biwr\b|\birm\b|net\.webclient|bitstransfer|xmlhttp|winhttprequest")


@dataclass(frozen=True)
class Invocation:
    """One program or cmdlet a command line runs (or keeps to run later).

    ``program`` is a lower-case file name with its extension (``vssadmin.exe``) for a process, or a lower-case
    cmdlet name with its alias resolved (``invoke-webrequest``). ``args`` are its arguments, lower-case, quotes
    removed, every switch dash written ``-``. ``script`` is, for PowerShell, the text it runs (lower-case, comments
    and escapes removed). ``written`` is the program as the command line wrote it (a path, when it gave one).
    ``stored`` marks a command line kept for later: a task's action, a service's image path, a registry value.
    A ``method`` is a .NET method a PowerShell expression calls (``delete``, ``system.io.file::delete``), with the
    script around it as ``script``. ``piped`` is, for a cmdlet, the pipeline element whose objects it receives. A
    ``builtin`` is one of cmd.exe's internal commands (``copy``, ``assoc``, ``echo``), which start no process.
    """

    program: str
    args: tuple[str, ...]
    kind: Literal["process", "cmdlet", "method", "builtin"] = "process"
    script: str = ""
    written: str = ""
    stored: bool = False
    piped: str = ""

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

    @property
    def text(self) -> str:
        """The arguments and the script, as one lower-case text (for finding URLs and paths)."""
        return " ".join(self.args) + (" " + self.script if self.script else "")


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


def _cmd_segments(text: str) -> tuple[list[tuple[str, str]], bool]:
    """cmd.exe's view of a command string: (operator before, command) pairs, the commands ``&``, ``&&``, ``||``,
    ``|`` and parentheses separate, with ``^`` escapes applied and redirections dropped; a ``rem`` or ``::`` comment
    ends the line. Returns the segments and whether a comment was cut."""
    segments: list[tuple[str, str]] = []
    current: list[str] = []
    in_quotes, i, op = False, 0, ""
    while i < len(text):
        ch = text[i]
        if ch == "^" and not in_quotes and i + 1 < len(text):
            current.append(text[i + 1])
            i += 2
            continue
        if ch == '"':
            in_quotes = not in_quotes
        if not in_quotes and ch in "&|()":
            segments.append((op, "".join(current)))
            current = []
            two = text[i:i + 2]
            op = two if two in ("&&", "||") else ch
            i += 2 if two in ("&&", "||") else 1
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
    segments.append((op, "".join(current)))
    out: list[tuple[str, str]] = []
    cut = False
    for before, seg in segments:
        seg = seg.strip(" \t,;=").lstrip("@").strip(" \t,;=")
        if not seg:
            continue
        if re.match(r"(?i)rem([\s,;=]|$)|::", seg):
            cut = True
            break  # rem swallows the rest of the line, operators included
        out.append((before, seg))
    return out, cut


_IF_CONDITION = re.compile(
    r"""(?ix)^if\s+(?:/i\s+)?(?:not\s+)?
        (?:errorlevel\s+\S+|cmdextversion\s+\S+|defined\s+\S+|exist\s+(?:"[^"]*"|\S+)
         |(?:"[^"]*"|[^\s=]+)\s*==\s*(?:"[^"]*"|[^\s]+)
         |(?:"[^"]*"|\S+)\s+(?:equ|neq|lss|leq|gtr|geq)\s+(?:"[^"]*"|\S+))\s*""")
_FOR_HEAD = re.compile(r"(?i)^for(\s+/[dlr](\s+(\"[^\"]*\"|\S+))?|\s+/f(\s+\"[^\"]*\")?)*\s+%%?\w\s+in\s*$")
_CMD_HEAD = re.compile(r'^(?:"[^"]*"|[^\s,;="]+)+')


def _cmd_command_words(seg: str) -> tuple[str, str]:
    """(program as written, the rest) of a cmd.exe command: the name ends at a space, tab, comma, semicolon or equals
    sign outside quotes, as cmd.exe reads a command name."""
    m = _CMD_HEAD.match(seg)
    if not m:
        return "", seg
    return m.group(0).replace('"', ""), seg[m.end():].lstrip(" \t,;=")


def _strip_cmd_prefixes(seg: str) -> str:
    """``start [/b] [/min] ["title"] prog args`` and ``call prog args`` run ``prog``."""
    while True:
        word, rest = _cmd_command_words(seg)
        low = word.lower()
        if low == "call":
            seg = rest
            continue
        if low == "start":
            argv = split_argv(rest)
            while argv and (argv[0].startswith("/") or argv[0] == ""):
                argv = argv[1:]
            seg = " ".join(_requote(a) for a in argv)
            continue
        return seg


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


_PS_CONTINUES = frozenset(";({[|,=+-*/%&.!<>")  # a statement goes on past a new line after these


def normalize_powershell(script: str) -> str:
    """PowerShell text as it executes: comments removed, backtick escapes and ``'a'+'b'`` concatenations resolved,
    a new line that ends a statement written ``;``, lower-case, whitespace collapsed."""
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
            if script[i + 1] in "\r\n":  # a backtick at the end of a line continues the statement
                out.append(" ")
                i += 3 if script.startswith("\r\n", i + 1) else 2
                continue
            out.append(script[i + 1])
            i += 2
            continue
        if ch in "\r\n":  # a new line ends a statement, as ";" does, unless the statement cannot end there
            before = next((c for piece in reversed(out) for c in reversed(piece) if c not in " \t"), "")
            after = next((c for c in script[i:i + 64] if c not in " \t\r\n"), "")
            out.append(" " if not before or before in _PS_CONTINUES or after in ")}|" else " ; ")
            i += 1
            continue
        if ch in "'\"":
            quote = ch
        out.append(ch)
        i += 1
    text = "".join(out).lower().translate(_DASH_TRANSLATION)
    text = re.sub(r"(['\"])\s*\+\s*\1", "", text)
    text = " ".join(text.split())
    return re.sub(r"(?:; )+;", ";", text)  # blank lines end nothing more


# ------------------------------------------------------------------------------------------------ PowerShell tokens

_PS_TOKEN = re.compile(r"""\s*(?:
    (?P<sq>'(?:[^']|'')*')
  | (?P<dq>"(?:[^"`]|`.)*")
  | (?P<var>\$\{[^}]*\}|\$[\w:]+)
  | (?P<op>[;|{}()&+,=]|\n)
  | (?P<word>[^\s;|{}()&+,='"]+)
)""", re.X)


def _ps_tokens(text: str) -> list[tuple[str, str]] | None:
    """PowerShell's tokens of a normalised script: (kind, text) pairs; None when it does not tokenise."""
    tokens, i = [], 0
    while i < len(text):
        m = _PS_TOKEN.match(text, i)
        if m is None or m.end() == i:
            if text[i:].strip() == "":
                break
            return None
        kind = m.lastgroup or "word"
        tokens.append((kind, m.group(kind)))
        i = m.end()
    return tokens


def _ps_string(token: tuple[str, str], user: str | None) -> str | None:
    """The value of a string token (a double-quoted one with ``$env:`` expanded); None when it is not constant."""
    kind, text = token
    if kind == "sq":
        return text[1:-1].replace("''", "'")
    if kind == "dq":
        body = expand_powershell(text[1:-1], user)
        return None if "$" in body else body
    return None


def judged_registry_write(key: str, value: str | None) -> bool:
    """Whether Windows reads the value ``reg add`` writes at ``key`` (``value`` its name, None for the default) as a
    command line to run: an autostart value or a service's image path (``registry.registry_location``)."""
    return registry_location(f"{key}\\{value or ''}")[0] in ("autostart", "service_image")


_CMD_FLAGS = frozenset("qdasuxy")  # cmd.exe's one-letter switches: echo off, no AutoRun, ANSI, /S quoting, Unicode
_CMD_VALUED = frozenset("eftv")  # /E:ON, /F:OFF, /T:fg, /V:ON


def cmd_switches(line: str) -> tuple[tuple[str, ...], str | None, str | None]:
    """cmd.exe's reading of its own command line: its switches, the command string it runs (after ``/c``, ``/k`` or
    ``/r``, with or without a space: ``/cdir``, ``cmd.exe/c``, ``/q/c``; one pair of outer quotes removed), and what
    it could not read. cmd.exe takes only ``/`` as its switch character; a word that is no switch of its is unread."""
    text = line.lstrip()
    if text.startswith('"'):
        end = text.find('"', 1)
        rest = text[end + 1:] if end >= 0 else ""
    else:
        token = re.match(r'[^\s"]*', text)
        written = token.group(0) if token else ""
        glued = re.match(r"(?i)(.*?(?:^|[\\/:])cmd(?:\.exe)?)(?=/)", written)  # cmd/c: the name ends at the switch
        rest = text[len(glued.group(1)):] if glued else text[len(written):]
    switches: list[str] = []
    i, n = 0, len(rest)
    while True:
        while i < n and rest[i] in " \t":
            i += 1
        if i >= n:
            return tuple(switches), None, None  # an interactive shell: no command string
        letter = rest[i + 1:i + 2].lower()
        if rest[i] != "/" or not letter:
            return tuple(switches), None, f"a cmd.exe argument that is none of its switches: {rest[i:i + 40]!r}"
        if letter in "ckr":
            command = rest[i + 2:].strip()
            if command.startswith('"') and command.count('"') >= 2:
                last = command.rfind('"')
                command = command[1:last] + command[last + 1:]
            return (*switches, "/" + letter), command, None
        if letter in _CMD_FLAGS and (i + 2 >= n or rest[i + 2] in " \t/"):
            switches.append("/" + letter)
            i += 2
        elif letter in _CMD_VALUED and rest[i + 2:i + 3] == ":":
            end = i + 3
            while end < n and rest[end] not in " \t/":
                end += 1
            switches.append(rest[i:end].lower())
            i = end
        else:
            return tuple(switches), None, f"a cmd.exe switch it does not read: {rest[i:i + 40]!r}"


class _Parser:
    def __init__(self, user: str | None) -> None:
        self.user = user
        self.invocations: list[Invocation] = []
        self.unresolved: list[str] = []

    def add(self, inv: Invocation) -> bool:
        if len(self.invocations) >= MAX_INVOCATIONS:
            self.unresolved.append(f"more than {MAX_INVOCATIONS} invocations")
            return False
        self.invocations.append(inv)
        return True

    def note(self, why: str) -> None:
        if why not in self.unresolved:
            self.unresolved.append(why)

    # -------------------------------------------------------------------------------------------- processes

    def process(self, line: str, image: str | None, depth: int, stored: bool = False) -> None:
        """A process started with command line ``line`` (its image is ``image`` when known)."""
        if depth > MAX_DEPTH:
            self.note(f"nested deeper than {MAX_DEPTH} levels")
            return
        argv = split_argv(line)
        if not argv and not image:
            return
        written = argv[0] if argv else (image or "")
        program = canonical_image(image or written)
        args = tuple(a.lower().translate(_DASH_TRANSLATION) for a in argv[1:])
        if program == _CMD:
            switches, command, problem = cmd_switches(line)
            if not self.add(Invocation(program, switches, written=written, stored=stored)):
                return
            if problem:
                self.note(problem)
            if command is not None:
                self.cmd(command, depth, stored)
        elif program in INTERPRETERS:
            self._powershell(program, argv[1:], depth, written, stored)
        else:
            if not self.add(Invocation(program, args, written=written, stored=stored)):
                return
            self._nested(program, argv[1:], args, depth, stored)

    def _nested(self, program: str, raw: list[str], args: tuple[str, ...], depth: int, stored: bool) -> None:
        """The command lines a program runs (or keeps) that are written among its arguments."""
        def after(marker: str) -> str | None:
            """The command line written after ``marker``: one argument is the whole line, several are its words."""
            if marker in args:
                rest = raw[args.index(marker) + 1:]
                return rest[0] if len(rest) == 1 else (" ".join(_requote(a) for a in rest) or None)
            return None

        def value_of(*names: str) -> str | None:
            for i, a in enumerate(args):
                if a[:1] in SWITCH_DASHES and _switch_name(a) in names:
                    return raw[i + 1] if i + 1 < len(raw) else None
            return None

        if program == "wmic.exe" and {"process", "call", "create"} <= set(args):
            # The method's first parameter is the command line: one (quoted) argument, or the words up to a comma.
            rest = raw[args.index("create") + 1:]
            nested = (rest[0].rstrip(",") if rest and (" " in rest[0] or len(rest) == 1 or rest[0].endswith(","))
                      else after("create"))
            if nested:
                self.process(nested, None, depth + 1, stored)
        elif program == "forfiles.exe":
            nested = value_of("c")
            if nested:
                self.process(nested, None, depth + 1, stored)
        elif program == "conhost.exe" and "--headless" in args:
            rest = [a for a, low in zip(raw, args, strict=True) if low != "--headless"]
            if rest:
                self.process(" ".join(_requote(a) for a in rest), None, depth + 1, stored)
        elif program == "runas.exe":
            positional = [a for a, low in zip(raw, args, strict=True) if low[:1] not in SWITCH_DASHES]
            if positional:
                self.process(positional[-1], None, depth + 1, stored)
        elif program == "schtasks.exe" and any(_switch_name(a) in ("create", "change") for a in args
                                               if a[:1] in SWITCH_DASHES):
            nested = value_of("tr")
            if nested:
                self.process(nested, None, depth + 1, stored=True)
            if value_of("xml") is not None:
                self.note("a scheduled task defined in an XML file, whose action the command line does not show")
        elif program == "sc.exe" and {"create", "config", "failure"} & set(args):
            for i, a in enumerate(args):  # a service's image path, and the command a failure runs
                for option in ("binpath=", "command="):
                    if a == option and i + 1 < len(raw):
                        self.process(raw[i + 1], None, depth + 1, stored=True)
                    elif a.startswith(option) and len(a) > len(option):
                        self.process(raw[i][len(option):], None, depth + 1, stored=True)
        elif program == "reg.exe" and args[:1] == ("add",):
            data = value_of("d")
            if data and judged_registry_write(args[1] if len(args) > 1 else "", value_of("v")):
                self.process(expand_cmd(data, self.user), None, depth + 1, stored=True)

    # -------------------------------------------------------------------------------------------------- cmd.exe

    def cmd(self, text: str, depth: int, stored: bool = False) -> None:
        """The commands cmd.exe runs for the command string ``text``."""
        if _CMD_UNRESOLVED.search(text.lower()):
            self.note("cmd.exe variable substring, substitution or delayed expansion")
        text = expand_cmd(text, self.user)
        segments, _ = _cmd_segments(text)
        expect_set = False
        previous = ""
        for before, seg in segments:
            if expect_set:  # the set of a for loop: a command only for /f with a quoted command
                expect_set = False
                if seg.startswith(("'", "`")) and seg.endswith(("'", "`")) and len(seg) > 1:
                    self.process(seg[1:-1], None, depth + 1, stored)
                previous = seg
                continue
            seg = _strip_cmd_prefixes(seg)
            low = seg.lower()
            if low.startswith("if") and re.match(r"(?i)if[\s(]", seg + " "):
                condition = _IF_CONDITION.match(seg)
                if condition is None:
                    self.note("an if condition cmd.exe's grammar does not read")
                    previous = seg
                    continue
                seg = _strip_cmd_prefixes(seg[condition.end():])
                low = seg.lower()
                if not seg:
                    previous = ""
                    continue
            if re.match(r"(?i)for[\s/%]", seg):
                if not _FOR_HEAD.match(seg):
                    self.note("a for loop cmd.exe's grammar does not read")
                expect_set = True
                previous = seg
                continue
            if re.match(r"(?i)do[\s(]|do$", seg):
                seg = _strip_cmd_prefixes(seg[2:].strip())
                low = seg.lower()
                if not seg:
                    continue
            if re.match(r"(?i)else[\s(]|else$", seg):
                seg = _strip_cmd_prefixes(seg[4:].strip())
                if not seg:
                    continue
            word, rest = _cmd_command_words(seg)
            if not word:
                previous = seg
                continue
            if word.lower() in _CMD_BUILTINS:
                args = tuple(a.lower().translate(_DASH_TRANSLATION) for a in split_argv(rest))
                if not self.add(Invocation(word.lower(), args, kind="builtin", written=word, stored=stored)):
                    return
                previous = seg
                continue
            program = canonical_image(word)
            if before == "|" and self._reads_stdin(program, rest):
                self._piped(program, previous, depth, stored)
                previous = seg
                continue
            self.process(f"{_requote(word)} {rest}".strip(), None, depth + 1, stored)
            previous = seg

    @staticmethod
    def _reads_stdin(program: str, rest: str) -> bool:
        """Whether ``program`` with arguments ``rest`` runs commands it reads from its standard input."""
        args = [a.lower().translate(_DASH_TRANSLATION) for a in split_argv(rest)]
        if program == _CMD:
            return not any(a[:1] in SWITCH_DASHES and a[1:2] in ("c", "k", "r") for a in args)
        if program in INTERPRETERS:
            return not args or "-" in args or any(_ps_parameter(a) in ("command", "file") and i + 1 < len(args) and
                                                  args[i + 1] == "-" for i, a in enumerate(args) if a[:1] in "-/")
        return False

    def _piped(self, program: str, source: str, depth: int, stored: bool) -> None:
        """An interpreter reading commands from a pipe: they are what ``echo`` wrote; from anything else, unknown."""
        word, text = _cmd_command_words(source)
        if word.lower() not in ("echo", "echo."):
            self.note(f"commands piped into {program} from something other than echo")
            return
        if program == _CMD:
            self.add(Invocation(program, (), written=program, stored=stored))
            self.cmd(text, depth + 1, stored)
        else:
            self._powershell(program, ["-command", text], depth + 1, program, stored)

    # ------------------------------------------------------------------------------------------------ PowerShell

    def _powershell(self, program: str, argv: list[str], depth: int, written: str, stored: bool) -> None:
        script, i = None, 0
        args_out: list[str] = []
        while i < len(argv):
            token = argv[i]
            if token[:1] in SWITCH_DASHES and len(token) > 1:
                param = _ps_parameter(token)
                if param is None:
                    self.note(f"unknown {program} parameter {token[:40]!r}")
                    args_out.append(token.lower().translate(_DASH_TRANSLATION))
                    i += 1
                    continue
                args_out.append("-" + param)
                value = token.split(":", 1)[1] if ":" in token else None
                if _PS_PARAMETERS[param] and value is None:
                    i += 1
                    value = argv[i] if i < len(argv) else ""
                if param in ("command", "commandwithargs"):
                    script = " ".join([value or "", *argv[i + 1:]]).strip()
                    break
                if param == "encodedcommand":
                    decoded = decode_encoded_command(value or "")
                    if decoded is None:
                        self.note("an -EncodedCommand value that is not base64 UTF-16LE text")
                        script = ""
                    else:
                        script = decoded
                elif param == "file":
                    args_out.append((value or "").lower())
                elif value is not None:
                    args_out.append(value.lower())
                i += 1
                continue
            script = " ".join(argv[i:])  # powershell.exe runs its first positional argument and the rest as -Command
            break
        text = normalize_powershell(script or "")
        if not self.add(Invocation(program, tuple(args_out), script=text, written=written, stored=stored)):
            return
        self.script(text, depth)

    def script(self, text: str, depth: int) -> None:
        """The commands a normalised PowerShell script runs."""
        if depth > MAX_DEPTH:
            self.note(f"nested deeper than {MAX_DEPTH} levels")
            return
        if _PS_UNRESOLVED.search(text):
            self.note("a PowerShell string built at run time")
        if re.search(r'"[^"]*\$\(', text):
            self.note("a subexpression inside a PowerShell string")
        tokens = _ps_tokens(text)
        if tokens is None:
            self.note("PowerShell text that does not tokenise")
            return
        for i, token in enumerate(tokens):  # .NET methods called anywhere in the script, blocks included
            if token[0] == "word" and tokens[i + 1:i + 2] == [("op", "(")] and (
                    token[1].startswith(".") or "::" in token[1]):
                name = token[1].lstrip(".").split("]::", 1)[-1] if token[1].startswith(".") else \
                    token[1].strip("[").replace("]::", "::").removeprefix("system.")
                if not self.add(Invocation(name, (), kind="method", script=text, written=token[1])):
                    return
        for pipeline in _ps_pipelines(tokens):
            previous: list[tuple[str, str]] = []
            for element in pipeline:
                self._ps_element(element, previous, depth)
                previous = element

    def _ps_element(self, element: list[tuple[str, str]], previous: list[tuple[str, str]], depth: int) -> None:
        """One pipeline element: a command (by name, by the call operator) or an expression."""
        if not element:
            return
        head, rest = element[0], element[1:]
        if head[0] == "var" and rest[:1] == [("op", "=")]:  # an assignment: its value may run a command
            self._ps_element(rest[1:], previous, depth)
            return
        if head == ("op", "&") or (head == ("word", ".") and rest):
            self._ps_call(rest, depth)
            return
        if head[0] != "word" or head[1][:1] in ".[@$0123456789-" or head[1] in _PS_KEYWORDS:
            return  # an expression, an assignment's value or a keyword: what it calls is judged through the script
        name = PS_ALIASES.get(head[1], head[1])
        args = [_ps_text(t, self.user) for t in rest]
        if name in ("invoke-expression",):
            self._ps_iex(rest, previous, depth)
        if "-" in name and "\\" not in name and "." not in name:  # a cmdlet: Verb-Noun
            inv = Invocation(name, tuple(a for a in args if a), kind="cmdlet", written=head[1],
                             piped=_ps_join(previous))
            if not self.add(inv):
                return
            if name == "start-process":
                target = inv.switch_value("filepath", "file", "path") or next(
                    (a for a in inv.args if a[:1] not in SWITCH_DASHES), None)
                if target:
                    extra = inv.switch_value("argumentlist", "args") or ""
                    self.process(f"{_requote(target)} {extra}", None, depth + 1)
            return
        self._ps_program(head[1], args, depth)

    def _ps_program(self, name: str, args: list[str], depth: int) -> None:
        program = canonical_image(expand_powershell(name, self.user))
        if "." in program and not program.endswith((".exe", ".com", ".bat", ".cmd", ".ps1")):
            return  # a file name opened by association, not a program started
        self.process(" ".join(_requote(a) for a in [name, *args]), None, depth + 1)

    def _ps_call(self, tokens: list[tuple[str, str]], depth: int) -> None:
        """``& <name> args``: the name is a string, a parenthesised concatenation of strings, or a script block."""
        if not tokens:
            return
        if tokens[0] == ("op", "{"):
            self.script(_ps_join(tokens[1:]), depth + 1)
            return
        name, used = _ps_constant(tokens, self.user)
        if name is None:
            self.note("a command name the call operator builds at run time")
            return
        args = [_ps_text(t, self.user) for t in tokens[used:]]
        cmdlet = PS_ALIASES.get(name.lower(), name.lower())
        if "-" in cmdlet and "\\" not in cmdlet and "." not in cmdlet:
            self._ps_element([("word", cmdlet), *tokens[used:]], [], depth)
            return
        self.process(" ".join(_requote(a) for a in [name, *args]), None, depth + 1)

    def _ps_iex(self, tokens: list[tuple[str, str]], previous: list[tuple[str, str]], depth: int) -> None:
        """``Invoke-Expression``: of a constant string, the commands in it; of a download, a cradle (the script
        text says so); of anything else, unknown."""
        source = tokens or previous
        text = _ps_join(source)
        if _DOWNLOAD.search(text):
            return
        value, used = _ps_constant(tokens, self.user) if tokens else (None, 0)
        if value is not None and used == len(tokens):
            self.script(normalize_powershell(value), depth + 1)
            return
        self.note("an Invoke-Expression of something that is not a literal or a download")


def _ps_pipelines(tokens: list[tuple[str, str]]) -> list[list[list[tuple[str, str]]]]:
    """Statements (split at ``;``, new lines and braces) as pipelines (split at ``|``) of elements."""
    statements: list[list[list[tuple[str, str]]]] = []
    pipeline: list[list[tuple[str, str]]] = []
    element: list[tuple[str, str]] = []
    depth = 0
    for token in tokens:
        if token[0] == "op" and token[1] in ("(",):
            depth += 1
        elif token[0] == "op" and token[1] in (")",):
            depth = max(0, depth - 1)
        if depth == 0 and token[0] == "op" and token[1] in (";", "\n", "{", "}"):
            if element:
                pipeline.append(element)
            if pipeline:
                statements.append(pipeline)
            pipeline, element = [], []
            continue
        if depth == 0 and token == ("op", "|"):
            pipeline.append(element)
            element = []
            continue
        element.append(token)
    if element:
        pipeline.append(element)
    if pipeline:
        statements.append(pipeline)
    # What parentheses hold runs too: a grouping (vssadmin ...), a cast [void](...), $(...) and @(...), an argument
    # Write-Output (...), a condition if (...): each outermost group's text is statements of its own.
    inner: list[list[list[tuple[str, str]]]] = []
    for statement in statements:
        for el in statement:
            level, start = 0, 0
            for i, token in enumerate(el):
                if token == ("op", "("):
                    level += 1
                    if level == 1:
                        start = i + 1
                elif token == ("op", ")") and level:
                    level -= 1
                    if level == 0:
                        inner.extend(_ps_pipelines(el[start:i]))
            if level:  # an unclosed group runs to the end of the element
                inner.extend(_ps_pipelines(el[start:]))
    return statements + inner


def _ps_constant(tokens: list[tuple[str, str]], user: str | None) -> tuple[str | None, int]:
    """A constant string at the start of ``tokens``: a string, or a parenthesised ``+`` of strings; and how many
    tokens it took."""
    if not tokens:
        return None, 0
    if tokens[0][0] in ("sq", "dq"):
        return _ps_string(tokens[0], user), 1
    if tokens[0][0] == "word" and tokens[0][1][:1] not in "$(":
        return expand_powershell(tokens[0][1], user), 1
    if tokens[0] == ("op", "("):
        parts, i = [], 1
        while i < len(tokens) and tokens[i] != ("op", ")"):
            kind, text = tokens[i]
            if (kind, text) == ("op", "+"):
                i += 1
                continue
            value = _ps_string(tokens[i], user)
            if value is None:
                return None, 0
            parts.append(value)
            i += 1
        if i >= len(tokens):
            return None, 0
        return "".join(parts), i + 1
    return None, 0


def _ps_text(token: tuple[str, str], user: str | None) -> str:
    kind, text = token
    if kind in ("sq", "dq"):
        value = _ps_string(token, user)
        return value if value is not None else text[1:-1]
    if kind == "var":
        return expand_powershell(text, user) if text.lower().startswith(("$env:", "${env:")) else text
    return text


def _ps_join(tokens: list[tuple[str, str]]) -> str:
    return " ".join(text for _, text in tokens)


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
def parse_command_line(command_line: str | None, image: str | None = None, user: str | None = None,
                       stored: bool = False) -> ParsedCommandLine:
    """Every invocation ``command_line`` makes, outermost first; ``image`` names the process when the log does,
    ``user`` is the account it runs as (for the environment's folders), and ``stored`` marks a command line kept for
    later (a registry value) whose variables Windows expands when it runs."""
    parser = _Parser(user)
    if command_line or image:
        line = expand_cmd(command_line or "", user) if stored else (command_line or "")
        parser.process(line, image, 0, stored)
    return ParsedCommandLine(tuple(parser.invocations), tuple(dict.fromkeys(parser.unresolved)))
