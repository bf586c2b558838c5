"""WebSocket session clients on ``/ws``: one server-side environment per connection.

Built like the HTTP clients: ``base_url`` (default ``$OPENSOC_URL``, else ``http://localhost:8000``), ``token``
(default ``$OPENSOC_API_TOKEN``), a ``connect()`` classmethod that returns a connected session, and ``with`` /
``async with``. ``OpenSOCSession(url)`` connects in its constructor (a wrong URL or token fails there, where a
trainer builds its environments); ``AsyncOpenSOCSession(url)`` cannot wait in a constructor, so it connects on
``async with``, on ``await AsyncOpenSOCSession.connect(url)`` or at its first call. A server that does not answer
or refuses the token raises ``OpenSOCError`` (``SERVER_UNREACHABLE``, ``UNAUTHORIZED``) naming the URL.

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
from .errors import from_websocket
from .http import _action_body, auth_headers, reset_params, server_url
from .results import OpenSOCError, StepResult, parse_state

MAX_MESSAGE_BYTES = 16 << 20


def ws_url(base_url: str | None = None) -> str:
    """``http(s)://host[:port]`` → ``ws(s)://host[:port]/ws``."""
    url = server_url(base_url)
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
    return {"type": "reset", "data": reset_params(task, mode, seed, episode_id, extra)}


class OpenSOCSession:
    """A synchronous WebSocket session: ``reset``/``step``/``state`` over one connection, opened by the constructor.

    ``token`` (or ``$OPENSOC_API_TOKEN``) is sent as a bearer token when connecting. ``close`` waits at most
    ``close_timeout`` seconds for the server's half of the closing handshake, then drops the socket::

        with OpenSOCSession("http://localhost:8000") as session:
            first = session.reset(task="stage1_basic", seed=1)
            result = session.step({"submit_triage": {"action": "monitor", "cited_log_id": "L1-0"}})
            print(result.reward, session.state().step_count)
    """

    def __init__(self, base_url: str | None = None, open_timeout: float = 10.0, token: str | None = None,
                 close_timeout: float = 10.0):
        self._url, self._open_timeout, self._headers = ws_url(base_url), open_timeout, auth_headers(token)
        self._close_timeout = close_timeout
        self._connect()

    @classmethod
    def connect(cls, base_url: str | None = None, open_timeout: float = 10.0, token: str | None = None,
                close_timeout: float = 10.0) -> OpenSOCSession:
        """A connected session: the same as the constructor, named like the other clients' ``connect``."""
        return cls(base_url, open_timeout, token, close_timeout)

    @property
    def url(self) -> str:
        return self._url

    def _connect(self) -> None:
        try:
            self._connection = sync_connect(self._url, open_timeout=self._open_timeout,
                                            close_timeout=self._close_timeout, max_size=MAX_MESSAGE_BYTES,
                                            additional_headers=self._headers)
        except Exception as exc:  # noqa: BLE001 - mapped to OpenSOCError when it is a failed connection
            error = from_websocket(exc, self._url, bool(self._headers), self._open_timeout)
            if error is None:
                raise
            raise error from None
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
    """The asynchronous twin of ``OpenSOCSession``. Its constructor opens nothing (it cannot wait); ``async with``,
    ``await AsyncOpenSOCSession.connect(url)`` or the first call connects::

        async with AsyncOpenSOCSession("http://localhost:8000") as session:
            await session.reset(task="stage1_basic", seed=1)
            result = await session.step({"submit_triage": {"action": "monitor", "cited_log_id": "L1-0"}})
    """

    def __init__(self, base_url: str | None = None, open_timeout: float = 10.0, token: str | None = None,
                 close_timeout: float = 10.0):
        self._url, self._open_timeout, self._headers = ws_url(base_url), open_timeout, auth_headers(token)
        self._close_timeout = close_timeout
        self._ws: Any = None
        self._episode_lost = False  # closed after connecting: step and state have no episode to continue

    @classmethod
    async def connect(cls, base_url: str | None = None, open_timeout: float = 10.0, token: str | None = None,
                      close_timeout: float = 10.0) -> AsyncOpenSOCSession:
        """A connected session; raises ``OpenSOCError`` when the server does not answer or refuses the token."""
        session = cls(base_url, open_timeout, token, close_timeout)
        await session.open()
        return session

    @property
    def url(self) -> str:
        return self._url

    @property
    def connected(self) -> bool:
        return self._ws is not None

    async def open(self) -> None:
        """Connect now (nothing happens when connected already)."""
        if self._ws is not None:
            return
        try:
            self._ws = await async_connect(self._url, open_timeout=self._open_timeout, close_timeout=self._close_timeout,
                                           max_size=MAX_MESSAGE_BYTES, additional_headers=self._headers)
        except Exception as exc:  # noqa: BLE001 - mapped to OpenSOCError when it is a failed connection
            error = from_websocket(exc, self._url, bool(self._headers), self._open_timeout)
            if error is None:
                raise
            raise error from None
        self._episode_lost = False

    async def __aenter__(self) -> AsyncOpenSOCSession:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _call(self, frame: dict) -> dict:
        if self._ws is None and self._episode_lost and frame["type"] != "reset":
            raise OpenSOCError("the session is closed; reset starts another", code="SESSION_CLOSED")
        await self.open()
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
            if exc.code not in ("SESSION_CLOSED", "SESSION_ERROR"):
                raise
            await self.close()
            msg = await self._call(frame)  # connects again: the server dropped an idle session
        return StepResult.from_envelope(msg["data"])

    async def step(self, action: Any) -> StepResult:
        return StepResult.from_envelope((await self._call({"type": "step", "data": _action_body(action)}))["data"])

    async def state(self) -> OpenSOCState:
        return parse_state((await self._call({"type": "state"}))["data"])

    async def close(self) -> None:
        if self._ws is None:
            return
        ws, self._ws, self._episode_lost = self._ws, None, True
        try:
            await ws.send(json.dumps({"type": "close"}))
        except Exception:  # noqa: BLE001 - already closed by the server
            pass
        await ws.close()
