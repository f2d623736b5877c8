r"""Binary cross-entropy, of probabilities and (free of overflow) of logits."""

from __future__ import annotations

import numpy as np

from dlbook import checks
from dlbook.scratch.activations import any_float_array, sigmoid
from dlbook.scratch.losses.common import (
    check_reduction,
    reduce_loss,
    same_shape,
    upstream_grad,
    weighted,
)

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_backward",
    "binary_cross_entropy_with_logits",
    "binary_cross_entropy_with_logits_backward",
]


# torch's EPSILON for this gradient is the float32 nearest 1e-12, in float64 too
_BCE_EPS = float(np.float32(1e-12))


def _bce_probability_args(input, target, weight, reduction, size_average, reduce):
    x, t, w, _, red = _bce_args(input, target, weight, None, reduction, size_average, reduce)
    if np.any((x < 0) | (x > 1)) or np.any(np.isnan(x)):
        raise ValueError(
            "input must hold probabilities in [0, 1] (for logits use "
            "binary_cross_entropy_with_logits)"
        )
    return x, t, w, red


def binary_cross_entropy(
    input, target, weight=None, size_average=None, reduce=None, reduction="mean"
):
    r"""Binary cross-entropy of probabilities :math:`x \in [0, 1]` and targets
    :math:`y \in [0, 1]`. Each log is clamped at -100, as torch does, so a probability of
    exactly 0 or 1 gives a finite loss; on logits, prefer
    :func:`binary_cross_entropy_with_logits`, which never loses the digits of a small
    :math:`1 - x`.

    Shapes:
        input: any shape, probabilities
        target: the input's shape
        weight: broadcastable to the input's shape, or None
        returns: a scalar, or the input's shape for reduction='none'
    Formula:
        loss = -w (y max(log x, -100) + (1 - y) max(log(1 - x), -100))
    Torch:
        torch.nn.functional.binary_cross_entropy
    """
    x, t, w, red = _bce_probability_args(input, target, weight, reduction, size_average, reduce)
    with np.errstate(divide="ignore"):
        log_x, log_1mx = np.maximum(np.log(x), -100), np.maximum(np.log1p(-x), -100)
    loss = -(t * log_x + (1 - t) * log_1mx)
    return reduce_loss(weighted(loss, w), red)


def binary_cross_entropy_backward(
    grad_output, input, target, weight=None, size_average=None, reduce=None, reduction="mean"
):
    r"""The gradient of :func:`binary_cross_entropy`: :math:`(x - y) / (x (1 - x))`, its
    denominator held at least :math:`10^{-12}` as in torch.

    Shapes:
        grad_output: a scalar, or the input's shape for reduction='none'
        returns: the input's shape
    Formula:
        grad = w (x - y) / max(x (1 - x), 1e-12) grad_output (divided by n for the mean)
    Torch:
        autograd through torch.nn.functional.binary_cross_entropy
    """
    x, t, w, red = _bce_probability_args(input, target, weight, reduction, size_average, reduce)
    d = (x - t) / np.maximum(x * (1 - x), _BCE_EPS)
    return weighted(d, w) * upstream_grad(grad_output, red, x.shape, x.dtype)


def _bce_args(input, target, weight, pos_weight, reduction, size_average, reduce):
    x, t, _ = same_shape(input, target)
    reduction = check_reduction(reduction, size_average, reduce)
    out = []
    for name, w in (("weight", weight), ("pos_weight", pos_weight)):
        if w is not None:
            w = any_float_array(w, name)
            checks.same_dtype(x, w, name)
            if not checks.broadcasts_to(w.shape, x.shape):
                raise ValueError(
                    f"{name} must broadcast to the input's shape {x.shape}, got {w.shape}"
                )
        out.append(w)
    return x, t, out[0], out[1], reduction


def binary_cross_entropy_with_logits(
    input,
    target,
    weight=None,
    size_average=None,
    reduce=None,
    reduction="mean",
    pos_weight=None,
):
    r"""Binary cross-entropy of logits :math:`x` and targets :math:`y \in [0, 1]`, written free
    of overflow. ``weight`` rescales each element; ``pos_weight`` (usually one per class, the
    last axis) rescales the positive term, trading recall against precision.

    Shapes:
        input: any shape, logits
        target: the input's shape
        weight, pos_weight: broadcastable to the input's shape, or None
        returns: a scalar, or the input's shape for reduction='none'
    Formula:
        loss = -w (p_w y log sigmoid(x) + (1 - y) log(1 - sigmoid(x)))
             = w ((1 - y) x + (1 + (p_w - 1) y) (max(-x, 0) + log(1 + e^{-|x|})))
    Torch:
        torch.nn.functional.binary_cross_entropy_with_logits
    """
    x, t, w, pw, red = _bce_args(input, target, weight, pos_weight, reduction, size_average, reduce)
    log_weight = 1 if pw is None else 1 + (pw - 1) * t
    loss = (1 - t) * x + log_weight * (np.maximum(-x, 0) + np.log1p(np.exp(-np.abs(x))))
    return reduce_loss(weighted(loss, w), red)


def binary_cross_entropy_with_logits_backward(
    grad_output,
    input,
    target,
    weight=None,
    size_average=None,
    reduce=None,
    reduction="mean",
    pos_weight=None,
):
    r"""The gradient of :func:`binary_cross_entropy_with_logits`: predicted minus true,
    :math:`\sigma(x) - y`, without weights.

    Shapes:
        grad_output: a scalar, or the input's shape for reduction='none'
        returns: the input's shape
    Formula:
        grad = w ((1 - y) - (1 + (p_w - 1) y) sigmoid(-x)) grad_output (divided by the count
        for the mean)
    Torch:
        autograd through torch.nn.functional.binary_cross_entropy_with_logits
    """
    x, t, w, pw, red = _bce_args(input, target, weight, pos_weight, reduction, size_average, reduce)
    if pw is None:
        d = sigmoid(x) - t
    else:
        d = (1 - t) - (1 + (pw - 1) * t) * sigmoid(-x)
    return weighted(d, w) * upstream_grad(grad_output, red, x.shape, x.dtype)
