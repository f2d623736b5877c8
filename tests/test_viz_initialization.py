"""The initialization chapter's figures draw what was measured."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from dlbook.experiments import initialization as E  # noqa: E402
from dlbook.train import History  # noqa: E402
from dlbook.viz import initialization as V  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def stats():
    return {
        (s, a): E.depth_statistics(s, a, depth=6, width=32, batch=32, keep=500)
        for a in E.ACTIVATIONS
        for s in E.SCHEMES
    }


def test_depth_figure_draws_every_nonzero_scheme(stats):
    fig = V.depth_figure(stats)
    axes = np.array(fig.axes).reshape(2, 3)
    assert all(len(ax.lines) == len(E.SCHEMES) - 1 for ax in axes.ravel())
    np.testing.assert_allclose(axes[1, 0].lines[3].get_ydata(), stats["kaiming", "relu"].act_std)
    np.testing.assert_allclose(axes[0, 1].lines[2].get_ydata(), stats["xavier", "tanh"].grad_std)


def test_hist_uses_fixed_bins_and_clips():
    values = np.array([-5.0, -0.5, 0.0, 0.5, 5.0])
    heights, edges = V._hist(values, "tanh")
    assert heights.sum() == pytest.approx(1.0) and heights[0] == heights[-1] == 0.2
    assert edges[0] == -1 and edges[-1] == 1
    relu_heights, _ = V._hist(np.array([0.0, 0.0, 1.0, 9.0]), "relu")  # zeros left out
    assert relu_heights.sum() == pytest.approx(1.0) and relu_heights[-1] == 0.5


def test_histogram_grid_and_animation(stats):
    fig = V.histogram_grid(stats, "relu", layers=(1, 3, 6))
    assert len(fig.axes) == 4 * 3
    anim = V.histogram_animation(stats, step=2)
    assert anim._save_count == 4  # layers 1, 3, 5 and the last, 6
    anim._func(3)
    panel = anim._fig.axes[0]  # small init, tanh, now at layer 6
    heights, _ = V._hist(stats["small", "tanh"].samples[5], "tanh")
    np.testing.assert_allclose(panel.patches[0].get_data().values, heights)
    assert "layer 6 of 6" in anim._fig.texts[0].get_text()
    plt.close(anim._fig)
    assert V.histogram_animation(stats, step=1)._save_count == 6


def test_gain_grid_one_line_per_multiplier():
    sweep = {
        (a, m): E.depth_statistics("kaiming", a, depth=4, width=16, batch=16, scale=m)
        for a in E.ACTIVATIONS
        for m in (0.5, 1, 2)
    }
    fig = V.gain_grid(sweep)
    assert [len(ax.lines) for ax in fig.axes] == [3, 3, 3, 3]


def test_unit_weights_and_training_figures():
    w = np.random.default_rng(0).standard_normal((4, 64))
    rows = [dict(scheme="xavier", weight=w, distinct=4, test_acc=0.9)]
    fig = V.unit_weights_figure(rows, units=3)
    assert len(fig.axes) == 1 and "4 distinct units" in fig.axes[0].get_title(loc="left")
    mosaic = fig.axes[0].images[0].get_array()
    assert mosaic.shape == (8, 3 * 8 + 2)  # three 8x8 units and two gap columns
    np.testing.assert_allclose(mosaic[:, 9:17], w[1].reshape(8, 8))
    history = History([dict(test_acc=0.5), dict(test_acc=0.7)])
    runs = [dict(scheme=s, activation="relu", history=history) for s in ("zero", "kaiming")]
    fig = V.training_figure(runs, activations=("relu",))
    labelled = [line.get_label() for line in fig.axes[0].lines if line.get_label()[0] != "_"]
    assert labelled == ["zero", "Kaiming"]  # plus the unlabelled chance line


def test_explorer_builds():
    pytest.importorskip("ipywidgets")
    panel = V.explorer(depth=5, width=32)
    info = panel.children[2]
    assert "last layer" in info.value
    panel.children[0].children[0].value = "zero"
    assert "0.00e+00" in info.value


def test_torch_numpy_figure_draws_torch_solid_and_numpy_dotted(stats):
    torch_stats = {(s, a): stats[s, a] for s in ("xavier", "kaiming") for a in E.ACTIVATIONS}
    torch_stats |= {("default", a): stats["small", a] for a in E.ACTIVATIONS}
    fig = V.torch_numpy_figure(torch_stats, stats, "cpu")
    assert len(fig.axes) == len(E.ACTIVATIONS)
    ax = fig.axes[0]
    # Three torch lines and, dotted, the two schemes NumPy measured too ("default" it did not).
    assert [line.get_label() for line in ax.lines] == [
        "Xavier (torch)", "Xavier (NumPy)", "Kaiming (torch)", "Kaiming (NumPy)",
        "PyTorch default (torch)",
    ]  # fmt: skip
    assert [line.get_linestyle() for line in ax.lines] == ["-", ":", "-", ":", "-"]
    np.testing.assert_allclose(ax.lines[1].get_ydata(), stats["xavier", E.ACTIVATIONS[0]].act_std)
    assert "torch on cpu" in ax.get_title()
