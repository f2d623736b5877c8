"""The Why convolution chapter's figures, animation and explorer build from cheap inputs, show
what they promise, and have text a reader can read."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from dlbook.experiments import why_convolution as exp  # noqa: E402
from dlbook.viz import why_convolution as vw  # noqa: E402
from dlbook.viz.legible import assert_legible  # noqa: E402

SOBEL = np.array([[1.0, 0, -1], [2, 0, -2], [1, 0, -1]])


def test_parameters_figure_has_three_lines_and_the_convolution_is_flat():
    fig = vw.parameters_figure(sides=(8, 16, 32))
    lines = fig.axes[0].get_lines()
    assert len(lines) == 3
    assert len(set(lines[2].get_ydata())) == 1  # the convolution's count does not grow
    assert_legible(fig)
    plt.close(fig)


def test_equivariance_figure_difference_lives_at_the_borders(rng):
    x = rng.random((20, 20))
    fig = vw.equivariance_figure(x, SOBEL, d=4, padding=1)
    diff = fig.axes[4].get_images()[0].get_array()
    assert np.abs(diff[:, 5:-1]).max() <= 1e-12 and np.abs(diff).max() > 0
    assert_legible(fig)
    plt.close(fig)


def test_shift_animation_has_a_frame_per_shift(rng):
    anim = vw.shift_animation(rng.random((16, 16)), SOBEL, shifts=range(4))
    assert len(list(anim.new_frame_seq())) == 4
    assert_legible(anim._fig)
    plt.close(anim._fig)


def test_sensitivity_figure_and_explorer():
    res = {h: {d: dict(change=0.1 * d, flipped=0.0, accuracy=90 - d) for d in range(5)}
           for h in ("gap", "flatten")}  # fmt: skip
    fig = vw.sensitivity_figure(res)
    assert len(fig.axes) == 2 and len(fig.axes[0].get_lines()) == 3  # two nets, the stride
    assert_legible(fig)
    plt.close(fig)
    panel = vw.explorer(exp.make_net("gap").eval(), np.ones((1, 16, 16), np.float32))
    assert "shift" in panel.summary and "layer" in panel.summary
    assert "relative error of the best whole-pixel shift" in panel.children[-2].value
