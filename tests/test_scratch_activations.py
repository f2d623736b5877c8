"""Activations from scratch against torch, forward and backward, kinks and overflow included."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import assert_close, torch_forward_backward
from hypothesis import given
from hypothesis import strategies as st

from dlbook.scratch.activations import (
    elu,
    elu_backward,
    gelu,
    gelu_backward,
    leaky_relu,
    leaky_relu_backward,
    log_softmax,
    log_softmax_backward,
    logsumexp,
    logsumexp_backward,
    relu,
    relu_backward,
    sigmoid,
    sigmoid_backward,
    silu,
    silu_backward,
    softmax,
    softmax_backward,
    softmax_naive,
    tanh,
    tanh_backward,
)
from dlbook.scratch.gradcheck import gradcheck

# name: (ours, our backward, torch's, the keyword a drawn parameter goes to)
ELEMENTWISE = {
    "relu": (relu, relu_backward, F.relu, None),
    "sigmoid": (sigmoid, sigmoid_backward, torch.sigmoid, None),
    "tanh": (tanh, tanh_backward, torch.tanh, None),
    "leaky_relu": (leaky_relu, leaky_relu_backward, F.leaky_relu, "negative_slope"),
    "elu": (elu, elu_backward, F.elu, "alpha"),
    "gelu": (gelu, gelu_backward, F.gelu, None),
    "gelu_tanh": (gelu, gelu_backward, lambda x: F.gelu(x, approximate="tanh"), None),
    "silu": (silu, silu_backward, F.silu, None),
}
ALONG_DIM = {
    "softmax": (softmax, softmax_backward, F.softmax),
    "log_softmax": (log_softmax, log_softmax_backward, F.log_softmax),
}


def _kwargs(name, param):
    key = ELEMENTWISE[name][3]
    extra = {"approximate": "tanh"} if name == "gelu_tanh" else {}
    return extra | ({} if key is None else {key: param})


@st.composite
def arrays(draw, min_dims=0):
    """Any shape (empty and 0-D included), any scale, with exact zeros to land on the kinks."""
    shape = tuple(draw(st.lists(st.integers(0, 4), min_size=min_dims, max_size=4)))
    scale = draw(st.sampled_from([1e-3, 1.0, 10.0, 100.0]))
    r = np.random.default_rng(draw(st.integers(0, 2**16)))
    return np.where(r.random(shape) < 0.2, 0.0, r.standard_normal(shape) * scale)


@pytest.mark.parametrize("name", ELEMENTWISE)
@given(x=arrays(), param=st.floats(0.0, 3.0))
def test_elementwise_matches_torch(name, x, param):
    ours, ours_backward, theirs, _ = ELEMENTWISE[name]
    kw = _kwargs(name, param)
    out, g, (grad,) = torch_forward_backward(
        lambda t: theirs(t, **{k: v for k, v in kw.items() if k != "approximate"}), [x]
    )
    assert_close(ours(x, **kw), out)
    assert_close(ours_backward(g, x, **kw), grad)


@pytest.mark.parametrize("name", ALONG_DIM)
@given(data=st.data())
def test_softmax_family_matches_torch(name, data):
    x = data.draw(arrays())
    n = max(x.ndim, 1)
    dim = data.draw(st.integers(-n, n - 1))
    ours, ours_backward, theirs = ALONG_DIM[name]
    out, g, (grad,) = torch_forward_backward(theirs, [x], dim=dim)
    assert_close(ours(x, dim), out)
    assert_close(ours_backward(g, x, dim), grad)


@given(data=st.data())
def test_logsumexp_matches_torch(data):
    x = data.draw(arrays(min_dims=1))
    dims = data.draw(st.lists(st.integers(-x.ndim, x.ndim - 1), min_size=1, max_size=x.ndim))
    dims = tuple({d % x.ndim: d for d in dims}.values())  # distinct axes
    dim = dims[0] if len(dims) == 1 and data.draw(st.booleans()) else dims
    keepdim = data.draw(st.booleans())
    out, g, (grad,) = torch_forward_backward(torch.logsumexp, [x], dim=dim, keepdim=keepdim)
    assert_close(logsumexp(x, dim, keepdim), out)
    assert_close(logsumexp_backward(g, x, dim, keepdim), grad)


def test_logsumexp_of_a_masked_row_is_minus_infinity():
    x = np.array([[-np.inf, -np.inf], [0.0, -np.inf]])
    np.testing.assert_array_equal(logsumexp(x, 1), [-np.inf, 0.0])


def test_kinks_follow_torch():
    zero, one = np.zeros(1), np.ones(1)
    assert relu_backward(one, zero)[0] == 0.0
    assert leaky_relu_backward(one, zero, 0.2)[0] == pytest.approx(0.2)
    assert elu_backward(one, zero, 1.5)[0] == pytest.approx(1.5)


GRADCHECKS = [(f, b, _kwargs(name, 0.3)) for name, (f, b, _, _) in ELEMENTWISE.items()] + [
    (softmax, softmax_backward, dict(dim=1)),
    (log_softmax, log_softmax_backward, dict(dim=0)),
    (logsumexp, logsumexp_backward, dict(dim=(0, 2), keepdim=False)),
]


@pytest.mark.parametrize(
    "forward,backward,kw", GRADCHECKS, ids=lambda v: getattr(v, "__name__", "")
)
def test_gradcheck(forward, backward, kw, rng):
    # Away from 0, so that no finite difference straddles a kink.
    x = rng.uniform(0.1, 2.0, (3, 4, 2)) * rng.choice([-1.0, 1.0], (3, 4, 2))
    result = gradcheck(forward, backward, (x,), kw, tol=1e-7)
    assert result.ok, result.errors


EXTREMES = np.array([[-800.0, 0.0, 800.0], [800.0, 800.0, -800.0], [-800.0, -800.0, -799.0]])


@pytest.mark.parametrize(
    "ours,ours_backward,theirs,kw",
    [(sigmoid, sigmoid_backward, torch.sigmoid, {}), (silu, silu_backward, F.silu, {})]
    + [(elu, elu_backward, F.elu, {}), (gelu, gelu_backward, F.gelu, {})]
    + [(f, b, t, dict(dim=1)) for f, b, t in ALONG_DIM.values()]
    + [(logsumexp, logsumexp_backward, torch.logsumexp, dict(dim=1))],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_stable_at_plus_minus_800(ours, ours_backward, theirs, kw):
    out, g, (grad,) = torch_forward_backward(theirs, [EXTREMES], **kw)
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        y, gx = ours(EXTREMES, **kw), ours_backward(g, EXTREMES, **kw)
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(gx))
    assert_close(y, out)
    assert_close(gx, grad)


def test_softmax_naive_overflows_where_softmax_does_not():
    x = np.array([1.0, 2.0, 3.0])
    assert_close(softmax_naive(x, 0), softmax(x, 0), tol=1e-15)
    with pytest.warns(RuntimeWarning) as record:
        y = softmax_naive(EXTREMES, 1)
    assert any("overflow" in str(w.message) for w in record)
    assert np.isnan(y).any()
    # float32 overflows much sooner: e^89 is past its largest value.
    with pytest.warns(RuntimeWarning):
        assert np.isnan(softmax_naive(np.array([89.0, 0.0], np.float32), 0)).any()
    assert_close(softmax(EXTREMES, 1)[0], np.array([0.0, 0.0, 1.0]))


ALL = [(f, b, t, _kwargs(n, 0.3)) for n, (f, b, t, _) in ELEMENTWISE.items() if n != "gelu_tanh"]
ALL += [(f, b, t, dict(dim=-1)) for f, b, t in ALONG_DIM.values()]
ALL += [(logsumexp, logsumexp_backward, torch.logsumexp, dict(dim=-1))]


@pytest.mark.parametrize(
    "ours,ours_backward,theirs,kw", ALL, ids=lambda v: getattr(v, "__name__", "")
)
def test_float32_is_preserved(ours, ours_backward, theirs, kw, rng):
    x = rng.standard_normal((4, 5)).astype(np.float32)
    y = ours(x, **kw)
    gx = ours_backward(np.ones_like(y), x, **kw)
    assert y.dtype == np.float32 and gx.dtype == np.float32
    assert_close(y, theirs(torch.from_numpy(x), **kw).numpy(), tol=1e-5)


X = np.zeros((2, 3))


@pytest.mark.parametrize(
    "call,error,words",
    [
        (lambda: relu([1.0, 2.0]), TypeError, "input"),
        (lambda: sigmoid(np.arange(3)), TypeError, "input"),
        (lambda: softmax(X, 2), ValueError, "dim"),
        (lambda: log_softmax(X, -3), ValueError, "dim"),
        (lambda: softmax(X, 1.0), TypeError, "dim"),
        (lambda: softmax(X, True), TypeError, "dim"),
        (lambda: softmax(X, None), TypeError, "dim"),
        (lambda: softmax(X), TypeError, "dim"),
        (lambda: logsumexp(X, (0, -2)), ValueError, "dim"),
        (lambda: leaky_relu(X, "0.1"), TypeError, "negative_slope"),
        (lambda: elu(X, None), TypeError, "alpha"),
        (lambda: gelu(X, "erf"), ValueError, "approximate"),
        (lambda: relu_backward(np.zeros((3, 2)), X), ValueError, "grad_output"),
        (lambda: tanh_backward(X.astype(np.float32), X), TypeError, "grad_output"),
        (lambda: softmax_backward(np.zeros(3), X, 1), ValueError, "grad_output"),
        (lambda: logsumexp_backward(np.zeros(3), X, 1), ValueError, "grad_output"),
    ],
)
def test_bad_arguments_raise(call, error, words):
    with pytest.raises(error, match=words):
        call()
