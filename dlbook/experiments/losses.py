"""The measurements behind the losses chapter.

1. *A line through data with outliers*, fitted by plain gradient descent under the squared and
   the absolute error. The gradients come from :mod:`dlbook.scratch.losses`; the two exact
   answers (least squares, least absolute deviations) are computed beside them.
2. *The same classifier, four losses.* Softmax regression (one linear layer, 64 pixels → 10
   logits) on the 8×8 digits, trained with cross-entropy, squared error on the softmax
   probabilities, squared error on the logits and the multi-class hinge. Each loss gets the
   learning rate that does best on a validation split, from the same small grid. A second run
   starts every loss from the same *confidently wrong* weights, where the squared error on
   probabilities saturates. :func:`compare_losses_over_seeds` repeats it on several seeds, and
   :func:`summarize` and :func:`over_seeds` reduce the runs to the numbers the chapter quotes.

:func:`torch_cases` lists every scratch loss with its torch twin and the inputs the chapter holds
them to each other on. :func:`check_cross_entropy` is the checker of the chapter's
write-it-yourself exercise.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from dlbook import seeding
from dlbook.exercise import Case, Report, check
from dlbook.scratch.losses import (
    cross_entropy,
    l1_loss,
    l1_loss_backward,
    mse_loss,
    mse_loss_backward,
)
from dlbook.timing import one_thread

__all__ = [
    "torch_cases",
    "LineData",
    "line_data",
    "LineFit",
    "fit_line",
    "exact_line_fits",
    "LOSSES",
    "classification_loss",
    "logit_gradients",
    "Run",
    "make_classifier",
    "flat_split",
    "train_classifier",
    "compare_losses",
    "compare_losses_over_seeds",
    "summarize",
    "over_seeds",
    "check_cross_entropy",
]

# --- 0. every scratch loss next to its torch twin -------------------------------------------------


def torch_cases(rng):
    """``{name: ((scratch forward, scratch backward, torch function), args, kwargs)}``: every loss
    of the chapter on inputs drawn from ``rng`` (a ``numpy.random.Generator``), in float64.

    The cases cover class indices, probability targets, a per-pixel ``(N, C, H, W)``
    cross-entropy, non-default hinge parameters, ``'batchmean'`` KL and logits of ±800. The first
    argument is the one differentiated (the input); the others are targets.
    """
    import torch.nn.functional as F

    from dlbook import scratch as S

    z, y = 3 * rng.standard_normal((6, 5)), rng.integers(0, 5, 6)
    soft = S.softmax(rng.standard_normal((6, 5)), 1)
    z_img, y_img = rng.standard_normal((2, 4, 3, 3)), rng.integers(0, 4, (2, 3, 3))
    extreme, y_ext = np.array([[800.0, -800.0, 0.0], [-800.0, 800.0, 0.0]]), np.array([1, 1])
    pred, target = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    dist, same = rng.uniform(0, 2, 8), rng.choice([-1.0, 1.0], 8)
    logit, prob = 3 * rng.standard_normal(8), rng.uniform(0, 1, 8)
    ce = (S.cross_entropy, S.cross_entropy_backward, F.cross_entropy)
    mse, mae = (mse_loss, mse_loss_backward, F.mse_loss), (l1_loss, l1_loss_backward, F.l1_loss)
    hinge = (S.multi_margin_loss, S.multi_margin_loss_backward, F.multi_margin_loss)
    embed = (S.hinge_embedding_loss, S.hinge_embedding_loss_backward, F.hinge_embedding_loss)
    kl = (S.kl_div, S.kl_div_backward, F.kl_div)
    bce = (S.binary_cross_entropy_with_logits, S.binary_cross_entropy_with_logits_backward,
           F.binary_cross_entropy_with_logits)  # fmt: skip
    return {
        "cross-entropy": (ce, (z, y), {}),
        "cross-entropy, soft targets": (ce, (z, soft), {}),
        "cross-entropy, per pixel": (ce, (z_img, y_img), {}),
        "cross-entropy, logits ±800": (ce, (extreme, y_ext), {}),
        "MSE": (mse, (pred, target), {}),
        "MAE": (mae, (pred, target), {}),
        "hinge, p=1": (hinge, (z, y), {}),
        "hinge, p=2, margin 0.5": (hinge, (z, y), {"p": 2, "margin": 0.5}),
        "hinge embedding": (embed, (dist, same), {}),
        "KL, batchmean": (kl, (S.log_softmax(z, 1), soft), {"reduction": "batchmean"}),
        "BCE with logits": (bce, (logit, prob), {}),
        "BCE with logits, ±800": (bce, (extreme.ravel(), (extreme.ravel() < 0) * 1.0), {}),
    }


# --- 1. a line through data with outliers ---------------------------------------------------------


@dataclass(frozen=True)
class LineData:
    """Points ``(x, y)`` near ``y = slope * x + intercept``; ``outlier`` marks the bad ones."""

    x: np.ndarray
    y: np.ndarray
    outlier: np.ndarray
    slope: float
    intercept: float


def line_data(n=30, n_outliers=6, slope=1.5, intercept=0.5, noise=0.15, drop=3.0, seed=0):
    """``n`` points with ``x`` uniform in [-1, 1] and Gaussian noise of std ``noise``; then
    ``n_outliers`` of those with ``x > 0.2`` fall by about ``drop`` (a sensor that reads low)."""
    if not 0 <= n_outliers < n:
        raise ValueError(f"n_outliers must be in [0, n), got {n_outliers} for n={n}")
    rng = seeding.rng(seed)
    x = np.sort(rng.uniform(-1, 1, n))
    y = slope * x + intercept + noise * rng.standard_normal(n)
    candidates = np.flatnonzero(x > 0.2)
    if n_outliers > candidates.size:
        raise ValueError(f"n_outliers: only {candidates.size} points have x > 0.2")
    outlier = np.zeros(n, dtype=bool)
    outlier[rng.choice(candidates, n_outliers, replace=False)] = True
    y[outlier] -= drop + rng.uniform(-0.5, 0.5, n_outliers)
    return LineData(x, y, outlier, slope, intercept)


@dataclass
class LineFit:
    """A gradient-descent run: ``params[t] = (slope, intercept)`` and ``losses[t]`` at step t."""

    loss: str
    params: np.ndarray  # (steps + 1, 2)
    losses: np.ndarray  # (steps + 1,)


_REGRESSION = {"mse": (mse_loss, mse_loss_backward), "mae": (l1_loss, l1_loss_backward)}


def fit_line(data: LineData, loss="mse", lr=None, steps=80):
    """Gradient descent on ``(slope, intercept)`` from ``(0, 0)`` with the mean ``loss``,
    ``'mse'`` (default step 0.5) or ``'mae'`` (default step 0.15).

    ``d loss / d prediction`` comes from the scratch backward; the chain rule through
    ``prediction = slope * x + intercept`` is ``X^T g`` with ``X = [x, 1]``.
    """
    if loss not in _REGRESSION:
        raise ValueError(f"loss must be one of {tuple(_REGRESSION)}, got {loss!r}")
    if lr is None:
        lr = 0.5 if loss == "mse" else 0.15
    forward, backward = _REGRESSION[loss]
    design = np.stack([data.x, np.ones_like(data.x)], axis=1)  # (n, 2)
    w = np.zeros(2)
    params, losses = [w.copy()], [float(forward(design @ w, data.y))]
    for _ in range(steps):
        w = w - lr * design.T @ backward(1.0, design @ w, data.y)
        params.append(w.copy())
        losses.append(float(forward(design @ w, data.y)))
    return LineFit(loss, np.array(params), np.array(losses))


def exact_line_fits(data: LineData) -> dict:
    """The exact minimizers, as ``(slope, intercept)``: ``'mse'`` by least squares, ``'mae'``
    (least absolute deviations) as a linear program: minimize ``sum t`` with ``|y - Xw| <= t``."""
    from scipy.optimize import linprog

    n = data.x.size
    design = np.stack([data.x, np.ones(n)], axis=1)
    least_squares = np.linalg.lstsq(design, data.y, rcond=None)[0]
    eye = np.eye(n)
    result = linprog(
        np.r_[0.0, 0.0, np.ones(n)],
        A_ub=np.block([[design, -eye], [-design, -eye]]),
        b_ub=np.r_[data.y, -data.y],
        bounds=[(None, None)] * 2 + [(0, None)] * n,
    )
    return {"mse": least_squares, "mae": result.x[:2]}


# --- 2. one classifier, four losses ---------------------------------------------------------------

LOSSES = {
    "cross-entropy": "−log softmax(z)_y",
    "MSE on probabilities": "‖softmax(z) − onehot(y)‖²",
    "MSE on logits": "‖z − onehot(y)‖²",
    "multi-class hinge": "(1/C) Σ_{j≠y} max(0, 1 − z_y + z_j)",
}


def classification_loss(name: str, logits, target):
    """The mean over the batch of one of :data:`LOSSES`, on ``(N, C)`` logits and ``(N,)``
    class indices (torch tensors). The squared errors sum over the classes (the Brier score, for
    probabilities), as the per-sample loss of a C-dimensional regression."""
    import torch.nn.functional as F

    if name == "cross-entropy":
        return F.cross_entropy(logits, target)
    if name == "multi-class hinge":
        return F.multi_margin_loss(logits, target)
    onehot = F.one_hot(target, logits.shape[1]).to(logits.dtype)
    if name == "MSE on probabilities":
        return ((logits.softmax(dim=1) - onehot) ** 2).sum(dim=1).mean()
    if name == "MSE on logits":
        return ((logits - onehot) ** 2).sum(dim=1).mean()
    raise ValueError(f"name must be one of {tuple(LOSSES)}, got {name!r}")


def logit_gradients(name: str, logits, target):
    """``(N, C)``: each sample's own gradient ``d loss_n / d logits_n`` (the batch mean undone)."""
    import torch

    z = logits.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(classification_loss(name, z, target), z)
    return grad * z.shape[0]


