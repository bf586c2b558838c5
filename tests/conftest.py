"""Shared fixtures for the test suite."""

from __future__ import annotations

import pytest
from incident_helpers import as_dict

from opensoc.generator import generate_from_template


@pytest.fixture
def incident():
    """Factory: a template's incident as a mutable dict."""
    return lambda template, seed=0: as_dict(generate_from_template(template, seed))


def best_time(fn, repeat: int = 3) -> float:
    """The fastest of ``repeat`` timed calls of ``fn``, with garbage collection paused: what a call costs, without
    the pauses a shared machine adds at random (a full collection alone can take 100 ms)."""
    import gc
    import time

    times = []
    for _ in range(repeat):
        gc.disable()
        try:
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        finally:
            gc.enable()
    return min(times)


# ----------------------------------------------------------------- a live server

import os  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from pathlib import Path  # noqa: E402

import httpx  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, timeout_s: float = 60.0) -> None:
    """Poll /health until the server answers (or fail with its output)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early:\n{proc.stdout.read() if proc.stdout else ''}")
        try:
            if httpx.get(f"{url}/health", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)  # readiness polling, not synchronisation: the loop exits on the health answer
    raise RuntimeError("server did not become healthy in time")


@contextmanager
def running_server(**environment: str):
    """``python server.py`` on a free loopback port, as the README runs it, with extra environment variables."""
    port = free_port()
    env = dict(os.environ, PORT=str(port), HOST="127.0.0.1", LOG_LEVEL="warning", **environment)
    proc = subprocess.Popen([sys.executable, "server.py"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def live_server():
    """The server with its default settings, shared by the session."""
    with running_server() as url:
        yield url


# ------------------------------------------------------------- the shared real samples

SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` with the real IoT-23, UNSW-NB15 and CIC-IDS-2017 samples; skips when absent."""
    if not (SHARED_DATA / "PROVENANCE.md").is_file():
        pytest.skip("../shared/data (the real dataset samples) is not present")
    return SHARED_DATA


class ThreadedApp:
    """An ASGI app served by uvicorn on a loopback port in a thread, for the length of a ``with`` block."""

    def __init__(self, app) -> None:
        import threading

        import uvicorn

        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="error"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:  # readiness polling on uvicorn's own flag
            if time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
