"""The regularization chapter's figures, animation and explorer. The numbers they draw come from
:mod:`dlbook.experiments.regularization`; the explorer refits small polynomials as you move it."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import FuncAnimation

from dlbook.experiments import regularization as reg
from dlbook.viz.common import make_explorer

__all__ = [
    "penalty_figure",
    "geometry_figure",
    "weights_figure",
    "path_figure",
    "poly_animation",
    "capacity_figure",
    "decay_figure",
    "early_stopping_figure",
    "augment_examples",
    "draw_poly_fit",
    "explorer",
    "explorer_grid",
    "weight_images",
]

COLOURS = {"none": "C7", "L2": "C0", "L1": "C3", "elastic net": "C2"}
KINDS = {"none": 0.0, "L1": 1.0, "L2": 0.0, "elastic net": 0.5}  # kind -> l1_ratio


def penalty_figure(lam=1.0, step=0.5):
    """Three panels for one weight: the penalties, their (sub)gradients, and what one step of
    size ``step`` does to the weight when only the penalty acts."""
    w = np.linspace(-2, 2, 401)
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.2))
    curves = {
        "L1": (reg.l1_penalty, reg.l1_penalty_backward, {}),
        "L2": (reg.l2_penalty, reg.l2_penalty_backward, {}),
        "elastic net": (reg.elastic_net_penalty, reg.elastic_net_penalty_backward, {}),
    }
    for name, (f, df, kw) in curves.items():
        value = [f(np.array(v), lam, **kw) for v in w]
        axes[0].plot(w, value, color=COLOURS[name], label=name)
        grad = df(1.0, w, lam, **kw)
        jump = np.abs(np.diff(grad)) > 0.5 * lam  # do not join the two sides of L1's step
        axes[1].plot(w, np.where(np.r_[jump, False], np.nan, grad), color=COLOURS[name])
    axes[1].plot([0, 0], [-lam, lam], color=COLOURS["L1"], lw=3, alpha=0.35)
    axes[1].annotate("subgradients\nat 0: [-λ, λ]", (0, 0.5 * lam), (0.25, 1.2 * lam), fontsize=9)
    t = step * lam
    axes[2].plot(w, w * (1 - t), color=COLOURS["L2"], label="L2: w(1 - ηλ)")
    axes[2].plot(w, w - t * np.sign(w), color=COLOURS["L1"], ls="--", label="L1 subgradient")
    axes[2].plot(w, reg.soft_threshold(w, t), color=COLOURS["L1"], label="L1 proximal")
    axes[2].plot(w, w, color="k", lw=0.6, ls=":", label="no penalty")
    titles = (
        f"penalty (λ = {lam:g})",
        "(sub)gradient",
        f"one step, ηλ = {t:g}: w before → after",
    )
    for ax, title in zip(axes, titles):
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("weight w")
        ax.axhline(0, color="gray", lw=0.5)
        ax.axvline(0, color="gray", lw=0.5)
    axes[0].legend(fontsize=9)
    axes[2].legend(fontsize=9, loc="upper left")
    fig.tight_layout()
    return fig


def geometry_figure(center=(2.0, 1.0), budget=1.0):
    """A quadratic loss with its minimum at ``center``, and the best point inside the L1 ball
    and the L2 ball of radius ``budget``: the L1 ball's corners sit on the axes."""
    h = np.array([[2.0, 0.8], [0.8, 1.0]])  # an elongated, tilted bowl
    c = np.asarray(center)

    def loss(p):  # p: (..., 2)
        d = p - c
        return np.einsum("...i,ij,...j->...", d, h, d)

    g = np.linspace(-2, 3, 300)
    grid = np.stack(np.meshgrid(g, g), -1)
    theta = np.linspace(0, 2 * np.pi, 4001)
    circle = budget * np.stack([np.cos(theta), np.sin(theta)], -1)
    diamond = circle / np.abs(circle).sum(1, keepdims=True)  # |w1| + |w2| = budget
    fig, axes = plt.subplots(1, 2, figsize=(7.5, 3.6))
    for ax, ball, name in zip(axes, (diamond, circle), ("L1", "L2")):
        ax.contour(g, g, loss(grid), levels=np.geomspace(0.05, 12, 9), colors="gray",
                   linewidths=0.7)  # fmt: skip
        ax.fill(ball[:, 0], ball[:, 1], color=COLOURS[name], alpha=0.25)
        best = ball[np.argmin(loss(ball))]  # the optimum lies outside: it is on the boundary
        ax.plot(*c, "k*", ms=10, label="unpenalized minimum")
        ax.plot(*best, "o", color=COLOURS[name], label=f"best with {name} ≤ {budget:g}")
        w1, w2 = np.round(best, 2) + 0.0  # + 0.0 turns -0.0 into 0.0
        ax.set_title(f"{name} ball: best point ({w1:g}, {w2:g})", fontsize=10)
        ax.set_aspect("equal")
        ax.set_xlabel("$w_1$")
        ax.set_ylabel("$w_2$")
        ax.axhline(0, color="k", lw=0.5)
        ax.axvline(0, color="k", lw=0.5)
        ax.legend(fontsize=9, loc="lower left")
    fig.tight_layout()
    return fig


