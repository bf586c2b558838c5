"""Registry value paths in one canonical form, and what Windows makes of a value written there.

``registry_location`` reads a value path the way a registry_set event or ``reg add`` names it (any hive spelling,
``\\REGISTRY\\MACHINE``, a user's hive by SID, the WOW64 view, ``ControlSet001``, doubled or trailing backslashes)
and says what the value is: a command Windows runs at boot or logon, a debugger, a service's image, a switch of
Defender or of LSA's credential protection, or anything else.
"""

from __future__ import annotations

import re

# Registry keys whose values Windows runs at boot or logon (ATT&CK T1547.001), under HKLM or a user hive,
# native or WOW64 view.
_AUTOSTART_KEYS = (
    "software\\microsoft\\windows\\currentversion\\run",
    "software\\microsoft\\windows\\currentversion\\runonce",
    "software\\microsoft\\windows\\currentversion\\runonceex",
    "software\\microsoft\\windows\\currentversion\\runservices",
    "software\\microsoft\\windows\\currentversion\\runservicesonce",
    "software\\microsoft\\windows\\currentversion\\policies\\explorer\\run",
    "software\\microsoft\\windows nt\\currentversion\\winlogon",
    "software\\microsoft\\windows nt\\currentversion\\windows",
)
_HIVES = (
    (re.compile(r"^(hklm|hkey_local_machine|\\registry\\machine)(\\|$)"), "hklm\\"),
    (re.compile(r"^(hkcu|hkey_current_user)(\\|$)"), "hkcu\\"),
    (re.compile(r"^(hku|hkey_users|\\registry\\user)\\[^\\]+(\\|$)"), "hkcu\\"),  # a user's hive, by SID
    (re.compile(r"^(hkcr|hkey_classes_root)(\\|$)"), "hkcr\\"),
)


def _in_hive(path: str) -> str | None:
    """``path`` lower-case with one backslash between names and its hive written ``hklm\\``, ``hkcu\\`` (a user's
    hive too) or ``hkcr\\``; None when it is in no hive."""
    lower = re.sub(r"\\+", r"\\", path.strip().lower().replace("/", "\\")).rstrip("\\")
    for pattern, hive in _HIVES:
        match = pattern.match(lower)
        if match:
            return hive + lower[match.end():]
    return None


def autostart_key(path: str) -> tuple[str | None, str]:
    """(canonical key, value name) of a registry value path; the key is None when it is not an autostart key."""
    lower = _in_hive(path)
    if lower is None:
        return None, ""
    key, _, value = lower.rpartition("\\")
    rel = key.split("\\", 1)[1] if "\\" in key else ""
    rel = rel.replace("software\\wow6432node\\", "software\\")
    if rel in _AUTOSTART_KEYS:
        if rel.endswith(("winlogon", "\\windows")) and value not in ("userinit", "shell", "load", "run"):
            return None, value
        return rel, value
    return None, value


# Registry places whose values Windows reads as a command to run, or as a switch of its defences.
_IFEO = "software\\microsoft\\windows nt\\currentversion\\image file execution options\\"
_SERVICES = "system\\currentcontrolset\\services\\"
_DEFENDER = ("software\\policies\\microsoft\\windows defender\\", "software\\microsoft\\windows defender\\")
_LSA = ("system\\currentcontrolset\\control\\lsa", "system\\currentcontrolset\\control\\securityproviders\\wdigest")


def registry_location(path: str) -> tuple[str, str, str]:
    """(kind, canonical key, value name) of a registry value path. ``kind``: ``autostart`` (a Run key or a Winlogon
    shell value), ``ifeo_debugger`` (Image File Execution Options' Debugger), ``service_image`` (a service's
    ImagePath or ServiceDll), ``defender`` (Defender's settings or policies), ``lsa`` (LSA and WDigest credential
    settings), ``other`` (anywhere else in a hive) or ``none`` (in no hive)."""
    key, value = autostart_key(path)
    if key is not None:
        return "autostart", key, value
    lower = _in_hive(path)
    if lower is None:
        return "none", "", ""
    full, _, value = lower.rpartition("\\")
    rel = (full.split("\\", 1)[1] if "\\" in full else "").replace("software\\wow6432node\\", "software\\")
    rel = rel.replace("system\\controlset001\\", "system\\currentcontrolset\\")
    if rel.startswith(_IFEO) and value in ("debugger",):
        return "ifeo_debugger", rel, value
    if rel.startswith(_SERVICES) and value in ("imagepath", "servicedll"):
        return "service_image", rel, value
    if (rel + "\\").startswith(_DEFENDER):
        return "defender", rel, value
    if rel.startswith(_LSA):
        return "lsa", rel, value
    return "other", rel, value
