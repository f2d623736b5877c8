"""Figures, the animation and the explorer of the Evaluating and tuning chapter.

They draw scores, curves and search results that :mod:`dlbook.metrics` and
:mod:`dlbook.experiments.evaluating_tuning` computed; nothing here trains. A binary task is given as
``positive`` (a boolean ``(N,)`` array) and ``scores`` (``(N,)`` floats, higher means "more
positive"); a sample counts as predicted positive when its score is ``>= threshold``, as in
:func:`dlbook.metrics.roc_curve`.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import FuncAnimation

from dlbook.metrics import roc_auc, roc_curve
from dlbook.viz.common import html_table, make_explorer

__all__ = [
    "counts",
    "pr_points",
    "threshold_figure",
    "threshold_grid",
    "threshold_animation",
    "threshold_explorer",
    "roc_figure",
    "pr_figure",
    "range_test_figure",
    "search_figure",
    "search_table",
]


def _binary(positive, scores):
    positive, scores = np.asarray(positive, dtype=bool), np.asarray(scores, dtype=float)
    if positive.ndim != 1 or positive.shape != scores.shape:
        raise ValueError(f"positive {positive.shape} and scores {scores.shape} must be equal 1-D")
    if positive.all() or not positive.any():
        raise ValueError("positive: needs both positive and negative samples")
    return positive, scores


def counts(positive, scores, threshold):
    """``(TP, FP, FN, TN)`` when samples scoring ``>= threshold`` are called positive."""
    positive, scores = _binary(positive, scores)
    called = scores >= threshold
    tp, fp = int(np.sum(called & positive)), int(np.sum(called & ~positive))
    return tp, fp, int(positive.sum()) - tp, int((~positive).sum()) - fp


def pr_points(positive, scores):
    """``(precision, recall, thresholds)``, one point per distinct score from the highest
    threshold down, read off :func:`dlbook.metrics.roc_curve`: ``TP = TPR·P``, ``FP = FPR·N``,
    precision ``TP / (TP + FP)``, recall ``= TPR``. (scikit-learn's ``precision_recall_curve``
    gives the same points in the opposite order, plus a final (1, 0).)"""
    positive, scores = _binary(positive, scores)
    fpr, tpr, thr = roc_curve(positive, scores, pos_label=True)
    tp, fp = tpr[1:] * positive.sum(), fpr[1:] * (~positive).sum()
    return tp / (tp + fp), tpr[1:], thr[1:]


def _threshold_axes(axes, positive, scores, bins=25):
    """Draw the parts of the three threshold panels that do not move (score histograms, ROC
    curve, confusion grid) and return ``update(threshold)``, which moves the rest."""
    positive, scores = _binary(positive, scores)
    ax_h, ax_r, ax_c = axes
    edges = np.linspace(0, 1, bins + 1)
    ax_h.hist(
        scores[~positive], edges, color="C0", alpha=0.6, label=f"negatives ({(~positive).sum()})"
    )
    ax_h.hist(scores[positive], edges, color="C3", alpha=0.6, label=f"positives ({positive.sum()})")
    ax_h.set_yscale("log")
    ax_h.yaxis.set_minor_locator(plt.NullLocator())  # minor log ticks make every frame slow
    ax_h.set_xlabel("score")
    ax_h.set_ylabel("samples (log scale)")
    ax_h.legend(fontsize=9, loc="upper center")
    line = ax_h.axvline(0.5, color="k", lw=1.2)
    shade = ax_h.axvspan(0.5, 1, color="0.5", alpha=0.15)
    fpr, tpr, _ = roc_curve(positive, scores, pos_label=True)
    ax_r.plot(fpr, tpr, color="C2", lw=1.5)
    ax_r.plot([0, 1], [0, 1], color="0.6", ls=":", lw=1)
    (dot,) = ax_r.plot([], [], "o", color="k", ms=6)
    ax_r.set(
        xlim=(-0.02, 1.02),
        ylim=(-0.02, 1.02),
        xlabel="false positive rate",
        ylabel="true positive rate (recall)",
    )
    ax_r.set_title(f"ROC curve, AUC = {roc_auc(positive, scores, True):.3f}", fontsize=9)
    ax_c.set(xlim=(0, 2), ylim=(0, 2), xticks=[0.5, 1.5], yticks=[0.5, 1.5])
    ax_c.set_xticklabels(["called +", "called −"])
    ax_c.set_yticklabels(["truly −", "truly +"])
    ax_c.tick_params(length=0)
    cells = {}
    for name, x, y, colour in [
        ("TP", 0, 1, "C2"),
        ("FN", 1, 1, "C3"),
        ("FP", 0, 0, "C3"),
        ("TN", 1, 0, "C2"),
    ]:
        ax_c.add_patch(plt.Rectangle((x, y), 1, 1, color=colour, alpha=0.15))
        cells[name] = ax_c.text(x + 0.5, y + 0.5, "", ha="center", va="center", fontsize=10)
    title = ax_c.set_title("", fontsize=9)

    def update(threshold):
        tp, fp, fn, tn = counts(positive, scores, threshold)
        line.set_xdata([threshold, threshold])
        shade.set_x(threshold)
        shade.set_width(max(1 - threshold, 0))
        ax_h.set_title(f"threshold {threshold:.2f}", fontsize=9)
        dot.set_data([fp / (fp + tn)], [tp / (tp + fn)])
        for name, n in zip(("TP", "FP", "FN", "TN"), (tp, fp, fn, tn)):
            cells[name].set_text(f"{name}\n{n}")
        p = tp / (tp + fp) if tp + fp else 0.0
        title.set_text(f"precision {p:.2f}, recall {tp / (tp + fn):.2f}")
        return line, dot, title, *cells.values()

    return update


def threshold_figure(positive, scores, threshold=0.5, dpi=None):
    """Three panels at one threshold: the score histograms of both classes with the threshold,
    the ROC curve with the point it picks, and the 2×2 confusion counts. Returns the figure."""
    fig, axes = plt.subplots(1, 3, figsize=(10, 2.9), dpi=dpi)
    _threshold_axes(axes, positive, scores)(threshold)
    fig.tight_layout()
    return fig


def threshold_grid(positive, scores, thresholds=(0.1, 0.5, 0.9)):
    """:func:`threshold_figure` for several thresholds, one row each (the explorer's static
    stand-in). Returns the figure."""
    fig, axes = plt.subplots(len(thresholds), 3, figsize=(10, 2.7 * len(thresholds)), squeeze=False)
    for row, t in zip(axes, thresholds):
        _threshold_axes(row, positive, scores)(t)
    fig.tight_layout()
    return fig


def threshold_animation(positive, scores, thresholds=None, dpi=72, interval=200):
    """The threshold sweeping from strict to lenient (``thresholds``, default 36 steps from 0.98
    down to 0.01): the ROC point climbs the curve as the confusion counts shift. Returns a
    ``FuncAnimation`` (show it with :func:`dlbook.viz.common.to_html`)."""
    thresholds = np.linspace(0.98, 0.01, 36) if thresholds is None else np.asarray(thresholds)
    fig, axes = plt.subplots(1, 3, figsize=(10, 2.9), dpi=dpi)
    update = _threshold_axes(axes, positive, scores)
    update(thresholds[0])
    fig.tight_layout()
    return FuncAnimation(
        fig, lambda i: update(thresholds[i]), frames=len(thresholds), interval=interval, blit=False
    )


def threshold_explorer(positive, scores, threshold=0.5):
    """An ipywidgets panel: a threshold slider and :func:`threshold_figure` at that threshold.
    The picture is a widget value (a PNG), not printed output, so nbval sees the same text on
    every run. Returns the widget (display it)."""
    import ipywidgets as widgets

    slider = widgets.FloatSlider(
        value=threshold,
        min=0.0,
        max=1.0,
        step=0.01,
        description="threshold",
        continuous_update=False,
    )

    def draw():
        return threshold_figure(positive, scores, slider.value, dpi=72)

    return make_explorer([slider], draw, dpi=None)


def roc_figure(y_true, probs, classes=(1, 8, 9), zoom=0.2):
    """One-vs-rest ROC curves of a multi-class model (``probs`` ``(N, K)``) for ``classes``:
    the whole square (left) and the top-left corner up to false positive rate ``zoom`` (right),
    with each class's AUC in the legend. Returns the figure."""
    y_true, probs = np.asarray(y_true), np.asarray(probs)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for k, c in enumerate(classes):
        fpr, tpr, _ = roc_curve(y_true == c, probs[:, c], pos_label=True)
        auc = roc_auc(y_true == c, probs[:, c], pos_label=True)
        for ax in axes:
            ax.plot(fpr, tpr, color=f"C{k}", lw=1.5, label=f"digit {c} vs rest: AUC {auc:.3f}")
    for ax, lim in zip(axes, (1.0, zoom)):
        ax.plot([0, 1], [0, 1], color="0.6", ls=":", lw=1, label="chance")
        ax.set(xlim=(-0.01 * lim, lim), xlabel="false positive rate", ylabel="true positive rate")
        ax.grid(alpha=0.3)
    axes[1].set_ylim(1 - 2 * zoom if zoom < 0.5 else 0, 1.01)
    axes[0].set_title("one-vs-rest ROC curves", fontsize=10)
    axes[1].set_title(f"the top-left corner (FPR ≤ {zoom:g})", fontsize=10)
    axes[0].legend(fontsize=9, loc="lower right")
    fig.tight_layout()
    return fig


