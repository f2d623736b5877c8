r"""Recurrent layer objects (stacked, bidirectional), gradient clipping and truncated BPTT.

:class:`RNN`, :class:`LSTM` and :class:`GRU` mirror ``torch.nn.RNN``/``LSTM``/``GRU`` with the
default ``batch_first=False``: the same parameter names and shapes (``weight_ih_l0``,
``weight_hh_l0_reverse``, ...), the same order in ``params`` as ``module.parameters()``, and the
same ``output, state = layer(input, state)``. Layer :math:`l` reads the outputs of layer
:math:`l-1`; a bidirectional layer runs a second set of weights over the reversed sequence and
concatenates the two outputs feature-wise, forward direction first. The arithmetic is in
:func:`~dlbook.scratch.rnn.rnn`, :func:`~dlbook.scratch.lstm.lstm` and
:func:`~dlbook.scratch.gru.gru`; ``backward`` calls their BPTT, layer by layer from the top.

Copy a torch module's weights in with
``layer.load_state_dict({k: v.numpy() for k, v in module.state_dict().items()})``.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from dlbook.scratch import _args
from dlbook.scratch.gru import gru, gru_backward
from dlbook.scratch.layers import Layer
from dlbook.scratch.losses import cross_entropy, cross_entropy_backward
from dlbook.scratch.lstm import lstm, lstm_backward
from dlbook.scratch.rnn import check_nonlinearity, rnn, rnn_backward

__all__ = [
    "RNN",
    "LSTM",
    "GRU",
    "clip_grad_norm_",
    "clip_grad_value_",
    "tbptt_batches",
    "train_tbptt",
]


def _positive_int(value, name):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    return int(value)


class _Recurrent(Layer):
    """What the three layers share; a subclass says how many gates and how to call its cell."""

    gates, n_states = 1, 1

    def __init__(self, input_size, hidden_size, num_layers=1, *, bias=True, bidirectional=False,
                 dtype=np.float32, rng=None):  # fmt: skip
        super().__init__()
        self.input_size = _positive_int(input_size, "input_size")
        self.hidden_size = h = _positive_int(hidden_size, "hidden_size")
        self.num_layers = _positive_int(num_layers, "num_layers")
        self.bias, self.bidirectional = bool(bias), bool(bidirectional)
        self.directions = 2 if bidirectional else 1
        rng = np.random.default_rng() if rng is None else rng
        bound, rows = 1 / math.sqrt(h), self.gates * h  # torch: every parameter U(-1/sqrt(H), ..)
        self._weights = {}
        for layer in range(self.num_layers):
            d_in = self.input_size if layer == 0 else h * self.directions
            for suffix in ("", "_reverse")[: self.directions]:
                shapes = {"weight_ih": (rows, d_in), "weight_hh": (rows, h)}
                shapes.update({"bias_ih": (rows,), "bias_hh": (rows,)} if bias else {})
                for name, shape in shapes.items():
                    w = rng.uniform(-bound, bound, size=shape).astype(dtype)
                    self._weights[f"{name}_l{layer}{suffix}"] = w
        self.params = list(self._weights.values())
        self.grad_hx = None

    def __getattr__(self, name):  # layer.weight_ih_l0, as in torch
        weights = self.__dict__.get("_weights", {})
        if name in weights:
            return weights[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __setattr__(self, name, value):
        """``layer.weight_hh_l0 = a`` copies ``a`` into the parameter, in place: ``params``, the
        optimizer and ``named_params()`` keep seeing the same array. (A plain assignment would
        hide the parameter behind a new attribute, and training would silently ignore it.)"""
        weights = self.__dict__.get("_weights", {})
        if name not in weights:
            return super().__setattr__(name, value)
        a = np.asarray(value)
        if a.shape != weights[name].shape:
            raise ValueError(f"{name} must have shape {weights[name].shape}, got {a.shape}")
        weights[name][...] = a

    def named_params(self) -> dict[str, np.ndarray]:
        """The parameters by torch's names, in torch's order (the arrays themselves)."""
        return dict(self._weights)

    def load_state_dict(self, state) -> _Recurrent:
        """Copy arrays (e.g. a torch module's ``state_dict()``, as NumPy) in place, by name."""
        if set(state) != set(self._weights):
            raise ValueError(
                f"state must have exactly the keys {list(self._weights)}, got {list(state)}"
            )
        for name, p in self._weights.items():
            a = np.asarray(state[name])
            if a.shape != p.shape:
                raise ValueError(f"state[{name!r}] has shape {a.shape}, expected {p.shape}")
            p[...] = a
        return self

    def _cell_names(self, k):
        """The names of cell ``k``'s weights (``k = layer * directions + direction``)."""
        end = f"_l{k // self.directions}" + ("_reverse" if k % self.directions else "")
        return [name + end for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]

    def _cell_weights(self, k):
        return tuple(self._weights.get(name) for name in self._cell_names(k))

    def _states(self, hx, n, dtype, name="hx"):
        """The state ``hx`` as a tuple of ``(layers * directions, N, H)`` arrays (zeros for
        None), one for the RNN and GRU, ``(h, c)`` for the LSTM."""
        shape = (self.num_layers * self.directions, n, self.hidden_size)
        if hx is None:
            return tuple(np.zeros(shape, dtype) for _ in range(self.n_states))
        states = (hx,) if self.n_states == 1 else tuple(hx)
        for s in states:
            if not isinstance(s, np.ndarray) or s.shape != shape or s.dtype != dtype:
                got = getattr(s, "shape", type(s).__name__), getattr(s, "dtype", None)
                raise ValueError(f"{name} must hold {dtype} arrays of shape {shape}, got {got}")
        return states

    def forward(self, input, hx=None):
        """``input`` ``(T, N, input_size)``; ``hx`` the initial state, ``(layers * directions,
        N, H)``, a pair ``(h_0, c_0)`` of them for the LSTM, None for zeros. Returns ``(output,
        state)``: ``(T, N, directions * H)`` and the final state, shaped like ``hx``."""
        x, dtype = np.asarray(input), self.params[0].dtype
        if x.ndim != 3 or x.shape[-1] != self.input_size:
            raise ValueError(f"input must have shape (T, N, {self.input_size}), got {x.shape}")
        if x.dtype != dtype:
            raise TypeError(f"input has dtype {x.dtype} but the layer's parameters are {dtype}")
        states = self._states(hx, x.shape[1], dtype)
        finals = tuple(np.empty_like(s) for s in states)
        self._inputs, self._hx, self._given = [], states, hx is not None
        for layer in range(self.num_layers):
            self._inputs.append(x)  # what backward needs: each layer's input and initial state
            outs = []
            for d in range(self.directions):  # d = 1 reads the sequence backwards
                k, flip = layer * self.directions + d, slice(None, None, -1 if d else 1)
                out, final = self._cell(x[flip], tuple(s[k] for s in states), self._cell_weights(k))
                outs.append(out[flip])
                for f, value in zip(finals, final):
                    f[k] = value
            x = np.concatenate(outs, axis=-1)
        return x, finals[0] if self.n_states == 1 else finals

    def __call__(self, input, hx=None):
        return self.forward(input, hx)

    def backward(self, grad_output, grad_state=None):
        """BPTT through every layer and direction, top layer first. ``grad_output`` is the
        gradient of the output; ``grad_state`` that of the final state, shaped like it; either
        may be None (zeros). Returns the gradient of the input; fills ``grads`` (in ``params``'
        order) and ``grad_hx`` (shaped like ``hx``; None when ``hx`` was None)."""
        if not hasattr(self, "_inputs"):
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        t, n, h, dirs = *self._inputs[0].shape[:2], self.hidden_size, self.directions
        dtype = self._hx[0].dtype
        g = np.zeros((t, n, dirs * h), dtype) if grad_output is None else grad_output
        if not isinstance(g, np.ndarray) or g.shape != (t, n, dirs * h) or g.dtype != dtype:
            got = getattr(g, "shape", type(g).__name__), getattr(g, "dtype", None)
            raise ValueError(f"grad_output must be {dtype} of shape {(t, n, dirs * h)}, got {got}")
        g_finals = self._states(grad_state, n, dtype, "grad_state")
        g_hx, grads = tuple(np.empty_like(s) for s in self._hx), {}
        for layer in reversed(range(self.num_layers)):
            x, g_in = self._inputs[layer], 0
            for d in range(dirs):
                k, flip = layer * dirs + d, slice(None, None, -1 if d else 1)
                g_x, g_states, g_w = self._cell_backward(
                    g[flip, :, d * h : (d + 1) * h], x[flip], tuple(s[k] for s in self._hx),
                    self._cell_weights(k), tuple(s[k] for s in g_finals),
                )  # fmt: skip
                g_in = g_in + g_x[flip]  # both directions read the same input
                for out, value in zip(g_hx, g_states):
                    out[k] = value
                for name, value in zip(self._cell_names(k), g_w):
                    grads[name] = value
            g = g_in
        self.grads = [grads[name] for name in self._weights]
        self.grad_hx = (g_hx[0] if self.n_states == 1 else g_hx) if self._given else None
        return g

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}" + (
            ", bias=False" * (not self.bias) + ", bidirectional=True" * self.bidirectional
        )


