"""The Why convolution chapter's experiment: parameter counts held to torch, the shift, the
equivariance measure on layers whose answer is known, and the two small networks."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlbook.data import Split
from dlbook.experiments import why_convolution as exp
from dlbook.scratch import conv2d, max_pool2d


def _count(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize(("h", "w", "c_in", "c_out", "k"), [(4, 5, 3, 2, 3), (6, 6, 1, 4, 5)])
def test_parameter_counts_equal_torch_layers(h, w, c_in, c_out, k):
    counts = exp.layer_parameters(h, w, c_in, c_out, k)
    assert counts["dense"] == _count(torch.nn.Linear(c_in * h * w, c_out * h * w))
    assert counts["convolution"] == _count(torch.nn.Conv2d(c_in, c_out, k, padding=k // 2))
    # locally connected: one (C_in k k) window and one bias per output value
    assert counts["locally connected"] == c_out * h * w * (c_in * k * k + 1)


def test_parameter_counts_of_the_chapter():
    counts = exp.layer_parameters()
    assert counts == {"dense": 150528 * 3211264 + 3211264,
                      "locally connected": 3211264 * 28, "convolution": 1792}  # fmt: skip
    with pytest.raises(ValueError, match="kernel_size"):
        exp.layer_parameters(kernel_size=0)


def test_shift_moves_and_fills_with_zeros():
    x = np.arange(12.0).reshape(3, 4)
    assert np.array_equal(exp.shift(x, 0, 1), [[0, 0, 1, 2], [0, 4, 5, 6], [0, 8, 9, 10]])
    assert np.array_equal(exp.shift(x, -1, 0), [[4, 5, 6, 7], [8, 9, 10, 11], [0, 0, 0, 0]])
    assert np.array_equal(exp.shift(x, 0, 0), x)
    assert not exp.shift(x, 3, 0).any() and not exp.shift(x, 0, -9).any()
    assert exp.shift(x.astype(np.float32), 1, 1).dtype == np.float32
    with pytest.raises(ValueError, match="dx"):
        exp.shift(x, 0, 1.5)
    with pytest.raises(ValueError, match="x must have"):
        exp.shift(np.ones(3), 0, 1)


def test_shift_error_is_zero_for_equivariant_layers_and_not_for_strided_ones(rng):
    x = rng.standard_normal((2, 2, 9, 12))
    w = rng.standard_normal((3, 2, 3, 3))
    for d in range(4):
        assert exp.shift_error(lambda a: conv2d(a, w), x, d) <= 1e-12
        assert exp.shift_error(lambda a: conv2d(a, w, padding=1), x, d, margin=1) <= 1e-12
    assert exp.shift_error(lambda a: conv2d(a, w, padding=1), x, 2) > 0.05
    assert exp.shift_error(lambda a: max_pool2d(a, 2), x, 2, stride=2, margin=1) <= 1e-12
    assert exp.shift_error(lambda a: max_pool2d(a, 2), x, 1, stride=2, margin=1) > 0.2
    # the same measure on torch's convolution
    tw = torch.tensor(w)
    assert exp.shift_error(lambda a: F.conv2d(torch.tensor(a), tw).numpy(), x, 3) <= 1e-12
    with pytest.raises(ValueError, match="no output column"):
        exp.shift_error(lambda a: conv2d(a, w), x, 1, margin=6)


def test_padded_digits_sit_in_the_middle_of_the_canvas():
    data = exp.padded_digits(canvas=16)
    assert data.x_train.shape[1:] == (1, 16, 16) and data.x_train.dtype == np.float32
    assert not data.x_train[..., :4, :].any() and not data.x_test[..., :, 12:].any()


def test_nets_and_sensitivity_on_a_tiny_run():
    for head in ("gap", "flatten"):
        net = exp.make_net(head)
        assert net(torch.zeros(2, 1, 16, 16)).shape == (2, 10)
    with pytest.raises(ValueError, match="head"):
        exp.make_net("max")
    rng = np.random.default_rng(0)
    x = rng.random((40, 1, 16, 16)).astype(np.float32)
    data = Split(x[:32], rng.integers(0, 10, 32), x[32:], rng.integers(0, 10, 8))
    runs = exp.train_shift_nets(data, epochs=1)
    assert set(runs) == {"gap", "flatten"}
    sens = exp.shift_sensitivity(runs["gap"][0], data.x_test, data.y_test, shifts=(0, 2))
    assert sens[0]["change"] == 0 and sens[0]["flipped"] == 0
    assert sens[2]["change"] > 0 and 0 <= sens[2]["accuracy"] <= 100
