"""The FastAPI app: OpenEnv's HTTP and WebSocket contract in front of ``OpenSOCEnv``.

This module only translates. It parses requests, finds or creates the episode, calls the
state machine, and writes OpenEnv's envelopes (``{"observation", "reward", "done"}``) and
error shapes. Every bad request becomes a 4xx JSON body naming the field; nothing a client
sends reaches another client's episode.

HTTP episodes: ``/reset`` stores its episode under ``episode_id`` (returned in the
observation and in ``metadata``). ``/step`` with that id continues it. ``/step`` without an
id re-creates the ``defender_only`` incident for (task, seed) from the documented defaults,
which is stateless and so works behind any replica.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from . import __version__
from .env import (
    DEFAULT_DEFENDER_POLICY,
    DEFAULT_MODE,
    DEFAULT_SEED,
    DEFAULT_TASK,
    AttackerRun,
    EpisodeError,
    OpenSOCEnv,
)
from .defenders import DEFENDER_POLICIES
from .mcp_tools import handle_jsonrpc
from .models import MODES, OpenSOCObservation, OpenSOCState
from .schema import OpenSOCAction
from .tasks.registry import E1_TASKS, TASKS

log = logging.getLogger("opensoc.service")

DESCRIPTION = (
    "Two-role security-incident environment: an attacker crafts a structured incident, a defender triages the SIEM "
    "alert (dismiss, monitor, quarantine_host, block_ip, escalate) citing a log id, and a deterministic verifier "
    "scores both from the structured events alone."
)

STATUS = {
    "INVALID_PARAMETER": 422,
    "INVALID_ACTION": 422,
    "INVALID_REQUEST": 422,
    "MALFORMED_JSON": 400,
    "BODY_TOO_LARGE": 413,
    "WRONG_TURN": 409,
    "EPISODE_OVER": 409,
    "NO_EPISODE": 409,
    "NOT_GRADABLE": 409,
    "STATELESS_MODE": 400,
    "UNKNOWN_EPISODE": 404,
    "TOO_MANY_EPISODES": 429,
}


@dataclass(frozen=True)
class ServiceSettings:
    """Limits of one server process; each has an ``OPENSOC_*`` environment variable."""

    max_ws_sessions: int = 256  # TRL opens one WebSocket per generation
    max_http_episodes: int = 4096
    episode_ttl_s: float = 1800.0
    max_body_bytes: int = 1 << 20
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)

    @classmethod
    def from_env(cls) -> ServiceSettings:
        def num(name: str, default: float, kind: type) -> Any:
            raw = os.environ.get(name)
            if raw is None:
                return default
            try:
                value = kind(raw)
            except ValueError:
                raise SystemExit(f"{name}={raw!r} is not a valid {kind.__name__}") from None
            if value <= 0:
                raise SystemExit(f"{name} must be positive, got {raw!r}")
            return value

        return cls(
            max_ws_sessions=num("OPENSOC_MAX_WS_SESSIONS", cls.max_ws_sessions, int),
            max_http_episodes=num("OPENSOC_MAX_HTTP_EPISODES", cls.max_http_episodes, int),
            episode_ttl_s=num("OPENSOC_EPISODE_TTL_S", cls.episode_ttl_s, float),
            max_body_bytes=num("OPENSOC_MAX_BODY_BYTES", cls.max_body_bytes, int),
        )


class RequestError(Exception):
    """A transport-level 4xx with a stable code."""

    def __init__(self, code: str, message: str, *, field: str | None = None, expected: Any = None):
        super().__init__(message)
        self.code, self.message, self.field, self.expected = code, message, field, expected


def _error_body(code: str, message: str, field: str | None = None, expected: Any = None) -> dict:
    error = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    if expected is not None:
        error["expected"] = expected
    return {"detail": message, "error": error}


class EpisodeStore:
    """HTTP episodes by id, least recently used first, with idle expiry and a cap."""

    def __init__(self, settings: ServiceSettings):
        self.settings = settings
        self._episodes: OrderedDict[str, tuple[OpenSOCEnv, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._episodes)

    def _purge(self) -> None:
        deadline = self.settings.clock() - self.settings.episode_ttl_s
        while self._episodes:
            oldest_id, (_, used) = next(iter(self._episodes.items()))
            if used > deadline:
                break
            del self._episodes[oldest_id]

    def get(self, episode_id: str) -> OpenSOCEnv:
        self._purge()
        entry = self._episodes.get(episode_id)
        if entry is None:
            raise RequestError("UNKNOWN_EPISODE", f"unknown or expired episode_id {episode_id!r}: episodes idle for "
                               f"{self.settings.episode_ttl_s:g} s are dropped; call /reset", field="episode_id")
        self._episodes.move_to_end(episode_id)
        self._episodes[episode_id] = (entry[0], self.settings.clock())
        return entry[0]

    def put(self, env: OpenSOCEnv) -> None:
        self._purge()
        episode_id = env.state.episode_id
        if episode_id not in self._episodes and len(self._episodes) >= self.settings.max_http_episodes:
            finished = next((k for k, (e, _) in self._episodes.items() if e.done), None)
            if finished is None:
                raise RequestError("TOO_MANY_EPISODES", f"{len(self._episodes)} HTTP episodes are open (the cap); "
                                   "finish or let some expire, or use /ws")
            del self._episodes[finished]  # finished episodes go first; their grades were available until now
        self._episodes[episode_id] = (env, self.settings.clock())
        self._episodes.move_to_end(episode_id)


# ------------------------------------------------------------------ request models


class ResetParams(BaseModel):
    """Reset arguments, from the query string or a JSON body (OpenEnv's ResetRequest plus OpenSOC's)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    seed: int | None = Field(default=None, ge=0, description=f"Incident seed; default {DEFAULT_SEED}.")
    episode_id: str | None = Field(default=None, min_length=1, max_length=255)
    task: str | None = Field(default=None, max_length=64, description=f"Curriculum task; default {DEFAULT_TASK}.")
    mode: str | None = Field(default=None, max_length=32, description=f"defender_only, self_play or attacker_only; default {DEFAULT_MODE}.")
    defender_policy: str | None = Field(default=None, max_length=32, description=f"attacker_only's built-in defender; default {DEFAULT_DEFENDER_POLICY}.")
    use_replay_pool: bool = Field(default=False, description="Let stage 4 replay plausible attacker incidents of this server's run.")
    split: str | None = Field(default=None, max_length=16, description="E1 tasks: train, dev, test or ood.")
    scoring: str | None = Field(default=None, max_length=16, description="E1 tasks: default or compat.")


