"""Figures, the animation and the explorer of the LSTM and GRU chapter.

Diagrams of the two cells, gradients against distance, learning curves, and gate activations
over an adding-problem sequence; the numbers come from :mod:`dlbook.experiments.lstm_gru`, and
nothing here trains.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import FuncAnimation
from matplotlib.patches import Circle, FancyBboxPatch

from dlbook.data.sequences import adding_problem
from dlbook.experiments import lstm_gru as E
from dlbook.viz.common import make_explorer

__all__ = [
    "COLOURS",
    "cell_diagram",
    "cells_figure",
    "sensitivity_figure",
    "curves_figure",
    "gates_figure",
    "cell_animation",
    "knobs_figure",
    "explorer",
]

COLOURS = {"RNN": "C0", "LSTM": "C3", "GRU": "C2", "LSTM, default init": "C1", "IRNN": "C4"}
PATH = "#d62728"  # the additive path: the LSTM's cell state, the GRU's z-weighted copy of h


def _sequence(x, example):
    """Sequence ``example`` of ``x`` ``(T, N, 2)``, or a ValueError naming the bad argument."""
    x = np.asarray(x)
    if x.ndim != 3 or x.shape[2] != 2:
        raise ValueError(f"x must be an adding-problem batch (T, N, 2), got shape {x.shape}")
    if isinstance(example, bool) or not isinstance(example, (int, np.integer)):
        raise ValueError(f"example must be an int, got {example!r}")
    if not 0 <= example < x.shape[1]:
        raise ValueError(f"example must be in [0, {x.shape[1]}), got {example}")
    return x[:, example]


def _colour(label):
    """A network's colour, for labels such as ``"LSTM"`` or ``"RNN, T = 10"``."""
    return COLOURS.get(label, COLOURS.get(label.split(",")[0], "C4"))


# --- the cell diagrams ----------------------------------------------------------------------------


_X = r"$\times$"
_S = r"$\sigma$"
# A cell as data: the red state path (y = 6), lines that join others, arrows, the gate boxes on
# y = 3 (x, name, function, width; each fed from the line below), other boxes, the circled
# operations and the texts (x, y, text, size, ha, colour).
CELLS = {
    "lstm": dict(
        title="LSTM cell (torch's gate order i, f, g, o)",
        path=[(0.3, 2.7), (3.3, 5.2), (5.8, 10.6)],
        joins=[[(0.3, 1), (7.8, 1)], [(1.3, 0.1), (1.3, 1)]],
        arrows=[[(3, 3.3), (3, 6)], [(4.6, 3.3), (4.6, 4.6), (5.5, 4.6)],
                [(6.2, 3.3), (6.2, 4.6), (5.5, 4.6)], [(5.5, 4.6), (5.5, 6)],
                [(9.2, 6), (9.2, 4.7)], [(9.2, 4.1), (9.2, 3)], [(8.25, 3), (9.2, 3)],
                [(9.2, 3), (10.6, 3)]],
        gates=[(3, "$f_t$", _S, 0.9), (4.6, "$i_t$", _S, 0.9), (6.2, "$g_t$", "tanh", 0.9),
               (7.8, "$o_t$", _S, 0.9)],
        boxes=[(9.2, 4.4, "tanh")],
        nodes=[(3, 6, _X), (5.5, 6, "+"), (5.5, 4.6, _X), (9.2, 3, _X)],
        texts=[(0.2, 6.35, "$c_{t-1}$", 12, "left", "k"), (10.7, 6.35, "$c_t$", 12, "right", "k"),
               (0.2, 1.3, "$h_{t-1}$", 12, "left", "k"), (1.45, 0.15, "$x_t$", 12, "left", "k"),
               (10.7, 3.3, "$h_t$", 12, "right", "k"),
               (9.4, 2.2, r"$h_t = o_t \odot \tanh c_t$", 9, "center", "k"),
               (5.5, 6.9, r"cell state: $c_t = f_t \odot c_{t-1} + i_t \odot g_t$,  "
                r"$\partial c_t / \partial c_{t-1} = \mathrm{diag}(f_t)$", 9, "center", PATH)],
    ),
    "gru": dict(
        title="GRU cell (torch's gate order r, z, n)",
        path=[(0.3, 2.7), (3.3, 7.2), (7.8, 10.6)],
        joins=[[(0.9, 6), (0.9, 1), (7.5, 1)], [(1.7, 0.1), (1.7, 1)]],
        arrows=[[(5.55, 3), (7.0, 3)], [(3, 3.3), (3, 6)], [(3, 4.9), (5.2, 4.9)],
                [(5.8, 4.9), (7.5, 4.9)], [(7.5, 3.3), (7.5, 4.9)], [(7.5, 4.9), (7.5, 6)]],
        gates=[(3, "$z_t$", _S, 0.7), (5.2, "$r_t$", _S, 0.7), (7.5, "$n_t$", "tanh", 1.0)],
        boxes=[],
        nodes=[(3, 6, _X), (7.5, 6, "+"), (7.5, 4.9, _X), (5.5, 4.9, "1-")],
        texts=[(0.2, 6.35, "$h_{t-1}$", 12, "left", "k"), (10.7, 6.35, "$h_t$", 12, "right", "k"),
               (1.85, 0.15, "$x_t$", 12, "left", "k"),
               (6.3, 2.0, r"$r_t \odot (W_{hn} h_{t-1} + b_{hn})$", 9, "center", "k"),
               (9.3, 4.0, "$n_t = \\tanh(W_{in} x_t + b_{in}$\n"
                "$+\\, r_t \\odot (W_{hn} h_{t-1} + b_{hn}))$", 8, "center", "k"),
               (5.5, 6.9, r"$h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}$: with $z_t = 1$ "
                "the state is copied", 9, "center", PATH)],
    ),
}  # fmt: skip


