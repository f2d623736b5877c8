r"""Loss functions from scratch, each beside its backward pass.

Each loss mirrors its ``torch.nn.functional`` namesake, with the same arguments in the same order
and the same defaults: a loss per element (or per sample), then a reduction, ``'mean'`` by
default (``'sum'`` and ``'none'`` too). Torch's deprecated ``size_average`` and ``reduce`` are
accepted as torch accepts them (with the same warning): when either is given it overrides
``reduction``, ``reduce=False`` meaning ``'none'``, else ``size_average=False`` meaning ``'sum'``.
Each ``<loss>_backward(grad_output, input, target, ...)`` takes the forward's arguments and
returns the gradient for ``input``; ``grad_output`` is a scalar (the upstream gradient of the
reduced loss; 1 when the loss is the end of the graph), or the per-element shape for
``reduction='none'``.

Losses on logits never exponentiate a large number: cross-entropy goes through
:func:`~dlbook.scratch.activations.log_softmax`, and the binary one uses
:math:`\log(1 + e^{x}) = \max(x, 0) + \log(1 + e^{-|x|})`, so logits of :math:`\pm 800` give
finite losses and gradients.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import special

from dlbook import checks
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
    "nll_loss",
    "nll_loss_backward",
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
    "binary_cross_entropy",
    "binary_cross_entropy_backward",
    "smooth_l1_loss",
    "smooth_l1_loss_backward",
    "huber_loss",
    "huber_loss_backward",
]

# --- reductions, and their gradients --------------------------------------------------------------


def _check_reduction(reduction, size_average=None, reduce=None, allowed=("mean", "sum", "none")):
    """The reduction to use: torch's legacy ``size_average``/``reduce``, when given, override it."""
    if size_average is not None or reduce is not None:
        for name, flag in (("size_average", size_average), ("reduce", reduce)):
            if flag is not None and not isinstance(flag, (bool, np.bool_)):
                raise TypeError(f"{name} must be None or a bool, got {flag!r}")
        warnings.warn(
            "size_average and reduce args will be deprecated, please use reduction instead "
            "(as in torch)",
            UserWarning,
            stacklevel=3,
        )
        if reduce is False:
            return "none"
        return "sum" if size_average is False else "mean"
    if not isinstance(reduction, str) or reduction not in allowed:
        raise ValueError(
            f"reduction must be one of {', '.join(map(repr, allowed))}, got {reduction!r}"
        )
    return reduction


def _reduce(loss: np.ndarray, reduction: str, divisor=None) -> np.ndarray:
    """Sum the per-element losses, or average them over ``divisor`` (all of them by default).
    A mean over nothing is NaN, as in torch."""
    if reduction == "none":
        return loss
    total = loss.sum()
    if reduction == "sum":
        return np.asarray(total)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(total / (loss.size if divisor is None else divisor), dtype=loss.dtype)


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
    if reduction == "sum":
        return g
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(g / (math.prod(shape) if divisor is None else divisor), dtype=dtype)


# --- argument checks ------------------------------------------------------------------------------


def _same_shape(input, target, weight=None):
    """``input`` and a floating ``target`` of its shape and dtype (torch would broadcast a
    mismatched target with only a warning; that is almost always a bug, so we refuse), and an
    optional element-wise ``weight`` of the same shape and dtype."""
    x, t = any_float_array(input, "input"), any_float_array(target, "target")
    if t.shape != x.shape:
        raise ValueError(f"target must have the input's shape {x.shape}, got {t.shape}")
    checks.same_dtype(x, t, "target")
    if weight is not None:
        weight = any_float_array(weight, "weight")
        if weight.shape != x.shape:
            raise ValueError(f"weight must have the input's shape {x.shape}, got {weight.shape}")
        checks.same_dtype(x, weight, "weight")
    return x, t, weight


def _class_axis(input, ndims=None):
    """``input`` holds scores per class along axis 1, or axis 0 for one unbatched sample."""
    x = any_float_array(input, "input")
    if x.ndim == 0 or (ndims is not None and x.ndim not in ndims):
        want = "(C,) or (N, C)" if ndims else "(C,), (N, C) or (N, C, d1, ...)"
        raise ValueError(f"input must be {want}, got shape {x.shape}")
    return x, (0 if x.ndim == 1 else 1)


