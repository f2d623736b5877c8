"""Figures, the animation and the explorer of the RNN chapter.

They draw what :mod:`dlbook.experiments.rnn` measured; nothing here trains.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import FuncAnimation
from matplotlib.patches import Circle, FancyArrowPatch, Rectangle

from dlbook.experiments import rnn as E
from dlbook.scratch import clip_grad_norm_, clip_grad_value_
from dlbook.viz.common import make_explorer

__all__ = [
    "unrolled_figure",
    "bptt_animation",
    "gradient_figure",
    "explorer",
    "explorer_grid",
    "clipping_figure",
    "clip_direction_figure",
    "char_figure",
]

FORWARD, BACKWARD = "#4c72b0", "#c44e52"


def _node(ax, xy, text, colour="white", size=0.32):
    ax.add_patch(Circle(xy, size, facecolor=colour, edgecolor="0.2", lw=1.2, zorder=2))
    ax.text(*xy, text, ha="center", va="center", fontsize=11, zorder=3)


def _arrow(ax, a, b, colour="0.25", label=None, ls="-", rad=0.0, offset=(0, 0)):
    ax.add_patch(FancyArrowPatch(a, b, arrowstyle="-|>", mutation_scale=12, color=colour, lw=1.3,
                                 ls=ls, connectionstyle=f"arc3,rad={rad}", shrinkA=13, shrinkB=13,
                                 zorder=1))  # fmt: skip
    if label:
        mid = (a[0] + b[0]) / 2 + offset[0], (a[1] + b[1]) / 2 + offset[1]
        ax.text(*mid, label, ha="center", va="center", fontsize=9, color=colour)


def unrolled_figure(steps=4):
    """The RNN as a loop (left) and unrolled over ``steps`` time steps (right): the same
    :math:`W_{ih}`, :math:`W_{hh}` and readout at every step; red dashed arrows are BPTT."""
    if isinstance(steps, bool) or not isinstance(steps, int) or not 2 <= steps <= 8:
        raise ValueError(f"steps must be an int in [2, 8], got {steps!r}")
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.4), gridspec_kw={"width_ratios": [1, 4]})
    _node(a, (0, 0), "$x_t$", "#dde6f3")
    _node(a, (0, 1.5), "$h_t$")
    _node(a, (0, 3), "$y_t$", "#f3e3dd")
    _arrow(a, (0, 0), (0, 1.5), label="$W_{ih}$", offset=(0.35, 0))
    _arrow(a, (0, 1.5), (0, 3), label="readout", offset=(0.55, 0))
    loop = {"arrowstyle": "-|>", "mutation_scale": 12, "color": "0.25", "lw": 1.3,
            "connectionstyle": "arc3,rad=-1.9"}  # fmt: skip
    a.add_patch(FancyArrowPatch((0.22, 1.75), (0.22, 1.25), **loop))
    a.text(0.78, 1.5, "$W_{hh}$", fontsize=9, va="center")
    a.set_xlim(-0.9, 1.3)
    a.set_title("the loop", fontsize=10)
    xs = np.arange(steps + 1) * 1.6
    _node(b, (xs[0], 1.5), "$h_0$", "0.92")
    for t in range(1, steps + 1):
        x = xs[t]
        _node(b, (x, 0), f"$x_{t}$", "#dde6f3")
        _node(b, (x, 1.5), f"$h_{t}$")
        _node(b, (x, 3), f"$L_{t}$", "#f3e3dd")
        _arrow(b, (x, 0), (x, 1.5), label="$W_{ih}$" if t == 1 else None, offset=(0.3, 0))
        _arrow(b, (x, 1.5), (x, 3))
        _arrow(b, (x - 0.12, 3), (x - 0.12, 1.5), BACKWARD, "$g_t$" if t == steps else None,
               ls="--", offset=(-0.3, 0.3))  # fmt: skip
        _arrow(b, (xs[t - 1], 1.5), (x, 1.5), label="$W_{hh}$", offset=(0, 0.22))
        _arrow(b, (x, 1.4), (xs[t - 1], 1.4), BACKWARD, ls="--", rad=-0.45)
    b.text(xs[steps] / 2, -0.8, r"BPTT (dashed): $\partial L/\partial h_{t-1} = g_{t-1} + "
           r"W_{hh}^\top (\partial L/\partial h_t \odot (1 - h_t^2))$; "
           r"$\partial L/\partial W_{hh}$ sums over every step", ha="center", fontsize=9,
           color=BACKWARD)  # fmt: skip
    b.set_title("unrolled in time: one set of weights, used at every step", fontsize=10)
    b.set_xlim(-0.6, xs[-1] + 0.6)
    for ax in (a, b):
        ax.set_ylim(-1.0, 3.6)
        ax.set_aspect("equal")
        ax.axis("off")
    fig.tight_layout()
    return fig


def bptt_animation(runs, units=12, dpi=72):
    """``runs`` maps a label to a :class:`~dlbook.experiments.rnn.TimeGradients` (the first
    sequence is drawn). Forward frames fill in the hidden states step by step (top, first
    ``units`` units); backward frames then reveal :math:`\\|\\partial L/\\partial h_t\\|` from the
    last step back (bottom, log scale)."""
    if not runs:
        raise ValueError("runs must hold at least one TimeGradients")
    labels = list(runs)
    T = runs[labels[0]].hidden.shape[0]
    fig, axes = plt.subplots(2, len(labels), figsize=(4.2 * len(labels), 4.4), squeeze=False,
                             dpi=dpi, gridspec_kw={"height_ratios": [1, 1.1]})  # fmt: skip
    images, lines, data = [], [], []
    for j, label in enumerate(labels):
        h = runs[label].hidden[:, 0, :units].T  # (units, T)
        g = runs[label].grad_norms[:, 0]  # (T + 1,)
        top, bottom = axes[0, j], axes[1, j]
        images.append(top.imshow(np.full_like(h, np.nan), cmap="RdBu_r", vmin=-1, vmax=1,
                                 aspect="auto", extent=(0.5, T + 0.5, units, 0)))  # fmt: skip
        top.set_title(label, fontsize=10)
        top.set_ylabel(f"$h_t$ (first {units} units)")
        top.set_xlim(-0.5, T + 0.5)
        top.set_xticks([])
        top.set_yticks([])
        (line,) = bottom.plot([], [], "o-", color=BACKWARD, ms=4)
        lines.append(line)
        bottom.set_yscale("log")
        bottom.set_xlim(-0.5, T + 0.5)
        bottom.set_ylim(g.min() / 3, g.max() * 3)
        bottom.set_xlabel("time step t")
        bottom.set_ylabel(r"$\|\partial L/\partial h_t\|$")
        bottom.grid(alpha=0.3, which="both")
        data.append((h, g))
    status = fig.suptitle("", fontsize=10)
    fig.tight_layout()

    def draw(frame):
        for image, line, (h, g) in zip(images, lines, data):
            shown = np.full_like(h, np.nan)
            shown[:, : min(frame, T)] = h[:, : min(frame, T)]
            image.set_data(shown)
            back = max(0, frame - T)  # how many backward steps have been taken
            t = np.arange(T - back + 1, T + 1)
            line.set_data(t, g[t])
        if frame <= T:
            status.set_text(f"forward: $h_{{{frame}}}$ computed from $h_{{{max(frame - 1, 0)}}}$"
                            f" and $x_{{{frame}}}$")  # fmt: skip
        else:
            where = 2 * T + 1 - frame
            status.set_text(f"backward (BPTT): the gradient of $L$ has reached $h_{{{where}}}$")
        return [*images, *lines, status]

    return FuncAnimation(fig, draw, frames=2 * T + 2, interval=200, blit=False)


def _profile_axes(ax, profiles, theory=None):
    """Plot ``profiles`` (label -> (T + 1,) norms) against the number of steps back."""
    for i, (label, p) in enumerate(profiles.items()):
        ax.plot(np.arange(len(p))[::-1], p, color=f"C{i}", lw=1.8, label=label)
        if theory and label in theory:
            k = np.arange(len(p))
            ax.plot(k, theory[label] ** k, color=f"C{i}", ls=":", lw=1)
    ax.set_yscale("log")
    ax.set_xlabel("steps back from the end, $T - t$")
    ax.set_ylabel(r"$\|\partial L/\partial h_t\|$  (geometric mean)")
    ax.grid(alpha=0.3, which="both")


def gradient_figure(profiles, theory=None, rates=None):
    """Left: ``profiles`` (label -> :attr:`~dlbook.experiments.rnn.TimeGradients.profile`) on a
    log scale against the steps back, with dotted :math:`\\rho^k` for the labels in ``theory``
    (label -> rate). Right, if ``rates`` (rows of ``(rho, measured factor, sigma_max)``) is
    given: the measured factor per step against :math:`\\rho`, beside the linear prediction
    :math:`\\rho` and the bound :math:`\\sigma_{max}`."""
    fig, axes = plt.subplots(1, 2 if rates else 1, figsize=(10 if rates else 6, 3.8),
                             squeeze=False)  # fmt: skip
    _profile_axes(axes[0, 0], profiles, theory)
    axes[0, 0].legend(fontsize=9, ncol=2)
    axes[0, 0].set_title("gradient of the last step's loss, back through time", fontsize=10)
    if rates:
        ax = axes[0, 1]
        rho, factor, smax = (np.array(c, dtype=float) for c in zip(*rates))
        grid = np.linspace(0, rho.max() * 1.05, 50)
        ax.plot(grid, grid, color="0.5", ls=":", label=r"linear RNN: $\rho$")
        ax.plot(rho, smax, "s", color="0.5", mfc="none", label=r"bound $\sigma_{max}(W_{hh})$")
        ax.plot(rho, factor, "o-", color=BACKWARD, label="measured (tanh)")
        ax.axhline(1, color="k", lw=0.8)
        ax.set_xlabel(r"spectral radius $\rho$ of $W_{hh}$")
        ax.set_ylabel("growth factor per step back")
        ax.set_title("the slope of the left panel, and the theory", fontsize=10)
        ax.legend(fontsize=9)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _explorer_panel(ax, radius, length, kind="gaussian", hidden=64, seed=0):
    r"""One explorer picture: the measured profile beside :math:`\rho^k` and
    :math:`\sigma_{max}^k`. Returns the :class:`~dlbook.experiments.rnn.TimeGradients`."""
    w = E.recurrent_weight(hidden, radius, kind, seed)
    run = E.gradient_through_time(w, length, seed=seed)
    smax, k = E.largest_singular_value(w), np.arange(length + 1)
    _profile_axes(ax, {"measured (tanh)": run.profile})
    ax.plot(k, radius**k, ":", color="0.4", label=r"$\rho^k$ (linear RNN)")
    bound = rf"$\sigma_{{max}}^k$, $\sigma_{{max}}$ = {smax:.2f}"
    ax.plot(k, smax**k, "--", color="0.7", label=bound)
    ax.set_ylim(max(run.profile.min(), 1e-30) / 10, max(run.profile.max(), 1) * 10)
    ax.set_title(f"{kind} $W_{{hh}}$, radius {radius:g}, length {length}", fontsize=10)
    ax.legend(fontsize=9)
    return run


def explorer_grid(settings, hidden=64, seed=0):
    """The explorer's picture for several ``settings`` (``(radius, length, kind)`` rows), side
    by side: the static stand-in for the sliders in the HTML book."""
    if not settings:
        raise ValueError("settings must hold at least one (radius, length, kind) row")
    # One above the other: side by side, three panels would shrink their legends in the column.
    fig, axes = plt.subplots(len(settings), 1, figsize=(7.2, 2.9 * len(settings)), squeeze=False)
    for ax, (radius, length, kind) in zip(axes[:, 0], settings):
        _explorer_panel(ax, radius, length, kind, hidden, seed)
    fig.tight_layout()
    return fig


def explorer(radius=1.0, length=100, hidden=64, seed=0):
    r"""An ipywidgets panel: choose the spectral radius of :math:`W_{hh}`, its kind and the
    sequence length, and see :math:`\|\partial L/\partial h_t\|` measured by BPTT beside
    :math:`\rho^k` and :math:`\sigma_{max}^k`. The picture is a PNG widget value."""
    import ipywidgets as widgets

    w_r = widgets.FloatSlider(value=radius, min=0.2, max=3.0, step=0.05, description="radius")
    w_t = widgets.IntSlider(value=length, min=10, max=200, step=10, description="length")
    w_k = widgets.Dropdown(options=["gaussian", "orthogonal"], value="gaussian", description="W_hh")

    def draw():
        fig, ax = plt.subplots(figsize=(6, 3.4))
        run = _explorer_panel(ax, w_r.value, w_t.value, w_k.value, hidden, seed)
        fig.tight_layout()
        return (f"<pre>the gradient {w_t.value} steps back is {run.ratio(w_t.value):.3g} "
                f"times the last step's</pre>"), fig  # fmt: skip

    # The static grid: a radius below, at and above 1, for both kinds of W_hh (BPTT per position).
    grid = {w_r: sorted({0.5, radius, 1.5}), w_t: [length]}
    return make_explorer([[w_r, w_t, w_k]], draw, info=True, grid=grid)


def clipping_figure(runs, max_norm=None, cap=1e6):
    """Loss (left) and gradient norm before clipping (right), per SGD step, on log scales up to
    ``cap``, for ``runs`` (label -> :func:`~dlbook.experiments.rnn.train_sine`'s dict). A curve
    that leaves the chart is marked where it leaves, and a cross marks the step where its loss
    overflowed."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for i, (label, run) in enumerate(runs.items()):
        for ax, key in zip(axes, ("losses", "norms")):
            v = np.asarray(run[key], dtype=float)
            ax.plot(np.minimum(v, cap * 10), color=f"C{i}", lw=1.1, label=label)
            off = np.flatnonzero(~(v <= cap))
            if off.size:
                ax.annotate(f"off the chart from step {off[0]}", (off[0], cap),
                            textcoords="offset points", xytext=(8, -14), fontsize=9,
                            color=f"C{i}")  # fmt: skip
        if run["diverged_at"] is not None:
            axes[0].plot(run["diverged_at"], cap, "x", color=f"C{i}", ms=9, mew=2, clip_on=False)
            axes[0].annotate("loss = inf", (run["diverged_at"], cap), textcoords="offset points",
                             xytext=(6, -26), fontsize=9, color=f"C{i}")  # fmt: skip
    if max_norm is not None:
        axes[1].axhline(max_norm, color="k", ls="--", lw=0.8, label=f"max_norm = {max_norm:g}")
    for ax, name in zip(axes, ("mean squared error", "gradient norm (before clipping)")):
        ax.set_yscale("log")
        ax.set_ylim(top=cap)
        ax.set_xlabel("SGD step")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=9, loc="center right")
    fig.tight_layout()
    return fig


