"""Timing helpers shared by the benchmark scripts (imported as ``timing`` from a script in this folder)."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_of(fn: Callable[[], object], repeats: int) -> float:
    """Best wall time of ``repeats`` calls of ``fn()``, in seconds (best-of, as ``timeit`` recommends: slower
    calls measure interference from other jobs, not the code)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)
