"""URLs and DNS names read the way a client resolves them.

``find_urls(text)`` returns the URLs written in a command line or a path, each with the host a client would connect
to: the userinfo before ``@`` dropped (``https://trusted.example@evil.io/`` goes to ``evil.io``), an international
name in its IDNA (punycode) form, and a numeric IPv4 host in any form the URL standard accepts (``3232235777``,
``0xC0A80101``, ``0300.0250.1.1``, ``192.168.257``) in dotted decimal. ``dns_name_problem`` says why a DNS name
could not be on the wire (a label over 63 octets, a name over 253, characters no resolver sends); ``canonical_name``
gives the one form every rule compares. A host that cannot be read is returned as ``None`` and reported, never
guessed.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from functools import lru_cache

import idna

_URL = re.compile(r"(?i)\b((?:https?|ftp|file)://[^\s\"'<>|`^]+)")
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")


@dataclass(frozen=True)
class Url:
    """One URL as written, and what it names: ``host`` is None when the authority cannot be read."""

    raw: str
    scheme: str
    host: str | None
    path: str
    problem: str | None = None


def _ipv4_number(part: str) -> int | None:
    """One part of a URL-standard IPv4 address: decimal, ``0x`` hex or ``0`` octal; None when it is none of these."""
    if not part:
        return None
    if part[:2] in ("0x", "0X"):
        digits, base = part[2:] or "0", 16
    elif len(part) > 1 and part[0] == "0":
        digits, base = part[1:], 8
    else:
        digits, base = part, 10
    try:
        return int(digits, base)
    except ValueError:
        return None


def _numeric_ipv4(host: str) -> str | None:
    """The dotted-decimal address of a host written as a URL-standard IPv4 number, or None when it is a name."""
    parts = host.split(".")
    if parts and parts[-1] == "":
        parts = parts[:-1]
    if not parts or len(parts) > 4:
        return None
    numbers = [_ipv4_number(p) for p in parts]
    if any(n is None for n in numbers):
        return None
    values = [n for n in numbers if n is not None]
    if any(n > 255 for n in values[:-1]) or values[-1] >= 256 ** (5 - len(values)):
        return None
    address = sum(n * 256 ** (3 - i) for i, n in enumerate(values[:-1])) + values[-1]
    return str(ipaddress.IPv4Address(address))


@lru_cache(maxsize=1 << 14)
def canonical_name(name: str) -> str | None:
    """``name`` as a resolver sends it: lower-case, no trailing dot, international labels in IDNA form; None when it
    is no valid DNS name."""
    name = name.strip().rstrip(".").lower()
    if not name:
        return None
    try:
        ascii_name = name if name.isascii() else idna.encode(name, uts46=True).decode("ascii")
    except idna.IDNAError:
        return None
    return ascii_name if dns_name_problem(ascii_name) is None else None


def dns_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a DNS name on the wire, or None when it can."""
    name = name.rstrip(".")
    if not name:
        return "an empty name"
    if len(name) > 253:
        return f"a name of {len(name)} characters (at most 253)"
    for label in name.split("."):
        if len(label) > 63:
            return f"a label of {len(label)} characters (at most 63)"
        if not _LABEL.match(label.lower()):
            return f"the label {label[:40]!r} holds characters no resolver sends"
    return None


def url_host(authority: str) -> tuple[str | None, str | None]:
    """(host, problem) of a URL's authority: userinfo dropped, the port removed, the host canonical."""
    host = authority.rsplit("@", 1)[-1]
    if host.startswith("["):
        end = host.find("]")
        if end < 0:
            return None, "an IPv6 host without its closing bracket"
        try:
            return str(ipaddress.IPv6Address(host[1:end])), None
        except ValueError:
            return None, f"the IPv6 host {host[1:end][:40]!r} is not an address"
    host = host.split(":", 1)[0]
    numeric = _numeric_ipv4(host)
    if numeric is not None:
        return numeric, None
    if re.fullmatch(r"[0-9a-fx.]+", host.lower()) and any(ch.isdigit() for ch in host) and "." not in host.strip("."):
        return None, f"the host {host[:40]!r} is neither an address nor a name"
    name = canonical_name(host)
    if name is None:
        return None, f"the host {host[:60]!r} is no DNS name"
    return name, None


@lru_cache(maxsize=1 << 14)
def find_urls(text: str) -> tuple[Url, ...]:
    """Every URL written in ``text``, with the host a client would connect to."""
    found = []
    for match in _URL.finditer(text):
        raw = match.group(1)
        scheme, _, rest = raw.partition("://")
        # The authority ends at the first "/", "?", "#" or "\\" (a client reads "\\" as "/" in these schemes), so
        # "http://evil.io?@trusted.example/" goes to evil.io: only an "@" inside the authority ends a userinfo.
        authority = re.match(r"[^/?#\\]*", rest).group(0)  # type: ignore[union-attr]
        path = rest[len(authority):]
        slash = ""
        host, problem = url_host(authority) if scheme.lower() != "file" else (None, None)
        found.append(Url(raw, scheme.lower(), host, slash + path, problem))
    return tuple(found)
