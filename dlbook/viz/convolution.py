"""Pictures of a kernel sliding over an image: annotated grids, image rows, the im2col matrix,
a sliding-window animation and a kernel explorer.

The numbers drawn here come from :mod:`dlbook.scratch`; nothing in this module trains.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import FuncAnimation
from matplotlib.patches import Rectangle

from dlbook.scratch import conv2d
from dlbook.viz.common import format_number, make_explorer

__all__ = [
    "draw_grid",
    "show_grids",
    "show_images",
    "kernels_and_responses",
    "plot_im2col",
    "sliding_window_animation",
    "gaussian_kernel",
    "filter_response",
    "kernel_grid",
    "kernel_explorer",
]

WINDOW = "#f4a259"  # the kernel window, wherever it is drawn
COLOURS = ("#e76f51", "#2a9d8f", "#8ab17d", "#7b6fd6", "#e9c46a", "#5fa8d3")


def draw_grid(ax, a, title=None, fmt="{:g}", cmap="RdBu_r", fontsize=None, colour=True):
    """Draw the 2-D array ``a`` as a grid of cells with its numbers written in them.

    Colours are symmetric about zero (blue negative, red positive), kept pale so the numbers stay
    readable; ``colour=False`` gives plain white cells.
    """
    a = np.asarray(a, dtype=float)
    if a.ndim != 2:
        raise ValueError(f"a must be 2-D, got shape {a.shape}")
    m = max(float(np.abs(a).max()), 1e-12)
    shown = a if colour else np.zeros_like(a)
    ax.imshow(shown, cmap=cmap, vmin=-2.2 * m, vmax=2.2 * m)
    size = fontsize or (11 if max(a.shape) <= 5 else 8)
    for (i, j), v in np.ndenumerate(a):
        ax.text(j, i, format_number(v, fmt), ha="center", va="center", fontsize=size)
    # Plain lines rather than minor-tick gridlines: ticks make every animation frame slow to draw.
    h, w = a.shape
    ax.hlines(np.arange(-0.5, h), -0.5, w - 0.5, color="0.4", linewidth=0.8, clip_on=False)
    ax.vlines(np.arange(-0.5, w), -0.5, h - 0.5, color="0.4", linewidth=0.8, clip_on=False)
    ax.set_xlim(-0.5, w - 0.5)
    ax.set_ylim(h - 0.5, -0.5)
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def show_grids(arrays, titles=None, fmt="{:g}", size=1.9, colour=True):
    """A row of :func:`draw_grid` panels, one per array; returns the figure."""
    titles = titles or [None] * len(arrays)
    if len(titles) != len(arrays):
        raise ValueError(f"titles: expected {len(arrays)}, got {len(titles)}")
    fig, axes = plt.subplots(
        1, len(arrays), figsize=(size * len(arrays), size + 0.3), squeeze=False
    )
    for ax, a, t in zip(axes[0], arrays, titles, strict=True):
        draw_grid(ax, a, t, fmt=fmt, colour=colour)
    fig.tight_layout()
    return fig


def _imshow(ax, img, title, cmap, symmetric):
    if symmetric:
        # The 99th percentile, not the maximum: a few very strong edges would wash out the rest.
        m = float(np.percentile(np.abs(img), 99)) or 1.0
        ax.imshow(img, cmap=cmap, vmin=-m, vmax=m)
    else:
        ax.imshow(img, cmap=cmap)
    ax.set_title(title, fontsize=10)
    ax.axis("off")


def show_images(images, titles=None, ncols=None, cmap="gray", size=2.6, symmetric=False):
    """A grid of 2-D images with titles; returns the figure.

    ``symmetric`` (a bool, or one per image) centres the colour scale on zero, so that zero is
    mid-grey and the sign of a signed response shows as dark against light.
    """
    n = len(images)
    titles = titles or [""] * n
    sym = list(symmetric) if isinstance(symmetric, (list, tuple)) else [symmetric] * n
    if len(titles) != n or len(sym) != n:
        raise ValueError(f"titles and symmetric need one entry per image ({n})")
    ncols = ncols or n
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(size * ncols, size * nrows + 0.2), squeeze=False
    )
    for ax in axes.flat[n:]:
        ax.axis("off")
    for ax, img, t, s in zip(axes.flat[:n], images, titles, sym, strict=True):
        _imshow(ax, img, t, cmap, s)
    fig.tight_layout()
    return fig


def kernels_and_responses(kernels: dict, responses: dict, size=1.8, fmt="{:.3g}"):
    """Two rows: each kernel as a numbered grid, and under it its response (both dicts by name).

    Responses with negative values are drawn on a grey scale centred on zero. A kernel wider than
    3 with fractional weights is written in thousandths, so that its numbers fit their cells.
    """
    if list(kernels) != list(responses):
        raise ValueError("responses must have the same names, in the same order, as kernels")
    n = len(kernels)
    fig, axes = plt.subplots(
        2, n, figsize=(size * n, 2 * size + 0.2), gridspec_kw={"height_ratios": [0.7, 1]}
    )
    axes = np.asarray(axes).reshape(2, n)
    for j, name in enumerate(kernels):
        k = np.asarray(kernels[name])
        if k.shape[1] > 3 and not np.array_equal(k, np.round(k)):
            draw_grid(axes[0, j], 1000 * k, f"{name}\n(weights × 1000)", fmt="{:.0f}", fontsize=8)
        else:
            draw_grid(axes[0, j], k, name, fmt=fmt, fontsize=8 if k.shape[0] > 3 else 10)
        r = np.asarray(responses[name])
        _imshow(axes[1, j], r, "response", "gray", bool(r.min() < 0))
    fig.tight_layout()
    return fig


def plot_im2col(x, cols, kernel_shape):
    """The im2col picture: every window of the small image ``x`` ``(H, W)`` becomes one column.

    ``cols`` is ``(kh*kw, L)``, as :func:`dlbook.scratch.im2col.im2col` makes it for one image
    and one channel (stride 1, no padding). Window ``l`` and column ``l`` share a colour.
    """
    x, cols = np.asarray(x), np.asarray(cols)
    kh, kw = kernel_shape
    oh, ow = x.shape[0] - kh + 1, x.shape[1] - kw + 1
    if cols.shape != (kh * kw, oh * ow):
        raise ValueError(f"cols must have shape {(kh * kw, oh * ow)}, got {cols.shape}")
    if oh * ow > len(COLOURS):
        raise ValueError(f"x: at most {len(COLOURS)} windows can be coloured, got {oh * ow}")
    matrix_width = 1.4 * oh * cols.shape[1] / cols.shape[0]  # in window widths, room for labels
    fig = plt.figure(figsize=(1.7 * (ow + matrix_width) + 0.6, 1.7 * oh + 0.4))
    grid = fig.add_gridspec(oh, ow + 1, width_ratios=[1] * ow + [matrix_width])
    for k in range(oh * ow):
        y, x0 = divmod(k, ow)
        ax = fig.add_subplot(grid[y, x0])
        draw_grid(ax, x, f"window {k}", colour=False, fontsize=8)
        ax.add_patch(
            Rectangle((x0 - 0.5, y - 0.5), kw, kh, fc=COLOURS[k], alpha=0.45, lw=2, ec=COLOURS[k])
        )
    ax = fig.add_subplot(grid[:, ow])
    draw_grid(ax, cols, f"im2col: a ({kh * kw} × {oh * ow}) matrix", colour=False)
    for k in range(oh * ow):
        ax.add_patch(Rectangle((k - 0.5, -0.5), 1, kh * kw, fc=COLOURS[k], alpha=0.45, lw=0))
    ax.text(cols.shape[1] / 2 - 0.5, kh * kw, "one column per window", ha="center", va="top")
    ax.text(-0.9, kh * kw / 2 - 0.5, "one row per kernel tap", rotation=90, ha="right", va="center")
    fig.tight_layout()
    return fig


def _terms(window, w) -> str:
    parts = [
        f"{format_number(a, '{:g}')}·{format_number(b, '{:g}')}"
        for a, b in zip(window.ravel(), w.ravel(), strict=True)
    ]
    lines = [" + ".join(parts[i : i + 5]) for i in range(0, len(parts), 5)]
    return "\n   + ".join(lines)


def sliding_window_animation(
    x, w, stride=1, padding=0, dilation=1, interval=1000, dpi=72, max_frames=40
):
    """Animate ``conv2d`` of one small ``(H, W)`` image ``x`` with one ``(kh, kw)`` kernel ``w``.

    One frame per output pixel: the window moves over the (padded) input, each covered cell shows
    its kernel weight in a corner, the multiply-add is written out beneath, and the output grid
    fills in. Returns a ``FuncAnimation`` with ``H_out * W_out`` frames; show it with
    :func:`dlbook.viz.common.to_html`.
    """
    x, w = np.asarray(x, dtype=float), np.asarray(w, dtype=float)
    if x.ndim != 2 or w.ndim != 2:
        raise ValueError(f"x and w must be 2-D, got shapes {x.shape} and {w.shape}")
    out = conv2d(x[None, None], w[None, None], stride=stride, padding=padding, dilation=dilation)
    out = out[0, 0]
    (oh, ow), (kh, kw) = out.shape, w.shape
    if oh * ow > max_frames:
        raise ValueError(
            f"x: {oh * ow} output pixels would be {oh * ow} frames (max_frames={max_frames})"
        )
    s, p, d = (np.broadcast_to(v, 2) for v in (stride, padding, dilation))
    xp = np.pad(x, ((p[0], p[0]), (p[1], p[1])))

    fig = plt.figure(figsize=(7.4, 3.4), dpi=dpi)
    grid = fig.add_gridspec(2, 3, width_ratios=[xp.shape[1], kw, ow], height_ratios=[3, 1])
    ax_x, ax_w, ax_o = (fig.add_subplot(grid[0, k]) for k in range(3))
    ax_sum = fig.add_subplot(grid[1, :])
    ax_sum.axis("off")
    title = "input" + (" (zero-padded)" if p.any() else "")
    draw_grid(ax_x, xp, title, colour=False, fontsize=9 if max(xp.shape) > 5 else None)
    h, w_ = xp.shape
    for xy, width, height in (  # grey strips over the zero padding
        ((-0.5, -0.5), w_, p[0]),
        ((-0.5, h - p[0] - 0.5), w_, p[0]),
        ((-0.5, -0.5), p[1], h),
        ((w_ - p[1] - 0.5, -0.5), p[1], h),
    ):
        ax_x.add_patch(Rectangle(xy, width, height, fc="0.8", lw=0, zorder=0.5))
    draw_grid(ax_w, w, "kernel")
    draw_grid(ax_o, np.zeros_like(out), "output", colour=False)
    for t in ax_o.texts:
        t.set_text("")
    cells = [ax_x.add_patch(Rectangle((0, 0), 1, 1, fc=WINDOW, alpha=0.5)) for _ in w.ravel()]
    tag_size = 8.5  # at least 9 px at the notebook's 80 dpi
    tags = [ax_x.text(0, 0, "", fontsize=tag_size, color="#9c3d00", ha="right") for _ in cells]
    current = ax_o.add_patch(Rectangle((0, 0), 1, 1, fc=WINDOW, alpha=0.5))
    sum_text = ax_sum.text(
        0, 1, "", family="monospace", fontsize=9, va="top", transform=ax_sum.transAxes
    )

    def update(frame):
        y, x0 = divmod(frame, ow)
        rows = y * s[0] + d[0] * np.arange(kh)
        cols = x0 * s[1] + d[1] * np.arange(kw)
        for k, (i, j) in enumerate(np.ndindex(kh, kw)):
            cells[k].set_xy((cols[j] - 0.5, rows[i] - 0.5))
            tags[k].set_position((cols[j] + 0.47, rows[i] + 0.45))
            tags[k].set_text(f"×{format_number(w[i, j], '{:g}')}")
        current.set_xy((x0 - 0.5, y - 0.5))
        for k, text in enumerate(ax_o.texts):  # outputs so far, so any frame can be drawn alone
            text.set_text(format_number(out.flat[k], "{:g}") if k <= frame else "")
        window = xp[np.ix_(rows, cols)]
        sum_text.set_text(
            f"out[{y},{x0}] = {_terms(window, w)}\n   = {format_number(out[y, x0], '{:g}')}"
        )
        return [*cells, *tags, current, sum_text, *ax_o.texts]

    fig.tight_layout()
    return FuncAnimation(fig, update, frames=oh * ow, interval=interval, blit=False)


def gaussian_kernel(sigma: float, radius: int | None = None) -> np.ndarray:
    """The 1-D Gaussian ``exp(-t^2 / 2 sigma^2)`` on ``t = -radius..radius``, summing to 1."""
    if not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma!r}")
    radius = int(np.ceil(3 * sigma)) if radius is None else radius
    if radius < 0:
        raise ValueError(f"radius must be >= 0, got {radius}")
    g = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    return g / g.sum()


def filter_response(image, kernel, sigma=0.0):
    """``(H, W)`` response of ``image`` to ``kernel`` after a Gaussian blur of width ``sigma``.

    Borders are reflected, so the output keeps the input's size and shows no dark frame. The blur
    is separable: a ``1 × k`` pass then a ``k × 1`` pass, ``2k`` multiply-adds a pixel, not ``k²``.
    """
    image = np.asarray(image)
    if sigma > 0:
        g = gaussian_kernel(sigma)
        r = len(g) // 2
        xp = conv2d(np.pad(image, r, mode="reflect")[None, None], g[None, None, None, :])
        image = conv2d(xp, g[None, None, :, None])[0, 0]
    k = np.asarray(kernel, dtype=image.dtype)
    pads = [(k.shape[0] // 2, (k.shape[0] - 1) // 2), (k.shape[1] // 2, (k.shape[1] - 1) // 2)]
    return conv2d(np.pad(image, pads, mode="reflect")[None, None], k[None, None])[0, 0]


def kernel_grid(image, kernels: dict, sigmas=(0.0, 1.0, 2.0, 4.0), size=2.0):
    """The explorer's settings as one static figure: a row per kernel, a column per ``sigma``."""
    images = [filter_response(image, k, sigma) for k in kernels.values() for sigma in sigmas]
    titles = [f"{name}, σ = {sigma:g}" for name in kernels for sigma in sigmas]
    signed = [bool(r.min() < 0) for r in images]
    return show_images(images, titles, ncols=len(sigmas), size=size, symmetric=signed)


