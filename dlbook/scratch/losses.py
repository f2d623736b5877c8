r"""Loss functions from scratch, each beside its backward pass.

Each loss mirrors its ``torch.nn.functional`` namesake: a loss per element (or per sample), then
a reduction, ``'mean'`` by default (``'sum'`` and ``'none'`` too, keyword-only: torch's deprecated
``size_average`` and ``reduce`` sit before ``reduction``, so a positional reduction would mean
something else there). Each ``<loss>_backward(grad_output, ...)`` returns the gradient for
``input``; ``grad_output`` is a scalar (the upstream gradient of the reduced loss; 1 when the loss
is the end of the graph), or the per-element shape for ``reduction='none'``.

Losses on logits never exponentiate a large number: cross-entropy goes through
:func:`~dlbook.scratch.activations.log_softmax`, and the binary one uses
:math:`\log(1 + e^{x}) = \max(x, 0) + \log(1 + e^{-|x|})`, so logits of :math:`\pm 800` give
finite losses and gradients.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from dlbook.scratch import _args
from dlbook.scratch.activations import (
    any_float_array,
    check_grad_output,
    log_softmax,
    real,
    sigmoid,
    softmax,
)

__all__ = [
    "cross_entropy",
    "cross_entropy_backward",
    "mse_loss",
    "mse_loss_backward",
    "l1_loss",
    "l1_loss_backward",
    "multi_margin_loss",
    "multi_margin_loss_backward",
    "hinge_embedding_loss",
    "hinge_embedding_loss_backward",
    "kl_div",
    "kl_div_backward",
    "binary_cross_entropy_with_logits",
    "binary_cross_entropy_with_logits_backward",
]

# --- reductions, and their gradients --------------------------------------------------------------


def _check_reduction(reduction, allowed=("mean", "sum", "none")) -> str:
    if not isinstance(reduction, str) or reduction not in allowed:
        raise ValueError(
            f"reduction must be one of {', '.join(map(repr, allowed))}, got {reduction!r}"
        )
    return reduction


def _reduce(loss: np.ndarray, reduction: str, divisor=None) -> np.ndarray:
    """Sum the per-element losses, or average them over ``divisor`` (all of them by default)."""
    if reduction == "none":
        return loss
    total = loss.sum()
    return np.asarray(total if reduction == "sum" else total / (divisor or loss.size))


def _upstream(grad_output, reduction: str, shape: tuple, dtype, divisor=None) -> np.ndarray:
    """The gradient of the reduced loss for each per-element loss: ``grad_output`` itself for
    ``'none'``; for ``'sum'`` the scalar, shared by every element; for a mean, divided by the count.
    """
    if reduction == "none":
        return check_grad_output(grad_output, shape, dtype)
    if isinstance(grad_output, (np.ndarray, np.generic)):
        g = np.asarray(grad_output)
        if g.shape != ():
            raise ValueError(f"grad_output must be a scalar for reduction={reduction!r}")
        check_grad_output(g, (), dtype)
    elif isinstance(grad_output, (int, float)) and not isinstance(grad_output, bool):
        g = np.asarray(grad_output, dtype=dtype)
    else:
        raise TypeError(f"grad_output must be a scalar, got {type(grad_output).__name__}")
    return g if reduction == "sum" else g / (divisor or math.prod(shape))


# --- argument checks ------------------------------------------------------------------------------


def _same_shape(input, target, reduction, allowed=("mean", "sum", "none")):
    """``input`` and a floating ``target`` of its shape and dtype (torch would broadcast a
    mismatched target with only a warning; that is almost always a bug, so we refuse)."""
    x, t = any_float_array(input, "input"), any_float_array(target, "target")
    if t.shape != x.shape:
        raise ValueError(f"target must have the input's shape {x.shape}, got {t.shape}")
    _args.same_dtype(x, t, "target")
    _check_reduction(reduction, allowed)
    return x, t


def _class_axis(input, ndims=None):
    """``input`` holds scores per class along axis 1, or axis 0 for one unbatched sample."""
    x = any_float_array(input, "input")
    if x.ndim == 0 or (ndims is not None and x.ndim not in ndims):
        want = "(C,) or (N, C)" if ndims else "(C,), (N, C) or (N, C, d1, ...)"
        raise ValueError(f"input must be {want}, got shape {x.shape}")
    return x, (0 if x.ndim == 1 else 1)


def _class_indices(target, x, axis):
    """One integer class index in ``[0, C)`` for every score vector of ``x``."""
    target = np.asarray(target) if isinstance(target, np.generic) else target  # y[i] of an array
    if not isinstance(target, np.ndarray) or not np.issubdtype(target.dtype, np.integer):
        kind = target.dtype if isinstance(target, np.ndarray) else type(target).__name__
        raise TypeError(f"target must be a numpy array of integer class indices, got {kind}")
    want, c = x.shape[:axis] + x.shape[axis + 1 :], x.shape[axis]
    if target.shape != want:
        raise ValueError(f"target must have shape {want} for input {x.shape}, got {target.shape}")
    if target.size and (target.min() < 0 or target.max() >= c):
        raise ValueError(
            f"target must hold class indices in [0, {c - 1}], "
            f"got values from {target.min()} to {target.max()}"
        )
    return target


# --- cross-entropy --------------------------------------------------------------------------------


def _cross_entropy_args(input, target, reduction):
    x, axis = _class_axis(input)
    _check_reduction(reduction)
    if isinstance(target, np.ndarray) and np.issubdtype(target.dtype, np.floating):
        if target.shape != x.shape:  # class probabilities, as torch allows
            raise ValueError(
                f"target (probabilities) must have shape {x.shape}, got {target.shape}"
            )
        _args.same_dtype(x, target, "target")
        return x, target, axis
    return x, _class_indices(target, x, axis), axis


def cross_entropy(input, target, *, reduction="mean"):
    r"""Softmax cross-entropy of logits: :math:`\ell_n = -\log \mathrm{softmax}(x_n)_{y_n}
    = \log \sum_c e^{x_{n,c}} - x_{n, y_n}`. Mirrors ``torch.nn.functional.cross_entropy``.

    Shapes:
        input  ``(N, C)`` logits, ``(C,)`` for one sample, or ``(N, C, d1, ...)``
        target ``(N,)`` (``()``, ``(N, d1, ...)``) integer class indices in ``[0, C)``; or
               class probabilities of the input's shape, giving
               :math:`\ell_n = -\sum_c y_{n,c} \log \mathrm{softmax}(x_n)_c`
        returns a scalar, the mean over the samples (per sample with ``reduction='none'``)
    """
    x, t, axis = _cross_entropy_args(input, target, reduction)
    logp = log_softmax(x, axis)
    if np.issubdtype(t.dtype, np.floating):
        loss = -np.sum(t * logp, axis=axis)
    else:
        loss = -np.take_along_axis(logp, np.expand_dims(t, axis), axis).squeeze(axis)
    return _reduce(loss, reduction)


def cross_entropy_backward(grad_output, input, target, *, reduction="mean"):
    r""":math:`\partial \ell_n / \partial x_n = \mathrm{softmax}(x_n) - \mathrm{onehot}(y_n)`:
    predicted minus true, the same tidy form as for the sigmoid and the binary loss."""
    x, t, axis = _cross_entropy_args(input, target, reduction)
    d = softmax(x, axis)
    if np.issubdtype(t.dtype, np.floating):
        d = d * np.sum(t, axis=axis, keepdims=True) - t
    else:
        idx = np.expand_dims(t, axis)
        np.put_along_axis(d, idx, np.take_along_axis(d, idx, axis) - 1, axis)
    g = _upstream(grad_output, reduction, x.shape[:axis] + x.shape[axis + 1 :], x.dtype)
    return d * (np.expand_dims(g, axis) if g.ndim else g)


# --- regression losses ----------------------------------------------------------------------------


def mse_loss(input, target, *, reduction="mean"):
    r"""Mean squared error :math:`\frac1n \sum_i (x_i - y_i)^2`, any shape.
    Mirrors ``torch.nn.functional.mse_loss``."""
    x, t = _same_shape(input, target, reduction)
    return _reduce((x - t) ** 2, reduction)


def mse_loss_backward(grad_output, input, target, *, reduction="mean"):
    r""":math:`\frac2n (x_i - y_i)`: big errors pull hard."""
    x, t = _same_shape(input, target, reduction)
    return 2 * (x - t) * _upstream(grad_output, reduction, x.shape, x.dtype)


def l1_loss(input, target, *, reduction="mean"):
    r"""Mean absolute error :math:`\frac1n \sum_i |x_i - y_i|`, any shape.
    Mirrors ``torch.nn.functional.l1_loss``."""
    x, t = _same_shape(input, target, reduction)
    return _reduce(np.abs(x - t), reduction)


def l1_loss_backward(grad_output, input, target, *, reduction="mean"):
    r""":math:`\frac1n \operatorname{sign}(x_i - y_i)`, 0 where they are equal (as torch)."""
    x, t = _same_shape(input, target, reduction)
    return np.sign(x - t) * _upstream(grad_output, reduction, x.shape, x.dtype)


# --- hinge losses ---------------------------------------------------------------------------------


def _margins(input, target, p, margin, reduction):
    """Every wrong class's margin violation ``z[n, j] = margin - x[n, y_n] + x[n, j]``, 0 at the
    true class (which is not compared with itself); batched as ``(N, C)``."""
    x, axis = _class_axis(input, ndims=(1, 2))
    t = _class_indices(target, x, axis)
    if isinstance(p, bool) or p not in (1, 2):
        raise ValueError(f"p must be 1 or 2, got {p!r}")
    _check_reduction(reduction)
    x2, rows, cols = np.atleast_2d(x), np.arange(t.size), t.reshape(-1)
    z = real(margin, "margin") - x2[rows, cols][:, None] + x2
    z[rows, cols] = 0
    return x, t, z, rows, cols


def multi_margin_loss(input, target, p=1, margin=1.0, *, reduction="mean"):
    r"""The multi-class hinge of the Weston-Watkins SVM (a sum over the violating classes, divided
    by C; the Crammer-Singer form would take the maximum instead):
    :math:`\ell_n = \frac1C \sum_{j \ne y_n} \max(0,\ \text{margin} - x_{n,y_n} + x_{n,j})^p`.
    Mirrors ``torch.nn.functional.multi_margin_loss`` (``p`` is 1 or 2).

    Shapes: input ``(N, C)`` or ``(C,)``; target ``(N,)`` or ``()`` class indices.
    """
    x, t, z, _, _ = _margins(input, target, p, margin, reduction)
    loss = (np.maximum(z, 0) ** p).sum(axis=1) / x.shape[-1]
    return _reduce(loss.reshape(t.shape), reduction)


def multi_margin_loss_backward(grad_output, input, target, p=1, margin=1.0, *, reduction="mean"):
    """Each violated wrong class (``z > 0``, strictly, as torch) gets ``+1`` (or ``2 z`` for
    ``p=2``); the true class gets minus their sum."""
    x, t, z, rows, cols = _margins(input, target, p, margin, reduction)
    d = (z > 0).astype(x.dtype) if p == 1 else 2 * np.maximum(z, 0)
    d[rows, cols] = -d.sum(axis=1)
    g = _upstream(grad_output, reduction, t.shape, x.dtype)
    return (d * g.reshape(-1, 1) / x.shape[-1]).reshape(x.shape)


def _hinge_embedding_args(input, target, margin, reduction):
    x = any_float_array(input, "input")
    target = np.asarray(target) if isinstance(target, np.generic) else target
    if not isinstance(target, np.ndarray) or not (
        np.issubdtype(target.dtype, np.integer) or np.issubdtype(target.dtype, np.floating)
    ):
        raise TypeError("target must be a numpy array of numbers, 1 or -1")
    if target.shape != x.shape:
        raise ValueError(f"target must have the input's shape {x.shape}, got {target.shape}")
    if not np.all((target == 1) | (target == -1)):
        raise ValueError("target must hold only 1 (similar) and -1 (dissimilar)")
    _check_reduction(reduction)
    return x, target, real(margin, "margin")


def hinge_embedding_loss(input, target, margin=1.0, *, reduction="mean"):
    r""":math:`\ell_i = x_i` where :math:`y_i = 1`, :math:`\max(0, \text{margin} - x_i)` where
    :math:`y_i = -1`; ``input`` is usually a distance. Mirrors
    ``torch.nn.functional.hinge_embedding_loss``; any shape, target of ±1 of the same shape."""
    x, t, margin = _hinge_embedding_args(input, target, margin, reduction)
    return _reduce(np.where(t == 1, x, np.maximum(margin - x, 0)), reduction)


def hinge_embedding_loss_backward(grad_output, input, target, margin=1.0, *, reduction="mean"):
    """1 where ``target == 1``; -1 where ``target == -1`` and ``margin - input >= 0`` (torch's
    clamp passes the gradient at equality), else 0."""
    x, t, margin = _hinge_embedding_args(input, target, margin, reduction)
    d = np.where(t == 1, 1, np.where(margin - x >= 0, -1, 0)).astype(x.dtype)
    return d * _upstream(grad_output, reduction, x.shape, x.dtype)


# --- losses between distributions -----------------------------------------------------------------


def _kl_args(input, target, reduction, log_target):
    x, t = _same_shape(input, target, reduction, ("mean", "batchmean", "sum", "none"))
    if not isinstance(log_target, (bool, np.bool_)):
        raise TypeError(f"log_target must be a bool, got {log_target!r}")
    if not log_target and np.any(t < 0):
        raise ValueError(
            "target must hold probabilities (>= 0); for log-probabilities pass log_target=True"
        )
    # 'batchmean' divides by the batch size, the first dimension.
    return x, t, (x.shape[0] if reduction == "batchmean" and x.ndim else None)


def kl_div(input, target, *, reduction="mean", log_target=False):
    r"""Pointwise KL divergence :math:`y (\log y - x)`, with ``input`` :math:`x` already
    **log**-probabilities and ``target`` :math:`y` probabilities (log-probabilities with
    ``log_target=True``), and :math:`0 \log 0 = 0`. Mirrors ``torch.nn.functional.kl_div``.

    Careful: the default ``reduction='mean'`` averages over *all* elements, batch and classes, so
    it is not the KL divergence. ``reduction='batchmean'`` (sum over classes, mean over the
    batch) is; torch warns about this and plans to make 'mean' behave as 'batchmean'.
    """
    x, t, divisor = _kl_args(input, target, reduction, log_target)
    loss = np.exp(t) * (t - x) if log_target else special.xlogy(t, t) - t * x
    return _reduce(loss, reduction, divisor)


def kl_div_backward(grad_output, input, target, *, reduction="mean", log_target=False):
    r""":math:`-y` for each element (:math:`-e^{y}` with ``log_target=True``)."""
    x, t, divisor = _kl_args(input, target, reduction, log_target)
    d = -np.exp(t) if log_target else -t
    return d * _upstream(grad_output, reduction, x.shape, x.dtype, divisor)


def binary_cross_entropy_with_logits(input, target, *, reduction="mean"):
    r"""Binary cross-entropy of logits :math:`x` and targets :math:`y \in [0, 1]`:
    :math:`\ell = -y \log \sigma(x) - (1 - y) \log(1 - \sigma(x))
    = \max(x, 0) - x y + \log(1 + e^{-|x|})`, the last form free of overflow.
    Mirrors ``torch.nn.functional.binary_cross_entropy_with_logits``; any shape."""
    x, t = _same_shape(input, target, reduction)
    return _reduce(np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x))), reduction)


def binary_cross_entropy_with_logits_backward(grad_output, input, target, *, reduction="mean"):
    r""":math:`\sigma(x) - y`: predicted minus true."""
    x, t = _same_shape(input, target, reduction)
    return (sigmoid(x) - t) * _upstream(grad_output, reduction, x.shape, x.dtype)
