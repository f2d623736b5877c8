"""The static twin of an explorer: its pictures for a small grid of control values, precomputed
and switched by a few lines of inline JavaScript, so that the explorer works in the HTML book
with no kernel and no network (the way matplotlib's jshtml player switches frames).

:func:`~dlbook.viz.common.make_explorer` builds it; this module holds the parts:

- :func:`grid_values`: the values each control takes in the grid. Every option of a
  ``Dropdown``/``ToggleButtons``/``RadioButtons``/``Checkbox``; a few evenly spaced values of a
  slider (on the exponent for a ``FloatLogSlider``), always with its current value; at most
  ``max_positions`` positions in all, and a caller's explicit values where it gives them.
- :func:`twin_html`: the HTML. Hooks for scripts and tests: the block is
  ``<div class="dlbook-explorer" data-positions="N" ...> ... </div><!-- /dlbook-explorer -->``;
  each control that moves is an ``<input type="range">``, a ``<select>`` or an
  ``<input type="checkbox">`` with a ``data-stride`` attribute; the picture is in
  ``div.dlbook-explorer-view``; the other positions are a JSON list in
  ``script.dlbook-explorer-frames`` (position ``sum(index * stride)``; the entry of the position
  shown first is null: the page already holds it).

How big the grid is comes from the environment variable ``DLBOOK_EXPLORER_GRID``: ``full`` (set
by ``scripts/execute_book.py`` when the book is built) precomputes the grid; unset or
``current``, only the position the explorer starts at is kept, with a note that the controls
move when the cell is run, so that the notebooks stored in git stay small and nbval stays fast.
"""

from __future__ import annotations

import base64
import io
import json
import math
import os
import struct
from html import escape

__all__ = [
    "GRID_ENV",
    "MAX_POSITIONS",
    "frame_html",
    "grid_mode",
    "grid_values",
    "palette_png",
    "png_size",
    "same_value",
    "twin_html",
]

GRID_ENV = "DLBOOK_EXPLORER_GRID"
MAX_POSITIONS = 16
MAX_BYTES = 60_000  # a larger picture is stored at 1x (palette_png)
PER_SLIDER = 9  # at most this many values of one slider


def grid_mode() -> str:
    """``"full"`` or ``"current"``, from ``DLBOOK_EXPLORER_GRID`` (unset: ``"current"``)."""
    mode = os.environ.get(GRID_ENV, "").strip().lower() or "current"
    if mode not in ("full", "current"):
        raise ValueError(f"{GRID_ENV} must be 'full' or 'current', not {mode!r}")
    return mode


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) in pixels, read from a PNG's header."""
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("png: not PNG bytes")
    return struct.unpack(">II", png[16:24])


def palette_png(png: bytes, css_width: float | None = None, max_bytes: int = MAX_BYTES) -> bytes:
    """``png`` with its colours reduced to a palette of 256 (median cut): about half the bytes
    of a plot, two thirds of a photograph, with no difference to see. A picture still over
    ``max_bytes`` that has twice the pixels of its ``css_width`` (a photograph, rendered for
    high-DPI screens) is halved first, so that one position of an explorer stays small."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:
        if im.mode not in ("RGB", "RGBA") or (im.mode == "RGBA" and im.getextrema()[3][0] < 255):
            return png  # keep transparency and images that are already small palettes or grey
        rgb = im.convert("RGB")
    out = _quantized(rgb)
    if len(out) > max_bytes and css_width and rgb.width >= 2 * css_width:
        half = (round(rgb.width / 2), round(rgb.height / 2))
        out = min(out, _quantized(rgb.resize(half, Image.Resampling.LANCZOS)), key=len)
    return out if len(out) < len(png) else png


def _quantized(rgb) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    rgb.quantize(256, method=Image.Quantize.MEDIANCUT).save(out, format="PNG")
    return out.getvalue()


def _kind(w) -> str:
    import ipywidgets as widgets

    if isinstance(w, (widgets.Checkbox, widgets.ToggleButton)):
        return "bool"
    if isinstance(w, widgets.SelectionSlider):
        return "choice-slider"
    if isinstance(w, (widgets.Dropdown, widgets.ToggleButtons, widgets.RadioButtons)):
        return "choice"
    if isinstance(w, widgets.FloatLogSlider):
        return "log"
    if isinstance(w, (widgets.IntSlider, widgets.FloatSlider)):
        return "slider"
    return "fixed"


def _count(w) -> int:
    """How many values the control can take (``math.inf`` for none it can be stepped through)."""
    kind = _kind(w)
    if kind == "bool":
        return 2
    if kind in ("choice", "choice-slider"):
        return len(w._options_values)
    if kind in ("slider", "log"):
        return int(round((w.max - w.min) / w.step)) + 1
    return 1


def _spaced(w, n: int) -> list:
    """``n`` (or fewer, where they coincide) evenly spaced values of ``w``, its current value
    among them, in the control's order."""
    kind = _kind(w)
    if kind == "bool":
        return [w.value] if n < 2 else [False, True]
    if kind == "fixed" or n < 2:
        return [w.value]
    if kind in ("choice", "choice-slider"):
        options, current = list(w._options_values), w.index
        idx = sorted({round(i * (len(options) - 1) / (n - 1)) for i in range(n)})
        idx[_nearest(idx, current)] = current
        return [options[i] for i in sorted(set(idx))]
    steps = _count(w) - 1
    current = w.value if kind == "slider" else math.log(w.value, w.base)
    k_now = (current - w.min) / w.step
    ks = sorted({round(i * steps / (n - 1)) for i in range(n)})
    j = _nearest(ks, k_now)
    values = [w.min + k * w.step for k in ks]
    values[j] = current
    if kind == "log":
        values = [w.base**v for v in values]
        values[j] = w.value
    elif isinstance(w.value, int):
        values = [int(round(v)) for v in values]
    else:
        values = [round(v, 12) for v in values]
        values[j] = w.value
    return sorted(set(values))


