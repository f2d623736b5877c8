"""Pictures of the effective receptive field: heatmaps with the theoretical field drawn on them,
profiles with Gaussian fits, growth with depth, an animation and an explorer. The numbers come
from :mod:`dlbook.experiments.effective_receptive_field`; nothing here trains."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import FuncAnimation
from matplotlib.patches import Rectangle

from dlbook.experiments import effective_receptive_field as E
from dlbook.viz.common import html_table, make_explorer

__all__ = [
    "draw_erf",
    "erf_grid",
    "profile_figure",
    "growth_figure",
    "growth_animation",
    "settings_grid",
    "explorer",
    "before_after",
    "training_table",
]

CMAP = "magma"
FIELD = "#35d0ba"  # the theoretical field's outline


def draw_erf(ax, erf, rows=None, cols=None, canvas=None, title=None, fontsize=9):
    """One ERF heatmap, scaled to its peak, with the theoretical field ``rows × cols`` (ranges of
    input pixels) outlined. With ``canvas`` (a side in pixels), the map is drawn centred on a
    ``canvas × canvas`` frame, so that maps of different sizes share one scale."""
    h, w = erf.shape
    off = 0.0 if canvas is None else (canvas - h) / 2
    ax.imshow(
        erf / erf.max(),
        cmap=CMAP,
        vmin=0,
        vmax=1,
        extent=(off - 0.5, off + w - 0.5, off + h - 0.5, off - 0.5),
    )
    rows = range(h) if rows is None else rows
    cols = range(w) if cols is None else cols
    ax.add_patch(
        Rectangle(
            (off + cols.start - 0.5, off + rows.start - 0.5),
            len(cols),
            len(rows),
            fill=False,
            ec=FIELD,
            lw=1.5,
        )
    )
    side = canvas if canvas is not None else max(h, w)
    ax.set_xlim(-0.5, side - 0.5)
    ax.set_ylim(side - 0.5, -0.5)
    ax.set_facecolor("black")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=fontsize)


def erf_grid(measured, ncols=4, title=None):
    """A heatmap per :class:`~dlbook.experiments.effective_receptive_field.Measured` row, all on
    one pixel scale."""
    canvas = max(m.erf.shape[0] for m in measured)
    nrows = -(-len(measured) // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(2.6 * ncols, 3.0 * nrows + 0.4), squeeze=False, layout="constrained"
    )
    for ax, m in zip(axes.flat, measured):
        label = f"{m.name}\nfield {m.field} px, ERF σ {m.std:.1f} px"
        draw_erf(ax, m.erf, m.rows, m.cols, canvas, label, fontsize=10)
    for ax in axes.flat[len(measured) :]:
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def profile_figure(maps, labels, fits=True):
    """The ERFs ``maps`` (each ``(F, F)``, centred; drawn on one scale) beside their 1-D profiles,
    with least-squares Gaussian fits."""
    n = len(maps)
    canvas = max(m.shape[0] for m in maps)
    if n == 1:
        fig, axes = plt.subplots(1, 2, figsize=(6.6, 2.9), width_ratios=[1, 1.9])
    else:  # the maps in a row, the profiles below them: narrow enough for the text column
        fig = plt.figure(figsize=(7.2, 2.2 + 3.0))
        grid = fig.add_gridspec(2, n, height_ratios=[2.2, 3.0])
        axes = [fig.add_subplot(grid[0, i]) for i in range(n)] + [fig.add_subplot(grid[1, :])]
    for ax, m, label in zip(axes, maps, labels):
        draw_erf(ax, m, canvas=canvas, title=label)
    ax = axes[-1]
    for k, (m, label) in enumerate(zip(maps, labels)):
        p = E.profile(m)
        x = np.arange(p.size) - p.size // 2
        ax.plot(x, p, "o", ms=3, color=f"C{k}", label=f"{label}: measured")
        if fits:
            g = E.fit_gaussian(p)
            fine = np.linspace(0, p.size - 1, 400)
            ax.plot(
                fine - p.size // 2,
                g(fine),
                color=f"C{k}",
                lw=1.2,
                label=f"Gaussian, σ = {g.sigma:.2f}",
            )
    _profile_axes(ax, "offset from the centre (pixels)", "profile: the ERF summed over rows")
    fig.tight_layout()
    return fig


def _profile_axes(ax, xlabel, title):
    ax.set_xlabel(xlabel)
    ax.set_ylabel("share of the ERF's mass")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)


def growth_figure(depths, stds, slopes=None):
    """Left: the ERF's σ against depth on log-log axes, beside the theoretical field's half-width
    ``n`` (slope 1). Right: σ / √n, which a √n law keeps flat. ``stds`` maps a label to one σ per
    depth; ``slopes`` (optional) maps a label to its fitted exponent (a number, or a text such
    as ``"slope 0.53 for n ≥ 8"``), shown in the legend."""
    d = np.asarray(depths, float)
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 3.8))
    ax.loglog(d, d, "k--", lw=1.2, label="field half-width n (slope 1)")
    for k, (label, s) in enumerate(stds.items()):
        s = np.asarray(s)
        fitted = (slopes or {}).get(label)
        if isinstance(fitted, str):
            extra = f" ({fitted})"
        else:
            extra = "" if fitted is None else f" (slope {fitted:.2f})"
        ax.loglog(d, s, "o-", ms=3, color=f"C{k}", label=label + extra)
        bx.plot(d, s / np.sqrt(d), "o-", ms=3, color=f"C{k}", label=label)
    ax.loglog(d, np.sqrt(d), ":", color="grey", label="√n (slope 1/2)")
    ax.set_xlabel("depth n (3×3 layers)")
    ax.set_ylabel("pixels")
    ax.set_title("ERF σ against the theoretical field", fontsize=10)
    ax.legend(fontsize=9)
    for value, text in ((np.sqrt(2 / 3), "√(2/3)"), (np.sqrt(4 / 3), "√(4/3)")):
        bx.axhline(value, color="grey", ls=":", lw=1)
        bx.annotate(text, (d[-1], value), xytext=(3, 3), textcoords="offset points", fontsize=9)
    bx.set_xlabel("depth n")
    bx.set_ylabel("σ / √n")
    bx.set_title("σ / √n: flat for a √n law", fontsize=10)
    bx.set_ylim(0.6, 1.3)
    for a in (ax, bx):
        a.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig


def growth_animation(maps, depths, dpi=72, interval=350):
    """The ERF of one stack per depth (``maps[i]`` is one field wide, ``2 n + 1``), drawn on one
    frame the size of the largest field, with the field outlined and the profile beside it.
    Returns a ``FuncAnimation`` of ``len(maps)`` frames (show it with
    :func:`dlbook.viz.common.to_html`)."""
    if len(maps) != len(depths) or not 1 <= len(maps) <= 40:
        raise ValueError("maps and depths must have the same length, between 1 and 40")
    canvas = max(m.shape[0] for m in maps)
    half = canvas // 2
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(7.6, 3.4), dpi=dpi, width_ratios=[1, 1.35])
    im = ax.imshow(np.zeros((canvas, canvas)), cmap=CMAP, vmin=0, vmax=1)
    box = Rectangle((0, 0), 1, 1, fill=False, ec=FIELD, lw=1.5)
    ax.add_patch(box)
    ax.set_xticks([])
    ax.set_yticks([])
    x = np.arange(canvas) - half
    (dots,) = bx.plot([], [], "o", ms=3, color="C0", label="ERF profile")
    (curve,) = bx.plot([], [], color="C3", lw=1.2, label="Gaussian fit")
    edges = [bx.axvline(0, color=FIELD, lw=1.5) for _ in range(2)]
    edges[0].set_label("field edges")
    bx.set_xlim(-half - 2, half + 2)
    bx.set_ylim(0, 1.05)
    bx.set_xlabel("offset from the centre (pixels)")
    bx.set_ylabel("profile / its peak")
    bx.legend(fontsize=9, loc="upper right")
    bx.set_yticks([0, 0.5, 1])

    def update(i):
        m, n = maps[i], depths[i]
        pad = (canvas - m.shape[0]) // 2
        frame = np.zeros((canvas, canvas))
        frame[pad : pad + m.shape[0], pad : pad + m.shape[1]] = m / m.max()
        im.set_data(frame)
        box.set_bounds(pad - 0.5, pad - 0.5, m.shape[1], m.shape[0])
        p = np.zeros(canvas)
        p[pad : pad + m.shape[1]] = E.profile(m)
        g = E.fit_gaussian(p)
        dots.set_data(x, p / p.max())
        fine = np.linspace(0, canvas - 1, 300)
        curve.set_data(fine - half, g(fine) / p.max())
        for e, v in zip(edges, (-(m.shape[1] // 2) - 0.5, m.shape[1] // 2 + 0.5)):
            e.set_xdata([v, v])
        ax.set_title(f"depth {n}: field {m.shape[0]} px", fontsize=10)
        bx.set_title(f"ERF σ = {E.erf_std(m):.1f} px, fit σ = {g.sigma:.1f} px", fontsize=10)
        return []

    update(len(maps) - 1)  # the longest titles, so that the layout leaves room for them
    fig.tight_layout()
    update(0)
    return FuncAnimation(fig, update, frames=len(maps), interval=interval, blit=False)


def _stack_erf(depth, kernel_size, dilation, nonlinearity, residual, n=4, draws=4):
    """The ERF of a fresh stack, one field wide (as
    :func:`~dlbook.experiments.effective_receptive_field.depth_sweep`)."""
    return E.depth_sweep(
        [depth],
        n=n,
        draws=draws,
        kernel_size=kernel_size,
        dilation=dilation,
        nonlinearity=nonlinearity,
        residual=residual,
    )[0]


def settings_grid(depths=(2, 4, 8, 16), settings=None, n=4, draws=4):
    """The explorer's output for a grid of settings: a row per setting (``label → keyword
    arguments``: kernel_size, dilation, nonlinearity, residual), a column per depth, each map on
    the frame of its row's largest field."""
    settings = settings or {
        "3×3, linear": dict(nonlinearity="linear"),
        "3×3, ReLU": dict(nonlinearity="relu"),
        "3×3, ReLU + residual": dict(nonlinearity="relu", residual=True),
    }
    fig, axes = plt.subplots(
        len(settings), len(depths), figsize=(2.2 * len(depths), 2.3 * len(settings)), squeeze=False
    )
    for row, (label, kw) in zip(axes, settings.items()):
        kw = dict(dict(kernel_size=3, dilation=1, nonlinearity="relu", residual=False), **kw)
        maps = [_stack_erf(d, n=n, draws=draws, **kw) for d in depths]
        canvas = maps[-1].shape[0]
        for ax, d, m in zip(row, depths, maps):
            draw_erf(ax, m, canvas=canvas, title=f"depth {d}, σ {E.erf_std(m):.1f} px")
        row[0].set_ylabel(label, fontsize=9)
    fig.tight_layout()
    return fig


