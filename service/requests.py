"""How the service reads a request: the query string, the JSON body and the models they validate as.

``reset_params_model()`` is built from the registered families' reset options, so a family's option is a field of
``/reset``'s body and query without the service naming it. Every mistake is an ``OpenSOCError`` naming the field.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from ..families.base import DEFAULT_SEED, DEFAULT_TASK
from ..families.registry import reset_options
from ..models import OpenSOCError
from .errors import RUN_ID_PATTERN, expected_for, request_error
from .wire import MAX_SEED, WireError, parse_json

_JSON_MEDIA = re.compile(r"^application/(?:[\w.+-]+\+)?json$")


def _common_reset_fields() -> dict[str, Any]:
    return {
        "seed": (int | None, Field(default=None, ge=0, le=MAX_SEED, description=f"Episode seed; default {DEFAULT_SEED}.")),
        "episode_id": (str | None, Field(default=None, min_length=1, max_length=255, description="Id for the episode; "
                                         "omitted, the server makes an unguessable one.")),
        "task": (str | None, Field(default=None, max_length=64, description=f"The task (GET /tasks); default "
                                   f"{DEFAULT_TASK}.")),
        "run_id": (str | None, Field(default=None, pattern=RUN_ID_PATTERN, description="Attacker run shared by the "
                                     "episodes that name it (novelty memory, replay pool).")),
        "split": (str | None, Field(default=None, max_length=64, description="With index, a split of the Task API "
                                    "(GET /opensoc/splits); without, the dataset split of a task that takes one.")),
        "index": (int | None, Field(default=None, ge=0, le=MAX_SEED, description="With split: start the Task API's "
                                    "task at this index (it names the task and seed).")),
    }


@lru_cache(maxsize=8)
def _reset_params_model(option_names: tuple[str, ...]) -> type[BaseModel]:
    fields = _common_reset_fields()
    for name, option in reset_options().items():
        if name in fields:
            continue
        limits = {"max_length": option.max_length} if option.max_length else {}
        if option.annotation is bool:  # a switch: off unless turned on, never null
            fields[name] = (bool, Field(default=False, description=option.description))
        else:
            fields[name] = (option.annotation | None, Field(default=None, description=option.description, **limits))
    return create_model("ResetParams", __config__=ConfigDict(extra="forbid", strict=True),  # type: ignore[call-overload, no-any-return]
                        __doc__="Reset arguments, from the query string or a JSON body (OpenEnv's ResetRequest, "
                        "the Task API's split and index, and each family's own options).", **fields)


def reset_params_model() -> type[BaseModel]:
    """``ResetParams`` for the families registered now."""
    return _reset_params_model(tuple(reset_options()))


class StepRequest(BaseModel):
    """OpenEnv's step body: the action, with the episode it continues (or the stateless incident's task and seed)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    action: dict[str, Any] = Field(description="Exactly one action (GET /schema's action lists them).")
    episode_id: str | None = Field(default=None, min_length=1, max_length=255)
    timeout_s: float | None = Field(default=None, gt=0, le=3600, description="Accepted for OpenEnv; steps never wait.")
    request_id: str | None = Field(default=None, max_length=255)
    task: str | None = Field(default=None, max_length=64)
    mode: str | None = Field(default=None, max_length=32)
    seed: int | None = Field(default=None, ge=0, le=MAX_SEED)


class GradeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    episode_id: str = Field(min_length=1, max_length=255)


STEP_CONTEXT = ("task", "mode", "seed")
STEP_QUERY = ("task", "mode", "seed", "episode_id")


def reset_query() -> tuple[str, ...]:
    return tuple(reset_params_model().model_fields)


def invalid(exc: ValidationError, model: type[BaseModel], code: str = "INVALID_PARAMETER") -> OpenSOCError:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])[:120] or "body"
    if err["type"] == "extra_forbidden":
        expected: Any = list(model.model_fields)
    else:
        expected = expected_for(str(err["loc"][0]) if err["loc"] else "") or err["msg"]
    return request_error(code, f"{loc}: {err['msg']}", field=loc, expected=expected)


def query_params(request: Request, names: tuple[str, ...]) -> dict[str, Any]:
    """The query string, strictly: known names once each, integers in ASCII digits, booleans spelled out."""
    booleans = {name for name, option in reset_options().items() if option.annotation is bool}
    params: dict[str, Any] = {}
    for key, value in request.query_params.multi_items():
        if key not in names:
            raise request_error("INVALID_REQUEST", f"unknown query parameter {key[:64]!r}", field=key[:64],
                                expected=list(names))
        if key in params:
            raise request_error("INVALID_REQUEST", f"query parameter {key!r} is given more than once", field=key,
                                expected="each parameter once")
        parsed: Any = value
        if key in ("seed", "index"):
            if not re.fullmatch(r"[0-9]{1,19}", value) or int(value) > MAX_SEED:
                raise request_error("INVALID_PARAMETER", f"{key} must be an integer from 0 to {MAX_SEED} in ASCII "
                                    f"digits, got {value[:40]!r}", field=key)
            parsed = int(value)
        elif key in booleans:
            if value not in ("true", "false"):
                raise request_error("INVALID_PARAMETER", f"{key} must be true or false, got {value[:40]!r}",
                                    field=key, expected=["true", "false"])
            parsed = value == "true"
        params[key] = parsed
    return params


def merge(query: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    merged = dict(query)
    for key, value in body.items():
        if key in merged and merged[key] != value:
            raise request_error("INVALID_REQUEST", f"{key!r} is given in the query and the body with different "
                                "values", field=key, expected="one value, in the query or the body")
        merged[key] = value
    return merged


def object_body(raw: bytes, what: str) -> dict[str, Any]:
    """The JSON object of a request body (``{}`` when empty)."""
    if not raw:
        return {}
    try:
        body = parse_json(raw)
    except WireError as exc:
        raise request_error(exc.code, exc.message, field=exc.field or "body", expected=exc.expected) from None
    if not isinstance(body, dict):
        raise request_error("INVALID_REQUEST", f"the {what} body must be a JSON object", field="body",
                            expected="a JSON object")
    return body


def reset_params(data: dict[str, Any]) -> BaseModel:
    model = reset_params_model()
    try:
        params = model.model_validate(data)
    except ValidationError as exc:
        raise invalid(exc, model) from None
    for name, option in reset_options().items():
        if option.needs_run and getattr(params, name) and getattr(params, "run_id") is None:
            raise request_error("INVALID_PARAMETER", f"{name} draws from one run's pool: name it with run_id",
                                field="run_id", expected=expected_for("run_id"))
    return params


def env_kwargs(params: BaseModel) -> dict[str, Any]:
    return params.model_dump(exclude={"run_id"})


async def json_bytes_of(request: Request) -> bytes:
    """The request body, empty or JSON: a non-empty body must say it is JSON (browsers cannot, cross-site, unasked)."""
    raw = await request.body()
    if not raw.strip():
        return b""
    media = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if not _JSON_MEDIA.match(media):
        raise request_error("UNSUPPORTED_MEDIA_TYPE", f"a request body must be JSON, sent with Content-Type "
                            f"application/json; got {media[:64]!r}" if media else "a request body must be JSON, sent "
                            "with Content-Type application/json; none was given", field="Content-Type",
                            expected="application/json")
    return raw
