"""The regularization chapter's figures, animation and explorer."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from dlbook.data.augment import Augment  # noqa: E402
from dlbook.experiments import regularization as reg  # noqa: E402
from dlbook.viz import regularization as vr  # noqa: E402
from dlbook.viz.common import to_html  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def poly():
    return reg.poly_problem()


def test_penalty_figure_draws_the_soft_threshold():
    fig = vr.penalty_figure(lam=1.0, step=0.5)
    assert len(fig.axes) == 3
    prox = [ln for ln in fig.axes[2].lines if ln.get_label() == "L1 proximal"][0]
    x, y = prox.get_data()
    np.testing.assert_allclose(y, np.sign(x) * np.maximum(np.abs(x) - 0.5, 0))


def test_geometry_figure_l1_optimum_is_a_corner():
    fig = vr.geometry_figure(center=(2.0, 1.0), budget=1.0)
    assert "(1, 0)" in fig.axes[0].get_title()
    assert "(1, 0)" not in fig.axes[1].get_title()


def test_weights_figure_counts_exact_zeros():
    w_true = np.r_[np.zeros(6), 2.0, -1.0]
    fits = {"a": np.r_[np.zeros(3), 1e-3, 0.1, 0.2, 2.0, -1.0], "b": np.linspace(0.1, 1, 8)}
    fig = vr.weights_figure(fits, w_true)
    heights = [ax.patches[-1].get_height() for ax in fig.axes]
    assert heights == [3, 0]
    assert "3 exact zeros" in fig.axes[0].get_title()


def test_path_figure_one_line_per_weight():
    lams = np.geomspace(0.01, 1, 5)
    paths = {"L1": np.zeros((5, 4)), "L2": np.ones((5, 4))}
    fig = vr.path_figure(lams, paths, np.array([1.0, 0, 0, 2.0]))
    assert [len(ax.lines) for ax in fig.axes] == [5, 5]  # 4 weights and the zero line


def test_poly_animation_has_one_frame_per_degree(poly):
    curve = reg.capacity_curve(poly, degrees=range(4))
    html = to_html(vr.poly_animation(poly, curve)).data
    assert 'data-frames="4"' in html


def test_capacity_and_decay_and_early_stopping_figures(poly):
    curve = reg.capacity_curve(poly, degrees=range(5))
    widths = [dict(width=w, train_acc=0.9, test_acc=0.8) for w in (2, 8)]
    fig = vr.capacity_figure(curve, widths)
    best = int(np.argmin(curve["test_mse"]))
    assert f"best degree {best}" in fig.axes[0].get_legend().get_texts()[-1].get_text()
    decay = {"scales": np.array([0.1, 1.0]), "adam": np.array([0.0, 0.5]), "adamw": np.ones(2)}
    fig = vr.decay_figure(decay, lr=0.01, weight_decay=0.1, steps=10)
    np.testing.assert_allclose(fig.axes[0].lines[2].get_ydata(), (1 - 1e-3) ** 10)

    class FakeHistory(list):
        best_epoch = 2

        def __getitem__(self, key):
            return [0.5, 0.6, 0.7] if key == "test_acc" else list.__getitem__(self, key)

    r = {"full": FakeHistory([1, 2, 3]), "stopped": FakeHistory([1, 2, 3])}
    fig = vr.early_stopping_figure({"x": r})
    assert [ln.get_xdata()[0] for ln in fig.axes[0].lines[1:]] == [3, 2]


def test_augment_examples_grid_and_weight_images():
    images = np.random.default_rng(0).random((2, 1, 8, 8)).astype(np.float32)
    fig = vr.augment_examples(images, Augment(shift=1, seed=0), copies=3)
    assert len(fig.axes) == 2 * 4
    np.testing.assert_array_equal(fig.axes[0].images[0].get_array(), images[0, 0])
    fig = vr.weight_images({"a": np.zeros((10, 64)), "b": np.ones((10, 64))})
    assert len(fig.axes) == 20


def test_explorer_grid_titles_count_zeros(poly):
    fig = vr.explorer_grid(poly, kinds=("L1", "L2"), lams=(10.0,), degree=6)
    assert "7 zeros" in fig.axes[0].get_title() and "0 zeros" in fig.axes[1].get_title()
    with pytest.raises(ValueError, match="kind"):
        vr.explorer_grid(poly, kinds=("L3",), lams=(1.0,))


def test_explorer_updates_when_a_slider_moves(poly):
    panel = vr.explorer(poly, kind="L2", lam=1e-3, degree=3)
    kind, lam, degree = panel.children[0].children
    info, picture = panel.children[1], panel.children[2]
    assert "of 4" in info.value and picture.value[:4] == b"\x89PNG"
    degree.value = 5
    assert "of 6" in info.value
    kind.value = "L1"
    lam.value = 10.0
    assert "zero coefficients 6 of 6" in info.value
