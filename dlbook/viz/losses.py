"""Pictures of loss functions: the losses and their gradients side by side, where squared error
on probabilities saturates, the mean against the median, a line fitted under two losses (an
animation), a softmax explorer, and the training comparison.

The curves come from :mod:`dlbook.scratch` (losses, softmax, sigmoid) wherever it has the
function; Huber's loss, which it lacks, is written out here. Nothing here trains.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import FuncAnimation

from dlbook import seeding
from dlbook.scratch import (
    binary_cross_entropy_with_logits,
    binary_cross_entropy_with_logits_backward,
    cross_entropy,
    cross_entropy_backward,
    l1_loss,
    l1_loss_backward,
    mse_loss,
    mse_loss_backward,
    multi_margin_loss,
    multi_margin_loss_backward,
    sigmoid,
    softmax,
    softmax_backward,
)
from dlbook.viz.common import make_explorer

__all__ = [
    "COLORS",
    "huber",
    "huber_backward",
    "multiclass_curves",
    "loss_grid",
    "saturation_figure",
    "mean_median_figure",
    "line_fit_animation",
    "softmax_panel",
    "softmax_grid",
    "softmax_explorer",
    "sweep_figure",
    "curves_figure",
]

COLORS = {
    "MSE": "tab:blue",
    "MAE": "tab:orange",
    "Huber": "tab:green",
    "cross-entropy": "tab:red",
    "MSE on probabilities": "tab:blue",
    "MSE on logits": "tab:cyan",
    "multi-class hinge": "tab:purple",
    "0-1": "gray",
}


def huber(r, delta=1.0):
    r"""Huber's loss of a residual: :math:`r^2/2` for :math:`|r| \le \delta`, else
    :math:`\delta(|r| - \delta/2)` (``torch.nn.functional.huber_loss``, elementwise)."""
    a = np.abs(r)
    return np.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta))


def huber_backward(r, delta=1.0):
    """Its derivative: the residual, clipped to ``[-delta, delta]``."""
    return np.clip(r, -delta, delta)


def multiclass_curves(lead, classes=10):
    """Losses and their derivatives in the true class's logit, for logits ``(lead, 0, ..., 0)``
    with class 0 true: ``{name: (loss, d loss / d z_0)}``, each ``lead``-shaped."""
    z = np.zeros((lead.size, classes))
    z[:, 0] = lead
    y = np.zeros(lead.size, dtype=np.int64)
    ones = np.ones(lead.size)
    p = softmax(z, 1)
    onehot = np.eye(classes)[y]
    brier_grad = softmax_backward(2 * (p - onehot), z, 1)
    return {
        "cross-entropy": (
            cross_entropy(z, y, reduction="none"),
            cross_entropy_backward(ones, z, y, reduction="none")[:, 0],
        ),
        "multi-class hinge": (
            multi_margin_loss(z, y, reduction="none"),
            multi_margin_loss_backward(ones, z, y, reduction="none")[:, 0],
        ),
        "MSE on probabilities": (((p - onehot) ** 2).sum(1), brier_grad[:, 0]),
    }


def _binary_curves(m):
    """Losses of the margin ``m = y z`` (label ±1, logit z) and their derivatives in ``m``."""
    ones, s = np.ones_like(m), sigmoid(m)
    return {
        "0-1": ((m <= 0).astype(float), np.zeros_like(m)),
        "cross-entropy": (
            binary_cross_entropy_with_logits(m, ones, reduction="none"),
            binary_cross_entropy_with_logits_backward(ones, m, ones, reduction="none"),
        ),
        "multi-class hinge": (np.maximum(0, 1 - m), -(m < 1).astype(float)),
        "MSE on probabilities": ((1 - s) ** 2, -2 * (1 - s) * s * (1 - s)),
    }


def loss_grid(size=(10, 6)):
    """A 2×3 grid: the losses (top) and their derivatives (bottom), for regression against the
    residual, for a binary classifier against the margin :math:`yz`, and for ten classes against
    the true class's lead over the other logits."""
    fig, axes = plt.subplots(2, 3, figsize=size, sharex="col")
    r = np.linspace(-3, 3, 601)
    zeros, ones = np.zeros_like(r), np.ones_like(r)
    regression = {
        name: (f(r, zeros, reduction="none"), f_backward(ones, r, zeros, reduction="none"))
        for name, f, f_backward in [
            ("MSE", mse_loss, mse_loss_backward),
            ("MAE", l1_loss, l1_loss_backward),
        ]
    }
    regression["Huber"] = (huber(r), huber_backward(r))
    m = np.linspace(-4, 4, 801)
    panels = [
        (r, regression, "residual r = prediction − target", "regression (Huber with δ = 1)"),
        (m, _binary_curves(m), "margin y·z (label y = ±1, logit z)", "two classes"),
        (m, multiclass_curves(m), "lead of the true logit, z = (lead, 0, …, 0)", "ten classes"),
    ]
    labels = {
        "MSE on probabilities": "squared error on probabilities",
        "multi-class hinge": "hinge",
    }
    for col, (x, curves, xlabel, title) in enumerate(panels):
        top, bottom = axes[0, col], axes[1, col]
        for name, (loss, grad) in curves.items():
            style = dict(color=COLORS[name], lw=2, label=labels.get(name, name))
            if name == "0-1":
                style.update(lw=1.5, ls="--")
            top.plot(x, loss, **style)
            if name != "0-1":
                bottom.plot(x, grad, **style)
        top.set(title=title, ylabel="loss", ylim=(-0.2, 4.5))
        bottom.set(xlabel=xlabel, ylabel="d loss / d input")
        bottom.axhline(0, color="k", lw=0.5)
        top.legend(fontsize=9, loc="upper center" if col == 0 else "upper right")
    axes[1, 0].set_ylim(-3.2, 3.2)
    fig.tight_layout()
    return fig


