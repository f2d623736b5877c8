"""Figures, the animation and the explorer of the attention chapter.

Attention weights are computed with :func:`dlbook.scratch.attention_weights`, or come from what
:mod:`dlbook.experiments.attention` recorded while training; nothing here trains.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import FuncAnimation
from matplotlib.patches import Rectangle

from dlbook.checks import check_int
from dlbook.scratch import attention_weights
from dlbook.viz.common import make_explorer

__all__ = [
    "heatmap",
    "lookup_figure",
    "scaling_figure",
    "mask_weights",
    "masks_figure",
    "recall_maps_figure",
    "curves_figure",
    "length_figure",
    "training_animation",
    "scale_animation",
    "explorer",
    "explorer_grid",
]

MODELS = {"attention": "C3", "LSTM": "C0"}


def heatmap(ax, weights, xlabels=None, ylabels=None, title=None, vmax=1.0, fontsize=8):
    """Draw attention weights ``(L, S)`` (row = query, column = key) on ``ax``, its tick labels
    ``fontsize`` points tall; masked (exactly zero) weights are white. Returns the image."""
    weights = np.asarray(weights, dtype=np.float64)
    if weights.ndim != 2:
        raise ValueError(f"weights must be 2-D (L, S), got shape {weights.shape}")
    im = ax.imshow(weights, cmap="Blues", vmin=0, vmax=vmax, interpolation="nearest")
    for axis, labels, n in (
        (ax.xaxis, xlabels, weights.shape[1]),
        (ax.yaxis, ylabels, len(weights)),
    ):
        axis.set_ticks(range(n))
        axis.set_ticklabels(range(n) if labels is None else list(labels), fontsize=fontsize)
    if title:
        ax.set_title(title, fontsize=9)
    return im


def lookup_figure(scales=(0.5, 2.0, 8.0, 32.0)):
    """The soft lookup: six 2-D keys round a circle and a query (left), and the weights the
    query gives the keys for several scales (right); a large scale approaches a hard lookup."""
    angles = np.deg2rad([10, 70, 130, 190, 250, 310])
    keys = 1.6 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    query = 1.4 * np.array([[np.cos(np.deg2rad(45)), np.sin(np.deg2rad(45))]])
    fig, (a, b) = plt.subplots(1, 2, figsize=(8, 3.4), gridspec_kw=dict(width_ratios=(1, 1.5)))
    w = attention_weights(query, keys, scale=scales[1])[0]
    a.scatter(*keys.T, s=1500 * w + 20, c="C0", alpha=0.6)
    for j, (x, y) in enumerate(keys):
        a.text(1.45 * x, 1.3 * y, f"key {j}\n$a$={w[j]:.2f}", fontsize=8, ha="center", va="center")
    a.annotate("", query[0], (0, 0), arrowprops=dict(arrowstyle="->", color="C3", lw=2))
    a.text(*query[0] * 0.45, "query ", color="C3", fontsize=9, ha="right")
    a.set(xlim=(-3, 3), ylim=(-2.8, 2.8), aspect="equal", xticks=[], yticks=[])
    a.set_title(f"Keys sized by their weight (scale {scales[1]:g})", fontsize=9)
    width = 0.8 / len(scales)
    for i, s in enumerate(scales):
        ws = attention_weights(query, keys, scale=s)[0]
        b.bar(np.arange(6) + (i - (len(scales) - 1) / 2) * width, ws, width, label=f"scale {s:g}")
    b.set_xlabel("key $j$")
    b.set_ylabel("weight $a_j$ = softmax(scale $q \\cdot k_j$)")
    b.legend(fontsize=8)
    b.set_title("A larger scale: a sharper, harder lookup", fontsize=9)
    fig.tight_layout()
    return fig


def scaling_figure(stats):
    """Three panels over the feature size ``d`` from
    :func:`~dlbook.experiments.attention.score_statistics`: the spread of the scores, the
    largest softmax weight, and the size of the softmax's Jacobian, raw against scaled."""
    d = stats["dims"]
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.2))
    panels = [
        ("std", "standard deviation of the scores", "Scores spread like $\\sqrt{d}$"),
        ("max", "mean largest weight", "The raw softmax saturates"),
        ("jac", "mean $\\|\\mathrm{diag}(a) - a a^T\\|_F$", "... and its gradient vanishes"),
    ]
    for ax, (key, ylabel, title) in zip(axes, panels):
        ax.plot(d, stats[f"{key}_raw"], "o-", color="C1", label="$q \\cdot k$")
        ax.plot(d, stats[f"{key}_scaled"], "o-", color="C2", label="$q \\cdot k / \\sqrt{d}$")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("feature size $d$")
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=9)
    axes[0].set_yscale("log", base=2)
    fig.tight_layout()
    return fig


def mask_weights(query, key, mask="none", scale=None, length=None):
    """Attention weights ``(L, S)`` with ``mask`` ``"none"``, ``"causal"`` or ``"padding"``
    (keys at positions ``>= length`` hidden), and the boolean mask used (True = attend)."""
    l_len, s_len = len(query), len(key)
    if mask == "none":
        keep = np.ones((l_len, s_len), bool)
    elif mask == "causal":
        keep = np.tril(np.ones((l_len, s_len), bool))
    elif mask == "padding":
        length = s_len // 2 + 1 if length is None else length
        keep = np.broadcast_to(np.arange(s_len) < length, (l_len, s_len))
    else:
        raise ValueError(f"mask must be 'none', 'causal' or 'padding', got {mask!r}")
    return attention_weights(query, key, attn_mask=keep, scale=scale), keep


def masks_figure(query, key, length=5):
    """Top: a causal mask and a padding mask (keys ``>= length`` are padding), True = attend.
    Bottom: the attention weights of ``query`` ``(L, E)`` on ``key`` ``(S, E)`` under each."""
    fig, axes = plt.subplots(2, 2, figsize=(7, 6.4))
    for col, kind in enumerate(("causal", "padding")):
        w, keep = mask_weights(query, key, kind, length=length)
        axes[0, col].imshow(keep, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        axes[0, col].set_title(f"{kind} mask (white = True = attend)", fontsize=9)
        heatmap(axes[1, col], w, title=f"weights under the {kind} mask (rows sum to 1)")
    for ax in axes.flat:
        ax.set_xlabel("key position $j$", fontsize=8)
        ax.set_ylabel("query position $i$", fontsize=8)
    fig.tight_layout()
    return fig


def _box(ax, row, col, colour="C3"):
    ax.add_patch(Rectangle((col - 0.5, row - 0.5), 1, 1, fill=False, ec=colour, lw=2))


def recall_maps_figure(maps, texts, which, example=0):
    """A trained recall transformer's attention. Top: both layers' maps (``maps`` from
    ``attention_maps``, head 0) for probe ``example``. Bottom: layer 2's last row, the query's,
    for every probe, one row each, its tokens written in the cells. Red boxes: the value of the
    queried pair, the right place to look."""
    last = np.asarray(maps[-1])[:, 0, -1]  # (probes, T)
    fig = plt.figure(figsize=(7.2, 6.6))
    grid = fig.add_gridspec(2, 2, height_ratios=(1.4, 1))
    labels = list(texts[example])
    for i, m in enumerate(maps[:2]):
        ax = fig.add_subplot(grid[0, i])
        heatmap(ax, np.asarray(m)[example, 0], labels, labels, f"layer {i + 1}: {texts[example]}")
        ax.set_xlabel("key (attended to)", fontsize=8)
        ax.set_ylabel("query (attending)", fontsize=8)
    _box(ax, len(labels) - 1, 2 * which[example] + 1)
    ax = fig.add_subplot(grid[1, :])
    heatmap(ax, last, None, [f"probe {p}" for p in range(len(last))])
    for p, text in enumerate(texts):
        for j, ch in enumerate(text):
            ax.text(j, p, ch, ha="center", va="center", fontsize=8,
                    color="w" if last[p, j] > 0.5 else "k")  # fmt: skip
        _box(ax, p, 2 * which[p] + 1)
    ax.set_title("layer 2, the last query (the key after '?'): where it looks", fontsize=9)
    ax.set_xlabel("position", fontsize=8)
    fig.tight_layout()
    return fig


def curves_figure(hists):
    """Training loss (left) and test accuracy (right) against steps, ``hists = {name: hist}``
    from :func:`~dlbook.experiments.attention.train_recall`."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.4))
    for name, h in hists.items():
        a.plot(h["step"], h["loss"], color=MODELS.get(name), label=name)
        b.plot(h["step"], 100 * np.asarray(h["acc"]), color=MODELS.get(name), label=name)
    a.set_ylabel("training cross-entropy")
    b.set_ylabel("test accuracy (%)")
    for ax in (a, b):
        ax.set_xlabel("step (64 fresh examples each)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=9)
    fig.tight_layout()
    return fig


def length_figure(pairs, acc, by_pair, baselines):
    """Left: final test accuracy against the number of pairs, ``acc = {name: [...]}``, with the
    ``baselines = {label: [...]}`` dotted. Right: accuracy by the queried pair's index at the
    longest length, ``by_pair = {name: array}``."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.4))
    for name, values in acc.items():
        a.plot(pairs, 100 * np.asarray(values), "o-", color=MODELS.get(name), label=name)
        b.plot(100 * np.asarray(by_pair[name]), "o-", color=MODELS.get(name), label=name)
    for i, (label, values) in enumerate(baselines.items()):
        a.plot(pairs, 100 * np.asarray(values), ":", color=f"C{i + 4}", label=label)
    a.set_xlabel("key-value pairs in the sequence")
    a.set_xticks(pairs)
    b.set_xlabel(f"queried pair (0 = first, {len(next(iter(by_pair.values()))) - 1} = last)")
    a.set_title("Accuracy against sequence length", fontsize=10)
    b.set_title("Does the LSTM remember the recent pairs?", fontsize=10)
    for ax in (a, b):
        ax.set_ylabel("test accuracy (%)")
        ax.set_ylim(0, 105)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=9)
    fig.tight_layout()
    return fig


def training_animation(hist, texts, which, dpi=72, interval=400, every=1):
    """One frame per ``every`` records of ``train_recall``, ending on the last: layer 1's map of
    probe 0 (left), layer 2's query row for every probe (middle), and the test accuracy so far
    (right, every record)."""
    check_int(every, "every")
    maps = hist["maps"]
    frames = list(range(len(maps) - 1, -1, -every))[::-1]
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.6), dpi=dpi,
                             gridspec_kw=dict(width_ratios=(1, 1.6, 1)))  # fmt: skip
    labels = list(texts[0])
    first = heatmap(axes[0], maps[0][0][0, 0], labels, labels, "layer 1, probe 0", fontsize=9)
    second = heatmap(axes[1], maps[0][1][:, 0, -1], labels, None, fontsize=9)
    for p in range(len(texts)):
        _box(axes[1], p, 2 * which[p] + 1)
    axes[1].set_xlabel("position (tokens of probe 0)", fontsize=9)
    axes[1].set_ylabel("probe", fontsize=9)
    (line,) = axes[2].plot([], [], color=MODELS["attention"])
    (dot,) = axes[2].plot([], [], "o", color=MODELS["attention"])
    axes[2].set(xlim=(0, hist["step"][-1]), ylim=(0, 105), xlabel="step")
    axes[2].set_ylabel("test accuracy (%)")
    axes[2].grid(alpha=0.3)

    def update(frame):
        i = frames[frame]
        first.set_data(maps[i][0][0, 0])
        second.set_data(maps[i][1][:, 0, -1])
        axes[1].set_title(f"step {hist['step'][i]}: layer 2, the query's row", fontsize=9)
        acc = 100 * np.asarray(hist["acc"][: i + 1])
        line.set_data(hist["step"][: i + 1], acc)
        dot.set_data(hist["step"][i : i + 1], acc[-1:])
        return []

    fig.tight_layout()
    update(0)
    return FuncAnimation(fig, update, frames=len(frames), interval=interval, blit=False)


def _explorer_panel(axes, query, key, mask, scale, row):
    w, _ = mask_weights(query, key, mask, scale=scale)
    heatmap(axes[0], w, title=f"{mask} mask, scale {scale:.2g}", fontsize=9)
    _box(axes[0], row, int(np.argmax(w[row])))
    axes[0].add_patch(Rectangle((-0.5, row - 0.5), w.shape[1], 1, fill=False, ec="C1", lw=1.5))
    axes[1].bar(range(w.shape[1]), w[row], color="C0")
    axes[1].set(ylim=(0, 1), xlabel="key position", ylabel=f"weights of query {row}")
    entropy = -np.sum(w[row] * np.log(np.where(w[row] > 0, w[row], 1)))
    axes[1].set_title(f"max {w[row].max():.2f}, entropy {entropy:.2f} nats", fontsize=9)
    return w


def scale_animation(query, key, scales, row=3, mask="causal", dpi=90, interval=300):
    """The explorer's picture with the scale sweeping through ``scales``: the weights go from
    uniform (small scale) to a hard, one-hot choice (large scale). Returns a ``FuncAnimation``."""
    fig, axes = plt.subplots(1, 2, figsize=(7.5, 3.2), dpi=dpi)

    def update(i):
        for ax in axes:
            ax.clear()
        _explorer_panel(axes, query, key, mask, scales[i], row)
        return []

    update(0)
    fig.tight_layout()
    return FuncAnimation(fig, update, frames=len(scales), interval=interval, blit=False)


def explorer(query, key, scale=None, row=3, mask="none"):
    """An ipywidgets panel: choose the scale (log slider), the query row and the mask, and see
    the weight matrix and the chosen row's weights. The picture is a PNG widget value."""
    import ipywidgets as widgets

    default = 1 / np.sqrt(query.shape[-1])
    w_scale = widgets.FloatLogSlider(value=scale or default, base=10, min=-2, max=1.5,
                                     step=0.05, description="scale")  # fmt: skip
    w_row = widgets.IntSlider(value=row, min=0, max=len(query) - 1, description="query")
    w_mask = widgets.Dropdown(options=["none", "causal", "padding"], value=mask, description="mask")

    def draw():
        fig, axes = plt.subplots(1, 2, figsize=(7.5, 3.2))
        _explorer_panel(axes, query, key, w_mask.value, w_scale.value, w_row.value)
        fig.tight_layout()
        return fig

    return make_explorer([[w_scale, w_row, w_mask]], draw)


def explorer_grid(query, key, scales, masks=("none", "causal", "padding")):
    """The explorer's weight matrices for every mask (rows) and scale (columns), for the book."""
    fig, axes = plt.subplots(len(masks), len(scales), figsize=(2.4 * len(scales), 2.4 * len(masks)))
    axes = np.atleast_2d(axes)
    for i, mask in enumerate(masks):
        for j, s in enumerate(scales):
            w, _ = mask_weights(query, key, mask, scale=s)
            heatmap(axes[i, j], w, title=f"{mask}, scale {s:.2g}")
    fig.tight_layout()
    return fig
