"""Timing code fairly: the fastest of several runs, after one warm-up run.

The minimum, not the mean, because everything else the machine does only ever adds time; the
fastest run is the best estimate of what the code itself costs.

:func:`one_thread` runs a block on one CPU thread: the book's matrices and models are small, and
on a busy 2-core machine threads that spin-wait for each other make them 10-50 times slower.
"""

from __future__ import annotations

import contextlib
import sys
import time

__all__ = ["best_time", "one_thread"]


@contextlib.contextmanager
def one_thread(blas: bool = True, torch: str | bool = False):
    """NumPy's BLAS (``blas``) and/or torch (``torch=True``, or ``"if imported"`` to leave torch
    unimported) on one thread inside the block; the previous settings come back afterwards."""
    from threadpoolctl import threadpool_limits

    mod = None
    if torch == "if imported":
        mod = sys.modules.get("torch")
    elif torch:
        import torch as mod
    before = mod.get_num_threads() if mod is not None else None
    with threadpool_limits(1, user_api="blas") if blas else contextlib.nullcontext():
        if mod is not None:
            mod.set_num_threads(1)
        try:
            yield
        finally:
            if mod is not None:
                mod.set_num_threads(before)


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