def _arrow(ax, points, colour="0.3", lw=1.2, gap=9):
    """A polyline through ``points`` with an arrow head on its last segment, ending ``gap``
    points short of the last point (0 to join a line)."""
    xs, ys = zip(*points)
    ax.plot(xs[:-1], ys[:-1], color=colour, lw=lw, zorder=1)
    props = dict(arrowstyle="-|>", color=colour, lw=lw, shrinkA=0, shrinkB=gap)
    ax.annotate("", xy=points[-1], xytext=points[-2], zorder=1, arrowprops=props)


def _box(ax, x, y, text, colour="#e8e8e8", w=0.9, h=0.62):
    patch = FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.05", fc=colour)
    ax.add_patch(patch)
    ax.text(x, y, text, ha="center", va="center", fontsize=10)


def cell_diagram(kind, ax=None):
    """Draw the LSTM (``kind="lstm"``) or GRU cell on ``ax`` (a new figure when None), the
    additive path of the state in red. Returns the figure."""
    if kind not in CELLS:
        raise ValueError(f"kind must be 'lstm' or 'gru', got {kind!r}")
    cell = CELLS[kind]
    if ax is None:
        _, ax = plt.subplots(figsize=(6.2, 4.0))
    for a, b in cell["path"]:
        _arrow(ax, [(a, 6), (b, 6)], PATH, 2.5)
    for points in cell["joins"]:
        _arrow(ax, points, gap=0)
    for points in cell["arrows"]:
        _arrow(ax, points)
    for x, name, f, w in cell["gates"]:
        _arrow(ax, [(x, 1), (x, 2.69)])
        _box(ax, x, 3, f, "#fde9c9", w)
        ax.text(x - w / 2 - 0.1, 3.45, name, fontsize=10, ha="right")
    for x, y, text in cell["boxes"]:
        _box(ax, x, y, text)
    for x, y, text in cell["nodes"]:
        ax.add_patch(Circle((x, y), 0.26, fc="white", ec="0.3", lw=1, zorder=3))
        ax.text(x, y, text, ha="center", va="center", fontsize=10, zorder=4)
    for x, y, text, size, ha, colour in cell["texts"]:
        ax.text(x, y, text, ha=ha, fontsize=size, color=colour)
    ax.set_title(cell["title"], fontsize=11)
    ax.set_xlim(0, 10.8)
    ax.set_ylim(-0.1, 7.4)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax.figure


