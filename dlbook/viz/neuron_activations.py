"""Pictures of neurons and activation functions: curves with their derivatives, a neuron on the
plane, gradient norms through depth, functions built from ReLU and sigmoid units (an animation),
dead ReLU units, and an explorer. The numbers come from
:mod:`dlbook.experiments.neuron_activations`; nothing here trains."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import FuncAnimation

from dlbook.experiments import neuron_activations as E
from dlbook.scratch import activations as A
from dlbook.viz.common import make_explorer

__all__ = [
    "LABELS", "activation_grid", "neuron_plane", "gradient_profiles", "draw_units",
    "approximation_animation", "approximation_errors_figure", "draw_neuron_1d", "explorer",
    "explorer_grid", "unit_lines", "dead_units_figure", "lr_sweep_figure", "activation_lr_figure",
    "training_curves",
]  # fmt: skip

LABELS = {
    "identity": "identity",
    "sigmoid": "sigmoid σ",
    "tanh": "tanh",
    "relu": "ReLU",
    "leaky_relu": "LeakyReLU (0.01)",
    "elu": "ELU (α = 1)",
    "gelu": "GELU",
    "silu": "SiLU (swish)",
}
SATURATED = "#d9d9d9"


def _shade_small(ax, x, d, level):
    """Grey bands over the tails (from either end of ``x`` inwards) where ``|d| < level``: there
    the unit is saturated or dead, and hardly any gradient passes."""
    small = np.abs(d) < level
    tails = np.logical_and.accumulate(small) | np.logical_and.accumulate(small[::-1])[::-1]
    ax.fill_between(x, 0, 1, where=tails, color=SATURATED, lw=0,
                    transform=ax.get_xaxis_transform(), label=f"|φ′| < {level:g}")  # fmt: skip


def activation_grid(names=tuple(E.ACTIVATIONS), x=None, level=0.01):
    """One panel per activation: φ (solid) and φ′ (dashed), both from the scratch forward and
    backward, with the region where ``|φ′| < level`` shaded; the last panel is softmax."""
    x = np.linspace(-5, 5, 501) if x is None else np.asarray(x, float)
    ncols = 4
    nrows = -(-(len(names) + 1) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(10, 2.6 * nrows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        d = E.derivative(name, x)
        _shade_small(ax, x, d, level)
        ax.plot(x, E.forward(name, x), color="C0", lw=2, label="φ(x)")
        ax.plot(x, d, color="C1", ls="--", lw=1.5, label="φ′(x)")
        ax.set_title(LABELS[name], fontsize=10)
        ax.set_ylim(*((-1.2, 1.2) if name in ("sigmoid", "tanh") else (-1.5, 3.2)))
    _softmax_panel(axes.flat[len(names)], x)
    for ax in axes.flat[len(names) + 1 :]:
        ax.axis("off")
    for ax in axes.flat[: len(names) + 1]:
        ax.axhline(0, color="k", lw=0.5)
        ax.axvline(0, color="k", lw=0.5)
        ax.set_xlabel("x")
    axes.flat[0].legend(fontsize=9, loc="upper left")
    fig.tight_layout()
    return fig


def _softmax_panel(ax, x):
    logits = np.stack([x, np.ones_like(x), -np.ones_like(x)], axis=1)  # (points, 3)
    p = A.softmax(logits, dim=1)
    e1 = np.zeros_like(logits)
    e1[:, 0] = 1
    dp1 = A.softmax_backward(e1, logits, dim=1)[:, 0]  # d p_1 / d z_1 = p_1 (1 - p_1)
    for i, label in enumerate(["p₁ (logit z)", "p₂ (logit 1)", "p₃ (logit −1)"]):
        ax.plot(x, p[:, i], lw=2 if i == 0 else 1.2, label=label)
    ax.plot(x, dp1, color="C0", ls="--", lw=1.5, label="∂p₁/∂z")
    ax.set_title("softmax of (z, 1, −1)", fontsize=10)
    ax.set_ylim(-0.1, 1.1)
    ax.legend(fontsize=9, loc="center left")


def neuron_plane(w, b, names=("identity", "sigmoid", "relu"), extent=3.0):
    """A neuron with two inputs, ``φ(w·x + b)``, over the square ``[-extent, extent]²``: one panel
    per activation, with the line ``w·x + b = 0`` and the weight vector drawn from it."""
    w = np.asarray(w, float)
    g = np.linspace(-extent, extent, 201)
    X1, X2 = np.meshgrid(g, g)
    z = w[0] * X1 + w[1] * X2 + b
    fig, axes = plt.subplots(1, len(names), figsize=(3.4 * len(names), 3.1))
    foot = -b * w / (w @ w)  # the point of the line nearest the origin
    for ax, name in zip(np.atleast_1d(axes), names):
        out = z if name == "identity" else E.forward(name, z)
        im = ax.imshow(out, origin="lower", extent=(-extent, extent) * 2, cmap="viridis")
        ax.contour(X1, X2, z, levels=[0], colors="w", linewidths=1.5)
        ax.annotate("", foot + w / np.linalg.norm(w), foot,
                    arrowprops=dict(arrowstyle="->", color="w", lw=2))  # fmt: skip
        symbol = "z" if name == "identity" else f"{LABELS[name].split()[-1]}(z)"
        ax.set_title(f"{symbol},  z = w·x + b", fontsize=10)
        ax.set_xlabel("x₁")
        ax.set_ylabel("x₂")
        fig.colorbar(im, ax=ax, shrink=0.8)
    fig.tight_layout()
    return fig


def gradient_profiles(profiles, title=None):
    """``‖∂L/∂W_l‖`` against the layer ``l`` on a log scale, one line per
    :class:`~dlbook.experiments.neuron_activations.GradientProfile`, labelled with its first/last
    ratio."""
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for k, p in enumerate(profiles):
        layers = np.arange(1, len(p.weight_norms) + 1)
        label = f"{LABELS[p.activation]}: first/last = {p.ratio:.1e}"
        ax.semilogy(layers, p.weight_norms, "o-", ms=3, color=f"C{k}", label=label)
    ax.set_xlabel("layer l (1 = next to the input)")
    ax.set_ylabel("‖∂L/∂W_l‖ (log scale)")
    ax.set_title(title or f"Gradient norm per layer, {len(layers)} layers", fontsize=10)
    ax.set_xticks(layers)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _unit_terms(kind, f, a, b, n, x):
    """Each unit's term ``(len(x), n)`` and the constant ``c0``: the network is their sum."""
    if kind == "relu":
        t, c, c0 = E.relu_interpolant(f, a, b, n)
        return A.relu(x[:, None] - t) * c, c0
    if kind == "sigmoid":
        m, c, c0, s = E.sigmoid_staircase(f, a, b, n)
        return A.sigmoid(s * (x[:, None] - m)) * c, c0
    raise ValueError(f"kind must be 'relu' or 'sigmoid', got {kind!r}")


