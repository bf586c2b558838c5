"""What the service holds between requests: HTTP episodes and named attacker runs, both bounded.

Both live in ``HeldItems``: least recently used first, expiring after a time idle, and when
full making room by evicting the least recently used item that has been idle for a grace
period (or, if none has, refusing with 429 and a ``Retry-After``). Dropped ids are remembered
so a later call hears why its episode or run is gone. Everything here is guarded by a lock:
the event loop and the core worker both reach it.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

from ..env import OpenSOCEnv
from ..families.runs import AttackerRun
from .errors import request_error
from .settings import ServiceSettings

MAX_RUN_SIGNATURES = 16384  # credited signatures a run remembers; the oldest are forgotten first

T = TypeVar("T")


class HeldItems(Generic[T]):
    """Items by id, least recently used first, under a lock.

    Items idle for ``ttl_s`` expire. When full, the least recently used item idle for at
    least ``grace_s`` makes room; if none is, the caller gets a 429 naming when one will be.
    Ids dropped are remembered (as many as the capacity) so a later call hears why.
    """

    def __init__(self, kind: str, capacity: int, ttl_s: float | None, grace_s: float, clock: Callable[[], float],
                 full_code: str):
        self.kind, self.capacity, self.ttl_s, self.grace_s, self.clock = kind, capacity, ttl_s, grace_s, clock
        self.full_code = full_code
        self._items: OrderedDict[str, tuple[T, float]] = OrderedDict()
        self._dropped: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def _drop(self, item_id: str, why: str) -> None:
        del self._items[item_id]
        self._dropped[item_id] = why
        if len(self._dropped) > self.capacity:
            self._dropped.popitem(last=False)

    def _expire(self, now: float) -> None:
        while self.ttl_s is not None and self._items:
            oldest, (_, used) = next(iter(self._items.items()))
            if now - used < self.ttl_s:
                break
            self._drop(oldest, f"expired after {self.ttl_s:g} s idle")

    def holds(self, item_id: str) -> bool:
        with self._lock:
            self._expire(self.clock())
            return item_id in self._items

    def dropped(self, item_id: str) -> str | None:
        """Why ``item_id`` is no longer held (expired, evicted), if it once was and is remembered."""
        with self._lock:
            self._expire(self.clock())
            return None if item_id in self._items else self._dropped.get(item_id)

    def get(self, item_id: str, *, touch: bool) -> T | None:
        """The item, or None; ``touch`` counts this as a use (reads such as /state do not)."""
        with self._lock:
            now = self.clock()
            self._expire(now)
            entry = self._items.get(item_id)
            if entry is None:
                return None
            if touch:
                self._items[item_id] = (entry[0], now)
                self._items.move_to_end(item_id)
            return entry[0]

    def put(self, item_id: str, item: T, *, required: bool = True) -> bool:
        """Hold ``item`` (replacing the same id), evicting for room. Without room: 429, or False if not ``required``."""
        with self._lock:
            now = self.clock()
            self._expire(now)
            if item_id not in self._items and len(self._items) >= self.capacity:
                oldest, (_, used) = next(iter(self._items.items()))
                idle = now - used
                if idle < self.grace_s:
                    if not required:
                        return False
                    wait = max(1, math.ceil(self.grace_s - idle))
                    raise request_error(self.full_code, f"{len(self._items)} {self.kind}s are held (the cap) and all "
                                       f"were used in the last {self.grace_s:g} s; retry in {wait} s",
                                       field=None, expected=f"a retry after {wait} s", headers={"Retry-After": str(wait)})
                self._drop(oldest, f"evicted after {idle:.0f} s idle to make room: the server holds at most "
                                   f"{self.capacity} {self.kind}s")
            self._items[item_id] = (item, now)
            self._items.move_to_end(item_id)
            self._dropped.pop(item_id, None)
            return True


class SignatureMemory:
    """A run's credited incident signatures, at most ``capacity`` of them, the oldest forgotten first.

    ``rubric.score_incident`` reads it as a collection and ``AttackerRun.record`` adds to it;
    the bound keeps a long run's memory flat. A signature forgotten can earn novelty again.
    """

    def __init__(self, capacity: int = MAX_RUN_SIGNATURES):
        self.capacity = capacity
        self._seen: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, signature: object) -> bool:
        return signature in self._seen

    def __iter__(self):
        return iter(self._seen)

    def __len__(self) -> int:
        return len(self._seen)

    def add(self, signature: str) -> None:
        self._seen[signature] = None
        self._seen.move_to_end(signature)
        if len(self._seen) > self.capacity:
            self._seen.popitem(last=False)


def new_run() -> AttackerRun:
    """An empty attacker run with bounded memory."""
    return AttackerRun(seen_signatures=SignatureMemory())


class RunRegistry:
    """Named attacker runs (``run_id`` at reset): shared novelty memory and replay pool, bounded in number."""

    def __init__(self, settings: ServiceSettings):
        self._runs: HeldItems[AttackerRun] = HeldItems("run", settings.max_runs, None, settings.run_grace_s,
                                                       settings.clock, "TOO_MANY_RUNS")

    def get(self, run_id: str) -> AttackerRun:
        run = self._runs.get(run_id, touch=True)
        if run is not None:
            return run
        why = self._runs.dropped(run_id)
        if why is not None:
            raise request_error("RUN_EVICTED", f"run {run_id!r} was {why}; its replay pool and signatures are gone: "
                               "start a new run_id", field="run_id")
        run = new_run()
        self._runs.put(run_id, run)
        return run


class EpisodeStore:
    """HTTP episodes by id (see ``HeldItems``)."""

    def __init__(self, settings: ServiceSettings):
        self.settings = settings
        self._held: HeldItems[OpenSOCEnv] = HeldItems("HTTP episode", settings.max_http_episodes,
                                                      settings.episode_ttl_s, settings.episode_grace_s,
                                                      settings.clock, "TOO_MANY_EPISODES")

    def __len__(self) -> int:
        return len(self._held)

    def get(self, episode_id: str, *, touch: bool = True) -> OpenSOCEnv:
        env = self._held.get(episode_id, touch=touch)
        if env is not None:
            return env
        why = self._held.dropped(episode_id)
        if why is not None:
            code = "EPISODE_EXPIRED" if why.startswith("expired") else "EPISODE_EVICTED"
            raise request_error(code, f"episode {episode_id!r} was {why}; call /reset", field="episode_id")
        raise request_error("UNKNOWN_EPISODE", f"unknown episode_id {episode_id!r}: no episode of that id is held "
                           "(ids come from /reset)", field="episode_id")

    def claim(self, episode_id: str) -> None:
        """Refuse an id that names a live episode: it belongs to whoever created it."""
        if self._held.holds(episode_id):
            raise request_error("EPISODE_EXISTS", f"episode_id {episode_id!r} names a live episode; an episode belongs "
                               "to the client that created it: choose another id, or omit it for a server-made one",
                               field="episode_id", expected="an episode_id no live episode has")

    def put(self, env: OpenSOCEnv) -> None:
        self._held.put(env.state.episode_id, env)

    def offer(self, env: OpenSOCEnv) -> bool:
        """Keep a finished stateless episode for /grade and /state if there is room; never refuse."""
        return self._held.put(env.state.episode_id, env, required=False)
