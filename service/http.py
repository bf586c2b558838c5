"""OpenEnv's HTTP routes: ``/reset``, ``/step``, ``/state``, ``/grade``, ``/schema``, ``/health``, ``/metadata``, ``/``.

Each route parses its query and body strictly (``requests``), runs the core on the service's worker (``core``), on
the cheap or the costly thread as the request's family says, in its client's turn, and answers OpenEnv's envelope;
its success and error answers are declared for OpenAPI.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field, create_model

from ..families.registry import (
    action_model,
    grade_type,
    observation_adapter,
    observation_type,
)
from ..models import OpenSOCState
from .clients import client_of, stream_of
from .core import INLINE_BYTES, CoreWorker, OpenSOCService
from .errors import ERROR_RESPONSES
from .metadata import (
    DEMO_PATH,
    EnvironmentInfo,
    ServiceIndex,
    environment_info,
    service_index,
    wants_html,
)
from .openapi import body_doc, query_doc
from .requests import (
    STEP_QUERY,
    GradeRequest,
    StepRequest,
    json_bytes_of,
    query_params,
    reset_params_model,
    reset_query,
)
from .wire import json_bytes


def json_response(text: str | dict | list) -> Response:
    return Response(text if isinstance(text, str) else json_bytes(text), media_type="application/json")


class Health(BaseModel):
    status: str = Field(description='"healthy" while the process serves requests.')


def envelope_model() -> type[BaseModel]:
    """OpenEnv's reset/step answer for the families registered now."""
    return create_model("StepEnvelope",  # type: ignore[call-overload, no-any-return]
                        __doc__="OpenEnv's envelope: the observation, and the step's reward and end beside it.",
                        observation=(observation_type(), ...),
                        reward=(float | None, ...), done=(bool, ...),
                        metadata=(dict[str, Any], Field(description="episode_id, for OpenEnv clients.")))


def router(service: OpenSOCService, worker: CoreWorker) -> APIRouter:
    routes = APIRouter(responses=ERROR_RESPONSES)
    envelope = envelope_model()
    reset_model = reset_params_model()

    @routes.get("/health", summary="Liveness probe", response_model=Health)
    async def health() -> dict:
        return {"status": "healthy"}

    @routes.get("/", summary="Where to go: the demo or the API docs for a browser, an index of the API otherwise",
                response_model=ServiceIndex, responses={307: {"description": "A browser is sent to the demo or /docs"}})
    async def root(request: Request) -> Response:
        query_params(request, ())
        landing = DEMO_PATH if any(getattr(r, "path", None) == DEMO_PATH for r in request.app.routes) else "/docs"
        if wants_html(request.headers.get("accept", "")):
            return RedirectResponse(landing, status_code=307)
        return json_response(service_index(landing).model_dump(mode="json"))

    @routes.get("/metadata", summary="Name, description, version, README and documentation",
                response_model=EnvironmentInfo)
    async def metadata(request: Request) -> dict:
        return environment_info(str(request.base_url)).model_dump(mode="json")

    @routes.get("/schema", summary="JSON Schemas of the action, observation and state as sent")
    async def schema() -> dict:
        obs = observation_adapter().json_schema()
        return {"action": action_model().model_json_schema(), "observation": obs, "reset_observation": obs,
                "state": OpenSOCState.model_json_schema()}

    @routes.post("/reset", summary="Start an episode", response_model=envelope,
                 openapi_extra={**body_doc("ResetParams"), **query_doc(reset_query(), reset_model)})
    async def reset(request: Request) -> Response:
        query, raw = query_params(request, reset_query()), await json_bytes_of(request)
        client = client_of(request)
        return json_response(await worker.run(service.reset, query, raw, client, client=client,
                                              stream=stream_of(request),
                                              costly=service.reset_is_costly(query, raw)))

    @routes.post("/step", summary="Take an action", response_model=envelope,
                 openapi_extra={**body_doc(["StepRequest", "OpenSOCAction"], True), **query_doc(STEP_QUERY, StepRequest)})
    async def step(request: Request) -> Response:
        query, raw = query_params(request, STEP_QUERY), await json_bytes_of(request)
        client = client_of(request)
        return json_response(await worker.run(service.step, query, raw, client, client=client,
                                              stream=stream_of(request),
                                              costly=service.step_is_costly(query, raw)))

    @routes.get("/state", summary="The episode state", response_model=OpenSOCState,
                openapi_extra=query_doc(("episode_id",), GradeRequest))
    async def state(request: Request) -> Response:
        query = query_params(request, ("episode_id",))
        return json_response(await worker.run(service.state, query, client=client_of(request),
                                              stream=stream_of(request), costly=False))

    @routes.post("/grade", summary="Scores of a finished episode", response_model=grade_type(),
                 openapi_extra={**body_doc("GradeRequest"), **query_doc(("episode_id",), GradeRequest)})
    async def grade(request: Request) -> Response:
        query, raw = query_params(request, ("episode_id",)), await json_bytes_of(request)
        return json_response(await worker.run(service.grade, query, raw, client=client_of(request),
                                              stream=stream_of(request), costly=len(raw) > INLINE_BYTES))

    return routes

