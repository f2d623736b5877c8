"""Pictures for Why convolution: parameter counts, a shift carried through a convolution, and how
much a small network's output moves when its input is shifted."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import FuncAnimation

from dlbook.experiments.why_convolution import layer_parameters, shift
from dlbook.scratch import conv2d
from dlbook.viz.common import make_explorer

__all__ = [
    "parameters_figure",
    "equivariance_figure",
    "shift_animation",
    "sensitivity_figure",
    "explorer",
]

_COLOURS = {"dense": "tab:red", "locally connected": "tab:orange", "convolution": "tab:blue"}


def parameters_figure(sides=(8, 16, 32, 64, 128, 224), in_channels=3, out_channels=64, k=3):
    """Weights of a dense, a locally connected and a convolutional layer that map a
    ``side × side × in_channels`` image to ``out_channels`` feature maps, against the side."""
    fig, ax = plt.subplots(figsize=(6, 3.4))
    counts = [layer_parameters(s, s, in_channels, out_channels, k) for s in sides]
    for name, colour in _COLOURS.items():
        ax.plot(sides, [c[name] for c in counts], "o-", color=colour, label=name)
    ax.set(xscale="log", yscale="log", xlabel="image side (pixels)", ylabel="parameters")
    ax.set_xticks(sides, [str(s) for s in sides])
    ax.minorticks_off()
    ax.set_title(f"{in_channels} → {out_channels} channels, {k}×{k} windows", fontsize=10)
    ax.legend(fontsize=9)
    fig.tight_layout()
    return fig


def _maps(x, weight, d, padding):
    """x, conv(x), shift(x), conv(shift(x)) and |conv(shift(x)) - shift(conv(x))| for one
    ``(H, W)`` image and ``(kH, kW)`` kernel, shifted right by ``d``."""
    conv = lambda a: conv2d(a[None, None], weight[None, None], padding=padding)[0, 0]  # noqa: E731
    moved = shift(x, 0, d)
    out, out_moved = conv(x), conv(moved)
    return x, out, moved, out_moved, np.abs(out_moved - shift(out, 0, d))


_TITLES = ["$x$", "conv$(x)$", "shift$(x)$", "conv(shift$(x)$)", "|conv(shift) − shift(conv)|"]


def equivariance_figure(x, weight, d=6, padding=1):
    """Five panels: the image, its convolution, the shifted image, the convolution of that,
    and where the last differs from the shifted convolution (only at the borders)."""
    maps = _maps(np.asarray(x, float), np.asarray(weight, float), d, padding)
    fig, axes = plt.subplots(1, 5, figsize=(10, 2.6))
    lim = np.abs(maps[1]).max()
    for k, (ax, m, title) in enumerate(zip(axes, maps, _TITLES)):
        kw = dict(cmap="gray") if k in (0, 2) else dict(cmap="RdBu_r", vmin=-lim, vmax=lim)
        ax.imshow(m, **(dict(cmap="magma", vmin=0, vmax=lim) if k == 4 else kw))
        ax.set_title(title, fontsize=9)
        ax.set_xticks([]), ax.set_yticks([])
    fig.tight_layout()
    return fig


def shift_animation(x, weight, shifts=range(0, 9), padding=1, interval=500, dpi=72):
    """The image moving right one pixel a frame, its convolution moving with it, and the
    difference from the shifted convolution of the unmoved image, which stays zero except in
    the columns where zeros came in and at the padded border."""
    x, weight = np.asarray(x, float), np.asarray(weight, float)
    shifts = list(shifts)
    frames = [_maps(x, weight, d, padding) for d in shifts]
    lim = np.abs(frames[0][1]).max()
    fig, axes = plt.subplots(1, 3, figsize=(8, 3), dpi=dpi)
    images = [
        axes[0].imshow(frames[0][2], cmap="gray"),
        axes[1].imshow(frames[0][3], cmap="RdBu_r", vmin=-lim, vmax=lim),
        axes[2].imshow(frames[0][4], cmap="magma", vmin=0, vmax=lim),
    ]
    for ax, title in zip(axes, _TITLES[2:]):
        ax.set_title(title, fontsize=10)
        ax.set_xticks([]), ax.set_yticks([])
    head = fig.suptitle("", fontsize=10)

    def draw(t):
        for image, m in zip(images, frames[t][2:]):
            image.set_data(m)
        head.set_text(f"shift by {shifts[t]} px: the output moves with the input")
        return images

    fig.tight_layout(rect=(0, 0, 1, 0.92))
    draw(0)
    return FuncAnimation(fig, draw, frames=len(shifts), interval=interval, blit=False)


def sensitivity_figure(results):
    """``results``: ``{head: shift_sensitivity(...)}``. Left: the mean relative change of the
    logits against the shift; right: the accuracy on the shifted test digits."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(8.4, 3.2))
    names = {"gap": "global average pooling", "flatten": "flatten + linear"}
    for head, r in results.items():
        d = sorted(r)
        a.plot(d, [r[k]["change"] for k in d], "o-", label=names.get(head, head))
        b.plot(d, [r[k]["accuracy"] for k in d], "o-", label=names.get(head, head))
    a.set(xlabel="shift (pixels)", ylabel="relative change of the logits")
    b.set(xlabel="shift (pixels)", ylabel="test accuracy (%)", ylim=(0, 100))
    for ax in (a, b):
        ax.set_xticks(d)
        ax.axvline(4, color="0.7", lw=0.8, ls="--")
        ax.legend(fontsize=9)
    a.set_title("how far the output moves", fontsize=10)
    b.set_title("dashed: the trunk's total stride", fontsize=10)
    fig.tight_layout()
    return fig


