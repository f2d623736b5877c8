"""Pictures of multi-channel convolution: per-channel sums, kernel banks, groups, and a build-up
animation, for the Channels chapter. Everything takes NCHW-style NumPy arrays."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import FuncAnimation
from matplotlib.patches import Polygon

from dlbook.experiments.channels import conv_cost, separable_cost
from dlbook.scratch import conv2d
from dlbook.viz.common import make_explorer

__all__ = [
    "colour_kernels",
    "show_channel_sum",
    "show_feature_maps",
    "channel_diagram",
    "draw_groups",
    "draw_separable",
    "groups_grid",
    "build_animation",
    "explorer",
]

RGB = ("red", "green", "blue")
_GROUP_COLOURS = plt.get_cmap("tab10").colors


def colour_kernels():
    """A hand-made bank of 3×3 kernels for RGB images: weight ``(6, 3, 3, 3)`` and their names."""
    sobel = np.array([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]]) / 4
    lum = np.array([0.299, 0.587, 0.114])  # the weights of brightness (ITU-R 601 luma)
    blur = np.full((3, 3), 1 / 9)
    lap = np.array([[0.0, -1, 0], [-1, 4, -1], [0, -1, 0]])
    w = np.stack(
        [
            lum[:, None, None] * sobel,  # brightness edges, left to right
            lum[:, None, None] * sobel.T,  # brightness edges, top to bottom
            np.stack([blur, -0.5 * blur, -0.5 * blur]),  # red against the rest
            np.stack([-0.5 * blur, -0.5 * blur, blur]),  # blue against the rest
            np.stack([sobel, -sobel, 0 * sobel]),  # red-green edges that brightness may miss
            lum[:, None, None] * lap,  # brightness spots and lines
        ]
    )
    names = (
        "brightness ∂x",
        "brightness ∂y",
        "red − others",
        "blue − others",
        "red−green ∂x",
        "brightness Laplacian",
    )
    return w, names


def _show(ax, a, title=None, vmax=None, cmap="RdBu_r"):
    """An image without ticks; signed data (the default map) is centred on zero."""
    if vmax is None:
        vmax = float(np.abs(a).max()) or 1.0
    ax.imshow(a, cmap=cmap, vmin=0 if cmap != "RdBu_r" else -vmax, vmax=vmax)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)


def show_channel_sum(x, w, b=None, o=0, names=RGB):
    """One output channel, taken apart: ``out[o] = Σ_c x[c] ⋆ w[o, c] + b[o]``.

    ``x`` is one image ``(C, H, W)`` (values in [0, 1]), ``w`` a weight ``(C_out, C, k, k)``.
    Row ``c`` shows the input plane, its kernel slice and their correlation; the last column
    their sum. Returns the figure.
    """
    c = x.shape[0]
    parts = [
        conv2d(x[None, i : i + 1], w[o : o + 1, i : i + 1], padding="same")[0, 0] for i in range(c)
    ]
    out = sum(parts) + (0.0 if b is None else b[o])
    vmax = max(float(np.abs(p).max()) for p in [*parts, out]) or 1.0
    fig = plt.figure(figsize=(7, 1.8 * c))
    grid = fig.add_gridspec(c, 4, width_ratios=[1, 0.6, 1, 1.6])
    for i in range(c):
        name = names[i] if i < len(names) else str(i)
        cmap = f"{name.capitalize()}s" if name in RGB else "gray"
        _show(fig.add_subplot(grid[i, 0]), x[i], f"x[{name}]", 1.0, cmap)
        kv = float(np.abs(w[o]).max()) or 1.0
        _show(fig.add_subplot(grid[i, 1]), w[o, i], f"w[{o}, {name}]", kv)
        _show(fig.add_subplot(grid[i, 2]), parts[i], f"x[{name}] $\\star$ w[{o}, {name}]", vmax)
    _show(fig.add_subplot(grid[:, 3]), out, f"out[{o}] = sum of the {c} maps", vmax)
    fig.suptitle("One output channel sums one correlation per input channel", fontsize=11)
    fig.tight_layout()
    return fig


def show_feature_maps(x, w, names):
    """The kernel bank ``w (C_out, C, k, k)`` applied to one image ``x (C, H, W)``: row 1 the
    kernels (their ``C`` slices side by side), row 2 the ``C_out`` feature maps."""
    maps = conv2d(x[None], w, padding="same")[0]
    n = len(maps)
    fig, axes = plt.subplots(2, n, figsize=(1.65 * n, 3.7), height_ratios=[0.45, 1])
    for o in range(n):
        k = w[o]
        strip = np.concatenate([np.pad(s, 1, constant_values=np.nan) for s in k], axis=1)
        _show(axes[0, o], strip, f"w[{o}]: " + " | ".join("RGB"[: len(k)]), np.abs(k).max())
        _show(axes[1, o], maps[o], f"{o}: {names[o]}")
    fig.suptitle(f"{n} kernels of shape {tuple(w.shape[1:])} → {n} feature maps", fontsize=11)
    fig.tight_layout()
    return fig


def _slab(ax, x0, y0, size, colour, lw=0.8, edge="k", alpha=1.0, skew=0.45):
    """One plane of a tensor, drawn as a parallelogram: a square seen slightly from the side."""
    s, d = size, size * skew
    pts = [(x0, y0), (x0 + s * 0.55, y0 + d), (x0 + s * 0.55, y0 + d + s), (x0, y0 + s)]
    ax.add_patch(Polygon(pts, closed=True, fc=colour, ec=edge, lw=lw, alpha=alpha))


def _stack(ax, x0, y0, n, size, colours, step, highlight=None, alpha=1.0):
    """``n`` planes, drawn back to front so that plane 0 is in front."""
    for i in reversed(range(n)):
        bold = dict(lw=2.2, edge="k") if i == highlight else dict(lw=0.7, edge="0.3")
        colour = colours[i % len(colours)]
        _slab(ax, x0 + i * step, y0 - i * step * 0.3, size, colour, alpha=alpha, **bold)


def channel_diagram(c_in=3, c_out=4, highlight=1, ax=None):
    """Input planes, the kernel bank and the output planes of one convolution, as a 3-D sketch.

    Output channel ``highlight`` is drawn bold, with its kernel: ``C_in`` slices, one per input
    plane, whose ``C_in`` correlations add up to that one output plane.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 3.3))
    in_cols = [plt.get_cmap("Set2")(i) for i in range(8)]
    _stack(ax, 0.0, 0.6, c_in, 2.0, in_cols, 0.32)
    ax.text(0.9, -0.6, f"input\n$(C_{{in}}={c_in}, H, W)$", ha="center", fontsize=10)
    for o in range(c_out):
        y, on = 3.0 - o * 0.95, o == highlight
        _stack(ax, 4.0, y, c_in, 0.55, in_cols, 0.16, 0 if on else None, 1.0 if on else 0.45)
        weight = "bold" if on else "normal"
        ax.text(3.75, y + 0.25, f"w[{o}]", ha="right", va="center", fontsize=9, weight=weight)
    ax.text(4.5, -0.6, "weight\n$(C_{out}, C_{in}, k_H, k_W)$", ha="center", fontsize=10)
    out_cols = ["0.85"] * c_out
    out_cols[highlight] = "#f4a261"
    _stack(ax, 7.2, 0.6, c_out, 2.0, out_cols, 0.32, highlight=highlight)
    ax.text(8.3, -0.6, f"output\n$(C_{{out}}={c_out}, H', W')$", ha="center", fontsize=10)
    yk = 3.0 - highlight * 0.95 + 0.3
    ax.annotate(
        "", xy=(3.1, yk - 0.25), xytext=(1.9, 1.6), arrowprops=dict(arrowstyle="->", lw=1.2)
    )
    ax.annotate(
        "",
        xy=(7.2 + highlight * 0.32 + 0.3, 1.6 - highlight * 0.1),
        xytext=(5.1, yk),
        arrowprops=dict(arrowstyle="->", lw=1.5, color="#e76f51"),
    )
    ax.text(6.2, yk + 0.25, "Σ over $C_{in}$", color="#e76f51", fontsize=9, ha="center")
    ax.set_xlim(-0.3, 10.2)
    ax.set_ylim(-1.0, 4.3)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(
        f"output channel {highlight} = Σ over the {c_in} input planes of "
        f"(plane $\\star$ its kernel slice) + bias",
        fontsize=10,
    )
    return ax


