"""OpenSOC's own clients against a live server: sync, async, and WebSocket sessions."""

from __future__ import annotations

import asyncio
import inspect
import os
import subprocess
import sys

import pytest
from support import REPO
from support.server import free_port

from opensoc.client import (
    AsyncOpenSOCClient,
    AsyncOpenSOCSession,
    OpenSOCClient,
    OpenSOCError,
    OpenSOCSession,
)
from opensoc.generator import generate, generate_from_template
from opensoc.schema import SubmitTriage
from opensoc.verifier import compute_ground_truth

pytestmark = pytest.mark.slow  # a live server


def test_sync_client_round_trip(live_server):
    with OpenSOCClient(live_server) as c:
        assert c.health() == {"status": "healthy"}
        assert len(c.tasks()["tasks"]) == 11  # four curriculum stages, four investigations and three E1 tasks
        first = c.reset(task="stage3_mixed", seed=4)
        truth = compute_ground_truth(generate("stage3_mixed", 4))
        result = c.step(SubmitTriage(action=truth.action, cited_log_id=truth.triggering_log_ids[0]))
        assert result.episode_id == first.episode_id and result.reward == pytest.approx(1.1)
        assert c.state().step_count == 1 and c.grade().score == pytest.approx(1.0)


def test_client_errors_carry_code_and_field(live_server):
    with OpenSOCClient(live_server) as c:
        with pytest.raises(OpenSOCError) as exc:
            c.reset(task="stage7")
        assert (exc.value.status, exc.value.code, exc.value.field) == (422, "INVALID_PARAMETER", "task")
        c.reset(mode="self_play")
        with pytest.raises(OpenSOCError) as exc:
            c.step({"submit_triage": {"action": "dismiss", "cited_log_id": "L1-0"}})
        assert exc.value.code == "WRONG_TURN" and exc.value.status == 409


def test_async_client(live_server):
    async def run():
        async with AsyncOpenSOCClient(live_server) as c:
            await c.reset(task="stage1_basic", seed=2)
            r = await c.step({"submit_triage": {"action": "escalate", "cited_log_id": "L1-0"}})
            return r, await c.grade()

    result, grade = asyncio.run(run())
    assert result.done and grade.episode_id == result.episode_id


def test_websocket_sessions(live_server):
    craft = generate_from_template("jittered_beacon", 2)
    with OpenSOCSession(live_server) as s:
        obs = s.reset(task="stage4_adversarial", mode="self_play", seed=1)
        assert obs.observation.role == "attacker"
        mid = s.step(craft)
        assert mid.observation.role == "defender"
        end = s.step(SubmitTriage(action="quarantine_host", cited_log_id=mid.observation.alert.events[1].log_id))
        assert end.done and end.observation.rewards.attacker.outcome == "caught"
        assert s.state().step_count == 2
        with pytest.raises(OpenSOCError) as exc:
            s.step(craft)
        assert exc.value.code == "EXECUTION_ERROR"

    async def run():
        session = await AsyncOpenSOCSession.connect(live_server)
        async with session:
            await session.reset(seed=5)
            return await session.step({"submit_triage": {"action": "dismiss", "cited_log_id": "L1-0"}})

    assert asyncio.run(run()).done


CLIENT_CLASSES = (OpenSOCClient, AsyncOpenSOCClient, OpenSOCSession, AsyncOpenSOCSession)


