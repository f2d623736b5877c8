"""batch_norm and layer_norm against torch with their defaults left in place (momentum, eps,
training), eps = 0, float32 for every version; the norm layers' torch arguments (bias, device,
dtype)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import assert_close, torch_forward_backward

from dlbook.scratch import layers as L
from dlbook.scratch.norm import (
    batch_norm,
    batch_norm_backward,
    batch_norm_naive,
    layer_norm,
    layer_norm_backward,
    layer_norm_naive,
)

T = torch.from_numpy
TOL = {np.float64: 1e-10, np.float32: 2e-5}


def _inputs(shape, dtype, rng):
    # A small spread (variance about 1e-4), so that eps = 1e-5 moves the result by several
    # percent: any other default eps would show.
    c = shape[1]
    x = (rng.standard_normal(shape) * 0.01 + 0.3).astype(dtype)
    rm = (rng.standard_normal(c) * 0.01).astype(dtype)
    rv = rng.uniform(1e-5, 1e-4, c).astype(dtype)
    w, b = rng.standard_normal(c).astype(dtype), rng.standard_normal(c).astype(dtype)
    return x, rm, rv, w, b


def _torch_bn(x, rm, rv, w, b, g, *args):
    """F.batch_norm with positional ``args`` only; its output, running stats and gradients."""
    xt = torch.tensor(x, requires_grad=True)
    wt, bt = (None if a is None else torch.tensor(a, requires_grad=True) for a in (w, b))
    rmt, rvt = T(rm.copy()), T(rv.copy())
    out = F.batch_norm(xt, rmt, rvt, wt, bt, *args)
    out.backward(T(g))
    grads = [None if t is None else t.grad.numpy() for t in (xt, wt, bt)]
    return out.detach().numpy(), rmt.numpy(), rvt.numpy(), grads


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 5), (2, 3, 4, 4)])
@pytest.mark.parametrize(
    "affine, args",
    [
        (False, ()),  # weight, bias, training, momentum and eps all default
        (True, ()),  # training, momentum and eps default
        (True, (True,)),  # training mode; momentum and eps default
        (True, (True, 0.3)),  # eps default
        (False, (False, 0.1, 0.0)),  # evaluation mode accepts eps = 0, as torch does
    ],
)
def test_batch_norm_defaults_are_torchs(affine, args, shape, dtype, rng):
    x, rm, rv, w, b = _inputs(shape, dtype, rng)
    if not affine:
        w = b = None
    g = rng.standard_normal(shape).astype(dtype)
    out, rm_t, rv_t, grads = _torch_bn(x, rm, rv, w, b, g, *args)
    tol = TOL[dtype]
    for fn in (batch_norm, batch_norm_naive):
        stats = (rm.copy(), rv.copy())
        y = fn(x, *stats, w, b, *args)
        assert y.dtype == dtype
        assert_close(y, out, tol)
        assert_close(stats[0], rm_t, tol)  # updated in place with the default momentum
        assert_close(stats[1], rv_t, tol * 1e-3)
    for ours, theirs in zip(batch_norm_backward(g, x, rm.copy(), rv.copy(), w, b, *args), grads):
        assert ours is None or ours.dtype == dtype
        assert_close(ours, theirs, tol * 100 if dtype == np.float32 else tol)


def test_batch_norm_eps_zero_in_training_is_refused_as_torch_does():
    x, rm, rv = np.ones((4, 3)), np.zeros(3), np.ones(3)
    with pytest.raises(ValueError, match="eps"):
        F.batch_norm(T(x), T(rm), T(rv), training=True, eps=0.0)
    for fn in (batch_norm, batch_norm_naive):
        with pytest.raises(ValueError, match="eps must be positive"):
            fn(x, rm, rv, training=True, eps=0.0)
    with pytest.raises(ValueError, match="eps must be positive"):
        batch_norm_backward(x, x, rm, rv, training=True, eps=0.0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "shape, normalized_shape", [((3, 5), 5), ((2, 3, 4), (3, 4)), ((6,), (6,))]
)
@pytest.mark.parametrize("affine, args", [(False, ()), (True, ()), (True, (0.0,))])
def test_layer_norm_defaults_and_eps_zero_are_torchs(
    affine, args, shape, normalized_shape, dtype, rng
):
    x = (rng.standard_normal(shape) * 0.01 + 0.5).astype(dtype)
    n_shape = (normalized_shape,) if isinstance(normalized_shape, int) else normalized_shape
    w = rng.standard_normal(n_shape).astype(dtype) if affine else None
    b = rng.standard_normal(n_shape).astype(dtype) if affine else None
    xt = torch.tensor(x, requires_grad=True)
    wt, bt = (None if a is None else torch.tensor(a, requires_grad=True) for a in (w, b))
    out = F.layer_norm(xt, n_shape, wt, bt, *args)
    g = rng.standard_normal(shape).astype(dtype)
    out.backward(T(g))
    tol = TOL[dtype] * (10 if args else 1)  # eps = 0 gives up the guard: allow a bit more
    for fn in (layer_norm, layer_norm_naive):
        y = fn(x, normalized_shape, w, b, *args)
        assert y.dtype == dtype
        assert_close(y, out.detach().numpy(), tol)
    grads = [None if t is None else t.grad.numpy() for t in (xt, wt, bt)]
    for ours, theirs in zip(layer_norm_backward(g, x, normalized_shape, w, b, *args), grads):
        assert ours is None or ours.dtype == dtype
        assert_close(ours, theirs, tol * 100 if dtype == np.float32 else tol)


@pytest.mark.parametrize("eps", [-1e-5, -0.5, -10.0])
def test_layer_norm_takes_a_negative_eps_as_torch_does(eps, rng):
    # torch runs with it: var + eps > 0 gives numbers, var + eps < 0 NaN; so does every version.
    x = rng.standard_normal((3, 4)) * 2
    w, b = rng.standard_normal(4), rng.standard_normal(4)
    out, g, grads = torch_forward_backward(
        lambda *t: F.layer_norm(t[0], (4,), *t[1:], eps), (x, w, b)
    )
    with np.errstate(invalid="ignore"):  # NumPy warns of the NaN that torch gives silently
        for fn in (layer_norm, layer_norm_naive):
            np.testing.assert_allclose(fn(x, 4, w, b, eps), out, rtol=0, atol=1e-10)
        for ours, theirs in zip(layer_norm_backward(g, x, 4, w, b, eps), grads):
            np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-10)


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_takes_an_empty_1d_input_as_torch_does(training):
    x, stats = np.empty(0), (np.empty(0), np.empty(0))
    out = F.batch_norm(T(x), T(stats[0]), T(stats[1]), training=training)
    for fn in (batch_norm, batch_norm_naive):
        y = fn(x, *stats, training=training)
        assert y.shape == tuple(out.shape) == (0,)
    gx, gw, gb = batch_norm_backward(x, x, *stats, np.empty(0), None, training)
    assert gx.shape == gw.shape == (0,) and gb is None
    with pytest.raises(ValueError, match="input must be"):  # torch refuses a non-empty 1-D input
        batch_norm(np.ones(3), np.ones(3), np.ones(3))


# --- the layers' torch arguments -------------------------------------------------------------


@pytest.mark.parametrize(
    "ours, theirs, shape",
    [
        (L.BatchNorm1d, torch.nn.BatchNorm1d, (6, 3)),
        (L.BatchNorm2d, torch.nn.BatchNorm2d, (3, 3, 2, 2)),
    ],
)
def test_batch_norm_layer_without_bias_follows_torch(ours, theirs, shape, rng):
    layer, module = ours(3, bias=False, dtype=np.float64), theirs(3, bias=False).double()
    assert layer.bias is None and len(layer.params) == 1
    layer.weight[...] = rng.standard_normal(3)
    module.weight.data = T(layer.weight.copy())
    x = rng.standard_normal(shape)
    xt = torch.tensor(x, requires_grad=True)
    out = module(xt)
    g = rng.standard_normal(shape)
    out.backward(T(g))
    assert_close(layer(x), out.detach().numpy())
    assert_close(layer.backward(g), xt.grad.numpy())
    assert len(layer.grads) == 1
    assert_close(layer.grads[0], module.weight.grad.numpy())
    assert_close(layer.running_var, module.running_var.numpy())


@pytest.mark.parametrize(
    "make", [lambda **kw: L.BatchNorm2d(3, **kw), lambda **kw: L.LayerNorm(3, **kw)]
)
def test_norm_layers_take_torchs_device_and_dtype(make):
    assert make().weight.dtype == np.float32  # dtype=None is torch's default, float32
    assert make(device="cpu", dtype=np.float64).weight.dtype == np.float64
    with pytest.raises(ValueError, match="device"):
        make(device="cuda")
    with pytest.raises(TypeError, match="dtype"):
        make(dtype=np.int32)
