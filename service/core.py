"""What each HTTP route does, as plain functions of its parsed query and raw body, and where that work runs.

HTTP episodes: ``/reset`` stores its episode under ``episode_id`` (returned in the observation and in ``metadata``);
a client-chosen id that names a live episode is refused (409), so no one can replace another client's episode.
``/step`` with that id continues it. ``/step`` without an id re-creates the episode for (task, seed, options) from
the documented defaults, which is stateless and so works behind any replica, where the task's family allows it.

Attacker runs: episodes that name the same ``run_id`` share the novelty memory and the replay pool; without one, an
HTTP episode or a WebSocket connection is a run of its own, so no stranger can poison another's training data.

Where work runs: OpenSOC's core is CPU-bound Python, and nothing a client sends may hold the event loop (and with
it every other client and ``/health``), nor queue another client's work behind its own. Every HTTP request's core
work, and every ``/ws`` frame that is not small and cheap, runs on ``CoreWorker``: two threads, one for work whose
cost is small and fixed (a triage reset or step, reading a state or a grade) and one for the rest (investigations,
crafts to adjudicate, replay-pool draws, bodies over 8 KB, the Task API), so a flood of costly work never delays a
cheap request by more than the interpreter lock's switch interval. Each thread serves its clients in turn (one job
of each client with work waiting, round after round) and, within a client, its streams (connections) in turn: a
client's work waits behind its own, never behind a stranger's flood. Work of an episode that shares a named run
(``run_id``) always runs on the costly thread, the one thread that touches a shared run; an HTTP episode's steps
run one at a time (a lock per episode).
"""

from __future__ import annotations

import asyncio
import json
import threading
import weakref
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ..env import OpenSOCEnv
from ..families.base import DEFAULT_TASK, ResetRequest
from ..families.registry import action_names, family_for, require_family, reset_options
from ..models import Observation, OpenSOCError, OpenSOCState
from .episodes import EpisodeStore, RunRegistry, new_run
from .errors import expected_for, request_error
from .requests import (
    STEP_CONTEXT,
    GradeRequest,
    StepRequest,
    env_kwargs,
    invalid,
    merge,
    object_body,
    reset_params,
)
from .settings import ServiceSettings

INLINE_BYTES = 8192  # a body or frame this small is parsed where it arrives to choose where its work runs


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


def needs_run(params: BaseModel) -> bool:
    """Whether the reset turns on an option that reads its run's state (the replay pool)."""
    return any(option.needs_run and getattr(params, name, None) for name, option in reset_options().items())


def reset_costly(data: dict[str, Any]) -> bool:
    """Whether a reset with these arguments may cost more than a small, fixed time (its family says), or names a
    shared run (whose work runs on the costly thread only)."""
    if not isinstance(data, dict) or data.get("run_id") is not None:
        return True
    task = data.get("task", DEFAULT_TASK)
    family = family_for(task) if isinstance(task, str) else None
    options = {k: v for k, v in data.items() if k not in ("task", "seed", "episode_id", "run_id", "index")
               and v is not None and v is not False}
    return family is not None and not family.cheap_reset(ResetRequest(str(task), 0, None, options))


def step_costly(env: OpenSOCEnv | None, action: Any, named_run: bool) -> bool:
    """Whether ``env``'s step with ``action`` may cost more than a small, fixed time, or touches a shared run."""
    if env is None or named_run:
        return True
    family, episode = env.family, env.episode
    if family is None or episode is None or episode.done:
        return False
    name = next((k for k in action if k in action_names()), "") if isinstance(action, dict) else ""
    return not family.cheap_step(episode, name)


