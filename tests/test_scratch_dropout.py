"""Inverted dropout from scratch: its expectation (held to torch's), the fraction it drops, the
exact 1/(1-p) scaling, evaluation mode, a backward that reuses the forward's mask, and the layer."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from dlbook.scratch import layers as L
from dlbook.scratch.dropout import dropout, dropout_backward, dropout_mask
from dlbook.scratch.gradcheck import gradcheck

# Statistical checks, made exact rather than approximate with Hoeffding's inequality: the mean of
# K independent draws that each lie in an interval of width R is within R * sqrt(ln(2/d) / (2K))
# of its expectation with probability at least 1 - d. A union bound over M values takes d to d/M.
# With DELTA = 1e-6 a correct dropout fails these tests once in a million seeds, while the bugs
# they are there for (no rescaling, rescaling by 1/p, keeping with probability p) are off by a
# multiple of the bound.
DELTA = 1e-6
K, M = 10_000, 100  # draws per value, values


def hoeffding(width, draws, events=1):
    return width * math.sqrt(math.log(2 * events / DELTA) / (2 * draws))


def values(seed=0):
    r = np.random.default_rng(seed)
    return r.uniform(0.5, 2.0, M) * r.choice([-1.0, 1.0], M)


def assert_unbiased(out, x, p):
    """``out`` is K draws (rows) of dropout of ``x``: each column's mean must be its x."""
    width = np.abs(x) / (1 - p)  # every draw lies between 0 and x / (1 - p)
    error = np.abs(out.mean(axis=0) - x)
    assert (error <= hoeffding(width, K, events=M)).all(), error.max()


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_expectation_is_the_input_as_in_torch(p):
    x = values()
    batch = np.tile(x, (K, 1))  # K independent copies of every value
    assert_unbiased(dropout(batch, p, rng=np.random.default_rng(1)), x, p)
    torch.manual_seed(0)
    assert_unbiased(F.dropout(torch.from_numpy(batch), p).numpy(), x, p)  # the same test holds
    with pytest.raises(AssertionError):  # and it has the power to see a missing rescaling
        assert_unbiased(dropout(batch, p, rng=np.random.default_rng(1)) * (1 - p), x, p)


@pytest.mark.parametrize("p", [0.0, 0.2, 0.5, 0.8, 1.0])
def test_fraction_dropped_is_p(p):
    x = np.tile(values(), (K, 1))
    dropped = np.mean(dropout(x, p, rng=np.random.default_rng(2)) == 0)
    assert abs(dropped - p) <= hoeffding(1.0, x.size)  # each value is dropped or not: width 1
    if p in (0.0, 1.0):
        assert dropped == p


@st.composite
def cases(draw):
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=0, max_size=4)))
    p = draw(st.one_of(st.sampled_from([0.0, 0.5, 1.0]), st.floats(0, 1)))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    seed = draw(st.integers(0, 2**16))
    x = np.random.default_rng(seed).standard_normal(shape).astype(dtype) + dtype(3)  # no zeros
    return x, p, seed


@given(cases())
def test_kept_values_are_scaled_exactly_and_the_backward_reuses_the_mask(case):
    x, p, seed = case
    y = dropout(x, p, rng=np.random.default_rng(seed))
    assert y.dtype == x.dtype and y.shape == x.shape
    kept = y != 0
    scale = x.dtype.type(1 / (1 - p)) if p < 1 else 0
    np.testing.assert_array_equal(y[kept], x[kept] * scale)
    np.testing.assert_allclose(y[kept], x[kept] / (1 - p), rtol=2 * np.finfo(x.dtype).eps)
    g = np.random.default_rng(1).standard_normal(x.shape).astype(x.dtype)
    gx = dropout_backward(g, x, p, rng=np.random.default_rng(seed))
    assert gx.dtype == x.dtype
    np.testing.assert_array_equal(gx, np.where(kept, g * scale, 0))
    mask = dropout_mask(x.shape, p, np.random.default_rng(seed), x.dtype)
    np.testing.assert_array_equal(y, x * mask)


