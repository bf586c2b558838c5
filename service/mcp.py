"""JSON-RPC 2.0 over ``POST /mcp`` (and ``/ws`` "mcp" frames): the registered families' tools for MCP clients.

Tools are stateless, like HTTP ``/step`` without an episode id: each names a task and a seed, and the family that
serves the task answers (``Family.mcp_tools``). Tools of the same name offered by several families are one tool
whose ``task`` may be any of theirs. Stateless calls cannot remember what a client has seen, so an investigation
triaged over MCP earns no citation bonus. A tool that reads what episodes ration (``investigate`` reads a case's log
store, which an episode may query ``call_budget`` times) keeps the same ration per client and case: ``McpBudgets``
counts each client's calls on each (tool, task, seed), the oldest counts forgotten past ``MAX_BUDGET_ENTRIES``. A
client is its peer address (``clients``), so the ration is per address: it bounds what one client reads for free, and
an episode remains the way to be scored on a case.

JSON-RPC 2.0 as written: a batch (an array of at most ``MAX_BATCH`` requests) is answered with an array of the
responses, each request run in its client's turn on the worker; a notification (a request without an ``id``) is run
and answered with nothing: HTTP 202 with no body, and no frame on ``/ws`` (a batch of notifications alone too).
Every other request that reaches the JSON-RPC layer gets a JSON-RPC response with HTTP 200; the transport's own
refusals (token, body size, content type) are HTTP errors.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .. import __version__
from ..families.base import DEFAULT_SEED, DEFAULT_TASK, McpTool
from ..families.registry import families
from ..models import OpenSOCError
from .clients import client_of, stream_of
from .core import INLINE_BYTES, CoreWorker
from .errors import ERROR_RESPONSES
from .http import json_response
from .openapi import body_doc
from .requests import json_bytes_of, query_params
from .wire import MAX_SEED, WireError, parse_json

PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS = -32700, -32600, -32601, -32602
MAX_BATCH = 32  # requests in one JSON-RPC batch
MAX_BUDGET_ENTRIES = 65536  # (client, tool, task, seed) call counts remembered


class McpBudgets:
    """Calls per (client, tool, task, seed) of the tools that have a budget, the oldest entries forgotten first."""

    def __init__(self, size: int = MAX_BUDGET_ENTRIES):
        self.size = size
        self._used: OrderedDict[tuple, int] = OrderedDict()
        self._lock = threading.Lock()

    def spend(self, key: tuple, budget: int) -> bool:
        """Count one call of ``key``; False (and nothing counted) when its ``budget`` is spent."""
        with self._lock:
            used = self._used.get(key, 0)
            if used >= budget:
                return False
            self._used[key] = used + 1
            self._used.move_to_end(key)
            if len(self._used) > self.size:
                self._used.popitem(last=False)
            return True


BUDGETS = McpBudgets()


@dataclass(frozen=True)
class _Tool:
    spec: McpTool
    tasks: dict[str, McpTool]  # task -> the family's tool that serves it


def _tools() -> dict[str, _Tool]:
    tools: dict[str, _Tool] = {}
    for family in families():
        for tool in family.mcp_tools():
            entry = tools.setdefault(tool.name, _Tool(tool, {}))
            for task in family.task_names:
                entry.tasks[task] = tool
    return tools


def tool_list() -> list[dict[str, Any]]:
    """``tools/list``: every tool with the JSON Schema of its arguments (``task``, ``seed`` and its own)."""
    out = []
    for name, tool in _tools().items():
        tasks = sorted(tool.tasks, key=list(tool.tasks).index)
        default = DEFAULT_TASK if DEFAULT_TASK in tool.tasks else tasks[0]
        properties = {"task": {"type": "string", "enum": tasks, "default": default},
                      "seed": {"type": "integer", "minimum": 0, "maximum": MAX_SEED, "default": DEFAULT_SEED},
                      **tool.spec.properties}
        schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
        if tool.spec.required:
            schema["required"] = list(tool.spec.required)
        out.append({"name": name, "description": tool.spec.description, "inputSchema": schema})
    return out


class JsonRpcRequest(BaseModel):
    """The JSON-RPC 2.0 request ``/mcp`` reads (the schema clients and fuzzers see; answers never raise)."""

    model_config = ConfigDict(extra="forbid")

    jsonrpc: str = Field(description='Always "2.0".')
    method: str = Field(description="initialize, tools/list or tools/call.")
    id: str | int | None = None
    params: dict[str, Any] | None = None


class _Incident(BaseModel):
    """Which task and seed a tool call is about; the tool's own arguments are checked by the tool."""

    model_config = ConfigDict(extra="ignore", strict=True)

    task: str = Field(default=DEFAULT_TASK, max_length=64)
    seed: int = Field(default=DEFAULT_SEED, ge=0, le=MAX_SEED)


