"""The limits and switches of one server process, each with an ``OPENSOC_*`` environment variable.

``OPENSOC_PUBLIC_URL`` (on a Hugging Face Space, ``https://$SPACE_HOST`` by default) is the origin browsers reach
the server at; ``OPENSOC_TRUSTED_PROXIES`` lists the reverse proxies (addresses, networks, or ``*``) whose
``X-Forwarded-For`` names the client (on a Space, the private networks by default: only its proxies reach the
container). Every share "per client" is per peer address (``clients.client_of``).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


def _ascii_number(name: str, raw: str, kind: type) -> Any:
    pattern = r"[0-9]{1,12}" if kind is int else r"[0-9]{1,12}(\.[0-9]{1,6})?"
    if not re.fullmatch(pattern, raw.strip()):
        raise SystemExit(f"{name}={raw!r} is not a positive {kind.__name__} written in ASCII digits")
    value = kind(raw.strip())
    if value <= 0:
        raise SystemExit(f"{name} must be positive, got {raw!r}")
    return value


PRIVATE_NETWORKS = "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,127.0.0.0/8,::1,fc00::/7"


@dataclass(frozen=True)
class ServiceSettings:
    """Limits and switches of one server process; each has an ``OPENSOC_*`` environment variable."""

    max_ws_sessions: int = 256  # TRL opens one WebSocket per generation
    max_ws_sessions_per_client: int | None = None  # default: half of max_ws_sessions
    max_http_episodes: int = 4096  # tests/service/test_memory_budget.py: what every cap full costs
    max_http_episodes_per_client: int | None = None  # default: no share of its own (see ServiceSettings.share)
    episode_ttl_s: float = 1800.0
    episode_grace_s: float = 60.0  # an episode used this recently is never evicted to make room
    max_runs: int = 8
    max_runs_per_client: int | None = None  # default: a quarter of max_runs
    run_grace_s: float = 600.0  # a run used this recently is never evicted to make room
    max_body_bytes: int = 1 << 20
    ws_idle_s: float = 300.0
    max_connections: int = 1024  # bounds the bodies buffered at once
    max_connections_per_client: int | None = None  # default: a quarter of max_connections
    header_timeout_s: float = 10.0  # the whole request head, from the connection's start or the last response
    body_timeout_s: float = 30.0  # the whole body, from the end of its head: 1 MiB at 35 KB/s
    api_token: str | None = None
    allowed_origins: tuple[str, ...] = ()
    trusted_proxies: tuple[str, ...] = ()  # their X-Forwarded-For names the client; exempt from the connection share
    public_url: str | None = None  # where browsers reach this server (an allowed WebSocket origin)
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)

    def share(self, name: str) -> int:
        """A client's share of the cap ``name`` (``max_ws_sessions``, ``max_http_episodes``, ``max_runs``,
        ``max_connections``): its ``*_per_client`` setting, else half (WebSocket sessions), all (HTTP episodes: a
        full store takes room from the client holding the most, see ``episodes``) or a quarter of the cap; never more
        than the cap, never below 1."""
        cap = getattr(self, name)
        given = getattr(self, f"{name}_per_client")
        default = {"max_ws_sessions": cap // 2, "max_http_episodes": cap}.get(name, cap // 4)
        return max(1, min(cap, given if given is not None else default))

    @classmethod
    def from_env(cls) -> ServiceSettings:
        numbers = {"max_ws_sessions": ("OPENSOC_MAX_WS_SESSIONS", int),
                   "max_http_episodes": ("OPENSOC_MAX_HTTP_EPISODES", int),
                   "episode_ttl_s": ("OPENSOC_EPISODE_TTL_S", float),
                   "episode_grace_s": ("OPENSOC_EPISODE_GRACE_S", float),
                   "max_runs": ("OPENSOC_MAX_RUNS", int),
                   "run_grace_s": ("OPENSOC_RUN_GRACE_S", float),
                   "max_body_bytes": ("OPENSOC_MAX_BODY_BYTES", int),
                   "ws_idle_s": ("OPENSOC_WS_IDLE_S", float),
                   "max_connections": ("OPENSOC_MAX_CONNECTIONS", int),
                   "max_ws_sessions_per_client": ("OPENSOC_MAX_WS_SESSIONS_PER_CLIENT", int),
                   "max_http_episodes_per_client": ("OPENSOC_MAX_HTTP_EPISODES_PER_CLIENT", int),
                   "max_runs_per_client": ("OPENSOC_MAX_RUNS_PER_CLIENT", int),
                   "max_connections_per_client": ("OPENSOC_MAX_CONNECTIONS_PER_CLIENT", int),
                   "header_timeout_s": ("OPENSOC_HEADER_TIMEOUT_S", float),
                   "body_timeout_s": ("OPENSOC_BODY_TIMEOUT_S", float)}
        values: dict[str, Any] = {attr: _ascii_number(var, os.environ[var], kind)
                                  for attr, (var, kind) in numbers.items() if var in os.environ}
        token = os.environ.get("OPENSOC_API_TOKEN")
        if token is not None:
            if len(token) < 16 or not token.isascii() or not token.isprintable() or " " in token:
                raise SystemExit("OPENSOC_API_TOKEN must be at least 16 printable ASCII characters without spaces")
            values["api_token"] = token
        origins = os.environ.get("OPENSOC_ALLOWED_ORIGINS", "")
        values["allowed_origins"] = tuple(o.strip() for o in origins.split(",") if o.strip())
        # On a Hugging Face Space only the Space's proxies, on private addresses, reach the container: the address
        # they append to X-Forwarded-For (the rightmost one not theirs) names the client, and whatever a client
        # wrote there itself is ignored. Anywhere else no proxy is trusted unless listed.
        proxies = os.environ.get("OPENSOC_TRUSTED_PROXIES", PRIVATE_NETWORKS if os.environ.get("SPACE_HOST") else "")
        values["trusted_proxies"] = tuple(p.strip() for p in proxies.split(",") if p.strip())
        public = os.environ.get("OPENSOC_PUBLIC_URL") or (f"https://{os.environ['SPACE_HOST']}"
                                                          if os.environ.get("SPACE_HOST") else None)
        if public is not None:
            if not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?/?", public):
                raise SystemExit(f"OPENSOC_PUBLIC_URL={public!r} is not an origin such as https://example.org")
            values["public_url"] = public.rstrip("/").lower()
        return cls(**values)
