"""Every forward function of activations, linear, dropout, pool and norm has torch's argument
names, order and defaults, read from torch itself; each backward takes its forward's arguments
after ``grad_output``. The few departures are listed here, each with its reason. Also: the
``inplace`` and ``dtype`` arguments that the activations take from torch, against torch."""

import inspect

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import assert_close, torch_forward_backward

import dlbook.scratch as S


def _from_doc(fn):
    """A builtin's signature from the first line of its docstring, ``name(args) -> Tensor``."""
    line = fn.__doc__.strip().splitlines()[0]
    args = line[line.index("(") + 1 : line.rindex(")")]
    return inspect.signature(eval(f"lambda {args}: None"))  # noqa: S307 (torch's own text)


def _params(sig, drop=()):
    return [
        (p.name, p.default)
        for p in sig.parameters.values()
        if p.name not in drop and p.kind is not p.VAR_KEYWORD
    ]


def _sig(fn):
    try:
        return inspect.signature(fn)
    except ValueError:
        return _from_doc(fn)


# ours: (torch's, torch's arguments we leave out, on purpose)
MIRRORS = {
    S.relu: (F.relu, ()),
    S.leaky_relu: (F.leaky_relu, ()),
    S.elu: (F.elu, ()),
    S.gelu: (F.gelu, ()),
    S.silu: (F.silu, ()),
    # torch's _stacklevel is private; its dim=None (an implicit, deprecated dim) is left out:
    # dim is required here, as API.md says.
    S.softmax: (F.softmax, ("_stacklevel", "dim")),
    S.log_softmax: (F.log_softmax, ("_stacklevel", "dim")),
    S.softmax_naive: (F.softmax, ("_stacklevel", "dim")),
    S.logsumexp: (torch.logsumexp, ("out",)),  # NumPy returns a new array
    S.linear: (F.linear, ()),
    S.linear_naive: (F.linear, ()),
    S.max_pool2d: (F._max_pool2d, ()),
    S.max_pool2d_naive: (F._max_pool2d, ()),
    S.avg_pool2d: (F.avg_pool2d, ()),
    S.avg_pool2d_naive: (F.avg_pool2d, ()),
    S.batch_norm: (F.batch_norm, ()),
    S.batch_norm_naive: (F.batch_norm, ()),
    S.layer_norm: (F.layer_norm, ()),
    S.layer_norm_naive: (F.layer_norm, ()),
}


@pytest.mark.parametrize("ours", list(MIRRORS), ids=lambda f: f.__name__)
def test_forward_signature_is_torchs(ours):
    theirs, left_out = MIRRORS[ours]
    mine = _params(inspect.signature(ours), drop=left_out)
    assert mine == _params(_sig(theirs), drop=left_out)


def test_dropout_signature_is_apis_and_takes_torchs_calls():
    """API.md's dropout(input, p, training, rng), with torch's inplace after it; torch's
    positional calls work too (a bool 4th is torch's inplace)."""
    mine = _params(inspect.signature(S.dropout))
    theirs = _params(inspect.signature(F.dropout))
    assert mine == theirs[:3] + [("rng", None)] + theirs[3:]
    x = np.random.default_rng(0).standard_normal((4, 5))
    by_api = S.dropout(x, 0.3, True, np.random.default_rng(7))
    np.testing.assert_array_equal(by_api, S.dropout(x, 0.3, True, False, np.random.default_rng(7)))
    np.testing.assert_array_equal(by_api, S.dropout(x, 0.3, True, rng=np.random.default_rng(7)))
    with pytest.raises(TypeError, match="inplace"):
        S.dropout(x, 0.3, True, np.random.default_rng(7), "yes")


BACKWARDS = [f for f in list(MIRRORS) + [S.dropout] if not f.__name__.endswith("_naive")]
BACKWARDS += [S.sigmoid, S.tanh, S.global_avg_pool2d, S.max_pool2d_naive, S.avg_pool2d_naive]


@pytest.mark.parametrize("forward", BACKWARDS, ids=lambda f: f.__name__)
def test_backward_takes_the_forwards_arguments(forward):
    name = forward.__name__.removesuffix("_naive") + "_backward"
    name += "_naive" if forward.__name__.endswith("_naive") else ""
    backward = getattr(S, name)
    fwd = _params(inspect.signature(forward))
    bwd = _params(inspect.signature(backward))
    assert bwd == [("grad_output", inspect._empty)] + fwd


@pytest.mark.parametrize(
    "ours, backward, theirs, args",
    [
        (S.relu, S.relu_backward, F.relu, ()),
        (S.leaky_relu, S.leaky_relu_backward, F.leaky_relu, (0.2,)),
        (S.elu, S.elu_backward, F.elu, (0.7,)),
        (S.silu, S.silu_backward, F.silu, ()),
    ],
)
def test_inplace_writes_into_the_input_as_torch_does(ours, backward, theirs, args, rng):
    x = rng.standard_normal((3, 4))
    out, g, (gx,) = torch_forward_backward(lambda t: theirs(t, *args), (x,))
    original = x.copy()
    assert ours(original.copy(), *args, False) is not None
    y = ours(x, *args, True)
    assert y is x
    assert_close(x, out)
    assert_close(backward(g, original, *args, True), gx)
    copy = original.copy()
    ours(copy, *args)
    np.testing.assert_array_equal(copy, original)  # not in place by default


@pytest.mark.parametrize(
    "ours, backward, theirs",
    [
        (S.softmax, S.softmax_backward, F.softmax),
        (S.log_softmax, S.log_softmax_backward, F.log_softmax),
        (S.softmax_naive, S.softmax_backward, F.softmax),
    ],
)
@pytest.mark.parametrize(
    "dtype, torch_dtype", [(np.float64, torch.float64), (np.float32, torch.float32)]
)
def test_softmax_dtype_casts_first_as_torch_does(ours, backward, theirs, dtype, torch_dtype, rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    xt = torch.tensor(x, requires_grad=True)
    out = theirs(xt, 1, dtype=torch_dtype)
    g = rng.standard_normal(out.shape).astype(dtype)
    out.backward(torch.from_numpy(g))
    y = ours(x, 1, dtype=dtype)
    assert y.dtype == dtype
    assert_close(y, out.detach().numpy(), 1e-6)
    if ours is not S.softmax_naive:
        gx = backward(g, x, 1, dtype=dtype)
        assert gx.dtype == np.float32  # the gradient of the cast is in the input's dtype
        assert_close(gx, xt.grad.numpy(), 1e-6)
    with pytest.raises(TypeError, match="dtype"):
        ours(x, 1, dtype=np.int64)


def test_dropout_inplace_multiplies_the_input_by_the_mask():
    x = np.random.default_rng(0).standard_normal((4, 5))
    expected = S.dropout(x, 0.3, True, rng=np.random.default_rng(7))
    y = S.dropout(x, 0.3, True, True, np.random.default_rng(7))
    assert y is x
    np.testing.assert_array_equal(x, expected)
    z = np.ones(3)
    assert S.dropout(z, 0.3, False, True) is z  # evaluation mode: the input itself
