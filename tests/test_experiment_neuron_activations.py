"""The activations chapter's measurements: numbers checked against hand computations."""

import numpy as np
import pytest
import torch

from dlbook.experiments import neuron_activations as E
from dlbook.scratch import linear, relu, sigmoid

torch.set_num_threads(1)


def test_registry_forward_and_derivative_match_the_formulas():
    x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    s = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(E.forward("sigmoid", x), s)
    np.testing.assert_allclose(E.derivative("sigmoid", x), s * (1 - s))
    np.testing.assert_allclose(E.derivative("tanh", x), 1 - np.tanh(x) ** 2)
    np.testing.assert_array_equal(E.derivative("relu", x), [0, 0, 0, 1, 1])
    np.testing.assert_allclose(E.derivative("leaky_relu", x), [0.01, 0.01, 0.01, 1, 1])
    np.testing.assert_allclose(E.derivative("elu", x)[:3], np.exp([-2.0, -0.5, 0.0]))
    with pytest.raises(ValueError, match="activation"):
        E.forward("softplus", x)


def test_collapse_linear_is_one_layer():
    rng = np.random.default_rng(0)
    Ws = [rng.standard_normal((5, 3)), rng.standard_normal((4, 5)), rng.standard_normal((2, 4))]
    bs = [rng.standard_normal(5), rng.standard_normal(4), rng.standard_normal(2)]
    x = rng.standard_normal((7, 3))
    h = x
    for W, b in zip(Ws, bs):
        h = linear(h, W, b)
    W, b = E.collapse_linear(Ws, bs)
    assert W.shape == (2, 3) and b.shape == (2,)
    np.testing.assert_allclose(linear(x, W, b), h, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="same length"):
        E.collapse_linear(Ws, bs[:2])


def test_saturation_points_solve_the_closed_forms():
    # sigma' = s(1 - s) = 0.01 at s = (1 + sqrt(0.96)) / 2; tanh' = 1 - t^2 = 0.01 at t = sqrt(0.99)
    s = (1 + np.sqrt(0.96)) / 2
    assert E.saturation_point("sigmoid") == pytest.approx(np.log(s / (1 - s)), abs=1e-9)
    assert E.saturation_point("tanh") == pytest.approx(np.arctanh(np.sqrt(0.99)), abs=1e-9)
    with pytest.raises(ValueError, match="level"):
        E.saturation_point("sigmoid", level=0.3)  # above the maximum 1/4
    with pytest.raises(ValueError, match="activation"):
        E.saturation_point("relu")


def test_deep_gradients_chain_rule_by_hand_matches_torch_autograd():
    depth, width, batch = 4, 6, 5
    p = E.deep_gradients("tanh", depth=depth, width=width, batch=batch, seed=3)
    # rebuild the same draws and let autograd do the backward pass
    rng = np.random.default_rng(3)
    Ws = [torch.tensor(rng.standard_normal((width, width)) / np.sqrt(width), requires_grad=True)
          for _ in range(depth)]  # fmt: skip
    h = torch.tensor(rng.standard_normal((batch, width)))
    for W in Ws:
        h = torch.tanh(h @ W.T)
    g = torch.tensor(rng.standard_normal((batch, width)) / batch)
    h.backward(g)
    expected = [W.grad.norm().item() for W in Ws]
    np.testing.assert_allclose(p.weight_norms, expected, rtol=1e-10)
    assert p.ratio == pytest.approx(expected[0] / expected[-1])
    assert p.factor == pytest.approx(p.ratio ** (1 / 3))
    with pytest.raises(ValueError, match="depth"):
        E.deep_gradients("relu", depth=1)


def test_sigmoid_gradient_vanishes_by_at_most_a_quarter_per_layer():
    p = E.deep_gradients("sigmoid", depth=12, width=32, batch=64)
    assert p.factor < 0.25 and p.ratio < 0.25**8
    r = E.deep_gradients("relu", depth=12, width=32, batch=64)
    assert 0.1 < r.ratio < 10


