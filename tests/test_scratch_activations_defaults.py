"""Activations and linear against torch with every optional argument left at its default, in
float64 and float32, forward and backward (naive versions included)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import assert_close, torch_forward_backward

from dlbook.scratch import activations as A
from dlbook.scratch.linear import linear, linear_backward, linear_backward_naive, linear_naive

TOL = {np.float64: 1e-10, np.float32: 1e-5}

# (ours, our backward, torch's, positional arguments after the input): no keyword anywhere, so
# negative_slope, alpha, approximate and keepdim all keep their defaults on both sides.
CASES = [
    (A.relu, A.relu_backward, F.relu, ()),
    (A.sigmoid, A.sigmoid_backward, torch.sigmoid, ()),
    (A.tanh, A.tanh_backward, torch.tanh, ()),
    (A.leaky_relu, A.leaky_relu_backward, F.leaky_relu, ()),
    (A.elu, A.elu_backward, F.elu, ()),
    (A.gelu, A.gelu_backward, F.gelu, ()),
    (A.silu, A.silu_backward, F.silu, ()),
    (A.softmax, A.softmax_backward, F.softmax, (1,)),
    (A.softmax_naive, A.softmax_backward, F.softmax, (1,)),
    (A.log_softmax, A.log_softmax_backward, F.log_softmax, (0,)),
    (A.logsumexp, A.logsumexp_backward, torch.logsumexp, (1,)),
    (A.logsumexp, A.logsumexp_backward, torch.logsumexp, ((0, 1),)),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 4)])
@pytest.mark.parametrize(
    "ours, backward, theirs, args", CASES, ids=lambda v: getattr(v, "__name__", "")
)
def test_defaults_follow_torch(ours, backward, theirs, args, shape, dtype, rng):
    # Values spread over [-4, 4]: a negative slope, alpha or approximation other than the default
    # changes the result by far more than the tolerance.
    x = (rng.standard_normal(shape) * 2).astype(dtype)
    out, g, (gx,) = torch_forward_backward(lambda t: theirs(t, *args), (x,))
    y = ours(x, *args)
    assert y.dtype == dtype
    assert_close(y, out, TOL[dtype])
    grad = backward(g, x, *args)
    assert grad.dtype == dtype
    assert_close(grad, gx, TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(4,), (3, 4), (2, 3, 4)])  # one sample (unbatched) included
def test_linear_without_bias_by_default_follows_torch(shape, dtype, rng):
    x = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal((5, shape[-1])).astype(dtype)
    out, g, (gx, gw) = torch_forward_backward(F.linear, (x, w))
    for fn in (linear, linear_naive):
        y = fn(x, w)
        assert y.dtype == dtype
        assert_close(y, out, TOL[dtype])
    for fn in (linear_backward, linear_backward_naive):
        ours = fn(g, x, w)
        assert ours[2] is None
        for a, t in zip(ours[:2], (gx, gw)):
            assert a.dtype == dtype
            assert_close(a, t, TOL[dtype] * 10)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_linear_with_bias_keeps_float32_in_every_version(dtype, rng):
    x, w, b = (rng.standard_normal(s).astype(dtype) for s in [(3, 4), (2, 4), (2,)])
    out, g, grads = torch_forward_backward(F.linear, (x, w, b))
    assert_close(linear_naive(x, w, b), out, TOL[dtype])
    for a, t in zip(linear_backward_naive(g, x, w, b), grads):
        assert a.dtype == dtype
        assert_close(a, t, TOL[dtype] * 10)
