"""Animations that play in the static HTML book, with no kernel behind them.

``FuncAnimation.to_jshtml`` bakes every frame into the page as a PNG with a small JavaScript
player. Its HTML carries a random element id, so :func:`to_html` wraps it in a marked ``<div>``:
the book's nbval sanitize file replaces the marked block, and nbval still checks that an
animation with the right number of frames was made.
"""

from __future__ import annotations

import matplotlib.pyplot as plt

__all__ = ["to_html"]


def to_html(anim, fig=None, default_mode: str = "loop"):
    """Render a ``FuncAnimation`` as an ``IPython.display.HTML`` player and close its figure.

    Closing the figure keeps Jupyter from also drawing its last frame as a static image.
    """
    from IPython.display import HTML

    fig = anim._fig if fig is None else fig
    frames = anim._save_count if getattr(anim, "_save_count", None) else None
    html = anim.to_jshtml(default_mode=default_mode)
    plt.close(fig)
    n = "" if frames is None else f' data-frames="{frames}"'
    return HTML(f'<div class="dlbook-animation"{n}>\n{html}\n</div><!-- /dlbook-animation -->')
