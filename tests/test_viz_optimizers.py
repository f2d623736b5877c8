"""The optimizers chapter's figures, animation and explorer draw what the experiments computed."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from dlbook.experiments import optimizers as E  # noqa: E402
from dlbook.train import History  # noqa: E402
from dlbook.viz import optimizers as V  # noqa: E402
from dlbook.viz.common import to_html  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def panels():
    rb, qu = E.rosenbrock(), E.quadratic()
    return [(rb, E.paths(rb, E.ROSENBROCK_LRS, 60)), (qu, E.paths(qu, E.QUADRATIC_LRS, 30))]


def _path_lines(ax):
    return [line for line in ax.lines if line.get_label() and not line.get_label().startswith("_")]


def test_every_optimizer_has_its_own_colour():
    assert set(V.COLOURS) == set(E.OPTIMIZERS)
    assert len(set(V.COLOURS.values())) == len(E.OPTIMIZERS)


def test_paths_figure_one_row_per_family(panels):
    fig = V.paths_figure(panels)
    axes = np.array(fig.axes).reshape(2, 2)
    for i, family in enumerate(V.FAMILIES):
        for j, (_, paths) in enumerate(panels):
            lines = _path_lines(axes[i, j])
            assert [line.get_label().split(" (")[0] for line in lines] == list(family)
            for line, name in zip(lines, family):
                np.testing.assert_array_equal(line.get_xydata(), paths[name][1])
    assert "lr 0.001" in _path_lines(axes[0, 0])[0].get_label()


def test_loss_figure_plots_the_gap_to_the_minimum(panels):
    fig = V.loss_figure(panels)
    surface, paths = panels[1]
    line = _path_lines(fig.axes[1])[0]
    np.testing.assert_allclose(line.get_ydata(), surface.f(paths["SGD"][1].T))


def test_animation_frames_end_on_the_whole_path(panels):
    anim = V.paths_animation(panels, frames=5)
    assert anim._save_count == 5
    anim._func(4)
    drawn = [line for ax in anim._fig.axes for line in _path_lines(ax)]
    assert len(drawn) == 2 * len(E.OPTIMIZERS)
    np.testing.assert_array_equal(drawn[0].get_xydata(), panels[0][1]["SGD"][1])
    anim._func(0)
    assert len(drawn[0].get_xydata()) == 1
    small = [(panels[1][0], {"SGD": panels[1][1]["SGD"]})]
    html = to_html(V.paths_animation(small, families=(("SGD",),), frames=2)).data
    assert 'data-frames="2"' in html
    with pytest.raises(ValueError, match="frames"):
        V.paths_animation(panels, frames=1)


def test_sensitivity_figure_rings_the_chosen_rates():
    sweep = {"SGD": {1e-3: 2.0, 1e-2: 0.5, 1e-1: np.inf}, "Adam": {1e-3: 3.0, 1e-2: 1e-20}}
    fig = V.sensitivity_figure({"surface": sweep}, {"surface": {"SGD": 1e-2, "Adam": 1e-2}})
    ax = fig.axes[0]
    rings = [line for line in ax.lines if line.get_markerfacecolor() == "none"]
    assert [tuple(r.get_xydata()[0]) for r in rings] == [(1e-2, 0.5), (1e-2, 1e-12)]
    sgd = _path_lines(ax)[0]
    assert sgd.get_ydata()[-1] == pytest.approx(30.0)  # a blow-up sits on the top line


def test_momentum_grid_titles_say_what_happened():
    fig = V.momentum_grid(E.quadratic(), lrs=(0.01, 0.05), momenta=(0.0, 0.9), steps=20)
    titles = [ax.get_title() for ax in fig.axes]
    assert len(titles) == 4
    assert "diverged" in titles[1] and "rate 4.00" in titles[1]  # |1 - 0.05 * 100|
    assert "distance" in titles[0] and "rate 0.99" in titles[0]


def test_explorer_redraws_on_a_slider_move():
    panel = V.explorer(lr=0.01, momentum=0.0)
    (w_lr, w_mu, w_nest), info, picture = panel.children[0].children, *panel.children[1:]
    assert picture.value[:4] == b"\x89PNG"
    assert "rate 0.99" in info.value
    w_lr.value = 0.05
    assert "diverged" in info.value
    w_lr.value, w_mu.value, w_nest.value = 0.015, 0.9, True
    assert "> 1: diverging" in info.value  # Nesterov's limit is tighter than heavy ball's
    w_nest.value = False
    assert "distance" in info.value


def test_decay_figure_draws_each_weight():
    demo = E.decay_demo(steps=20, runs=4)
    fig = V.decay_figure(demo, (10.0, 1.0, 0.01), lr=0.01, weight_decay=0.1)
    assert len(fig.axes) == 3
    lines = _path_lines(fig.axes[2])
    np.testing.assert_array_equal(lines[0].get_ydata(), demo["Adam, L2 in the loss"][:, 2])
    np.testing.assert_allclose(lines[-1].get_ydata(), 0.999 ** np.arange(21))


def test_curves_figure_plots_the_mean_over_seeds():
    def history(accs):
        return History([{"test_acc": a, "train_loss": 1.0 - a} for a in accs])

    runs = {"SGD": [history([0.5, 0.7]), history([0.7, 0.9])], "Adam": [history([0.8, 0.9])]}
    fig = V.curves_figure(runs, {"SGD": dict(lr=0.1), "Adam": dict(lr=1e-3)})
    line = _path_lines(fig.axes[0])[0]
    np.testing.assert_allclose(line.get_ydata(), [60.0, 80.0])
    assert line.get_label() == "SGD (lr 0.1)"
    assert "2 seeds" in fig._suptitle.get_text()