def test_relu_interpolant_is_exact_at_the_knots_and_linear_between():
    def f(x):
        return np.sin(x)

    t, c, c0 = E.relu_interpolant(f, -2.0, 2.0, 4)
    knots = np.linspace(-2, 2, 5)
    np.testing.assert_allclose(t, knots[:-1])

    def net(x):
        return c0 + relu(np.asarray(x, float)[:, None] - t) @ c

    np.testing.assert_allclose(net(knots), f(knots), atol=1e-12)
    mid = (knots[1] + knots[2]) / 2
    assert net([mid])[0] == pytest.approx((f(knots[1]) + f(knots[2])) / 2)
    with pytest.raises(ValueError, match="n must"):
        E.relu_interpolant(f, 0, 1, 0)


def test_sigmoid_staircase_steps_and_error_rates():
    def f(x):
        return x**2

    m, c, c0, s = E.sigmoid_staircase(f, 0.0, 1.0, 2)
    np.testing.assert_allclose(m, [0.25, 0.75])
    np.testing.assert_allclose(c, [0.25, 0.75])  # f(0.5) - f(0), f(1) - f(0.5)
    assert c0 == 0 and s == pytest.approx(16)
    g_end = c0 + sigmoid(s * (1.0 - m)) @ c
    assert g_end == pytest.approx(1.0, abs=0.02)
    ns = np.array([16, 32, 64, 128])
    err = E.approximation_errors(np.sin, -3, 3, ns)
    assert np.polyfit(np.log(ns), np.log(err["relu"]), 1)[0] == pytest.approx(-2, abs=0.15)
    assert np.polyfit(np.log(ns), np.log(err["sigmoid"]), 1)[0] == pytest.approx(-1, abs=0.15)


def test_moons_split_and_mlp_layout():
    data = E.moons(n=200)
    assert data.x_train.shape == (150, 2) and data.x_test.shape == (50, 2)
    assert data.x_train.dtype == np.float32 and data.y_train.dtype == np.int64
    np.testing.assert_allclose(data.x_train.mean(0), 0, atol=1e-5)
    model = E.make_mlp("leaky_relu", sizes=(2, 8, 3))
    assert [type(m).__name__ for m in model] == ["Flatten", "Linear", "LeakyReLU", "Linear"]
    assert model[2].negative_slope == 0.01
    same = E.make_mlp("relu", sizes=(2, 8, 3))
    assert torch.equal(model[1].weight, same[1].weight)  # seeded: same weights for every activation
    with pytest.raises(ValueError, match="sizes"):
        E.make_mlp("relu", sizes=(2,))


def test_dead_fractions_counts_units_negative_everywhere():
    model = E.make_mlp("relu", sizes=(2, 4, 2))
    with torch.no_grad():
        model[1].weight.copy_(torch.tensor([[1.0, 0], [-1.0, 0], [0, 1.0], [0, 0]]))
        model[1].bias.copy_(torch.tensor([0.0, -5.0, 0.5, -1.0]))
    x = np.array([[1.0, -1.0], [2.0, 0.0], [-1.0, 1.0]], dtype=np.float32)
    # unit 0: 1, 2, -1 (alive); 1: -6, -7, -4 (dead); 2: -0.5, 0.5, 1.5 (alive); 3: -1 (dead)
    assert E.dead_fractions(model, x) == [0.5]


def test_dead_relu_units_never_move_and_leaky_ones_do():
    data = E.moons(n=200)
    relu_run = E.dead_unit_run("relu", shift=1.5, epochs=2, data=data)
    leaky_run = E.dead_unit_run("leaky_relu", shift=1.5, epochs=2, data=data)
    assert relu_run["dead_before"] > 0.3
    assert relu_run["max_change_of_dead"] == 0.0
    assert relu_run["dead_after"] >= relu_run["dead_before"]
    assert leaky_run["max_change_of_dead"] > 0
    np.testing.assert_array_equal(relu_run["before"][0], leaky_run["before"][0])


def test_lr_sweep_and_training_comparison():
    data = E.moons(n=200)
    rows = E.lr_sweep("relu", [0.1, 1.0], epochs=2, data=data)
    assert [r["lr"] for r in rows] == [0.1, 1.0]
    assert all(0 <= r["dead"] <= 1 and 0 <= r["test_acc"] <= 1 for r in rows)
    hist = E.compare_activations(data, ["tanh", "relu"], sizes=(2, 8, 2), epochs=3, lr=0.1)
    assert list(hist) == ["tanh", "relu"] and all(len(h) == 3 for h in hist.values())
    h = hist["tanh"]
    acc = h["test_acc"]
    assert E.epochs_to(h, min(acc)) == int(np.argmax(np.asarray(acc) >= min(acc))) + 1
    assert E.epochs_to(h, 1.01) is None


def test_sweep_activations_and_best_learning_rates():
    data = E.moons(n=200)
    sweep = E.sweep_activations(
        data, ["tanh", "relu"], (2, 8, 2), [0.01, 0.3], epochs=2, seeds=(0, 1)
    )
    assert list(sweep) == ["tanh", "relu"]
    for by_lr in sweep.values():
        assert list(by_lr) == [0.01, 0.3]
        for runs in by_lr.values():
            assert len(runs) == 2
            for h in runs:
                assert len(h["val_acc"]) == len(h["test_acc"]) == 2
    # the same seed gives the same run; another seed another split and start
    again = E.sweep_activations(data, ["tanh"], (2, 8, 2), [0.3], epochs=2, seeds=(0,))
    assert again["tanh"][0.3][0]["val_acc"] == sweep["tanh"][0.3][0]["val_acc"]
    best = E.best_learning_rates(sweep)
    for name, by_lr in sweep.items():
        score = {lr: np.mean([h.final["val_acc"] for h in runs]) for lr, runs in by_lr.items()}
        assert score[best[name]] == max(score.values())


def test_best_learning_rates_prefers_the_smaller_of_equals():
    class H:
        def __init__(self, acc):
            self.final = {"val_acc": acc}

    sweep = {"relu": {0.1: [H(0.75), H(0.25)], 0.3: [H(0.5), H(0.5)], 1.0: [H(0.25), H(0.25)]}}
    assert E.best_learning_rates(sweep) == {"relu": 0.1}
    with pytest.raises(ValueError, match="val_fraction"):
        E.sweep_activations(E.moons(n=100), ["relu"], (2, 4, 2), [0.1], val_fraction=0.0)
    with pytest.raises(ValueError, match="activation"):
        E.sweep_activations(E.moons(n=100), ["softplus"], (2, 4, 2), [0.1])


def test_torch_cases_pair_each_scratch_activation_with_its_torch_twin():
    cases = E.torch_cases()
    assert {"relu", "gelu, tanh form", "softmax", "log_softmax"} <= set(cases)
    x = np.linspace(-3, 3, 12).reshape(3, 4)
    g = np.random.default_rng(0).standard_normal(x.shape)
    for name, (f, f_backward, f_torch, kw) in cases.items():
        xt = torch.tensor(x, requires_grad=True)
        out = f_torch(xt, **kw)
        out.backward(torch.from_numpy(g))
        np.testing.assert_allclose(f(x, **kw), out.detach().numpy(), atol=1e-10, err_msg=name)
        np.testing.assert_allclose(
            f_backward(g, x, **kw), xt.grad.numpy(), atol=1e-10, err_msg=name
        )
    # Non-default parameters, so that a hard-coded default would show.
    assert cases["elu"][3] == {"alpha": 1.5} and cases["leaky_relu"][3] == {"negative_slope": 0.1}
