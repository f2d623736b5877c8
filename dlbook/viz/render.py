"""Figures as PNG bytes, for the ipywidgets explorers.

An explorer redraws its figure on every slider move and hands the picture to an
``ipywidgets.Image`` (or an ``Output``) as PNG bytes, rather than displaying the Figure, which
needs the inline backend, and which would pile up open figures.
"""

from __future__ import annotations

import io

import matplotlib.pyplot as plt


def figure_png(fig, dpi: float | None = 72, **savefig_kwargs) -> bytes:
    """Render ``fig`` to PNG bytes at ``dpi`` (None: the figure's own), then close it."""
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=dpi if dpi is not None else "figure",
                    **savefig_kwargs)  # fmt: skip
    finally:
        plt.close(fig)
    return buffer.getvalue()
