r"""Max and average pooling from scratch: naive loops, strided-view versions, and their backward.

Pooling slides a window over every channel separately and summarises it with one number:

.. math::
    \text{max}:\ y[n,c,p,q] = \max_{i,j}\, x_p[n, c,\, p s_h + i d_h,\, q s_w + j d_w], \qquad
    \text{avg}:\ y[n,c,p,q] = \frac{1}{D_{pq}} \sum_{i,j} x_p[n, c,\, p s_h + i,\, q s_w + j],

where :math:`x_p` is the input padded with :math:`-\infty` (max) or 0 (average) and
:math:`D_{pq}` is the divisor (see :func:`avg_pool2d`). Pooling has no weights; its backward
sends each output's gradient to the pixel that won the max, or spreads it evenly over the window.
Mirrors ``torch.nn.functional.max_pool2d``, ``avg_pool2d`` and ``adaptive_avg_pool2d(x, 1)``,
corner cases included (``ceil_mode``, ties, NaN).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from dlbook import checks
from dlbook.scratch.im2col import col2im_add, windows
from dlbook.shapes import conv_output_size, window_count

__all__ = [
    "pool_output_size",
    "max_pool2d",
    "max_pool2d_backward",
    "max_pool2d_indices",
    "argmax_taps",
    "avg_pool2d",
    "avg_pool2d_backward",
    "window_size",
    "global_avg_pool2d",
    "global_avg_pool2d_backward",
    "loops",
    "max_pool2d_naive",
    "max_pool2d_backward_naive",
    "avg_pool2d_naive",
    "avg_pool2d_backward_naive",
]


def pool_output_size(size, kernel_size, stride, padding=0, dilation=1, ceil_mode=False) -> int:
    """How many pooling windows fit along one axis, with no checks: 0 or less when none fits.

    The pooling functions themselves size their output with :func:`dlbook.shapes.conv_output_size`,
    which checks its arguments and refuses a window that fits nowhere; both use
    :func:`dlbook.shapes.window_count`, the one place this rule is written.

    Shapes:
        size, kernel_size, stride, padding, dilation: ints (one axis)
        returns: int
    Formula:
        out = floor((size + 2 p - d (k - 1) - 1) / s) + 1 (ceil with ceil_mode, minus a last
        window that would start in the right padding)
    Torch:
        torch's pooling_output_shape (ATen/native/Pool.h)
    """
    return window_count(size, kernel_size, stride, padding, dilation, ceil_mode)


@dataclass(frozen=True)
class PoolGeometry:
    """Every size a pooling call needs, checked once. Pairs are ``(height, width)``.

    Shapes:
        kernel, stride, padding, dilation, in_size, out: (h, w) pairs of ints
    Formula:
        out = conv_output_size(in_size, kernel, stride, padding, dilation, ceil_mode)
    Torch:
        none (torch keeps these sizes in local variables of its pooling kernels)
    """

    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    in_size: tuple[int, int]
    out: tuple[int, int]

    @property
    def extent(self) -> tuple[int, int]:
        """The padded plane: the input plus padding, grown further when a ceil-mode window
        hangs off the bottom or right edge."""
        return tuple(
            max(n + 2 * p, (o - 1) * s + d * (k - 1) + 1)
            for n, p, o, s, d, k in zip(
                self.in_size, self.padding, self.out, self.stride, self.dilation, self.kernel
            )
        )

    def pad(self, x: np.ndarray, fill: float) -> np.ndarray:
        """``(N, C, H, W) -> (N, C, *extent)``, the input surrounded by ``fill``."""
        (ph, pw), (h, w) = self.padding, self.in_size
        xp = np.full(x.shape[:2] + self.extent, fill, dtype=x.dtype)
        xp[:, :, ph : ph + h, pw : pw + w] = x
        return xp

    def crop(self, xp: np.ndarray) -> np.ndarray:
        """Undo :meth:`pad`: gradient that lands on padding belongs to no pixel."""
        (ph, pw), (h, w) = self.padding, self.in_size
        return np.ascontiguousarray(xp[:, :, ph : ph + h, pw : pw + w])

    def starts(self, axis: int) -> np.ndarray:
        """Where each window starts along ``axis``, in input coordinates (padding < 0)."""
        return np.arange(self.out[axis]) * self.stride[axis] - self.padding[axis]

    def windows(self, xp: np.ndarray) -> np.ndarray:
        """All windows of a padded array as a view ``(N, C, kh, kw, oh, ow)``, no copy."""
        return windows(xp, self.kernel, self.stride, self.dilation, self.out)

    def scatter(self, cols: np.ndarray, like: np.ndarray) -> np.ndarray:
        """col2im: add ``cols`` ``(N, C, kh, kw, oh, ow)`` back onto the pixels each window read
        (one vectorized add per kernel tap; overlapping windows add up), then crop."""
        gxp = np.zeros(like.shape[:2] + self.extent, dtype=like.dtype)
        col2im_add(cols, gxp, self.kernel, self.stride, self.dilation, self.out)
        return self.crop(gxp)


def _stride(stride, kernel):
    # torch reads stride=None, and an empty list, as "the kernel size".
    if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0):
        return kernel
    return checks.pair(stride, "stride", minimum=1)


def _batched(input):
    x, unbatched = checks.batched(input, "input")
    if 0 in x.shape[1:]:
        raise ValueError(f"input must have non-empty channels, height and width, got {x.shape}")
    return x, unbatched


def _prepare(input, kernel_size, stride, padding, dilation, ceil_mode):
    """Check the arguments as torch does; return ``(x, unbatched, geometry)``."""
    x, unbatched = _batched(input)
    kernel = checks.pair(kernel_size, "kernel_size", minimum=1)
    stride = _stride(stride, kernel)
    padding = checks.pair(padding, "padding", minimum=0)
    dilation = checks.pair(dilation, "dilation", minimum=1)
    if any(p > k // 2 for p, k in zip(padding, kernel)):
        raise ValueError(
            f"padding must be at most half the kernel size (kernel_size // 2), "
            f"got padding={padding} for kernel_size={kernel}"
        )
    in_size = x.shape[2:]
    # shapes.conv_output_size is the one home of this arithmetic; it refuses a window that fits
    # nowhere, naming kernel_size.
    out = conv_output_size(in_size, kernel, stride, padding, dilation, bool(ceil_mode))
    return x, unbatched, PoolGeometry(kernel, stride, padding, dilation, in_size, out)


def _grad(grad_output, x, unbatched, geo):
    return checks.check_grad_output(grad_output, x.shape[:2] + geo.out, x.dtype, unbatched)


def _unbatch(a: np.ndarray, unbatched: bool) -> np.ndarray:
    return a[0] if unbatched else a


# --- max pooling -------------------------------------------------------------------------------


def _first_real_tap(geo: PoolGeometry, axis: int) -> np.ndarray:
    """Per window along ``axis``, the first kernel tap past the left padding: the tap where
    torch's scan starts."""
    start, d = geo.starts(axis), geo.dilation[axis]
    return np.where(start < 0, (-start + d - 1) // d, 0)


def argmax_taps(xp: np.ndarray, geo: PoolGeometry) -> np.ndarray:
    """The winning tap ``i * kw + j`` of every window, ``(N, C, oh, ow)`` int64.

    The scan mirrors torch's loop: taps in row-major order, a value replaces the best so far only
    if it is strictly larger (so the *first* maximum wins a tie) or NaN (so the *last* NaN
    wins). The -inf padding is never strictly larger, so it never wins; a window whose real
    pixels are all -inf keeps its first real tap, as in torch.

    Shapes:
        xp: (N, C, *geo.extent), the input padded with -inf (``geo.pad(x, -np.inf)``)
        geo: the call's :class:`PoolGeometry`
        returns: (N, C, H_out, W_out) int64, each in [0, kH kW)
    Formula:
        tap[n, c, i, j] = u kW + v of the first (u, v) in row-major order where
            x_pad[n, c, s i + d u, s j + d v] is the window's max (the last NaN, if any)
    Torch:
        none (torch scans each window inside its max_pool2d kernel)
    """
    view = geo.windows(xp)
    kh, kw = geo.kernel
    first = _first_real_tap(geo, 0)[:, None] * kw + _first_real_tap(geo, 1)
    tap = np.broadcast_to(first, view.shape[:2] + geo.out).copy()
    best = np.full(tap.shape, -np.inf, dtype=xp.dtype)
    for i in range(kh):
        for j in range(kw):
            v = view[:, :, i, j]
            take = (v > best) | np.isnan(v)
            np.copyto(best, v, where=take)
            np.copyto(tap, i * kw + j, where=take)
    return tap


def _flat_indices(tap: np.ndarray, geo: PoolGeometry) -> np.ndarray:
    """Winning taps as torch's indices: ``row * W + col`` into each input plane."""
    kw, (dh, dw) = geo.kernel[1], geo.dilation
    rows = geo.starts(0)[:, None] + (tap // kw) * dh
    cols = geo.starts(1) + (tap % kw) * dw
    return rows * geo.in_size[1] + cols


def max_pool2d(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    """2-D max pooling: the largest value of every (dilated) window of every channel.

    ``stride`` defaults to ``kernel_size``; ``padding`` (at most ``kernel_size // 2``) is filled
    with -inf, so it never wins. A NaN in a window makes its output NaN. ``return_indices=True``
    also returns where each maximum came from (see :func:`max_pool2d_indices`). (With dilation,
    a ceil-mode window can miss the input altogether; its output is -inf, and its gradient goes
    nowhere.)

    Shapes:
        input: (N, C, H, W) or unbatched (C, H, W)
        returns: (N, C, H_out, W_out) (or unbatched), H_out = floor((H + 2 p - d (kH - 1) - 1)
            / s) + 1 (ceil with ceil_mode); with return_indices, (output, indices), indices int64
    Formula:
        out[n, c, i, j] = max_{u,v} x_pad[n, c, s i + d u, s j + d v], x_pad padded with -inf
    Torch:
        torch.nn.functional.max_pool2d
    """
    x, unbatched, geo = _prepare(input, kernel_size, stride, padding, dilation, ceil_mode)
    xp = geo.pad(x, -np.inf)
    out = _unbatch(geo.windows(xp).max(axis=(2, 3)), unbatched)
    if not return_indices:
        return out
    return out, _unbatch(_flat_indices(argmax_taps(xp, geo), geo), unbatched)


def max_pool2d_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Where each maximum of :func:`max_pool2d` came from, as torch's ``return_indices=True``
    gives it: the first maximum in row-major order (the last NaN, if any).

    Shapes:
        input: (N, C, H, W) or unbatched (C, H, W)
        returns: int64 array of max_pool2d's output shape
    Formula:
        indices[n, c, i, j] = row * W + col of argmax_{u,v} x_pad[n, c, s i + d u, s j + d v]
    Torch:
        torch.nn.functional.max_pool2d(..., return_indices=True)[1]
    """
    args = (kernel_size, stride, padding, dilation, ceil_mode)
    return max_pool2d(input, *args, return_indices=True)[1]


def max_pool2d_backward(
    grad_output, input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
    return_indices=False,
):  # fmt: skip
    """Gradient of :func:`max_pool2d` for ``input``.

    The max is locally the identity on the winning pixel and constant in the others, so each
    output's gradient goes to its window's argmax (the first maximum in row-major order, torch's
    tie rule) and nowhere else. Where windows overlap, one pixel can win several of them, and
    their gradients add up. With ``return_indices=True``, ``grad_output`` is still the gradient
    of the pooled values: the indices have none.

    Shapes:
        grad_output: max_pool2d's output shape, (N, C, H_out, W_out) or (C, H_out, W_out)
        input: (N, C, H, W) or unbatched (C, H, W)
        returns: grad_input, the input's shape
    Formula:
        grad_input[n, c, r, q] = sum of grad_output[n, c, i, j] over the windows (i, j) whose
            argmax is (r, q)
    Torch:
        autograd through torch.nn.functional.max_pool2d
    """
    x, unbatched, geo = _prepare(input, kernel_size, stride, padding, dilation, ceil_mode)
    g = _grad(grad_output, x, unbatched, geo)
    tap = argmax_taps(geo.pad(x, -np.inf), geo)
    taps = np.arange(geo.kernel[0] * geo.kernel[1])[:, None, None]
    # One column per window: its gradient at the winning tap, zeros at the other taps.
    cols = g[:, :, None] * (tap[:, :, None] == taps)
    return _unbatch(geo.scatter(cols, x), unbatched)


# --- average pooling ---------------------------------------------------------------------------


def _check_divisor(divisor_override):
    """None, or a non-zero int (torch refuses 0, a float and a bool; a negative one is fine)."""
    if divisor_override is None:
        return None
    if isinstance(divisor_override, (bool, np.bool_)) or not isinstance(
        divisor_override, numbers.Integral
    ):
        raise TypeError(f"divisor_override must be an int or None, got {divisor_override!r}")
    if divisor_override == 0:
        raise ValueError("divisor_override must not be zero")
    return int(divisor_override)


def window_size(geo, axis, start, count_include_pad):
    """How many pixels a window starting at ``start`` (in input coordinates, so padding is
    negative) counts along ``axis``: clipped to the padded extent ``[-p, n + p)``, or to the
    input ``[0, n)`` when padding is not counted. Works on ints and on arrays.

    Shapes:
        geo: the call's :class:`PoolGeometry`; axis: 0 (rows) or 1 (columns)
        start: an int or an int array of window starts along that axis
        returns: start's shape, ints
    Formula:
        end = min(start + k, n + p); size = end - start with count_include_pad, else
            min(end, n) - max(start, 0)
    Torch:
        none (the divisor inside torch's avg_pool2d kernel)
    """
    k, n, p = geo.kernel[axis], geo.in_size[axis], geo.padding[axis]
    end = np.minimum(start + k, n + p)
    return end - start if count_include_pad else np.minimum(end, n) - np.maximum(start, 0)


def _divisors(geo: PoolGeometry, count_include_pad, divisor_override, dtype) -> np.ndarray:
    """``(oh, ow)``: the number each window's sum is divided by (rows times columns)."""
    if divisor_override is not None:
        return np.full(geo.out, divisor_override, dtype=dtype)
    rows = window_size(geo, 0, geo.starts(0), count_include_pad)
    cols = window_size(geo, 1, geo.starts(1), count_include_pad)
    return np.outer(rows, cols).astype(dtype)


def avg_pool2d(
    input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
    divisor_override=None,
):  # fmt: skip
    """2-D average pooling: the mean of every window of every channel.

    Each window's sum of the zero-padded input is divided by ``D``. With
    ``count_include_pad=True``, ``D`` counts the window's pixels inside the padded input: that is
    ``kh * kw``, except for a ceil-mode window that hangs off the bottom or right edge past the
    padding. With ``count_include_pad=False``, ``D`` counts only real input pixels. A
    ``divisor_override`` (a non-zero int) replaces ``D`` for every window.

    Shapes:
        input: (N, C, H, W) or unbatched (C, H, W)
        returns: (N, C, H_out, W_out) (or unbatched), H_out = floor((H + 2 p - kH) / s) + 1
            (ceil with ceil_mode)
    Formula:
        out[n, c, i, j] = sum_{u,v} x_pad[n, c, s i + u, s j + v] / D[i, j], x_pad padded with 0
    Torch:
        torch.nn.functional.avg_pool2d
    """
    divisor = _check_divisor(divisor_override)
    x, unbatched, geo = _prepare(input, kernel_size, stride, padding, 1, ceil_mode)
    sums = geo.windows(geo.pad(x, 0.0)).sum(axis=(2, 3))
    return _unbatch(sums / _divisors(geo, count_include_pad, divisor, x.dtype), unbatched)


def avg_pool2d_backward(
    grad_output, input, kernel_size, stride=None, padding=0, ceil_mode=False,
    count_include_pad=True, divisor_override=None,
):  # fmt: skip
    """Gradient of :func:`avg_pool2d` for ``input``: each output's gradient divided by its
    divisor ``D`` goes to every pixel of its window; overlapping windows add up.

    Shapes:
        grad_output: avg_pool2d's output shape, (N, C, H_out, W_out) or (C, H_out, W_out)
        input: (N, C, H, W) or unbatched (C, H, W)
        returns: grad_input, the input's shape
    Formula:
        grad_input[n, c, r, q] = sum over the windows (i, j) that hold (r, q) of
            grad_output[n, c, i, j] / D[i, j]
    Torch:
        autograd through torch.nn.functional.avg_pool2d
    """
    divisor = _check_divisor(divisor_override)
    x, unbatched, geo = _prepare(input, kernel_size, stride, padding, 1, ceil_mode)
    g = _grad(grad_output, x, unbatched, geo)
    share = g / _divisors(geo, count_include_pad, divisor, x.dtype)
    cols = np.broadcast_to(share[:, :, None, None], share.shape[:2] + geo.kernel + geo.out)
    return _unbatch(geo.scatter(cols, x), unbatched)


def global_avg_pool2d(input):
    """The mean of each channel over the whole plane.

    Shapes:
        input: (N, C, H, W) or unbatched (C, H, W)
        returns: (N, C, 1, 1) or unbatched (C, 1, 1)
    Formula:
        out[n, c, 0, 0] = sum_{r,q} x[n, c, r, q] / (H W)
    Torch:
        torch.nn.functional.adaptive_avg_pool2d(input, 1)
    """
    x, unbatched = _batched(input)
    return _unbatch(x.mean(axis=(2, 3), keepdims=True), unbatched)


def global_avg_pool2d_backward(grad_output, input):
    """Gradient of :func:`global_avg_pool2d`: every pixel of a plane gets ``1 / (H W)`` of its
    channel's gradient.

    Shapes:
        grad_output: (N, C, 1, 1) or unbatched (C, 1, 1)
        input: (N, C, H, W) or unbatched (C, H, W)
        returns: grad_input, the input's shape
    Formula:
        grad_input[n, c, r, q] = grad_output[n, c, 0, 0] / (H W)
    Torch:
        autograd through torch.nn.functional.adaptive_avg_pool2d(input, 1)
    """
    x, unbatched = _batched(input)
    g = checks.check_grad_output(grad_output, x.shape[:2] + (1, 1), x.dtype, unbatched)
    gx = np.broadcast_to(g / (x.shape[2] * x.shape[3]), x.shape).copy()
    return _unbatch(gx, unbatched)


# --- the readable versions: loops, one window at a time -----------------------------------------


def loops(x, geo):
    """Every (n, c, y, x) of the output, and the slices of the padded input its window reads:
    the loop that the naive pooling functions run, one window at a time.

    Shapes:
        x: (N, C, H, W); geo: the call's :class:`PoolGeometry`
        returns: an iterator of ((n, c, y, x), (n, c, rows, cols)), rows and cols slices of
            the padded input (``geo.pad``)
    Formula:
        rows = s_h y + d_h u for u = 0 .. kH - 1 (in the padded input); cols likewise
    Torch:
        none (torch's pooling kernels loop in C++)
    """
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = geo.kernel, geo.stride, geo.dilation, geo.out
    for n, c, y, x_ in np.ndindex(x.shape[0], x.shape[1], oh, ow):
        rows = slice(y * sh, y * sh + dh * (kh - 1) + 1, dh)
        cols = slice(x_ * sw, x_ * sw + dw * (kw - 1) + 1, dw)
        yield (n, c, y, x_), (n, c, rows, cols)


def _argmax_naive(x, geo, n, c, y, x_):
    """Scan one window as torch does: the first real pixel, then any strictly larger one or a
    NaN. Returns its ``(row, col)`` in the input, or None when the window misses the input."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = geo.kernel, geo.stride, geo.padding, geo.dilation
    (h, w), best, arg = geo.in_size, -np.inf, None
    for i, j in np.ndindex(kh, kw):
        r, q = y * sh - ph + i * dh, x_ * sw - pw + j * dw
        if 0 <= r < h and 0 <= q < w:  # padding is never read
            v = x[n, c, r, q]
            if arg is None or v > best or np.isnan(v):
                best, arg = v, (r, q)
    return arg


def max_pool2d_naive(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    """:func:`max_pool2d` as a loop over every output value. Slow; made for reading.

    With ``return_indices=True`` each index comes from a scan of the window (a window that
    misses the input altogether, possible only with dilation and ceil mode, gets -1).

    Shapes:
        input: (N, C, H, W) or unbatched (C, H, W)
        returns: (N, C, H_out, W_out) (or unbatched); with return_indices, (output, indices)
    Formula:
        out[n, c, i, j] = max_{u,v} x_pad[n, c, s i + d u, s j + d v], x_pad padded with -inf
    Torch:
        torch.nn.functional.max_pool2d
    """
    x, unbatched, geo = _prepare(input, kernel_size, stride, padding, dilation, ceil_mode)
    xp = geo.pad(x, -np.inf)
    out = np.empty(x.shape[:2] + geo.out, dtype=x.dtype)
    indices = np.full(out.shape, -1, dtype=np.int64)
    for at, window in loops(x, geo):
        out[at] = xp[window].max()
        if return_indices and (arg := _argmax_naive(x, geo, *at)) is not None:
            indices[at] = arg[0] * geo.in_size[1] + arg[1]
    out = _unbatch(out, unbatched)
    return (out, _unbatch(indices, unbatched)) if return_indices else out


def max_pool2d_backward_naive(
    grad_output, input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
    return_indices=False,
):  # fmt: skip
    """:func:`max_pool2d_backward` as loops: scan each window for its max, as torch does, and
    add the output's gradient to that one pixel.

    Shapes:
        grad_output: max_pool2d's output shape, (N, C, H_out, W_out) or (C, H_out, W_out)
        input: (N, C, H, W) or unbatched (C, H, W)
        returns: grad_input, the input's shape
    Formula:
        grad_input[n, c, argmax of window (i, j)] += grad_output[n, c, i, j]
    Torch:
        autograd through torch.nn.functional.max_pool2d
    """
    x, unbatched, geo = _prepare(input, kernel_size, stride, padding, dilation, ceil_mode)
    g = _grad(grad_output, x, unbatched, geo)
    gx = np.zeros_like(x)
    for n, c, y, x_ in np.ndindex(g.shape):
        arg = _argmax_naive(x, geo, n, c, y, x_)
        if arg is not None:
            gx[n, c, arg[0], arg[1]] += g[n, c, y, x_]
    return _unbatch(gx, unbatched)


def _divisor_naive(geo, y, x_, count_include_pad, divisor_override):
    if divisor_override is not None:
        return divisor_override
    (sh, sw), (ph, pw) = geo.stride, geo.padding
    rows = window_size(geo, 0, y * sh - ph, count_include_pad)
    return int(rows * window_size(geo, 1, x_ * sw - pw, count_include_pad))


def avg_pool2d_naive(
    input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
    divisor_override=None,
):  # fmt: skip
    """:func:`avg_pool2d` as a loop over every output value: a window's sum over its divisor.

    Shapes:
        input: (N, C, H, W) or unbatched (C, H, W)
        returns: (N, C, H_out, W_out) (or unbatched)
    Formula:
        out[n, c, i, j] = sum_{u,v} x_pad[n, c, s i + u, s j + v] / D[i, j], x_pad padded with 0
    Torch:
        torch.nn.functional.avg_pool2d
    """
    divisor = _check_divisor(divisor_override)
    x, unbatched, geo = _prepare(input, kernel_size, stride, padding, 1, ceil_mode)
    xp = geo.pad(x, 0.0)
    out = np.empty(x.shape[:2] + geo.out, dtype=x.dtype)
    for (n, c, y, x_), window in loops(x, geo):
        out[n, c, y, x_] = xp[window].sum() / _divisor_naive(geo, y, x_, count_include_pad, divisor)
    return _unbatch(out, unbatched)


def avg_pool2d_backward_naive(
    grad_output, input, kernel_size, stride=None, padding=0, ceil_mode=False,
    count_include_pad=True, divisor_override=None,
):  # fmt: skip
    """:func:`avg_pool2d_backward` as loops: each window's pixels share its gradient equally.

    Shapes:
        grad_output: avg_pool2d's output shape, (N, C, H_out, W_out) or (C, H_out, W_out)
        input: (N, C, H, W) or unbatched (C, H, W)
        returns: grad_input, the input's shape
    Formula:
        grad_x_pad[n, c, window (i, j)] += grad_output[n, c, i, j] / D[i, j], then crop
    Torch:
        autograd through torch.nn.functional.avg_pool2d
    """
    divisor = _check_divisor(divisor_override)
    x, unbatched, geo = _prepare(input, kernel_size, stride, padding, 1, ceil_mode)
    g = _grad(grad_output, x, unbatched, geo)
    gxp = np.zeros(x.shape[:2] + geo.extent, dtype=x.dtype)
    for (n, c, y, x_), window in loops(x, geo):
        gxp[window] += g[n, c, y, x_] / _divisor_naive(geo, y, x_, count_include_pad, divisor)
    return _unbatch(geo.crop(gxp), unbatched)
