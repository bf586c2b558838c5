"""``GET /tasks`` (every task, by family, with the options each family takes) and OpenEnv's Task API routes.

The Task API (ORS-compatible) lives under this environment's name: ``/list_environments``, ``/opensoc/splits``,
``/opensoc/tasks|num_tasks|task|task_range``. Parsing a body and listing run on the worker's costly thread like every
other piece of core work of unknown cost (the first listing of a split builds it), in the client's turn.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, ValidationError

from ..families.base import DEFAULT_SEED, DEFAULT_TASK
from ..families.registry import families, require_family, task_overview
from ..tasks.catalog import (
    CATALOG,
    ENV_NAME,
    SplitRequest,
    TaskIndexRequest,
    TaskRangeRequest,
    UnknownSplitError,
)
from .clients import client_of, stream_of
from .core import CoreWorker
from .errors import ERROR_RESPONSES, request_error
from .http import json_response
from .openapi import body_doc
from .requests import invalid, json_bytes_of, object_body, query_params

M = TypeVar("M", bound=BaseModel)


class FamilyOptions(BaseModel):
    """What one family takes: its reset options (description and valid values) and its actions."""

    options: dict[str, dict[str, Any]]
    actions: list[str]


class TaskList(BaseModel):
    """``GET /tasks``: every task, what each family takes, and the defaults of a reset that names nothing."""

    tasks: list[dict[str, Any]] = Field(description="name, family, stage, title, description and the family's details.")
    families: dict[str, FamilyOptions]
    defaults: dict[str, Any] = Field(description="A reset that names nothing: the default task, seed and the default "
                                     "task's options.")


def task_list() -> dict[str, Any]:
    default_family = require_family(DEFAULT_TASK)
    return {
        "tasks": task_overview(),
        "families": {f.name: {"options": {name: {"description": o.description, "expected": o.expected,
                                                  "default": o.default} for name, o in f.options.items()},
                              "actions": list(f.actions)} for f in families()},
        "defaults": {"task": DEFAULT_TASK, "seed": DEFAULT_SEED,
                     **{name: o.default for name, o in default_family.options.items() if o.default is not None}},
    }


def _env(env_name: str, request: Request) -> None:
    query_params(request, ())
    if env_name.lower() != ENV_NAME:
        raise request_error("NOT_FOUND", f"unknown environment {env_name[:64]!r}: this server serves {ENV_NAME!r}",
                            field="env_name", expected=[ENV_NAME])


def _body(env_name: str, request: Request, model: type[M], raw: bytes) -> M:
    _env(env_name, request)
    try:
        return model.model_validate(object_body(raw, "Task API"))
    except ValidationError as exc:
        raise invalid(exc, model, "INVALID_REQUEST") from None


def _call(fn: Callable[..., Any], *args: Any) -> Any:
    """A catalog call, with its refusals as 4xx: an unknown split (422) or an index outside it (400, as OpenEnv)."""
    try:
        return fn(*args)
    except UnknownSplitError as exc:
        raise request_error("INVALID_PARAMETER", str(exc), field="split", expected=exc.expected) from None
    except IndexError as exc:
        raise request_error("INDEX_OUT_OF_RANGE", str(exc), field="index",
                            expected=f"an integer from 0 to {CATALOG.num_tasks(args[0]) - 1}") from None


def _listed(env_name: str, request: Request, model: type[M], raw: bytes, fn: Callable[..., Any],
            *fields: str) -> Any:
    """Parse a Task API body (on the worker: bodies may be large) and run the catalog call on its fields."""
    body = _body(env_name, request, model, raw)
    return _call(fn, *(getattr(body, f) for f in fields))


def router(worker: CoreWorker) -> APIRouter:
    routes = APIRouter(responses=ERROR_RESPONSES)

    async def work(request: Request, fn: Callable[..., Any], *args: Any) -> Any:
        return await worker.run(fn, *args, client=client_of(request), stream=stream_of(request))

    @routes.get("/tasks", summary="Every task by family, the options each family takes, and the defaults",
                response_model=TaskList)
    async def tasks(request: Request) -> Response:
        query_params(request, ())
        return json_response(task_list())

    @routes.get("/list_environments", summary="Task API: the environments this server serves", tags=["Task API"])
    async def list_environments(request: Request) -> list[str]:
        query_params(request, ())
        return [ENV_NAME]

    @routes.get("/{env_name}/splits", summary="Task API: the splits, their types and sizes", tags=["Task API"])
    async def task_splits(env_name: str, request: Request) -> Response:
        _env(env_name, request)
        return json_response(await work(request, _call, CATALOG.list_splits))

    @routes.post("/{env_name}/tasks", summary="Task API: every task of a split", tags=["Task API"],
                 openapi_extra=body_doc("SplitRequest", True))
    async def split_tasks(env_name: str, request: Request) -> Response:
        raw = await json_bytes_of(request)
        found = await work(request, _listed, env_name, request, SplitRequest, raw, CATALOG.list_tasks, "split")
        return json_response({"tasks": found, "env_name": ENV_NAME})

    @routes.post("/{env_name}/num_tasks", summary="Task API: how many tasks a split holds", tags=["Task API"],
                 openapi_extra=body_doc("SplitRequest", True))
    async def task_count(env_name: str, request: Request) -> Response:
        raw = await json_bytes_of(request)
        count = await work(request, _listed, env_name, request, SplitRequest, raw, CATALOG.num_tasks, "split")
        return json_response({"num_tasks": count})

    @routes.post("/{env_name}/task", summary="Task API: one task by split and index", tags=["Task API"],
                 openapi_extra=body_doc("TaskIndexRequest", True))
    async def task_at(env_name: str, request: Request) -> Response:
        raw = await json_bytes_of(request)
        task = await work(request, _listed, env_name, request, TaskIndexRequest, raw, CATALOG.get_task, "split", "index")
        return json_response({"task": task})

    @routes.post("/{env_name}/task_range", summary="Task API: the tasks in [start, stop) of a split", tags=["Task API"],
                 openapi_extra=body_doc("TaskRangeRequest", True))
    async def task_range(env_name: str, request: Request) -> Response:
        raw = await json_bytes_of(request)
        found = await work(request, _listed, env_name, request, TaskRangeRequest, raw, CATALOG.get_task_range,
                           "split", "start", "stop")
        return json_response({"tasks": found})

    return routes
