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

from dlbook import checks

__all__ = ["rnn", "rnn_backward", "rnn_states"]


# --- shared by rnn, lstm and gru ------------------------------------------------------------------


def check_recurrent(input, states, weight_ih, weight_hh, bias_ih, bias_hh, gates, weight_hr=None):
    """Check one recurrent layer's arguments; return ``(x, states, unbatched)``, all batched.

    ``input`` is ``(T, N, D)``, or unbatched ``(T, D)`` as torch accepts it, which is run as a
    batch of one: ``x`` is then ``(T, 1, D)`` and ``unbatched`` is True. ``states`` maps a name
    (``"hx"``, ``"cx"``) to an ``(N, size)`` array (``(size,)`` for unbatched input) or None,
    returned as a list of ``(N, size)`` arrays, zeros for None (as torch does). ``size`` is the
    hidden size ``H``, except for ``hx`` with a projection ``weight_hr`` ``(P, H)``: ``P``.
    ``gates`` is how many ``H``-row blocks the weights stack (1 for the RNN, 4 for the LSTM, 3
    for the GRU).

    Shapes:
        input: (T, N, D) or (T, D); weight_ih: (G H, D); weight_hh: (G H, P), P = H without a
            projection; biases: (G H,) or None; weight_hr: (P, H) or None
        returns: x (T, N, D), states [(N, P) or (N, H), ...], unbatched (a bool)
    Formula:
        none (checks, and a batch axis of 1 for unbatched input)
    Torch:
        none (torch.nn.RNNBase.check_forward_args does the same checks for its modules)
    """
    x = checks.float_array(input, "input", (2, 3))
    unbatched = x.ndim == 2
    x = x[:, None] if unbatched else x
    t, n, d = x.shape
    if t == 0:
        raise ValueError(f"input must have a sequence length T >= 1, got shape {input.shape}")
    checks.float_array(weight_hh, "weight_hh", (2,))
    checks.same_dtype(x, weight_hh, "weight_hh")
    rows, p = weight_hh.shape
    h = rows // gates
    if weight_hr is None and rows != gates * p:
        raise ValueError(
            f"weight_hh must have shape ({gates} * hidden_size, hidden_size), got {weight_hh.shape}"
        )
    if weight_hr is not None:
        checks.float_array(weight_hr, "weight_hr", (2,))
        checks.same_dtype(x, weight_hr, "weight_hr")
        if rows != gates * h or weight_hr.shape != (p, h):
            raise ValueError(
                f"weight_hr must have shape (proj_size, hidden_size) = ({p}, {rows / gates:g}) "
                f"for weight_hh of shape {weight_hh.shape}, got {weight_hr.shape}"
            )
    checks.float_array(weight_ih, "weight_ih", (2,))
    checks.same_dtype(x, weight_ih, "weight_ih")
    if weight_ih.shape != (rows, d):
        raise ValueError(
            f"weight_ih must have shape ({rows}, {d}) ({gates} * hidden_size, input features), "
            f"got {weight_ih.shape}"
        )
    for name, b in (("bias_ih", bias_ih), ("bias_hh", bias_hh)):
        if b is not None:
            checks.float_array(b, name, (1,))
            checks.same_dtype(x, b, name)
            if b.shape != (rows,):
                raise ValueError(f"{name} must have shape ({rows},), got {b.shape}")
    out = []
    for name, s in states.items():
        size = p if name == "hx" else h
        if s is None:
            out.append(np.zeros((n, size), dtype=x.dtype))
            continue
        checks.any_float_array(s, name)
        checks.same_dtype(x, s, name)
        want = (size,) if unbatched else (n, size)
        if s.ndim != len(want):
            raise ValueError(
                f"{name} must be {len(want)}-D for {input.ndim}-D input (as in torch), "
                f"got shape {s.shape}"
            )
        if s.shape != want:
            raise ValueError(
                f"{name} must have shape {want} for input {input.shape}, got {s.shape}"
            )
        out.append(s[None] if unbatched else s)
    return x, out, unbatched