@dataclass
class Run:
    """One training run: accuracies and the mean training loss after every epoch."""

    loss: str
    lr: float
    val_acc: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    seconds: float = 0.0

    def epochs_to(self, accuracy: float) -> int | None:
        """The first epoch (1-based) whose test accuracy reaches ``accuracy``, or None."""
        return next((i + 1 for i, a in enumerate(self.test_acc) if a >= accuracy), None)


def flat_split(data=None, val_fraction=0.2, seed=0):
    """Flattened float32 pixels of ``data`` (the digits by default) as ``((x_train, y_train),
    (x_val, y_val), (x_test, y_test))``, the validation set a seeded draw from the training set."""
    if data is None:
        from dlbook.data import load_digits

        data = load_digits()
    x = data.x_train.reshape(len(data.x_train), -1).astype(np.float32)
    n_val = int(round(len(x) * val_fraction))
    if not 0 < n_val < len(x):
        raise ValueError(f"val_fraction={val_fraction} leaves no validation or no training data")
    order = seeding.rng(seed).permutation(len(x))
    tr, va = order[n_val:], order[:n_val]
    x_test = data.x_test.reshape(len(data.x_test), -1).astype(np.float32)
    return (x[tr], data.y_train[tr]), (x[va], data.y_train[va]), (x_test, data.y_test)


