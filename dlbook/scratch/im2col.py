"""The two data movements behind fast convolution: im2col and its adjoint, col2im.

``im2col`` lays every receptive-field window of an image out as a column, so that a convolution
becomes one matrix multiply (Chellapilla, Puri & Simard 2006). ``col2im`` sends columns back to
the pixels they came from, adding where windows overlap; it is exactly the transpose of ``im2col``,
which is why it appears in the backward pass and in transposed convolution.

Both work on an already padded array whose last two axes are the image plane, and take the output
grid size ``out`` explicitly, so that callers decide how many windows there are.

*Wide grids.* ``conv2d`` itself asks for a grid as wide as the padded image when the stride along
the width is 1. The extra windows run off the right edge into the next row (they are junk, and are
dropped or multiplied by zero later), but every window row then becomes one long contiguous run of
memory, and NumPy copies and adds long runs many times faster than 30-pixel pieces. The padded
image carries one spare zero row (:func:`pad_with_spare_row`) so that those reads stay inside it.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided


def pad_with_spare_row(x: np.ndarray, pads) -> np.ndarray:
    """Zero-pad the last two axes of ``x`` by ``pads = ((top, bottom), (left, right))``, plus one
    spare zero row at the bottom, which the wide grids read into.

    Shapes:
        x: (A, B, H, W)
        returns: (A, B, top + H + bottom + 1, left + W + right), x's dtype
    Formula:
        xp[a, b, top + y, left + x] = x[a, b, y, x]; 0 elsewhere
    Torch:
        torch.nn.functional.pad(x, (left, right, top, bottom + 1))
    """
    (top, bottom), (left, right) = pads
    a, b, h, w = x.shape
    xp = np.zeros((a, b, top + h + bottom + 1, left + w + right), dtype=x.dtype)
    xp[:, :, top : top + h, left : left + w] = x
    return xp


def _reach(shape, kernel, stride, dilation, out) -> int:
    """The last flat index of the image plane that the windows touch (wide grids included)."""
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = kernel, stride, dilation, out
    width = shape[-1]
    return ((oh - 1) * sh + (kh - 1) * dh) * width + (ow - 1) * sw + (kw - 1) * dw


def windows(xp: np.ndarray, kernel, stride, dilation, out) -> np.ndarray:
    """Every window of ``xp`` as a read-only view, with no copy (usually ``A, B = N, C``).

    With a wide grid, windows past the right edge read on into the next row; the view never reads
    outside each ``(H, W)`` plane (a ValueError if ``out`` asks for more).

    Shapes:
        xp: (A, B, H, W), each plane C-contiguous; kernel, stride, dilation, out: pairs
        returns: (A, B, kh, kw, oh, ow)
    Formula:
        windows[a, b, i, j, y, x] = xp[a, b, y sh + i dh, x sw + j dw]
    Torch:
        torch.Tensor.unfold on the last two axes
    """
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = kernel, stride, dilation, out
    plane = xp.shape[2] * xp.shape[3]
    if xp.strides[2] != xp.shape[3] * xp.itemsize or xp.strides[3] != xp.itemsize:
        raise ValueError("xp: each image plane must be C-contiguous")
    if _reach(xp.shape, kernel, stride, dilation, out) >= plane:
        raise ValueError(f"out={out}: the windows would read past the padded input {xp.shape}")
    a_s, b_s, h_s, w_s = xp.strides
    return as_strided(
        xp,
        shape=(xp.shape[0], xp.shape[1], kh, kw, oh, ow),
        strides=(a_s, b_s, h_s * dh, w_s * dw, h_s * sh, w_s * sw),
        writeable=False,
    )


def im2col(xp: np.ndarray, kernel, stride, dilation, out, groups: int = 1, buffer=None):
    """The windows of ``xp`` laid out as columns (a copy): one column matrix per image and
    group, its rows ordered (channel, kernel row, kernel column).

    ``buffer``, if given, is an array of the result's shape to copy into, so that a loop over
    chunks of a batch reuses one block of memory instead of asking for a new one each time.

    Shapes:
        xp: (N, C, H, W); kernel, stride, dilation, out: pairs
        returns: (N, groups, C / groups * kh * kw, oh * ow)
    Formula:
        cols[n, g, (c kh + i) kw + j, y ow + x] = xp[n, g C_g + c, y sh + i dh, x sw + j dw]
    Torch:
        torch.nn.functional.unfold (one group, as (N, C kh kw, oh ow))
    """
    n, c = xp.shape[:2]
    view = windows(xp, kernel, stride, dilation, out)
    shape = (n, groups, (c // groups) * kernel[0] * kernel[1], out[0] * out[1])
    if buffer is None:
        return view.reshape(shape)
    np.copyto(buffer.reshape(view.shape), view)
    return buffer.reshape(shape)


def col2im(cols: np.ndarray, padded_shape, kernel, stride, dilation, out) -> np.ndarray:
    """The adjoint of :func:`windows`: scatter-add columns back into a zero array of
    ``padded_shape`` plus the spare row, which a wide grid needs (crop it off as you crop the
    padding).

    Shapes:
        cols: (A, B, kh, kw, oh, ow) or any shape that reshapes to it; padded_shape: (A, B, H, W)
        returns: (A, B, H + 1, W), cols' dtype
    Formula:
        xp[a, b, y sh + i dh, x sw + j dw] += cols[a, b, i, j, y, x], summed over i, j, y, x
    Torch:
        torch.nn.functional.fold
    """
    a, b, h, w = padded_shape
    xp = np.zeros((a, b, h + 1, w), dtype=cols.dtype)
    col2im_add(cols, xp, kernel, stride, dilation, out)
    return xp


def col2im_add(cols: np.ndarray, xp: np.ndarray, kernel, stride, dilation, out) -> None:
    """Add the columns into ``xp`` in place (:func:`col2im` without the new array). With a wide
    grid, the junk columns must be zero: they land on the next row.

    Shapes:
        cols: (A, B, kh, kw, oh, ow) or any shape that reshapes to it
        xp: (A, B, H, W), each plane C-contiguous; modified in place; returns None
    Formula:
        xp[a, b, y sh + i dh, x sw + j dw] += cols[a, b, i, j, y, x]
    Torch:
        torch.nn.functional.fold, added onto xp
    """
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = kernel, stride, dilation, out
    a, b, h, w = xp.shape
    if xp.strides[2] != w * xp.itemsize or xp.strides[3] != xp.itemsize:
        raise ValueError("xp: each image plane must be C-contiguous")
    if _reach(xp.shape, kernel, stride, dilation, out) >= h * w:
        raise ValueError(f"out={out}: the columns would land past the padded input {xp.shape}")
    cols = cols.reshape(a, b, kh, kw, oh, ow)
    e = xp.itemsize
    # One vectorized add per kernel tap (kh*kw of them) instead of a loop over windows. Within a
    # tap, no two windows share a pixel, so the in-place add through a strided view is exact.
    planes = xp.reshape(a, b, h * w)
    if not np.may_share_memory(planes, xp):
        raise ValueError("xp: the image planes must be reshapeable in place")
    for i in range(kh):
        for j in range(kw):
            start = planes[:, :, i * dh * w + j * dw :]
            dest = as_strided(start, (a, b, oh, ow), (*xp.strides[:2], sh * w * e, sw * e))
            dest += cols[:, :, i, j]
