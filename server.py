"""Container entry point: builds the OpenSOC app, mounts the demo at /demo, and serves on ${PORT:-8000}.

``python server.py`` and the ``opensoc-server`` console script both start it; OpenEnv's
docker tooling expects port 8000.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

# The repository root is the ``opensoc`` package itself (OpenEnv's layout). Run as a script,
# Python would put that folder on sys.path and expose its modules (env, schema, models, ...)
# as top-level names that shadow real packages; they must only be reached as ``opensoc.*``.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

from opensoc.app_runtime import ServiceSettings, create_app  # noqa: E402

DEMO_PATH = "/demo"


def build_app():
    """The API with the before-vs-after demo mounted at ``/demo`` (the API routes keep precedence)."""
    import gradio as gr

    from opensoc.demo_app import build_demo

    return gr.mount_gradio_app(create_app(ServiceSettings.from_env()), build_demo(), path=DEMO_PATH)


app = build_app()


def main() -> None:
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    port = int(os.environ.get("PORT", "8000"))
    host = os.environ.get("HOST", "0.0.0.0")
    # Frames are a few kilobytes of JSON; compressing each one costs more CPU than it saves on
    # the loopback and LAN links trainers use. OPENSOC_WS_DEFLATE=1 turns it back on.
    deflate = os.environ.get("OPENSOC_WS_DEFLATE", "0").lower() in ("1", "true", "yes")
    uvicorn.run(app, host=host, port=port, log_level=os.environ.get("LOG_LEVEL", "info").lower(),
                ws="websockets-sansio", ws_per_message_deflate=deflate)


if __name__ == "__main__":
    main()