def _response(request_id: Any, *, result: Any = None, error: tuple[int, str] | None = None) -> dict:
    if error is not None:
        return {"jsonrpc": "2.0", "id": request_id, "error": {"code": error[0], "message": error[1], "data": None}}
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


def _call(tool: _Tool, args: dict, client: str) -> dict:
    incident = _Incident.model_validate(args)
    served = tool.tasks.get(incident.task)
    if served is None:
        raise OpenSOCError(f"{tool.spec.name} needs one of the tasks: {', '.join(tool.tasks)}",
                           code="INVALID_PARAMETER", field="task", expected=list(tool.tasks))
    if served.budget is not None:
        budget = served.budget(incident.task)
        if not BUDGETS.spend((client, served.name, incident.task, incident.seed), budget):
            raise OpenSOCError(f"the {budget} {served.name} calls this client may make on {incident.task} seed "
                               f"{incident.seed} are spent (an episode of the task gets as many)",
                               code="BUDGET_EXHAUSTED", field="seed", expected="another case, or an episode")
    text, failed = served.call(incident.task, incident.seed, {k: v for k, v in args.items() if k not in ("task", "seed")})
    return {"content": [{"type": "text", "text": text}], "isError": failed}


def _valid_id(request_id: Any) -> bool:
    return request_id is None or (isinstance(request_id, (str, int, float)) and not isinstance(request_id, bool)
                                  and (not isinstance(request_id, str) or len(request_id) <= 255))


def parse_jsonrpc(raw: bytes | str) -> Any:
    """The parsed request or batch of ``raw``, or the parse error's response (a dict with ``error``)."""
    try:
        return parse_json(raw) if raw.strip() else None
    except WireError as exc:
        return ParseError(_response(None, error=(PARSE_ERROR, f"Parse error: {exc.message}")))


class ParseError(dict):
    """The response to a body that is not JSON (a dict, so that it is sent as it is)."""


def is_notification(req: Any) -> bool:
    """A valid request without an ``id`` member: JSON-RPC 2.0 answers it with nothing."""
    return isinstance(req, dict) and "id" not in req and req.get("jsonrpc") == "2.0" and isinstance(req.get("method"), str)


def batch_refusal(req: Any) -> dict | None:
    """The one response that answers a batch as a whole (empty, or longer than ``MAX_BATCH``), or None."""
    if isinstance(req, list) and not 0 < len(req) <= MAX_BATCH:
        return _response(None, error=(INVALID_REQUEST, f"Invalid request: a batch holds 1 to {MAX_BATCH} requests, "
                                                       f"this one {len(req)}"))
    return None


def handle_jsonrpc(raw: bytes | str, client: str = "") -> dict | list | None:
    """The JSON-RPC answer to the request text ``raw``: a response, an array of them (a batch), or None (only
    notifications)."""
    req = parse_jsonrpc(raw)
    if isinstance(req, ParseError):
        return dict(req)
    refusal = batch_refusal(req)
    if refusal is not None:
        return refusal
    if isinstance(req, list):
        answers = [answer_jsonrpc(r, client) for r in req]
        kept = [a for r, a in zip(req, answers) if not is_notification(r)]
        return kept or None
    answer = answer_jsonrpc(req, client)
    return None if is_notification(req) else answer