def test_the_four_clients_are_built_alike(monkeypatch):
    port = free_port()  # nothing listens there
    monkeypatch.setenv("OPENSOC_URL", f"http://127.0.0.1:{port}")
    for cls in CLIENT_CLASSES:
        parameters = inspect.signature(cls).parameters
        assert list(parameters)[0] == "base_url" and parameters["base_url"].default is None and "token" in parameters
        assert inspect.ismethod(cls.connect)  # a classmethod: Client.connect(url)
        assert inspect.iscoroutinefunction(cls.connect) == cls.__name__.startswith("Async")
        assert hasattr(cls, "__aenter__" if cls.__name__.startswith("Async") else "__enter__")
    # The HTTP clients and the async session open nothing in their constructor, so none of these raises here.
    lazy = [OpenSOCClient(), AsyncOpenSOCClient(), AsyncOpenSOCSession()]
    assert lazy[0].base_url == lazy[1].base_url == f"http://127.0.0.1:{port}"
    assert lazy[2].url == f"ws://127.0.0.1:{port}/ws"
    assert not lazy[2].connected
    lazy[0].close()
    asyncio.run(lazy[1].close())
    asyncio.run(lazy[2].close())  # closing a session that never connected is a no-op
    with pytest.raises(OpenSOCError) as eager:  # the sync session connects in its constructor
        OpenSOCSession()
    assert eager.value.code == "SERVER_UNREACHABLE" and f"ws://127.0.0.1:{port}/ws" in eager.value.message


def test_the_async_session_connects_lazily_and_closes(live_server):
    async def run():
        session = AsyncOpenSOCSession(live_server)
        assert not session.connected
        first = await session.reset(task="stage1_basic", seed=3)  # connects here
        assert session.connected and first.observation.role == "defender"
        await session.close()
        with pytest.raises(OpenSOCError) as closed:  # the episode went with the connection
            await session.step({"submit_triage": {"action": "dismiss", "cited_log_id": "L1-0"}})
        assert closed.value.code == "SESSION_CLOSED"
        again = await session.reset(task="stage1_basic", seed=3)  # a reset connects again
        await session.close()
        connected = await AsyncOpenSOCSession.connect(live_server)
        async with connected:  # a connected session in async with stays on its connection
            assert (await connected.reset(seed=2)).observation.seed == 2
        return first, again

    first, again = asyncio.run(run())
    assert first.observation.prompt == again.observation.prompt


def test_connect_checks_the_server_at_once(live_server):
    with OpenSOCClient.connect(live_server) as client:
        assert client.health() == {"status": "healthy"}
    with OpenSOCSession.connect(live_server) as session:
        assert session.reset(seed=1).observation.seed == 1

    async def run():
        async with await AsyncOpenSOCClient.connect(live_server) as client:
            return (await client.reset(seed=1)).observation.seed

    assert asyncio.run(run()) == 1


def test_the_clients_example_runs(live_server):
    """examples/clients.py, the clients page's example of all four, as a user runs it."""
    env = {k: v for k, v in os.environ.items() if k not in ("OPENSOC_URL", "OPENSOC_API_TOKEN")}
    ran = subprocess.run([sys.executable, str(REPO / "examples" / "clients.py"), live_server], capture_output=True,
                         text=True, timeout=120, env=env)
    assert ran.returncode == 0, ran.stderr
    lines = ran.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["OpenSOCClient", "AsyncOpenSOCClient", "OpenSOCSession",
                                                      "AsyncOpenSOCSession"]
    assert len({line.split(":")[1] for line in lines}) == 1  # the same episode, the same reward, on every client
    dead = subprocess.run([sys.executable, str(REPO / "examples" / "clients.py"), f"http://127.0.0.1:{free_port()}"],
                          capture_output=True, text=True, timeout=120, env=env)
    assert dead.returncode == 1 and dead.stderr.startswith("clients.py: SERVER_UNREACHABLE") and dead.stderr.count("\n") == 1


def _docstring_example(cls) -> str:
    """The code block (after '::') of a client's docstring, as a script: wrapped in a coroutine when it awaits."""
    import textwrap

    block = textwrap.dedent(cls.__doc__.split("::\n", 1)[1]).strip("\n")
    if "await " not in block:
        return block
    return "import asyncio\n\nasync def _example():\n" + textwrap.indent(block, "    ") + "\n\nasyncio.run(_example())\n"


@pytest.mark.parametrize("cls", CLIENT_CLASSES, ids=lambda cls: cls.__name__)
def test_each_clients_docstring_example_runs(cls, live_server, capsys):
    code = _docstring_example(cls)
    assert "http://localhost:8000" in code  # the example names the default server; the test points it at its own
    exec(compile(code.replace("http://localhost:8000", live_server), f"<{cls.__name__} docstring>", "exec"),
         {cls.__name__: cls})
