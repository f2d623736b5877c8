r"""The LSTM and GRU chapter's experiments: holding the from-scratch layers to torch, reading
their gates, and measuring how far back a gradient reaches on the adding problem.

* :func:`torch_pairs`, :func:`torch_comparison` and :func:`gradcheck_layer` check
  :func:`dlbook.scratch.lstm`, :func:`~dlbook.scratch.gru` and their BPTT against
  ``torch.nn.LSTM``/``GRU`` and finite differences.
* :func:`lstm_gates` and :func:`gru_gates` return every gate at every step of a sequence, for
  the figures: the states come from the from-scratch layers, the gates from one matrix product.
* :class:`AddingModel` and :func:`train_adding` train a recurrent layer plus a linear readout on
  :func:`dlbook.data.sequences.adding_problem`; :func:`input_sensitivity` measures
  :math:`\lVert\partial\hat y/\partial x_t\rVert` against the distance :math:`T - t` with the
  from-scratch BPTT; :func:`model_gates` reads a trained model's gates, :func:`memory_unit`
  finds the unit that holds the answer and :func:`memory_stats` what its gates do, and
  :func:`forget_shift_mse` measures what happens when the forget gate is pushed shut or open,
  :func:`length_mse` on sequences of other lengths.
* :func:`check_lstm_cell`: the checker of the exercise in which the reader writes one LSTM step.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
from torch import nn

from dlbook import seeding
from dlbook.data.sequences import adding_problem
from dlbook.exercise import Case, Report, check
from dlbook.scratch import (
    gru,
    gru_backward,
    linear,
    lstm,
    lstm_backward,
    rnn,
    rnn_backward,
    sigmoid,
)
from dlbook.scratch.gradcheck import gradcheck
from dlbook.train import train_steps

__all__ = [
    "KINDS",
    "torch_pairs",
    "torch_comparison",
    "gradcheck_layer",
    "lstm_gates",
    "gru_gates",
    "AddingModel",
    "adding_data",
    "layer_weights",
    "train_adding",
    "input_sensitivity",
    "memory_unit",
    "memory_stats",
    "model_gates",
    "forget_shift_mse",
    "length_mse",
    "check_lstm_cell",
]

# kind -> (forward, backward, torch module, number of H-row blocks, names of the final states)
KINDS = {
    "rnn": (rnn, rnn_backward, nn.RNN, 1, ("h_n",)),
    "lstm": (lstm, lstm_backward, nn.LSTM, 4, ("h_n", "c_n")),
    "gru": (gru, gru_backward, nn.GRU, 3, ("h_n",)),
}


SHAPES = (
    dict(seq_len=6, batch=3, input_size=4, hidden_size=5),
    dict(seq_len=9, batch=2, input_size=1, hidden_size=7),
)


def _ints(minimum=1, **values):
    """Raise ValueError naming the first of ``values`` that is not an int >= ``minimum``."""
    for name, v in values.items():
        if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
            raise ValueError(f"{name} must be an int >= {minimum}, got {v!r}")


def _kind(kind):
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {sorted(KINDS)}, got {kind!r}")
    return KINDS[kind]


def layer_weights(layer) -> tuple:
    """``(weight_ih, weight_hh, bias_ih, bias_hh)`` of a one-layer torch ``RNN``/``LSTM``/``GRU``
    as float64 NumPy arrays (the biases None when it has none), ready for the scratch functions."""
    if not isinstance(layer, (nn.RNN, nn.LSTM, nn.GRU)) or layer.num_layers != 1:
        raise ValueError(f"layer must be a one-layer nn.RNN, nn.LSTM or nn.GRU, got {layer!r}")
    get = lambda n: getattr(layer, n).detach().cpu().double().numpy() if layer.bias else None  # noqa: E731
    w = [
        getattr(layer, n).detach().cpu().double().numpy() for n in ("weight_ih_l0", "weight_hh_l0")
    ]
    return (*w, get("bias_ih_l0"), get("bias_hh_l0"))


def torch_pairs(kind, bias=True, seq_len=6, batch=3, input_size=4, hidden_size=5, seed=0) -> dict:
    """Run a float64 one-layer torch ``kind`` layer and the from-scratch one on the same random
    input, initial state(s) and upstream gradients (of ``output`` and of every final state).
    Returns ``{name: (scratch, torch)}`` for the outputs and every gradient, for
    :func:`dlbook.verify.compare`."""
    forward, backward, module, _, finals = _kind(kind)
    _ints(seq_len=seq_len, batch=batch, input_size=input_size, hidden_size=hidden_size)
    seeding.manual_seed(seed)
    layer = module(input_size, hidden_size, bias=bias).double()
    x = torch.randn(seq_len, batch, input_size, dtype=torch.float64, requires_grad=True)
    states = [
        torch.randn(1, batch, hidden_size, dtype=torch.float64, requires_grad=True) for _ in finals
    ]
    out, last = layer(x, tuple(states) if kind == "lstm" else states[0])
    last = last if kind == "lstm" else (last,)
    g_out = torch.randn_like(out)
    g_last = [torch.randn_like(s) for s in last]
    torch.autograd.backward([out, *last], [g_out, *g_last])

    weights = layer_weights(layer)
    np_states = [s.detach().numpy()[0] for s in states]
    ours = forward(x.detach().numpy(), *np_states, *weights)
    kw = {f"grad_{f}": g.numpy()[0] for f, g in zip(finals, g_last)}
    grads = backward(g_out.numpy(), x.detach().numpy(), *np_states, *weights, **kw)
    names = ["input", *(("hx", "cx") if kind == "lstm" else ("hx",))]
    names += [n.removesuffix("_l0") for n, _ in layer.named_parameters()]
    theirs = [out, *(s[0] for s in last), x.grad, *(s.grad[0] for s in states)]
    theirs += [p.grad for p in layer.parameters()]
    keys = ["output", *finals] + [f"grad {n}" for n in names]
    return {k: (o, t.detach().numpy()) for k, o, t in zip(keys, [*ours, *grads], theirs)}


def torch_comparison(kind, shapes=SHAPES) -> dict:
    """:func:`torch_pairs` with and without biases for each of ``shapes`` (keyword dicts), merged
    into one ``(scratch, torch)`` pair of flattened arrays per quantity."""
    runs = [
        torch_pairs(kind, b, seed=k, **sh) for k, sh in enumerate(shapes) for b in (True, False)
    ]
    cat = lambda name, i: np.concatenate([r[name][i].ravel() for r in runs if name in r])  # noqa: E731
    return {name: (cat(name, 0), cat(name, 1)) for name in runs[0]}


def gradcheck_layer(kind, bias=True, seq_len=4, batch=2, input_size=3, hidden_size=3, seed=1):
    """Finite differences against the from-scratch BPTT of ``kind``, in float64, for every
    argument, with the final states appended to the output so that their gradients count too."""
    forward, backward, _, gates, finals = _kind(kind)
    _ints(seq_len=seq_len, batch=batch, input_size=input_size, hidden_size=hidden_size)
    rng = seeding.rng(seed)
    h = hidden_size
    args = [rng.standard_normal((seq_len, batch, input_size))]
    args += [rng.standard_normal((batch, h)) for _ in finals]
    args += [
        0.5 * rng.standard_normal((gates * h, input_size)),
        0.5 * rng.standard_normal((gates * h, h)),
    ]
    args += [0.5 * rng.standard_normal(gates * h) if bias else None for _ in range(2)]

    @functools.wraps(forward)
    def whole(*a):
        out, *last = forward(*a)
        return np.concatenate([out] + [s[None] for s in last])

    @functools.wraps(backward)
    def whole_backward(g, *a):
        kw = {f"grad_{f}": g[seq_len + k] for k, f in enumerate(finals)}
        return backward(g[:seq_len], *a, **kw)

    return gradcheck(whole, whole_backward, args, tol=1e-7)


def lstm_gates(input, hx, cx, weight_ih, weight_hh, bias_ih=None, bias_hh=None) -> dict:
    r"""Every gate of :func:`dlbook.scratch.lstm` at every step, for looking at, not for training.

    The hidden states :math:`h_1..h_T` come from ``lstm`` itself; from them the pre-activations
    of all steps are one product, :math:`a_t = W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}`,
    split into :math:`i, f, o = \sigma(\cdot)` and :math:`g = \tanh(\cdot)` in torch's order;
    the cell states follow from :math:`c_t = f_t \odot c_{t-1} + i_t \odot g_t`. Returns
    ``{"i", "f", "g", "o", "c", "h"}``, each ``(T, N, H)``; ``o * tanh(c)`` is ``h`` again (the
    tests hold it so)."""
    output, _, _ = lstm(input, hx, cx, weight_ih, weight_hh, bias_ih, bias_hh)
    t_len, n, h = output.shape
    h0 = np.zeros((n, h), output.dtype) if hx is None else hx
    prev = np.concatenate([h0[None], output[:-1]])
    a = (linear(input, weight_ih, bias_ih) + linear(prev, weight_hh, bias_hh)).reshape(
        t_len, n, 4, h
    )
    gates = {k: sigmoid(a[:, :, j]) for j, k in ((0, "i"), (1, "f"), (3, "o"))}
    gates["g"] = np.tanh(a[:, :, 2])
    c = np.empty_like(output)
    c_prev = np.zeros((n, h), output.dtype) if cx is None else cx
    for t in range(t_len):
        c[t] = c_prev = gates["f"][t] * c_prev + gates["i"][t] * gates["g"][t]
    return {**gates, "c": c, "h": output}


def gru_gates(input, hx, weight_ih, weight_hh, bias_ih=None, bias_hh=None) -> dict:
    r"""Every gate of :func:`dlbook.scratch.gru` at every step (for figures): with the states
    from ``gru``, :math:`r, z = \sigma(\cdot)` and :math:`n = \tanh(W_{in} x_t + b_{in} + r \odot
    (W_{hn} h_{t-1} + b_{hn}))`. Returns ``{"r", "z", "n", "h"}``, each ``(T, N, H)``;
    ``(1 - z) * n + z * h_prev`` is ``h`` again."""
    output, _ = gru(input, hx, weight_ih, weight_hh, bias_ih, bias_hh)
    t_len, n, h = output.shape
    h0 = np.zeros((n, h), output.dtype) if hx is None else hx
    prev = np.concatenate([h0[None], output[:-1]])
    xw = linear(input, weight_ih, bias_ih).reshape(t_len, n, 3, h)
    hw = linear(prev, weight_hh, bias_hh).reshape(t_len, n, 3, h)
    r, z = sigmoid(xw[:, :, 0] + hw[:, :, 0]), sigmoid(xw[:, :, 1] + hw[:, :, 1])
    return {"r": r, "z": z, "n": np.tanh(xw[:, :, 2] + r * hw[:, :, 2]), "h": output}


class AddingModel(nn.Module):
    """A one-layer ``nn.RNN``/``LSTM``/``GRU`` (``kind``) on the 2 input channels of the adding
    problem, and a linear readout of its last hidden state: ``(T, N, 2) -> (N,)``.
    ``forget_bias`` (LSTM only) sets the forget gate's share of ``bias_ih`` and zeroes its share
    of ``bias_hh``, so that :math:`f \\approx \\sigma(\\text{forget\\_bias})` at the start;
    None keeps torch's default. ``identity=True`` (kind ``"rnn"`` only) makes the IRNN of Le,
    Jaitly and Hinton: ReLU units, :math:`W_{hh} = I` and zero biases (``weight_ih`` keeps
    torch's initialization)."""

    def __init__(self, kind, hidden_size=32, forget_bias=None, identity=False):
        super().__init__()
        _ints(hidden_size=hidden_size)
        if forget_bias is not None and kind != "lstm":
            raise ValueError(f"forget_bias is for kind='lstm' only, got kind={kind!r}")
        if identity and kind != "rnn":
            raise ValueError(f"identity is for kind='rnn' only, got kind={kind!r}")
        self.kind, h = kind, hidden_size
        self.rnn = nn.RNN(2, h, nonlinearity="relu") if identity else _kind(kind)[2](2, h)
        self.readout = nn.Linear(h, 1)
        with torch.no_grad():
            if forget_bias is not None:
                self.rnn.bias_ih_l0[h : 2 * h] = float(forget_bias)
                self.rnn.bias_hh_l0[h : 2 * h] = 0.0
            if identity:
                self.rnn.weight_hh_l0.copy_(torch.eye(h))
                self.rnn.bias_ih_l0.zero_()
                self.rnn.bias_hh_l0.zero_()

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.readout(out[-1]).squeeze(-1)


def adding_data(length=50, n_train=4096, n_test=1000, seed=0) -> dict:
    """Training and test sets of the adding problem (different seeds), float32, and the mean
    squared error of the best constant guess, the training targets' mean, on the test set."""
    _ints(2, length=length, n_train=n_train, n_test=n_test)
    x_train, y_train = adding_problem(n_train, length, seed=seed)
    x_test, y_test = adding_problem(n_test, length, seed=seed + 1)
    baseline = float(np.mean((y_test - y_train.mean()) ** 2))
    return dict(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test, baseline=baseline)


def train_adding(model, data, steps=1000, lr=1e-2, batch_size=64, seed=0, device=None, every=50,
                 max_norm=None):  # fmt: skip
    """Adam on the mean squared error, ``steps`` minibatches drawn at random (seeded) from
    ``data["x_train"]``, the gradient norm clipped to ``max_norm`` if given. Returns
    ``{"step", "test_mse"}``: the test error before training and after every ``every`` steps.
    The model is trained in place, on ``device``."""
    _ints(steps=steps, batch_size=batch_size, every=every)
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr!r}")
    if max_norm is not None and not max_norm > 0:
        raise ValueError(f"max_norm must be > 0 or None, got {max_norm!r}")
    device = torch.device("cpu") if device is None else torch.device(device)
    model.to(device)
    x, y, xt, yt = (
        torch.as_tensor(data[k], device=device) for k in ("x_train", "y_train", "x_test", "y_test")
    )
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = seeding.generator(seed)

    def test_mse():
        with torch.no_grad():
            return float(((model(xt) - yt) ** 2).mean())

    def batch_loss(idx):
        return ((model(x[:, idx]) - y[idx]) ** 2).mean()

    batches = (
        torch.randint(0, x.shape[1], (batch_size,), generator=gen).to(device) for _ in range(steps)
    )
    history = {"step": [0], "test_mse": [test_mse()]}
    steps_done = train_steps(batch_loss, opt, batches, clip_grad_norm=max_norm)
    for step, _ in enumerate(steps_done, 1):
        if step % every == 0:
            history["step"].append(step)
            history["test_mse"].append(test_mse())
    return history