def saturation_figure(size=(10, 3.6)):
    r"""A binary classifier whose true class has logit :math:`z` (label 1): the loss and the size
    of its gradient for cross-entropy and for squared error on the probability
    :math:`\sigma(z)`. Where the model is confidently wrong (:math:`z \ll 0`), cross-entropy's
    gradient tends to 1 and the squared error's to 0."""
    z = np.linspace(-10, 10, 801)
    curves = _binary_curves(z)
    fig, (ax_loss, ax_grad) = plt.subplots(1, 2, figsize=size)
    for name, label in [
        ("cross-entropy", "cross-entropy −log σ(z)"),
        ("MSE on probabilities", "squared error (1 − σ(z))²"),
    ]:
        loss, grad = curves[name]
        ax_loss.plot(z, loss, color=COLORS[name], lw=2, label=label)
        ax_grad.semilogy(z, np.abs(grad), color=COLORS[name], lw=2, label=label)
    for ax in (ax_loss, ax_grad):
        ax.axvspan(-10, -3, color="0.9", zorder=0)
        ax.set_xlabel("logit z of the true class")
    ax_loss.text(-9.6, 8.6, "confidently\nwrong", fontsize=9, va="top")
    ax_loss.set(title="loss", ylabel="loss", ylim=(-0.3, 10.5))
    ax_grad.set(title="gradient |d loss / dz| (log scale)", ylim=(1e-5, 3))
    ax_loss.legend(fontsize=9, loc="upper right")
    ax_grad.legend(fontsize=9, loc="lower left")
    fig.tight_layout()
    return fig


def _points(ax, x, y, outlier):
    ax.scatter(x[~outlier], y[~outlier], color="k", s=18, label="data")
    ax.scatter(x[outlier], y[outlier], color="tab:red", marker="x", s=36, label="outliers")


def mean_median_figure(sample, outlier=None, size=(10, 3.2)):
    r"""Left: the sample on a line, with its mean and median. Right: the mean squared and the mean
    absolute error of a constant guess :math:`c`, :math:`\frac1n\sum (x_i - c)^2` and
    :math:`\frac1n\sum |x_i - c|`, each minimal at the mean and the median."""
    sample = np.asarray(sample, dtype=float)
    outlier = np.zeros(sample.size, bool) if outlier is None else np.asarray(outlier, bool)
    mean, median = sample.mean(), np.median(sample)
    fig, (ax_data, ax_loss) = plt.subplots(1, 2, figsize=size)
    _points(ax_data, sample, seeding.rng(0).uniform(-0.15, 0.15, sample.size), outlier)
    for value, name, color in [(mean, "mean", COLORS["MSE"]), (median, "median", COLORS["MAE"])]:
        ax_data.axvline(value, color=color, lw=2, label=f"{name} = {value:.2f}")
    ax_data.set(title="the data", xlabel="value", yticks=[], ylim=(-0.6, 0.6))
    ax_data.legend(fontsize=9, loc="upper right")
    c = np.linspace(sample.min() - 1, sample.max() + 1, 500)
    residuals = sample[None, :] - c[:, None]
    curves = [("MSE", (residuals**2).mean(1), mean), ("MAE", np.abs(residuals).mean(1), median)]
    for name, loss, best in curves:
        label = f"{name}(c), minimal at {best:.2f}"
        ax_loss.plot(c, loss / loss.max(), color=COLORS[name], lw=2, label=label)
        ax_loss.axvline(best, color=COLORS[name], lw=1, ls=":")
    ax_loss.set(title="loss of a constant guess c (scaled to max 1)", xlabel="c", ylabel="loss")
    ax_loss.legend(fontsize=9)
    fig.tight_layout()
    return fig


def line_fit_animation(data, fits, exact=None, frames=None, interval=300, dpi=72, size=(8.6, 3.4)):
    """Two gradient-descent runs on a line (:func:`dlbook.experiments.losses.fit_line`). Left:
    the data and both lines. Right: the paths of ``(slope, intercept)`` (a dot at the current
    step), the exact minimizers ``exact`` (crosses; a dict like the fits') and the truth (a
    star). ``frames``: the steps to show (by default about 20, dense early, when the fits move
    fastest). Returns the ``FuncAnimation``."""
    from matplotlib.ticker import MaxNLocator

    if not fits:
        raise ValueError("fits: need at least one run")
    steps = len(fits[0].params) - 1
    if frames is None:
        frames = np.unique(np.round(steps * np.linspace(0, 1, 20) ** 2).astype(int))
    if min(frames) < 0 or max(frames) > steps:
        raise ValueError(f"frames must be steps in [0, {steps}], got {list(frames)}")
    fig, (ax, ax_path) = plt.subplots(1, 2, figsize=size, dpi=dpi)
    _points(ax, data.x, data.y, data.outlier)
    xs = np.array([-1.05, 1.05])
    ax.plot(xs, data.slope * xs + data.intercept, color="0.6", ls="--", lw=1, label="truth")
    ax_path.plot(data.slope, data.intercept, "*", color="0.4", ms=12)
    artists = []
    for fit in fits:
        color = COLORS[fit.loss.upper()]
        artists.append(ax.plot([], [], color=color, lw=2.5, label=f"{fit.loss.upper()} fit")[0])
        artists.append(ax_path.plot([], [], color=color, lw=1.5)[0])
        artists.append(ax_path.plot([], [], "o", color=color, ms=6)[0])
        if exact is not None:
            ax_path.plot(*exact[fit.loss], "x", color=color, ms=10, mew=2)
    ax.set(xlim=(-1.05, 1.05), ylim=(-3.2, 2.6), xlabel="x", ylabel="y")
    ax.legend(fontsize=9, loc="lower left", ncol=2)
    ax_path.set(xlabel="slope", ylabel="intercept", xlim=(-0.1, 1.8), ylim=(-0.15, 0.65))
    ax_path.set_title("(slope, intercept): ● now, × minimum, ★ truth", fontsize=10)
    for axis in (ax.xaxis, ax.yaxis, ax_path.xaxis, ax_path.yaxis):
        axis.set_major_locator(MaxNLocator(4))  # tick labels are most of a frame's drawing time
    title = ax.set_title("")

    def draw(t):
        for fit, (line, path, head) in zip(fits, zip(*[iter(artists)] * 3)):
            slope, intercept = fit.params[t]
            line.set_data(xs, slope * xs + intercept)
            path.set_data(fit.params[: t + 1, 0], fit.params[: t + 1, 1])
            head.set_data([slope], [intercept])
        title.set_text(f"gradient descent, step {t}")
        return [*artists, title]

    fig.tight_layout()
    return FuncAnimation(fig, draw, frames=frames, interval=interval, blit=False)


def softmax_panel(ax, logits, target, temperature=1.0):
    """Bars of ``softmax(logits / temperature)`` (the target's bar red) and, beside each, the
    direction gradient descent moves that logit, ``onehot - p`` (minus cross-entropy's gradient
    in ``z / T``). Returns ``(p, loss)``."""
    z = np.asarray(logits, dtype=float) / temperature
    p = softmax(z, 0)
    loss = float(cross_entropy(z, np.array(target)))
    k = np.arange(z.size)
    ax.bar(k - 0.18, p, width=0.36, color=np.where(k == target, "tab:red", "tab:blue"))
    ax.bar(k + 0.18, np.eye(z.size)[target] - p, width=0.36, color="k", alpha=0.45)
    ax.axhline(0, color="k", lw=0.6)
    ax.set(ylim=(-1.05, 1.05), xticks=k, xticklabels=[f"z={v:g}" for v in logits])
    ax.set_title(f"T = {temperature:g}: p_y = {p[target]:.2f}, CE = {loss:.2f}", fontsize=9)
    return p, loss


