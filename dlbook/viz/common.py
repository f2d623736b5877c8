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

import functools
import inspect
import io
import itertools
import math
import re
from html import escape

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from dlbook.viz.static import (
    MAX_POSITIONS,
    frame_html,
    grid_mode,
    grid_values,
    palette_png,
    png_size,
    same_value,
    twin_html,
)

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


def _svg(shapes: str) -> str:
    return (f'<svg viewBox="0 0 16 16" width="1em" height="1em" fill="currentColor" '
            f'aria-hidden="true" style="vertical-align:-0.125em">{shapes}</svg>')  # fmt: skip


def _mirror(shapes: str) -> str:
    return f'<g transform="matrix(-1 0 0 1 16 0)">{shapes}</g>'


_PLAY = '<polygon points="4,2 14,8 4,14"/>'
_STEP = '<polygon points="3,2 11,8 3,14"/><rect x="11" y="2" width="2" height="12"/>'
_LAST = ('<polygon points="1,2 7,8 1,14"/><polygon points="7,2 13,8 7,14"/>'
         '<rect x="13" y="2" width="2" height="12"/>')  # fmt: skip
_MINUS = '<rect x="2" y="7" width="12" height="2"/>'
# matplotlib's player draws its buttons with Font Awesome 4.4 from a CDN; these inline SVGs
# draw the same symbols with nothing to fetch.
PLAYER_ICONS = {
    "fa fa-minus": _svg(_MINUS),
    "fa fa-plus": _svg(_MINUS + '<rect x="7" y="2" width="2" height="12"/>'),
    "fa fa-play": _svg(_PLAY),
    "fa fa-play fa-flip-horizontal": _svg(_mirror(_PLAY)),
    "fa fa-pause": _svg(
        '<rect x="3" y="2" width="4" height="12"/><rect x="9" y="2" width="4" height="12"/>'
    ),  # fmt: skip
    "fa fa-step-forward": _svg(_STEP),
    "fa fa-step-backward": _svg(_mirror(_STEP)),
    "fa fa-fast-forward": _svg(_LAST),
    "fa fa-fast-backward": _svg(_mirror(_LAST)),
}


def offline_player(html: str) -> str:
    """matplotlib's jshtml player with nothing to fetch: no stylesheet ``<link>`` (Font Awesome
    from a CDN), inline SVG icons on its buttons, and no ``//`` comment lines in its script."""
    html = re.sub(r"<link\b[^>]*>", "", html)
    html = re.sub(r'<i class="(fa [^"]*)"></i>', lambda m: PLAYER_ICONS[m.group(1)], html)
    return re.sub(r"(?m)^[ \t]*//.*\n", "", html)


def to_html(anim, fig=None, default_mode: str = "loop"):
    """Render a ``FuncAnimation`` as an ``IPython.display.HTML`` player and close its figure.

    Closing the figure keeps Jupyter from also drawing its last frame as a static image. The
    player loads nothing from the network (:func:`offline_player`).
    """
    from IPython.display import HTML

    fig = anim._fig if fig is None else fig
    frames = anim._save_count if getattr(anim, "_save_count", None) else None
    html = offline_player(anim.to_jshtml(default_mode=default_mode))
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