class OpenSOCService:
    """What each HTTP route does, as plain functions of its parsed query and raw body (run on the worker)."""

    def __init__(self, settings: ServiceSettings):
        self.settings = settings
        self.store = EpisodeStore(settings)
        self.runs = RunRegistry(settings)
        self._locks: weakref.WeakKeyDictionary[OpenSOCEnv, threading.Lock] = weakref.WeakKeyDictionary()
        self._named: weakref.WeakSet[OpenSOCEnv] = weakref.WeakSet()  # episodes of a shared run
        self._guard = threading.Lock()

    def _lock(self, env: OpenSOCEnv) -> threading.Lock:
        with self._guard:
            lock = self._locks.get(env)
            if lock is None:
                lock = self._locks[env] = threading.Lock()
            return lock

    # --------------------------------------------------------- where a request's work runs (on the event loop)

    def reset_is_costly(self, query: dict[str, Any], raw: bytes) -> bool:
        if len(raw) > INLINE_BYTES:
            return True
        try:
            return reset_costly(merge(query, object_body(raw, "reset")))
        except OpenSOCError:
            return False  # refused at once wherever it runs

    def step_is_costly(self, query: dict[str, Any], raw: bytes) -> bool:
        if len(raw) > INLINE_BYTES:
            return True
        try:
            body = object_body(raw, "step")
        except OpenSOCError:
            return False
        context, action = dict(query), body
        if "action" in body:  # OpenEnv style: the action with the episode it continues, or a stateless context
            action = body["action"]
            context.update({k: body[k] for k in ("episode_id", *STEP_CONTEXT) if k in body})
        episode_id = context.pop("episode_id", None)
        if not isinstance(episode_id, str):
            return reset_costly(context)  # a stateless step: its reset, and a defender's step on it
        env = self.store.peek(episode_id)
        return step_costly(env, action, env is not None and env in self._named)

    # --------------------------------------------------------- the routes' work (on the worker)

    def reset(self, query: dict[str, Any], raw: bytes, client: str = "") -> str:
        params = reset_params(merge(query, object_body(raw, "reset")))
        if getattr(params, "episode_id") is not None:
            self.store.claim(getattr(params, "episode_id"))
        run_id = getattr(params, "run_id")
        run = self.runs.existing(run_id) if run_id is not None else None
        if run_id is not None and run is None and needs_run(params):
            raise request_error("UNKNOWN_RUN", f"this server process holds no run {run_id!r}: it never recorded one "
                                "(or it restarted, and runs live in memory only), so there is no replay pool to draw "
                                "from: run attacker episodes under the run_id first", field="run_id",
                                expected="a run_id this server process has recorded attacker episodes under")
        env = OpenSOCEnv(run if run is not None else new_run())
        obs = env.reset(**env_kwargs(params))
        if run_id is not None:
            if run is None:  # a new run is held only now that its first reset succeeded: a refusal takes no slot
                env.run = self.runs.adopt(run_id, env.run, client)
            self._named.add(env)
        self.store.put(env, client)
        return envelope(obs)

    def step(self, query: dict[str, Any], raw: bytes, client: str = "") -> str:
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
            env = self.store.get(episode_id)
            with self._lock(env):
                return envelope(env.step(action))
        options = {k: v for k, v in ctx.items() if k not in ("task", "seed")}
        refusal = require_family(ctx.get("task", DEFAULT_TASK)).stateless_refusal(options)
        if refusal is not None:
            raise request_error("STATELESS_MODE", refusal, field="episode_id", expected="the episode_id /reset returned")
        env = OpenSOCEnv()
        env.reset(**env_kwargs(reset_params(ctx)))
        obs = env.step(action)
        self.store.offer(env, client)  # kept for /grade and /state when there is room; never waits for it
        return envelope(obs)

    def state(self, query: dict[str, Any]) -> dict:
        # Without an id there is no episode to show: HTTP episodes are addressed by id. Reading is not a use.
        episode_id = query.get("episode_id")
        env = self.store.get(episode_id, touch=False) if episode_id is not None else None
        if env is None:
            return OpenSOCState().model_dump(mode="json")
        with self._lock(env):
            return env.state.model_dump(mode="json")

    def grade(self, query: dict[str, Any], raw: bytes) -> dict:
        merged = merge(query, object_body(raw, "grade"))
        try:
            request = GradeRequest.model_validate(merged)
        except ValidationError as exc:
            raise invalid(exc, GradeRequest, "INVALID_REQUEST") from None
        env = self.store.get(request.episode_id, touch=False)
        with self._lock(env):
            return env.grade().model_dump(mode="json")


T = TypeVar("T")


class _Lane:
    """One thread serving queued jobs: its clients in turn, and each client's streams in turn."""

    def __init__(self, name: str):
        self.name = name
        self._queues: OrderedDict[str, OrderedDict[Any, deque]] = OrderedDict()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def submit(self, job: tuple[Future, Callable[..., Any], tuple], client: str, stream: Any) -> None:
        try:
            hash(stream)
        except TypeError:
            stream = repr(stream)
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name=f"opensoc-core-{self.name}", daemon=True)
                self._thread.start()
            self._queues.setdefault(client, OrderedDict()).setdefault(stream, deque()).append(job)
            self._cond.notify()

    def pending(self) -> int:
        with self._cond:
            return sum(len(jobs) for streams in self._queues.values() for jobs in streams.values())

    def _next(self) -> tuple[Future, Callable[..., Any], tuple]:
        with self._cond:
            while not self._queues:
                self._cond.wait()
            client, streams = next(iter(self._queues.items()))
            stream, jobs = next(iter(streams.items()))
            job = jobs.popleft()
            if jobs:
                streams.move_to_end(stream)
            else:
                del streams[stream]
            if streams:
                self._queues.move_to_end(client)
            else:
                del self._queues[client]
            return job

    def _serve(self) -> None:
        while True:
            future, fn, args = self._next()
            if not future.set_running_or_notify_cancel():
                continue  # its request was abandoned while it waited
            try:
                result = fn(*args)
            except BaseException as exc:  # noqa: BLE001 - handed to the request that waits for it
                future.set_exception(exc)
            else:
                future.set_result(result)


class CoreWorker:
    """Where OpenSOC's core runs for every client: a thread for cheap work and one for costly work (see above)."""

    def __init__(self) -> None:
        self.cheap, self.costly = _Lane("cheap"), _Lane("costly")

    def submit(self, fn: Callable[..., T], *args: Any, client: str = "", stream: Any = None,
               costly: bool = True) -> Future:
        """Queue ``fn(*args)`` for ``client``'s ``stream`` on the cheap or the costly thread."""
        future: Future = Future()
        (self.costly if costly else self.cheap).submit((future, fn, args), client, stream)
        return future

    async def run(self, fn: Callable[..., T], *args: Any, client: str = "", stream: Any = None,
                  costly: bool = True) -> T:
        """``fn(*args)`` on the worker, awaited; cancelling the wait drops a job that has not started."""
        return await asyncio.wrap_future(self.submit(fn, *args, client=client, stream=stream, costly=costly))

    def pending(self) -> int:
        return self.cheap.pending() + self.costly.pending()
