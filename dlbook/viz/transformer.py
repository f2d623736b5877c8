"""Figures, the animation and the explorer of the Transformer chapter.

The attention weights come from :func:`dlbook.experiments.transformer.attention_maps`, recorded
while training; the positional encoding from :func:`dlbook.scratch.sinusoidal_positional_encoding`.
Nothing here trains.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import FuncAnimation

from dlbook.scratch import sinusoidal_positional_encoding
from dlbook.viz.attention import heatmap
from dlbook.viz.common import html_table, make_explorer

__all__ = [
    "MODELS",
    "positions_figure",
    "cost_table",
    "curves_figure",
    "heads_figure",
    "training_animation",
    "explorer",
]

MODELS = {"Transformer": "C3", "LSTM": "C0"}


def _labels(text):
    return ["␣" if c == " " else ("⏎" if c == "\n" else c) for c in text]


def positions_figure(length=48, dim=32):
    """The sinusoidal encoding (left: one row per position, one column per feature) and the dot
    products of its rows (right): each depends on the offset between the positions only."""
    pe = sinusoidal_positional_encoding(length, dim)
    fig, axes = plt.subplots(1, 2, figsize=(8.6, 3.6))
    im = axes[0].imshow(pe, cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto",
                        interpolation="nearest")  # fmt: skip
    axes[0].set(xlabel="feature", ylabel="position", title="PE[pos, feature]")
    fig.colorbar(im, ax=axes[0], fraction=0.05)
    im = axes[1].imshow(pe @ pe.T, cmap="viridis", interpolation="nearest")
    axes[1].set(xlabel="position q", ylabel="position p", title="PE[p] · PE[q]")
    fig.colorbar(im, ax=axes[1], fraction=0.05)
    fig.tight_layout()
    return fig


def cost_table(rows):
    """:func:`~dlbook.experiments.transformer.head_cost`'s rows as an HTML table."""
    header = ["heads H", "head width D", "parameters", "multiply-adds per sequence"]
    return html_table(header, [[r["heads"], r["head_dim"], f"{r['parameters']:,}",
                                f"{r['multiply_adds']:,}"] for r in rows])  # fmt: skip


def _smooth(y, k=10):
    y = np.asarray(y, dtype=float)
    k = max(1, min(k, len(y)))
    return np.convolve(y, np.ones(k) / k, mode="valid"), np.arange(k, len(y) + 1)


def curves_figure(runs, baselines):
    """Training loss (smoothed, thin) and held-out loss (thick, dots) of each run in ``runs``
    (``{name: train_char's dict}``) against the steps, with the held-out unigram and best bigram
    losses as horizontal lines (``baselines``: ``{name: nats}``)."""
    fig, ax = plt.subplots(figsize=(7.0, 3.6))
    for name, run in runs.items():
        colour = MODELS.get(name, None)
        y, x = _smooth(run["loss"])
        ax.plot(x, y, color=colour, lw=1, alpha=0.5)
        ax.plot(run["step"], run["test"], "o-", color=colour, lw=2, label=f"{name}, held out")
    for (name, value), style in zip(baselines.items(), ("--", ":", "-.")):
        ax.axhline(value, color="0.3", ls=style, lw=1, label=name)
    ax.set(xlabel="step", ylabel="cross-entropy (nats per character)", ylim=(1.8, 3.4))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9, loc="upper right")
    fig.tight_layout()
    return fig


def heads_figure(maps, text, show=16):
    """Every head of every layer (rows: layers, columns: heads) on the first ``show`` characters
    of ``text``: row = query (the character being read), column = key (the character read)."""
    maps = np.asarray(maps)[..., :show, :show]
    layers, heads = maps.shape[:2]
    labels = _labels(text[:show])
    fig, axes = plt.subplots(layers, heads, figsize=(2.0 * heads, 2.2 * layers), squeeze=False)
    for i in range(layers):
        for j in range(heads):
            heatmap(axes[i, j], maps[i, j], labels, labels, f"layer {i + 1}, head {j + 1}",
                    vmax=maps[i, j].max(), fontsize=8)  # fmt: skip
    fig.tight_layout()
    return fig


def training_animation(run, text, layer=-1, show=16, dpi=72, interval=600):
    """One frame per record of ``run`` (a Transformer's :func:`train_char` dict with ``maps``):
    the first four heads of ``layer`` on the first ``show`` characters of ``text``, each on its
    own colour scale, and the held-out loss so far. Returns a ``FuncAnimation``."""
    maps = [np.asarray(m)[layer, :4, :show, :show] for m in run["maps"]]
    heads, labels = len(maps[0]), _labels(text[:show])
    fig = plt.figure(figsize=(8.6, 6.2), dpi=dpi)
    fig.suptitle(f"layer {layer % len(run['maps'][0]) + 1}: each head's weights", fontsize=10)
    grid = fig.add_gridspec(2, 3, width_ratios=(1, 1, 0.9))
    axes = [fig.add_subplot(grid[j // 2, j % 2]) for j in range(heads)]
    images = [heatmap(ax, maps[0][j], labels, labels, f"head {j + 1}", fontsize=9)
              for j, ax in enumerate(axes)]  # fmt: skip
    curve = fig.add_subplot(grid[:, 2])
    (line,) = curve.plot([], [], "o-", color=MODELS["Transformer"])
    curve.set(xlim=(0, run["step"][-1]), ylim=(2.0, min(max(run["test"]), 3.5) + 0.1))
    curve.set_xlabel("step")
    curve.set_ylabel("held-out loss")
    curve.grid(alpha=0.3)

    def update(i):
        for image, m in zip(images, maps[i]):
            image.set_data(m)
            image.set_clim(0, max(float(m.max()), 1e-9))
        line.set_data(run["step"][: i + 1], run["test"][: i + 1])
        curve.set_title(f"step {run['step'][i]}", fontsize=9)
        return []

    fig.tight_layout()
    update(0)
    return FuncAnimation(fig, update, frames=len(maps), interval=interval, blit=False)


def _panel(ax, maps, labels, layer, head, show):
    m = maps[layer, head, :show, :show]
    heatmap(ax, m, labels, labels, vmax=m.max(), fontsize=9)
    ax.set_xlabel("key (character read)", fontsize=9)
    ax.set_ylabel("query", fontsize=9)


def explorer(maps, text, layer=0, head=0, show=16):
    """An ipywidgets panel over precomputed weights ``(layers, heads, T, T)``: choose the layer
    and the head, and see its weights on the first ``show`` characters of ``text`` with the
    distance it looks back on average."""
    import ipywidgets as widgets

    maps = np.asarray(maps)
    w_layer = widgets.ToggleButtons(options=[(str(i + 1), i) for i in range(len(maps))],
                                    value=layer, description="layer")  # fmt: skip
    w_head = widgets.ToggleButtons(options=[(str(j + 1), j) for j in range(maps.shape[1])],
                                   value=head, description="head")  # fmt: skip
    labels = _labels(text[:show])
    t = maps.shape[-1]
    dist = np.maximum(np.arange(t)[:, None] - np.arange(t)[None, :], 0)

    def draw():
        fig, ax = plt.subplots(figsize=(4.4, 4.2))
        _panel(ax, maps, labels, w_layer.value, w_head.value, show)
        fig.tight_layout()
        back = float((maps[w_layer.value, w_head.value] * dist).sum(-1).mean())
        html = (f"<pre>layer {w_layer.value + 1}, head {w_head.value + 1}: looks back "
                f"{back:.1f} characters on average (over all {t} queries)</pre>")  # fmt: skip
        return html, fig

    return make_explorer([[w_layer], [w_head]], draw, info=True)