def _class_weight(weight, x, axis):
    """A rescaling weight per class, ``(C,)``, of the input's dtype; ones when None."""
    c = x.shape[axis]
    if weight is None:
        return np.ones(c, dtype=x.dtype)
    weight = any_float_array(weight, "weight")
    if weight.shape != (c,):
        raise ValueError(f"weight must have one entry per class, shape ({c},), got {weight.shape}")
    checks.same_dtype(x, weight, "weight")
    return weight


def _class_indices(target, x, axis, ignore_index=None):
    """One integer class index in ``[0, C)`` (or ``ignore_index``) for every score vector."""
    target = np.asarray(target) if isinstance(target, np.generic) else target  # y[i] of an array
    if not isinstance(target, np.ndarray) or not np.issubdtype(target.dtype, np.integer):
        kind = target.dtype if isinstance(target, np.ndarray) else type(target).__name__
        raise TypeError(f"target must be a numpy array of integer class indices, got {kind}")
    want, c = x.shape[:axis] + x.shape[axis + 1 :], x.shape[axis]
    if target.shape != want:
        raise ValueError(f"target must have shape {want} for input {x.shape}, got {target.shape}")
    used = target[target != ignore_index] if ignore_index is not None else target
    if used.size and (used.min() < 0 or used.max() >= c):
        also = f" (or ignore_index={ignore_index})" if ignore_index is not None else ""
        raise ValueError(
            f"target must hold class indices in [0, {c - 1}]{also}, "
            f"got values from {used.min()} to {used.max()}"
        )
    return target


# --- negative log-likelihood and cross-entropy ----------------------------------------------------


def _nll_args(
    input, target, weight, ignore_index, label_smoothing, reduction, size_average, reduce
):
    x, axis = _class_axis(input)
    reduction = _check_reduction(reduction, size_average, reduce)
    w = _class_weight(weight, x, axis)
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, np.integer)):
        raise TypeError(f"ignore_index must be an int, got {ignore_index!r}")
    eps = real(label_smoothing, "label_smoothing")
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"label_smoothing must be between 0 and 1, got {eps}")
    if isinstance(target, np.ndarray) and np.issubdtype(target.dtype, np.floating):
        if target.shape != x.shape:  # class probabilities, as torch allows
            raise ValueError(
                f"target (probabilities) must have shape {x.shape}, got {target.shape}"
            )
        checks.same_dtype(x, target, "target")
        if ignore_index >= 0:
            raise ValueError("ignore_index is not supported for class-probability targets")
        return x, target, axis, w, ignore_index, eps, reduction
    t = _class_indices(target, x, axis, ignore_index)
    return x, t, axis, w, ignore_index, eps, reduction


def _nll_grad(logp, t, axis, w, ignore_index, eps):
    r"""``G = -d loss_n / d logp[n, c]`` for every sample and class, and the mean's divisor.

    Class indices: :math:`G = (1 - \varepsilon) w_{y} [c = y] + \frac{\varepsilon}{C} w_c`, zero
    for an ignored sample; the mean divides by :math:`\sum_n w_{y_n}` over the kept samples.
    Probabilities: :math:`G = w_c q_c`, with :math:`q = (1 - \varepsilon) y + \varepsilon / C`;
    the mean divides by the number of samples.
    """
    shape = [1] * logp.ndim
    shape[axis] = -1
    wc, c = w.reshape(shape), logp.shape[axis]
    if np.issubdtype(t.dtype, np.floating):
        q = t * (1 - eps) + eps / c if eps else t
        return q * wc, math.prod(t.shape) // c
    keep = t != ignore_index
    tk = np.expand_dims(np.where(keep, t, 0), axis)
    onehot = np.zeros_like(logp)
    np.put_along_axis(onehot, tk, 1, axis)
    kept = np.expand_dims(keep, axis)
    g = ((1 - eps) * onehot * wc + (eps / c) * wc) * kept
    return g.astype(logp.dtype, copy=False), np.sum(w[tk.squeeze(axis)] * keep)


