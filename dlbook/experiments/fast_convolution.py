"""The fast-convolution chapter's experiments: the four algorithms of
:mod:`dlbook.scratch.fast_conv` timed against torch's CPU convolution, with their arithmetic.

* :func:`cpu_time`: the median CPU time (``time.process_time``) of repeated calls, the clock that
  other processes' load hardly moves; every timing here runs on one thread.
* :func:`time_algorithms`: im2col, FFT, Winograd (3x3 only) and ``torch.nn.functional.conv2d``
  across kernel sizes and channel counts, each beside :func:`~dlbook.scratch.fast_conv.
  conv_arithmetic`'s operation count; :func:`arithmetic_rows` gives the counts alone.
* :func:`time_direct`: the direct loops against im2col and torch on a small case (the loops are
  far too slow for the others).
* :func:`time_gemm_stage`: Winograd's 16 matrix products against im2col's one, and each whole
  convolution: where the saving in products goes.
* :func:`float32_errors`: each algorithm's rounding error in float32, torch's included.
* :func:`time_torch_devices`: torch on the CPU against torch on the GPU, in float32 and under
  ``torch.autocast``, measured only where CUDA is present (``None`` otherwise).
* :func:`winograd_1d` and :func:`check_winograd_1d`: F(2, 3), the exercise and its checker.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F

from dlbook import seeding
from dlbook.exercise import Case, check
from dlbook.scratch.conv import conv2d_naive
from dlbook.scratch.fast_conv import (
    conv2d_fft,
    conv2d_im2col,
    conv2d_winograd,
    conv_arithmetic,
    float32_error,
)
from dlbook.timing import one_thread

__all__ = [
    "ALGORITHMS",
    "cpu_time",
    "torch_conv2d",
    "arithmetic_rows",
    "time_algorithms",
    "time_direct",
    "time_gemm_stage",
    "float32_errors",
    "time_torch_devices",
    "winograd_1d",
    "check_winograd_1d",
]


def torch_conv2d(input, weight, bias=None, **kwargs):
    """``torch.nn.functional.conv2d`` on NumPy arrays, returning a NumPy array (no gradient)."""
    b = None if bias is None else torch.from_numpy(bias)
    with torch.no_grad():
        return F.conv2d(torch.from_numpy(input), torch.from_numpy(weight), b, **kwargs).numpy()


# The NumPy algorithms and torch's, all with conv2d's signature; Winograd takes 3x3 kernels only.
ALGORITHMS = {
    "im2col": conv2d_im2col,
    "fft": conv2d_fft,
    "winograd": conv2d_winograd,
    "torch": torch_conv2d,
}
_COUNTED = {"im2col": "im2col", "fft": "fft", "winograd": "winograd", "torch": "direct"}


def cpu_time(fn, repeat=5, warmup=1):
    """The median CPU time (``time.process_time``) of ``repeat`` calls of ``fn()`` after
    ``warmup`` calls, in seconds. On one thread, CPU time is what the call costs, whatever else
    the machine runs; the median ignores the odd slow call."""
    if repeat < 1:
        raise ValueError(f"repeat must be >= 1, got {repeat}")
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return statistics.median(times)


def arithmetic_rows(kernel_sizes=(3, 5, 7, 9, 11, 13, 15), channels=(8, 16, 32), size=32, n=2):
    """The operation count (flops: ``conv_arithmetic(...).flops``) of each algorithm for a
    ``size x size`` image, ``c`` channels in and out, ``k x k`` kernels, padding ``k // 2`` (the
    output keeps the image's size). One dict per ``(k, c)``: ``k``, ``c`` and ``flops``, a dict
    from ``"direct"``, ``"fft"`` and (k = 3) ``"winograd"`` to the count."""
    rows = []
    for c in channels:
        for k in kernel_sizes:
            algs = ("direct", "fft", "winograd") if k == 3 else ("direct", "fft")
            flops = {a: conv_arithmetic(n, c, c, size, size, k, a, padding=k // 2).flops
                     for a in algs}  # fmt: skip
            rows.append(dict(k=k, c=c, flops=flops))
    return rows


def time_algorithms(kernel_sizes=(3, 5, 7, 9, 11, 13, 15), channels=(8, 16, 32), size=32, n=2,
                    repeat=5, seed=0):  # fmt: skip
    """:func:`cpu_time` of im2col, FFT, Winograd (k = 3) and torch's CPU ``conv2d`` on a float32
    batch of ``n`` images ``size x size`` with ``c`` channels in and out, ``k x k`` kernels and
    padding ``k // 2``, all on one thread. Returns the rows of :func:`arithmetic_rows`, each with
    ``times`` added: a dict from algorithm to seconds."""
    rng = seeding.rng(seed)
    rows = arithmetic_rows(kernel_sizes, channels, size, n)
    with one_thread(torch=True):
        for row in rows:
            k, c = row["k"], row["c"]
            x = rng.normal(size=(n, c, size, size)).astype(np.float32)
            w = (rng.normal(size=(c, c, k, k)) / (k * np.sqrt(c))).astype(np.float32)
            row["times"] = {
                name: cpu_time(lambda f=f, x=x, w=w, p=k // 2: f(x, w, padding=p), repeat)
                for name, f in ALGORITHMS.items()
                if name != "winograd" or k == 3
            }
    return rows


def time_direct(shape=(2, 8, 12, 12), k=3, repeat=3, seed=0):
    """The direct loops (:func:`~dlbook.scratch.conv.conv2d_naive`) against im2col and torch on
    one small float32 batch of ``shape`` (c channels in and out, padding ``k // 2``): a dict from
    ``"direct"``, ``"im2col"`` and ``"torch"`` to :func:`cpu_time` seconds, on one thread."""
    rng = seeding.rng(seed)
    c = shape[1]
    x = rng.normal(size=shape).astype(np.float32)
    w = rng.normal(size=(c, c, k, k)).astype(np.float32)
    fns = {"direct": conv2d_naive, "im2col": conv2d_im2col, "torch": torch_conv2d}
    with one_thread(torch=True):
        return {name: cpu_time(lambda f=f: f(x, w, padding=k // 2), repeat, warmup=1)
                for name, f in fns.items()}  # fmt: skip


def time_gemm_stage(c=64, size=32, n=1, repeat=5, seed=0):
    """Where Winograd's saving goes, for 3x3 kernels, ``c`` channels in and out, float32 and
    padding 1: the :func:`cpu_time` of its product stage (16 matrix products of
    ``(c, c) @ (c, P)``, P = n (size / 2)^2 tiles, the shapes :func:`conv2d_winograd` multiplies)
    against im2col's one ``(c, 9 c) @ (9 c, n size^2)``, and of each whole convolution. Returns a
    dict: ``winograd_gemm``, ``im2col_gemm``, ``winograd``, ``im2col`` (seconds) and the two
    stages' product counts ``winograd_products`` and ``im2col_products``."""
    rng = seeding.rng(seed)
    tiles = n * (-(-size // 2)) ** 2
    u = rng.normal(size=(16, 1, c, c)).astype(np.float32)
    v = rng.normal(size=(16, 1, c, tiles)).astype(np.float32)
    w = rng.normal(size=(1, c, 9 * c)).astype(np.float32)
    cols = rng.normal(size=(n, 1, 9 * c, size * size)).astype(np.float32)
    x = rng.normal(size=(n, c, size, size)).astype(np.float32)
    kernel = rng.normal(size=(c, c, 3, 3)).astype(np.float32)
    with one_thread(torch=True):
        out = {
            "winograd_gemm": cpu_time(lambda: np.matmul(u, v), repeat),
            "im2col_gemm": cpu_time(lambda: np.matmul(w, cols), repeat),
            "winograd": cpu_time(lambda: conv2d_winograd(x, kernel, padding=1), repeat),
            "im2col": cpu_time(lambda: conv2d_im2col(x, kernel, padding=1), repeat),
        }
    out["winograd_products"] = 16 * c * c * tiles
    out["im2col_products"] = 9 * c * c * n * size * size
    return out


def float32_errors(c=32, size=32, n=2, seed=0):
    """``max |y_32 - y_64|`` of im2col, FFT, Winograd and torch's CPU ``conv2d`` run in float32
    on one batch (3x3 kernels scaled so that outputs are of order 1, padding 1), each against the
    exact result on the same rounded inputs (:func:`~dlbook.scratch.fast_conv.float32_error`):
    a dict from algorithm to error."""
    rng = seeding.rng(seed)
    x = rng.normal(size=(n, c, size, size))
    w = rng.normal(size=(c, c, 3, 3)) / np.sqrt(9 * c)
    return {name: float32_error(f, x, w, None, padding=1) for name, f in ALGORITHMS.items()}


def _gpu_time(fn, repeat):
    for _ in range(2):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        torch.cuda.synchronize()  # the GPU runs asynchronously: wait for it before reading
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def time_torch_devices(device, shape=(8, 64, 56, 56), k=3, repeat=5, seed=0):
    """torch's ``conv2d`` (``c`` channels in and out, padding ``k // 2``) on one CPU thread
    (:func:`cpu_time`) and, where ``device`` is CUDA, on the GPU in float32 and under
    ``torch.autocast`` (float16), in wall-clock seconds after synchronizing. Returns a dict
    ``cpu``, ``gpu``, ``gpu_autocast`` (``None`` for what was not measured) and ``device``."""
    gen = torch.Generator().manual_seed(seeding.seed(seed))
    c = shape[1]
    x = torch.randn(shape, generator=gen)
    w = torch.randn((c, c, k, k), generator=gen) / (k * c**0.5)
    out = {"device": str(device), "cpu": None, "gpu": None, "gpu_autocast": None}
    with torch.no_grad():
        with one_thread(blas=False, torch=True):
            out["cpu"] = cpu_time(lambda: F.conv2d(x, w, padding=k // 2), repeat)
        if torch.device(device).type == "cuda":
            xg, wg = x.to(device), w.to(device)
            out["gpu"] = _gpu_time(lambda: F.conv2d(xg, wg, padding=k // 2), repeat)

            def mixed():
                with torch.autocast("cuda", dtype=torch.float16):
                    return F.conv2d(xg, wg, padding=k // 2)

            out["gpu_autocast"] = _gpu_time(mixed, repeat)
    return out


def winograd_1d(d, g):
    """Winograd F(2, 3): two outputs of a 3-tap cross-correlation from four inputs with four
    multiplications instead of six (the kernel's sums, halved, are computed once per kernel).

    Shapes:
        d: (..., 4); g: (..., 3), broadcasting against d
        returns: (..., 2)
    Formula:
        m1 = (d0 - d2) g0, m2 = (d1 + d2) (g0 + g1 + g2) / 2, m3 = (d2 - d1) (g0 - g1 + g2) / 2,
        m4 = (d1 - d3) g2; y0 = m1 + m2 + m3 = d0 g0 + d1 g1 + d2 g2,
        y1 = m2 - m3 - m4 = d1 g0 + d2 g1 + d3 g2
    Torch:
        none (torch.nn.functional.conv1d computes the same two outputs directly)
    """
    d0, d1, d2, d3 = (d[..., i] for i in range(4))
    g0, g1, g2 = (g[..., i] for i in range(3))
    m1 = (d0 - d2) * g0
    m2 = (d1 + d2) * ((g0 + g1 + g2) / 2)
    m3 = (d2 - d1) * ((g0 - g1 + g2) / 2)
    m4 = (d1 - d3) * g2
    return np.stack([m1 + m2 + m3, m2 - m3 - m4], axis=-1)


def _conv1d_twin(d, g):
    """The same outputs from ``torch.nn.functional.conv1d``: each tile as its own channel
    (``groups``), convolved with its own kernel."""
    batch = np.broadcast_shapes(d.shape[:-1], g.shape[:-1])
    dt = torch.from_numpy(np.broadcast_to(d, (*batch, 4)).reshape(1, -1, 4).copy())
    gt = torch.from_numpy(np.broadcast_to(g, (*batch, 3)).reshape(-1, 1, 3).copy())
    return F.conv1d(dt, gt, groups=gt.shape[0]).reshape(*batch, 2).numpy()


def check_winograd_1d(fn):
    """Hold ``fn(d, g)`` to :func:`winograd_1d` on five cases from fixed generators: one tile of
    integers, one of random floats, a batch of tiles with one kernel, a batch of tiles each with
    its own kernel, and float32 (the result keeps the input's dtype)."""
    rng = np.random.default_rng(15)
    cases = [
        Case((np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 0.0, -1.0])), {}, "integers"),
        Case((rng.normal(size=4), rng.normal(size=3)), {}, "one tile"),
        Case((rng.normal(size=(5, 4)), rng.normal(size=3)), {}, "5 tiles, one kernel"),
        Case((rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 3, 3))), {}, "a kernel per tile"),
        Case(
            (rng.normal(size=(3, 4)).astype(np.float32), rng.normal(size=3).astype(np.float32)),
            {},
            "float32",
        ),  # fmt: skip
    ]
    return check(fn, winograd_1d, cases, name="winograd_1d", outputs=("y",),
                 torch_twin=_conv1d_twin, atol=1e-6, rtol=1e-5, twin_atol=1e-5)  # fmt: skip
