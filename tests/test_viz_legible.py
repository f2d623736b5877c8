"""The legibility measure: screen pixels of text, shrunk with a figure wider than the column."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from dlbook.viz.legible import MIN_TEXT_PX, assert_legible, smallest_text  # noqa: E402


def figure(width, fontsize, dpi=100):
    fig, ax = plt.subplots(figsize=(width, 2), dpi=dpi)
    ax.set_title("title", fontsize=12)
    ax.set_xlabel("small", fontsize=fontsize)
    ax.tick_params(labelsize=12)
    return fig


def test_a_narrow_figure_keeps_its_natural_size():
    fig = figure(5, 8)  # 500 px wide: shown as is, 8 pt at dpi 100 = 11.1 px
    small = smallest_text(fig, column_px=720)
    assert small.text == "small" and small.px == pytest.approx(8 * 100 / 72)
    assert_legible(fig)
    plt.close(fig)


def test_a_wide_figure_is_shrunk_to_the_column():
    fig = figure(14.4, 8)  # 1440 px wide in a 720 px column: halved, 8 pt -> 5.6 px
    assert smallest_text(fig, column_px=720).px == pytest.approx(8 * 50 / 72)
    with pytest.raises(AssertionError, match="'small' is 5.6 px tall"):
        assert_legible(fig, column_px=720)
    plt.close(fig)


def test_hidden_and_empty_text_does_not_count():
    fig = figure(5, 4)
    fig.axes[0].xaxis.label.set_visible(False)
    fig.text(0.5, 0.5, "   ", fontsize=2)
    assert smallest_text(fig).px >= MIN_TEXT_PX
    empty = plt.figure()
    assert smallest_text(empty) is None
    plt.close("all")
