r"""Recurrent layer objects: stacked, bidirectional, with torch's layout.

:class:`RNN`, :class:`LSTM` and :class:`GRU` mirror ``torch.nn.RNN``/``LSTM``/``GRU``: the same
constructor (``num_layers``, ``bias``, ``batch_first``, ``dropout``, ``bidirectional``, the
LSTM's ``proj_size``), the same parameter names and shapes (``weight_ih_l0``,
``weight_hh_l0_reverse``, ``weight_hr_l0``, ...), the same order in ``params`` as
``module.parameters()``, and the same ``output, state = layer(input, state)``, unbatched input
included. Layer :math:`l` reads the outputs of layer :math:`l-1` (through dropout while
training); a bidirectional layer runs a second set of weights over the reversed sequence and
concatenates the two outputs feature-wise, forward direction first. The arithmetic is in
:func:`~dlbook.scratch.rnn.rnn`, :func:`~dlbook.scratch.lstm.lstm` and
:func:`~dlbook.scratch.gru.gru`; ``backward`` calls their BPTT, layer by layer from the top.

Copy a torch module's weights in with
``layer.load_state_dict({k: v.numpy() for k, v in module.state_dict().items()})``.
"""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from dlbook import checks
from dlbook.checks import check_int
from dlbook.scratch.dropout import dropout_mask
from dlbook.scratch.gru import gru, gru_backward
from dlbook.scratch.layers import Layer
from dlbook.scratch.lstm import lstm, lstm_backward
from dlbook.scratch.rnn import check_nonlinearity, rnn, rnn_backward

__all__ = [
    "RNNBase",
    "RNN",
    "LSTM",
    "GRU",
]


def _flag(value, name):
    if not isinstance(value, (bool, np.bool_)):  # torch: "bias should be of type bool"
        raise TypeError(f"{name} must be a bool, got {value!r}")
    return bool(value)


def _factory(device, dtype):
    """The parameters' NumPy dtype for torch's ``device`` and ``dtype`` arguments."""
    if device not in (None, "cpu"):
        raise ValueError(f"device must be None or 'cpu' (NumPy arrays live there), got {device!r}")
    try:
        dtype = np.dtype(np.float32 if dtype is None else dtype)
    except TypeError:
        dtype = None
    if dtype is None or not np.issubdtype(dtype, np.floating):
        raise ValueError(f"dtype must be None (float32) or a NumPy floating dtype, got {dtype!r}")
    return dtype


