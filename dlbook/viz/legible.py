"""Can a reader read a figure's text? Its smallest text, in screen pixels, as the book shows it.

A figure is saved as a PNG at its dpi and shown at its natural size, unless it is wider than the
text column, in which case the browser (or JupyterLab) shrinks it to the column's width. So text
of ``s`` points ends up ``s / 72 * min(dpi, column_px / width_in)`` pixels tall on the screen.
The book asks for at least :data:`MIN_TEXT_PX` pixels, with the column of a 1400 px wide window.
"""

from __future__ import annotations

from dataclasses import dataclass

from matplotlib.figure import Figure
from matplotlib.text import Text

__all__ = ["COLUMN_PX", "MIN_TEXT_PX", "SmallText", "smallest_text", "assert_legible"]

COLUMN_PX = 720  # the article column of the HTML book in a 1400 px wide window
MIN_TEXT_PX = 9.0


@dataclass(frozen=True)
class SmallText:
    """The smallest visible text of a figure: its height in screen pixels and what it says."""

    px: float
    text: str


def smallest_text(fig: Figure, dpi: float | None = None, column_px: float = COLUMN_PX):
    """The smallest visible, non-empty text of ``fig`` as shown in a column ``column_px`` wide,
    when saved at ``dpi`` (default: the figure's own); ``None`` for a figure without text."""
    dpi = fig.dpi if dpi is None else dpi
    width_in = fig.get_figwidth()
    scale = min(dpi, column_px / width_in) / 72  # screen pixels per point
    found = None
    for t in fig.findobj(Text):
        if not t.get_visible() or not t.get_text().strip():
            continue
        if t.axes is not None and not t.axes.get_visible():
            continue
        px = t.get_fontsize() * scale
        if found is None or px < found.px:
            found = SmallText(px, t.get_text())
    return found


def assert_legible(fig: Figure, dpi: float | None = None, column_px: float = COLUMN_PX) -> None:
    """Raise an AssertionError naming the smallest text when it is under MIN_TEXT_PX pixels."""
    small = smallest_text(fig, dpi, column_px)
    if small is not None and small.px < MIN_TEXT_PX - 1e-9:
        raise AssertionError(
            f"text {small.text!r} is {small.px:.1f} px tall on screen (at least {MIN_TEXT_PX:g} "
            f"px): figure {fig.get_figwidth():.1f} in wide at dpi {dpi or fig.dpi:g}, "
            f"column {column_px:g} px"
        )
