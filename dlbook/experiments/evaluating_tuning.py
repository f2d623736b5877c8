r"""The Evaluating and tuning chapter's experiments: a learning-rate range test, and grid search
against random search.

* :func:`make_net` builds the chapter's small digits CNN; :func:`predict_proba` gives its class
  probabilities as a NumPy array, for :mod:`dlbook.metrics`.
* :func:`lr_range_test` (Smith 2017): train a copy of a model for one short pass while the
  learning rate grows exponentially from ``lr_min`` to ``lr_max``, recording the loss of every
  batch. :func:`compare_lrs` then trains briefly at a few learning rates.
* :func:`grid_points` and :func:`random_points` lay out trials in a search space;
  :func:`search` trains one model per trial and scores it on a validation split;
  :func:`best` picks the winner (Bergstra and Bengio 2012 compare the two layouts).
* :func:`simulate_search` replays both layouts on many cheap toy problems whose optimum is
  unknown, to measure what one real search can only hint at.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field

import numpy as np

from dlbook import seeding
from dlbook.exercise import Case, Report, check

__all__ = [
    "SPACE",
    "make_net",
    "predict_proba",
    "RangeTest",
    "lr_range_test",
    "compare_lrs",
    "grid_points",
    "random_points",
    "Trial",
    "run_trial",
    "search",
    "best",
    "simulate_search",
    "check_roc_auc",
]

# name -> (low, high), both searched on a log scale: AdamW's step size and its decoupled
# weight decay (each step shrinks every weight by 1 - lr * weight_decay), around its default 0.01.
SPACE = {"lr": (1e-4, 1e-1), "weight_decay": (1e-4, 1.0)}


def make_net(width: int = 8):
    """Two 3×3 conv + ReLU + 2×2 max-pool stages (``width`` then ``2*width`` channels) and a
    linear layer: ``(N, 1, 8, 8)`` digits -> ``(N, 10)`` logits."""
    from torch import nn

    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError(f"width must be a positive int, got {width!r}")
    return nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),  # 8x8 -> 4x4
        nn.Conv2d(width, 2 * width, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),  # 4x4 -> 2x2
        nn.Flatten(),
        nn.Linear(2 * width * 4, 10),
    )


def predict_proba(model, x, device=None):
    """Softmax probabilities ``(N, K)`` (float64 NumPy) of ``model`` on ``x``, in eval mode."""
    import torch

    from dlbook.devices import resolve

    device = resolve(device)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        logits = model(torch.as_tensor(x, dtype=torch.float32, device=device))
    model.train(was_training)
    return torch.softmax(logits.double(), dim=1).cpu().numpy()


@dataclass
class RangeTest:
    """What :func:`lr_range_test` recorded: one entry per batch, ``(steps,)`` arrays."""

    lrs: np.ndarray
    losses: np.ndarray  # the raw batch losses
    smoothed: np.ndarray  # their bias-corrected exponential moving average
    diverged: bool  # True when the test stopped early because the loss blew up

    @property
    def lr_at_min(self) -> float:
        """The learning rate where the smoothed loss is lowest."""
        return float(self.lrs[int(np.argmin(self.smoothed))])

    @property
    def suggestion(self) -> float:
        """One tenth of :attr:`lr_at_min`: at the minimum the loss is already about to climb, so
        the rule of thumb steps back by a factor of ten."""
        return self.lr_at_min / 10


def _check_positive(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")


def lr_range_test(
    model,
    data,
    lr_min: float = 1e-5,
    lr_max: float = 10.0,
    steps: int | None = None,
    batch_size: int = 32,
    optimizer="adam",
    smoothing: float = 0.9,
    diverge: float = 4.0,
    seed: int = 0,
    device=None,
) -> RangeTest:
    r"""Train a copy of ``model`` on ``data.x_train`` with a learning rate that grows
    exponentially, :math:`\eta_k = \eta_\min (\eta_\max/\eta_\min)^{k/(\text{steps}-1)}`, and
    record the cross-entropy of every batch (before its step).

    ``steps`` defaults to one pass over the training set. The loss is smoothed by an exponential
    moving average with bias correction (weight ``smoothing`` on the past); the test stops once
    the smoothed loss exceeds ``diverge`` times its minimum. ``model`` itself is not changed.
    """
    import torch
    import torch.nn.functional as F

    from dlbook.devices import resolve
    from dlbook.train import as_tensors, make_optimizer, seed_everything, train_steps

    _check_positive("lr_min", lr_min)
    _check_positive("lr_max", lr_max)
    if not lr_min < lr_max:
        raise ValueError(f"lr_min must be below lr_max, got {lr_min} and {lr_max}")
    if not 0 <= smoothing < 1:
        raise ValueError(f"smoothing must be in [0, 1), got {smoothing!r}")
    if not diverge > 1:
        raise ValueError(f"diverge must be > 1, got {diverge!r}")
    n = len(data.x_train)
    steps = math.ceil(n / batch_size) if steps is None else steps
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 2:
        raise ValueError(f"steps must be an int >= 2, got {steps!r}")
    device = resolve(device)
    seed_everything(seed)
    model = copy.deepcopy(model).to(device).train()
    opt = make_optimizer(optimizer, model.parameters(), lr_min)
    x, y = as_tensors(data.x_train, data.y_train, device)
    rng = seeding.rng(seed)
    lrs = lr_min * (lr_max / lr_min) ** (np.arange(steps) / (steps - 1))

    def batches():  # each step's batch, its learning rate set first
        order, pos = rng.permutation(n), 0
        for lr in lrs:
            for group in opt.param_groups:
                group["lr"] = float(lr)
            if pos + batch_size > n:  # a new pass: reshuffle
                order, pos = rng.permutation(n), 0
            yield torch.as_tensor(order[pos : pos + batch_size], device=device)
            pos += batch_size

    def batch_loss(idx):
        return F.cross_entropy(model(x[idx]), y[idx])

    losses, smoothed, avg, lowest = [], [], 0.0, math.inf
    for k, (loss, _) in enumerate(train_steps(batch_loss, opt, batches())):
        losses.append(loss.item())
        avg = smoothing * avg + (1 - smoothing) * losses[-1]
        smoothed.append(avg / (1 - smoothing ** (k + 1)))
        lowest = min(lowest, smoothed[-1])
        if not math.isfinite(losses[-1]) or smoothed[-1] > diverge * lowest:
            break
    m = len(losses)
    return RangeTest(lrs[:m], np.array(losses), np.array(smoothed), diverged=m < steps)


def compare_lrs(
    lrs, data, epochs=3, batch_size=32, seeds=(0, 1, 2), width=8, device=None
) -> np.ndarray:
    """Test accuracy ``(len(lrs), len(seeds))`` of :func:`make_net` trained by
    :func:`dlbook.train.fit` (Adam) for ``epochs`` at each learning rate, one run per seed."""

    from dlbook.train import fit

    out = np.zeros((len(lrs), len(seeds)))
    for i, lr in enumerate(lrs):
        for j, seed in enumerate(seeds):
            seeding.manual_seed(seed)
            history = fit(
                make_net(width),
                data,
                epochs=epochs,
                lr=float(lr),
                batch_size=batch_size,
                seed=seed,
                device=device,
                eval_train=False,
            )
            out[i, j] = history.final["test_acc"]
    return out


def _check_space(space):
    if not space:
        raise ValueError("space must name at least one hyperparameter")
    for name, (low, high) in space.items():
        if not 0 < low < high:
            raise ValueError(f"space[{name!r}] must be (low, high) with 0 < low < high")


def grid_points(space=SPACE, per_axis: int = 3) -> list[dict]:
    """Every combination of ``per_axis`` values per hyperparameter: ``per_axis ** len(space)``
    points. The values sit at the centres of ``per_axis`` equal cells of the log range, so each
    stands for an equal share of it (not at the ends, where a trial would be wasted on an extreme).
    """
    _check_space(space)
    if isinstance(per_axis, bool) or not isinstance(per_axis, int) or per_axis < 1:
        raise ValueError(f"per_axis must be a positive int, got {per_axis!r}")
    centres = (np.arange(per_axis) + 0.5) / per_axis
    axes = {
        name: 10 ** (np.log10(lo) + centres * (np.log10(hi) - np.log10(lo)))
        for name, (lo, hi) in space.items()
    }
    mesh = np.meshgrid(*axes.values(), indexing="ij")
    return [{name: float(m.flat[i]) for name, m in zip(axes, mesh)} for i in range(mesh[0].size)]


def random_points(space=SPACE, n: int = 9, seed: int = 0) -> list[dict]:
    """``n`` points drawn independently and log-uniformly in every hyperparameter's range."""
    _check_space(space)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    rng = seeding.rng(seed)
    draws = {
        name: 10 ** rng.uniform(np.log10(lo), np.log10(hi), n) for name, (lo, hi) in space.items()
    }
    return [{name: float(v[i]) for name, v in draws.items()} for i in range(n)]


