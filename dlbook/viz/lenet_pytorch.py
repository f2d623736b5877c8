"""The "LeNet-5 in PyTorch" chapter's pictures: the layer plans (:func:`plot_plans`), one digit
through every stage (:func:`plot_feature_maps`), training replayed epoch by epoch
(:func:`training_animation`), shifted digits (:func:`plot_shift_grid`), and the explorer: move a
test digit and watch each trained model's class probabilities (:func:`explorer`, built on
:func:`dlbook.viz.common.make_explorer`). The numbers come from
:mod:`dlbook.experiments.lenet_pytorch`; nothing here trains."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.animation import FuncAnimation

from dlbook.experiments.lenet_pytorch import predict_proba, replay, shift
from dlbook.viz.common import figure_png, make_explorer
from dlbook.viz.lenet_numpy import mosaic

__all__ = [
    "plot_plans", "plot_feature_maps", "training_animation", "plot_shift_grid", "explorer",
    "explorer_figure",
]  # fmt: skip


_KINDS = {  # layer class -> (label, colour)
    "Conv2d": ("conv\n{k}×{k}", "#4c72b0"), "Linear": ("linear", "#4c72b0"),
    "ScaledTanh": ("scaled\ntanh", "#55a868"), "ReLU": ("ReLU", "#55a868"),
    "AvgPool2d": ("avg\npool", "#dd8452"), "MaxPool2d": ("max\npool", "#dd8452"),
    "BatchNorm2d": ("batch\nnorm", "#8172b3"),
}  # fmt: skip


def _stages(model, input_size):
    """The model's layers grouped into LeNet's seven stages: ``[[(label, colour, shape)]]``;
    a convolution, pooling or linear layer starts a stage. Flatten and dropout are left out."""
    x, groups = torch.zeros(1, 1, input_size, input_size), []
    was = model.training
    model.eval()
    with torch.no_grad():
        for layer in [*model.features, *model.classifier]:
            x = layer(x)
            kind = type(layer).__name__
            if kind not in _KINDS:
                continue
            label, colour = _KINDS[kind]
            k = np.ravel(getattr(layer, "kernel_size", 0))[0]
            shape = "@".join([str(x.shape[1]), "×".join(map(str, x.shape[2:]))]).strip("@")
            if kind in ("Conv2d", "Linear", "AvgPool2d", "MaxPool2d"):
                groups.append([])
            groups[-1].append((label.format(k=k), colour, shape))
    model.train(was)
    return groups


def plot_plans(models: dict, input_size: int = 28):
    """The layer plans of LeNet-5 variants (``{name: model}``), one row each, stage under stage:
    a box per layer (blue: convolution or linear, green: activation, orange: pooling, purple:
    batch norm), with each stage's output shape below it. Returns the figure."""
    plans = {name: _stages(m, input_size) for name, m in models.items()}
    widths = [max(len(p[i]) for p in plans.values()) for i in range(7)]
    # Narrow gaps and a narrow name column keep the boxes wide enough for 9 px labels once
    # the figure is shrunk to the text column; write long names over two lines ("a\nb").
    starts = np.concatenate([[0], np.cumsum(np.add(widths, 0.35))])
    fig, ax = plt.subplots(figsize=(0.52 * (starts[-1] + 1.5), 1.45 * len(plans) + 0.4))
    for row, (name, plan) in enumerate(plans.items()):
        y = -1.45 * row
        ax.text(-0.2, y, name, ha="right", va="center", fontsize=8.6, weight="bold")
        for i, stage in enumerate(plan):
            for j, (label, colour, _) in enumerate(stage):
                ax.add_patch(plt.Rectangle((starts[i] + j, y - 0.45), 0.9, 0.9, fc=colour,
                                           alpha=0.85, ec="white"))  # fmt: skip
                ax.text(starts[i] + j + 0.45, y, label, ha="center", va="center", fontsize=8.6,
                        color="white")  # fmt: skip
            ax.text(starts[i] + len(stage) * 0.5 - 0.05, y - 0.62, stage[-1][2], ha="center",
                    va="top", fontsize=8.6)  # fmt: skip
    for i, stage_name in enumerate(["C1", "S2", "C3", "S4", "C5", "F6", "output"]):
        ax.text(starts[i] + widths[i] / 2 - 0.05, 0.62, stage_name, ha="center", fontsize=8.6)
    ax.set_xlim(-1.5, starts[-1] - 0.25)
    ax.set_ylim(-1.45 * (len(plans) - 1) - 1.0, 0.95)
    ax.axis("off")
    return fig


def plot_feature_maps(maps: dict, image, title=""):
    """One digit through LeNet-5 (``maps`` from
    :func:`dlbook.experiments.lenet_pytorch.feature_maps`): the input, C1's 6 maps,
    C3's 16 maps, C5's 120 numbers (as a 10x12 block), F6's 84 (7x12) and the probabilities."""
    fig = plt.figure(figsize=(10.5, 2.7))
    grid = fig.add_gridspec(1, 6, width_ratios=[1, 1.45, 1.45, 1, 1, 1.3], wspace=0.25)
    panels = [
        ("input", np.asarray(image)[0], "gray_r"),
        ("C1: 6 maps 28×28", mosaic(maps["C1"], 2), "RdBu_r"),
        ("C3: 16 maps 10×10", mosaic(maps["C3"], 4), "RdBu_r"),
        ("C5: 120 numbers", maps["C5"].reshape(10, 12), "RdBu_r"),
        ("F6: 84 numbers", maps["F6"].reshape(7, 12), "RdBu_r"),
    ]
    for i, (name, a, cmap) in enumerate(panels):
        ax = fig.add_subplot(grid[i])
        v = np.nanmax(np.abs(a)) or 1.0
        ax.imshow(a, cmap=cmap, vmin=0 if i == 0 else -v, vmax=v)
        ax.set_title(name, fontsize=10)
        ax.axis("off")
    ax = fig.add_subplot(grid[5])
    ax.barh(range(10), maps["p"], color="C0")
    ax.set(yticks=range(10), xlim=(0, 1), xlabel="probability")
    ax.invert_yaxis()
    ax.set_title("softmax output", fontsize=10)
    fig.suptitle(title, fontsize=10, y=1.02)
    return fig


def training_animation(model, states, x, y, device=None, dpi=72):
    """One frame per recorded state (``states`` from
    :func:`dlbook.experiments.lenet_pytorch.watch_epochs`, epoch 0 first): C1's
    six 5x5 filters, the test-set mistakes as a confusion matrix with its diagonal blanked, and
    the test accuracy so far. Returns the ``FuncAnimation`` (show it with ``to_html``)."""
    from dlbook.metrics import confusion_matrix

    if not 1 <= len(states) <= 40:
        raise ValueError(f"states: 1 to 40 frames keep the page light, got {len(states)}")
    preds = replay(model, states, x, device)
    # the error, floored at a tenth of one image so that a perfect epoch stays on a log axis
    err = np.maximum(100 * (preds != np.asarray(y)).mean(1), 10 / len(y))
    cms = [confusion_matrix(y, p, labels=range(10)) * (1 - np.eye(10, dtype=int)) for p in preds]
    cap = max(1, max(cm.max() for cm in cms[1:]) if len(cms) > 1 else cms[0].max())
    filters = [s["features.0.weight"][:, 0].numpy() for s in states]
    fig = plt.figure(figsize=(9.0, 2.9), dpi=dpi)
    grid = fig.add_gridspec(1, 3, width_ratios=[1.1, 1.15, 1.25], wspace=0.35)
    ax_f, ax_c, ax_a = (fig.add_subplot(grid[i]) for i in range(3))
    # the artists are made once and updated per frame: redrawing from scratch costs 3x the time
    im_f = ax_f.imshow(mosaic(filters[0], 3), cmap="RdBu_r")
    ax_f.axis("off")
    ax_f.text(0.5, 1.03, "C1's six 5×5 filters", transform=ax_f.transAxes, ha="center", fontsize=9)
    im_c = ax_c.imshow(cms[0], cmap="Reds", vmin=0, vmax=cap)
    texts = {ij: ax_c.text(ij[1], ij[0], "", ha="center", va="center", fontsize=9)
             for ij in np.ndindex(10, 10)}  # fmt: skip
    ax_c.set(xticks=range(10), yticks=range(10), xlabel="predicted", ylabel="true")
    ax_c.tick_params(labelsize=9)
    (line,) = ax_a.semilogy([], [], "o-", ms=3, color="C0")
    ax_a.set(xlim=(-0.5, len(states) - 0.5), ylim=(0.7 * err.min(), 150), xlabel="epoch",
             ylabel="test error (%, log scale)")  # fmt: skip
    ax_a.yaxis.set_minor_locator(plt.NullLocator())  # tick labels cost most of a frame's time
    ax_a.set_yticks([1, 10, 100], ["1", "10", "100"])
    ax_a.set_xticks(range(0, len(states), 2))
    ax_a.grid(alpha=0.3)
    # titles as plain text: an axes title is re-placed around the tick labels on every draw
    title_c, title_a = (ax.text(0.5, 1.03, "", transform=ax.transAxes, ha="center", fontsize=9)
                        for ax in (ax_c, ax_a))  # fmt: skip

    def draw(e):
        v = np.abs(filters[e]).max()
        im_f.set_data(mosaic(filters[e], 3))
        im_f.set_clim(-v, v)
        im_c.set_data(np.minimum(cms[e], cap))
        for (i, j), t in texts.items():
            t.set_text(str(cms[e][i, j]) if cms[e][i, j] else "")
            t.set_color("white" if cms[e][i, j] > cap / 2 else "black")
        title_c.set_text(f"mistakes on the test set: {int(cms[e].sum())}")
        line.set_data(np.arange(e + 1), err[: e + 1])
        title_a.set_text(f"epoch {e}: test accuracy {100 - err[e]:.1f}%")
        return [im_f, im_c, line, title_c, title_a, *texts.values()]

    draw(0)
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.16, top=0.88)
    return FuncAnimation(fig, draw, frames=len(states), interval=600)


def _predict_all(models, images, device=None):
    """``{name: (labels (N,), probabilities of those labels (N,))}`` for each model."""
    out = {}
    for name, m in models.items():
        p = predict_proba(m, images, device)
        out[name] = (p.argmax(1), p.max(1))
    return out


def plot_shift_grid(models: dict, image, label, dxs=(-4, -2, 0, 2, 4), dys=(-4, 0, 4)):
    """One digit ``(1, H, W)`` moved by every ``(dy, dx)`` pair, each copy titled with every
    model's prediction and its probability; a red title marks a wrong answer."""
    moved = np.stack([shift(image, dy, dx) for dy in dys for dx in dxs])
    preds = _predict_all(models, moved)
    fig, axes = plt.subplots(len(dys), len(dxs), figsize=(1.6 * len(dxs), 1.85 * len(dys)),
                             squeeze=False)  # fmt: skip
    for n, ax in enumerate(axes.flat):
        r, c = divmod(n, len(dxs))
        ax.imshow(moved[n, 0], cmap="gray_r", vmin=0, vmax=1)
        wrong = any(lab[n] != label for lab, _ in preds.values())
        text = "\n".join(f"{name}: {lab[n]} ({p[n]:.0%})" for name, (lab, p) in preds.items())
        ax.set_title(text, fontsize=9, color="C3" if wrong else "black")
        ax.set_xticks([])
        ax.set_yticks([])
        if r == len(dys) - 1:
            ax.set_xlabel(f"right {dxs[c]:+d}", fontsize=9)
        if c == 0:
            ax.set_ylabel(f"down {dys[r]:+d}", fontsize=9)
    fig.tight_layout()
    return fig


def explorer_figure(models: dict, image, label: int):
    """One digit ``(1, H, W)`` beside every model's ten class probabilities (one bar group a
    class, one bar colour a model); the legend names each model's answer."""
    preds = {name: predict_proba(m, image[None])[0] for name, m in models.items()}
    fig, (ax_i, ax_p) = plt.subplots(1, 2, figsize=(6.6, 2.5), width_ratios=[1, 2])
    ax_i.imshow(image[0], cmap="gray_r", vmin=0, vmax=1)
    ax_i.set_title(f"true label {label}", fontsize=9)
    ax_i.axis("off")
    width = 0.8 / len(preds)
    for k, (name, p) in enumerate(preds.items()):
        ax_p.bar(np.arange(10) + (k - (len(preds) - 1) / 2) * width, p, width,
                 label=f"{name}: says {p.argmax()} ({p.max():.0%})")  # fmt: skip
    ax_p.set(xticks=range(10), ylim=(0, 1.05), xlabel="class", ylabel="probability")
    ax_p.legend(fontsize=9, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False)
    fig.tight_layout()
    return fig


def explorer(models: dict, x, y, index: int = 0):
    """An ipywidgets panel: pick a test digit from ``x`` ``(N, 1, H, W)``, move it right and
    down by up to 6 pixels, and see each model's class probabilities (:func:`explorer_figure`).
    The figure is a PNG widget value, so the panel works the same in JupyterLab and in an
    executed notebook."""
    import ipywidgets as widgets

    if not 0 <= index < len(x):
        raise ValueError(f"index must be in [0, {len(x)}), got {index}")
    w_i = widgets.IntSlider(value=index, min=0, max=len(x) - 1, description="test digit")
    w_dx = widgets.IntSlider(value=0, min=-6, max=6, description="right")
    w_dy = widgets.IntSlider(value=0, min=-6, max=6, description="down")

    def draw():
        moved = shift(x[w_i.value], w_dy.value, w_dx.value)
        fig = explorer_figure(models, moved, int(y[w_i.value]))
        return figure_png(fig, bbox_inches="tight")

    # The static grid: the digit shown, moved 4 pixels each way (the chapter's shift test).
    grid = {w_i: [index], w_dx: [-4, 0, 4], w_dy: [-4, 0, 4]}
    return make_explorer([w_i, [w_dx, w_dy]], draw, grid=grid)
