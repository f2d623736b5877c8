r"""Losses between distributions: the Kullback-Leibler divergence."""

from __future__ import annotations

import numpy as np
from scipy import special

from dlbook.scratch.losses.common import check_reduction, reduce_loss, same_shape, upstream_grad

__all__ = [
    "kl_div",
    "kl_div_backward",
]


def _kl_args(input, target, reduction, log_target, size_average, reduce):
    x, t, _ = same_shape(input, target)
    reduction = check_reduction(
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
    return reduce_loss(loss, red, divisor)


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
    return d * upstream_grad(grad_output, red, x.shape, x.dtype, divisor)
