"""The vectorized engine behind conv2d, its gradients and transposed convolution.

Every result is im2col followed by a matrix multiply (see :mod:`dlbook.scratch.im2col`), one
image at a time: ``W (O, K) @ columns (K, oh * ow)``. Three choices make it fast, and none of
them changes the arithmetic:

* **Small chunks, fused.** A batch's column matrix is ``kh * kw`` times the size of its input
  (20 MB for 32 images of 16 channels at 32x32), far more than a core's cache. So the engine pads,
  unfolds and multiplies a few images at a time in reused scratch arrays that stay in cache; only
  the input is read from memory and only the result is written to it.
* **Wide grids.** When the stride along the width is 1, the windows are read across whole padded
  rows, so every copy runs along long contiguous stretches; the junk columns that run off the
  right edge are cut off (or are zero, in the backward pass).
* **One worker per BLAS thread.** When NumPy's BLAS may use several threads, the batch is split
  between that many Python threads, each running its images with a single-threaded BLAS (NumPy
  releases the GIL while it copies and multiplies). Small GEMMs split this way keep every core
  busy; a multi-threaded BLAS would leave cores idle during the copies. With one BLAS thread
  (``threadpoolctl.threadpool_limits(1)`` or ``OMP_NUM_THREADS=1``) everything runs in the
  calling thread.

The scratch arrays are kept per thread and reused from call to call (a few MB at most, the size
of one chunk). While a split call runs, NumPy's BLAS is limited to one thread for the whole
process, as ``threadpool_limits(1)`` would do.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import as_strided

from dlbook.scratch.im2col import windows

__all__ = ["CACHE_BYTES", "Grid", "Plan", "blas_threads", "plan", "conv_forward", "conv_gradients"]

CACHE_BYTES = 2 << 20  # the columns of one chunk: about one core's L2 cache
PARALLEL_BYTES = 1 << 20  # below this many bytes of columns in all, one thread is quicker

_local = threading.local()
_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_blas = None


def _workspace(name: str, shape, dtype) -> np.ndarray:
    """A scratch array of ``shape`` and ``dtype``, reused by later calls in the same thread."""
    store = _local.__dict__.setdefault("arrays", {})
    dtype = np.dtype(dtype)
    need = int(np.prod(shape)) * dtype.itemsize
    block = store.get(name)
    if block is None or block.nbytes < need + 64:
        block = np.empty(need + 64, np.uint8)
        store[name] = block
    start = -block.ctypes.data % 64  # cache-line aligned
    return block[start : start + need].view(dtype).reshape(shape)


def _blas_controller():
    global _blas
    with _lock:
        if _blas is None:
            from threadpoolctl import ThreadpoolController

            _blas = ThreadpoolController().select(user_api="blas")
        return _blas


def blas_threads() -> int:
    """How many threads NumPy's BLAS may use now (1 if threadpoolctl finds no BLAS).

    Shapes:
        returns: an int >= 1
    Formula:
        the largest num_threads among the BLAS libraries threadpoolctl finds
    Torch:
        none (torch.get_num_threads() is the same question for torch's own pool)
    """
    libs = _blas_controller().lib_controllers
    return max((lib.num_threads for lib in libs), default=1)


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(os.cpu_count() or 1, thread_name_prefix="dlbook-conv")
        return _pool


@dataclass(frozen=True)
class Plan:
    """How a batch is cut: ``ranges[w] = (first, stop)`` for worker ``w``, ``step`` images per
    chunk within a range.

    Shapes:
        ranges: one (first, stop) pair of ints per worker; step: an int >= 1
    Formula:
        worker w's chunks are [s, min(s + step, stop)) for s = first, first + step, ...
    Torch:
        none (how the work is scheduled, not what is computed)
    """

    ranges: tuple[tuple[int, int], ...]
    step: int


def plan(n: int, bytes_per_image: int, workers: int) -> Plan:
    """Split ``n`` images between at most ``workers`` threads (never more than ``n``, and one
    when the columns of the whole batch are small), in chunks whose columns fit CACHE_BYTES.

    Shapes:
        n, bytes_per_image, workers: ints; returns a Plan
    Formula:
        w = min(workers, n); worker i takes images [floor(i n / w), floor((i + 1) n / w));
        step = clip(CACHE_BYTES // bytes_per_image, 1, images per worker)
    Torch:
        none (how the work is scheduled, not what is computed)
    """
    if workers > 1 and n * bytes_per_image < PARALLEL_BYTES:
        workers = 1
    workers = max(1, min(workers, n))
    bounds = [i * n // workers for i in range(workers + 1)]
    ranges = tuple((bounds[i], bounds[i + 1]) for i in range(workers))
    longest = max(stop - first for first, stop in ranges)
    step = max(1, min(longest, CACHE_BYTES // max(1, bytes_per_image)))
    return Plan(ranges, step)


def _run(task, cut: Plan) -> list:
    """``task(first, stop, step)`` for every range of ``cut``, in worker threads if several."""
    if len(cut.ranges) == 1:
        return [task(*cut.ranges[0], cut.step)]
    with _blas_controller().limit(limits=1):
        jobs = [_executor().submit(task, first, stop, cut.step) for first, stop in cut.ranges]
        return [job.result() for job in jobs]


@dataclass(frozen=True)
class Grid:
    """The shapes one call shares between its workers, and the unfolding of a chunk of images.

    Shapes:
        channels: the unfolded input's C; in_size: (H, W); pads: ((top, bottom), (left, right));
        kernel, stride, dilation, out: (height, width) pairs; groups: an int
        padded: (H + top + bottom + 1, W + left + right), the spare row included
    Formula:
        grid_width = padded width if the width's stride is 1 (a wide grid), else out width;
        positions = out height * grid_width; rows = C / groups * kh * kw
    Torch:
        none (torch works its shapes out inside torch.nn.functional.conv2d)
    """

    channels: int  # the channels that are unfolded (the input's)
    in_size: tuple[int, int]
    pads: tuple[tuple[int, int], tuple[int, int]]
    kernel: tuple[int, int]
    stride: tuple[int, int]
    dilation: tuple[int, int]
    out: tuple[int, int]
    groups: int

    @property
    def padded(self):  # (Hp + 1, Wp): one spare zero row for the wide grid to read into
        (top, bottom), (left, right) = self.pads
        return self.in_size[0] + top + bottom + 1, self.in_size[1] + left + right

    @property
    def grid_width(self) -> int:
        return self.padded[1] if self.stride[1] == 1 else self.out[1]

    @property
    def positions(self) -> int:
        return self.out[0] * self.grid_width

    @property
    def rows(self) -> int:  # K per group: (C / groups) kh kw
        return self.channels // self.groups * self.kernel[0] * self.kernel[1]

    def column_bytes(self, itemsize: int) -> int:
        return self.channels * self.kernel[0] * self.kernel[1] * self.positions * itemsize

    def padded_block(self, name: str, m: int, dtype):
        """A zeroed padded block for ``m`` images and the view of its interior."""
        block = _workspace(name, (m, self.channels, *self.padded), dtype)
        block.fill(0)
        (top, _), (left, _) = self.pads
        h, w = self.in_size
        return block, block[:, :, top : top + h, left : left + w]

    def unfolder(self, m: int, dtype):
        """``(fill, columns)``: ``fill(x_chunk)`` pads ``x_chunk`` and unfolds it into the
        columns, shaped (k, groups, K, positions) for the first k = len(x_chunk) images."""
        block, inner = self.padded_block("padded", m, dtype)
        view = windows(
            block, self.kernel, self.stride, self.dilation, (self.out[0], self.grid_width)
        )
        cols = _workspace("columns", view.shape, dtype)
        mats = cols.reshape(m, self.groups, self.rows, self.positions)

        def fill(x_chunk):
            k = len(x_chunk)
            inner[:k] = x_chunk
            np.copyto(cols[:k], view[:k])
            return mats[:k]

        return fill


def _grid(x_shape, pads, kernel, stride, dilation, out, groups) -> Grid:
    return Grid(x_shape[1], tuple(x_shape[2:]), pads, kernel, stride, dilation, out, groups)


def conv_forward(x, weight, pads, stride, dilation, out, groups, bias=None) -> np.ndarray:
    """``conv2d`` of ``x`` with explicit zero padding ``pads``: the vectorized forward.

    Shapes:
        x: (N, C, H, W); weight: (O, C / groups, kH, kW); pads: ((top, bottom), (left, right));
        stride, dilation, out: (height, width) pairs, out the output size; bias: (O,) or None
        returns: (N, O, *out), x's dtype
    Formula:
        y[n, o, i, j] = bias[o] + sum_{c,u,v} weight[o, c, u, v] * x_pad[n, g(o) C_g + c,
        s_h i + d_h u, s_w j + d_w v]
    Torch:
        torch.nn.functional.conv2d with padding (top, left) when top == bottom and left == right
    """
    n, o = x.shape[0], weight.shape[0]
    grid = _grid(x.shape, pads, tuple(weight.shape[2:]), stride, dilation, out, groups)
    w = weight.reshape(groups, o // groups, grid.rows)
    result = np.empty((n, o, *out), dtype=x.dtype)
    wide = grid.grid_width != out[1]
    b = None if bias is None else bias[:, None, None]

    def task(first, stop, step):
        m = min(step, stop - first)
        fill = grid.unfolder(m, x.dtype)
        y = _workspace("products", (m, o, out[0], grid.grid_width), x.dtype) if wide else None
        for s in range(first, stop, step):
            e = min(s + step, stop)
            cols = fill(x[s:e])
            dest = y[: e - s] if wide else result[s:e]
            np.matmul(w, cols, out=dest.reshape(e - s, groups, o // groups, grid.positions))
            if wide:
                cropped = dest[..., : out[1]]
                if b is None:
                    np.copyto(result[s:e], cropped)
                else:
                    np.add(cropped, b, out=result[s:e])
            elif b is not None:
                result[s:e] += b

    _run(task, plan(n, grid.column_bytes(x.itemsize), blas_threads()))
    return result


def conv_gradients(
    grad_out,
    weight,
    pads,
    stride,
    dilation,
    in_size,
    groups,
    x=None,
    input_grad=True,
    bias_grad=False,
):
    """The gradients of :func:`conv_forward` in one pass over the batch:
    ``(grad_x, grad_weight, grad_bias)``, each ``None`` when not asked for.

    ``grad_weight`` needs ``x``; ``grad_x`` is computed when ``input_grad`` is true (it is the
    forward of conv_transpose2d), ``grad_bias`` when ``bias_grad`` is.

    Shapes:
        grad_out: (N, O, oh, ow); weight: (O, C / groups, kH, kW); pads, stride, dilation as in
        conv_forward; in_size: (H, W); x: (N, C, H, W) or None
        returns: grad_x (N, C, H, W), grad_weight like weight, grad_bias (O,)
    Formula:
        grad_x_pad[n, g(o) C_g + c, s_h i + d_h u, s_w j + d_w v] += weight[o, c, u, v]
        g[n, o, i, j], then the padding cropped; grad_weight[o, c, u, v] = sum_{n,i,j}
        g[n, o, i, j] x_pad[n, g(o) C_g + c, s_h i + d_h u, s_w j + d_w v];
        grad_bias[o] = sum_{n,i,j} g[n, o, i, j]
    Torch:
        autograd through torch.nn.functional.conv2d; grad_x alone is
        torch.nn.functional.conv_transpose2d
    """
    n, o, oh, ow = grad_out.shape
    kernel, dtype = tuple(weight.shape[2:]), grad_out.dtype
    c = weight.shape[1] * groups
    grid = _grid((n, c, *in_size), pads, kernel, stride, dilation, (oh, ow), groups)
    og, gw_ = o // groups, grid.grid_width
    w_t = weight.reshape(groups, og, grid.rows).transpose(0, 2, 1)  # (G, K, Og)
    grad_x = np.empty((n, c, *in_size), dtype=dtype) if input_grad else None
    (top, _), (left, _) = pads
    h, w = in_size

    def task(first, stop, step):
        m = min(step, stop - first)
        g = _workspace("grad_out", (m, o, oh, gw_), dtype)
        g[..., ow:] = 0  # a wide grid's junk columns: they must add nothing
        g_mats = g.reshape(m, groups, og, grid.positions)
        grad_w = np.zeros((groups, og, grid.rows), dtype) if x is not None else None
        grad_b = np.zeros((groups, og), dtype) if bias_grad else None
        if x is not None:
            fill = grid.unfolder(m, dtype)
            products = _workspace("weight_products", (m, groups, og, grid.rows), dtype)
        if input_grad:
            block = _workspace("grad_padded", (m, c, *grid.padded), dtype)
            cols = _workspace("grad_columns", (m, c, *kernel, oh, gw_), dtype)
            taps = _tap_views(block, grid)
        for s in range(first, stop, step):
            k = min(s + step, stop) - s
            g[:k, ..., :ow] = grad_out[s : s + k]
            gk = g_mats[:k]
            if grad_b is not None:
                grad_b += gk.sum(axis=(0, 3))
            if grad_w is not None:
                np.matmul(gk, fill(x[s : s + k]).swapaxes(-1, -2), out=products[:k])
                grad_w += products[:k].sum(axis=0)
            if input_grad:
                np.matmul(w_t, gk, out=cols[:k].reshape(k, groups, grid.rows, grid.positions))
                block[:k].fill(0)
                for (i, j), dest in taps:
                    dest[:k] += cols[:k, :, i, j]
                grad_x[s : s + k] = block[:k, :, top : top + h, left : left + w]
        return grad_w, grad_b

    (grad_w, grad_b), *others = _run(
        task, plan(n, grid.column_bytes(grad_out.itemsize), blas_threads())
    )
    for more_w, more_b in others:  # each worker's partial sums, added in a fixed order
        if grad_w is not None:
            grad_w += more_w
        if grad_b is not None:
            grad_b += more_b
    return (
        grad_x,
        None if grad_w is None else grad_w.reshape(weight.shape),
        None if grad_b is None else grad_b.reshape(o),
    )


def _tap_views(block, grid: Grid):
    """For each kernel tap (i, j), the strided view of the padded block that its column rows
    are added onto: col2im as kh * kw vectorized adds (within a tap no two windows share a
    pixel, so each add is exact)."""
    m, c, hp, wp = block.shape
    (kh, kw), (sh, sw), (dh, dw) = grid.kernel, grid.stride, grid.dilation
    windows(
        block, grid.kernel, grid.stride, grid.dilation, (grid.out[0], grid.grid_width)
    )  # checks
    e = block.itemsize
    planes = block.reshape(m, c, hp * wp)
    shape = (m, c, grid.out[0], grid.grid_width)
    strides = (*block.strides[:2], sh * wp * e, sw * e)
    return [
        ((i, j), as_strided(planes[:, :, i * dh * wp + j * dw :], shape, strides))
        for i in range(kh)
        for j in range(kw)
    ]