def explorer(model, image, layers=None, shifts=(0, 1, 2, 4)):
    """Shift a ``(1, H, W)`` image and follow the shift through ``model`` (an ``nn.Sequential``):
    at the chosen layer, the channel-mean feature map of the image, of the shifted image, and
    the difference from the best whole-pixel shift of the first."""
    import ipywidgets as widgets
    import torch

    layers = layers or {"conv 1 (stride 1)": (3, 1), "pool 1 (stride 2)": (4, 2),
                        "pool 2 (stride 4)": (8, 4)}  # fmt: skip
    w_shift = widgets.ToggleButtons(options=list(shifts), value=shifts[1], description="shift")
    w_layer = widgets.ToggleButtons(options=list(layers), description="layer")
    image = np.asarray(image, np.float32)

    def features(a, depth):
        with torch.no_grad():
            return model[:depth](torch.as_tensor(a[None])).mean(1).numpy()

    def draw():
        depth, stride = layers[w_layer.value]
        d = w_shift.value
        base, moved = features(image, depth)[0], features(shift(image, 0, d), depth)[0]

        def error(q):  # relative error of a q-pixel shift, on the columns that see the image
            want = shift(base, 0, q)[:, q:]
            return np.linalg.norm(moved[:, q:] - want) / max(np.linalg.norm(want), 1e-12)

        q = min({d // stride, -(-d // stride)}, key=error)
        err, diff = error(q), np.abs(moved - shift(base, 0, q))
        fig, axes = plt.subplots(1, 3, figsize=(6.3, 2.3))
        lim = max(np.abs(base).max(), 1e-9)
        panels = [(base, "feature map of $x$"), (moved, f"of shift$(x)$ by {d} px"),
                  (diff, f"|difference| from a {q} px shift")]  # fmt: skip
        for ax, (m, title) in zip(axes, panels):
            ax.imshow(m, cmap="magma", vmin=0, vmax=lim)
            ax.set_title(title, fontsize=9)
            ax.set_xticks([]), ax.set_yticks([])
        fig.subplots_adjust(left=0.02, right=0.98, bottom=0.03, top=0.86, wspace=0.08)
        html = (f"<pre>{w_layer.value}: relative error of the best whole-pixel shift "
                f"(channel mean) {err:.3f}</pre>")  # fmt: skip
        return html, fig

    return make_explorer([[w_shift], [w_layer]], draw, info=True)
