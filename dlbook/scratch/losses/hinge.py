r"""Hinge losses: the multi-class margin loss of the Weston-Watkins SVM, and the hinge
embedding loss on distances.
"""

from __future__ import annotations

import numpy as np

from dlbook.scratch.activations import any_float_array, real
from dlbook.scratch.losses.common import (
    check_reduction,
    class_axis,
    class_indices,
    class_weight,
    reduce_loss,
    upstream_grad,
)

__all__ = [
    "multi_margin_loss",
    "multi_margin_loss_backward",
    "hinge_embedding_loss",
    "hinge_embedding_loss_backward",
]


def _margins(input, target, p, margin, weight, reduction, size_average, reduce):
    """Every wrong class's margin violation ``z[n, j] = margin - x[n, y_n] + x[n, j]``, 0 at the
    true class (which is not compared with itself); batched as ``(N, C)``; and the weight of
    each sample's true class."""
    x = any_float_array(input, "input")
    x1, axis = class_axis(x.reshape(1) if x.ndim == 0 else x, ndims=(1, 2))  # () is one class
    if x1.ndim == 1 and isinstance(target, np.ndarray) and target.shape == (1,):
        t = class_indices(target.reshape(()), x1, axis).reshape(1)  # torch takes (1,) too
    else:
        t = class_indices(target, x1, axis)
    if isinstance(p, bool) or p not in (1, 2):
        raise ValueError(f"p must be 1 or 2, got {p!r}")
    reduction = check_reduction(reduction, size_average, reduce)
    w = class_weight(weight, x1, axis)
    x2, rows, cols = np.atleast_2d(x1), np.arange(t.size), t.reshape(-1)
    z = real(margin, "margin") - x2[rows, cols][:, None] + x2
    z[rows, cols] = 0
    return x, t, z, rows, cols, w[cols][:, None], reduction


def multi_margin_loss(
    input,
    target,
    p=1,
    margin=1.0,
    weight=None,
    size_average=None,
    reduce=None,
    reduction="mean",
):
    r"""The multi-class hinge of the Weston-Watkins SVM: a sum over the violating classes,
    divided by C (the Crammer-Singer form would take the maximum instead). ``weight`` rescales
    each sample's loss by its true class's weight; the mean stays a plain mean over samples.

    Shapes:
        input: (N, C), unbatched (C,), or () (one class, loss 0)
        target: (N,), or () or (1,) when unbatched: class indices in [0, C)
        weight: (C,) or None
        returns: a scalar, or the target's shape for reduction='none'
    Formula:
        loss[n] = weight[y[n]] / C * sum_{j != y[n]} max(0, margin - x[n, y[n]] + x[n, j])^p,
        p = 1 or 2
    Torch:
        torch.nn.functional.multi_margin_loss
    """
    x, t, z, _, _, wy, red = _margins(
        input, target, p, margin, weight, reduction, size_average, reduce
    )
    loss = wy[:, 0] * (np.maximum(z, 0) ** p).sum(axis=1) / z.shape[1]
    return reduce_loss(loss.reshape(t.shape), red)


def multi_margin_loss_backward(
    grad_output,
    input,
    target,
    p=1,
    margin=1.0,
    weight=None,
    size_average=None,
    reduce=None,
    reduction="mean",
):
    r"""The gradient of :func:`multi_margin_loss`: each violated wrong class (``z > 0``,
    strictly, as torch) gets ``+1`` (or ``2 z`` for ``p=2``); the true class minus their sum.

    Shapes:
        grad_output: a scalar, or (N,) (or ()) for reduction='none'
        returns: the input's shape
    Formula:
        grad[n, j] = weight[y[n]] / C * d[n, j] * grad_output[n], d[n, j] = [z > 0] or 2 max(z, 0)
        for j != y[n], d[n, y[n]] = -sum_{j != y[n]} d[n, j]
    Torch:
        autograd through torch.nn.functional.multi_margin_loss
    """
    x, t, z, rows, cols, wy, red = _margins(
        input, target, p, margin, weight, reduction, size_average, reduce
    )
    d = (z > 0).astype(x.dtype) if p == 1 else 2 * np.maximum(z, 0)
    d[rows, cols] = -d.sum(axis=1)
    g = upstream_grad(grad_output, red, t.shape, x.dtype)
    return (d * wy * g.reshape(-1, 1) / z.shape[1]).reshape(x.shape)


def _hinge_embedding_args(input, target, margin, reduction, size_average, reduce):
    x = any_float_array(input, "input")
    target = np.asarray(target) if isinstance(target, np.generic) else target
    if not isinstance(target, np.ndarray) or not (
        np.issubdtype(target.dtype, np.integer) or np.issubdtype(target.dtype, np.floating)
    ):
        raise TypeError("target must be a numpy array of numbers, 1 or -1")
    if target.shape != x.shape:
        raise ValueError(f"target must have the input's shape {x.shape}, got {target.shape}")
    reduction = check_reduction(reduction, size_average, reduce)
    return x, target, real(margin, "margin"), reduction


def hinge_embedding_loss(
    input, target, margin=1.0, size_average=None, reduce=None, reduction="mean"
):
    r"""The hinge embedding loss: ``input`` is usually a distance, to be small for similar
    pairs (target 1) and at least ``margin`` for dissimilar ones (target -1).

    Only targets of 1 and -1 make sense; torch's formula, kept here, adds both terms for any
    other value.

    Shapes:
        input: any shape
        target: the input's shape, 1 (similar) or -1 (dissimilar)
        returns: a scalar, or the input's shape for reduction='none'
    Formula:
        loss[i] = [y[i] != -1] x[i] + [y[i] != 1] max(0, margin - x[i])
    Torch:
        torch.nn.functional.hinge_embedding_loss
    """
    x, t, margin, red = _hinge_embedding_args(
        input, target, margin, reduction, size_average, reduce
    )
    loss = np.where(t != -1, x, 0) + np.where(t != 1, np.maximum(margin - x, 0), 0)
    return reduce_loss(loss.astype(x.dtype, copy=False), red)


def hinge_embedding_loss_backward(
    grad_output, input, target, margin=1.0, size_average=None, reduce=None, reduction="mean"
):
    r"""The gradient of :func:`hinge_embedding_loss`: 1 where ``target == 1``; -1 where
    ``target == -1`` and ``margin - input >= 0`` (torch's clamp passes the gradient at
    equality), else 0.

    Shapes:
        grad_output: a scalar, or the input's shape for reduction='none'
        returns: the input's shape
    Formula:
        grad[i] = ([y[i] != -1] - [y[i] != 1] [margin - x[i] >= 0]) grad_output
    Torch:
        autograd through torch.nn.functional.hinge_embedding_loss
    """
    x, t, margin, red = _hinge_embedding_args(
        input, target, margin, reduction, size_average, reduce
    )
    d = (t != -1).astype(x.dtype) - ((t != 1) & (margin - x >= 0)).astype(x.dtype)
    return d * upstream_grad(grad_output, red, x.shape, x.dtype)
