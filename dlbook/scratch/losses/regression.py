r"""Regression losses between an input and a target of its shape: squared error, absolute
error, and the two that are quadratic near zero and linear beyond (smooth L1, Huber).
"""

from __future__ import annotations

import numpy as np

from dlbook.scratch.activations import real
from dlbook.scratch.losses.common import (
    check_reduction,
    reduce_loss,
    same_shape,
    upstream_grad,
    weighted,
)

__all__ = [
    "mse_loss",
    "mse_loss_backward",
    "l1_loss",
    "l1_loss_backward",
    "smooth_l1_loss",
    "smooth_l1_loss_backward",
    "huber_loss",
    "huber_loss_backward",
]


def _pointwise(input, target, weight, reduction, size_average, reduce):
    x, t, w = same_shape(input, target, weight)
    reduction = check_reduction(reduction, size_average, reduce)
    return x, t, w, reduction, (None if w is None else w.sum())


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    r"""Mean squared error, any shape; an element-wise ``weight`` makes the mean a weighted one.

    Shapes:
        input: any shape
        target: the input's shape
        weight: the input's shape, or None
        returns: a scalar, or the input's shape for reduction='none'
    Formula:
        loss[i] = weight[i] (x[i] - y[i])^2;  mean = sum_i loss[i] / sum_i weight[i]
    Torch:
        torch.nn.functional.mse_loss
    """
    x, t, w, red, divisor = _pointwise(input, target, weight, reduction, size_average, reduce)
    return reduce_loss(weighted((x - t) ** 2, w), red, divisor)


def mse_loss_backward(
    grad_output, input, target, size_average=None, reduce=None, reduction="mean", weight=None
):
    r"""The gradient of :func:`mse_loss`: twice the error, so big errors pull hard.

    Shapes:
        grad_output: a scalar, or the input's shape for reduction='none'
        returns: the input's shape
    Formula:
        grad[i] = 2 weight[i] (x[i] - y[i]) grad_output (divided as the mean divides)
    Torch:
        autograd through torch.nn.functional.mse_loss
    """
    x, t, w, red, divisor = _pointwise(input, target, weight, reduction, size_average, reduce)
    return weighted(2 * (x - t), w) * upstream_grad(grad_output, red, x.shape, x.dtype, divisor)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    r"""Mean absolute error, any shape; an element-wise ``weight`` makes the mean a weighted one.

    Shapes:
        input: any shape
        target: the input's shape
        weight: the input's shape, or None
        returns: a scalar, or the input's shape for reduction='none'
    Formula:
        loss[i] = weight[i] |x[i] - y[i]|;  mean = sum_i loss[i] / sum_i weight[i]
    Torch:
        torch.nn.functional.l1_loss
    """
    x, t, w, red, divisor = _pointwise(input, target, weight, reduction, size_average, reduce)
    return reduce_loss(weighted(np.abs(x - t), w), red, divisor)


def l1_loss_backward(
    grad_output, input, target, size_average=None, reduce=None, reduction="mean", weight=None
):
    r"""The gradient of :func:`l1_loss`: the sign of the error, 0 where it is 0 (as torch).

    Shapes:
        grad_output: a scalar, or the input's shape for reduction='none'
        returns: the input's shape
    Formula:
        grad[i] = weight[i] sign(x[i] - y[i]) grad_output (divided as the mean divides)
    Torch:
        autograd through torch.nn.functional.l1_loss
    """
    x, t, w, red, divisor = _pointwise(input, target, weight, reduction, size_average, reduce)
    return weighted(np.sign(x - t), w) * upstream_grad(grad_output, red, x.shape, x.dtype, divisor)


def _positive(value, name, allow_zero):
    value = real(value, name)
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value}")
    return value


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    r"""Smooth L1: quadratic for errors below ``beta``, linear above, so a few large errors do not
    dominate as they do in the squared error. ``beta=0`` is :func:`l1_loss`.

    Shapes:
        input: any shape
        target: the input's shape
        returns: a scalar, or the input's shape for reduction='none'
    Formula:
        loss[i] = 0.5 d^2 / beta if |d| < beta else |d| - 0.5 beta, d = x[i] - y[i]
    Torch:
        torch.nn.functional.smooth_l1_loss
    """
    x, t, _, red, _ = _pointwise(input, target, None, reduction, size_average, reduce)
    beta, d = _positive(beta, "beta", allow_zero=True), np.abs(x - t)
    if beta == 0:
        return reduce_loss(d, red)
    return reduce_loss(np.where(d < beta, 0.5 * d * d / beta, d - 0.5 * beta), red)


def smooth_l1_loss_backward(
    grad_output, input, target, size_average=None, reduce=None, reduction="mean", beta=1.0
):
    r"""The gradient of :func:`smooth_l1_loss`: the error over ``beta`` inside, its sign outside.

    Shapes:
        grad_output: a scalar, or the input's shape for reduction='none'
        returns: the input's shape
    Formula:
        grad[i] = (d / beta if |d| < beta else sign(d)) grad_output (divided by n for the mean)
    Torch:
        autograd through torch.nn.functional.smooth_l1_loss
    """
    x, t, _, red, _ = _pointwise(input, target, None, reduction, size_average, reduce)
    beta, d = _positive(beta, "beta", allow_zero=True), x - t
    inner = d / beta if beta else np.zeros_like(d)
    return np.where(np.abs(d) < beta, inner, np.sign(d)) * upstream_grad(
        grad_output, red, x.shape, x.dtype
    )


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    r"""Huber loss: quadratic for errors up to ``delta``, then linear with slope ``delta``;
    ``delta`` times :func:`smooth_l1_loss` with ``beta=delta``. With a ``weight``, the mean
    is the plain mean of the weighted losses (torch's choice; :func:`mse_loss` divides by the
    weights' sum instead).

    Shapes:
        input: any shape
        target: the input's shape
        weight: the input's shape, or None
        returns: a scalar, or the input's shape for reduction='none'
    Formula:
        loss[i] = weight[i] (0.5 d^2 if |d| <= delta else delta (|d| - 0.5 delta)), d = x - y
    Torch:
        torch.nn.functional.huber_loss
    """
    x, t, w, red, _ = _pointwise(input, target, weight, reduction, None, None)
    delta, d = _positive(delta, "delta", allow_zero=False), np.abs(x - t)
    loss = np.where(d <= delta, 0.5 * d * d, delta * (d - 0.5 * delta))
    return reduce_loss(weighted(loss, w), red)


def huber_loss_backward(grad_output, input, target, reduction="mean", delta=1.0, weight=None):
    r"""The gradient of :func:`huber_loss`: the error itself inside, ``delta`` times its sign
    outside.

    Shapes:
        grad_output: a scalar, or the input's shape for reduction='none'
        returns: the input's shape
    Formula:
        grad[i] = weight[i] (d if |d| <= delta else delta sign(d)) grad_output (/ n for the mean)
    Torch:
        autograd through torch.nn.functional.huber_loss
    """
    x, t, w, red, _ = _pointwise(input, target, weight, reduction, None, None)
    delta, d = _positive(delta, "delta", allow_zero=False), x - t
    grad = np.where(np.abs(d) <= delta, d, delta * np.sign(d))
    return weighted(grad, w) * upstream_grad(grad_output, red, x.shape, x.dtype)