def _column(x, n):
    """``n`` nodes spread down a vertical line at ``x``, first at the top."""
    return np.full(n, x), np.linspace(1, 0, n) if n > 1 else np.array([0.5])


def draw_groups(ax, c_in, c_out, groups, k=3):
    """Which input channels feed which output channels when a convolution has ``groups`` groups.

    Nodes are channels, one line is one ``k×k`` kernel slice; colours mark the groups.
    """
    cost = conv_cost(c_in, c_out, k, groups, bias=False)
    (xi, yi), (xo, yo) = _column(0.0, c_in), _column(1.0, c_out)
    ci, co = c_in // groups, c_out // groups
    for o in range(c_out):
        g = o // co
        colour = _GROUP_COLOURS[g % 10]
        for c in range(g * ci, (g + 1) * ci):
            ax.plot([xi[c], xo[o]], [yi[c], yo[o]], color=colour, lw=0.8, alpha=0.7)
    for xs, ys, per in ((xi, yi, ci), (xo, yo, co)):
        colours = [_GROUP_COLOURS[(i // per) % 10] for i in range(len(xs))]
        ax.scatter(xs, ys, s=40, c=colours, edgecolors="k", zorder=3)
    ax.text(0, -0.12, "in", ha="center", va="top", fontsize=9)
    ax.text(1, -0.12, "out", ha="center", va="top", fontsize=9)
    ax.set_title(f"groups={groups}\nweight {cost.weight_shape}\n{cost.params} weights", fontsize=9)
    ax.set_xlim(-0.2, 1.2)
    ax.set_ylim(-0.25, 1.05)
    ax.axis("off")
    return cost


def draw_separable(ax, c_in, c_out, k=3):
    """Depthwise (``groups=c_in``, one line per channel) then pointwise 1×1 (every pair)."""
    (xi, yi), (xo, yo) = _column(0.0, c_in), _column(1.0, c_out)
    for c in range(c_in):
        ax.plot([xi[c], 0.5], [yi[c], yi[c]], color=_GROUP_COLOURS[c % 10], lw=1.2)
        for o in range(c_out):
            ax.plot([0.5, xo[o]], [yi[c], yo[o]], color="0.5", lw=0.5, alpha=0.6)
    ax.scatter(
        xi, yi, s=40, c=[_GROUP_COLOURS[c % 10] for c in range(c_in)], edgecolors="k", zorder=3
    )
    ax.scatter(np.full(c_in, 0.5), yi, s=25, c="w", edgecolors="k", zorder=3)
    ax.scatter(xo, yo, s=40, c="0.8", edgecolors="k", zorder=3)
    for x, label in ((0, "in"), (0.5, f"{k}×{k}\ndepthwise"), (1, "1×1\npointwise")):
        ax.text(x, -0.12, label, ha="center", va="top", fontsize=8)
    n = separable_cost(c_in, c_out, k, bias=False).params
    ax.set_title(
        f"depthwise separable\n({c_in}, 1, {k}, {k}) + ({c_out}, {c_in}, 1, 1)\n{n} weights",
        fontsize=9,
    )
    ax.set_xlim(-0.2, 1.2)
    ax.set_ylim(-0.35, 1.05)
    ax.axis("off")


def groups_grid(c_in=8, c_out=8, groups=(1, 2, 4, 8), k=3, ncols=None):
    """One connection diagram per ``groups`` value, then the depthwise-separable pair.

    ``ncols`` panels a row (default: at most 3, in rows as even as can be), so that the figure
    fits the book's column with its text readable.
    """
    n = len(groups) + 1
    ncols = ncols or -(-n // -(-n // 3))
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.4 * ncols, 3.0 * nrows + 0.4), squeeze=False)
    axes = axes.ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    for ax, g in zip(axes, groups):
        draw_groups(ax, c_in, c_out, g, k)
    draw_separable(axes[n - 1], c_in, c_out, k)
    fig.suptitle(
        f"{c_in} → {c_out} channels, {k}×{k} kernels: each line is one {k}×{k} slice", fontsize=11
    )
    fig.tight_layout()
    return fig


def build_animation(x, w, names=RGB, dpi=80):
    """Output channels built one at a time: each input plane meets its kernel slice, the
    ``C_in`` maps are summed, and the sum joins the output stack.

    ``x`` is one image ``(C_in, H, W)`` in [0, 1], ``w`` a weight ``(C_out, C_in, k, k)``.
    Returns a ``FuncAnimation`` of ``C_out * (C_in + 1) + 1`` frames (show it with
    :func:`dlbook.viz.common.to_html`).
    """
    c_out, c_in = w.shape[:2]
    if x.shape[0] != c_in:
        raise ValueError(f"w expects {c_in} input channels, x has {x.shape[0]}")
    if c_out * (c_in + 1) + 1 > 40:
        raise ValueError(f"w: {c_out}×{c_in} channels would make more than 40 frames")
    parts = np.stack(
        [
            [
                conv2d(x[None, c : c + 1], w[o : o + 1, c : c + 1], padding="same")[0, 0]
                for c in range(c_in)
            ]
            for o in range(c_out)
        ]
    )
    outs = parts.sum(axis=1)
    scale = np.maximum(np.abs(parts).max(axis=(1, 2, 3)), np.abs(outs).max(axis=(1, 2)))
    fig = plt.figure(figsize=(7.6, 1.15 * max(c_in, 3)), dpi=dpi)
    grid = fig.add_gridspec(c_in, 5, width_ratios=[1, 0.6, 1, 1.8, 0.8])
    blank = np.zeros_like(x[0])
    ims_k, ims_p = [], []
    for c in range(c_in):
        name = names[c] if c < len(names) else str(c)
        cmap = f"{name.capitalize()}s" if name in RGB else "gray"
        _show(fig.add_subplot(grid[c, 0]), x[c], f"x[{name}]", 1.0, cmap)
        ax = fig.add_subplot(grid[c, 1])
        _show(ax, w[0, c], None, 1.0)
        ims_k.append(ax)
        ax = fig.add_subplot(grid[c, 2])
        _show(ax, blank, None, 1.0)
        ims_p.append(ax)
    ax_sum = fig.add_subplot(grid[:, 3])
    _show(ax_sum, blank, " ", 1.0)
    sub = grid[:, 4].subgridspec(c_out, 1)
    ax_out = [fig.add_subplot(sub[o]) for o in range(c_out)]
    for o, ax in enumerate(ax_out):
        _show(ax, blank, None, 1.0)
        ax.set_ylabel(f"{o}", rotation=0, labelpad=8, fontsize=9)

    def update(frame):
        o, step = divmod(frame, c_in + 1)
        done = frame == c_out * (c_in + 1)
        o = c_out - 1 if done else o
        kmax = float(np.abs(w[o]).max()) or 1.0
        for c in range(c_in):
            ims_k[c].images[0].set_data(w[o, c] / kmax)
            ims_k[c].set_title(f"w[{o}, {c}]", fontsize=9)
            shown = done or c < step or step == c_in
            ims_p[c].images[0].set_data(parts[o, c] / scale[o] if shown else blank)
            ims_p[c].set_title(f"x[{c}] $\\star$ w[{o}, {c}]" if shown else "", fontsize=9)
        summed = done or step == c_in
        ax_sum.images[0].set_data(outs[o] / scale[o] if summed else blank)
        ax_sum.set_title(
            f"out[{o}] = $\\Sigma_c$ x[c] $\\star$ w[{o}, c]"
            if summed
            else f"building output channel {o} …",
            fontsize=9,
        )
        for j, ax in enumerate(ax_out):
            built = j < o or (j == o and summed)
            ax.images[0].set_data(outs[j] / scale[j] if built else blank)
            for spine in ax.spines.values():
                spine.set_linewidth(2.5 if j == o and not done else 0.5)
                spine.set_color("#e76f51" if j == o and not done else "k")
        fig.suptitle(
            f"{c_in} input planes × kernel w[{o}] → output channel {o} of {c_out}", fontsize=10
        )
        return []

    fig.subplots_adjust(left=0.02, right=0.98, top=0.84, bottom=0.03, wspace=0.25, hspace=0.45)
    update(0)
    return FuncAnimation(fig, update, frames=c_out * (c_in + 1) + 1, interval=700, blit=False)


def _divisors(n):
    return [d for d in range(1, n + 1) if n % d == 0]


def explorer(c_in=8, c_out=8, kernel_size=3, groups=2):
    """An ipywidgets panel: choose C_in, C_out, the kernel size and groups, and see the weight
    shape, the parameter and multiply-add counts and the connection diagram. ``groups`` offers
    only the divisors of gcd(C_in, C_out). Returns the widget (display it).

    The text and the diagram are widget values (HTML and a PNG), not printed output, so the
    panel works the same in JupyterLab, in an executed notebook and under nbval.
    """
    import ipywidgets as widgets

    w_in = widgets.IntSlider(value=c_in, min=1, max=16, description="C_in")
    w_out = widgets.IntSlider(value=c_out, min=1, max=16, description="C_out")
    w_k = widgets.IntSlider(value=kernel_size, min=1, max=7, description="kernel")
    w_g = widgets.Dropdown(
        options=_divisors(np.gcd(c_in, c_out)), value=groups, description="groups"
    )

    def refresh_groups(_=None):
        options = _divisors(int(np.gcd(w_in.value, w_out.value)))
        keep = w_g.value if w_g.value in options else 1
        w_g.options = options
        w_g.value = keep

    def draw():
        c_in, c_out, k, g = w_in.value, w_out.value, w_k.value, w_g.value
        if c_in % g or c_out % g:
            return None  # the dropdown is being refreshed; it will call again
        cost = conv_cost(c_in, c_out, k, g)
        fig, ax = plt.subplots(figsize=(3.2, 3.4))
        draw_groups(ax, c_in, c_out, g, k)
        return (
            f"<pre>weight shape {cost.weight_shape}, bias ({c_out},)\n"
            f"parameters   {cost.params:,} = {c_out}·{c_in // g}·{k}² + {c_out}\n"
            f"multiply-adds per output pixel {cost.macs:,}</pre>"
        ), fig

    w_in.observe(refresh_groups, "value")
    w_out.observe(refresh_groups, "value")
    # The static grid: channel counts whose every pair allows groups 1, 2, 4 and 8.
    grid = {w_in: [8, 16], w_out: [8, 16], w_g: [1, 2, 4, 8]}
    return make_explorer([[w_in, w_out], [w_k, w_g]], draw, info=True, grid=grid)
