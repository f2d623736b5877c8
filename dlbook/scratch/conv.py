r"""2-D convolution from scratch: naive loops, the im2col version, and the backward pass.

Deep-learning "convolution" is cross-correlation: the kernel slides without being flipped,

.. math::
    \text{out}[n, o, y, x] = b[o] + \sum_{c, i, j}
        w[o, c, i, j] \; x_p[n,\, g(o) C_g + c,\; y s_h + i d_h,\; x s_w + j d_w]

where :math:`x_p` is the zero-padded input, :math:`s` the stride, :math:`d` the dilation and
:math:`g(o)` the group of output channel :math:`o`. Mirrors ``torch.nn.functional.conv2d``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlbook import checks
from dlbook.scratch.conv_core import conv_forward, conv_gradients
from dlbook.scratch.im2col import pad_with_spare_row, windows
from dlbook.shapes import same_padding, window_count

__all__ = ["conv2d", "conv2d_backward", "conv2d_naive", "conv2d_backward_naive"]


@dataclass(frozen=True)
class ConvGeometry:
    """Everything a convolution needs to know about its shapes, checked once.

    Shapes:
        n, in_channels, out_channels, groups: ints; kernel, stride, dilation, in_size, out:
        (height, width) pairs; pads: ((top, bottom), (left, right))
        padded_shape: (N, C_in, top + H + bottom, left + W + right)
    Formula:
        out[a] = floor((in_size[a] + before[a] + after[a] - dilation[a] (kernel[a] - 1) - 1)
        / stride[a]) + 1 (dlbook.shapes.window_count)
    Torch:
        none (torch works its shapes out inside torch.nn.functional.conv2d)
    """

    n: int
    in_channels: int
    out_channels: int
    groups: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    dilation: tuple[int, int]
    pads: tuple[tuple[int, int], tuple[int, int]]  # ((top, bottom), (left, right))
    in_size: tuple[int, int]
    out: tuple[int, int]

    def pad(self, x: np.ndarray) -> np.ndarray:
        """Zero-pad ``x``, with the spare row the vectorized core needs (see im2col)."""
        return pad_with_spare_row(x, self.pads)

    @property
    def padded_shape(self):
        (top, bottom), (left, right) = self.pads
        h, w = self.in_size
        return (self.n, self.in_channels, h + top + bottom, w + left + right)

    def crop(self, xp: np.ndarray) -> np.ndarray:
        """Undo :meth:`pad`: the gradient that lands on padding belongs to no input pixel."""
        (top, _), (left, _) = self.pads
        h, w = self.in_size
        return xp[:, :, top : top + h, left : left + w]


def padding_pairs(padding, kernel, stride, dilation):
    """``conv2d``'s ``padding`` argument as ``((top, bottom), (left, right))``.

    Shapes:
        padding: an int, a pair, a one-element tuple, 'valid' or 'same'; kernel, stride,
        dilation: (height, width) pairs
        returns: ((top, bottom), (left, right))
    Formula:
        int or pair p: (p_h, p_h), (p_w, p_w); 'valid': no padding; 'same' (stride 1 only):
        total d (k - 1) per axis, the odd pixel after (bottom, right)
    Torch:
        the padding argument of torch.nn.functional.conv2d
    """
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0), (0, 0)
        if padding == "same":
            if stride != (1, 1):
                raise ValueError(f"padding='same' needs stride=1, got stride={stride}")
            return tuple(same_padding(k, d) for k, d in zip(kernel, dilation))
        raise ValueError(f"padding must be an int, a pair, 'valid' or 'same', got {padding!r}")
    ph, pw = checks.pair(padding, "padding", minimum=0)
    return (ph, ph), (pw, pw)


def conv_weight_and_groups(x, weight, groups) -> int:
    """Check a 2-D (transposed) convolution's ``weight`` against its batched input ``x``, and
    ``groups``; return ``groups`` as an int.

    Shapes:
        x: (N, C_in, H, W); weight: any 4-D array of x's dtype (its channel counts are checked
        by the caller: conv2d's and conv_transpose2d's weights lay them out differently)
        returns: groups, an int >= 1
    Formula:
        none (argument checks)
    Torch:
        none (the checks torch.nn.functional.conv2d and conv_transpose2d make first)
    """
    checks.float_array(weight, "weight", (4,))
    checks.same_dtype(x, weight, "weight")
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"groups must be a positive int, got {groups!r}")
    return int(groups)


def conv_geometry(x, weight, bias, stride, padding, dilation, groups) -> ConvGeometry:
    """Check conv2d's arguments (input already batched) and work out every shape.

    Shapes:
        x: (N, C_in, H, W); weight: (C_out, C_in / groups, kH, kW); bias: (C_out,) or None
        returns: a ConvGeometry
    Formula:
        out = dlbook.shapes.window_count(size, k, s, (before, after), d) per axis; fewer than
        one window is a ValueError naming the weight
    Torch:
        none (the checks torch.nn.functional.conv2d makes before it computes)
    """
    groups = conv_weight_and_groups(x, weight, groups)
    n, c, h, w = x.shape
    o, c_per_group, kh, kw = weight.shape
    if c % groups or o % groups:
        raise ValueError(f"groups={groups} must divide both in_channels={c} and out_channels={o}")
    if c_per_group * groups != c:
        raise ValueError(
            f"channel mismatch: input has {c} channels but weight {weight.shape} expects "
            f"{c_per_group} per group x {groups} groups = {c_per_group * groups}"
        )
    checks.check_bias(bias, x, o)
    stride = checks.pair(stride, "stride", minimum=1)
    dilation = checks.pair(dilation, "dilation", minimum=1)
    pads = padding_pairs(padding, (kh, kw), stride, dilation)
    out = []
    for size, k, s, d, (before, after), axis in zip(
        (h, w), (kh, kw), stride, dilation, pads, ("height", "width")
    ):
        count = window_count(size, k, s, (before, after), d)
        if count < 1:
            raise ValueError(
                f"weight: the kernel's {axis} spans {d * (k - 1) + 1} pixels (kernel {k}, "
                f"dilation {d}), more than the padded input's {size + before + after}"
            )
        out.append(count)
    return ConvGeometry(n, c, o, groups, (kh, kw), stride, dilation, pads, (h, w), tuple(out))


def _prepare(input, weight, bias, stride, padding, dilation, groups):
    x, unbatched = checks.batched(input, "input")
    return x, unbatched, conv_geometry(x, weight, bias, stride, padding, dilation, groups)


# --- the public functions ----------------------------------------------------------------------


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation of a batch of images with a bank of kernels, vectorized with im2col.

    ``stride``, ``padding`` and ``dilation`` are ints, pairs or one-element tuples; ``padding`` may
    also be ``'valid'`` or ``'same'`` (stride 1 only; an odd total padding puts the extra pixel at
    the bottom and right, as torch does).

    Shapes:
        input: (N, C_in, H, W) or unbatched (C_in, H, W)
        weight: (C_out, C_in / groups, kH, kW)
        bias: (C_out,) or None
        returns: (N, C_out, H_out, W_out), H_out = floor((H + 2 p - d (kH - 1) - 1) / s) + 1
    Formula:
        out[n, o, i, j] = bias[o] + sum_{c,u,v} weight[o, c, u, v] * x_pad[n, g(o) C_g + c,
        s i + d u, s j + d v], g(o) the group of output channel o, C_g = C_in / groups
    Torch:
        torch.nn.functional.conv2d
    """
    x, unbatched, geo = _prepare(input, weight, bias, stride, padding, dilation, groups)
    out = conv_forward(x, weight, geo.pads, geo.stride, geo.dilation, geo.out, geo.groups, bias)
    return out[0] if unbatched else out


