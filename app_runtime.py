"""The FastAPI app: OpenEnv's HTTP and WebSocket contract in front of ``OpenSOCEnv``, assembled from ``service``.

This module only assembles. Each concern is a router of its own (``service.http``: OpenEnv's routes;
``service.tasks``: ``/tasks`` and the Task API; ``service.mcp``: JSON-RPC; ``service.websocket``: ``/ws``), behind
one middleware (``service.middleware``: token, origins, uploads, body limit) and one error handler: every refusal is an
``OpenSOCError`` whose code picks its status (``service.errors``), with a JSON body naming the field and what was
expected there. ``server.py`` mounts the demo beside it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import __version__
from .families.registry import action_model
from .models import OpenSOCError
from .service import http, mcp, tasks, websocket
from .service.core import CoreWorker, OpenSOCService
from .service.errors import error_response, request_error
from .service.metadata import DESCRIPTION
from .service.middleware import ServiceGate
from .service.openapi import components
from .service.requests import GradeRequest, StepRequest, reset_params_model
from .service.settings import ServiceSettings
from .tasks.catalog import SplitRequest, TaskIndexRequest, TaskRangeRequest

__all__ = ["ServiceSettings", "create_app"]


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """Build the OpenSOC API app for the families registered now (the demo is mounted by ``server.py``)."""
    settings = settings or ServiceSettings()
    # info.version is the package's version: OpenEnv's validator accepts any string there (it reads an "1.x"
    # as its HTTP profile name and reports others as unknown), and a client reading /openapi.json should learn
    # which OpenSOC it talks to.
    app = FastAPI(title="OpenSOC", version=__version__, description=DESCRIPTION, docs_url="/docs", redoc_url="/redoc")
    service, worker = OpenSOCService(settings), CoreWorker()
    app.state.settings, app.state.service, app.state.store, app.state.worker = settings, service, service.store, worker
    app.add_middleware(ServiceGate, token=settings.api_token, allowed_origins=settings.allowed_origins,
                       max_body_bytes=settings.max_body_bytes, public_url=settings.public_url)

    @app.exception_handler(OpenSOCError)
    async def _refused(_: Request, exc: OpenSOCError) -> Response:
        return error_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _framework_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            paths = sorted(({*app.openapi()["paths"], "/ws"} | {r.path for r in app.routes if hasattr(r, "path")})
                           - {"/docs/oauth2-redirect"})
            return error_response(request_error("NOT_FOUND", f"no route {request.url.path[:200]!r}", field="path",
                                                expected=paths))
        if exc.status_code == 405:
            allowed = (exc.headers or {}).get("Allow", "")
            return error_response(request_error("METHOD_NOT_ALLOWED", f"{request.method} is not allowed on "
                                                f"{request.url.path[:200]!r}", field="method",
                                                expected=allowed.split(", ") if allowed else None, headers=exc.headers))
        return error_response(request_error("HTTP_ERROR", str(exc.detail), headers=exc.headers), status=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> Response:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"][1:]) or "request"
        return error_response(request_error("INVALID_REQUEST", f"{loc}: {err['msg']}", field=loc, expected=err["msg"]))

    app.include_router(http.router(service, worker))
    app.include_router(tasks.router(worker))
    app.include_router(mcp.router(worker))
    app.include_router(websocket.router(service, worker, settings))

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            spec.setdefault("components", {}).setdefault("schemas", {}).update(components(
                [reset_params_model(), StepRequest, GradeRequest, mcp.JsonRpcRequest, SplitRequest, TaskIndexRequest,
                 TaskRangeRequest], action_model()))
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
