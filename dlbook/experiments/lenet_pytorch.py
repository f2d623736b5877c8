"""What the "LeNet-5 in PyTorch" chapter needs beyond :mod:`dlbook.experiments.lenet_numpy`.

- :func:`watch_epochs` records the weights of the LeNet-5 that :func:`dlbook.train.fit` trains,
  before the first step and after every epoch, without changing the run (so the benchmark's own
  run, :func:`dlbook.experiments.lenet_numpy.train_torch`, can be watched); :func:`replay` turns the
  recorded weights into test-set predictions, epoch by epoch.
- :func:`shift` and :func:`shift_accuracy`: how much a trained LeNet cares where the digit is.
- :func:`feature_maps`: what each stage of a trained LeNet computes for one digit.
- Small figures for the chapter: :func:`plot_plans`, :func:`plot_feature_maps`,
  :func:`training_animation` and :func:`plot_shift_grid` (the widget is
  :func:`dlbook.viz.lenet_pytorch.explorer`).
"""

from __future__ import annotations

import copy
from contextlib import contextmanager

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.animation import FuncAnimation

from dlbook.nets import LeNet5, LeNet5Modern

__all__ = [
    "Snapshots", "watch_epochs", "replay", "weight_change", "shift", "shift_accuracy",
    "feature_maps", "predict_proba", "plot_plans", "plot_feature_maps", "training_animation",
    "plot_shift_grid",
]  # fmt: skip

_LENETS = (LeNet5, LeNet5Modern)


class Snapshots:
    """Weights (CPU copies of ``state_dict``) of one LeNet-5: ``states[0]`` before the first
    training step, ``states[e]`` after epoch ``e``."""

    def __init__(self):
        self.states: list[dict] = []
        self._model, self._mode = None, None

    def __call__(self, module, args):  # a forward pre-hook: before batch norm updates its buffers
        if not isinstance(module, _LENETS):
            return
        if self._model is None:
            self._model = module
        if module is not self._model:
            raise RuntimeError("watch_epochs: more than one LeNet-5 ran inside the block")
        mode = "train" if module.training else "eval"
        # fit runs the first training batch before any step, and evaluates after every epoch:
        # the first training forward starts from the initial state, the first evaluation after
        # training from the state at the end of the epoch.
        if mode == "train" and not self.states or mode == "eval" and self._mode == "train":
            self.states.append({k: v.detach().to("cpu", copy=True)
                                for k, v in module.state_dict().items()})  # fmt: skip
        self._mode = mode


@contextmanager
def watch_epochs():
    """``with watch_epochs() as snaps: train_torch(...)``: records the weights of the LeNet-5
    trained in the block (see :class:`Snapshots`) through a global forward pre-hook, which only
    reads the weights, so the run is the same as without it."""
    snaps = Snapshots()
    handle = torch.nn.modules.module.register_module_forward_pre_hook(snaps)
    try:
        yield snaps
    finally:
        handle.remove()


def weight_change(states) -> dict[str, float]:
    """How far each weight matrix moved between the first and the last of ``states``, relative
    to where it started: ``|W_last - W_first| / |W_first|`` (Frobenius norms), for the five
    convolution and linear weights, named by LeNet's stages (C1, C3, C5, F6, output)."""
    if len(states) < 2:
        raise ValueError(f"states: need at least 2 snapshots, got {len(states)}")
    first, last = states[0], states[-1]
    keys = [k for k, v in first.items() if k.endswith("weight") and v.ndim >= 2]
    names = ["C1", "C3", "C5", "F6", "output"]
    if len(keys) != len(names):
        raise ValueError(f"states: expected LeNet-5's 5 weight matrices, found {len(keys)}")
    return {n: float((last[k] - first[k]).norm() / first[k].norm()) for n, k in zip(names, keys)}


def _batches(model, x, device, batch_size=1000):
    """Logits of ``model`` (eval mode, no grad) for ``x`` ``(N, 1, H, W)``, as one CPU tensor."""
    was = model.training
    model.eval()
    with torch.no_grad():
        xt = torch.as_tensor(np.asarray(x), dtype=torch.float32)
        out = torch.cat([model(xt[i : i + batch_size].to(device)).cpu()
                         for i in range(0, len(xt), batch_size)])  # fmt: skip
    model.train(was)
    return out


