"""batch_norm and layer_norm from scratch against torch, forward, backward and running statistics;
the BatchNorm1d/BatchNorm2d/LayerNorm layers against torch.nn's."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import assert_close, torch_forward_backward
from hypothesis import assume, given
from hypothesis import strategies as st

from dlbook.scratch import layers as L
from dlbook.scratch.gradcheck import gradcheck
from dlbook.scratch.norm import (
    batch_norm,
    batch_norm_backward,
    batch_norm_naive,
    layer_norm,
    layer_norm_backward,
    layer_norm_naive,
)

T = torch.from_numpy


@st.composite
def bn_cases(draw):
    """An (N, C), (N, C, L) or (N, C, H, W) input, its running statistics (or None in training
    mode), an optional weight and bias, and the mode, momentum and eps."""
    c = draw(st.integers(1, 4))
    shape = (draw(st.integers(1, 4)), c) + tuple(draw(st.lists(st.integers(1, 4), max_size=2)))
    training = draw(st.booleans())
    assume(not training or np.prod(shape) // c > 1)  # one value per channel is an error
    r = np.random.default_rng(draw(st.integers(0, 2**16)))
    x = r.standard_normal(shape) * r.uniform(0.5, 3) + r.uniform(-2, 2)
    stats = (r.standard_normal(c), r.uniform(0.2, 3, c))
    if training and draw(st.booleans()):
        stats = (None, None)
    w = r.standard_normal(c) if draw(st.booleans()) else None
    b = r.standard_normal(c) if draw(st.booleans()) else None
    kw = dict(
        training=training,
        momentum=draw(st.one_of(st.sampled_from([0.0, 0.1, 1.0]), st.floats(0, 1))),
        eps=draw(st.one_of(st.sampled_from([1e-5, 1e-3, 0.5]), st.floats(1e-6, 1))),
    )
    return (x, *stats, w, b), kw


def torch_batch_norm(arrays, g, **kw):
    """F.batch_norm on copies: returns the output, the running statistics after the call and the
    gradients (input, weight, bias) of sum(output * g)."""
    x, rm, rv, w, b = arrays
    xt, wt, bt = (None if a is None else torch.tensor(a, requires_grad=True) for a in (x, w, b))
    rmt, rvt = (None if a is None else torch.tensor(a) for a in (rm, rv))
    out = F.batch_norm(xt, rmt, rvt, wt, bt, **kw)
    out.backward(T(g))
    grads = tuple(None if t is None else t.grad.numpy() for t in (xt, wt, bt))
    stats = tuple(None if t is None else t.numpy() for t in (rmt, rvt))
    return out.detach().numpy(), stats, grads


def copies(arrays):
    return [None if a is None else a.copy() for a in arrays]


@given(bn_cases())
def test_batch_norm_matches_torch_with_running_statistics(case):
    arrays, kw = case
    g = np.random.default_rng(1).standard_normal(arrays[0].shape)
    out_t, stats_t, grads_t = torch_batch_norm(copies(arrays), g, **kw)
    ours = copies(arrays)
    assert_close(batch_norm(*ours, **kw), out_t)
    assert_close(ours[1], stats_t[0])  # updated in place, exactly as torch does
    assert_close(ours[2], stats_t[1])
    before = copies(ours)
    for a, t in zip(batch_norm_backward(g, *ours, **kw), grads_t):
        assert_close(a, t)
    for a, c in zip(ours, before):  # the backward never touches anything, running stats included
        assert_close(a, c, tol=0)


@given(bn_cases())
def test_batch_norm_naive_equals_vectorized(case):
    arrays, kw = case
    fast, slow = copies(arrays), copies(arrays)
    assert_close(batch_norm_naive(*slow, **kw), batch_norm(*fast, **kw), tol=1e-12)
    for a, b in zip(slow, fast):
        assert_close(a, b, tol=1e-12)


@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5), (2, 3, 4, 4)])
def test_consecutive_training_steps_then_eval_follow_torch(shape, rng):
    rm, rv, w, b = np.zeros(3), np.ones(3), rng.standard_normal(3), rng.standard_normal(3)
    rmt, rvt = T(rm.copy()), T(rv.copy())
    for step in range(6):
        x = rng.standard_normal(shape) * (step + 1) + step  # statistics that move every step
        y = batch_norm(x, rm, rv, w, b, training=True, momentum=0.3, eps=1e-4)
        yt = F.batch_norm(T(x), rmt, rvt, T(w), T(b), training=True, momentum=0.3, eps=1e-4)
        assert_close(y, yt.numpy())
        assert_close(rm, rmt.numpy())
        assert_close(rv, rvt.numpy())
    x = rng.standard_normal(shape)
    y = batch_norm(x, rm, rv, w, b, eps=1e-4)
    assert_close(y, F.batch_norm(T(x), rmt, rvt, T(w), T(b), eps=1e-4).numpy())
    # The running variance is the unbiased one: after one step with momentum 1 it is var(ddof=1).
    x = rng.standard_normal(shape)
    batch_norm(x, rm, rv, training=True, momentum=1.0)
    axes = (0,) + tuple(range(2, len(shape)))
    assert_close(rv, x.var(axis=axes, ddof=1), tol=1e-12)
    assert_close(rm, x.mean(axis=axes), tol=1e-12)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(5, 3), (3, 2, 4), (2, 3, 3, 2)])
def test_batch_norm_gradcheck(training, shape, rng):
    c = shape[1]
    x = rng.standard_normal(shape)
    stats = (rng.standard_normal(c), rng.uniform(0.5, 2, c))
    args = (x, *stats, rng.standard_normal(c), rng.standard_normal(c))
    kw = dict(training=training, eps=1e-3)
    result = gradcheck(batch_norm, batch_norm_backward, args, kw, differentiable=[0, 3, 4])
    assert set(result.errors) == {"input", "weight", "bias"}
    assert result.ok, result.errors


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_dtype_is_preserved(dtype, training, rng):
    x = rng.standard_normal((4, 3, 5, 5)).astype(dtype)
    rm, rv, w, b = (np.full(3, v, dtype) for v in (0.5, 2.0, 1.5, -1.0))
    rmt, rvt = T(rm.copy()), T(rv.copy())
    # NumPy float64 scalars for momentum and eps must not upcast a float32 input.
    y = batch_norm(x, rm, rv, w, b, training, np.float64(0.1), np.float64(1e-5))
    assert y.dtype == rm.dtype == rv.dtype == dtype
    assert all(g.dtype == dtype for g in batch_norm_backward(np.ones_like(y), x, rm, rv, w, b))
    yt = F.batch_norm(T(x), rmt, rvt, T(w), T(b), training)
    tol = 1e-5 if dtype == np.float32 else 1e-10
    assert_close(y, yt.numpy(), tol)
    assert_close(rv, rvt.numpy(), tol)


@pytest.mark.parametrize("shape", [(1, 3), (1, 3, 1), (1, 3, 1, 1)])
def test_one_value_per_channel_is_an_error_in_training_only(shape):
    x = np.ones(shape)
    with pytest.raises(ValueError, match="input: expected more than 1 value per channel"):
        batch_norm(x, np.zeros(3), np.ones(3), training=True)
    with pytest.raises(ValueError, match="input"):
        batch_norm_backward(x, x, None, None, training=True)
    with pytest.raises(ValueError, match="more than 1 value"):
        (L.BatchNorm1d if len(shape) < 4 else L.BatchNorm2d)(3, dtype=np.float64)(x)
    assert_close(batch_norm(x, np.zeros(3), np.ones(3)), x / np.sqrt(1 + 1e-5))  # eval is fine


def test_empty_batch_is_left_alone_as_in_torch():
    rm, rv = np.zeros(3), np.ones(3)
    y = batch_norm(np.ones((0, 3)), rm, rv, training=True)
    assert y.shape == (0, 3)
    assert (rm == 0).all() and (rv == 1).all()


def test_batch_norm_errors_name_the_argument():
    x, v = np.ones((4, 3)), np.ones(3)
    cases = [
        (ValueError, "running_mean must have shape", (x, np.ones(4), v), {}),
        (ValueError, "running_var must have shape", (x, v, np.ones(2)), {}),
        (ValueError, "weight must have shape", (x, v, v, np.ones(4)), {}),
        (ValueError, "bias must have shape", (x, v, v, v, np.ones((3, 1))), {}),
        (ValueError, "running_mean and running_var", (x, v, None), dict(training=True)),
        (ValueError, "evaluation mode", (x, None, None), {}),
        (ValueError, "input must be", (np.ones(3), v, v), {}),
        (ValueError, "eps", (x, v, v), dict(training=True, eps=0.0)),
        (ValueError, "eps", (x, v, v), dict(eps=-1e-5)),
        (TypeError, "momentum", (x, v, v), dict(training=True, momentum=None)),
        (TypeError, "running_var has dtype", (x, v, v.astype(np.float32)), {}),
        (TypeError, "input", ([[1.0, 2.0]], v, v), {}),
    ]
    for error, message, args, kw in cases:
        with pytest.raises(error, match=message):
            batch_norm(*args, **kw)
    frozen = np.ones(3)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="running_var must be writeable"):
        batch_norm(x, v.copy(), frozen, training=True)
    batch_norm(x, v, frozen)  # evaluation mode only reads it
    with pytest.raises(ValueError, match="grad_output"):
        batch_norm_backward(np.ones((4, 2)), x, v, v)


# --- layer norm --------------------------------------------------------------------------------


@st.composite
def ln_cases(draw):
    lead = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    r = np.random.default_rng(draw(st.integers(0, 2**16)))
    x = r.standard_normal(lead + shape) * r.uniform(0.5, 3) + r.uniform(-2, 2)
    w = r.standard_normal(shape) if draw(st.booleans()) else None
    b = r.standard_normal(shape) if draw(st.booleans()) else None
    eps = draw(st.one_of(st.sampled_from([1e-5, 0.5]), st.floats(1e-6, 1)))
    return (x, w, b), dict(normalized_shape=shape, eps=eps)


@given(ln_cases())
def test_layer_norm_matches_torch_forward_and_backward(case):
    (x, w, b), kw = case
    fn = lambda x, w, b, **kw: F.layer_norm(x, weight=w, bias=b, **kw)  # noqa: E731
    out, g, grads = torch_forward_backward(fn, (x, w, b), **kw)
    assert_close(layer_norm(x, weight=w, bias=b, **kw), out)
    assert_close(layer_norm_naive(x, weight=w, bias=b, **kw), out)
    for ours, theirs in zip(layer_norm_backward(g, x, weight=w, bias=b, **kw), grads):
        assert_close(ours, theirs)


@pytest.mark.parametrize("shape, normalized_shape", [((3, 5), 5), ((2, 3, 4), (3, 4)), ((4,), 4)])
def test_layer_norm_gradcheck(shape, normalized_shape, rng):
    ns = (normalized_shape,) if isinstance(normalized_shape, int) else normalized_shape
    args = (rng.standard_normal(shape), normalized_shape, rng.standard_normal(ns), rng.random(ns))
    result = gradcheck(layer_norm, layer_norm_backward, args, differentiable=[0, 2, 3])
    assert set(result.errors) == {"input", "weight", "bias"}
    assert result.ok, result.errors


def test_layer_norm_float32_and_errors(rng):
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    w, b = np.ones((3, 4), np.float32), np.zeros((3, 4), np.float32)
    y = layer_norm(x, (3, 4), w, b, np.float64(1e-5))
    assert y.dtype == np.float32
    assert all(g.dtype == np.float32 for g in layer_norm_backward(y, x, (3, 4), w, b))
    assert_close(y, F.layer_norm(T(x), (3, 4), T(w), T(b)).numpy(), tol=1e-5)
    for error, message, args in [
        (ValueError, "normalized_shape=\\(3,\\)", (x, (3,))),
        (ValueError, "normalized_shape", (x[0, 0], (3, 4))),
        (TypeError, "normalized_shape", (x, ())),
        (TypeError, "normalized_shape", (x, 4.0)),
        (ValueError, "weight must have shape", (x, 4, w)),
        (ValueError, "bias must have shape", (x, 4, None, np.zeros(3, np.float32))),
        (TypeError, "weight has dtype", (x, 4, np.ones(4))),
    ]:
        with pytest.raises(error, match=message):
            layer_norm(*args)


# --- the layers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ours, theirs, shape",
    [
        (L.BatchNorm1d, torch.nn.BatchNorm1d, (6, 3)),
        (L.BatchNorm1d, torch.nn.BatchNorm1d, (4, 3, 5)),
        (L.BatchNorm2d, torch.nn.BatchNorm2d, (3, 3, 4, 4)),
    ],
)
@pytest.mark.parametrize(
    "kw",
    [
        dict(),
        dict(momentum=0.5, eps=1e-3),
        dict(momentum=None),
        dict(affine=False),
        dict(track_running_stats=False),
    ],
)
def test_batch_norm_layers_follow_torch_over_training_then_eval(ours, theirs, shape, kw, rng):
    layer, module = ours(3, dtype=np.float64, **kw), theirs(3, **kw).double()
    if layer.weight is not None:  # start from weights other than ones and zeros
        layer.weight[...], layer.bias[...] = rng.standard_normal(3), rng.standard_normal(3)
        module.weight.data, module.bias.data = T(layer.weight.copy()), T(layer.bias.copy())
    for step in range(8):
        if step == 5:
            layer.eval(), module.eval()
        x = rng.standard_normal(shape) * (step + 1) - step
        xt = torch.tensor(x, requires_grad=True)
        out_t = module(xt)
        y = layer(x)
        assert_close(y, out_t.detach().numpy())
        g = rng.standard_normal(shape)
        out_t.backward(T(g))
        assert_close(layer.backward(g), xt.grad.numpy())
        assert len(layer.grads) == len(list(module.parameters()))
        for a, p in zip(layer.grads, module.parameters()):
            assert_close(a, p.grad.numpy())
            p.grad = None
        if layer.track_running_stats:
            assert_close(layer.running_mean, module.running_mean.numpy())
            assert_close(layer.running_var, module.running_var.numpy())
            assert layer.num_batches_tracked == module.num_batches_tracked.item()
        else:
            assert layer.running_mean is None and module.running_mean is None


def test_batch_norm_layers_check_dimensions_and_keep_float32(rng):
    with pytest.raises(ValueError, match="input must be 2-D or 3-D"):
        L.BatchNorm1d(3)(np.ones((2, 3, 4, 4), np.float32))
    with pytest.raises(ValueError, match="input must be 4-D"):
        L.BatchNorm2d(3)(np.ones((2, 3, 4), np.float32))
    layer = L.BatchNorm2d(3)
    with pytest.raises(ValueError, match="input"):
        layer(np.ones((1, 3, 1, 1), np.float32))
    assert layer.num_batches_tracked == 0  # a failed forward changes nothing
    y = layer(rng.standard_normal((2, 3, 4, 4)).astype(np.float32))
    assert y.dtype == layer.running_var.dtype == np.float32
    assert layer.backward(np.ones_like(y)).dtype == np.float32
    assert [g.dtype for g in layer.grads] == [np.float32, np.float32]
    assert layer.params == [layer.weight, layer.bias] and layer.num_batches_tracked == 1


@pytest.mark.parametrize("kw", [dict(), dict(elementwise_affine=False), dict(bias=False)])
def test_layer_norm_layer_follows_torch(kw, rng):
    layer, module = L.LayerNorm((4, 5), dtype=np.float64, **kw), torch.nn.LayerNorm((4, 5), **kw)
    module = module.double()
    for a, p in zip(layer.params, module.parameters()):
        a[...] = rng.standard_normal(a.shape)
        p.data = T(a.copy())
    x = rng.standard_normal((3, 4, 5))
    xt = torch.tensor(x, requires_grad=True)
    out_t = module(xt)
    assert_close(layer(x), out_t.detach().numpy())
    g = rng.standard_normal(x.shape)
    out_t.backward(T(g))
    assert_close(layer.backward(g), xt.grad.numpy())
    assert len(layer.grads) == len(list(module.parameters()))
    for a, p in zip(layer.grads, module.parameters()):
        assert_close(a, p.grad.numpy())
    assert_close(L.LayerNorm(5, dtype=np.float64)(x), F.layer_norm(T(x), (5,)).numpy())
