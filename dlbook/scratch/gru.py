r"""The GRU from scratch, forward and BPTT, equal to one layer of ``torch.nn.GRU``.

Three gates, stacked in torch's order ``r, z, n`` in the rows of the weights, and torch's
formula, where the reset gate multiplies the *projected* previous state (bias included):

.. math::
    \begin{aligned}
    r_t &= \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr}) &&\text{reset gate}\\
    z_t &= \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz}) &&\text{update gate}\\
    n_t &= \tanh\big(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn})\big)
        &&\text{candidate}\\
    h_t &= (1 - z_t) \odot n_t + z_t \odot h_{t-1}
    \end{aligned}

(Cho et al. 2014 put :math:`r_t` inside, :math:`W_{hn}(r_t \odot h_{t-1})`; torch and cuDNN do
not, and so :math:`b_{in}` and :math:`b_{hn}` are not interchangeable.) The update gate
interpolates: with :math:`z_t = 1` the state is copied unchanged, gradient included.
"""

from __future__ import annotations

import numpy as np

from dlbook.scratch.activations import sigmoid
from dlbook.scratch.rnn import check_recurrent, check_upstream, project, unbatch, weight_grads

__all__ = ["gru", "gru_backward"]


def _states(input, hx, weight_ih, weight_hh, bias_ih, bias_hh):
    """Run the layer, keeping what BPTT needs: the states ``(T + 1, N, H)`` (index 0 is the
    initial state), the gates ``r, z, n`` ``(T, N, 3, H)`` and :math:`W_{hn} h_{t-1} + b_{hn}`
    ``(T, N, H)``; unbatched input is run as a batch of one. Returns ``(x, hs, gates, hn,
    unbatched)``."""
    x, (h0,), unbatched = check_recurrent(
        input, {"hx": hx}, weight_ih, weight_hh, bias_ih, bias_hh, 3
    )
    (t_len, n), h = x.shape[:2], h0.shape[-1]
    xw = project(x, weight_ih, bias_ih).reshape(t_len, n, 3, h)
    hs = np.empty((t_len + 1, n, h), dtype=x.dtype)
    gates = np.empty((t_len, n, 3, h), dtype=x.dtype)
    hn = np.empty((t_len, n, h), dtype=x.dtype)
    hs[0] = h0
    for t in range(t_len):
        hw = project(hs[t], weight_hh, bias_hh).reshape(n, 3, h)
        r = sigmoid(xw[t, :, 0] + hw[:, 0])
        z = sigmoid(xw[t, :, 1] + hw[:, 1])
        c = np.tanh(xw[t, :, 2] + r * hw[:, 2])
        gates[t], hn[t] = np.stack([r, z, c], axis=1), hw[:, 2]
        hs[t + 1] = (1 - z) * c + z * hs[t]
    return x, hs, gates, hn, unbatched


def gru(input, hx, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    r"""One unidirectional GRU layer, with torch's formula; returns ``(output, h_n)``.

    Shapes:
        input: (T, N, D) or unbatched (T, D)
        hx: (N, H) or unbatched (H,), the initial state (None means zeros)
        weight_ih: (3H, D); weight_hh: (3H, H); bias_ih, bias_hh: (3H,) or None; the row
            blocks are the gates r, z, n
        returns: output (T, N, H), h_1 .. h_T; h_n (N, H); unbatched input gives (T, H), (H,)
    Formula:
        r, z = sigma(W_i* x_t + b_i* + W_h* h_{t-1} + b_h*) for * = r, z (their rows)
        n = tanh(W_in x_t + b_in + r * (W_hn h_{t-1} + b_hn))
        h_t = (1 - z) * n + z * h_{t-1}
    Torch:
        torch.nn.GRU (one layer, one direction; weights as weight_ih_l0, weight_hh_l0,
        bias_ih_l0, bias_hh_l0; hx as h_0[0])
    """
    _, hs, _, _, unbatched = _states(input, hx, weight_ih, weight_hh, bias_ih, bias_hh)
    return unbatch(unbatched, [hs[1:]], [hs[-1].copy()])


def gru_backward(
    grad_output, input, hx, weight_ih, weight_hh, bias_ih=None, bias_hh=None, *, grad_h_n=None
):
    r"""BPTT through the GRU, given ``grad_output`` and optionally ``grad_h_n`` (None means
    zeros). Backwards through one step, with :math:`\bar h` the gradient
    reaching :math:`h_t` and :math:`\hat n = W_{hn} h_{t-1} + b_{hn}`:

    .. math::
        \bar n = \bar h \odot (1 - z) \odot (1 - n^2), \quad
        \bar z = \bar h \odot (h_{t-1} - n), \quad
        \bar r = \bar n \odot \hat n, \quad
        \bar h_{t-1} = \bar h \odot z + W_{hh}^\top \delta^{h}_t,

    where the input side and the hidden side see different gradients for the candidate's
    block: :math:`\bar n` for :math:`W_{in} x_t + b_{in}`, :math:`\bar n \odot r` for
    :math:`\hat n`.

    Shapes:
        grad_output: (T, N, H), or (T, H) for unbatched input; grad_h_n: (N, H) or (H,)
        the other arguments: as for gru
        returns: (grad_input, grad_hx, grad_weight_ih, grad_weight_hh, grad_bias_ih,
            grad_bias_hh), each shaped like its argument; None for an argument given as None
    Formula:
        as above; dW_ih = sum_t delta^i_t x_t^T, dW_hh = sum_t delta^h_t h_{t-1}^T,
        dx_t = W_ih^T delta^i_t
    Torch:
        autograd through torch.nn.GRU (one layer, one direction)
    """
    x, hs, gates, hn, unbatched = _states(input, hx, weight_ih, weight_hh, bias_ih, bias_hh)
    t_len, n, h = x.shape[0], x.shape[1], hs.shape[-1]
    g_out, dh = check_upstream(grad_output, {"grad_h_n": (grad_h_n, h)}, x, unbatched)
    delta_i = np.empty((t_len, n, 3, h), dtype=x.dtype)  # d(W_ih x_t + b_ih)
    delta_h = np.empty_like(delta_i)  # d(W_hh h_{t-1} + b_hh)
    for t in reversed(range(t_len)):
        r, z, c = (gates[t, :, k] for k in range(3))
        dh = dh + g_out[t]
        dc = dh * (1 - z) * (1 - c * c)  # through tanh, to the candidate's pre-activation
        dz = dh * (hs[t] - c) * z * (1 - z)
        dr = dc * hn[t] * r * (1 - r)
        delta_i[t, :, 0], delta_i[t, :, 1], delta_i[t, :, 2] = dr, dz, dc
        delta_h[t, :, 0], delta_h[t, :, 1], delta_h[t, :, 2] = dr, dz, dc * r
        dh = dh * z + delta_h[t].reshape(n, 3 * h) @ weight_hh
    delta_i, delta_h = delta_i.reshape(t_len, n, 3 * h), delta_h.reshape(t_len, n, 3 * h)
    grad_w_ih, grad_b_ih = weight_grads(delta_i, x, bias_ih)
    grad_w_hh, grad_b_hh = weight_grads(delta_h, hs[:-1], bias_hh)
    grad_hx = None if hx is None else dh
    grads = unbatch(unbatched, [delta_i @ weight_ih], [grad_hx])
    return (*grads, grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh)