def make_classifier(in_features=64, init_std=None, seed=0, classes=10):
    """Softmax regression, ``nn.Linear(in_features, classes)``, seeded. ``init_std``: draw the
    weights from N(0, init_std²) and zero the bias, instead of torch's default initialization
    (a confidently wrong start when large)."""
    import torch
    from torch import nn

    seeding.manual_seed(seed)
    model = nn.Linear(in_features, classes)
    if init_std is not None:
        with torch.no_grad():
            model.weight.normal_(0.0, init_std)
            model.bias.zero_()
    return model


def train_classifier(
    loss, split, lr, epochs=20, batch_size=64, init_std=None, seed=0, device=None, momentum=0.9
):
    """Softmax regression ``nn.Linear(D, 10)`` trained with ``loss`` by SGD with momentum.

    ``split`` is ``((x_train, y_train), (x_val, y_val), (x_test, y_test))`` of flat arrays.
    ``init_std`` as in :func:`make_classifier`. Returns a :class:`Run`.
    """
    import torch

    from dlbook.devices import resolve

    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {tuple(LOSSES)}, got {loss!r}")
    device = resolve(device)
    train, *held_out = (
        (torch.as_tensor(x, device=device), torch.as_tensor(y, device=device)) for x, y in split
    )
    model = make_classifier(train[0].shape[1], init_std, seed).to(device)
    velocity = [torch.zeros_like(p) for p in model.parameters()]
    order = seeding.generator(seed)  # the shuffles, on the CPU for every device
    run, start = Run(loss, lr), time.perf_counter()
    with _one_thread():
        for _ in range(epochs):
            batches = torch.randperm(len(train[0]), generator=order).split(batch_size)
            run.train_loss.append(_epoch(model, loss, train, batches, lr, momentum, velocity))
            with torch.no_grad():
                for accs, (x, y) in zip((run.val_acc, run.test_acc), held_out):
                    accs.append((model(x).argmax(dim=1) == y).float().mean().item())
    run.seconds = time.perf_counter() - start
    return run


