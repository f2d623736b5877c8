"""The Transformer chapter's figures, animation and explorer build from cheap inputs, with the
panels and lines they promise, and text a reader can read."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from dlbook.viz import transformer as vt  # noqa: E402
from dlbook.viz.legible import assert_legible  # noqa: E402


def _maps(layers=2, heads=4, t=20, seed=0):
    rng = np.random.default_rng(seed)
    w = np.tril(rng.random((layers, heads, t, t)))
    return w / w.sum(-1, keepdims=True)


def _run(steps=(0, 25, 50)):
    return dict(step=list(steps), test=[5.0, 2.6, 2.3], loss=list(np.linspace(5, 2, 50)),
                maps=[_maps(seed=s) for s in range(len(steps))])  # fmt: skip


def test_positions_figure_shows_the_encoding_and_its_dot_products():
    fig = vt.positions_figure(length=24, dim=16)
    images = [ax.images[0].get_array() for ax in fig.axes if ax.images]
    assert images[0].shape == (24, 16) and images[1].shape == (24, 24)
    dots = np.asarray(images[1])
    np.testing.assert_allclose(np.diag(dots, 3), np.diag(dots, 3)[0])  # depends on p - q only
    assert_legible(fig)
    plt.close(fig)


def test_cost_table_lists_every_row():
    rows = [dict(heads=h, head_dim=32 // h, parameters=4224, multiply_adds=196608) for h in (1, 8)]
    html = vt.cost_table(rows).data
    assert html.count("<tr>") == 3 and "4,224" in html and "196,608" in html


def test_curves_figure_has_a_line_per_run_and_baseline():
    fig = vt.curves_figure({"Transformer": _run(), "LSTM": _run()}, {"unigram": 3.0, "bigram": 2.5})
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["Transformer, held out", "LSTM, held out", "unigram", "bigram"]
    assert_legible(fig)
    plt.close(fig)


def test_heads_figure_has_a_panel_per_layer_and_head():
    fig = vt.heads_figure(_maps(), "def f(x):\n    return x", show=12)
    assert len(fig.axes) == 8
    assert fig.axes[5].get_title() == "layer 2, head 2"
    assert fig.axes[0].images[0].get_array().shape == (12, 12)
    assert "␣" in [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert_legible(fig)
    plt.close(fig)


def test_animation_has_one_frame_per_record():
    anim = vt.training_animation(_run(), "abcdefghijklmnopqrst", show=12)
    assert len(list(anim.new_frame_seq())) == 3
    assert_legible(anim._fig)
    plt.close(anim._fig)


def test_explorer_switches_heads():
    panel = vt.explorer(_maps(), "abcdefghijklmnopqrst", show=12)
    picture, text = panel.children[-1], panel.children[-2]
    before, words = picture.value, text.value
    panel.children[1].children[0].value = 2  # head 3
    assert picture.value != before and text.value != words
    assert "layer 1, head 3" in text.value
