r"""Convolution as an explicit matrix, and transposed convolution as its transpose.

A single-channel 2-D convolution is linear in its input, so it *is* a matrix. Flatten the
``(H, W)`` input row by row into a vector :math:`x` of length :math:`HW`; then

.. math::
    y = C x, \qquad C \in \mathbb{R}^{H_\text{out} W_\text{out} \times HW}, \qquad
    C[\,y_o W_\text{out} + x_o,\; r W + c\,] = w[i, j]
    \;\text{ where }\; r = y_o s_h + i d_h - p_h,\; c = x_o s_w + j d_w - p_w ,

for every kernel tap :math:`(i, j)` whose pixel :math:`(r, c)` lies inside the image (taps that
land on the zero padding have no column). Each row holds one window's weights; each column says
where one input pixel goes. The transposed convolution is :math:`C^\top`, and the input gradient
of the convolution is :math:`C^\top g` for the same reason: both send each output value back to
the pixels of its window.

The matrix has :math:`H_\text{out} W_\text{out} \cdot HW` entries, so it is for small examples and
tests only; ``conv2d`` and ``conv_transpose2d`` never build it.
"""

from __future__ import annotations

import numpy as np

from dlbook.checks import pair as _pair
from dlbook.shapes import window_count

__all__ = ["conv2d_matrix", "matching_output_padding"]


def _geometry(input_hw, kernel, stride, padding, dilation):
    """Check the arguments and return the output size ``(H_out, W_out)`` and the pairs."""
    size = _pair(input_hw, "input_hw", 1)
    stride = _pair(stride, "stride", 1)
    padding = _pair(padding, "padding", 0)
    dilation = _pair(dilation, "dilation", 1)
    out = []
    for n, k, s, p, d, axis in zip(size, kernel, stride, padding, dilation, ("height", "width")):
        count = window_count(n, k, s, p, d)
        if count < 1:
            raise ValueError(
                f"weight: the kernel's {axis} spans {d * (k - 1) + 1} pixels (kernel {k}, "
                f"dilation {d}), more than the padded input's {n + 2 * p}"
            )
        out.append(count)
    return size, tuple(out), stride, padding, dilation


def conv2d_matrix(input_hw, weight, stride=1, padding=0, dilation=1) -> np.ndarray:
    r"""The matrix :math:`C` of a single-channel 2-D convolution (cross-correlation).

    ``input_hw`` is the input size ``(H, W)`` (or one int for a square input); ``stride``,
    ``padding`` and ``dilation`` are ints, pairs or one-element tuples, as in
    ``torch.nn.functional.conv2d``. ``C`` has the weight's dtype, and for a ``(H, W)`` image ``x``
    and a ``(H_out, W_out)`` array ``g``

    * ``C @ x.ravel()`` is ``conv2d(x[None, None], weight[None, None], ...).ravel()``;
    * ``C.T @ g.ravel()`` is ``conv2d_backward``'s input gradient for ``g``, and equals
      ``conv_transpose2d(g[None, None], weight[None, None], ..., output_padding=op)`` with
      ``op = matching_output_padding(input_hw, weight.shape, stride, padding, dilation)``.

    Shapes:
        weight: (kH, kW)
        returns: (H_out * W_out, H * W), H_out = floor((H + 2 p - d (kH - 1) - 1) / s) + 1
    Formula:
        C[y_o W_out + x_o, r W + c] = weight[i, j] with r = y_o s + i d - p, c = x_o s + j d - p,
        for every tap (i, j) that lands inside the image; 0 elsewhere
    Torch:
        none (torch never builds the matrix; C @ x is torch.nn.functional.conv2d)
    """
    if not isinstance(weight, np.ndarray) or not np.issubdtype(weight.dtype, np.floating):
        raise ValueError(f"weight must be a floating numpy array, got {type(weight).__name__}")
    if weight.ndim != 2:
        raise ValueError(f"weight must be 2-D (kH, kW), got shape {weight.shape}")
    (h, w), (oh, ow), (sh, sw), (ph, pw), (dh, dw) = _geometry(
        input_hw, weight.shape, stride, padding, dilation
    )
    kh, kw = weight.shape
    # One axis per index: output row, output column, tap row, tap column (broadcast, no loops).
    yo = np.arange(oh)[:, None, None, None]
    xo = np.arange(ow)[None, :, None, None]
    i = np.arange(kh)[None, None, :, None]
    j = np.arange(kw)[None, None, None, :]
    r = yo * sh + i * dh - ph
    c = xo * sw + j * dw - pw
    row = np.broadcast_to(yo * ow + xo, (oh, ow, kh, kw))
    r, c = np.broadcast_arrays(r, c)
    inside = (r >= 0) & (r < h) & (c >= 0) & (c < w)
    taps = np.broadcast_to(weight, (oh, ow, kh, kw))
    matrix = np.zeros((oh * ow, h * w), dtype=weight.dtype)
    # Distinct taps of one window land on distinct pixels (dilation >= 1), so plain assignment
    # never overwrites: no np.add.at needed.
    matrix[row[inside], (r * w + c)[inside]] = taps[inside]
    return matrix


def matching_output_padding(input_hw, kernel_size, stride=1, padding=0, dilation=1):
    """The ``output_padding`` that makes ``conv_transpose2d`` return ``input_hw`` again.

    A strided convolution ignores the last ``(H + 2p - d(k - 1) - 1) mod s`` rows of its padded
    input, so several input sizes share one output size; this remainder is the output padding that
    picks ``H`` among them.

    Shapes:
        input_hw: an int or (H, W); kernel_size, stride, padding, dilation: ints or pairs
        returns: an int for an int input_hw, else a pair (op_h, op_w); each smaller than the stride
    Formula:
        op = (H + 2 p - d (k - 1) - 1) mod s, per axis
    Torch:
        none (the output_padding to pass to torch.nn.functional.conv_transpose2d)

    >>> matching_output_padding(8, 3, stride=2, padding=1)  # 7 and 8 both give 4; 8 needs 1
    1
    """
    kernel = _pair(kernel_size, "kernel_size", 1)
    size, _, stride, padding, dilation = _geometry(input_hw, kernel, stride, padding, dilation)
    pads = tuple(
        (n + 2 * p - d * (k - 1) - 1) % s
        for n, k, s, p, d in zip(size, kernel, stride, padding, dilation)
    )
    return pads if isinstance(input_hw, (tuple, list)) else pads[0]