def _title(kind, n, err):
    return f"{n} {'ReLU' if kind == 'relu' else 'sigmoid'} units: max error {err:.3f}"


def draw_units(ax, kind, f, a, b, n, x=None):
    """On ``ax``: ``f`` (dashed), the sum built by ``n`` units of ``kind`` (``'relu'`` or
    ``'sigmoid'``) and, faintly, each unit's term. Returns the max error on ``x``."""
    x = np.linspace(a, b, 400) if x is None else x
    terms, c0 = _unit_terms(kind, f, a, b, n, x)
    total = c0 + terms.sum(axis=1)
    ax.plot(x, terms, color="C0", lw=0.6, alpha=0.35)
    ax.plot(x, f(x), "k--", lw=1.2, label="target f")
    ax.plot(x, total, color="C3", lw=2, label="sum of the units")
    err = float(np.max(np.abs(total - f(x))))
    ax.set_title(_title(kind, n, err), fontsize=9)
    return err


def approximation_animation(f, a, b, ns, ylim=(-1.5, 1.5), interval=500, dpi=72):
    """One frame per unit count in ``ns`` (at most 40): ReLU hinges (left) and sigmoid steps
    (right), each summing to an approximation of ``f`` on ``[a, b]``."""
    from matplotlib.collections import LineCollection

    ns = list(ns)
    if not 1 <= len(ns) <= 40:
        raise ValueError(f"ns must hold 1 to 40 unit counts (one per frame), got {len(ns)}")
    x = np.linspace(a, b, 300)
    fig, axes = plt.subplots(1, 2, figsize=(8.4, 3.0), dpi=dpi)
    parts = []  # per panel: (kind, unit lines, sum line, title)
    for ax, kind in zip(axes, ("relu", "sigmoid")):
        units = ax.add_collection(LineCollection([], colors="C0", linewidths=0.6, alpha=0.35))
        ax.plot(x, f(x), "k--", lw=1.2, label="target f")
        (total,) = ax.plot([], [], color="C3", lw=2, label="sum of the units")
        ax.set(xlim=(a, b), ylim=ylim, xlabel="x")
        parts.append((kind, units, total, ax.set_title("", fontsize=9)))
    axes[0].legend(fontsize=9, loc="lower left")

    def frame(i):
        for kind, units, total, title in parts:
            terms, c0 = _unit_terms(kind, f, a, b, ns[i], x)
            units.set_segments([np.column_stack([x, t]) for t in terms.T])
            y = c0 + terms.sum(axis=1)
            total.set_data(x, y)
            title.set_text(_title(kind, ns[i], float(np.max(np.abs(y - f(x))))))
        return []

    frame(0)
    fig.tight_layout()
    return FuncAnimation(fig, frame, frames=len(ns), interval=interval, blit=False)


