"""A training loop for the NumPy networks: mini-batch SGD-style training with any optimizer of
:mod:`dlbook.scratch.optim`, recording the same :class:`dlbook.history.History` as the PyTorch loop
(so the two can be plotted side by side)."""

from __future__ import annotations

import time

import numpy as np

from dlbook import seeding
from dlbook.checks import check_int
from dlbook.history import History
from dlbook.scratch.losses import cross_entropy, cross_entropy_backward

__all__ = ["evaluate", "fit", "train_step"]


def evaluate(model, x, y, batch_size: int = 500) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` on ``(x, y)``, in evaluation mode.

    Runs ``batch_size`` examples at a time (to bound memory), with the model in evaluation mode
    (dropout off, batch norm on its running statistics), and puts it back in training mode.

    Shapes:
        x: (N, ...) what the model takes, N >= 1
        y: (N,) integer class labels
        returns: (mean loss, accuracy), two floats
    Formula:
        loss = (1/N) sum_n -log softmax(model(x))[n, y[n]]
        accuracy = (1/N) sum_n [argmax_c model(x)[n, c] == y[n]]
    Torch:
        none (a loop; the PyTorch one is dlbook.train.evaluate)
    """
    check_int(batch_size, "batch_size")
    if len(x) == 0:
        raise ValueError("x: cannot evaluate on an empty set")
    model.eval()
    loss, correct = 0.0, 0
    for i in range(0, len(x), batch_size):
        logits = model(x[i : i + batch_size])
        yb = y[i : i + batch_size]
        loss += float(cross_entropy(logits, yb)) * len(yb)
        correct += int((logits.argmax(1) == yb).sum())
    model.train()
    return loss / len(x), correct / len(x)


def train_step(model, optimizer, x, y) -> float:
    """One step: forward, loss, backward through every layer, optimizer update.

    Returns the batch's mean cross-entropy, measured before the update.

    Shapes:
        x: (B, ...) one mini-batch, what the model takes
        y: (B,) integer class labels
        returns: float, the batch loss
    Formula:
        loss = cross_entropy(model(x), y)
        model.backward(d loss / d logits) fills model.grads;  optimizer.step(model.grads)
    Torch:
        none (the body of a loop: zero_grad, loss.backward(), optimizer.step() in PyTorch)
    """
    logits = model(x)
    loss = cross_entropy(logits, y)
    model.backward(cross_entropy_backward(np.ones((), logits.dtype), logits, y))
    optimizer.step(model.grads)
    return float(loss)


def fit(model, data, optimizer, epochs: int = 10, batch_size: int = 64, seed: int = 0,
        callback=None) -> History:  # fmt: skip
    """Train ``model`` (a :class:`dlbook.scratch.layers.Sequential`) on ``data`` (a
    :class:`dlbook.data.Split`), with the data cast to the model's dtype.

    Every epoch shuffles the training set (with ``seed``), runs :func:`train_step` on each
    mini-batch, then evaluates on the whole training and test sets. After every epoch
    ``callback(epoch, model)``, if given, may look at the model (to record filters, say). The rows
    of the history carry ``images_per_s`` for the training steps.

    Shapes:
        data.x_train: (N, ...) what the model takes;  data.y_train: (N,) class labels
        returns: History, one row per epoch (train_loss, train_acc, test_loss, test_acc,
            seconds, images_per_s)
    Formula:
        every epoch, for every mini-batch B of a fresh random permutation of the N examples:
            train_step(model, optimizer, x[B], y[B])
    Torch:
        none (a loop; the PyTorch one is dlbook.train.fit)
    """
    check_int(epochs, "epochs")
    check_int(batch_size, "batch_size")
    dtype = model.params[0].dtype if model.params else np.float32
    x, y = data.x_train.astype(dtype), data.y_train
    x_test, y_test = data.x_test.astype(dtype), data.y_test
    rng = seeding.rng(seed)
    history = History()
    model.train()
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        order = rng.permutation(len(x))
        for i in range(0, len(x), batch_size):
            idx = order[i : i + batch_size]
            train_step(model, optimizer, x[idx], y[idx])
        seconds = time.perf_counter() - start
        row = dict(images_per_s=len(x) / seconds)
        row["train_loss"], row["train_acc"] = evaluate(model, x, y)
        row["test_loss"], row["test_acc"] = evaluate(model, x_test, y_test)
        row["seconds"] = time.perf_counter() - start
        history.rows.append(row)
        if callback is not None:
            callback(epoch, model)
    return history
