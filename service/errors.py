"""Every refusal's HTTP status, in one table, and the error body it carries.

``OpenSOCError`` (``models``) is the one error type; its ``code`` picks the status here. A body names the field at
fault and what was expected there; where the refusal did not say, ``expected_for`` fills it in from what OpenSOC
knows of the field (the registered families' reset options, the Task API's splits, the action names).
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import Response
from pydantic import BaseModel, Field

from ..families.registry import action_names, all_task_names, families, reset_options
from ..models import OpenSOCError
from ..tasks.catalog import CATALOG
from .wire import MAX_SEED, error_body, json_bytes

STATUS: dict[str, int] = {
    "MALFORMED_JSON": 400,
    "UNSUPPORTED_JSON": 400,
    "STATELESS_MODE": 400,
    "INDEX_OUT_OF_RANGE": 400,
    "MALFORMED_REQUEST": 400,
    "UNAUTHORIZED": 401,
    "FORBIDDEN_ORIGIN": 403,
    "UPLOADS_OFF": 403,
    "NOT_FOUND": 404,
    "UNKNOWN_EPISODE": 404,
    "EPISODE_EXPIRED": 404,
    "EPISODE_EVICTED": 404,
    "RUN_EVICTED": 404,
    "UNKNOWN_RUN": 404,
    "METHOD_NOT_ALLOWED": 405,
    "REQUEST_TIMEOUT": 408,
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
    "TOO_MANY_CONNECTIONS": 429,
    "SERVER_BUSY": 503,
}

# Errors whose cause is the episode rather than one field name the episode, and say what would work.
CODE_DEFAULTS: dict[str, tuple[str, str]] = {
    "EPISODE_OVER": ("episode_id", "an episode in progress: call /reset to start another"),
    "NOT_GRADABLE": ("episode_id", "a finished episode: it is graded once the defender has acted"),
    "NO_EPISODE": ("type", "a reset before the first step"),
}
RUN_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. INVALID_PARAMETER.")
    message: str
    field: str | None = Field(description="The field at fault, when there is one.")
    expected: Any = Field(description="What a valid value looks like there.")


class ErrorBody(BaseModel):
    """Every 4xx answer: ``detail`` for FastAPI-style clients, ``error`` with the code, field and expectation."""

    detail: str
    error: ErrorDetail


def request_error(code: str, message: str, *, field: str | None = None, expected: Any = None,
                  headers: dict[str, str] | None = None) -> OpenSOCError:
    """A transport-level refusal with ``code`` (a key of ``STATUS``)."""
    return OpenSOCError(message, code=code, field=field, expected=expected, headers=headers)


def _option_expected(name: str) -> Any:
    values = [f.options[name].expected for f in families() if name in f.options and f.options[name].expected]
    lists = [v for v in values if isinstance(v, list)]
    if lists:
        return list(dict.fromkeys(x for v in lists for x in v))
    return values[0] if values else None


def expected_for(field: str) -> Any:
    """What a valid value of the wire field ``field`` looks like, from the registered families and the Task API."""
    fixed: dict[str, Any] = {
        "seed": f"an integer from 0 to {MAX_SEED}",
        "episode_id": "a string of 1 to 255 characters: an id /reset returned, or a new one of your choosing",
        "index": "an integer from 0, below the split's num_tasks (POST /opensoc/num_tasks)",
        "run_id": "1 to 64 characters from A-Z a-z 0-9 _ . : -",
        "timeout_s": "a number above 0 and at most 3600",
        "request_id": "a string of at most 255 characters",
    }
    if field in fixed:
        return fixed[field]
    if field == "task":
        return all_task_names()
    if field == "action":
        return f"an object holding exactly one of {', '.join(action_names())}"
    if field == "split":
        return {"tasks that take a split": _option_expected("split"),
                "with index (the Task API)": list(CATALOG.split_names())}
    if field in reset_options():
        return _option_expected(field)
    return None


def error_payload(exc: OpenSOCError) -> dict:
    """The error body of ``exc``, with the field and expectation filled in from what OpenSOC knows of them."""
    code_field, code_expected = CODE_DEFAULTS.get(exc.code, (None, None))
    field = exc.field if exc.field is not None else code_field
    expected = exc.expected
    if expected is None:
        expected = code_expected if code_expected is not None else expected_for((field or "").split(".")[0])
    return error_body(exc.code, exc.message, field, expected)


def error_response(exc: OpenSOCError, status: int | None = None) -> Response:
    return Response(json_bytes(error_payload(exc)), status_code=status or STATUS.get(exc.code, 400),
                    media_type="application/json", headers=exc.headers or None)


# The error answers every route may give, for OpenAPI.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description} for status, description in (
        (400, "Malformed or unsupported JSON, a stateless step of a stateful episode, an index outside its split"),
        (401, "The server needs its API token"),
        (403, "A web page's origin that may not open /ws"),
        (404, "No such route, episode or run (or it expired or was evicted, or the server restarted)"),
        (408, "The request head or body did not arrive in time"),
        (409, "The episode cannot take this request now (wrong turn, over, not gradable, an id taken)"),
        (413, "The body is over the limit"),
        (415, "A body that is not JSON"),
        (422, "A parameter or action that is not valid here"),
        (429, "This client holds its share of episodes, runs or connections, or the store is full; Retry-After says "
              "when to retry"),
        (503, "The server holds as many connections as it may; Retry-After says when to retry"),
    )
}