def explorer(depth=6, kernel_size=3, dilation=1, nonlinearity="relu", residual=False):
    """An ipywidgets panel: choose the depth, kernel size, dilation, nonlinearity and skip
    connections, and see a fresh random stack's ERF with its field, σ and 95% width. The
    picture is a PNG widget value, so the panel behaves the same in an executed notebook."""
    import ipywidgets as widgets

    w_depth = widgets.IntSlider(value=depth, min=1, max=16, description="depth")
    w_k = widgets.Dropdown(options=[3, 5, 7], value=kernel_size, description="kernel")
    w_d = widgets.IntSlider(value=dilation, min=1, max=3, description="dilation")
    w_nl = widgets.Dropdown(options=["linear", "relu", "tanh"], value=nonlinearity, description="φ")
    w_res = widgets.Checkbox(value=residual, description="skip connections")

    def draw():
        args = (w_depth.value, w_k.value, w_d.value, w_nl.value, w_res.value)
        m = _stack_erf(*args)
        field = m.shape[0]
        fig, ax = plt.subplots(figsize=(3.2, 3.2))
        draw_erf(ax, m, title=f"depth {args[0]}, {args[1]}×{args[1]}, dilation {args[2]}")
        return (
            f"<pre>field {field} px, ERF σ {E.erf_std(m):.2f} px, "
            f"95% of the mass in {E.mass_width(m):d} px of {field}</pre>"
        ), fig

    # The static grid: the field's growth with depth, for each nonlinearity.
    grid = {w_depth: sorted({2, depth, 16}), w_k: [kernel_size], w_d: [dilation]}
    return make_explorer([[w_depth, w_k], [w_d, w_nl, w_res]], draw, info=True, grid=grid)


