"""What every chapter's pictures share: figures as PNG bytes, animations as HTML, tables, numbers,
dlbook's own source shown in a chapter, and the one scaffold every explorer is built on.

- :func:`figure_png`: an explorer redraws its figure on every slider move and hands the picture
  to an ``ipywidgets.Image`` (or an ``Output``) as PNG bytes, rather than displaying the Figure,
  which needs the inline backend, and which would pile up open figures.
- :func:`to_html`: ``FuncAnimation.to_jshtml`` bakes every frame into the page as a PNG with a
  small JavaScript player, so an animation plays in the static HTML book with no kernel behind
  it. Its HTML carries a random element id, so :func:`to_html` wraps it in a marked ``<div>``:
  the book's nbval sanitize file replaces the marked block, and nbval still checks that an
  animation with the right number of frames was made.
- :func:`html_table`: the book renders a cell's Markdown output as CommonMark, which has no
  tables, so tables are HTML.
- :func:`format_number`: numbers written into a figure, with a typographic minus.
- :func:`show_source`: a notebook shows the code that teaches, never a second copy of it.
- :func:`make_explorer`: controls above a picture that is redrawn whenever a control moves. The
  picture is a widget value (an ``Image``'s PNG, or an ``Output``'s outputs set directly rather
  than captured with ``with out:``), not printed output, so a panel behaves the same in
  JupyterLab, in an executed notebook and under nbval.
"""

from __future__ import annotations

import inspect
import io
from html import escape

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

__all__ = ["figure_png", "format_number", "html_table", "make_explorer", "show_source", "to_html"]


def figure_png(fig, dpi: float | None = 72, **savefig_kwargs) -> bytes:
    """Render ``fig`` to PNG bytes at ``dpi`` (None: the figure's own), then close it."""
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=dpi if dpi is not None else "figure",
                    **savefig_kwargs)  # fmt: skip
    finally:
        plt.close(fig)
    return buffer.getvalue()


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


def html_table(header, rows):
    """An ``IPython.display.HTML`` table; columns whose cells are all numbers align right.

    ``rows`` are sequences of already formatted strings or numbers.
    """
    from IPython.display import HTML

    def numeric(text):
        return str(text).replace(",", "").replace(".", "", 1).replace("-", "", 1).isdigit()

    right = [all(numeric(r[j]) for r in rows) for j in range(len(header))]
    style = ['style="text-align:right"' if r else 'style="text-align:left"' for r in right]
    head = "".join(f"<th {s}>{escape(str(h))}</th>" for h, s in zip(header, style))
    body = "".join(
        "<tr>" + "".join(f"<td {s}>{escape(str(c))}</td>" for c, s in zip(row, style)) + "</tr>"
        for row in rows
    )
    return HTML(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def format_number(v, fmt: str = "{:g}") -> str:
    """``fmt.format(v)`` with a typographic minus, and no minus on a number that rounds to 0."""
    s = fmt.format(v)
    if s.startswith("-") and float(s) == 0:
        s = s[1:]
    return s.replace("-", "\u2212")


def show_source(obj):
    """Display the source of a function, class or module as a highlighted Python block."""
    from IPython.display import Markdown

    return Markdown(f"```python\n{inspect.getsource(obj).rstrip()}\n```")


def make_explorer(rows, draw, *, info=False, output=False, side=False, dpi=72):
    """An ipywidgets explorer: ``rows`` of controls above a picture that ``draw`` redraws
    whenever a control's value changes; drawn once before it is returned (display it).

    ``rows``: each a widget, or a list of widgets shown side by side (an ``HBox``); the panel is
    a ``VBox`` of the rows, then (``info=True``) an ``HTML`` widget, then the picture. With
    ``side=True`` the rows stack in a column left of the picture instead (an ``HBox``).

    ``draw()`` (no arguments; it reads the controls' values) returns the picture: a Figure,
    rendered by :func:`figure_png` at ``dpi`` (None: the figure's own), or PNG bytes. With
    ``info=True`` it returns ``(html, picture)``, and ``html`` fills the ``HTML`` widget. With
    ``output=True`` the picture is an ``Output`` widget and ``draw`` returns one item or a tuple
    of items shown in order: a ``str`` is written as stdout, a Figure or PNG bytes shown as an
    image. ``None`` leaves everything as it was (for a control that is being changed in step
    with another, whose own change will draw again).

    Every control in ``rows`` is observed; a control that must adjust another before the
    picture is drawn registers its own observer before calling this.
    """
    import ipywidgets as widgets
    from IPython.display import Image

    rows = [r if isinstance(r, widgets.Widget) else widgets.HBox(list(r)) for r in rows]
    controls = [w for r in rows for w in (r.children if isinstance(r, widgets.HBox) else [r])]
    text = widgets.HTML() if info else None
    view = widgets.Output() if output else widgets.Image(format="png")

    def png(picture):
        return figure_png(picture, dpi=dpi) if isinstance(picture, Figure) else bytes(picture)

    def refresh(_=None):
        result = draw()
        if result is None:
            return
        if info:
            text.value, result = result
        if not output:
            view.value = png(result)
            return
        view.outputs = ()
        for item in result if isinstance(result, tuple) else (result,):
            if isinstance(item, str):
                view.append_stdout(item)
            else:
                view.append_display_data(Image(data=png(item), format="png"))

    for w in controls:
        w.observe(refresh, names="value")
    refresh()
    shown = [text, view] if info else [view]
    if side:
        return widgets.HBox([widgets.VBox(rows), *shown])
    return widgets.VBox([*rows, *shown])
