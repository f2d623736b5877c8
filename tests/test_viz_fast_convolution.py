"""The fast-convolution chapter's figures, animation, explorer and table build from cheap
inputs, with the lines and panels they promise, and text a reader can read."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from dlbook.experiments import fast_convolution as exp  # noqa: E402
from dlbook.viz import fast_convolution as vf  # noqa: E402
from dlbook.viz.legible import assert_legible  # noqa: E402


def _rows():
    rows = exp.arithmetic_rows(kernel_sizes=(3, 5, 7), channels=(2, 4), size=8, n=1)
    for r in rows:  # made-up times: the figures only draw them
        r["times"] = {"im2col": 1e-3 * r["k"] ** 2, "fft": 5e-3, "torch": 5e-4 * r["k"] ** 2}
        if r["k"] == 3:
            r["times"]["winograd"] = 2e-3
    return rows


def test_arithmetic_figure_has_a_panel_per_channel_count():
    fig = vf.arithmetic_figure(_rows())
    assert [ax.get_title() for ax in fig.axes] == ["2 channels in and out", "4 channels in and out"]
    assert len(fig.axes[0].lines) == 3  # direct, FFT, Winograd
    assert_legible(fig)
    plt.close(fig)


def test_time_figure_puts_time_beside_arithmetic_and_rate():
    fig = vf.time_figure(_rows(), c=4)
    time_ax, ops_ax, rate_ax = fig.axes
    assert len(time_ax.lines) == 4 and len(ops_ax.lines) == 3 and len(rate_ax.lines) == 4
    # the rate is operations / time: im2col at k = 5, 4 channels
    row = [r for r in _rows() if r["c"] == 4 and r["k"] == 5][0]
    want = row["flops"]["direct"] / row["times"]["im2col"] / 1e9
    assert rate_ax.lines[0].get_ydata()[1] == pytest.approx(want)
    assert_legible(fig)
    plt.close(fig)


def test_winograd_animation_has_a_frame_per_tile_and_the_right_output():
    image = np.arange(48.0).reshape(6, 8) % 7
    kernel = np.array([[1.0, 2, 0], [0, 1, -1], [2, 0, 1]])
    anim = vf.winograd_animation(image, kernel)
    frames = list(anim.new_frame_seq())
    assert len(frames) == 6  # (6 - 2) / 2 x (8 - 2) / 2 tiles
    anim._func(5)
    out = anim._fig.axes[4].images[0].get_array()
    want = np.array([[(image[i : i + 3, j : j + 3] * kernel).sum() for j in range(6)]
                     for i in range(4)])  # fmt: skip
    np.testing.assert_allclose(np.asarray(out), want, atol=1e-12)
    assert_legible(anim._fig)
    plt.close(anim._fig)
    with pytest.raises(ValueError, match="kernel"):
        vf.winograd_animation(image, np.ones((5, 5)))


def test_explorer_grid_and_devices_table(monkeypatch):
    monkeypatch.setenv("DLBOOK_EXPLORER_GRID", "full")
    panel = vf.explorer(_rows(), grid_k=(3, 7))
    assert 'data-positions="4"' in panel.static_html  # 2 kernel sizes x 2 channel counts
    table = vf.devices_table({"device": "cpu", "cpu": 0.01, "gpu": None, "gpu_autocast": None})
    assert table.data.count("not measured: no CUDA device (cpu)") == 2
    table = vf.devices_table({"device": "cuda", "cpu": 0.01, "gpu": 0.001, "gpu_autocast": 5e-4})
    assert "not measured" not in table.data and "20.0×" in table.data
    plt.close("all")