def weights_figure(weights, w_true):
    """One histogram of :math:`\\log_{10}|w|` per fit (``weights``: name -> ``(d,)``), with the
    exact zeros counted in a bar of their own at the left."""
    fig, axes = plt.subplots(1, len(weights), figsize=(min(10.0, 2.9 * len(weights)), 2.9),
                             sharey=True)  # fmt: skip
    bins = np.linspace(-8, 1, 19)
    zero = np.asarray(w_true) == 0
    for ax, (name, w) in zip(axes, weights.items()):
        w = np.asarray(w)
        exact = w == 0
        logs = np.log10(np.clip(np.abs(w[~exact]), 10.0**-7.99, None))
        nz = ~exact & zero[: len(w)]
        ax.hist([logs[nz[~exact]], logs[~nz[~exact]]], bins=bins, stacked=True,
                color=["C1", "C9"], label=["true weight 0", "true weight ≠ 0"])  # fmt: skip
        ax.bar(-9, exact.sum(), width=0.9, color="k", label="exactly 0")
        ax.set_xticks([-9, -6, -4, -2, 0])
        ax.set_xticklabels(["=0", "1e-6", "1e-4", "0.01", "1"])
        ax.set_title(f"{name}\n{exact.sum()} exact zeros", fontsize=9)
        ax.set_xlabel("|w|")
    axes[0].set_ylabel("number of weights")
    axes[0].legend(fontsize=9, loc="upper left")
    fig.tight_layout()
    return fig


def path_figure(lams, paths, w_true):
    """Each weight against the penalty strength, one panel per penalty (``paths``: name ->
    ``(len(lams), d)``); the true nonzero weights are solid, the others dotted."""
    fig, axes = plt.subplots(1, len(paths), figsize=(4.4 * len(paths), 3.2), sharey=True)
    for ax, (name, path) in zip(axes, paths.items()):
        for j in range(path.shape[1]):
            ax.plot(lams, path[:, j], ls="-" if w_true[j] else ":", lw=1.5 if w_true[j] else 1)
        ax.set_xscale("log")
        ax.axhline(0, color="k", lw=0.5)
        ax.set_xlabel("λ")
        ax.set_title(f"{name}: every weight as λ grows", fontsize=10)
    axes[0].set_ylabel("weight")
    fig.tight_layout()
    return fig


def draw_poly_fit(ax, problem, coef, colour="C3", label=None):
    """The training points, the true curve and the polynomial with Legendre coefficients
    ``coef`` (its degree is ``len(coef) - 1``)."""
    xs = np.linspace(-1, 1, 300)
    ax.plot(xs, problem.target(xs), color="gray", lw=1, ls="--", label="sin(πx)")
    ax.plot(problem.x_train, problem.y_train, "ko", ms=4, label="training points")
    (line,) = ax.plot(xs, reg.poly_features(xs, len(coef) - 1) @ coef, color=colour, label=label)
    ax.set_ylim(-2, 2)
    ax.set_xlabel("x")
    return line


