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
import numbers

import numpy as np

from dlbook import checks
from dlbook.scratch.activation_layers import ReLU, ScaledTanh, Sigmoid, Tanh
from dlbook.scratch.conv import conv2d, conv2d_backward
from dlbook.scratch.layer_base import Layer, parameter_dtype
from dlbook.scratch.linear import linear, linear_backward
from dlbook.scratch.norm_layers import BatchNorm1d, BatchNorm2d, Dropout, LayerNorm
from dlbook.scratch.pool import avg_pool2d, avg_pool2d_backward, max_pool2d, max_pool2d_backward
from dlbook.shapes import same_padding

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
    """:func:`conv2d` with a weight ``(out, in/groups, kh, kw)`` and an optional bias, both
    uniform in ``±1/sqrt(fan_in)`` as torch starts them. ``rng`` (a NumPy generator) replaces
    torch's global one.

    ``padding_mode`` is torch's: ``'zeros'``, or ``'reflect'``, ``'replicate'`` or
    ``'circular'``, which pad the input with :func:`numpy.pad` first and then convolve with no
    padding; the backward adds each padded pixel's gradient back to the pixel it copies.

    Shapes:
        input: (N, C_in, H, W) or unbatched (C_in, H, W)
        returns: (N, C_out, H_out, W_out) (or unbatched)
    Formula:
        out[n, o, i, j] = bias[o] + sum_{c,u,v} w[o, c, u, v] x_pad[n, c, s i + d u, s j + d v]
    Torch:
        torch.nn.Conv2d
    """

    def __init__(
        self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
        bias=True, padding_mode="zeros", device=None, dtype=None, rng=None,
    ):  # fmt: skip
        super().__init__()
        dtype = parameter_dtype(device, dtype)
        kh, kw = checks.pair(kernel_size, "kernel_size", 1)
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"groups={groups} must divide in_channels and out_channels")
        if padding_mode not in _PAD_MODES:
            raise ValueError(
                f"padding_mode must be one of {tuple(_PAD_MODES)}, got {padding_mode!r}"
            )
        rng = checks.generator(rng)
        bound = 1 / math.sqrt(in_channels // groups * kh * kw)
        self.weight = _uniform(rng, (out_channels, in_channels // groups, kh, kw), bound, dtype)
        self.bias = _uniform(rng, (out_channels,), bound, dtype) if bias else None
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self.padding_mode = padding_mode
        self.params = [self.weight] + ([self.bias] if bias else [])

    def _conf(self):
        padding = self.padding if self.padding_mode == "zeros" else 0
        return self.stride, padding, self.dilation, self.groups

    def _pad_index(self, x):
        """For a non-zero padding mode: the padded plane as indices into the flat input plane."""
        checks.batched(x, "input")
        h, w = x.shape[-2:]
        kernel, dilation = self.weight.shape[2:], checks.pair(self.dilation, "dilation", 1)
        if self.padding == "same":
            if checks.pair(self.stride, "stride", 1) != (1, 1):
                raise ValueError("padding='same' needs stride=1")
            pads = [same_padding(k, d) for k, d in zip(kernel, dilation)]
        elif self.padding == "valid":
            pads = [(0, 0), (0, 0)]
        else:
            pads = [(p, p) for p in checks.pair(self.padding, "padding", 0)]
        for (before, after), n in zip(pads, (h, w)):
            if self.padding_mode == "reflect" and max(before, after) >= n:
                raise ValueError(
                    f"padding: reflect padding {max(before, after)} must be smaller than the "
                    f"input size {n}"
                )
            if self.padding_mode == "circular" and max(before, after) > n:
                raise ValueError(
                    f"padding: circular padding {max(before, after)} must be at most the input "
                    f"size {n}"
                )
        index = np.arange(h * w).reshape(h, w)
        return np.pad(index, pads, mode=_PAD_MODES[self.padding_mode])

    def _padded(self, x):
        if self.padding_mode == "zeros":
            return x, None
        index = self._pad_index(x)
        return x.reshape(x.shape[:-2] + (-1,))[..., index], index

    def forward(self, input):
        """Convolve ``x`` (padded by ``padding_mode``) and keep it for the backward pass."""
        x = input
        xp, _ = self._padded(x)
        out = conv2d(xp, self.weight, self.bias, *self._conf())
        self._input = x
        return out

    def backward(self, grad_output):
        """The gradient for the last forward's input; ``grads`` gets weight's (and bias's)."""
        x = self._saved_input()
        xp, index = self._padded(x)
        gx, gw, gb = conv2d_backward(grad_output, xp, self.weight, self.bias, *self._conf())
        if index is not None:  # a padded pixel is a copy: its gradient goes to the original
            flat = np.zeros(x.shape[:-2] + (x.shape[-2] * x.shape[-1],), dtype=x.dtype)
            np.add.at(flat, (Ellipsis, index), gx)
            gx = flat.reshape(x.shape)
        self.grads = [gw] + ([gb] if self.bias is not None else [])
        return gx

    def extra_repr(self):
        o, i, kh, kw = self.weight.shape
        return f"{i * self.groups}, {o}, kernel_size=({kh}, {kw}), stride={self.stride}"


# torch's padding modes, as numpy.pad names them
_PAD_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


class Linear(Layer):
    """:func:`linear` with a weight ``(out_features, in_features)`` and an optional bias, both
    uniform in ``±1/sqrt(in_features)`` as torch starts them. ``rng`` (a NumPy generator)
    replaces torch's global one.

    Shapes:
        input: (..., in_features)
        returns: (..., out_features)
    Formula:
        y = x W^T + b
    Torch:
        torch.nn.Linear
    """

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None, rng=None):
        super().__init__()
        dtype = parameter_dtype(device, dtype)
        rng = checks.generator(rng)
        bound = 1 / math.sqrt(in_features)
        self.weight = _uniform(rng, (out_features, in_features), bound, dtype)
        self.bias = _uniform(rng, (out_features,), bound, dtype) if bias else None
        self.params = [self.weight] + ([self.bias] if bias else [])

    def forward(self, input):
        """``x W^T + b``, keeping ``x`` for the backward pass."""
        x = input
        self._input = x
        return linear(x, self.weight, self.bias)

    def backward(self, grad_output):
        """The gradient for the last forward's input; ``grads`` gets weight's (and bias's)."""
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

    def forward(self, input):
        """Pool ``x`` and keep it for the backward pass."""
        x = input
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

    def forward(self, input):
        """Pool ``x`` and keep it for the backward pass."""
        x = input
        out = avg_pool2d(x, *self.conf)
        self._input = x
        return out

    def backward(self, grad_output):
        """The gradient for the input of the last forward."""
        return avg_pool2d_backward(grad_output, self._saved_input(), *self.conf)

    def extra_repr(self):
        return f"kernel_size={self.conf[0]}, stride={self.conf[1] or self.conf[0]}"


class Flatten(Layer):
    """The axes ``start_dim`` to ``end_dim`` (both included) as one, and back in the backward
    pass: ``(N, C, H, W)`` to ``(N, C*H*W)`` with the defaults.

    Shapes:
        input: (d_0, ..., d_{k-1}), k >= 1
        returns: (d_0, ..., d_{start-1}, d_start * ... * d_end, d_{end+1}, ...)
    Formula:
        y = x.reshape(flattened shape)
    Torch:
        torch.nn.Flatten
    """

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def _shape(self, shape):
        n = max(len(shape), 1)  # torch treats a 0-D tensor as 1-D here
        dims = []
        for name, d in (("start_dim", self.start_dim), ("end_dim", self.end_dim)):
            if isinstance(d, (bool, np.bool_)) or not isinstance(d, numbers.Integral):
                raise TypeError(f"{name} must be an int, got {d!r}")
            if not -n <= d < n:
                raise ValueError(
                    f"{name} must be in [{-n}, {n - 1}] for a {len(shape)}-D input, got {d}"
                )
            dims.append(int(d) % n)
        start, end = dims
        if start > end:
            raise ValueError(f"start_dim {self.start_dim} comes after end_dim {self.end_dim}")
        if not shape:
            return (1,)
        return shape[:start] + (math.prod(shape[start : end + 1]),) + shape[end + 1 :]

    def forward(self, input):
        """``x`` with the axes ``start_dim..end_dim`` merged into one."""
        x = input
        if not isinstance(x, np.ndarray):
            raise TypeError(f"input must be a numpy.ndarray, got {type(x).__name__}")
        out = x.reshape(self._shape(x.shape))
        self._input = x
        return out

    def backward(self, grad_output):
        """``grad_output`` in the last forward's input shape."""
        return grad_output.reshape(self._saved_input().shape)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Sequential(Layer):
    """Layers in a row. ``params`` and ``grads`` are the layers' lists, concatenated in order.

    Shapes:
        input: what the first layer takes
        returns: what the last layer returns
    Formula:
        y = layer_k(... layer_2(layer_1(x))); the backward runs the layers in reverse
    Torch:
        torch.nn.Sequential
    """

    def __init__(self, *args: Layer):
        super().__init__()
        for i, layer in enumerate(args):
            if not isinstance(layer, Layer):
                raise TypeError(f"layers[{i}] must be a dlbook.scratch layer, got {layer!r}")
        self.layers = list(args)
        self.params = [p for layer in self.layers for p in layer.params]

    @property
    def grads(self):
        return [g for layer in self.layers for g in layer.grads]

    @grads.setter
    def grads(self, value):  # Layer.__init__ assigns an empty list; the layers own the grads
        pass

    def forward(self, input):
        """Each layer's forward in turn."""
        x = input
        for layer in self.layers:
            x = layer(x)
        return x

    def backward(self, grad_output):
        """Each layer's backward, last layer first; returns the gradient for the input."""
        for layer in reversed(self.layers):
            grad_output = layer.backward(grad_output)
        return grad_output

    def train(self, mode: bool = True) -> Sequential:
        """Training or evaluation mode for every layer."""
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
