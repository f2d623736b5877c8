"""The write-it-yourself exercises of Part 2: each checker passes a right answer and names, in
words, what is wrong with the usual mistakes."""

import numpy as np
import pytest

from dlbook.experiments.channels import check_grouped_conv2d
from dlbook.experiments.convolution import check_conv2d
from dlbook.experiments.padding_stride_dilation import check_strided_conv2d
from dlbook.experiments.transposed_convolution import check_conv_transpose2d
from dlbook.scratch import conv2d


def loop_conv2d(x, w, flip=False, channels=True):
    """The convolution chapter's solution; ``flip`` and ``channels=False`` are two mistakes."""
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    if flip:
        w = w[..., ::-1, ::-1]
    out = np.zeros((n, o, h - kh + 1, wd - kw + 1), dtype=np.result_type(x, w))
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            window = x[:, :, i : i + kh, j : j + kw]
            if channels:
                out[:, :, i, j] = np.einsum("nchw,ochw->no", window, w)
            else:  # only the first input channel
                out[:, :, i, j] = np.einsum("nhw,ohw->no", window[:, 0], w[:, 0])
    return out


def strided_conv2d(x, w, stride=1, padding=0, dilation=1, pad_after=True, floor=True):
    """The padding chapter's solution; ``pad_after=False`` and ``floor=False`` are mistakes."""
    xp = np.pad(x, padding if pad_after else ((padding, 0), (padding, 0)))
    kh, kw = w.shape
    span_h, span_w = dilation * (kh - 1) + 1, dilation * (kw - 1) + 1
    rounding = (lambda a, b: a // b) if floor else (lambda a, b: -(-a // b))
    oh = rounding(xp.shape[0] - span_h, stride) + 1
    ow = rounding(xp.shape[1] - span_w, stride) + 1
    out = np.zeros((oh, ow))
    for i in range(oh):
        for j in range(ow):
            r, c = i * stride, j * stride
            window = np.pad(xp, ((0, kh * dilation), (0, kw * dilation)))[
                r : r + span_h : dilation, c : c + span_w : dilation
            ]
            out[i, j] = np.sum(window * w)
    return out


def grouped(x, w, groups, interleave=False):
    """The channels chapter's solution; ``interleave=True`` takes every groups-th channel."""
    c_g, o_g = x.shape[1] // groups, w.shape[0] // groups
    parts = []
    for j in range(groups):
        xs = x[:, j::groups] if interleave else x[:, j * c_g : (j + 1) * c_g]
        parts.append(conv2d(xs, w[j * o_g : (j + 1) * o_g]))
    return np.concatenate(parts, axis=1)


def stamp(x, w, stride=1, padding=0, flip=False, crop=True):
    """The transposed chapter's solution; ``flip=True`` and ``crop=False`` are mistakes."""
    (h, wd), (kh, kw) = x.shape, w.shape
    w = w[::-1, ::-1] if flip else w
    out = np.zeros(((h - 1) * stride + kh, (wd - 1) * stride + kw))
    for a in range(h):
        for b in range(wd):
            out[a * stride : a * stride + kh, b * stride : b * stride + kw] += x[a, b] * w
    p = padding if crop else 0
    return out[p : out.shape[0] - p, p : out.shape[1] - p]


RIGHT = {
    "conv2d": (check_conv2d, loop_conv2d),
    "strided conv2d": (check_strided_conv2d, strided_conv2d),
    "grouped conv2d": (check_grouped_conv2d, grouped),
    "conv_transpose2d": (check_conv_transpose2d, stamp),
}


def _strided(**mistake):
    def fn(x, w, stride=1, padding=0, dilation=1):
        return strided_conv2d(x, w, stride, padding, **{"dilation": dilation, **mistake})

    return fn


def _stamp(**mistake):
    return lambda x, w, stride=1, padding=0: stamp(x, w, stride, padding, **mistake)


# (checker, a wrong answer, words its report must contain), by the mistake's name.
WRONG = {
    "conv2d, flipped kernel": (
        check_conv2d,
        lambda x, w: loop_conv2d(x, w, flip=True),
        "case 1 (5×5, 3×3): the result is wrong at",
    ),
    "conv2d, first channel only": (
        check_conv2d,
        lambda x, w: loop_conv2d(x, w, channels=False),
        "3 channels in, 4 out): the result is",
    ),
    "conv2d, float64 always": (
        check_conv2d,
        lambda x, w: loop_conv2d(x.astype(float), w.astype(float)),
        "case 4 (float32): the result has dtype float64, expected float32",
    ),
    "conv2d, the stub": (
        check_conv2d,
        lambda x, w: np.zeros_like(x),
        "has shape (1, 1, 5, 5), expected (1, 1, 3, 3)",
    ),
    "strided, ceil": (
        check_strided_conv2d,
        _strided(floor=False),
        "(stride 2: the floor drops a row): the result has shape (3, 3)",
    ),
    "strided, padding on one side": (
        check_strided_conv2d,
        _strided(pad_after=False),
        "case 2 (padding 1): the result has shape (4, 5), expected",
    ),
    "strided, dilation ignored": (
        check_strided_conv2d,
        _strided(dilation=1),
        "case 4 (dilation 2): the result has shape (5, 6), expected (3, 4)",
    ),
    "grouped, interleaved channels": (
        check_grouped_conv2d,
        lambda x, w, g: grouped(x, w, g, interleave=True),
        "case 2 (groups 2, 4 channels in",
    ),
    "grouped, first group only": (
        check_grouped_conv2d,
        lambda x, w, g: conv2d(x[:, : x.shape[1] // g], w),
        "case 3 (depthwise, two filters",
    ),
    "grouped, groups ignored": (
        check_grouped_conv2d,
        lambda x, w, g: conv2d(x, w),
        "raised ValueError",
    ),
    "transposed, flipped kernel": (
        check_conv_transpose2d,
        _stamp(flip=True),
        "case 1 (stride 1: a full convolution): the result is wrong at",
    ),
    "transposed, padding not cropped": (
        check_conv_transpose2d,
        _stamp(crop=False),
        "case 3 (stride 2, padding 1): the result has shape (10, 10)",
    ),
}


@pytest.mark.parametrize("name", RIGHT)
def test_each_checker_passes_the_solution(name):
    checker, solution = RIGHT[name]
    report = checker(solution)
    assert report.passed, report.problems
    assert str(report).startswith(f"✓ {name}: right on all") and "equals torch" in str(report)


@pytest.mark.parametrize("name", WRONG)
def test_each_checker_names_the_mistake(name):
    checker, fn, words = WRONG[name]
    report = checker(fn)
    assert not report.passed
    assert any(words in p for p in report.problems), report.problems