def test_gradcheck_with_the_same_seed():
    x = np.random.default_rng(0).standard_normal((3, 4, 5))

    def forward(input, p):
        return dropout(input, p, rng=np.random.default_rng(7))

    def backward(grad_output, input, p):
        return dropout_backward(grad_output, input, p, rng=np.random.default_rng(7))

    for p in (0.0, 0.3, 0.7):
        result = gradcheck(forward, backward, (x, p))
        assert result.ok and list(result.errors) == ["input"], result.errors


def test_evaluation_mode_is_the_identity_and_draws_nothing():
    x, g = np.arange(6.0).reshape(2, 3), np.ones((2, 3))
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    assert dropout(x, 0.5, training=False, rng=rng) is x  # the same array, as torch returns
    assert dropout_backward(g, x, 0.5, training=False) is g
    assert rng.bit_generator.state == state
    t = torch.from_numpy(x)
    assert F.dropout(t, 0.5, training=False) is t


def test_the_mask_does_not_depend_on_the_dtype():
    a = dropout_mask((50,), 0.4, np.random.default_rng(3), np.float32)
    b = dropout_mask((50,), 0.4, np.random.default_rng(3), np.float64)
    assert a.dtype == np.float32 and b.dtype == np.float64
    np.testing.assert_array_equal(a == 0, b == 0)
    np.testing.assert_array_equal(a, b.astype(np.float32))


def test_edge_cases_and_errors():
    x = np.ones((2, 3), np.float32)
    assert (dropout(x, 0.0) == x).all() and (dropout(x, 1.0) == 0).all()
    assert dropout_backward(x, x, 1.0).dtype == np.float32  # p in {0, 1} needs no rng
    assert (dropout_backward(2 * x, x, 1.0) == 0).all()
    assert (dropout_backward(2 * x, x, 0.0) == 2 * x).all()
    for p in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="p"):
            dropout(x, p)
        with pytest.raises(ValueError, match="p"):
            L.Dropout(p)
    with pytest.raises(TypeError, match="p must be a real number"):
        dropout(x, True)
    with pytest.raises(TypeError, match="rng"):
        dropout(x, rng=0)
    with pytest.raises(TypeError, match="input"):
        dropout([1.0, 2.0])
    with pytest.raises(TypeError, match="dtype"):
        dropout_mask((2,), 0.5, dtype=np.int64)
    with pytest.raises(ValueError, match="rng"):  # the mask is random: without rng it is lost
        dropout_backward(x, x, 0.5)
    with pytest.raises(ValueError, match="grad_output"):
        dropout_backward(np.ones((3, 2), np.float32), x, 0.5, rng=np.random.default_rng(0))


def test_dropout_layer():
    x = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    layer = L.Dropout(0.5, rng=np.random.default_rng(5))
    y = layer(x)
    np.testing.assert_array_equal(y, dropout(x, 0.5, rng=np.random.default_rng(5)))
    g = np.arange(24, dtype=np.float32).reshape(4, 6)
    gx = layer.backward(g)
    assert gx.dtype == np.float32
    np.testing.assert_array_equal(gx, g * layer.mask)
    np.testing.assert_array_equal(gx == 0, (y == 0) | (g == 0))
    assert layer.params == [] and layer.grads == []
    assert not np.array_equal(layer(x) == 0, y == 0)  # a new mask every forward
    net = L.Sequential(L.Linear(6, 3, dtype=np.float32), L.Dropout(0.5)).eval()
    assert not net[1].training
    assert net[1](x) is x and net[1].backward(g) is g
    np.testing.assert_array_equal(net(x), net(x))  # evaluation is deterministic
    with pytest.raises(RuntimeError, match="before forward"):
        L.Dropout().backward(g)