class RNN(_Recurrent):
    """Stacked, optionally bidirectional Elman RNN; ``torch.nn.RNN``. ``state`` is ``h``."""

    def __init__(self, input_size, hidden_size, num_layers=1, *, nonlinearity="tanh", bias=True,
                 bidirectional=False, dtype=np.float32, rng=None):  # fmt: skip
        self.nonlinearity = check_nonlinearity(nonlinearity)
        super().__init__(input_size, hidden_size, num_layers, bias=bias,
                         bidirectional=bidirectional, dtype=dtype, rng=rng)  # fmt: skip

    def _cell(self, x, states, weights):
        out, h_n = rnn(x, *states, *weights, nonlinearity=self.nonlinearity)
        return out, (h_n,)

    def _cell_backward(self, g, x, states, weights, g_finals):
        grads = rnn_backward(g, x, *states, *weights, self.nonlinearity, grad_h_n=g_finals[0])
        return grads[0], grads[1:2], grads[2:]


class LSTM(_Recurrent):
    """Stacked, optionally bidirectional LSTM; ``torch.nn.LSTM``. ``state`` is ``(h, c)``."""

    gates, n_states = 4, 2

    def _cell(self, x, states, weights):
        out, h_n, c_n = lstm(x, *states, *weights)
        return out, (h_n, c_n)

    def _cell_backward(self, g, x, states, weights, g_finals):
        g_h, g_c = g_finals
        grads = lstm_backward(g, x, *states, *weights, grad_h_n=g_h, grad_c_n=g_c)
        return grads[0], grads[1:3], grads[3:]


