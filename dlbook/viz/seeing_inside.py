"""Figures, the animation and the explorer of the "seeing inside a network" chapter.

They draw what :mod:`dlbook.experiments.seeing_inside` computed (filters, saliency maps, the
randomization tests' rank correlations, activation maximization); nothing here trains.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import FuncAnimation

from dlbook.viz.common import make_explorer

__all__ = [
    "filters_figure",
    "channel_figure",
    "saliency_figure",
    "cascade_figure",
    "cascade_maps_figure",
    "maximization_animation",
    "explorer",
]

STAGE_LABELS = {"trained": "trained", "logits": "+ logits", "F6": "+ F6", "C5": "+ C5",
                "C3": "+ C3", "C1": "+ C1", "shuffled labels": "shuffled\nlabels"}  # fmt: skip
METHOD_STYLES = {"gradient": dict(color="C0", marker="o", ls="-", ms=7),
                 "gradient × input": dict(color="C3", marker="o", ls="-", ms=6),
                 "SmoothGrad": dict(color="C2", marker="s", ls="--", ms=4)}  # fmt: skip


def _show(ax, img, cmap="gray_r", signed=False):
    img = np.asarray(img, dtype=np.float64)
    if signed:
        m = np.abs(img).max() or 1.0
        ax.imshow(img, cmap="RdBu_r", vmin=-m, vmax=m)
    else:
        ax.imshow(img, cmap=cmap, vmin=0 if cmap != "gray_r" else None)
    ax.set_xticks([])
    ax.set_yticks([])


def _mosaic(kernels, gap=1, scale=True):
    """Kernels ``(R, C, k, k)`` laid out as one image, with NaN gaps between them; with
    ``scale``, each is divided by its own largest magnitude (to [-1, 1])."""
    r, c, k, _ = kernels.shape
    if scale:
        top = np.abs(kernels).max(axis=(2, 3), keepdims=True)
        kernels = kernels / np.where(top > 0, top, 1)
    out = np.full((r * (k + gap) - gap, c * (k + gap) - gap), np.nan)
    for i in range(r):
        for j in range(c):
            out[i * (k + gap) : i * (k + gap) + k, j * (k + gap) : j * (k + gap) + k] = kernels[
                i, j
            ]
    return out


def filters_figure(c1_weight, c3_weight):
    """The learned filters: C1's 6 kernels ``(6, 1, 5, 5)`` (top) and C3's ``(16, 6, 5, 5)``
    as a 6 × 16 mosaic (column ``o``: output channel ``o``, row ``i``: its kernel on C1's map
    ``i``); red positive, blue negative, each kernel on its own scale."""
    c1, c3 = np.asarray(c1_weight, dtype=np.float64), np.asarray(c3_weight, dtype=np.float64)
    k = c1.shape[-1]
    fig, (a, b) = plt.subplots(2, 1, figsize=(8.6, 4.6), height_ratios=[1, c3.shape[1]])
    cmap = plt.get_cmap("RdBu_r").with_extremes(bad="white")
    for ax, m in (
        (a, _mosaic(c1[:, :1].transpose(1, 0, 2, 3))),
        (b, _mosaic(c3.transpose(1, 0, 2, 3))),
    ):
        ax.imshow(m, cmap=cmap, vmin=-1, vmax=1)
        ax.set_yticks([])
        ax.tick_params(length=0, labelsize=9)
        for side in ax.spines.values():
            side.set_visible(False)
    a.set_xticks(np.arange(c1.shape[0]) * (k + 1) + (k - 1) / 2, range(c1.shape[0]))
    a.set_xlim(-0.5, c3.shape[0] * (k + 1) - 1.5)
    a.set_title("C1's 6 kernels (on the image)", fontsize=10, loc="left")
    b.set_xticks(np.arange(c3.shape[0]) * (k + 1) + (k - 1) / 2, range(c3.shape[0]))
    b.set_yticks(
        np.arange(c3.shape[1]) * (k + 1) + (k - 1) / 2, [f"C1 map {i}" for i in range(c3.shape[1])]
    )
    b.set_title("C3's kernels: one column per output channel, one row per C1 map", fontsize=10,
                loc="left")  # fmt: skip
    fig.tight_layout()
    return fig


def channel_figure(x, tops, maximized):
    """What a unit responds to: for each ``label`` of ``tops`` (``{label: indices}``), the test
    digits ``x[indices]`` that drive it most, then the image that gradient ascent made for it
    (``maximized[label]``, signed: red positive, blue negative)."""
    k = max(len(v) for v in tops.values())
    fig, axes = plt.subplots(len(tops), k + 1, figsize=(1.15 * (k + 1) + 1.4, 1.3 * len(tops)),
                             squeeze=False)  # fmt: skip
    for row, (label, idx) in zip(axes, tops.items()):
        for ax, i in zip(row, idx):
            _show(ax, x[i, 0])
        _show(row[-1], maximized[label], signed=True)
        row[0].set_ylabel(label, fontsize=9, rotation=0, ha="right", va="center")
    axes[0, 0].set_title("strongest test digits →", fontsize=9, loc="left")
    axes[0, -1].set_title("maximized", fontsize=9)
    fig.tight_layout()
    return fig


def saliency_figure(x, labels, maps, edges=None):
    """One row per image: the digit, then each method's map (``maps``: ``{method: (N, H, W)}``)
    and, if given, the edge map that looks at the image alone; every map on its own scale."""
    cols = [("input", x[:, 0], "gray_r")] + [(m, v, "magma") for m, v in maps.items()]
    if edges is not None:
        cols.append(("edges (no network)", edges, "magma"))
    n = len(x)
    fig, axes = plt.subplots(n, len(cols), figsize=(1.55 * len(cols), 1.5 * n), squeeze=False)
    for r in range(n):
        for ax, (name, v, cmap) in zip(axes[r], cols):
            ax.imshow(v[r], cmap=cmap)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(name, fontsize=9)
        axes[r, 0].set_ylabel(f"a {labels[r]}", fontsize=9)
    fig.tight_layout()
    return fig


def cascade_figure(result, stages):
    """The model randomization test: the mean rank correlation of each method's maps with the
    trained network's, as the layers are re-initialized from the top down (``stages``), and
    the data randomization test (the network trained on shuffled labels) at the right."""
    fig, ax = plt.subplots(figsize=(7.2, 3.6))
    xs = np.arange(len(stages))
    for m, rho in result["model"].items():
        style = METHOD_STYLES.get(m, dict(color="0.3", marker="o"))
        ax.plot(xs, rho, label=m, **style)
        ax.plot([len(stages) + 0.5], [result["data"][m]], **{**style, "marker": "D", "ls": ""})
    ax.axvline(len(stages) - 0.25, color="0.6", lw=0.8)
    ax.set_xticks(list(xs) + [len(stages) + 0.5])
    ax.set_xticklabels([STAGE_LABELS.get(s, s) for s in stages] + [STAGE_LABELS["shuffled labels"]],
                       fontsize=9)  # fmt: skip
    ax.set_xlabel("layers re-initialized, from the top down")
    ax.set_ylabel("rank correlation with\nthe trained network's map")
    ax.set_ylim(-0.05, 1.05)
    ax.axhline(0, color="0.5", lw=0.8, ls=":")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9, loc="lower left")
    ax.set_title("Does the map change when the network does?", fontsize=10)
    fig.tight_layout()
    return fig


def _maps_grid(axes, result, index, stages, methods):
    for r, m in enumerate(methods):
        for c, s in enumerate(stages):
            ax = axes[r, c]
            ax.imshow(result["maps"][s][m][index], cmap="magma")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(STAGE_LABELS.get(s, s), fontsize=9)
            if c == 0:
                ax.set_ylabel(m.replace(" × ", " ×\n"), fontsize=9)


def cascade_maps_figure(result, index=0, stages=None, methods=None):
    """One image's maps (``result`` from :func:`~dlbook.experiments.seeing_inside.
    sanity_checks`): one row per method, one column per randomization stage, the network
    trained on shuffled labels last."""
    stages = list(stages or result["maps"])
    methods = list(methods or result["model"])
    fig, axes = plt.subplots(len(methods), len(stages), figsize=(1.25 * len(stages) + 0.6,
                             1.35 * len(methods) + 0.3), squeeze=False)  # fmt: skip
    _maps_grid(axes, result, index, stages, methods)
    fig.tight_layout()
    return fig


def maximization_animation(run, title="", dpi=72, interval=300):
    """Gradient ascent on the input, frame by frame (``run`` from
    :func:`~dlbook.experiments.seeing_inside.activation_maximization`): the image (left) and
    the unit's value so far (right). Returns a ``FuncAnimation``."""
    frames, steps, act = run["frames"], run["steps"], run["activation"]
    fig, (a, b) = plt.subplots(1, 2, figsize=(6.4, 3.0), dpi=dpi, width_ratios=[1, 1.4])
    m = np.abs(frames).max() or 1.0

    def update(i):
        a.clear()
        b.clear()
        a.imshow(frames[i], cmap="RdBu_r", vmin=-m, vmax=m)
        a.set_xticks([])
        a.set_yticks([])
        a.set_title(f"{title}: step {steps[i]}", fontsize=9)
        b.plot(np.arange(len(act)), act, color="0.85")
        b.plot(np.arange(steps[i] + 1), act[: steps[i] + 1], color="C0")
        b.set_xlabel("step")
        b.set_ylabel("the unit's value")
        b.grid(alpha=0.3)
        return []

    fig.tight_layout()
    update(0)
    return FuncAnimation(fig, update, frames=len(frames), interval=interval, blit=False)


def explorer(result, labels, indices=(0, 1, 2, 3), stage="trained"):
    """An ipywidgets panel over precomputed maps: choose how far the network is randomized (or
    the network trained on shuffled labels), and see every method's maps for four digits."""
    import ipywidgets as widgets

    stages = list(result["maps"])
    methods = list(result["model"])
    w = widgets.SelectionSlider(options=[(s.replace("+ ", "up to "), s) for s in stages],
                                value=stage, description="network",
                                style={"description_width": "initial"},
                                layout=widgets.Layout(width="420px"))  # fmt: skip

    def draw():
        s = w.value
        grid = np.array([[result["maps"][s][m][i] for i in indices] for m in methods])
        top = grid.max(axis=(2, 3), keepdims=True)
        size = grid.shape[-1]
        fig, ax = plt.subplots(figsize=(5.6, 4.4))
        ax.imshow(_mosaic(grid / np.where(top > 0, top, 1), gap=2, scale=False), cmap="magma",
                  vmin=0, vmax=1)  # fmt: skip
        centres = np.arange(len(indices)) * (size + 2) + (size - 1) / 2
        ax.set_xticks(centres, [f"a {labels[i]}" for i in indices], fontsize=9)
        ax.set_yticks(np.arange(len(methods)) * (size + 2) + (size - 1) / 2,
                      [m.replace(" × ", " ×\n") for m in methods], fontsize=9)  # fmt: skip
        ax.tick_params(length=0)
        for side in ax.spines.values():
            side.set_visible(False)
        k = stages.index(s)
        rho = {m: result["model"][m][k] if k < len(result["model"][m]) else result["data"][m]
               for m in methods}  # fmt: skip
        title = {"trained": "the trained network", "shuffled labels": "trained on shuffled labels"}
        ax.set_title(title.get(s, f"re-initialized from the output layer down to {s}"),
                     fontsize=10)  # fmt: skip
        fig.tight_layout()
        text = ", ".join(f"{m} {v:.2f}" for m, v in rho.items())
        text = f"<pre>rank correlation with the trained network's maps: {text}</pre>"
        return text, fig

    return make_explorer([[w]], draw, info=True)
