"""The learning-rate schedules chapter's experiments: every schedule built from the scratch
schedulers gives torch's rates step by step, the closed form of warm-up + cosine is torch's, and
the training helpers follow their schedule and report what they promise."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from dlbook.data import Split
from dlbook.experiments import lr_schedules as exp


@pytest.mark.parametrize("name", exp.SCHEDULES + exp.OTHER_SCHEDULES)
@pytest.mark.parametrize(("steps", "lr"), [(40, 0.1), (23, 0.37)])
def test_scratch_rates_are_torchs_bit_for_bit(name, steps, lr):
    ours, theirs = exp.scratch_rates(name, steps, lr), exp.torch_rates(name, steps, lr)
    assert ours["lr"].shape == (steps + 1,)
    np.testing.assert_array_equal(ours["lr"], theirs["lr"])
    np.testing.assert_array_equal(ours["momentum"], theirs["momentum"])


def test_schedules_have_their_shapes():
    T, lr = 40, 0.1
    r = {name: exp.scratch_rates(name, T, lr)["lr"] for name in exp.SCHEDULES}
    assert np.all(r["constant"] == lr)
    assert r["step"][T // 2 - 1] == lr and math.isclose(r["step"][T // 2], lr / 10)
    assert math.isclose(r["step"][3 * T // 4], lr / 100)
    assert math.isclose(r["exponential"][T], lr / 100)
    assert math.isclose(r["cosine"][T // 2], lr / 2) and abs(r["cosine"][T]) < 1e-15
    assert math.isclose(r["warm-up + cosine"][0], lr / 100)
    assert math.isclose(r["one-cycle"][0], lr / 25) and r["one-cycle"].max() <= lr * (1 + 1e-12)
    warm = exp.scratch_rates("warm-up", T, lr)["lr"]
    assert math.isclose(warm[0], lr / 100) and np.allclose(warm[T // 10 :], lr)
    momentum = exp.scratch_rates("one-cycle", T, lr)["momentum"]
    assert math.isclose(momentum[0], 0.95) and momentum.min() >= 0.85 - 1e-12


@pytest.mark.parametrize(("T", "W"), [(100, 10), (30, 1), (12, 11)])
def test_warmup_cosine_closed_form_equals_torch(T, W):
    theirs = exp.torch_rates("warm-up + cosine", T, 0.3, warmup=W)["lr"]
    ours = [exp.warmup_cosine_lr(t, 0.3, T, W) for t in range(T + 1)]
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        (dict(name="linear", total_steps=10), "name must be one of"),
        (dict(name="cosine", total_steps=2), "total_steps must be an int >= 4"),
        (dict(name="cosine", total_steps=10.0), "total_steps must be an int >= 4"),
        (dict(name="warm-up + cosine", total_steps=10, warmup=10), "warmup must be in"),
    ],
)
def test_bad_arguments_are_named(kwargs, words):
    with pytest.raises(ValueError, match=words):
        exp.scratch_rates(**kwargs)


def _tiny():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(48, 1, 4, 4)).astype(np.float32)
    y = (x.mean(axis=(1, 2, 3)) > 0).astype(np.int64)
    return Split(x, y, x[:16], y[:16])


def _net():
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 2))


def test_train_scheduled_follows_its_schedule():
    r = exp.train_scheduled(_net, _tiny(), "one-cycle", 0.05, epochs=2, batch_size=16)
    assert r["lrs"].shape == r["losses"].shape == (6,)
    np.testing.assert_allclose(r["lrs"], exp.torch_rates("one-cycle", 6, 0.05)["lr"][:-1])
    assert r["train_loss"].shape == r["test_acc"].shape == (2,)
    assert isinstance(r["model"], nn.Module)
    last = exp.train_scheduled(_net, _tiny(), "cosine", 0.05, 2, 16, every_epoch=False)
    assert last["test_acc"].shape == (1,)
    assert torch.equal(last["model"][1].weight, exp.train_scheduled(
        _net, _tiny(), "cosine", 0.05, 2, 16)["model"][1].weight)  # fmt: skip


def test_compare_summarize_and_overfit():
    runs = exp.compare_schedules(_net, _tiny(), 0.05, schedules=("constant", "step"),
                                 seeds=(0, 1), epochs=2, batch_size=16)  # fmt: skip
    assert list(runs) == ["constant", "step"] and len(runs["step"]) == 2
    assert "model" not in runs["step"][0]
    s = exp.summarize(runs)
    assert s["constant"]["test_acc"].shape == (2,)
    assert math.isclose(s["constant"]["acc"], s["constant"]["test_acc"].mean())
    gaps = exp.overfit_by_rate(_net, _tiny(), (0.01, 0.1), n_train=32, epochs=2, batch_size=16,
                               seeds=(0,))  # fmt: skip
    assert set(gaps) == {0.01, 0.1} and gaps[0.1].shape == (1, 2)
    assert np.all((gaps[0.1] >= 0) & (gaps[0.1] <= 100))
    with pytest.raises(ValueError, match="n_train"):
        exp.overfit_by_rate(_net, _tiny(), (0.1,), n_train=8, batch_size=16)