def approximation_errors_figure(ns, errors):
    """Max error against the number of units, log-log, with the slopes 1/n and 1/n²."""
    ns = np.asarray(ns, float)
    fig, ax = plt.subplots(figsize=(5.6, 3.5))
    ax.loglog(ns, errors["relu"], "o-", ms=3, label="ReLU hinges (linear interpolation)")
    ax.loglog(ns, errors["sigmoid"], "s-", ms=3, label="sigmoid steps (a staircase)")
    for power, style in ((1, ":"), (2, "-.")):
        ref = errors["relu" if power == 2 else "sigmoid"][-1] * (ns[-1] / ns) ** power
        ax.loglog(ns, ref, color="grey", ls=style, lw=1, label=f"∝ 1/n{'²' if power == 2 else ''}")
    ax.set_xlabel("units n in the hidden layer")
    ax.set_ylabel("max |g(x) − f(x)|")
    ax.set_title("How the error falls with the width", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def draw_neuron_1d(ax, name, w, b, x=None, level=0.01):
    """One input: ``φ(w x + b)`` and its slope ``w φ′(w x + b)`` on ``ax``, shaded where the
    local derivative ``|φ′(w x + b)| < level`` (saturated or dead)."""
    x = np.linspace(-6, 6, 401) if x is None else x
    z = w * x + b
    d = E.derivative(name, z)
    _shade_small(ax, x, d, level)
    ax.plot(x, E.forward(name, z), color="C0", lw=2, label="φ(wx + b)")
    ax.plot(x, w * d, color="C1", ls="--", lw=1.5, label="d/dx = w φ′(wx + b)")
    ax.axhline(0, color="k", lw=0.5)
    ax.set_ylim(-2.2, 4.3)
    ax.set_title(f"{LABELS[name]}, w = {w:g}, b = {b:g}", fontsize=9)


def explorer(names=("sigmoid", "tanh", "relu", "leaky_relu", "elu", "gelu", "silu")):
    """An ipywidgets panel: pick the activation, the weight w and the bias b of a one-input neuron
    and see ``φ(w x + b)``, its slope and where it saturates. The picture is a PNG widget value."""
    import ipywidgets as widgets

    w_name = widgets.Dropdown(options=list(names), value=names[0], description="φ")
    w_w = widgets.FloatSlider(value=1.0, min=-5, max=5, step=0.25, description="weight w")
    w_b = widgets.FloatSlider(value=0.0, min=-6, max=6, step=0.25, description="bias b")

    def draw():
        fig, ax = plt.subplots(figsize=(5, 3))
        draw_neuron_1d(ax, w_name.value, w_w.value, w_b.value)
        ax.legend(fontsize=9, loc="upper left")
        fig.tight_layout()
        return fig

    return make_explorer([[w_name, w_w, w_b]], draw)


def explorer_grid(names=("sigmoid", "tanh", "relu"), settings=((1, 0), (4, 0), (1, 3), (-2, 1))):
    """The explorer's settings as a static grid: one row per activation, one column per
    ``(w, b)``."""
    size = (2.4 * len(settings), 2.3 * len(names))
    fig, axes = plt.subplots(len(names), len(settings), figsize=size, sharey=True, squeeze=False)
    for row, name in zip(axes, names):
        for ax, (w, b) in zip(row, settings):
            draw_neuron_1d(ax, name, w, b)
    for ax in axes[-1]:
        ax.set_xlabel("x")
    axes[0, 0].legend(fontsize=9, loc="upper left")
    fig.tight_layout()
    return fig


def unit_lines(ax, weight, bias, x, lim=3.0):
    """Each first-layer unit's line ``w·x + b = 0`` over the points ``x`` ``(N, 2)``: red and
    dashed where the unit is negative on every point (dead, for ReLU), grey otherwise. Returns
    how many units are negative everywhere."""
    dead = np.all(x @ weight.T + bias <= 0, axis=0)
    s = np.linspace(-lim, lim, 2)
    for (w1, w2), b0, is_dead in zip(weight, bias, dead):
        if abs(w2) >= abs(w1):
            xs, ys = s, -(w1 * s + b0) / w2
        else:
            xs, ys = -(w2 * s + b0) / w1, s
        style = dict(color="C3", ls="--", lw=1.0) if is_dead else dict(color="0.55", lw=0.7)
        ax.plot(xs, ys, **style)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    return int(dead.sum())


def dead_units_figure(x, y, panels):
    """``panels`` maps a title to a first layer's ``(weight, bias)``; each panel shows the data
    (coloured by class) and that layer's unit lines (:func:`unit_lines`)."""
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.4))
    for ax, (title, (weight, bias)) in zip(np.atleast_1d(axes), panels.items()):
        ax.scatter(x[:, 0], x[:, 1], c=y, cmap="coolwarm", s=6, lw=0)
        n_dead = unit_lines(ax, weight, bias, x)
        ax.set_title(f"{title}\n{n_dead} of {len(bias)} units negative on all data", fontsize=9)
        ax.set_xlabel("x₁")
        ax.set_ylabel("x₂")
    fig.tight_layout()
    return fig


