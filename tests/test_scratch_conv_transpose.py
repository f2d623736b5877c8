"""conv_transpose2d from scratch against torch.nn.functional.conv_transpose2d."""

import numpy as np
import pytest
import torch.nn.functional as F
from helpers import assert_close, torch_forward_backward
from hypothesis import assume, given
from hypothesis import strategies as st

from dlbook.scratch import (
    conv2d,
    conv2d_backward,
    conv_transpose2d,
    conv_transpose2d_backward,
    conv_transpose2d_naive,
)
from dlbook.scratch.gradcheck import gradcheck


@st.composite
def transpose_cases(draw):
    groups = draw(st.integers(1, 3))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 3))
    k = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    d = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    p = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    op = tuple(draw(st.integers(0, max(si, di) - 1)) for si, di in zip(s, d))
    hw = (draw(st.integers(1, 6)), draw(st.integers(1, 6)))
    for i in range(2):
        assume((hw[i] - 1) * s[i] - 2 * p[i] + d[i] * (k[i] - 1) + op[i] + 1 >= 1)
    r = np.random.default_rng(draw(st.integers(0, 2**16)))
    x = r.standard_normal((draw(st.integers(1, 2)), c_in, *hw))
    w = r.standard_normal((c_in, c_out // groups, *k))
    b = r.standard_normal(c_out) if draw(st.booleans()) else None
    # torch reads a one-element tuple as the same value for both axes: draw that spelling too
    s, p, op, d = (v[:1] if v[0] == v[1] and draw(st.booleans()) else v for v in (s, p, op, d))
    return (x, w, b), dict(stride=s, padding=p, output_padding=op, groups=groups, dilation=d)


@given(transpose_cases())
def test_matches_torch_forward_and_backward(case):
    arrays, kw = case
    out, g, grads = torch_forward_backward(F.conv_transpose2d, arrays, **kw)
    assert_close(conv_transpose2d(*arrays, **kw), out)
    for ours, theirs in zip(conv_transpose2d_backward(g, *arrays, **kw), grads):
        assert_close(ours, theirs)


@given(transpose_cases())
def test_naive_equals_vectorized(case):
    arrays, kw = case
    assert_close(conv_transpose2d_naive(*arrays, **kw), conv_transpose2d(*arrays, **kw), 1e-12)


@pytest.mark.parametrize("stride,padding,dilation", [(1, 0, 1), (2, 1, 1), (3, 2, 2), (2, 0, 3)])
def test_is_the_input_gradient_of_conv2d(stride, padding, dilation, rng):
    """conv_transpose2d(g, w) == conv2d_backward(g, x, w)[0] whenever the sizes match."""
    x = rng.standard_normal((2, 3, 11, 10))
    w = rng.standard_normal((4, 3, 3, 3))
    y = conv2d(x, w, stride=stride, padding=padding, dilation=dilation)
    g = rng.standard_normal(y.shape)
    grad_input = conv2d_backward(g, x, w, stride=stride, padding=padding, dilation=dilation)[0]
    # output_padding recovers the rows that the strided convolution's floor dropped.
    op = tuple((n + 2 * padding - dilation * 2 - 1) % stride for n in x.shape[2:])
    up = conv_transpose2d(
        g, w, stride=stride, padding=padding, output_padding=op, dilation=dilation
    )
    assert_close(up, grad_input, tol=1e-12)


def test_gradcheck(rng):
    x = rng.standard_normal((2, 4, 4, 3))
    w = rng.standard_normal((4, 3, 3, 2))
    b = rng.standard_normal(6)
    kw = dict(stride=2, padding=1, output_padding=1, groups=2, dilation=(1, 2))
    result = gradcheck(conv_transpose2d, conv_transpose2d_backward, (x, w, b), kw, tol=1e-7)
    assert result.ok and set(result.errors) == {"input", "weight", "bias"}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_preserved(dtype, rng):
    x = rng.standard_normal((1, 2, 4, 4)).astype(dtype)
    w = rng.standard_normal((2, 3, 3, 3)).astype(dtype)
    y = conv_transpose2d(x, w, stride=2)
    assert y.dtype == dtype and y.shape == (1, 3, 9, 9)
    assert all(g.dtype == dtype for g in conv_transpose2d_backward(y, x, w, stride=2)[:2])