class RNNBase(Layer):
    """What RNN, LSTM and GRU share: the constructor, the parameters, and the loops over layers
    and directions in ``forward`` and ``backward``. A subclass only says how many weight blocks
    its cell has (``gates``), how many states it carries (``n_states``), and which function
    computes the cell (``_cell``) and its BPTT (``_cell_backward``).

    Shapes:
        input: (T, N, input_size), (N, T, input_size) with batch_first, or unbatched
            (T, input_size)
        state: n_states arrays of (num_layers * directions, N, size), without N when unbatched
        returns: (output, state): output (T, N, directions * P) laid out like input, P =
            proj_size or H
    Formula:
        z^(0) = x; z^(l+1)_t = [cell_l(z^(l)_t, h_{t-1}) ; cell_l_reverse(z^(l)_t, h_{t+1})];
        output = z^(num_layers), with dropout on z^(l) for 0 < l while training
    Torch:
        torch.nn.RNNBase (which takes the cell as a mode string; here a subclass supplies it)
    """

    gates, n_states = 1, 1

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None,
                 rng=None):  # fmt: skip
        super().__init__()
        self.input_size = check_int(input_size, "input_size")
        self.hidden_size = h = check_int(hidden_size, "hidden_size")
        self.num_layers = check_int(num_layers, "num_layers")
        self.bias, self.batch_first = _flag(bias, "bias"), _flag(batch_first, "batch_first")
        self.dropout = checks.check_probability("dropout", dropout)
        if self.dropout > 0 and self.num_layers == 1:
            warnings.warn(
                "dropout acts between layers, after all but the last: with num_layers=1 "
                f"dropout={self.dropout} does nothing (as in torch)",
                stacklevel=3,
            )
        self.bidirectional = bool(bidirectional)
        self.directions = 2 if bidirectional else 1
        if isinstance(proj_size, bool) or not isinstance(proj_size, numbers.Integral):
            raise ValueError(f"proj_size must be an int, got {proj_size!r}")
        if not 0 <= proj_size < h:
            raise ValueError(f"proj_size must be >= 0 and < hidden_size={h}, got {proj_size}")
        self.proj_size, self.out_size = int(proj_size), int(proj_size) or h
        dtype = _factory(device, dtype)
        self.rng = rng = checks.generator(rng)  # for the weights, then the dropout masks
        bound, rows = 1 / math.sqrt(h), self.gates * h  # torch: every parameter U(-1/sqrt(H), ..)
        self._weights = {}
        for layer in range(self.num_layers):
            d_in = self.input_size if layer == 0 else self.out_size * self.directions
            for suffix in ("", "_reverse")[: self.directions]:
                shapes = {"weight_ih": (rows, d_in), "weight_hh": (rows, self.out_size)}
                shapes.update({"bias_ih": (rows,), "bias_hh": (rows,)} if bias else {})
                shapes.update({"weight_hr": (self.proj_size, h)} if self.proj_size else {})
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

    def load_state_dict(self, state) -> RNNBase:
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
        names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        return [name + end for name in names + ("weight_hr",) * bool(self.proj_size)]

    def _cell_weights(self, k):
        return tuple(self._weights.get(name) for name in self._cell_names(k))

    def _states(self, hx, n, dtype, unbatched, name="hx"):
        """The state ``hx`` as a tuple of ``(layers * directions, N, size)`` arrays (zeros for
        None), one for the RNN and GRU, ``(h, c)`` for the LSTM; ``size`` is ``H``, or
        ``proj_size`` for ``h`` with a projection. Unbatched states ``(layers * directions,
        size)`` come back with ``N = 1``."""
        sizes = (self.out_size, self.hidden_size)[: self.n_states]
        shapes = [(self.num_layers * self.directions, n, size) for size in sizes]
        if hx is None:
            return tuple(np.zeros(shape, dtype) for shape in shapes)
        if self.n_states == 2 and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
            raise ValueError(f"{name} must be a pair (h, c) of arrays, got {type(hx).__name__}")
        states = (hx,) if self.n_states == 1 else tuple(hx)
        for s, shape in zip(states, shapes):
            want = shape[:1] + shape[2:] if unbatched else shape
            if not isinstance(s, np.ndarray) or s.shape != want or s.dtype != dtype:
                got = getattr(s, "shape", type(s).__name__), getattr(s, "dtype", None)
                raise ValueError(f"{name} must hold {dtype} arrays of shape {want}, got {got}")
        return tuple(s[:, None] for s in states) if unbatched else states

    def _layout(self, x, unbatched):
        """Between the caller's layout and the ``(T, N, features)`` one the cells work in (the
        same swap both ways): unbatched ``(T, features)`` gets or loses a batch axis of 1;
        ``batch_first`` swaps the first two axes."""
        if unbatched:
            return x[:, None] if x.ndim == 2 else x[:, 0]
        return x.swapaxes(0, 1) if self.batch_first else x

    def forward(self, input, hx=None):
        """``input`` ``(T, N, input_size)`` (``(N, T, input_size)`` with ``batch_first``) or
        unbatched ``(T, input_size)``; ``hx`` the initial state, ``(layers * directions, N,
        H)`` (unbatched: ``(layers * directions, H)``), a pair ``(h_0, c_0)`` of them for the
        LSTM, None for zeros. Returns ``(output, state)``: ``(T, N, directions * H)`` laid out
        like ``input``, and the final state, shaped like ``hx``. With a projection, ``h`` and
        the output have ``proj_size`` features in place of ``H``."""
        x, dtype = np.asarray(input), self.params[0].dtype
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            want = "(N, T, {0}) or (T, {0})" if self.batch_first else "(T, N, {0}) or (T, {0})"
            raise ValueError(f"input must have shape {want.format(self.input_size)}, got {x.shape}")
        if x.dtype != dtype:
            raise TypeError(f"input has dtype {x.dtype} but the layer's parameters are {dtype}")
        self._unbatched = unbatched = x.ndim == 2
        x = self._layout(x, unbatched)
        states = self._states(hx, x.shape[1], dtype, unbatched)
        finals = tuple(np.empty_like(s) for s in states)
        self._inputs, self._masks, self._hx, self._given = [], [], states, hx is not None
        for layer in range(self.num_layers):
            if layer and self.training and self.dropout:  # between layers, as in torch
                self._masks.append(dropout_mask(x.shape, self.dropout, self.rng, dtype))
                x = x * self._masks[-1]
            self._inputs.append(x)  # what backward needs: each layer's input and initial state
            outs = []
            for d in range(self.directions):  # d = 1 reads the sequence backwards
                k, flip = layer * self.directions + d, slice(None, None, -1 if d else 1)
                out, final = self._cell(x[flip], tuple(s[k] for s in states), self._cell_weights(k))
                outs.append(out[flip])
                for f, value in zip(finals, final):
                    f[k] = value
            x = np.concatenate(outs, axis=-1)
        finals = tuple(f[:, 0] for f in finals) if unbatched else finals
        return self._layout(x, unbatched), finals[0] if self.n_states == 1 else finals

    def __call__(self, input, hx=None):
        return self.forward(input, hx)

    def backward(self, grad_output, grad_state=None):
        """BPTT through every layer and direction, top layer first. ``grad_output`` is the
        gradient of the output; ``grad_state`` that of the final state, shaped like it; either
        may be None (zeros). Returns the gradient of the input, laid out like it; fills
        ``grads`` (in ``params``' order) and ``grad_hx`` (shaped like ``hx``; None when ``hx``
        was None). Dropout between layers multiplies by the forward's masks again."""
        if not hasattr(self, "_inputs"):
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        t, n = self._inputs[0].shape[:2]
        p, dirs, unbatched = self.out_size, self.directions, self._unbatched
        dtype = self._hx[0].dtype
        shape = self._layout(np.empty((t, n, dirs * p), dtype), unbatched).shape
        g = np.zeros(shape, dtype) if grad_output is None else grad_output
        if not isinstance(g, np.ndarray) or g.shape != shape or g.dtype != dtype:
            got = getattr(g, "shape", type(g).__name__), getattr(g, "dtype", None)
            raise ValueError(f"grad_output must be {dtype} of shape {shape}, got {got}")
        g = self._layout(g, unbatched)
        g_finals = self._states(grad_state, n, dtype, unbatched, "grad_state")
        g_hx, grads = tuple(np.empty_like(s) for s in self._hx), {}
        for layer in reversed(range(self.num_layers)):
            x, g_in = self._inputs[layer], 0
            for d in range(dirs):
                k, flip = layer * dirs + d, slice(None, None, -1 if d else 1)
                g_x, g_states, g_w = self._cell_backward(
                    g[flip, :, d * p : (d + 1) * p], x[flip], tuple(s[k] for s in self._hx),
                    self._cell_weights(k), tuple(s[k] for s in g_finals),
                )  # fmt: skip
                g_in = g_in + g_x[flip]  # both directions read the same input
                for out, value in zip(g_hx, g_states):
                    out[k] = value
                for name, value in zip(self._cell_names(k), g_w):
                    grads[name] = value
            g = g_in * self._masks[layer - 1] if layer and self._masks else g_in
        self.grads = [grads[name] for name in self._weights]
        g_hx = tuple(s[:, 0] for s in g_hx) if unbatched else g_hx
        self.grad_hx = (g_hx[0] if self.n_states == 1 else g_hx) if self._given else None
        return self._layout(g, unbatched)

    def extra_repr(self):  # as torch writes it: what differs from the defaults
        s = f"{self.input_size}, {self.hidden_size}"
        s += f", proj_size={self.proj_size}" * bool(self.proj_size)
        s += f", num_layers={self.num_layers}" * (self.num_layers != 1)
        s += ", bias=False" * (not self.bias) + ", batch_first=True" * self.batch_first
        s += f", dropout={self.dropout}" * bool(self.dropout)
        return s + ", bidirectional=True" * self.bidirectional