def cells_figure():
    """The LSTM cell above the GRU cell, each drawn by :func:`cell_diagram`; one above the
    other, so that the figure fits the book's column without shrinking its text."""
    fig, axes = plt.subplots(2, 1, figsize=(7.2, 9.4))
    cell_diagram("lstm", axes[0])
    cell_diagram("gru", axes[1])
    fig.tight_layout()
    return fig


# --- gradients and training -----------------------------------------------------------------------


def sensitivity_figure(panels):
    """One log-scale panel per ``{title: {label: profile}}``, each profile from
    :func:`~dlbook.experiments.lstm_gru.input_sensitivity` (index = distance ``T - t``)."""
    if not panels or not all(panels.values()):
        raise ValueError("panels must be a non-empty {title: {label: profile}} of non-empty dicts")
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.5), sharey=True)
    for ax, (title, curves) in zip(np.atleast_1d(axes), panels.items()):
        for label, p in curves.items():
            ax.semilogy(np.arange(len(p)), p, color=_colour(label), label=label)
        ax.set_xlabel("distance $T - t$ (steps back from the end)")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=9)
    np.atleast_1d(axes)[0].set_ylabel(r"mean $\|\partial \hat y / \partial x_t\|$")
    fig.tight_layout()
    return fig


def curves_figure(histories, baseline):
    """Test MSE against training step for each ``{label: history}`` of
    :func:`~dlbook.experiments.lstm_gru.train_adding`, on a log scale, with the best constant
    guess's MSE ``baseline`` dashed."""
    if not histories:
        raise ValueError("histories must hold at least one training history")
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    for label, h in histories.items():
        ax.semilogy(
            h["step"],
            h["test_mse"],
            color=_colour(label),
            label=label,
            ls=":" if "T = " in label else "-",
        )
    ax.axhline(baseline, color="0.4", ls="--", lw=1, label="predict the mean")
    ax.set_xlabel("training step (batches of 64)")
    ax.set_ylabel("test mean squared error")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


# --- gates over a sequence ------------------------------------------------------------------------


def _input_panel(ax, x, t=None):
    """The values of one sequence ``x`` ``(T, 2)`` as bars, the marked two in red."""
    steps = np.arange(1, len(x) + 1)
    marked = x[:, 1] > 0
    ax.bar(steps, x[:, 0], color=np.where(marked, PATH, "0.7"), width=0.8)
    if t is not None:
        ax.axvline(t, color="k", lw=1)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("input", fontsize=9)
    return np.flatnonzero(marked) + 1


def _heatmap(ax, values, marks, label, order, cmap="viridis", vmin=0, vmax=1):
    """``values`` ``(T, H)`` as a units-by-time image, units in ``order``, markers dashed."""
    t_len = len(values)
    im = ax.imshow(
        values[:, order].T,
        aspect="auto",
        cmap=cmap,
        vmin=vmin,
        vmax=vmax,
        extent=(0.5, t_len + 0.5, len(order) - 0.5, -0.5),
        interpolation="nearest",
    )
    for m in marks:
        ax.axvline(m, color="w", ls="--", lw=0.8)
    ax.set_ylabel(label, fontsize=9)
    ax.set_yticks([0])
    ax.set_yticklabels(["memory\nunit"], fontsize=9)
    return im


def gates_figure(x, lstm, gru, example, lstm_unit, gru_unit):
    """Heatmaps over time of the LSTM's input, forget and output gates and of the GRU's update
    gate, for sequence ``example`` of ``x`` ``(T, N, 2)``; ``lstm``/``gru`` are
    :func:`~dlbook.experiments.lstm_gru.model_gates` results. Units are sorted by their mean gate
    value, each network's memory unit (``*_unit``) on the top row; markers are dashed lines."""
    x = _sequence(x, example)
    fig, axes = plt.subplots(
        5,
        1,
        figsize=(8, 8.5),
        sharex=True,
        layout="constrained",
        gridspec_kw=dict(height_ratios=(0.7, 1, 1, 1, 1)),
    )
    marks = _input_panel(axes[0], x)
    rows = [
        (lstm, "i", "LSTM input gate $i$", lstm_unit),
        (lstm, "f", "LSTM forget gate $f$", lstm_unit),
        (lstm, "o", "LSTM output gate $o$", lstm_unit),
        (gru, "z", "GRU update gate $z$", gru_unit),
    ]
    for ax, (g, key, label, unit) in zip(axes[1:], rows):
        values = g[key][:, example]
        rest = [k for k in np.argsort(-values.mean(0)) if k != unit]
        im = _heatmap(ax, values, marks, label + "\n(units)", [unit, *rest])
    fig.colorbar(im, ax=axes, shrink=0.5, label="gate value")
    axes[0].set_title(f"Test sequence {example}: target {x[marks - 1, 0].sum():.3f}", fontsize=10)
    axes[-1].set_xlabel("time step $t$")
    return fig


