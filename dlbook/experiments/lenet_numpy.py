"""LeNet-5 trained on the digits twice: in NumPy with our own layers and optimizer, and in
PyTorch. The two LeNet chapters and ``make bench`` call these, so the numbers in the book and the
budgets in the benchmark come from the same runs.

The digits are scikit-learn's 1,797 8x8 scans enlarged to 20x20 and centred on a 28x28 canvas,
as MNIST's digits are (:func:`dlbook.data.load_digits` with ``size=28``); LeNet-5's first layer
pads them to the 32x32 it was designed for.

:func:`finite_difference_errors` checks the NumPy network's gradients from the definition of a
derivative, without PyTorch. :func:`check_confusion_matrix` holds the reader's confusion matrix
(the chapter's exercise) to :func:`dlbook.metrics.confusion_matrix`.
"""

from __future__ import annotations

import time

import numpy as np

from dlbook import seeding
from dlbook.exercise import Case, Report, check
from dlbook.history import Run
from dlbook.metrics import confusion_matrix

__all__ = ["CONFIG", "Run", "train_numpy", "train_torch", "step_speed", "finite_difference_errors",
           "check_confusion_matrix"]  # fmt: skip

# Adam, with settings per layer plan: "classic" is the paper's (scaled tanh, average pooling),
# trained alike in NumPy and in PyTorch; "modern" adds ReLU, max pooling and batch norm.
CONFIG = {
    "classic": dict(epochs=15, lr=2e-3, batch_size=32, seed=0),
    "modern": dict(epochs=12, lr=1e-3, batch_size=16, seed=0),
}


def _digits(data):
    from dlbook.data import load_digits

    return load_digits(size=28) if data is None else data


def train_numpy(data=None, modern: bool = False, callback=None, **overrides) -> Run:
    """LeNet-5 built from :mod:`dlbook.scratch.layers`, trained with
    :class:`dlbook.scratch.optim.Adam` by :func:`dlbook.scratch.fit.fit` (float32). ``modern``
    swaps in ReLU and max pooling (NumPy batch norm comes in part 5)."""
    from dlbook.scratch import optim
    from dlbook.scratch.fit import fit
    from dlbook.scratch.nets import lenet5

    cfg = {**CONFIG["modern" if modern else "classic"], **overrides}
    data = _digits(data)
    net = lenet5(input_size=28, modern=modern, rng=seeding.rng(cfg["seed"]))
    opt = optim.Adam(net.params, lr=cfg["lr"])
    start = time.perf_counter()
    history = fit(net, data, opt, cfg["epochs"], cfg["batch_size"], cfg["seed"], callback=callback)
    return Run(net, history, time.perf_counter() - start)


def train_torch(data=None, modern: bool = False, device=None, **overrides) -> Run:
    """:class:`dlbook.nets.LeNet5` (or, with ``modern``, :class:`dlbook.nets.LeNet5Modern`)
    trained by :func:`dlbook.train.fit` on ``device`` (default: :func:`dlbook.device`)."""

    from dlbook import nets
    from dlbook.train import fit

    cfg = {**CONFIG["modern" if modern else "classic"], **overrides}
    data = _digits(data)
    seeding.manual_seed(cfg["seed"])
    model = nets.lenet5(input_size=28, modern=modern)
    start = time.perf_counter()
    history = fit(
        model, data, cfg["epochs"], cfg["lr"], cfg["batch_size"], device=device, seed=cfg["seed"]
    )
    return Run(model, history, time.perf_counter() - start)


