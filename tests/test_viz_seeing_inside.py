"""The saliency chapter's figures, animation and explorer build from cheap inputs, with the
panels they promise, and text a reader can read."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from dlbook.experiments.seeing_inside import METHODS, STAGES  # noqa: E402
from dlbook.viz import seeing_inside as vs  # noqa: E402
from dlbook.viz.legible import assert_legible  # noqa: E402

RNG = np.random.default_rng(0)


def _result(n=4, size=8):
    stages = list(STAGES) + ["shuffled labels"]
    maps = {s: {m: RNG.random((n, size, size)) for m in METHODS} for s in stages}
    model = {m: np.linspace(1, 0.2 if m != "gradient × input" else 0.95, len(STAGES))
             for m in METHODS}  # fmt: skip
    return dict(maps=maps, model=model, data={m: 0.5 for m in METHODS})


def test_filters_figure_draws_c1_and_the_c3_mosaic():
    fig = vs.filters_figure(RNG.normal(size=(6, 1, 5, 5)), RNG.normal(size=(16, 6, 5, 5)))
    assert len(fig.axes) == 2
    assert len(fig.axes[1].get_xticklabels()) == 16 and len(fig.axes[1].get_yticklabels()) == 6
    assert_legible(fig)
    plt.close(fig)


def test_channel_and_saliency_figures_have_a_row_per_unit_and_per_image():
    x = RNG.random((10, 1, 8, 8))
    tops = {"C3 ch. 1": [0, 1, 2], "score of 3": [3, 4, 5]}
    fig = vs.channel_figure(x, tops, {k: RNG.normal(size=(8, 8)) for k in tops})
    assert len(fig.axes) == 2 * 4
    assert fig.axes[-1].get_title() == "" and fig.axes[3].get_title() == "maximized"
    assert_legible(fig)
    plt.close(fig)
    maps = {m: RNG.random((3, 8, 8)) for m in METHODS}
    fig = vs.saliency_figure(x[:3], [1, 2, 3], maps, RNG.random((3, 8, 8)))
    assert [ax.get_title() for ax in fig.axes[:5]] == ["input", *METHODS, "edges (no network)"]
    assert_legible(fig)
    plt.close(fig)


def test_cascade_figures_plot_every_method_and_stage():
    r = _result()
    fig = vs.cascade_figure(r, STAGES)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(METHODS)
    assert len(ax.get_xticklabels()) == len(STAGES) + 1
    assert_legible(fig)
    plt.close(fig)
    fig = vs.cascade_maps_figure(r, index=1)
    assert len(fig.axes) == len(METHODS) * (len(STAGES) + 1)
    assert_legible(fig)
    plt.close(fig)


def test_animation_has_one_frame_per_snapshot():
    run = dict(frames=RNG.normal(size=(4, 8, 8)), steps=np.array([0, 5, 10, 12]),
               activation=np.linspace(0, 3, 13))  # fmt: skip
    anim = vs.maximization_animation(run, "unit")
    assert len(list(anim.new_frame_seq())) == 4
    assert_legible(anim._fig)
    plt.close(anim._fig)


def test_explorer_has_one_position_per_stage_and_closes_its_figures():
    r = _result()
    panel = vs.explorer(r, [0, 1, 2, 3])
    slider = panel.children[0].children[0]
    assert len(slider.options) == len(STAGES) + 1
    slider.value = "shuffled labels"
    assert "0.50" in panel.children[1].value  # the data randomization test's value
    assert plt.get_fignums() == []