def _kept(d, up, t, axis, ignore_index):
    """``d`` times the upstream gradient of each sample; an ignored sample's gradient is 0, even
    when the mean's divisor is 0 (all ignored), as in torch."""
    with np.errstate(invalid="ignore"):
        grad = d * (np.expand_dims(up, axis) if up.ndim else up)
    if np.issubdtype(t.dtype, np.floating):
        return grad
    return np.where(np.expand_dims(t != ignore_index, axis), grad, 0).astype(grad.dtype)


def _nll_loss(logp, t, axis, w, ignore_index, eps, reduction):
    g, divisor = _nll_grad(logp, t, axis, w, ignore_index, eps)
    return _reduce(-np.sum(g * logp, axis=axis), reduction, divisor)


def nll_loss(
    input,
    target,
    weight=None,
    size_average=None,
    ignore_index=-100,
    reduce=None,
    reduction="mean",
):
    r"""Negative log-likelihood of log-probabilities: the loss of a sample is minus its
    true class's log-probability, rescaled by that class's weight.

    A target equal to ``ignore_index`` adds nothing, and its sample does not count in the mean,
    which divides by the weights of the kept targets (NaN when none is kept, as torch).

    Shapes:
        input: (N, C), (N, C, d1, ...) or unbatched (C,) log-probabilities
        target: (N,), (N, d1, ...) or () integer class indices in [0, C), or ignore_index
        weight: (C,) or None
        returns: a scalar, or (N, d1, ...) for reduction='none'
    Formula:
        loss[n] = -weight[y[n]] * input[n, y[n]];  mean = sum_n loss[n] / sum_n weight[y[n]]
    Torch:
        torch.nn.functional.nll_loss
    """
    x, t, axis, w, ii, _, red = _nll_args(
        input, target, weight, ignore_index, 0.0, reduction, size_average, reduce
    )
    if np.issubdtype(t.dtype, np.floating):
        raise TypeError("target must be a numpy array of integer class indices, got floating")
    return _nll_loss(x, t, axis, w, ii, 0.0, red)


def nll_loss_backward(
    grad_output,
    input,
    target,
    weight=None,
    size_average=None,
    ignore_index=-100,
    reduce=None,
    reduction="mean",
):
    r"""The gradient of :func:`nll_loss` for ``input``: minus the weight at the true class.

    Shapes:
        grad_output: a scalar, or (N, d1, ...) for reduction='none'
        returns: the input's shape
    Formula:
        grad[n, c] = -grad_output[n] * weight[c] * [c == y[n]] (divided as the mean divides)
    Torch:
        autograd through torch.nn.functional.nll_loss
    """
    x, t, axis, w, ii, _, red = _nll_args(
        input, target, weight, ignore_index, 0.0, reduction, size_average, reduce
    )
    if np.issubdtype(t.dtype, np.floating):
        raise TypeError("target must be a numpy array of integer class indices, got floating")
    g, divisor = _nll_grad(x, t, axis, w, ii, 0.0)
    up = _upstream(grad_output, red, t.shape, x.dtype, divisor)
    return _kept(-g, up, t, axis, ii)


def cross_entropy(
    input,
    target,
    weight=None,
    size_average=None,
    ignore_index=-100,
    reduce=None,
    reduction="mean",
    label_smoothing=0.0,
):
    r"""Softmax cross-entropy of logits: :func:`nll_loss` of
    :func:`~dlbook.scratch.activations.log_softmax` over the class axis.

    The target is class indices, or class probabilities (a float array of the input's shape).
    ``label_smoothing`` :math:`\varepsilon` mixes the target with the uniform distribution,
    :math:`q = (1 - \varepsilon) y + \varepsilon / C`; with a ``weight`` and class indices,
    torch's formula is kept exactly: the mean divides both parts by :math:`\sum_n w_{y_n}`.

    Shapes:
        input: (N, C), (N, C, d1, ...) or unbatched (C,) logits
        target: (N,), (N, d1, ...) or () class indices in [0, C) (or ignore_index); or class
            probabilities of the input's shape
        weight: (C,) or None
        returns: a scalar, or (N, d1, ...) for reduction='none'
    Formula:
        loss[n] = -sum_c weight[c] q[n, c] log softmax(x[n])[c],
        q[n, c] = (1 - eps) [c == y[n]] + eps / C for indices, (1 - eps) y[n, c] + eps / C else;
        mean = sum_n loss[n] / sum_n weight[y[n]] (indices) or / N d1 ... (probabilities)
    Torch:
        torch.nn.functional.cross_entropy
    """
    x, t, axis, w, ii, eps, red = _nll_args(
        input, target, weight, ignore_index, label_smoothing, reduction, size_average, reduce
    )
    return _nll_loss(log_softmax(x, axis), t, axis, w, ii, eps, red)


