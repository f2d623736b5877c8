"""Pictures for the backpropagation chapter: a computational graph with its forward values and
backward gradients (and an animation of both passes), gradients through an MLP's layers, Jacobian
shapes, the hidden units' weights during training, and a settings grid and explorer. The numbers
come from :mod:`dlbook.experiments.backpropagation`; nothing here trains."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import FuncAnimation
from matplotlib.patches import FancyBboxPatch

from dlbook.experiments import backpropagation as E
from dlbook.viz.common import make_explorer

__all__ = [
    "NEURON_LAYOUT",
    "draw_graph",
    "graph_figure",
    "graph_animation",
    "backward_figure",
    "jacobian_figure",
    "h_sweep_figure",
    "cost_figure",
    "tile",
    "weights_animation",
    "sweep_figure",
    "explorer",
]

FORWARD = "#1f4e9c"  # values
BACKWARD = "#c0392b"  # gradients
DONE, ACTIVE, IDLE = "#fdf2e9", "#f9c79a", "#ffffff"

# (column, row) of every leaf and node of dlbook.experiments.backpropagation.neuron_graph.
NEURON_LAYOUT = {
    "x": (0, 2.1), "w": (0, 0.9), "b": (1, 3.1), "t": (3, 3.1),
    "u": (1, 1.9), "z": (2, 1.9), "h": (3, 1.9), "e": (4, 1.9), "d": (5, 1.9),
    "r": (4, 0.3), "L": (6, 1.1),
}  # fmt: skip


def _consumers(graph):
    users = {}
    for node in graph:
        for name in node.inputs:
            users.setdefault(name, []).append(node.name)
    return users


def draw_graph(
    ax, graph, layout, values=None, grads=None, complete=(), active=None, backward=False,
    fontsize=9,
):  # fmt: skip
    """Draw ``graph`` (a list of :class:`~dlbook.experiments.backpropagation.Node`) at ``layout``
    positions. Each box shows ``name = op(inputs)``, its value (blue) when ``values`` has it, and
    ``∂L/∂name`` (red) when ``grads`` has it: bold when the name is in ``complete``, with a "…"
    when it is a partial sum still waiting for other paths. The node ``active`` is highlighted,
    with its input edges in blue (values flowing in) or, with ``backward``, in red (gradients
    flowing back out)."""
    values, grads = values or {}, grads or {}
    ops = {node.name: node for node in graph}
    for node in graph:
        for name in node.inputs:
            (x0, y0), (x1, y1) = layout[name], layout[node.name]
            hot = node.name == active
            color = (BACKWARD if backward else FORWARD) if hot else "0.55"
            ax.annotate(
                "", (x1 - 0.33, y1), (x0 + 0.33, y0), zorder=1,
                arrowprops=dict(arrowstyle="<|-" if hot and backward else "-|>", color=color,
                                lw=2.2 if hot else 1.0, shrinkA=0, shrinkB=0),
            )  # fmt: skip
    for name, (x, y) in layout.items():
        node = ops.get(name)
        label = name if node is None else f"{name} = " + _formula(node)
        face = ACTIVE if name == active else (DONE if name in values else IDLE)
        box = FancyBboxPatch(
            (x - 0.33, y - 0.3), 0.66, 0.6, boxstyle="round,pad=0.02,rounding_size=0.12",
            fc=face, ec="0.2" if node is not None else "0.55", lw=1.2, zorder=2,
            ls="-" if node is not None else "--",
        )  # fmt: skip
        ax.add_patch(box)
        ax.text(x, y + 0.12, label, ha="center", va="center", fontsize=fontsize, zorder=3)
        if name in values:
            ax.text(x, y - 0.13, f"{values[name]:.3f}", ha="center", va="center",
                    color=FORWARD, fontsize=fontsize, zorder=3)  # fmt: skip
        if name in grads:
            done = name in complete
            text = f"{grads[name]:+.3f}" + ("" if done else " …")
            ax.text(x, y - 0.43, text, ha="center", va="center", color=BACKWARD,
                    fontsize=fontsize, fontweight="bold" if done else "normal",
                    style="normal" if done else "italic", zorder=3)  # fmt: skip
    xs, ys = zip(*layout.values())
    ax.set_xlim(min(xs) - 0.45, max(xs) + 0.45)
    ax.set_ylim(min(ys) - 0.6, max(ys) + 0.4)
    ax.set_aspect("equal")
    ax.axis("off")


def _formula(node) -> str:
    a = node.inputs
    if len(a) == 2:
        return f"{a[0]} {node.op.symbol} {a[1]}"
    return node.op.symbol.format(a[0])


def _legend(ax, fontsize=9):
    kw = dict(transform=ax.transAxes, fontsize=fontsize, va="bottom")
    ax.text(0.0, 0.07, "blue: the value", color=FORWARD, **kw)
    ax.text(0.0, 0.0, "red: ∂L/∂(node)", color=BACKWARD, **kw)


def graph_figure(graph, leaves, output, layout=None, title=None, size=1.4):
    """The whole graph after both passes: every value and every gradient."""
    layout = NEURON_LAYOUT if layout is None else layout
    values = E.forward(graph, leaves)
    grads = E.backward(graph, values, output)
    fig, ax = _graph_axes(layout, size)
    draw_graph(ax, graph, layout, values, grads, complete=set(grads))
    _legend(ax)
    ax.set_title(title or f"{output} = {values[output]:.4f}: forward values and backward gradients")
    return fig


def _graph_axes(layout, size):
    xs, ys = zip(*layout.values())
    w, h = max(xs) - min(xs) + 0.9, max(ys) - min(ys) + 1.0
    fig, ax = plt.subplots(figsize=(size * w, size * h + 0.4))
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.9)
    return fig, ax


def graph_frames(graph, leaves, output):
    """The states the animation shows: ``(values, grads, complete, active, caption)`` per frame.
    First the forward pass, one node at a time; then the backward pass, one node at a time in
    reverse order, each sending its gradient to its inputs; a last frame holds the result."""
    values = E.forward(graph, leaves)
    users = _consumers(graph)
    frames = [(dict(leaves), {}, set(), None, "the leaves: inputs and parameters")]
    for k, node in enumerate(graph, 1):
        caption = f"forward: {node.name} = {_formula(node)} = {values[node.name]:.3f}"
        frames.append((E.forward(graph[:k], leaves), {}, set(), node.name, caption))
    for k in range(1, len(graph) + 1):
        done_nodes = {n.name for n in graph[len(graph) - k :]}
        grads = E.backward(graph[len(graph) - k :], values, output)  # partial sums so far
        reached = {name for n in graph[len(graph) - k :] for name in n.inputs} | {output}
        complete = {n for n in values if set(users.get(n, ())) <= done_nodes} & reached
        node = graph[len(graph) - k]
        caption = f"backward: {node.name} sends ∂L/∂{node.name} = {grads[node.name]:+.3f} to " + (
            ", ".join(node.inputs)
        )
        shown = {n: g for n, g in grads.items() if n in reached}
        frames.append((values, shown, complete, node.name, caption))
    grads = E.backward(graph, values, output)
    frames.append((values, grads, set(grads), None, "done: one backward pass gave every gradient"))
    return frames


def graph_animation(graph, leaves, output, layout=None, interval=1100, size=1.4, dpi=72):
    """A ``FuncAnimation`` of :func:`graph_frames` (``2 * len(graph) + 2`` frames)."""
    layout = NEURON_LAYOUT if layout is None else layout
    frames = graph_frames(graph, leaves, output)
    fig, ax = _graph_axes(layout, size)
    fig.set_dpi(dpi)
    title = fig.text(0.5, 0.97, "", ha="center", va="top", fontsize=10)  # cheaper than a title

    def update(i):
        ax.clear()
        values, grads, complete, active, caption = frames[i]
        draw_graph(ax, graph, layout, values, grads, complete, active, bool(grads), fontsize=9)
        _legend(ax, fontsize=9)
        title.set_text(f"step {i}/{len(frames) - 1}: {caption}")
        return []

    update(0)
    return FuncAnimation(fig, update, frames=len(frames), interval=interval, blit=False)


def backward_figure(trace, rows=12):
    """The gradient arriving at each layer during one backward pass, as heatmaps (one row per
    example, the first ``rows`` examples), from
    :func:`~dlbook.experiments.backpropagation.backward_trace`. Each panel has its own symmetric
    colour scale."""
    trace = [(name, g.reshape(len(g), -1)[:rows]) for name, g in trace]
    widths = [max(g.shape[1], 20) for _, g in trace]  # room for a narrow panel's title
    fig, axes = plt.subplots(
        1, len(trace), figsize=(min(10.0, 2.0 + 0.05 * sum(widths)), 2.9),  # <= 10 in: legible
        gridspec_kw=dict(width_ratios=widths),
    )  # fmt: skip
    for ax, (name, g) in zip(axes, trace):
        m = float(np.abs(g).max()) or 1.0
        ax.imshow(g, cmap="RdBu_r", vmin=-m, vmax=m, aspect="auto", interpolation="nearest")
        zeros = 100 * np.mean(g == 0)
        ax.set_title(f"∂L/∂({name})\n{g.shape[1]} wide, {zeros:.0f}% zeros", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0].set_ylabel("example")
    fig.suptitle("the gradient the backward pass carries, from the loss (left) to the input")
    fig.tight_layout()
    return fig


def jacobian_figure(jacobians: dict, size=2.6):
    """``{title: 2-D Jacobian}`` side by side; zeros white, so the sparsity shows."""
    fig, axes = plt.subplots(1, len(jacobians), figsize=(size * len(jacobians), size + 0.4))
    for ax, (title, jac) in zip(np.atleast_1d(axes), jacobians.items()):
        m = float(np.abs(jac).max()) or 1.0
        ax.imshow(jac, cmap="RdBu_r", vmin=-m, vmax=m, interpolation="nearest")
        ax.set_title(f"{title}\n{jac.shape[0]}×{jac.shape[1]}, {np.mean(jac != 0):.0%} nonzero",
                     fontsize=9)  # fmt: skip
        ax.set_xlabel("input entry")
        ax.set_ylabel("output entry")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def h_sweep_figure(hs, curves: dict):
    """Relative error of central differences against the step ``h``, one line per
    ``{label: errors}``, on log-log axes."""
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for label, errors in curves.items():
        ax.loglog(hs, np.maximum(errors, 1e-16), marker="o", ms=3, label=label)
    ax.axhline(1e-6, color="0.5", ls=":", lw=1)
    ax.text(min(hs), 1.5e-6, "tolerance 1e-6", fontsize=8, color="0.4", va="bottom")
    ax.set(xlabel="finite-difference step h", ylabel="relative error vs backprop",
           title="choosing h: round-off (left) against truncation (right)")  # fmt: skip
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig


def cost_figure(times: dict, counts: dict):
    """Bars: measured seconds (``times``) and multiply-add counts (``counts``) of the forward and
    backward passes, each relative to the forward pass."""
    fig, axes = plt.subplots(1, 2, figsize=(7.5, 2.8), sharey=True)
    for ax, (title, d) in zip(axes, (("measured time", times), ("multiply-adds", counts))):
        ratio = [d["forward"] / d["forward"], d["backward"] / d["forward"]]
        ax.bar(["forward", "backward"], ratio, color=[FORWARD, BACKWARD])
        for i, r in enumerate(ratio):
            ax.text(i, r, f"{r:.2f}×", ha="center", va="bottom", fontsize=9)
        ax.set_title(title)
    axes[0].set_ylabel("relative to the forward pass")
    fig.tight_layout()
    return fig


def tile(images: np.ndarray, cols: int) -> np.ndarray:
    """``(n, h, w)`` images as one ``rows × cols`` mosaic with a NaN gap of one pixel between."""
    n, h, w = images.shape
    rows = -(-n // cols)
    out = np.full((rows * (h + 1) - 1, cols * (w + 1) - 1), np.nan)
    for k, image in enumerate(images):
        r, c = divmod(k, cols)
        out[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w] = image
    return out


def weights_animation(snapshots, units=16, cols=8, interval=400, dpi=72):
    """The first layer's incoming weights of ``units`` hidden units as 8x8 images, one frame per
    snapshot, beside the training loss so far (from
    :func:`~dlbook.experiments.backpropagation.train_recorded`: dicts with ``step``, ``epoch``,
    ``loss``, ``test_acc`` and ``weight`` ``(hidden, 64)``). One colour scale for all frames, so
    the weights' growth shows."""
    fig, (ax, curve) = plt.subplots(
        1, 2, figsize=(9.0, 2.7), dpi=dpi, gridspec_kw=dict(width_ratios=[2.4, 1])
    )
    m = max(float(np.abs(s["weight"][:units]).max()) for s in snapshots)
    cmap = plt.get_cmap("RdBu_r").with_extremes(bad="white")
    frames = [tile(s["weight"][:units].reshape(-1, 8, 8), cols) for s in snapshots]
    image = ax.imshow(frames[0], cmap=cmap, vmin=-m, vmax=m, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"incoming weights of hidden units 0 to {units - 1} (8×8 each)", fontsize=9)
    for side in ax.spines.values():
        side.set_visible(False)
    fig.colorbar(image, ax=ax, fraction=0.03, pad=0.01)
    steps = np.maximum([s["step"] for s in snapshots], 1)
    losses = [s["loss"] for s in snapshots]
    curve.loglog(steps, losses, color="0.7")
    (dot,) = curve.loglog([], [], "o", color=BACKWARD)
    curve.set_xlabel("step", fontsize=9)
    curve.set_title("training loss", fontsize=9)
    curve.tick_params(labelsize=9)
    title = fig.suptitle("", fontsize=10)
    fig.subplots_adjust(left=0.01, right=0.98, bottom=0.18, top=0.8, wspace=0.3)

    def update(i):
        s = snapshots[i]
        image.set_data(frames[i])
        dot.set_data([steps[i]], [s["loss"]])
        title.set_text(
            f"step {s['step']} (epoch {s['epoch']:.2f}): test accuracy {100 * s['test_acc']:.1f}%"
        )
        return [image, dot, title]

    update(0)
    return FuncAnimation(fig, update, frames=len(snapshots), interval=interval, blit=False)


