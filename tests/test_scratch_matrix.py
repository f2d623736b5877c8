"""The explicit convolution matrix: C @ x is conv2d, C.T @ y is conv_transpose2d and conv2d's
input gradient, in float64 to 1e-12."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from dlbook.scratch import conv2d, conv2d_backward, conv_transpose2d
from dlbook.scratch.matrix import conv2d_matrix, matching_output_padding
from dlbook.shapes import conv_output_size

TOL = 1e-12

CASES = [
    # (input_hw, kernel, stride, padding, dilation)
    ((4, 4), (3, 3), 1, 0, 1),
    ((7, 8), (3, 3), 2, 1, 1),
    ((9, 7), (3, 2), (2, 3), (1, 2), (2, 1)),
    ((6, 6), (2, 2), 2, 0, 1),
    ((5, 5), (1, 1), 3, 0, 1),
    ((8, 5), (3, 3), 1, 2, 2),
    ((10, 9), (4, 3), 3, (0, 1), (1, 2)),
]


def _check(input_hw, kernel, stride, padding, dilation, seed=0):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(kernel)
    x = rng.standard_normal(input_hw)
    C = conv2d_matrix(input_hw, w, stride, padding, dilation)
    args = dict(stride=stride, padding=padding, dilation=dilation)
    y = conv2d(x[None, None], w[None, None], **args)
    assert C.shape == (y.size, x.size)
    np.testing.assert_allclose(C @ x.ravel(), y.ravel(), rtol=0, atol=TOL)

    g = rng.standard_normal(y.shape)
    op = matching_output_padding(input_hw, kernel, stride, padding, dilation)
    back = C.T @ g.ravel()
    ct = conv_transpose2d(g, w[None, None], output_padding=op, **args)
    assert ct.shape[-2:] == tuple(input_hw)
    np.testing.assert_allclose(back, ct.ravel(), rtol=0, atol=TOL)
    grad_input = conv2d_backward(g, x[None, None], w[None, None], **args)[0]
    np.testing.assert_allclose(back, grad_input.ravel(), rtol=0, atol=TOL)
    wt = torch.tensor(w[None, None])
    ref = F.conv_transpose2d(torch.tensor(g), wt, output_padding=op, **args)
    np.testing.assert_allclose(back, ref.numpy().ravel(), rtol=0, atol=TOL)


@pytest.mark.parametrize("input_hw, kernel, stride, padding, dilation", CASES)
def test_matrix_is_conv_and_its_transpose(input_hw, kernel, stride, padding, dilation):
    _check(input_hw, kernel, stride, padding, dilation)


@settings(max_examples=40, deadline=None)
@given(
    h=st.integers(1, 9),
    w=st.integers(1, 9),
    kh=st.integers(1, 4),
    kw=st.integers(1, 4),
    s=st.integers(1, 3),
    p=st.integers(0, 2),
    d=st.integers(1, 2),
    seed=st.integers(0, 99),
)
def test_matrix_property(h, w, kh, kw, s, p, d, seed):
    if d * (kh - 1) + 1 > h + 2 * p or d * (kw - 1) + 1 > w + 2 * p:
        with pytest.raises(ValueError, match="weight"):
            conv2d_matrix((h, w), np.ones((kh, kw)), s, p, d)
        return
    _check((h, w), (kh, kw), s, p, d, seed)


def test_hand_computed_4x16():
    w = np.arange(1.0, 10.0).reshape(3, 3)
    C = conv2d_matrix((4, 4), w)
    assert C.shape == (4, 16)
    expected_first_row = [1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9, 0, 0, 0, 0, 0]
    np.testing.assert_array_equal(C[0], expected_first_row)
    # Output (1, 1) is the window shifted one pixel right and one down: five places on.
    np.testing.assert_array_equal(C[3], np.roll(expected_first_row, 5))
    assert np.count_nonzero(C) == 36


def test_padding_drops_taps_outside_the_image():
    C = conv2d_matrix((3, 3), np.ones((3, 3)), padding=1)
    assert C.shape == (9, 9)
    # Corner outputs see a 2x2 patch, edges 2x3, the centre all nine pixels.
    np.testing.assert_array_equal(C.sum(axis=1).reshape(3, 3), [[4, 6, 4], [6, 9, 6], [4, 6, 4]])


def test_int_size_and_dtype():
    C = conv2d_matrix(5, np.ones((3, 3), dtype=np.float32), stride=2)
    assert C.dtype == np.float32
    assert C.shape == (conv_output_size(5, 3, 2) ** 2, 25)


def test_matching_output_padding():
    # 7 and 8 both shrink to 4 with k=3, s=2, p=1: the way back needs 0 and 1.
    assert matching_output_padding(7, 3, stride=2, padding=1) == 0
    assert matching_output_padding(8, 3, stride=2, padding=1) == 1
    assert matching_output_padding((7, 8), (3, 3), 2, 1) == (0, 1)
    assert matching_output_padding(10, 3) == 0  # stride 1: no ambiguity


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(weight=np.ones((1, 3, 3))), "weight"),
        (dict(weight=np.ones((3, 3), dtype=int)), "weight"),
        (dict(weight=[[1.0]]), "weight"),
        (dict(weight=np.ones((5, 5))), "weight"),  # larger than the 4x4 input
        (dict(input_hw=0), "input_hw"),
        (dict(stride=0), "stride"),
        (dict(padding=-1), "padding"),
        (dict(dilation=0), "dilation"),
    ],
)
def test_bad_arguments_raise_value_error(kwargs, name):
    args = dict(input_hw=(4, 4), weight=np.ones((3, 3)), stride=1, padding=0, dilation=1)
    args.update(kwargs)
    with pytest.raises(ValueError, match=name):
        conv2d_matrix(**args)


def test_matching_output_padding_bad_kernel():
    with pytest.raises(ValueError, match="kernel_size"):
        matching_output_padding(8, 0, stride=2)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(input_hw=4.0), "input_hw"),
        (dict(input_hw=True), "input_hw"),
        (dict(stride=(1, 1.5)), "stride"),
        (dict(padding="same"), "padding"),
    ],
)
def test_arguments_of_the_wrong_kind_raise_type_error(kwargs, name):
    args = dict(input_hw=(4, 4), weight=np.ones((3, 3))) | kwargs
    with pytest.raises(TypeError, match=name):
        conv2d_matrix(**args)


@pytest.mark.parametrize("input_hw", [(4, 4, 4), ()])
def test_a_size_of_the_wrong_length_is_a_value_error(input_hw):
    with pytest.raises(ValueError, match="input_hw must be an int or a tuple of one or two ints"):
        conv2d_matrix(input_hw, np.ones((3, 3)))


def test_one_element_tuples_read_as_both_axes(rng):
    w = rng.standard_normal((3, 2))
    np.testing.assert_array_equal(
        conv2d_matrix((6,), w, stride=(2,), padding=[1], dilation=(1,)),
        conv2d_matrix((6, 6), w, stride=2, padding=1, dilation=1),
    )
