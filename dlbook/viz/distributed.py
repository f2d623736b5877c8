"""Figures, the animation and the explorer of the chapter on more than one process.

They draw what :mod:`dlbook.experiments.distributed` measured or traced: the steps of the ring
all-reduce, the order of DDP's gradient hooks and bucket all-reduces, the losses of DDP and of
one process, and the bytes each rank sends; nothing here trains.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import FuncAnimation

from dlbook.viz.common import make_explorer

__all__ = ["ring_figure", "ring_animation", "buckets_figure", "losses_figure", "traffic_explorer"]


def _ring(ax, frame, title):
    held = frame["held"]
    p = len(held)
    cmap = plt.get_cmap("Blues")
    for r in range(p):
        for c in range(p):
            n = len(held[r][c])
            ax.add_patch(plt.Rectangle((c, r), 0.94, 0.9, fc=cmap(0.12 + 0.7 * n / p), ec="0.4"))
            text = "Σ" if n == p else "+".join(map(str, held[r][c]))
            ax.text(c + 0.47, r + 0.45, text, ha="center", va="center", fontsize=10 if n == p
                    else 9, color="white" if n == p else "black")  # fmt: skip
    for src, dst, c in frame["msgs"]:
        bend = f"arc3,rad={0.5 if dst < src else -0.4}"  # the wrap-around goes up the side
        arrow = dict(arrowstyle="->", color="C3", lw=1.6, connectionstyle=bend)
        ax.annotate("", (c + 0.85, dst + 0.45), (c + 0.85, src + 0.45), arrowprops=arrow)
    ax.set_xlim(-0.1, p + 0.1)
    ax.set_ylim(p, -0.1)
    ax.set_xticks(np.arange(p) + 0.47, [f"chunk {c}" for c in range(p)], fontsize=9)
    ax.set_yticks(np.arange(p) + 0.45, [f"rank {r}" for r in range(p)], fontsize=9)
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_title(title, fontsize=10)


def _title(frames, i):
    f = frames[i]
    return "start: each rank holds its own numbers" if i == 0 else f"step {i}: {f['phase']}"


def ring_figure(frames, show=None):
    """Three moments of the ring all-reduce traced by
    :func:`~dlbook.experiments.distributed.ring_trace`: the start, the end of reduce-scatter
    (each rank owns one whole sum, Σ) and the end of all-gather. Red arrows: the chunks sent in
    that step; a cell lists the ranks whose numbers it has added up."""
    p = len(frames[0]["held"])
    show = (0, p - 1, 2 * (p - 1)) if show is None else show
    fig, axes = plt.subplots(1, len(show), figsize=(3.3 * len(show), 3.2))
    for ax, i in zip(np.atleast_1d(axes), show):
        _ring(ax, frames[i], _title(frames, i))
    fig.tight_layout()
    return fig


def ring_animation(frames, dpi=72, interval=900):
    """Every step of the ring all-reduce of :func:`ring_figure`, one frame per step. Returns a
    ``FuncAnimation``."""
    fig, ax = plt.subplots(figsize=(4.6, 4.0), dpi=dpi)

    def update(i):
        ax.clear()
        _ring(ax, frames[i], _title(frames, i))
        return []

    update(0)
    fig.tight_layout()
    return FuncAnimation(fig, update, frames=len(frames), interval=interval, blit=False)


def buckets_figure(steps):
    """DDP's backward pass as a sequence of events, one panel per logged step (``steps``: the
    ``events`` of a rank of :func:`~dlbook.experiments.distributed.run_ddp`): a dot on the top
    row when a parameter's gradient is ready, a bar on the bottom row when a bucket's
    all-reduce starts, labelled with its parameters and size."""
    fig, axes = plt.subplots(len(steps), 1, figsize=(9, 1.9 * len(steps) + 0.4), squeeze=False)
    for k, (ax, events) in enumerate(zip(axes[:, 0], steps)):
        for i, e in enumerate(events):
            if e[0] == "ready":
                layer = int(e[1].split(".")[0]) // 2
                ax.plot(i, 1, "o", ms=8, color=f"C{layer}")
                ax.text(i, 1.3, e[1], ha="center", fontsize=9, rotation=0)
            else:
                ax.barh(0, 0.8, left=i - 0.4, height=0.5, color="C3", alpha=0.8)
                ax.text(i, -0.55, f"bucket {e[1]}\n{e[3]:,} B", ha="center", va="top", fontsize=9)
        ax.set_yticks([0, 1], ["all-reduce\nstarts", "gradient\nready"], fontsize=9)
        ax.set_ylim(-1.6, 1.8)
        ax.set_xlim(-0.7, len(events) - 0.3)
        ax.set_xticks([])
        ax.set_title(f"step {k + 1}: events in the order they happened during backward",
                     fontsize=10)  # fmt: skip
        for side in ("top", "right", "bottom"):
            ax.spines[side].set_visible(False)
    fig.tight_layout()
    return fig


def losses_figure(rank_losses, single_losses):
    """The training loss of every DDP rank on its own half of each batch, their mean, and the
    loss of one process on the combined batch, per SGD step."""
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    steps = np.arange(1, len(single_losses) + 1)
    for r, losses in enumerate(rank_losses):
        ax.plot(steps, losses, "o--", ms=4, lw=1, color=f"C{r}", label=f"rank {r}, its half")
    ax.plot(steps, np.mean(rank_losses, axis=0), "s", ms=9, mfc="none", color="k",
            label="mean of the ranks")  # fmt: skip
    ax.plot(steps, single_losses, "x", ms=9, color="C3", label="one process, whole batch")
    ax.set_xlabel("SGD step")
    ax.set_ylabel("cross-entropy")
    ax.set_xticks(steps)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9)
    ax.set_title("DDP on two processes against one process", fontsize=10)
    fig.tight_layout()
    return fig


def traffic_explorer(table, p=4, algorithm="ring"):
    """An ipywidgets panel over ``table`` (``{(p, algorithm): bytes sent by each rank}``, from
    :func:`~dlbook.experiments.distributed.traffic`): choose the number of ranks and the
    algorithm, and see the bytes each rank sends to all-reduce the gradients."""
    import ipywidgets as widgets

    ps = sorted({k[0] for k in table})
    algs = sorted({k[1] for k in table}, reverse=True)
    w_p = widgets.ToggleButtons(options=ps, value=p, description="ranks")
    w_alg = widgets.ToggleButtons(options=algs, value=algorithm, description="algorithm")
    top = max(v.max() for v in table.values())

    def draw():
        sent = table[w_p.value, w_alg.value]
        fig, ax = plt.subplots(figsize=(5.4, 2.6))
        ax.bar(np.arange(len(sent)), sent / 1e6, color="C3" if w_alg.value == "central" else "C0")
        ax.set_ylim(0, top / 1e6 * 1.05)
        ax.set_xlabel("rank")
        ax.set_ylabel("MB sent")
        ax.set_xticks(np.arange(len(sent)))
        ax.tick_params(labelsize=9)
        ax.set_title(f"{w_alg.value}, {w_p.value} ranks", fontsize=10)
        ax.grid(alpha=0.3, axis="y")
        fig.tight_layout()
        html = (f"<pre>the busiest rank sends {sent.max() / 1e6:,.0f} MB; "
                f"all ranks together {sent.sum() / 1e6:,.0f} MB</pre>")  # fmt: skip
        return html, fig

    return make_explorer([[w_p], [w_alg]], draw, info=True)
