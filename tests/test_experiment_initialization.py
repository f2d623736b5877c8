"""The initialization chapter's measurements, against hand computations and torch."""

import math

import numpy as np
import pytest
import torch

from dlbook.data import Split
from dlbook.experiments import initialization as E
from dlbook.scratch.gradcheck import gradcheck


@pytest.mark.parametrize(
    "scheme, activation, std",
    [("small", "tanh", 0.01), ("large", "relu", 1.0), ("xavier", "tanh", math.sqrt(2 / 800)),
     ("kaiming", "relu", math.sqrt(2 / 300)), ("kaiming", "tanh", 5 / 3 / math.sqrt(300))],
)  # fmt: skip
def test_init_weight_has_the_scheme_std(scheme, activation, std):
    w = E.init_weight_(np.empty((500, 300)), scheme, activation, np.random.default_rng(0))
    assert w.std() == pytest.approx(std, rel=0.01)


def test_init_weight_zero_normal_and_scale():
    rng = np.random.default_rng(0)
    assert not E.init_weight_(np.ones((4, 4)), "zero").any()
    w = E.init_weight_(np.empty((400, 400)), "normal", std=0.5, rng=rng, scale=2.0)
    assert w.std() == pytest.approx(1.0, rel=0.01)


@pytest.mark.parametrize(
    "kwargs, word",
    [(dict(scheme="he"), "scheme"), (dict(scheme="normal"), "std"),
     (dict(scheme="xavier", activation="elu"), "activation")],
)  # fmt: skip
def test_init_weight_rejects_bad_arguments(kwargs, word):
    with pytest.raises(ValueError, match=word):
        E.init_weight_(np.empty((3, 3)), **kwargs)


def test_distinct_units_counts_rows():
    w = np.array([[1.0, 2.0], [1.0, 2.0], [0.0, 1.0]])
    assert E.distinct_units(w) == 2
    assert E.distinct_units(w, np.array([0.0, 1.0, 0.0])) == 3
    assert E.distinct_units(np.zeros((5, 3, 2, 2))) == 1


def _tiny_digits(n=120, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)
    x = rng.random((n, 1, 4, 4)) * 0.2 + (y[:, None, None, None] / 10)
    return Split(x[:90], y[:90], x[90:], y[90:], "tiny")


def test_symmetry_runs_equal_init_stays_one_unit():
    rows = E.symmetry_runs(_tiny_digits(), hidden=6, epochs=3)
    by = {r["scheme"]: r for r in rows}
    assert by["zero"]["distinct"] == 1 and by["zero"]["moved"] == 0.0  # tanh(0) = 0: stuck
    assert by["constant"]["distinct"] == 1 and by["constant"]["moved"] != 0.1  # moved, together
    assert by["xavier"]["distinct"] == 6
    assert by["zero"]["weight"].shape == (6, 16)


@pytest.mark.parametrize(
    "name, shape, kwargs, want",
    [("xavier_uniform_", (128, 256), {}, math.sqrt(6 / 384)),
     ("xavier_normal_", (64, 3, 3, 3), dict(gain=2.0), 2 * math.sqrt(2 / (27 + 576))),
     ("kaiming_uniform_", (10, 784), dict(a=math.sqrt(5)), 1 / math.sqrt(784)),
     ("kaiming_normal_", (32, 8, 3, 3), dict(mode="fan_out", nonlinearity="relu"),
      math.sqrt(2 / (32 * 9)))],
)  # fmt: skip
def test_init_scales_scratch_and_torch_equal_the_formula(name, shape, kwargs, want):
    assert E.scratch_init_scale(name, shape, **kwargs) == pytest.approx(want, rel=1e-12)
    assert E.torch_init_scale(name, shape, **kwargs) == pytest.approx(want, rel=1e-12)


def test_implied_scale_rejects_what_is_not_a_rescaled_draw():
    u = np.random.default_rng(0).uniform(-1, 1, 100)
    assert E.implied_scale(0.3 * u, u) == pytest.approx(0.3, rel=1e-15)
    with pytest.raises(ValueError, match="rescaled"):
        E.implied_scale(0.3 * u + 0.01, u)
    with pytest.raises(ValueError, match="name"):
        E.scratch_init_scale("uniform_", (3, 3))


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid", "linear"])
def test_mlp_backward_passes_gradcheck(activation):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 5))
    w1, w2 = rng.standard_normal((4, 5)), rng.standard_normal((5, 4))

    def forward(x, w1, w2):
        return E.mlp_forward(x, w1, w2, activation=activation)

    def backward(g, x, w1, w2):
        return E.mlp_backward(g, x, w1, w2, activation=activation)

    assert gradcheck(forward, backward, (x, w1, w2))


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_trace_equals_torch_autograd(activation):
    rng = np.random.default_rng(2)
    weights = [rng.standard_normal((8, 8)) / 2 for _ in range(6)]
    x, g = rng.standard_normal((5, 8)), rng.standard_normal((5, 8))
    hs, grads, weight_grads = E.trace(x, weights, activation, g)
    ths, tgrads = E.torch_trace(x, weights, activation, g)
    np.testing.assert_allclose(np.stack(hs), np.stack(ths), atol=1e-12)
    np.testing.assert_allclose(np.stack(grads), np.stack(tgrads), atol=1e-12)
    assert len(weight_grads) == 6 and weight_grads[0].shape == (8, 8)


