"""A training loop for the NumPy networks: mini-batch SGD-style training with any optimizer of
:mod:`dlbook.scratch.optim`, recording the same :class:`dlbook.history.History` as the PyTorch loop
(so the two can be plotted side by side)."""

from __future__ import annotations

import time

import numpy as np

from dlbook import seeding
from dlbook.history import History
from dlbook.scratch.losses import cross_entropy, cross_entropy_backward

__all__ = ["evaluate", "fit", "train_step"]


def evaluate(model, x, y, batch_size: int = 500) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` on ``(x, y)``, in evaluation mode."""
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
    """One step: forward, loss, backward through every layer, optimizer update. Returns the
    batch loss."""
    logits = model(x)
    loss = cross_entropy(logits, y)
    model.backward(cross_entropy_backward(np.ones((), logits.dtype), logits, y))
    optimizer.step(model.grads)
    return float(loss)


def fit(model, data, optimizer, epochs: int = 10, batch_size: int = 64, seed: int = 0,
        callback=None) -> History:  # fmt: skip
    """Train ``model`` (a :class:`dlbook.scratch.layers.Sequential`) on ``data`` (a
    :class:`dlbook.data.Split`), with the data cast to the model's dtype.

    After every epoch ``callback(epoch, model)``, if given, may look at the model (to record
    filters, say). The rows of the history carry ``images_per_s`` for the training steps.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be an int >= 1, got {epochs!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
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
