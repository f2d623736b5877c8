r"""Batch normalization and layer normalization from scratch, forward and backward.

Both standardize the input over some axes and then scale and shift it,

.. math:: \hat x = \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}}, \qquad y = \gamma \hat x + \beta,

with :math:`\mu` and :math:`\sigma^2` the mean and the *biased* variance over those axes. They
differ only in the axes:

* **batch norm** (Ioffe & Szegedy 2015): per channel, over the batch and every position, i.e. the
  axes ``(0, 2, 3, ...)`` of an ``(N, C, ...)`` input. In training mode it uses the batch's
  statistics and moves the running estimates toward them; in evaluation mode it uses the running
  estimates instead, so that one example's output no longer depends on the rest of its batch.
* **layer norm** (Ba, Kiros & Hinton 2016): per example, over the last few axes.

Mirrors ``torch.nn.functional.batch_norm`` and ``torch.nn.functional.layer_norm``.
"""

from __future__ import annotations

import numbers

import numpy as np

from dlbook import checks

__all__ = [
    "batch_norm",
    "batch_norm_backward",
    "batch_norm_naive",
    "layer_norm",
    "layer_norm_backward",
    "layer_norm_naive",
    "standardize_grad",
]


# --- argument checks ---------------------------------------------------------------------------


def _vector(v, name, shape, x):
    """``v`` is None, or an array of ``shape`` with ``x``'s dtype."""
    if v is None:
        return None
    checks.any_float_array(v, name)
    checks.same_dtype(x, v, name)
    if v.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {v.shape}")
    return v


def _check_batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps):
    """Check batch_norm's arguments. Returns the input, the number of values per channel, and
    momentum and eps as Python floats (a NumPy float64 eps would upcast a float32 input)."""
    x = checks.any_float_array(input, "input")
    if x.ndim < 2 and x.shape != (0,):  # torch takes a 1-D input only when it is empty
        raise ValueError(f"input must be (N, C, ...) with at least 2 dimensions, got {x.shape}")
    c = x.shape[1] if x.ndim >= 2 else 0
    if (running_mean is None) != (running_var is None):
        raise ValueError("running_mean and running_var must both be None or neither be None")
    if running_mean is None and not training:
        raise ValueError("running_mean and running_var must be given in evaluation mode")
    for v, name in ((running_mean, "running_mean"), (running_var, "running_var")):
        _vector(v, name, (c,), x)
        if v is not None and training and not v.flags.writeable:
            raise ValueError(f"{name} must be writeable: training mode updates it in place")
    _vector(weight, "weight", (c,), x)
    _vector(bias, "bias", (c,), x)
    if momentum is None:
        raise TypeError(
            "momentum must be a real number, got None: like torch.nn.functional.batch_norm, this "
            "function has no cumulative average; BatchNorm1d/BatchNorm2d(momentum=None) pass it "
            "1 / num_batches_tracked"
        )
    momentum, eps = checks.real(momentum, "momentum"), checks.real(eps, "eps")
    if eps <= 0 if training else eps < 0:
        want = "positive in training mode" if training else "non-negative"
        raise ValueError(f"eps must be {want}, got {eps}")
    count = x.size // c if c else 0
    if training and count == 1:
        raise ValueError(
            f"input: expected more than 1 value per channel when training, got input size "
            f"{x.shape} (its variance would be 0 and the running variance's n - 1 would be 0)"
        )
    return x, count, momentum, eps


def _per_channel(v, ndim):
    """``(C,)`` to ``(1, C, 1, ...)``, to broadcast against an ``(N, C, ...)`` array."""
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def _channel_axes(x):
    return (0,) + tuple(range(2, x.ndim))


# --- batch norm --------------------------------------------------------------------------------


def batch_norm(
    input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
    eps=1e-5,
):  # fmt: skip
    r"""Batch normalization. Mirrors ``torch.nn.functional.batch_norm``.

    Per channel :math:`c`, over its :math:`n = N \cdot L` (or :math:`N H W`) values:

    * ``training=True``: normalize with the batch mean :math:`\mu_c` and biased variance
      :math:`\sigma_c^2`, then update the running statistics **in place** (when given), as torch
      does, with the *unbiased* variance:
      ``running_mean = (1 - momentum) * running_mean + momentum * mu`` and
      ``running_var = (1 - momentum) * running_var + momentum * sigma2 * n / (n - 1)``.
      A batch of one value per channel (``n == 1``) is an error, as in torch.
    * ``training=False``: normalize with ``running_mean`` and ``running_var``; nothing changes.

    ``momentum`` must be a number: a cumulative average (torch's ``momentum=None``) is the layer's
    job (:class:`dlbook.scratch.layers.BatchNorm1d`), which passes ``1 / num_batches_tracked``.

    Shapes:
        input: (N, C), (N, C, L) or (N, C, H, W) (any (N, C, ...)), or an empty (0,)
        running_mean, running_var, weight, bias: (C,) or None
        returns: the input's shape
    Formula:
        y = (x - mean_c) / sqrt(var_c + eps) * weight[c] + bias[c], mean_c and (biased) var_c
        of channel c over the batch in training mode, the running ones otherwise
    Torch:
        torch.nn.functional.batch_norm
    """
    x, count, momentum, eps = _check_batch_norm(
        input, running_mean, running_var, weight, bias, training, momentum, eps
    )
    if x.ndim == 1:  # an empty (0,) input, which torch takes and returns as it is
        return np.empty_like(x)
    axes = _channel_axes(x)
    if training:
        if count == 0:  # an empty batch: torch returns it empty and leaves the statistics alone
            return np.empty_like(x)
        mean, var = x.mean(axis=axes), x.var(axis=axes)
        if running_mean is not None:
            running_mean[...] = (1 - momentum) * running_mean + momentum * mean
            running_var[...] = (1 - momentum) * running_var + momentum * var * (count / (count - 1))
    else:
        mean, var = running_mean, running_var
    x_hat = (x - _per_channel(mean, x.ndim)) / np.sqrt(_per_channel(var, x.ndim) + eps)
    return _affine(x_hat, weight, bias, lambda v: _per_channel(v, x.ndim))


def batch_norm_backward(
    grad_output, input, running_mean, running_var, weight=None, bias=None, training=False,
    momentum=0.1, eps=1e-5,
):  # fmt: skip
    r"""Gradients of :func:`batch_norm`: returns ``(grad_input, grad_weight, grad_bias)``.

    Never touches the running statistics: in training mode it recomputes the batch's. With
    :math:`g` the upstream gradient and :math:`\gamma` the weight (1 when ``None``):

    * ``grad_bias = sum(g)`` and ``grad_weight = sum(g * x_hat)`` over ``(N, L...)`` per channel;
    * ``training=False``: the statistics are constants, so ``grad_input = gamma * g / sqrt(var +
      eps)`` with the running variance;
    * ``training=True``: the mean and variance depend on every input of the channel, which adds
      two terms (see :func:`standardize_grad`).

    Shapes:
        grad_output, input: (N, C, ...), the same
        running_mean, running_var, weight, bias: (C,) or None
        returns: (grad_input, grad_weight, grad_bias), shaped as input, weight, bias
    Formula:
        training: grad_input = (g_hat - mean(g_hat) - x_hat mean(g_hat x_hat)) / sqrt(var + eps);
        evaluation: grad_input = g_hat / sqrt(running_var + eps); g_hat = weight * grad_output,
        grad_weight = sum(grad_output * x_hat), grad_bias = sum(grad_output), per channel
    Torch:
        autograd through torch.nn.functional.batch_norm
    """
    x, count, momentum, eps = _check_batch_norm(
        input, running_mean, running_var, weight, bias, training, momentum, eps
    )
    g = checks.check_grad_output(grad_output, x.shape, x.dtype)
    if x.ndim == 1:  # an empty (0,) input: every gradient is empty too
        return np.empty_like(x), *(None if v is None else np.zeros_like(v) for v in (weight, bias))
    axes = _channel_axes(x)
    if training:
        mean, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    else:
        mean, var = _per_channel(running_mean, x.ndim), _per_channel(running_var, x.ndim)
    inv_std = 1 / np.sqrt(var + eps)
    x_hat = (x - mean) * inv_std
    g_hat = g if weight is None else g * _per_channel(weight, x.ndim)
    if training:
        grad_input = standardize_grad(g_hat, x_hat, inv_std, axes)
    else:
        grad_input = g_hat * inv_std
    return (grad_input, *_affine_grads(g, x_hat, weight, bias, axes))


def batch_norm_naive(
    input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
    eps=1e-5,
):  # fmt: skip
    """:func:`batch_norm` one channel at a time, with the statistics written out. For reading.

    Shapes:
        input: (N, C, ...)
        running_mean, running_var, weight, bias: (C,) or None
        returns: the input's shape
    Formula:
        y = (x - mean_c) / sqrt(var_c + eps) * weight[c] + bias[c], one channel c at a time
    Torch:
        torch.nn.functional.batch_norm
    """
    x, count, momentum, eps = _check_batch_norm(
        input, running_mean, running_var, weight, bias, training, momentum, eps
    )
    out = np.empty_like(x)
    if x.ndim == 1:  # an empty (0,) input, which torch takes and returns as it is
        return out
    for c in range(x.shape[1]):
        values = x[:, c]  # every value of channel c: all examples, all positions
        n = values.size
        if training and n == 0:
            continue
        if training:
            mean = values.sum() / n
            var = ((values - mean) ** 2).sum() / n  # biased: the one used to normalize
            if running_mean is not None:
                unbiased = ((values - mean) ** 2).sum() / (n - 1)
                running_mean[c] = (1 - momentum) * running_mean[c] + momentum * mean
                running_var[c] = (1 - momentum) * running_var[c] + momentum * unbiased
        else:
            mean, var = running_mean[c], running_var[c]
        out[:, c] = (values - mean) / np.sqrt(var + eps)
        if weight is not None:
            out[:, c] *= weight[c]
        if bias is not None:
            out[:, c] += bias[c]
    return out


# --- shared by both norms ----------------------------------------------------------------------


def _affine(x_hat, weight, bias, shape):
    """``x_hat * weight + bias``, each reshaped by ``shape`` to broadcast; None leaves it out."""
    y = x_hat if weight is None else x_hat * shape(weight)
    return y if bias is None else y + shape(bias)


def _affine_grads(g, x_hat, weight, bias, axes):
    """``(grad_weight, grad_bias)``: sums of ``g * x_hat`` and ``g`` over the shared ``axes``."""
    gw = None if weight is None else (g * x_hat).sum(axis=axes).reshape(weight.shape)
    gb = None if bias is None else g.sum(axis=axes).reshape(bias.shape)
    return gw, gb


def standardize_grad(g_hat, x_hat, inv_std, axes):
    r"""The gradient through :math:`\hat x = (x - \mu) / \sqrt{\sigma^2 + \epsilon}` when
    :math:`\mu` and :math:`\sigma^2` are the mean and biased variance of ``x`` over ``axes``:
    the step that :func:`batch_norm_backward` and :func:`layer_norm_backward` share.

    Where :math:`\hat g = \partial L / \partial \hat x`, the two subtracted means are the
    paths through :math:`\mu` and through :math:`\sigma^2`.

    Shapes:
        g_hat, x_hat: the shape of x (dL/dx_hat, and x standardized)
        inv_std: 1 / sqrt(var + eps), the shape of x with size 1 along axes
        returns: dL/dx, the shape of x
    Formula:
        dL/dx = inv_std * (g_hat - mean(g_hat) - x_hat * mean(g_hat * x_hat)), means over axes
    Torch:
        none (a step inside autograd through torch.nn.functional.batch_norm and layer_norm)
    """
    mean_g = g_hat.mean(axis=axes, keepdims=True)
    mean_gx = (g_hat * x_hat).mean(axis=axes, keepdims=True)
    return inv_std * (g_hat - mean_g - x_hat * mean_gx)


# --- layer norm --------------------------------------------------------------------------------


def _is_int(s):
    return isinstance(s, numbers.Integral) and not isinstance(s, bool)