def _softmax_legend(ax):
    from matplotlib.patches import Patch

    handles = [
        Patch(color="tab:red", label="p, true class"),
        Patch(color="tab:blue", label="p, other classes"),
        Patch(color="k", alpha=0.45, label="onehot − p"),
    ]
    ax.legend(handles=handles, fontsize=8, loc="lower left")


def softmax_grid(cases, temperatures=(0.25, 1.0, 4.0), size=2.9):
    """The explorer's settings as one figure: a row per ``(logits, target)`` case, a column per
    temperature."""
    if not cases or not temperatures:
        raise ValueError("cases and temperatures must not be empty")
    fig, axes = plt.subplots(
        len(cases),
        len(temperatures),
        squeeze=False,
        figsize=(size * len(temperatures), 0.85 * size * len(cases)),
    )
    for row, (logits, target) in zip(axes, cases):
        for ax, t in zip(row, temperatures):
            softmax_panel(ax, logits, target, t)
        row[0].set_ylabel(f"true class {target}")
    _softmax_legend(axes[0, 0])
    fig.tight_layout()
    return fig


def softmax_explorer(logits=(2.0, 1.0, 0.0, -1.0), target=0):
    """An ipywidgets explorer: a slider per logit, the temperature T and the true class; shows
    :func:`softmax_panel`. Works in a live kernel only; returns the widget. The figure goes into
    the ``Output`` widget's state, so the cell's own outputs are the same under every runner."""
    import ipywidgets as widgets

    sliders = [
        widgets.FloatSlider(value=v, min=-8, max=8, step=0.5, description=f"z{i}")
        for i, v in enumerate(logits)
    ]
    temperature = widgets.FloatLogSlider(
        value=1.0, base=10, min=-1, max=1, step=0.1, description="T"
    )
    true = widgets.Dropdown(
        options=list(range(len(logits))), value=target, description="true class"
    )

    def draw():
        fig, ax = plt.subplots(figsize=(5.5, 3.2))
        softmax_panel(ax, [s.value for s in sliders], true.value, temperature.value)
        _softmax_legend(ax)
        fig.tight_layout()
        return fig

    return make_explorer([*sliders, temperature, true], draw, output=True, side=True, dpi=None)


def sweep_figure(results, size=(6, 3.6)):
    """Final validation accuracy against the learning rate, a line per loss; the chosen rate
    circled. ``results`` as returned by :func:`dlbook.experiments.losses.compare_losses`."""
    fig, ax = plt.subplots(figsize=size)
    for name, res in results.items():
        lrs = [r.lr for r in res["sweep"]]
        acc = [100 * r.val_acc[-1] for r in res["sweep"]]
        ax.semilogx(lrs, acc, "o-", color=COLORS[name], label=name, ms=4)
        ax.plot(
            res["best"].lr,
            100 * res["best"].val_acc[-1],
            "o",
            ms=11,
            mfc="none",
            color=COLORS[name],
        )
    ax.set(
        xlabel="learning rate (SGD, momentum 0.9)",
        ylabel="validation accuracy (%)",
        title="after 20 epochs, by learning rate",
        ylim=(0, 100),
    )
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig


def curves_figure(results, size=(10, 3.4)):
    """Test accuracy per epoch at each loss's chosen learning rate: from torch's default start
    (left, its y axis zoomed in) and from the confidently wrong start (right)."""
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, 2, figsize=size)
    low = min(min(res["best"].test_acc) for res in results.values())
    for ax, key, title in [
        (axes[0], "best", "default start"),
        (axes[1], "bad", "confidently wrong start"),
    ]:
        for name, res in results.items():
            run = res[key]
            epochs = np.arange(1, len(run.test_acc) + 1)
            label = f"{name} (lr {run.lr:g})"
            ax.plot(
                epochs, 100 * np.array(run.test_acc), "o-", ms=3, color=COLORS[name], label=label
            )
        ax.set(title=title, xlabel="epoch", ylabel="test accuracy (%)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    axes[0].set_ylim(max(0.0, 100 * low - 5), 100)
    axes[1].set_ylim(0, 100)
    axes[1].legend(fontsize=9, loc="lower right")
    fig.tight_layout()
    return fig
