"""Scratch conv2d against torch's CPU conv2d: same process, same thread count, same inputs.

The budget (BOOK.md): at N=32, C 16 -> 32, 32x32, 3x3, padding 1, the NumPy forward and the NumPy
backward may take at most 2.0x torch's time in float32 and 1.0x in float64. The backward is timed
against torch's forward plus backward (autograd cannot run a backward on its own), and our own
forward + backward against the same, for a like-for-like figure.

Each time is the median of many single calls, taken in interleaved rounds in one process, so that
background load hits NumPy and torch alike; the ratio is NumPy's median over torch's.

NumPy runs on its own OpenBLAS kernel for this CPU. ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE``
(which the book's reproducible runs set, holding OpenBLAS to an older kernel) are for the
notebooks and the tests, not for a speed comparison: :func:`report_native` runs this module in a
fresh process without them (``python -m benchmarks conv`` does so), and :func:`report` prints the
kernel that ``threadpoolctl`` finds.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from threadpoolctl import threadpool_info, threadpool_limits

from dlbook.scratch import conv2d, conv2d_backward, conv2d_naive
from dlbook.timing import best_time

BUDGET = {np.float32: 2.0, np.float64: 1.0}
SHAPE = dict(n=32, c_in=16, c_out=32, size=32, k=3, padding=1)


OPENBLAS_PINS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def _interleaved(fns: dict, repeats: int, rounds: int = 5) -> dict:
    """Median time of each function over ``rounds * repeats`` single calls, measured in
    alternating rounds (one warm-up call each) so that background load hits all of them alike."""
    times = {k: [] for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            fn()
            for _ in range(repeats):
                start = time.perf_counter()
                fn()
                times[k].append(time.perf_counter() - start)
    return {k: float(np.median(v)) for k, v in times.items()}


def _measure(dtype, repeats: int) -> list[dict]:
    s = SHAPE
    rng = np.random.default_rng(0)
    x = rng.standard_normal((s["n"], s["c_in"], s["size"], s["size"])).astype(dtype)
    w = rng.standard_normal((s["c_out"], s["c_in"], s["k"], s["k"])).astype(dtype)
    b = rng.standard_normal(s["c_out"]).astype(dtype)
    p = s["padding"]
    g = rng.standard_normal(conv2d(x, w, b, padding=p).shape).astype(dtype)
    xt, wt, bt, gt = (torch.from_numpy(a) for a in (x, w, b, g))
    xr, wr, br = (t.clone().requires_grad_() for t in (xt, wt, bt))

    def torch_fwd_bwd():
        F.conv2d(xr, wr, br, padding=p).backward(gt)

    t = _interleaved(
        {
            "numpy forward": lambda: conv2d(x, w, b, padding=p),
            "numpy backward": lambda: conv2d_backward(g, x, w, b, padding=p),
            "torch forward": lambda: F.conv2d(xt, wt, bt, padding=p),
            "torch forward+backward": torch_fwd_bwd,
        },
        repeats,
    )
    rows = []
    for what, ours, theirs in (
        ("forward", t["numpy forward"], t["torch forward"]),
        ("backward", t["numpy backward"], t["torch forward+backward"]),
        ("forward+backward", t["numpy forward"] + t["numpy backward"], t["torch forward+backward"]),
    ):
        rows.append(
            dict(
                dtype=np.dtype(dtype).name,
                what=what,
                numpy_ms=ours * 1e3,
                torch_ms=theirs * 1e3,
                ratio=ours / theirs,
                budget=BUDGET[dtype],
            )
        )
    return rows


def run(threads: int = 2, repeats: int = 6) -> list[dict]:
    """One row per (dtype, forward / backward / both) with both times, their ratio and budget."""
    torch.set_num_threads(threads)
    with threadpool_limits(limits=threads):
        return [row for dtype in (np.float32, np.float64) for row in _measure(dtype, repeats)]


def naive_speedup(threads: int = 2) -> dict:
    """How much faster the vectorized conv2d is than the loop version, on the same case as above
    (float64). The loops take a few seconds, so they are timed once."""
    s = SHAPE
    rng = np.random.default_rng(0)
    x = rng.standard_normal((s["n"], s["c_in"], s["size"], s["size"]))
    w = rng.standard_normal((s["c_out"], s["c_in"], s["k"], s["k"]))
    with threadpool_limits(limits=threads):
        t0 = time.perf_counter()
        slow = conv2d_naive(x, w, padding=s["padding"])
        naive = time.perf_counter() - t0
        fast = best_time(lambda: conv2d(x, w, padding=s["padding"]), 10)
    assert np.allclose(slow, conv2d(x, w, padding=s["padding"]))
    return dict(naive_s=naive, vectorized_ms=fast * 1e3, speedup=naive / fast)


def blas_kernels() -> list[str]:
    """One line per BLAS library loaded in this process (NumPy's first): which one, its version,
    the kernel it picked for this CPU and its thread count."""
    found = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    found.sort(key=lambda i: "numpy" not in i.get("filepath", ""))
    return [
        f"{'numpy' if 'numpy' in i.get('filepath', '') else 'also loaded'}: "
        f"{i.get('internal_api')} {i.get('version')}, kernel {i.get('architecture')}, "
        f"{i.get('num_threads')} threads ({Path(i.get('filepath', '')).name})"
        for i in found
    ]


def report(threads: int = 2) -> bool:
    s = SHAPE
    pins = {k: os.environ[k] for k in OPENBLAS_PINS if k in os.environ}
    for line in blas_kernels():
        print(f"BLAS {line}")
    print(f"OpenBLAS pinned by the environment: {pins or 'no (native kernel)'}")
    print(
        f"conv2d speed: N={s['n']}, C {s['c_in']}->{s['c_out']}, {s['size']}x{s['size']}, "
        f"{s['k']}x{s['k']}, padding {s['padding']}, {threads} threads (numpy BLAS and torch)"
    )
    print(f"{'dtype':8} {'what':18} {'numpy ms':>9} {'torch ms':>9} {'ratio':>6} {'budget':>7}")
    ok = True
    for r in run(threads):
        judged = r["what"] != "forward+backward"  # reported for comparison; not a budget line
        verdict = ("ok" if r["ratio"] <= r["budget"] else "OVER") if judged else "(info)"
        ok &= verdict != "OVER"
        print(
            f"{r['dtype']:8} {r['what']:18} {r['numpy_ms']:9.2f} {r['torch_ms']:9.2f} "
            f"{r['ratio']:6.2f} {r['budget']:6.1f}x {verdict}"
        )
    sp = naive_speedup(threads)
    print(
        f"naive loops {sp['naive_s']:.2f} s, vectorized {sp['vectorized_ms']:.2f} ms: "
        f"speedup {sp['speedup']:.0f}x (float64)"
    )
    return ok


def report_native() -> bool:
    """Run :func:`report` in a fresh process with NumPy's native OpenBLAS kernel: the same
    environment less ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` (OpenBLAS reads them once, when
    NumPy is first imported, so this process cannot drop them itself)."""
    env = {k: v for k, v in os.environ.items() if k not in OPENBLAS_PINS}
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-m", "benchmarks.conv_speed"], env=env, cwd=root)
    return done.returncode == 0


if __name__ == "__main__":
    raise SystemExit(0 if report() else 1)
