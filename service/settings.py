"""The limits and switches of one server process, each with an ``OPENSOC_*`` environment variable."""

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


@dataclass(frozen=True)
class ServiceSettings:
    """Limits and switches of one server process; each has an ``OPENSOC_*`` environment variable."""

    max_ws_sessions: int = 256  # TRL opens one WebSocket per generation
    max_http_episodes: int = 4096
    episode_ttl_s: float = 1800.0
    episode_grace_s: float = 60.0  # an episode used this recently is never evicted to make room
    max_runs: int = 8
    run_grace_s: float = 600.0  # a run used this recently is never evicted to make room
    max_body_bytes: int = 1 << 20
    ws_idle_s: float = 300.0
    max_connections: int = 1024  # uvicorn's limit_concurrency: bounds the bodies buffered at once
    api_token: str | None = None
    allowed_origins: tuple[str, ...] = ()
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)

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
                   "max_connections": ("OPENSOC_MAX_CONNECTIONS", int)}
        values: dict[str, Any] = {attr: _ascii_number(var, os.environ[var], kind)
                                  for attr, (var, kind) in numbers.items() if var in os.environ}
        token = os.environ.get("OPENSOC_API_TOKEN")
        if token is not None:
            if len(token) < 16 or not token.isascii() or not token.isprintable() or " " in token:
                raise SystemExit("OPENSOC_API_TOKEN must be at least 16 printable ASCII characters without spaces")
            values["api_token"] = token
        origins = os.environ.get("OPENSOC_ALLOWED_ORIGINS", "")
        values["allowed_origins"] = tuple(o.strip() for o in origins.split(",") if o.strip())
        return cls(**values)
