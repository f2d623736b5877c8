"""Looking inside LeNet-5: its layer plan, learned filters, feature maps, learning curves,
mistakes, and an explorer, for the two LeNet chapters.

Every function takes either a NumPy network (:func:`dlbook.scratch.nets.lenet5`, a
:class:`dlbook.scratch.layers.Sequential`) or a PyTorch one (:class:`dlbook.nets.LeNet5` or
:class:`~dlbook.nets.LeNet5Modern`), and arrays either as NumPy or as torch tensors. Layers are
grouped into the paper's stages: a convolution, pooling or linear layer starts a stage (C1, S2,
C3, S4, C5, F6, output) and the activation, normalization or flatten layers after it belong to
it, so ``stages(model, x)["C1"]`` is C1's squashed output, the maps that S2 sees.
"""

from __future__ import annotations

from typing import NamedTuple

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import FuncAnimation
from matplotlib.patches import Rectangle

from dlbook.viz.common import make_explorer

__all__ = [
    "PAPER_NAMES", "Step", "as_numpy", "activations", "stages", "probabilities", "layer_table",
    "architecture_diagram", "mosaic", "show_filters", "feature_map_grid", "learning_curves",
    "confident_mistakes", "show_mistakes", "FilterRecorder", "filter_animation", "digit_panel",
    "explorer_grid", "explorer",
]  # fmt: skip

PAPER_NAMES = ("C1", "S2", "C3", "S4", "C5", "F6", "output")
_STARTS = {"Conv2d": "convolve", "AvgPool2d": "subsample", "MaxPool2d": "subsample",
           "Linear": "full"}  # fmt: skip


class Step(NamedTuple):
    """One layer's output for a batch: its stage, class name, output ``(N, ...)``, parameters."""

    stage: str
    kind: str
    output: np.ndarray
    params: int


def as_numpy(a) -> np.ndarray:
    """A NumPy array from an array, a list or a torch tensor (detached, on the CPU)."""
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    return np.asarray(a)


def _is_torch(model) -> bool:
    return hasattr(model, "named_modules")


def _layers(model, x):
    """``(kind, output, params)`` for every leaf layer, in the order they run."""
    if not _is_torch(model):
        was, out, x = model.training, [], as_numpy(x).astype(model.params[0].dtype)
        model.eval()
        for layer in model.layers:
            x = layer(x)
            out.append((type(layer).__name__, x, sum(p.size for p in layer.params)))
        model.train(was)
        return out
    import torch

    out, p = [], next(model.parameters())
    leaves = [m for m in model.modules() if not list(m.children())]
    hooks = [m.register_forward_hook(lambda m, i, o: out.append((m, o))) for m in leaves]
    was = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.as_tensor(as_numpy(x), dtype=p.dtype, device=p.device))
    finally:
        model.train(was)
        for h in hooks:
            h.remove()
    return [(type(m).__name__, as_numpy(o), sum(q.numel() for q in m.parameters(recurse=False)))
            for m, o in out]  # fmt: skip


def activations(model, x) -> list[Step]:
    """Run ``x`` ``(N, C, H, W)`` through ``model`` in evaluation mode; one :class:`Step` per
    leaf layer. Stages take the paper's names when the model has LeNet-5's seven stages, else
    ``"0"``, ``"1"``, ..."""
    rows = _layers(model, x)
    starts = [i for i, (kind, _, _) in enumerate(rows) if kind in _STARTS]
    names = PAPER_NAMES if len(starts) == len(PAPER_NAMES) else [str(i) for i in starts]
    steps, stage = [], "input"
    for i, (kind, out, params) in enumerate(rows):
        stage = names[starts.index(i)] if i in starts else stage
        steps.append(Step(stage, kind, out, params))
    return steps


def stages(model, x) -> dict[str, np.ndarray]:
    """``{stage: output of its last layer}``, e.g. ``"C1"``: ``(N, 6, 28, 28)`` after the tanh."""
    return {s.stage: s.output for s in activations(model, x)}


def probabilities(model, x) -> np.ndarray:
    """Softmax of the model's outputs for ``x`` ``(N, C, H, W)``: ``(N, classes)``."""
    z = list(stages(model, x).values())[-1].astype(np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def layer_table(model, input_shape=(1, 28, 28)) -> list[tuple]:
    """Rows ``(stage, layer, output shape, parameters)`` for one input of ``input_shape``; the
    stage is named on its first layer only. The first row is the input."""
    rows, seen = [("input", "", tuple(input_shape), 0)], set()
    for s in activations(model, np.zeros((1, *input_shape), np.float32)):
        rows.append(("" if s.stage in seen else s.stage, s.kind, s.output.shape[1:], s.params))
        seen.add(s.stage)
    return rows


def architecture_diagram(model, image, ax=None, maps=False):
    """The layer plan as stacks of planes, drawn to scale from the shapes the model computes on
    ``image`` ``(C, H, W)``, in the style of the paper's Figure 2: a plane of side ``n`` pixels
    is drawn ``n`` units wide, a vector of ``n`` numbers as a bar ``n/4`` units tall. The input
    plane shows the image; ``maps=True`` paints each stack's front plane with the first feature
    map too. Returns the axes."""
    image = as_numpy(image)
    steps = activations(model, image[None])
    outs = {s.stage: s.output[0] for s in steps}
    ops = [_STARTS[s.kind] for s in steps if s.kind in _STARTS]
    new, ax = ax is None, plt.subplots(figsize=(10, 3))[1] if ax is None else ax
    x0, gap, off = 0.0, 21.0, 1.6  # gaps wide enough for 9 px labels
    for i, (name, a) in enumerate([("INPUT", image), *outs.items()]):
        if a.ndim == 3 and a.shape[1] > 1:
            c, h = a.shape[0], a.shape[1]
            shown = min(c, 6)
            for j in reversed(range(shown)):
                x, y = x0 + off * j, -(h + off * (shown - 1)) / 2 + off * j
                ax.add_patch(Rectangle((x, y), h, h, fc="0.93", ec="0.35", lw=0.7, zorder=3 - j))
                if j == 0 and (maps or i == 0):
                    v = float(np.abs(a[0]).max()) or 1.0
                    ax.imshow(a[0], extent=(x, x + h, y, y + h), zorder=3.5,
                              **(dict(cmap="gray_r", vmin=0, vmax=v) if i == 0 else
                                 dict(cmap="RdBu_r", vmin=-v, vmax=v)))  # fmt: skip
                    ax.add_patch(Rectangle((x, y), h, h, fill=False, ec="0.35", lw=0.7, zorder=4))
            width, label = h + off * (shown - 1), f"{c}@{a.shape[1]}×{a.shape[2]}"
        else:
            n = a.size
            width, h = 2.0, n / 4
            ax.add_patch(Rectangle((x0, -h / 2), width, h, fc="0.85", ec="0.35", lw=0.7))
            label = f"{n}" + ("@1×1" if a.ndim == 3 else "")
        ax.text(x0 + width / 2, 22, name, ha="center", fontsize=10, weight="bold")
        ax.text(x0 + width / 2, -21, label, ha="center", va="top", fontsize=9)
        if i < len(ops):
            ax.text(x0 + width + gap / 2, 1.5, ops[i], ha="center", va="bottom", fontsize=9,
                    color="C3")  # fmt: skip
            ax.annotate("", xy=(x0 + width + gap - 1, 0), xytext=(x0 + width + 1, 0),
                        arrowprops=dict(arrowstyle="->", color="C3", lw=1.2))  # fmt: skip
        x0 += width + gap
    ax.set_xlim(-1, x0 - gap + 1)
    ax.set_ylim(-26, 27)
    ax.set_aspect("equal")
    ax.axis("off")
    if new:
        ax.figure.set_size_inches(10, 10 * 53 / (x0 - gap + 2) + 0.2)
    return ax


def mosaic(maps, ncols=None, pad=1) -> np.ndarray:
    """Tile ``(n, h, w)`` maps (or ``(rows, cols, h, w)``) into one image, NaN between tiles,
    so that one ``imshow`` draws them all. ``ncols`` defaults to ``n`` (one row)."""
    maps = as_numpy(maps).astype(np.float64)
    if maps.ndim == 3:
        n, h, w = maps.shape
        ncols = n if ncols is None else ncols
        if ncols < 1:
            raise ValueError(f"ncols must be >= 1, got {ncols}")
        rows = -(-n // ncols)
        full = np.full((rows * ncols, h, w), np.nan)
        full[:n] = maps
        maps = full.reshape(rows, ncols, h, w)
    if maps.ndim != 4:
        raise ValueError(f"maps must be (n, h, w) or (rows, cols, h, w), got {maps.shape}")
    r, c, h, w = maps.shape
    tiles = np.pad(maps, ((0, 0), (0, 0), (0, pad), (0, pad)), constant_values=np.nan)
    return tiles.transpose(0, 2, 1, 3).reshape(r * (h + pad), c * (w + pad))[
        : r * (h + pad) - pad, : c * (w + pad) - pad
    ]


def _signed(ax, image, vmax, title=None):
    """``image`` on a red-blue map centred on zero (white), without ticks."""
    ax.imshow(image, cmap="RdBu_r", vmin=-vmax, vmax=vmax)
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set(color="0.75", lw=0.5)
    if title:
        ax.set_title(title, fontsize=9)


def show_filters(weight, title=None, ax=None):
    """Convolution filters ``(out, in, kh, kw)`` (a NumPy array or a torch tensor): one column
    per output map, one row per input map, on one colour scale centred on zero. Returns the
    axes."""
    w = as_numpy(weight)
    if w.ndim != 4:
        raise ValueError(f"weight must be (out, in, kh, kw), got shape {w.shape}")
    o, i, kh, kw = w.shape
    if ax is None:
        _, ax = plt.subplots(figsize=(min(0.75 * o + 1, 10), 0.75 * i + 0.9))
    vmax = float(np.abs(w).max()) or 1.0
    im = ax.imshow(mosaic(w.transpose(1, 0, 2, 3)), cmap="RdBu_r", vmin=-vmax, vmax=vmax)
    ax.set_xticks((kw + 1) * np.arange(o) + (kw - 1) / 2, range(o))
    ax.set_yticks((kh + 1) * np.arange(i) + (kh - 1) / 2, range(i))
    ax.set_xlabel("output map")
    ax.set_ylabel("input map")
    ax.tick_params(length=0, labelsize=8)
    ax.figure.colorbar(im, ax=ax, shrink=0.8, pad=0.02)
    ax.set_title(title or f"{o}×{i} filters of size {kh}×{kw}", fontsize=10)
    return ax


def feature_map_grid(images, maps, title, ncols=None, vmax=None):
    """One row per image: the image ``(H, W)`` (or ``(1, H, W)``), then its feature maps
    ``(C, h, w)`` tiled ``ncols`` to a row. All maps share one colour scale. Returns the figure."""
    images = as_numpy(images).reshape(len(images), *np.shape(images)[-2:])
    maps = as_numpy(maps)
    if len(maps) != len(images):
        raise ValueError(f"maps: {len(maps)} sets of maps for {len(images)} images")
    tiles = [mosaic(m, ncols) for m in maps]
    vmax = vmax or float(np.nanmax(np.abs(tiles))) or 1.0
    ratio = tiles[0].shape[1] / tiles[0].shape[0]
    fig, axes = plt.subplots(len(images), 2, figsize=(1.3 + 1.2 * ratio, 1.25 * len(images)),
                             width_ratios=[1, ratio], squeeze=False)  # fmt: skip
    for (a, b), image, tile in zip(axes, images, tiles):
        a.imshow(image, cmap="gray_r")
        a.set_axis_off()
        _signed(b, tile, vmax)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def learning_curves(runs, target=None, title=None):
    """Loss (log scale) and accuracy (%) per epoch, train solid and test dashed.

    ``runs`` is a :class:`dlbook.train.History` (or anything with ``h["test_acc"]``) or a dict
    ``{label: history}`` to overlay several; ``target`` (a fraction) draws a budget line on the
    accuracy panel; ``title`` goes above both. Returns the figure.
    """
    runs = runs if isinstance(runs, dict) else {"": runs}
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.3))
    for k, (label, h) in enumerate(runs.items()):
        epochs = np.arange(1, len(h["test_acc"]) + 1)
        for part, ls in (("train", "-"), ("test", "--")):
            name = f"{label} {part}".strip()
            ax_loss.plot(epochs, h[f"{part}_loss"], ls, color=f"C{k}", marker=".", label=name)
            acc = 100 * np.asarray(h[f"{part}_acc"])
            ax_acc.plot(epochs, acc, ls, color=f"C{k}", marker=".", label=name)
    if target is not None:
        ax_acc.axhline(100 * target, color="0.4", lw=1, ls=":", label=f"budget {100 * target:g}%")
    ax_loss.set_yscale("log")
    ax_loss.set_ylabel("cross-entropy (log scale)")
    ax_acc.set_ylabel("accuracy (%)")
    for ax, what in ((ax_loss, "Loss"), (ax_acc, "Accuracy")):
        ax.set_xlabel("epoch")
        ax.set_title(f"{what} after each epoch", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=9)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def confident_mistakes(probs, y_true, k=None) -> np.ndarray:
    """Indices of the misclassified samples, the most confident (highest predicted probability)
    first; at most ``k``. ``probs`` is ``(N, classes)``, ``y_true`` ``(N,)``."""
    probs, y_true = as_numpy(probs), as_numpy(y_true)
    if probs.ndim != 2 or len(probs) != len(y_true):
        raise ValueError(f"probs must be (N, classes) for N={len(y_true)}, got {probs.shape}")
    wrong = np.flatnonzero(probs.argmax(1) != y_true)
    order = wrong[np.argsort(-probs[wrong].max(1), kind="stable")]
    return order if k is None else order[:k]


def show_mistakes(images, probs, y_true, idx, ncols=6, title=None):
    """The images ``idx``, each titled with its prediction, its probability and the truth (and
    the probability given to the truth). Returns the figure."""
    images, probs, y_true = as_numpy(images), as_numpy(probs), as_numpy(y_true)
    rows = max(1, -(-len(idx) // ncols))
    fig, axes = plt.subplots(rows, ncols, figsize=(1.5 * ncols, 1.75 * rows), squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for ax, i in zip(axes.flat, idx):
        p = probs[i]
        ax.imshow(images[i].reshape(images.shape[-2:]), cmap="gray_r")
        ax.set_title(f"#{i}: says {p.argmax()} ({100 * p.max():.0f}%)\ntrue {y_true[i]} "
                     f"({100 * p[y_true[i]]:.0f}%)", fontsize=9)  # fmt: skip
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


class FilterRecorder:
    """A training callback ``(epoch, model)`` that keeps a copy of the first convolution's
    filters (the model's first parameter) and, given ``image`` ``(C, H, W)``, that image's
    ``stage`` feature maps. Works for NumPy and torch models; it only looks."""

    def __init__(self, image=None, stage="C1"):
        self.image, self.stage = image, stage
        self.epochs, self.filters, self.maps = [], [], []

    def __call__(self, epoch, model):
        first = model.params[0] if not _is_torch(model) else next(model.parameters())
        self.epochs.append(epoch)
        self.filters.append(as_numpy(first).copy())
        if self.image is not None:
            self.maps.append(stages(model, as_numpy(self.image)[None])[self.stage][0])


def filter_animation(filters, maps=None, titles=None, dpi=72):
    """Filters ``(out, 1, kh, kw)`` per frame (a list), and optionally one image's feature maps
    ``(out, h, w)`` per frame below them, each row on one colour scale for all frames, so that
    growing weights look stronger. Returns a ``FuncAnimation`` with one frame per entry (show it
    with :func:`dlbook.viz.common.to_html`)."""
    filters = [as_numpy(f) for f in filters]
    if not 1 <= len(filters) <= 40:
        raise ValueError(f"filters: need 1 to 40 frames, got {len(filters)}")
    if maps is not None and len(maps) != len(filters):
        raise ValueError(f"maps: {len(maps)} frames for {len(filters)} frames of filters")
    o = filters[0].shape[0]
    rows = 1 if maps is None else 2
    fig, axes = plt.subplots(rows, o, figsize=(1.2 * o, 1.35 * rows + 0.3), dpi=dpi,
                             squeeze=False)  # fmt: skip
    wmax = max(float(np.abs(f).max()) for f in filters) or 1.0
    mmax = 1.0 if maps is None else max(float(np.abs(m).max()) for m in maps) or 1.0
    for j in range(o):
        _signed(axes[0, j], filters[0][j, 0], wmax, f"filter {j}")
        if maps is not None:
            _signed(axes[1, j], as_numpy(maps[0])[j], mmax, f"map {j}")

    def update(frame):
        for j in range(o):
            axes[0, j].images[0].set_data(filters[frame][j, 0])
            if maps is not None:
                axes[1, j].images[0].set_data(as_numpy(maps[frame])[j])
        fig.suptitle(titles[frame] if titles else f"frame {frame}", fontsize=10)
        return []

    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.03, top=1 - 0.55 / (1.35 * rows + 0.3),
                        wspace=0.1, hspace=0.35)  # fmt: skip
    update(0)
    return FuncAnimation(fig, update, frames=len(filters), interval=600, blit=False)


def digit_panel(fig, model, image, stage="C1", label=None, ncols=8, name="input"):
    """Into ``fig`` (a figure or subfigure): the image ``(C, H, W)``, its ``stage`` feature maps
    and the model's probabilities for the ten classes (the prediction in red, the true ``label``
    outlined). Returns the probabilities."""
    image = as_numpy(image)
    out = stages(model, image[None])
    if stage not in out or out[stage].ndim != 4:
        maps = [k for k, v in out.items() if v.ndim == 4]
        raise ValueError(f"stage must be one of {maps}, got {stage!r}")
    p = probabilities(model, image[None])[0]
    tile = mosaic(out[stage][0], ncols=min(ncols, len(out[stage][0])))
    a, b, c = fig.subplots(1, 3, width_ratios=[1, 2.6, 1.4])
    a.imshow(image[0], cmap="gray_r")
    a.set_axis_off()
    a.set_title(name + ("" if label is None else f" (true {label})"), fontsize=9)
    _signed(b, tile, float(np.nanmax(np.abs(tile))) or 1.0, f"{stage}: {out[stage].shape[1]} maps")
    colours = ["C3" if k == p.argmax() else "0.6" for k in range(len(p))]
    bars = c.bar(range(len(p)), p, color=colours)
    if label is not None:
        bars[int(label)].set_edgecolor("k")
        bars[int(label)].set_linewidth(1.5)
    c.set_xticks(range(len(p)))
    c.set_ylim(0, 1)
    c.tick_params(labelsize=7)
    c.set_title(f"says {p.argmax()} ({100 * p.max():.1f}%)", fontsize=9)
    return p


def explorer_grid(model, images, labels, picks):
    """The explorer's static stand-in: one :func:`digit_panel` row per ``(index, stage)`` in
    ``picks``. Returns the figure."""
    fig = plt.figure(figsize=(9, 2.1 * len(picks)), layout="constrained")
    for sub, (i, stage) in zip(np.atleast_1d(fig.subfigures(len(picks), 1)), picks):
        digit_panel(sub, model, images[i], stage, labels[i], name=f"#{i}")
    return fig


def explorer(model, images, labels, index=0, stage="C1"):
    """An ipywidgets panel: pick an image (slider) and a stage (dropdown) and see its feature
    maps and the prediction. The picture is a PNG widget value, not printed output, so the
    panel behaves the same in JupyterLab, in an executed notebook and under nbval. Returns the
    widget (display it)."""
    import ipywidgets as widgets

    spatial = [k for k, v in stages(model, as_numpy(images[:1])).items() if v.ndim == 4]
    w_i = widgets.IntSlider(value=index, min=0, max=len(images) - 1, description="image")
    w_s = widgets.Dropdown(options=spatial, value=stage, description="stage")

    def draw():
        fig = plt.figure(figsize=(9, 2.2), layout="constrained")
        i = w_i.value
        digit_panel(fig, model, images[i], w_s.value, labels[i], name=f"#{i}")
        return fig

    return make_explorer([[w_i, w_s]], draw, max_positions=12)  # a draw takes a quarter second