def conv2d_backward(
    grad_output, input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1
):
    """Gradients of :func:`conv2d`: returns ``(grad_input, grad_weight, grad_bias)``.

    Takes conv2d's arguments after ``grad_output``; ``grad_bias`` is ``None`` when ``bias`` is.
    ``grad_input``: each output gradient is sent back through the kernel to the pixels of its
    window (col2im of ``W^T @ grad_output``), then the padding is cropped away.

    Shapes:
        grad_output: (N, C_out, H_out, W_out), or (C_out, H_out, W_out) for unbatched input
        input, weight, bias: as in conv2d
        returns: grad_input like input, grad_weight like weight, grad_bias (C_out,) or None
    Formula:
        grad_x_pad[n, g(o) C_g + c, s i + d u, s j + d v] += weight[o, c, u, v] * g[n, o, i, j]
        grad_weight[o, c, u, v] = sum_{n,i,j} g[n, o, i, j] * x_pad[n, g(o) C_g + c, s i + d u,
        s j + d v]
        grad_bias[o] = sum_{n,i,j} g[n, o, i, j]
    Torch:
        autograd through torch.nn.functional.conv2d
    """
    x, unbatched, geo = _prepare(input, weight, bias, stride, padding, dilation, groups)
    gout = checks.check_grad_output(
        grad_output, (geo.n, geo.out_channels, *geo.out), x.dtype, unbatched=unbatched
    )
    gx, gw, gb = conv_gradients(
        gout,
        weight,
        geo.pads,
        geo.stride,
        geo.dilation,
        geo.in_size,
        geo.groups,
        x=x,
        bias_grad=bias is not None,
    )
    return (gx[0] if unbatched else gx), gw, gb


