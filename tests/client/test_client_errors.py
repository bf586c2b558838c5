"""Every client, and ``opensoc eval --url``, against a port with nothing behind it and a server that wants a token:
``OpenSOCError`` with a code and a one-line message naming the URL and the token, never the transport's exception."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest
from support import REPO
from support.server import free_port, running_server

from opensoc.client import (
    AsyncOpenSOCClient,
    AsyncOpenSOCSession,
    OpenSOCClient,
    OpenSOCError,
    OpenSOCSession,
)

pytestmark = pytest.mark.slow  # starts a server and the command line

TOKEN = "client-errors-token-0123456789"


def _async(make):
    """A call that runs an async client's coroutine to the end."""
    return lambda *args, **kwargs: asyncio.run(make(*args, **kwargs))


async def _async_client(url, **kwargs):
    async with AsyncOpenSOCClient(url, **kwargs) as client:
        return await client.reset(seed=1)


async def _async_client_connect(url, **kwargs):
    client = await AsyncOpenSOCClient.connect(url, **kwargs)
    await client.close()


async def _async_session(url, **kwargs):
    async with AsyncOpenSOCSession(url, **kwargs) as session:
        return await session.reset(seed=1)


async def _async_session_lazy(url, **kwargs):
    session = AsyncOpenSOCSession(url, **kwargs)  # connects at its first call
    try:
        return await session.reset(seed=1)
    finally:
        await session.close()


async def _async_session_connect(url, **kwargs):
    await (await AsyncOpenSOCSession.connect(url, **kwargs)).close()


# Each way of reaching a server, with each client: what a user writes first.
CLIENTS = {
    "OpenSOCClient()": lambda url, **kw: OpenSOCClient(url, **kw).reset(seed=1),
    "OpenSOCClient.connect": lambda url, **kw: OpenSOCClient.connect(url, **kw).close(),
    "AsyncOpenSOCClient()": _async(_async_client),
    "AsyncOpenSOCClient.connect": _async(_async_client_connect),
    "OpenSOCSession()": lambda url, **kw: OpenSOCSession(url, **kw).reset(seed=1),
    "OpenSOCSession.connect": lambda url, **kw: OpenSOCSession.connect(url, **kw).close(),
    "AsyncOpenSOCSession()": _async(_async_session_lazy),
    "async with AsyncOpenSOCSession": _async(_async_session),
    "AsyncOpenSOCSession.connect": _async(_async_session_connect),
}


@pytest.fixture(autouse=True)
def _no_token_from_the_environment(monkeypatch):
    monkeypatch.delenv("OPENSOC_API_TOKEN", raising=False)


@pytest.fixture(scope="module")
def token_server():
    with running_server(OPENSOC_API_TOKEN=TOKEN) as url:
        yield url


def _refusal(call, url, **kwargs) -> OpenSOCError:
    with pytest.raises(OpenSOCError) as caught:
        call(url, **kwargs)
    error = caught.value
    assert "\n" not in str(error), str(error)
    # A traceback, if one is printed, does not drag the transport's exception along.
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)
    return error


@pytest.mark.parametrize("client", list(CLIENTS))
def test_a_dead_port_is_server_unreachable(client):
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    error = _refusal(CLIENTS[client], url)
    assert error.code == "SERVER_UNREACHABLE" and f"127.0.0.1:{url.rsplit(':', 1)[1]}" in error.message
    assert "connection refused" in error.message and "opensoc serve" in error.message
    assert "no API token is set" in error.message and "OPENSOC_API_TOKEN" in error.message
    assert "an API token is set" in _refusal(CLIENTS[client], url, token=TOKEN).message


@pytest.mark.parametrize("client", list(CLIENTS))
def test_a_missing_or_wrong_token_is_unauthorized(client, token_server):
    missing = _refusal(CLIENTS[client], token_server)
    assert missing.code == "UNAUTHORIZED" and token_server.split("//")[1] in missing.message
    assert "needs an API token and none was sent" in missing.message and "OPENSOC_API_TOKEN" in missing.message
    wrong = _refusal(CLIENTS[client], token_server, token="not-the-token-0123456789")
    assert wrong.code == "UNAUTHORIZED" and "refused the API token sent" in wrong.message
    CLIENTS[client](token_server, token=TOKEN)  # and with the token it works


@pytest.mark.parametrize("client", list(CLIENTS))
def test_a_url_without_a_scheme_is_named(client):
    error = _refusal(CLIENTS[client], "localhost:8000")
    assert error.code == "INVALID_URL" and "localhost:8000" in error.message and "http://" in error.message


@pytest.mark.parametrize("seed", [2**63, 10**30, 10**5000, -1], ids=["2^63", "31 digits", "5001 digits", "-1"])
def test_a_seed_no_server_takes_is_refused_naming_seed(seed):
    # Nothing listens at either URL: the seed is refused before anything is sent.
    for call in (lambda: OpenSOCClient(f"http://127.0.0.1:{free_port()}").reset(seed=seed),
                 lambda: asyncio.run(AsyncOpenSOCSession(f"http://127.0.0.1:{free_port()}").reset(seed=seed))):
        with pytest.raises(OpenSOCError) as caught:
            call()
        assert (caught.value.code, caught.value.field) == ("INVALID_PARAMETER", "seed")
        assert "from 0 to 9223372036854775807" in caught.value.message


def test_the_clients_seed_bound_is_the_services():
    from opensoc.client.errors import MAX_SEED
    from opensoc.service.wire import MAX_SEED as SERVICE_MAX_SEED

    assert MAX_SEED == SERVICE_MAX_SEED


def _opensoc(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "OPENSOC_API_TOKEN"} | env
    return subprocess.run([sys.executable, "-m", "opensoc.cli", *args], capture_output=True, text=True, cwd=REPO,
                          env=environment, timeout=120)


def test_eval_against_no_server_or_without_the_token_is_one_line(token_server, tmp_path):
    dead = f"http://127.0.0.1:{free_port()}"
    for url, code, env in ((dead, "SERVER_UNREACHABLE", {}), (token_server, "UNAUTHORIZED", {}),
                           (token_server, "UNAUTHORIZED", {"OPENSOC_API_TOKEN": "not-the-token-0123456789"})):
        ran = _opensoc("eval", "--policy", "heuristic", "--limit", "1", "--url", url, "--out", str(tmp_path / "run"), **env)
        assert ran.returncode == 2 and ran.stdout == ""
        assert ran.stderr.count("\n") == 1 and ran.stderr.startswith(f"opensoc: error: {code}: "), ran.stderr
        assert url in ran.stderr and "OPENSOC_API_TOKEN" in ran.stderr
    assert not (tmp_path / "run").exists()
    ran = _opensoc("eval", "--policy", "heuristic", "--tasks", "stage1_basic", "--limit", "1", "--url", token_server,
                   "--out", str(tmp_path / "run"), OPENSOC_API_TOKEN=TOKEN)
    assert ran.returncode == 0, ran.stderr