def costly(req: Any) -> bool:
    """Whether answering a parsed request calls a costly tool (it must then run on the service's worker)."""
    if not isinstance(req, dict) or req.get("method") != "tools/call" or not isinstance(req.get("params"), dict):
        return False
    tool = _tools().get(req["params"].get("name"))
    return tool is not None and any(t.costly for t in tool.tasks.values())


def answer_jsonrpc(req: Any, client: str = "") -> dict:
    """One JSON-RPC response for an already parsed request (the caller drops it for a notification)."""
    request_id = req.get("id") if isinstance(req, dict) else None
    if not _valid_id(request_id):
        return _response(None, error=(INVALID_REQUEST, "Invalid request: id must be a string, a number or null"))
    if not isinstance(req, dict) or req.get("jsonrpc") != "2.0" or not isinstance(req.get("method"), str):
        return _response(request_id,
                         error=(INVALID_REQUEST, 'Invalid request: expected {"jsonrpc": "2.0", "method": ..., "id": ...}'))
    method, params = req["method"], req.get("params")
    params = {} if params is None else params
    if not isinstance(params, dict):
        return _response(request_id, error=(INVALID_PARAMS, "params must be an object"))
    if method == "initialize":
        return _response(request_id, result={"protocolVersion": "2025-06-18", "capabilities": {"tools": {}},
                                             "serverInfo": {"name": "opensoc", "version": __version__}})
    if method == "tools/list":
        return _response(request_id, result={"tools": tool_list()})
    if method != "tools/call":
        return _response(request_id, error=(METHOD_NOT_FOUND, f"Method not found: {method[:64]}"))
    name, args = params.get("name"), params.get("arguments")
    args = {} if args is None else args
    tools = _tools()
    if name not in tools or not isinstance(args, dict):
        shown = name[:64] if isinstance(name, str) else type(name).__name__
        return _response(request_id, error=(INVALID_PARAMS, f"unknown tool {shown!r} or arguments that are not an "
                                                            f"object; expected one of {', '.join(tools)}"))
    try:
        return _response(request_id, result=_call(tools[name], args, client))
    except ValidationError as exc:
        err = exc.errors()[0]
        return _response(request_id, error=(INVALID_PARAMS, f"{'.'.join(map(str, err['loc']))}: {err['msg']}"))
    except OpenSOCError as exc:
        return _response(request_id, error=(INVALID_PARAMS, exc.message))


def router(worker: CoreWorker) -> APIRouter:
    """``POST /mcp``: a JSON-RPC request or batch per body, answered with HTTP 200 (202 and no body when only
    notifications were sent)."""
    routes = APIRouter(responses=ERROR_RESPONSES)

    @routes.post("/mcp", summary="JSON-RPC 2.0 (MCP tools): a request or a batch; HTTP 200 for every JSON-RPC answer, "
                 "202 with no body for notifications", openapi_extra=body_doc("JsonRpcRequest"),
                 responses={202: {"description": "Notifications only: JSON-RPC answers them with nothing"}})
    async def mcp(request: Request) -> Response:
        query_params(request, ())
        raw, client, stream = await json_bytes_of(request), client_of(request), stream_of(request)
        req = parse_jsonrpc(raw) if len(raw) <= INLINE_BYTES else await worker.run(
            parse_jsonrpc, raw, client=client, stream=stream)
        if isinstance(req, ParseError):
            return json_response(dict(req))
        refusal = batch_refusal(req)
        if refusal is not None:
            return json_response(refusal)
        answers = []
        for one in req if isinstance(req, list) else [req]:  # each request of a batch waits its own turn
            answer = await worker.run(answer_jsonrpc, one, client, client=client, stream=stream, costly=costly(one))
            if not is_notification(one):
                answers.append(answer)
        if not answers:
            return Response(status_code=202)
        return json_response(answers if isinstance(req, list) else answers[0])

    return routes
