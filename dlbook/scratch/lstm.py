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

With a projection (torch's ``proj_size``), :math:`h_t = W_{hr} (o_t \odot \tanh c_t)` is
smaller than the cell state, and :math:`h_{t-1}` enters the gates at that smaller size.

The cell state :math:`c` is the point: its gradient flows back through :math:`c_{t-1} = \dots`
multiplied only by :math:`f_t`, not by a weight matrix and a squashing derivative at every step,
so an open forget gate carries it far back.
"""

from __future__ import annotations

import numpy as np

from dlbook.scratch.activations import sigmoid
from dlbook.scratch.rnn import check_recurrent, check_upstream, project, unbatch, weight_grads

__all__ = ["lstm", "lstm_backward"]


def _states(input, hx, cx, weight_ih, weight_hh, bias_ih, bias_hh, weight_hr):
    """Run the layer (unbatched input as a batch of one), keeping what BPTT needs: the states
    ``h`` ``(T + 1, N, P)`` and ``c`` ``(T + 1, N, H)`` (index 0 is the initial state; ``P = H``
    without a projection) and the gates ``(T, N, 4, H)``. Returns ``(x, hs, cs, gates,
    unbatched)``."""
    states = {"hx": hx, "cx": cx}
    x, (h0, c0), unbatched = check_recurrent(
        input, states, weight_ih, weight_hh, bias_ih, bias_hh, 4, weight_hr
    )
    t_len, n = x.shape[:2]
    h = c0.shape[-1]
    xw = project(x, weight_ih, bias_ih)  # (T, N, 4H): the input's share of every gate
    hs = np.empty((t_len + 1, *h0.shape), dtype=x.dtype)
    cs = np.empty((t_len + 1, *c0.shape), dtype=x.dtype)
    gates = np.empty((t_len, n, 4, h), dtype=x.dtype)
    hs[0], cs[0] = h0, c0
    for t in range(t_len):
        a = (xw[t] + project(hs[t], weight_hh, bias_hh)).reshape(n, 4, h)
        i, f, g, o = sigmoid(a[:, 0]), sigmoid(a[:, 1]), np.tanh(a[:, 2]), sigmoid(a[:, 3])
        gates[t] = np.stack([i, f, g, o], axis=1)
        cs[t + 1] = f * cs[t] + i * g
        m = o * np.tanh(cs[t + 1])
        hs[t + 1] = m if weight_hr is None else m @ weight_hr.T  # the projection, if any
    return x, hs, cs, gates, unbatched


def lstm(input, hx, cx, weight_ih, weight_hh, bias_ih=None, bias_hh=None, weight_hr=None):
    r"""One unidirectional LSTM layer, optionally with a projection; returns ``(output, h_n,
    c_n)``.

    Shapes:
        input: (T, N, D) or unbatched (T, D)
        hx: (N, P) or unbatched (P,), the initial hidden state (None means zeros); P = H
            without a projection
        cx: (N, H) or unbatched (H,), the initial cell state (None means zeros)
        weight_ih: (4H, D); weight_hh: (4H, P); bias_ih, bias_hh: (4H,) or None; the row
            blocks are the gates i, f, g, o
        weight_hr: (P, H), the projection, or None for none
        returns: output (T, N, P), h_1 .. h_T; h_n (N, P); c_n (N, H); unbatched input gives
            (T, P), (P,) and (H,)
    Formula:
        i, f, o = sigma(W_i* x_t + b_i* + W_h* h_{t-1} + b_h*) for * = i, f, o (their rows)
        g = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)
        c_t = f * c_{t-1} + i * g,  h_t = o * tanh(c_t), or W_hr (o * tanh(c_t)) with weight_hr
    Torch:
        torch.nn.LSTM (one layer, one direction; weights as weight_ih_l0, weight_hh_l0,
        bias_ih_l0, bias_hh_l0 and, with proj_size > 0, weight_hr_l0; hx, cx as h_0[0], c_0[0])
    """
    _, hs, cs, _, unbatched = _states(
        input, hx, cx, weight_ih, weight_hh, bias_ih, bias_hh, weight_hr
    )
    return unbatch(unbatched, [hs[1:]], [hs[-1].copy(), cs[-1].copy()])


def lstm_backward(
    grad_output, input, hx, cx, weight_ih, weight_hh, bias_ih=None, bias_hh=None,
    weight_hr=None, *, grad_h_n=None, grad_c_n=None,
):  # fmt: skip
    r"""BPTT through the LSTM, given ``grad_output`` and optionally ``grad_h_n`` and
    ``grad_c_n`` (each None means zeros). Backwards through one step, with :math:`\bar h` the
    gradient reaching :math:`h_t` and :math:`\bar m = W_{hr}^\top \bar h` (or :math:`\bar h`
    without a projection):

    .. math::
        \begin{aligned}
        \bar h &\mathrel{+}= g_t, \quad
        \bar c \mathrel{+}= \bar m \odot o \odot (1 - \tanh^2 c_t), \quad
        \bar o = \bar m \odot \tanh c_t, \\
        \bar i &= \bar c \odot g, \quad \bar g = \bar c \odot i, \quad
        \bar f = \bar c \odot c_{t-1}, \quad \bar c_{t-1} = \bar c \odot f,
        \end{aligned}

    then through the squashings to the pre-activations :math:`\delta_t`, and
    :math:`\bar h_{t-1} = W_{hh}^\top \delta_t`.

    Shapes:
        grad_output: (T, N, P), or (T, P) for unbatched input
        grad_h_n: (N, P) or (P,); grad_c_n: (N, H) or (H,); the rest as for lstm
        returns: (grad_input, grad_hx, grad_cx, grad_weight_ih, grad_weight_hh, grad_bias_ih,
            grad_bias_hh), and grad_weight_hr last when weight_hr is given; each shaped like
            its argument, None for an argument given as None
    Formula:
        delta_t = d(pre-activations) as above; dW_hh = sum_t delta_t h_{t-1}^T,
        dW_ih = sum_t delta_t x_t^T, dW_hr = sum_t hbar_t (o_t * tanh c_t)^T
    Torch:
        autograd through torch.nn.LSTM (one layer, one direction)
    """
    x, hs, cs, gates, unbatched = _states(
        input, hx, cx, weight_ih, weight_hh, bias_ih, bias_hh, weight_hr
    )
    t_len, n, h = x.shape[0], x.shape[1], cs.shape[-1]
    finals = {"grad_h_n": (grad_h_n, hs.shape[-1]), "grad_c_n": (grad_c_n, h)}
    g_out, dh, dc = check_upstream(grad_output, finals, x, unbatched)
    delta = np.empty((t_len, n, 4, h), dtype=x.dtype)  # gradients of the pre-activations
    dhs, ms = np.empty_like(g_out), np.empty_like(cs[1:])  # what dW_hr needs
    for t in reversed(range(t_len)):
        i, f, g, o = (gates[t, :, k] for k in range(4))
        dh = dh + g_out[t]
        tc = np.tanh(cs[t + 1])
        dhs[t], ms[t] = dh, o * tc
        dm = dh if weight_hr is None else dh @ weight_hr  # back through the projection
        dc = dc + dm * o * (1 - tc * tc)
        delta[t, :, 0] = dc * g * i * (1 - i)  # sigma' = sigma (1 - sigma)
        delta[t, :, 1] = dc * cs[t] * f * (1 - f)
        delta[t, :, 2] = dc * i * (1 - g * g)  # tanh' = 1 - tanh^2
        delta[t, :, 3] = dm * tc * o * (1 - o)
        dc = dc * f
        dh = delta[t].reshape(n, 4 * h) @ weight_hh
    delta = delta.reshape(t_len, n, 4 * h)
    grad_w_ih, grad_b_ih = weight_grads(delta, x, bias_ih)
    grad_w_hh, grad_b_hh = weight_grads(delta, hs[:-1], bias_hh)
    grad_hx, grad_cx = (None if hx is None else dh), (None if cx is None else dc)
    grads = unbatch(unbatched, [delta @ weight_ih], [grad_hx, grad_cx])
    grads += (grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh)
    return grads if weight_hr is None else (*grads, weight_grads(dhs, ms, None)[0])