def lr_sweep_figure(sweeps):
    """``sweeps`` maps an activation name to
    :func:`~dlbook.experiments.neuron_activations.lr_sweep`'s rows: the fraction of units negative
    everywhere, and the test accuracy, against the rate."""
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(9, 3.3))
    for k, (name, rows) in enumerate(sweeps.items()):
        lrs = [r["lr"] for r in rows]
        ax.semilogx(lrs, [100 * r["dead"] for r in rows], "o-", color=f"C{k}", label=LABELS[name])
        bx.semilogx(
            lrs, [100 * r["test_acc"] for r in rows], "o-", color=f"C{k}", label=LABELS[name]
        )
    ax.set_ylabel("% hidden units negative on all data")
    bx.set_ylabel("test accuracy (%)")
    for a in (ax, bx):
        a.set_xlabel("learning rate (plain SGD)")
        a.grid(alpha=0.3, which="both")
        a.legend(fontsize=9)
    fig.tight_layout()
    return fig


def activation_lr_figure(sweep, best=None):
    """Final validation accuracy against the learning rate, one line per activation of
    :func:`~dlbook.experiments.neuron_activations.sweep_activations`' result: the mean over the
    seeds, with a bar from the lowest to the highest seed; ``best`` (``{name: lr}``) is
    ringed."""
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for k, (name, by_lr) in enumerate(sweep.items()):
        lrs = np.array(list(by_lr))
        acc = 100 * np.array([[h.final["val_acc"] for h in runs] for runs in by_lr.values()])
        mean = acc.mean(1)
        err = np.stack([mean - acc.min(1), acc.max(1) - mean])
        ax.errorbar(
            lrs, mean, yerr=err, fmt="o-", ms=3, capsize=2, color=f"C{k}", label=LABELS[name]
        )
        if best is not None and name in best:
            i = list(by_lr).index(best[name])
            ax.plot(lrs[i], mean[i], "o", ms=10, mfc="none", color=f"C{k}")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate (SGD, momentum 0.9)")
    ax.set_ylabel("validation accuracy (%)")
    ax.set_title("Each activation at each learning rate (ringed: its best)", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def training_curves(histories, threshold=None, title=None):
    """Test accuracy per epoch, one line per ``{name: History}``, with the threshold dotted."""
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(7, 3.6))
    for k, (name, h) in enumerate(histories.items()):
        acc = 100 * np.asarray(h["test_acc"])
        ax.plot(np.arange(1, acc.size + 1), acc, "o-", ms=3, color=f"C{k}", label=LABELS[name])
    if threshold is not None:
        ax.axhline(100 * threshold, color="k", ls=":", lw=1, label=f"{100 * threshold:g}%")
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title or "Test accuracy per epoch", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig
