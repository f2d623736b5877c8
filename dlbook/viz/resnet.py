"""Figures, the animation and the explorer of the residual-network chapter.

They draw what :mod:`dlbook.experiments.resnet` measured (training histories and gradient
norms of plain and residual twins) and the effective receptive field; nothing here trains.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import FuncAnimation
from matplotlib.patches import FancyBboxPatch, Rectangle

from dlbook.viz.common import html_table, make_explorer

__all__ = [
    "block_figure",
    "curves_figure",
    "curves_animation",
    "gradients_figure",
    "explorer",
    "erf_figure",
    "twins_table",
]

DEPTH_COLOURS = ("C0", "C1", "C3", "C4", "C2")


def _colour(depth, depths):
    return DEPTH_COLOURS[sorted(depths).index(depth) % len(DEPTH_COLOURS)]


def _label(r):
    kind = "residual" if r["shortcut"] else "plain"
    return f"{kind}-{r['depth']}" + ("" if r["batch_norm"] else ", no BN")


def _style(r):
    return dict(ls="-" if r["shortcut"] else "--", lw=1.8 if r["shortcut"] else 1.4)


def _box(ax, y, text, colour="#dbe7f3"):
    ax.add_patch(FancyBboxPatch((-0.8, y - 0.22), 1.6, 0.44, boxstyle="round,pad=0.02",
                                fc=colour, ec="0.3", lw=0.8))  # fmt: skip
    ax.text(0, y, text, ha="center", va="center", fontsize=9)


def _arrow(ax, x0, y0, x1, y1):
    ax.annotate("", (x1, y1), (x0, y0), arrowprops=dict(arrowstyle="->", lw=1, color="0.25"))


def block_figure():
    """The plain block and the residual block side by side: the same two convolutions, and in
    the residual block the input added to their output before the last ReLU."""
    fig, axes = plt.subplots(1, 2, figsize=(6.4, 4.2))
    for ax, residual in zip(axes, (False, True)):
        layers = ["3×3 conv, BN", "ReLU", "3×3 conv, BN"]
        ys = [3.2, 2.4, 1.6]
        ax.text(0, 4.15, "$x_l$", ha="center", fontsize=11)
        _arrow(ax, 0, 4.0, 0, ys[0] + 0.24)
        for i, (y, text) in enumerate(zip(ys, layers)):
            _box(ax, y, text)
            if i < len(ys) - 1:
                _arrow(ax, 0, y - 0.23, 0, ys[i + 1] + 0.24)
        y_relu = 0.35
        if residual:
            ax.text(0, 0.95, "+", ha="center", va="center", fontsize=14,
                    bbox=dict(boxstyle="circle", fc="white", ec="0.3"))  # fmt: skip
            _arrow(ax, 0, ys[-1] - 0.23, 0, 1.1)
            ax.plot([0, 1.3, 1.3], [3.9, 3.9, 0.95], color="C3", lw=1.6)
            _arrow(ax, 1.3, 0.95, 0.18, 0.95)
            ax.text(1.38, 2.4, "identity\nshortcut", color="C3", fontsize=9, va="center")
            _arrow(ax, 0, 0.8, 0, y_relu + 0.24)
            ax.text(-0.95, 0.95, "$F(x_l) + x_l$", ha="right", va="center", fontsize=10)
        else:
            _arrow(ax, 0, ys[-1] - 0.23, 0, y_relu + 0.24)
            ax.text(-0.95, 0.95, "$F(x_l)$", ha="right", va="center", fontsize=10)
        _box(ax, y_relu, "ReLU", "#f3e3d3")
        _arrow(ax, 0, y_relu - 0.23, 0, -0.3)
        ax.text(0, -0.55, "$x_{l+1}$", ha="center", fontsize=11)
        ax.set_xlim(-2.0, 2.2)
        ax.set_ylim(-0.8, 4.5)
        ax.axis("off")
        ax.set_title("residual block" if residual else "plain block", fontsize=10)
    fig.tight_layout()
    return fig


def _curves(ax, rows, key="train_loss", upto=None):
    depths = {r["depth"] for r in rows}
    for r in rows:
        y = np.asarray(r["history"][key])[:upto]
        ax.plot(np.arange(1, len(y) + 1), y, color=_colour(r["depth"], depths), label=_label(r),
                **_style(r))  # fmt: skip


def _loss_axes(ax, title, epochs, rows):
    ax.axhline(np.log(9), color="0.5", lw=0.8, ls=":")
    ax.text(epochs, np.log(9) + 0.03, "ln 9: chance", fontsize=9, ha="right", va="bottom",
            color="0.4")  # fmt: skip
    ax.set_xlim(0.8, epochs + 0.2)
    ax.set_ylim(0, 2.5)
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    if rows:
        ax.legend(fontsize=9, ncol=2 if len(rows) > 3 else 1, loc="lower left")


def curves_figure(rows):
    """Training loss per epoch of :func:`~dlbook.experiments.resnet.train_twins`' runs: with
    batch norm (left) and without (right); one colour per depth, residual solid, plain
    dashed."""
    with_bn = [r for r in rows if r["batch_norm"]]
    without = [r for r in rows if not r["batch_norm"]]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), gridspec_kw=dict(width_ratios=(1.6, 1)))
    epochs = len(rows[0]["history"]["train_loss"])
    for ax, rs, title in ((axes[0], with_bn, "with batch norm"),
                          (axes[1], without, "without batch norm")):  # fmt: skip
        _curves(ax, rs)
        _loss_axes(ax, f"Training loss, {title}", epochs, rs)
    fig.tight_layout()
    return fig


def curves_animation(rows, dpi=72, interval=600):
    """The training-loss curves of :func:`curves_figure`'s left panel drawn epoch by epoch.
    Returns a ``FuncAnimation``."""
    rows = [r for r in rows if r["batch_norm"]]
    epochs = len(rows[0]["history"]["train_loss"])
    fig, ax = plt.subplots(figsize=(6.4, 3.8), dpi=dpi)

    def update(i):
        ax.clear()
        _curves(ax, rows, upto=i + 1)
        _loss_axes(ax, f"Training loss after {i + 1} of {epochs} epochs", epochs, rows)
        return []

    fig.tight_layout()
    update(0)
    return FuncAnimation(fig, update, frames=epochs, interval=interval, blit=False)


def _profile(ax, r, when, **kw):
    a = r[when]["activations"]
    ax.plot(np.arange(len(a)), a / a[-1], marker="o", ms=3, **kw)


def _profile_axes(ax, title):
    ax.set_yscale("log")
    ax.axhline(1, color="0.5", lw=0.8, ls=":")
    ax.set_xlabel("block $l$ (0: the stem's output)")
    ax.set_ylabel(r"$\|\partial L/\partial x_l\| \,/\, \|\partial L/\partial x_L\|$")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, which="both")


def gradients_figure(rows, when=("grads_init", "grads_trained")):
    """The size of the gradient at every block's output, over its size at the last block's
    output, for every run: at initialization (left) and after training (right); log scale."""
    depths = {r["depth"] for r in rows}
    fig, axes = plt.subplots(1, len(when), figsize=(5 * len(when), 3.8), squeeze=False)
    titles = {"grads_init": "at initialization", "grads_trained": "after training"}
    for ax, w in zip(axes[0], when):
        for r in rows:
            colour = _colour(r["depth"], depths) if r["batch_norm"] else "0.45"
            _profile(ax, r, w, color=colour, label=_label(r), **_style(r))
        _profile_axes(ax, f"Gradient at each block, {titles.get(w, w)}")
    axes[0, 0].legend(fontsize=9, ncol=2)
    fig.tight_layout()
    return fig


def explorer(rows, depth=None, shortcut=True, when="grads_init"):
    """An ipywidgets panel over the runs of :func:`~dlbook.experiments.resnet.train_twins` with
    batch norm: choose the depth, shortcut or not, and before or after training, and see that
    run's gradient profile (left) and its training loss against all the others (right)."""
    import ipywidgets as widgets

    rows = [r for r in rows if r["batch_norm"]]
    depths = sorted({r["depth"] for r in rows})
    w_depth = widgets.ToggleButtons(options=depths, value=depth or depths[-1],
                                    description="depth")  # fmt: skip
    w_short = widgets.ToggleButtons(options=[("residual", True), ("plain", False)],
                                    value=shortcut, description="network")  # fmt: skip
    w_when = widgets.ToggleButtons(options=[("at initialization", "grads_init"),
                                            ("after training", "grads_trained")],
                                   value=when, description="gradients")  # fmt: skip
    epochs = len(rows[0]["history"]["train_loss"])

    def draw():
        pick = [r for r in rows if r["depth"] == w_depth.value and r["shortcut"] == w_short.value]
        r = pick[0]
        fig, (a, b) = plt.subplots(1, 2, figsize=(8.6, 3.3))
        for other in rows:
            _profile(a, other, w_when.value, color="0.85", lw=1)
        _profile(a, r, w_when.value, color=_colour(r["depth"], depths), lw=2)
        _profile_axes(a, f"{_label(r)}: gradient at each block")
        for other in rows:
            y = other["history"]["train_loss"]
            b.plot(np.arange(1, epochs + 1), y, color="0.85", lw=1)
        b.plot(np.arange(1, epochs + 1), r["history"]["train_loss"], lw=2,
               color=_colour(r["depth"], depths))  # fmt: skip
        _loss_axes(b, f"{_label(r)}: training loss", epochs, [])
        fig.tight_layout()
        a0 = r[w_when.value]["activations"]
        html = (f"<pre>{_label(r)}: the gradient at the first block is {a0[0] / a0[-1]:.3g} "
                f"times the one at the last; final training loss "
                f"{r['history'].final['train_loss']:.3f}</pre>")  # fmt: skip
        return html, fig

    return make_explorer([[w_depth], [w_short], [w_when]], draw, info=True)


def erf_figure(erf, rf_size, centre, title="ResNet-50 at initialization"):
    """The effective receptive field ``erf`` (an ``(H, W)`` map of gradient magnitudes) on a
    log colour scale, with the theoretical receptive field (``rf_size`` pixels, centred on the
    unit's centre ``(y, x)``; it may be larger than the input) outlined, and the row through
    the centre (right)."""
    erf = np.asarray(erf, dtype=np.float64)
    input_size = erf.shape[0]
    cy, c = centre
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.8))
    shown = np.log10(erf / erf.max() + 1e-6)
    im = a.imshow(shown, cmap="magma", vmin=-4, vmax=0)
    a.add_patch(Rectangle((c - rf_size / 2, cy - rf_size / 2), rf_size, rf_size, fill=False,
                          ec="C2", lw=1.5, ls="--"))  # fmt: skip
    lo, hi = min(0, c - rf_size / 2) - 4, max(input_size - 1, c + rf_size / 2) + 4
    a.set_xlim(lo, hi)
    a.set_ylim(hi, lo)
    a.set_title(f"{title}: log10 |gradient|\n(dashed: the {rf_size} px receptive field)",
                fontsize=9)  # fmt: skip
    a.set_xlabel("input x (pixels)")
    a.set_ylabel("input y (pixels)")
    fig.colorbar(im, ax=a, fraction=0.046).ax.tick_params(labelsize=9)
    row = erf[int(round(cy))] / erf.max()
    b.semilogy(np.arange(len(row)) - c, np.maximum(row, 1e-8), color="C0")
    b.axvspan(-rf_size / 2, rf_size / 2, color="C2", alpha=0.1, label="receptive field")
    b.set_xlim(-c - 2, input_size - c + 2)
    b.set_xlabel("offset from the centre (pixels)")
    b.set_ylabel("|gradient| / its maximum")
    b.set_title("The row through the unit's centre", fontsize=10)
    b.legend(fontsize=9)
    b.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig


def twins_table(summary):
    """An HTML table of :func:`~dlbook.experiments.resnet.summarize_twins`' result: one row per
    run, with its final training loss, best test accuracy and gradient ratio at
    initialization and after training."""
    rows = []
    for (depth, shortcut, bn), s in sorted(summary.items(), key=lambda kv: (not kv[0][2], kv[0])):
        name = f"{'residual' if shortcut else 'plain'}-{depth}" + ("" if bn else ", no BN")
        rows.append((name, f"{s['loss']:.3f}", f"{s['test_acc']:.1f}",
                     f"{s['ratio_init']:.3g}", f"{s['ratio_trained']:.3g}"))  # fmt: skip
    header = ["network", "final training loss", "best test accuracy (%)",
              "gradient ratio x_0 / x_L, at init", "after training"]  # fmt: skip
    return html_table(header, rows)
