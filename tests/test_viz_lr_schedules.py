"""The learning-rate schedules chapter's figures, animation and explorer build from cheap
inputs, with the lines and panels they promise, and text a reader can read."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from dlbook.experiments import lr_schedules as exp  # noqa: E402
from dlbook.viz import lr_schedules as vs  # noqa: E402
from dlbook.viz.legible import assert_legible  # noqa: E402


def _runs(steps=12, seeds=2):
    runs = {}
    for k, name in enumerate(exp.SCHEDULES):
        rs = []
        for s in range(seeds):
            lrs = exp.scratch_rates(name, steps, 0.05)["lr"][:-1]
            losses = np.geomspace(2.3, 0.1 + 0.05 * k + 0.01 * s, steps)
            acc = np.array([0.9 - 0.01 * k])
            rs.append(dict(lrs=lrs, losses=losses, train_loss=np.array([0.2]), test_acc=acc))
        runs[name] = rs
    return runs


def test_smooth_is_a_bias_corrected_average():
    np.testing.assert_allclose(vs.smooth(np.full(5, 3.0)), 3.0)
    assert vs.smooth([1.0, 0.0])[1] < 1.0


def test_schedules_figure_has_a_line_per_schedule():
    rates = {name: exp.scratch_rates(name, 20, 1.0)["lr"] for name in exp.SCHEDULES}
    fig = vs.schedules_figure(rates, 1.0)
    assert len(fig.axes[0].lines) == len(exp.SCHEDULES)
    assert len(fig.axes[0].lines[0].get_xdata()) == 20  # the unused last rate left out
    assert fig.axes[1].get_yscale() == "log"
    assert_legible(fig)
    plt.close(fig)


def test_range_figure_marks_the_rates():
    class Test:
        lrs = np.geomspace(1e-5, 1, 30)
        smoothed = np.linspace(2.3, 1.0, 30)
        lr_at_min = 1.0

    fig = vs.range_figure(Test, {"high": 0.05, "low": 0.0125})
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "high: 0.05" in labels and "low: 0.0125" in labels
    assert_legible(fig)
    plt.close(fig)


def test_results_figure_has_a_column_per_rate():
    fig = vs.results_figure({0.05: _runs(), 0.0125: _runs()})
    assert len(fig.axes) == 4
    assert len(fig.axes[0].lines) == len(exp.SCHEDULES)
    assert_legible(fig)
    plt.close(fig)


def test_animation_and_explorer():
    anim = vs.loss_animation(_runs(), 0.05, frames=4)
    assert len(list(anim.new_frame_seq())) == 4
    assert_legible(anim._fig)
    plt.close(anim._fig)
    panel = vs.explorer({0.05: _runs(), 0.0125: _runs()})
    picture = panel.children[-1]
    before = picture.value
    panel.children[1].children[0].value = 0.0125
    assert picture.value != before
    plt.close("all")


def test_overfit_table():
    html = vs.overfit_table({0.1: np.array([[100.0, 90.0], [99.0, 91.0]])}).data
    assert "100.0, 99.0" in html and "9.0" in html
