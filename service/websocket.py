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
from ..models import Observation, OpenSOCError
from .clients import client_of
from .core import (
    INLINE_BYTES,
    CoreWorker,
    OpenSOCService,
    envelope,
    needs_run,
    reset_costly,
    step_costly,
)
from .episodes import RunRegistry, new_run
from .errors import error_payload, expected_for, request_error
from .mcp import answer_jsonrpc, batch_refusal, is_notification
from .requests import env_kwargs, reset_params, reset_params_model
from .settings import ServiceSettings
from .wire import WireError, parse_json

log = logging.getLogger("opensoc.service")

INLINE_FRAME_BYTES = INLINE_BYTES  # a cheap frame this small costs a fixed fraction of a millisecond
MESSAGE_TYPES = ["reset", "step", "state", "close", "mcp"]


class WsSession:
    """One WebSocket connection's environment and OpenEnv message handling."""

    def __init__(self, env: OpenSOCEnv, settings: ServiceSettings, runs: RunRegistry, client: str = ""):
        self.env, self.settings, self.runs, self.client = env, settings, runs, client
        self.own_run = env.run
        self.named_run = False  # whether the episode belongs to a shared run (its work then runs on the costly thread)

    @staticmethod
    def error(code: str, message: str, field: str | None = None, expected: Any = None, **extra: Any) -> str:
        return json.dumps({"type": "error", "data": {"message": message, "code": code, "field": field,
                                                     "expected": expected, **extra}})

    def needs_worker(self, msg: dict) -> bool:
        """Whether a parsed message must run on the worker: the task's family calls its reset or step costly (a
        crafted incident to adjudicate, a log store to build or query, a run's pool to read), it is MCP, or the
        episode belongs to a shared run."""
        data = msg.get("data") if isinstance(msg.get("data"), dict) else {}
        if msg["type"] == "reset":
            return reset_costly(data)
        if msg["type"] == "mcp":
            return True
        if msg["type"] == "step":
            return step_costly(self.env, data, self.named_run)
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
            return self.error("INVALID_JSON", f"Invalid JSON: {exc.message}", exc.field or "message", exc.expected)
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
                    run = self.runs.existing(run_id) if run_id is not None else self.own_run
                    if run is None and needs_run(params):
                        raise request_error("UNKNOWN_RUN", f"this server process holds no run {run_id!r}: it never "
                                            "recorded one (or it restarted, and runs live in memory only), so there "
                                            "is no replay pool to draw from", field="run_id", expected="a run_id "
                                            "this server process has recorded attacker episodes under")
                except OpenSOCError as exc:
                    body = error_payload(exc)["error"]
                    return self.error("VALIDATION_ERROR", exc.message, body["field"], body["expected"],
                                      reason=exc.code, errors=[{"loc": [exc.field], "msg": exc.message}]), False
                previous, self.env.run = self.env.run, run if run is not None else new_run()
                try:
                    obs = self.env.reset(**env_kwargs(params))
                    if run is None:  # a new run is held only once its first reset succeeded
                        self.env.run = self.runs.adopt(run_id, self.env.run, self.client)
                except OpenSOCError:
                    self.env.run = previous
                    raise
                self.named_run = run_id is not None
                return self._observation(obs), False
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
                answer = self._jsonrpc(data)
                return (None if answer is None else json.dumps({"type": "mcp", "data": answer})), False
            return self.error("UNKNOWN_TYPE", f"Unknown message type: {kind[:64]}", "type", MESSAGE_TYPES), False
        except OpenSOCError as exc:
            body = error_payload(exc)["error"]
            return self.error("EXECUTION_ERROR", exc.message, body["field"], body["expected"], reason=exc.code), False
        except Exception as exc:  # noqa: BLE001 - a bug must not end this client's session or touch another's
            log.exception("unexpected error handling a %s frame", kind)
            return self.error("EXECUTION_ERROR", f"internal error: {type(exc).__name__}"), False

    def _jsonrpc(self, data: Any) -> dict | list | None:
        """The JSON-RPC answer to an "mcp" frame's request or batch; None for notifications alone."""
        refusal = batch_refusal(data)
        if refusal is not None:
            return refusal
        if isinstance(data, list):
            kept = [answer_jsonrpc(r, self.client) for r in data if not is_notification(r)]
            for r in data:
                if is_notification(r):
                    answer_jsonrpc(r, self.client)
            return kept or None
        answer = answer_jsonrpc(data, self.client)
        return None if is_notification(data) else answer

    @staticmethod
    def _observation(obs: Observation) -> str:
        return f'{{"type":"observation","data":{envelope(obs)}}}'


def router(service: OpenSOCService, worker: CoreWorker, settings: ServiceSettings) -> APIRouter:
    """The ``/ws`` route over ``service``'s runs, with at most ``settings.max_ws_sessions`` sessions at once and
    ``settings.share("max_ws_sessions")`` from one client."""
    routes = APIRouter()
    active: dict[str, int] = {}

    async def answer(session: WsSession, message: dict) -> tuple[str | None, bool]:
        frame = message.get("text")
        if frame is None:
            frame = message.get("bytes") or b""
        # Small frames are parsed here; what they ask for runs here only when its cost is fixed and small. The rest
        # waits for the worker's costly thread in its client's turn; this session is one stream of the client's.
        if len(frame) > INLINE_FRAME_BYTES:
            return await worker.run(session.handle, frame, client=session.client, stream=session)
        msg = session.parse(frame)
        if isinstance(msg, str):
            return msg, False
        if session.needs_worker(msg):
            return await worker.run(session.dispatch, msg, client=session.client, stream=session)
        return session.dispatch(msg)

    def capacity_refusal(client: str) -> dict | None:
        total, mine = sum(active.values()), active.get(client, 0)
        if total >= settings.max_ws_sessions:
            return {"message": f"Server at capacity: {total}/{settings.max_ws_sessions} sessions active. Cannot "
                               "accept new connections.", "code": "CAPACITY_REACHED", "active_sessions": total,
                    "max_sessions": settings.max_ws_sessions}
        if mine >= settings.share("max_ws_sessions"):
            return {"message": f"This client ({client}) holds {mine} sessions, its share of the server's "
                               f"{settings.max_ws_sessions}. Close one first.", "code": "CAPACITY_REACHED",
                    "active_sessions": mine, "max_sessions": settings.share("max_ws_sessions")}
        return None

    @routes.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        client = client_of(websocket)
        refusal = capacity_refusal(client)
        if refusal is not None:
            await websocket.send_json({"type": "error", "data": refusal})
            await websocket.close(code=1013)
            return
        active[client] = active.get(client, 0) + 1
        session = WsSession(OpenSOCEnv(new_run()), settings, service.runs, client)
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
            active[client] -= 1
            if not active[client]:
                del active[client]
            session.env.close()

    return routes
