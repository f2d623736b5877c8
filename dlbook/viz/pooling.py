"""Pictures of pooling: the windows on a small grid, where max pooling routes its gradient, a
sliding-window animation, an explorer of kernel, stride, padding, ceil_mode and mode, and how
much a shift changes a pooled map.

Every number drawn comes from :mod:`dlbook.scratch.pool`; nothing here trains. Grids use the
convention of :func:`dlbook.viz.convolution.draw_grid`: cell ``(r, c)`` is centred on ``x=c, y=r``.
Padded cells are grey and read "−∞" (max) or "0" (average); cells that a ceil-mode window
reaches past the padding are hatched: they are not part of the input at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import FuncAnimation
from matplotlib.collections import PatchCollection
from matplotlib.patches import Circle, Rectangle

from dlbook.scratch import avg_pool2d, max_pool2d, max_pool2d_backward, max_pool2d_indices
from dlbook.viz.common import format_number, make_explorer
from dlbook.viz.convolution import WINDOW, draw_grid

__all__ = [
    "PoolView",
    "pool_view",
    "draw_pool",
    "pool_figure",
    "settings_grid",
    "routing_figure",
    "pool_animation",
    "pool_explorer",
    "size_formula",
    "shift_change_figure",
]

PALETTE = plt.get_cmap("tab10").colors
MODES = ("max", "avg")


@dataclass(frozen=True)
class PoolView:
    """One pooling of a 2-D array, with what the pictures need. Coordinates are input rows and
    columns, so padding is negative."""

    x: np.ndarray
    mode: str
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    out: np.ndarray  # (oh, ow)
    winners: np.ndarray | None  # (oh, ow, 2): the (row, col) of each max, for mode="max"

    def start(self, y: int, x: int) -> tuple[int, int]:
        """Top-left (row, col) of output ``(y, x)``'s window."""
        return y * self.stride[0] - self.padding[0], x * self.stride[1] - self.padding[1]

    @property
    def extent(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """``((first row, last row + 1), (first col, last col + 1))`` of everything drawn."""
        spans = []
        for a in range(2):
            last = (self.out.shape[a] - 1) * self.stride[a] - self.padding[a] + self.kernel[a]
            spans.append((-self.padding[a], max(self.x.shape[a] + self.padding[a], last)))
        return tuple(spans)

    def title(self) -> str:
        (kh, kw), (sh, sw), (ph, pw) = self.kernel, self.stride, self.padding

        def show(a, b):
            return str(a) if a == b else f"({a},{b})"

        return (
            f"{self.mode} pool k={show(kh, kw)}, s={show(sh, sw)}, p={show(ph, pw)}: "
            f"{self.x.shape[0]}×{self.x.shape[1]} → {self.out.shape[0]}×{self.out.shape[1]}"
        )


def _pair(v):
    return (int(v), int(v)) if np.isscalar(v) else (int(v[0]), int(v[1]))


def pool_view(x, kernel_size, stride=None, padding=0, ceil_mode=False, mode="max") -> PoolView:
    """Pool the 2-D array ``x`` with :func:`dlbook.scratch.max_pool2d` or ``avg_pool2d``
    (``count_include_pad=True``); errors are theirs (``ValueError`` naming the argument)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    x = np.asarray(x, dtype=float)
    if x.ndim != 2:
        raise ValueError(f"x must be 2-D, got shape {x.shape}")
    args = (x[None], kernel_size, stride, padding)
    winners = None
    if mode == "max":
        out = max_pool2d(*args, ceil_mode=ceil_mode)[0]
        flat = max_pool2d_indices(*args, ceil_mode=ceil_mode)[0]
        winners = np.stack(np.divmod(flat, x.shape[1]), axis=-1)
    else:
        out = avg_pool2d(*args, ceil_mode=ceil_mode)[0]
    kernel = _pair(kernel_size)
    return PoolView(
        x, mode, kernel, kernel if stride is None else _pair(stride), _pair(padding), out, winners
    )


def _draw_plane(ax, view: PoolView, fontsize: float, pad_text=None):
    """The input, its padding and any ceil-mode overhang, as one grid of numbered cells; the
    padding reads ``pad_text`` (default: −∞ for max pooling, 0 for average pooling)."""
    pad_text = ("−∞" if view.mode == "max" else "0") if pad_text is None else pad_text
    (r0, r1), (c0, c1) = view.extent
    (h, w), (ph, pw) = view.x.shape, view.padding
    faces, hatched, texts = [], [], []
    for r in range(r0, r1):
        for c in range(c0, c1):
            cell = Rectangle((c - 0.5, r - 0.5), 1, 1)
            if 0 <= r < h and 0 <= c < w:
                faces.append((cell, "white"))
                texts.append((c, r, format_number(view.x[r, c], "{:g}"), "black"))
            elif -ph <= r < h + ph and -pw <= c < w + pw:
                faces.append((cell, "0.86"))
                texts.append((c, r, pad_text, "0.45"))
            else:
                hatched.append(cell)
    ax.add_collection(
        PatchCollection([f[0] for f in faces], fc=[f[1] for f in faces], ec="0.45", lw=0.7)
    )
    if hatched:
        ax.add_collection(PatchCollection(hatched, fc="none", ec="0.7", lw=0.5, hatch="///"))
    for c, r, s, colour in texts:
        ax.text(c, r, s, ha="center", va="center", fontsize=fontsize, color=colour)
    ax.set_xlim(c0 - 0.6, c1 - 0.4)
    ax.set_ylim(r1 - 0.4, r0 - 0.6)
    ax.set_aspect("equal")
    ax.axis("off")


def _draw_windows(ax, view: PoolView, fontsize=9.0, winners=True, pad_text=None):
    """The input with every window outlined in its own colour (inset a little more for each
    neighbour, so that overlaps stay visible) and, for max pooling, each window's max circled."""
    _draw_plane(ax, view, fontsize, pad_text)
    (kh, kw), (oh, ow) = view.kernel, view.out.shape
    for k, (y, x) in enumerate(np.ndindex(oh, ow)):
        colour, inset = PALETTE[k % len(PALETTE)], 0.05 + 0.09 * ((y + x) % 3)
        r, c = view.start(y, x)
        box = Rectangle((c - 0.5 + inset, r - 0.5 + inset), kw - 2 * inset, kh - 2 * inset)
        box.set(fill=False, ec=colour, lw=1.8)
        ax.add_patch(box)
        if winners and view.winners is not None:
            wr, wc = view.winners[y, x]
            ax.add_patch(Circle((wc, wr), 0.44 - 0.07 * (k % 3), fill=False, ec=colour, lw=2))
    ax.set_title(f"input, {oh * ow} windows", fontsize=fontsize + 1)


def _draw_output(ax, values, title, fmt="{:g}", fontsize=9.0):
    """An output-shaped grid with each cell tinted in its window's colour."""
    draw_grid(ax, values, title, fmt=fmt, colour=False, fontsize=fontsize)
    for k, (y, x) in enumerate(np.ndindex(*np.shape(values))):
        tint = Rectangle((x - 0.5, y - 0.5), 1, 1, fc=PALETTE[k % len(PALETTE)], alpha=0.3, lw=0)
        ax.add_patch(tint)
    ax.title.set_fontsize(fontsize + 1)


def _fmt(view: PoolView) -> str:
    return "{:g}" if view.mode == "max" else "{:.2f}"


def draw_pool(ax_in, ax_out, view: PoolView, fontsize=9.0, pad_text=None):
    """Draw ``view``: the input with its windows (and maxima) on ``ax_in``, the output on
    ``ax_out``."""
    _draw_windows(ax_in, view, fontsize, pad_text=pad_text)
    _draw_output(ax_out, view.out, f"{view.mode} pool output", _fmt(view), fontsize)


def _rows_cols(view: PoolView) -> tuple[int, int]:
    (r0, r1), (c0, c1) = view.extent
    return r1 - r0, c1 - c0


def pool_figure(x, kernel_size, stride=None, padding=0, ceil_mode=False, mode="max", size=0.42):
    """One setting as a figure: the input with its windows, and the output (``size`` inches a
    cell)."""
    view = pool_view(x, kernel_size, stride, padding, ceil_mode, mode)
    (rows, cols), ow = _rows_cols(view), max(view.out.shape[1], 2)
    fig, (a, b) = plt.subplots(
        1,
        2,
        figsize=(size * (cols + ow) + 0.8, size * rows + 0.9),
        gridspec_kw={"width_ratios": [cols, ow]},
    )
    draw_pool(a, b, view)
    fig.suptitle(view.title() + (", ceil_mode" if ceil_mode else ""), fontsize=10)
    fig.tight_layout()
    return fig


def settings_grid(x, settings, size=0.32):
    """The explorer's settings as one static figure: a row per setting (a dict of
    :func:`pool_view`'s keyword arguments other than ``mode``), showing the input with its
    windows and maxima, the max-pool output and the average-pool output. The input's padding
    is left blank, since the two poolings pad differently (a note below the grid says how)."""
    settings = list(settings)
    if not settings:
        raise ValueError("settings must hold at least one setting")
    views = [[pool_view(x, **s, mode=m) for m in MODES] for s in settings]
    rows = max(_rows_cols(v[0])[0] for v in views)
    cols = max(_rows_cols(v[0])[1] for v in views)
    ow = max(max(v[0].out.shape[1] for v in views), 2)
    fig, axes = plt.subplots(
        len(settings),
        3,
        figsize=(size * (cols + 2 * ow) + 1.2, (size * rows + 0.5) * len(settings)),
        gridspec_kw={"width_ratios": [cols, ow, ow]},
        squeeze=False,
    )
    for ax, (mx, av), s in zip(axes, views, settings):
        draw_pool(ax[0], ax[1], mx, fontsize=7, pad_text="")
        _draw_output(ax[2], av.out, "avg pool output", _fmt(av), fontsize=7)
        caption = mx.title().replace("max pool ", "") + (
            ", ceil_mode" if s.get("ceil_mode") else ""
        )
        ax[0].set_title(caption, fontsize=8)
    if any(max(v[0].padding) > 0 for v in views):
        note = "grey cells: padding, −∞ for max pooling and 0 for average pooling"
        fig.text(0.5, 0.005, note, ha="center", va="bottom", fontsize=8)
        fig.tight_layout(rect=(0, 0.04, 1, 1))
    else:
        fig.tight_layout()
    return fig


def routing_figure(x, kernel_size, stride=None, padding=0, grad_output=None, size=0.4):
    """Max pooling's backward pass in three panels: the input with each window's max circled,
    the gradient arriving at the output (``1, 2, 3, ...`` unless given), and the input gradient
    from :func:`dlbook.scratch.max_pool2d_backward`: every output's gradient lands on its
    window's max, and a pixel that wins several overlapping windows collects their sum (its
    count is written small in the corner)."""
    view = pool_view(x, kernel_size, stride, padding, mode="max")
    shape = view.out.shape
    g = np.arange(1.0, view.out.size + 1).reshape(shape) if grad_output is None else grad_output
    g = np.asarray(g, dtype=float)
    if g.shape != shape:
        raise ValueError(f"grad_output must have the output's shape {shape}, got {g.shape}")
    gx = max_pool2d_backward(g[None, None], view.x[None, None], kernel_size, stride, padding)
    gx = gx[0, 0]
    (rows, cols), (h, w) = _rows_cols(view), view.x.shape
    fig, axes = plt.subplots(
        1,
        3,
        figsize=(size * (cols + shape[1] + w) + 1.0, size * max(rows, h) + 0.9),
        gridspec_kw={"width_ratios": [cols, max(shape[1], 2), w]},
    )
    _draw_windows(axes[0], view)
    axes[0].set_title("input: each window's max circled", fontsize=10)
    _draw_output(axes[1], g, "gradient at the output")
    shown = np.where(gx != 0, gx, np.nan)
    draw_grid(axes[2], np.nan_to_num(shown), "gradient at the input", colour=False)
    wins = np.zeros((h, w), dtype=int)
    for k, (r, c) in enumerate(view.winners.reshape(-1, 2)):
        wins[r, c] += 1
        if wins[r, c] == 1:
            tint = Rectangle((c - 0.5, r - 0.5), 1, 1, fc=PALETTE[k % len(PALETTE)], alpha=0.3)
            axes[2].add_patch(tint)
    for t, v in zip(axes[2].texts, gx.ravel()):
        t.set_text(format_number(v, "{:g}") if v else "·")
    for (r, c), n in np.ndenumerate(wins):
        if n > 1:
            axes[2].text(c + 0.47, r + 0.47, f"×{n}", fontsize=8, ha="right", va="bottom")
    axes[2].title.set_fontsize(10)
    fig.tight_layout()
    return fig


def _window_text(view: PoolView, y: int, x: int) -> str:
    """The arithmetic of output ``(y, x)``: ``max(…) = v`` or ``(… ) / D = v``."""
    (r, c), (kh, kw), (h, w) = view.start(y, x), view.kernel, view.x.shape
    pad = "−∞" if view.mode == "max" else "0"
    vals = [
        format_number(view.x[i, j], "{:g}") if 0 <= i < h and 0 <= j < w else pad
        for i in range(r, r + kh)
        for j in range(c, c + kw)
    ]
    v = format_number(view.out[y, x], _fmt(view))
    if view.mode == "max":
        return f"out[{y},{x}] = max({', '.join(vals)}) = {v}"
    return f"out[{y},{x}] = ({' + '.join(vals)}) / {kh * kw} = {v}"


def pool_animation(
    x, kernel_size, stride=None, padding=0, mode="max", interval=900, dpi=72, max_frames=40
):
    """A ``FuncAnimation`` with one frame per output pixel: the window slides over the input,
    the max it picks is circled (max pooling), the arithmetic is written out below and the
    output fills in. Show it with :func:`dlbook.viz.common.to_html`.

    Raises ``ValueError`` naming ``max_frames`` if the output has more pixels than that.
    """
    view = pool_view(x, kernel_size, stride, padding, mode=mode)
    (oh, ow), (kh, kw) = view.out.shape, view.kernel
    if oh * ow > max_frames:
        raise ValueError(f"max_frames: the output has {oh * ow} pixels, more than {max_frames}")
    (rows, cols) = _rows_cols(view)
    fig = plt.figure(figsize=(0.45 * (cols + max(ow, 2)) + 1.0, 0.45 * rows + 0.9), dpi=dpi)
    grid = fig.add_gridspec(2, 2, width_ratios=[cols, max(ow, 2)], height_ratios=[rows, 1.0])
    ax_in, ax_out = fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1])
    ax_text = fig.add_subplot(grid[1, :])
    ax_text.axis("off")
    _draw_plane(ax_in, view, 9)
    ax_in.set_title(view.title(), fontsize=10)
    draw_grid(ax_out, view.out, "output", fmt=_fmt(view), colour=False, fontsize=9)
    window = ax_in.add_patch(Rectangle((0, 0), kw, kh, fc=WINDOW, alpha=0.45, ec="#9c3d00", lw=2))
    ring = ax_in.add_patch(Circle((0, 0), 0.44, fill=False, ec="#9c3d00", lw=2.5))
    ring.set_visible(mode == "max")
    current = ax_out.add_patch(Rectangle((0, 0), 1, 1, fc=WINDOW, alpha=0.45, lw=0))
    caption = ax_text.text(0.0, 0.6, "", fontsize=9, family="monospace", va="center")

    def update(frame):
        y, x0 = divmod(frame, ow)
        r, c = view.start(y, x0)
        window.set_xy((c - 0.5, r - 0.5))
        if view.winners is not None:
            ring.center = (view.winners[y, x0, 1], view.winners[y, x0, 0])
        current.set_xy((x0 - 0.5, y - 0.5))
        for k, t in enumerate(ax_out.texts):  # the outputs so far, so any frame draws alone
            t.set_text(format_number(view.out.flat[k], _fmt(view)) if k <= frame else "")
        caption.set_text(_window_text(view, y, x0))
        return [window, ring, current, caption, *ax_out.texts]

    fig.tight_layout()
    update(0)
    return FuncAnimation(fig, update, frames=oh * ow, interval=interval, blit=False)


def size_formula(n, kernel_size, stride=None, padding=0, ceil_mode=False) -> str:
    """The output-size arithmetic along one axis, written out (torch's rule, ceil mode's last
    check included)."""
    k = int(kernel_size)
    s, p = k if stride is None else int(stride), int(padding)
    room = n + 2 * p - k
    rounding = "⌈{}⌉" if ceil_mode else "⌊{}⌋"
    first = -(-room // s) if ceil_mode else room // s
    exact = rounding.format(f"({n} + 2·{p} − {k}) / {s}")
    text = f"{exact} + 1 = {rounding.format(f'{room}/{s}')} + 1 = {first + 1}"
    if ceil_mode and first * s >= n + p:
        text += (
            f"; but window {first + 1} would start at {first}·{s} − {p} = {first * s - p}, in "
            f"the right padding, so ceil mode drops it: {first}"
        )
    return text


def pool_explorer(x):
    """An ipywidgets explorer: kernel, stride, padding, ceil_mode and mode; the figure and the
    output-size arithmetic update live. Works in a running kernel only; returns the widget.

    The figure goes into the ``Output`` widget's state (``append_display_data``), not through
    ``with out:`` capture, so the cell's own outputs are the same under every notebook runner.
    """

    import ipywidgets as widgets

    x = np.asarray(x, dtype=float)
    slider = widgets.IntSlider
    controls = dict(
        kernel_size=slider(value=3, min=1, max=4, description="kernel"),
        stride=slider(value=2, min=1, max=4, description="stride"),
        padding=slider(value=0, min=0, max=2, description="padding"),
        ceil_mode=widgets.Checkbox(value=False, description="ceil_mode"),
        mode=widgets.ToggleButtons(options=list(MODES), value="max", description="mode"),
    )

    def draw():
        args = {name: w.value for name, w in controls.items()}
        try:
            fig = pool_figure(x, **args)
        except ValueError as err:
            return f"{err}\n"
        keys = ("kernel_size", "stride", "padding", "ceil_mode")
        formula = size_formula(x.shape[0], *(args[k] for k in keys))
        return f"H_out = {formula}\n", fig

    widgets_ = list(controls.values())
    # The static grid: non-overlapping (2/2), overlapping (3/2) and dense (stride 1) windows, with
    # and without ceil_mode, max and average.
    grid = {"kernel": [2, 3], "stride": [1, 2], "padding": [0]}
    return make_explorer([widgets_[:3], widgets_[3:]], draw, output=True, dpi=80, grid=grid)


def shift_change_figure(shifts, change: dict):
    """One line per pooling: the relative change of the map against the shift, as
    :func:`dlbook.experiments.pooling.shift_changes` measures it. One colour per window size
    (black: no pooling), circles for max pooling, squares for average pooling. Returns the
    Figure."""
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    sizes = sorted({name.split()[-1] for name in change if name[-1].isdigit()}, key=int)
    for name, c in change.items():
        colour = f"C{sizes.index(name.split()[-1])}" if name[-1].isdigit() else "black"
        style = "s--" if name.startswith("avg") else "o-"
        ax.plot(shifts, c, style, label=name, ms=4, color=colour)
    ax.set(
        xlabel="shift t (pixels)",
        ylabel="relative change of the map",
        title="Edge map of the photograph, shifted right by t pixels",
    )
    ax.legend(fontsize=8, ncol=2)
    ax.set_ylim(0, None)
    fig.tight_layout()
    return fig