# --- the readable versions: loops, one window at a time -----------------------------------------


def conv2d_naive(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """:func:`conv2d` written as plain loops over every output value. Slow; made for reading.

    Shapes:
        input: (N, C_in, H, W) or unbatched (C_in, H, W)
        weight: (C_out, C_in / groups, kH, kW)
        bias: (C_out,) or None
        returns: (N, C_out, H_out, W_out), H_out = floor((H + 2 p - d (kH - 1) - 1) / s) + 1
    Formula:
        out[n, o, i, j] = bias[o] + sum_{c,u,v} weight[o, c, u, v] * x_pad[n, g(o) C_g + c,
        s i + d u, s j + d v]
    Torch:
        torch.nn.functional.conv2d
    """
    x, unbatched, geo = _prepare(input, weight, bias, stride, padding, dilation, groups)
    xp = geo.pad(x)
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = geo.kernel, geo.stride, geo.dilation, geo.out
    c_g, o_g = geo.in_channels // geo.groups, geo.out_channels // geo.groups
    out = np.zeros((geo.n, geo.out_channels, oh, ow), dtype=x.dtype)
    for n in range(geo.n):
        for o in range(geo.out_channels):
            first = (o // o_g) * c_g  # first input channel of this output channel's group
            for y in range(oh):
                for x_ in range(ow):
                    window = xp[
                        n,
                        first : first + c_g,
                        y * sh : y * sh + dh * (kh - 1) + 1 : dh,
                        x_ * sw : x_ * sw + dw * (kw - 1) + 1 : dw,
                    ]
                    out[n, o, y, x_] = np.sum(window * weight[o])
            if bias is not None:
                out[n, o] += bias[o]
    return out[0] if unbatched else out


def conv2d_backward_naive(
    grad_output, input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1
):
    """:func:`conv2d_backward` as loops: each output gradient flows back to its own window.

    Shapes:
        grad_output: (N, C_out, H_out, W_out), or (C_out, H_out, W_out) for unbatched input
        input, weight, bias: as in conv2d
        returns: grad_input like input, grad_weight like weight, grad_bias (C_out,) or None
    Formula:
        for every (n, o, i, j): grad_x_pad[n, group, window] += g[n, o, i, j] * weight[o] and
        grad_weight[o] += g[n, o, i, j] * x_pad[n, group, window]
    Torch:
        autograd through torch.nn.functional.conv2d
    """
    x, unbatched, geo = _prepare(input, weight, bias, stride, padding, dilation, groups)
    gout = checks.check_grad_output(
        grad_output, (geo.n, geo.out_channels, *geo.out), x.dtype, unbatched=unbatched
    )
    xp = geo.pad(x)
    gxp, gw = np.zeros_like(xp), np.zeros_like(weight)
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = geo.kernel, geo.stride, geo.dilation, geo.out
    c_g, o_g = geo.in_channels // geo.groups, geo.out_channels // geo.groups
    for n in range(geo.n):
        for o in range(geo.out_channels):
            chans = slice((o // o_g) * c_g, (o // o_g + 1) * c_g)
            for y in range(oh):
                for x_ in range(ow):
                    rows = slice(y * sh, y * sh + dh * (kh - 1) + 1, dh)
                    cols = slice(x_ * sw, x_ * sw + dw * (kw - 1) + 1, dw)
                    g = gout[n, o, y, x_]
                    gxp[n, chans, rows, cols] += g * weight[o]
                    gw[o] += g * xp[n, chans, rows, cols]
    gb = None if bias is None else gout.sum(axis=(0, 2, 3))
    gx = np.ascontiguousarray(geo.crop(gxp))
    return (gx[0] if unbatched else gx), gw, gb


# ``windows`` is re-exported for the chapters that draw the sliding window.
__all__ += ["windows"]