def pr_figure(positive, scores, marks=(0.1, 0.5, 0.9)):
    """Left: precision, recall and F1 against the threshold. Right: the precision-recall curve.
    The thresholds in ``marks`` are marked on both. Returns the figure."""
    precision, recall, thr = pr_points(positive, scores)
    f1 = np.divide(
        2 * precision * recall,
        precision + recall,
        out=np.zeros_like(recall),
        where=precision + recall > 0,
    )
    fig, (ax, ax_pr) = plt.subplots(1, 2, figsize=(9, 3.4))
    for values, name, colour in (
        (precision, "precision", "C0"),
        (recall, "recall", "C3"),
        (f1, "F1", "k"),
    ):
        ax.step(thr, values, where="post", color=colour, label=name, lw=1.3)
    ax.set(xlim=(0, 1), ylim=(0, 1.03), xlabel="threshold", title="the threshold's trade-off")
    ax_pr.step(recall, precision, where="post", color="C2", lw=1.5)
    ax_pr.set(
        xlim=(0, 1.02),
        ylim=(0, 1.03),
        xlabel="recall",
        ylabel="precision",
        title="precision-recall curve",
    )
    base = np.mean(positive)
    ax_pr.axhline(base, color="0.6", ls=":", lw=1, label=f"chance (precision {base:.2f})")
    for t in marks:
        k = max(np.searchsorted(-thr, -t, side="right") - 1, 0)  # the lowest threshold >= t
        ax.axvline(t, color="0.6", lw=0.8, ls="--")
        ax_pr.plot(recall[k], precision[k], "o", color="k", ms=5)
        ax_pr.annotate(
            f"{t:g}",
            (recall[k], precision[k]),
            textcoords="offset points",
            xytext=(-18, -12),
            fontsize=9,
        )
    for a in (ax, ax_pr):
        a.grid(alpha=0.3)
        a.legend(fontsize=9, loc="lower left")
    fig.tight_layout()
    return fig