def _epoch(model, loss, train, batches, lr, momentum, velocity):
    """One pass of minibatch SGD with momentum, ``v = momentum * v + g; w -= lr * v``: the rule
    of ``torch.optim.SGD``, whose first use costs seconds of imports this loop does not need.
    Returns the mean training loss."""
    import torch

    x, y = train
    params = list(model.parameters())
    total = torch.zeros((), device=x.device)
    for idx in batches:
        idx = idx.to(x.device)
        value = classification_loss(loss, model(x[idx]), y[idx])
        grads = torch.autograd.grad(value, params)
        with torch.no_grad():
            for p, v, g in zip(params, velocity, grads):
                p.sub_(lr * v.mul_(momentum).add_(g))
            total += value * len(idx)
    return total.item() / len(x)


def _one_thread():
    """Torch on one thread (see :func:`dlbook.timing.one_thread`)."""
    return one_thread(blas=False, torch=True)


def compare_losses(
    losses=tuple(LOSSES),
    lrs=(0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0),
    epochs=20,
    data=None,
    val_fraction=0.2,
    bad_start_std=2.0,
    seed=0,
    device=None,
):
    """For each loss: every learning rate in ``lrs`` from torch's default start, the best kept
    by final validation accuracy (the smaller of equals); then that learning rate again from the
    confidently wrong start ``init_std=bad_start_std``.

    Returns ``{loss: {"sweep": [Run, one per lr], "best": Run, "bad": Run}}``.
    """
    split = flat_split(data, val_fraction, seed)
    results = {}
    for loss in losses:
        sweep = [train_classifier(loss, split, lr, epochs, seed=seed, device=device) for lr in lrs]
        best = max(sweep, key=lambda r: r.val_acc[-1])
        bad = train_classifier(
            loss, split, best.lr, epochs, init_std=bad_start_std, seed=seed, device=device
        )
        results[loss] = {"sweep": sweep, "best": best, "bad": bad}
    return results


