"""JSON-RPC 2.0 over ``POST /mcp`` (and ``/ws`` "mcp" frames): OpenSOC's defender tools for MCP clients.

Tools are stateless, like HTTP ``/step`` without an episode id: ``get_alert`` shows the
defender observation for (task, seed) and ``submit_triage`` scores a triage of that same
incident. For an investigation task, ``investigate`` runs one SIEM tool on the case's store.
Stateless calls cannot remember what a client has seen, so an investigation triaged over MCP
earns no citation bonus and no budget applies; episodes over HTTP or ``/ws`` have both. Every request that reaches the JSON-RPC layer gets a JSON-RPC response with HTTP
200; the transport's own refusals (token, body size, content type) are HTTP errors.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .. import __version__
from ..env import DEFAULT_SEED, DEFAULT_TASK, EpisodeError, OpenSOCEnv
from ..schema import SubmitTriage
from ..families.investigation.case import build_case
from ..families.investigation.tools import TOOL_ARGS, run_tool
from ..tasks.registry import task_names
from ..families.investigation.tasks import INVESTIGATION_TASKS
from .wire import MAX_SEED, WireError, parse_json

PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS = -32700, -32600, -32601, -32602

_INCIDENT_ARGS = {
    "task": {"type": "string", "enum": [*task_names(), *INVESTIGATION_TASKS], "default": DEFAULT_TASK},
    "seed": {"type": "integer", "minimum": 0, "maximum": MAX_SEED, "default": DEFAULT_SEED},
}
TOOLS = [
    {"name": "get_alert", "description": "The SIEM alert, log window and prompt a defender sees for (task, seed).",
     "inputSchema": {"type": "object", "properties": _INCIDENT_ARGS, "additionalProperties": False}},
    {"name": "submit_triage", "description": "Triage the alert for (task, seed); returns the reward and the verdict.",
     "inputSchema": {"type": "object", "additionalProperties": False,
                     "properties": {**_INCIDENT_ARGS, **SubmitTriage.model_json_schema()["properties"]},
                     "required": ["action", "cited_log_id"]}},
    {"name": "investigate", "description": "Run one SIEM tool (search, count, lookup_host, lookup_user, process_tree) on "
                                           "the log store of an investigation task's case (task, seed).",
     "inputSchema": {"type": "object", "additionalProperties": False, "required": ["task", "tool"],
                     "properties": {"task": {"type": "string", "enum": list(INVESTIGATION_TASKS)},
                                    "seed": _INCIDENT_ARGS["seed"],
                                    "tool": {"type": "string", "enum": list(TOOL_ARGS)},
                                    "arguments": {"type": "object", "description": "The tool's arguments."}}}},
]
TOOL_NAMES = tuple(t["name"] for t in TOOLS)


class JsonRpcRequest(BaseModel):
    """The JSON-RPC 2.0 request ``/mcp`` reads (the schema clients and fuzzers see; answers never raise)."""

    model_config = ConfigDict(extra="forbid")

    jsonrpc: str = Field(description='Always "2.0".')
    method: str = Field(description="initialize, tools/list or tools/call.")
    id: str | int | None = None
    params: dict[str, Any] | None = None


class _Incident(BaseModel):
    """Which incident a tool call is about; the triage fields are checked by ``SubmitTriage``."""

    model_config = ConfigDict(extra="ignore", strict=True)

    task: str = Field(default=DEFAULT_TASK, max_length=64)
    seed: int = Field(default=DEFAULT_SEED, ge=0, le=MAX_SEED)


def _response(request_id: Any, *, result: Any = None, error: tuple[int, str] | None = None) -> dict:
    if error is not None:
        return {"jsonrpc": "2.0", "id": request_id, "error": {"code": error[0], "message": error[1], "data": None}}
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


def _investigate(args: dict) -> dict:
    incident = _Incident.model_validate(args)
    if incident.task not in INVESTIGATION_TASKS:
        raise EpisodeError(f"investigate needs an investigation task; expected one of: {', '.join(INVESTIGATION_TASKS)}")
    unknown = sorted(set(args) - {"task", "seed", "tool", "arguments"})
    if unknown:
        raise EpisodeError(f"investigate takes task, seed, tool and arguments; got {unknown[:8]}")
    result = run_tool(build_case(incident.task, incident.seed).store, str(args.get("tool", ""))[:64], args.get("arguments"))
    return {"content": [{"type": "text", "text": result.text}], "isError": not result.ok}


def _call(name: str, args: dict) -> dict:
    if name == "investigate":
        return _investigate(args)
    incident = _Incident.model_validate(args)
    env = OpenSOCEnv()
    obs = env.reset(task=incident.task, seed=incident.seed)
    rest = {k: v for k, v in args.items() if k not in ("task", "seed")}
    if name == "get_alert":
        if rest:
            raise EpisodeError(f"get_alert takes task and seed only; got {sorted(rest)[:8]}")
        payload = obs.model_dump(mode="json", exclude={"reward", "done"})
    else:
        obs = env.step({"submit_triage": SubmitTriage.model_validate(rest).model_dump()})
        payload = {"reward": obs.reward, "verdict": obs.verdict.model_dump(mode="json"),
                   "defender": obs.rewards.defender.model_dump(mode="json"), "episode_id": obs.episode_id}
    return {"content": [{"type": "text", "text": json.dumps(payload)}], "isError": False}


def _valid_id(request_id: Any) -> bool:
    return request_id is None or (isinstance(request_id, (str, int, float)) and not isinstance(request_id, bool)
                                  and (not isinstance(request_id, str) or len(request_id) <= 255))


def handle_jsonrpc(raw: bytes | str) -> dict:
    """One JSON-RPC response for the request text ``raw``."""
    try:
        req = parse_json(raw) if raw.strip() else None
    except WireError as exc:
        return _response(None, error=(PARSE_ERROR, f"Parse error: {exc.message}"))
    return answer_jsonrpc(req)


def answer_jsonrpc(req: Any) -> dict:
    """One JSON-RPC response for an already parsed request."""
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
        return _response(request_id, result={"tools": TOOLS})
    if method != "tools/call":
        return _response(request_id, error=(METHOD_NOT_FOUND, f"Method not found: {method[:64]}"))
    name, args = params.get("name"), params.get("arguments")
    args = {} if args is None else args
    if name not in TOOL_NAMES or not isinstance(args, dict):
        shown = name[:64] if isinstance(name, str) else type(name).__name__
        return _response(request_id, error=(INVALID_PARAMS, f"unknown tool {shown!r} or arguments that are not an "
                                                            f"object; expected one of {', '.join(TOOL_NAMES)}"))
    try:
        return _response(request_id, result=_call(name, args))
    except ValidationError as exc:
        err = exc.errors()[0]
        return _response(request_id, error=(INVALID_PARAMS, f"{'.'.join(map(str, err['loc']))}: {err['msg']}"))
    except EpisodeError as exc:
        return _response(request_id, error=(INVALID_PARAMS, exc.message))
