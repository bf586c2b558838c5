"""The server's entry point: builds the OpenSOC app, mounts the demo at /demo, and serves it.

Three ways start it, with one rule for where it listens: ``python server.py``, the ``opensoc-server`` console
script and ``opensoc serve`` all call ``main``, which honours the ``HOST`` and ``PORT`` environment variables,
lets ``--host`` and ``--port`` override them, and defaults to 127.0.0.1:8000: a developer's server answers only on
this machine. The Dockerfile sets ``HOST=0.0.0.0``, so the container (and a Hugging Face Space) listens on every
interface; OpenEnv's docker tooling expects port 8000. The start-up log line names the URL, the demo, the API docs
and whether a token is required.
"""

from __future__ import annotations

import argparse
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

import gradio as gr  # noqa: E402
import uvicorn  # noqa: E402

from opensoc.app_runtime import ServiceSettings, create_app  # noqa: E402
from opensoc.demo_app import build_demo  # noqa: E402
from opensoc.service.connections import guarded_protocol  # noqa: E402
from opensoc.service.metadata import DEMO_PATH  # noqa: E402

MAX_HEADER_BYTES = 16 << 10
DEFAULT_HOST = "127.0.0.1"  # the Dockerfile sets HOST=0.0.0.0
log = logging.getLogger("opensoc.server")


def build_app(settings: ServiceSettings):
    """The API with the before-vs-after demo mounted at ``/demo`` (the API routes keep precedence).

    The demo takes no uploads: Gradio's upload routes are refused (``service.middleware``). With
    ``OPENSOC_API_TOKEN`` set, the demo asks for the token on Gradio's login page (any user name).
    """
    token = settings.api_token
    auth = None if token is None else (lambda _user, password: hmac.compare_digest(password.encode(), token.encode()))
    return gr.mount_gradio_app(create_app(settings), build_demo(), path=DEMO_PATH, max_file_size=settings.max_body_bytes,
                               auth=auth, auth_message="This OpenSOC server needs its API token (any user name).")


SETTINGS = ServiceSettings.from_env()
app = build_app(SETTINGS)


def _port(raw: str | None = None) -> int:
    raw = os.environ.get("PORT", "8000") if raw is None else raw
    if not re.fullmatch(r"[0-9]{1,5}", raw) or not 0 < int(raw) < 65536:
        raise SystemExit(f"PORT={raw!r} is not a port number (1 to 65535, in ASCII digits)")
    return int(raw)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """``--host`` and ``--port`` over ``HOST`` and ``PORT`` over 127.0.0.1:8000. Called without ``argv`` it reads the
    command line's flags it knows and leaves the rest (``opensoc serve`` passes its own, already applied)."""
    parser = argparse.ArgumentParser(prog="opensoc-server", description="Serve the OpenSOC API and its demo.")
    parser.add_argument("--host", default=None, help=f"address to listen on (default: $HOST, else {DEFAULT_HOST}; "
                        "0.0.0.0 for every interface, as the container does)")
    parser.add_argument("--port", default=None, help="port to listen on (default: $PORT, else 8000)")
    args = parser.parse_args(argv) if argv is not None else parser.parse_known_args(sys.argv[1:])[0]
    args.host = args.host or os.environ.get("HOST") or DEFAULT_HOST
    args.port = _port(args.port)
    return args


def startup_line(host: str, port: int, settings: ServiceSettings) -> str:
    """What the server says when it starts: where to reach it, the demo, the docs, and whether it needs a token."""
    shown = "localhost" if host in ("0.0.0.0", "::", "") else (f"[{host}]" if ":" in host else host)
    url = f"http://{shown}:{port}"
    token = ("an API token is required (OPENSOC_API_TOKEN): send Authorization: Bearer <token>; the demo asks for it"
             if settings.api_token else "no API token is required (set OPENSOC_API_TOKEN to require one)")
    return (f"OpenSOC serving {url} (listening on {host}:{port}): demo {url}{DEMO_PATH}, API docs {url}/docs; "
            f"{token}")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Frames are a few kilobytes of JSON; compressing each one costs more CPU than it saves on
    # the loopback and LAN links trainers use. OPENSOC_WS_DEFLATE=1 turns it back on.
    deflate = os.environ.get("OPENSOC_WS_DEFLATE", "0").lower() in ("1", "true", "yes")
    # A full garbage collection walks every tracked object; the ~200,000 that importing FastAPI,
    # Gradio and the demo left behind live as long as the process, and walking them stalled every
    # client for over 100 ms at a time. Frozen, they are never walked again.
    gc.collect()
    gc.freeze()
    # The event loop shares the interpreter lock with the core worker's threads; while one is busy the
    # loop waits up to one switch interval for each hand-back. 1 ms instead of 5 keeps /health's
    # latency under a flood of the costliest requests at a few milliseconds (bench/bench_hardening.py).
    sys.setswitchinterval(0.001)
    # Memory and time per connection are bounded at the protocol layer (service.connections): h11
    # refuses a request line and headers over 16 KiB (httptools buffers headers without limit), the
    # head and the body each have a deadline, a client holds at most its share of the connections, and
    # the WebSocket layer refuses a frame over the body limit (close code 1009) before buffering it.
    # X-Forwarded-For is read only from OPENSOC_TRUSTED_PROXIES (uvicorn would trust loopback peers).
    proxies = SETTINGS.trusted_proxies
    log.info(startup_line(args.host, args.port, SETTINGS))
    uvicorn.run(app, host=args.host, port=args.port, log_level=os.environ.get("LOG_LEVEL", "info").lower(),
                http=guarded_protocol(SETTINGS), h11_max_incomplete_event_size=MAX_HEADER_BYTES,
                ws="websockets-sansio", ws_per_message_deflate=deflate, ws_max_size=SETTINGS.max_body_bytes,
                proxy_headers=bool(proxies), forwarded_allow_ips=",".join(proxies) or None)


if __name__ == "__main__":
    main(sys.argv[1:])