def step_speed(batch_size: int = 64, steps: int = 20, device=None, repeats: int = 3) -> dict:
    """Images per second of one training step (forward, backward, Adam update) of LeNet-5 at
    28x28, in NumPy (float32) and in PyTorch on ``device`` (CPU by default, for a fair match)."""
    import torch
    import torch.nn.functional as F

    from dlbook import nets
    from dlbook.scratch import optim
    from dlbook.scratch.fit import train_step
    from dlbook.scratch.nets import lenet5

    rng = seeding.rng(0)
    x = rng.random((batch_size, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, batch_size)
    net = lenet5(input_size=28, rng=rng)
    opt = optim.Adam(net.params, lr=1e-3)
    device = torch.device(device or "cpu")
    model = nets.lenet5(input_size=28).to(device)
    topt = torch.optim.Adam(model.parameters(), lr=1e-3)
    xt, yt = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)

    def torch_step():
        topt.zero_grad()
        F.cross_entropy(model(xt), yt).backward()
        topt.step()

    out = {}
    for name, step in (("numpy", lambda: train_step(net, opt, x, y)), ("torch", torch_step)):
        step()  # warm up
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = float("inf")
        for _ in range(repeats):  # the best of a few runs: background load only slows a run
            start = time.perf_counter()
            for _ in range(steps):
                step()
            if device.type == "cuda":
                torch.cuda.synchronize()
            best = min(best, time.perf_counter() - start)
        out[name] = batch_size * steps / best
    return out


def finite_difference_errors(net, x, y, grads, names, rng, h: float = 1e-6, picks: int = 3):
    """The relative error between the gradients ``grads`` of the cross-entropy loss of the NumPy
    ``net`` on ``(x, y)`` and central differences, at ``picks`` entries of every parameter array
    drawn (without repeats) with ``rng``.

    Each picked entry of ``net.params[i]`` is nudged in place by ``+h`` and ``-h`` and restored
    (:func:`dlbook.scratch.gradcheck.numerical_gradient`): ``(L(θ + h) - L(θ - h)) / 2h``.
    Returns ``{names[i]: relative error}`` for :func:`dlbook.verify.gradient_verdict`.
    """
    from dlbook.scratch.gradcheck import numerical_gradient
    from dlbook.scratch.losses import cross_entropy
    from dlbook.verify import relative_error

    def loss():
        return float(cross_entropy(net(x), y))

    errors = {}
    for name, p, g in zip(names, net.params, grads, strict=True):
        picked = rng.choice(p.size, picks, replace=False)
        numeric = numerical_gradient(loss, p, h=h, entries=picked)  # nudges net's own weights
        errors[name] = relative_error(g.reshape(-1)[picked], numeric)
    return errors


def _confusion(y_true, y_pred, num_classes):
    return confusion_matrix(y_true, y_pred, labels=range(num_classes))


def check_confusion_matrix(fn) -> Report:
    """Hold the reader's ``fn(y_true, y_pred, num_classes)`` to
    :func:`dlbook.metrics.confusion_matrix` on a lopsided case (which catches rows and columns
    swapped), classes that are never predicted or never present, and 200 random labels.

    Shapes:
        y_true, y_pred: (N,) integer class labels in 0 .. num_classes - 1
        returns: a Report; fn must return C, (num_classes, num_classes) int64
    Formula:
        C[i, j] = #{n : y_true[n] = i and y_pred[n] = j}
    Torch:
        none (torch.bincount(num_classes * y_true + y_pred) counts the same pairs)
    """
    import torch

    def twin(y_true, y_pred, num_classes):
        pairs = torch.from_numpy(num_classes * y_true + y_pred)
        return torch.bincount(pairs, minlength=num_classes**2).reshape(num_classes, num_classes)

    rng = np.random.default_rng(5)  # fixed, not DLBOOK_SEED: one report everywhere
    cases = [
        Case((np.array([0, 0, 0, 1, 2]), np.array([0, 1, 2, 1, 1]), 3), label="three classes"),
        Case(
            (np.array([3, 3, 1, 0]), np.array([3, 0, 1, 0]), 5),
            label="classes 2 and 4 never appear",
        ),
        Case(
            (rng.integers(0, 10, 200), rng.integers(0, 10, 200), 10),
            label="200 random labels, 10 classes",
        ),
    ]
    return check(fn, _confusion, cases, name="confusion_matrix", torch_twin=twin)
