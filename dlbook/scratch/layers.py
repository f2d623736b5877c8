"""Layer objects: thin wrappers that remember their input and hold their parameters.

Each layer has ``forward(x)`` (also ``layer(x)``), ``backward(grad_output)`` returning the
gradient for its input, and two lists: ``params`` (the arrays an optimizer updates in place) and
``grads`` (their gradients from the last backward, in the same order; overwritten, not
accumulated). The arithmetic is all in the functions of :mod:`dlbook.scratch`; a layer only keeps
what its backward needs. That is enough to train LeNet-5 in NumPy:

>>> net = Sequential(Conv2d(1, 6, 5), ReLU(), MaxPool2d(2), Flatten(), Linear(6 * 12 * 12, 10))
>>> opt = optim.SGD(net.params, lr=0.1)                   # doctest: +SKIP
>>> loss = cross_entropy(net(x), y)                       # doctest: +SKIP
>>> net.backward(cross_entropy_backward(1.0, net(x), y)); opt.step(net.grads)  # doctest: +SKIP

Parameters start as torch's defaults do: weights and biases uniform in
:math:`\\pm 1/\\sqrt{\\text{fan\\_in}}` (what ``kaiming_uniform_(a=sqrt(5))`` works out to).
"""

from __future__ import annotations

import math

import numpy as np

from dlbook.scratch import _args
from dlbook.scratch.activations import (
    relu,
    relu_backward,
    sigmoid,
    sigmoid_backward,
    tanh,
    tanh_backward,
)
from dlbook.scratch.conv import conv2d, conv2d_backward
from dlbook.scratch.layer_base import Layer
from dlbook.scratch.linear import linear, linear_backward
from dlbook.scratch.norm_layers import BatchNorm1d, BatchNorm2d, Dropout, LayerNorm
from dlbook.scratch.pool import avg_pool2d, avg_pool2d_backward, max_pool2d, max_pool2d_backward

__all__ = [
    "Layer",
    "Conv2d",
    "Linear",
    "MaxPool2d",
    "AvgPool2d",
    "ReLU",
    "Tanh",
    "ScaledTanh",
    "Sigmoid",
    "Flatten",
    "Sequential",
    # Normalization and dropout layers live in norm_layers.py; they are part of this API too.
    "BatchNorm1d",
    "BatchNorm2d",
    "LayerNorm",
    "Dropout",
]


def _uniform(rng, shape, bound, dtype):
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


