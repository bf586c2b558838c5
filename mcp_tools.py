"""JSON-RPC 2.0 over ``POST /mcp`` (and ``/ws`` "mcp" frames): OpenSOC's defender tools for MCP clients.

Tools are stateless, like HTTP ``/step`` without an episode id: ``get_alert`` shows the
defender observation for (task, seed) and ``submit_triage`` scores a triage of that same
incident. Every answer is a JSON-RPC response; the transport always replies HTTP 200.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from .env import DEFAULT_SEED, DEFAULT_TASK, AttackerRun, EpisodeError, OpenSOCEnv
from .schema import SubmitTriage
from .tasks.registry import task_names

PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS = -32700, -32600, -32601, -32602

_INCIDENT_ARGS = {
    "task": {"type": "string", "enum": task_names(), "default": DEFAULT_TASK},
    "seed": {"type": "integer", "minimum": 0, "default": DEFAULT_SEED},
}
TOOLS = [
    {"name": "get_alert", "description": "The SIEM alert, log window and prompt a defender sees for (task, seed).",
     "inputSchema": {"type": "object", "properties": _INCIDENT_ARGS, "additionalProperties": False}},
    {"name": "submit_triage", "description": "Triage the alert for (task, seed); returns the reward and the verdict.",
     "inputSchema": {"type": "object", "additionalProperties": False,
                     "properties": {**_INCIDENT_ARGS, **SubmitTriage.model_json_schema()["properties"]},
                     "required": ["action", "cited_log_id"]}},
]


def _response(request_id: Any, *, result: Any = None, error: tuple[int, str] | None = None) -> dict:
    if error is not None:
        return {"jsonrpc": "2.0", "id": request_id, "error": {"code": error[0], "message": error[1], "data": None}}
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


def _call(name: str, args: dict, run: AttackerRun) -> dict:
    incident = {k: args.pop(k) for k in ("task", "seed") if k in args}
    env = OpenSOCEnv(run)
    obs = env.reset(**incident)
    if name == "get_alert":
        if args:
            raise EpisodeError(f"get_alert takes task and seed only; got {sorted(args)}")
        payload = obs.model_dump(mode="json", exclude={"reward", "done"})
    else:
        obs = env.step({"submit_triage": SubmitTriage.model_validate(args).model_dump()})
        payload = {"reward": obs.reward, "verdict": obs.verdict.model_dump(mode="json"),
                   "defender": obs.rewards.defender.model_dump(mode="json"), "episode_id": obs.episode_id}
    return {"content": [{"type": "text", "text": json.dumps(payload)}], "isError": False}


def handle_jsonrpc(raw: bytes, run: AttackerRun, limit: int) -> dict:
    """One JSON-RPC response for the request bytes ``raw``."""
    if len(raw) > limit:
        return _response(None, error=(INVALID_REQUEST, f"Invalid request: body exceeds {limit} bytes"))
    try:
        req = json.loads(raw) if raw.strip() else None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return _response(None, error=(PARSE_ERROR, f"Parse error: {exc}"))
    if not isinstance(req, dict) or req.get("jsonrpc") != "2.0" or not isinstance(req.get("method"), str):
        return _response(req.get("id") if isinstance(req, dict) else None,
                         error=(INVALID_REQUEST, 'Invalid request: expected {"jsonrpc": "2.0", "method": ..., "id": ...}'))
    request_id, method, params = req.get("id"), req["method"], req.get("params") or {}
    if not isinstance(params, dict):
        return _response(request_id, error=(INVALID_PARAMS, "params must be an object"))
    if method == "initialize":
        return _response(request_id, result={"protocolVersion": "2025-06-18", "capabilities": {"tools": {}},
                                             "serverInfo": {"name": "opensoc", "version": "0.1.0"}})
    if method == "tools/list":
        return _response(request_id, result={"tools": TOOLS})
    if method != "tools/call":
        return _response(request_id, error=(METHOD_NOT_FOUND, f"Method not found: {method}"))
    name, args = params.get("name"), params.get("arguments") or {}
    if name not in ("get_alert", "submit_triage") or not isinstance(args, dict):
        return _response(request_id, error=(INVALID_PARAMS, f"unknown tool {name!r}; expected get_alert or submit_triage"))
    try:
        return _response(request_id, result=_call(name, dict(args), run))
    except ValidationError as exc:
        err = exc.errors()[0]
        return _response(request_id, error=(INVALID_PARAMS, f"{'.'.join(map(str, err['loc']))}: {err['msg']}"))
    except EpisodeError as exc:
        return _response(request_id, error=(INVALID_PARAMS, exc.message))
