"""The attention chapter's experiments: the scores' spread and the softmax's saturation as the
feature size grows (:func:`score_statistics`), padding masks, the cases that hold the from-scratch
attention to torch's (:func:`verification_cases`, :func:`torch_attention`), and associative recall
(Ba et al. 2016; :func:`associative_recall`), on which a small causal self-attention model with
sinusoidal positions (:class:`RecallTransformer`) is trained against an LSTM of the same size
(:class:`RecallLSTM`) by :func:`train_recall` and :func:`length_sweep`.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dlbook import seeding
from dlbook.checks import check_int
from dlbook.exercise import Case, Report, check
from dlbook.nets import count_parameters  # re-exported for the chapter
from dlbook.scratch import attention_weights, scaled_dot_product_attention
from dlbook.train import train_steps

__all__ = [
    "score_statistics",
    "padding_mask",
    "verification_cases",
    "torch_attention",
    "associative_recall",
    "decode",
    "frequency_baseline",
    "sinusoidal_positions",
    "RecallTransformer",
    "RecallLSTM",
    "count_parameters",
    "train_recall",
    "make_model",
    "length_sweep",
    "focus",
    "check_attention",
]


def score_statistics(dims=(4, 16, 64, 256, 1024), keys=16, samples=500, seed=0):
    """For each feature size ``d``: queries and keys with i.i.d. N(0, 1) entries, ``keys`` keys
    per query. Returns a dict of arrays over ``dims``: the standard deviation of the scores
    ``q.k`` (``std_raw``) and ``q.k/sqrt(d)`` (``std_scaled``); the mean largest softmax weight
    (``max_raw``/``max_scaled``, 1 = one-hot, ``1/keys`` = uniform); and the mean Frobenius norm
    of the softmax's Jacobian ``diag(a) - a a^T`` (``jac_raw``/``jac_scaled``), which is what
    the backward pass multiplies by and goes to 0 as the softmax saturates."""
    if not len(dims):
        raise ValueError("dims must be a non-empty sequence of ints")
    check_int(keys, "keys", 2)
    check_int(samples, "samples")
    rng = seeding.rng(seed)
    out = {f"{k}_{t}": [] for k in ("std", "max", "jac") for t in ("raw", "scaled")}
    for d in dims:
        check_int(d, "dims")
        q = rng.standard_normal((samples, 1, d))
        k = rng.standard_normal((samples, keys, d))
        scores = (q @ np.swapaxes(k, -1, -2))[:, 0]
        out["std_raw"].append(scores.std())
        out["std_scaled"].append(scores.std() / math.sqrt(d))
        for tag, scale in (("raw", 1.0), ("scaled", None)):
            a = attention_weights(q, k, scale=scale)[:, 0]  # (samples, keys)
            jac = a[:, :, None] * np.eye(keys) - a[:, :, None] * a[:, None, :]
            out[f"max_{tag}"].append(a.max(-1).mean())
            out[f"jac_{tag}"].append(np.linalg.norm(jac, axis=(1, 2)).mean())
    return {"dims": np.asarray(dims)} | {k: np.asarray(v) for k, v in out.items()}


def padding_mask(lengths, size):
    """A boolean key-padding mask ``(N, 1, size)``: ``mask[n, 0, j]`` is True (attend) for the
    ``lengths[n]`` real tokens and False for the padding after them. It broadcasts against the
    scores ``(N, L, S)``; insert a head axis (``mask[:, None]``) for ``(N, heads, L, S)``."""
    lengths = np.asarray(lengths)
    check_int(size, "size")
    if lengths.ndim != 1 or not np.issubdtype(lengths.dtype, np.integer):
        raise ValueError(f"lengths must be a 1-D integer array, got {lengths!r}")
    if (lengths < 1).any() or (lengths > size).any():
        raise ValueError(f"lengths must lie in 1..size={size}, got {lengths.tolist()}")
    return (np.arange(size) < lengths[:, None])[:, None, :]


def verification_cases(seed=0):
    """``{name: (query, key, value, kwargs)}`` in float64: no mask (cross-attention, L != S),
    boolean mask, float mask (with -inf), causal, a custom scale, and ``(N, heads, L, E)`` heads
    with a padding mask. Every row of every mask keeps at least one key."""
    rng = seeding.rng(seed)
    r = rng.standard_normal
    qkv = lambda lq, s, b=(2,), ev=3: (r(b + (lq, 4)), r(b + (s, 4)), r(b + (s, ev)))  # noqa: E731
    keep = rng.random((5, 7)) < 0.6
    keep[:, 0] = True
    pad = padding_mask(np.array([6, 3, 1]), 6)[:, None]  # (N, 1, 1, S)
    return {
        "no mask, L=5, S=7": (*qkv(5, 7), {}),
        "boolean mask": (*qkv(5, 7), {"attn_mask": keep}),
        "float mask": (*qkv(5, 7), {"attn_mask": np.where(keep, r((5, 7)), -np.inf)}),
        "is_causal=True": (*qkv(6, 6), {"is_causal": True}),
        "scale=0.7": (*qkv(5, 7), {"scale": 0.7}),
        "(N, heads, L, E) + padding": (*qkv(6, 6, (3, 2), 5), {"attn_mask": pad}),
    }


def torch_attention(query, key, value, grad_output, **kwargs):
    """torch's ``scaled_dot_product_attention`` on NumPy arrays: ``(output, grad_query,
    grad_key, grad_value)`` as NumPy arrays, the gradients those of ``sum(output *
    grad_output)``. ``kwargs`` are ``attn_mask`` (NumPy), ``is_causal``, ``scale``."""
    q, k, v = (torch.tensor(a, requires_grad=True) for a in (query, key, value))
    kwargs = dict(kwargs)
    if kwargs.get("attn_mask") is not None:
        kwargs["attn_mask"] = torch.from_numpy(np.asarray(kwargs["attn_mask"]))
    out = F.scaled_dot_product_attention(q, k, v, **kwargs)
    if out.shape != np.shape(grad_output):
        raise ValueError(f"grad_output must have the output's shape {tuple(out.shape)}")
    out.backward(torch.as_tensor(grad_output, dtype=out.dtype))
    return tuple(t.detach().numpy() for t in (out, q.grad, k.grad, v.grad))


def associative_recall(n=1000, pairs=8, keys=16, values=8, seed=0):
    """``(x, y, which)``: ``x`` is ``(2 * pairs + 2, n)`` int64 tokens, ``pairs`` pairs of a key
    (tokens ``0..keys-1``, distinct within a sequence) and its value (``keys..keys+values-1``),
    then the marker ``?`` (token ``keys + values``) and one of the keys. ``y`` ``(n,)`` is that
    key's value, ``0..values-1``; ``which`` ``(n,)`` is the index of the queried pair, whose
    value token sits at position ``2 * which + 1``. Guessing scores ``1 / values``."""
    for name, v in (("n", n), ("pairs", pairs), ("keys", keys), ("values", values)):
        check_int(v, name)
    if pairs > keys:
        raise ValueError(f"pairs must be at most keys={keys} (keys are distinct), got {pairs}")
    rng = seeding.rng(seed)
    k = np.argsort(rng.random((n, keys)), axis=1)[:, :pairs]  # distinct keys per sequence
    v = rng.integers(0, values, (n, pairs))
    which = rng.integers(0, pairs, n)
    x = np.empty((2 * pairs + 2, n), np.int64)
    x[0 : 2 * pairs : 2], x[1 : 2 * pairs : 2] = k.T, keys + v.T
    x[-2], x[-1] = keys + values, k[np.arange(n), which]
    return x, v[np.arange(n), which], which


def decode(tokens, keys=16, values=8):
    """One sequence of tokens ``(T,)`` as text: keys are letters, values digits, then ``?``."""
    if keys > 26 or values > 10:
        raise ValueError("keys must be <= 26 and values <= 10 to be written as letters/digits")
    alphabet = "abcdefghijklmnopqrstuvwxyz"[:keys] + "0123456789"[:values] + "?"
    return "".join(alphabet[int(t)] for t in np.asarray(tokens))


def frequency_baseline(x, y, keys=16, values=8):
    """The expected accuracy of a model that ignores the query and order: answer the value
    that occurs most often in the sequence ``x`` ``(T, N)`` (ties broken at random). A model
    that only counts what it has seen, a "bag of values", can do this well."""
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim != 2 or y.shape != (x.shape[1],):
        raise ValueError(f"x must be (T, N) and y (N,), got {x.shape} and {y.shape}")
    counts = np.stack([(x[:-2] == keys + v).sum(0) for v in range(values)], axis=1)  # (N, V)
    best = counts == counts.max(1, keepdims=True)
    return float(np.mean(best[np.arange(len(y)), y] / best.sum(1)))


def sinusoidal_positions(length, d_model):
    r"""The fixed positional encodings of Vaswani et al. (2017), ``(length, d_model)``:
    :math:`PE_{t, 2i} = \sin(t / 10000^{2i/d})`, :math:`PE_{t, 2i+1} = \cos(\dots)`."""
    check_int(length, "length")
    check_int(d_model, "d_model", 2)
    if d_model % 2:
        raise ValueError(f"d_model must be even, got {d_model}")
    t = torch.arange(length, dtype=torch.float32)[:, None]
    angle = t / 10000 ** (torch.arange(0, d_model, 2, dtype=torch.float32) / d_model)
    return torch.stack([torch.sin(angle), torch.cos(angle)], dim=-1).reshape(length, d_model)


class SelfAttention(nn.Module):
    """A pre-norm residual self-attention layer, ``h + W_o attention(LayerNorm(h))``, batch
    first ``(N, T, d)``, built on ``F.scaled_dot_product_attention``."""

    def __init__(self, d_model, heads=1, causal=True):
        super().__init__()
        self.heads, self.causal = heads, causal
        self.norm = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)

    def forward(self, h, record=None):
        n, t, d = h.shape
        shape = (n, t, 3, self.heads, d // self.heads)
        q, k, v = self.qkv(self.norm(h)).view(shape).permute(2, 0, 3, 1, 4)  # (N, heads, T, dh)
        if record is None:
            a = F.scaled_dot_product_attention(q, k, v, is_causal=self.causal)
        else:  # the same, with the weights written out so that they can be plotted
            scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
            if self.causal:
                keep = torch.ones(t, t, dtype=torch.bool, device=h.device).tril()
                scores = scores.masked_fill(~keep, float("-inf"))
            weights = scores.softmax(-1)
            record.append(weights.detach())
            a = weights @ v
        return h + self.out(a.transpose(1, 2).reshape(n, t, d))


class RecallTransformer(nn.Module):
    """Token embedding + sinusoidal positions (``positions=False`` leaves them out), ``layers``
    :class:`SelfAttention` layers, and a linear readout of the last position. Input ``(T, N)``
    int64, output ``(N, classes)`` logits."""

    def __init__(
        self, vocab, classes, max_len, d_model=32, layers=2, heads=1, causal=True, positions=True
    ):
        super().__init__()
        for name, v in (("vocab", vocab), ("classes", classes), ("max_len", max_len),
                        ("layers", layers), ("heads", heads)):  # fmt: skip
            check_int(v, name)
        if d_model % (2 * heads):
            raise ValueError(f"d_model must be a multiple of 2 * heads, got {d_model}")
        self.embed = nn.Embedding(vocab, d_model)
        pe = sinusoidal_positions(max_len, d_model) if positions else torch.zeros(max_len, d_model)
        self.register_buffer("positions", pe)
        self.layers = nn.ModuleList(SelfAttention(d_model, heads, causal) for _ in range(layers))
        self.norm, self.readout = nn.LayerNorm(d_model), nn.Linear(d_model, classes)

    def forward(self, x, record=None):
        h = self.embed(x.T) + self.positions[: x.shape[0]]  # (N, T, d)
        for layer in self.layers:
            h = layer(h, record)
        return self.readout(self.norm(h[:, -1]))

    @torch.no_grad()
    def attention_maps(self, x):
        """The attention weights of every layer for the tokens ``x`` ``(T, N)``: a list of
        ``(N, heads, T, T)`` tensors, row = query position, column = key position."""
        record = []
        self(x, record)
        return record


class RecallLSTM(nn.Module):
    """Token embedding, one ``nn.LSTM`` layer and a linear readout of its last output. Input
    ``(T, N)`` int64, output ``(N, classes)`` logits."""

    def __init__(self, vocab, classes, hidden=32):
        super().__init__()
        for name, v in (("vocab", vocab), ("classes", classes), ("hidden", hidden)):
            check_int(v, name)
        self.embed = nn.Embedding(vocab, hidden)
        self.lstm = nn.LSTM(hidden, hidden)
        self.readout = nn.Linear(hidden, classes)

    def forward(self, x):
        out, _ = self.lstm(self.embed(x))
        return self.readout(out[-1])


def train_recall(model, pairs, steps=600, batch_size=64, lr=1e-2, seed=0, device="cpu",
                 eval_every=50, n_test=500, probe=None, keys=16, values=8):  # fmt: skip
    """Train ``model`` on associative recall with Adam and cross-entropy, each step on
    ``batch_size`` fresh examples (data seed ``seed``). Every ``eval_every`` steps it records
    the mean training loss since the last record, the accuracy on ``n_test`` held-out examples
    and, for a model with ``attention_maps``, its maps on the tokens ``probe`` ``(T, n)``.
    Returns a dict: ``step``, ``loss``, ``acc``, ``maps`` lists, the final ``test_acc``, and
    ``acc_by_pair``: the final test accuracy by the index of the queried pair."""
    for name, v in (("steps", steps), ("batch_size", batch_size), ("eval_every", eval_every)):
        check_int(v, name)
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr!r}")
    x, y, _ = associative_recall(steps * batch_size, pairs, keys, values, seed=seed)
    x_test, y_test, which = associative_recall(n_test, pairs, keys, values, seed=seed + 10_000)
    x, y = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)
    x_test = torch.from_numpy(x_test).to(device)
    model = model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    hist = {"step": [], "loss": [], "acc": [], "maps": []}
    losses = []

    def batch_loss(batch):  # the batch is the second axis of the tokens
        return F.cross_entropy(model(x[:, batch]), y[batch])

    batches = (slice(i, i + batch_size) for i in range(0, steps * batch_size, batch_size))
    for step, (loss, _) in enumerate(train_steps(batch_loss, opt, batches), 1):
        losses.append(loss.item())
        if step % eval_every == 0 or step == steps:
            model.eval()
            with torch.no_grad():
                pred = model(x_test).argmax(1).cpu().numpy()
            if probe is not None and hasattr(model, "attention_maps"):
                maps = model.attention_maps(torch.as_tensor(probe, device=device))
                hist["maps"].append([m.cpu().numpy() for m in maps])
            model.train()
            hist["step"].append(step)
            hist["loss"].append(float(np.mean(losses)))
            hist["acc"].append(float((pred == y_test).mean()))
            losses = []
    hist["test_acc"] = hist["acc"][-1]
    hist["acc_by_pair"] = np.array([(pred == y_test)[which == i].mean() for i in range(pairs)])
    return hist


def make_model(kind, pairs, keys=16, values=8, seed=0, **kwargs):
    """A fresh ``"attention"`` or ``"LSTM"`` model for ``pairs`` pairs, initialised from torch
    seed ``seed``; ``kwargs`` go to the class."""
    seeding.manual_seed(seed)
    if kind == "attention":
        return RecallTransformer(keys + values + 1, values, 2 * pairs + 2, **kwargs)
    if kind == "LSTM":
        return RecallLSTM(keys + values + 1, values, **kwargs)
    raise ValueError(f"kind must be 'attention' or 'LSTM', got {kind!r}")


def length_sweep(pair_counts=(1, 2, 4, 8), steps=600, lr=1e-2, seed=0, device="cpu", probe=None,
                 eval_every=25):  # fmt: skip
    """Train both models for every number of pairs with the same budget. Returns
    ``({kind: {pairs: hist}}, {kind: model at the last pair count})``. At the last pair count the
    test accuracy is recorded every ``eval_every`` steps, with the attention model's maps on
    ``probe`` (tokens for that pair count); at the others, only at the end (nothing else uses
    their curves, and evaluating does not change the training)."""
    hists, models = {"attention": {}, "LSTM": {}}, {}
    for i, pairs in enumerate(pair_counts):
        last = i == len(pair_counts) - 1
        for kind in hists:
            model = make_model(kind, pairs, seed=seed)
            hists[kind][pairs] = train_recall(
                model, pairs, steps, lr=lr, seed=seed, device=device,
                eval_every=eval_every if last else steps, probe=probe if last else None,
            )  # fmt: skip
            models[kind] = model
    return hists, models


def focus(maps, which):
    """How often the trained attention looks at the right place, from ``attention_maps`` of
    recall sequences whose queried pair is ``which`` ``(N,)``: ``"query"``, the fraction of
    sequences whose last query (last layer, head 0) puts its largest weight on the queried
    value; ``"previous key"``, the fraction of value positions whose largest weight in the
    first layer (head 0) is on the key just before them."""
    first, last = (np.asarray(m.cpu() if hasattr(m, "cpu") else m) for m in (maps[0], maps[-1]))
    which = np.asarray(which)
    if last.shape[0] != len(which):
        raise ValueError(f"which must have one entry per sequence ({last.shape[0]})")
    t = last.shape[-1]
    values_at = np.arange(1, t - 2, 2)
    return {
        "query": float(np.mean(last[:, 0, -1].argmax(-1) == 2 * which + 1)),
        "previous key": float(np.mean(first[:, 0, values_at].argmax(-1) == values_at - 1)),
    }


# --- the exercise: attention written by the reader -----------------------------------------------


def _attention_cases() -> list[Case]:
    rng = np.random.default_rng(11)
    r = rng.standard_normal
    causal = np.tril(np.ones((4, 4), dtype=bool))
    return [
        Case((r((3, 4)), r((3, 4)), r((3, 4))), label="self-attention, L = S = 3, E = 4"),
        Case((r((2, 4)), r((5, 4)), r((5, 3))), label="2 queries, 5 keys, values of width 3"),
        Case((r((2, 3, 6)), r((2, 4, 6)), r((2, 4, 2))), label="a batch of 2, (N, L, E)"),
        Case((r((4, 3)), r((4, 3)), r((4, 2))), {"attn_mask": causal}, label="causal mask"),
    ]


def check_attention(fn) -> Report:
    """Hold the reader's ``fn(query, key, value, attn_mask=None)`` to
    :func:`dlbook.scratch.scaled_dot_product_attention`: self-attention, more keys than queries
    with values narrower than the keys, a batch, and a boolean causal mask (True = may attend).

    Shapes:
        query: (..., L, E); key: (..., S, E); value: (..., S, Ev); attn_mask: (L, S) or None
        returns: a Report; fn must return (..., L, Ev)
    Formula:
        out = softmax(Q K^T / sqrt(E), masked entries -inf, along the keys) V
    Torch:
        torch.nn.functional.scaled_dot_product_attention
    """

    def twin(query, key, value, attn_mask=None):
        mask = None if attn_mask is None else torch.from_numpy(attn_mask)
        q, k, v = (torch.from_numpy(a) for a in (query, key, value))
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)

    return check(fn, scaled_dot_product_attention, _attention_cases(), name="attention",
                 torch_twin=twin)  # fmt: skip
