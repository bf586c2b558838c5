"""What the service holds between requests: HTTP episodes and named attacker runs, both bounded, in all and per
client.

Both live in ``HeldItems``: least recently used first, expiring after a time idle. Each item belongs to the client
that created it (``clients.client_of``). When the store is full, the client holding the most items gives up its
least recently used one, however recently it was used: a flood of resets fills the store with the flooder's items
and then churns them, never another client's. If the newcomer itself holds the most, its own least recently used
item makes room once idle for the grace period (else the oldest of all, once idle as long), or the newcomer is
refused with 429 and a ``Retry-After``. A client may also have a share of its own (``per_owner``: runs, a quarter
of them), past which its own least recently used item makes room once idle for the grace period, or it gets 429. Dropped ids are remembered so a later call hears why its
episode or run is gone. Everything here is guarded by a lock: the event loop and the core worker's threads reach it.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

from ..env import OpenSOCEnv
from ..families.runs import AttackerRun
from ..models import OpenSOCError
from .errors import request_error
from .settings import ServiceSettings

MAX_RUN_SIGNATURES = 16384  # credited signatures a run remembers; the oldest are forgotten first

T = TypeVar("T")


class HeldItems(Generic[T]):
    """Items by id, least recently used first, under a lock, each owned by a client (see the module's docstring)."""

    def __init__(self, kind: str, capacity: int, ttl_s: float | None, grace_s: float, clock: Callable[[], float],
                 full_code: str, per_owner: int | None = None):
        self.kind, self.capacity, self.ttl_s, self.grace_s, self.clock = kind, capacity, ttl_s, grace_s, clock
        self.full_code, self.per_owner = full_code, min(per_owner or capacity, capacity)
        self._items: OrderedDict[str, tuple[T, float]] = OrderedDict()
        self._owner: dict[str, str] = {}
        self._owned: dict[str, OrderedDict[str, None]] = {}
        self._dropped: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def held_by(self, owner: str) -> int:
        with self._lock:
            return len(self._owned.get(owner, ()))

    def _drop(self, item_id: str, why: str) -> None:
        del self._items[item_id]
        owner = self._owner.pop(item_id)
        mine = self._owned[owner]
        del mine[item_id]
        if not mine:
            del self._owned[owner]
        self._dropped[item_id] = why
        if len(self._dropped) > self.capacity:
            self._dropped.popitem(last=False)

    def _expire(self, now: float) -> None:
        while self.ttl_s is not None and self._items:
            oldest, (_, used) = next(iter(self._items.items()))
            if now - used < self.ttl_s:
                break
            self._drop(oldest, f"expired after {self.ttl_s:g} s idle")

    def _use(self, item_id: str, item: T, now: float) -> None:
        self._items[item_id] = (item, now)
        self._items.move_to_end(item_id)
        self._owned[self._owner[item_id]].move_to_end(item_id)

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
                self._use(item_id, entry[0], now)
            return entry[0]

    def _refuse(self, message: str, idle: float) -> OpenSOCError:
        wait = max(1, math.ceil(self.grace_s - idle))
        return request_error(self.full_code, f"{message}; retry in {wait} s", field=None,
                             expected=f"a retry after {wait} s", headers={"Retry-After": str(wait)})

    def _make_room(self, owner: str, now: float) -> tuple[str, float] | None:
        """Evict for ``owner``'s new item as the module's docstring says; if nothing may go, the refusal's message and
        how long the item that will go first has been idle."""
        mine = self._owned.get(owner, {})
        if len(mine) >= self.per_owner:
            oldest = next(iter(mine))
            idle = now - self._items[oldest][1]
            if idle < self.grace_s:
                return (f"this client holds {len(mine)} {self.kind}s, its share of the server, and used all of them "
                        f"in the last {self.grace_s:g} s", idle)
            self._drop(oldest, f"evicted after {idle:.0f} s idle to make room for its client's newer {self.kind}: a "
                               f"client holds at most {self.per_owner} {self.kind}s")
            return None
        if len(self._items) < self.capacity:
            return None
        biggest = max(self._owned, key=lambda o: len(self._owned[o]))
        if biggest != owner and len(self._owned[biggest]) > len(mine) + 1:
            victim = next(iter(self._owned[biggest]))
            idle = now - self._items[victim][1]
            self._drop(victim, f"evicted after {idle:.0f} s idle to make room for another client's: the server holds "
                               f"at most {self.capacity} {self.kind}s, and its client held the most")
            return None
        # The newcomer holds the most itself: its own oldest makes room, else the oldest of all, once idle enough.
        for oldest in ([next(iter(mine))] if mine else []) + [next(iter(self._items))]:
            idle = now - self._items[oldest][1]
            if idle >= self.grace_s:
                self._drop(oldest, f"evicted after {idle:.0f} s idle to make room: the server holds at most "
                                   f"{self.capacity} {self.kind}s")
                return None
        oldest = next(iter(mine)) if mine else next(iter(self._items))
        return (f"{len(self._items)} {self.kind}s are held (the cap) and all were used in the last "
                f"{self.grace_s:g} s", now - self._items[oldest][1])

    def put(self, item_id: str, item: T, *, owner: str = "", required: bool = True) -> bool:
        """Hold ``item`` for ``owner`` (replacing the same id), evicting for room. Without room: 429, or False if not
        ``required``."""
        with self._lock:
            now = self.clock()
            self._expire(now)
            if item_id not in self._items:
                refusal = self._make_room(owner, now)
                if refusal is not None:
                    if not required:
                        return False
                    raise self._refuse(*refusal)
                self._owner[item_id] = owner
                self._owned.setdefault(owner, OrderedDict())[item_id] = None
            self._use(item_id, item, now)
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
    """Named attacker runs (``run_id`` at reset): shared novelty memory and replay pool, bounded in all and per client.

    A run is held only once a reset that names it has succeeded (``adopt``), so a refused request never takes a slot;
    ``existing`` reads one without creating it.
    """

    def __init__(self, settings: ServiceSettings):
        self._runs: HeldItems[AttackerRun] = HeldItems("run", settings.max_runs, None, settings.run_grace_s,
                                                       settings.clock, "TOO_MANY_RUNS", settings.share("max_runs"))
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._runs)

    def existing(self, run_id: str) -> AttackerRun | None:
        """The run, touched; None when this process holds no run of that id (RUN_EVICTED when it dropped one)."""
        run = self._runs.get(run_id, touch=True)
        if run is not None:
            return run
        why = self._runs.dropped(run_id)
        if why is not None:
            raise request_error("RUN_EVICTED", f"run {run_id!r} was {why}; its replay pool and signatures are gone: "
                               "start a new run_id", field="run_id")
        return None

    def adopt(self, run_id: str, run: AttackerRun, owner: str = "") -> AttackerRun:
        """Hold ``run`` as ``run_id`` for ``owner`` unless a run of that id is held already; the run now held."""
        with self._lock:
            held = self._runs.get(run_id, touch=True)
            if held is not None:
                return held
            self._runs.put(run_id, run, owner=owner)
            return run

    def get(self, run_id: str, owner: str = "") -> AttackerRun:
        """The run of that id, created (for ``owner``) when none is held."""
        run = self.existing(run_id)
        return run if run is not None else self.adopt(run_id, new_run(), owner)


class EpisodeStore:
    """HTTP episodes by id (see ``HeldItems``)."""

    def __init__(self, settings: ServiceSettings):
        self.settings = settings
        self._held: HeldItems[OpenSOCEnv] = HeldItems("HTTP episode", settings.max_http_episodes,
                                                      settings.episode_ttl_s, settings.episode_grace_s,
                                                      settings.clock, "TOO_MANY_EPISODES",
                                                      settings.share("max_http_episodes"))

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

    def held_by(self, owner: str) -> int:
        return self._held.held_by(owner)

    def peek(self, episode_id: str) -> OpenSOCEnv | None:
        """The episode if held, without counting a use or raising."""
        return self._held.get(episode_id, touch=False)

    def put(self, env: OpenSOCEnv, owner: str = "") -> None:
        self._held.put(env.state.episode_id, env, owner=owner)

    def offer(self, env: OpenSOCEnv, owner: str = "") -> bool:
        """Keep a finished stateless episode for /grade and /state if there is room; never refuse."""
        return self._held.put(env.state.episode_id, env, owner=owner, required=False)