def _nearest(points, x) -> int:
    """The index of the point of ``points`` nearest ``x``: 0 or -1 only for a point at an end
    (or when there are two points), so that the grid keeps the control's range."""
    inner = range(len(points)) if len(points) < 3 else range(1, len(points) - 1)
    at_end = [i for i in (0, len(points) - 1) if math.isclose(points[i], x, abs_tol=1e-9)]
    return at_end[0] if at_end else min(inner, key=lambda i: abs(points[i] - x))


def _with_current(w, values) -> list:
    """``values`` with the control's current value added where it is missing."""
    values = list(values)
    if not any(same_value(v, w.value) for v in values):
        values.append(w.value)
        if _kind(w) in ("slider", "log"):
            values.sort()
    return values


def same_value(a, b) -> bool:
    """Whether two control values are the same (floats to a relative 1e-9)."""
    if isinstance(a, float) or isinstance(b, float):
        try:
            return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
        except TypeError:
            return False
    return a == b


def grid_values(controls, explicit=None, max_positions: int = MAX_POSITIONS) -> list[list]:
    """The values each of ``controls`` takes in the static grid, one list per control; the
    grid is their product, at most ``max_positions`` positions, and holds the current values.

    ``explicit`` maps a control (or its ``description``) to the values it must take; its
    current value is added when missing. Options of a Dropdown, ToggleButtons, RadioButtons or
    Checkbox come next, all of them while they fit; the sliders share what is left, one value
    more each in turn, up to 9 values a slider.
    """
    if max_positions < 1:
        raise ValueError(f"max_positions must be at least 1, not {max_positions}")
    explicit = dict(explicit or {})
    values: list = [None] * len(controls)
    for i, w in enumerate(controls):
        for key in (w, getattr(w, "description", None)):
            if key is not None and key in explicit:
                values[i] = _with_current(w, explicit.pop(key))
                if len(values[i]) != len({repr(v) for v in values[i]}):
                    raise ValueError(f"grid: the values of {w.description!r} repeat")
                break
    if explicit:
        raise ValueError(f"grid: no control {list(explicit)!r} among the explorer's controls")
    total = math.prod(len(v) for v in values if v is not None)
    if total > max_positions:
        raise ValueError(f"grid: the explicit values make {total} positions, more than "
                         f"max_positions={max_positions}")  # fmt: skip
    free = [i for i, v in enumerate(values) if v is None]
    for i in free:
        values[i] = [controls[i].value]
    for i in free:  # options first, all of them while they fit
        if _kind(controls[i]) in ("bool", "choice"):
            n = min(_count(controls[i]), max_positions // total)
            values[i] = _spaced(controls[i], n)
            total *= len(values[i])
    sliders = [i for i in free if _kind(controls[i]) not in ("bool", "choice", "fixed")]
    n = {i: 1 for i in sliders}
    grown = True
    while grown:  # one value more for each slider in turn, while the grid stays in bounds
        grown = False
        for i in sliders:
            limit = min(PER_SLIDER, _count(controls[i]))
            bigger = total // len(values[i]) * (n[i] + 1)
            if n[i] < limit and bigger <= max_positions:
                n[i] += 1
                new = _spaced(controls[i], n[i])
                total = total // len(values[i]) * len(new)
                values[i] = new
                grown = True
    return values


def _label(w, value) -> str:
    kind = _kind(w)
    if kind in ("choice", "choice-slider"):
        labels, options = w._options_labels, w._options_values
        return str(next(lab for lab, v in zip(labels, options) if same_value(v, value)))
    fmt = getattr(w, "readout_format", None)
    if fmt and not isinstance(value, bool):
        try:
            return format(value, fmt)
        except (TypeError, ValueError):
            pass
    return str(value)


def _control(w, values, stride, live: bool) -> str:
    """One control as HTML: a range over the indices of ``values``, a select, or a checkbox."""
    name = escape(str(getattr(w, "description", "") or ""))
    now = next(i for i, v in enumerate(values) if same_value(v, w.value))
    off = "" if live and len(values) > 1 else " disabled"
    hook = f' data-stride="{stride}"' if live and len(values) > 1 else ""
    if _kind(w) == "bool" and [bool(v) for v in values] in ([False, True], [w.value]):
        checked = " checked" if w.value else ""
        return f'<label><input type="checkbox"{hook}{checked}{off}> {name}</label>'
    labels = [_label(w, v) for v in values]
    if _kind(w) in ("choice", "bool") or any(isinstance(v, str) for v in values):
        opts = "".join(
            f'<option value="{i}"{" selected" if i == now else ""}>{escape(lab)}</option>'
            for i, lab in enumerate(labels)
        )
        return f"<label>{name} <select{hook}{off}>{opts}</select></label>"
    data = escape(json.dumps(labels), quote=True)
    return (
        f'<label>{name} <input type="range" min="0" max="{len(values) - 1}" step="1" '
        f'value="{now}" data-labels="{data}"{hook}{off}> <output>{escape(labels[now])}</output>'
        "</label>"
    )


def frame_html(info, items) -> str:
    """One position's picture as HTML: the info HTML, then each item, a ``str`` as preformatted
    text or ``(png, css_width)`` as an image shown ``css_width`` pixels wide."""
    parts = [f'<div class="dlbook-explorer-info">{info}</div>'] if info is not None else []
    for item in items:
        if isinstance(item, str):
            parts.append(f'<pre style="margin:0">{escape(item)}</pre>')
        else:
            png, width = item
            data = base64.b64encode(palette_png(png, width)).decode("ascii")
            parts.append(f'<img src="data:image/png;base64,{data}" width="{width:g}" alt="">')
    return "".join(parts)


_SCRIPT = """<script>(function () {
var root = document.currentScript && document.currentScript.parentNode;
if (!root) return;
var frames = JSON.parse(root.querySelector("script.dlbook-explorer-frames").textContent);
var view = root.querySelector(".dlbook-explorer-view");
var inputs = root.querySelectorAll("[data-stride]");
frames[Number(root.getAttribute("data-current"))] = view.innerHTML;
function show() {
  var at = 0;
  inputs.forEach(function (el) {
    var k = el.type === "checkbox" ? (el.checked ? 1 : 0) : Number(el.value);
    at += k * Number(el.getAttribute("data-stride"));
    var out = el.parentNode.querySelector("output");
    if (out) out.textContent = JSON.parse(el.getAttribute("data-labels"))[k];
  });
  view.innerHTML = frames[at];
}
inputs.forEach(function (el) {
  el.addEventListener("input", show);
  el.addEventListener("change", show);
});
})();</script>"""


def twin_html(rows, values, frames, current: int, side: bool = False) -> str:
    """The static explorer: ``rows`` of controls (lists of widgets), ``values`` per control (in
    the order of the flattened rows), ``frames`` the HTML of every grid position (row-major in
    that order; a single frame: only the current position, with no script), ``current`` the
    index of the position shown first."""
    sizes = [len(v) for v in values]
    strides = [math.prod(sizes[j + 1 :]) for j in range(len(sizes))]
    if len(frames) != math.prod(sizes) and len(frames) != 1:
        raise ValueError(f"frames: {len(frames)} for a grid of {math.prod(sizes)} positions")
    live = len(frames) > 1
    html, k = [], 0
    for row in rows:
        cells = []
        for w in row:
            cells.append(_control(w, values[k] if live else [w.value], strides[k], live))
            k += 1
        html.append('<div style="display:flex;flex-wrap:wrap;gap:0.3em 1.2em">'
                    + "".join(cells) + "</div>")  # fmt: skip
    note = (
        f"{len(frames)} precomputed positions; run the notebook for every value."
        if live
        else "The controls move when the cell is run in Jupyter."
    )
    controls_html = (
        '<div class="dlbook-explorer-controls" style="display:flex;flex-direction:column;'
        f'gap:0.3em">{"".join(html)}<small>{note}</small></div>'
    )
    view = f'<div class="dlbook-explorer-view">{frames[current if live else 0]}</div>'
    style = "display:flex;gap:1em;align-items:flex-start" if side else "display:block"
    out = [
        f'<div class="dlbook-explorer" data-positions="{len(frames)}" data-current='
        f'"{current if live else 0}" style="{style}">',
        controls_html,
        view,
    ]
    if live:
        rest = [None if i == current else f for i, f in enumerate(frames)]
        data = json.dumps(rest).replace("<", "\\u003c").replace(">", "\\u003e")
        out.append(
            f'<script type="application/json" class="dlbook-explorer-frames">{data}</script>'
        )
        out.append(_SCRIPT)
    out.append("</div><!-- /dlbook-explorer -->")
    return "\n".join(out)
