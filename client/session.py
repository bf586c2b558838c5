"""WebSocket session clients on ``/ws``: one server-side environment per connection.

The server closes a session idle for ``OPENSOC_WS_IDLE_S``. ``reset`` starts a new episode
anyway, so when it finds the connection closed it connects again and carries on; ``step``
and ``state`` belong to an episode that closed with the connection, so they raise
``OpenSOCError`` with code ``SESSION_CLOSED``.
"""

from __future__ import annotations

import json
from typing import Any

from websockets.asyncio.client import connect as async_connect
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as sync_connect

from ..models import OpenSOCState
from .http import DEFAULT_URL, _action_body, _params, auth_headers
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
        raise OpenSOCError(data.get("message", ""), code=data.get("code", "ERROR"),
                           field=data.get("field"), expected=data.get("expected"), body=msg)
    return msg


def _closed(exc: ConnectionClosed) -> OpenSOCError:
    return OpenSOCError(f"the server closed the session ({exc}); reset starts another", code="SESSION_CLOSED")


def _reset_frame(task, mode, seed, episode_id, extra) -> dict:
    return {"type": "reset", "data": _params(task=task, mode=mode, seed=seed, episode_id=episode_id, **extra)}


class OpenSOCSession:
    """A synchronous WebSocket session: ``reset``/``step``/``state`` over one connection.

    ``token`` (or ``$OPENSOC_API_TOKEN``) is sent as a bearer token when connecting. ``close`` waits at most
    ``close_timeout`` seconds for the server's half of the closing handshake, then drops the socket.
    """

    def __init__(self, base_url: str = DEFAULT_URL, open_timeout: float = 10.0, token: str | None = None,
                 close_timeout: float = 10.0):
        self._url, self._open_timeout, self._headers = ws_url(base_url), open_timeout, auth_headers(token)
        self._close_timeout = close_timeout
        self._connect()

    def _connect(self) -> None:
        self._connection = sync_connect(self._url, open_timeout=self._open_timeout, close_timeout=self._close_timeout,
                                        max_size=MAX_MESSAGE_BYTES, additional_headers=self._headers)
        self._ws = self._connection.__enter__()

    def __enter__(self) -> OpenSOCSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, frame: dict) -> dict:
        try:
            self._ws.send(json.dumps(frame))
            return _reply(self._ws.recv())
        except ConnectionClosed as exc:
            raise _closed(exc) from None

    def reset(self, task: str | None = None, mode: str | None = None, seed: int | None = None,
              episode_id: str | None = None, **extra: Any) -> StepResult:
        frame = _reset_frame(task, mode, seed, episode_id, extra)
        try:
            msg = self._call(frame)
        except OpenSOCError as exc:
            if exc.code not in ("SESSION_CLOSED", "SESSION_ERROR"):
                raise
            self._connection.__exit__(None, None, None)
            self._connect()  # the server dropped an idle session: a reset needs nothing from it
            msg = self._call(frame)
        return StepResult.from_envelope(msg["data"])

    def step(self, action: Any) -> StepResult:
        return StepResult.from_envelope(self._call({"type": "step", "data": _action_body(action)})["data"])

    def state(self) -> OpenSOCState:
        return parse_state(self._call({"type": "state"})["data"])

    def close(self, timeout: float | None = None) -> None:
        """End the session; ``timeout`` (default: the session's ``close_timeout``) bounds the wait for the server."""
        if timeout is not None:
            self._connection.close_timeout = timeout
        try:
            self._ws.send(json.dumps({"type": "close"}))
        except Exception:  # noqa: BLE001 - already closed by the server
            pass
        self._connection.__exit__(None, None, None)


class AsyncOpenSOCSession:
    """The asynchronous twin of ``OpenSOCSession``; use ``await AsyncOpenSOCSession.connect(url)``."""

    def __init__(self, ws: Any, url: str | None = None, open_timeout: float = 10.0, headers: dict | None = None):
        self._ws, self._url, self._open_timeout, self._headers = ws, url, open_timeout, headers or {}

    @classmethod
    async def connect(cls, base_url: str = DEFAULT_URL, open_timeout: float = 10.0,
                      token: str | None = None) -> AsyncOpenSOCSession:
        url, headers = ws_url(base_url), auth_headers(token)
        ws = await async_connect(url, open_timeout=open_timeout, max_size=MAX_MESSAGE_BYTES, additional_headers=headers)
        return cls(ws, url, open_timeout, headers)

    async def __aenter__(self) -> AsyncOpenSOCSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _call(self, frame: dict) -> dict:
        try:
            await self._ws.send(json.dumps(frame))
            return _reply(await self._ws.recv())
        except ConnectionClosed as exc:
            raise _closed(exc) from None

    async def reset(self, task: str | None = None, mode: str | None = None, seed: int | None = None,
                    episode_id: str | None = None, **extra: Any) -> StepResult:
        frame = _reset_frame(task, mode, seed, episode_id, extra)
        try:
            msg = await self._call(frame)
        except OpenSOCError as exc:
            if exc.code not in ("SESSION_CLOSED", "SESSION_ERROR") or self._url is None:
                raise
            await self._ws.close()
            self._ws = await async_connect(self._url, open_timeout=self._open_timeout, max_size=MAX_MESSAGE_BYTES,
                                           additional_headers=self._headers)
            msg = await self._call(frame)
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
