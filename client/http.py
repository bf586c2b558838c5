"""HTTP clients: ``OpenSOCClient`` (sync) and ``AsyncOpenSOCClient``, both on httpx.

Both are built the same way as the WebSocket sessions: the constructor takes ``base_url`` (default
``$OPENSOC_URL``, else ``http://localhost:8000``), ``token`` (default ``$OPENSOC_API_TOKEN``) and ``timeout``, and
opens nothing (the first request connects); ``connect()`` builds one and checks at once that the server answers and
takes the token; ``with`` / ``async with`` close it. A server that does not answer or refuses the token raises
``OpenSOCError`` (``SERVER_UNREACHABLE``, ``UNAUTHORIZED``) naming the URL, never the transport's own exception.
"""

from __future__ import annotations

import os
from typing import Any

import httpx

from ..models import Grade, OpenSOCError, OpenSOCState
from ..schema import IncidentParams, SubmitTriage
from .errors import check_numbers, from_httpx, unauthorized
from .results import StepResult, http_error, parse_grade, parse_state

LOCAL_URL = "http://localhost:8000"
# OPENSOC_URL points every client at another server without code changes (read when a client is built).
DEFAULT_URL = os.environ.get("OPENSOC_URL", LOCAL_URL)


def server_url(base_url: str | None = None) -> str:
    """``base_url``, else ``$OPENSOC_URL``, else ``http://localhost:8000``."""
    return (base_url or os.environ.get("OPENSOC_URL") or LOCAL_URL).rstrip("/")


def auth_headers(token: str | None) -> dict[str, str]:
    """The Authorization header for a server started with OPENSOC_API_TOKEN (``token``, else that variable)."""
    token = token if token is not None else os.environ.get("OPENSOC_API_TOKEN")
    return {"Authorization": f"Bearer {token}"} if token else {}


def _action_body(action: Any) -> dict:
    if hasattr(action, "model_dump"):  # an OpenSOCAction, SubmitTriage or IncidentParams

        if isinstance(action, SubmitTriage):
            return {"submit_triage": action.model_dump(mode="json", exclude_none=True)}
        if isinstance(action, IncidentParams):
            return {"craft_incident": action.model_dump(mode="json", exclude_none=True)}
        return action.model_dump(mode="json", exclude_none=True)
    return dict(action)


def _params(**kwargs: Any) -> dict:
    return {k: v for k, v in kwargs.items() if v is not None}


def reset_params(task, mode, seed, episode_id, extra: dict) -> dict:
    """A reset's parameters, with a seed or index no server takes refused here (``INVALID_PARAMETER``)."""
    check_numbers(seed=seed, index=extra.get("index"))
    return _params(task=task, mode=mode, seed=seed, episode_id=episode_id, **extra)


class _Base:
    def __init__(self, base_url: str | None, timeout: float | None, token: str | None) -> None:
        self.base_url = server_url(base_url)
        self.timeout = timeout
        self._headers = auth_headers(token)
        self.episode_id: str | None = None  # the last episode reset() started; step() continues it

    def _reset_body(self, task, mode, seed, episode_id, **extra) -> dict:
        return reset_params(task, mode, seed, episode_id, extra)

    def _step_body(self, action, task, mode, seed, episode_id) -> dict:
        check_numbers(seed=seed)
        if episode_id is None and task is None and mode is None and seed is None:
            episode_id = self.episode_id
        return {"action": _action_body(action), **_params(task=task, mode=mode, seed=seed, episode_id=episode_id)}

    def _transport_error(self, exc: Exception) -> OpenSOCError:
        return from_httpx(exc, self.base_url, bool(self._headers), self.timeout)

    def _check(self, response: httpx.Response) -> Any:
        try:
            payload = response.json()
        except ValueError:
            payload = response.text
        if response.status_code == 401:
            raise unauthorized(self.base_url, bool(self._headers), 401, payload)
        if response.status_code >= 400:
            raise http_error(response.status_code, payload)
        return payload