def check_upstream(grad_output, finals, x, unbatched):
    """``grad_output`` ``(T, N, P)`` and the final-state gradients ``(N, size)``, batched like
    ``x`` (without the batch axis for unbatched input); None means zeros.

    ``finals`` maps a name (``"grad_h_n"``, ``"grad_c_n"``) to ``(array or None, size)``, and
    ``grad_output``'s last axis has the size of the first. Returns ``grad_output`` and then each
    final-state gradient, all as batched arrays.

    Shapes:
        grad_output: (T, N, P), or (T, P) when unbatched; each final: (N, size) or (size,)
        returns: [(T, N, P), (N, size), ...]
    Formula:
        none (checks; None becomes zeros)
    Torch:
        none (autograd gives a missing gradient as zeros)
    """
    t, n, _ = x.shape
    sizes = [size for _, size in finals.values()]
    drop = (lambda shape: shape[:1] + shape[2:]) if unbatched else (lambda shape: shape)
    shape = drop((t, n, sizes[0]))
    if grad_output is None:
        grad_output = np.zeros(shape, dtype=x.dtype)
    g = checks.check_grad_output(grad_output, shape, x.dtype)
    out = [g[:, None] if unbatched else g]
    for name, (g, size) in finals.items():
        shape = (size,) if unbatched else (n, size)
        if g is None:
            g = np.zeros(shape, dtype=x.dtype)
        checks.any_float_array(g, name)
        if g.shape != shape:
            raise ValueError(f"{name} must have the final state's shape {shape}, got {g.shape}")
        if g.dtype != x.dtype:
            raise TypeError(f"{name} has dtype {g.dtype} but input has dtype {x.dtype}")
        out.append(g[None] if unbatched else g)
    return out


def unbatch(unbatched, sequences, states):
    """Undo the batch of one that unbatched input was run as: drop axis 1 of the ``(T, 1, ...)``
    ``sequences`` and axis 0 of the ``(1, ...)`` ``states`` (None stays None). Returns them all
    in one tuple, sequences first; unchanged when ``unbatched`` is False.

    Shapes:
        sequences: [(T, 1, F), ...]; states: [(1, S) or None, ...]
        returns: ((T, F), ..., (S,) or None, ...)
    Formula:
        none (indexing)
    Torch:
        none (torch.nn.RNN squeezes its output and state the same way for unbatched input)
    """
    if not unbatched:
        return (*sequences, *states)
    return (*(s[:, 0] for s in sequences), *(None if s is None else s[0] for s in states))


def project(x, weight, bias):
    """An affine map over the last axis, for all time steps (or one) at once.

    Shapes:
        x: (..., D); weight: (R, D); bias: (R,) or None
        returns: (..., R)
    Formula:
        y = x W^T + b
    Torch:
        torch.nn.functional.linear
    """
    y = x @ weight.T
    return y if bias is None else y + bias


def weight_grads(delta, inputs, bias):
    """The gradients of ``W`` and ``b`` in ``delta_t = d(x_t W^T + b)``, summed over time and
    batch.

    Shapes:
        delta: (T, N, R); inputs: (T, N, D); bias: (R,) or None (only whether it is None counts)
        returns: (grad_W (R, D), grad_b (R,) or None)
    Formula:
        grad_W = sum_t delta_t^T x_t, grad_b = sum_{t, n} delta_t[n]
    Torch:
        autograd through torch.nn.functional.linear, summed over time
    """
    rows = delta.shape[-1]
    grad_w = delta.reshape(-1, rows).T @ inputs.reshape(-1, inputs.shape[-1])
    return grad_w, None if bias is None else delta.sum(axis=(0, 1))


def check_nonlinearity(nonlinearity):
    """``nonlinearity`` itself if it is ``'tanh'`` or ``'relu'``; a ValueError otherwise.

    Shapes:
        nonlinearity: a string
        returns: the same string
    Formula:
        none (a check)
    Torch:
        none (torch.nn.RNN raises ValueError for any other nonlinearity)
    """
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    return nonlinearity


# --- the Elman RNN --------------------------------------------------------------------------------