class Conv2d(Layer):
    """``conv2d`` with a weight ``(out, in/groups, kh, kw)`` and an optional bias."""

    def __init__(
        self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
        bias=True, dtype=np.float32, rng=None,
    ):  # fmt: skip
        super().__init__()
        kh, kw = _args.pair(kernel_size, "kernel_size", 1)
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"groups={groups} must divide in_channels and out_channels")
        rng = np.random.default_rng() if rng is None else rng
        bound = 1 / math.sqrt(in_channels // groups * kh * kw)
        self.weight = _uniform(rng, (out_channels, in_channels // groups, kh, kw), bound, dtype)
        self.bias = _uniform(rng, (out_channels,), bound, dtype) if bias else None
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self.params = [self.weight] + ([self.bias] if bias else [])

    def _conf(self):
        return self.stride, self.padding, self.dilation, self.groups

    def forward(self, x):
        self._input = x
        return conv2d(x, self.weight, self.bias, *self._conf())

    def backward(self, grad_output):
        gx, gw, gb = conv2d_backward(
            grad_output, self._saved_input(), self.weight, self.bias, *self._conf()
        )
        self.grads = [gw] + ([gb] if self.bias is not None else [])
        return gx

    def extra_repr(self):
        o, i, kh, kw = self.weight.shape
        return f"{i * self.groups}, {o}, kernel_size=({kh}, {kw}), stride={self.stride}"


class Linear(Layer):
    """``y = x W^T + b`` with ``W`` of shape ``(out_features, in_features)``."""

    def __init__(self, in_features, out_features, bias=True, dtype=np.float32, rng=None):
        super().__init__()
        rng = np.random.default_rng() if rng is None else rng
        bound = 1 / math.sqrt(in_features)
        self.weight = _uniform(rng, (out_features, in_features), bound, dtype)
        self.bias = _uniform(rng, (out_features,), bound, dtype) if bias else None
        self.params = [self.weight] + ([self.bias] if bias else [])

    def forward(self, x):
        self._input = x
        return linear(x, self.weight, self.bias)

    def backward(self, grad_output):
        gx, gw, gb = linear_backward(grad_output, self._saved_input(), self.weight, self.bias)
        self.grads = [gw] + ([gb] if self.bias is not None else [])
        return gx

    def extra_repr(self):
        return f"in_features={self.weight.shape[1]}, out_features={self.weight.shape[0]}"


class MaxPool2d(Layer):
    """:func:`max_pool2d` as a layer; no parameters.

    With ``return_indices=True`` the forward returns ``(output, indices)``, as torch's does; the
    backward still takes the gradient of ``output`` alone.

    Shapes:
        input: (N, C, H, W) or unbatched (C, H, W)
        returns: (N, C, H_out, W_out) (or unbatched); with return_indices, (output, indices)
    Formula:
        out[n, c, i, j] = max_{u,v} x_pad[n, c, s i + d u, s j + d v]
    Torch:
        torch.nn.MaxPool2d
    """

    def __init__(
        self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
        ceil_mode=False,
    ):  # fmt: skip
        super().__init__()
        # torch's layer puts return_indices before ceil_mode; the function puts it last.
        self.conf = (kernel_size, stride, padding, dilation, ceil_mode)
        self.return_indices = bool(return_indices)

    def forward(self, x):
        """Pool ``x`` and keep it for the backward pass."""
        out = max_pool2d(x, *self.conf, return_indices=self.return_indices)
        self._input = x
        return out

    def backward(self, grad_output):
        """The gradient for the input of the last forward."""
        return max_pool2d_backward(grad_output, self._saved_input(), *self.conf)

    def extra_repr(self):
        return f"kernel_size={self.conf[0]}, stride={self.conf[1] or self.conf[0]}"


class AvgPool2d(Layer):
    """:func:`avg_pool2d` as a layer; no parameters.

    Shapes:
        input: (N, C, H, W) or unbatched (C, H, W)
        returns: (N, C, H_out, W_out) (or unbatched)
    Formula:
        out[n, c, i, j] = sum_{u,v} x_pad[n, c, s i + u, s j + v] / D[i, j]
    Torch:
        torch.nn.AvgPool2d
    """

    def __init__(
        self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
        divisor_override=None,
    ):  # fmt: skip
        super().__init__()
        self.conf = (kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)

    def forward(self, x):
        """Pool ``x`` and keep it for the backward pass."""
        out = avg_pool2d(x, *self.conf)
        self._input = x
        return out

    def backward(self, grad_output):
        """The gradient for the input of the last forward."""
        return avg_pool2d_backward(grad_output, self._saved_input(), *self.conf)

    def extra_repr(self):
        return f"kernel_size={self.conf[0]}, stride={self.conf[1] or self.conf[0]}"


class _Elementwise(Layer):
    fn = staticmethod(lambda x: x)
    fn_backward = staticmethod(lambda g, x: g)

    def forward(self, x):
        self._input = x
        return self.fn(x)

    def backward(self, grad_output):
        return self.fn_backward(grad_output, self._saved_input())


class ReLU(_Elementwise):
    fn, fn_backward = staticmethod(relu), staticmethod(relu_backward)


class Tanh(_Elementwise):
    fn, fn_backward = staticmethod(tanh), staticmethod(tanh_backward)


class Sigmoid(_Elementwise):
    fn, fn_backward = staticmethod(sigmoid), staticmethod(sigmoid_backward)


class ScaledTanh(Layer):
    """LeCun's ``1.7159 tanh(2x/3)`` (as :class:`dlbook.nets.ScaledTanh`)."""

    A, S = 1.7159, 2.0 / 3.0

    def forward(self, x):
        self._input = x
        return (self.A * tanh(x * x.dtype.type(self.S))).astype(x.dtype)

    def backward(self, grad_output):
        x = self._saved_input()
        g = tanh_backward(grad_output * grad_output.dtype.type(self.A), x * x.dtype.type(self.S))
        return (g * g.dtype.type(self.S)).astype(x.dtype)


class Flatten(Layer):
    """``(N, C, H, W)`` to ``(N, C*H*W)``, and back in the backward pass."""

    def forward(self, x):
        self._input = x
        return x.reshape(len(x), -1)

    def backward(self, grad_output):
        return grad_output.reshape(self._saved_input().shape)


class Sequential(Layer):
    """Layers in a row. ``params`` and ``grads`` are the layers' lists, concatenated in order."""

    def __init__(self, *layers: Layer):
        super().__init__()
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"layers[{i}] must be a dlbook.scratch layer, got {layer!r}")
        self.layers = list(layers)
        self.params = [p for layer in self.layers for p in layer.params]

    @property
    def grads(self):
        return [g for layer in self.layers for g in layer.grads]

    @grads.setter
    def grads(self, value):  # Layer.__init__ assigns an empty list; the layers own the grads
        pass

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def backward(self, grad_output):
        for layer in reversed(self.layers):
            grad_output = layer.backward(grad_output)
        return grad_output

    def train(self, mode: bool = True) -> Sequential:
        super().train(mode)
        for layer in self.layers:
            layer.train(mode)
        return self

    def set_params(self, arrays) -> Sequential:
        """Copy ``arrays`` (e.g. a torch model's parameters, as NumPy) into ``params``, in order
        and in place, so that both hold the same weights."""
        arrays = list(arrays)
        if len(arrays) != len(self.params):
            raise ValueError(f"arrays: expected {len(self.params)} arrays, got {len(arrays)}")
        for i, (p, a) in enumerate(zip(self.params, arrays)):
            a = np.asarray(a)
            if a.shape != p.shape:
                raise ValueError(f"arrays[{i}] has shape {a.shape}, expected {p.shape}")
            p[...] = a
        return self

    def __getitem__(self, i):
        return self.layers[i]

    def __len__(self):
        return len(self.layers)

    def __repr__(self):
        inner = "\n".join(f"  ({i}): {layer!r}" for i, layer in enumerate(self.layers))
        return f"Sequential(\n{inner}\n)"