class RNN(RNNBase):
    """Stacked, optionally bidirectional Elman RNN; ``state`` is ``h``.

    Shapes:
        input: (T, N, input_size), (N, T, input_size) with batch_first, or unbatched
            (T, input_size)
        hx: (num_layers * directions, N, H) or unbatched (num_layers * directions, H); None
            means zeros
        returns: (output, h_n): output (T, N, directions * H) laid out like input, h_n like hx
    Formula:
        layer l runs rnn (see dlbook.scratch.rnn) over layer l - 1's output (after dropout
        while training), forwards and, if bidirectional, backwards; outputs concatenated
    Torch:
        torch.nn.RNN (same constructor; rng added for the initial weights and dropout masks)
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, device=None, dtype=None,
                 *, rng=None):  # fmt: skip
        self.nonlinearity = check_nonlinearity(nonlinearity)
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, device, dtype, rng)  # fmt: skip

    def _cell(self, x, states, weights):
        out, h_n = rnn(x, *states, *weights, nonlinearity=self.nonlinearity)
        return out, (h_n,)

    def _cell_backward(self, g, x, states, weights, g_finals):
        grads = rnn_backward(g, x, *states, *weights, self.nonlinearity, grad_h_n=g_finals[0])
        return grads[0], grads[1:2], grads[2:]


class LSTM(RNNBase):
    """Stacked, optionally bidirectional LSTM, optionally with projections; ``state`` is
    ``(h, c)``.

    Shapes:
        input: (T, N, input_size), (N, T, input_size) with batch_first, or unbatched
            (T, input_size)
        hx: a pair (h_0, c_0): (num_layers * directions, N, P) and (num_layers * directions, N,
            H), without N when unbatched; P = proj_size or H; None means zeros
        returns: (output, (h_n, c_n)): output (T, N, directions * P) laid out like input
    Formula:
        layer l runs lstm (see dlbook.scratch.lstm) over layer l - 1's output (after dropout
        while training), forwards and, if bidirectional, backwards; outputs concatenated
    Torch:
        torch.nn.LSTM (same constructor; rng added for the initial weights and dropout masks)
    """

    gates, n_states = 4, 2

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None,
                 *, rng=None):  # fmt: skip
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, device, dtype, rng)  # fmt: skip

    def _cell(self, x, states, weights):
        out, h_n, c_n = lstm(x, *states, *weights)
        return out, (h_n, c_n)

    def _cell_backward(self, g, x, states, weights, g_finals):
        g_h, g_c = g_finals
        grads = lstm_backward(g, x, *states, *weights, grad_h_n=g_h, grad_c_n=g_c)
        return grads[0], grads[1:3], grads[3:]


class GRU(RNNBase):
    """Stacked, optionally bidirectional GRU; ``state`` is ``h``.

    Shapes:
        input: (T, N, input_size), (N, T, input_size) with batch_first, or unbatched
            (T, input_size)
        hx: (num_layers * directions, N, H) or unbatched (num_layers * directions, H); None
            means zeros
        returns: (output, h_n): output (T, N, directions * H) laid out like input, h_n like hx
    Formula:
        layer l runs gru (see dlbook.scratch.gru) over layer l - 1's output (after dropout
        while training), forwards and, if bidirectional, backwards; outputs concatenated
    Torch:
        torch.nn.GRU (same constructor; rng added for the initial weights and dropout masks)
    """

    gates = 3

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None, *,
                 rng=None):  # fmt: skip
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, device, dtype, rng)  # fmt: skip

    def _cell(self, x, states, weights):
        out, h_n = gru(x, *states, *weights)
        return out, (h_n,)

    def _cell_backward(self, g, x, states, weights, g_finals):
        grads = gru_backward(g, x, *states, *weights, grad_h_n=g_finals[0])
        return grads[0], grads[1:2], grads[2:]
