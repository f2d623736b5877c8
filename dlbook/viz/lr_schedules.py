"""Figures, the animation and the explorer of the learning-rate schedules chapter.

They draw what :mod:`dlbook.experiments.lr_schedules` computed (every step's rate, and the
training runs under each schedule) and a learning-rate range test; nothing here trains.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import FuncAnimation

from dlbook.viz.common import html_table, make_explorer

__all__ = [
    "COLOURS",
    "smooth",
    "schedules_figure",
    "range_figure",
    "results_figure",
    "loss_animation",
    "explorer",
    "overfit_table",
]

COLOURS = {
    "constant": "0.35",
    "step": "C0",
    "exponential": "C1",
    "cosine": "C2",
    "warm-up + cosine": "C3",
    "one-cycle": "C4",
}


def _colour(name):
    return COLOURS.get(name, "C5")


def smooth(values, weight=0.9):
    """An exponential moving average of ``values`` with bias correction (Adam's), as the
    range test smooths its batch losses."""
    values = np.asarray(values, dtype=np.float64)
    out, avg = np.empty_like(values), 0.0
    for k, v in enumerate(values):
        avg = weight * avg + (1 - weight) * v
        out[k] = avg / (1 - weight ** (k + 1))
    return out


def schedules_figure(rates, lr):
    """Every schedule's rate over the steps, over the base rate ``lr``: on a linear scale
    (left) and a log scale (right). ``rates`` maps a schedule's name to its rates, one per
    step (e.g. :func:`~dlbook.experiments.lr_schedules.scratch_rates`' ``"lr"``)."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, log in zip(axes, (False, True)):
        for name, r in rates.items():
            r = np.asarray(r)[:-1]  # the rate after the last step is never used
            ax.plot(np.arange(len(r)), r / lr, color=_colour(name), lw=1.6, label=name)
        ax.set_xlabel("step")
        ax.set_ylabel("rate / base rate")
        ax.grid(alpha=0.3, which="both")
        if log:
            ax.set_yscale("log")
            ax.set_ylim(1e-5, 2)
            ax.set_title("The same, log scale", fontsize=10)
        else:
            ax.set_title("Six schedules over one run", fontsize=10)
    axes[1].legend(fontsize=9, loc="lower left", ncol=2)
    fig.tight_layout()
    return fig


def range_figure(test, marks):
    """A range test's smoothed loss against the rate (log scale), with a dashed line at each
    rate of ``marks`` (``{label: rate}``). ``test``: a
    :class:`dlbook.experiments.evaluating_tuning.RangeTest` or anything with ``lrs``,
    ``smoothed`` and ``lr_at_min``."""
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    ax.semilogx(test.lrs, test.smoothed, color="0.2", lw=1.6, label="smoothed batch loss")
    ax.axvline(test.lr_at_min, color="0.5", ls=":", lw=1.2, label="lowest point")
    for (label, lr), c in zip(marks.items(), ("C3", "C0", "C2")):
        ax.axvline(lr, color=c, ls="--", lw=1.4, label=f"{label}: {lr:.3g}")
    ax.axhline(np.log(10), color="0.6", lw=0.8)
    ax.set_ylim(0, 2 * np.log(10) + 0.5)
    ax.set_xlabel("learning rate (grows every batch)")
    ax.set_ylabel("training loss")
    ax.set_title("Learning-rate range test (Adam, one pass)", fontsize=10)
    ax.legend(fontsize=9, loc="upper left")
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig


def results_figure(by_rate):
    """For each rate of ``by_rate`` (``{lr: compare_schedules' runs}``), one column: the
    smoothed batch loss over the steps, the mean over seeds, per schedule (top, log scale), and
    every seed's final test accuracy with the mean as a bar (bottom)."""
    fig, axes = plt.subplots(2, len(by_rate), figsize=(5 * len(by_rate), 6.4), squeeze=False)
    for col, (lr, runs) in enumerate(by_rate.items()):
        top, bottom = axes[0, col], axes[1, col]
        for i, (name, rs) in enumerate(runs.items()):
            loss = np.mean([smooth(r["losses"]) for r in rs], axis=0)
            top.plot(np.arange(len(loss)), loss, color=_colour(name), lw=1.5, label=name)
            acc = [100 * r["test_acc"][-1] for r in rs]
            bottom.bar(i, np.mean(acc), color=_colour(name), alpha=0.35)
            bottom.plot([i] * len(acc), acc, "o", ms=4, color=_colour(name))
        _loss_axes(top, len(loss), f"base rate {lr:.3g}: batch loss, mean of seeds")
        bottom.set_xticks(range(len(runs)))
        bottom.set_xticklabels([n.replace(" + ", "\n+ ") for n in runs], fontsize=9)
        bottom.set_ylim(40, 100)
        bottom.set_ylabel("final test accuracy (%)")
        bottom.grid(alpha=0.3, axis="y")
    axes[0, 0].legend(fontsize=9, ncol=2)
    fig.tight_layout()
    return fig


def _loss_axes(ax, steps, title):
    ax.set_xlim(0, steps)
    ax.set_yscale("log")
    ax.set_ylim(0.01, 4)
    ax.set_xlabel("step")
    ax.set_ylabel("batch loss (smoothed)")
    ax.set_title(title, fontsize=10)
    ax.minorticks_off()  # a log axis's minor ticks cost more to draw than the curves
    ax.grid(alpha=0.3)


def loss_animation(runs, lr, frames=10, dpi=72, interval=400):
    """The first seed's run of every schedule in ``runs`` (:func:`compare_schedules`' result at
    base rate ``lr``) drawn step by step: the rate (top) and the smoothed batch loss (bottom).
    Returns a ``FuncAnimation`` of ``frames`` frames."""
    first = {name: rs[0] for name, rs in runs.items()}
    smoothed = {name: smooth(r["losses"]) for name, r in first.items()}
    steps = len(next(iter(first.values()))["lrs"])
    ends = np.linspace(steps / frames, steps, frames).astype(int)
    fig, (a, b) = plt.subplots(2, 1, figsize=(6.4, 5.2), dpi=dpi, sharex=True)

    def update(i):
        a.clear()
        b.clear()
        k = ends[i]
        for name, r in first.items():
            a.plot(np.arange(k), r["lrs"][:k], color=_colour(name), lw=1.5, label=name)
            b.plot(np.arange(k), smoothed[name][:k], color=_colour(name), lw=1.5)
        a.set_ylim(0, 1.1 * lr)
        a.set_ylabel("learning rate")
        a.set_title(f"Base rate {lr:.3g}: step {k} of {steps}", fontsize=10)
        a.legend(fontsize=9, ncol=2, loc="upper right")
        a.grid(alpha=0.3)
        _loss_axes(b, steps, "")
        return []

    update(0)
    fig.tight_layout()
    return FuncAnimation(fig, update, frames=frames, interval=interval, blit=False)


def explorer(by_rate, schedule="one-cycle", lr=None):
    """An ipywidgets panel over the runs of ``by_rate`` (``{lr: compare_schedules' runs}``):
    choose a schedule and a base rate, and see its rate over the steps (left) and every seed's
    smoothed batch loss against the other schedules' first seeds in grey (right)."""
    import ipywidgets as widgets

    rates = list(by_rate)
    names = list(next(iter(by_rate.values())))
    w_name = widgets.ToggleButtons(options=names, value=schedule, description="schedule")
    w_lr = widgets.ToggleButtons(options=[(f"{r:.3g}", r) for r in rates],
                                 value=rates[0] if lr is None else lr,
                                 description="base rate")  # fmt: skip

    def draw():
        runs = by_rate[w_lr.value]
        rs = runs[w_name.value]
        steps = len(rs[0]["lrs"])
        fig, (a, b) = plt.subplots(1, 2, figsize=(8.6, 3.2))
        a.plot(np.arange(steps), rs[0]["lrs"], color=_colour(w_name.value), lw=2)
        a.set_ylim(0, 1.1 * max(rates))
        a.set_xlabel("step")
        a.set_ylabel("learning rate")
        a.set_title(f"{w_name.value}, base rate {w_lr.value:.3g}", fontsize=10)
        a.grid(alpha=0.3)
        for other, ors in runs.items():
            if other != w_name.value:
                b.plot(smooth(ors[0]["losses"]), color="0.85", lw=1)
        for r in rs:
            b.plot(smooth(r["losses"]), color=_colour(w_name.value), lw=1.4)
        _loss_axes(b, steps, "every seed (others' first seed in grey)")
        fig.subplots_adjust(left=0.09, right=0.98, bottom=0.15, top=0.9, wspace=0.3)
        accs = ", ".join(f"{100 * r['test_acc'][-1]:.1f}" for r in rs)
        return f"<pre>final test accuracy of each seed: {accs} %</pre>", fig

    return make_explorer([[w_name], [w_lr]], draw, info=True)


def overfit_table(gaps):
    """An HTML table of :func:`~dlbook.experiments.lr_schedules.overfit_by_rate`'s result: per
    rate, every seed's training and test accuracy and the mean gap between them."""
    rows = []
    for lr, a in gaps.items():
        rows.append((f"{lr:g}", ", ".join(f"{v:.1f}" for v in a[:, 0]),
                     ", ".join(f"{v:.1f}" for v in a[:, 1]),
                     f"{np.mean(a[:, 0] - a[:, 1]):.1f}"))  # fmt: skip
    header = ["learning rate", "training accuracy, per seed (%)", "test accuracy (%)",
              "mean gap (points)"]  # fmt: skip
    return html_table(header, rows)
