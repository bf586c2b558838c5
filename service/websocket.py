"""``/ws``: OpenEnv's WebSocket session, one environment per connection, and the MCP frames it carries.

A frame runs on the event loop only when its cost is fixed and small (under ``INLINE_FRAME_BYTES``, and a reset or
step the task's family calls cheap); larger frames, costly steps and MCP go to the service's worker, which is also
the only thread that touches a run's replay pool. Without a ``run_id`` at reset the connection is its own attacker
run.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from ..env import OpenSOCEnv
from ..families.base import DEFAULT_TASK, ResetRequest
from ..families.registry import action_names, family_for
from ..models import Observation, OpenSOCError
from .core import CoreWorker, OpenSOCService, envelope
from .episodes import RunRegistry, new_run
from .errors import error_payload, expected_for, request_error
from .mcp import answer_jsonrpc
from .requests import env_kwargs, reset_params, reset_params_model
from .settings import ServiceSettings
from .wire import WireError, parse_json

log = logging.getLogger("opensoc.service")

INLINE_FRAME_BYTES = 8192  # a cheap frame this small costs a fixed fraction of a millisecond
MESSAGE_TYPES = ["reset", "step", "state", "close", "mcp"]


class WsSession:
    """One WebSocket connection's environment and OpenEnv message handling."""

    def __init__(self, env: OpenSOCEnv, settings: ServiceSettings, runs: RunRegistry):
        self.env, self.settings, self.runs = env, settings, runs
        self.own_run = env.run

    @staticmethod
    def error(code: str, message: str, field: str | None = None, expected: Any = None, **extra: Any) -> str:
        return json.dumps({"type": "error", "data": {"message": message, "code": code, "field": field,
                                                     "expected": expected, **extra}})

    def needs_worker(self, msg: dict) -> bool:
        """Whether a parsed message must run on the worker: the task's family calls its reset or step costly (a
        crafted incident to adjudicate, a log store to build or query, a run's pool to read), or it is MCP."""
        data = msg.get("data") if isinstance(msg.get("data"), dict) else {}
        if msg["type"] == "reset":
            task = data.get("task", DEFAULT_TASK)
            family = family_for(task) if isinstance(task, str) else None
            options = {k: v for k, v in data.items() if k not in ("task", "seed", "episode_id", "run_id", "index")
                       and v is not None and v is not False}
            return family is not None and not family.cheap_reset(ResetRequest(str(task), 0, None, options))
        if msg["type"] == "mcp":
            return True
        if msg["type"] == "step":
            family, episode = self.env.family, self.env.episode
            if family is None or episode is None or episode.done:
                return False
            action = next((k for k in data if k in action_names()), "")
            return not family.cheap_step(episode, action)
        return False

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
        """The reply to a parsed message, and whether to close the socket. A refusal of the request itself is
        OpenEnv's ``VALIDATION_ERROR``; one the episode makes, its ``EXECUTION_ERROR``; both carry OpenSOC's code."""
        kind, data = msg["type"], msg.get("data")
        try:
            if kind == "reset":
                try:
                    if data is not None and not isinstance(data, dict):
                        raise request_error("INVALID_REQUEST", "a reset frame's data is an object of reset arguments",
                                            field="data", expected=list(reset_params_model().model_fields))
                    params = reset_params(data or {})
                    run_id = getattr(params, "run_id")
                    self.env.run = self.runs.get(run_id) if run_id is not None else self.own_run
                except OpenSOCError as exc:
                    body = error_payload(exc)["error"]
                    return self.error("VALIDATION_ERROR", exc.message, body["field"], body["expected"],
                                      reason=exc.code, errors=[{"loc": [exc.field], "msg": exc.message}]), False
                return self._observation(self.env.reset(**env_kwargs(params))), False
            if kind == "step":
                if not isinstance(data, dict):
                    return self.error("VALIDATION_ERROR", "Invalid message", "data", expected_for("action"), errors=[
                        {"loc": ["data"], "msg": "a step frame's data is the action object"}]), False
                return self._observation(self.env.step(data)), False
            if kind == "state":
                return json.dumps({"type": "state", "data": self.env.state.model_dump(mode="json")}), False
            if kind == "close":
                return None, True
            if kind == "mcp":
                return json.dumps({"type": "mcp", "data": answer_jsonrpc(data)}), False
            return self.error("UNKNOWN_TYPE", f"Unknown message type: {kind[:64]}", "type", MESSAGE_TYPES), False
        except OpenSOCError as exc:
            body = error_payload(exc)["error"]
            return self.error("EXECUTION_ERROR", exc.message, body["field"], body["expected"], reason=exc.code), False
        except Exception as exc:  # noqa: BLE001 - a bug must not end this client's session or touch another's
            log.exception("unexpected error handling a %s frame", kind)
            return self.error("EXECUTION_ERROR", f"internal error: {type(exc).__name__}"), False

    @staticmethod
    def _observation(obs: Observation) -> str:
        return f'{{"type":"observation","data":{envelope(obs)}}}'


def router(service: OpenSOCService, worker: CoreWorker, settings: ServiceSettings) -> APIRouter:
    """The ``/ws`` route over ``service``'s runs, with at most ``settings.max_ws_sessions`` sessions at once."""
    routes = APIRouter()
    active = {"count": 0}

    async def answer(session: WsSession, message: dict) -> tuple[str | None, bool]:
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

    @routes.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        if active["count"] >= settings.max_ws_sessions:
            await websocket.send_json({"type": "error", "data": {
                "message": f"Server at capacity: {active['count']}/{settings.max_ws_sessions} sessions active. "
                           "Cannot accept new connections.",
                "code": "CAPACITY_REACHED", "active_sessions": active["count"],
                "max_sessions": settings.max_ws_sessions}})
            await websocket.close(code=1013)
            return
        active["count"] += 1
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
                    reply, close = await answer(session, message)
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
            active["count"] -= 1
            session.env.close()

    return routes
