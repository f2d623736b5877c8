"""The "LeNet-5 in PyTorch" chapter's explorer: move a test digit and watch each trained model's
class probabilities (:func:`explorer`, built on :func:`dlbook.viz.common.make_explorer`)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from dlbook.experiments.lenet_pytorch import predict_proba, shift
from dlbook.viz.common import figure_png, make_explorer

__all__ = ["explorer", "explorer_figure"]


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
    ax_p.legend(fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False)
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

    return make_explorer([w_i, [w_dx, w_dy]], draw)