def before_after(result):
    """The training experiment's ERFs: initial and trained, on noise and on real test patches,
    with the field outlined; and the noise profiles before and after."""
    # four maps in a row, the profiles below them: narrow enough for the text column
    fig = plt.figure(figsize=(7.2, 2.3 + 2.8))
    grid = fig.add_gridspec(2, 4, height_ratios=[2.3, 2.8])
    axes = [fig.add_subplot(grid[0, i]) for i in range(4)] + [fig.add_subplot(grid[1, :])]
    rows, cols = result["rows"], result["cols"]
    for ax, (when, kind) in zip(
        axes, [(w, k) for k in ("noise", "real") for w in ("initial", "trained")]
    ):
        r = result[when]
        title = f"{when}, {kind} inputs\nσ {r[kind + '_std']:.1f} px"
        m = r[kind]
        h = m.shape[0]
        clipped = (
            range(max(rows.start, 0), min(rows.stop, h)),
            range(max(cols.start, 0), min(cols.stop, h)),
        )
        draw_erf(ax, m, *clipped, title=title)
    ax = axes[-1]
    for k, when in enumerate(("initial", "trained")):
        p = E.profile(result[when]["real"])
        ax.plot(np.arange(p.size), p, "o-", ms=3, color=f"C{k}", label=f"{when}")
    _profile_axes(ax, "input column (pixels)", "profile on real patches")
    fig.tight_layout()
    return fig


def training_table(runs, seeds=None):
    """One row per training run of :func:`dlbook.experiments.effective_receptive_field.train_seeds`:
    its final test accuracy, and the ERF's σ and 95% width on noise and on real test patches,
    at initialization → after training. An ``IPython.display.HTML`` table."""
    seeds = range(len(runs)) if seeds is None else seeds
    kinds = ("noise", "real")
    rows = [
        (
            seed,
            f"{100 * r['history']['test_acc'][-1]:.1f}%",
            *(f"{r['initial'][f'{k}_std']:.2f} → {r['trained'][f'{k}_std']:.2f}" for k in kinds),
            *(f"{r['initial'][f'{k}_width95']} → {r['trained'][f'{k}_width95']}" for k in kinds),
        )
        for seed, r in zip(seeds, runs)
    ]
    header = ["seed", "test accuracy", "σ on noise (px)", "σ on real (px)", "95% width, noise",
              "95% width, real"]  # fmt: skip
    return html_table(header, rows)
