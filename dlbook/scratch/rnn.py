r"""The Elman RNN from scratch, and backpropagation through time (BPTT).

One layer reads a sequence :math:`x_1, \dots, x_T` and carries a hidden state forward:

.. math:: h_t = \phi(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}), \qquad \phi = \tanh
    \text{ or ReLU},

the same weights at every step. Mirrors one layer of ``torch.nn.RNN`` (``weight_ih_l0`` is
``weight_ih``, and so on). The loop over time is the algorithm: step :math:`t` needs
:math:`h_{t-1}`. Only the batch is vectorized. The input half of every step does not depend on
:math:`h`, so it is computed for all steps in one matrix product before the loop.

BPTT is the chain rule run backwards along the same loop. The gradient reaching :math:`h_t`
comes from the loss at step :math:`t` and from step :math:`t + 1`:

.. math:: \delta_t = \big(g_t + W_{hh}^\top \delta_{t+1}\big) \odot \phi'(a_t), \qquad
    \frac{\partial L}{\partial W_{hh}} = \sum_t \delta_t h_{t-1}^\top, \qquad
    \frac{\partial L}{\partial W_{ih}} = \sum_t \delta_t x_t^\top,

with :math:`a_t` the pre-activation and :math:`g_t` the gradient of the output at step
:math:`t`. The product of :math:`T` Jacobians :math:`W_{hh}^\top \operatorname{diag}\phi'` is why
gradients explode or vanish over long sequences.

The helpers here (argument checks, projections) are shared with :mod:`dlbook.scratch.lstm` and
:mod:`dlbook.scratch.gru`.
"""

from __future__ import annotations

import numpy as np

from dlbook.scratch import _args

__all__ = ["rnn", "rnn_backward"]


# --- shared by rnn, lstm and gru ------------------------------------------------------------------


def check_recurrent(input, states, weight_ih, weight_hh, bias_ih, bias_hh, gates):
    """Check one recurrent layer's arguments and return ``(x, hidden_size)``.

    ``states`` maps a name (``"hx"``, ``"cx"``) to an ``(N, H)`` array or None; ``gates`` is how
    many ``H``-row blocks the weights stack (1 for the RNN, 4 for the LSTM, 3 for the GRU).
    """
    x = _args.float_array(input, "input", (3,))
    t, n, d = x.shape
    if t == 0:
        raise ValueError(f"input must have a sequence length T >= 1, got shape {x.shape}")
    _args.float_array(weight_hh, "weight_hh", (2,))
    _args.same_dtype(x, weight_hh, "weight_hh")
    rows, h = weight_hh.shape
    if rows != gates * h:
        raise ValueError(
            f"weight_hh must have shape ({gates} * hidden_size, hidden_size), got {weight_hh.shape}"
        )
    _args.float_array(weight_ih, "weight_ih", (2,))
    _args.same_dtype(x, weight_ih, "weight_ih")
    if weight_ih.shape != (rows, d):
        raise ValueError(
            f"weight_ih must have shape ({rows}, {d}) ({gates} * hidden_size, input features), "
            f"got {weight_ih.shape}"
        )
    for name, b in (("bias_ih", bias_ih), ("bias_hh", bias_hh)):
        if b is not None:
            _args.float_array(b, name, (1,))
            _args.same_dtype(x, b, name)
            if b.shape != (rows,):
                raise ValueError(f"{name} must have shape ({rows},), got {b.shape}")
    for name, s in states.items():
        if s is not None:
            _args.float_array(s, name, (2,))
            _args.same_dtype(x, s, name)
            if s.shape != (n, h):
                raise ValueError(f"{name} must have shape (N, H) = ({n}, {h}), got {s.shape}")
    return x, h


def initial_state(state, x, h):
    """The given ``(N, H)`` state, or zeros when it is None (as torch does)."""
    return np.zeros((x.shape[1], h), dtype=x.dtype) if state is None else state


def check_upstream(grad_output, finals, x, h):
    """``grad_output`` ``(T, N, H)`` and the final-state gradients ``(N, H)``; None means zeros.

    ``finals`` maps a name (``"grad_h_n"``, ``"grad_c_n"``) to an array or None. Returns
    ``grad_output`` and then each final-state gradient, all as arrays.
    """
    t, n, _ = x.shape
    if grad_output is None:
        grad_output = np.zeros((t, n, h), dtype=x.dtype)
    out = [_args.check_grad_output(grad_output, (t, n, h), x.dtype)]
    for name, g in finals.items():
        if g is None:
            g = np.zeros((n, h), dtype=x.dtype)
        _args.any_float_array(g, name)
        if g.shape != (n, h):
            raise ValueError(f"{name} must have the final state's shape ({n}, {h}), got {g.shape}")
        if g.dtype != x.dtype:
            raise TypeError(f"{name} has dtype {g.dtype} but input has dtype {x.dtype}")
        out.append(g)
    return out