def input_sensitivity(model, x) -> np.ndarray:
    r""":math:`\lVert\partial\hat y/\partial x_t\rVert`, averaged over the sequences in ``x``
    ``(T, N, 2)``, indexed by the distance :math:`T - t` (entry 0 is the last step). Computed in
    float64 by the from-scratch BPTT, started with :math:`\partial\hat y/\partial h_T`, the
    readout's weights. The gradient of the squared error is this times :math:`2(\hat y - y)`."""
    if not isinstance(model, AddingModel):
        raise ValueError(f"model must be an AddingModel, got {type(model).__name__}")
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 3 or x.shape[2] != 2:
        raise ValueError(f"x must have shape (T, N, 2), got {x.shape}")
    _, backward, _, _, finals = KINDS[model.kind]
    t_len, n, _ = x.shape
    u = model.readout.weight.detach().cpu().double().numpy()[0]
    kw = {"grad_h_n": np.tile(u, (n, 1))}
    if model.kind == "rnn":
        kw["nonlinearity"] = model.rnn.nonlinearity
    states = [None] * len(finals)
    grad = backward(np.zeros((t_len, n, u.size)), x, *states, *layer_weights(model.rnn), **kw)[0]
    return np.linalg.norm(grad, axis=2).mean(axis=1)[::-1].copy()


def memory_unit(values, y) -> tuple[int, float]:
    """The unit whose final value in ``values`` ``(T, N, H)`` (a cell state, say) correlates
    most strongly with the targets ``y`` ``(N,)``, and that correlation."""
    values = np.asarray(values)
    if values.ndim != 3 or values.shape[1] != len(y):
        raise ValueError(f"values must be (T, N, H) with N = len(y) = {len(y)}, got {values.shape}")
    corr = [np.corrcoef(values[-1, :, k], y)[0, 1] for k in range(values.shape[2])]
    k = int(np.nanargmax(np.abs(corr)))
    return k, float(corr[k])


def memory_stats(g_lstm, unit, g_gru, unit_gru, marks, init_lstm, init_gru, span=49) -> dict:
    """What the gates of the memory units (:func:`memory_unit`) do, as mean gate values: the
    LSTM unit ``unit``'s input gate at the marked steps (``i_mark``) and elsewhere
    (``i_rest``), its forget gate away from the markers (``f_rest``; ``f_min`` its least
    value), its output gate (``o_unit``), every unit's input gate at and away from the markers
    (``i_mark_all``, ``i_rest_all``), the GRU unit ``unit_gru``'s update gate (``z_mark``,
    ``z_rest``); the same units' forget and update gates away from the markers at
    initialization (``f_unit_init``, ``z_unit_init``, from the gates ``init_lstm`` and
    ``init_gru``), and the factor ``f ** span`` along the cell path over ``span`` steps before
    and after training (``pow_init``, ``pow_trained``). The gates are :func:`model_gates`
    dicts of ``(T, N, H)`` arrays; ``marks`` ``(T, N)`` is True at the marked steps."""
    marks = np.asarray(marks, dtype=bool)
    if marks.shape != g_lstm["i"].shape[:2] or marks.shape != g_gru["z"].shape[:2]:
        raise ValueError(f"marks must be (T, N) = {g_lstm['i'].shape[:2]}, got {marks.shape}")
    i, f, z = g_lstm["i"][..., unit], g_lstm["f"][..., unit], g_gru["z"][..., unit_gru]
    stats = {
        "i_mark": i[marks].mean(),
        "i_rest": i[~marks].mean(),
        "f_rest": f[~marks].mean(),
        "f_min": f[~marks].min(),
        "i_mark_all": g_lstm["i"][marks].mean(),
        "i_rest_all": g_lstm["i"][~marks].mean(),
        "o_unit": g_lstm["o"][..., unit].mean(),
        "z_mark": z[marks].mean(),
        "z_rest": z[~marks].mean(),
        "f_unit_init": init_lstm["f"][..., unit][~marks].mean(),
        "z_unit_init": init_gru["z"][..., unit_gru][~marks].mean(),
    }
    stats["pow_init"], stats["pow_trained"] = stats["f_unit_init"] ** span, stats["f_rest"] ** span
    return {k: float(v) for k, v in stats.items()}