class GRU(_Recurrent):
    """Stacked, optionally bidirectional GRU; ``torch.nn.GRU``. ``state`` is ``h``."""

    gates = 3

    def _cell(self, x, states, weights):
        out, h_n = gru(x, *states, *weights)
        return out, (h_n,)

    def _cell_backward(self, g, x, states, weights, g_finals):
        grads = gru_backward(g, x, *states, *weights, grad_h_n=g_finals[0])
        return grads[0], grads[1:2], grads[2:]


# --- gradient clipping ----------------------------------------------------------------------------


def _grad_list(grads):
    grads = [grads] if isinstance(grads, np.ndarray) else list(grads)
    grads = [g for g in grads if g is not None]  # torch skips parameters without a gradient
    for g in grads:
        if not isinstance(g, np.ndarray) or not np.issubdtype(g.dtype, np.floating):
            raise TypeError(f"grads must be floating numpy arrays (clipped in place), got {g!r}")
    return grads


def clip_grad_norm_(grads, max_norm, norm_type=2.0, error_if_nonfinite=False):
    r"""Rescale ``grads`` in place so that their joint norm is at most ``max_norm``; as
    ``torch.nn.utils.clip_grad_norm_``, which takes the parameters where this takes their
    gradients (a list of arrays, or one array).

    The joint norm is the ``norm_type``-norm of all the entries together (``inf``: the largest
    magnitude). Every gradient is multiplied by :math:`\min(1, \text{max\_norm} / (\text{norm} +
    10^{-6}))`: the direction is kept, only the length is capped. Returns the norm before
    clipping, as a float. Recurrent networks need this when their gradients explode.
    """
    grads, max_norm = _grad_list(grads), _args.real(max_norm, "max_norm")
    if max_norm < 0:
        raise ValueError(f"max_norm must be >= 0, got {max_norm}")
    p = float(norm_type)  # torch also takes the string 'inf'
    if not p > 0:
        raise ValueError(f"norm_type must be positive (or inf), got {norm_type!r}")
    if not grads:
        return 0.0
    norms = [np.max(np.abs(g), initial=0) if p == math.inf else np.linalg.norm(g.ravel(), p)
             for g in grads]  # fmt: skip
    norms = np.array(norms, dtype=grads[0].dtype)
    total = norms.max() if p == math.inf else np.linalg.norm(norms, p)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(
            f"the total norm of order {norm_type} of the gradients is {total}; "
            "pass error_if_nonfinite=False to clip anyway"
        )
    coef = min(max_norm / (float(total) + 1e-6), 1.0)
    for g in grads:
        g *= g.dtype.type(coef)
    return float(total)


