"""HTTP clients: ``OpenSOCClient`` (sync) and ``AsyncOpenSOCClient``, both on httpx."""

from __future__ import annotations

import os
from typing import Any

import httpx

from ..models import Grade, OpenSOCState
from .results import StepResult, http_error, parse_grade, parse_state

# OPENSOC_URL points every client at another server without code changes.
DEFAULT_URL = os.environ.get("OPENSOC_URL", "http://localhost:8000")


def auth_headers(token: str | None) -> dict[str, str]:
    """The Authorization header for a server started with OPENSOC_API_TOKEN (``token``, else that variable)."""
    token = token if token is not None else os.environ.get("OPENSOC_API_TOKEN")
    return {"Authorization": f"Bearer {token}"} if token else {}


def _action_body(action: Any) -> dict:
    if hasattr(action, "model_dump"):  # an OpenSOCAction, SubmitTriage or IncidentParams
        from ..schema import IncidentParams, SubmitTriage

        if isinstance(action, SubmitTriage):
            return {"submit_triage": action.model_dump(mode="json", exclude_none=True)}
        if isinstance(action, IncidentParams):
            return {"craft_incident": action.model_dump(mode="json", exclude_none=True)}
        return action.model_dump(mode="json", exclude_none=True)
    return dict(action)


def _params(**kwargs: Any) -> dict:
    return {k: v for k, v in kwargs.items() if v is not None}


class _Base:
    def __init__(self) -> None:
        self.episode_id: str | None = None  # the last episode reset() started; step() continues it

    def _reset_body(self, task, mode, seed, episode_id, **extra) -> dict:
        return _params(task=task, mode=mode, seed=seed, episode_id=episode_id, **extra)

    def _step_body(self, action, task, mode, seed, episode_id) -> dict:
        if episode_id is None and task is None and mode is None and seed is None:
            episode_id = self.episode_id
        return {"action": _action_body(action), **_params(task=task, mode=mode, seed=seed, episode_id=episode_id)}

    @staticmethod
    def _check(response: httpx.Response) -> Any:
        try:
            payload = response.json()
        except ValueError:
            payload = response.text
        if response.status_code >= 400:
            raise http_error(response.status_code, payload)
        return payload


class OpenSOCClient(_Base):
    """Synchronous client. ``reset`` remembers the episode id; ``step`` continues that episode.

    Passing ``task``/``mode``/``seed`` to ``step`` without an episode id asks the server to
    re-create the ``defender_only`` incident for them (stateless). ``token`` (or
    ``$OPENSOC_API_TOKEN``) is sent as a bearer token.
    """

    def __init__(self, base_url: str = DEFAULT_URL, timeout: float = 30.0, transport: httpx.BaseTransport | None = None,
                 token: str | None = None):
        super().__init__()
        self._http = httpx.Client(base_url=base_url, timeout=timeout, transport=transport, headers=auth_headers(token))

    def __enter__(self) -> OpenSOCClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def health(self) -> dict:
        return self._check(self._http.get("/health"))

    def tasks(self) -> dict:
        return self._check(self._http.get("/tasks"))

    def reset(self, task: str | None = None, mode: str | None = None, seed: int | None = None,
              episode_id: str | None = None, **extra: Any) -> StepResult:
        result = StepResult.from_envelope(self._check(self._http.post("/reset", json=self._reset_body(task, mode, seed, episode_id, **extra))))
        self.episode_id = result.episode_id
        return result

    def step(self, action: Any, task: str | None = None, mode: str | None = None, seed: int | None = None,
             episode_id: str | None = None) -> StepResult:
        body = self._step_body(action, task, mode, seed, episode_id)
        result = StepResult.from_envelope(self._check(self._http.post("/step", json=body)))
        self.episode_id = result.episode_id
        return result

    def state(self, episode_id: str | None = None) -> OpenSOCState:
        eid = episode_id or self.episode_id
        return parse_state(self._check(self._http.get("/state", params=_params(episode_id=eid))))

    def grade(self, episode_id: str | None = None) -> Grade:
        return parse_grade(self._check(self._http.post("/grade", json={"episode_id": episode_id or self.episode_id})))


class AsyncOpenSOCClient(_Base):
    """The asynchronous twin of ``OpenSOCClient``."""

    def __init__(self, base_url: str = DEFAULT_URL, timeout: float = 30.0, transport: httpx.AsyncBaseTransport | None = None,
                 token: str | None = None):
        super().__init__()
        self._http = httpx.AsyncClient(base_url=base_url, timeout=timeout, transport=transport,
                                       headers=auth_headers(token))

    async def __aenter__(self) -> AsyncOpenSOCClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def health(self) -> dict:
        return self._check(await self._http.get("/health"))

    async def tasks(self) -> dict:
        return self._check(await self._http.get("/tasks"))

    async def reset(self, task: str | None = None, mode: str | None = None, seed: int | None = None,
                    episode_id: str | None = None, **extra: Any) -> StepResult:
        payload = self._check(await self._http.post("/reset", json=self._reset_body(task, mode, seed, episode_id, **extra)))
        result = StepResult.from_envelope(payload)
        self.episode_id = result.episode_id
        return result

    async def step(self, action: Any, task: str | None = None, mode: str | None = None, seed: int | None = None,
                   episode_id: str | None = None) -> StepResult:
        body = self._step_body(action, task, mode, seed, episode_id)
        result = StepResult.from_envelope(self._check(await self._http.post("/step", json=body)))
        self.episode_id = result.episode_id
        return result

    async def state(self, episode_id: str | None = None) -> OpenSOCState:
        eid = episode_id or self.episode_id
        return parse_state(self._check(await self._http.get("/state", params=_params(episode_id=eid))))

    async def grade(self, episode_id: str | None = None) -> Grade:
        return parse_grade(self._check(await self._http.post("/grade", json={"episode_id": episode_id or self.episode_id})))