def range_test_figure(result, ax=None):
    """The loss of a learning-rate range test (``result`` from
    :func:`dlbook.experiments.evaluating_tuning.lr_range_test`) against the learning rate, on a log
    axis, with the minimum of the smoothed loss and the suggested rate marked. Returns the axes."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 3.4))
    ax.plot(result.lrs, result.losses, color="C0", alpha=0.35, lw=1, label="batch loss")
    ax.plot(result.lrs, result.smoothed, color="C0", lw=2, label="smoothed")
    ax.axvline(
        result.lr_at_min,
        color="C3",
        ls="--",
        lw=1,
        label=f"lowest smoothed loss: {result.lr_at_min:.2g}",
    )
    ax.axvline(
        result.suggestion, color="C2", lw=1.5, label=f"suggestion (/10): {result.suggestion:.2g}"
    )
    ax.set_xscale("log")
    ax.set_ylim(0, 1.6 * result.smoothed[0])  # a blow-up runs off the top
    ax.set(xlabel="learning rate (log scale)", ylabel="cross-entropy")
    ax.set_title("learning-rate range test: one pass, rate growing each batch", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9)
    return ax


def search_figure(results, x="lr", y="weight_decay", space=None):
    """One panel per search method (``results``: name -> trials with ``.params`` and
    ``.val_acc``): each trial a dot on the log-log plane, coloured and labelled by its validation
    accuracy, the best ringed, and a tick on the ``x`` axis for each distinct ``x`` tried. The
    last panel projects every trial onto ``x``. Returns the figure."""
    accs = [t.val_acc for trials in results.values() for t in trials]
    norm = plt.Normalize(min(accs), max(accs))
    n = len(results)
    fig, axes = plt.subplots(1, n + 1, figsize=(3.3 * (n + 1), 3.6), layout="constrained")
    for k, (ax, (name, trials)) in enumerate(zip(axes, results.items())):
        xs, ys = ([t.params[v] for t in trials] for v in (x, y))
        acc = [t.val_acc for t in trials]
        dots = ax.scatter(xs, ys, c=acc, cmap="viridis", norm=norm, s=60, edgecolors="k", lw=0.5)
        for xi, yi, a in zip(xs, ys, acc):
            ax.annotate(
                f"{100 * a:.0f}",
                (xi, yi),
                textcoords="offset points",
                xytext=(0, 6),
                ha="center",
                fontsize=9,
            )
        top = max(trials, key=lambda t: t.val_acc)
        ax.scatter(
            [top.params[x]],
            [top.params[y]],
            s=220,
            facecolors="none",
            edgecolors="C3",
            linewidths=2,
            label=f"best: {100 * top.val_acc:.1f}%",
        )
        ax.plot(xs, np.zeros(len(xs)), "|", color="C3", ms=10, transform=ax.get_xaxis_transform())
        ax.set(xscale="log", yscale="log", xlabel=x, ylabel=y)
        ax.set_title(f"{name}: {len(set(xs))} distinct values of {x}", fontsize=10)
        if space is not None:  # a little room, so that dots on the edge stay whole
            ax.set(xlim=np.multiply(space[x], (0.7, 1.4)), ylim=np.multiply(space[y], (0.6, 1.7)))
        ax.legend(fontsize=9, loc="upper left")
        axes[-1].plot(xs, 100 * np.array(acc), "os"[k % 2], color=f"C{k}", alpha=0.8, label=name)
    fig.colorbar(dots, ax=axes[n - 1], label="validation accuracy")
    axes[-1].set(xscale="log", xlabel=x, ylabel="validation accuracy (%)")
    axes[-1].set_title(f"every trial, projected onto {x}", fontsize=10)
    axes[-1].grid(alpha=0.3)
    axes[-1].legend(fontsize=9)
    return fig


_NAMES = {"lr": "learning rate", "weight_decay": "weight decay"}


def search_table(results, x="lr", y="weight_decay"):
    """An HTML table with a row per search method (``results``: name -> trials with ``.params``
    and ``.val_acc``): how many trials, how many distinct values of ``x`` they tried, and the best
    trial's ``x``, ``y`` and validation accuracy (%; the earliest trial on a tie)."""
    rows = []
    for name, trials in results.items():
        top = max(trials, key=lambda t: t.val_acc)
        distinct = len({t.params[x] for t in trials})
        row = (name, len(trials), distinct, f"{top.params[x]:.2g}", f"{top.params[y]:.1g}")
        rows.append((*row, f"{100 * top.val_acc:.1f}"))
    name_x, name_y = (_NAMES.get(v, v) for v in (x, y))
    header = ["search", "trials", f"distinct {name_x}s", f"best {x}", f"its {name_y}"]
    return html_table([*header, "best validation accuracy (%)"], rows)
