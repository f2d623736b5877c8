r"""The RNN chapter's experiments: gradients measured across time, clipping, a character model.

* :func:`functional_pairs`, :func:`layer_pairs` and :func:`clipping_pairs` hold
  :func:`dlbook.scratch.rnn`, its BPTT, :class:`dlbook.scratch.RNN` and the clipping functions
  to ``torch.nn.RNN`` and ``torch.nn.utils``, in float64.
* :func:`gradient_through_time`: :math:`\|\partial L/\partial h_t\|` for every step of a random
  tanh RNN, by BPTT (:func:`dlbook.scratch.rnn_backward`), for a loss on the last state only;
  :func:`recurrent_weight` makes its recurrent matrix with a chosen spectral radius.
* :func:`train_sine`: a small RNN trained on :func:`dlbook.data.sequences.sine_forecast` with
  plain SGD, clipped or not; :func:`clip_directions` compares clipping by norm and by value.
* :func:`train_char`, :func:`char_loss`, :func:`sample`: a character language model in NumPy
  (one-hot inputs, :class:`dlbook.scratch.RNN`, a :class:`dlbook.scratch.Linear` readout,
  :func:`dlbook.scratch.train_tbptt`). Its PyTorch twin is written out in the chapter.
  :func:`unigram_loss` and :func:`bigram_loss` are the baselines it must beat.
* :func:`check_rnn_backward`: the checker of the exercise in which the reader writes BPTT.
"""

from __future__ import annotations

import numbers
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from dlbook import seeding
from dlbook.data.sequences import sine_forecast
from dlbook.exercise import Case, Report, check
from dlbook.scratch import (
    RNN,
    Linear,
    clip_grad_norm_,
    clip_grad_value_,
    cross_entropy,
    mse_loss,
    mse_loss_backward,
    rnn,
    rnn_backward,
    softmax,
    train_tbptt,
)
from dlbook.scratch.optim import SGD, Adam
from dlbook.timing import one_thread

__all__ = [
    "rnn_output",
    "functional_pairs",
    "layer_pairs",
    "clipping_pairs",
    "char_baselines",
    "spectral_radius",
    "largest_singular_value",
    "recurrent_weight",
    "TimeGradients",
    "gradient_through_time",
    "train_sine",
    "clip_directions",
    "one_hot",
    "parallel_streams",
    "char_model",
    "char_loss",
    "unigram_loss",
    "bigram_loss",
    "CharRun",
    "train_char",
    "sample",
    "check_rnn_backward",
]