def sweep_figure(results: dict, key="test_acc"):
    """One panel per learning rate, one curve per hidden width, from
    :func:`~dlbook.experiments.backpropagation.sweep`'s ``{(hidden, lr): History}``."""
    hiddens = sorted({h for h, _ in results})
    lrs = sorted({lr for _, lr in results})
    fig, axes = plt.subplots(1, len(lrs), figsize=(3.3 * len(lrs), 3.0), sharey=True)
    for ax, lr in zip(np.atleast_1d(axes), lrs):
        for h in hiddens:
            values = results[(h, lr)][key]
            epochs = range(1, len(values) + 1)
            ax.plot(epochs, values, marker="o", ms=2,
                    label=f"{h} hidden: {100 * values[-1]:.1f}%")  # fmt: skip
        ax.set(title=f"learning rate {lr:g}", xlabel="epoch")
        ax.legend(fontsize=9, loc="lower right")
    np.atleast_1d(axes)[0].set_ylabel(key.replace("_", " "))
    fig.tight_layout()
    return fig


def explorer(train, hiddens=(8, 16, 32, 64, 128, 256), lrs=(0.003, 0.01, 0.03, 0.1, 0.3, 1.0)):
    """An ipywidgets explorer: ``train(hidden=..., lr=...)`` must return a ``History``; its
    learning curves are drawn for the chosen hidden width and learning rate. Works in a running
    kernel only; returns the widget."""
    import ipywidgets as widgets

    hidden = widgets.SelectionSlider(options=list(hiddens), value=64, description="hidden")
    lr = widgets.SelectionSlider(options=list(lrs), value=0.1, description="lr")

    def draw():
        history = train(hidden=hidden.value, lr=lr.value)
        fig = history.plot()
        fig.suptitle(f"hidden {hidden.value}, lr {lr.value:g}: "
                     f"test accuracy {100 * history.final['test_acc']:.1f}%")  # fmt: skip
        fig.tight_layout()
        return fig

    # The static grid trains once per position: three widths, three rates (too low, good, too high).
    grid = {hidden: [h for h in (16, 64, 256) if h in hiddens] or [hidden.value],
            lr: [r for r in (0.01, 0.1, 1.0) if r in lrs] or [lr.value]}  # fmt: skip
    return make_explorer([[hidden, lr]], draw, output=True, dpi=80, grid=grid)