def test_depth_statistics_follow_the_variance_formula():
    # Linear layers with std s: each layer multiplies the std by sqrt(width) * s, exactly in
    # expectation; 0.5 per layer here, so about 2**-10 after ten layers.
    st = E.depth_statistics("normal", "linear", depth=10, width=64, batch=256, std=0.5 / 8)
    assert st.act_std.shape == st.grad_std.shape == st.weight_grad_std.shape == (10,)
    assert st.samples.shape == (10, 2048)
    ratios = st.act_std[1:] / st.act_std[:-1]
    assert np.exp(np.log(ratios).mean()) == pytest.approx(0.5, rel=0.05)
    assert st.grad_std[0] / st.grad_std[-1] == pytest.approx(0.5**9, rel=0.3)
    zero = E.depth_statistics("zero", "relu", depth=3, width=8, batch=4)
    assert not zero.act_std.any() and not zero.grad_std.any()


def test_kaiming_keeps_relu_and_small_collapses():
    kaiming = E.depth_statistics("kaiming", "relu", depth=20, width=128, batch=128)
    small = E.depth_statistics("small", "relu", depth=20, width=128, batch=128)
    assert 0.2 < kaiming.act_std[-1] < 5
    assert small.act_std[-1] < 1e-20


def test_torch_depth_statistics_agree_with_numpy():
    torch.manual_seed(0)
    for scheme in ("xavier", "small"):
        ours = E.depth_statistics(scheme, "tanh", depth=8, width=128, batch=128)
        theirs = E.torch_depth_statistics(scheme, "tanh", depth=8, width=128, batch=128,
                                          device="cpu")  # fmt: skip
        np.testing.assert_allclose(np.log10(ours.act_std), np.log10(theirs.act_std), atol=0.15)
        np.testing.assert_allclose(np.log10(ours.grad_std), np.log10(theirs.grad_std), atol=0.2)
    default = E.torch_depth_statistics("default", "relu", depth=10, width=128, device="cpu")
    factor = (default.act_std[-1] / default.act_std[0]) ** (1 / 9)
    assert factor == pytest.approx(1 / math.sqrt(6), rel=0.1)  # U(±1/√n): std 1/√(3n), ReLU ½


def test_make_and_init_torch_mlp():
    model = E.make_torch_mlp(depth=3, width=16, activation="tanh", in_features=64)
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert [tuple(m.weight.shape) for m in linears] == [(16, 64), (16, 16), (16, 16), (10, 16)]
    E.init_torch_(model, "zero", "tanh")
    assert all(not m.weight.any() and not m.bias.any() for m in linears)
    E.init_torch_(model, "large", "tanh")
    assert linears[1].bias.abs().max() == 0 and linears[1].weight.std() > 0.5
    with pytest.raises(ValueError, match="scheme"):
        E.init_torch_(model, "he", "tanh")
    with pytest.raises(ValueError, match="activation"):
        E.make_torch_mlp(activation="gelu")


def test_train_grid_rows():
    data = _tiny_digits()
    rows = E.train_grid(data, schemes=("zero", "kaiming"), activations=("relu",), depth=2,
                        width=16, epochs=2, lr=0.01, device="cpu")  # fmt: skip
    assert [(r["scheme"], r["activation"]) for r in rows] == [("zero", "relu"), ("kaiming", "relu")]
    assert all(len(r["history"]) == 2 and 0 <= r["test_acc"] <= 1 for r in rows)


def test_initial_weight_grads_one_per_layer_zero_for_zero_init_tiny_for_small():
    data = _tiny_digits()
    zero = E.initial_weight_grads(data, "zero", depth=3, width=16, batch=32)
    assert zero.shape == (4,) and np.all(zero == 0)
    small = E.initial_weight_grads(data, "small", depth=3, width=16, batch=32)
    kaiming = E.initial_weight_grads(data, "kaiming", depth=3, width=16, batch=32)
    assert np.all(small > 0) and small.max() < kaiming.max() / 100
