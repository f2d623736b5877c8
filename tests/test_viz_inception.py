"""dlbook.viz.inception: every figure, the animation and the explorer build from cheap inputs,
and their text is legible (at least 9 px in the book's column, dlbook.viz.legible)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from dlbook import nets  # noqa: E402
from dlbook.experiments import inception as exp  # noqa: E402
from dlbook.train import History  # noqa: E402
from dlbook.viz import inception as vi  # noqa: E402
from dlbook.viz.legible import assert_legible  # noqa: E402

RNG = np.random.default_rng(0)
IMAGE = RNG.random((3, 8, 8))


def _rows():
    h = History([{"test_acc": a} for a in (0.5, 0.7, 0.8)])
    return [
        dict(kind=k, seed=s, history=h, mult_adds=9e5)
        for k in ("inception", "plain")
        for s in (0, 1)
    ]


def figures():
    costs = exp.conv_costs(16, 16, mid=4, size=4)
    yield "mixing_figure", vi.mixing_figure(IMAGE, exp.COLOUR_MIX)
    yield "sweep_animation", vi.sweep_animation(IMAGE, exp.COLOUR_MIX, frames=3)._fig
    block = nets.InceptionBlock(16, 4, (4, 8), (2, 4), 4)
    yield "block_figure", vi.block_figure(block, exp.branch_table(block, (16, 6, 6)))
    yield "cost_figure", vi.cost_figure(costs, {"direct": 2.0, "bottleneck": 0.5})
    yield "curves_figure", vi.curves_figure(_rows())
    yield "cost_panel", vi._cost_panel(64, 16, 5)


@pytest.mark.parametrize(
    "name, fig", list(figures()), ids=lambda v: v if isinstance(v, str) else ""
)
def test_figure_is_legible(name, fig):
    try:
        assert_legible(fig)
    finally:
        plt.close(fig)


def test_bottleneck_costs_by_hand():
    direct, parts = vi.bottleneck_costs(256, 64, 3)
    assert direct == 589_824 and parts == (16_384, 36_864, 16_384)


def test_sweep_animation_fills_the_output_pixel_by_pixel():
    anim = vi.sweep_animation(IMAGE, exp.COLOUR_MIX, frames=4)
    view = anim._fig.axes[2].images[0]
    anim._func(1)
    filled = np.isfinite(view.get_array()).sum()
    anim._func(3)
    assert filled < np.isfinite(view.get_array()).sum() == 64
    plt.close(anim._fig)


def test_explorer_builds_with_its_grid(monkeypatch):
    monkeypatch.setenv("DLBOOK_EXPLORER_GRID", "full")
    panel = vi.explorer(channels=32, mid=16, kernel_size=3)
    assert 'data-positions="10"' in panel.static_html
    assert "mid" in panel.summary
