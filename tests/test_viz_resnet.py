"""The residual-network chapter's figures, animation and explorer build from cheap inputs, with
the lines and panels they promise, and text a reader can read."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from dlbook.train import History  # noqa: E402
from dlbook.viz import resnet as vr  # noqa: E402
from dlbook.viz.legible import assert_legible  # noqa: E402


def _rows(epochs=3):
    rows = []
    for depth, bn in [(8, True), (20, True), (20, False)]:
        for shortcut in (True, False):
            h = History()
            for e in range(epochs):
                loss = 2.2 if not (bn or shortcut) else 2 / (e + 1 + depth / 10)
                h.rows.append(dict(train_loss=loss, train_acc=0.5, test_loss=1, test_acc=0.5))
            n = (depth - 2) // 2 + 1
            grads = dict(activations=np.geomspace(3 if bn else 1e-6, 1, n), weights=np.ones(n))
            rows.append(dict(depth=depth, shortcut=shortcut, batch_norm=bn, history=h,
                             grads_init=grads, grads_trained=grads))  # fmt: skip
    return rows


def test_block_figure_draws_two_blocks_one_with_a_shortcut():
    fig = vr.block_figure()
    assert [ax.get_title() for ax in fig.axes] == ["plain block", "residual block"]
    assert "identity\nshortcut" in [t.get_text() for t in fig.axes[1].texts]
    assert_legible(fig)
    plt.close(fig)


def test_curves_and_gradients_figures_have_a_line_per_run():
    rows = _rows()
    fig = vr.curves_figure(rows)
    assert len(fig.axes[0].get_legend().get_texts()) == 4
    assert len(fig.axes[1].get_legend().get_texts()) == 2
    assert_legible(fig)
    plt.close(fig)
    fig = vr.gradients_figure(rows)
    assert len(fig.axes) == 2
    first = fig.axes[0].lines[0].get_ydata()
    assert first[-1] == 1  # normalized by the last block
    assert_legible(fig)
    plt.close(fig)


def test_animation_has_one_frame_per_epoch():
    anim = vr.curves_animation(_rows(epochs=4))
    assert anim._save_count == 4 or len(list(anim.new_frame_seq())) == 4
    assert_legible(anim._fig)
    plt.close(anim._fig)


def test_explorer_switches_runs():
    panel = vr.explorer(_rows())
    picture = panel.children[-1]
    before = picture.value
    panel.children[1].children[0].value = False  # the plain network
    assert picture.value != before


def test_erf_figure_and_table():
    yy, xx = np.indices((32, 32))
    erf = np.exp(-((yy - 12.0) ** 2 + (xx - 12.0) ** 2) / 20)
    fig = vr.erf_figure(erf, 51, (12.0, 12.0))
    assert "51 px" in fig.axes[0].get_title()
    assert_legible(fig)
    plt.close(fig)
    result = {(8, True, True): dict(loss=0.5, test_acc=70.0, ratio_init=4.0, ratio_trained=3.0),
              (20, False, False): dict(loss=2.2, test_acc=11.1, ratio_init=1e-8,
                                       ratio_trained=2e-8)}  # fmt: skip
    html = vr.twins_table(result).data
    assert "residual-8" in html and "plain-20, no BN" in html and "1e-08" in html