def poly_animation(problem, curve, interval=700):
    """One frame per degree in ``curve`` (from :func:`reg.capacity_curve`): the fit on the left,
    the training and test errors up to that degree on the right."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3.1), dpi=72)
    line = draw_poly_fit(left, problem, curve["coef"][0])
    degrees = curve["degree"]
    (tr,) = right.plot([], [], "o-", color="C0", ms=3, label="train")
    (te,) = right.plot([], [], "o-", color="C3", ms=3, label="test")
    right.axhline(problem.noise**2, color="gray", lw=0.8, ls=":", label="noise variance")
    right.set(yscale="log", xlim=(-0.5, degrees[-1] + 0.5), ylim=(1e-4, 1e2), xlabel="degree",
              ylabel="mean squared error")  # fmt: skip
    right.set_yticks([1e-4, 1e-2, 1, 1e2])
    right.minorticks_off()  # fewer labels to lay out: every frame is redrawn in full
    right.legend(fontsize=9, loc="upper left")
    fig.tight_layout()
    xs = np.linspace(-1, 1, 300)

    def draw(i):
        d = degrees[i]
        line.set_ydata(reg.poly_features(xs, int(d)) @ curve["coef"][i])
        left.set_title(f"degree {d}: {len(curve['coef'][i])} coefficients", fontsize=10)
        tr.set_data(degrees[: i + 1], np.maximum(curve["train_mse"][: i + 1], 1e-4))
        te.set_data(degrees[: i + 1], curve["test_mse"][: i + 1])
        right.set_title(f"test error {curve['test_mse'][i]:.3g}", fontsize=10)
        return line, tr, te

    return FuncAnimation(fig, draw, frames=len(degrees), interval=interval, blit=True)


def capacity_figure(curve, widths):
    """Left: polynomial train/test error against degree. Right: MLP train/test accuracy against
    hidden width (``widths``: rows of :func:`reg.width_sweep`)."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.4))
    d = curve["degree"]
    a.plot(d, np.maximum(curve["train_mse"], 1e-4), "o-", ms=3, label="train")
    a.plot(d, curve["test_mse"], "o-", ms=3, color="C3", label="test")
    best = d[np.argmin(curve["test_mse"])]
    a.axvline(best, color="gray", ls=":", label=f"best degree {best}")
    a.set(yscale="log", ylim=(1e-4, 1e2), xlabel="polynomial degree (capacity)",
          ylabel="mean squared error", title="Polynomials: the U-shape")  # fmt: skip
    a.legend(fontsize=9)
    w = [r["width"] for r in widths]
    b.plot(w, [100 * r["train_acc"] for r in widths], "o-", ms=3, label="train")
    b.plot(w, [100 * r["test_acc"] for r in widths], "o-", ms=3, color="C3", label="test")
    b.set(xscale="log", xlabel="hidden units (capacity)", ylabel="accuracy (%)",
          title="An MLP on 300 digits: no U", ylim=(0, 101))  # fmt: skip
    b.legend(fontsize=9)
    for ax in (a, b):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def decay_figure(result, lr, weight_decay, steps):
    """Mean final weight against gradient noise scale, for Adam + L2 and for AdamW."""
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    s = result["scales"]
    ax.plot(s, result["adam"], "o-", label="Adam, weight_decay (L2 in the gradient)")
    ax.plot(s, result["adamw"], "s-", color="C2", label="AdamW (decoupled)")
    ax.axhline((1 - lr * weight_decay) ** steps, color="gray", ls=":", label="(1 - ηλ)$^T$")
    ax.set(xscale="log", xlabel="gradient noise scale of the weight", ylim=(-0.05, 1.05),
           ylabel=f"mean weight after {steps} steps", title="Same λ, same gradients")  # fmt: skip
    ax.legend(fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def early_stopping_figure(results):
    """Test accuracy of the full runs (``results``: label -> :func:`reg.early_stopping` output),
    with the epoch where early stopping halted and the best epoch it restored."""
    fig, axes = plt.subplots(1, len(results), figsize=(5 * len(results), 3.2), sharey=True)
    for ax, (label, r) in zip(np.atleast_1d(axes), results.items()):
        acc = 100 * np.array(r["full"]["test_acc"])
        ax.plot(np.arange(1, len(acc) + 1), acc, color="C3", label="test accuracy, no stopping")
        stop = r["stopped"]
        ax.axvline(len(stop), color="k", ls="--", lw=1, label=f"stopped at epoch {len(stop)}")
        ax.axvline(stop.best_epoch, color="gray", ls=":", label=f"best epoch {stop.best_epoch}")
        ax.set(xlabel="epoch", title=label)
        ax.legend(fontsize=9, loc="best")
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[0].set_ylabel("test accuracy (%)")
    fig.tight_layout()
    return fig


def augment_examples(images, augment, copies=7):
    """Each image of ``images (n, 1, H, W)`` (left) and ``copies`` draws of ``augment`` of it."""
    n = len(images)
    fig, axes = plt.subplots(n, copies + 1, figsize=(1.1 * (copies + 1), 1.15 * n))
    for i in range(n):
        batch = augment(np.repeat(images[i : i + 1], copies, axis=0))
        for j, img in enumerate([images[i], *batch]):
            axes[i, j].imshow(img[0], cmap="gray_r", vmin=0, vmax=1)
            axes[i, j].set_xticks([])  # keep the frame: it shows where the image ends
            axes[i, j].set_yticks([])
    axes[0, 0].set_title("original", fontsize=9)
    axes[0, 1].set_title(repr(augment), fontsize=9, loc="left")
    fig.tight_layout()
    return fig


def _fit_and_score(problem, kind, lam, degree):
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {list(KINDS)}, got {kind!r}")
    coef = reg.poly_fit(problem, degree, 0.0 if kind == "none" else lam, KINDS[kind])
    test = reg.poly_features(problem.x_test, degree) @ coef - problem.y_test
    return coef, float(np.mean(test**2))


def explorer_grid(problem, kinds=("L1", "L2"), lams=(1e-3, 1e-2, 1e-1), degree=12):
    """The explorer's static stand-in: one panel per (penalty, λ) at one degree, each titled
    with its test error and its count of zero coefficients."""
    fig, axes = plt.subplots(len(kinds), len(lams), figsize=(3.2 * len(lams), 2.6 * len(kinds)),
                             sharex=True, sharey=True, squeeze=False)  # fmt: skip
    for row, kind in zip(axes, kinds):
        for ax, lam in zip(row, lams):
            coef, mse = _fit_and_score(problem, kind, lam, degree)
            draw_poly_fit(ax, problem, coef, COLOURS[kind])
            zeros = int(np.sum(coef == 0))
            ax.set_title(f"{kind}, λ={lam:g}: test {mse:.3f}, {zeros} zeros", fontsize=9)
    fig.suptitle(f"degree {degree} ({degree + 1} coefficients)", fontsize=10)
    fig.tight_layout()
    return fig


def explorer(problem, kind="L2", lam=1e-3, degree=12):
    """An ipywidgets panel: choose the penalty, λ (log scale) and the degree; see the fit, its
    coefficients and its train and test errors. Returns the widget (display it).

    The picture and the numbers are widget values (a PNG and HTML), not printed output, so the
    panel works the same in JupyterLab, in an executed notebook and under nbval.
    """
    import ipywidgets as widgets

    w_kind = widgets.Dropdown(options=list(KINDS), value=kind, description="penalty")
    w_lam = widgets.FloatLogSlider(value=lam, base=10, min=-6, max=1, step=0.25, description="λ")
    w_deg = widgets.IntSlider(value=degree, min=0, max=14, description="degree")

    def draw():
        k, lam, d = w_kind.value, w_lam.value, w_deg.value
        coef, mse = _fit_and_score(problem, k, lam, d)
        train = reg.poly_features(problem.x_train, d) @ coef - problem.y_train
        fig, (a, b) = plt.subplots(1, 2, figsize=(7.5, 2.8))
        draw_poly_fit(a, problem, coef, COLOURS[k])
        b.bar(np.arange(d + 1), coef, color=COLOURS[k])
        b.set(xlabel="Legendre coefficient index", ylabel="value", title="coefficients")
        fig.tight_layout()
        return (
            f"<pre>train MSE {np.mean(train**2):.4f}   test MSE {mse:.4f}   "
            f"zero coefficients {int(np.sum(coef == 0))} of {d + 1}</pre>"
        ), fig

    # The static grid: every penalty at four λ, at the degree shown (an L1 fit at a tiny λ takes
    # seconds, so the grid starts at 1e-3).
    grid = {w_lam: [1e-3, 1e-2, 1e-1, 1.0], w_deg: [degree]}
    return make_explorer([[w_kind, w_lam, w_deg]], draw, info=True, grid=grid)


def weight_images(weights):
    """Softmax-regression weights as 8x8 images, one row per fit (``weights``: name ->
    ``(10, 64)``): red pulls a class up, blue pulls it down, white is exactly zero."""
    fig, axes = plt.subplots(len(weights), 10, figsize=(9, 1.15 * len(weights)), squeeze=False)
    for row, (name, w) in zip(axes, weights.items()):
        scale = np.abs(w).max()
        for digit, ax in enumerate(row):
            ax.imshow(w[digit].reshape(8, 8), cmap="RdBu_r", vmin=-scale, vmax=scale)
            ax.set_xticks([])
            ax.set_yticks([])
            if row is axes[0]:
                ax.set_title(str(digit), fontsize=9)
        row[0].set_ylabel(name, fontsize=9, rotation=0, ha="right", va="center")
    fig.tight_layout()
    return fig