def rnn_states(input, hx, weight_ih, weight_hh, bias_ih, bias_hh, nonlinearity):
    """Every hidden state ``h_0 .. h_T`` as one array: the loop that ``rnn`` and
    ``rnn_backward`` share. Unbatched input is run as a batch of one; returns
    ``(x, hs, unbatched)`` with ``x`` the batched input.

    Shapes:
        input: (T, N, D) or unbatched (T, D); hx: (N, H), (H,) or None (zeros)
        weight_ih: (H, D); weight_hh: (H, H); bias_ih, bias_hh: (H,) or None
        returns: x (T, N, D), hs (T + 1, N, H) with hs[0] = h_0, unbatched (a bool)
    Formula:
        h_t = phi(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), phi = tanh or relu
    Torch:
        none (torch.nn.RNN keeps its states inside autograd's graph)
    """
    check_nonlinearity(nonlinearity)
    x, (h0,), unbatched = check_recurrent(
        input, {"hx": hx}, weight_ih, weight_hh, bias_ih, bias_hh, 1
    )
    xw = project(x, weight_ih, bias_ih)  # (T, N, H): the input's share of every step
    hs = np.empty((len(x) + 1, *h0.shape), dtype=x.dtype)
    hs[0] = h0
    for t in range(len(x)):
        a = xw[t] + project(hs[t], weight_hh, bias_hh)
        hs[t + 1] = np.tanh(a) if nonlinearity == "tanh" else np.maximum(a, 0)
    return x, hs, unbatched


def rnn(input, hx, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    r"""One unidirectional Elman RNN layer; returns ``(output, h_n)``.

    Shapes:
        input: (T, N, D) (time, batch, features) or unbatched (T, D)
        hx: (N, H) or unbatched (H,), the initial state h_0; None means zeros
        weight_ih: (H, D); weight_hh: (H, H); bias_ih, bias_hh: (H,) or None
        nonlinearity: 'tanh' or 'relu'
        returns: output (T, N, H), every state h_1 .. h_T; h_n (N, H), the last;
            unbatched input gives (T, H) and (H,)
    Formula:
        h_t = phi(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), phi = tanh or relu
    Torch:
        torch.nn.RNN (one layer, one direction; weights as weight_ih_l0, weight_hh_l0,
        bias_ih_l0, bias_hh_l0; hx as h_0[0])
    """
    _, hs, unbatched = rnn_states(input, hx, weight_ih, weight_hh, bias_ih, bias_hh, nonlinearity)
    return unbatch(unbatched, [hs[1:]], [hs[-1].copy()])


def rnn_backward(
    grad_output, input, hx, weight_ih, weight_hh, bias_ih=None, bias_hh=None,
    nonlinearity="tanh", *, grad_h_n=None,
):  # fmt: skip
    r"""BPTT: the gradients of :math:`L` given ``grad_output`` :math:`= \partial L/\partial
    \text{output}` and, optionally, ``grad_h_n`` :math:`= \partial L/\partial h_n`. Either may
    be None (zeros). A sequence cut into chunks is backpropagated in full by passing each
    chunk's ``grad_hx`` to the chunk before as ``grad_h_n``; truncated BPTT drops it instead.

    Shapes:
        grad_output: (T, N, H), or (T, H) for unbatched input; grad_h_n: (N, H) or (H,)
        the other arguments: as for rnn
        returns: (grad_input, grad_hx, grad_weight_ih, grad_weight_hh, grad_bias_ih,
            grad_bias_hh), each shaped like its argument; None for an argument given as None
    Formula:
        delta_t = (g_t + W_hh^T delta_{t+1}) * phi'(a_t), a_t the pre-activation;
        dW_hh = sum_t delta_t h_{t-1}^T, dW_ih = sum_t delta_t x_t^T, dx_t = W_ih^T delta_t
    Torch:
        autograd through torch.nn.RNN (one layer, one direction)
    """
    x, hs, unbatched = rnn_states(input, hx, weight_ih, weight_hh, bias_ih, bias_hh, nonlinearity)
    h = hs.shape[-1]
    g, dh = check_upstream(grad_output, {"grad_h_n": (grad_h_n, h)}, x, unbatched)
    delta = np.empty_like(g)  # gradient of the pre-activation a_t, for every t
    for t in reversed(range(len(x))):
        dh = dh + g[t]  # from the output at step t, and from step t + 1 through h_t
        ht = hs[t + 1]
        delta[t] = dh * (1 - ht * ht) if nonlinearity == "tanh" else np.where(ht > 0, dh, 0)
        dh = delta[t] @ weight_hh  # on to h_{t-1}
    grad_w_ih, grad_b_ih = weight_grads(delta, x, bias_ih)
    grad_w_hh, grad_b_hh = weight_grads(delta, hs[:-1], bias_hh)
    grad_hx = None if hx is None else dh
    grads = unbatch(unbatched, [delta @ weight_ih], [grad_hx])
    return (*grads, grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh)
