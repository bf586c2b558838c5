"""What a call costs, measured so that a shared machine's random pauses do not count."""

from __future__ import annotations

import gc
import time


def best_time(fn, repeat: int = 3) -> float:
    """The fastest of ``repeat`` timed calls of ``fn``, with garbage collection paused: what a call costs, without
    the pauses a shared machine adds at random (a full collection alone can take 100 ms)."""
    times = []
    for _ in range(repeat):
        gc.disable()
        try:
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        finally:
            gc.enable()
    return min(times)