def _lstm_weights(model, forget_shift):
    """The float64 weights of an LSTM :class:`AddingModel`, ``forget_shift`` added to the forget
    gate's block of ``bias_ih``."""
    w_ih, w_hh, b_ih, b_hh = layer_weights(model.rnn)
    h = w_hh.shape[1]
    b_ih = b_ih.copy()
    b_ih[h : 2 * h] += forget_shift
    return w_ih, w_hh, b_ih, b_hh


def _readout(model, h_n):
    w = model.readout.weight.detach().cpu().double().numpy()[0]
    return h_n @ w + float(model.readout.bias.detach().cpu())


def model_gates(model, x, forget_shift=0.0) -> dict:
    """The gates of a trained LSTM or GRU :class:`AddingModel` on ``x`` ``(T, N, 2)``
    (:func:`lstm_gates` or :func:`gru_gates`, in float64), and its predictions ``"y_hat"``
    ``(N,)``. ``forget_shift`` (LSTM only) is added to the forget gate's bias first."""
    if not isinstance(model, AddingModel) or model.kind == "rnn":
        raise ValueError("model must be an AddingModel of kind 'lstm' or 'gru'")
    if forget_shift and model.kind != "lstm":
        raise ValueError(f"forget_shift is for an LSTM only, got kind={model.kind!r}")
    x = np.asarray(x, dtype=np.float64)
    if model.kind == "lstm":
        gates = lstm_gates(x, None, None, *_lstm_weights(model, forget_shift))
    else:
        gates = gru_gates(x, None, *layer_weights(model.rnn))
    gates["y_hat"] = _readout(model, gates["h"][-1])
    return gates


