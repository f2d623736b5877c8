r"""Transposed convolution from scratch: the gradient of convolution, run forwards.

A convolution is a linear map :math:`y = A_w x`. The transposed convolution with the same weight
is :math:`A_w^{\top}`: it sends each input pixel back out through the kernel, stamping a scaled
copy of the kernel onto the output, ``stride`` pixels apart, and adding where stamps overlap. So
``conv_transpose2d`` *is* ``conv2d``'s input gradient, and its own backward is a ``conv2d``.

Output size per axis: ``(H - 1)*stride - 2*padding + dilation*(k - 1) + output_padding + 1``.
Mirrors ``torch.nn.functional.conv_transpose2d``; the weight is ``(C_in, C_out / groups, kH, kW)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlbook import checks
from dlbook.scratch.conv import conv_weight_and_groups
from dlbook.scratch.conv_core import conv_forward, conv_gradients
from dlbook.shapes import conv_transpose_output_size

__all__ = ["conv_transpose2d", "conv_transpose2d_backward", "conv_transpose2d_naive"]


@dataclass(frozen=True)
class _TransposeGeometry:
    n: int
    in_channels: int
    out_channels: int
    groups: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    in_size: tuple[int, int]
    out: tuple[int, int]

    @property
    def full_shape(self):
        """The output before ``padding`` is cropped: the matching conv2d's padded input."""
        (ph, pw), (oh, ow) = self.padding, self.out
        return (self.n, self.out_channels, oh + 2 * ph, ow + 2 * pw)

    def crop(self, full: np.ndarray) -> np.ndarray:
        (ph, pw), (oh, ow) = self.padding, self.out
        return full[:, :, ph : ph + oh, pw : pw + ow]

    @property
    def pads(self):
        """The matching conv2d's padding, ((top, bottom), (left, right))."""
        (ph, pw) = self.padding
        return (ph, ph), (pw, pw)


def _prepare(input, weight, bias, stride, padding, output_padding, groups, dilation):
    x, unbatched = checks.batched(input, "input")
    groups = conv_weight_and_groups(x, weight, groups)
    n, c, h, w = x.shape
    if weight.shape[0] != c:
        raise ValueError(
            f"channel mismatch: input has {c} channels but weight {weight.shape} expects "
            f"{weight.shape[0]} (a transposed convolution's weight is (C_in, C_out/groups, kH, kW))"
        )
    if c % groups:
        raise ValueError(f"groups={groups} must divide in_channels={c}")
    o = weight.shape[1] * groups
    checks.check_bias(bias, x, o)
    stride = checks.pair(stride, "stride", minimum=1)
    padding = checks.pair(padding, "padding", minimum=0)
    output_padding = checks.pair(output_padding, "output_padding", minimum=0)
    dilation = checks.pair(dilation, "dilation", minimum=1)
    kernel = tuple(weight.shape[2:])
    out = conv_transpose_output_size((h, w), kernel, stride, padding, output_padding, dilation)
    geo = _TransposeGeometry(
        n, c, o, groups, tuple(kernel), stride, padding, dilation, (h, w), tuple(out)
    )
    return x, unbatched, geo


def conv_transpose2d(
    input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1
):
    """Transposed 2-D convolution: every input pixel stamps a scaled copy of its kernel onto the
    output, ``stride`` pixels apart; the result is conv2d's input gradient for the same weight.

    ``stride``, ``padding``, ``output_padding`` and ``dilation`` are ints, pairs or one-element
    tuples; ``output_padding`` must be smaller than the stride or the dilation, as in torch.

    Shapes:
        input: (N, C_in, H, W) or unbatched (C_in, H, W)
        weight: (C_in, C_out / groups, kH, kW)
        bias: (C_out,) or None
        returns: (N, C_out, H_out, W_out), H_out = (H - 1) s - 2 p + d (kH - 1) + output_padding + 1
    Formula:
        full[n, g(c) O_g + o, s i + d u, s j + d v] += x[n, c, i, j] * weight[c, o, u, v];
        out[n, o, y, x] = full[n, o, p + y, p + x] + bias[o], y < H_out, x < W_out
    Torch:
        torch.nn.functional.conv_transpose2d
    """
    x, unbatched, geo = _prepare(
        input, weight, bias, stride, padding, output_padding, groups, dilation
    )
    # conv2d's input gradient for the same weight, padding and output size
    out, _, _ = conv_gradients(x, weight, geo.pads, geo.stride, geo.dilation, geo.out, geo.groups)
    if bias is not None:
        out += bias[:, None, None]
    return out[0] if unbatched else out


