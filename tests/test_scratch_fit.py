"""The NumPy training loop (dlbook.scratch.fit): evaluate's sums, fit's defaults and batches.

A mutation run found these unheld: evaluate's running totals could start at 1 instead of 0, its
empty-set check could move to one sample, and fit's defaults (10 epochs, batches of 64) could
change, all without a failing test.
"""

import numpy as np
import pytest

from dlbook.data.offline import Split
from dlbook.scratch import Linear, Sequential, optim
from dlbook.scratch.fit import evaluate, fit
from dlbook.scratch.losses import cross_entropy


def small_problem(n=130, d=5, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    y = rng.integers(0, classes, n)
    model = Sequential(Linear(d, classes, dtype=np.float64, rng=np.random.default_rng(seed)))
    return model, x, y


@pytest.mark.parametrize("batch_size", [1, 7, 64, 500])
def test_evaluate_is_the_mean_loss_and_accuracy_over_every_example(batch_size):
    model, x, y = small_problem()
    loss, acc = evaluate(model, x, y, batch_size=batch_size)
    logits = model(x)
    assert loss == pytest.approx(float(cross_entropy(logits, y)), rel=1e-12)
    assert acc == np.mean(logits.argmax(1) == y)


def test_evaluate_takes_one_example_and_refuses_none():
    model, x, y = small_problem()
    loss, acc = evaluate(model, x[:1], y[:1])
    assert loss == pytest.approx(float(cross_entropy(model(x[:1]), y[:1])), rel=1e-12)
    assert acc in (0.0, 1.0)
    with pytest.raises(ValueError, match="empty"):
        evaluate(model, x[:0], y[:0])


class CountingSGD(optim.SGD):
    """SGD that counts its steps."""

    def __init__(self, params, **kwargs):
        super().__init__(params, **kwargs)
        self.steps = 0

    def step(self, grads):
        self.steps += 1
        return super().step(grads)


def test_fit_defaults_are_10_epochs_of_batches_of_64():
    model, x, y = small_problem(n=130)
    data = Split(x, y, x[:20], y[:20])
    opt = CountingSGD(model.params, lr=0.01)
    history = fit(model, data, opt)
    assert len(history) == 10
    assert opt.steps == 10 * 3  # 130 examples in batches of 64: 64 + 64 + 2


def test_fit_rows_are_evaluate_after_each_epoch():
    model, x, y = small_problem(n=40)
    data = Split(x, y, x[:10], y[:10])
    history = fit(model, data, optim.SGD(model.params, lr=0.05), epochs=2, batch_size=8)
    assert (history.final["train_loss"], history.final["train_acc"]) == evaluate(model, x, y)
    assert (history.final["test_loss"], history.final["test_acc"]) == evaluate(
        model, x[:10], y[:10]
    )
