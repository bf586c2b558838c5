"""The environment variables a Windows host of the world sets, and how its shells expand them.

The values are those of a Windows 11 / Server 2022 default install; ``{user}`` is the account a command runs as.
cmd.exe expands ``%NAME%`` (any case) when it reads a command, and leaves a name it does not know as written;
PowerShell expands ``$env:NAME`` and ``${env:NAME}`` inside double-quoted strings and as bare arguments. Windows
itself expands neither in a command line handed to ``CreateProcess``.
"""

from __future__ import annotations

import re

VARIABLES: dict[str, str] = {
    "systemroot": "C:\\Windows", "windir": "C:\\Windows", "systemdrive": "C:",
    "programfiles": "C:\\Program Files", "programfiles(x86)": "C:\\Program Files (x86)",
    "programw6432": "C:\\Program Files", "commonprogramfiles": "C:\\Program Files\\Common Files",
    "programdata": "C:\\ProgramData", "allusersprofile": "C:\\ProgramData", "public": "C:\\Users\\Public",
    "userprofile": "C:\\Users\\{user}", "homedrive": "C:", "homepath": "\\Users\\{user}",
    "appdata": "C:\\Users\\{user}\\AppData\\Roaming", "localappdata": "C:\\Users\\{user}\\AppData\\Local",
    "temp": "C:\\Users\\{user}\\AppData\\Local\\Temp", "tmp": "C:\\Users\\{user}\\AppData\\Local\\Temp",
    "comspec": "C:\\Windows\\system32\\cmd.exe", "username": "{user}", "userdomain": "CORP",
    "os": "Windows_NT", "pathext": ".COM;.EXE;.BAT;.CMD;.VBS;.VBE;.JS;.JSE;.WSF;.WSH;.MSC",
}
SYSTEM_USER_PROFILE = "C:\\Windows\\system32\\config\\systemprofile"

_CMD_VARIABLE = re.compile(r"%([A-Za-z_][A-Za-z0-9_()]*)%")
_PS_VARIABLE = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_()]*)\}|\$env:([A-Za-z_][A-Za-z0-9_]*)", re.I)


def value(name: str, user: str | None) -> str | None:
    """The value of variable ``name`` for a command run by ``user`` (None when the host does not set it)."""
    raw = VARIABLES.get(name.lower())
    if raw is None:
        return None
    account = (user or "user").split("\\")[-1]
    if account.lower() == "system" and "{user}" in raw:
        raw = raw.replace("C:\\Users\\{user}", SYSTEM_USER_PROFILE)
    return raw.replace("{user}", account)


def expand_cmd(text: str, user: str | None) -> str:
    """``text`` as cmd.exe reads it: each ``%NAME%`` the host sets replaced by its value, others left as written."""
    return _CMD_VARIABLE.sub(lambda m: value(m.group(1), user) or m.group(0), text)


def expand_powershell(text: str, user: str | None) -> str:
    """``text`` with each ``$env:NAME`` / ``${env:NAME}`` the host sets replaced by its value (PowerShell gives an
    unset variable the empty string)."""
    return _PS_VARIABLE.sub(lambda m: value(m.group(1) or m.group(2), user) or "", text)