def forget_shift_mse(model, x, y, shifts) -> np.ndarray:
    """Test MSE of a trained LSTM :class:`AddingModel` after adding each of ``shifts`` to its
    forget gate's bias, :math:`f = \\sigma(a_f + \\text{shift})`, run by
    :func:`dlbook.scratch.lstm` in float64."""
    if not isinstance(model, AddingModel) or model.kind != "lstm":
        raise ValueError("model must be an AddingModel of kind 'lstm'")
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    mse = [
        np.mean((_readout(model, lstm(x, None, None, *_lstm_weights(model, s))[1]) - y) ** 2)
        for s in shifts
    ]
    return np.array(mse)


def length_mse(model, lengths, n=200, seed=11) -> np.ndarray:
    """Test MSE of a trained LSTM or GRU :class:`AddingModel` on ``n`` fresh adding-problem
    sequences of each of ``lengths`` (which it may never have seen), in float64."""
    out = []
    for length in lengths:
        x, y = adding_problem(n, int(length), seed=seed)
        out.append(np.mean((model_gates(model, x)["y_hat"] - y) ** 2))
    return np.array(out)


# --- the exercise: one LSTM step written by the reader -------------------------------------------


def _lstm_cell_reference(input, hx, cx, weight_ih, weight_hh, bias_ih, bias_hh):
    """One step of :func:`dlbook.scratch.lstm`: ``(h_1, c_1)``."""
    _, h_1, c_1 = lstm(input[None], hx, cx, weight_ih, weight_hh, bias_ih, bias_hh)
    return h_1, c_1


