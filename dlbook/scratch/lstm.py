r"""The LSTM from scratch, forward and BPTT, equal to one layer of ``torch.nn.LSTM``.

Four gates, stacked in torch's order ``i, f, g, o`` in the rows of the weights:

.. math::
    \begin{aligned}
    i_t &= \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi}) &&\text{input gate}\\
    f_t &= \sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf}) &&\text{forget gate}\\
    g_t &= \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg}) &&\text{candidate}\\
    o_t &= \sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho}) &&\text{output gate}\\
    c_t &= f_t \odot c_{t-1} + i_t \odot g_t, \qquad h_t = o_t \odot \tanh c_t
    \end{aligned}

The cell state :math:`c` is the point: its gradient flows back through :math:`c_{t-1} = \dots`
multiplied only by :math:`f_t`, not by a weight matrix and a squashing derivative at every step,
so an open forget gate carries it far back.
"""

from __future__ import annotations

import numpy as np

from dlbook.scratch.activations import sigmoid
from dlbook.scratch.rnn import (
    check_recurrent,
    check_upstream,
    initial_state,
    project,
    weight_grads,
)

__all__ = ["lstm", "lstm_backward"]


def _states(input, hx, cx, weight_ih, weight_hh, bias_ih, bias_hh):
    """Run the layer, keeping what BPTT needs: states ``h, c`` ``(T + 1, N, H)`` (index 0 is the
    initial state) and the gates ``(T, N, 4, H)``."""
    states = {"hx": hx, "cx": cx}
    x, h = check_recurrent(input, states, weight_ih, weight_hh, bias_ih, bias_hh, 4)
    t_len, n = x.shape[:2]
    xw = project(x, weight_ih, bias_ih)  # (T, N, 4H): the input's share of every gate
    hs = np.empty((t_len + 1, n, h), dtype=x.dtype)
    cs = np.empty_like(hs)
    gates = np.empty((t_len, n, 4, h), dtype=x.dtype)
    hs[0], cs[0] = initial_state(hx, x, h), initial_state(cx, x, h)
    for t in range(t_len):
        a = (xw[t] + project(hs[t], weight_hh, bias_hh)).reshape(n, 4, h)
        i, f, g, o = sigmoid(a[:, 0]), sigmoid(a[:, 1]), np.tanh(a[:, 2]), sigmoid(a[:, 3])
        gates[t] = np.stack([i, f, g, o], axis=1)
        cs[t + 1] = f * cs[t] + i * g
        hs[t + 1] = o * np.tanh(cs[t + 1])
    return x, hs, cs, gates


def lstm(input, hx, cx, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    r"""One unidirectional LSTM layer. Equal to a one-layer ``torch.nn.LSTM`` with the same
    weights.

    Shapes:
        input      ``(T, N, D)``
        hx, cx     ``(N, H)`` the initial hidden and cell states (None means zeros)
        weight_ih  ``(4H, D)``, weight_hh ``(4H, H)``, bias_ih, bias_hh ``(4H,)`` or None; the
                   row blocks are the gates ``i, f, g, o``
        returns ``(output, h_n, c_n)``: :math:`h_1 .. h_T` ``(T, N, H)``, :math:`h_T` and
        :math:`c_T` ``(N, H)``
    """
    _, hs, cs, _ = _states(input, hx, cx, weight_ih, weight_hh, bias_ih, bias_hh)
    return hs[1:], hs[-1].copy(), cs[-1].copy()


def lstm_backward(
    grad_output, input, hx, cx, weight_ih, weight_hh, bias_ih=None, bias_hh=None, *,
    grad_h_n=None, grad_c_n=None,
):  # fmt: skip
    r"""BPTT through the LSTM, given ``grad_output`` ``(T, N, H)`` and optionally ``grad_h_n``
    and ``grad_c_n`` ``(N, H)`` (each None means zeros). Backwards through one step:

    .. math::
        \begin{aligned}
        \bar h &\mathrel{+}= g_t, \quad
        \bar c \mathrel{+}= \bar h \odot o \odot (1 - \tanh^2 c_t), \quad
        \bar o = \bar h \odot \tanh c_t, \\
        \bar i &= \bar c \odot g, \quad \bar g = \bar c \odot i, \quad
        \bar f = \bar c \odot c_{t-1}, \quad \bar c_{t-1} = \bar c \odot f,
        \end{aligned}

    then through the squashings to the pre-activations :math:`\delta_t`, and
    :math:`\bar h_{t-1} = W_{hh}^\top \delta_t`.

    Returns ``(grad_input, grad_hx, grad_cx, grad_weight_ih, grad_weight_hh, grad_bias_ih,
    grad_bias_hh)``, with None for an argument given as None.
    """
    x, hs, cs, gates = _states(input, hx, cx, weight_ih, weight_hh, bias_ih, bias_hh)
    t_len, n, h = x.shape[0], x.shape[1], hs.shape[-1]
    finals = {"grad_h_n": grad_h_n, "grad_c_n": grad_c_n}
    g_out, dh, dc = check_upstream(grad_output, finals, x, h)
    delta = np.empty((t_len, n, 4, h), dtype=x.dtype)  # gradients of the pre-activations
    for t in reversed(range(t_len)):
        i, f, g, o = (gates[t, :, k] for k in range(4))
        dh = dh + g_out[t]
        tc = np.tanh(cs[t + 1])
        dc = dc + dh * o * (1 - tc * tc)
        delta[t, :, 0] = dc * g * i * (1 - i)  # sigma' = sigma (1 - sigma)
        delta[t, :, 1] = dc * cs[t] * f * (1 - f)
        delta[t, :, 2] = dc * i * (1 - g * g)  # tanh' = 1 - tanh^2
        delta[t, :, 3] = dh * tc * o * (1 - o)
        dc = dc * f
        dh = delta[t].reshape(n, 4 * h) @ weight_hh
    delta = delta.reshape(t_len, n, 4 * h)
    grad_w_ih, grad_b_ih = weight_grads(delta, x, bias_ih)
    grad_w_hh, grad_b_hh = weight_grads(delta, hs[:-1], bias_hh)
    grad_hx, grad_cx = (None if hx is None else dh), (None if cx is None else dc)
    return delta @ weight_ih, grad_hx, grad_cx, grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh
