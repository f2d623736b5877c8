"""Weight initialization from scratch against torch.nn.init: gains, fans, and the distributions."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from dlbook.scratch.init import (
    calculate_fan_in_and_fan_out,
    calculate_gain,
    kaiming_normal_,
    kaiming_uniform_,
    normal_,
    uniform_,
    xavier_normal_,
    xavier_uniform_,
    zeros_,
)

NONLINEARITIES = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d"]
NONLINEARITIES += ["conv_transpose2d", "conv_transpose3d", "sigmoid", "tanh", "relu", "selu"]
NONLINEARITIES += ["leaky_relu"]
LINEAR_SHAPE, CONV_SHAPE = (600, 500), (128, 64, 5, 5)  # 300,000 and 204,800 weights


@pytest.mark.parametrize("nonlinearity", NONLINEARITIES)
@pytest.mark.parametrize("param", [None, 0, 0.2, 1, 3, math.sqrt(5), -0.5])
def test_calculate_gain_equals_torch(nonlinearity, param):
    ours = calculate_gain(nonlinearity, param)
    assert ours == pytest.approx(torch.nn.init.calculate_gain(nonlinearity, param), rel=1e-15)


@pytest.mark.parametrize("nonlinearity", ["gelu", "ReLU", "softmax", None])
def test_calculate_gain_rejects_an_unknown_nonlinearity(nonlinearity):
    with pytest.raises(ValueError, match="nonlinearity"):
        calculate_gain(nonlinearity)
    with pytest.raises(ValueError):
        torch.nn.init.calculate_gain(nonlinearity)


@pytest.mark.parametrize("param", [True, "0.1", [0.1]])
def test_calculate_gain_rejects_a_slope_that_is_not_a_number(param):
    with pytest.raises(ValueError, match="param"):
        calculate_gain("leaky_relu", param)
    with pytest.raises(ValueError):
        torch.nn.init.calculate_gain("leaky_relu", param)


@given(st.lists(st.integers(0, 6), min_size=2, max_size=5))
def test_fans_equal_torch(shape):
    theirs = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    assert calculate_fan_in_and_fan_out(np.empty(shape)) == theirs


def test_conv_fans_include_the_receptive_field():
    assert calculate_fan_in_and_fan_out(np.empty((16, 3, 5, 5))) == (3 * 25, 16 * 25)
    assert calculate_fan_in_and_fan_out(np.empty((10, 84))) == (84, 10)


# (our function, torch's, keyword arguments, the std of the distribution, the uniform bound or None)
def _cases(shape):
    fan_in, fan_out = calculate_fan_in_and_fan_out(np.empty(shape))
    cases = []
    for gain in (1.0, math.sqrt(2), 0.5):
        std = gain * math.sqrt(2 / (fan_in + fan_out))
        kw = dict(gain=gain)
        cases.append((xavier_uniform_, torch.nn.init.xavier_uniform_, kw, std, math.sqrt(3) * std))
        cases.append((xavier_normal_, torch.nn.init.xavier_normal_, kw, std, None))
    for a, mode, nonlinearity in [
        (0, "fan_in", "leaky_relu"),
        (0.2, "fan_out", "leaky_relu"),
        (math.sqrt(5), "fan_in", "leaky_relu"),  # nn.Linear's and nn.Conv2d's own default
        (0, "fan_out", "relu"),
        (0, "fan_in", "tanh"),
        (0, "fan_in", "linear"),
    ]:
        std = calculate_gain(nonlinearity, a) / math.sqrt(fan_in if mode == "fan_in" else fan_out)
        kw = dict(a=a, mode=mode, nonlinearity=nonlinearity)
        cases.append(
            (kaiming_uniform_, torch.nn.init.kaiming_uniform_, kw, std, math.sqrt(3) * std)
        )
        cases.append((kaiming_normal_, torch.nn.init.kaiming_normal_, kw, std, None))
    cases.append((normal_, torch.nn.init.normal_, dict(mean=0.0, std=0.02), 0.02, None))
    return [(shape, *case) for case in cases]


CASES = _cases(LINEAR_SHAPE) + _cases(CONV_SHAPE)
IDS = [f"{c[1].__name__}-{len(c[0])}d-" + ",".join(map(str, c[3].values())) for c in CASES]


@pytest.mark.parametrize("shape,ours,theirs,kw,std,bound", CASES, ids=IDS)
def test_distribution_matches_torch(shape, ours, theirs, kw, std, bound):
    w = ours(np.empty(shape), **kw, rng=np.random.default_rng(0))
    t = theirs(
        torch.empty(shape, dtype=torch.float64), **kw, generator=torch.Generator().manual_seed(0)
    )
    t = t.numpy()
    # Two samples of 200,000+ draws: their standard deviations agree to about 0.2%.
    assert w.std() == pytest.approx(t.std(), rel=0.01)
    assert w.std() == pytest.approx(std, rel=0.01)
    assert abs(w.mean()) < 5 * std / math.sqrt(w.size)
    # The shape of the distribution: the share of draws within one std (68% normal, 58% uniform).
    assert np.mean(np.abs(w) < std) == pytest.approx(np.mean(np.abs(t) < std), abs=0.01)
    if bound is not None:  # our bound holds torch's draws too, and both come within 0.1% of it
        assert np.abs(w).max() <= bound and np.abs(t).max() <= bound
        assert np.abs(w).max() > 0.999 * bound and np.abs(t).max() > 0.999 * bound


FILLS = [
    (xavier_uniform_, {}),
    (xavier_normal_, dict(gain=2.0)),
    (kaiming_uniform_, dict(a=math.sqrt(5))),
    (kaiming_normal_, dict(mode="fan_out", nonlinearity="relu")),
    (uniform_, dict(a=-1.0, b=2.0)),
    (normal_, dict(mean=1.0, std=0.5)),
]


@pytest.mark.parametrize("fill,kw", FILLS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fills_in_place_keeping_shape_and_dtype(fill, kw, dtype):
    w = np.zeros((6, 4, 3, 3), dtype=dtype)
    out = fill(w, **kw, rng=np.random.default_rng(0))
    assert out is w and w.dtype == dtype and w.shape == (6, 4, 3, 3)
    assert np.all(w != 0) and len(np.unique(w)) > w.size // 2


@pytest.mark.parametrize("fill,kw", FILLS)
def test_fills_a_strided_view_and_nothing_else(fill, kw):
    buffer = np.zeros((8, 10))
    view = buffer[:, ::2]
    fill(view, **kw, rng=np.random.default_rng(0))
    assert np.all(buffer[:, ::2] != 0) and np.all(buffer[:, 1::2] == 0)


@pytest.mark.parametrize("fill,kw", FILLS)
def test_the_generator_makes_draws_reproducible(fill, kw):
    a = fill(np.empty((5, 7)), **kw, rng=np.random.default_rng(3))
    b = fill(np.empty((5, 7)), **kw, rng=np.random.default_rng(3))
    c = fill(np.empty((5, 7)), **kw)  # rng=None: a fresh generator
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_uniform_stays_in_its_interval():
    w = uniform_(np.empty(100_000), -2.0, 3.0, rng=np.random.default_rng(0))
    assert w.min() >= -2.0 and w.max() < 3.0
    assert w.min() < -1.99 and w.max() > 2.99


def test_normal_with_std_zero_fills_with_the_mean_as_torch():
    # std = 0 is the edge of what torch accepts (std >= 0): every draw is the mean
    theirs = torch.nn.init.normal_(torch.empty(3, 4, dtype=torch.float64), mean=1.5, std=0.0)
    ours = normal_(np.empty((3, 4)), mean=1.5, std=0.0, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(ours, theirs.numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_zeros_fills_in_place(dtype):
    w = np.ones((3, 4), dtype=dtype)
    assert zeros_(w) is w and w.dtype == dtype and not w.any()


def test_mode_is_case_insensitive_as_in_torch():
    a = kaiming_normal_(np.empty((20, 30)), mode="FAN_OUT", rng=np.random.default_rng(0))
    b = kaiming_normal_(np.empty((20, 30)), mode="fan_out", rng=np.random.default_rng(0))
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "fill", [xavier_uniform_, xavier_normal_, kaiming_uniform_, kaiming_normal_]
)
def test_empty_arrays_are_left_alone(fill):
    w = np.empty((0, 3))
    assert fill(w) is w


@pytest.mark.parametrize(
    "fill", [xavier_uniform_, xavier_normal_, kaiming_uniform_, kaiming_normal_]
)
@pytest.mark.parametrize("shape", [(5,), ()])
def test_fewer_than_two_dimensions_raise_as_in_torch(fill, shape):
    with pytest.raises(ValueError, match="array must have at least 2 dimensions"):
        fill(np.empty(shape))
    with pytest.raises(ValueError):
        getattr(torch.nn.init, fill.__name__)(torch.empty(shape))


@pytest.mark.parametrize("fill", [kaiming_uniform_, kaiming_normal_])
def test_bad_mode_and_nonlinearity_raise_as_in_torch(fill):
    torch_fill = getattr(torch.nn.init, fill.__name__)
    for kw, name in [(dict(mode="fan_avg"), "mode"), (dict(nonlinearity="gelu"), "nonlinearity")]:
        with pytest.raises(ValueError, match=name):
            fill(np.empty((4, 3)), **kw)
        with pytest.raises(ValueError):
            torch_fill(torch.empty(4, 3), **kw)
    with pytest.raises(ValueError, match="param"):
        fill(np.empty((4, 3)), a="0.1")


BAD_CALLS = [
    (lambda: xavier_uniform_([[0.0, 0.0], [0.0, 0.0]]), TypeError, "array"),
    (lambda: kaiming_normal_(np.zeros((3, 3), dtype=int)), TypeError, "array"),
    (lambda: zeros_(np.zeros(3, dtype=np.int64)), TypeError, "array"),
    (lambda: xavier_normal_(np.zeros((3, 3)), rng=42), TypeError, "rng"),
    (lambda: uniform_(np.zeros(3), 1.0, 0.0), ValueError, "a <= b"),
    (lambda: normal_(np.zeros(3), std=-1.0), ValueError, "std"),
]


@pytest.mark.parametrize("call,error,words", BAD_CALLS)
def test_bad_arguments_raise(call, error, words):
    with pytest.raises(error, match=words):
        call()
