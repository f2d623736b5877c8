"""Pictures of 1×1 convolutions, bottlenecks and Inception blocks: channel mixing, a 1×1
convolution sweeping an image pixel by pixel, an Inception block's branches, costs against
times, training curves, and an explorer of a bottleneck's width."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import FuncAnimation
from matplotlib.patches import FancyBboxPatch
from torch import nn

from dlbook.experiments.inception import COLOUR_NAMES, pointwise_matmul
from dlbook.viz.common import format_number, make_explorer

__all__ = [
    "mixing_figure",
    "sweep_animation",
    "block_figure",
    "cost_figure",
    "curves_figure",
    "bottleneck_costs",
    "explorer",
]

_KIND_COLOURS = {"inception": "tab:blue", "plain": "tab:orange"}


def _mixed(image, weight):
    return pointwise_matmul(np.asarray(image, dtype=np.float64)[None], weight)[0]


def mixing_figure(image, weight, names=COLOUR_NAMES):
    """An RGB image ``(3, H, W)`` in [0, 1], and the output channels of the 1×1 convolution
    ``weight`` ``(C_out, 3)`` (one panel each, grey scale centred on 0 for mixed signs)."""
    out = _mixed(image, weight)
    fig, axes = plt.subplots(1, 1 + len(out), figsize=(2.1 * (1 + len(out)), 2.6))
    axes[0].imshow(np.clip(np.transpose(image, (1, 2, 0)), 0, 1))
    axes[0].set_title("input (R, G, B)")
    for ax, o, name, w in zip(axes[1:], out, names, weight):
        lim = np.abs(o).max() or 1.0
        ax.imshow(o, cmap="gray" if o.min() >= 0 else "RdBu_r", vmin=-lim * (o.min() < 0),
                  vmax=lim)  # fmt: skip
        ax.set_title(f"{name}\n({', '.join(format_number(v, '{:.2g}') for v in w)})")
    for ax in axes:
        ax.axis("off")
    fig.tight_layout()
    return fig


def sweep_animation(image, weight, frames=16, names=COLOUR_NAMES):
    """A 1×1 convolution sweeping an RGB image ``(3, H, W)`` pixel by pixel: each frame moves
    to the next pixels, shows that pixel's (R, G, B) vector and the ``weight @ vector`` it
    becomes (middle), and the output channels filled in so far (right, the first channel)."""
    c, h, w = image.shape
    out = _mixed(image, weight)
    stops = np.linspace(0, h * w - 1, frames).round().astype(int)
    fig, (a_in, a_bar, a_out) = plt.subplots(1, 3, figsize=(7.2, 2.7))
    a_in.imshow(np.clip(np.transpose(image, (1, 2, 0)), 0, 1))
    box = a_in.add_patch(plt.Rectangle((-0.5, -0.5), 1, 1, fill=False, ec="yellow", lw=2))
    a_in.set_title("input pixel")
    shown = np.full((h, w), np.nan)
    lim = np.abs(out[0]).max() or 1.0
    view = a_out.imshow(shown, cmap="gray", vmin=min(0, out[0].min()), vmax=lim)
    a_out.set_title(f"output: {names[0]}")
    labels = [*"RGB", *[n.split(" ")[0][:6] for n in names]]
    bars = a_bar.bar(range(c + len(out)), np.zeros(c + len(out)),
                     color=["tab:red", "tab:green", "tab:blue"] + ["0.4"] * len(out))  # fmt: skip
    a_bar.set_xticks(range(len(labels)), labels, rotation=45)
    a_bar.axvline(c - 0.5, color="k", lw=0.8)
    a_bar.set_ylim(min(-0.1, out.min() * 1.1), max(1.0, out.max() * 1.1))
    a_bar.axhline(0, color="k", lw=0.5)
    a_bar.set_title("in → W · in")
    for ax in (a_in, a_out):
        ax.axis("off")
    fig.tight_layout()

    def update(i):
        p = stops[i]
        y, x = divmod(int(p), w)
        box.set_xy((x - 0.5, y - 0.5))
        flat = shown.reshape(-1)
        flat[: p + 1] = out[0].reshape(-1)[: p + 1]
        view.set_data(shown)
        for bar, v in zip(bars, np.r_[image[:, y, x], out[:, y, x]]):
            bar.set_height(v)
        return [box, view, *bars]

    return FuncAnimation(fig, update, frames=frames, interval=400, blit=False)


def _layers(branch):
    """Labels of a branch's convolutions and pools, input to output, and the input's channels."""
    labels, c_in = [], None
    for m in branch:
        if isinstance(m, nn.Conv2d):
            c_in = m.in_channels if c_in is None else c_in
            labels.append((f"{m.kernel_size[0]}×{m.kernel_size[1]} conv", m.out_channels))
        elif isinstance(m, nn.MaxPool2d):
            labels.append((f"{m.kernel_size}×{m.kernel_size} max pool", None))
    return labels, c_in


def block_figure(block, rows):
    """An :class:`~dlbook.nets.InceptionBlock` as a diagram: the layers of each branch, bottom
    to top, with their output channels, and each branch's output channels and receptive field
    from :func:`~dlbook.experiments.inception.branch_table` ``rows``."""
    colours = {"1×1 conv": "#cfe3f5", "3×3 conv": "#f7d9b5", "5×5 conv": "#f3c0c0",
               "3×3 max pool": "#d8eccf"}  # fmt: skip
    by_name = {r["name"]: r for r in rows}
    fig, ax = plt.subplots(figsize=(7.2, 3.8))
    arrow = dict(arrowstyle="->", color="0.4")

    def box(x, y, text, colour="white", half=0.85):
        ax.add_patch(FancyBboxPatch((x - half, y - 0.22), 2 * half, 0.44, fc=colour, ec="0.3",
                                    boxstyle="round,pad=0.02"))  # fmt: skip
        ax.text(x, y, text, ha="center", va="center", fontsize=10)

    c_in = None
    for i, name in enumerate(("b1", "b3", "b5", "bp")):
        x, foot = 2.0 * i, 3.0 + 0.4 * (i - 1.5)
        layers, c = _layers(getattr(block, name))
        c_in = c_in or c
        for j, (label, out) in enumerate(layers):
            y = 0.9 + 0.75 * j
            box(x, y, label if out is None else f"{label}, {out}", colours.get(label, "white"))
            ax.annotate("", (x, y - 0.24), (foot, 0.24) if j == 0 else (x, y - 0.51),
                        arrowprops=arrow)  # fmt: skip
        r = by_name[name]
        ax.annotate("", (x, 2.5), (x, 0.9 + 0.75 * (len(layers) - 1) + 0.24), arrowprops=arrow)
        ax.text(x, 2.62, f"{r['channels']} ch, field {r['field']}", ha="center", fontsize=10)
        ax.annotate("", (foot, 3.33), (x, 2.85), arrowprops=arrow)
    total = by_name["block"]
    box(3.0, 0, f"input: {c_in} channels", "0.92", half=1.2)
    box(3.0, 3.55, f"concatenate: {total['channels']} ch, field {total['field']}", "0.92", 1.6)
    ax.set_xlim(-1, 7)
    ax.set_ylim(-0.35, 3.85)
    ax.axis("off")
    fig.tight_layout()
    return fig


def cost_figure(costs, times):
    """Bars of parameters, multiply-adds and measured time of a bottleneck, each as a fraction
    of the direct convolution's (``costs`` from :func:`conv_costs`, ``times`` from
    :func:`time_convs`)."""
    d, b = costs["direct"][1], costs["bottleneck"][1]
    values = {"parameters": b.params / d.params, "multiply-adds": b.mult_adds / d.mult_adds,
              "time (this CPU)": times["bottleneck"] / times["direct"]}  # fmt: skip
    fig, ax = plt.subplots(figsize=(5.0, 2.6))
    bars = ax.barh(list(values), list(values.values()), color=["0.6", "0.45", "tab:blue"])
    for bar, v in zip(bars, values.values()):
        ax.text(v + 0.01, bar.get_y() + bar.get_height() / 2, f"{v:.3f} (1/{1 / v:.1f})",
                va="center", fontsize=10)  # fmt: skip
    ax.axvline(1, color="k", lw=0.8)
    ax.set_xlim(0, 1.15)
    ax.invert_yaxis()
    ax.set_xlabel("bottleneck / direct convolution")
    fig.tight_layout()
    return fig


def curves_figure(rows):
    """Test accuracy after every epoch, one line per run of :func:`train_pair`, coloured by
    kind (Inception or plain)."""
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    seen = set()
    for r in rows:
        acc = 100 * np.array(r["history"]["test_acc"])
        label = None if r["kind"] in seen else f"{r['kind']} ({r['mult_adds'] / 1e6:.2f} M MACs)"
        seen.add(r["kind"])
        ax.plot(np.arange(1, len(acc) + 1), acc, "o-", color=_KIND_COLOURS[r["kind"]], ms=3,
                label=label)  # fmt: skip
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy (%)")
    ax.legend(fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def bottleneck_costs(channels, mid, kernel_size):
    """Parameters (no biases) of a direct ``kernel_size`` convolution at ``channels`` → ``channels``
    and of its bottleneck through ``mid``, per output pixel equal to the multiply-adds:
    ``(direct, (reduce, middle, expand))``."""
    k2 = kernel_size * kernel_size
    return k2 * channels * channels, (channels * mid, k2 * mid * mid, mid * channels)


def _cost_panel(channels, mid, kernel_size):
    direct, parts = bottleneck_costs(channels, mid, kernel_size)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(6.4, 2.8), width_ratios=(1, 1.3))
    left = 0
    for part, colour, name in zip(
        parts,
        ("#cfe3f5", "#f7d9b5", "#9cc3e6"),
        ("1×1 reduce", f"{kernel_size}×{kernel_size}", "1×1 expand"),
    ):
        ax.bar(1, part, bottom=left, color=colour, label=name)  # fmt: skip
        left += part
    ax.bar(0, direct, color="0.6")
    ax.set_xticks([0, 1], [f"{kernel_size}×{kernel_size}", "bottleneck"])
    ax.set_ylabel("multiply-adds per pixel")
    ax.set_xlim(-0.5, 3.0)  # room for the legend beside the bars
    ax.legend(fontsize=9, loc="upper right")
    ax.ticklabel_format(axis="y", style="sci", scilimits=(0, 0))
    mids = np.arange(1, channels + 1)
    ratio = [sum(bottleneck_costs(channels, m, kernel_size)[1]) / direct for m in mids]
    ax2.plot(mids, ratio, color="0.3")
    ax2.plot([mid], [sum(parts) / direct], "o", color="tab:red")
    ax2.axhline(1, color="k", lw=0.6)
    ax2.set_xlabel("mid (reduced width)")
    ax2.set_ylabel("bottleneck / direct")
    ax2.set_title(f"{channels} → mid → {channels}: {sum(parts) / direct:.3f}", fontsize=10)
    fig.tight_layout()
    return fig


def explorer(channels=256, mid=64, kernel_size=3):
    """An ipywidgets panel: choose the reduced width ``mid`` and the kernel size, and see the
    multiply-adds per pixel of the direct convolution and of the bottleneck's three parts, and
    the ratio of the two against ``mid``. Returns the widget (display it)."""
    import ipywidgets as widgets

    w_mid = widgets.SelectionSlider(options=[8, 16, 32, 64, 128, 256], value=mid,
                                    description="mid")  # fmt: skip
    w_k = widgets.SelectionSlider(options=[3, 5, 7], value=kernel_size, description="kernel")

    def draw():
        return _cost_panel(channels, w_mid.value, w_k.value)

    return make_explorer([[w_mid, w_k]], draw, grid={w_mid: [16, 32, 64, 128, 256],
                                                      w_k: [3, 5]})  # fmt: skip
