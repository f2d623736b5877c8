"""Pooling from scratch against torch.nn.functional, forward and backward, corners included."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import assert_close, torch_forward_backward
from hypothesis import assume, given
from hypothesis import strategies as st

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
from dlbook.scratch.gradcheck import gradcheck
from dlbook.scratch.pool import PoolGeometry, argmax_taps, loops, pool_output_size, window_size
from dlbook.shapes import conv_output_size

small = st.integers(1, 3)


def _maybe_pair(draw, a, b):
    """An int when both axes agree and hypothesis says so, else the pair."""
    return a if a == b and draw(st.booleans()) else (a, b)


@st.composite
def pool_cases(draw, mode):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    kernel = _maybe_pair(draw, kh, kw)
    stride = draw(st.one_of(st.none(), small, st.tuples(small, small)))
    padding = _maybe_pair(draw, draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2)))
    kw_args = dict(
        kernel_size=kernel, stride=stride, padding=padding, ceil_mode=draw(st.booleans())
    )
    if mode == "max":
        kw_args["dilation"] = draw(st.one_of(st.integers(1, 2), st.tuples(small, small)))
    else:
        kw_args["count_include_pad"] = draw(st.booleans())
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    s = (kh, kw) if stride is None else np.broadcast_to(stride, 2)
    p, d = np.broadcast_to(padding, 2), np.broadcast_to(kw_args.get("dilation", 1), 2)
    outs = [
        pool_output_size(*args, kw_args["ceil_mode"]) for args in zip((h, w), (kh, kw), s, p, d)
    ]
    assume(min(outs) >= 1)
    shape = (draw(st.integers(1, 3)), h, w)
    if draw(st.booleans()):
        shape = (draw(st.integers(1, 2)), *shape)
    r = np.random.default_rng(draw(st.integers(0, 2**16)))
    # Max pooling's gradient is defined only without ties: distinct values, in random order.
    x = (
        r.permutation(np.prod(shape)).reshape(shape) / 7.0
        if mode == "max"
        else r.normal(size=shape)
    )
    if mode == "max":
        # With dilation, a ceil-mode window can miss the input entirely: torch's backward then
        # writes outside the input (out-of-bounds memory), so such cases are left out.
        assume(np.isfinite(F.max_pool2d(torch.from_numpy(x), **kw_args).numpy()).all())
    return x, kw_args


@given(pool_cases("max"))
def test_max_pool2d_matches_torch(case):
    x, kw = case
    out, g, (gx,) = torch_forward_backward(F.max_pool2d, (x,), **kw)
    assert_close(max_pool2d(x, **kw), out)
    assert_close(max_pool2d_backward(g, x, **kw), gx)
    _, idx = F.max_pool2d(torch.from_numpy(x), return_indices=True, **kw)
    np.testing.assert_array_equal(max_pool2d_indices(x, **kw), idx.numpy())


@given(pool_cases("avg"))
def test_avg_pool2d_matches_torch(case):
    x, kw = case
    out, g, (gx,) = torch_forward_backward(F.avg_pool2d, (x,), **kw)
    assert_close(avg_pool2d(x, **kw), out)
    assert_close(avg_pool2d_backward(g, x, **kw), gx)


@given(st.one_of(pool_cases("max"), pool_cases("avg")))
def test_naive_equals_vectorized(case):
    x, kw = case
    if "dilation" in kw:
        fns = max_pool2d, max_pool2d_naive, max_pool2d_backward, max_pool2d_backward_naive
    else:
        fns = avg_pool2d, avg_pool2d_naive, avg_pool2d_backward, avg_pool2d_backward_naive
    forward, forward_naive, backward, backward_naive = fns
    y = forward(x, **kw)
    assert_close(forward_naive(x, **kw), y, tol=1e-12)
    g = np.random.default_rng(1).standard_normal(y.shape)
    assert_close(backward_naive(g, x, **kw), backward(g, x, **kw), tol=1e-12)


def test_ties_nan_and_inf_follow_torch(rng):
    # Few distinct values: most windows tie. torch's scan keeps the first maximum in row-major
    # order, lets any NaN win (so the last NaN), and never picks the padding.
    kw = dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 1), dilation=(1, 2), ceil_mode=True)
    for trial in range(20):
        x = rng.integers(0, 3, (2, 2, 6, 7)).astype(float)
        if trial % 2:
            x[rng.random(x.shape) < 0.1] = np.nan
            x[rng.random(x.shape) < 0.1] = -np.inf
        xt = torch.tensor(x, requires_grad=True)
        yt, idx = F.max_pool2d(xt, return_indices=True, **kw)
        g = rng.standard_normal(yt.shape)
        yt.backward(torch.from_numpy(g))
        np.testing.assert_array_equal(max_pool2d(x, **kw), yt.detach().numpy())
        np.testing.assert_array_equal(max_pool2d_naive(x, **kw), yt.detach().numpy())
        np.testing.assert_array_equal(max_pool2d_indices(x, **kw), idx.numpy())
        assert_close(max_pool2d_backward(g, x, **kw), xt.grad.numpy())
        assert_close(max_pool2d_backward_naive(g, x, **kw), xt.grad.numpy())
    # All equal: the whole gradient goes to each window's top-left pixel.
    gx = max_pool2d_backward(np.ones((1, 1, 2, 2)), np.ones((1, 1, 4, 4)), 2)
    np.testing.assert_array_equal(gx[0, 0], np.kron(np.ones((2, 2)), [[1, 0], [0, 0]]))


@pytest.mark.parametrize("shape", [(2, 3, 5, 7), (3, 1, 4)])
def test_global_avg_pool2d_matches_adaptive_avg_pool(shape, rng):
    x = rng.standard_normal(shape)
    out, g, (gx,) = torch_forward_backward(lambda t: F.adaptive_avg_pool2d(t, 1), (x,))
    assert_close(global_avg_pool2d(x), out)
    assert_close(global_avg_pool2d_backward(g, x), gx)


def test_count_include_pad_divisor_by_hand():
    x = np.ones((1, 1, 5, 5))
    # ceil mode: the last window (rows/cols 4..5) hangs off the edge; with no padding its divisor
    # is clipped to the input, 1 x 2 = 2 at the right edge and 1 x 1 in the corner, not 4.
    np.testing.assert_array_equal(avg_pool2d(x, 2, ceil_mode=True), np.ones((1, 1, 3, 3)))
    # padding 1: the first window holds one real pixel of 4; counted, the padding dilutes it.
    assert avg_pool2d(x, 2, padding=1)[0, 0, 0, 0] == 0.25
    assert avg_pool2d(x, 2, padding=1, count_include_pad=False)[0, 0, 0, 0] == 1.0


def test_pool_output_size_is_torchs_rule():
    # 5 + 2 - 2 = 5 over stride 2 rounds up to 3, plus 1 = 4; but window 4 would start at 6, in
    # the right padding, so ceil mode drops it.
    assert pool_output_size(5, 2, 2, padding=1, ceil_mode=True) == 3
    assert pool_output_size(5, 2, 2, ceil_mode=True) == 3 and pool_output_size(5, 2, 2) == 2
    # torch keeps one ceil-mode window that overhangs a 2-pixel input (kernel 4, stride 4).
    assert (
        pool_output_size(2, 4, 4, ceil_mode=True)
        == 1
        == max_pool2d(np.ones((1, 2, 2)), 4, ceil_mode=True).shape[-1]
    )
    assert pool_output_size(2, 4, 4) == 0
    for n, k, s, p, d, ceil in np.ndindex(9, 5, 4, 3, 3, 2):
        if k and s and d and n and d * (k - 1) + 1 <= n + 2 * p:
            assert pool_output_size(n, k, s, p, d, ceil) == conv_output_size(n, k, s, p, d, ceil)


@pytest.mark.parametrize("kind", ["max", "avg", "global"])
def test_gradcheck(kind, rng):
    x = rng.permutation(2 * 3 * 7 * 6).reshape(2, 3, 7, 6) / 10.0  # no ties
    if kind == "max":
        args = (max_pool2d, max_pool2d_backward, (x, 3), dict(stride=2, padding=1, ceil_mode=True))
    elif kind == "avg":
        kw = dict(stride=(2, 1), padding=(1, 0), ceil_mode=True, count_include_pad=False)
        args = (avg_pool2d, avg_pool2d_backward, (x, (3, 2)), kw)
    else:
        args = (global_avg_pool2d, global_avg_pool2d_backward, (x,), None)
    result = gradcheck(*args, differentiable=[0], tol=1e-7)
    assert list(result.errors) == ["input"] and result.ok, result.errors


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_preserved(dtype, rng):
    x = rng.standard_normal((2, 3, 7, 7)).astype(dtype)
    g = np.ones((2, 3, 4, 4), dtype=dtype)
    for forward, backward in [(max_pool2d, max_pool2d_backward), (avg_pool2d, avg_pool2d_backward)]:
        y = forward(x, 2, padding=1)
        assert y.dtype == dtype and backward(g, x, 2, padding=1).dtype == dtype
    assert global_avg_pool2d(x).dtype == dtype
    assert global_avg_pool2d_backward(np.ones((2, 3, 1, 1), dtype), x).dtype == dtype
    ref = F.avg_pool2d(torch.from_numpy(x), 2, padding=1).numpy()
    assert_close(avg_pool2d(x, 2, padding=1), ref, tol=1e-6 if dtype == np.float32 else 1e-12)


def test_does_not_modify_its_input(rng):
    x = rng.standard_normal((2, 2, 5, 5))
    copy = x.copy()
    max_pool2d_backward(np.ones((2, 2, 3, 3)), x, 3, 2, 1)
    avg_pool2d_backward(np.ones((2, 2, 3, 3)), x, 3, 2, 1)
    np.testing.assert_array_equal(x, copy)


X = np.zeros((1, 1, 4, 4))


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: max_pool2d(X, 0), ValueError, "kernel_size"),
        (lambda: avg_pool2d(X, 2, stride=0), ValueError, "stride"),
        (lambda: max_pool2d(X, 2, padding=-1), ValueError, "padding"),
        (lambda: avg_pool2d(X, 3, padding=2), ValueError, "padding"),  # more than 3 // 2
        (lambda: max_pool2d(X, 2, dilation=0), ValueError, "dilation"),
        (lambda: max_pool2d(X, 3, stride=1, dilation=2), ValueError, "kernel_size"),  # spans 5
        (lambda: avg_pool2d(X, 5), ValueError, "kernel_size"),
        (lambda: max_pool2d(X[0, 0], 2), ValueError, "input"),
        (lambda: avg_pool2d(X[None], 2), ValueError, "input"),
        (lambda: global_avg_pool2d(np.zeros((1, 0, 3))), ValueError, "input"),
        (lambda: max_pool2d_backward(np.ones((1, 1, 3, 3)), X, 2), ValueError, "grad_output"),
        (lambda: avg_pool2d_backward(np.ones((1, 2, 2)), X, 2), ValueError, "grad_output"),
        (lambda: global_avg_pool2d_backward(np.ones((1, 1, 2, 2)), X), ValueError, "grad_output"),
        (lambda: max_pool2d(X.tolist(), 2), TypeError, "input"),
        (lambda: avg_pool2d(X.astype(int), 2), TypeError, "input"),
        (lambda: max_pool2d(X, 2.5), TypeError, "kernel_size"),
        (lambda: avg_pool2d(X, 2, stride=(1, 2, 3)), ValueError, "stride"),  # torch refuses it too
    ],
)
def test_bad_arguments_name_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()


# --- the helpers the book shows: loops, window_size, argmax_taps ---------------------------------


def _geometry(in_size, kernel, stride, padding, dilation=1, ceil_mode=False):
    pair = lambda v: (v, v)  # noqa: E731
    out = conv_output_size(in_size, kernel, stride, padding, dilation, ceil_mode)
    return PoolGeometry(pair(kernel), pair(stride), pair(padding), pair(dilation), in_size, out)


@pytest.mark.parametrize("kernel, stride, padding, dilation", [(3, 2, 1, 1), (2, 1, 0, 2)])
def test_loops_reads_the_windows_of_the_strided_view(kernel, stride, padding, dilation, rng):
    x = rng.standard_normal((2, 3, 7, 6))
    geo = _geometry((7, 6), kernel, stride, padding, dilation)
    xp = geo.pad(x, 0.0)
    view = geo.windows(xp)
    seen = 0
    for (n, c, y, x_), window in loops(x, geo):
        assert np.array_equal(xp[window], view[n, c, :, :, y, x_])
        seen += 1
    assert seen == 2 * 3 * geo.out[0] * geo.out[1]


@pytest.mark.parametrize("count_include_pad", [True, False])
def test_window_size_counts_the_pixels_a_window_covers(count_include_pad):
    geo = _geometry((6, 6), 3, 2, 1, ceil_mode=True)  # the last window hangs past the padding
    starts = geo.starts(0)
    assert list(starts) == [-1, 1, 3, 5]
    got = window_size(geo, 0, starts, count_include_pad)
    low, high = (-1, 6 + 1) if count_include_pad else (0, 6)
    want = [sum(low <= r < high for r in range(s, s + 3)) for s in starts]
    assert want == ([3, 3, 3, 2] if count_include_pad else [2, 3, 3, 1])
    assert list(got) == want
    assert [window_size(geo, 0, int(s), count_include_pad) for s in starts] == want  # ints too
    # avg_pool2d of ones: the real pixels of each window over its divisor
    real = np.array([sum(0 <= r < 6 for r in range(s, s + 3)) for s in starts])
    ones = avg_pool2d(np.ones((1, 1, 6, 6)), 3, 2, 1, True, count_include_pad)
    assert_close(ones[0, 0], np.outer(real, real) / np.outer(want, want))


def test_argmax_taps_takes_the_first_maximum_and_the_last_nan():
    x = np.array([[[[1.0, 5.0, 5.0], [0.0, 2.0, 5.0], [np.nan, 1.0, np.nan]]]])
    geo = _geometry((3, 3), 3, 1, 0)
    tap = argmax_taps(geo.pad(x, -np.inf), geo)
    assert tap.shape == (1, 1, 1, 1) and tap.dtype == np.int64
    assert tap[0, 0, 0, 0] == 8  # the last NaN
    x[0, 0, 2] = 1.0
    tap = argmax_taps(geo.pad(x, -np.inf), geo)
    assert tap[0, 0, 0, 0] == 1  # the first of the three 5s
    taken = torch.from_numpy(x)
    _, indices = F.max_pool2d(taken, 3, return_indices=True)
    assert indices.item() == 1  # torch's tie rule
