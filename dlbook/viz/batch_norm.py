"""Figures, the animation and the explorer of the batch-norm chapter.

They draw arrays and what :mod:`dlbook.experiments.batch_norm` measured; nothing here trains.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import FuncAnimation
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from dlbook.experiments.batch_norm import final_accuracies, running_stats
from dlbook.viz.common import html_table, make_explorer

__all__ = [
    "COLOURS",
    "LABELS",
    "normalize_figure",
    "axes_figure",
    "sweep_figure",
    "shift_figure",
    "ics_figure",
    "histogram_animation",
    "batch_size_figure",
    "running_figure",
    "running_grid",
    "explorer",
    "sweep_table",
    "study_table",
]

COLOURS = {"none": "C0", "batch": "C1", "noisy": "C2", "drift": "C3", "layer": "C4"}
LABELS = {
    "none": "no normalization",
    "batch": "batch norm",
    "noisy": "noisy batch norm",
    "drift": "drifting batch norm",
    "layer": "layer norm",
}


def normalize_figure(stages, titles, bins=40):
    """Per-channel histograms of a few ``(N, C, H, W)`` arrays, one panel per stage (e.g. the
    convolution's output, the normalized ``x_hat``, and ``gamma * x_hat + beta``), with each
    channel's mean and standard deviation in the legend."""
    fig, axes = plt.subplots(1, len(stages), figsize=(3.3 * len(stages), 2.9))
    for ax, a, title in zip(np.atleast_1d(axes), stages, titles):
        for c in range(a.shape[1]):
            v = a[:, c].ravel()
            label = f"channel {c}: {v.mean():+.2f} ± {v.std():.2f}"
            ax.hist(v, bins=bins, histtype="stepfilled", alpha=0.45, color=f"C{c}", label=label)
        ax.set_title(title, fontsize=10)
        ax.set_yticks([])
        ax.set_xlabel("value")
        ax.legend(fontsize=9, loc="upper right", title="mean ± std", title_fontsize=9)
    fig.tight_layout()
    return fig


def _grid(ax, n, c, hw, shaded, title, colour):
    """An ``n × (c·hw)`` grid of cells (examples by channels × positions), ``shaded`` a boolean
    array of that shape marking the values that share one mean and variance."""
    ax.add_patch(Rectangle((0, 0), c * hw, n, facecolor="white", edgecolor="0.3", lw=1))
    for i in range(n):
        for j in range(c * hw):
            if shaded[i, j]:
                ax.add_patch(Rectangle((j, n - 1 - i), 1, 1, facecolor=colour, alpha=0.8))
    for j in range(1, c):
        ax.axvline(j * hw, color="0.3", lw=1)
    for i in range(1, n):
        ax.axhline(i, color="0.85", lw=0.5)
    ax.set_xlim(-0.2, c * hw + 0.2)
    ax.set_ylim(-0.2, n + 0.2)
    ax.set_xticks([hw * (k + 0.5) for k in range(c)], [f"channel {k}" for k in range(c)])
    ax.set_yticks([n - 0.5 - i for i in range(n)], [f"example {i}" for i in range(n)])
    ax.tick_params(length=0, labelsize=9)
    ax.set_title(title, fontsize=10)
    ax.set_aspect("equal")


def axes_figure(n=4, c=3, hw=6):
    """Which values share one mean and variance: batch norm (one channel, every example and
    position) against layer norm (one example, every channel and position). Each row is one
    example; each block of ``hw`` columns is one channel's positions."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 2.4))
    bn = np.zeros((n, c * hw), bool)
    bn[:, hw : 2 * hw] = True  # channel 1, all examples
    ln = np.zeros((n, c * hw), bool)
    ln[1] = True  # example 1, all channels
    _grid(axes[0], n, c, hw, bn, "batch norm: one channel over the batch (N, H, W)", "C1")
    _grid(axes[1], n, c, hw, ln, "layer norm: one example over (C, H, W)", "C4")
    fig.tight_layout()
    return fig


def sweep_figure(rows):
    """:func:`~dlbook.experiments.batch_norm.lr_sweep`'s runs. Left: final test accuracy against
    the learning rate (a dot per seed, a line through their mean). Right panels: test accuracy per
    epoch at each learning rate (solid: first seed, dotted: the others)."""
    lrs = sorted({r["lr"] for r in rows})
    norms = list(dict.fromkeys(r["norm"] for r in rows))
    fig = plt.figure(figsize=(10, 3.5))
    grid = fig.add_gridspec(1, len(lrs) + 2, width_ratios=[2.2, 0.35] + [1] * len(lrs))
    ax = fig.add_subplot(grid[0])
    for norm in norms:
        mine = [r for r in rows if r["norm"] == norm]
        accs = [[100 * r["test_acc"] for r in mine if r["lr"] == lr] for lr in lrs]
        ax.plot(lrs, [np.mean(a) for a in accs], color=COLOURS[norm], label=LABELS[norm])
        for lr, a in zip(lrs, accs):
            ax.plot([lr] * len(a), a, "o", color=COLOURS[norm], ms=4, alpha=0.7)
        if all(r.get("recalibrated_acc") is not None for r in mine):
            recal = [[100 * r["recalibrated_acc"] for r in mine if r["lr"] == lr] for lr in lrs]
            ax.plot(lrs, [np.mean(a) for a in recal], "--", color=COLOURS[norm],
                    label=f"{LABELS[norm]}, statistics recalibrated")  # fmt: skip
    ax.set_xscale("log")
    ax.set_xlabel("learning rate (SGD, momentum 0.9)")
    ax.set_ylabel("test accuracy after training (%)")
    ax.set_ylim(0, 100)
    ax.axhline(10, color="0.6", ls=":", lw=1)
    ax.text(lrs[0], 12, "chance", fontsize=9, color="0.5")
    ax.set_title("final accuracy", fontsize=10)
    ax.grid(alpha=0.3)
    seeds = sorted({r.get("seed", 0) for r in rows})
    for k, lr in enumerate(lrs):
        sub = fig.add_subplot(grid[k + 2], sharey=None)
        for r in (r for r in rows if r["lr"] == lr):
            acc = 100 * np.array(r["history"]["test_acc"])
            ls = "-" if r.get("seed", 0) == seeds[0] else ":"
            sub.plot(np.arange(1, len(acc) + 1), acc, ls, color=COLOURS[r["norm"]], lw=1.2)
        sub.set_ylim(0, 100)
        sub.set_xticks([1, len(acc)])  # two ticks: narrow panels have no room for more
        sub.set_title(f"lr = {lr:g}", fontsize=9)
        sub.set_xlabel("epoch", fontsize=9)
        sub.tick_params(labelsize=9)
        if k:
            sub.set_yticklabels([])
        else:
            sub.set_ylabel("test accuracy (%)", fontsize=9)
        sub.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    styles = [("-", f"seed {seeds[0]}")]
    if len(seeds) > 1:
        styles.append(
            (":", "seed" + ("s " if len(seeds) > 2 else " ") + ", ".join(map(str, seeds[1:])))
        )
    for ls, label in styles:
        handles.append(Line2D([], [], color="0.3", ls=ls))
        labels.append(f"{label} (right panels)")
    fig.legend(handles, labels, loc="upper center", ncol=len(labels), fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    return fig


def shift_figure(records, channels=(0, 1, 2, 3)):
    """Per-step mean (top) and standard deviation (bottom) of a few ``channels`` of the watched
    pre-activations, one column per :func:`~dlbook.experiments.batch_norm.watch_shift` record."""
    size = (2.5 * len(records), 4.6)
    fig, axes = plt.subplots(2, len(records), figsize=size, sharex=True, sharey="row")
    axes = np.atleast_2d(axes.reshape(2, -1))
    for j, rec in enumerate(records):
        steps = np.arange(len(rec["mean"]))
        for c in channels:
            axes[0, j].plot(steps, rec["mean"][:, c], lw=0.9, color=f"C{c}")
            axes[1, j].plot(steps, rec["std"][:, c], lw=0.9, color=f"C{c}")
        axes[0, j].set_title(LABELS[rec["norm"]], fontsize=10, color=COLOURS[rec["norm"]])
        axes[1, j].set_xlabel("training step")
        axes[1, j].set_ylim(bottom=0)
        for ax in axes[:, j]:
            ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("mean over the batch")
    axes[1, 0].set_ylabel("std over the batch")
    fig.suptitle(f"Pre-activations of block 3, channels {', '.join(map(str, channels))}, at "
                 "every step", fontsize=10)  # fmt: skip
    fig.tight_layout()
    return fig


def _smooth(y, k=11):
    k = min(k, len(y))
    return np.convolve(y, np.ones(k) / k, mode="valid")


def ics_figure(records):
    """Left: training loss per step (a moving average of 11 steps). Right: Santurkar et al.'s
    internal covariate shift, ``||G - G'|| / ||G||`` for the watched layer's weight gradient."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
    for rec in records:
        c, label = COLOURS[rec["norm"]], LABELS[rec["norm"]]
        loss = _smooth(rec["loss"])
        axes[0].plot(np.arange(len(loss)) + 5, loss, color=c, label=label)
        axes[1].plot(rec["ics_steps"], rec["ics_change"], color=c, lw=0.9, label=label)
    axes[0].set_yscale("log")
    axes[0].set_ylabel("training loss (cross-entropy)")
    axes[0].set_title("training loss", fontsize=10)
    axes[1].set_yscale("log")
    axes[1].set_ylabel(r"$\|G - G'\| \,/\, \|G\|$")
    axes[1].set_title("gradient change caused by the earlier layers' step", fontsize=10)
    for ax in axes:
        ax.set_xlabel("training step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=9)
    fig.tight_layout()
    return fig


def histogram_animation(records, bins=48, lim=(-6.0, 6.0), ymax=0.16, dpi=72, interval=250):
    """The watched channel's pre-activation histogram at each snapshot step, one panel per
    record, with the batch-norm-free network on the left; bar heights are fractions of the values.
    Returns a ``FuncAnimation``."""
    frames = len(records[0]["snap_steps"])
    fig, axes = plt.subplots(1, len(records), figsize=(2.5 * len(records), 2.7), dpi=dpi)
    axes = np.atleast_1d(axes)
    edges = np.linspace(*lim, bins + 1)
    panels = []
    for ax, rec in zip(axes, records):
        bars = ax.stairs(np.zeros(bins), edges, fill=True, color=COLOURS[rec["norm"]], alpha=0.8)
        ax.axvline(0, color="0.5", lw=0.7)
        ax.set_xlim(*lim)
        ax.set_ylim(0, ymax)
        ax.set_yticks([])
        ax.set_xlabel("value (clipped to the range)", fontsize=9)
        ax.set_title(LABELS[rec["norm"]], fontsize=9)
        ax.tick_params(labelsize=9)
        text = ax.text(0.03, 0.95, "", transform=ax.transAxes, va="top", fontsize=9)
        panels.append((bars, text, rec["snap_values"]))
    heading = fig.suptitle("", fontsize=9)
    fig.tight_layout()

    def update(i):
        heading.set_text(
            f"one channel's pre-activations, training step {records[0]['snap_steps'][i]}"
        )
        for bars, text, values in panels:
            v = values[i]
            counts, _ = np.histogram(np.clip(v, *lim), bins=edges)
            bars.set_data(values=counts / len(v))
            text.set_text(f"mean {v.mean():+.2f}\nstd {v.std():.2f}")
        return []

    update(0)
    return FuncAnimation(fig, update, frames=frames, interval=interval, blit=False)


def batch_size_figure(acc, eval_acc, recalibrated_acc=None):
    """Test accuracy with batch norm in training mode against the batch size (``acc`` maps batch
    size to accuracy), beside the evaluation-mode accuracy ``eval_acc`` (and, if given, the same
    after the running statistics were recalibrated)."""
    sizes = sorted(acc)
    fig, ax = plt.subplots(figsize=(5.6, 3.0))
    ax.plot(sizes, [100 * acc[b] for b in sizes], "o-", color=COLOURS["batch"],
            label="training mode: the batch's own statistics")  # fmt: skip
    ax.axhline(100 * eval_acc, color="0.3", ls="--", label="evaluation mode: running statistics")
    if recalibrated_acc is not None:
        ax.axhline(100 * recalibrated_acc, color="C2", ls=":", lw=2,
                   label="evaluation mode: recalibrated statistics")  # fmt: skip
    ax.set_xscale("log", base=2)
    ax.set_xticks(sizes, [str(b) for b in sizes])
    ax.set_xlabel("batch size at test time")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("The same trained network, normalized by its batch", fontsize=10)
    ax.legend(fontsize=9, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def running_figure(ax_mean, ax_var, mean=2.0, std=3.0, batch_size=8, momentum=0.1, steps=100,
                   seed=0, legend=True):  # fmt: skip
    """Draw :func:`~dlbook.experiments.batch_norm.running_stats` on two axes: the running mean
    (with the batch means behind it) and the running variance, torch's unbiased one and the
    biased variant, against the true values."""
    r = running_stats(mean, std, batch_size, momentum, steps, seed)
    t = np.arange(steps + 1)
    ax_mean.plot(t[1:], r["batch_mean"][1:], ".", color="0.7", ms=3, label="batch mean")
    ax_mean.plot(t, r["running_mean"], color="C1", label="running mean")
    ax_mean.axhline(mean, color="k", ls=":", lw=1, label="true mean")
    ax_var.plot(t, r["running_var"], color="C1", label="running var (unbiased, torch)")
    ax_var.plot(t, r["running_var_biased"], color="C0", lw=1, label="with the biased variance")
    ax_var.axhline(std**2, color="k", ls=":", lw=1, label="true variance")
    ax_var.axhline(std**2 * (batch_size - 1) / batch_size, color="C0", ls=":", lw=1)
    for ax in (ax_mean, ax_var):
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=9)
    if legend:
        ax_mean.legend(fontsize=9, loc="lower right")
        ax_var.legend(fontsize=9, loc="lower right")
    return r


def running_grid(momenta=(0.01, 0.1, 0.9), batch_sizes=(4, 64), steps=100, mean=2.0, std=3.0):
    """The explorer's picture at a grid of settings: one row per momentum, and for each batch
    size a pair of columns (running mean, running variance)."""
    size = (2.5 * 2 * len(batch_sizes), 1.9 * len(momenta) + 0.7)
    fig, axes = plt.subplots(len(momenta), 2 * len(batch_sizes), figsize=size, sharex=True)
    axes = np.atleast_2d(axes)
    for i, m in enumerate(momenta):
        for j, b in enumerate(batch_sizes):
            am, av = axes[i, 2 * j], axes[i, 2 * j + 1]
            running_figure(am, av, mean, std, b, m, steps, legend=False)
            am.set_ylim(-1, 2 * mean + 1)
            av.set_ylim(0, 2.2 * std**2)
            if i == 0:
                am.set_title(f"batch {b}: mean", fontsize=10)
                av.set_title(f"batch {b}: variance", fontsize=10)
        axes[i, 0].set_ylabel(f"momentum {m:g}", fontsize=10)
    for ax in axes[-1]:
        ax.set_xlabel("step", fontsize=9)
    handles = [h for ax in axes[0, :2] for h in ax.get_legend_handles_labels()[0]]
    labels = [h for ax in axes[0, :2] for h in ax.get_legend_handles_labels()[1]]
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def explorer(momentum=0.1, batch_size=8, steps=100, mean=2.0, std=3.0):
    """An ipywidgets panel: choose the momentum and the batch size, and watch the running mean
    and variance follow a stream of batches drawn from ``N(mean, std^2)``. The picture is a PNG
    widget value, so the panel behaves the same in an executed notebook."""
    import ipywidgets as widgets

    w_m = widgets.FloatLogSlider(value=momentum, base=10, min=-3, max=0, description="momentum")
    w_b = widgets.IntSlider(value=batch_size, min=2, max=128, description="batch size")

    def draw():
        fig, (am, av) = plt.subplots(1, 2, figsize=(8, 2.8))
        r = running_figure(am, av, mean, std, w_b.value, w_m.value, steps)
        am.set_title("running mean", fontsize=9)
        av.set_title("running variance", fontsize=9)
        fig.tight_layout()
        return (
            f"<pre>after {steps} steps: running mean {r['running_mean'][-1]:.2f} (true {mean:g}),"
            f" running var {r['running_var'][-1]:.2f} (true {std**2:g})</pre>"
        ), fig

    return make_explorer([[w_m, w_b]], draw, info=True, max_positions=12)


def sweep_table(sweep, lrs):
    """An HTML table of an :func:`dlbook.experiments.batch_norm.lr_sweep` of the networks
    ``"none"`` and ``"batch"``, a row per learning rate in ``lrs``: the final test accuracy (%) of
    every seed's run without normalization, with batch norm, and with batch norm after
    recalibrating its running statistics."""
    rows = []
    for lr in lrs:
        runs = (final_accuracies(sweep, "none", lr), final_accuracies(sweep, "batch", lr))
        runs += (final_accuracies(sweep, "batch", lr, "recalibrated_acc"),)
        rows.append((f"{lr:g}", *(", ".join(f"{a:.1f}" for a in accs) for accs in runs)))
    header = ["learning rate", "no normalization (%)", "batch norm (%)"]
    return html_table([*header, "batch norm, recalibrated (%)"], rows)


def study_table(means):
    """An HTML table of :func:`dlbook.experiments.batch_norm.study_means`, a row per network: how
    far the watched layer's input distribution moves per step and from the first step to the
    last, the training loss at the end, the recalibrated test accuracy, and the gradient change."""
    rows = []
    for key, m in means.items():
        shifts = [f"{m[k]:.3f}" for k in ("mean_shift", "scale_shift")]
        shifts += [f"{m[k]:.2f}" for k in ("drift", "spread_drift")]
        end = (f"{m['loss']:.3f}", f"{100 * m['recalibrated_acc']:.1f}", f"{m['ics']:.3f}")
        rows.append((LABELS[key], *shifts, *end))
    header = [
        "network",
        "mean moves per step (std)",
        "spread changes per step",
        "mean drift, first to last step (std)",
        "spread drift, first to last step",
        "training loss, last 20 steps",
        "test accuracy, recalibrated (%)",
        "||G - G'|| / ||G||",
    ]
    return html_table(header, rows)
