"""Figures, the animation and the explorer of the optimizers chapter.

They draw the trajectories and histories that :mod:`dlbook.experiments.optimizers` computed; the
explorer asks it for one short trajectory on the 2-D quadratic per slider move; nothing here
trains a network.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import FuncAnimation

from dlbook.experiments import optimizers as E
from dlbook.viz.common import make_explorer

__all__ = [
    "COLOURS",
    "draw_surface",
    "paths_figure",
    "loss_figure",
    "paths_animation",
    "sensitivity_figure",
    "momentum_grid",
    "explorer",
    "decay_figure",
    "curves_figure",
]

COLOURS = dict(zip(E.OPTIMIZERS, ("k", "C0", "C9", "C2", "C1", "C3", "C6")))
# AdamW and Nesterov are close variants of Adam and momentum: dashed, so that both show.
DASHED = ("Nesterov", "AdamW")


def _colour(name):
    return COLOURS.get(name, "k")


def _style(name):
    return dict(color=_colour(name), ls="--" if name in DASHED else "-")


def draw_surface(ax, surface, levels=14, n=160, light=False):
    """Contour lines of ``surface`` over its window, spaced evenly in log(loss), with the start
    (a black dot) and the minimum (a star). ``light=True`` draws thin lines without
    antialiasing: an animation frame then compresses to about half the size."""
    xs = np.linspace(*surface.xlim, n)
    ys = np.linspace(*surface.ylim, n)
    grid = np.stack(np.meshgrid(xs, ys))
    z = surface.f(grid) - surface.f(np.array(surface.minimum))
    lo = max(float(z.min()), 1e-2)  # the innermost line, just around the minimum
    style = (
        dict(colors="0.82", linewidths=0.6, antialiased=False)
        if light
        else dict(colors="0.8", linewidths=0.7)
    )
    ax.contour(xs, ys, z + 1e-12, levels=np.geomspace(lo, z.max(), levels), **style)
    ax.plot(*surface.minimum, "*", color="k", ms=11, zorder=30)
    ax.plot(*surface.start, "o", color="k", ms=4, zorder=30)
    ax.set_xlim(*surface.xlim)
    ax.set_ylim(*surface.ylim)
    ax.set_xlabel("$x$")
    ax.set_ylabel("$y$")


def _label(name, lr):
    return f"{name} (lr {lr:g})" if lr is not None else name


FAMILIES = (("SGD", "Momentum", "Nesterov"), ("AdaGrad", "RMSprop", "Adam", "AdamW"))


def _cells(panels, families):
    """(row, column, surface, {name: (lr, pts)}) for each family (row) and surface (column)."""
    for i, family in enumerate(families):
        for j, (surface, paths) in enumerate(panels):
            yield i, j, surface, {n: paths[n] for n in family if n in paths}


def paths_figure(panels, families=FAMILIES, dots=10):
    """Contour plots with the paths: one column per ``(surface, paths)`` in ``panels``, one row
    per family of optimizers (``families``: tuples of names). ``paths`` maps a name to
    ``(lr, points (steps + 1, 2))``. A dot marks every ``1/dots`` of the steps, so that the
    spacing of the dots shows the speed. Colours follow :data:`COLOURS`."""
    fig, axes = plt.subplots(len(families), len(panels), figsize=(5.0 * len(panels),
                             3.3 * len(families)), squeeze=False)  # fmt: skip
    for i, j, surface, paths in _cells(panels, families):
        ax = axes[i, j]
        draw_surface(ax, surface)
        for k, (name, (lr, pts)) in enumerate(paths.items()):
            every = max(1, (len(pts) - 1) // dots) if dots else None
            ax.plot(pts[:, 0], pts[:, 1], lw=1.3, marker="o" if dots else None, markevery=every,
                    ms=3, label=_label(name, lr), zorder=10 - k, **_style(name))  # fmt: skip
        steps = len(next(iter(paths.values()))[1]) - 1
        ax.set_title(f"{surface.name}: {steps} steps", fontsize=10)
        ax.legend(fontsize=9, loc="lower right", framealpha=0.85)
    fig.tight_layout()
    return fig


def loss_figure(panels):
    """The loss above the minimum, per step, on a log scale: one panel per ``(surface, paths)``."""
    fig, axes = plt.subplots(1, len(panels), figsize=(5.0 * len(panels), 3.6), squeeze=False)
    for ax, (surface, paths) in zip(axes[0], panels):
        best = surface.f(np.array(surface.minimum))
        for name, (lr, pts) in paths.items():
            gap = np.maximum(surface.f(pts.T) - best, 1e-16)
            ax.semilogy(gap, lw=1.3, label=_label(name, lr), **_style(name))
        ax.set_xlabel("step")
        ax.set_ylabel("loss $-$ minimum")
        ax.set_title(surface.name, fontsize=10)
        ax.grid(alpha=0.3)
    handles, labels = axes[0, -1].get_legend_handles_labels()  # above the panels: no curve hidden
    fig.legend(handles, labels, loc="upper center", ncol=4, fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.87))
    return fig


def paths_animation(panels, families=FAMILIES, frames=40, dpi=72, interval=150):
    """The paths of :func:`paths_figure` drawn step by step, in ``frames`` frames (frame ``k``
    shows the first ``k / (frames - 1)`` of every run, with a dot at the current point). Returns a
    ``FuncAnimation``; show it with :func:`dlbook.viz.common.to_html`."""
    if frames < 2:
        raise ValueError(f"frames must be >= 2, got {frames!r}")
    fig, axes = plt.subplots(len(families), len(panels), figsize=(3.2 * len(panels),
                             2.3 * len(families)), dpi=dpi, squeeze=False)  # fmt: skip
    drawn = []
    for i, j, surface, paths in _cells(panels, families):
        ax = axes[i, j]
        draw_surface(ax, surface, levels=8, n=80, light=True)
        ax.set_xticks([])  # tick labels would cost most of each frame's drawing time
        ax.set_yticks([])
        for k, (name, (_, pts)) in enumerate(paths.items()):
            (line,) = ax.plot([], [], lw=1.3, label=name, zorder=10 - k, **_style(name))
            (head,) = ax.plot([], [], "o", color=_colour(name), ms=4, zorder=20 - k)
            drawn.append((line, head, pts))
        ax.legend(fontsize=9, loc="lower right", framealpha=0.85)
        ax.set_xlabel("")
        ax.set_ylabel("")
        ax.set_title(surface.name, fontsize=9)
    heading = fig.suptitle("", fontsize=9)
    fig.tight_layout()
    _freeze_background(fig, keep=[a for line, head, _ in drawn for a in (line, head)])

    def update(k):
        fraction = k / (frames - 1)
        for line, head, pts in drawn:
            t = int(round(fraction * (len(pts) - 1)))
            line.set_data(pts[: t + 1, 0], pts[: t + 1, 1])
            head.set_data(pts[t : t + 1, 0], pts[t : t + 1, 1])
        heading.set_text(f"{fraction:.0%} of the steps")
        return []

    update(0)
    return FuncAnimation(fig, update, frames=frames, interval=interval, blit=False)


def _freeze_background(fig, keep):
    """Render everything but the ``keep`` artists once, as one image behind the axes, and hide
    the originals: each animation frame then redraws only the moving lines and the figure's
    title, not the contours, legends and titles (most of a frame's drawing time)."""
    fig.canvas.draw()
    background = np.asarray(fig.canvas.buffer_rgba()).copy()
    keep = {id(a) for a in keep}
    for ax in fig.axes:
        for artist in ax.get_children():
            if id(artist) not in keep:
                artist.set_visible(False)
    fig.patch.set_visible(False)
    # figimage puts row 0 at the bottom; the canvas buffer has it at the top.
    fig.figimage(background[::-1], xo=0, yo=0, origin="lower", zorder=-1)


def sensitivity_figure(sweeps, chosen, floor=1e-12):
    """Final loss against learning rate: one panel per surface. ``sweeps`` maps a surface name to
    ``{optimizer: {lr: final loss}}`` (from :func:`~dlbook.experiments.optimizers.tune_lr`),
    ``chosen`` to ``{optimizer: lr}``, marked with a ring. Runs that blew up sit on the dotted
    top line; losses below ``floor`` are drawn at ``floor``."""
    fig, axes = plt.subplots(1, len(sweeps), figsize=(5.0 * len(sweeps), 3.6), squeeze=False)
    for ax, (surface_name, sweep) in zip(axes[0], sweeps.items()):
        finite = [v for losses in sweep.values() for v in losses.values() if np.isfinite(v)]
        top = 10 * max(finite)
        for name, losses in sweep.items():
            lrs = np.array(list(losses))
            vals = np.clip([v if np.isfinite(v) else top for v in losses.values()], floor, top)
            ax.loglog(lrs, vals, marker="o", ms=3, lw=1.2, label=name, **_style(name))
            lr = chosen[surface_name][name]
            ax.plot(lr, np.clip(losses[lr], floor, top), "o", ms=9, mfc="none", color=_colour(name))
        ax.axhline(top, color="0.6", lw=0.8, ls=":")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("final loss")
        ax.set_title(surface_name, fontsize=10)
        ax.grid(alpha=0.3)
    handles, labels = axes[0, 0].get_legend_handles_labels()  # above the panels: no curve hidden
    fig.legend(handles, labels, loc="upper center", ncol=len(labels), fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    return fig


def _sgd_panel(ax, surface, lr, momentum, steps, nesterov=False):
    """One SGD-with-momentum run on ``surface`` drawn into ``ax``; returns the path."""
    name = "Nesterov" if nesterov else "Momentum"
    pts = E.trajectory(surface, name if momentum > 0 else "SGD", lr, steps,
                       **({"momentum": momentum} if momentum > 0 else {}))  # fmt: skip
    draw_surface(ax, surface, levels=10, n=100)
    ax.plot(pts[:, 0], pts[:, 1], ".-", color="C0", lw=1, ms=3)
    return pts


def _summary(surface, pts, lr, momentum, nesterov=False):
    h = np.linalg.eigvalsh(_hessian(surface))
    rate = E.momentum_rate(lr, momentum, h, nesterov=nesterov)
    if not np.all(np.isfinite(pts[-1])):
        return f"diverged, rate {rate:.2f} > 1"
    dist = np.linalg.norm(pts[-1] - np.array(surface.minimum))
    return f"distance {dist:.2g}, rate {rate:.2f}" + (" > 1: diverging" if rate > 1 else "")


def _hessian(surface):
    """The (constant) Hessian of a quadratic surface, from its analytic gradient."""
    return np.column_stack([surface.grad(np.eye(2)[i]) for i in range(2)])


def momentum_grid(surface, lrs, momenta, steps=40):
    """SGD (momentum 0) and SGD with momentum on a quadratic ``surface``: one panel per
    (momentum, lr), rows by momentum, with the distance to the minimum after ``steps`` steps and
    the predicted rate :func:`~dlbook.experiments.optimizers.momentum_rate` in each title."""
    fig, axes = plt.subplots(len(momenta), len(lrs), figsize=(2.7 * len(lrs), 1.75 * len(momenta)),
                             squeeze=False, sharex=True, sharey=True)  # fmt: skip
    for row, mu in zip(axes, momenta):
        for ax, lr in zip(row, lrs):
            pts = _sgd_panel(ax, surface, lr, mu, steps)
            ax.set_title(f"lr {lr:.3g}, momentum {mu:.2g}\n{_summary(surface, pts, lr, mu)}",
                         fontsize=9)  # fmt: skip
            ax.set_xlabel("")
            ax.set_ylabel("")
            ax.tick_params(labelsize=9)
    what = "Plain SGD" if not any(momenta) else "SGD with momentum"
    fig.suptitle(f"{what} on the {surface.name}, {steps} steps", fontsize=10)
    fig.tight_layout()
    return fig


def explorer(surface=None, lr=0.02, momentum=0.5, steps=40):
    """An ipywidgets panel: a learning-rate slider (log scale), a momentum slider and a Nesterov
    box; the SGD path on the quadratic ``surface`` (default :func:`quadratic`) is redrawn, with
    its distance to the minimum after ``steps`` steps and the rate that
    :func:`~dlbook.experiments.optimizers.momentum_rate` predicts. Returns the widget.

    The picture is a PNG widget value, not printed output, so the panel behaves the same in
    JupyterLab, in an executed notebook and under nbval.
    """
    import ipywidgets as widgets

    surface = E.quadratic() if surface is None else surface
    w_lr = widgets.FloatLogSlider(value=lr, base=10, min=-3, max=0, step=0.05, description="lr")
    w_mu = widgets.FloatSlider(value=momentum, min=0.0, max=0.99, step=0.01, description="momentum")
    w_nest = widgets.Checkbox(value=False, description="Nesterov")

    def draw():
        lr, mu, nesterov = w_lr.value, w_mu.value, w_nest.value and w_mu.value > 0
        fig, ax = plt.subplots(figsize=(5.0, 2.8))
        pts = _sgd_panel(ax, surface, lr, mu, steps, nesterov=nesterov)
        ax.set_title(f"{surface.name}, {steps} steps", fontsize=9)
        fig.tight_layout()
        return f"<pre>{_summary(surface, pts, lr, mu, nesterov)}</pre>", fig

    return make_explorer([[w_lr, w_mu, w_nest]], draw, info=True)


def decay_figure(
    demo, noise, lr, weight_decay, methods=("Adam, L2 in the loss", "AdamW, decoupled")
):
    r"""The mean weight per step under ``methods`` of :func:`~dlbook.experiments.optimizers.
    decay_demo`, one panel per weight (its gradient-noise scale in the title), with the
    decoupled-decay reference :math:`(1 - \gamma\lambda)^t` dotted."""
    t = np.arange(len(demo[methods[0]]))
    fig, axes = plt.subplots(1, len(noise), figsize=(3.3 * len(noise), 2.8), sharey=True)
    axes = np.atleast_1d(axes)
    for i, (ax, s) in enumerate(zip(axes, noise)):
        for method in methods:
            style = _style(method.split(",")[0])
            ax.plot(t, demo[method][:, i], lw=2.2 if "W" in method else 1.6, label=method, **style)
        ax.plot(t, (1 - lr * weight_decay) ** t, "k:", lw=1, label=r"$(1-\gamma\lambda)^t$")
        ax.set_title(f"gradient noise scale {s:g}", fontsize=9)
        ax.set_xlabel("step")
        ax.set_ylim(-0.05, 1.05)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("mean weight")
    axes[0].legend(fontsize=9, loc="lower left")
    fig.tight_layout()
    return fig


def curves_figure(histories, settings=None):
    """Test accuracy and training loss per epoch for each optimizer in ``histories`` (``{name:
    [History per seed]}``): the mean over the seeds as a line, the range as a band.
    ``settings`` (``{name: kwargs}``) puts each learning rate in the legend."""
    fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(10, 4.2))
    for name, runs in histories.items():
        lr = settings[name]["lr"] if settings else None
        for ax, key, scale in ((ax_acc, "test_acc", 100), (ax_loss, "train_loss", 1)):
            curves = scale * np.array([h[key] for h in runs])  # (seeds, epochs)
            epochs = np.arange(1, curves.shape[1] + 1)
            ax.plot(epochs, curves.mean(0), marker="o", ms=3, lw=1.4, label=_label(name, lr),
                    **_style(name))  # fmt: skip
            if len(runs) > 1:
                ax.fill_between(epochs, curves.min(0), curves.max(0), color=_colour(name),
                                alpha=0.12, lw=0)  # fmt: skip
    ax_acc.set_ylabel("test accuracy (%)")
    ax_loss.set_ylabel("training loss (mean over the epoch)")
    ax_loss.set_yscale("log")
    for ax in (ax_acc, ax_loss):
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    handles, labels = ax_acc.get_legend_handles_labels()  # below the title: no curve hidden
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.93), ncol=4,
               fontsize=9, frameon=False)  # fmt: skip
    seeds = len(next(iter(histories.values())))
    fig.suptitle(f"The same CNN trained by each optimizer: mean (line) and range (band) over "
                 f"{seeds} seeds", fontsize=10)  # fmt: skip
    fig.tight_layout(rect=(0, 0, 1, 0.84))
    return fig
