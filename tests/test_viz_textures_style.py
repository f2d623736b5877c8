"""The textures-and-style chapter's figures, animation and explorer build from cheap inputs, with
the panels they promise, and text a reader can read."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from dlbook.viz import textures_style as vt  # noqa: E402
from dlbook.viz.legible import assert_legible  # noqa: E402

RNG = np.random.default_rng(0)
SOURCES = {name: RNG.random((16, 16)) for name in ("brick", "grass", "gravel")}
STEPS = (0, 1, 5, 10)


def _run(scale=1.0):
    loss = scale * np.geomspace(50, 1e-3, 11)
    frames = {s: RNG.random((16, 16)) for s in STEPS}
    return dict(image=frames[10], style_loss=loss, content_loss=np.zeros(11), frames=frames)


RUNS = {name: _run(k + 1) for k, name in enumerate(SOURCES)}


def test_gram_figure_shows_the_gram_matrix_then_differences():
    images = {"brick": SOURCES["brick"], "shifted": SOURCES["brick"], "grass": SOURCES["grass"]}
    grams = {"brick": np.eye(4), "shifted": np.eye(4), "grass": 2 * np.eye(4)}
    fig = vt.gram_figure(images, grams, {"brick": 0.0, "shifted": 1e-14, "grass": 0.5})
    assert [ax.get_title() for ax in fig.axes[3:]] == ["its Gram matrix G"] + [
        "G minus the first G"
    ] * 2
    assert fig.axes[4].get_xlabel() == "distance 1.0e-14"
    assert fig.axes[5].get_xlabel() == "distance 0.50"
    assert not np.any(fig.axes[4].images[0].get_array())  # a zero difference
    assert_legible(fig)
    plt.close(fig)


def test_synthesis_layers_and_style_figures():
    fig = vt.synthesis_figure(SOURCES, RUNS)
    assert len(fig.axes) == 7
    assert [t.get_text() for t in fig.axes[-1].get_legend().get_texts()] == list(SOURCES)
    assert_legible(fig)
    plt.close(fig)
    images = {"all 3 layers": SOURCES["grass"], "layer 1 only": SOURCES["gravel"]}
    losses = {"all 3 layers": [1e-4, 1e-4, 1e-4], "layer 1 only": [1e-6, 1e-2, 1e-2]}
    fig = vt.layers_figure(SOURCES["brick"], images, losses)
    assert len(fig.axes[-1].patches) == 6  # one bar per layer and run
    assert_legible(fig)
    plt.close(fig)
    results = {0.01: SOURCES["grass"], 0.1: SOURCES["grass"], 1.0: SOURCES["gravel"]}
    fig = vt.style_figure(SOURCES["brick"], SOURCES["gravel"], results,
                          {w: (1 / w, w) for w in results})  # fmt: skip
    assert [ax.get_title() for ax in fig.axes][2:] == [
        "style weight 0.01", "style weight 0.1", "style weight 1"]  # fmt: skip
    assert fig.axes[-1].get_xlabel() == "style 1\ncontent 1.00"
    assert_legible(fig)
    plt.close(fig)


def test_animation_has_one_frame_per_stored_image():
    anim = vt.synthesis_animation(SOURCES["brick"], RUNS["brick"])
    assert anim._save_count == len(STEPS) or len(list(anim.new_frame_seq())) == len(STEPS)
    anim._func(2)
    assert anim._fig.axes[1].get_title() == "after 5 evaluations"
    assert len(anim._fig.axes[2].lines[0].get_xdata()) == 6
    assert_legible(anim._fig)
    plt.close(anim._fig)


def test_explorer_switches_texture_and_evaluation():
    panel = vt.explorer(SOURCES, RUNS, steps=(0, 5, 10))
    picture, text = panel.children[-1], panel.children[-2]
    assert "after 10 L-BFGS evaluations" in text.value
    before = picture.value
    panel.children[1].children[0].value = 5
    assert "after 5 L-BFGS" in text.value and picture.value != before
    panel.children[0].children[0].value = "gravel"
    assert text.value.startswith("<pre>gravel")
    with pytest.raises(ValueError, match=r"steps \[3\] are not stored"):
        vt.explorer(SOURCES, RUNS, steps=(0, 3))
