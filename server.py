"""Container entry point: builds the OpenSOC app, mounts the demo at /demo, and serves on ${PORT:-8000}.

``python server.py`` and the ``opensoc-server`` console script both start it; OpenEnv's
docker tooling expects port 8000.
"""

from __future__ import annotations

import gc
import hmac
import logging
import os
import re
import sys
from pathlib import Path

# The repository root is the ``opensoc`` package itself (OpenEnv's layout). Run as a script,
# Python would put that folder on sys.path and expose its modules (env, schema, models, ...)
# as top-level names that shadow real packages; they must only be reached as ``opensoc.*``.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

from opensoc.app_runtime import ServiceSettings, create_app  # noqa: E402
from opensoc.service.metadata import DEMO_PATH  # noqa: E402

MAX_HEADER_BYTES = 16 << 10


def build_app(settings: ServiceSettings):
    """The API with the before-vs-after demo mounted at ``/demo`` (the API routes keep precedence).

    The demo takes no uploads, and Gradio's upload route is capped at the API's body limit. With
    ``OPENSOC_API_TOKEN`` set, the demo asks for the token on Gradio's login page (any user name).
    """
    import gradio as gr

    from opensoc.demo_app import build_demo

    token = settings.api_token
    auth = None if token is None else (lambda _user, password: hmac.compare_digest(password.encode(), token.encode()))
    return gr.mount_gradio_app(create_app(settings), build_demo(), path=DEMO_PATH, max_file_size=settings.max_body_bytes,
                               auth=auth, auth_message="This OpenSOC server needs its API token (any user name).")


SETTINGS = ServiceSettings.from_env()
app = build_app(SETTINGS)


def _port() -> int:
    raw = os.environ.get("PORT", "8000")
    if not re.fullmatch(r"[0-9]{1,5}", raw) or not 0 < int(raw) < 65536:
        raise SystemExit(f"PORT={raw!r} is not a port number (1 to 65535, in ASCII digits)")
    return int(raw)


def main() -> None:
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    host = os.environ.get("HOST", "0.0.0.0")
    # Frames are a few kilobytes of JSON; compressing each one costs more CPU than it saves on
    # the loopback and LAN links trainers use. OPENSOC_WS_DEFLATE=1 turns it back on.
    deflate = os.environ.get("OPENSOC_WS_DEFLATE", "0").lower() in ("1", "true", "yes")
    # A full garbage collection walks every tracked object; the ~200,000 that importing FastAPI,
    # Gradio and the demo left behind live as long as the process, and walking them stalled every
    # client for over 100 ms at a time. Frozen, they are never walked again.
    gc.collect()
    gc.freeze()
    # The event loop shares the interpreter lock with the core worker; while the worker is busy the
    # loop waits up to one switch interval for each hand-back. 1 ms instead of 5 keeps /health's
    # latency under a flood of the costliest requests at a few milliseconds (bench/bench_hardening.py).
    sys.setswitchinterval(0.001)
    # Memory per connection is bounded at the protocol layer: h11 refuses a request line and
    # headers over 16 KiB (httptools buffers headers without limit), the WebSocket layer refuses a
    # frame over the body limit (close code 1009) before buffering it, and limit_concurrency bounds
    # how many requests hold a buffered body at once.
    uvicorn.run(app, host=host, port=_port(), log_level=os.environ.get("LOG_LEVEL", "info").lower(),
                http="h11", h11_max_incomplete_event_size=MAX_HEADER_BYTES,
                ws="websockets-sansio", ws_per_message_deflate=deflate, ws_max_size=SETTINGS.max_body_bytes,
                limit_concurrency=SETTINGS.max_connections)


if __name__ == "__main__":
    main()
