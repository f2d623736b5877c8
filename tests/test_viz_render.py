"""figure_png: the PNG bytes an explorer hands to its Image widget."""

import io

import matplotlib.pyplot as plt
import pytest
from PIL import Image

from dlbook.viz.render import figure_png


def test_figure_png_renders_at_the_dpi_and_closes_the_figure():
    fig, ax = plt.subplots(figsize=(4, 2))
    ax.plot([0, 1], [0, 1])
    png = figure_png(fig, dpi=50)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert Image.open(io.BytesIO(png)).size == (200, 100)  # 4 x 2 inches at 50 dpi
    assert not plt.fignum_exists(fig.number)


def test_figure_png_keeps_the_figures_own_dpi_when_asked():
    fig = plt.figure(figsize=(2, 1), dpi=30)
    assert Image.open(io.BytesIO(figure_png(fig, dpi=None))).size == (60, 30)


def test_figure_png_closes_the_figure_even_when_saving_fails():
    fig = plt.figure()
    with pytest.raises(TypeError):
        figure_png(fig, no_such_option=1)
    assert not plt.fignum_exists(fig.number)
