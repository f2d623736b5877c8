"""The two data movements behind fast convolution: im2col and its adjoint, col2im.

``im2col`` lays every receptive-field window of an image out as a column, so that a convolution
becomes one matrix multiply (Chellapilla, Puri & Simard 2006). ``col2im`` sends columns back to
the pixels they came from, adding where windows overlap; it is exactly the transpose of ``im2col``,
which is why it appears in the backward pass and in transposed convolution.

Both work on an already padded ``(N, C, Hp, Wp)`` array and take the output grid size ``out``
explicitly, so that callers decide how many windows there are.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided


def windows(xp: np.ndarray, kernel, stride, dilation, out) -> np.ndarray:
    """A read-only view of shape ``(N, C, kh, kw, oh, ow)`` with no copy:

    ``windows[n, c, i, j, y, x] = xp[n, c, y*sh + i*dh, x*sw + j*dw]``.
    """
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = kernel, stride, dilation, out
    if (oh - 1) * sh + (kh - 1) * dh >= xp.shape[2] or (ow - 1) * sw + (kw - 1) * dw >= xp.shape[3]:
        raise ValueError("internal error: windows would read past the padded input")
    n_s, c_s, h_s, w_s = xp.strides
    return as_strided(
        xp,
        shape=(xp.shape[0], xp.shape[1], kh, kw, oh, ow),
        strides=(n_s, c_s, h_s * dh, w_s * dw, h_s * sh, w_s * sw),
        writeable=False,
    )


def im2col(xp: np.ndarray, kernel, stride, dilation, out, groups: int = 1) -> np.ndarray:
    """Columns of shape ``(N, groups, C/groups * kh * kw, oh * ow)`` (a copy)."""
    n, c = xp.shape[:2]
    view = windows(xp, kernel, stride, dilation, out)
    return view.reshape(n, groups, (c // groups) * kernel[0] * kernel[1], out[0] * out[1])


def col2im(cols: np.ndarray, padded_shape, kernel, stride, dilation, out) -> np.ndarray:
    """The adjoint of :func:`im2col`: scatter-add columns back into a zero ``padded_shape`` array.

    ``cols`` may have the shape im2col returns, or ``(N, C, kh, kw, oh, ow)``.
    """
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = kernel, stride, dilation, out
    n, c = padded_shape[:2]
    cols = cols.reshape(n, c, kh, kw, oh, ow)
    xp = np.zeros(padded_shape, dtype=cols.dtype)
    # One strided slice per kernel tap: kh*kw vectorized adds instead of a loop over windows.
    for i in range(kh):
        for j in range(kw):
            rows = slice(i * dh, i * dh + (oh - 1) * sh + 1, sh)
            columns = slice(j * dw, j * dw + (ow - 1) * sw + 1, sw)
            xp[:, :, rows, columns] += cols[:, :, i, j]
    return xp