def cell_animation(x, lstm, example, unit, every=2, dpi=72, interval=250):
    """The trained LSTM reading one sequence (``lstm`` from
    :func:`~dlbook.experiments.lstm_gru.model_gates`): the inputs, every unit's cell state, and the
    memory unit's gates and cell state, revealed ``every`` steps per frame."""
    x = _sequence(x, example)
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ValueError(f"every must be an int >= 1, got {every!r}")
    c, t_len = lstm["c"][:, example], len(x)
    order = [unit, *[k for k in np.argsort(-np.abs(c).mean(0)) if k != unit]]
    lim = np.abs(c).max()
    fig, axes = plt.subplots(
        4,
        1,
        figsize=(7, 7.4),
        dpi=dpi,
        sharex=True,
        gridspec_kw=dict(height_ratios=(0.7, 1.2, 1, 1)),
    )
    frames = list(range(every, t_len + 1, every))
    frames = frames if frames[-1] == t_len else [*frames, t_len]
    steps = np.arange(1, t_len + 1)
    marks = _input_panel(axes[0], x)
    cursor = axes[0].axvline(0, color="k", lw=1)
    image = _heatmap(
        axes[1],
        np.full_like(c, np.nan),
        [],
        "cell states $c_t$\n(units)",
        order,
        "RdBu_r",
        -lim,
        lim,
    )
    lines = {
        k: axes[2].plot([], [], color=col, label=f"${k}_t$")[0]
        for k, col in (("i", "C0"), ("f", "C3"), ("o", "C2"))
    }
    lines["c"] = axes[3].plot([], [], color=PATH)[0]
    axes[2].set_ylim(-0.05, 1.05)
    axes[2].set_ylabel("gates of the\nmemory unit", fontsize=9)
    axes[2].legend(fontsize=9, loc="center left", ncol=3)
    axes[3].set_ylim(c[:, unit].min() - 0.1, c[:, unit].max() + 0.1)
    axes[3].set_ylabel("its cell\nstate $c_t$", fontsize=9)
    axes[3].set_xlim(0.5, t_len + 0.5)
    axes[3].set_xlabel("time step $t$")
    dashed = [
        (m, ax.axvline(m, color=col, ls="--", lw=0.8))
        for ax, col in ((axes[1], "k"), (axes[2], "0.5"), (axes[3], "0.5"))
        for m in marks
    ]
    for ax in axes[2:]:
        ax.grid(alpha=0.3)
    title = axes[0].set_title("", fontsize=10)
    fig.tight_layout()

    def update(t):
        cursor.set_xdata([t, t])
        image.set_data(np.where(steps[:, None] <= t, c, np.nan)[:, order].T)
        for k, line in lines.items():
            line.set_data(steps[:t], lstm[k][:t, example, unit])
        for m, line in dashed:
            line.set_visible(m <= t)
        title.set_text(f"step {t} of {t_len}: marked sum so far {x[:t, 0] @ x[:t, 1]:.3f}")
        return []

    update(frames[0])
    return FuncAnimation(fig, update, frames=frames, interval=interval, blit=False)


