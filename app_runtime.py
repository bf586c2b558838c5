"""The FastAPI app: OpenEnv's HTTP and WebSocket contract in front of ``OpenSOCEnv``.

This module only translates. It parses requests, finds or creates the episode, calls the
state machine, and writes OpenEnv's envelopes (``{"observation", "reward", "done"}``) and
error shapes. Every bad request becomes a 4xx JSON body naming the field and what was
expected there; nothing a client sends reaches another client's episode.

HTTP episodes: ``/reset`` stores its episode under ``episode_id`` (returned in the
observation and in ``metadata``); a client-chosen id that names a live episode is refused
(409), so no one can replace another client's episode. ``/step`` with that id continues it.
``/step`` without an id re-creates the ``defender_only`` incident for (task, seed) from the
documented defaults, which is stateless and so works behind any replica. When the store is
full, the least recently used episode idle for the grace period makes room.

Attacker runs: episodes that name the same ``run_id`` share the novelty memory and the
stage-4 replay pool; without one, an HTTP episode or a WebSocket connection is a run of
its own, so no stranger can poison another's training data.

Where work runs: OpenSOC's core is CPU-bound Python, and nothing a client sends may hold the
event loop (and with it every other client and ``/health``). Every HTTP request's core work
runs on one worker thread, in arrival order. A WebSocket frame runs on the event loop only
when its cost is fixed and small (a defender or E1 episode's frame under ``INLINE_FRAME_BYTES``);
larger frames and attacker episodes go to the same worker, which is also the only thread that
touches a run's replay pool.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.json_schema import models_json_schema
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import __version__
from .service.middleware import ServiceGate
from .incidents.defenders import DEFENDER_POLICIES
from .env import (
    ACTION_NAMES,
    DEFAULT_DEFENDER_POLICY,
    DEFAULT_MODE,
    DEFAULT_SEED,
    DEFAULT_TASK,
    E1_SCORING,
    AttackerRun,
    EpisodeError,
    OpenSOCEnv,
)
from .service.episodes import EpisodeStore, RunRegistry, new_run
from .service.metadata import DEMO_PATH, DESCRIPTION, EnvironmentInfo, ServiceIndex, environment_info, service_index, wants_html
from .service.mcp import JsonRpcRequest, answer_jsonrpc, handle_jsonrpc
from .models import MODES, OpenSOCObservation, OpenSOCState
from .schema import OpenSOCAction
from .families.investigation.family import INVESTIGATION_DEFENDERS
from .families.e1.tasks import E1_TASKS
from .families.investigation.tasks import INVESTIGATION_TASKS
from .families.registry import all_task_names
from .tasks.catalog import (
    CATALOG,
    SplitRequest,
    TaskIndexRequest,
    TaskRangeRequest,
    UnknownSplitError,
    task_overview,
)
from .service.wire import MAX_SEED, RequestError, WireError, error_body, json_bytes, parse_json

log = logging.getLogger("opensoc.service")


STATUS = {
    "MALFORMED_JSON": 400,
    "UNSUPPORTED_JSON": 400,
    "STATELESS_MODE": 400,
    "UNAUTHORIZED": 401,
    "FORBIDDEN_ORIGIN": 403,
    "INDEX_OUT_OF_RANGE": 400,
    "NOT_FOUND": 404,
    "UNKNOWN_EPISODE": 404,
    "EPISODE_EXPIRED": 404,
    "EPISODE_EVICTED": 404,
    "RUN_EVICTED": 404,
    "METHOD_NOT_ALLOWED": 405,
    "WRONG_TURN": 409,
    "EPISODE_OVER": 409,
    "EPISODE_EXISTS": 409,
    "NO_EPISODE": 409,
    "NOT_GRADABLE": 409,
    "BUDGET_EXHAUSTED": 409,
    "BODY_TOO_LARGE": 413,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "INVALID_PARAMETER": 422,
    "INVALID_ACTION": 422,
    "INVALID_REQUEST": 422,
    "TOO_MANY_EPISODES": 429,
    "TOO_MANY_RUNS": 429,
}

INLINE_FRAME_BYTES = 8192  # a defender or E1 frame this small costs a fixed fraction of a millisecond
RUN_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"

# What a valid value of each wire field looks like: the ``expected`` of an error naming that field.
EXPECTED: dict[str, Any] = {
    "seed": f"an integer from 0 to {MAX_SEED}",
    "episode_id": "a string of 1 to 255 characters: an id /reset returned, or a new one of your choosing",
    "task": all_task_names(),
    "mode": list(MODES),
    "defender_policy": [*DEFENDER_POLICIES, *INVESTIGATION_DEFENDERS],
    "use_replay_pool": "true or false",
    "split": {"E1 tasks": sorted({s for spec in E1_TASKS.values() for s in spec.splits}),
              "with index (the Task API)": list(CATALOG.split_names())},
    "index": "an integer from 0, below the split's num_tasks (POST /opensoc/num_tasks)",
    "scoring": list(E1_SCORING),
    "run_id": "1 to 64 characters from A-Z a-z 0-9 _ . : -",
    "timeout_s": "a number above 0 and at most 3600",
    "request_id": "a string of at most 255 characters",
    "action": f"an object holding exactly one of {', '.join(ACTION_NAMES)}",
}
# Errors whose cause is the episode rather than one field name the episode, and say what would work.
CODE_DEFAULTS: dict[str, tuple[str, str]] = {
    "EPISODE_OVER": ("episode_id", "an episode in progress: call /reset to start another"),
    "NOT_GRADABLE": ("episode_id", "a finished episode: it is graded once the defender has acted"),
    "NO_EPISODE": ("type", "a reset before the first step"),
}


def _ascii_number(name: str, raw: str, kind: type) -> Any:
    pattern = r"[0-9]{1,12}" if kind is int else r"[0-9]{1,12}(\.[0-9]{1,6})?"
    if not re.fullmatch(pattern, raw.strip()):
        raise SystemExit(f"{name}={raw!r} is not a positive {kind.__name__} written in ASCII digits")
    value = kind(raw.strip())
    if value <= 0:
        raise SystemExit(f"{name} must be positive, got {raw!r}")
    return value


@dataclass(frozen=True)
class ServiceSettings:
    """Limits and switches of one server process; each has an ``OPENSOC_*`` environment variable."""

    max_ws_sessions: int = 256  # TRL opens one WebSocket per generation
    max_http_episodes: int = 4096
    episode_ttl_s: float = 1800.0
    episode_grace_s: float = 60.0  # an episode used this recently is never evicted to make room
    max_runs: int = 8
    run_grace_s: float = 600.0  # a run used this recently is never evicted to make room
    max_body_bytes: int = 1 << 20
    ws_idle_s: float = 300.0
    max_connections: int = 1024  # uvicorn's limit_concurrency: bounds the bodies buffered at once
    api_token: str | None = None
    allowed_origins: tuple[str, ...] = ()
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)

    @classmethod
    def from_env(cls) -> ServiceSettings:
        numbers = {"max_ws_sessions": ("OPENSOC_MAX_WS_SESSIONS", int),
                   "max_http_episodes": ("OPENSOC_MAX_HTTP_EPISODES", int),
                   "episode_ttl_s": ("OPENSOC_EPISODE_TTL_S", float),
                   "episode_grace_s": ("OPENSOC_EPISODE_GRACE_S", float),
                   "max_runs": ("OPENSOC_MAX_RUNS", int),
                   "run_grace_s": ("OPENSOC_RUN_GRACE_S", float),
                   "max_body_bytes": ("OPENSOC_MAX_BODY_BYTES", int),
                   "ws_idle_s": ("OPENSOC_WS_IDLE_S", float),
                   "max_connections": ("OPENSOC_MAX_CONNECTIONS", int)}
        values: dict[str, Any] = {attr: _ascii_number(var, os.environ[var], kind)
                                  for attr, (var, kind) in numbers.items() if var in os.environ}
        token = os.environ.get("OPENSOC_API_TOKEN")
        if token is not None:
            if len(token) < 16 or not token.isascii() or not token.isprintable() or " " in token:
                raise SystemExit("OPENSOC_API_TOKEN must be at least 16 printable ASCII characters without spaces")
            values["api_token"] = token
        origins = os.environ.get("OPENSOC_ALLOWED_ORIGINS", "")
        values["allowed_origins"] = tuple(o.strip() for o in origins.split(",") if o.strip())
        return cls(**values)


def _completed(code: str, message: str, field: str | None, expected: Any) -> dict:
    """The error body, with the field and expectation filled in from what OpenSOC knows of them."""
    code_field, code_expected = CODE_DEFAULTS.get(code, (None, None))
    field = field if field is not None else code_field
    if expected is None:
        expected = code_expected if code_expected is not None else EXPECTED.get((field or "").split(".")[0])
    return error_body(code, message, field, expected)


def _error_response(code: str, message: str, field: str | None = None, expected: Any = None,
                    headers: dict[str, str] | None = None, status: int | None = None) -> Response:
    return Response(json_bytes(_completed(code, message, field, expected)), status_code=status or STATUS[code],
                    media_type="application/json", headers=headers)


# ------------------------------------------------------------------ request models


class ResetParams(BaseModel):
    """Reset arguments, from the query string or a JSON body (OpenEnv's ResetRequest plus OpenSOC's)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    seed: int | None = Field(default=None, ge=0, le=MAX_SEED, description=f"Incident seed; default {DEFAULT_SEED}.")
    episode_id: str | None = Field(default=None, min_length=1, max_length=255,
                                   description="Id for the episode; omitted, the server makes an unguessable one.")
    task: str | None = Field(default=None, max_length=64, description=f"Curriculum task; default {DEFAULT_TASK}.")
    mode: str | None = Field(default=None, max_length=32, description=f"defender_only, self_play or attacker_only; default {DEFAULT_MODE}.")
    defender_policy: str | None = Field(default=None, max_length=32, description=f"attacker_only's built-in defender; default {DEFAULT_DEFENDER_POLICY}.")
    use_replay_pool: bool = Field(default=False, description="Stage 4: replay plausible attacker incidents of the run named by run_id.")
    run_id: str | None = Field(default=None, pattern=RUN_ID_PATTERN,
                               description="Attacker run shared by the episodes that name it (novelty memory, replay pool).")
    split: str | None = Field(default=None, max_length=64, description="E1 tasks: train, dev, test or ood; with index, "
                              "a split of the Task API (GET /opensoc/splits).")
    index: int | None = Field(default=None, ge=0, le=MAX_SEED, description="With split: start the Task API's task at "
                              "this index (it names the task and seed).")
    scoring: str | None = Field(default=None, max_length=16, description="E1 tasks: default or compat.")


