r"""The fully connected (linear) layer from scratch: :math:`y = x W^\top + b`.

Every output feature is a weighted sum of every input feature,

.. math:: y[n, o] = b[o] + \sum_i x[n, i] \, W[o, i],

for each row :math:`n` of the input (any number of leading dimensions). Mirrors
``torch.nn.functional.linear``: ``weight`` is ``(out_features, in_features)``, as in ``nn.Linear``.
The backward pass is three matrix products:

.. math::
    \frac{\partial L}{\partial x} = G W, \qquad
    \frac{\partial L}{\partial W} = G^\top x, \qquad
    \frac{\partial L}{\partial b} = \sum_n G[n, :],

with :math:`G = \partial L / \partial y`, every leading dimension flattened into rows.
"""

from __future__ import annotations

import math

import numpy as np

from dlbook import checks
from dlbook.scratch.activations import any_float_array, check_grad_output

__all__ = ["linear", "linear_backward", "linear_naive", "linear_backward_naive"]


def _check(input, weight, bias):
    """Check the arguments; return ``input`` flattened to ``(rows, in_features)``."""
    x = any_float_array(input, "input")
    if x.ndim == 0:
        raise ValueError("input must be at least 1-D, (..., in_features), got a 0-D array")
    checks.float_array(weight, "weight", (2,))
    checks.same_dtype(x, weight, "weight")
    out_features, in_features = weight.shape
    if x.shape[-1] != in_features:
        raise ValueError(
            f"weight {weight.shape} expects {in_features} input features, but input "
            f"{x.shape} has {x.shape[-1]} in its last dimension"
        )
    checks.check_bias(bias, x, out_features)
    return _rows(x)


def _rows(a: np.ndarray) -> np.ndarray:
    """``(..., features)`` as ``(rows, features)``; unlike ``reshape(-1, f)`` it allows size 0."""
    return a.reshape(math.prod(a.shape[:-1]), a.shape[-1])


def _out_shape(input, weight):
    return input.shape[:-1] + (weight.shape[0],)


def linear(input, weight, bias=None):
    """``input @ weight.T + bias``: every output feature a weighted sum of the input features.

    Shapes:
        input: (..., in_features)
        weight: (out_features, in_features)
        bias: (out_features,) or None
        returns: (..., out_features)
    Formula:
        y[..., o] = bias[o] + sum_i x[..., i] weight[o, i]
    Torch:
        torch.nn.functional.linear
    """
    x = _check(input, weight, bias)
    y = x @ weight.T
    if bias is not None:
        y += bias
    return y.reshape(_out_shape(input, weight))


def linear_backward(grad_output, input, weight, bias=None):
    """Gradients of :func:`linear`: returns ``(grad_input, grad_weight, grad_bias)``.

    ``grad_output`` is ``(..., out_features)``, the shape ``linear`` returned. ``grad_bias`` is
    ``None`` when ``bias`` is.

    Shapes:
        grad_output: (..., out_features); input: (..., in_features)
        weight: (out_features, in_features); bias: (out_features,) or None
        returns: (grad_input, grad_weight, grad_bias), shaped as input, weight, bias
    Formula:
        grad_input = G W, grad_weight = G^T X, grad_bias = sum_rows G, with the leading axes
        of G = grad_output and X = input flattened into rows
    Torch:
        autograd through torch.nn.functional.linear
    """
    x = _check(input, weight, bias)
    g = check_grad_output(grad_output, _out_shape(input, weight), x.dtype)
    g = _rows(g)
    grad_input = (g @ weight).reshape(input.shape)
    grad_weight = g.T @ x
    grad_bias = None if bias is None else g.sum(axis=0)
    return grad_input, grad_weight, grad_bias


# --- the readable versions: loops, one multiply-add at a time -------------------------------------


def linear_naive(input, weight, bias=None):
    """:func:`linear` as plain loops: each output is a dot product. Slow; made for reading.

    Shapes:
        input: (..., in_features)
        weight: (out_features, in_features)
        bias: (out_features,) or None
        returns: (..., out_features)
    Formula:
        y[n, o] = bias[o] + sum_i x[n, i] weight[o, i], one row n at a time
    Torch:
        torch.nn.functional.linear
    """
    x = _check(input, weight, bias)
    out_features, in_features = weight.shape
    y = np.zeros((x.shape[0], out_features), dtype=x.dtype)
    for n in range(x.shape[0]):
        for o in range(out_features):
            total = 0.0 if bias is None else bias[o]
            for i in range(in_features):
                total += x[n, i] * weight[o, i]
            y[n, o] = total
    return y.reshape(_out_shape(input, weight))


def linear_backward_naive(grad_output, input, weight, bias=None):
    """:func:`linear_backward` as loops: ``y[n, o]`` was built from ``x[n, i] * W[o, i]``, so its
    gradient flows back to ``x[n, i]`` times ``W[o, i]``, and to ``W[o, i]`` times ``x[n, i]``.

    Shapes:
        as :func:`linear_backward`
    Formula:
        for every row n, output o and input i: grad_input[n, i] += g[n, o] W[o, i],
        grad_weight[o, i] += g[n, o] x[n, i]; grad_bias[o] += g[n, o]
    Torch:
        autograd through torch.nn.functional.linear
    """
    x = _check(input, weight, bias)
    g = check_grad_output(grad_output, _out_shape(input, weight), x.dtype)
    g = _rows(g)
    out_features, in_features = weight.shape
    gx, gw = np.zeros_like(x), np.zeros_like(weight)
    gb = None if bias is None else np.zeros_like(bias)
    for n in range(x.shape[0]):
        for o in range(out_features):
            for i in range(in_features):
                gx[n, i] += g[n, o] * weight[o, i]
                gw[o, i] += g[n, o] * x[n, i]
            if gb is not None:
                gb[o] += g[n, o]
    return gx.reshape(input.shape), gw, gb