def _int(value, name, minimum=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def _number(value, name, allow_zero=False):
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not ok or not (value >= 0 if allow_zero else value > 0):
        raise ValueError(f"{name} must be a number {'>=' if allow_zero else '>'} 0, got {value!r}")
    return float(value)


def rnn_output(input, hx, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    """Only the ``output`` of :func:`dlbook.scratch.rnn`, one array as ``gradcheck`` wants; its
    backward is :func:`dlbook.scratch.rnn_backward` itself."""
    return rnn(input, hx, weight_ih, weight_hh, bias_ih, bias_hh, nonlinearity)[0]


# --- held to torch -------------------------------------------------------------------------------


def functional_pairs(rng, seq_len=7, batch=3, input_size=4, hidden_size=5) -> dict:
    """:func:`~dlbook.scratch.rnn` and :func:`~dlbook.scratch.rnn_backward` against a float64
    ``torch.nn.RNN``, for both nonlinearities, with and without biases. Each run takes torch's
    initial weights (from torch's global generator) and draws the input, the initial state and
    the upstream gradients of the output *and* of ``h_n`` from ``rng``. Returns
    ``{"tanh, bias=True: output": (scratch, torch), ...}`` for :func:`dlbook.verify.compare`."""
    t, n = _int(seq_len, "seq_len"), _int(batch, "batch")
    d, h = _int(input_size, "input_size"), _int(hidden_size, "hidden_size")
    checks = {}
    for nonlinearity in ("tanh", "relu"):
        for bias in (True, False):
            ref = nn.RNN(d, h, nonlinearity=nonlinearity, bias=bias, dtype=torch.float64)
            w = {k: v.detach().numpy() for k, v in ref.state_dict().items()}
            x, h0 = rng.standard_normal((t, n, d)), rng.standard_normal((n, h))
            g, g_n = rng.standard_normal((t, n, h)), rng.standard_normal((n, h))
            xt = torch.tensor(x, requires_grad=True)
            h0t = torch.tensor(h0[None], requires_grad=True)
            out_t, hn_t = ref(xt, h0t)
            loss = (out_t * torch.from_numpy(g)).sum() + (hn_t[0] * torch.from_numpy(g_n)).sum()
            loss.backward()
            weights = [w.get(f"{k}_l0") for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            out, h_n = rnn(x, h0, *weights, nonlinearity=nonlinearity)
            grads = rnn_backward(g, x, h0, *weights, nonlinearity, grad_h_n=g_n)
            tag = f"{nonlinearity}, bias={bias}:"
            theirs = [xt.grad, h0t.grad[0]] + [p.grad for p in ref.parameters()]
            checks[f"{tag} output"] = (out, out_t.detach().numpy())
            checks[f"{tag} h_n"] = (h_n, hn_t[0].detach().numpy())
            names = ["grad input", "grad h_0", "grad weight_ih", "grad weight_hh"]
            names += ["grad bias_ih", "grad bias_hh"] if bias else []
            for name, ours, t_grad in zip(names, grads, theirs):
                checks[f"{tag} {name}"] = (ours, t_grad.numpy())
    return checks


def layer_pairs(rng, seq_len=7, batch=3, input_size=4, hidden_size=5) -> dict:
    """The layer :class:`dlbook.scratch.RNN` against ``torch.nn.RNN`` with the same (torch's)
    weights, forward and backward, in float64: input and upstream gradient drawn from ``rng``.
    Returns ``{"layer RNN: output": (scratch, torch), ...}`` (the parameter gradients
    concatenated in ``params`` order)."""
    t, n = _int(seq_len, "seq_len"), _int(batch, "batch")
    d, h = _int(input_size, "input_size"), _int(hidden_size, "hidden_size")
    ref = nn.RNN(d, h, dtype=torch.float64)
    layer = RNN(d, h, dtype=np.float64)
    layer.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    x, g = rng.standard_normal((t, n, d)), rng.standard_normal((t, n, h))
    xt = torch.tensor(x, requires_grad=True)
    out_t, _ = ref(xt)
    out_t.backward(torch.from_numpy(g))
    out, _ = layer(x)
    return {
        "layer RNN: output": (out, out_t.detach().numpy()),
        "layer RNN: grad input": (layer.backward(g), xt.grad.numpy()),
        "layer RNN: parameter grads": (
            np.concatenate([a.ravel() for a in layer.grads]),
            torch.cat([p.grad.ravel() for p in ref.parameters()]).numpy(),
        ),
    }


def clipping_pairs(rng) -> dict:
    """The same two random gradients (a ``(4, 5)`` one of norm about 13 and a ``(5,)`` one,
    from ``rng``) clipped by :func:`~dlbook.scratch.clip_grad_norm_` to 1 and then by
    :func:`~dlbook.scratch.clip_grad_value_` to 0.1, and by torch's ``torch.nn.utils`` twins.
    Returns ``{name: (scratch, torch)}``: the norm and the clipped gradients, then the gradients
    clipped by value."""
    grads = [rng.standard_normal((4, 5)) * 3, rng.standard_normal(5)]
    params = [torch.zeros(a.shape, dtype=torch.float64, requires_grad=True) for a in grads]
    for p, a in zip(params, grads):
        p.grad = torch.from_numpy(a.copy())
    total = clip_grad_norm_(grads, 1.0)
    total_t = torch.nn.utils.clip_grad_norm_(params, 1.0)
    checks = {
        "clip_grad_norm_: norm, clipped grads": (
            np.concatenate([[total], *[a.ravel() for a in grads]]),
            torch.cat([total_t[None], *[p.grad.ravel() for p in params]]).numpy(),
        )
    }
    clip_grad_value_(grads, 0.1)
    torch.nn.utils.clip_grad_value_(params, 0.1)
    checks["clip_grad_value_: clipped grads"] = (
        np.concatenate([a.ravel() for a in grads]),
        torch.cat([p.grad.ravel() for p in params]).numpy(),
    )
    return checks


# --- gradients across time -----------------------------------------------------------------------


def spectral_radius(w) -> float:
    """The largest ``|eigenvalue|``: the rate at which ``||W^k||`` grows or shrinks, for large k."""
    return float(np.max(np.abs(np.linalg.eigvals(np.asarray(w, dtype=np.float64)))))


def largest_singular_value(w) -> float:
    """``||W||_2``: the most one multiplication by ``W`` can stretch a vector."""
    return float(np.linalg.norm(np.asarray(w, dtype=np.float64), 2))


def recurrent_weight(hidden, radius, kind="gaussian", seed=0) -> np.ndarray:
    """A ``(hidden, hidden)`` float64 matrix of spectral radius ``radius``: Gaussian entries,
    rescaled (``"gaussian"``), or a random orthogonal matrix times ``radius`` (``"orthogonal"``:
    every singular value is then ``radius``)."""
    hidden, radius = _int(hidden, "hidden"), _number(radius, "radius")
    if kind not in ("gaussian", "orthogonal"):
        raise ValueError(f"kind must be 'gaussian' or 'orthogonal', got {kind!r}")
    a = seeding.rng(seed).standard_normal((hidden, hidden))
    if kind == "orthogonal":
        q, r = np.linalg.qr(a)
        return q * np.sign(np.diag(r)) * radius
    return a * (radius / spectral_radius(a))


@dataclass
class TimeGradients:
    r"""What :func:`gradient_through_time` measured: ``hidden`` ``(T, N, H)``, the states
    :math:`h_1..h_T`, and ``grad_norms`` ``(T + 1, N)``, :math:`\|\partial L/\partial h_t\|`
    for ``t = 0..T`` (1 at ``t = T``)."""

    hidden: np.ndarray
    grad_norms: np.ndarray

    @property
    def profile(self) -> np.ndarray:
        """The geometric mean over the batch, ``(T + 1,)``."""
        return np.exp(np.log(self.grad_norms).mean(axis=1))

    def ratio(self, back: int) -> float:
        """The gradient ``back`` steps before the end, relative to the last step's."""
        if _int(back, "back", 0) >= len(self.profile):
            raise ValueError(f"back must be < {len(self.profile)}, got {back}")
        return float(self.profile[-1 - back] / self.profile[-1])

    def factor(self, start: int = 10, stop: int = 60) -> float:
        """The mean factor per step by which the gradient grows going back, between ``start``
        and ``stop`` steps before the end (below 1: it vanishes)."""
        if not 0 <= start < stop < len(self.profile):
            raise ValueError(f"need 0 <= start < stop < {len(self.profile)}, got {start}, {stop}")
        return float((self.ratio(stop) / self.ratio(start)) ** (1 / (stop - start)))


def gradient_through_time(weight_hh, length=100, batch=32, input_scale=0.1, seed=0):
    r"""BPTT through a tanh RNN with recurrent matrix ``weight_hh`` ``(H, H)``, no biases,
    driven by Gaussian inputs (standard deviation ``input_scale``), for :math:`L = u^\top h_T`
    with a random unit vector :math:`u` per sequence. The input enters the state directly
    (:math:`W_{ih} = I`), so ``grad_input[t]`` is :math:`\delta_{t+1}` and
    :math:`\partial L/\partial h_t = W_{hh}^\top \delta_{t+1}`. Returns a :class:`TimeGradients`.
    """
    w = np.asarray(weight_hh, dtype=np.float64)
    if w.ndim != 2 or w.shape[0] != w.shape[1]:
        raise ValueError(f"weight_hh must be a square matrix, got shape {w.shape}")
    length, batch = _int(length, "length"), _int(batch, "batch")
    rng, h = seeding.rng(seed), len(w)
    x = rng.standard_normal((length, batch, h)) * _number(input_scale, "input_scale", True)
    u = rng.standard_normal((batch, h))
    g = np.zeros_like(x)
    g[-1] = u / np.linalg.norm(u, axis=1, keepdims=True)
    out, _ = rnn(x, None, np.eye(h), w)
    delta = rnn_backward(g, x, None, np.eye(h), w)[0]  # delta_1 .. delta_T
    norms = np.linalg.norm(delta @ w, axis=2)  # dL/dh_0 .. dL/dh_{T-1}
    return TimeGradients(out, np.concatenate([norms, np.ones((1, batch))]))


# --- clipping ------------------------------------------------------------------------------------


def train_sine(radius=1.5, lr=0.3, steps=300, *, max_norm=None, clip_value=None, hidden=32,
               length=50, batch=32, seed=0):  # fmt: skip
    """Train ``RNN(1, hidden)`` and ``Linear(hidden, 1)`` (float64) with SGD and full BPTT to
    forecast a sine wave's next value; ``W_hh`` starts rescaled to spectral radius ``radius``.
    Clips by value, then by norm, if asked; stops at the first non-finite loss. Returns a dict:
    ``losses``, ``norms`` (before clipping), ``diverged_at`` (a step, or None) and ``spike``
    (a copy of the largest gradient)."""
    radius, lr, steps = _number(radius, "radius"), _number(lr, "lr"), _int(steps, "steps")
    for name, v in (("max_norm", max_norm), ("clip_value", clip_value)):
        if v is not None:
            _number(v, name)
    x, y = (a.astype(np.float64) for a in sine_forecast(n=512, length=length, seed=0))
    rng = seeding.rng(seed)
    model = RNN(1, hidden, dtype=np.float64, rng=rng)
    readout = Linear(hidden, 1, dtype=np.float64, rng=rng)
    w = model.weight_hh_l0
    w *= radius / spectral_radius(w)
    opt = SGD(model.params + readout.params, lr=lr)
    run = {"losses": [], "norms": [], "diverged_at": None, "spike": None}
    with np.errstate(all="ignore"), one_thread():
        for step in range(steps):
            idx = rng.integers(0, x.shape[1], batch)
            pred = readout(model(x[:, idx])[0])
            run["losses"].append(float(mse_loss(pred, y[:, idx])))
            if not np.isfinite(run["losses"][-1]):
                run["diverged_at"] = step
                break
            model.backward(readout.backward(mse_loss_backward(1.0, pred, y[:, idx])))
            grads = model.grads + readout.grads
            if not run["norms"] or np.sqrt(sum(np.sum(g * g) for g in grads)) > max(run["norms"]):
                run["spike"] = [g.copy() for g in grads]
            if clip_value is not None:
                clip_grad_value_(grads, clip_value)
            run["norms"].append(clip_grad_norm_(grads, np.inf if max_norm is None else max_norm))
            opt.step(grads)
    return run | {"losses": np.array(run["losses"]), "norms": np.array(run["norms"])}


def clip_directions(grads, max_norm, clip_value) -> dict:
    """Clip copies of ``grads`` (arrays) by norm and by value. Returns the norm before
    (``norm``), and for ``by_norm`` and ``by_value`` the clipped norm and the cosine with the
    original gradient (``by_norm_norm``, ``by_norm_cos``, ...)."""
    grads = [np.array(g, dtype=np.float64) for g in grads]
    flat = np.concatenate([g.ravel() for g in grads])
    by_norm, by_value = [g.copy() for g in grads], [g.copy() for g in grads]
    clip_grad_norm_(by_norm, _number(max_norm, "max_norm"))
    clip_grad_value_(by_value, _number(clip_value, "clip_value"))
    result = {"norm": float(np.linalg.norm(flat))}
    for name, clipped in (("by_norm", by_norm), ("by_value", by_value)):
        c = np.concatenate([g.ravel() for g in clipped])
        result[f"{name}_norm"] = float(np.linalg.norm(c))
        result[f"{name}_cos"] = float(c @ flat / (np.linalg.norm(c) * np.linalg.norm(flat)))
    return result


# --- a character language model ------------------------------------------------------------------


def one_hot(ids, vocab_size, dtype=np.float32) -> np.ndarray:
    """Integer ids of any shape as one-hot vectors along a new last axis."""
    ids, vocab_size = np.asarray(ids), _int(vocab_size, "vocab_size")
    if ids.size and (ids.min() < 0 or ids.max() >= vocab_size):
        raise ValueError(f"ids must lie in [0, {vocab_size}), got {ids.min()}..{ids.max()}")
    return np.eye(vocab_size, dtype=dtype)[ids]


def parallel_streams(ids, n) -> tuple[np.ndarray, np.ndarray]:
    """The text cut into ``n`` consecutive pieces read side by side: inputs and targets, each
    ``(L, n)``, the targets one character ahead. Truncated BPTT walks down them in chunks."""
    ids, n = np.asarray(ids), _int(n, "n")
    steps = (len(ids) - 1) // n
    if steps < 1:
        raise ValueError(f"ids of length {len(ids)} is too short for n={n} streams")
    return ids[: n * steps].reshape(n, steps).T, ids[1 : n * steps + 1].reshape(n, steps).T


def char_model(vocab_size, hidden=96, seed=0) -> tuple[RNN, Linear]:
    """``RNN(vocab_size, hidden)`` and ``Linear(hidden, vocab_size)``: float32, torch's init."""
    rng = seeding.rng(seed)
    return RNN(vocab_size, _int(hidden, "hidden"), rng=rng), Linear(hidden, vocab_size, rng=rng)


def char_loss(model, readout, ids, n_streams=8) -> float:
    """Mean cross-entropy (nats per character) of predicting each next character of ``ids``,
    read as ``n_streams`` streams from a zero state."""
    x, y = parallel_streams(ids, n_streams)
    with one_thread():
        out, _ = model(one_hot(x, readout.weight.shape[0]))
        return float(cross_entropy(readout(out.reshape(-1, out.shape[-1])), y.reshape(-1)))


def unigram_loss(train_ids, test_ids, vocab_size) -> float:
    """Cross-entropy on ``test_ids`` of the character frequencies of ``train_ids``, add-one
    smoothed so that a character never seen in training costs a finite amount."""
    counts = np.bincount(np.asarray(train_ids), minlength=_int(vocab_size, "vocab_size")) + 1.0
    return float(-np.mean(np.log(counts / counts.sum())[np.asarray(test_ids)]))


def bigram_loss(train_ids, test_ids, vocab_size, alpha=1.0) -> float:
    """Cross-entropy on ``test_ids[1:]`` of each character's successor frequencies in
    ``train_ids`` (a bigram model: the next character given only the one before it), add-alpha
    smoothed: every pair's count is raised by ``alpha`` (1 is add-one, Laplace's rule)."""
    v, alpha = _int(vocab_size, "vocab_size"), _number(alpha, "alpha")
    train_ids, test_ids = np.asarray(train_ids), np.asarray(test_ids)
    if len(train_ids) < 2 or len(test_ids) < 2:
        raise ValueError("train_ids and test_ids must each hold at least two characters")
    counts = np.full((v, v), alpha)
    np.add.at(counts, (train_ids[:-1], train_ids[1:]), 1.0)
    p = counts / counts.sum(axis=1, keepdims=True)
    return float(-np.mean(np.log(p[test_ids[:-1], test_ids[1:]])))


def char_baselines(train_ids, test_ids, vocab_size, alphas=(0.3, 0.1, 0.03, 0.01)) -> dict:
    r"""What a character model must beat, in nats per character: ``uniform`` (:math:`\ln V`),
    ``unigram`` and ``bigram`` (add-one smoothed; each a dict with ``train`` and ``test``, the
    loss on the training text and on the held-out text), and ``bigram_best``: the held-out
    bigram loss with its smoothing ``alpha`` tuned on the held-out text itself, the best a
    bigram could possibly do."""
    texts = {"train": train_ids, "test": test_ids}
    return {
        "uniform": float(np.log(_int(vocab_size, "vocab_size"))),
        "unigram": {k: unigram_loss(train_ids, ids, vocab_size) for k, ids in texts.items()},
        "bigram": {k: bigram_loss(train_ids, ids, vocab_size) for k, ids in texts.items()},
        "bigram_best": min(bigram_loss(train_ids, test_ids, vocab_size, alpha=a) for a in alphas),
    }


@dataclass
class CharRun:
    """A trained character model, its per-update losses and gradient norms, its CPU time."""

    model: RNN
    readout: Linear
    losses: list = field(default_factory=list)
    norms: list = field(default_factory=list)
    cpu_seconds: float = 0.0


def train_char(train_ids, vocab_size, *, hidden=96, length=25, batch=32, epochs=12, lr=8e-3,
               max_norm=1.0, seed=0) -> CharRun:  # fmt: skip
    """Train :func:`char_model` with Adam and :func:`dlbook.scratch.train_tbptt` on ``batch``
    parallel streams, in chunks of ``length`` steps, clipping the gradient norm to
    ``max_norm``. Each epoch starts the streams from a zero state."""
    model, readout = char_model(vocab_size, hidden, seed)
    run, (x, y) = CharRun(model, readout), parallel_streams(train_ids, batch)
    inputs = one_hot(x, vocab_size)
    opt = Adam(model.params + readout.params, lr=_number(lr, "lr"))
    start = time.process_time()
    with one_thread():
        for _ in range(_int(epochs, "epochs")):
            lo, no, _ = train_tbptt(model, readout, opt, inputs, y, length, max_norm=max_norm)
            run.losses, run.norms = run.losses + lo, run.norms + no
    run.cpu_seconds = time.process_time() - start
    return run


def sample(model, readout, vocab, prompt, length=200, temperature=0.8, seed=0) -> str:
    r"""``prompt`` continued by ``length`` characters, each drawn from
    :math:`\mathrm{softmax}(z / \tau)` of the readout's scores :math:`z` and fed back in
    (``temperature`` :math:`\tau`: near 0 is greedy, 1 the model's own distribution).
    ``vocab`` is a :class:`~dlbook.data.sequences.CharCorpus`."""
    length, temperature = _int(length, "length", 0), _number(temperature, "temperature")
    if not prompt:
        raise ValueError("prompt must hold at least one character")
    rng, v, ids = seeding.rng(seed), readout.weight.shape[0], []
    with one_thread():
        out, state = model(one_hot(vocab.encode(prompt)[:, None], v))
        for _ in range(length):
            p = softmax(readout(out[-1]).astype(np.float64) / temperature, -1)[0]
            ids.append(int(rng.choice(v, p=p / p.sum())))
            out, state = model(one_hot(np.array([[ids[-1]]]), v), state)
    return prompt + vocab.decode(ids)


# --- the exercise: BPTT written by the reader ----------------------------------------------------


def _rnn_backward_cases() -> list[Case]:
    rng = np.random.default_rng(7)

    def args(t, n, d, h, dtype=np.float64, last_only=False):
        g = rng.standard_normal((t, n, h))
        if last_only:  # no gradient at the outputs but the last: only the recurrence carries it
            g[:-1] = 0
        x, h0 = rng.standard_normal((t, n, d)), rng.standard_normal((n, h))
        w = [rng.standard_normal(s) / 2 for s in ((h, d), (h, h))]
        b = [rng.standard_normal(h) / 5 for _ in range(2)]
        return tuple(a.astype(dtype) for a in (g, x, h0, *w, *b))

    return [
        Case(args(1, 1, 3, 3), label="one step, one sequence"),
        Case(args(5, 3, 2, 4), label="5 steps, batch of 3, D = 2, H = 4"),
        Case(args(6, 2, 3, 2, last_only=True), label="gradient at the last output only"),
        Case(args(4, 2, 3, 5, dtype=np.float32), label="float32"),
    ]


def _rnn_backward_twin(grad_output, input, hx, weight_ih, weight_hh, bias_ih, bias_hh):
    """The same gradients from autograd through ``torch.nn.RNN``, in the input's dtype."""
    h, d = weight_ih.shape
    dtype = torch.float32 if input.dtype == np.float32 else torch.float64
    net = nn.RNN(d, h, dtype=torch.float64)
    names = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
    arrays = (weight_ih, weight_hh, bias_ih, bias_hh)
    net.load_state_dict({k: torch.from_numpy(v.astype(np.float64)) for k, v in zip(names, arrays)})
    x = torch.tensor(input, dtype=torch.float64, requires_grad=True)
    h0 = torch.tensor(hx[None], dtype=torch.float64, requires_grad=True)
    out, _ = net(x, h0)
    out.backward(torch.from_numpy(grad_output.astype(np.float64)))
    grads = [x.grad, h0.grad[0], *(p.grad for p in net.parameters())]
    return tuple(g.to(dtype) for g in grads)


def check_rnn_backward(fn) -> Report:
    """Hold the reader's BPTT ``fn(grad_output, input, hx, weight_ih, weight_hh, bias_ih,
    bias_hh)`` for the tanh RNN to :func:`dlbook.scratch.rnn_backward`: one step, a batch with
    D != H, a gradient that arrives at the last output only (so that only the recurrence carries
    it back), and float32.

    Shapes:
        grad_output: (T, N, H); input: (T, N, D); hx: (N, H)
        weight_ih: (H, D); weight_hh: (H, H); bias_ih, bias_hh: (H,)
        returns: a Report; fn must return (grad_input, grad_hx, grad_weight_ih, grad_weight_hh,
            grad_bias_ih, grad_bias_hh), each shaped like its argument, in input's dtype
    Formula:
        delta_t = (g_t + W_hh^T delta_{t+1}) * (1 - h_t^2); dx_t = W_ih^T delta_t;
        dh_0 = W_hh^T delta_1; dW_hh = sum_t delta_t h_{t-1}^T; dW_ih = sum_t delta_t x_t^T;
        db = sum_t delta_t
    Torch:
        autograd through torch.nn.RNN
    """
    outputs = ("grad_input", "grad_hx", "grad_weight_ih", "grad_weight_hh", "grad_bias_ih",
               "grad_bias_hh")  # fmt: skip
    cases = _rnn_backward_cases()
    # torch is held to the reference in float64 only: float32 rounds differently in each library.
    exact = [c for c in cases if c.args[0].dtype == np.float64]
    if not check(lambda *a: rnn_backward(*a), _rnn_backward_twin, exact, outputs=outputs):
        raise ValueError("the reference rnn_backward disagrees with torch")
    report = check(fn, lambda *a: rnn_backward(*a), cases, name="rnn_backward", outputs=outputs,
                   atol=1e-6, rtol=1e-5)  # fmt: skip
    report.notes.append(f"  (the reference equals torch on the {len(exact)} float64 cases)")
    return report