def make_explorer(rows, draw, *, info=False, output=False, side=False, dpi=72, grid=None,
                  max_positions=MAX_POSITIONS):  # fmt: skip
    """An ipywidgets explorer: ``rows`` of controls above a picture that ``draw`` redraws
    whenever a control's value changes; drawn once before it is returned (display it).

    ``rows``: each a widget, or a list of widgets shown side by side (an ``HBox``); the panel is
    a ``VBox`` of the rows, then (``info=True``) an ``HTML`` widget, then the picture. With
    ``side=True`` the rows stack in a column left of the picture instead (an ``HBox``).

    ``draw()`` (no arguments; it reads the controls' values) returns the picture: a Figure,
    rendered by :func:`figure_png` at twice ``dpi`` (None: the figure's own) and shown at
    ``dpi`` (sharp on high-DPI screens), or PNG bytes, shown at their size; either is stored
    with a 256-colour palette (:func:`~dlbook.viz.static.palette_png`). With ``info=True`` it
    returns ``(html, picture)``, and ``html`` fills the ``HTML`` widget. With ``output=True``
    the picture is an ``Output`` widget and ``draw`` returns one item or a tuple of items shown
    in order: a ``str`` is written as stdout, a Figure or PNG bytes shown as an image. ``None``
    leaves everything as it was (for a control that is being changed in step with another,
    whose own change will draw again).

    Every control in ``rows`` is observed; a control that must adjust another before the
    picture is drawn registers its own observer before calling this.

    Displayed, the panel is the live widget in a kernel, and it carries a static twin as
    ``text/html`` for the HTML book (:mod:`dlbook.viz.static`): the pictures of a grid of
    control values, switched by inline JavaScript. ``DLBOOK_EXPLORER_GRID=full`` computes the
    grid (at most ``max_positions`` pictures; ``grid`` maps a control, or its description, to
    the values it takes); otherwise the twin holds the current picture only.
    """
    import ipywidgets as widgets

    lines = [list(r.children) if isinstance(r, widgets.HBox) else [r]
             if isinstance(r, widgets.Widget) else list(r) for r in rows]  # fmt: skip
    rows = [r if isinstance(r, widgets.Widget) else widgets.HBox(list(r)) for r in rows]
    controls = [w for line in lines for w in line]
    text = widgets.HTML() if info else None
    view = widgets.Output() if output else widgets.Image(format="png")

    def picture(p):
        if not isinstance(p, Figure):
            return bytes(p), png_size(bytes(p))[0]
        shown = p.dpi if dpi is None else dpi
        png = figure_png(p, dpi=2 * shown, metadata={"Software": None})
        return png, png_size(png)[0] / 2

    def render(result):
        html = None
        if info:
            html, result = result
        items = result if output and isinstance(result, tuple) else (result,)
        return html, [i if isinstance(i, str) else picture(i) for i in items]

    def show(rendered):
        if info:
            text.value = rendered[0]
        if not output:
            png, width = rendered[1][0]
            view.value = palette_png(png)
            view.layout.width = f"{width:g}px"
            return
        view.outputs = ()
        for item in rendered[1]:
            if isinstance(item, str):
                view.append_stdout(item)
            else:
                view.append_display_data(_image(palette_png(item[0]), item[1]))

    quiet = []

    def refresh(_=None):
        result = None if quiet else draw()
        if result is not None:
            show(render(result))

    for w in controls:
        w.observe(refresh, names="value")
    first = draw()
    now = render(first) if first is not None else ("" if info else None, [])
    if first is not None:
        show(now)
    full = grid_mode() == "full"
    values = grid_values(controls, grid, max_positions) if full else [[w.value] for w in controls]
    quiet.append(True)
    try:
        frames, current = _grid_frames(controls, values, draw, render, now)
    finally:
        quiet.clear()
    shown = [text, view] if info else [view]
    panel = _explorer_class(side)([widgets.VBox(rows), *shown] if side else [*rows, *shown])
    panel.static_html = twin_html(lines, values, frames, current, side=side)
    names = ", ".join(str(w.description or type(w).__name__) for w in controls)
    panel.summary = f"Explorer: {names}; run the cell to use it"
    return panel


def _grid_frames(controls, values, draw, render, now):
    """The HTML of every position of the grid ``values`` (row-major), and the index of the
    controls' current position, whose rendering ``now`` is reused; the controls end where they
    started."""
    original = [w.value for w in controls]
    index = [
        next(i for i, v in enumerate(vs) if same_value(v, o)) for vs, o in zip(values, original)
    ]
    sizes = [len(v) for v in values]
    current = sum(i * math.prod(sizes[k + 1 :]) for k, i in enumerate(index))
    frames = []
    try:
        for position in itertools.product(*values):
            if len(frames) == current:
                frames.append(frame_html(*now))
                continue
            _set(controls, position)
            result = draw()
            if result is None:
                raise ValueError(f"grid: draw() returned None at {_where(controls)}")
            frames.append(frame_html(*render(result)))
    finally:
        _set(controls, original, check=False)
    return frames, current


def _set(controls, values, check=True):
    from traitlets import TraitError

    for w, v in zip(controls, values):
        if not same_value(w.value, v):
            try:
                w.value = v
            except TraitError as err:
                if check:
                    raise ValueError(f"grid: {w.description!r} cannot take {v!r}: {err}") from err
    for w, v in zip(controls, values):
        if check and not same_value(w.value, v):
            raise ValueError(
                f"grid: {w.description!r} is {w.value!r}, not {v!r}, after setting "
                f"{_where(controls)}; pass grid= values that go together"
            )


def _where(controls):
    return ", ".join(f"{w.description or type(w).__name__}={w.value!r}" for w in controls)


def _image(png, width):
    from IPython.display import Image

    return Image(data=png, format="png", width=int(round(width)))


@functools.cache
def _explorer_class(side: bool):
    """A VBox (HBox with ``side``) whose display bundle adds the static twin (``text/html``)
    and a readable ``text/plain``."""
    import ipywidgets as widgets

    class Explorer(widgets.HBox if side else widgets.VBox):
        static_html = ""
        summary = ""

        def _repr_mimebundle_(self, **kwargs):
            data = super()._repr_mimebundle_(**kwargs)
            data.update({"text/plain": self.summary, "text/html": self.static_html})
            return data

    return Explorer