@dataclass
class Trial:
    """One trained configuration: its hyperparameters, its validation accuracy, the model."""

    params: dict
    val_acc: float
    seconds: float
    model: object = field(repr=False, default=None)


def run_trial(
    params,
    data,
    width=8,
    epochs=5,
    batch_size=32,
    val_fraction=0.2,
    seed=0,
    device=None,
    optimizer="adamw",
) -> Trial:
    """Train :func:`make_net` with ``optimizer`` (AdamW, whose weight decay is decoupled from the
    gradient step) at ``params`` (``lr``, ``weight_decay``) on the training set minus a validation
    split, and score it on that split. Every trial uses the same seed, so the same split, initial
    weights and batch order: only the hyperparameters differ."""

    from dlbook.train import fit

    unknown = set(params) - {"lr", "weight_decay"}
    if unknown:
        raise ValueError(f"params: unknown hyperparameters {sorted(unknown)}")
    seeding.manual_seed(seed)
    model = make_net(width)
    start = time.perf_counter()
    history = fit(
        model,
        data,
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        device=device,
        val_fraction=val_fraction,
        eval_train=False,
        optimizer=optimizer,
        **params,
    )
    return Trial(dict(params), history.final["val_acc"], time.perf_counter() - start, model)


def search(points, data, **kwargs) -> list[Trial]:
    """:func:`run_trial` at each point (keyword arguments are passed on)."""
    return [run_trial(p, data, **kwargs) for p in points]