_STEP_ENVELOPE_KEYS = {"action", "episode_id", "timeout_s", "request_id", "task", "mode", "seed"}


async def _json_body(request: Request, limit: int) -> Any:
    raw = await request.body()
    if len(raw) > limit:
        raise RequestError("BODY_TOO_LARGE", f"request body is {len(raw)} bytes; the limit is {limit}")
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RequestError("MALFORMED_JSON", f"request body is not valid JSON: {exc}") from None


def _merge(query: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    merged = dict(query)
    for key, value in body.items():
        if key in merged and merged[key] != value:
            raise RequestError("INVALID_REQUEST", f"{key!r} is given in the query ({merged[key]!r}) and the body "
                               f"({value!r}) with different values", field=key)
        merged[key] = value
    return merged


def _query_params(request: Request, names: tuple[str, ...]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key, value in request.query_params.items():
        if key not in names:
            raise RequestError("INVALID_REQUEST", f"unknown query parameter {key!r}; expected one of: {', '.join(names)}",
                               field=key, expected=list(names))
        if key == "seed":
            try:
                value = int(value)
            except ValueError:
                raise RequestError("INVALID_PARAMETER", f"seed must be a non-negative integer, got {value!r}",
                                   field="seed") from None
        if key == "use_replay_pool":
            value = value.lower() in ("1", "true", "yes")
        params[key] = value
    return params


def _reset_params(data: Any) -> ResetParams:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise RequestError("INVALID_REQUEST", "the reset body must be a JSON object")
    try:
        return ResetParams.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise RequestError("INVALID_PARAMETER", f"{loc}: {err['msg']}", field=loc,
                           expected=list(ResetParams.model_fields) if err["type"] == "extra_forbidden" else None) from None


class SharedJsonCache:
    """JSON of shared immutable objects (an incident's Alert and prompt), keyed by the object itself.

    Incidents are materialized once per (task, seed) and shared across sessions, so the same
    Alert and prompt string are sent many times; each is serialized once. Entries hold the
    object, so an id is never reused while its entry lives.
    """

    def __init__(self, size: int = 8192):
        self.size = size
        self._entries: OrderedDict[int, tuple[object, str]] = OrderedDict()

    def json(self, obj) -> str:
        key = id(obj)
        entry = self._entries.get(key)
        if entry is not None and entry[0] is obj:
            self._entries.move_to_end(key)
            return entry[1]
        text = obj.model_dump_json() if hasattr(obj, "model_dump_json") else json.dumps(obj)
        self._entries[key] = (obj, text)
        if len(self._entries) > self.size:
            self._entries.popitem(last=False)
        return text


_SHARED = SharedJsonCache()


def envelope(obs: OpenSOCObservation) -> str:
    """OpenEnv's step/reset envelope as JSON text: observation without reward/done, then both beside it."""
    if obs.alert is None:
        body = obs.model_dump_json(exclude={"reward", "done"})
    else:
        body = (obs.model_dump_json(exclude={"reward", "done", "alert", "prompt"})[:-1]
                + ',"alert":' + _SHARED.json(obs.alert) + ',"prompt":' + _SHARED.json(obs.prompt) + "}")
    reward = "null" if obs.reward is None else json.dumps(float(obs.reward))
    meta = json.dumps({"episode_id": obs.episode_id})
    return f'{{"observation":{body},"reward":{reward},"done":{"true" if obs.done else "false"},"metadata":{meta}}}'


def _json_response(text: str) -> Response:
    return Response(content=text, media_type="application/json")


# --------------------------------------------------------------------------- app


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """Build the OpenSOC API app (the demo is mounted by ``server.py``)."""
    settings = settings or ServiceSettings()
    app = FastAPI(title="OpenEnv Environment HTTP API", version="1.0.0", description=DESCRIPTION,
                  docs_url="/docs", redoc_url="/redoc")
    run = AttackerRun()
    store = EpisodeStore(settings)
    ws_active = {"count": 0}
    app.state.settings, app.state.run, app.state.store = settings, run, store

    @app.exception_handler(RequestError)
    async def _request_error(_: Request, exc: RequestError) -> JSONResponse:
        return JSONResponse(_error_body(exc.code, exc.message, exc.field, exc.expected), status_code=STATUS[exc.code])

    @app.exception_handler(EpisodeError)
    async def _episode_error(_: Request, exc: EpisodeError) -> JSONResponse:
        return JSONResponse(_error_body(exc.code, exc.message, exc.field, exc.expected), status_code=STATUS[exc.code])

    @app.get("/health", summary="Liveness probe")
    async def health() -> dict:
        return {"status": "healthy"}

    @app.get("/metadata", summary="Name and description")
    async def metadata() -> dict:
        return {"name": "opensoc", "description": DESCRIPTION, "readme_content": None, "version": __version__,
                "author": "OpenSOC", "documentation_url": None}

    @app.get("/schema", summary="JSON Schemas of the action, observation and state as sent")
    async def schema() -> dict:
        obs = OpenSOCObservation.model_json_schema()
        return {"action": OpenSOCAction.model_json_schema(), "observation": obs, "reset_observation": obs,
                "state": OpenSOCState.model_json_schema()}

    @app.get("/tasks", summary="The curriculum tasks, modes and defaults")
    async def tasks() -> dict:
        return {
            "tasks": [{"name": s.name, "stage": s.stage, "title": s.title, "description": s.description} for s in TASKS.values()]
            + [{"name": s.name, "stage": None, "title": s.title, "description": s.description, "splits": list(s.splits),
                "default_split": s.default_split, "scoring": ["default", "compat"]} for s in E1_TASKS.values()],
            "modes": list(MODES),
            "defender_policies": list(DEFENDER_POLICIES),
            "defaults": {"task": DEFAULT_TASK, "mode": DEFAULT_MODE, "seed": DEFAULT_SEED,
                         "defender_policy": DEFAULT_DEFENDER_POLICY},
        }

    @app.post("/reset", summary="Start an episode")
    async def reset(request: Request) -> Response:
        query = _query_params(request, tuple(ResetParams.model_fields))
        body = await _json_body(request, settings.max_body_bytes)
        if body is not None and not isinstance(body, dict):
            raise RequestError("INVALID_REQUEST", "the reset body must be a JSON object")
        params = _reset_params(_merge(query, body or {}))
        env = OpenSOCEnv(run)
        obs = env.reset(**params.model_dump())
        store.put(env)
        return _json_response(envelope(obs))

    @app.post("/step", summary="Take an action")
    async def step(request: Request) -> Response:
        query = _query_params(request, ("task", "mode", "seed", "episode_id"))
        body = await _json_body(request, settings.max_body_bytes)
        if not isinstance(body, dict):
            raise RequestError("INVALID_REQUEST", 'the step body must be a JSON object: {"action": {...}} or '
                               '{"submit_triage": {...}} / {"craft_incident": {...}}', field="action")
        if "action" in body:  # OpenEnv style
            unknown = sorted(set(body) - _STEP_ENVELOPE_KEYS)
            if unknown:
                raise RequestError("INVALID_REQUEST", f"unknown step field {unknown[0]!r}", field=unknown[0],
                                   expected=sorted(_STEP_ENVELOPE_KEYS))
            action = body["action"]
            ctx = _merge(query, {k: body[k] for k in ("task", "mode", "seed", "episode_id") if k in body})
        else:  # the project's style: the body is the action itself
            action, ctx = body, query
        if not isinstance(action, dict):
            raise RequestError("INVALID_ACTION", "action must be a JSON object holding craft_incident, submit_triage "
                               "or classify_flow", field="action")
        episode_id = ctx.pop("episode_id", None)
        if episode_id is not None:
            env = store.get(str(episode_id))
        else:
            mode = ctx.get("mode", DEFAULT_MODE)
            if mode != "defender_only":
                raise RequestError("STATELESS_MODE", f"mode {mode!r} keeps state between turns: pass the episode_id "
                                   "that /reset returned (or use /ws)", field="episode_id")
            env = OpenSOCEnv(run)
            env.reset(**_reset_params(ctx).model_dump())
        obs = env.step(action)
        store.put(env)  # stateless steps are kept too, so /grade and /state can find them
        return _json_response(envelope(obs))

    @app.get("/state", summary="The episode state")
    async def state(episode_id: str | None = None) -> dict:
        # Without an id there is no episode to show: HTTP episodes are addressed by id.
        env = store.get(episode_id) if episode_id is not None else None
        return (env.state if env else OpenSOCState()).model_dump(mode="json")

    @app.post("/grade", summary="Scores of a finished episode")
    async def grade(request: Request) -> dict:
        query = _query_params(request, ("episode_id",))
        body = await _json_body(request, settings.max_body_bytes)
        if body is not None and (not isinstance(body, dict) or set(body) - {"episode_id"}):
            raise RequestError("INVALID_REQUEST", 'the grade body is {"episode_id": "..."}', field="episode_id")
        episode_id = _merge(query, body or {}).get("episode_id")
        if episode_id is None:
            raise RequestError("INVALID_REQUEST", "episode_id is required: the id /reset or /step returned",
                               field="episode_id")
        return store.get(str(episode_id)).grade().model_dump(mode="json")

    @app.post("/mcp", summary="JSON-RPC 2.0 (MCP tools); always HTTP 200")
    async def mcp(request: Request) -> JSONResponse:
        raw = await request.body()
        return JSONResponse(handle_jsonrpc(raw, run, settings.max_body_bytes), status_code=200)

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        if ws_active["count"] >= settings.max_ws_sessions:
            await websocket.send_json({"type": "error", "data": {
                "message": f"Server at capacity: {ws_active['count']}/{settings.max_ws_sessions} sessions active. "
                           "Cannot accept new connections.",
                "code": "CAPACITY_REACHED", "active_sessions": ws_active["count"],
                "max_sessions": settings.max_ws_sessions}})
            await websocket.close(code=1013)
            return
        ws_active["count"] += 1
        session = WsSession(OpenSOCEnv(run), settings, run)
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text")
                if text is None:
                    text = (message.get("bytes") or b"").decode("utf-8", errors="replace")
                reply, close = session.handle(text)
                if reply is not None:
                    await websocket.send_text(reply)
                if close:
                    await websocket.close()
                    break
        except WebSocketDisconnect:
            pass
        finally:
            ws_active["count"] -= 1
            session.env.close()

    return app


class WsSession:
    """One WebSocket connection's environment and OpenEnv message handling."""

    _RESET_KEYS = set(ResetParams.model_fields)

    def __init__(self, env: OpenSOCEnv, settings: ServiceSettings, run: AttackerRun):
        self.env, self.settings, self.run = env, settings, run

    @staticmethod
    def _error(code: str, message: str, **extra: Any) -> str:
        return json.dumps({"type": "error", "data": {"message": message, "code": code, **extra}})

    def handle(self, text: str) -> tuple[str | None, bool]:
        """The reply frame for one client frame, and whether to close the socket."""
        if len(text) > self.settings.max_body_bytes:
            return self._error("VALIDATION_ERROR", f"message is {len(text)} bytes; the limit is {self.settings.max_body_bytes}"), False
        try:
            msg = json.loads(text)
        except json.JSONDecodeError as exc:
            return self._error("INVALID_JSON", f"Invalid JSON: {exc}"), False
        if not isinstance(msg, dict) or not isinstance(msg.get("type"), str) or set(msg) - {"type", "data"}:
            return self._error("VALIDATION_ERROR", "Invalid message", errors=[
                {"msg": 'a message is {"type": "reset"|"step"|"state"|"close"|"mcp", "data": {...}}'}]), False
        kind, data = msg["type"], msg.get("data")
        try:
            if kind == "reset":
                params = _reset_params(data)
                return self._observation(self.env.reset(**params.model_dump())), False
            if kind == "step":
                if not isinstance(data, dict):
                    return self._error("VALIDATION_ERROR", "Invalid message", errors=[
                        {"loc": ["data"], "msg": "a step frame's data is the action object"}]), False
                return self._observation(self.env.step(data)), False
            if kind == "state":
                return json.dumps({"type": "state", "data": self.env.state.model_dump(mode="json")}), False
            if kind == "close":
                return None, True
            if kind == "mcp":
                payload = json.dumps(data).encode() if data is not None else b""
                return json.dumps({"type": "mcp", "data": handle_jsonrpc(payload, self.run, self.settings.max_body_bytes)}), False
            return self._error("UNKNOWN_TYPE", f"Unknown message type: {kind}"), False
        except RequestError as exc:
            return self._error("VALIDATION_ERROR", exc.message, errors=[{"loc": [exc.field], "msg": exc.message}]), False
        except EpisodeError as exc:
            return self._error("EXECUTION_ERROR", exc.message, reason=exc.code, field=exc.field), False
        except Exception as exc:  # noqa: BLE001 - a bug must not end this client's session or touch another's
            log.exception("unexpected error handling a %s frame", kind)
            return self._error("EXECUTION_ERROR", f"internal error: {type(exc).__name__}"), False

    @staticmethod
    def _observation(obs: OpenSOCObservation) -> str:
        return f'{{"type":"observation","data":{envelope(obs)}}}'