def kernel_explorer(image, kernels: dict, sigma_max=4.0):
    """An ipywidgets explorer: pick a kernel and a blur ``sigma``, see the response beside the
    blurred image. Blurring first sets the *scale* of the edges a kernel finds: fine texture fades
    and only large outlines stay. Works in a live kernel only; returns the widget.

    The figure goes into the ``Output`` widget's state (``append_display_data``), not through
    ``with out:`` capture, so the cell's own outputs are the same under every notebook runner.
    """
    import ipywidgets as widgets

    names = list(kernels)
    kernel = widgets.Dropdown(options=names, value=names[0], description="kernel")
    sigma = widgets.FloatSlider(value=0.0, min=0.0, max=sigma_max, step=0.5, description="blur σ")

    def draw():
        resp = filter_response(image, kernels[kernel.value], sigma.value)
        smooth = filter_response(image, [[1.0]], sigma.value)
        titles = [f"blurred, σ = {sigma.value:g}", f"{kernel.value} response"]
        return show_images(
            [smooth, resp], titles, size=3.4, symmetric=[False, bool(resp.min() < 0)]
        )

    # Photographs make large pictures: every kernel, unblurred and blurred, in the static grid.
    return make_explorer([[kernel, sigma]], draw, output=True, dpi=72, grid={sigma: [0.0, 2.0]})
