"""Figures, the animation and the explorer of the weight-initialization chapter.

They draw what :mod:`dlbook.experiments.initialization` measured (a :class:`DepthStats` per scheme
and activation); nothing here trains.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import FuncAnimation

from dlbook.experiments import initialization as E
from dlbook.viz.common import figure_png, make_explorer

__all__ = [
    "COLOURS", "unit_weights_figure", "depth_figure", "histogram_grid", "histogram_animation",
    "gain_grid", "torch_numpy_figure", "training_figure", "explorer",
]  # fmt: skip

COLOURS = {
    "zero": "0.5", "small": "C0", "large": "C3", "xavier": "C2", "kaiming": "C1",
    "default": "C4", "normal": "C0",
}  # fmt: skip
_RANGE = {"tanh": (-1.0, 1.0), "relu": (0.0, 5.0), "sigmoid": (0.0, 1.0), "linear": (-4.0, 4.0)}
_BINS = 41


def unit_weights_figure(rows, units=8, shape=(8, 8)):
    """For each :func:`~dlbook.experiments.initialization.symmetry_runs` row, the incoming weights
    of the first ``units`` hidden units after training, as images side by side (red positive, blue
    negative, each row on its own colour scale)."""
    fig, axes = plt.subplots(len(rows), 1, figsize=(1.0 * units, 1.45 * len(rows)), squeeze=False)
    cmap = plt.get_cmap("RdBu_r").with_extremes(bad="white")
    for ax, row in zip(axes[:, 0], rows):
        w = row["weight"]
        scale = max(np.abs(w).max(), 1e-12)
        gap = np.full((shape[0], 1), np.nan)  # a white column between units
        tiles = [np.hstack([w[i].reshape(shape), gap]) for i in range(units)]
        ax.imshow(np.hstack(tiles)[:, :-1], cmap=cmap, vmin=-scale, vmax=scale)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.axis("off")
        units_word = "unit" if row["distinct"] == 1 else "units"
        title = (
            f"{row['scheme']} init: {row['distinct']} distinct {units_word} of {len(w)}, "
            f"test accuracy {100 * row['test_acc']:.1f}%"
        )
        ax.set_title(title, loc="left", fontsize=9)
    fig.tight_layout()
    return fig


def _nonzero(stats, activation, schemes):
    return [s for s in schemes if (s, activation) in stats and s != "zero"]


def depth_figure(stats, schemes=E.SCHEMES, activations=E.ACTIVATIONS):
    """Rows: activations. Columns: the spread of the activations, of the gradient at each
    layer's input, and of the weight gradient, layer by layer, on a log scale. ``stats`` maps
    ``(scheme, activation)`` to a :class:`DepthStats`; the zero scheme (all exactly 0) is named
    in the title instead of drawn."""
    columns = [
        ("act_std", "std of activations $h_l$"),
        ("grad_std", r"std of gradient $\partial L/\partial h_{l-1}$"),
        ("weight_grad_std", r"std of weight gradient $\partial L/\partial W_l$"),
    ]
    fig, axes = plt.subplots(len(activations), 3, figsize=(10, 3.2 * len(activations)))
    axes = np.atleast_2d(axes)
    for ax_row, act in zip(axes, activations):
        for ax, (field, label) in zip(ax_row, columns):
            for s in _nonzero(stats, act, schemes):
                y = getattr(stats[s, act], field)
                ax.semilogy(np.arange(1, len(y) + 1), y, color=COLOURS[s], label=E.LABELS[s])
            ax.set_xlabel("layer $l$")
            ax.set_title(f"{act}: {label}", fontsize=10)
            ax.grid(alpha=0.3, which="major")
        if ("zero", act) in stats:
            ax_row[0].text(0.02, 0.03, "zero init: every value is exactly 0", fontsize=9,
                           transform=ax_row[0].transAxes, color="0.4")  # fmt: skip
        ax_row[1].annotate("", xy=(0.1, 0.93), xytext=(0.35, 0.93), xycoords="axes fraction",
                           arrowprops=dict(arrowstyle="->", color="0.4"))  # fmt: skip
        ax_row[1].text(0.37, 0.91, "backward pass", fontsize=9, color="0.4",
                       transform=ax_row[1].transAxes)  # fmt: skip
    axes[0, 0].legend(fontsize=9, loc="center right")
    fig.tight_layout()
    return fig


def _hist(values, activation):
    """Fraction of ``values`` in each of the fixed bins of ``activation``'s range; values outside
    the range are counted in the end bins. ReLU's exact zeros (about half) are left out."""
    lo, hi = _RANGE[activation]
    v = values[values != 0] if activation == "relu" else values
    counts, edges = np.histogram(np.clip(v, lo, hi), bins=_BINS, range=(lo, hi))
    return counts / max(len(v), 1), edges


