"""The AlexNet and VGG chapter's figures, animation, explorer and tables.

- :func:`filters_figure` and :func:`filters_animation`: the first layer's colour filters, after
  training and epoch by epoch;
- :func:`error_curves`: training error per epoch of several networks (one line per seed);
- :func:`field_diagram` and :func:`explorer`: ``n`` stacked ``k x k`` convolutions against one
  large kernel with the same receptive field, drawn in one dimension, with their costs;
- :func:`summary_table`: parameters, multiply-adds and receptive field of several networks.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import FuncAnimation
from matplotlib.collections import LineCollection

from dlbook.experiments.alexnet_vgg import stack_cost
from dlbook.viz.common import html_table, make_explorer

__all__ = [
    "filter_tiles",
    "filters_figure",
    "filters_animation",
    "error_curves",
    "field_diagram",
    "explorer",
    "summary_table",
]


def filter_tiles(weights, pad=1):
    """RGB filters ``(C_out, 3, k, k)`` as one image: a grid of tiles, each filter scaled on its
    own to [0, 1] (0.5 is a zero weight), separated by ``pad`` white pixels.
    Returns ``(H, W, 3)``."""
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 4 or w.shape[1] != 3:
        raise ValueError(f"weights must be (C_out, 3, k, k), got shape {w.shape}")
    n, _, k, _ = w.shape
    cols = int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    scale = np.abs(w).reshape(n, -1).max(1)[:, None, None, None]
    tiles = 0.5 + 0.5 * w / np.where(scale > 0, scale, 1)
    out = np.ones((rows * (k + pad) + pad, cols * (k + pad) + pad, 3))
    for i in range(n):
        r, c = divmod(i, cols)
        y, x = pad + r * (k + pad), pad + c * (k + pad)
        out[y : y + k, x : x + k] = tiles[i].transpose(1, 2, 0)
    return out


def filters_figure(filters, titles):
    """One panel per array of first-layer filters ``(C_out, 3, k, k)`` in ``filters``, titled
    with ``titles``."""
    fig, axes = plt.subplots(1, len(filters), figsize=(3.2 * len(filters), 3.4), squeeze=False)
    for ax, w, title in zip(axes[0], filters, titles):
        ax.imshow(filter_tiles(w), interpolation="nearest")
        ax.set_title(title, fontsize=10)
        ax.set_axis_off()
    fig.tight_layout()
    return fig


def filters_animation(filters, interval=500, dpi=72):
    """The first layer's filters ``(epochs + 1, C_out, 3, k, k)`` epoch by epoch (frame 0 is the
    random start). Returns a ``FuncAnimation``."""
    filters = np.asarray(filters)
    fig, ax = plt.subplots(figsize=(3.6, 3.9), dpi=dpi)
    shown = ax.imshow(filter_tiles(filters[0]), interpolation="nearest")
    ax.set_axis_off()

    def update(i):
        shown.set_data(filter_tiles(filters[i]))
        ax.set_title("random start" if i == 0 else f"after epoch {i}", fontsize=11)
        return []

    update(0)
    fig.tight_layout()
    return FuncAnimation(fig, update, frames=len(filters), interval=interval, blit=False)


def error_curves(rows, names=None, key="train_acc", ylabel="training error (%)", target=None):
    """``100 (1 - key)`` per epoch for the runs of :func:`~dlbook.experiments.alexnet_vgg.
    train_runs`, one colour per network and one line per seed; ``target`` draws a dotted line."""
    names = list(dict.fromkeys(r["name"] for r in rows)) if names is None else names
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    for i, name in enumerate(names):
        for j, r in enumerate(r for r in rows if r["name"] == name):
            err = 100 * (1 - np.array(r["history"][key]))
            ax.plot(np.arange(1, len(err) + 1), err, color=f"C{i}", lw=1.5, alpha=0.8,
                    label=name if j == 0 else None)  # fmt: skip
    if target is not None:
        ax.axhline(100 * target, color="0.4", ls=":", lw=1)
    ax.set_xlabel("epoch", fontsize=10)
    ax.set_ylabel(ylabel, fontsize=10)
    ax.tick_params(labelsize=9)
    ax.legend(fontsize=9)
    fig.tight_layout()
    return fig


def field_diagram(ax, num_convs, kernel_size=3):
    """One output unit (top) and the input pixels it sees (bottom), in one dimension, through
    ``num_convs`` stacked ``kernel_size`` convolutions (left) and through one convolution of the
    same receptive field (right). Returns the field."""
    k, n = kernel_size, num_convs
    field = stack_cost(1, k, n)["field"]
    half = field // 2
    xs = np.arange(-half - 1, half + 2)
    segments, grey, lit = [], [], []
    for left, layers in ((0.0, n), (field + 5.0, 1)):
        kk = k if layers == n else field
        reach = 0
        for level in range(layers + 1):
            y = layers - level  # the output row at the top
            grey += [(left + x + half + 1, y) for x in xs]
            lit += [(left + x + half + 1, y, level == 0) for x in xs if abs(x) <= reach]
            if level < layers:
                segments += [[(left + x + half + 1, y), (left + x + d + half + 1, y - 1)]
                             for x in xs if abs(x) <= reach
                             for d in range(-(kk // 2), kk // 2 + 1)]  # fmt: skip
                reach += kk // 2
        title = f"{n} x {k}x{k}" if layers == n else f"one {field}x{field}"
        ax.text(left + half + 1, layers + 0.6, title, ha="center", fontsize=10)
    ax.add_collection(LineCollection(segments, colors="C0", linewidths=0.6, alpha=0.6))
    ax.scatter(*np.array(grey).T, s=14, color="0.8")
    lit = np.array(lit)
    ax.scatter(lit[:, 0], lit[:, 1], s=22, color=np.where(lit[:, 2] > 0, "C3", "C0"))
    ax.set_xlim(-0.5, 2 * field + 8.5)
    ax.set_ylim(-0.6, n + 1.1)
    ax.set_axis_off()
    return field


def explorer(num_convs=2, kernel_size=3, channels=64):
    """Stack ``n`` ``k x k`` convolutions (sliders) against one kernel of the same receptive
    field: the fields in one dimension, and the weights and multiply-adds of each, per ``C^2``
    (``channels`` in and out, no biases)."""
    import ipywidgets as widgets

    w_n = widgets.IntSlider(value=num_convs, min=1, max=4, description="layers n")
    w_k = widgets.Dropdown(options=[3, 5], value=kernel_size, description="kernel k")

    def draw():
        n, k = w_n.value, w_k.value
        stack = stack_cost(channels, k, n)
        field = stack["field"]
        one = stack_cost(channels, field, 1)
        fig, (a, b) = plt.subplots(
            1, 2, figsize=(7.6, 2.8), gridspec_kw=dict(width_ratios=(2.2, 1))
        )
        field_diagram(a, n, k)
        vals = [stack["params"] / channels**2, one["params"] / channels**2]
        bars = b.bar([f"{n} x {k}x{k}", f"one {field}x{field}"], vals, color=["C0", "C1"])
        for bar, v in zip(bars, vals):
            b.text(bar.get_x() + bar.get_width() / 2, v, f"{v:g} C²", ha="center", va="bottom",
                   fontsize=9)  # fmt: skip
        b.set_ylim(0, 1.2 * max(vals))
        b.set_title("weights (and multiply-adds\nper position), in units of C²", fontsize=9)
        b.tick_params(labelsize=9)
        fig.subplots_adjust(left=0.01, right=0.99, bottom=0.1, top=0.84, wspace=0.1)
        text = (f"<pre>field {field} x {field}: {n} x {k}x{k} has {stack['params']:,} weights for "
                f"C = {channels}, one {field}x{field} has {one['params']:,} "
                f"(ratio {stack['params'] / one['params']:.2f})</pre>")  # fmt: skip
        return text, fig

    return make_explorer([[w_n, w_k]], draw, info=True)


def summary_table(summaries: dict):
    """An HTML table: for each ``name -> (Summary, input_shape)``, the learned layers, parameters,
    multiply-adds per image and receptive field of the output."""
    rows = []
    for name, (s, shape) in summaries.items():
        layers = sum(r.kind in ("Conv2d", "Linear") for r in s.rows)
        field = "" if s.field is None else f"{s.field.size[0]} px"
        rows.append([name, "x".join(map(str, shape)), layers, f"{s.params:,}",
                     f"{s.mult_adds / 1e6:,.1f} M", field])  # fmt: skip
    return html_table(["network", "input", "learned layers", "parameters", "multiply-adds",
                       "receptive field"], rows)  # fmt: skip
