"""Layer objects for normalization and dropout (see :mod:`dlbook.scratch.layers` for the
protocol: ``forward``, ``backward``, ``params``, ``grads``, ``train()``/``eval()``). They keep
running statistics and masks between the forward and the backward pass."""

from __future__ import annotations

import numpy as np

from dlbook import checks
from dlbook.scratch.dropout import dropout_mask
from dlbook.scratch.layer_base import Layer, parameter_dtype
from dlbook.scratch.norm import batch_norm, batch_norm_backward, layer_norm, layer_norm_backward

__all__ = ["BatchNorm1d", "BatchNorm2d", "LayerNorm", "Dropout"]


class _BatchNorm(Layer):
    """``batch_norm`` with a per-channel scale ``weight`` (ones) and shift ``bias`` (zeros), and
    the buffers ``running_mean`` (zeros), ``running_var`` (ones) and ``num_batches_tracked``.

    As ``torch.nn.BatchNorm*d``: training mode normalizes with the batch's statistics and moves
    the running ones toward them; evaluation mode uses the running ones.
    ``track_running_stats=False`` keeps no buffers and always uses the batch's statistics.
    ``momentum=None`` makes the running statistics a plain average of every batch so far (the
    factor is ``1 / num_batches_tracked``). ``affine=False`` has neither weight nor bias;
    ``bias=False`` keeps the weight and leaves the bias out.

    Shapes:
        input: (N, C, ...) with C = num_features
        returns: the input's shape
    Formula:
        y = (x - mean) / sqrt(var + eps) * weight + bias, per channel
    Torch:
        torch.nn.BatchNorm1d, torch.nn.BatchNorm2d
    """

    ndims: tuple[int, ...] = ()

    def __init__(
        self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
        device=None, dtype=None, *, bias=True,
    ):  # fmt: skip
        super().__init__()
        dtype = parameter_dtype(device, dtype)
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.weight = np.ones(num_features, dtype) if affine else None
        self.bias = np.zeros(num_features, dtype) if affine and bias else None
        self.params = [a for a in (self.weight, self.bias) if a is not None]
        self.track_running_stats = track_running_stats
        self.running_mean = np.zeros(num_features, dtype) if track_running_stats else None
        self.running_var = np.ones(num_features, dtype) if track_running_stats else None
        self.num_batches_tracked = 0 if track_running_stats else None

    def forward(self, input):
        """Normalize ``x`` (updating the running statistics in training mode)."""
        x = input
        checks.float_array(x, "input", self.ndims)
        update = self.training and self.track_running_stats
        batches = self.num_batches_tracked + 1 if update else self.num_batches_tracked
        factor = self.momentum
        if factor is None:  # torch's cumulative average; 0.0 when nothing is updated
            factor = 1.0 / batches if update else 0.0
        stats = (self.running_mean, self.running_var)
        if self.training and not self.track_running_stats:
            stats = (None, None)
        use_batch_stats = self.training or self.running_mean is None
        conf = (*stats, self.weight, self.bias, use_batch_stats, factor, self.eps)
        out = batch_norm(x, *conf)  # a bad input raises here, before any state changes
        self._conf, self._input, self.num_batches_tracked = conf, x, batches
        return out

    def backward(self, grad_output):
        """The gradient for the last forward's input; ``grads`` gets weight's and bias's."""
        gx, gw, gb = batch_norm_backward(grad_output, self._saved_input(), *self._conf)
        self.grads = [a for a in (gw, gb) if a is not None]
        return gx

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


class BatchNorm1d(_BatchNorm):
    """Batch norm of ``(N, C)`` or ``(N, C, L)`` inputs, per channel ``C``.

    Shapes:
        input: (N, C) or (N, C, L), C = num_features
        returns: the input's shape
    Formula:
        y = (x - mean) / sqrt(var + eps) * weight + bias, statistics over N (and L) per channel
    Torch:
        torch.nn.BatchNorm1d
    """

    ndims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch norm of ``(N, C, H, W)`` images, per channel ``C``.

    Shapes:
        input: (N, C, H, W), C = num_features
        returns: the input's shape
    Formula:
        y = (x - mean) / sqrt(var + eps) * weight + bias, statistics over N, H, W per channel
    Torch:
        torch.nn.BatchNorm2d
    """

    ndims = (4,)


class LayerNorm(Layer):
    """``layer_norm`` over the last ``len(normalized_shape)`` axes, with an elementwise scale
    (ones) and shift (zeros) of shape ``normalized_shape`` when ``elementwise_affine``. ``bias=
    False`` leaves the shift out, as in ``torch.nn.LayerNorm``. Training and evaluation agree.

    Shapes:
        input: (*, *normalized_shape)
        returns: the input's shape
    Formula:
        y = (x - mean) / sqrt(var + eps) * weight + bias, statistics over the normalized axes
    Torch:
        torch.nn.LayerNorm
    """

    def __init__(
        self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, device=None,
        dtype=None,
    ):  # fmt: skip
        super().__init__()
        dtype = parameter_dtype(device, dtype)
        if isinstance(normalized_shape, (int, np.integer)):
            normalized_shape = (normalized_shape,)
        self.normalized_shape, self.eps = tuple(normalized_shape), eps
        shape = self.normalized_shape
        self.weight = np.ones(shape, dtype) if elementwise_affine else None
        self.bias = np.zeros(shape, dtype) if elementwise_affine and bias else None
        self.params = [a for a in (self.weight, self.bias) if a is not None]

    def _conf(self):
        return self.normalized_shape, self.weight, self.bias, self.eps

    def forward(self, input):
        """Normalize ``x`` over its last ``len(normalized_shape)`` axes."""
        x = input
        self._input = x
        return layer_norm(x, *self._conf())

    def backward(self, grad_output):
        """The gradient for the last forward's input; ``grads`` gets weight's and bias's."""
        gx, gw, gb = layer_norm_backward(grad_output, self._saved_input(), *self._conf())
        self.grads = [a for a in (gw, gb) if a is not None]
        return gx

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}"


class Dropout(Layer):
    """Inverted dropout that keeps its mask (from ``dropout_mask``) for the backward pass.

    Training mode: ``x * mask``, with a new mask drawn from ``rng`` on every forward
    (``inplace=True`` writes it into ``x`` and returns ``x``). Evaluation mode: the identity
    (``x`` itself comes back), and nothing is drawn.

    Shapes:
        input: any shape
        returns: the input's shape
    Formula:
        y = x * mask, mask = 1 / (1 - p) with probability 1 - p, else 0
    Torch:
        torch.nn.Dropout
    """

    def __init__(self, p=0.5, inplace=False, rng=None):
        super().__init__()
        self.p = checks.check_probability("p", p)
        self.inplace = bool(inplace)
        self.rng = checks.generator(rng)
        self.mask = None

    def forward(self, input):
        """Drop values of ``x`` with probability ``p`` (training mode), keeping the mask."""
        x = input
        checks.any_float_array(x, "input")
        self.mask = dropout_mask(x.shape, self.p, self.rng, x.dtype) if self.training else None
        self._input = x
        if self.mask is None:
            return x
        if self.inplace:
            x *= self.mask
            return x
        return x * self.mask

    def backward(self, grad_output):
        """``grad_output * mask``: the gradient flows only through the values that were kept."""
        self._saved_input()
        return grad_output if self.mask is None else grad_output * self.mask

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"
