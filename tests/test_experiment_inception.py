"""dlbook.experiments.inception: the 1×1 convolution as a matrix product, costs and times of a
bottleneck, an Inception block's branch table, and the small training run."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlbook import nets
from dlbook.data.offline import Split
from dlbook.experiments import inception as exp
from dlbook.scratch import conv2d


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pointwise_matmul_equals_scratch_and_torch(dtype):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 5, 4, 3)).astype(dtype)
    w, b = rng.normal(size=(7, 5, 1, 1)).astype(dtype), rng.normal(size=7).astype(dtype)
    ours = exp.pointwise_matmul(x, w, b)
    assert ours.dtype == dtype and ours.shape == (2, 7, 4, 3)
    tol = 1e-10 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(ours, conv2d(x, w, b), atol=tol)
    torch_out = F.conv2d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b)).numpy()
    np.testing.assert_allclose(ours, torch_out, atol=tol)
    np.testing.assert_allclose(exp.pointwise_matmul(x, w[:, :, 0, 0]), conv2d(x, w), atol=tol)


@pytest.mark.parametrize(
    "weight, words",
    [(np.ones((2, 5, 3, 3)), "1×1 kernel"), (np.ones((2, 4)), "weight must be (C_out, 5)")],
)
def test_pointwise_matmul_rejects_bad_weights(weight, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
        exp.pointwise_matmul(np.ones((1, 5, 2, 2)), weight)


def test_colour_mix_brightness_of_white_is_one():
    out = exp.pointwise_matmul(np.ones((1, 3, 2, 2)), exp.COLOUR_MIX)
    np.testing.assert_allclose(out[0, :, 0, 0], [1.0, 0.0, 0.0], atol=1e-12)


def test_conv_costs_and_times():
    costs = exp.conv_costs(32, 32, mid=8, kernel_size=3, size=6)
    d, b = costs["direct"][1], costs["bottleneck"][1]
    assert d.mult_adds == 9 * 32 * 32 * 36 and b.mult_adds == (32 * 8 * 2 + 9 * 64) * 36
    times = exp.time_convs({k: m for k, (m, _) in costs.items()}, (1, 32, 6, 6), repeat=2)
    assert set(times) == {"direct", "bottleneck"} and all(t > 0 for t in times.values())


def test_branch_table_of_googlenet_3a():
    block = nets.InceptionBlock(192, 64, (96, 128), (16, 32), 32)
    rows = exp.branch_table(block, (192, 8, 8))
    assert [r["field"] for r in rows] == [1, 3, 5, 3, 5]
    assert [r["channels"] for r in rows] == [64, 128, 32, 32, 256]
    assert sum(r["params"] for r in rows[:4]) == rows[4]["params"] == 163_696
    assert sum(r["mult_adds"] for r in rows[:4]) == rows[4]["mult_adds"]


def test_train_pair_and_summary_on_a_tiny_set():
    rng = np.random.default_rng(0)
    x = rng.random((36, 3, 8, 8)).astype(np.float32)
    y = np.arange(36) % 3
    data = Split(x, y, x[:9], y[:9], "tiny")
    rows = exp.train_pair(data, seeds=(0, 1), epochs=1, width=4, batch_size=12)
    assert [(r["kind"], r["seed"]) for r in rows] == [
        ("inception", 0),
        ("plain", 0),
        ("inception", 1),
        ("plain", 1),
    ]
    assert rows[0]["model"][-1].out_features == 3
    s = exp.summarize_pair(rows)
    assert s["inception"]["test_acc"].shape == (2,)
    np.testing.assert_allclose(s["gap"], s["inception"]["test_acc"] - s["plain"]["test_acc"])
    with pytest.raises(ValueError, match="no plain runs"):
        exp.summarize_pair(rows[::2])


def test_train_pair_is_repeatable():
    rng = np.random.default_rng(1)
    x = rng.random((24, 3, 8, 8)).astype(np.float32)
    data = Split(x, np.arange(24) % 2, x[:6], np.arange(6) % 2, "tiny")
    a, b = (exp.train_pair(data, epochs=1, width=4, batch_size=8) for _ in range(2))
    for ra, rb in zip(a, b):
        assert ra["history"].final["test_loss"] == rb["history"].final["test_loss"]
