"""The output-size arithmetic against the shapes torch actually produces."""

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlbook.shapes import (
    conv_out,
    conv_output_size,
    conv_transpose_output_size,
    same_padding,
    window_count,
)

GRID = list(itertools.product(range(1, 12), range(1, 5), range(1, 4), range(0, 3), range(1, 3)))


def test_conv_output_size_matches_torch_on_a_grid():
    checked = 0
    for n, k, s, p, d in GRID:
        if d * (k - 1) + 1 > n + 2 * p:
            with pytest.raises(ValueError, match="kernel_size"):
                conv_output_size(n, k, s, p, d)
            continue
        got = F.conv2d(torch.zeros(1, 1, n, n), torch.zeros(1, 1, k, k), None, s, p, d).shape[-1]
        assert conv_output_size(n, k, s, p, d) == got
        checked += 1
    assert checked > 500


def test_ceil_mode_matches_max_pool2d():
    overhanging = 0
    for n, k, s, p in itertools.product(range(1, 12), range(1, 6), range(1, 5), range(0, 3)):
        if p > k // 2:
            continue
        for ceil in (False, True):
            try:
                got = F.max_pool2d(torch.zeros(1, 1, n, n), k, s, p, ceil_mode=ceil).shape[-1]
            except RuntimeError:  # torch finds no window: so must we
                with pytest.raises(ValueError, match="kernel_size"):
                    conv_output_size(n, k, s, p, ceil_mode=ceil)
                continue
            assert conv_output_size(n, k, s, p, ceil_mode=ceil) == got, (n, k, s, p, ceil)
            overhanging += k > n + 2 * p  # a ceil-mode window wider than the padded input
    assert overhanging > 0


def test_conv_transpose_output_size_matches_torch():
    for n, k, s, p, d in GRID:
        for op in range(max(s, d)):
            x, w = torch.zeros(1, 1, n, n), torch.zeros(1, 1, k, k)
            expected = (n - 1) * s - 2 * p + d * (k - 1) + op + 1
            if expected < 1:
                with pytest.raises(ValueError, match="padding"):
                    conv_transpose_output_size(n, k, s, p, op, d)
                continue
            got = F.conv_transpose2d(x, w, None, s, p, op, 1, d).shape[-1]
            assert conv_transpose_output_size(n, k, s, p, op, d) == got


def test_pairs_and_strings():
    assert conv_output_size((224, 224), 11, stride=4, padding=2) == (55, 55)
    assert conv_output_size((10, 7), (3, 1), stride=(2, 1)) == (4, 7)
    assert conv_output_size(17, 5, padding="same") == 17
    assert conv_output_size(17, 5, padding="valid") == 13
    assert conv_transpose_output_size((4, 5), 4, stride=2, padding=1) == (8, 10)
    assert same_padding(4) == (1, 2) and same_padding(3, dilation=2) == (2, 2)


@pytest.mark.parametrize(
    "call,words",
    [
        (lambda: conv_output_size(0, 3), "size"),
        (lambda: conv_output_size(8, 0), "kernel_size"),
        (lambda: conv_output_size(8, 3, stride=0), "stride"),
        (lambda: conv_output_size(8, 3, padding=-1), "padding"),
        (lambda: conv_output_size(8, 3, dilation=0), "dilation"),
        (lambda: conv_output_size(8, 3, stride=2, padding="same"), "same"),
        (lambda: conv_output_size(8, 3, padding="full"), "padding"),
        (lambda: conv_output_size(3, 5), "kernel_size"),
        (lambda: conv_transpose_output_size(4, 3, stride=2, output_padding=2), "output_padding"),
        (lambda: conv_transpose_output_size((4, 4, 4), 3), "size"),
    ],
)
def test_bad_arguments(call, words):
    with pytest.raises(ValueError, match=words):
        call()


def test_int_size_with_pair_argument_is_a_type_error():
    with pytest.raises(TypeError, match="size"):
        conv_output_size(8, (3, 3))


def test_window_count_takes_before_and_after_padding_as_conv2d_same_does():
    # padding='same' with an even kernel pads (1, 2) in torch: the output keeps the input's size.
    for n, k, d in itertools.product(range(4, 9), range(1, 6), range(1, 3)):
        before, after = same_padding(k, d)
        x, w = torch.zeros(1, 1, n, n), torch.zeros(1, 1, k, k)
        got = F.conv2d(x, w, padding="same", dilation=d).shape[-1]
        assert window_count(n, k, 1, (before, after), d) == got == n
        # asymmetric padding by hand: pad first, then a valid convolution
        padded = F.pad(x, (before, after + 1, before, after + 1))
        assert (
            window_count(n, k, 2, (before, after + 1), d)
            == F.conv2d(padded, w, stride=2, dilation=d).shape[-1]
        )


def test_ceil_mode_drops_a_window_that_would_start_on_the_right_padding():
    # n=5, k=3, s=3, p=1: rounding up gives ceil((5 + 2 - 3) / 3) + 1 = 3 windows, but the third
    # would start at 6, on the right padding (6 >= 5 + 1): torch keeps 2, and so must we.
    assert -(-(5 + 2 - 3) // 3) + 1 == 3
    assert window_count(5, 3, 3, padding=1, ceil_mode=True) == 2
    assert F.avg_pool2d(torch.zeros(1, 1, 5, 5), 3, 3, 1, ceil_mode=True).shape[-1] == 2
    assert F.max_pool2d(torch.zeros(1, 1, 5, 5), 3, 3, 1, ceil_mode=True).shape[-1] == 2
    assert conv_output_size(5, 3, 3, 1, ceil_mode=True) == 2


def test_one_element_tuples_and_numpy_ints_are_read_as_torch_reads_them():
    assert conv_output_size((10, 7), (3,), stride=(2,), padding=(1,)) == (5, 4)
    assert conv_output_size(np.int64(9), np.int64(3)) == 7
    assert conv_transpose_output_size((4, 5), (4,), stride=(2,), padding=[1]) == (8, 10)
    with pytest.raises(ValueError, match="pair"):
        conv_output_size((8, 8), (3, 3, 3))


def test_conv_out_is_conv_output_size_on_one_axis():
    refused = agreed = 0
    for n, k, s, p, d, ceil in itertools.product(range(1, 9), (1, 2, 3), (1, 2, 3), (0, 1), (1, 2),
                                                 (False, True)):  # fmt: skip
        if window_count(n, k, s, p, d, ceil) < 1:  # no window fits: both refuse
            for size in (n, (n, n)):
                with pytest.raises(ValueError, match="kernel_size"):
                    conv_output_size(size, k, s, p, d, ceil)
            with pytest.raises(ValueError, match="kernel_size"):
                conv_out(n, k, s, p, d, ceil)
            refused += 1
            continue
        assert conv_out(n, k, s, p, d, ceil) == conv_output_size(n, k, s, p, d, ceil)
        assert conv_output_size((n, n), k, s, p, d, ceil) == (conv_out(n, k, s, p, d, ceil),) * 2
        agreed += 1
    assert refused > 5 and agreed > 300
    assert conv_out(7, 3, 1, "same", 2, False) == 7
    assert conv_out(7, 3, 2, "valid", 1, False) == 3
    with pytest.raises(ValueError, match="stride"):
        conv_out(7, 3, 2, "same", 1, False)
    with pytest.raises(TypeError, match="padding"):
        conv_out(7, 3, 1, 1.5, 1, False)
