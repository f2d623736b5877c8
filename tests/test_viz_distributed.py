"""The distributed chapter's figures, animation and explorer build from cheap inputs, with the
panels and labels they promise, and text a reader can read."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from dlbook.experiments import distributed as exp  # noqa: E402
from dlbook.viz import distributed as vd  # noqa: E402
from dlbook.viz.legible import assert_legible  # noqa: E402


def test_ring_figure_shows_the_sums_at_the_end():
    fig = vd.ring_figure(exp.ring_trace(4))
    assert len(fig.axes) == 3
    assert "reduce-scatter" in fig.axes[1].get_title()
    last = [t.get_text() for t in fig.axes[2].texts]
    assert last.count("Σ") == 16  # every rank holds every chunk's whole sum
    assert [t.get_text() for t in fig.axes[1].texts].count("Σ") == 4  # one per rank
    assert_legible(fig)
    plt.close(fig)


def test_ring_animation_has_one_frame_per_step():
    anim = vd.ring_animation(exp.ring_trace(3))
    assert len(list(anim.new_frame_seq())) == 5  # start + 2 (p - 1) steps
    assert_legible(anim._fig)
    plt.close(anim._fig)


def test_buckets_and_losses_figures():
    steps = [[("ready", "2.bias", 8), ("ready", "0.weight", 64), ("all-reduce", 0,
              ["2.bias", "0.weight"], 72)],
             [("ready", "2.bias", 8), ("all-reduce", 0, ["2.bias"], 8),
              ("ready", "0.weight", 64), ("all-reduce", 1, ["0.weight"], 64)]]  # fmt: skip
    fig = vd.buckets_figure(steps)
    assert len(fig.axes) == 2
    texts = [t.get_text() for t in fig.axes[1].texts]
    assert "bucket 1\n64 B" in texts and "0.weight" in texts
    assert_legible(fig)
    plt.close(fig)
    fig = vd.losses_figure([[2.3, 2.2], [2.1, 2.0]], [2.2, 2.1])
    assert len(fig.axes[0].get_legend().get_texts()) == 4
    assert np.allclose(fig.axes[0].lines[2].get_ydata(), [2.2, 2.1])
    assert_legible(fig)
    plt.close(fig)


def test_explorer_switches_algorithm():
    table = {(p, a): exp.traffic(p, 1e8, a) for p in (2, 4) for a in ("ring", "central")}
    panel = vd.traffic_explorer(table)
    picture, info = panel.children[-1], panel.children[-2]
    before = picture.value
    assert "busiest rank sends 150 MB" in info.value
    panel.children[1].children[0].value = "central"
    assert picture.value != before
    assert "busiest rank sends 300 MB" in info.value
    plt.close("all")