def replay(model, states, x, device=None) -> np.ndarray:
    """Predicted labels ``(len(states), N)`` of ``model``'s architecture with each of ``states``
    loaded, for images ``x`` ``(N, 1, H, W)``. ``model`` itself is left untouched."""
    if not states:
        raise ValueError("states: nothing recorded (did fit run inside watch_epochs?)")
    net = copy.deepcopy(model).to(device or "cpu")
    out = []
    for state in states:
        net.load_state_dict(state)
        out.append(_batches(net, x, device or "cpu").argmax(1).numpy())
    return np.stack(out)


def predict_proba(model, x, device=None) -> np.ndarray:
    """Softmax probabilities ``(N, classes)`` for images ``x`` ``(N, 1, H, W)``; eval mode."""
    device = device or next(model.parameters()).device
    return torch.softmax(_batches(model, x, device), dim=1).numpy()


def shift(x, dy: int, dx: int) -> np.ndarray:
    """Images ``(..., H, W)`` moved ``dy`` pixels down and ``dx`` right; what moves in is 0 (the
    background), what moves out is lost (no wrap-around, unlike ``np.roll``)."""
    x = np.asarray(x)
    h, w = x.shape[-2:]
    if abs(dy) >= h or abs(dx) >= w:
        raise ValueError(f"shift (dy={dy}, dx={dx}) moves the image out of its {h}x{w} frame")
    out = np.zeros_like(x)
    out[..., max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = x[
        ..., max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    return out


def shift_accuracy(model, x, y, shifts=range(-4, 5), device=None) -> dict:
    """Test accuracy with every image moved by each of ``shifts`` pixels: ``{"right": (S,),
    "down": (S,)}``, one array per direction of motion."""
    y = np.asarray(y)
    device = device or next(model.parameters()).device
    acc = {"right": [], "down": []}
    for s in shifts:
        for name, (dy, dx) in (("right", (0, s)), ("down", (s, 0))):
            pred = _batches(model, shift(x, dy, dx), device).argmax(1).numpy()
            acc[name].append(float(np.mean(pred == y)))
    return {k: np.array(v) for k, v in acc.items()}


def feature_maps(model, image, device=None) -> dict[str, np.ndarray]:
    """What each stage of a LeNet-5 computes for one ``image`` ``(1, H, W)``: ``C1`` ``(6, 28,
    28)`` and ``C3`` ``(16, 10, 10)`` after their activation, ``S2``/``S4`` after pooling, ``C5``
    ``(120,)``, ``F6`` ``(84,)`` and the class probabilities ``p`` ``(10,)``. Eval mode."""
    if not isinstance(model, _LENETS):
        raise ValueError(f"model must be a LeNet5 or LeNet5Modern, got {type(model).__name__}")
    was, device = model.training, device or next(model.parameters()).device
    ends = (torch.nn.Conv2d, torch.nn.AvgPool2d, torch.nn.MaxPool2d)
    layers, names, out = list(model.features), iter(["C1", "S2", "C3", "S4", "C5"]), {}
    x = torch.as_tensor(np.asarray(image), dtype=torch.float32, device=device)[None]
    model.eval()
    with torch.no_grad():
        for i, layer in enumerate(layers):
            x = layer(x)
            # a stage ends where the next convolution or pooling layer begins
            if i + 1 == len(layers) or isinstance(layers[i + 1], ends):
                out[next(names)] = x[0].cpu().numpy()
        f6 = model.classifier[:-1](x)  # flatten, linear, activation (and dropout, off in eval)
        out["C5"] = out["C5"].reshape(-1)
        out["F6"] = f6[0].cpu().numpy()
        out["p"] = torch.softmax(model.classifier[-1](f6), 1)[0].cpu().numpy()
    model.train(was)
    return out


# ---- figures -------------------------------------------------------------------------------

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
    starts = np.concatenate([[0], np.cumsum(np.add(widths, 0.6))])
    fig, ax = plt.subplots(figsize=(0.52 * starts[-1] + 1.2, 1.45 * len(plans) + 0.4))
    for row, (name, plan) in enumerate(plans.items()):
        y = -1.45 * row
        ax.text(-0.4, y, name, ha="right", va="center", fontsize=9, weight="bold")
        for i, stage in enumerate(plan):
            for j, (label, colour, _) in enumerate(stage):
                ax.add_patch(plt.Rectangle((starts[i] + j, y - 0.45), 0.9, 0.9, fc=colour,
                                           alpha=0.85, ec="white"))  # fmt: skip
                ax.text(starts[i] + j + 0.45, y, label, ha="center", va="center", fontsize=6.5,
                        color="white")  # fmt: skip
            ax.text(starts[i] + len(stage) * 0.5 - 0.05, y - 0.62, stage[-1][2], ha="center",
                    va="top", fontsize=7.5)  # fmt: skip
    for i, stage_name in enumerate(["C1", "S2", "C3", "S4", "C5", "F6", "output"]):
        ax.text(starts[i] + widths[i] / 2 - 0.05, 0.62, stage_name, ha="center", fontsize=9)
    ax.set_xlim(-2.6, starts[-1])
    ax.set_ylim(-1.45 * (len(plans) - 1) - 1.0, 0.95)
    ax.axis("off")
    return fig


def _mosaic(maps, ncols):
    """``(K, h, w)`` maps tiled ``ncols`` wide with one NaN pixel between tiles."""
    k, h, w = maps.shape
    nrows = -(-k // ncols)
    out = np.full((nrows * (h + 1) - 1, ncols * (w + 1) - 1), np.nan)
    for i, m in enumerate(maps):
        r, c = divmod(i, ncols)
        out[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w] = m
    return out


def plot_feature_maps(maps: dict, image, title=""):
    """One digit through LeNet-5 (``maps`` from :func:`feature_maps`): the input, C1's 6 maps,
    C3's 16 maps, C5's 120 numbers (as a 10x12 block), F6's 84 (7x12) and the probabilities."""
    fig = plt.figure(figsize=(10.5, 2.7))
    grid = fig.add_gridspec(1, 6, width_ratios=[1, 1.45, 1.45, 1, 1, 1.3], wspace=0.25)
    panels = [
        ("input", np.asarray(image)[0], "gray_r"),
        ("C1: 6 maps 28×28", _mosaic(maps["C1"], 2), "RdBu_r"),
        ("C3: 16 maps 10×10", _mosaic(maps["C3"], 4), "RdBu_r"),
        ("C5: 120 numbers", maps["C5"].reshape(10, 12), "RdBu_r"),
        ("F6: 84 numbers", maps["F6"].reshape(7, 12), "RdBu_r"),
    ]
    for i, (name, a, cmap) in enumerate(panels):
        ax = fig.add_subplot(grid[i])
        v = np.nanmax(np.abs(a)) or 1.0
        ax.imshow(a, cmap=cmap, vmin=0 if i == 0 else -v, vmax=v)
        ax.set_title(name, fontsize=9)
        ax.axis("off")
    ax = fig.add_subplot(grid[5])
    ax.barh(range(10), maps["p"], color="C0")
    ax.set(yticks=range(10), xlim=(0, 1), xlabel="probability")
    ax.invert_yaxis()
    ax.set_title("softmax output", fontsize=9)
    fig.suptitle(title, fontsize=10, y=1.02)
    return fig


def training_animation(model, states, x, y, device=None, dpi=72):
    """One frame per recorded state (``states`` from :func:`watch_epochs`, epoch 0 first): C1's
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
    im_f = ax_f.imshow(_mosaic(filters[0], 3), cmap="RdBu_r")
    ax_f.axis("off")
    ax_f.text(0.5, 1.03, "C1's six 5×5 filters", transform=ax_f.transAxes, ha="center", fontsize=9)
    im_c = ax_c.imshow(cms[0], cmap="Reds", vmin=0, vmax=cap)
    texts = {ij: ax_c.text(ij[1], ij[0], "", ha="center", va="center", fontsize=6)
             for ij in np.ndindex(10, 10)}  # fmt: skip
    ax_c.set(xticks=range(10), yticks=range(10), xlabel="predicted", ylabel="true")
    ax_c.tick_params(labelsize=7)
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
        im_f.set_data(_mosaic(filters[e], 3))
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
        ax.set_title(text, fontsize=7, color="C3" if wrong else "black")
        ax.set_xticks([])
        ax.set_yticks([])
        if r == len(dys) - 1:
            ax.set_xlabel(f"right {dxs[c]:+d}", fontsize=8)
        if c == 0:
            ax.set_ylabel(f"down {dys[r]:+d}", fontsize=8)
    fig.tight_layout()
    return fig
