"""Pictures of transposed convolution: the matrix C and C^T, stamping, overlap counts, artifacts.

A transposed convolution sends every input pixel out through the kernel: it stamps
``x[i, j] * weight`` onto the output at ``(i * stride, j * stride)`` and adds where stamps overlap.
How many stamps cover each output pixel (the overlap count) explains checkerboard artifacts.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import FuncAnimation
from matplotlib.patches import Rectangle

from dlbook.experiments.transposed_convolution import conv_transpose2d_zero_insertion, zero_insert
from dlbook.scratch import conv_transpose2d
from dlbook.shapes import conv_transpose_output_size
from dlbook.viz.common import make_explorer

__all__ = [
    "overlap_count",
    "matrix_figure",
    "stamping_animation",
    "zero_insertion_animation",
    "overlap_figure",
    "overlap_explorer",
    "image_grid",
]


def overlap_count(
    in_size, kernel_size, stride=1, padding=0, output_padding=0, dilation=1
) -> np.ndarray:
    """How many stamps cover each output pixel: ``conv_transpose2d`` of ones with a ones kernel.

    ``in_size`` and ``kernel_size`` are ints (square). Returns a float64 ``(H_out, W_out)`` map.
    """
    for name, v in (("in_size", in_size), ("kernel_size", kernel_size)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    ones = np.ones((1, 1, in_size, in_size))
    kernel = np.ones((1, 1, kernel_size, kernel_size))
    out = conv_transpose2d(ones, kernel, None, stride, padding, output_padding, 1, dilation)
    return out[0, 0]


def _annotate(ax, values, fmt="{:g}", size=8, skip_zero=True, threshold=None, dark_low=False):
    """Write each cell's value on an ``imshow`` grid, in a colour that stands out from the cell.

    Text is white on cells above ``threshold`` (dark for colour maps such as Blues), or below
    it when ``dark_low`` (colour maps such as viridis, dark at the low end).
    """
    threshold = np.max(np.abs(values)) / 2 if threshold is None else threshold
    texts = []
    for (r, c), v in np.ndenumerate(values):
        if skip_zero and v == 0:
            continue
        color = "white" if (abs(v) > threshold) != dark_low else "black"
        texts.append(ax.text(c, r, fmt.format(v), ha="center", va="center", size=size, color=color))
    return texts


def _grid(ax, shape):
    """Thin cell borders and no ticks, for small integer grids."""
    ax.set_xticks(np.arange(-0.5, shape[1], 1), minor=True)
    ax.set_yticks(np.arange(-0.5, shape[0], 1), minor=True)
    ax.grid(which="minor", color="0.75", lw=0.5)
    ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)


def matrix_figure(matrix, input_hw, weight, cmap="Blues"):
    """Heat-maps of the convolution matrix ``C`` and of ``C^T``, with the pixels they index.

    ``matrix`` is ``(H_out * W_out, H * W)`` (from :func:`dlbook.scratch.matrix.conv2d_matrix`),
    ``weight`` the ``(kH, kW)`` kernel, whose values are written in the cells.
    """
    h, w = input_hw
    n_out = matrix.shape[0]
    fig, axes = plt.subplot_mosaic(
        [["C", "C", "C", "T"], ["x", "w", "y", "T"]],
        figsize=(10, 5.2),
        gridspec_kw={"height_ratios": [1, 1.15], "width_ratios": [1, 1, 1, 0.9]},
    )
    vmax = np.abs(matrix).max()
    c_title = f"$C$: {_size(matrix)}, $y = Cx$ (row: one output's window; column: pixel $rW + c$)"
    for key, m, title in (
        ("C", matrix, c_title),
        ("T", matrix.T, f"$C^T$: {_size(matrix.T)}, $C^T y$"),
    ):
        ax = axes[key]
        ax.imshow(m, cmap=cmap, vmin=0 if m.min() >= 0 else -vmax, vmax=vmax)
        _annotate(ax, m, size=9)
        _grid(ax, m.shape)
        # Number the rows and columns: they are the pixel numbers drawn below.
        ax.set_xticks(range(m.shape[1]), labels=range(m.shape[1]), fontsize=9)
        ax.set_yticks(range(m.shape[0]), labels=range(m.shape[0]), fontsize=9)
        ax.tick_params(labelbottom=False, labeltop=True, labelleft=True)
        ax.set_title(title, fontsize=10)
    axes["C"].set_ylabel("output", fontsize=9)
    axes["T"].set_ylabel("output of $C^T$ = pixel $rW + c$", fontsize=9)
    axes["T"].set_xlabel("input of $C^T$", fontsize=9)
    for key, shape, title in (
        ("x", (h, w), f"input $x$ ({h}×{w}): pixel numbers"),
        ("y", _out_grid(n_out), "output $y$: row numbers of $C$"),
    ):
        ax = axes[key]
        ax.imshow(np.zeros(shape), cmap="Greys", vmin=0, vmax=1)
        numbers = np.arange(np.prod(shape)).reshape(shape)
        _annotate(ax, numbers, "{:d}", 9, skip_zero=False, threshold=np.inf)
        _grid(ax, shape)
        ax.set_title(title, fontsize=9)
    ax = axes["w"]
    ax.imshow(weight, cmap=cmap, vmin=0 if weight.min() >= 0 else -vmax, vmax=vmax)
    _annotate(ax, weight, size=10)
    _grid(ax, weight.shape)
    ax.set_title("kernel $w$", fontsize=9)
    fig.tight_layout()
    return fig


def _size(m):
    return f"{m.shape[0]}×{m.shape[1]}"


def _out_grid(n_out):
    """The output grid for ``n_out`` values: square when it can be, else one row."""
    side = int(round(np.sqrt(n_out)))
    return (side, side) if side * side == n_out else (1, n_out)


def stamping_animation(x, weight, stride=1, padding=0, output_padding=0, interval=700, dpi=72):
    """Animate ``conv_transpose2d`` as stamping: one frame per input pixel, plus a blank start.

    ``x`` is ``(H, W)`` and ``weight`` ``(kH, kW)``. Frame ``t`` shows the output after ``t``
    stamps on the full (uncropped) grid; the dashed box is what remains after cropping
    ``padding`` (and adding ``output_padding``). Returns a ``FuncAnimation`` with
    ``H * W + 1`` frames; show it with :func:`dlbook.viz.common.to_html`.
    """
    x, weight = np.asarray(x, float), np.asarray(weight, float)
    if x.ndim != 2 or weight.ndim != 2:
        raise ValueError("x and weight must be 2-D arrays")
    (h, w), (kh, kw), s = x.shape, weight.shape, stride
    full_h, full_w = (h - 1) * s + kh + output_padding, (w - 1) * s + kw + output_padding
    stamps = []
    acc = np.zeros((full_h, full_w))
    for i in range(h):
        for j in range(w):
            acc = acc.copy()
            acc[i * s : i * s + kh, j * s : j * s + kw] += x[i, j] * weight
            stamps.append(((i, j), acc))
    final = stamps[-1][1]
    lo, hi = min(final.min(), 0), max(final.max(), 1e-12)

    fig, axes = plt.subplots(
        1, 3, figsize=(8.4, 3.4), dpi=dpi, gridspec_kw={"width_ratios": [w, kw, full_w]}
    )
    for ax, data, title in ((axes[0], x, "input $x$"), (axes[1], weight, "kernel $w$")):
        ax.imshow(data, cmap="Oranges", vmin=min(data.min(), 0), vmax=data.max())
        _annotate(ax, data, size=10, skip_zero=False, threshold=data.max() * 0.6)
        _grid(ax, data.shape)
        ax.set_title(title, fontsize=10)
    pixel = Rectangle((-0.5, -0.5), 1, 1, fill=False, ec="crimson", lw=2.5)
    axes[0].add_patch(pixel)
    ax = axes[2]
    image = ax.imshow(np.zeros_like(final), cmap="Blues", vmin=lo, vmax=hi)
    _grid(ax, final.shape)
    stamp = Rectangle((-0.5, -0.5), kw, kh, fill=False, ec="crimson", lw=2.5)
    ax.add_patch(stamp)
    out_h, out_w = full_h - 2 * padding, full_w - 2 * padding
    ax.add_patch(
        Rectangle((padding - 0.5, padding - 0.5), out_w, out_h, fill=False, ec="k", lw=1.5, ls="--")
    )
    texts = []

    def draw(t):
        for text in texts:
            text.remove()
        texts.clear()
        data = np.zeros_like(final) if t == 0 else stamps[t - 1][1]
        image.set_data(data)
        texts.extend(_annotate(ax, data, size=8, threshold=lo + 0.6 * (hi - lo)))
        if t == 0:
            pixel.set_visible(False)
            stamp.set_visible(False)
            ax.set_title(f"output (stride {s}): 0 stamps", fontsize=10)
        else:
            (i, j), _ = stamps[t - 1]
            pixel.set_visible(True)
            stamp.set_visible(True)
            pixel.set_xy((j - 0.5, i - 0.5))
            stamp.set_xy((j * s - 0.5, i * s - 0.5))
            ax.set_title(
                f"output += x[{i},{j}]·w at ({i * s},{j * s})   [{t}/{h * w}]", fontsize=10
            )
        return [image, pixel, stamp, *texts]

    fig.suptitle(
        f"transposed convolution = stamping; dashed box: the {out_h}×{out_w} output "
        f"after padding={padding}",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    return FuncAnimation(fig, draw, frames=h * w + 1, interval=interval, blit=False)


def zero_insertion_animation(x, weight, stride=2, padding=0, output_padding=0, interval=600,
                             dpi=72):  # fmt: skip
    """Animate ``conv_transpose2d`` as an ordinary convolution: the input with ``stride - 1``
    zeros between its pixels and ``k - 1 - padding`` zeros around it, the kernel turned by 180°
    sliding over it at stride 1, and the output filling one value a frame (plus a blank start).
    ``x`` is ``(H, W)``, ``weight`` ``(kH, kW)``; dilation 1. Returns a ``FuncAnimation``."""

    x, weight = np.asarray(x, float), np.asarray(weight, float)
    if x.ndim != 2 or weight.ndim != 2:
        raise ValueError("x and weight must be 2-D arrays")
    (kh, kw), s = weight.shape, stride
    if padding > min(kh, kw) - 1:
        raise ValueError(f"padding must be at most k - 1 = {min(kh, kw) - 1} here, got {padding}")
    z = zero_insert(x, s)
    e = (kh - 1 - padding, kw - 1 - padding)
    z = np.pad(z, ((e[0], e[0] + output_padding), (e[1], e[1] + output_padding)))
    flipped = weight[::-1, ::-1]
    out = conv_transpose2d_zero_insertion(x[None, None], weight[None, None], None, s, padding,
                                          output_padding)[0, 0]  # fmt: skip
    inserted = np.zeros_like(z, dtype=bool)
    inserted[
        e[0] : e[0] + (x.shape[0] - 1) * s + 1 : s, e[1] : e[1] + (x.shape[1] - 1) * s + 1 : s
    ] = True
    ratios = {"width_ratios": [z.shape[1], kw, out.shape[1]]}
    fig, axes = plt.subplots(1, 3, figsize=(8.0, 3.4), dpi=dpi, gridspec_kw=ratios)
    ax = axes[0]
    ax.imshow(np.where(inserted, 1.0, 0.0), cmap="Oranges", vmin=0, vmax=2.5)
    for (r, c), v in np.ndenumerate(z):
        ax.text(c, r, f"{v:g}", ha="center", va="center", size=9,
                color="black" if inserted[r, c] else "0.6")  # fmt: skip
    _grid(ax, z.shape)
    ax.set_title(f"zeros inserted ({s - 1}) and padded", fontsize=10)
    axes[1].imshow(flipped, cmap="Oranges", vmin=min(flipped.min(), 0), vmax=flipped.max())
    _annotate(axes[1], flipped, size=10, skip_zero=False, threshold=flipped.max() * 0.6)
    _grid(axes[1], flipped.shape)
    axes[1].set_title("kernel, turned 180°", fontsize=10)
    window = Rectangle((-0.5, -0.5), kw, kh, fill=False, ec="crimson", lw=2.5)
    ax.add_patch(window)
    lo, hi = min(out.min(), 0), max(out.max(), 1e-12)
    image = axes[2].imshow(np.zeros_like(out), cmap="Blues", vmin=lo, vmax=hi)
    _grid(axes[2], out.shape)
    cell = Rectangle((-0.5, -0.5), 1, 1, fill=False, ec="crimson", lw=2.5)
    axes[2].add_patch(cell)
    texts = []
    positions = list(np.ndindex(*out.shape))

    def draw(t):
        for text in texts:
            text.remove()
        texts.clear()
        shown = np.zeros_like(out)
        for r, c in positions[:t]:
            shown[r, c] = out[r, c]
        image.set_data(shown)
        texts.extend(_annotate(axes[2], shown, size=9, threshold=lo + 0.6 * (hi - lo)))
        window.set_visible(t > 0)
        cell.set_visible(t > 0)
        if t:
            r, c = positions[t - 1]
            window.set_xy((c - 0.5, r - 0.5))
            cell.set_xy((c - 0.5, r - 0.5))
        axes[2].set_title(f"output {_size(out)}: {t}/{out.size}", fontsize=10)
        return [image, window, cell, *texts]

    fig.suptitle(f"conv_transpose2d(stride={s}, padding={padding}) = a stride-1 convolution of "
                 "the zero-inserted input", fontsize=10)  # fmt: skip
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    draw(0)
    return FuncAnimation(fig, draw, frames=out.size + 1, interval=interval, blit=False)


def overlap_figure(cases, in_size=5, ncols=None, size=2.6, annotate=144):
    """Overlap-count maps for a list of ``dict(kernel_size=, stride=, padding=, output_padding=)``.

    Each panel's title gives the case, the output size and the range of counts; an invalid case
    (``output_padding`` too large, output smaller than one pixel) is drawn as an empty panel.
    Maps of at most ``annotate`` pixels get their counts written in (0 for none).
    """
    ncols = len(cases) if ncols is None else ncols
    nrows = int(np.ceil(len(cases) / ncols))
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(size * ncols, size * nrows + 0.3), squeeze=False
    )
    for ax in axes.flat[len(cases) :]:
        ax.set_visible(False)
    for ax, case in zip(axes.flat, cases):
        k, s = case["kernel_size"], case.get("stride", 1)
        p, op = case.get("padding", 0), case.get("output_padding", 0)
        label = f"k={k} s={s}" + (f" p={p}" if p else "") + (f" op={op}" if op else "")
        try:
            counts = overlap_count(in_size, k, s, p, op)
        except ValueError as err:
            ax.text(
                0.5,
                0.5,
                "invalid:\n" + str(err)[:40] + "…",
                ha="center",
                va="center",
                fontsize=7,
                wrap=True,
                transform=ax.transAxes,
            )
            ax.set_title(label, fontsize=9)
            ax.set_axis_off()
            continue
        ax.imshow(counts, cmap="viridis", vmin=0, vmax=max(counts.max(), 1))
        if counts.size <= annotate:
            size = 7 if counts.shape[0] > 12 else 8
            _annotate(ax, counts, "{:.0f}", size, threshold=counts.max() * 0.55, dark_low=True)
        _grid(ax, counts.shape)
        lo, hi = int(counts.min()), int(counts.max())
        span = f"count {lo}" if lo == hi else f"counts {lo}–{hi}"
        ax.set_title(f"{label}\n{in_size}→{counts.shape[0]}, {span}", fontsize=9)
    fig.tight_layout()
    return fig


def overlap_explorer(in_size=5):
    """Sliders for kernel size, stride, padding and output_padding, drawing the overlap map.

    Returns the widget (display it); the size formula and the map go into its ``Output``.
    """
    import ipywidgets as widgets

    controls = dict(
        kernel_size=widgets.IntSlider(3, 1, 7, description="kernel"),
        stride=widgets.IntSlider(2, 1, 4, description="stride"),
        padding=widgets.IntSlider(0, 0, 3, description="padding"),
        output_padding=widgets.IntSlider(0, 0, 3, description="out. pad."),
    )

    def draw():
        case = {name: w.value for name, w in controls.items()}
        k, s, p, op = case.values()
        try:
            out = conv_transpose_output_size(in_size, k, s, p, op)
        except ValueError as err:
            return f"invalid: {err}\n"
        formula = f"output size = ({in_size}-1)·{s} - 2·{p} + ({k}-1) + {op} + 1 = {out}\n"
        return formula, overlap_figure([case], in_size=in_size, size=4.5)

    return make_explorer(list(controls.values()), draw, output=True, dpi=None)


def image_grid(images, titles, crop=None, size=1.8, cmap="gray", vmin=0.0, vmax=1.0, ncols=None):
    """Images side by side, ``ncols`` a row (default: all of up to 4, else at most 3 a row, in
    rows as even as can be); with ``crop=(rows, cols)`` slices, a row of zooms
    into that patch under each row of images.

    ``images`` is a list of 2-D arrays; ``crop`` is in the largest image's pixels and scaled for
    smaller ones. The zoom uses nearest-neighbour display, so every pixel
    (and every checkerboard) stays visible.
    """
    per = 1 if crop is None else 2  # rows of axes per row of images
    n = len(images)
    ncols = min(ncols or (n if n <= 4 else -(-n // -(-n // 3))), n)
    nrows = -(-len(images) // ncols) * per
    biggest = max(img.shape[0] for img in images)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(size * ncols, size * nrows + 0.4), squeeze=False
    )
    for ax in axes.flat:
        ax.set_visible(False)
    for k, (img, title) in enumerate(zip(images, titles)):
        row, col = per * (k // ncols), k % ncols
        ax = axes[row, col]
        ax.set_visible(True)
        ax.imshow(img, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.set_axis_off()
        if crop is not None:
            rows, cols = crop
            scale = img.shape[0] / biggest  # crops are given in the largest image's pixels
            r0, r1 = int(rows.start * scale), int(rows.stop * scale)
            c0, c1 = int(cols.start * scale), int(cols.stop * scale)
            ax.add_patch(
                Rectangle((c0 - 0.5, r0 - 0.5), c1 - c0, r1 - r0, fill=False, ec="red", lw=1)
            )
            zoom = axes[row + 1, col]
            zoom.set_visible(True)
            zoom.imshow(img[r0:r1, c0:c1], cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
            zoom.set_title("zoom (red box)", fontsize=8)
            zoom.set_axis_off()
    fig.tight_layout()
    return fig
