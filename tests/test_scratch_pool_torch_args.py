"""Pooling against torch with each argument left at its default, unbatched and in float32, and
torch's ``divisor_override`` and ``return_indices``: functions, naive versions and layers."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import assert_close, torch_forward_backward

from dlbook.scratch import (
    avg_pool2d,
    avg_pool2d_backward,
    avg_pool2d_backward_naive,
    avg_pool2d_naive,
    global_avg_pool2d,
    global_avg_pool2d_backward,
    max_pool2d,
    max_pool2d_backward,
    max_pool2d_backward_naive,
    max_pool2d_indices,
    max_pool2d_naive,
)
from dlbook.scratch.layers import AvgPool2d, MaxPool2d

OURS = {
    "max": (max_pool2d, max_pool2d_backward, max_pool2d_naive, max_pool2d_backward_naive),
    "avg": (avg_pool2d, avg_pool2d_backward, avg_pool2d_naive, avg_pool2d_backward_naive),
}
TORCH = {"max": F.max_pool2d, "avg": F.avg_pool2d}

# Each case leaves at least one argument at its default where that default matters: an 8x8 input
# with kernel 3, stride 2 and padding 1 has 4 windows a side, 5 in ceil mode; with padding, the
# divisor depends on count_include_pad; a dilation of 2 would change every window.
CASES = [
    ("max", (2,), {}),  # stride, padding, dilation and ceil_mode all default
    ("max", (3,), dict(stride=2, padding=1)),  # dilation and ceil_mode default
    ("max", (3,), dict(stride=1, padding=1, ceil_mode=True)),  # dilation default
    ("max", (3,), dict(stride=2, dilation=2)),  # padding and ceil_mode default
    ("max", ((3, 2),), dict(stride=(2, 3), padding=(1, 0), dilation=(1, 2), ceil_mode=True)),
    ("avg", (2,), {}),  # stride, padding, ceil_mode, count_include_pad, divisor_override default
    ("avg", (3,), dict(stride=2, padding=1)),  # ceil_mode and count_include_pad default
    ("avg", (3,), dict(stride=2, padding=1, ceil_mode=True)),  # count_include_pad default
    ("avg", (3,), dict(stride=2, padding=1, count_include_pad=False)),  # ceil_mode default
    ("avg", (3,), dict(stride=2, padding=1, ceil_mode=True, count_include_pad=False)),
    ("avg", (3,), dict(stride=2, padding=1, ceil_mode=True, divisor_override=5)),
    ("avg", ((3, 2),), dict(stride=(2, 1), padding=(1, 0), divisor_override=-2)),
]


def _input(shape, dtype, rng):
    # Distinct values, so that max pooling has no ties and its gradient is well defined.
    return (rng.permutation(np.prod(shape)).reshape(shape) / 7.0 - 5.0).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(2, 3, 8, 8), (3, 8, 7)])  # batched, and unbatched (C, H, W)
@pytest.mark.parametrize("kind, args, kw", CASES)
def test_every_version_follows_torch(kind, args, kw, shape, dtype, rng):
    forward, backward, naive, backward_naive = OURS[kind]
    x = _input(shape, dtype, rng)
    out, g, (gx,) = torch_forward_backward(lambda t: TORCH[kind](t, *args, **kw), (x,))
    tol = 1e-10 if dtype == np.float64 else 1e-5
    for result in (
        forward(x, *args, **kw),
        naive(x, *args, **kw),
    ):
        assert result.dtype == dtype
        assert_close(result, out, tol)
    for result in (backward(g, x, *args, **kw), backward_naive(g, x, *args, **kw)):
        assert result.dtype == dtype
        assert_close(result, gx, tol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(2, 3, 8, 8), (3, 7, 8)])
@pytest.mark.parametrize(
    "args, kw", [((2,), {}), ((3,), dict(stride=2, padding=1, dilation=(2, 1), ceil_mode=True))]
)
def test_return_indices_are_torchs_flat_indices(args, kw, shape, dtype, rng):
    x = _input(shape, dtype, rng)
    out, idx = F.max_pool2d(torch.from_numpy(x), *args, **kw, return_indices=True)
    for fn in (max_pool2d, max_pool2d_naive):
        ours, ours_idx = fn(x, *args, **kw, return_indices=True)
        assert ours.dtype == dtype and ours_idx.dtype == np.int64
        assert_close(ours, out.numpy(), 0)
        np.testing.assert_array_equal(ours_idx, idx.numpy())
    np.testing.assert_array_equal(max_pool2d_indices(x, *args, **kw), idx.numpy())
    # Positional, in torch's order: return_indices is F.max_pool2d's 7th argument.
    pos = (args[0], kw.get("stride"), kw.get("padding", 0), kw.get("dilation", 1))
    pos += (kw.get("ceil_mode", False), True)
    np.testing.assert_array_equal(max_pool2d(x, *pos)[1], idx.numpy())
    # The gradient of the values does not depend on whether the indices were asked for.
    g = rng.standard_normal(out.shape).astype(dtype)
    for fn in (max_pool2d_backward, max_pool2d_backward_naive):
        np.testing.assert_array_equal(fn(g, x, *pos), fn(g, x, *args, **kw, return_indices=False))


def test_ties_and_nan_give_torchs_indices():
    x = np.array([[[1.0, 1.0, 0.0], [1.0, np.nan, 2.0], [np.nan, 0.0, 2.0]]])
    _, idx = F.max_pool2d(torch.from_numpy(x), 2, 1, return_indices=True)
    np.testing.assert_array_equal(max_pool2d(x, 2, 1, return_indices=True)[1], idx.numpy())
    np.testing.assert_array_equal(max_pool2d_naive(x, 2, 1, return_indices=True)[1], idx.numpy())


def test_divisor_override_by_hand():
    x = np.ones((1, 4, 4))
    np.testing.assert_array_equal(avg_pool2d(x, 2, divisor_override=3), np.full((1, 2, 2), 4 / 3))
    g = avg_pool2d_backward(np.ones((1, 2, 2)), x, 2, divisor_override=-2)
    np.testing.assert_array_equal(g, np.full((1, 4, 4), -0.5))


@pytest.mark.parametrize(
    "value, error", [(0, ValueError), (2.5, TypeError), (True, TypeError), ("2", TypeError)]
)
def test_divisor_override_is_checked_as_torch_does(value, error):
    x = np.ones((1, 1, 4, 4))
    with pytest.raises((RuntimeError, TypeError)):  # torch refuses each of them too
        F.avg_pool2d(torch.from_numpy(x), 2, divisor_override=value)
    for fn in (avg_pool2d, avg_pool2d_naive):
        with pytest.raises(error, match="divisor_override"):
            fn(x, 2, divisor_override=value)
    for fn in (avg_pool2d_backward, avg_pool2d_backward_naive):
        with pytest.raises(error, match="divisor_override"):
            fn(np.ones((1, 1, 2, 2)), x, 2, divisor_override=value)


@pytest.mark.parametrize("shape", [(2, 3, 7, 8), (3, 7, 8)])
def test_max_pool_layer_with_return_indices_follows_torch(shape, rng):
    x = _input(shape, np.float64, rng)
    t = torch.tensor(x, requires_grad=True)
    layer = torch.nn.MaxPool2d(3, 2, 1, 1, True, True)  # return_indices before ceil_mode
    out, idx = layer(t)
    g = rng.standard_normal(out.shape)
    out.backward(torch.from_numpy(g))
    ours = MaxPool2d(3, 2, 1, 1, True, True)
    y, i = ours(x)
    assert_close(y, out.detach().numpy())
    np.testing.assert_array_equal(i, idx.numpy())
    assert_close(ours.backward(g), t.grad.numpy())
    assert ours.params == [] and ours.grads == []


@pytest.mark.parametrize("kw", [dict(), dict(padding=1, ceil_mode=True, divisor_override=4)])
def test_avg_pool_layer_follows_torch(kw, rng):
    x = rng.standard_normal((2, 3, 7, 8))
    out, g, (gx,) = torch_forward_backward(torch.nn.AvgPool2d(3, 2, **kw), (x,))
    layer = AvgPool2d(3, 2, **kw)
    assert_close(layer(x), out)
    assert_close(layer.backward(g), gx)


@pytest.mark.parametrize(
    "kind, args, kw",
    [
        ("max", ((3,),), dict(stride=(2,), padding=(1,), dilation=(2,))),
        ("max", ((2,), (1,)), dict(ceil_mode=True)),
        ("avg", ((3,),), dict(stride=(2,), padding=(1,), count_include_pad=False)),
        ("avg", ((2,), ()), {}),  # torch reads an empty stride as "the kernel size"
    ],
)
def test_one_element_tuples_are_read_as_torch_reads_them(kind, args, kw, rng):
    forward, backward, naive, backward_naive = OURS[kind]
    x = _input((2, 3, 7, 8), np.float64, rng)
    out, g, (gx,) = torch_forward_backward(lambda t: TORCH[kind](t, *args, **kw), (x,))
    assert_close(forward(x, *args, **kw), out)
    assert_close(naive(x, *args, **kw), out)
    assert_close(backward(g, x, *args, **kw), gx)
    assert_close(backward_naive(g, x, *args, **kw), gx)
    layer = (MaxPool2d if kind == "max" else AvgPool2d)(*args, **kw)
    assert_close(layer(x), out)
    assert_close(layer.backward(g), gx)


@pytest.mark.parametrize("value", [(), (1, 2, 3)])
def test_kernel_size_of_zero_or_three_ints_is_refused_as_torch_does(value):
    x = np.ones((1, 1, 6, 6))
    with pytest.raises(RuntimeError):
        F.max_pool2d(torch.from_numpy(x), value)
    for fn in (max_pool2d, avg_pool2d, max_pool2d_naive, avg_pool2d_naive):
        with pytest.raises(ValueError, match="kernel_size"):
            fn(x, value)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(2, 3, 5, 4), (3, 5, 4)])
def test_global_avg_pool2d_unbatched_and_float32(shape, dtype, rng):
    x = rng.standard_normal(shape).astype(dtype)
    out, g, (gx,) = torch_forward_backward(lambda t: F.adaptive_avg_pool2d(t, 1), (x,))
    y, grad = global_avg_pool2d(x), global_avg_pool2d_backward(g, x)
    assert y.dtype == grad.dtype == dtype
    assert_close(y, out, 1e-10 if dtype == np.float64 else 1e-6)
    assert_close(grad, gx, 1e-10 if dtype == np.float64 else 1e-6)
