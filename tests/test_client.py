"""OpenSOC's own clients against a live server: sync, async, and WebSocket sessions."""

from __future__ import annotations

import asyncio

import pytest

from opensoc.client import AsyncOpenSOCClient, AsyncOpenSOCSession, OpenSOCClient, OpenSOCError, OpenSOCSession
from opensoc.generator import generate, generate_from_template
from opensoc.schema import SubmitTriage
from opensoc.verifier import compute_ground_truth


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
