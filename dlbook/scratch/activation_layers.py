"""Layer objects for the activations: each wraps a function of :mod:`dlbook.scratch.activations`
and keeps its input for the backward pass (see :mod:`dlbook.scratch.layer_base` for the protocol).
They are part of :mod:`dlbook.scratch.layers`' API too."""

from __future__ import annotations

from dlbook.scratch.activations import (
    relu,
    relu_backward,
    sigmoid,
    sigmoid_backward,
    tanh,
    tanh_backward,
)
from dlbook.scratch.layer_base import Layer

__all__ = ["ReLU", "Tanh", "Sigmoid", "ScaledTanh"]


class _Elementwise(Layer):
    fn = staticmethod(lambda x: x)
    fn_backward = staticmethod(lambda g, x: g)

    def forward(self, input):
        """The activation of every value of ``x``, keeping ``x`` for the backward pass."""
        x = input
        self._input = x
        return self.fn(x)

    def backward(self, grad_output):
        """``grad_output`` times the activation's derivative at the last forward's input."""
        return self.fn_backward(grad_output, self._saved_input())


class ReLU(_Elementwise):
    """:func:`relu` as a layer. ``inplace=True`` writes the result into the input and returns
    it, as torch does; the backward still works, since ``relu(x) > 0`` exactly where ``x > 0``.

    Shapes:
        input: any shape
        returns: the input's shape
    Formula:
        y = max(0, x)
    Torch:
        torch.nn.ReLU
    """

    fn, fn_backward = staticmethod(relu), staticmethod(relu_backward)

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = bool(inplace)

    def forward(self, input):
        """``max(0, x)``; in place when ``inplace``."""
        x = input
        self._input = x
        return relu(x, inplace=self.inplace)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class Tanh(_Elementwise):
    """:func:`tanh` as a layer.

    Shapes:
        input: any shape
        returns: the input's shape
    Formula:
        y = tanh(x)
    Torch:
        torch.nn.Tanh
    """

    fn, fn_backward = staticmethod(tanh), staticmethod(tanh_backward)


class Sigmoid(_Elementwise):
    """:func:`sigmoid` as a layer.

    Shapes:
        input: any shape
        returns: the input's shape
    Formula:
        y = 1 / (1 + exp(-x))
    Torch:
        torch.nn.Sigmoid
    """

    fn, fn_backward = staticmethod(sigmoid), staticmethod(sigmoid_backward)


class ScaledTanh(Layer):
    """LeCun's scaled tanh, the activation of the original LeNet-5.

    Shapes:
        input: any shape
        returns: the input's shape
    Formula:
        y = 1.7159 tanh(2 x / 3)
    Torch:
        none (torch has no such layer; dlbook.nets.ScaledTanh is the torch version)
    """

    A, S = 1.7159, 2.0 / 3.0

    def forward(self, input):
        """``A tanh(S x)``, keeping ``x`` for the backward pass."""
        x = input
        self._input = x
        return (self.A * tanh(x * x.dtype.type(self.S))).astype(x.dtype)

    def backward(self, grad_output):
        """``grad_output * A S (1 - tanh^2(S x))``."""
        x = self._saved_input()
        g = tanh_backward(grad_output * grad_output.dtype.type(self.A), x * x.dtype.type(self.S))
        return (g * g.dtype.type(self.S)).astype(x.dtype)