def knobs_figure(lstm_by_shift, example, unit, shifts, mse, lengths, mse_by_length, baseline):
    """The explorer's knobs, for the static book. Left: the memory unit's cell state over one
    sequence for each forget-bias shift (``{shift: model_gates(...)}``). Middle: test MSE
    against the shift (``mse`` for ``shifts``). Right: test MSE against the sequence length
    (``{label: mse}`` for ``lengths``). The constant guess's ``baseline`` is dashed."""
    if len(shifts) != len(mse):
        raise ValueError(f"mse must have one value per shift ({len(shifts)}), got {len(mse)}")
    if any(len(v) != len(lengths) for v in mse_by_length.values()):
        raise ValueError(f"mse_by_length must have one value per length ({len(lengths)})")
    # The cell state across the top, the two error curves below: legible in the book's column.
    fig = plt.figure(figsize=(7.2, 6.4), layout="constrained")
    grid = fig.add_gridspec(2, 2)
    a, b, c = fig.add_subplot(grid[0, :]), fig.add_subplot(grid[1, 0]), fig.add_subplot(grid[1, 1])
    cmap = plt.get_cmap("coolwarm")
    keys = sorted(lstm_by_shift)
    for k, s in enumerate(keys):
        values = lstm_by_shift[s]["c"][:, example, unit]
        colour = "k" if s == 0 else cmap(k / max(len(keys) - 1, 1))
        a.plot(np.arange(1, len(values) + 1), values, color=colour, label=f"shift {s:+g}")
    a.set_xlabel("time step $t$")
    a.set_ylabel("memory unit's $c_t$")
    a.set_title(f"Test sequence {example}, forget bias shifted", fontsize=10)
    a.legend(fontsize=9, ncol=2)
    b.semilogy(shifts, mse, "o-", color=_colour("LSTM"))
    b.set_xlabel("shift added to the forget gate's bias")
    b.set_title("Its forget gate nudged", fontsize=10)
    for label, values in mse_by_length.items():
        c.loglog(lengths, values, "o-", color=_colour(label), label=label)
    c.set_xticks(lengths, [str(n) for n in lengths], minor=False)
    c.set_xticks([], minor=True)
    c.set_xlabel("sequence length $T$ (trained on 50)")
    c.set_title("Longer and shorter sequences", fontsize=10)
    for ax in (b, c):
        ax.axhline(baseline, color="0.4", ls="--", lw=1, label="predict the mean")
        ax.set_ylabel("test mean squared error")
        ax.legend(fontsize=9)
    for ax in (a, b, c):
        ax.grid(alpha=0.3, which="both")
    return fig


def explorer(model, unit, example=0, shift=0.0, length=50, n=32, seed=100):
    """An ipywidgets panel for a trained LSTM :class:`~dlbook.experiments.lstm_gru.AddingModel`:
    choose a sequence (``n`` fresh ones of each ``length``), a shift of the forget gate's bias
    and the length, and see the inputs, the forget gates and the memory unit's cell state. The
    picture is a PNG widget value, so the panel behaves the same in an executed notebook."""
    import ipywidgets as widgets

    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    w_e = widgets.IntSlider(value=example, min=0, max=n - 1, description="sequence")
    w_s = widgets.FloatSlider(value=shift, min=-3, max=3, step=0.25, description="forget shift")
    w_t = widgets.IntSlider(value=length, min=10, max=200, step=10, description="length T")

    def draw():
        x, y = adding_problem(n, w_t.value, seed=seed)
        g = E.model_gates(model, x, w_s.value)
        fig, axes = plt.subplots(3, 1, figsize=(7.5, 5.6), sharex=True)
        marks = _input_panel(axes[0], x[:, w_e.value])
        f = g["f"][:, w_e.value]
        rest = [k for k in np.argsort(-f.mean(0)) if k != unit]
        _heatmap(axes[1], f, marks, "forget gates\n(units)", [unit, *rest])
        axes[2].plot(np.arange(1, w_t.value + 1), g["c"][:, w_e.value, unit], color=PATH)
        axes[2].set_ylabel("memory unit's $c_t$", fontsize=9)
        axes[2].set_xlabel("time step $t$")
        axes[2].grid(alpha=0.3)
        fig.tight_layout()
        mse = float(np.mean((g["y_hat"] - y) ** 2))
        return (
            f"<pre>target {y[w_e.value]:.3f}, prediction {g['y_hat'][w_e.value]:.3f}; "
            f"MSE over these {n} sequences {mse:.4f}</pre>"
        ), fig

    # The static grid: the forget gate shifted down, not at all and up, at two lengths.
    grid = {w_e: [example], w_s: sorted({-1.0, shift, 1.0}), w_t: sorted({length, 150})}
    return make_explorer([[w_e, w_s, w_t]], draw, info=True, grid=grid)
