"""The deep and bidirectional RNN chapter's experiments.

* :func:`twins` builds one of our stacked, bidirectional layers (:class:`dlbook.scratch.GRU` ...)
  and its ``torch.nn`` twin with the same weights; :func:`torch_pairs` runs both forward and
  backward and pairs up what must agree; :func:`layer_gradcheck` checks a layer's backward by
  finite differences, for the input, the initial state and every parameter.
* :func:`schedule` is the earliest step at which each cell of the depth × time grid can be
  computed, given unlimited parallel hardware.
* :func:`sensitivity_matrix` measures how much each output step depends on each input step,
  with one backward pass of a from-scratch layer.
* :class:`SequenceClassifier`, :class:`ConvClassifier` and :func:`train_models`: MNIST-1D read
  one sample per step by recurrent networks, or by a small 1-D CNN, trained with
  :func:`dlbook.train.fit`; :func:`step_time` times one training step; :func:`time_saliency`
  asks a trained model which steps it used.
* :func:`offset_task`, :class:`Tagger` and :func:`train_tagger`: a task where the target at step
  ``t`` is the input at ``t + d``; only a bidirectional network can see a future input.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dlbook import seeding
from dlbook.data.offline import Split
from dlbook.exercise import Case, Report, check
from dlbook.nets import count_parameters  # re-exported for the chapter
from dlbook.scratch import GRU, LSTM, RNN
from dlbook.scratch.gradcheck import numerical_gradient
from dlbook.train import fit, shuffled_batches, train_steps
from dlbook.verify import gradient_verdict

__all__ = [
    "KINDS",
    "twins",
    "torch_pairs",
    "layer_gradcheck",
    "schedule",
    "sensitivity_matrix",
    "batch_first",
    "SequenceClassifier",
    "MERGES",
    "merge_study",
    "ConvClassifier",
    "receptive_field_1d",
    "count_parameters",
    "train_models",
    "step_time",
    "epochs_to",
    "comparison_summary",
    "time_saliency",
    "offset_task",
    "Tagger",
    "train_tagger",
    "check_bidirectional_gru",
]

KINDS = {"rnn": (RNN, nn.RNN), "lstm": (LSTM, nn.LSTM), "gru": (GRU, nn.GRU)}


def _int(value, name, low=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    return int(value)


def _kind(kind):
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {list(KINDS)}, got {kind!r}")
    return KINDS[kind]


def _tuple(state):
    return state if isinstance(state, tuple) else (state,)


def twins(kind, input_size, hidden_size, num_layers=2, bidirectional=True, seed=0):
    """``(ours, theirs)``: a float64 ``torch.nn.RNN``/``LSTM``/``GRU`` made with seed ``seed``
    and our layer of the same kind, loaded with its ``state_dict``."""
    ours_cls, torch_cls = _kind(kind)
    seeding.manual_seed(seed)
    theirs = torch_cls(input_size, hidden_size, num_layers, bidirectional=bidirectional).double()
    ours = ours_cls(input_size, hidden_size, num_layers, bidirectional=bidirectional,
                    dtype=np.float64)  # fmt: skip
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def torch_pairs(ours, theirs, x, hx, grad_output, grad_state, prefix=""):
    """Run both layers forward from ``hx`` (an array, or ``(h_0, c_0)`` for the LSTM) and
    backward from ``grad_output`` and ``grad_state``; return ``{name: (ours, torch's)}`` for
    the output, the final state, and the gradients of the input, the initial state and all
    parameters (concatenated), ready for :func:`dlbook.verify.compare`."""
    names = ("h", "c")
    x_t = torch.tensor(x, requires_grad=True)
    hx_t = tuple(torch.tensor(s, requires_grad=True) for s in _tuple(hx))
    out_t, state_t = theirs(x_t, hx_t if len(hx_t) == 2 else hx_t[0])
    loss = (out_t * torch.from_numpy(grad_output)).sum()
    for s, g in zip(_tuple(state_t), _tuple(grad_state)):
        loss = loss + (s * torch.from_numpy(g)).sum()
    loss.backward()
    out, state = ours(x, hx)
    grad_x = ours.backward(grad_output, grad_state)
    pairs = {f"{prefix}output": (out, out_t)}
    for n, a, b in zip(names, _tuple(state), _tuple(state_t)):
        pairs[f"{prefix}{n}_n"] = (a, b)
    pairs[f"{prefix}grad input"] = (grad_x, x_t.grad)
    for n, a, b in zip(names, _tuple(ours.grad_hx), hx_t):
        pairs[f"{prefix}grad {n}_0"] = (a, b.grad)
    ours_g = np.concatenate([g.ravel() for g in ours.grads])
    theirs_g = np.concatenate([p.grad.numpy().ravel() for p in theirs.parameters()])
    pairs[f"{prefix}grads of all {len(ours.grads)} parameters"] = (ours_g, theirs_g)
    return pairs


def layer_gradcheck(layer, x, hx=None, tol=1e-6, seed=0):
    """Finite differences against ``layer.backward`` for the loss ``sum(output * g) +
    sum(final state * g_state)`` with random ``g``: the input, each initial state, and the
    parameters of each layer and direction (``l0``, ``l0_reverse``, ...) together. Float64."""
    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        raise ValueError("x must be a float64 array: in float32, round-off swamps the check")
    rng = seeding.rng(seed)
    out, state = layer(x, hx)
    g = rng.standard_normal(out.shape)
    g_state = tuple(rng.standard_normal(s.shape) for s in _tuple(state))

    def loss():
        out, state = layer(x, hx)
        return np.sum(out * g) + sum(np.sum(s * gs) for s, gs in zip(_tuple(state), g_state))

    grad_x = layer.backward(g, g_state if len(g_state) == 2 else g_state[0])
    result = gradient_verdict(tol=tol)
    result.add("input", grad_x, numerical_gradient(loss, x))
    if hx is not None:
        for name, s, gs in zip(("h_0", "c_0"), _tuple(hx), _tuple(layer.grad_hx)):
            result.add(name, gs, numerical_gradient(loss, s))
    named, grads = layer.named_params(), dict(zip(layer.named_params(), layer.grads))
    for cell in dict.fromkeys(name.split("_", 2)[-1] for name in named):  # l0, l0_reverse, ...
        keys = [k for k in named if k.split("_", 2)[-1] == cell]
        analytic = np.concatenate([grads[k].ravel() for k in keys])
        numeric = np.concatenate([numerical_gradient(loss, named[k]).ravel() for k in keys])
        result.add(f"weights {cell}", analytic, numeric)
    return result


def schedule(length, num_layers, bidirectional):
    """``steps[l, d, t]``: the earliest step (1, 2, ...) at which cell ``(layer l, direction d,
    time t)`` can be computed when every cell whose inputs are ready runs at once. A cell needs
    its predecessor in its own direction and the layer below at the same time step, both
    directions of it. Shape ``(num_layers, directions, length)``."""
    length, num_layers = _int(length, "length"), _int(num_layers, "num_layers")
    dirs = 2 if bidirectional else 1
    steps = np.zeros((num_layers, dirs, length), dtype=int)
    for layer in range(num_layers):
        below = np.zeros(length, int) if layer == 0 else steps[layer - 1].max(axis=0)
        for d in range(dirs):
            previous = 0
            for t in range(length) if d == 0 else reversed(range(length)):
                steps[layer, d, t] = previous = max(previous, below[t]) + 1
    return steps


def sensitivity_matrix(layer, x, half="both"):
    r"""``M[t, s] = \|\partial y_t / \partial x_s\|_F`` for one sequence ``x`` ``(T, 1, D)`` and
    our layer's output ``y``: how strongly output step ``t`` depends on input step ``s``.
    ``half`` picks the features of ``y_t``: ``"forward"``, ``"backward"`` (bidirectional only)
    or ``"both"``. One forward and one backward pass: the sequence is copied once per (t,
    feature), and each copy back-propagates one unit of one output."""
    x = np.asarray(x)
    if x.ndim != 3 or x.shape[1] != 1:
        raise ValueError(f"x must be one sequence of shape (T, 1, D), got {x.shape}")
    h, dirs = layer.hidden_size, layer.directions
    spans = {"both": range(dirs * h), "forward": range(h)}
    if dirs == 2:
        spans["backward"] = range(h, 2 * h)
    if half not in spans:
        raise ValueError(f"half must be one of {list(spans)}, got {half!r}")
    feats, t_len = list(spans[half]), x.shape[0]
    k = len(feats)
    out, _ = layer(np.repeat(x, t_len * k, axis=1))
    g = np.zeros_like(out)
    for t in range(t_len):
        g[t, t * k + np.arange(k), feats] = 1
    grad = layer.backward(g).reshape(t_len, t_len, k, -1)  # (s, t, feature, D)
    return np.sqrt((grad**2).sum(axis=(2, 3))).T


# --- MNIST-1D: recurrent networks against a 1-D CNN -------------------------------------------


def batch_first(data):
    """A :class:`Split` of ``(T, N, D)`` sequences → the same with ``(N, T, D)``, as
    :func:`dlbook.train.fit` expects (it batches along the first axis)."""
    if data.x_train.ndim != 3:
        raise ValueError(f"data must hold (T, N, D) sequences, got {data.x_train.shape}")
    swap = lambda a: np.ascontiguousarray(a.transpose(1, 0, 2))  # noqa: E731
    return Split(swap(data.x_train), data.y_train, swap(data.x_test), data.y_test, data.name)


class SequenceClassifier(nn.Module):
    """A stacked, optionally bidirectional RNN/LSTM/GRU and a linear layer on its last layer's
    final state (both directions' final states, concatenated). Takes ``(N, T, D)``."""

    def __init__(self, kind="gru", input_size=1, hidden_size=32, num_layers=1,
                 bidirectional=False, classes=10):  # fmt: skip
        super().__init__()
        self.rnn = _kind(kind)[1](input_size, hidden_size, num_layers, bidirectional=bidirectional)
        self.head = nn.Linear(hidden_size * (2 if bidirectional else 1), classes)

    def forward(self, x):
        _, state = self.rnn(x.transpose(0, 1))  # the RNN wants (T, N, D)
        h_n = state[0] if isinstance(state, tuple) else state
        dirs = 2 if self.rnn.bidirectional else 1
        return self.head(torch.cat(list(h_n[-dirs:]), dim=1))  # last layer: forward, backward


class ConvClassifier(nn.Sequential):
    """Three 1-D convolutions (kernel 5, ReLU), max pooling after the first two, global max
    pooling and a linear layer. Takes ``(N, T, 1)``, like :class:`SequenceClassifier`."""

    def __init__(self, channels=32, classes=10):
        c = _int(channels, "channels")
        super().__init__(
            nn.Conv1d(1, c, 5, padding=2), nn.ReLU(), nn.MaxPool1d(2),
            nn.Conv1d(c, c, 5, padding=2), nn.ReLU(), nn.MaxPool1d(2),
            nn.Conv1d(c, c, 5, padding=2), nn.ReLU(),
            nn.AdaptiveMaxPool1d(1), nn.Flatten(), nn.Linear(c, classes),
        )  # fmt: skip

    def forward(self, x):
        return super().forward(x.transpose(1, 2))


def receptive_field_1d(model):
    """Receptive field (in input steps) of the ``Conv1d``/``MaxPool1d`` layers of a sequential
    model, before any global pooling: ``r += (k - 1) * jump; jump *= stride``."""
    r, jump = 1, 1
    for m in model:
        if isinstance(m, (nn.Conv1d, nn.MaxPool1d)):
            k, s = (m.kernel_size, m.stride)
            k, s = (k[0] if isinstance(k, tuple) else k), (s[0] if isinstance(s, tuple) else s)
            r, jump = r + (k - 1) * jump, jump * s
    return r


def train_models(data, factories, epochs=8, lr=2e-2, batch_size=64, clip_grad_norm=1.0, seed=0,
                 device=None):  # fmt: skip
    """Train each model ``factories[name]()`` on ``data`` (batch-first) with
    :func:`dlbook.train.fit`: Adam, the same epochs, learning rate, batches, clipping and seed
    for all. Returns ``{name: {"model", "params", "history", "seconds"}}``; ``seconds`` is the
    wall time of all epochs, including the test evaluation after each."""
    if not factories:
        raise ValueError("factories must name at least one model")
    results = {}
    for name, make in factories.items():
        seeding.manual_seed(seed)  # the same initial weights on every run
        model = make()
        history = fit(model, data, epochs=epochs, lr=lr, batch_size=batch_size, device=device,
                      seed=seed, clip_grad_norm=clip_grad_norm, eval_train=False)  # fmt: skip
        results[name] = dict(model=model, params=count_parameters(model), history=history,
                             seconds=sum(history["seconds"]))  # fmt: skip
    return results


def step_time(model, x, y, repeat=20, device=None):
    """Seconds for one training step's forward and backward pass of ``model`` on the batch
    ``(x, y)`` (no optimizer step): the fastest of ``repeat`` runs, which other work on a busy
    machine can only slow down (:func:`dlbook.timing.best_time`)."""
    from dlbook.timing import best_time

    device = next(model.parameters()).device if device is None else torch.device(device)
    xt = torch.as_tensor(x, dtype=torch.float32, device=device)
    yt = torch.as_tensor(y, dtype=torch.long, device=device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    model.train()

    def step():
        model.zero_grad()
        F.cross_entropy(model(xt), yt).backward()
        sync()

    return best_time(step, repeat=_int(repeat, "repeat"))


def epochs_to(history, accuracy):
    """The first epoch (1-based) whose test accuracy reaches ``accuracy``; None if none did."""
    if not 0 <= accuracy <= 1:
        raise ValueError(f"accuracy must be a fraction in [0, 1], got {accuracy!r}")
    hits = [i + 1 for i, a in enumerate(history["test_acc"]) if a >= accuracy]
    return hits[0] if hits else None


def comparison_summary(results, tags, accuracy=0.9):
    """The numbers the chapter quotes about :func:`train_models`'s ``results``, by name. For
    each model, with ``tags`` mapping its name to a short tag: ``acc_{tag}`` and ``acc2_{tag}``,
    the test accuracy in percent after the last and after the second epoch; ``params_{tag}``;
    ``ep90_{tag}``, the first epoch whose test accuracy reaches ``accuracy`` (0 if none). And
    ``acc_spread``: the best final accuracy minus the worst, in points."""
    if set(tags) != set(results):
        raise ValueError(f"tags must name exactly the models {list(results)}, got {list(tags)}")
    summary = {}
    for name, tag in tags.items():
        h = results[name]["history"]
        summary[f"acc_{tag}"] = round(float(100 * h["test_acc"][-1]), 4)
        summary[f"params_{tag}"] = int(results[name]["params"])
        summary[f"ep90_{tag}"] = int(epochs_to(h, accuracy) or 0)
        summary[f"acc2_{tag}"] = round(float(100 * h["test_acc"][1]), 4)
    accs = [100 * r["history"]["test_acc"][-1] for r in results.values()]
    summary["acc_spread"] = round(float(max(accs) - min(accs)), 4)
    return summary


def time_saliency(model, x, y, device=None):
    """Mean over examples of ``|d logit_y / d x_t|``: how much each time step of the input moves
    the score of the true class. ``x`` ``(N, T, 1)``; returns ``(T,)``. The model is put in
    training mode for the backward pass (cuDNN refuses an RNN backward in evaluation mode);
    these models have no dropout or batch norm, so nothing else changes."""
    if np.ndim(x) != 3 or len(x) != len(y):
        raise ValueError(f"x must be (N, T, D) with one label in y per example, got {np.shape(x)}")
    device = next(model.parameters()).device if device is None else device
    xt = torch.as_tensor(x, dtype=torch.float32, device=device).requires_grad_()
    yt = torch.as_tensor(y, dtype=torch.long, device=device)
    model.train()
    model(xt).gather(1, yt[:, None]).sum().backward()
    return xt.grad.abs().mean(dim=(0, 2)).cpu().numpy()


# --- a task where the direction matters ---------------------------------------------------------


def offset_task(n=1024, length=20, offsets=range(-4, 5), seed=0):
    """Random bits, one per step: ``x`` ``(T, N, 1)`` of ±1. The targets ``y`` ``(T, N, K)`` hold,
    for each offset ``d``, the bit at step ``t + d`` (0 or 1); ``mask`` ``(T, N, K)`` is False
    where ``t + d`` falls outside the sequence."""
    n, length = _int(n, "n"), _int(length, "length")
    offsets = np.asarray(list(offsets))
    if offsets.size == 0 or np.abs(offsets).max() >= length:
        raise ValueError(f"offsets must be non-empty and shorter than length, got {offsets}")
    bits = seeding.rng(seed).integers(0, 2, (length, n))
    y = np.zeros((length, n, len(offsets)), np.float32)
    mask = np.zeros(y.shape, bool)
    t = np.arange(length)
    for j, d in enumerate(offsets):
        ok = (t + d >= 0) & (t + d < length)
        y[t[ok], :, j], mask[t[ok], :, j] = bits[t[ok] + d], True
    return (2 * bits - 1)[..., None].astype(np.float32), y, mask


MERGES = ("concat", "sum", "mul", "ave")


class Tagger(nn.Module):
    """A GRU (one layer, optionally bidirectional) and a linear layer at every step: ``(T, N, 1)``
    → ``(T, N, K)`` logits, one per offset.

    ``merge`` says how a bidirectional GRU's two directions meet before the linear layer:
    ``"concat"`` (torch's layout, ``2H`` features), or element-wise ``"sum"``, ``"mul"`` (the
    product) or ``"ave"`` (``H`` features each), as Keras's ``Bidirectional(merge_mode=...)``."""

    def __init__(self, outputs, hidden_size=24, bidirectional=False, merge="concat"):
        super().__init__()
        if merge not in MERGES:
            raise ValueError(f"merge must be one of {MERGES}, got {merge!r}")
        self.merge, self.hidden_size = merge, hidden_size
        self.rnn = nn.GRU(1, hidden_size, bidirectional=bidirectional)
        wide = bidirectional and merge == "concat"
        self.head = nn.Linear(hidden_size * (2 if wide else 1), outputs)

    def forward(self, x):
        out = self.rnn(x)[0]
        if self.rnn.bidirectional and self.merge != "concat":
            forward, backward = out[..., : self.hidden_size], out[..., self.hidden_size :]
            if self.merge == "mul":
                out = forward * backward
            else:
                out = forward + backward
                out = out / 2 if self.merge == "ave" else out
        return self.head(out)


def train_tagger(train, test, bidirectional, hidden_size=24, epochs=6, batch_size=32, lr=1e-2,
                 seed=0, device=None, merge="concat", every_epoch=False):  # fmt: skip
    """Train a :class:`Tagger` on ``train = (x, y, mask)`` from :func:`offset_task` with Adam and
    binary cross-entropy over the valid targets; return its accuracy for each offset on
    ``test``, as a ``(K,)`` array, or after every epoch as an ``(epochs, K)`` array when
    ``every_epoch``. ``merge``: how the two directions meet (:class:`Tagger`)."""
    device = torch.device("cpu") if device is None else torch.device(device)
    x, y, m = (torch.as_tensor(a, device=device) for a in train)
    seeding.manual_seed(seed)
    model = Tagger(y.shape[-1], hidden_size, bidirectional, merge).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    generator = seeding.generator(seed)

    def batch_loss(idx):  # the batch is the second axis
        logits, keep = model(x[:, idx]), m[:, idx]
        return F.binary_cross_entropy_with_logits(logits[keep], y[:, idx][keep])

    xt, yt, mt = (torch.as_tensor(a, device=device) for a in test)

    def accuracy():
        with torch.no_grad():
            right = ((model(xt) > 0) == (yt > 0.5)) & mt
        return (right.sum(dim=(0, 1)) / mt.sum(dim=(0, 1))).cpu().numpy()

    accs = []
    for _ in range(_int(epochs, "epochs")):
        batches = shuffled_batches(x.shape[1], batch_size, generator, device)
        for _ in train_steps(batch_loss, opt, batches):
            pass
        if every_epoch:
            accs.append(accuracy())
    return np.stack(accs) if every_epoch else accuracy()


def merge_study(train, test, merges=("concat", "sum", "mul"), seeds=(0, 1, 2), epochs=4,
                hidden_size=24, device=None) -> dict[str, np.ndarray]:  # fmt: skip
    """Bidirectional :class:`Tagger` s that differ only in how the two directions meet, each
    trained from every seed: merge -> test accuracy ``(seeds, epochs, K)`` after every epoch."""
    return {
        merge: np.stack([
            train_tagger(train, test, True, hidden_size, epochs, seed=seed, device=device,
                         merge=merge, every_epoch=True)
            for seed in seeds
        ])
        for merge in merges
    }  # fmt: skip


# --- the exercise: a bidirectional layer composed by the reader ----------------------------------

_GRU_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def _cell_state(weights, weights_reverse):
    state = {f"{k}_l0": v for k, v in zip(_GRU_NAMES, weights)}
    return state | {f"{k}_l0_reverse": v for k, v in zip(_GRU_NAMES, weights_reverse)}


def _bidirectional_reference(input, hx, weights, weights_reverse):
    """:class:`dlbook.scratch.GRU` with ``bidirectional=True``, loaded with the two cells."""
    layer = GRU(input.shape[-1], hx.shape[-1], bidirectional=True, dtype=input.dtype)
    layer.load_state_dict(_cell_state(weights, weights_reverse))
    return layer(input, hx)


def _bidirectional_twin(input, hx, weights, weights_reverse):
    net = nn.GRU(input.shape[-1], hx.shape[-1], bidirectional=True, dtype=torch.float64)
    net.load_state_dict(
        {k: torch.from_numpy(v) for k, v in _cell_state(weights, weights_reverse).items()}
    )
    with torch.no_grad():
        return net(torch.from_numpy(input), torch.from_numpy(hx))


def _bidirectional_cases() -> list[Case]:
    rng = np.random.default_rng(5)

    def args(t, n, d, h):
        def cell():
            shapes = ((3 * h, d), (3 * h, h), (3 * h,), (3 * h,))
            return tuple(rng.standard_normal(s) for s in shapes)

        return rng.standard_normal((t, n, d)), rng.standard_normal((2, n, h)), cell(), cell()

    return [
        Case(args(4, 1, 2, 3), label="4 steps, one sequence, D = 2, H = 3"),
        Case(args(6, 3, 1, 2), label="6 steps, batch of 3, D = 1, H = 2"),
        Case(args(5, 2, 3, 4), label="5 steps, batch of 2, D = 3, H = 4"),
    ]


def check_bidirectional_gru(fn) -> Report:
    """Hold the reader's one-layer bidirectional GRU ``fn(input, hx, weights, weights_reverse)``,
    built from :func:`dlbook.scratch.gru`, to :class:`dlbook.scratch.GRU` with
    ``bidirectional=True`` on three sequences of different lengths, batches and sizes, each
    from a random initial state.

    Shapes:
        input: (T, N, D); hx: (2, N, H), row 0 the forward cell's, row 1 the reverse cell's
        weights, weights_reverse: (weight_ih (3H, D), weight_hh (3H, H), bias_ih (3H,),
            bias_hh (3H,)) of each cell
        returns: a Report; fn must return (output (T, N, 2H), h_n (2, N, H))
    Formula:
        output[t] = [forward h_t ; reverse h_t], the reverse cell run on input[::-1] and its
        outputs flipped back; h_n = [forward h_{T-1}, reverse h_0]
    Torch:
        torch.nn.GRU(D, H, bidirectional=True)
    """
    return check(fn, _bidirectional_reference, _bidirectional_cases(), name="bidirectional_gru",
                 outputs=("output", "h_n"), torch_twin=_bidirectional_twin)  # fmt: skip