class StepRequest(BaseModel):
    """OpenEnv's step body: the action, with the episode it continues (or the stateless incident's task and seed)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    action: dict[str, Any] = Field(description="Exactly one of craft_incident, submit_triage, classify_flow or tool_call.")
    episode_id: str | None = Field(default=None, min_length=1, max_length=255)
    timeout_s: float | None = Field(default=None, gt=0, le=3600, description="Accepted for OpenEnv; steps never wait.")
    request_id: str | None = Field(default=None, max_length=255)
    task: str | None = Field(default=None, max_length=64)
    mode: str | None = Field(default=None, max_length=32)
    seed: int | None = Field(default=None, ge=0, le=MAX_SEED)


class GradeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    episode_id: str = Field(min_length=1, max_length=255)


_STEP_CONTEXT = ("task", "mode", "seed")
RESET_QUERY = tuple(ResetParams.model_fields)
STEP_QUERY = ("task", "mode", "seed", "episode_id")


def _invalid(exc: ValidationError, model: type[BaseModel], code: str = "INVALID_PARAMETER") -> RequestError:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])[:120] or "body"
    if err["type"] == "extra_forbidden":
        expected: Any = list(model.model_fields)
    else:
        expected = EXPECTED.get(str(err["loc"][0]) if err["loc"] else "", err["msg"])
    return RequestError(code, f"{loc}: {err['msg']}", field=loc, expected=expected)


def _query_params(request: Request, names: tuple[str, ...]) -> dict[str, Any]:
    """The query string, strictly: known names once each, seeds in ASCII digits, booleans spelled out."""
    params: dict[str, Any] = {}
    for key, value in request.query_params.multi_items():
        if key not in names:
            raise RequestError("INVALID_REQUEST", f"unknown query parameter {key[:64]!r}", field=key[:64],
                               expected=list(names))
        if key in params:
            raise RequestError("INVALID_REQUEST", f"query parameter {key!r} is given more than once", field=key,
                               expected="each parameter once")
        if key in ("seed", "index"):
            if not re.fullmatch(r"[0-9]{1,19}", value) or int(value) > MAX_SEED:
                raise RequestError("INVALID_PARAMETER", f"{key} must be an integer from 0 to {MAX_SEED} in ASCII "
                                   f"digits, got {value[:40]!r}", field=key)
            value = int(value)
        elif key == "use_replay_pool":
            if value not in ("true", "false"):
                raise RequestError("INVALID_PARAMETER", f"use_replay_pool must be true or false, got {value[:40]!r}",
                                   field="use_replay_pool", expected=["true", "false"])
            value = value == "true"
        params[key] = value
    return params


def _merge(query: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    merged = dict(query)
    for key, value in body.items():
        if key in merged and merged[key] != value:
            raise RequestError("INVALID_REQUEST", f"{key!r} is given in the query and the body with different values",
                               field=key, expected="one value, in the query or the body")
        merged[key] = value
    return merged


def _object_body(raw: bytes, what: str) -> dict[str, Any]:
    """The JSON object of a request body (``{}`` when empty)."""
    if not raw:
        return {}
    try:
        body = parse_json(raw)
    except WireError as exc:
        raise RequestError(exc.code, exc.message, field="body", expected=exc.expected) from None
    if not isinstance(body, dict):
        raise RequestError("INVALID_REQUEST", f"the {what} body must be a JSON object", field="body",
                           expected="a JSON object")
    return body


def _reset_params(data: dict[str, Any]) -> ResetParams:
    try:
        params = ResetParams.model_validate(data)
    except ValidationError as exc:
        raise _invalid(exc, ResetParams) from None
    if params.use_replay_pool and params.run_id is None:
        raise RequestError("INVALID_PARAMETER", "use_replay_pool draws from one run's pool: name it with run_id",
                           field="run_id", expected=EXPECTED["run_id"])
    return params


def _env_kwargs(params: ResetParams) -> dict[str, Any]:
    return params.model_dump(exclude={"run_id"})


class SharedJsonCache:
    """JSON of shared immutable objects (an incident's Alert and prompt), keyed by the object itself.

    Incidents are materialized once per (task, seed) and shared across sessions, so the same
    Alert and prompt string are sent many times; each is serialized once. Entries hold the
    object, so an id is never reused while its entry lives. The event loop and the worker
    thread both render envelopes, hence the lock.
    """

    def __init__(self, size: int = 8192):
        self.size = size
        self._entries: OrderedDict[int, tuple[object, str]] = OrderedDict()
        self._lock = threading.Lock()

    def json(self, obj) -> str:
        key = id(obj)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] is obj:
                self._entries.move_to_end(key)
                return entry[1]
        text = obj.model_dump_json() if hasattr(obj, "model_dump_json") else json.dumps(obj)
        with self._lock:
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


# ----------------------------------------------------------------------- the service


class OpenSOCService:
    """What each HTTP route does, as plain functions of its parsed query and raw body (run on the worker)."""

    def __init__(self, settings: ServiceSettings):
        self.settings = settings
        self.store = EpisodeStore(settings)
        self.runs = RunRegistry(settings)

    def run_for(self, params: ResetParams) -> AttackerRun:
        return self.runs.get(params.run_id) if params.run_id is not None else new_run()

    def reset(self, query: dict[str, Any], raw: bytes) -> str:
        params = _reset_params(_merge(query, _object_body(raw, "reset")))
        if params.episode_id is not None:
            self.store.claim(params.episode_id)
        env = OpenSOCEnv(self.run_for(params))
        obs = env.reset(**_env_kwargs(params))
        self.store.put(env)
        return envelope(obs)

    def step(self, query: dict[str, Any], raw: bytes) -> str:
        body = _object_body(raw, "step")
        if not body:
            raise RequestError("INVALID_REQUEST", 'the step body is the action: {"action": {...}} or '
                               '{"submit_triage": {...}} / {"craft_incident": {...}} / {"classify_flow": ...}',
                               field="action", expected=EXPECTED["action"])
        if "action" in body:  # OpenEnv style
            try:
                request = StepRequest.model_validate(body)
            except ValidationError as exc:
                code = "INVALID_ACTION" if exc.errors()[0]["loc"][:1] == ("action",) else "INVALID_REQUEST"
                raise _invalid(exc, StepRequest, code) from None
            action = request.action
            ctx = _merge(query, request.model_dump(include={"episode_id", *_STEP_CONTEXT}, exclude_none=True))
        else:  # the project's style: the body is the action itself
            action, ctx = body, query
        episode_id = ctx.pop("episode_id", None)
        if episode_id is not None:
            if ctx:
                name = next(iter(ctx))
                raise RequestError("INVALID_REQUEST", f"{name} names a stateless incident; with an episode_id the "
                                   "episode says what it is", field=name, expected="omit it, or omit episode_id")
            env = self.store.get(episode_id)
            obs = env.step(action)
            return envelope(obs)
        mode = ctx.get("mode", DEFAULT_MODE)
        if mode != "defender_only":
            raise RequestError("STATELESS_MODE", f"mode {str(mode)[:32]!r} keeps state between turns: pass the "
                               "episode_id that /reset returned (or use /ws)", field="episode_id",
                               expected="the episode_id /reset returned")
        if ctx.get("task") in INVESTIGATION_TASKS:
            raise RequestError("STATELESS_MODE", "an investigation keeps state between steps (its tool calls and what "
                               "they showed): pass the episode_id that /reset returned (or use /ws)",
                               field="episode_id", expected="the episode_id /reset returned")
        env = OpenSOCEnv()
        env.reset(**_env_kwargs(_reset_params(ctx)))
        obs = env.step(action)
        self.store.offer(env)  # kept for /grade and /state when there is room; a stateless step never waits for it
        return envelope(obs)

    def state(self, query: dict[str, Any]) -> dict:
        # Without an id there is no episode to show: HTTP episodes are addressed by id. Reading is not a use.
        episode_id = query.get("episode_id")
        env = self.store.get(episode_id, touch=False) if episode_id is not None else None
        return (env.state if env else OpenSOCState()).model_dump(mode="json")

    def grade(self, query: dict[str, Any], raw: bytes) -> dict:
        merged = _merge(query, _object_body(raw, "grade"))
        try:
            request = GradeRequest.model_validate(merged)
        except ValidationError as exc:
            raise _invalid(exc, GradeRequest, "INVALID_REQUEST") from None
        return self.store.get(request.episode_id, touch=False).grade().model_dump(mode="json")


TASK_API_ENV = "opensoc"  # the {env_name} of OpenEnv's Task API routes (OpenEnv compares it case-insensitively)


def _task_api_env(env_name: str, request: Request) -> None:
    _query_params(request, ())
    if env_name.lower() != TASK_API_ENV:
        raise RequestError("NOT_FOUND", f"unknown environment {env_name[:64]!r}: this server serves {TASK_API_ENV!r}",
                           field="env_name", expected=[TASK_API_ENV])


M = TypeVar("M", bound=BaseModel)


def _task_api_body(env_name: str, request: Request, model: type[M], raw: bytes) -> M:
    _task_api_env(env_name, request)
    try:
        return model.model_validate(_object_body(raw, "Task API"))
    except ValidationError as exc:
        raise _invalid(exc, model, "INVALID_REQUEST") from None


def _task_api_call(fn: Callable[..., Any], *args: Any) -> Any:
    """A catalog call, with its refusals as 4xx: an unknown split (422) or an index outside it (400, as OpenEnv)."""
    try:
        return fn(*args)
    except UnknownSplitError as exc:
        raise RequestError("INVALID_PARAMETER", str(exc), field="split", expected=exc.expected) from None
    except IndexError as exc:
        raise RequestError("INDEX_OUT_OF_RANGE", str(exc), field="index",
                           expected=f"an integer from 0 to {CATALOG.num_tasks(args[0]) - 1}") from None


T = TypeVar("T")


class CoreWorker:
    """One thread that runs OpenSOC's core for every client, in arrival order."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="opensoc-core")

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)