def _draw_hist(ax, values, activation, colour, title=None, fontsize=8):
    heights, edges = _hist(values, activation)
    bars = ax.stairs(heights, edges, fill=True, color=colour)
    lo, hi = edges[0], edges[-1]
    ax.set_xlim(lo, hi)
    ax.set_xticks([lo, (lo + hi) / 2, hi])
    ax.set_ylim(0, max(heights.max(), 1e-9) * 1.15)
    ax.set_yticks([])
    ax.tick_params(labelsize=fontsize)
    label = ax.text(0.97, 0.95, "", transform=ax.transAxes, ha="right", va="top",
                    fontsize=fontsize)  # fmt: skip
    label.set_text(f"std {values.std():.1e}")
    if title:
        ax.set_title(title, fontsize=fontsize + 1)
    return bars, label


def histogram_grid(stats, activation, layers=(1, 10, 20, 30), schemes=E.SCHEMES):
    """Histograms of the activations at a few ``layers`` (columns) for each nonzero scheme
    (rows), on fixed axes: a collapsing signal becomes one spike at 0, an exploding one piles up
    in the end bin."""
    rows = _nonzero(stats, activation, schemes)
    fig, axes = plt.subplots(len(rows), len(layers), figsize=(2.1 * len(layers), 1.35 * len(rows)))
    axes = np.atleast_2d(axes)
    for ax_row, s in zip(axes, rows):
        for ax, layer in zip(ax_row, layers):
            title = f"layer {layer}" if s == rows[0] else None
            _draw_hist(ax, stats[s, activation].samples[layer - 1], activation, COLOURS[s], title)
        ax_row[0].set_ylabel(E.LABELS[s], fontsize=8)
    note = " (exact zeros not shown)" if activation == "relu" else ""
    fig.suptitle(f"{activation}: activations through depth{note}", fontsize=10)
    fig.tight_layout()
    return fig


def histogram_animation(stats, schemes=("small", "large", "xavier", "kaiming"),
                        activations=E.ACTIVATIONS, step=2, dpi=72, interval=400):  # fmt: skip
    """The histograms of :func:`histogram_grid` climbing the network, ``step`` layers a frame
    (layers 1, 1 + step, ..., and always the last); rows = activations, columns = schemes."""
    depth = len(stats[schemes[0], activations[0]].act_std)
    layers = sorted(set(range(0, depth, step)) | {depth - 1})
    fig, axes = plt.subplots(
        len(activations), len(schemes), figsize=(2.0 * len(schemes), 1.7 * len(activations)),
        dpi=dpi, squeeze=False,
    )  # fmt: skip
    panels = []
    for i, (ax_row, act) in enumerate(zip(axes, activations)):
        lo, hi = _RANGE[act]
        for ax, s in zip(ax_row, schemes):
            title = E.LABELS[s] if i == 0 else None
            bars, label = _draw_hist(ax, stats[s, act].samples[0], act, COLOURS[s], title, 9)
            ax.set_xticklabels([])  # text is most of a frame's cost: the range is in the row label
            panels.append((ax, bars, label, stats[s, act].samples, act))
        ax_row[0].set_ylabel(f"{act}\n{lo:g} to {hi:g}", fontsize=9)
    heading = fig.suptitle("", fontsize=10)
    fig.tight_layout()

    def update(frame):
        i = layers[frame]
        heading.set_text(f"activations at layer {i + 1} of {depth}")
        for ax, bars, label, samples, act in panels:
            heights, _ = _hist(samples[i], act)
            bars.set_data(values=heights)
            ax.set_ylim(0, max(heights.max(), 1e-9) * 1.15)
            label.set_text(f"std {samples[i].std():.1e}")
        return []

    update(0)
    return FuncAnimation(fig, update, frames=len(layers), interval=interval, blit=False)


def gain_grid(sweep, activations=E.ACTIVATIONS):
    """``sweep`` maps ``(activation, multiplier)`` to a :class:`DepthStats` for Kaiming weights
    scaled by ``multiplier``. Columns: activations; rows: activation std and gradient std."""
    fig, axes = plt.subplots(2, len(activations), figsize=(4.8 * len(activations), 6.2))
    axes = np.atleast_2d(axes)
    for j, act in enumerate(activations):
        mults = sorted(m for a, m in sweep if a == act)
        colours = plt.cm.coolwarm(np.linspace(0, 1, len(mults)))
        for m, c in zip(mults, colours):
            st = sweep[act, m]
            layers = np.arange(1, len(st.act_std) + 1)
            width = 2.5 if m == 1 else 1.2
            axes[0, j].semilogy(layers, st.act_std, color=c, lw=width, label=f"{m:g} × Kaiming")
            axes[1, j].semilogy(layers, st.grad_std, color=c, lw=width)
        axes[0, j].set_title(f"{act}: std of activations", fontsize=10)
        axes[1, j].set_title(f"{act}: std of gradient at layer input", fontsize=10)
        axes[0, j].legend(fontsize=9)
        for ax in axes[:, j]:
            ax.set_xlabel("layer $l$")
            ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def torch_numpy_figure(torch_stats, stats, device_type, schemes=("xavier", "kaiming", "default"),
                       activations=E.ACTIVATIONS):  # fmt: skip
    """The std of the activations layer by layer, one panel per activation: the PyTorch
    measurement (``torch_stats``, solid) and, dotted, the NumPy one (``stats``) where it has the
    same scheme. Both map ``(scheme, activation)`` to a :class:`DepthStats`; ``device_type``
    names where torch ran."""
    fig, axes = plt.subplots(1, len(activations), figsize=(4.8 * len(activations), 3.4))
    axes = np.atleast_1d(axes)
    for ax, a in zip(axes, activations):
        for s in schemes:
            y = torch_stats[s, a].act_std
            layers = np.arange(1, len(y) + 1)
            ax.semilogy(layers, y, color=COLOURS[s], label=f"{E.LABELS[s]} (torch)")
            if (s, a) in stats:
                ax.semilogy(layers, stats[s, a].act_std, ls=":", color=COLOURS[s],
                            label=f"{E.LABELS[s]} (NumPy)")  # fmt: skip
        ax.set_title(f"{a}: std of activations, torch on {device_type} vs NumPy", fontsize=10)
        ax.set_xlabel("layer $l$")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=9)
    fig.tight_layout()
    return fig


def training_figure(rows, schemes=E.SCHEMES + ("default",), activations=E.ACTIVATIONS):
    """Test accuracy per epoch of :func:`~dlbook.experiments.initialization.train_grid`'s runs, one
    panel per activation."""
    fig, axes = plt.subplots(1, len(activations), figsize=(4.8 * len(activations), 3.4))
    axes = np.atleast_1d(axes)
    for ax, act in zip(axes, activations):
        for s in schemes:
            for r in rows:
                if r["scheme"] == s and r["activation"] == act:
                    acc = 100 * np.array(r["history"]["test_acc"])
                    ax.plot(np.arange(1, len(acc) + 1), acc, marker="o", ms=3, color=COLOURS[s],
                            label=E.LABELS[s], ls="--" if s == "default" else "-")  # fmt: skip
        ax.axhline(10, color="0.6", ls=":", lw=1)
        ax.text(1, 12, "chance (10%): the runs that did not learn", fontsize=9, color="0.4")
        ax.set_title(f"{act} network", fontsize=10)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_xlabel("epoch")
        ax.set_ylabel("test accuracy (%)")
        ax.set_ylim(0, 100)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=9)
    fig.tight_layout()
    return fig


def _stats_png(st, title):
    fig, ax = plt.subplots(figsize=(5.2, 3.0))
    layers = np.arange(1, len(st.act_std) + 1)
    if st.act_std.max() > 0:
        ax.semilogy(layers, st.act_std, label="activation std")
        ax.semilogy(layers, st.grad_std, label="gradient std (at layer input)")
        ax.legend(fontsize=9)
    else:
        ax.text(0.5, 0.5, "every activation and gradient is 0", ha="center", va="center")
    ax.set_xlabel("layer $l$")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return figure_png(fig)


def explorer(scheme="kaiming", activation="relu", depth=30, std=0.01, gain=1.0, width=256):
    """An ipywidgets panel: choose the scheme (``"normal"`` uses the std slider; Xavier and
    Kaiming are multiplied by the gain slider), the activation and the depth, and see the spread
    of activations and gradients through a fresh random network of ``width`` units. The picture
    is a PNG widget value, so the panel behaves the same in an executed notebook."""
    import ipywidgets as widgets

    w_scheme = widgets.Dropdown(
        options=["zero", "normal", "xavier", "kaiming"], value=scheme, description="scheme"
    )
    w_act = widgets.Dropdown(
        options=["tanh", "relu", "sigmoid", "linear"], value=activation, description="activation"
    )
    w_depth = widgets.IntSlider(value=depth, min=2, max=60, description="depth")
    w_std = widgets.FloatLogSlider(value=std, base=10, min=-3, max=1, description="normal std")
    w_gain = widgets.FloatSlider(value=gain, min=0.25, max=3.0, step=0.05, description="× gain")

    def draw():
        s, act = w_scheme.value, w_act.value
        w_std.disabled, w_gain.disabled = s != "normal", s not in ("xavier", "kaiming")
        st = E.depth_statistics(
            s, act, w_depth.value, width, batch=128, std=w_std.value, scale=w_gain.value
        )
        return (
            f"<pre>last layer: activation std {st.act_std[-1]:.2e}   "
            f"first layer: gradient std {st.grad_std[0]:.2e}</pre>"
        ), _stats_png(st, f"{s}, {act}, {w_depth.value} layers of {width}")

    return make_explorer([[w_scheme, w_act, w_depth], [w_std, w_gain]], draw, info=True)
