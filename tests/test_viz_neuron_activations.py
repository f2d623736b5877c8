"""The activations chapter's figures: they draw what they are given, where it belongs."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from dlbook.experiments import neuron_activations as E  # noqa: E402
from dlbook.viz import neuron_activations as V  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_activation_grid_plots_each_function_and_its_derivative():
    x = np.linspace(-3, 3, 61)
    fig = V.activation_grid(names=("sigmoid", "relu"), x=x)
    sig, rel, soft = fig.axes[:3]
    np.testing.assert_allclose(sig.lines[0].get_ydata(), 1 / (1 + np.exp(-x)))
    np.testing.assert_allclose(rel.lines[1].get_ydata(), (x > 0).astype(float))
    assert sig.get_title() == "sigmoid σ" and "softmax" in soft.get_title()
    # the softmax panel: three probabilities summing to 1, and d p1 / d z = p1 (1 - p1)
    p = np.stack([line.get_ydata() for line in soft.lines[:3]])
    np.testing.assert_allclose(p.sum(0), 1)
    np.testing.assert_allclose(soft.lines[3].get_ydata(), p[0] * (1 - p[0]))
    assert not fig.axes[3].axison  # the spare panel is blank


def test_shading_covers_only_the_flat_tails():
    x = np.linspace(-5, 5, 101)
    fig, ax = plt.subplots()
    V._shade_small(ax, x, E.derivative("gelu", x), 0.01)
    (band,) = ax.collections
    xs = band.get_paths()[0].vertices[:, 0]
    # GELU's derivative is 0 at its minimum near -0.75 too, but only the left tail is shaded
    assert xs.min() == pytest.approx(-5) and xs.max() < -2.5


def test_neuron_plane_draws_z_and_the_activations():
    fig = V.neuron_plane([1.0, 2.0], -1.0, names=("identity", "relu"))
    ax_z, ax_r = [ax for ax in fig.axes if ax.images]
    z = ax_z.images[0].get_array()
    assert z.shape == (201, 201)
    # the bottom-left corner is x = (-3, -3): z = -3 - 6 - 1 = -10, relu(z) = 0
    assert z[0, 0] == pytest.approx(-10) and ax_r.images[0].get_array()[0, 0] == 0
    assert ax_r.images[0].get_array().min() == 0


def test_gradient_profiles_one_line_per_profile_with_its_ratio():
    profiles = [E.deep_gradients(a, depth=5, width=8, batch=4) for a in ("sigmoid", "relu")]
    fig = V.gradient_profiles(profiles)
    ax = fig.axes[0]
    assert len(ax.lines) == 2 and ax.get_yscale() == "log"
    np.testing.assert_allclose(ax.lines[0].get_ydata(), profiles[0].weight_norms)
    assert f"{profiles[1].ratio:.1e}" in ax.lines[1].get_label()
    assert "5 layers" in ax.get_title()


def test_draw_units_sum_and_error():
    fig, ax = plt.subplots()
    x = np.linspace(0, 1, 5)
    err = V.draw_units(ax, "relu", lambda t: t, 0, 1, 3, x=x)
    assert err == pytest.approx(0, abs=1e-12)  # a line is interpolated exactly
    np.testing.assert_allclose(ax.lines[-1].get_ydata(), x)
    assert len(ax.lines) == 3 + 2  # three units, the target, the sum
    with pytest.raises(ValueError, match="kind"):
        V.draw_units(ax, "tanh", np.sin, 0, 1, 3)


def test_approximation_animation_frames():
    anim = V.approximation_animation(np.sin, -3, 3, [1, 4, 8])
    assert anim._save_count == 3
    anim._func(2)
    relu_ax, sig_ax = anim._fig.axes
    assert len(relu_ax.collections[0].get_segments()) == 8
    assert relu_ax.get_title().startswith("8 ReLU units")
    assert sig_ax.get_title().startswith("8 sigmoid units")
    with pytest.raises(ValueError, match="40"):
        V.approximation_animation(np.sin, -3, 3, range(1, 42))
    plt.close(anim._fig)


def test_approximation_errors_figure():
    ns = [2, 4, 8]
    errors = E.approximation_errors(np.sin, -3, 3, ns)
    ax = V.approximation_errors_figure(ns, errors).axes[0]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), errors["relu"])
    assert ax.get_xscale() == "log" and len(ax.lines) == 4


def test_neuron_1d_explorer_and_grid():
    fig, ax = plt.subplots()
    V.draw_neuron_1d(ax, "relu", 2.0, -1.0, x=np.array([0.0, 1.0]))
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [0.0, 1.0])  # relu(2x - 1)
    np.testing.assert_allclose(ax.lines[1].get_ydata(), [0.0, 2.0])  # slope w relu'(2x - 1)
    fig = V.explorer_grid(names=("sigmoid", "relu"), settings=((1, 0), (2, 1), (-1, 0)))
    assert len(fig.axes) == 6 and fig.axes[4].get_title() == "ReLU, w = 2, b = 1"
    panel = V.explorer(names=("tanh", "relu"))
    picture = panel.children[1]
    before = picture.value
    assert before[:4] == b"\x89PNG"
    panel.children[0].children[1].value = 3.0  # move the weight slider: a new picture
    assert picture.value != before


def test_unit_lines_and_dead_units_figure():
    x = np.array([[0.0, 0.0], [1.0, 1.0]])
    weight = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]])
    bias = np.array([-0.5, 2.0, -3.0])  # unit 0 crosses the data, 1 is positive, 2 is dead
    fig, ax = plt.subplots()
    assert V.unit_lines(ax, weight, bias, x) == 1
    dead_line = ax.lines[2]
    assert dead_line.get_linestyle() == "--"
    np.testing.assert_allclose(dead_line.get_xdata() + dead_line.get_ydata(), -3.0)
    fig = V.dead_units_figure(x, np.array([0, 1]), {"a": (weight, bias), "b": (weight, bias + 5)})
    assert "1 of 3 units" in fig.axes[0].get_title() and "0 of 3" in fig.axes[1].get_title()


def test_lr_sweep_figure_and_training_curves():
    rows = [{"lr": 0.1, "dead": 0.1, "test_acc": 0.9}, {"lr": 1.0, "dead": 0.5, "test_acc": 0.6}]
    ax, bx = V.lr_sweep_figure({"relu": rows}).axes
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [10, 50])
    np.testing.assert_allclose(bx.lines[0].get_ydata(), [90, 60])

    class Hist:
        def __getitem__(self, key):
            return [0.5, 0.8, 0.95]

    ax = V.training_curves({"tanh": Hist()}, threshold=0.9).axes[0]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [50, 80, 95])
    assert ax.lines[1].get_ydata()[0] == pytest.approx(90)


def test_activation_lr_figure_draws_the_seed_mean_and_rings_the_best():
    class H:
        def __init__(self, acc):
            self.final = {"val_acc": acc}

    sweep = {"relu": {0.1: [H(0.8), H(0.9)], 1.0: [H(0.5), H(0.7)]}}
    ax = V.activation_lr_figure(sweep, best={"relu": 0.1}).axes[0]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [85, 60])
    ring = ax.lines[-1]
    assert ring.get_xdata()[0] == 0.1 and ring.get_ydata()[0] == pytest.approx(85)
    assert ax.get_xscale() == "log"