def clip_grad_value_(grads, clip_value):
    """Clamp every gradient entry into ``[-clip_value, clip_value]``, in place; as
    ``torch.nn.utils.clip_grad_value_``. Unlike clipping by norm, this can turn the
    direction. Returns None."""
    clip_value = _args.real(clip_value, "clip_value")
    if clip_value < 0:
        raise ValueError(f"clip_value must be >= 0, got {clip_value}")
    for g in _grad_list(grads):
        np.clip(g, -clip_value, clip_value, out=g)


# --- truncated backpropagation through time -------------------------------------------------------


def tbptt_batches(sequence, length):
    """Cut ``sequence`` ``(T, ...)`` along time into consecutive chunks of ``length`` steps
    (views; the last chunk may be shorter)."""
    length = _positive_int(length, "length")
    for start in range(0, len(sequence), length):
        yield sequence[start : start + length]


def train_tbptt(model, readout, optimizer, inputs, targets, length, *, max_norm=None,
                clip_value=None, state=None):  # fmt: skip
    """One pass of truncated BPTT over long sequences, predicting a class at every step.

    ``model`` is an :class:`RNN`, :class:`LSTM` or :class:`GRU`; ``readout`` a layer (e.g.
    ``Linear(directions * H, C)``) from its outputs to class scores; ``optimizer`` holds
    ``model.params + readout.params``. ``inputs`` ``(T, N, D)`` and integer ``targets``
    ``(T, N)`` are cut into chunks of ``length`` steps. Each chunk starts from the previous
    chunk's final state, but its backward pass stops at the chunk's first step: the gradient of
    the initial state is dropped (that is the truncation; in NumPy there is no graph to
    detach). Gradients are clipped by value (``clip_value``), then by norm (``max_norm``),
    before each step.

    Returns ``(losses, grad_norms, state)``: the mean cross-entropy of each chunk, the gradient
    norm before norm clipping, and the final state (to continue from).
    """
    losses, norms = [], []
    for x, y in zip(tbptt_batches(inputs, length), tbptt_batches(targets, length)):
        out, state = model(x, state)
        logits, y = readout(out.reshape(-1, out.shape[-1])), y.reshape(-1)
        losses.append(float(cross_entropy(logits, y)))
        g = readout.backward(cross_entropy_backward(np.ones((), logits.dtype), logits, y))
        model.backward(g.reshape(out.shape))
        grads = model.grads + readout.grads
        if clip_value is not None:
            clip_grad_value_(grads, clip_value)
        norms.append(clip_grad_norm_(grads, math.inf if max_norm is None else max_norm))
        optimizer.step(grads)
    return losses, norms, state