def clip_direction_figure(grad=(3.0, 0.6), max_norm=1.0, clip_value=0.5):
    """A 2-D gradient clipped by norm (onto the circle of radius ``max_norm``, same direction)
    and by value (into the square of half-width ``clip_value``, turned towards the diagonal)."""
    g = np.array(grad, dtype=np.float64)
    if g.shape != (2,):
        raise ValueError(f"grad must be a pair of numbers, got {grad!r}")
    by_norm, by_value = g.copy(), g.copy()
    clip_grad_norm_(by_norm, max_norm)
    clip_grad_value_(by_value, clip_value)
    fig, ax = plt.subplots(figsize=(5.2, 3.4))
    ax.add_patch(Circle((0, 0), max_norm, fill=False, color="C0", ls="--"))
    c = clip_value
    ax.add_patch(Rectangle((-c, -c), 2 * c, 2 * c, fill=False, color="C1", ls="--"))
    for v, colour, label in ((g, "0.3", "gradient"), (by_norm, "C0", "clipped by norm"),
                             (by_value, "C1", "clipped by value")):  # fmt: skip
        ax.annotate("", v, (0, 0), arrowprops={"arrowstyle": "-|>", "color": colour, "lw": 2})
        ax.plot([], [], color=colour, lw=2, label=f"{label} ({v[0]:.2f}, {v[1]:.2f})")
    ax.set_aspect("equal")
    ax.set_xlim(-1.2 * c, g[0] * 1.1)
    ax.set_ylim(-1.2 * c, max(g[1], max_norm, c) * 1.3)
    ax.legend(fontsize=8, loc="upper right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def char_figure(losses, baselines, held_out=None, smooth=20):
    """Training loss per update of the character model (a running mean over ``smooth``
    updates), with horizontal ``baselines`` (label -> nats per character) and optional
    ``held_out`` points (label -> (update, loss))."""
    losses = np.asarray(losses, dtype=float)
    if losses.ndim != 1 or len(losses) < smooth:
        raise ValueError(f"losses must be 1-D with at least smooth={smooth} values")
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    ax.plot(losses, color="0.75", lw=0.8, label="training chunk")
    mean = np.convolve(losses, np.ones(smooth) / smooth, mode="valid")
    ax.plot(np.arange(smooth - 1, len(losses)), mean, color=FORWARD, lw=1.8,
            label=f"running mean of {smooth}")  # fmt: skip
    for i, (label, value) in enumerate(baselines.items()):
        ax.axhline(value, color=f"C{i + 1}", ls="--", lw=1, label=f"{label}: {value:.2f}")
    for label, (x, y) in (held_out or {}).items():
        ax.plot(x, y, "D", color="k", ms=6)
        ax.annotate(f"{label}: {y:.2f}", (x, y), textcoords="offset points", xytext=(-8, 8),
                    ha="right" if x > 0 else "left", fontsize=8)  # fmt: skip
    ax.set_xlabel("update (one chunk of every stream)")
    ax.set_ylabel("cross-entropy (nats per character)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