class OpenSOCClient(_Base):
    """Synchronous client. ``reset`` remembers the episode id; ``step`` continues that episode.

    Passing ``task``/``mode``/``seed`` to ``step`` without an episode id asks the server to
    re-create the ``defender_only`` incident for them (stateless). ``token`` (or
    ``$OPENSOC_API_TOKEN``) is sent as a bearer token.

    The constructor opens nothing; ``OpenSOCClient.connect(url)`` also checks the server and token at once::

        with OpenSOCClient.connect("http://localhost:8000") as client:
            client.reset(task="stage1_basic", seed=1)
            result = client.step({"submit_triage": {"action": "monitor", "cited_log_id": "L1-0"}})
            print(result.reward, client.grade().score)
    """

    def __init__(self, base_url: str | None = None, timeout: float = 30.0, transport: httpx.BaseTransport | None = None,
                 token: str | None = None):
        super().__init__(base_url, timeout, token)
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport, headers=self._headers)

    @classmethod
    def connect(cls, base_url: str | None = None, timeout: float = 30.0, transport: httpx.BaseTransport | None = None,
                token: str | None = None) -> OpenSOCClient:
        """A client whose server has answered and taken its token; raises ``OpenSOCError`` otherwise."""
        client = cls(base_url, timeout, transport, token)
        try:
            client.check()
        except BaseException:
            client.close()
            raise
        return client

    def __enter__(self) -> OpenSOCClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise self._transport_error(exc) from None
        return self._check(response)

    def check(self) -> None:
        """Raise ``OpenSOCError`` unless the server answers (``/health``) and takes this client's token (``/state``)."""
        self._send("GET", "/health")
        self._send("GET", "/state")

    def health(self) -> dict:
        return self._send("GET", "/health")

    def tasks(self) -> dict:
        return self._send("GET", "/tasks")

    def reset(self, task: str | None = None, mode: str | None = None, seed: int | None = None,
              episode_id: str | None = None, **extra: Any) -> StepResult:
        result = StepResult.from_envelope(self._send("POST", "/reset",
                                                     json=self._reset_body(task, mode, seed, episode_id, **extra)))
        self.episode_id = result.episode_id
        return result

    def step(self, action: Any, task: str | None = None, mode: str | None = None, seed: int | None = None,
             episode_id: str | None = None) -> StepResult:
        body = self._step_body(action, task, mode, seed, episode_id)
        result = StepResult.from_envelope(self._send("POST", "/step", json=body))
        self.episode_id = result.episode_id
        return result

    def state(self, episode_id: str | None = None) -> OpenSOCState:
        eid = episode_id or self.episode_id
        return parse_state(self._send("GET", "/state", params=_params(episode_id=eid)))

    def grade(self, episode_id: str | None = None) -> Grade:
        return parse_grade(self._send("POST", "/grade", json={"episode_id": episode_id or self.episode_id}))


class AsyncOpenSOCClient(_Base):
    """The asynchronous twin of ``OpenSOCClient``; ``await AsyncOpenSOCClient.connect(url)`` checks the server::

        async with AsyncOpenSOCClient("http://localhost:8000") as client:
            await client.reset(task="stage1_basic", seed=1)
            result = await client.step({"submit_triage": {"action": "monitor", "cited_log_id": "L1-0"}})
    """

    def __init__(self, base_url: str | None = None, timeout: float = 30.0,
                 transport: httpx.AsyncBaseTransport | None = None, token: str | None = None):
        super().__init__(base_url, timeout, token)
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout, transport=transport,
                                       headers=self._headers)

    @classmethod
    async def connect(cls, base_url: str | None = None, timeout: float = 30.0,
                      transport: httpx.AsyncBaseTransport | None = None, token: str | None = None) -> AsyncOpenSOCClient:
        """A client whose server has answered and taken its token; raises ``OpenSOCError`` otherwise."""
        client = cls(base_url, timeout, transport, token)
        try:
            await client.check()
        except BaseException:
            await client.close()
            raise
        return client

    async def __aenter__(self) -> AsyncOpenSOCClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def _send(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise self._transport_error(exc) from None
        return self._check(response)

    async def check(self) -> None:
        """Raise ``OpenSOCError`` unless the server answers (``/health``) and takes this client's token (``/state``)."""
        await self._send("GET", "/health")
        await self._send("GET", "/state")

    async def health(self) -> dict:
        return await self._send("GET", "/health")

    async def tasks(self) -> dict:
        return await self._send("GET", "/tasks")

    async def reset(self, task: str | None = None, mode: str | None = None, seed: int | None = None,
                    episode_id: str | None = None, **extra: Any) -> StepResult:
        payload = await self._send("POST", "/reset", json=self._reset_body(task, mode, seed, episode_id, **extra))
        result = StepResult.from_envelope(payload)
        self.episode_id = result.episode_id
        return result

    async def step(self, action: Any, task: str | None = None, mode: str | None = None, seed: int | None = None,
                   episode_id: str | None = None) -> StepResult:
        body = self._step_body(action, task, mode, seed, episode_id)
        result = StepResult.from_envelope(await self._send("POST", "/step", json=body))
        self.episode_id = result.episode_id
        return result

    async def state(self, episode_id: str | None = None) -> OpenSOCState:
        eid = episode_id or self.episode_id
        return parse_state(await self._send("GET", "/state", params=_params(episode_id=eid)))

    async def grade(self, episode_id: str | None = None) -> Grade:
        return parse_grade(await self._send("POST", "/grade", json={"episode_id": episode_id or self.episode_id}))
