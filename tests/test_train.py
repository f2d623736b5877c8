import pytest
import torch
from torch import nn

from dlbook.data import load_digits
from dlbook.train import evaluate, fit


def small_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 8 * 8, 10)
    )


def test_fit_learns_the_digits_and_is_repeatable():
    data = load_digits()
    torch.manual_seed(0)
    before = evaluate(small_cnn(), data.x_test, data.y_test, "cpu")[1]
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        history = fit(small_cnn(), data, epochs=4, device="cpu", seed=0)
        runs.append(history["test_acc"])
    assert len(history) == 4 and set(history.final) >= {"train_loss", "test_acc", "seconds"}
    assert runs[0] == runs[1]  # same seed, same numbers
    assert before < 0.3 < 0.85 < history.final["test_acc"]
    assert history["train_loss"][-1] < history["train_loss"][0]


@pytest.mark.parametrize(
    "kwargs,words",
    [
        (dict(epochs=0), "epochs"),
        (dict(batch_size=0), "batch_size"),
        (dict(optimizer="lbfgs"), "optimizer"),
    ],
)
def test_fit_rejects_bad_arguments(kwargs, words):
    with pytest.raises(ValueError, match=words):
        fit(small_cnn(), load_digits(), device="cpu", **kwargs)
