"""The protocol every NumPy layer object follows, in one class that the layer modules build on.

A layer has ``forward(x)`` (also ``layer(x)``), ``backward(grad_output)`` returning the gradient
for its input, and two lists: ``params`` (the arrays an optimizer updates in place) and ``grads``
(their gradients from the last backward, in the same order; overwritten, not accumulated).
:mod:`dlbook.scratch.layers`, :mod:`dlbook.scratch.norm_layers` and
:mod:`dlbook.scratch.recurrent_layers` all subclass :class:`Layer`; it lives here so that none
of them has to import another.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Layer", "parameter_dtype"]


class Layer:
    """The common part of every layer: no parameters, training mode on, ``layer(x)`` calls
    ``forward``.

    Shapes:
        params: list of arrays, updated in place by an optimizer
        grads: list of arrays, the same shapes and order as params
    Formula:
        none: a subclass's forward and backward say what it computes
    Torch:
        torch.nn.Module
    """

    def __init__(self):
        self.params: list[np.ndarray] = []
        self.grads: list[np.ndarray] = []
        self.training = True
        self._input = None

    def __call__(self, input: np.ndarray) -> np.ndarray:
        return self.forward(input)

    def train(self, mode: bool = True) -> Layer:
        """Training mode (``mode=True``) or evaluation mode; returns the layer, as torch does."""
        self.training = bool(mode)
        return self

    def eval(self) -> Layer:
        """Evaluation mode: ``train(False)``."""
        return self.train(False)

    def _saved_input(self) -> np.ndarray:
        if self._input is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        return self._input

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"

    def extra_repr(self) -> str:
        """What ``repr`` shows between the parentheses; empty here."""
        return ""


def parameter_dtype(device=None, dtype=None) -> np.dtype:
    """The dtype of a layer's parameters from torch's ``device`` and ``dtype`` arguments.

    NumPy arrays live on the CPU, so ``device`` may only be ``None`` or ``'cpu'``; ``dtype=None``
    means float32, torch's default dtype.

    Shapes:
        device: None or 'cpu'; dtype: None or a floating dtype
        returns: a numpy.dtype (float32 when dtype is None)
    Formula:
        none (argument checking)
    Torch:
        the factory_kwargs (device, dtype) of torch.nn layers
    """
    if device is not None and str(device) != "cpu":
        raise ValueError(
            f"device: NumPy layers live on the CPU; device must be None or 'cpu', got {device!r}"
        )
    dtype = np.dtype(np.float32 if dtype is None else dtype)
    if not np.issubdtype(dtype, np.floating):
        raise TypeError(f"dtype must be a floating dtype (float32 or float64), got {dtype}")
    return dtype
