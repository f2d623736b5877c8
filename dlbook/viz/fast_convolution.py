"""Figures, the animation and the explorer of the fast-convolution chapter.

They draw what :mod:`dlbook.experiments.fast_convolution` measured and counted (times and
operation counts of im2col, FFT, Winograd and torch across kernel sizes and channel counts), and
Winograd F(2x2, 3x3) at work on one small image, tile by tile; nothing here times or trains.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import FuncAnimation
from matplotlib.patches import Rectangle
from matplotlib.ticker import NullLocator

from dlbook.scratch.fast_conv import WINOGRAD_A, WINOGRAD_B, WINOGRAD_G
from dlbook.viz.common import format_number, html_table, make_explorer

__all__ = [
    "arithmetic_figure",
    "time_figure",
    "winograd_animation",
    "explorer",
    "devices_table",
]

STYLE = {
    "direct": dict(color="C0", marker="o", label="direct / im2col"),
    "im2col": dict(color="C0", marker="o", label="im2col (NumPy)"),
    "fft": dict(color="C1", marker="s", label="FFT (NumPy)"),
    "winograd": dict(color="C2", marker="D", label="Winograd (NumPy)"),
    "torch": dict(color="C3", marker="^", label="torch conv2d (CPU)"),
}
COUNTED = {"direct": "direct / im2col", "fft": "FFT", "winograd": "Winograd F(2×2, 3×3)"}


def _series(rows, c, key, name):
    pts = [(r["k"], r[key][name]) for r in rows if r["c"] == c and name in r[key]]
    return [p[0] for p in pts], [p[1] for p in pts]


def _k_axis(ax, rows):
    ks = sorted({r["k"] for r in rows})
    ax.set_xticks(ks)
    ax.set_xlabel("kernel size $k$")
    ax.grid(alpha=0.3, which="both")


def arithmetic_figure(rows, channels=None):
    """The operation count of each algorithm against the kernel size, one panel per channel
    count (the rows of :func:`~dlbook.experiments.fast_convolution.arithmetic_rows`): direct and
    im2col grow as ``k^2``, the FFT hardly moves, Winograd is one point at ``k = 3``."""
    channels = sorted({r["c"] for r in rows}) if channels is None else list(channels)
    fig, axes = plt.subplots(1, len(channels), figsize=(3.3 * len(channels), 3.2), sharey=True,
                             squeeze=False)  # fmt: skip
    for ax, c in zip(axes[0], channels):
        for name, label in COUNTED.items():
            k, f = _series(rows, c, "flops", name)
            ax.plot(k, np.array(f) / 1e6, ms=5, **{**STYLE[name], "label": label})
        ax.set_yscale("log")
        ax.set_title(f"{c} channels in and out", fontsize=10)
        _k_axis(ax, rows)
    axes[0, 0].set_ylabel("operations (millions)")
    axes[0, 0].legend(fontsize=9)
    fig.tight_layout()
    return fig


def time_figure(rows, c=None):
    """For one channel count: the measured CPU time of each algorithm against the kernel size
    (left), the operation count beside it (middle), and their quotient, the billions of
    operations each algorithm gets through per second (right)."""
    c = max(r["c"] for r in rows) if c is None else c
    fig, (a, b, g) = plt.subplots(1, 3, figsize=(10, 3.4))
    count = {"im2col": "direct", "fft": "fft", "winograd": "winograd", "torch": "direct"}
    for name in ("im2col", "fft", "winograd", "torch"):
        k, t = _series(rows, c, "times", name)
        if not k:
            continue
        a.plot(k, np.array(t) * 1e3, ms=5, **STYLE[name])
        flops = [next(r for r in rows if r["c"] == c and r["k"] == kk)["flops"][count[name]]
                 for kk in k]  # fmt: skip
        if name != "torch":
            b.plot(k, np.array(flops) / 1e6, ms=5, **STYLE[name])
        g.plot(k, np.array(flops) / np.array(t) / 1e9, ms=5, **STYLE[name])
    for ax, label, title in [
        (a, "CPU time (ms, one thread)", "measured time"),
        (b, "operations (millions)", "arithmetic"),
        (g, "billions of operations / s", "operations per second"),
    ]:
        ax.set_ylabel(label)
        ax.set_title(f"{title}, {c} channels", fontsize=10)
        if ax is not g:
            ax.set_yscale("log")
        _k_axis(ax, rows)
    a.legend(fontsize=9)
    fig.tight_layout()
    return fig


def _panel(ax, shape, title, lim, cmap="RdBu_r"):
    """An image of ``shape`` with a number in every cell, to be filled by :func:`_fill`."""
    image = ax.imshow(np.zeros(shape), cmap=cmap, vmin=-lim, vmax=lim, alpha=0.55)
    texts = np.array([[ax.text(j, i, "", ha="center", va="center", fontsize=9)
                       for j in range(shape[1])] for i in range(shape[0])])  # fmt: skip
    ax.set_title(title, fontsize=10)
    ax.set_xticks([]), ax.set_yticks([])
    return image, texts


def _fill(panel, values):
    image, texts = panel
    image.set_data(values)
    for (i, j), v in np.ndenumerate(values):
        texts[i, j].set_text("" if np.isnan(v) else format_number(v))


def winograd_animation(image, kernel, dpi=72, interval=900):
    """Winograd F(2x2, 3x3) on one channel, one 4x4 tile ``d`` of ``image`` per frame: the tile
    transformed, ``V = B^T d B``; the kernel transformed once, ``U = G g G^T``; their 16
    products ``M = U * V``; and ``Y = A^T M A``, the tile's 2x2 block of the output, filled in
    tile after tile. ``image``: (H, W) with H, W even and >= 4; ``kernel``: (3, 3)."""
    image, kernel = np.asarray(image, dtype=float), np.asarray(kernel, dtype=float)
    if image.ndim != 2 or min(image.shape) < 4 or image.shape[0] % 2 or image.shape[1] % 2:
        raise ValueError(f"image must be 2-D with even sides >= 4, got shape {image.shape}")
    if kernel.shape != (3, 3):
        raise ValueError(f"kernel must be 3x3, got shape {kernel.shape}")
    b, g, a = WINOGRAD_B, WINOGRAD_G, WINOGRAD_A
    u = g @ kernel @ g.T
    th, tw = (image.shape[0] - 2) // 2, (image.shape[1] - 2) // 2
    tiles = [image[2 * i : 2 * i + 4, 2 * j : 2 * j + 4] for i in range(th) for j in range(tw)]
    vs = [b.T @ d @ b for d in tiles]
    ys = [a.T @ (u * v) @ a for v in vs]
    lim = lambda arrays: max(float(np.abs(arrays).max()), 1e-12)  # noqa: E731
    fig, axes = plt.subplots(1, 5, figsize=(10, 2.9), dpi=dpi,
                             gridspec_kw=dict(width_ratios=[1.4, 1, 1, 1, 1.1]))  # fmt: skip
    inp = _panel(axes[0], image.shape, "input", lim(image))
    _fill(inp, image)
    pv = _panel(axes[1], (4, 4), "$V = B^T d B$", lim(vs))
    pu = _panel(axes[2], (4, 4), "$U = G g G^T$", lim(u))
    _fill(pu, u)
    pm = _panel(axes[3], (4, 4), "$M = U \\odot V$: 16 products", lim([u * v for v in vs]))
    po = _panel(axes[4], (2 * th, 2 * tw), "output: $Y = A^T M A$", lim(ys))
    box_in = axes[0].add_patch(Rectangle((-0.5, -0.5), 4, 4, fill=False, ec="k", lw=2.5))
    box_out = axes[4].add_patch(Rectangle((-0.5, -0.5), 2, 2, fill=False, ec="k", lw=2.5))
    out = np.full((2 * th, 2 * tw), np.nan)

    def update(t):
        i, j = divmod(t, tw)
        out[:] = np.nan
        for s in range(t + 1):
            si, sj = divmod(s, tw)
            out[2 * si : 2 * si + 2, 2 * sj : 2 * sj + 2] = ys[s]
        _fill(pv, vs[t])
        _fill(pm, u * vs[t])
        _fill(po, out)
        box_in.set_xy((2 * j - 0.5, 2 * i - 0.5))
        box_out.set_xy((2 * j - 0.5, 2 * i - 0.5))
        axes[0].set_title(f"input, tile {t + 1} of {th * tw}", fontsize=10)
        return []

    update(0)
    fig.tight_layout()
    return FuncAnimation(fig, update, frames=th * tw, interval=interval, blit=False)


def explorer(rows, k=None, c=None, grid_k=(3, 9, 15)):
    """An ipywidgets panel over :func:`~dlbook.experiments.fast_convolution.time_algorithms`'s
    rows: choose a kernel size and a channel count, and see each algorithm's measured time
    (left) beside its operation count (right), both relative to im2col's. The static HTML grid
    takes the kernel sizes ``grid_k`` that were measured."""
    import ipywidgets as widgets

    ks, cs = sorted({r["k"] for r in rows}), sorted({r["c"] for r in rows})
    w_k = widgets.SelectionSlider(options=ks, value=k or ks[0], description="kernel k")
    w_c = widgets.ToggleButtons(options=cs, value=c or cs[-1], description="channels")
    names = ("im2col", "fft", "winograd", "torch")
    count = {"im2col": "direct", "fft": "fft", "winograd": "winograd", "torch": "direct"}

    def draw():
        r = next(r for r in rows if r["k"] == w_k.value and r["c"] == w_c.value)
        shown = [n for n in names if n in r["times"]]
        fig = plt.figure(figsize=(6.4, 2.6))
        ax = fig.add_axes((0.2, 0.2, 0.75, 0.68))
        y = np.arange(len(shown))
        t = [r["times"][n] / r["times"]["im2col"] for n in shown]
        f = [r["flops"][count[n]] / r["flops"]["direct"] for n in shown]
        ax.barh(y - 0.2, t, 0.4, color=[STYLE[n]["color"] for n in shown], label="time")
        ax.barh(y + 0.2, f, 0.4, color="0.75", label="operations")
        ax.set_yticks(y, shown)
        ax.axvline(1, color="0.3", lw=0.8, ls=":")
        ax.set_xscale("log")
        ax.set_xlim(0.03, 30)
        ticks = [0.03, 0.1, 0.3, 1, 3, 10, 30]
        ax.set_xticks(ticks, [f"{v:g}" for v in ticks])  # plain labels: cheaper than mathtext
        ax.xaxis.set_minor_locator(NullLocator())
        ax.invert_yaxis()
        ax.set_xlabel("relative to im2col (colour: measured time; grey: operations)")
        ax.set_title(f"k = {r['k']}, {r['c']} channels in and out", fontsize=10)
        fastest = min(shown, key=lambda n: r["times"][n])
        ms = {n: f"{r['times'][n] * 1e3:.2f} ms" for n in shown}
        html = f"<pre>k = {r['k']}, {r['c']} channels: {ms}; fastest: {fastest}</pre>"
        return html, fig

    grid = {w_k: [v for v in grid_k if v in ks] or ks[:1]}
    return make_explorer([[w_k], [w_c]], draw, info=True, grid=grid)


def devices_table(result):
    """torch's convolution on the CPU and, where measured, on the GPU in float32 and under
    autocast: an HTML table of :func:`~dlbook.experiments.fast_convolution.time_torch_devices`'s
    result, with "not measured" (and why) where there was no CUDA device, never a number."""
    why = f"not measured: no CUDA device ({result['device']})"
    rows = []
    for key, label in [("cpu", "CPU, one thread, float32"), ("gpu", "GPU, float32"),
                       ("gpu_autocast", "GPU, autocast float16")]:  # fmt: skip
        t = result[key]
        speed = "" if t is None or result["cpu"] is None else f"{result['cpu'] / t:.1f}×"
        rows.append([label, why if t is None else f"{t * 1e3:.3f}", speed])
    return html_table(["torch conv2d on", "time (ms)", "speed-up over the CPU"], rows)
