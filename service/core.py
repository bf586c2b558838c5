"""What each HTTP route does, as plain functions of its parsed query and raw body, and where that work runs.

HTTP episodes: ``/reset`` stores its episode under ``episode_id`` (returned in the observation and in ``metadata``);
a client-chosen id that names a live episode is refused (409), so no one can replace another client's episode.
``/step`` with that id continues it. ``/step`` without an id re-creates the episode for (task, seed, options) from
the documented defaults, which is stateless and so works behind any replica, where the task's family allows it.

Attacker runs: episodes that name the same ``run_id`` share the novelty memory and the replay pool; without one, an
HTTP episode or a WebSocket connection is a run of its own, so no stranger can poison another's training data.

Where work runs: OpenSOC's core is CPU-bound Python, and nothing a client sends may hold the event loop (and with
it every other client and ``/health``). Every HTTP request's core work runs on one worker thread (``CoreWorker``),
in arrival order.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from pydantic import ValidationError

from ..env import OpenSOCEnv
from ..families.base import DEFAULT_TASK
from ..families.registry import require_family
from ..families.runs import AttackerRun
from ..models import Observation, OpenSOCState
from .episodes import EpisodeStore, RunRegistry, new_run
from .errors import expected_for, request_error
from .requests import STEP_CONTEXT, GradeRequest, StepRequest, env_kwargs, invalid, merge, object_body, reset_params
from .settings import ServiceSettings


class SharedJsonCache:
    """JSON of shared immutable objects (an incident's Alert and prompt), keyed by the object itself.

    Incidents are materialized once per (task, seed) and shared across sessions, so the same Alert and prompt string
    are sent many times; each is serialized once. Entries hold the object, so an id is never reused while its entry
    lives. The event loop and the worker thread both render envelopes, hence the lock.
    """

    def __init__(self, size: int = 8192):
        self.size = size
        self._entries: OrderedDict[int, tuple[object, str]] = OrderedDict()
        self._lock = threading.Lock()

    def json(self, obj: Any) -> str:
        key = id(obj)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] is obj:
                self._entries.move_to_end(key)
                return entry[1]
        text = obj.model_dump_json() if hasattr(obj, "model_dump_json") else json.dumps(obj)
        with self._lock:
            self._entries[key] = (obj, text)
            if len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return text


_SHARED = SharedJsonCache()


def envelope(obs: Observation) -> str:
    """OpenEnv's step/reset envelope as JSON text: observation without reward/done, then both beside it. The
    observation's ``shared_fields``, when set, are serialised once per object and spliced in."""
    shared = [f for f in obs.shared_fields if getattr(obs, f, None) is not None]
    if not shared or len(shared) < len(obs.shared_fields):
        body = obs.model_dump_json(exclude={"reward", "done"})
    else:
        body = (obs.model_dump_json(exclude={"reward", "done", *shared})[:-1]
                + "".join(f',"{f}":' + _SHARED.json(getattr(obs, f)) for f in shared) + "}")
    reward = "null" if obs.reward is None else json.dumps(float(obs.reward))
    meta = json.dumps({"episode_id": obs.episode_id})
    return f'{{"observation":{body},"reward":{reward},"done":{"true" if obs.done else "false"},"metadata":{meta}}}'


class OpenSOCService:
    """What each HTTP route does, as plain functions of its parsed query and raw body (run on the worker)."""

    def __init__(self, settings: ServiceSettings):
        self.settings = settings
        self.store = EpisodeStore(settings)
        self.runs = RunRegistry(settings)

    def run_for(self, run_id: str | None) -> AttackerRun:
        return self.runs.get(run_id) if run_id is not None else new_run()

    def reset(self, query: dict[str, Any], raw: bytes) -> str:
        params = reset_params(merge(query, object_body(raw, "reset")))
        if getattr(params, "episode_id") is not None:
            self.store.claim(getattr(params, "episode_id"))
        env = OpenSOCEnv(self.run_for(getattr(params, "run_id")))
        obs = env.reset(**env_kwargs(params))
        self.store.put(env)
        return envelope(obs)

    def step(self, query: dict[str, Any], raw: bytes) -> str:
        body = object_body(raw, "step")
        if not body:
            raise request_error("INVALID_REQUEST", 'the step body is the action: {"action": {...}} or the action '
                                'itself, e.g. {"submit_triage": {...}}', field="action", expected=expected_for("action"))
        if "action" in body:  # OpenEnv style
            try:
                request = StepRequest.model_validate(body)
            except ValidationError as exc:
                code = "INVALID_ACTION" if exc.errors()[0]["loc"][:1] == ("action",) else "INVALID_REQUEST"
                raise invalid(exc, StepRequest, code) from None
            action = request.action
            ctx = merge(query, request.model_dump(include={"episode_id", *STEP_CONTEXT}, exclude_none=True))
        else:  # the project's style: the body is the action itself
            action, ctx = body, query
        episode_id = ctx.pop("episode_id", None)
        if episode_id is not None:
            if ctx:
                name = next(iter(ctx))
                raise request_error("INVALID_REQUEST", f"{name} names a stateless episode; with an episode_id the "
                                    "episode says what it is", field=name, expected="omit it, or omit episode_id")
            return envelope(self.store.get(episode_id).step(action))
        options = {k: v for k, v in ctx.items() if k not in ("task", "seed")}
        refusal = require_family(ctx.get("task", DEFAULT_TASK)).stateless_refusal(options)
        if refusal is not None:
            raise request_error("STATELESS_MODE", refusal, field="episode_id", expected="the episode_id /reset returned")
        env = OpenSOCEnv()
        env.reset(**env_kwargs(reset_params(ctx)))
        obs = env.step(action)
        self.store.offer(env)  # kept for /grade and /state when there is room; a stateless step never waits for it
        return envelope(obs)

    def state(self, query: dict[str, Any]) -> dict:
        # Without an id there is no episode to show: HTTP episodes are addressed by id. Reading is not a use.
        episode_id = query.get("episode_id")
        env = self.store.get(episode_id, touch=False) if episode_id is not None else None
        return (env.state if env else OpenSOCState()).model_dump(mode="json")

    def grade(self, query: dict[str, Any], raw: bytes) -> dict:
        merged = merge(query, object_body(raw, "grade"))
        try:
            request = GradeRequest.model_validate(merged)
        except ValidationError as exc:
            raise invalid(exc, GradeRequest, "INVALID_REQUEST") from None
        return self.store.get(request.episode_id, touch=False).grade().model_dump(mode="json")


T = TypeVar("T")


class CoreWorker:
    """One thread that runs OpenSOC's core for every client, in arrival order."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="opensoc-core")

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)