def _lstm_cell_cases() -> list[Case]:
    rng = np.random.default_rng(3)

    def args(n, d, h, forget_bias=0.0):
        x, hx, cx = (
            rng.standard_normal((n, d)),
            rng.standard_normal((n, h)),
            rng.standard_normal((n, h)),
        )
        w_ih, w_hh = rng.standard_normal((4 * h, d)), rng.standard_normal((4 * h, h))
        b_ih, b_hh = rng.standard_normal(4 * h), rng.standard_normal(4 * h)
        b_ih[h : 2 * h] += forget_bias  # torch's gate order: i, f, g, o
        return x, hx, cx, w_ih, w_hh, b_ih, b_hh

    return [
        Case(args(1, 2, 2), label="one sequence, D = H = 2"),
        Case(args(4, 5, 3), label="batch of 4, D = 5, H = 3"),
        Case(args(3, 1, 4, forget_bias=3.0), label="forget gates near 1"),
    ]


def _lstm_cell_twin(input, hx, cx, weight_ih, weight_hh, bias_ih, bias_hh):
    """The same step by ``torch.nn.LSTMCell``, in float64."""
    cell = nn.LSTMCell(input.shape[1], hx.shape[1], dtype=torch.float64)
    arrays = dict(weight_ih=weight_ih, weight_hh=weight_hh, bias_ih=bias_ih, bias_hh=bias_hh)
    cell.load_state_dict({k: torch.from_numpy(v) for k, v in arrays.items()})
    with torch.no_grad():
        return cell(torch.from_numpy(input), (torch.from_numpy(hx), torch.from_numpy(cx)))


def check_lstm_cell(fn) -> Report:
    """Hold the reader's ``fn(input, hx, cx, weight_ih, weight_hh, bias_ih, bias_hh)``, one LSTM
    step in torch's layout, to one step of :func:`dlbook.scratch.lstm`: one sequence with D = H,
    a batch with D != H, and forget gates pushed near 1 by their bias.

    Shapes:
        input: (N, D); hx, cx: (N, H); weight_ih: (4H, D); weight_hh: (4H, H)
        bias_ih, bias_hh: (4H,); the row blocks are the gates i, f, g, o
        returns: a Report; fn must return (h_1, c_1), each (N, H)
    Formula:
        i, f, o = sigmoid(a_i), sigmoid(a_f), sigmoid(a_o); g = tanh(a_g),
        a = x W_ih^T + b_ih + h W_hh^T + b_hh; c_1 = f c + i g; h_1 = o tanh(c_1)
    Torch:
        torch.nn.LSTMCell
    """
    return check(fn, _lstm_cell_reference, _lstm_cell_cases(), name="lstm_cell",
                 outputs=("h_1", "c_1"), torch_twin=_lstm_cell_twin)  # fmt: skip