def project(x, weight, bias):
    """``x W^T + b`` over the last axis, for all time steps (or one) at once."""
    y = x @ weight.T
    return y if bias is None else y + bias


def weight_grads(delta, inputs, bias):
    r"""The gradients of ``W`` and ``b`` in ``delta_t = d(x_t W^T + b)``, summed over time and
    batch: :math:`\sum_t \delta_t^\top x_t` and :math:`\sum_t \delta_t` (None without a bias)."""
    rows = delta.shape[-1]
    grad_w = delta.reshape(-1, rows).T @ inputs.reshape(-1, inputs.shape[-1])
    return grad_w, None if bias is None else delta.sum(axis=(0, 1))


def check_nonlinearity(nonlinearity):
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    return nonlinearity


# --- the Elman RNN --------------------------------------------------------------------------------


def _states(input, hx, weight_ih, weight_hh, bias_ih, bias_hh, nonlinearity):
    """Every hidden state ``h_0 .. h_T`` as one ``(T + 1, N, H)`` array."""
    check_nonlinearity(nonlinearity)
    x, h = check_recurrent(input, {"hx": hx}, weight_ih, weight_hh, bias_ih, bias_hh, 1)
    xw = project(x, weight_ih, bias_ih)  # (T, N, H): the input's share of every step
    hs = np.empty((len(x) + 1, x.shape[1], h), dtype=x.dtype)
    hs[0] = initial_state(hx, x, h)
    for t in range(len(x)):
        a = xw[t] + project(hs[t], weight_hh, bias_hh)
        hs[t + 1] = np.tanh(a) if nonlinearity == "tanh" else np.maximum(a, 0)
    return x, hs


def rnn(input, hx, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    r"""One unidirectional Elman RNN layer, :math:`h_t = \phi(W_{ih} x_t + b_{ih} + W_{hh}
    h_{t-1} + b_{hh})`. Equal to a one-layer ``torch.nn.RNN`` with the same weights.

    Shapes:
        input      ``(T, N, D)``: time, batch, features
        hx         ``(N, H)`` the initial state :math:`h_0` (None means zeros)
        weight_ih  ``(H, D)``; weight_hh ``(H, H)``; bias_ih, bias_hh ``(H,)`` or None
        nonlinearity ``'tanh'`` or ``'relu'``
        returns ``(output, h_n)``: every state :math:`h_1 .. h_T` ``(T, N, H)``, and
        :math:`h_T` ``(N, H)``
    """
    _, hs = _states(input, hx, weight_ih, weight_hh, bias_ih, bias_hh, nonlinearity)
    return hs[1:], hs[-1].copy()


def rnn_backward(
    grad_output, input, hx, weight_ih, weight_hh, bias_ih=None, bias_hh=None,
    nonlinearity="tanh", *, grad_h_n=None,
):  # fmt: skip
    r"""BPTT: the gradients of :math:`L` given ``grad_output`` :math:`= \partial L/\partial
    \text{output}` ``(T, N, H)`` and, optionally, ``grad_h_n`` :math:`= \partial L/\partial h_n`
    ``(N, H)``. Either may be None (zeros). A sequence cut into chunks is backpropagated in
    full by passing each chunk's ``grad_hx`` to the chunk before as ``grad_h_n``; truncated
    BPTT drops it instead.

    Returns ``(grad_input, grad_hx, grad_weight_ih, grad_weight_hh, grad_bias_ih,
    grad_bias_hh)``, with None for an argument given as None.
    """
    x, hs = _states(input, hx, weight_ih, weight_hh, bias_ih, bias_hh, nonlinearity)
    h = hs.shape[-1]
    g, dh = check_upstream(grad_output, {"grad_h_n": grad_h_n}, x, h)
    delta = np.empty_like(g)  # gradient of the pre-activation a_t, for every t
    for t in reversed(range(len(x))):
        dh = dh + g[t]  # from the output at step t, and from step t + 1 through h_t
        ht = hs[t + 1]
        delta[t] = dh * (1 - ht * ht) if nonlinearity == "tanh" else np.where(ht > 0, dh, 0)
        dh = delta[t] @ weight_hh  # on to h_{t-1}
    grad_w_ih, grad_b_ih = weight_grads(delta, x, bias_ih)
    grad_w_hh, grad_b_hh = weight_grads(delta, hs[:-1], bias_hh)
    grad_hx = None if hx is None else dh
    return delta @ weight_ih, grad_hx, grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh
