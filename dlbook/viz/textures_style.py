"""Figures, the animation and the explorer of the textures-and-style chapter.

They draw images, Gram matrices and losses that :mod:`dlbook.experiments.textures_style`
computed; nothing here optimizes or measures.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import FuncAnimation

from dlbook.viz.common import make_explorer

__all__ = [
    "gram_figure",
    "synthesis_figure",
    "layers_figure",
    "style_figure",
    "synthesis_animation",
    "explorer",
]


def _show(ax, image, title=None):
    ax.imshow(image, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=10)


def _loss_axes(ax, title="Gram loss (sum over layers)"):
    ax.set_yscale("log")
    ax.set_xlabel("L-BFGS evaluation")
    ax.set_ylabel("relative Gram loss")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, which="both")


def gram_figure(images, grams, distances=None):
    """Images (top row) and one layer's Gram matrix (bottom row): the first image's itself, and
    for every other image its difference from the first one's, on one symmetric colour scale.
    ``images`` and ``grams`` are dicts keyed by a title; ``distances`` (optional, same keys)
    writes each relative Gram distance to the first image under it."""
    names = list(images)
    fig, axes = plt.subplots(2, len(names), figsize=(1.9 * len(names), 4.4), squeeze=False)
    ref = np.asarray(grams[names[0]])
    diffs = {n: np.asarray(grams[n]) - ref for n in names[1:]}
    top = max([float(np.abs(d).max()) for d in diffs.values()] + [1e-12])
    for k, name in enumerate(names):
        _show(axes[0, k], images[name], name)
        ax = axes[1, k]
        if k == 0:
            ax.imshow(ref, cmap="viridis")
            ax.set_title("its Gram matrix G", fontsize=9)
        else:
            ax.imshow(diffs[name], cmap="RdBu_r", vmin=-top, vmax=top)
            ax.set_title("G minus the first G", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        if distances is not None and k:
            d = distances[name]
            ax.set_xlabel(f"distance {d:.1e}" if d < 0.01 else f"distance {d:.2f}", fontsize=9)
    fig.tight_layout()
    return fig


def synthesis_figure(sources, runs):
    """Each texture (top row) beside the image synthesized from noise by matching its Gram
    matrices (middle row), and every run's loss against the evaluations, on a log scale
    (bottom). ``sources`` and ``runs`` are dicts keyed by the texture's name."""
    names = list(sources)
    fig = plt.figure(figsize=(2.2 * len(names) + 0.4, 7.4))
    grid = fig.add_gridspec(3, len(names), height_ratios=(1, 1, 1.1))
    for k, name in enumerate(names):
        _show(fig.add_subplot(grid[0, k]), sources[name], f"{name}: the texture")
        _show(fig.add_subplot(grid[1, k]), runs[name]["image"], "synthesized")
    ax = fig.add_subplot(grid[2, :])
    for k, name in enumerate(names):
        loss = runs[name]["style_loss"]
        ax.plot(np.arange(len(loss)), loss, color=f"C{k}", label=name)
    _loss_axes(ax)
    ax.legend(fontsize=9)
    fig.tight_layout()
    return fig


def layers_figure(source, images, losses):
    """A texture, the images synthesized by matching the Gram matrices of different sets of
    layers (``images``: title → image), and (right) each image's Gram loss at every layer,
    log scale (``losses``: title → per-layer losses)."""
    ratios = [1] * (len(images) + 1) + [1.6]
    fig, axes = plt.subplots(1, len(images) + 2, figsize=(2.0 * (len(images) + 1) + 2.8, 2.9),
                             gridspec_kw=dict(width_ratios=ratios))  # fmt: skip
    _show(axes[0], source, "the texture")
    bar = axes[-1]
    width = 0.8 / len(images)
    for k, (name, image) in enumerate(images.items()):
        _show(axes[k + 1], image, name)
        loss = np.asarray(losses[name])
        bar.bar(np.arange(len(loss)) + (k - (len(images) - 1) / 2) * width, loss, width,
                color=f"C{k}", label=name)  # fmt: skip
    bar.set_yscale("log")
    bar.set_xticks(np.arange(len(loss)), [f"layer {i + 1}" for i in range(len(loss))])
    bar.set_ylabel("relative Gram loss")
    bar.set_title("Gram loss per layer", fontsize=10)
    bar.legend(fontsize=9)
    fig.tight_layout()
    return fig


def style_figure(content, style, results, losses=None):
    """Style transfer: the content photograph, the style texture, and the result for every style
    weight (``results``: weight → image). ``losses`` (weight → (style loss, content loss)) adds
    both losses under each result."""
    n = len(results) + 2
    fig, axes = plt.subplots(1, n, figsize=(2.0 * n, 2.9))
    _show(axes[0], content, "content")
    _show(axes[1], style, "style")
    for ax, (w, image) in zip(axes[2:], results.items()):
        _show(ax, image, f"style weight {w:g}")
        if losses is not None:
            s, c = losses[w]
            ax.set_xlabel(f"style {s:.2g}\ncontent {c:.2f}", fontsize=9)
    fig.tight_layout()
    return fig


def synthesis_animation(source, run, dpi=72, interval=700):
    """One synthesis, frame by frame: the texture, the image at each stored evaluation
    (``run["frames"]``), and the loss so far. Returns a ``FuncAnimation``."""
    steps = sorted(run["frames"])
    loss = run["style_loss"]
    fig, axes = plt.subplots(1, 3, figsize=(6.6, 2.6), dpi=dpi,
                             gridspec_kw=dict(width_ratios=(1, 1, 1.5)))  # fmt: skip
    _show(axes[0], source, "the texture")
    _show(axes[1], run["frames"][steps[0]], " ")
    image = axes[1].images[0]
    (line,) = axes[2].plot([], [], color="C0")
    axes[2].set_xlim(0, len(loss) - 1)
    axes[2].set_ylim(loss.min() / 2, loss.max() * 2)
    _loss_axes(axes[2], "Gram loss")
    fig.tight_layout()

    def update(i):
        step = steps[i]
        image.set_data(run["frames"][step])
        axes[1].set_title(f"after {step} evaluations", fontsize=10)
        line.set_data(np.arange(step + 1), loss[: step + 1])
        return []

    update(0)
    return FuncAnimation(fig, update, frames=len(steps), interval=interval, blit=False)


def _png(images, scale=3, gap=12):
    """Grey images in [0, 1], enlarged ``scale`` times (nearest), side by side: PNG bytes."""
    import io

    from PIL import Image

    big = [np.kron(np.clip(im, 0, 1), np.ones((scale, scale))) for im in images]
    h = max(b.shape[0] for b in big)
    row = np.ones((h, sum(b.shape[1] for b in big) + gap * (len(big) - 1)))
    x = 0
    for b in big:
        row[: b.shape[0], x : x + b.shape[1]] = b
        x += b.shape[1] + gap
    buf = io.BytesIO()
    Image.fromarray((255 * row).round().astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def explorer(sources, runs, steps=None, name=None, step=None):
    """An ipywidgets panel over stored syntheses: choose the texture and the evaluation, and see
    the texture (left) beside the image at that evaluation (right), with its Gram loss. It
    offers ``steps`` (default: every evaluation stored in every run's ``frames``)."""
    import ipywidgets as widgets

    names = list(runs)
    stored = set.intersection(*(set(r["frames"]) for r in runs.values()))
    steps = sorted(stored if steps is None else steps)
    missing = sorted(set(steps) - stored)
    if missing:
        raise ValueError(f"steps {missing} are not stored in every run's frames")
    w_name = widgets.ToggleButtons(options=names, value=name or names[0], description="texture")
    w_step = widgets.SelectionSlider(options=steps, value=steps[-1] if step is None else step,
                                     description="evaluation")  # fmt: skip

    def draw():
        run, step = runs[w_name.value], w_step.value
        loss = run["style_loss"]
        html = (f"<pre>{w_name.value}: the texture (left), the image after {step} L-BFGS "
                f"evaluations (right); Gram loss {loss[step]:.3g} "
                f"(start {loss[0]:.3g})</pre>")  # fmt: skip
        return html, _png([sources[w_name.value], run["frames"][step]])

    return make_explorer([[w_name], [w_step]], draw, info=True)
