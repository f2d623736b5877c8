"""Fast convolution algorithms (im2col, FFT, Winograd F(2x2, 3x3)) against F.conv2d, and their
arithmetic counted by hand."""

import dataclasses
import inspect
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torch_samples as ts
from helpers import assert_close
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from dlbook.scratch.conv import conv2d, conv2d_naive
from dlbook.scratch.fast_conv import (
    WINOGRAD_A,
    WINOGRAD_B,
    WINOGRAD_G,
    ConvArithmetic,
    conv2d_fft,
    conv2d_im2col,
    conv2d_winograd,
    conv_arithmetic,
    fft_size,
    float32_error,
    winograd_error,
    winograd_tile,
)

ALL = [conv2d_naive, conv2d_im2col, conv2d_fft, conv2d_winograd]
GENERAL = [conv2d_im2col, conv2d_fft]  # every stride, dilation and kernel size


def torch_conv(x, weight, bias=None, **kw):
    t = [None if a is None else torch.from_numpy(a) for a in (x, weight, bias)]
    return F.conv2d(*t, **kw).numpy()


def arrays(shape, c_out, kernel, groups=1, bias=True, seed=0, dtype=np.float64):
    r = np.random.default_rng(seed)
    x = r.standard_normal(shape).astype(dtype)
    c_in = shape[-3]
    w = r.standard_normal((c_out, c_in // groups, *kernel)).astype(dtype)
    b = r.standard_normal(c_out).astype(dtype) if bias else None
    return x, w, b


@st.composite
def cases(draw, winograd=False):
    groups = draw(st.integers(1, 3))
    c_in, c_out = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
    kernel = (3, 3) if winograd else (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    one_or_pair = st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3)))
    stride, dilation = (1, 1) if winograd else (draw(one_or_pair), draw(one_or_pair))
    padding = draw(
        st.one_of(
            st.integers(0, 2),
            st.tuples(st.integers(0, 2), st.integers(0, 2)),
            st.sampled_from(["valid", "same"]),
        )
    )
    if padding == "same":
        stride = 1
    h, w = draw(st.integers(1, 11)), draw(st.integers(1, 11))
    ph, pw = (0, 0) if isinstance(padding, str) else np.broadcast_to(padding, 2)
    dh, dw = np.broadcast_to(dilation, 2)
    if padding != "same":
        assume(dh * (kernel[0] - 1) < h + 2 * ph and dw * (kernel[1] - 1) < w + 2 * pw)
    n = draw(st.integers(1, 2))
    x, weight, b = arrays((n, c_in, h, w), c_out, kernel, groups, draw(st.booleans()), h * w)
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    return (x, weight, b), kw


SHAPED = [
    # (input shape, C_out, kernel, groups, bias, kwargs): batch, non-square, odd, every padding
    ((2, 3, 8, 8), 4, (3, 3), 1, True, dict()),
    ((3, 2, 7, 10), 5, (3, 3), 1, False, dict(padding=1)),
    ((1, 4, 9, 6), 4, (3, 3), 2, True, dict(padding=(2, 0))),
    ((2, 6, 5, 5), 3, (3, 3), 3, True, dict(padding="same")),
    ((1, 2, 4, 13), 2, (3, 3), 1, True, dict(padding="valid")),
    ((2, 3, 3, 3), 2, (3, 3), 1, False, dict()),  # one output pixel: one tile, three cropped
    ((1, 1, 12, 11), 1, (3, 3), 1, True, dict(padding=(0, 1))),
]


@pytest.mark.parametrize("conv", ALL, ids=lambda f: f.__name__)
@pytest.mark.parametrize("shape,c_out,kernel,groups,bias,kw", SHAPED)
def test_all_four_equal_torch_on_3x3_shapes(conv, shape, c_out, kernel, groups, bias, kw):
    x, w, b = arrays(shape, c_out, kernel, groups, bias)
    expected = torch_conv(x, w, b, groups=groups, **kw)
    out = conv(x, w, b, groups=groups, **kw)
    assert out.dtype == np.float64
    assert_close(out, expected)


GENERAL_SHAPED = [
    ((2, 3, 9, 7), 2, (5, 2), 1, dict(stride=(2, 3), padding=(1, 2))),
    ((1, 4, 10, 11), 6, (3, 4), 2, dict(dilation=(2, 3), padding="same")),
    ((2, 2, 12, 9), 2, (1, 1), 1, dict(stride=2)),
    ((1, 3, 16, 15), 2, (7, 7), 1, dict(padding=3, dilation=(1, 2), stride=(3, 1))),
    ((1, 2, 6, 6), 3, (6, 6), 1, dict()),  # the kernel as large as the input: one output
]


@pytest.mark.parametrize("conv", [conv2d_naive, *GENERAL], ids=lambda f: f.__name__)
@pytest.mark.parametrize("shape,c_out,kernel,groups,kw", GENERAL_SHAPED)
def test_stride_dilation_and_other_kernels_equal_torch(conv, shape, c_out, kernel, groups, kw):
    x, w, b = arrays(shape, c_out, kernel, groups)
    assert_close(conv(x, w, b, groups=groups, **kw), torch_conv(x, w, b, groups=groups, **kw))


@pytest.mark.parametrize("conv", ALL, ids=lambda f: f.__name__)
def test_unbatched_input(conv):
    x, w, b = arrays((3, 7, 6), 2, (3, 3))
    out = conv(x, w, b, padding=1)
    assert out.shape == (2, 7, 6)
    assert_close(out, torch_conv(x, w, b, padding=1))


@pytest.mark.parametrize("conv", ALL, ids=lambda f: f.__name__)
def test_float32_in_float32_out(conv):
    x, w, b = arrays((2, 4, 9, 8), 3, (3, 3), dtype=np.float32)
    out = conv(x, w, b, padding=1)
    assert out.dtype == np.float32
    exact = conv2d(*(a.astype(np.float64) for a in (x, w, b)), padding=1)
    assert_close(out.astype(np.float64), exact, tol=1e-4)


@pytest.fixture(scope="module")
def torch_conv_samples():
    """Torch's own OpInfo samples for F.conv2d (float64), with torch's outputs."""
    spec = ts.OPS["conv2d"]
    op = ts.opinfo(spec)
    return [
        (
            ts.to_numpy((s.input, *s.args)),
            ts.to_numpy(s.kwargs),
            op.op(s.input, *s.args, **s.kwargs),
        )
        for s in ts.op_samples(spec)
    ]


def test_what_torch_accepts_they_accept(torch_conv_samples):
    winograd_done = 0
    for args, kw, expected in torch_conv_samples:
        expected = expected.detach().numpy()
        for conv in GENERAL:
            assert_close(conv(*args, **kw), expected)
        w = args[1]
        fits = w.shape[2:] == (3, 3) and {kw.get("stride", 1), kw.get("dilation", 1)} <= {1, (1, 1)}
        if fits:
            assert_close(conv2d_winograd(*args, **kw), expected)
            winograd_done += 1
        else:
            with pytest.raises(ValueError, match="weight|stride|dilation"):
                conv2d_winograd(*args, **kw)
    assert winograd_done >= 4


@pytest.mark.parametrize("conv", ALL[1:], ids=lambda f: f.__name__)
def test_signature_is_conv2ds(conv):
    assert inspect.signature(conv) == inspect.signature(conv2d)


# --- errors: every one names the argument ------------------------------------------------------


X, W = np.zeros((2, 4, 8, 8)), np.zeros((6, 4, 3, 3))


@pytest.mark.parametrize(
    "kw,words",
    [
        (dict(weight=np.zeros((6, 4, 5, 5))), "weight"),
        (dict(weight=np.zeros((6, 4, 3, 1))), "weight"),
        (dict(stride=2), "stride"),
        (dict(stride=(1, 2)), "stride"),
        (dict(dilation=2), "dilation"),
        (dict(padding="same", dilation=(1, 2)), "dilation"),
    ],
)
def test_winograd_refuses_what_it_cannot_do(kw, words):
    with pytest.raises(ValueError, match=words):
        conv2d_winograd(**(dict(input=X, weight=W) | kw))


@pytest.mark.parametrize("conv", ALL[1:], ids=lambda f: f.__name__)
@pytest.mark.parametrize(
    "kw,error,words",
    [
        (dict(weight=np.zeros((6, 3, 3, 3))), ValueError, "channel mismatch"),
        (dict(input=np.zeros((2, 4, 2, 8))), ValueError, "weight"),
        (dict(stride=0), ValueError, "stride"),
        (dict(padding=-1), ValueError, "padding"),
        (dict(padding="same", stride=2), ValueError, "padding='same'"),
        (dict(padding="full"), ValueError, "padding"),
        (dict(weight=np.zeros((6, 2, 3, 3)), groups=3), ValueError, "groups"),
        (dict(input=np.zeros((8, 8))), ValueError, "input"),
        (dict(weight=np.zeros((6, 4, 3))), ValueError, "weight"),
        (dict(bias=np.zeros(5)), ValueError, "bias"),
        (dict(input=np.zeros((2, 4, 8, 8), dtype=int)), TypeError, "input"),
        (dict(weight=np.zeros((6, 4, 3, 3), dtype=np.float32)), TypeError, "weight"),
        (dict(stride=1.5), TypeError, "stride"),
    ],
)
def test_bad_arguments_name_themselves(conv, kw, error, words):
    with pytest.raises(error, match=words.replace("(", r"\(")):
        conv(**(dict(input=X, weight=W) | kw))


@pytest.mark.parametrize("conv", [conv2d_fft, conv2d_winograd], ids=lambda f: f.__name__)
@pytest.mark.parametrize("name,value", [("input", np.inf), ("input", np.nan), ("weight", -np.inf)])
def test_transforms_refuse_non_finite_values_that_they_would_spread(conv, name, value):
    # conv2d keeps an inf where its windows are; Winograd's and the FFT's sums would spread NaN.
    args = dict(input=np.zeros((1, 2, 6, 6)), weight=np.ones((1, 2, 3, 3)))
    args[name][0, 1, 0, 0] = value
    with pytest.raises(ValueError, match=f"{name}: .*finite"):
        conv(**args)


def test_error_helpers_name_their_arguments():
    with pytest.raises(TypeError, match="input"):
        winograd_error(X.tolist(), W)
    with pytest.raises(TypeError, match="bias"):
        float32_error(conv2d_fft, X, W, bias=[0.0] * 6)
    with pytest.raises(ValueError, match="weight"):
        winograd_error(X, np.zeros((6, 4, 5, 5)))


# --- Winograd's transforms ---------------------------------------------------------------------


def test_winograd_transforms_reproduce_the_1d_f23_by_hand():
    r = np.random.default_rng(3)
    d, g = r.standard_normal(4), r.standard_normal(3)
    # Lavin & Gray, eq. (5): four products instead of six.
    m1 = (d[0] - d[2]) * g[0]
    m2 = (d[1] + d[2]) * (g[0] + g[1] + g[2]) / 2
    m3 = (d[2] - d[1]) * (g[0] - g[1] + g[2]) / 2
    m4 = (d[1] - d[3]) * g[2]
    by_hand = np.array([m1 + m2 + m3, m2 - m3 - m4])
    products = (WINOGRAD_G @ g) * (WINOGRAD_B.T @ d)
    np.testing.assert_allclose(products, [m1, m2, m3, m4], rtol=0, atol=1e-14)
    np.testing.assert_allclose(WINOGRAD_A.T @ products, by_hand, rtol=0, atol=1e-14)
    direct = np.array([d[0:3] @ g, d[1:4] @ g])  # cross-correlation, no flip
    np.testing.assert_allclose(by_hand, direct, rtol=0, atol=1e-14)


def test_winograd_tile_is_a_2x2_cross_correlation():
    r = np.random.default_rng(4)
    tiles, kernel = r.standard_normal((5, 4, 4)), r.standard_normal((3, 3))
    direct = np.array(
        [[[np.sum(t[i : i + 3, j : j + 3] * kernel) for j in range(2)] for i in range(2)]
         for t in tiles]
    )  # fmt: skip
    assert_close(winograd_tile(tiles, kernel), direct, tol=1e-13)
    assert winograd_tile(tiles.astype(np.float32), kernel.astype(np.float32)).dtype == np.float32


def test_winograd_constants_are_read_only():
    with pytest.raises(ValueError):
        WINOGRAD_B[0, 0] = 2.0
    assert WINOGRAD_B.shape == (4, 4) and WINOGRAD_G.shape == (4, 3) and WINOGRAD_A.shape == (4, 2)


def test_float32_errors_are_measured_and_small():
    x, w, b = arrays((2, 16, 14, 13), 8, (3, 3))
    scale = np.abs(conv2d(x, w, b, padding=1)).max()
    err = winograd_error(x, w, b, padding=1)
    assert err == float32_error(conv2d_winograd, x, w, b, padding=1)
    assert isinstance(err, float)
    # Rounding shows (the run really is float32), but stays near float32's epsilon, 6e-8.
    assert 1e-8 * scale < err < 1e-5 * scale
    for conv in (conv2d_im2col, conv2d_fft):
        assert 1e-8 * scale < float32_error(conv, x, w, b, padding=1) < 1e-5 * scale
    # The float64 reference is exact enough to measure against: Winograd in float64 matches it.
    assert_close(conv2d_winograd(x, w, b, padding=1), conv2d_im2col(x, w, b, padding=1), 1e-12)
    # Its groups and bias reach the convolution.
    grouped = (x, w[:, :8], b)
    assert winograd_error(*grouped, padding=1, groups=2) < 1e-5 * scale
    with pytest.raises(ValueError, match="channel mismatch"):
        winograd_error(*grouped, padding=1)


# --- arithmetic --------------------------------------------------------------------------------


def test_fft_size_is_the_next_5_smooth_number():
    def smooth(m):
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        return m == 1

    for n in range(1, 300):
        assert fft_size(n) == next(m for m in range(n, 2 * n + 1) if smooth(m)), n
    with pytest.raises(ValueError, match="n"):
        fft_size(0)


def test_arithmetic_counts_by_hand():
    # One 4x4 image, one channel in and out, a 3x3 kernel: a 2x2 output.
    assert conv_arithmetic(1, 1, 1, 4, 4, 3, "direct") == ConvArithmetic("direct", 36, 0)
    assert conv_arithmetic(1, 1, 1, 4, 4, 3, "im2col").products == 36
    assert conv_arithmetic(1, 1, 1, 4, 4, 3, "winograd") == ConvArithmetic(
        "winograd", 16, 32 + 24 + 35
    )
    fft = conv_arithmetic(1, 1, 1, 4, 4, 3, "fft")  # a 4x4 FFT keeps 4 x 3 frequencies
    assert fft.products == 4 * 4 * 3
    assert fft.transforms == pytest.approx(3 * 2.5 * 16 * 4)
    assert fft.flops == pytest.approx(2 * 48 + 480)
    # Two images of 3 channels to 5, 7x10 padded by 1: outputs 7x10, tiles 4x5 per image.
    direct = conv_arithmetic(2, 3, 5, 7, 10, 3, "direct", padding=1)
    assert direct.products == 2 * 5 * 70 * 3 * 9
    wino = conv_arithmetic(2, 3, 5, 7, 10, 3, "winograd", padding=1)
    assert wino.products == 16 * 40 * 5 * 3
    assert wino.transforms == 32 * 40 * 3 + 24 * 40 * 5 + 35 * 5 * 3
    fft = conv_arithmetic(2, 3, 5, 7, 10, 3, "fft", padding=1)  # padded 9x12: F = 9 x 12
    assert fft.products == 4 * 2 * 5 * 3 * 9 * 7
    assert fft.transforms == pytest.approx(2.5 * 108 * math.log2(108) * (6 + 15 + 10))
    # Groups: each output channel sees c_in / groups inputs.
    assert conv_arithmetic(1, 4, 6, 5, 5, 3, "direct", groups=2).products == 6 * 9 * 2 * 9
    assert conv_arithmetic(1, 4, 6, 6, 6, 3, "winograd", groups=2).products == 16 * 4 * 6 * 2
    # The kernel as large as the padded input: one output, one (cropped) Winograd tile.
    assert conv_arithmetic(1, 2, 1, 1, 1, 3, "direct", padding=1).products == 2 * 9
    assert conv_arithmetic(1, 2, 1, 3, 3, 3, "winograd").products == 16 * 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        direct.products = 0


def test_winograd_saves_2_25_times_the_products_on_even_outputs():
    for h, w in [(10, 10), (34, 18)]:
        direct = conv_arithmetic(3, 8, 16, h, w, 3, "direct", padding=1).products
        wino = conv_arithmetic(3, 8, 16, h, w, 3, "winograd", padding=1).products
        assert direct / wino == 2.25


def test_fft_products_do_not_grow_with_the_kernel():
    small = conv_arithmetic(1, 8, 8, 32, 32, 3, "fft", padding=5)
    large = conv_arithmetic(1, 8, 8, 32, 32, 11, "fft", padding=5)
    assert small == ConvArithmetic("fft", large.products, large.transforms)
    assert conv_arithmetic(1, 8, 8, 32, 32, 11, "direct", padding=5).products > 4 * large.products


@pytest.mark.parametrize(
    "args,words",
    [
        ((1, 1, 1, 4, 4, 5, "winograd"), "k"),
        ((1, 1, 1, 4, 4, 3, "gemm"), "algorithm"),
        ((1, 1, 1, 2, 4, 3, "direct"), "k=3"),
        ((0, 1, 1, 4, 4, 3, "direct"), "n"),
        ((1, 3, 2, 4, 4, 3, "direct", 0, 2), "groups"),
        ((1, 1, 1, 4, 4, 3, "direct", -1), "padding"),
        ((1, 1, 1.0, 4, 4, 3, "direct"), "c_out"),
    ],
)
def test_arithmetic_refuses_bad_arguments(args, words):
    with pytest.raises(ValueError, match=words):
        conv_arithmetic(*args)


# --- property-based: drawn shapes, strides, paddings, dilations and groups ------------------------


@pytest.mark.parametrize("conv", GENERAL, ids=lambda f: f.__name__)
@settings(max_examples=30)  # the fixed cases above and torch's samples cover the rest
@given(case=cases())
def test_im2col_and_fft_equal_torch(conv, case):
    args, kw = case
    assert_close(conv(*args, **kw), torch_conv(*args, **kw))


@settings(max_examples=30)
@given(case=cases(winograd=True))
def test_winograd_equals_torch(case):
    args, kw = case
    assert_close(conv2d_winograd(*args, **kw), torch_conv(*args, **kw))
