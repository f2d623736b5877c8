"""Timing code fairly: the fastest of several runs, after one warm-up run.

The minimum, not the mean, because everything else the machine does only ever adds time; the
fastest run is the best estimate of what the code itself costs.
"""

from __future__ import annotations

import time

__all__ = ["best_time"]


def best_time(fn, repeat: int = 10, warmup: int = 1) -> float:
    """Seconds taken by the fastest of ``repeat`` calls of ``fn()``, after ``warmup`` calls."""
    if repeat < 1:
        raise ValueError(f"repeat must be >= 1, got {repeat}")
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0, got {warmup}")
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best