_JSON_MEDIA = re.compile(r"^application/(?:[\w.+-]+\+)?json$")


async def _json_bytes_of(request: Request) -> bytes:
    """The request body, empty or JSON: a non-empty body must say it is JSON (browsers cannot, cross-site, unasked)."""
    raw = await request.body()
    if not raw.strip():
        return b""
    media = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if not _JSON_MEDIA.match(media):
        raise RequestError("UNSUPPORTED_MEDIA_TYPE", f"a request body must be JSON, sent with Content-Type "
                           f"application/json; got {media[:64]!r}" if media else "a request body must be JSON, sent "
                           "with Content-Type application/json; none was given", field="Content-Type",
                           expected="application/json")
    return raw


def _schema_components() -> dict[str, Any]:
    """JSON Schemas of the request bodies, for OpenAPI's components (so fuzzers and clients see them)."""
    _, top = models_json_schema([(ResetParams, "validation"), (StepRequest, "validation"), (GradeRequest, "validation"),
                                 (OpenSOCAction, "validation"), (JsonRpcRequest, "validation"), (SplitRequest, "validation"),
                                 (TaskIndexRequest, "validation"), (TaskRangeRequest, "validation")],
                                ref_template="#/components/schemas/{model}")
    schemas = top["$defs"]
    schemas["StepRequest"]["properties"]["action"] = {"$ref": "#/components/schemas/OpenSOCAction"}
    return schemas


