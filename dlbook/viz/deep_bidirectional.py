"""Figures, the animation and the explorer of the deep and bidirectional RNN chapter.

The depth × time grid of a stacked (optionally bidirectional) network, the order in which its
cells can be computed (:func:`dlbook.experiments.deep_bidirectional.schedule`), and how strongly
each output step depends on each input step
(:func:`dlbook.experiments.deep_bidirectional.sensitivity_matrix`). Nothing here trains.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import FuncAnimation
from matplotlib.colors import LogNorm

from dlbook import seeding
from dlbook.experiments.deep_bidirectional import schedule, sensitivity_matrix
from dlbook.scratch import GRU
from dlbook.viz.common import make_explorer

__all__ = [
    "draw_grid",
    "grids_figure",
    "schedule_animation",
    "sensitivity_figure",
    "explorer",
    "curves_figure",
    "offset_figure",
    "saliency_figure",
]

DONE, NOW, WAITING, PLAIN = "#4c72b0", "#dd8452", "white", "#dfe7f2"
COLOURS = {"GRU": "C0", "2-layer GRU": "C2", "bidirectional GRU": "C3", "1-D CNN": "C7"}


def _check_sizes(length, num_layers):
    if isinstance(length, bool) or not isinstance(length, int) or length < 1:
        raise ValueError(f"length must be an int >= 1, got {length!r}")
    if isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers < 1:
        raise ValueError(f"num_layers must be an int >= 1, got {num_layers!r}")


def _position(layer, d, t, dirs):
    """Where cell (layer, direction, t) sits: a row per layer and direction, the two directions
    shifted sideways so that the vertical connections do not run through each other."""
    shift = 0.0 if dirs == 1 else (-0.17 if d == 0 else 0.17)
    return t + shift, 1 + layer * dirs + d


def draw_grid(ax, length, num_layers, bidirectional, steps=None, now=None):
    """Draw the depth × time grid on ``ax``: inputs ``x_t`` at the bottom, one row of cells per
    layer and direction (with torch's parameter suffix), outputs ``y_t`` on top. With ``steps``
    (from :func:`schedule`) and ``now``, cells computed before step ``now`` are blue, those
    computed at ``now`` orange, the rest empty."""
    _check_sizes(length, num_layers)
    dirs = 2 if bidirectional else 1
    top = 1 + num_layers * dirs
    arrow = dict(arrowstyle="-|>", color="0.65", lw=0.7, shrinkA=7, shrinkB=7, mutation_scale=7)
    recurrent = dict(arrow, color="0.15", lw=1.3, mutation_scale=9)
    for t in range(length):
        ax.text(t, 0, f"$x_{{{t}}}$", ha="center", va="center", fontsize=10)
        ax.text(t, top, f"$y_{{{t}}}$", ha="center", va="center", fontsize=10)
        for layer in range(num_layers):
            sources = [(t, 0)] if layer == 0 else [
                _position(layer - 1, e, t, dirs) for e in range(dirs)]  # fmt: skip
            for d in range(dirs):
                here = _position(layer, d, t, dirs)
                for src in sources:
                    ax.annotate("", here, src, arrowprops=arrow)
                step = 1 if d == 0 else -1
                if 0 <= t + step < length:
                    ax.annotate("", _position(layer, d, t + step, dirs), here, arrowprops=recurrent)
                if layer == num_layers - 1:
                    ax.annotate("", (t, top), here, arrowprops=arrow)
                colour, edge = PLAIN, "0.3"
                if steps is not None:
                    s = steps[layer, d, t]
                    colour = DONE if s < now else NOW if s == now else WAITING
                    edge = "0.3" if s <= now else "0.75"
                ax.add_patch(plt.Rectangle((here[0] - 0.14, here[1] - 0.2), 0.28, 0.4,
                                           fc=colour, ec=edge, lw=1, zorder=3))  # fmt: skip
    for layer in range(num_layers):
        for d in range(dirs):
            suffix = f"_l{layer}" + ("_reverse" if d else "")
            label = f"layer {layer} {'←' if d else '→'}\n{suffix}"
            ax.text(-0.6, 1 + layer * dirs + d, label, ha="right", va="center", fontsize=9)
    ax.set_xlim(-2.0, length - 0.4)
    ax.set_ylim(-0.6, top + 0.6)
    ax.axis("off")


def grids_figure(length=5, num_layers=2):
    """The two grids side by side: a stacked unidirectional network and a stacked bidirectional
    one, both with ``num_layers`` layers, over ``length`` steps."""
    _check_sizes(length, num_layers)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    for ax, bi in zip(axes, (False, True)):
        draw_grid(ax, length, num_layers, bi)
        kind = "bidirectional" if bi else "unidirectional"
        ax.set_title(f"{num_layers} layers, {kind}", fontsize=10)
    fig.tight_layout()
    return fig


def schedule_animation(length=6, num_layers=2, interval=600):
    """One frame per parallel step: which cells of the grid are done (blue) and which are being
    computed (orange), for a unidirectional and a bidirectional stack side by side. Returns a
    ``FuncAnimation``."""
    _check_sizes(length, num_layers)
    steps = {bi: schedule(length, num_layers, bi) for bi in (False, True)}
    last = {bi: int(s.max()) for bi, s in steps.items()}
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))

    def update(k):
        now = k + 1
        for ax, bi in zip(axes, (False, True)):
            ax.clear()
            draw_grid(ax, length, num_layers, bi, steps[bi], now)
            kind = "bidirectional" if bi else "unidirectional"
            state = f"step {min(now, last[bi])} of {last[bi]}" + (
                " (done)" if now >= last[bi] else "")  # fmt: skip
            ax.set_title(f"{num_layers} layers, {kind}: {state}", fontsize=10)
        return []

    fig.tight_layout()
    return FuncAnimation(fig, update, frames=last[True] + 1, interval=interval, blit=False)


def _heatmap(ax, m, title, row=None):
    shown = np.ma.masked_less_equal(m / m.max(), 0)  # exact zeros: no path at all
    cmap = plt.get_cmap("viridis").with_extremes(bad="0.93")
    im = ax.imshow(shown, cmap=cmap, norm=LogNorm(1e-3, 1), origin="upper")
    ax.set_xlabel("input step $s$")
    ax.set_ylabel("output step $t$")
    ax.set_title(title, fontsize=9)
    ticks = np.arange(0, m.shape[0], max(1, m.shape[0] // 6))
    ax.set_xticks(ticks)
    ax.set_yticks(ticks)
    if row is not None:
        ax.add_patch(plt.Rectangle((-0.5, row - 0.5), m.shape[1], 1, fill=False, ec="C3", lw=2))
    return im


def sensitivity_figure(panels):
    """Heatmaps of ``|| d y_t / d x_s ||`` (each scaled to its largest entry, log colour scale,
    exact zeros grey); ``panels`` is a list of ``(title, matrix)``."""
    if not panels:
        raise ValueError("panels must hold at least one (title, matrix) pair")
    # At most two panels a row, so that the titles stay legible in the book's column.
    cols, rows = min(len(panels), 2), -(-len(panels) // 2)
    fig, axes = plt.subplots(rows, cols, figsize=(3.1 * cols + 1.0, 3.2 * rows), squeeze=False,
                             layout="constrained")  # fmt: skip
    axes = axes.ravel()
    for i, (ax, (title, m)) in enumerate(zip(axes, panels)):
        im = _heatmap(ax, np.asarray(m), title)
        if i % cols:
            ax.set_ylabel("")
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    fig.colorbar(im, ax=list(axes[: len(panels)]), shrink=0.85, label="relative size (log)")
    return fig


def explorer(length=12, hidden_size=8, seed=0):
    """An ipywidgets panel: choose the number of layers, one or two directions, which half of
    ``y_t`` to follow and the step ``t``; see the measured ``|| d y_t / d x_s ||`` of a random
    from-scratch GRU (all of it, with row ``t`` outlined, and row ``t`` alone). The picture is
    an Image widget's value, so the panel behaves the same in an executed notebook."""
    import ipywidgets as widgets

    _check_sizes(length, 1)
    x = seeding.rng(seed).standard_normal((length, 1, 1))
    w_layers = widgets.IntSlider(value=2, min=1, max=3, description="layers")
    w_dir = widgets.ToggleButtons(
        options=["unidirectional", "bidirectional"], value="bidirectional", description="direction"
    )
    w_half = widgets.Dropdown(options=["both", "forward", "backward"], value="forward",
                              description="half of y_t")  # fmt: skip
    w_t = widgets.IntSlider(value=length // 2, min=0, max=length - 1, description="t")

    def draw():
        bi = w_dir.value == "bidirectional"
        half = w_half.value if bi else "both"
        rng = seeding.rng(seed)
        layer = GRU(1, hidden_size, w_layers.value, bidirectional=bi, dtype=np.float64, rng=rng)
        m = sensitivity_matrix(layer, x, half)
        row = m[w_t.value]
        seen = np.flatnonzero(row > 0)
        fig, (a, b) = plt.subplots(1, 2, figsize=(8.5, 3.2))
        _heatmap(a, m, f"{w_layers.value} layers, {w_dir.value}, half: {half}", w_t.value)
        b.bar(np.arange(length), row / m.max(), color="C0")
        b.set_xticks(np.arange(0, length, max(1, length // 6)))
        b.set_yscale("log")
        b.set_ylim(1e-4, 1.5)
        b.set_xlabel("input step $s$")
        b.set_title(f"row t = {w_t.value}", fontsize=9)
        fig.tight_layout()
        return (
            f"<pre>y_{w_t.value} ({half}) depends on x_s for s = {seen.min()} .. {seen.max()}"
            f"  ({len(seen)} of {length} input steps)</pre>"
        ), fig

    # The static grid: 1 to 3 layers, one or two directions, each half, at the middle step.
    grid = {w_half: ["forward", "backward"], w_t: [w_t.value]}
    return make_explorer([[w_layers, w_dir], [w_half, w_t]], draw, info=True, grid=grid)


def curves_figure(results):
    """Test accuracy (left) and the running training loss (right) per epoch, one line per model
    of :func:`dlbook.experiments.deep_bidirectional.train_models`."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.5))
    for name, r in results.items():
        h, c = r["history"], COLOURS.get(name)
        epochs = np.arange(1, len(h) + 1)
        a.plot(epochs, 100 * np.asarray(h["test_acc"]), marker="o", ms=3, color=c, label=name)
        b.plot(epochs, h["train_loss"], marker="o", ms=3, color=c, label=name)
    a.set_ylabel("test accuracy (%)")
    b.set_ylabel("training loss (running mean)")
    for ax in (a, b):
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=9)
    fig.tight_layout()
    return fig


def offset_figure(offsets, accuracies):
    """Accuracy on the offset task against the offset ``d`` (target = input at ``t + d``), one
    line per model; ``accuracies`` maps a label to a ``(K,)`` array."""
    offsets = np.asarray(list(offsets))
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    for (label, acc), m in zip(accuracies.items(), "os^"):
        if len(acc) != len(offsets):
            raise ValueError(f"accuracies[{label!r}] has {len(acc)} entries for {len(offsets)}")
        ax.plot(offsets, 100 * np.asarray(acc), marker=m, label=label)
    ax.axhline(50, color="0.5", ls=":", lw=1, label="chance")
    ax.axvspan(0.5, offsets.max() + 0.5, color="0.9", zorder=0)
    ax.text(offsets.max(), 75, "the future", ha="right", fontsize=9, color="0.35")
    ax.set_xlabel("offset $d$: the target at step $t$ is the input at $t + d$")
    ax.set_ylabel("test accuracy (%)")
    ax.set_xticks(offsets)
    ax.set_ylim(40, 103)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig


def saliency_figure(saliency):
    """``|d logit / d x_t|`` per input step for each trained model, each scaled to sum to 1."""
    fig, ax = plt.subplots(figsize=(7, 3.2))
    for name, s in saliency.items():
        s = np.asarray(s)
        ax.plot(np.arange(len(s)), s / s.sum(), marker="o", ms=3, color=COLOURS.get(name),
                label=name)  # fmt: skip
    ax.set_xlabel("input step $t$ (MNIST-1D sample)")
    ax.set_ylabel("share of |gradient|")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
