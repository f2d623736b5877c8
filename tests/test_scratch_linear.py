"""The linear layer from scratch against torch.nn.functional.linear, forward and backward."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import assert_close, torch_forward_backward
from hypothesis import given
from hypothesis import strategies as st

from dlbook.scratch.gradcheck import gradcheck
from dlbook.scratch.linear import linear, linear_backward, linear_backward_naive, linear_naive


@st.composite
def linear_cases(draw):
    """Any number of leading dimensions (none, for one sample), empty sizes included."""
    lead = tuple(draw(st.lists(st.integers(0, 3), max_size=3)))
    in_features, out_features = draw(st.integers(0, 4)), draw(st.integers(0, 4))
    r = np.random.default_rng(draw(st.integers(0, 2**16)))
    x = r.standard_normal(lead + (in_features,))
    w = r.standard_normal((out_features, in_features))
    b = r.standard_normal(out_features) if draw(st.booleans()) else None
    return x, w, b


@given(linear_cases())
def test_linear_matches_torch_forward_and_backward(case):
    out, g, grads = torch_forward_backward(F.linear, case)
    assert_close(linear(*case), out)
    for ours, theirs in zip(linear_backward(g, *case), grads):
        assert_close(ours, theirs)


@given(linear_cases())
def test_naive_equals_vectorized(case):
    y = linear(*case)
    assert_close(linear_naive(*case), y, tol=1e-12)
    g = np.random.default_rng(1).standard_normal(y.shape)
    for a, b in zip(linear_backward_naive(g, *case), linear_backward(g, *case)):
        assert_close(a, b, tol=1e-12)


@pytest.mark.parametrize("with_bias", [True, False])
def test_gradcheck(with_bias, rng):
    x, w = rng.standard_normal((2, 3, 4)), rng.standard_normal((5, 4))
    b = rng.standard_normal(5) if with_bias else None
    result = gradcheck(linear, linear_backward, (x, w, b), tol=1e-7)
    assert set(result.errors) == {"input", "weight"} | ({"bias"} if with_bias else set())
    assert result.ok, result.errors


@pytest.mark.parametrize("fn", [linear, linear_naive])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_preserved(fn, dtype, rng):
    x, w, b = (rng.standard_normal(s).astype(dtype) for s in [(6, 3), (2, 3), (2,)])
    y = fn(x, w, b)
    assert y.dtype == dtype
    assert all(g.dtype == dtype for g in linear_backward(np.ones_like(y), x, w, b))
    ref = F.linear(*map(torch.from_numpy, (x, w, b))).numpy()
    assert_close(y, ref, tol=1e-5 if dtype == np.float32 else 1e-10)


def test_does_not_modify_its_inputs(rng):
    x, w, b = rng.standard_normal((4, 3)), rng.standard_normal((2, 3)), rng.standard_normal(2)
    copies = [a.copy() for a in (x, w, b)]
    linear_backward(np.ones((4, 2)), x, w, b)
    linear(x, w, b)
    for a, c in zip((x, w, b), copies):
        np.testing.assert_array_equal(a, c)


X, W = np.zeros((4, 3)), np.zeros((2, 3))


@pytest.mark.parametrize("fn", [linear, linear_naive])
@pytest.mark.parametrize(
    "kwargs,error,words",
    [
        (dict(weight=np.zeros((2, 5))), ValueError, "weight"),
        (dict(weight=np.zeros(3)), ValueError, "weight"),
        (dict(weight=np.zeros((2, 3, 1))), ValueError, "weight"),
        (dict(bias=np.zeros(3)), ValueError, "bias"),
        (dict(bias=np.zeros((2, 1))), ValueError, "bias"),
        (dict(input=np.array(1.0)), ValueError, "input"),
        (dict(input=X.astype(int)), TypeError, "input"),
        (dict(input=X.tolist()), TypeError, "input"),
        (dict(weight=W.astype(np.float32)), TypeError, "weight"),
        (dict(bias=np.zeros(2, np.float32)), TypeError, "bias"),
    ],
)
def test_bad_arguments_raise(fn, kwargs, error, words):
    with pytest.raises(error, match=words):
        fn(**(dict(input=X, weight=W, bias=None) | kwargs))


@pytest.mark.parametrize("backward", [linear_backward, linear_backward_naive])
def test_backward_checks_grad_output(backward):
    with pytest.raises(ValueError, match="grad_output"):
        backward(np.zeros((4, 3)), X, W)
    with pytest.raises(TypeError, match="grad_output"):
        backward(np.zeros((4, 2), np.float32), X, W)
