"""Figures, the animation and the explorer of the dropout chapter.

They draw masks made by :func:`dlbook.scratch.dropout` and what
:mod:`dlbook.experiments.dropout` measured; nothing here trains.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import FuncAnimation

from dlbook import seeding
from dlbook.scratch import dropout
from dlbook.viz.common import html_table, make_explorer

__all__ = [
    "COLOURS",
    "draw_network",
    "network_masks",
    "thinned_networks_figure",
    "expectation_figure",
    "mask_animation",
    "sample_grid",
    "explorer",
    "curves_figure",
    "mc_figure",
    "grid_table",
]

COLOURS = {0.0: "C0", 0.25: "C2", 0.5: "C3"}
KEPT, DROPPED = "#4c72b0", "0.85"


def _colour(p):
    return COLOURS.get(float(p), "C4")


def network_masks(sizes, p, rng, p_input=0.0):
    """One boolean keep-mask per layer of a fully connected network with layers of ``sizes``
    units: the input layer dropped at rate ``p_input``, the hidden layers at ``p``, the output
    layer never. Drawn with :func:`dlbook.scratch.dropout` on ones."""
    masks = []
    for i, n in enumerate(sizes):
        rate = p_input if i == 0 else (0.0 if i == len(sizes) - 1 else p)
        masks.append(dropout(np.ones(n), rate, rng=rng) > 0)
    return masks


def draw_network(ax, sizes, keep=None, title=None):
    """Draw a fully connected network, layers left to right with ``sizes`` units. ``keep`` (one
    boolean array per layer, or None for all kept) greys out the dropped units and removes every
    connection that touches them. Returns the number of connections left."""
    keep = [np.ones(n, bool) for n in sizes] if keep is None else keep
    top = max(sizes)
    ys = [(top - n) / 2 + np.arange(n)[::-1] for n in sizes]
    edges = 0
    for i in range(len(sizes) - 1):
        for a in range(sizes[i]):
            for b in range(sizes[i + 1]):
                if keep[i][a] and keep[i + 1][b]:
                    ax.plot([i, i + 1], [ys[i][a], ys[i + 1][b]], color="0.55", lw=0.6, zorder=1)
                    edges += 1
    for i, n in enumerate(sizes):
        face = [KEPT if k else "white" for k in keep[i]]
        edge = [KEPT if k else DROPPED for k in keep[i]]
        ax.scatter(np.full(n, i), ys[i], s=110, c=face, edgecolors=edge, linewidths=1.2, zorder=2)
        for y, k in zip(ys[i], keep[i]):
            if not k:
                ax.plot(i, y, marker="x", color="0.6", ms=5, zorder=3)
    ax.set_xlim(-0.4, len(sizes) - 0.6)
    ax.set_ylim(-0.7, top - 0.3)
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=9)
    return edges


def thinned_networks_figure(sizes=(5, 7, 7, 3), p=0.5, n=3, seed=0):
    """The full network beside ``n`` thinned networks, each the result of one random mask on the
    hidden layers (rate ``p``), drawn with :func:`draw_network`."""
    rng = seeding.rng(seed)
    fig, axes = plt.subplots(1, n + 1, figsize=(2.5 * (n + 1), 2.4))
    full = draw_network(axes[0], sizes)
    axes[0].set_title(f"full network: {full} connections\n(evaluation mode)", fontsize=9)
    for k, ax in enumerate(axes[1:], start=1):
        edges = draw_network(ax, sizes, network_masks(sizes, p, rng))
        ax.set_title(f"training step {k}: one thinned\nnetwork, {edges} connections", fontsize=9)
    fig.suptitle(f"Dropout with p = {p:g} on the hidden units", fontsize=10)
    fig.tight_layout()
    return fig


def expectation_figure(x, p=0.5, samples=2000, seed=0, track=0):
    """Left: for each value ``x_i``, the mean of ``samples`` draws of inverted dropout (on the
    line ``y = x``) and of dropout without the ``1/(1-p)`` (on ``y = (1-p) x``). Right: the
    running mean of value ``track`` over the draws, inside the band ``x +- 2 sd / sqrt(k)``,
    ``sd = |x| sqrt(p / (1 - p))``. Returns ``(fig, draws)``, ``draws`` of shape
    ``(samples, len(x))``, inverted dropout."""
    x = np.asarray(x, dtype=np.float64)
    draws = dropout(np.tile(x, (samples, 1)), p, rng=seeding.rng(seed))
    unscaled = draws * (1 - p)  # the same masks without the 1/(1-p)
    fig, (a, b) = plt.subplots(1, 2, figsize=(9.5, 3.4))
    lim = np.abs(x).max() * 1.1
    line = np.array([-lim, lim])
    a.plot(line, line, color="C0", lw=1, label="$y = x$ (evaluation output)")
    a.plot(line, (1 - p) * line, color="C3", lw=1, ls="--", label="$y = (1-p)\\,x$")
    a.plot(x, draws.mean(0), "o", color="C0", ms=4, label="mean, inverted dropout")
    a.plot(x, unscaled.mean(0), "s", color="C3", ms=4, mfc="none", label="mean, no 1/(1-p)")
    a.set_xlabel("input value $x_i$")
    a.set_ylabel(f"mean of {samples} dropout outputs")
    a.set_title(f"Expectation over masks, p = {p:g}", fontsize=10)
    a.legend(fontsize=9)
    a.grid(alpha=0.3)
    k = np.arange(1, samples + 1)
    v = x[track]
    band = 2 * abs(v) * np.sqrt(p / (1 - p)) / np.sqrt(k)
    b.fill_between(
        k, v - band, v + band, color="C0", alpha=0.15, label="$x \\pm 2\\,$sd$/\\sqrt{k}$"
    )
    b.plot(k, np.cumsum(draws[:, track]) / k, color="C0", lw=1.2, label="running mean")
    b.axhline(v, color="k", lw=0.8, ls=":", label=f"$x_{{{track}}} = {v:.2f}$")
    b.axhline((1 - p) * v, color="C3", lw=0.8, ls="--", label="$(1-p)\\,x$")
    b.set_xscale("log")
    b.set_xlabel("number of masks $k$")
    b.set_ylabel("mean of the first $k$ outputs")
    b.set_title("One value, averaged over more and more masks", fontsize=10)
    b.legend(fontsize=9, loc="upper right")
    b.grid(alpha=0.3)
    fig.tight_layout()
    return fig, draws


def mask_animation(image, sizes=(5, 7, 7, 3), p=0.5, frames=30, seed=0, dpi=72, interval=400):
    """A new mask at every frame, on a small network's hidden units (left) and on an image or
    feature map ``image`` (H, W) (middle), and the mean of the dropped-out images so far (right),
    which approaches ``image``. Returns a ``FuncAnimation``."""
    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 2:
        raise ValueError(f"image must be 2-D (H, W), got shape {image.shape}")
    rng = seeding.rng(seed)
    masks = [network_masks(sizes, p, rng) for _ in range(frames)]
    scaled_masks = dropout(np.ones((frames, *image.shape)), p, rng=rng)  # 0 or 1/(1-p)
    samples = image * scaled_masks
    means = np.cumsum(samples, axis=0) / np.arange(1, frames + 1)[:, None, None]
    fig, axes = plt.subplots(1, 3, figsize=(7.6, 2.8), dpi=dpi,
                             gridspec_kw=dict(width_ratios=(1.3, 1, 1)))  # fmt: skip
    shown = axes[1].imshow(
        samples[0], cmap="gray", vmin=0, vmax=image.max(), interpolation="nearest"
    )
    mean = axes[2].imshow(means[0], cmap="gray", vmin=0, vmax=image.max(), interpolation="nearest")
    for ax in axes[1:]:
        ax.set_xticks([])
        ax.set_yticks([])

    def update(i):
        axes[0].clear()
        edges = draw_network(axes[0], sizes, masks[i])
        axes[0].set_title(f"step {i + 1}: {edges} connections left", fontsize=9)
        shown.set_data(samples[i])
        kept = (scaled_masks[i] > 0).mean()
        axes[1].set_title(
            f"this step's mask: {100 * kept:.0f}% kept,\nscaled by 1/(1-p)", fontsize=9
        )
        mean.set_data(means[i])
        err = np.sqrt(np.mean((means[i] - image) ** 2))
        axes[2].set_title(f"mean of {i + 1} masked copies\nRMS error {err:.3f}", fontsize=9)
        return []

    fig.suptitle(f"Dropout, p = {p:g}: a new random mask at every training step", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    update(0)
    return FuncAnimation(fig, update, frames=frames, interval=interval, blit=False)


def _mean_panel(ax, image, p, n, rng):
    """The mean of ``n`` dropped-out copies of ``image`` on ``ax``, on the image's own grey scale
    (a single copy's kept values, multiplied by ``1/(1-p)``, mostly show as white). Returns the
    mean's RMS error and its prediction ``rms(image) * sqrt(p / ((1 - p) n))``."""
    mean = dropout(np.tile(image, (n, 1, 1)), p, rng=rng).mean(0)
    err = float(np.sqrt(np.mean((mean - image) ** 2)))
    predicted = float(np.sqrt(np.mean(image**2) * p / ((1 - p) * n)))
    ax.imshow(mean, cmap="gray", vmin=0, vmax=image.max())
    what = "one sample" if n == 1 else f"mean of {n}"
    ax.set_title(f"{what}: RMS error {err:.3f}\n(predicted {predicted:.3f})", fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    return err, predicted


def _show_input(ax, image, title="input (= evaluation output)"):
    ax.imshow(image, cmap="gray", vmin=0, vmax=image.max())
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def sample_grid(image, ps=(0.2, 0.5, 0.8), ns=(1, 10, 100), seed=0):
    """The explorer's picture at a grid of settings: one row per ``p``, the input and then the
    mean of ``n`` dropped-out copies for each ``n`` in ``ns``. Returns ``(fig, errors)`` with
    ``errors[(p, n)] = (measured, predicted)`` RMS errors."""
    image = np.asarray(image, dtype=np.float64)
    fig, axes = plt.subplots(len(ps), 1 + len(ns), figsize=(2.1 * (1 + len(ns)), 2.3 * len(ps)))
    axes = np.atleast_2d(axes)
    errors = {}
    for i, p in enumerate(ps):
        _show_input(axes[i, 0], image, "input" if i == 0 else "")
        axes[i, 0].set_ylabel(f"p = {p:g}", fontsize=10)
        for j, n in enumerate(ns, start=1):
            rng = seeding.rng(seed)
            errors[(p, n)] = _mean_panel(axes[i, j], image, p, n, rng)
    fig.suptitle("Means of dropped-out copies approach the input", fontsize=10)
    fig.tight_layout()
    return fig, errors


def explorer(image, p=0.5, samples=10, seed=0):
    """An ipywidgets panel: choose ``p`` and the number of samples, and see the input, one
    dropped-out copy and the mean of that many copies, with its RMS error and the predicted one.
    The picture is a PNG widget value, so the panel behaves the same in an executed notebook."""
    import ipywidgets as widgets

    image = np.asarray(image, dtype=np.float64)
    w_p = widgets.FloatSlider(value=p, min=0.0, max=0.95, step=0.05, description="p")
    w_n = widgets.IntSlider(value=samples, min=1, max=500, description="samples")

    def draw():
        fig, axes = plt.subplots(1, 3, figsize=(7.2, 2.8))
        _show_input(axes[0], image)
        _mean_panel(axes[1], image, w_p.value, 1, seeding.rng(seed))
        _mean_panel(axes[2], image, w_p.value, w_n.value, seeding.rng(seed))
        keep = 1 - w_p.value
        fig.tight_layout()
        return (
            f"<pre>p = {w_p.value:.2f}: each value survives with probability {keep:.2f} and is "
            f"then multiplied by {1 / keep:.2f}</pre>"
        ), fig

    return make_explorer([[w_p, w_n]], draw, info=True)


def _mean_curve(rows, p, key):
    return np.mean([r["history"][key] for r in rows if r["p"] == p], axis=0)


def curves_figure(rows):
    """Training (evaluation mode, dropout off) and test curves of
    :func:`~dlbook.experiments.dropout.train_grid`, averaged over the seeds: accuracy (left) and
    cross-entropy on a log scale (right), one colour per dropout rate ``p``."""
    ps = sorted({r["p"] for r in rows})
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6))
    for p in ps:
        c = _colour(p)
        epochs = np.arange(1, len(_mean_curve(rows, p, "test_acc")) + 1)
        a.plot(epochs, 100 * _mean_curve(rows, p, "train_acc"), color=c, ls="--", lw=1)
        a.plot(epochs, 100 * _mean_curve(rows, p, "test_acc"), color=c, lw=1.8, label=f"p = {p:g}")
        b.plot(epochs, _mean_curve(rows, p, "train_loss"), color=c, ls="--", lw=1)
        b.plot(epochs, _mean_curve(rows, p, "test_loss"), color=c, lw=1.8, label=f"p = {p:g}")
    a.set_ylim(80, 100.5)
    a.set_ylabel("accuracy (%)")
    a.set_title("Accuracy: training set (dashed), test set (solid)", fontsize=10)
    b.set_yscale("log")
    b.set_ylabel("cross-entropy")
    b.set_title("Loss: training set (dashed), test set (solid)", fontsize=10)
    n_seeds = len({r["seed"] for r in rows})
    for ax in (a, b):
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=9, title=f"mean of {n_seeds} seeds", title_fontsize=9)
    fig.tight_layout()
    return fig


def mc_figure(curves, deterministic):
    """Monte Carlo dropout: test accuracy (left) and negative log-likelihood (right) of the
    average of the first ``t`` stochastic predictions, against ``t``, for each ``p`` in
    ``curves`` (``{p: mc_curve(...)}``); dotted lines are the ordinary evaluation-mode
    predictions, ``deterministic = {p: (loss, acc)}``."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(9.5, 3.3))
    for p, cur in curves.items():
        c = _colour(p)
        a.plot(cur["t"], 100 * cur["acc"], color=c, label=f"p = {p:g}, MC average")
        b.plot(cur["t"], cur["nll"], color=c, label=f"p = {p:g}, MC average")
        loss, acc = deterministic[p]
        a.axhline(100 * acc, color=c, ls=":", label=f"p = {p:g}, dropout off")
        b.axhline(loss, color=c, ls=":", label=f"p = {p:g}, dropout off")
    a.set_ylabel("test accuracy (%)")
    b.set_ylabel("test cross-entropy")
    a.set_title("Accuracy of the averaged prediction", fontsize=10)
    b.set_title("Loss of the averaged prediction", fontsize=10)
    for ax in (a, b):
        ax.set_xscale("log")
        ax.set_xlabel("masks averaged, $t$")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=9)
    fig.tight_layout()
    return fig


def grid_table(grid):
    """An HTML table of :func:`dlbook.experiments.dropout.summarize_grid`'s result, a row per
    dropout rate ``p``: the means over the seeds of the final training and test accuracy (%), the
    paired gain in test accuracy over the baseline (± its standard error; empty for the baseline,
    the rate with no ``gain_mean``), the final training and test loss, and the epoch of the lowest
    test loss."""
    rows = []
    for p, s in grid.items():
        gain = f"{s['gain_mean']:+.1f} ± {s['gain_se']:.1f}" if "gain_mean" in s else ""
        accs = (f"{s['train_acc'].mean():.1f}", f"{s['test_acc'].mean():.1f}")
        losses = (f"{s['train_loss'].mean():.4f}", f"{s['test_loss'].mean():.3f}")
        rows.append((f"{p:g}", *accs, gain, *losses, f"{s['best_epoch'].mean():.1f}"))
    header = ["p", "train accuracy (%)", "test accuracy (%)", "gain over p = 0 (points, ± s.e.)"]
    return html_table([*header, "train loss", "test loss", "epoch of lowest test loss"], rows)
