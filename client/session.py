"""WebSocket session clients on ``/ws``: one server-side environment per connection."""

from __future__ import annotations

import json
from typing import Any

from websockets.asyncio.client import connect as async_connect
from websockets.sync.client import connect as sync_connect

from ..models import OpenSOCState
from .http import DEFAULT_URL, _action_body, _params
from .results import OpenSOCError, StepResult, parse_state

MAX_MESSAGE_BYTES = 16 << 20


def ws_url(base_url: str) -> str:
    """``http(s)://host[:port]`` → ``ws(s)://host[:port]/ws``."""
    url = base_url.rstrip("/")
    if url.startswith("https://"):
        url = "wss://" + url[len("https://"):]
    elif url.startswith("http://"):
        url = "ws://" + url[len("http://"):]
    return url if url.endswith("/ws") else url + "/ws"


def _reply(frame: str | bytes) -> dict:
    msg = json.loads(frame)
    if msg.get("type") == "error":
        data = msg.get("data", {})
        raise OpenSOCError(None, data.get("code", "ERROR"), data.get("message", ""), data.get("field"), msg)
    return msg


class OpenSOCSession:
    """A synchronous WebSocket session: ``reset``/``step``/``state`` over one connection."""

    def __init__(self, base_url: str = DEFAULT_URL, open_timeout: float = 10.0):
        self._connection = sync_connect(ws_url(base_url), open_timeout=open_timeout, max_size=MAX_MESSAGE_BYTES)
        self._ws = self._connection.__enter__()

    def __enter__(self) -> OpenSOCSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, frame: dict) -> dict:
        self._ws.send(json.dumps(frame))
        return _reply(self._ws.recv())

    def reset(self, task: str | None = None, mode: str | None = None, seed: int | None = None,
              episode_id: str | None = None, **extra: Any) -> StepResult:
        msg = self._call({"type": "reset", "data": _params(task=task, mode=mode, seed=seed, episode_id=episode_id, **extra)})
        return StepResult.from_envelope(msg["data"])

    def step(self, action: Any) -> StepResult:
        return StepResult.from_envelope(self._call({"type": "step", "data": _action_body(action)})["data"])

    def state(self) -> OpenSOCState:
        return parse_state(self._call({"type": "state"})["data"])

    def close(self) -> None:
        try:
            self._ws.send(json.dumps({"type": "close"}))
        except Exception:  # noqa: BLE001 - already closed by the server
            pass
        self._connection.__exit__(None, None, None)


class AsyncOpenSOCSession:
    """The asynchronous twin of ``OpenSOCSession``; use ``await AsyncOpenSOCSession.connect(url)``."""

    def __init__(self, ws: Any):
        self._ws = ws

    @classmethod
    async def connect(cls, base_url: str = DEFAULT_URL, open_timeout: float = 10.0) -> AsyncOpenSOCSession:
        return cls(await async_connect(ws_url(base_url), open_timeout=open_timeout, max_size=MAX_MESSAGE_BYTES))

    async def __aenter__(self) -> AsyncOpenSOCSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _call(self, frame: dict) -> dict:
        await self._ws.send(json.dumps(frame))
        return _reply(await self._ws.recv())

    async def reset(self, task: str | None = None, mode: str | None = None, seed: int | None = None,
                    episode_id: str | None = None, **extra: Any) -> StepResult:
        msg = await self._call({"type": "reset", "data": _params(task=task, mode=mode, seed=seed, episode_id=episode_id, **extra)})
        return StepResult.from_envelope(msg["data"])

    async def step(self, action: Any) -> StepResult:
        return StepResult.from_envelope((await self._call({"type": "step", "data": _action_body(action)}))["data"])

    async def state(self) -> OpenSOCState:
        return parse_state((await self._call({"type": "state"}))["data"])

    async def close(self) -> None:
        try:
            await self._ws.send(json.dumps({"type": "close"}))
        except Exception:  # noqa: BLE001 - already closed by the server
            pass
        await self._ws.close()