def cross_entropy_backward(
    grad_output,
    input,
    target,
    weight=None,
    size_average=None,
    ignore_index=-100,
    reduce=None,
    reduction="mean",
    label_smoothing=0.0,
):
    r"""The gradient of :func:`cross_entropy` for the logits: predicted minus true,
    :math:`\mathrm{softmax}(x_n) \sum_c G_{n,c} - G_n`, with :math:`G_n` the weighted (smoothed)
    target; for plain class indices, :math:`\mathrm{softmax}(x_n) - \mathrm{onehot}(y_n)`.

    Shapes:
        grad_output: a scalar, or (N, d1, ...) for reduction='none'
        returns: the input's shape
    Formula:
        grad[n] = grad_output[n] * (softmax(x[n]) * sum_c G[n, c] - G[n]),
        G[n, c] = weight[c] q[n, c] (zero for an ignored sample); divided as the mean divides
    Torch:
        autograd through torch.nn.functional.cross_entropy
    """
    x, t, axis, w, ii, eps, red = _nll_args(
        input, target, weight, ignore_index, label_smoothing, reduction, size_average, reduce
    )
    g, divisor = _nll_grad(x, t, axis, w, ii, eps)
    d = softmax(x, axis) * np.sum(g, axis=axis, keepdims=True) - g
    up = _upstream(grad_output, red, x.shape[:axis] + x.shape[axis + 1 :], x.dtype, divisor)
    return _kept(d, up, t, axis, ii)


# --- regression losses ----------------------------------------------------------------------------


def _pointwise(input, target, weight, reduction, size_average, reduce):
    x, t, w = _same_shape(input, target, weight)
    reduction = _check_reduction(reduction, size_average, reduce)
    return x, t, w, reduction, (None if w is None else w.sum())


