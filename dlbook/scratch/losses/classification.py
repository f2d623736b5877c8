r"""Multi-class losses on class scores: the negative log-likelihood of log-probabilities, and
the softmax cross-entropy of logits (the negative log-likelihood of their
:func:`~dlbook.scratch.activations.log_softmax`).
"""

from __future__ import annotations

import math

import numpy as np

from dlbook import checks
from dlbook.scratch.activations import log_softmax, real, softmax
from dlbook.scratch.losses.common import (
    check_reduction,
    class_axis,
    class_indices,
    class_weight,
    reduce_loss,
    upstream_grad,
)

__all__ = [
    "nll_loss",
    "nll_loss_backward",
    "cross_entropy",
    "cross_entropy_backward",
]


def _nll_args(
    input, target, weight, ignore_index, label_smoothing, reduction, size_average, reduce
):
    x, axis = class_axis(input)
    reduction = check_reduction(reduction, size_average, reduce)
    w = class_weight(weight, x, axis)
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
    t = class_indices(target, x, axis, ignore_index)
    return x, t, axis, w, ignore_index, eps, reduction


def _nll_index_args(input, target, weight, ignore_index, reduction, size_average, reduce):
    """:func:`_nll_args` for :func:`nll_loss`, which takes class indices only (no smoothing)."""
    x, t, axis, w, ii, _, red = _nll_args(
        input, target, weight, ignore_index, 0.0, reduction, size_average, reduce
    )
    if np.issubdtype(t.dtype, np.floating):
        raise TypeError("target must be a numpy array of integer class indices, got floating")
    return x, t, axis, w, ii, red


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
    return reduce_loss(-np.sum(g * logp, axis=axis), reduction, divisor)


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
    x, t, axis, w, ii, red = _nll_index_args(
        input, target, weight, ignore_index, reduction, size_average, reduce
    )
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
    x, t, axis, w, ii, red = _nll_index_args(
        input, target, weight, ignore_index, reduction, size_average, reduce
    )
    g, divisor = _nll_grad(x, t, axis, w, ii, 0.0)
    up = upstream_grad(grad_output, red, t.shape, x.dtype, divisor)
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
    up = upstream_grad(grad_output, red, x.shape[:axis] + x.shape[axis + 1 :], x.dtype, divisor)
    return _kept(d, up, t, axis, ii)
