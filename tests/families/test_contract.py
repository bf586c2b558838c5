"""One contract for every registered family, as Gymnasium checks every registered environment: reset, observe, step,
grade, refusals and determinism, in process, over HTTP and over ``/ws``.

A toy family written here in the tests (``support.toy_family``) runs through the same test as OpenSOC's three, which
proves that a family needs nothing beyond the protocol: no other module names it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import jsonschema
import pytest
from fastapi.testclient import TestClient
from support.toy_family import DiceFamily

from opensoc.app_runtime import create_app
from opensoc.env import OpenSOCEnv
from opensoc.families import registry
from opensoc.models import EpisodeOverError, InvalidActionError, InvalidParameterError

# For each family: a task, a reset option it takes with a valid value, and a legal action for its first observation.
PLAYS: dict[str, tuple[str, dict[str, Any], Callable[[dict], dict]]] = {
    "triage": ("stage2_multi", {"mode": "defender_only"},
               lambda obs: {"submit_triage": {"action": "monitor", "cited_log_id": obs["alert"]["events"][0]["log_id"]}}),
    "investigation": ("investigate_stage1", {"mode": "defender_only"},
                      lambda obs: {"submit_triage": {"action": "monitor",
                                                     "cited_log_id": obs["investigation"]["alert"]["event"]["log_id"]}}),
    "e1": ("e1_iot23", {"scoring": "compat"}, lambda obs: {"classify_flow": {"label": "Benign", "confidence": 0.6}}),
    "dice": ("dice_guess", {"sides": 20}, lambda obs: {"guess_face": 7}),
}


@pytest.fixture(scope="module", autouse=True)
def dice() -> Iterator[None]:
    registry.register(DiceFamily())
    yield
    registry.unregister("dice")


@pytest.fixture(scope="module")
def client(dice) -> Iterator[TestClient]:
    with TestClient(create_app()) as c:
        yield c


def _families() -> list[str]:
    return ["triage", "investigation", "e1", "dice"]


def test_every_registered_family_is_in_the_contract(dice):
    assert sorted(f.name for f in registry.families()) == sorted(PLAYS)


class InProcess:
    def __init__(self) -> None:
        self.env = OpenSOCEnv()

    def close(self) -> None:
        self.env.close()

    def reset(self, **kwargs: Any) -> dict:
        return self.env.reset(**kwargs).model_dump(mode="json")

    def step(self, action: dict) -> dict:
        return self.env.step(action).model_dump(mode="json")

    def grade(self) -> dict:
        return self.env.grade().model_dump(mode="json")


class OverHttp:
    def __init__(self, client: TestClient) -> None:
        self.client, self.episode_id = client, None

    def close(self) -> None:
        pass

    def _ok(self, response) -> dict:
        if response.status_code >= 400:
            error = response.json()["error"]
            kind = {"INVALID_PARAMETER": InvalidParameterError, "INVALID_ACTION": InvalidActionError,
                    "EPISODE_OVER": EpisodeOverError}.get(error["code"], AssertionError)
            raise kind(error["message"], field=error["field"])
        return response.json()

    def reset(self, **kwargs: Any) -> dict:
        payload = self._ok(self.client.post("/reset", json=kwargs))
        self.episode_id = payload["observation"]["episode_id"]
        return {**payload["observation"], "reward": payload["reward"], "done": payload["done"]}

    def step(self, action: dict) -> dict:
        payload = self._ok(self.client.post("/step", json={"action": action, "episode_id": self.episode_id}))
        return {**payload["observation"], "reward": payload["reward"], "done": payload["done"]}

    def grade(self) -> dict:
        return self._ok(self.client.post("/grade", json={"episode_id": self.episode_id}))


class OverWebSocket:
    def __init__(self, client: TestClient) -> None:
        self._connection = client.websocket_connect("/ws")
        self.ws = self._connection.__enter__()

    def close(self) -> None:
        self._connection.__exit__(None, None, None)

    def _send(self, message: dict) -> dict:
        self.ws.send_json(message)
        reply = self.ws.receive_json()
        if reply["type"] == "error":
            data = reply["data"]
            kind = {"INVALID_PARAMETER": InvalidParameterError, "INVALID_ACTION": InvalidActionError,
                    "EPISODE_OVER": EpisodeOverError}.get(data.get("reason"), AssertionError)
            raise kind(data["message"], field=data["field"])
        return reply["data"]

    def reset(self, **kwargs: Any) -> dict:
        payload = self._send({"type": "reset", "data": kwargs})
        return {**payload["observation"], "reward": payload["reward"], "done": payload["done"]}

    def step(self, action: dict) -> dict:
        payload = self._send({"type": "step", "data": action})
        return {**payload["observation"], "reward": payload["reward"], "done": payload["done"]}

    def grade(self) -> dict | None:
        return None  # OpenEnv's WebSocket carries no grade; /grade is HTTP's


TRANSPORTS = {"in_process": lambda client: InProcess(), "http": OverHttp, "ws": OverWebSocket}


@pytest.fixture
def opened(client) -> Iterator[Callable[[str], Any]]:
    """Opens transports by name and closes every one it opened (a WebSocket left open holds the app's shutdown)."""
    made: list[Any] = []

    def open_(name: str) -> Any:
        made.append(TRANSPORTS[name](client))
        return made[-1]

    yield open_
    for transport in made:
        transport.close()


@pytest.mark.parametrize("transport", list(TRANSPORTS))
@pytest.mark.parametrize("family", _families())
def test_family_contract(client, opened, family, transport):
    task, options, play = PLAYS[family]
    t = opened(transport)
    schema = client.get("/schema").json()

    first = t.reset(task=task, seed=5, **options)
    assert first["family"] == family and first["task"] == task and first["seed"] == 5
    assert first["done"] is False and first["role"] is not None and first["legal_actions"] and first["prompt"]
    jsonschema.validate(first, schema["observation"])

    # Refusals leave the episode as it was: an option the family does not take, an action that is no action.
    with pytest.raises(InvalidParameterError) as refused:
        t.reset(task=task, seed=5, **{**options, "no_such_option": 1} if transport == "in_process" else
                {**options, "split" if family != "e1" else "mode": "self_play"})
    assert refused.value.field in ("no_such_option", "split", "mode")
    again = t.reset(task=task, seed=5, **options)
    assert {k: v for k, v in again.items() if k != "episode_id"} == {k: v for k, v in first.items() if k != "episode_id"}
    with pytest.raises(InvalidActionError):
        t.step({"no_such_action": {}})

    final = t.step(play(again))
    assert final["done"] is True and isinstance(final["reward"], float) and final["family"] == family
    assert final["legal_actions"] == [] and final["role"] is None
    jsonschema.validate(final, schema["observation"])
    with pytest.raises(EpisodeOverError):
        t.step(play(again))

    grade = t.grade()
    if grade is not None:
        assert grade["family"] == family and 0.0 <= grade["score"] <= 1.0 and grade["task"] == task


@pytest.mark.parametrize("family", _families())
def test_the_same_task_and_seed_give_the_same_episode_everywhere(opened, family):
    task, options, _ = PLAYS[family]
    seen = [opened(name).reset(task=task, seed=11, **options) for name in TRANSPORTS]
    assert all({k: v for k, v in s.items() if k != "episode_id"} == {k: v for k, v in seen[0].items()
                                                                   if k != "episode_id"} for s in seen)


def test_the_toy_family_is_served_everywhere_without_being_named(client):
    assert "dice_guess" in [t["name"] for t in client.get("/tasks").json()["tasks"]]
    assert client.get("/tasks").json()["families"]["dice"]["options"]["sides"]["expected"] == [4, 6, 20]
    assert "guess_face" in client.get("/schema").json()["action"]["properties"]
    refused = client.post("/reset", json={"task": "dice_guess", "sides": 5})
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "sides"
