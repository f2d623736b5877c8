"""The dropout chapter's experiments: checking a from-scratch dropout against torch's, and what
dropout does to a network that overfits a small training set.

* :class:`ReplayGenerator` feeds chosen uniform numbers to :func:`dlbook.scratch.dropout`, so that
  the from-scratch code can run with *torch's* mask (:func:`uniforms_for_keep`), or with one fixed
  mask at every call (for a gradient check).
* :func:`all_masks` and :func:`ensemble_predictions` enumerate every thinned network of a tiny
  model, to compare the ensemble's average prediction with the one pass of evaluation mode.
* :func:`small_split` takes a class-balanced subset of a training set.
* :func:`make_net` builds the digits classifier the chapter trains, with dropout of rate ``p``;
  :class:`UnscaledDropout` is dropout *without* the ``1/(1-p)`` (the "forgot to scale" variant).
* :func:`train_grid` trains it for several ``p`` and seeds with :func:`dlbook.train.fit`;
  :func:`summarize_grid` collects the runs per ``p`` and the paired gain over no dropout.
* :func:`mc_predict` and :func:`mc_curve`: Monte Carlo dropout, averaging the predictions of many
  random masks at test time.
* :func:`scaling_check` evaluates a network trained with :class:`UnscaledDropout` with and without
  the test-time factor ``1 - p``.
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

__all__ = [
    "ReplayGenerator",
    "uniforms_for_keep",
    "UnscaledDropout",
    "all_masks",
    "ensemble_predictions",
    "small_split",
    "make_net",
    "train_grid",
    "summarize_grid",
    "mc_predict",
    "mc_curve",
    "scaling_check",
    "check_dropout",
]


class ReplayGenerator(np.random.Generator):
    """A NumPy ``Generator`` whose ``random(shape)`` returns the given ``uniforms`` every time.

    :func:`dlbook.scratch.dropout_mask` keeps value ``i`` where ``rng.random(shape)[i] >= p``, so
    this generator decides the mask: the same one at every call, whatever the generator did
    before. Every other method is a real PCG64 generator's.
    """

    def __init__(self, uniforms, seed=0):
        super().__init__(np.random.PCG64(seed))
        u = np.asarray(uniforms, dtype=np.float64)
        if u.size and not ((u >= 0) & (u < 1)).all():
            raise ValueError("uniforms must lie in [0, 1)")
        self.uniforms = u

    def random(self, size=None, dtype=np.float64, out=None):
        shape = () if size is None else tuple(np.atleast_1d(size))
        if shape != self.uniforms.shape:
            raise ValueError(
                f"size: this generator replays shape {self.uniforms.shape}, got {shape}"
            )
        return self.uniforms.astype(dtype, copy=True)


def uniforms_for_keep(keep, p):
    """Uniform numbers that make ``dropout_mask(keep.shape, p, ReplayGenerator(u))`` keep exactly
    where ``keep`` is True: ``(1 + p) / 2`` (at least ``p``) there and ``p / 2`` (below ``p``)
    elsewhere. Needs ``0 < p < 1``."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be strictly between 0 and 1, got {p}")
    keep = np.asarray(keep, dtype=bool)
    return np.where(keep, (1.0 + p) / 2.0, p / 2.0)


class UnscaledDropout(nn.Module):
    """Dropout without the inverted scaling: training mode multiplies by a 0/1 mask (keep with
    probability ``1 - p``), so a value's expectation is ``(1 - p) x``. Evaluation mode multiplies
    by ``test_scale``: ``1`` is the bug of forgetting the scaling, ``1 - p`` is the rule of the
    original dropout paper (scale at test time instead of at training time)."""

    def __init__(self, p=0.5, test_scale=1.0):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"p must be in [0, 1), got {p}")
        self.p, self.test_scale = float(p), float(test_scale)

    def forward(self, x):
        if self.training:
            return x * (torch.rand_like(x) >= self.p).to(x.dtype)
        return x * self.test_scale

    def extra_repr(self):
        return f"p={self.p}, test_scale={self.test_scale}"


def all_masks(n, p):
    """Every keep pattern of ``n`` units and its probability under dropout with rate ``p``:
    ``keep`` of shape ``(2**n, n)`` (row ``k`` is the binary expansion of ``k``) and ``prob`` of
    shape ``(2**n,)``, ``prob = prod (1 - p)^kept p^dropped``, which sums to 1."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or not 1 <= n <= 20:
        raise ValueError(f"n must be an int between 1 and 20 (2**n masks), got {n!r}")
    if not 0.0 <= p < 1.0:
        raise ValueError(f"p must be in [0, 1), got {p}")
    keep = (np.arange(2**n)[:, None] >> np.arange(n)) & 1 == 1
    prob = np.prod(np.where(keep, 1.0 - p, p), axis=1)
    return keep, prob


def ensemble_predictions(logits_fn, x, p):
    """The predictions of all ``2**n`` thinned networks for one input ``x`` of ``n`` values, with
    inverted dropout on ``x``, combined three ways. ``logits_fn`` maps ``(M, n)`` to ``(M, C)``.

    Returns a dict of ``(C,)`` probability vectors: ``"geometric"``, the renormalized
    probability-weighted geometric mean of the softmax outputs; ``"arithmetic"``, their weighted
    mean; ``"weight_scaling"``, the softmax of ``logits_fn(x)``, one pass with dropout off.
    """
    from dlbook.scratch import log_softmax, softmax

    x = np.asarray(x, dtype=np.float64)
    keep, prob = all_masks(x.size, p)
    logits = logits_fn(x * keep / (1.0 - p))  # (2**n, C)
    mean_log = prob @ log_softmax(logits, dim=1)
    return dict(
        geometric=softmax(mean_log, dim=0),
        arithmetic=prob @ softmax(logits, dim=1),
        weight_scaling=softmax(logits_fn(x[None])[0], dim=0),
    )


def small_split(data: Split, per_class=20, seed=0) -> Split:
    """``per_class`` training examples of each class, drawn at random (seeded) from
    ``data.x_train``; the test set is kept whole."""
    if isinstance(per_class, bool) or not isinstance(per_class, numbers.Integral) or per_class < 1:
        raise ValueError(f"per_class must be a positive int, got {per_class!r}")
    rng = seeding.rng(seed)
    idx = []
    for c in np.unique(data.y_train):
        members = np.flatnonzero(data.y_train == c)
        if len(members) < per_class:
            raise ValueError(f"per_class: class {c} has only {len(members)} training examples")
        idx.append(rng.choice(members, per_class, replace=False))
    idx = np.sort(np.concatenate(idx))
    return Split(data.x_train[idx], data.y_train[idx], data.x_test, data.y_test, data.name)


def _dropout(p, unscaled):
    return UnscaledDropout(p) if unscaled else nn.Dropout(p)


def make_net(p=0.0, width=24, hidden=128, p_features=None, unscaled=False):
    """The small CNN for the 8×8 digits that the chapter trains, with dropout in its classifier.

    ``(N,1,8,8)`` → conv 3×3 (``width``) → ReLU → conv 3×3 (``2 width``) → ReLU → max-pool 2 →
    flatten (``2 width · 16`` features) → dropout(``p_features``) → linear (``hidden``) → ReLU →
    dropout(``p``) → linear → 10 scores. ``p_features=None`` means ``p / 2``: the convolutions
    have few weights, shared across positions, and overfit less, so their features get the
    lighter rate (the original paper's convolutional networks also used lower rates there than
    in their fully connected layers).
    ``unscaled=True`` uses :class:`UnscaledDropout` (with ``test_scale=1``) instead of
    ``nn.Dropout``.
    """
    for name, rate in (("p", p), ("p_features", p_features)):
        if rate is not None and not 0.0 <= rate < 1.0:
            raise ValueError(f"{name} must be in [0, 1), got {rate!r}")
    for name, n in (("width", width), ("hidden", hidden)):
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
            raise ValueError(f"{name} must be a positive int, got {n!r}")
    p_features = p / 2 if p_features is None else p_features
    return nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(width, 2 * width, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        _dropout(p_features, unscaled),
        nn.Linear(2 * width * 16, hidden),
        nn.ReLU(),
        _dropout(p, unscaled),
        nn.Linear(hidden, 10),
    )


def train_grid(data, ps=(0.0, 0.25, 0.5), seeds=(0, 1), epochs=30, lr=1e-3, batch_size=20,
               device=None, **net_kwargs):  # fmt: skip
    """Train :func:`make_net` for every dropout rate in ``ps`` and every seed with
    :func:`dlbook.train.fit` (Adam), evaluating on the whole training set (in evaluation mode,
    dropout off) and the test set after every epoch.

    ``data`` is a :class:`~dlbook.data.offline.Split`, or a function ``seed -> Split`` that gives
    each seed its own training set (for example a :func:`small_split` drawn with that seed).
    Returns one dict per run: ``p``, ``seed``, the ``history`` and the trained ``model``. Runs
    with the same seed start from the same weights and see the same data, whatever ``p``.
    """
    from dlbook.train import fit, seed_everything

    rows = []
    for p in ps:
        for seed in seeds:
            split = data(seed) if callable(data) else data
            seed_everything(seed)
            model = make_net(p, **net_kwargs)
            history = fit(
                model, split, epochs=epochs, lr=lr, batch_size=batch_size, device=device, seed=seed
            )
            rows.append(dict(p=p, seed=seed, history=history, model=model))
    return rows


def summarize_grid(rows, baseline=0.0):
    """The runs of :func:`train_grid`, per dropout rate ``p``, one entry per seed (sorted by
    seed): ``seeds``; the final ``train_acc`` and ``test_acc`` (in %), ``train_loss`` and
    ``test_loss``; the lowest test loss ``min_test_loss`` and its epoch ``best_epoch`` (from 1).
    Every rate other than ``baseline`` also gets the paired ``gain`` in test accuracy over
    ``baseline`` (same seed, so the same initial weights and batches; in points), its mean
    ``gain_mean`` and the standard error of that mean ``gain_se`` (NaN for one seed).
    Returns ``{p: {name: value}}``, arrays of one value per seed."""
    if not rows:
        raise ValueError("rows: no runs to summarize")
    out = {}
    for p in sorted({r["p"] for r in rows}):
        runs = sorted((r for r in rows if r["p"] == p), key=lambda r: r["seed"])
        hs = [r["history"] for r in runs]
        out[p] = dict(
            seeds=[r["seed"] for r in runs],
            train_acc=np.array([100 * h.final["train_acc"] for h in hs]),
            test_acc=np.array([100 * h.final["test_acc"] for h in hs]),
            train_loss=np.array([h.final["train_loss"] for h in hs]),
            test_loss=np.array([h.final["test_loss"] for h in hs]),
            min_test_loss=np.array([min(h["test_loss"]) for h in hs]),
            best_epoch=np.array([1 + int(np.argmin(h["test_loss"])) for h in hs]),
        )
    if baseline not in out:
        raise ValueError(f"baseline: no runs with p = {baseline}")
    base = out[baseline]
    for p, s in out.items():
        if p == baseline:
            continue
        if s["seeds"] != base["seeds"]:
            raise ValueError(f"p = {p} and the baseline were run with different seeds")
        gain = s["test_acc"] - base["test_acc"]
        n = len(gain)
        s["gain"] = gain
        s["gain_mean"] = float(gain.mean())
        s["gain_se"] = float(gain.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
    return out


def _dropout_modules(model):
    return [m for m in model.modules() if isinstance(m, (nn.Dropout, UnscaledDropout))]


def _split_at_first_dropout(model):
    """``(prefix, rest)`` of an ``nn.Sequential`` cut before its first dropout layer; everything
    before it is deterministic, so Monte Carlo dropout need only run it once. Other models:
    ``(identity, model)``."""
    if isinstance(model, nn.Sequential):
        for i, m in enumerate(model):
            if isinstance(m, (nn.Dropout, UnscaledDropout)):
                return model[:i], model[i:]
    return nn.Identity(), model


@torch.no_grad()
def mc_predict(model, x, samples=50, seed=0, device=None):
    """Monte Carlo dropout: the softmax outputs of ``samples`` forward passes of ``x`` with
    dropout on (every other layer in evaluation mode), each pass with fresh masks.

    Returns an array ``(samples, N, classes)``. The layers before the first dropout layer of an
    ``nn.Sequential`` run once, since they are the same in every pass. The model is left in
    evaluation mode.
    """
    from dlbook.devices import resolve

    if isinstance(samples, bool) or not isinstance(samples, numbers.Integral) or samples < 1:
        raise ValueError(f"samples must be a positive int, got {samples!r}")
    device = resolve(device)
    model.to(device).eval()
    for m in _dropout_modules(model):
        m.train()
    prefix, rest = _split_at_first_dropout(model)
    seeding.manual_seed(seed)
    features = prefix(torch.as_tensor(x, dtype=torch.float32, device=device))
    out = [F.softmax(rest(features), dim=1).cpu().numpy() for _ in range(samples)]
    model.eval()
    return np.stack(out)


def mc_curve(probs, y):
    """Accuracy and mean negative log-likelihood of the average of the first ``t`` Monte Carlo
    predictions, for ``t = 1 .. T`` (``probs`` is ``(T, N, classes)``). Returns a dict of arrays
    ``t``, ``acc``, ``nll``."""
    probs = np.asarray(probs, dtype=np.float64)
    y = np.asarray(y)
    t = np.arange(1, len(probs) + 1)
    mean = np.cumsum(probs, axis=0) / t[:, None, None]
    acc = (mean.argmax(-1) == y).mean(-1)
    picked = mean[:, np.arange(len(y)), y]
    nll = -np.log(np.maximum(picked, 1e-12)).mean(-1)
    return dict(t=t, acc=acc, nll=nll)


def scaling_check(data, p=0.5, seed=0, epochs=30, lr=1e-3, batch_size=20, device=None,
                  **net_kwargs):  # fmt: skip
    """Train :func:`make_net` with :class:`UnscaledDropout` (no ``1/(1-p)`` at training), then
    evaluate it on the test set twice: as trained, with dropout the identity at test time (the
    bug), and with every dropout layer multiplying by ``1 - p`` (the original paper's rule).

    Returns a dict ``{"identity": (loss, acc), "scaled": (loss, acc), "logit_ratio": r}``, where
    ``r`` is the mean size of the test logits in the first case over the second.
    """
    from dlbook.devices import resolve
    from dlbook.train import evaluate, fit, seed_everything

    device = resolve(device)
    seed_everything(seed)
    model = make_net(p, unscaled=True, **net_kwargs)
    fit(model, data, epochs=epochs, lr=lr, batch_size=batch_size, device=device, seed=seed,
        eval_train=False)  # fmt: skip
    result, logits = {}, {}
    xs = torch.as_tensor(data.x_test, dtype=torch.float32, device=device)
    for name in ("identity", "scaled"):
        for m in _dropout_modules(model):
            m.test_scale = 1.0 if name == "identity" else 1.0 - m.p
        result[name] = evaluate(model, data.x_test, data.y_test, device)
        with torch.no_grad():
            logits[name] = model.eval()(xs).abs().mean().item()
    result["logit_ratio"] = logits["identity"] / logits["scaled"]
    return result


# --- the write-it-yourself exercise: inverted dropout, given its uniform numbers -----------------


def check_dropout(fn) -> Report:
    """Hold the reader's ``fn(input, p, u)``, inverted dropout in training mode with the uniform
    numbers ``u`` (one per value, in ``[0, 1)``) given, to :func:`dlbook.scratch.dropout` fed the
    same numbers (a :class:`ReplayGenerator`), and say in words what is wrong.

    A value is kept where ``u >= p``. The cases catch the usual mistakes: the kept values not
    scaled by ``1 / (1 - p)``; the comparison the wrong way round (keeping where ``u < p``);
    ``p = 1`` dividing by zero (torch returns zeros); ``p = 0`` not the identity; a float32 input
    returned as float64.

    Shapes:
        fn: (input any shape, p a probability, u of input's shape) -> input's shape and dtype;
            returns a Report
    Formula:
        out = input * (u >= p) / (1 - p), and 0 everywhere when p = 1
    Torch:
        none (torch.nn.functional.dropout draws its own mask; the mask here comes from u)
    """
    from dlbook.scratch import dropout  # here: the chapter module stays light

    rng = np.random.default_rng(22)  # fixed, not DLBOOK_SEED: one report everywhere
    x, u = rng.standard_normal((4, 6)), rng.random((4, 6))
    image = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    cases = [
        Case((x, 0.5, u), {}, "p = 0.5"),
        Case((x, 0.2, u), {}, "p = 0.2"),
        Case((image, 0.3, rng.random(image.shape)), {}, "float32 images, p = 0.3"),
        Case((x, 0.0, u), {}, "p = 0: keep everything"),
        Case((x, 1.0, u), {}, "p = 1: drop everything"),
    ]

    def reference(input, p, u):
        return dropout(input, p, training=True, rng=ReplayGenerator(u))

    with np.errstate(all="ignore"):
        return check(fn, reference, cases, name="dropout", outputs=("the output",))