def _weighted(loss, w):
    return loss if w is None else loss * w


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
    return _reduce(_weighted((x - t) ** 2, w), red, divisor)


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
    return _weighted(2 * (x - t), w) * _upstream(grad_output, red, x.shape, x.dtype, divisor)


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
    return _reduce(_weighted(np.abs(x - t), w), red, divisor)


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
    return _weighted(np.sign(x - t), w) * _upstream(grad_output, red, x.shape, x.dtype, divisor)


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
        return _reduce(d, red)
    return _reduce(np.where(d < beta, 0.5 * d * d / beta, d - 0.5 * beta), red)


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
    return np.where(np.abs(d) < beta, inner, np.sign(d)) * _upstream(
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
    return _reduce(_weighted(loss, w), red)


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
    return _weighted(grad, w) * _upstream(grad_output, red, x.shape, x.dtype)


# --- hinge losses ---------------------------------------------------------------------------------


def _margins(input, target, p, margin, weight, reduction, size_average, reduce):
    """Every wrong class's margin violation ``z[n, j] = margin - x[n, y_n] + x[n, j]``, 0 at the
    true class (which is not compared with itself); batched as ``(N, C)``; and the weight of
    each sample's true class."""
    x = any_float_array(input, "input")
    x1, axis = _class_axis(x.reshape(1) if x.ndim == 0 else x, ndims=(1, 2))  # () is one class
    if x1.ndim == 1 and isinstance(target, np.ndarray) and target.shape == (1,):
        t = _class_indices(target.reshape(()), x1, axis).reshape(1)  # torch takes (1,) too
    else:
        t = _class_indices(target, x1, axis)
    if isinstance(p, bool) or p not in (1, 2):
        raise ValueError(f"p must be 1 or 2, got {p!r}")
    reduction = _check_reduction(reduction, size_average, reduce)
    w = _class_weight(weight, x1, axis)
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
    return _reduce(loss.reshape(t.shape), red)


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
    g = _upstream(grad_output, red, t.shape, x.dtype)
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
    reduction = _check_reduction(reduction, size_average, reduce)
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
    return _reduce(loss.astype(x.dtype, copy=False), red)


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
    return d * _upstream(grad_output, red, x.shape, x.dtype)


# --- losses between distributions -----------------------------------------------------------------


def _kl_args(input, target, reduction, log_target, size_average, reduce):
    x, t, _ = _same_shape(input, target)
    reduction = _check_reduction(
        reduction, size_average, reduce, ("mean", "batchmean", "sum", "none")
    )
    if not isinstance(log_target, (bool, np.bool_)):
        raise TypeError(f"log_target must be a bool, got {log_target!r}")
    if not log_target and np.any(t < 0):
        raise ValueError(
            "target must hold probabilities (>= 0); for log-probabilities pass log_target=True"
        )
    # 'batchmean' divides by the batch size, the first dimension.
    batch = (x.shape[0] if x.ndim else 1) if reduction == "batchmean" else None
    return x, t, ("mean" if reduction == "batchmean" else reduction), batch


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    r"""Pointwise KL divergence, with ``input`` already **log**-probabilities and ``target``
    probabilities (log-probabilities with ``log_target=True``), and :math:`0 \log 0 = 0`.

    Careful: the default ``reduction='mean'`` averages over *all* elements, batch and classes, so
    it is not the KL divergence. ``reduction='batchmean'`` (sum over classes, mean over the
    batch) is; torch warns about this and plans to make 'mean' behave as 'batchmean'.

    Shapes:
        input: any shape, log-probabilities
        target: the input's shape
        returns: a scalar, or the input's shape for reduction='none'
    Formula:
        loss[i] = y[i] (log y[i] - x[i]), or e^{y[i]} (y[i] - x[i]) with log_target;
        batchmean = sum_i loss[i] / N
    Torch:
        torch.nn.functional.kl_div
    """
    x, t, red, divisor = _kl_args(input, target, reduction, log_target, size_average, reduce)
    loss = np.exp(t) * (t - x) if log_target else special.xlogy(t, t) - t * x
    return _reduce(loss, red, divisor)


def kl_div_backward(
    grad_output,
    input,
    target,
    size_average=None,
    reduce=None,
    reduction="mean",
    log_target=False,
):
    r"""The gradient of :func:`kl_div` for ``input``: minus the target probability.

    Shapes:
        grad_output: a scalar, or the input's shape for reduction='none'
        returns: the input's shape
    Formula:
        grad[i] = -y[i] grad_output (-e^{y[i]} with log_target), divided as the mean divides
    Torch:
        autograd through torch.nn.functional.kl_div
    """
    x, t, red, divisor = _kl_args(input, target, reduction, log_target, size_average, reduce)
    d = -np.exp(t) if log_target else -t
    return d * _upstream(grad_output, red, x.shape, x.dtype, divisor)


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
    return _reduce(loss if w is None else loss * w, red)


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
    d = d if w is None else d * w
    return d * _upstream(grad_output, red, x.shape, x.dtype)


def _bce_args(input, target, weight, pos_weight, reduction, size_average, reduce):
    x, t, _ = _same_shape(input, target)
    reduction = _check_reduction(reduction, size_average, reduce)
    out = []
    for name, w in (("weight", weight), ("pos_weight", pos_weight)):
        if w is not None:
            w = any_float_array(w, name)
            checks.same_dtype(x, w, name)
            try:
                fits = np.broadcast_shapes(w.shape, x.shape) == x.shape
            except ValueError:
                fits = False
            if not fits:
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
    return _reduce(loss if w is None else loss * w, red)


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
    d = d if w is None else d * w
    return d * _upstream(grad_output, red, x.shape, x.dtype)
