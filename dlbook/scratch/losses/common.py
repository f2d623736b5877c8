r"""What the losses share: the reduction of per-element losses (and its gradient), and the checks
of their arguments.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from dlbook import checks
from dlbook.scratch.activations import any_float_array, check_grad_output

__all__ = [
    "check_reduction",
    "weighted",
    "reduce_loss",
    "upstream_grad",
    "same_shape",
    "class_axis",
    "class_weight",
    "class_indices",
]


# --- reductions, and their gradients --------------------------------------------------------------


def check_reduction(reduction, size_average=None, reduce=None, allowed=("mean", "sum", "none")):
    """The reduction to use: torch's legacy ``size_average``/``reduce``, when given, override it
    (with torch's deprecation warning).

    Shapes:
        reduction: one of ``allowed``
        size_average, reduce: None or a bool
        returns: the reduction, a str
    Formula:
        reduce=False gives 'none'; else size_average=False gives 'sum'; else 'mean'
    Torch:
        none (the argument check of every loss in torch.nn.functional)
    """
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


def weighted(loss: np.ndarray, weight) -> np.ndarray:
    """Per-element losses (or their gradients) times an optional element-wise ``weight``.

    Shapes:
        loss: any shape
        weight: broadcastable to the loss's shape, or None (all ones)
        returns: the loss's shape
    Formula:
        weight[i] * loss[i], or loss[i] when weight is None
    Torch:
        none (the weight argument of torch.nn.functional's losses)
    """
    return loss if weight is None else loss * weight


def reduce_loss(loss: np.ndarray, reduction: str, divisor=None) -> np.ndarray:
    """Sum the per-element losses, or average them over ``divisor`` (all of them by default).
    A mean over nothing is NaN, as in torch.

    Shapes:
        loss: any shape, one loss per element (or per sample)
        divisor: a scalar, or None for loss.size
        returns: ``loss`` itself for reduction='none', else a scalar (0-d array)
    Formula:
        'sum': sum_i loss[i];  'mean': sum_i loss[i] / divisor
    Torch:
        none (the last step of every loss in torch.nn.functional)
    """
    if reduction == "none":
        return loss
    total = loss.sum()
    if reduction == "sum":
        return np.asarray(total)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(total / (loss.size if divisor is None else divisor), dtype=loss.dtype)


def upstream_grad(grad_output, reduction: str, shape: tuple, dtype, divisor=None) -> np.ndarray:
    """The gradient of the reduced loss for each per-element loss: ``grad_output`` itself for
    ``'none'``; for ``'sum'`` the scalar, shared by every element; for a mean, divided by the count.

    Shapes:
        grad_output: a scalar, or ``shape`` for reduction='none'
        returns: ``shape`` for reduction='none', else a scalar (0-d array) of ``dtype``
    Formula:
        'none': grad_output;  'sum': grad_output;  'mean': grad_output / divisor,
        divisor = prod(shape) by default
    Torch:
        none (the backward of reduce_loss, which autograd derives)
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


def same_shape(input, target, weight=None):
    """``input`` and a floating ``target`` of its shape and dtype (torch would broadcast a
    mismatched target with only a warning; that is almost always a bug, so we refuse), and an
    optional element-wise ``weight`` of the same shape and dtype.

    Shapes:
        input: any shape, floating
        target: the input's shape and dtype
        weight: the input's shape and dtype, or None
        returns: (input, target, weight) as arrays
    Formula:
        none (a check: the arguments come back unchanged)
    Torch:
        none (an argument check of the element-wise losses)
    """
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


def class_axis(input, ndims=None):
    """``input`` holds scores per class along axis 1, or axis 0 for one unbatched sample.

    Shapes:
        input: (C,), (N, C) or (N, C, d1, ...); only the numbers of dimensions in ``ndims``
            when it is given
        returns: (input as an array, its class axis)
    Formula:
        axis = 0 if input.ndim == 1 else 1
    Torch:
        none (an argument check of the losses on class scores)
    """
    x = any_float_array(input, "input")
    if x.ndim == 0 or (ndims is not None and x.ndim not in ndims):
        want = "(C,) or (N, C)" if ndims else "(C,), (N, C) or (N, C, d1, ...)"
        raise ValueError(f"input must be {want}, got shape {x.shape}")
    return x, (0 if x.ndim == 1 else 1)


def class_weight(weight, x, axis):
    """A rescaling weight per class, ``(C,)``, of the input's dtype; ones when None.

    Shapes:
        weight: (C,) or None
        x: the class scores, C = x.shape[axis]
        returns: (C,), of x's dtype
    Formula:
        weight, or ones(C) when None
    Torch:
        none (an argument check of the losses on class scores)
    """
    c = x.shape[axis]
    if weight is None:
        return np.ones(c, dtype=x.dtype)
    weight = any_float_array(weight, "weight")
    if weight.shape != (c,):
        raise ValueError(f"weight must have one entry per class, shape ({c},), got {weight.shape}")
    checks.same_dtype(x, weight, "weight")
    return weight


def class_indices(target, x, axis, ignore_index=None):
    """One integer class index in ``[0, C)`` (or ``ignore_index``) for every score vector.

    Shapes:
        target: x's shape without the class axis, integer
        x: the class scores, C = x.shape[axis]
        returns: target, as an array
    Formula:
        0 <= target < C wherever target != ignore_index
    Torch:
        none (an argument check of the losses on class scores)
    """
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