def _body_doc(ref: str | list[str], required: bool = False) -> dict:
    refs = [ref] if isinstance(ref, str) else ref
    schema = ({"$ref": f"#/components/schemas/{refs[0]}"} if len(refs) == 1
              else {"anyOf": [{"$ref": f"#/components/schemas/{r}"} for r in refs]})
    return {"requestBody": {"required": required, "content": {"application/json": {"schema": schema}}}}


def _query_doc(names: tuple[str, ...], model: type[BaseModel]) -> dict:
    props = model.model_json_schema()["properties"]
    params = []
    for name in names:
        schema = {k: v for k, v in props[name].items() if k not in ("title", "default", "description")}
        schema = next((s for s in schema.get("anyOf", []) if s.get("type") != "null"), schema)
        params.append({"name": name, "in": "query", "required": False, "schema": schema})
    return {"parameters": params}


# --------------------------------------------------------------------------- app


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """Build the OpenSOC API app (the demo is mounted by ``server.py``)."""
    settings = settings or ServiceSettings()
    # info.version is the package's version: OpenEnv's validator accepts any string there (it reads an "1.x"
    # as its HTTP profile name and reports others as unknown), and a client reading /openapi.json should learn
    # which OpenSOC it talks to.
    app = FastAPI(title="OpenSOC", version=__version__, description=DESCRIPTION, docs_url="/docs", redoc_url="/redoc")
    service, worker = OpenSOCService(settings), CoreWorker()
    ws_active = {"count": 0}
    app.state.settings, app.state.service, app.state.store, app.state.worker = settings, service, service.store, worker
    app.add_middleware(ServiceGate, token=settings.api_token, allowed_origins=settings.allowed_origins,
                       max_body_bytes=settings.max_body_bytes)

    @app.exception_handler(RequestError)
    async def _request_error(_: Request, exc: RequestError) -> Response:
        return _error_response(exc.code, exc.message, exc.field, exc.expected, exc.headers)

    @app.exception_handler(EpisodeError)
    async def _episode_error(_: Request, exc: EpisodeError) -> Response:
        return _error_response(exc.code, exc.message, exc.field, exc.expected)

    @app.exception_handler(StarletteHTTPException)
    async def _framework_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            paths = sorted({r.path for r in app.routes if hasattr(r, "path")} - {"/docs/oauth2-redirect"})
            return _error_response("NOT_FOUND", f"no route {request.url.path[:200]!r}", "path", paths)
        if exc.status_code == 405:
            allowed = (exc.headers or {}).get("Allow", "")
            return _error_response("METHOD_NOT_ALLOWED", f"{request.method} is not allowed on "
                                   f"{request.url.path[:200]!r}", "method", allowed.split(", ") if allowed else None,
                                   headers=exc.headers)
        return _error_response("HTTP_ERROR", str(exc.detail), None, None, exc.headers, status=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> Response:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"][1:]) or "request"
        return _error_response("INVALID_REQUEST", f"{loc}: {err['msg']}", loc, err["msg"])

    @app.get("/health", summary="Liveness probe")
    async def health() -> dict:
        return {"status": "healthy"}

    @app.get("/", summary="Where to go: the demo or the API docs for a browser, an index of the API otherwise",
             response_model=ServiceIndex, responses={307: {"description": "A browser is sent to the demo or /docs"}})
    async def root(request: Request) -> Response:
        _query_params(request, ())
        landing = DEMO_PATH if any(getattr(r, "path", None) == DEMO_PATH for r in app.routes) else "/docs"
        if wants_html(request.headers.get("accept", "")):
            return RedirectResponse(landing, status_code=307)
        return Response(json_bytes(service_index(landing).model_dump(mode="json")), media_type="application/json")

    @app.get("/metadata", summary="Name, description, version, README and documentation", response_model=EnvironmentInfo)
    async def metadata(request: Request) -> dict:
        return environment_info(str(request.base_url)).model_dump(mode="json")

    @app.get("/schema", summary="JSON Schemas of the action, observation and state as sent")
    async def schema() -> dict:
        obs = OpenSOCObservation.model_json_schema()
        return {"action": OpenSOCAction.model_json_schema(), "observation": obs, "reset_observation": obs,
                "state": OpenSOCState.model_json_schema()}

    @app.get("/tasks", summary="The curriculum tasks, modes and defaults")
    async def tasks() -> dict:
        return {
            "tasks": task_overview(),
            "modes": list(MODES),
            "defender_policies": list(DEFENDER_POLICIES),
            "investigation_defenders": list(INVESTIGATION_DEFENDERS),
            "defaults": {"task": DEFAULT_TASK, "mode": DEFAULT_MODE, "seed": DEFAULT_SEED,
                         "defender_policy": DEFAULT_DEFENDER_POLICY},
        }

    def _json(text: str | dict) -> Response:
        return Response(text if isinstance(text, str) else json_bytes(text), media_type="application/json")

    # OpenEnv's Task API (ORS-compatible), under this environment's name; listing runs on the worker like every
    # other piece of core work, since the first listing of a split builds it.
    @app.get("/list_environments", summary="Task API: the environments this server serves", tags=["Task API"])
    async def list_environments(request: Request) -> list[str]:
        _query_params(request, ())
        return [TASK_API_ENV]

    @app.get("/{env_name}/splits", summary="Task API: the splits, their types and sizes", tags=["Task API"])
    async def task_splits(env_name: str, request: Request) -> Response:
        _task_api_env(env_name, request)
        return _json(await worker.run(_task_api_call, CATALOG.list_splits))

    @app.post("/{env_name}/tasks", summary="Task API: every task of a split", tags=["Task API"],
              openapi_extra=_body_doc("SplitRequest", True))
    async def task_list(env_name: str, request: Request) -> Response:
        body = _task_api_body(env_name, request, SplitRequest, await _json_bytes_of(request))
        return _json({"tasks": await worker.run(_task_api_call, CATALOG.list_tasks, body.split), "env_name": TASK_API_ENV})

    @app.post("/{env_name}/num_tasks", summary="Task API: how many tasks a split holds", tags=["Task API"],
              openapi_extra=_body_doc("SplitRequest", True))
    async def task_count(env_name: str, request: Request) -> Response:
        body = _task_api_body(env_name, request, SplitRequest, await _json_bytes_of(request))
        return _json({"num_tasks": await worker.run(_task_api_call, CATALOG.num_tasks, body.split)})

    @app.post("/{env_name}/task", summary="Task API: one task by split and index", tags=["Task API"],
              openapi_extra=_body_doc("TaskIndexRequest", True))
    async def task_at(env_name: str, request: Request) -> Response:
        body = _task_api_body(env_name, request, TaskIndexRequest, await _json_bytes_of(request))
        return _json({"task": await worker.run(_task_api_call, CATALOG.get_task, body.split, body.index)})

    @app.post("/{env_name}/task_range", summary="Task API: the tasks in [start, stop) of a split", tags=["Task API"],
              openapi_extra=_body_doc("TaskRangeRequest", True))
    async def task_range(env_name: str, request: Request) -> Response:
        body = _task_api_body(env_name, request, TaskRangeRequest, await _json_bytes_of(request))
        tasks = await worker.run(_task_api_call, CATALOG.get_task_range, body.split, body.start, body.stop)
        return _json({"tasks": tasks})

    @app.post("/reset", summary="Start an episode", openapi_extra={**_body_doc("ResetParams"),
                                                                   **_query_doc(RESET_QUERY, ResetParams)})
    async def reset(request: Request) -> Response:
        query = _query_params(request, RESET_QUERY)
        return _json(await worker.run(service.reset, query, await _json_bytes_of(request)))

    @app.post("/step", summary="Take an action", openapi_extra={**_body_doc(["StepRequest", "OpenSOCAction"], True),
                                                                **_query_doc(STEP_QUERY, StepRequest)})
    async def step(request: Request) -> Response:
        query = _query_params(request, STEP_QUERY)
        return _json(await worker.run(service.step, query, await _json_bytes_of(request)))

    @app.get("/state", summary="The episode state", openapi_extra=_query_doc(("episode_id",), GradeRequest))
    async def state(request: Request) -> Response:
        query = _query_params(request, ("episode_id",))
        return _json(await worker.run(service.state, query))

    @app.post("/grade", summary="Scores of a finished episode", openapi_extra={**_body_doc("GradeRequest"),
                                                                              **_query_doc(("episode_id",), GradeRequest)})
    async def grade(request: Request) -> Response:
        query = _query_params(request, ("episode_id",))
        return _json(await worker.run(service.grade, query, await _json_bytes_of(request)))

    @app.post("/mcp", summary="JSON-RPC 2.0 (MCP tools); HTTP 200 for every JSON-RPC answer",
              openapi_extra=_body_doc("JsonRpcRequest"))
    async def mcp(request: Request) -> Response:
        _query_params(request, ())
        return _json(await worker.run(handle_jsonrpc, await _json_bytes_of(request)))

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            spec.setdefault("components", {}).setdefault("schemas", {}).update(_schema_components())
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi

    async def _answer(session: WsSession, message: dict) -> tuple[str | None, bool]:
        frame = message.get("text")
        if frame is None:
            frame = message.get("bytes") or b""
        # Small frames are parsed here; what they ask for runs here only when its cost is fixed and small.
        if len(frame) > INLINE_FRAME_BYTES:
            return await worker.run(session.handle, frame)
        msg = session.parse(frame)
        if isinstance(msg, str):
            return msg, False
        if session.needs_worker(msg):
            return await worker.run(session.dispatch, msg)
        return session.dispatch(msg)

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
        session = WsSession(OpenSOCEnv(new_run()), settings, service.runs)
        loop = asyncio.get_running_loop()
        try:
            # One deadline for the whole session, armed only while waiting for the client (wait_for would start a
            # task per message); it passing raises TimeoutError out of the loop.
            async with asyncio.timeout(None) as idle:
                while True:
                    idle.reschedule(loop.time() + settings.ws_idle_s)
                    message = await websocket.receive()
                    idle.reschedule(None)
                    if message["type"] == "websocket.disconnect":
                        break
                    reply, close = await _answer(session, message)
                    if reply is not None:
                        await websocket.send_text(reply)
                    if close:
                        await websocket.close()
                        break
        except TimeoutError:
            await websocket.send_text(session.error(
                "SESSION_ERROR", f"no message for {settings.ws_idle_s:g} s: the session is closed; connect again to "
                "start another", None, f"a message at least every {settings.ws_idle_s:g} s"))
            await websocket.close(code=1000, reason="idle")
        except WebSocketDisconnect:
            pass
        finally:
            ws_active["count"] -= 1
            session.env.close()

    return app


class WsSession:
    """One WebSocket connection's environment and OpenEnv message handling.

    Without a ``run_id`` at reset the connection is its own attacker run (``own_run``).
    """

    _RESET_KEYS = set(ResetParams.model_fields)

    def __init__(self, env: OpenSOCEnv, settings: ServiceSettings, runs: RunRegistry):
        self.env, self.settings, self.runs = env, settings, runs
        self.own_run = env.run
        self.attacker_episode = False  # the current episode is self_play or attacker_only

    @staticmethod
    def error(code: str, message: str, field: str | None = None, expected: Any = None, **extra: Any) -> str:
        return json.dumps({"type": "error", "data": {"message": message, "code": code, "field": field,
                                                     "expected": expected, **extra}})

    def needs_worker(self, msg: dict) -> bool:
        """Whether a parsed message must run on the worker: it touches a run's pool, checks a crafted incident, or
        builds or queries an investigation's log store (over MCP too)."""
        if msg["type"] == "reset":
            data = msg.get("data") if isinstance(msg.get("data"), dict) else {}
            task = data.get("task")
            return data.get("use_replay_pool") is True or (isinstance(task, str) and task in INVESTIGATION_TASKS)
        if msg["type"] == "mcp":
            # An MCP ``investigate`` or investigation triage builds the case's log store.
            return True
        if msg["type"] == "step" and self.env.state.task in INVESTIGATION_TASKS:
            return True
        return msg["type"] == "step" and self.attacker_episode and not self.env.done

    def _size_error(self, frame: str | bytes) -> str | None:
        limit = self.settings.max_body_bytes
        size = len(frame) if isinstance(frame, bytes) or len(frame) * 4 <= limit else len(frame.encode("utf-8"))
        if size > limit:
            return self.error("VALIDATION_ERROR", f"the message is {size:,} bytes; the limit is {limit:,}",
                              "message", f"at most {limit} bytes")
        return None

    def handle(self, frame: str | bytes) -> tuple[str | None, bool]:
        """The reply frame for one client frame, and whether to close the socket."""
        msg = self.parse(frame)
        return (msg, False) if isinstance(msg, str) else self.dispatch(msg)

    def parse(self, frame: str | bytes) -> dict | str:
        """The message of a frame, or the error frame that answers it."""
        too_large = self._size_error(frame)
        if too_large:
            return too_large
        try:
            msg = parse_json(frame)
        except WireError as exc:
            return self.error("INVALID_JSON", f"Invalid JSON: {exc.message}", "message", exc.expected)
        if not isinstance(msg, dict) or not isinstance(msg.get("type"), str) or set(msg) - {"type", "data"}:
            shape = 'a message {"type": "reset"|"step"|"state"|"close"|"mcp", "data": {...}}'
            return self.error("VALIDATION_ERROR", "Invalid message", "message", shape, errors=[{"msg": shape}])
        return msg

    def dispatch(self, msg: dict) -> tuple[str | None, bool]:
        """The reply to a parsed message, and whether to close the socket."""
        kind, data = msg["type"], msg.get("data")
        try:
            if kind == "reset":
                if data is not None and not isinstance(data, dict):
                    raise RequestError("INVALID_REQUEST", "a reset frame's data is an object of reset arguments",
                                       field="data", expected=list(self._RESET_KEYS))
                params = _reset_params(data or {})
                self.env.run = self.runs.get(params.run_id) if params.run_id is not None else self.own_run
                obs = self.env.reset(**_env_kwargs(params))
                self.attacker_episode = obs.mode != "defender_only"
                return self._observation(obs), False
            if kind == "step":
                if not isinstance(data, dict):
                    return self.error("VALIDATION_ERROR", "Invalid message", "data", EXPECTED["action"], errors=[
                        {"loc": ["data"], "msg": "a step frame's data is the action object"}]), False
                return self._observation(self.env.step(data)), False
            if kind == "state":
                return json.dumps({"type": "state", "data": self.env.state.model_dump(mode="json")}), False
            if kind == "close":
                return None, True
            if kind == "mcp":
                return json.dumps({"type": "mcp", "data": answer_jsonrpc(data)}), False
            return self.error("UNKNOWN_TYPE", f"Unknown message type: {kind[:64]}", "type",
                              ["reset", "step", "state", "close", "mcp"]), False
        except RequestError as exc:
            body = _completed(exc.code, exc.message, exc.field, exc.expected)["error"]
            return self.error("VALIDATION_ERROR", exc.message, body["field"], body["expected"], reason=exc.code,
                              errors=[{"loc": [exc.field], "msg": exc.message}]), False
        except EpisodeError as exc:
            body = _completed(exc.code, exc.message, exc.field, exc.expected)["error"]
            return self.error("EXECUTION_ERROR", exc.message, body["field"], body["expected"], reason=exc.code), False
        except Exception as exc:  # noqa: BLE001 - a bug must not end this client's session or touch another's
            log.exception("unexpected error handling a %s frame", kind)
            return self.error("EXECUTION_ERROR", f"internal error: {type(exc).__name__}"), False

    @staticmethod
    def _observation(obs: OpenSOCObservation) -> str:
        return f'{{"type":"observation","data":{envelope(obs)}}}'