def best(trials) -> Trial:
    """The trial with the highest validation accuracy (the earliest one on a tie)."""
    if not trials:
        raise ValueError("trials: nothing to choose from")
    return max(trials, key=lambda t: t.val_acc)


def simulate_search(weights, space=SPACE, per_axis=3, repeats=2000, seed=0) -> dict:
    r"""Grid against random search on ``repeats`` toy problems, each with an optimum drawn
    uniformly in the (log) search space, so that neither layout knows where to look.

    A trial at log-coordinates :math:`u` scores :math:`-\sum_i w_i (u_i - u_i^*)^2`, with
    ``weights`` :math:`w_i` (one per hyperparameter, in ``space``'s order) saying how much each
    matters. Both layouts get ``per_axis ** len(space)`` trials. Returns ``{"grid": regrets,
    "random": regrets}``: per problem, how far the best trial's score falls short of the optimum's
    (0 is a perfect hit).
    """
    _check_space(space)
    w = np.asarray(weights, dtype=float)
    if w.shape != (len(space),) or (w < 0).any():
        raise ValueError(f"weights must be {len(space)} non-negative numbers, got {weights!r}")
    lo, hi = (np.log10([r[k] for r in space.values()]) for k in (0, 1))
    n = per_axis ** len(space)
    grid = np.log10([list(p.values()) for p in grid_points(space, per_axis)])  # (n, D)
    rng = seeding.rng(seed)
    optimum = rng.uniform(lo, hi, (repeats, 1, len(space)))
    random = rng.uniform(lo, hi, (repeats, n, len(space)))

    def regret(points):  # the smallest weighted squared distance to the optimum
        return np.min(np.sum(w * (points - optimum) ** 2, axis=-1), axis=-1)

    return {"grid": regret(grid[None]), "random": regret(random)}


# --- the write-it-yourself exercise: the area under the ROC curve --------------------------------


def check_roc_auc(fn) -> Report:
    """Hold the reader's ``fn(y_true, y_score)``, the area under the ROC curve of binary labels
    (1 positive, 0 negative) and scores, to :func:`dlbook.metrics.roc_auc`, and say in words what
    is wrong.

    The cases catch the usual mistakes: ties between a positive and a negative not counted as
    one half; the roles of positives and negatives swapped (``1 - AUC``); an accuracy at a
    threshold of 0.5 in place of the ranking; unsorted scores and unequal class sizes.

    Shapes:
        fn: (y_true (n,) of 0 and 1, y_score (n,)) -> a number; returns a Report
    Formula:
        AUC = (1 / (P N)) sum over positives i and negatives j of
              [s_i > s_j] + 1/2 [s_i = s_j]
    Torch:
        none (torch has no ROC AUC; sklearn.metrics.roc_auc_score is the usual twin)
    """
    from dlbook.metrics import roc_auc  # here: the chapter module stays light

    rng = np.random.default_rng(25)  # fixed, not DLBOOK_SEED: one report everywhere
    y = (rng.random(40) < 0.3).astype(int)
    s = np.clip(0.35 + 0.3 * y + rng.normal(0, 0.2, 40), 0, 1)
    cases = [
        Case((np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])), {}, "4 examples"),
        Case((y, s), {}, "40 examples, 30% positive, unsorted"),
        Case((y, np.round(s, 1)), {}, "the same scores rounded to 0.1: many ties"),
        Case((np.array([1, 0, 1, 0, 0]), np.array([0.2, 0.3, 0.9, 0.6, 0.1])), {},
             "scores well below 0.5 count too"),
    ]  # fmt: skip

    def reference(y_true, y_score):
        return float(roc_auc(y_true, y_score))

    return check(fn, reference, cases, name="roc_auc", outputs=("the AUC",),
                 atol=1e-12, rtol=1e-10)  # fmt: skip