def _check_layer_norm(input, normalized_shape, weight, bias, eps):
    """Check layer_norm's arguments; return the input, the shape as a tuple, the axes and eps."""
    x = checks.any_float_array(input, "input")
    shape = (normalized_shape,) if isinstance(normalized_shape, numbers.Integral) else None
    if isinstance(normalized_shape, (tuple, list)):
        shape = tuple(normalized_shape)
    if not shape or not all(_is_int(s) for s in shape):
        raise TypeError(
            f"normalized_shape must be an int or a non-empty tuple of ints, "
            f"got {normalized_shape!r}"
        )
    shape = tuple(int(s) for s in shape)
    if x.ndim < len(shape) or x.shape[x.ndim - len(shape) :] != shape:
        raise ValueError(
            f"normalized_shape={shape}: expected input of shape (*, {', '.join(map(str, shape))})"
            f", got {x.shape}"
        )
    _vector(weight, "weight", shape, x)
    _vector(bias, "bias", shape, x)
    eps = checks.real(eps, "eps")  # any real, as in torch: var + eps < 0 gives NaN, as there
    return x, shape, tuple(range(x.ndim - len(shape), x.ndim)), eps


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    r"""Layer normalization. Mirrors ``torch.nn.functional.layer_norm``.

    Every example (every index into the leading ``*`` axes) is standardized over its last ``k``
    axes with its own mean and biased variance, then scaled by ``weight`` and shifted by ``bias``
    elementwise. Unlike batch norm there are no running statistics: training and evaluation are
    the same computation. ``eps`` may be 0 or negative, as in torch (where ``var + eps <= 0`` the
    output is NaN or infinite, as torch's is).

    Shapes:
        input: (*, *normalized_shape); normalized_shape: an int or a tuple, the last k sizes
        weight, bias: normalized_shape or None
        returns: the input's shape
    Formula:
        y = (x - mean) / sqrt(var + eps) * weight + bias, mean and (biased) var of each example
        over its last k axes
    Torch:
        torch.nn.functional.layer_norm
    """
    x, shape, axes, eps = _check_layer_norm(input, normalized_shape, weight, bias, eps)
    mean, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    return _affine((x - mean) / np.sqrt(var + eps), weight, bias, lambda v: v)


def layer_norm_backward(grad_output, input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Gradients of :func:`layer_norm`: returns ``(grad_input, grad_weight, grad_bias)``.

    The same standardization gradient as batch norm in training mode, taken over the normalized
    axes; ``grad_weight`` and ``grad_bias`` sum over the leading axes instead.

    Shapes:
        grad_output, input: (*, *normalized_shape), the same
        weight, bias: normalized_shape or None
        returns: (grad_input, grad_weight, grad_bias), shaped as input, weight, bias
    Formula:
        grad_input = (g_hat - mean(g_hat) - x_hat mean(g_hat x_hat)) / sqrt(var + eps) over the
        normalized axes, g_hat = weight * grad_output; grad_weight = sum(grad_output * x_hat),
        grad_bias = sum(grad_output) over the leading axes
    Torch:
        autograd through torch.nn.functional.layer_norm
    """
    x, shape, axes, eps = _check_layer_norm(input, normalized_shape, weight, bias, eps)
    g = checks.check_grad_output(grad_output, x.shape, x.dtype)
    mean, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    inv_std = 1 / np.sqrt(var + eps)
    x_hat = (x - mean) * inv_std
    g_hat = g if weight is None else g * weight
    grad_input = standardize_grad(g_hat, x_hat, inv_std, axes)
    leading = tuple(range(x.ndim - len(shape)))
    return (grad_input, *_affine_grads(g, x_hat, weight, bias, leading))


def layer_norm_naive(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """:func:`layer_norm` one example at a time, with the statistics written out. For reading.

    Shapes:
        input: (*, *normalized_shape)
        weight, bias: normalized_shape or None
        returns: the input's shape
    Formula:
        y = (x - mean) / sqrt(var + eps) * weight + bias, one example at a time
    Torch:
        torch.nn.functional.layer_norm
    """
    x, shape, _, eps = _check_layer_norm(input, normalized_shape, weight, bias, eps)
    out = np.empty_like(x)
    for index in np.ndindex(x.shape[: x.ndim - len(shape)]):
        values = x[index]  # one example: an array of normalized_shape
        mean = values.sum() / values.size
        var = ((values - mean) ** 2).sum() / values.size
        out[index] = (values - mean) / np.sqrt(var + eps)
        if weight is not None:
            out[index] *= weight
        if bias is not None:
            out[index] += bias
    return out