def compare_losses_over_seeds(seeds=(0, 1, 2), **kwargs):
    """:func:`compare_losses` once per seed in ``seeds`` (each seed draws its own validation
    split, initial weights and batch order). Returns the list of results, in the order of
    ``seeds``."""
    if len(seeds) == 0:
        raise ValueError("seeds must not be empty")
    return [compare_losses(seed=s, **kwargs) for s in seeds]


def summarize(results, probe_lr=0.1):
    """The numbers the chapter quotes from one :func:`compare_losses` result, in percent, per
    loss: ``lr`` (the chosen rate), ``test`` (its final test accuracy), ``bad`` (the final test
    accuracy from the confidently wrong start), ``epoch1_at_probe`` (test accuracy after one
    epoch at ``probe_lr``, which must be on the grid) and ``val_at_<lr>`` (final validation
    accuracy at every rate of the grid)."""
    out = {}
    for loss, res in results.items():
        by_lr = {run.lr: run for run in res["sweep"]}
        if probe_lr not in by_lr:
            raise ValueError(f"probe_lr={probe_lr} is not on the grid {sorted(by_lr)}")
        out[loss] = {
            "lr": res["best"].lr,
            "test": 100 * res["best"].test_acc[-1],
            "bad": 100 * res["bad"].test_acc[-1],
            "epoch1_at_probe": 100 * by_lr[probe_lr].test_acc[0],
            **{f"val_at_{lr:g}": 100 * run.val_acc[-1] for lr, run in by_lr.items()},
        }
    return out


def over_seeds(summaries, reduce=np.mean):
    """``{loss: {key: reduce([value per seed])}}`` for a list of :func:`summarize` results
    (``reduce`` is ``np.mean`` by default; ``np.min`` or ``np.max`` give the extremes)."""
    if len(summaries) == 0:
        raise ValueError("summaries must not be empty")
    return {
        loss: {key: float(reduce([s[loss][key] for s in summaries])) for key in numbers}
        for loss, numbers in summaries[0].items()
    }


# --- 3. the write-it-yourself exercise: cross-entropy ---------------------------------------------


def check_cross_entropy(fn) -> Report:
    """Hold the reader's ``fn(input, target)`` (mean softmax cross-entropy of logits ``(N, C)``
    and class indices ``(N,)``) to :func:`dlbook.scratch.cross_entropy`, and say in words what
    is wrong.

    The cases catch the usual mistakes: the textbook softmax, which gives ``inf`` or ``nan`` at
    logits of ±800; a sum where the mean belongs; the per-example losses returned unreduced; the
    true class read from the wrong place (labels are unsorted and repeat); a batch of one.

    Shapes:
        fn: (input (N, C) logits, target (N,) class indices) -> a number; returns a Report
    Formula:
        loss = (1/N) sum_n (log sum_c exp(input[n, c]) - input[n, target[n]])
    Torch:
        torch.nn.functional.cross_entropy
    """
    # Fixed cases, the same under any DLBOOK_SEED: the report is a printout that nbval compares.
    rng = np.random.default_rng(11)
    cases = [
        Case((rng.standard_normal((4, 5)), np.array([0, 3, 1, 4])), {}, "4 examples, 5 classes"),
        Case((rng.standard_normal((1, 3)), np.array([2])), {}, "a batch of one"),
        Case((3 * rng.standard_normal((6, 10)), np.array([7, 7, 2, 9, 0, 2])), {},
             "6 examples, 10 classes, repeated labels"),
        Case((np.array([[800.0, -800.0, 0.0], [-800.0, 800.0, 0.0]]), np.array([1, 1])), {},
             "logits of ±800"),
    ]  # fmt: skip

    def reference(input, target):
        return float(cross_entropy(input, target))

    def torch_twin(input, target):
        import torch

        return torch.nn.functional.cross_entropy(
            torch.from_numpy(input), torch.from_numpy(target)
        ).item()

    with np.errstate(all="ignore"):
        return check(fn, reference, cases, name="cross_entropy", outputs=("the loss",),
                     torch_twin=torch_twin)  # fmt: skip