def conv_transpose2d_backward(
    grad_output,
    input,
    weight,
    bias=None,
    stride=1,
    padding=0,
    output_padding=0,
    groups=1,
    dilation=1,
):
    """Gradients of :func:`conv_transpose2d`: ``(grad_input, grad_weight, grad_bias)``.

    Since the forward is :math:`A_w^\\top x`, the input gradient is :math:`A_w g`: an ordinary
    ``conv2d`` of ``grad_output`` with the same weight, stride, padding and dilation.

    Shapes:
        grad_output: (N, C_out, H_out, W_out), or (C_out, H_out, W_out) for unbatched input
        input, weight, bias: as in conv_transpose2d
        returns: grad_input like input, grad_weight like weight, grad_bias (C_out,) or None
    Formula:
        grad_input = conv2d(grad_output, weight, stride=s, padding=p, dilation=d, groups=groups)
        grad_weight[c, o, u, v] = sum_{n,i,j} x[n, c, i, j] * g_pad[n, g(c) O_g + o, s i + d u,
        s j + d v]
        grad_bias[o] = sum_{n,i,j} grad_output[n, o, i, j]
    Torch:
        autograd through torch.nn.functional.conv_transpose2d
    """
    x, unbatched, geo = _prepare(
        input, weight, bias, stride, padding, output_padding, groups, dilation
    )
    gout = checks.check_grad_output(
        grad_output, (geo.n, geo.out_channels, *geo.out), x.dtype, unbatched=unbatched
    )
    gx = conv_forward(gout, weight, geo.pads, geo.stride, geo.dilation, geo.in_size, geo.groups)
    _, gw, _ = conv_gradients(
        x, weight, geo.pads, geo.stride, geo.dilation, geo.out, geo.groups, x=gout, input_grad=False
    )
    gb = None if bias is None else gout.sum(axis=(0, 2, 3))
    return (gx[0] if unbatched else gx), gw, gb


def conv_transpose2d_naive(
    input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1
):
    """:func:`conv_transpose2d` as loops: every input pixel stamps a scaled kernel on the output.

    Shapes:
        input: (N, C_in, H, W) or unbatched (C_in, H, W)
        weight: (C_in, C_out / groups, kH, kW)
        bias: (C_out,) or None
        returns: (N, C_out, H_out, W_out), H_out = (H - 1) s - 2 p + d (kH - 1) + output_padding + 1
    Formula:
        for every (n, c, i, j): full[n, group of c, s i : s i + d (kH - 1) + 1 : d, ...] +=
        x[n, c, i, j] * weight[c]; then crop p on each side and add the bias
    Torch:
        torch.nn.functional.conv_transpose2d
    """
    x, unbatched, geo = _prepare(
        input, weight, bias, stride, padding, output_padding, groups, dilation
    )
    (kh, kw), (sh, sw), (dh, dw) = geo.kernel, geo.stride, geo.dilation
    c_g, o_g = geo.in_channels // geo.groups, geo.out_channels // geo.groups
    full = np.zeros(geo.full_shape, dtype=x.dtype)
    for n in range(geo.n):
        for c in range(geo.in_channels):
            outs = slice((c // c_g) * o_g, (c // c_g + 1) * o_g)  # this channel's group
            for y in range(geo.in_size[0]):
                for x_ in range(geo.in_size[1]):
                    rows = slice(y * sh, y * sh + dh * (kh - 1) + 1, dh)
                    cols = slice(x_ * sw, x_ * sw + dw * (kw - 1) + 1, dw)
                    full[n, outs, rows, cols] += x[n, c, y, x_] * weight[c]
    out = np.ascontiguousarray(geo.crop(full))
    if bias is not None:
        out += bias[:, None, None]
    return out[0] if unbatched else out
