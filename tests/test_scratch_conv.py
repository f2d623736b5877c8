"""conv2d from scratch against torch.nn.functional.conv2d, forward and backward."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import assert_close, torch_forward_backward
from hypothesis import assume, given
from hypothesis import strategies as st

from dlbook.scratch import conv2d, conv2d_backward, conv2d_backward_naive, conv2d_naive
from dlbook.scratch.gradcheck import gradcheck

# An int, a pair, or a one-element tuple (which torch reads as the same value for both axes).
pairs = st.one_of(
    st.integers(1, 3),
    st.tuples(st.integers(1, 3), st.integers(1, 3)),
    st.tuples(st.integers(1, 3)),
)
paddings = st.one_of(
    st.integers(0, 2),
    st.tuples(st.integers(0, 2), st.integers(0, 2)),
    st.tuples(st.integers(0, 2)),
)


@st.composite
def conv_cases(draw):
    groups = draw(st.integers(1, 3))
    c_in, c_out = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    dilation = draw(pairs)
    # Every kind of padding is drawn often: 'same' (stride 1 only, as in torch), 'valid', numbers.
    kind = draw(st.sampled_from(["same", "valid", "number"]))
    if kind == "same":
        stride, padding = draw(st.sampled_from([1, (1, 1), (1,)])), "same"
    else:
        stride, padding = draw(pairs), "valid" if kind == "valid" else draw(paddings)
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    ph, pw = (0, 0) if isinstance(padding, str) else np.broadcast_to(padding, 2)
    dh, dw = np.broadcast_to(dilation, 2)  # a one-element tuple broadcasts as torch reads it
    if padding != "same":
        assume(dh * (kh - 1) + 1 <= h + 2 * ph and dw * (kw - 1) + 1 <= w + 2 * pw)
    n = draw(st.integers(1, 2))
    bias = draw(st.booleans())
    seed = draw(st.integers(0, 2**16))
    r = np.random.default_rng(seed)
    x = r.standard_normal((n, c_in, h, w))
    weight = r.standard_normal((c_out, c_in // groups, kh, kw))
    b = r.standard_normal(c_out) if bias else None
    return (x, weight, b), dict(stride=stride, padding=padding, dilation=dilation, groups=groups)


@given(conv_cases())
def test_conv2d_matches_torch_forward_and_backward(case):
    arrays, kw = case
    out, g, grads = torch_forward_backward(F.conv2d, arrays, **kw)
    assert_close(conv2d(*arrays, **kw), out)
    for ours, theirs in zip(conv2d_backward(g, *arrays, **kw), grads):
        assert_close(ours, theirs)


@given(conv_cases())
def test_naive_equals_vectorized(case):
    arrays, kw = case
    y = conv2d(*arrays, **kw)
    assert_close(conv2d_naive(*arrays, **kw), y, tol=1e-12)
    g = np.random.default_rng(1).standard_normal(y.shape)
    for a, b in zip(conv2d_backward_naive(g, *arrays, **kw), conv2d_backward(g, *arrays, **kw)):
        assert_close(a, b, tol=1e-12)


@pytest.mark.parametrize(
    "kw",
    [
        dict(),
        dict(stride=2, padding=1),
        dict(stride=(2, 1), padding=(0, 2), dilation=(1, 2)),
        dict(padding="same", dilation=2),
        dict(groups=2, padding=1),
    ],
)
def test_gradcheck(kw, rng):
    x = rng.standard_normal((2, 4, 6, 5))
    w = rng.standard_normal((6, 4 // kw.get("groups", 1), 3, 2))
    b = rng.standard_normal(6)
    result = gradcheck(conv2d, conv2d_backward, (x, w, b), kw, tol=1e-7)
    assert set(result.errors) == {"input", "weight", "bias"}
    assert result.ok, result.errors


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_preserved(dtype, rng):
    x = rng.standard_normal((2, 3, 7, 7)).astype(dtype)
    w = rng.standard_normal((4, 3, 3, 3)).astype(dtype)
    b = rng.standard_normal(4).astype(dtype)
    y = conv2d(x, w, b, padding=1)
    assert y.dtype == dtype
    assert all(g.dtype == dtype for g in conv2d_backward(np.ones_like(y), x, w, b, padding=1))
    ref = F.conv2d(*map(torch.from_numpy, (x, w, b)), padding=1).numpy()
    assert_close(y, ref, tol=1e-4 if dtype == np.float32 else 1e-10)


def test_unbatched_input_like_torch(rng):
    x, w = rng.standard_normal((3, 6, 6)), rng.standard_normal((2, 3, 3, 3))
    y = conv2d(x, w, stride=2)
    assert_close(y, F.conv2d(torch.from_numpy(x), torch.from_numpy(w), stride=2).numpy())
    gx, gw, gb = conv2d_backward(np.ones_like(y), x, w, stride=2)
    assert gx.shape == x.shape and gw.shape == w.shape and gb is None


def test_same_padding_puts_the_odd_pixel_after(rng):
    # k=4: total padding 3 = 1 before + 2 after, as torch pads.
    x, w = rng.standard_normal((1, 1, 5, 5)), rng.standard_normal((1, 1, 4, 4))
    y = conv2d(x, w, padding="same")
    assert y.shape == (1, 1, 5, 5)
    assert_close(y, conv2d(np.pad(x, ((0, 0), (0, 0), (1, 2), (1, 2))), w))


def test_does_not_modify_its_inputs(rng):
    x, w, b = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3)), np.ones(3)
    copies = [a.copy() for a in (x, w, b)]
    y = conv2d(x, w, b, padding=1)
    conv2d_backward(np.ones_like(y), x, w, b, padding=1)
    for a, c in zip((x, w, b), copies):
        np.testing.assert_array_equal(a, c)
