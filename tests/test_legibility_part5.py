"""Every figure of Part 5's chapters, built from cheap inputs, has text a reader can read: at
least 9 px tall on screen in the book's 720 px column (dlbook.viz.legible)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from dlbook.data.augment import Augment  # noqa: E402
from dlbook.experiments import optimizers as eo  # noqa: E402
from dlbook.experiments import regularization as er  # noqa: E402
from dlbook.experiments.evaluating_tuning import RangeTest, Trial  # noqa: E402
from dlbook.train import History  # noqa: E402
from dlbook.viz import batch_norm as vb  # noqa: E402
from dlbook.viz import dropout as vd  # noqa: E402
from dlbook.viz import evaluating_tuning as ve  # noqa: E402
from dlbook.viz import optimizers as vo  # noqa: E402
from dlbook.viz import regularization as vr  # noqa: E402
from dlbook.viz.legible import assert_legible  # noqa: E402

RNG = np.random.default_rng(0)


class _Accs:
    def __init__(self, accs):
        self.accs = accs

    def __getitem__(self, key):
        return self.accs


def _record(norm, steps=12, channels=4, snaps=5):
    return dict(
        norm=norm,
        mean=RNG.standard_normal((steps, channels)),
        std=RNG.uniform(0.5, 2.0, (steps, channels)),
        loss=np.linspace(2.0, 0.1, steps),
        snap_steps=np.linspace(0, steps - 1, snaps).astype(int),
        snap_values=RNG.normal(0.0, 1.0, (snaps, 200)),
        ics_steps=np.arange(0, steps, 3),
        ics_change=RNG.uniform(0.1, 1.0, 4),
    )


def _history(accs):
    h = History()
    for a in accs:
        h.rows.append(dict(train_loss=1 - a, train_acc=a, test_loss=1.2 - a, test_acc=a - 0.1))
    return h


def _binary():
    positive = RNG.random(200) < 0.2
    return positive, np.clip(0.3 + 0.4 * positive + RNG.normal(0, 0.2, 200), 0, 1)


def batch_norm_figures():
    x = RNG.normal(3.0, 2.0, (16, 3, 4, 4))
    sweep = [
        dict(norm=n, lr=lr, seed=s, test_acc=a, recalibrated_acc=a, history=_Accs([0.1, a]))
        for n, a in (("none", 0.2), ("batch", 0.8))
        for lr in (0.01, 0.03, 0.1, 0.3, 1.0)
        for s in (0, 1, 2)
    ]
    records = [_record(n) for n in ("none", "batch", "noisy", "drift")]
    yield "normalize_figure", vb.normalize_figure([x, x - 3, x], ["$z$", r"$\hat{x}$", "$y$"])
    yield "axes_figure", vb.axes_figure()
    yield "sweep_figure", vb.sweep_figure(sweep)
    yield "shift_figure", vb.shift_figure(records)
    yield "ics_figure", vb.ics_figure(records)
    yield "histogram_animation", vb.histogram_animation(records)._fig
    yield "batch_size_figure", vb.batch_size_figure({1: 0.1, 8: 0.7, 64: 0.9}, 0.85, 0.95)
    yield "running_grid", vb.running_grid(steps=20)


def dropout_figures():
    image = RNG.random((8, 8))
    rows = [dict(p=p, seed=s, history=_history([0.5, 0.9])) for p in (0.0, 0.5) for s in (0, 1)]
    curve = dict(t=np.arange(1, 4), acc=np.array([0.8, 0.85, 0.9]), nll=np.array([0.5, 0.4, 0.3]))
    yield "thinned_networks_figure", vd.thinned_networks_figure()
    yield "expectation_figure", vd.expectation_figure(np.array([1.0, -2.0, 0.5]), samples=200)[0]
    yield "mask_animation", vd.mask_animation(image, frames=3)._fig
    yield "sample_grid", vd.sample_grid(image)[0]
    yield "curves_figure", vd.curves_figure(rows)
    yield "mc_figure", vd.mc_figure({0.5: curve}, {0.5: (0.35, 0.88)})


def optimizers_figures():
    rb, qu = eo.rosenbrock(), eo.quadratic()
    panels = [(rb, eo.paths(rb, eo.ROSENBROCK_LRS, 30)), (qu, eo.paths(qu, eo.QUADRATIC_LRS, 20))]
    sweep = {n: {1e-3: 2.0, 1e-2: 0.5, 1e-1: np.inf} for n in eo.OPTIMIZERS}
    chosen = {n: 1e-2 for n in eo.OPTIMIZERS}
    runs = {n: [History([{"test_acc": 0.5, "train_loss": 0.5}])] for n in eo.OPTIMIZERS}
    yield "paths_figure", vo.paths_figure(panels)
    yield "loss_figure", vo.loss_figure(panels)
    yield "paths_animation", vo.paths_animation(panels, frames=3)._fig
    yield (
        "sensitivity_figure",
        vo.sensitivity_figure({"a": sweep, "b": sweep}, {"a": chosen, "b": chosen}),
    )
    yield "momentum_grid", vo.momentum_grid(qu, lrs=(0.005, 0.019, 0.021), momenta=(0.0, 0.9))
    demo = eo.decay_demo(steps=20, runs=4)
    yield "decay_figure", vo.decay_figure(demo, (10.0, 1.0, 0.01), lr=0.01, weight_decay=0.1)
    yield "curves_figure", vo.curves_figure(runs, {n: dict(lr=0.1) for n in eo.OPTIMIZERS})


def regularization_figures():
    poly = er.poly_problem()
    curve = er.capacity_curve(poly, degrees=range(5))
    w_true = np.r_[np.zeros(6), 2.0, -1.0]
    weights = {"L1": np.r_[np.zeros(3), 0.1, 0.1, 0.2, 2.0, -1.0], "L2": np.ones(8), "none": w_true}
    weights["L1, subgradient"] = w_true + 0.01  # four fits, as the chapter draws
    lams = np.geomspace(0.01, 1, 5)
    widths = [dict(width=w, train_acc=0.9, test_acc=0.8) for w in (2, 8, 32)]
    decay = {"scales": np.array([0.1, 1.0]), "adam": np.array([0.0, 0.5]), "adamw": np.ones(2)}
    stops = {"full": _history([0.5, 0.6, 0.7]), "stopped": _history([0.5, 0.6])}
    stops["stopped"].best_epoch = 2
    yield "penalty_figure", vr.penalty_figure()
    yield "geometry_figure", vr.geometry_figure()
    yield "weights_figure", vr.weights_figure(weights, w_true)
    yield (
        "path_figure",
        vr.path_figure(lams, {"L1": np.zeros((5, 4)), "L2": np.ones((5, 4))}, w_true[:4]),
    )
    yield "poly_animation", vr.poly_animation(poly, curve)._fig
    yield "capacity_figure", vr.capacity_figure(curve, widths)
    yield "decay_figure", vr.decay_figure(decay, lr=0.01, weight_decay=0.1, steps=10)
    yield "early_stopping_figure", vr.early_stopping_figure({"a": stops, "b": stops})
    images = RNG.random((4, 1, 8, 8)).astype(np.float32)
    yield "augment_examples", vr.augment_examples(images, Augment(shift=1, seed=0))
    yield (
        "weight_images",
        vr.weight_images({"L1": RNG.random((10, 64)), "L2": RNG.random((10, 64))}),
    )
    yield "explorer_grid", vr.explorer_grid(poly, degree=6)


def evaluating_tuning_figures():
    positive, scores = _binary()
    y = RNG.integers(0, 10, 300)
    probs = RNG.random((300, 10)) + 3 * np.eye(10)[y]
    probs /= probs.sum(1, keepdims=True)
    lrs = np.logspace(-4, 0, 9)
    losses = np.array([2.3, 2.3, 2.2, 1.8, 1.2, 0.9, 1.5, 4.0, 9.0])
    grid = [
        Trial({"lr": a, "weight_decay": b}, 0.5 + a, 0.0)
        for a in (1e-3, 1e-2)
        for b in (1e-3, 1e-1)
    ]
    rand = [Trial({"lr": a, "weight_decay": 1e-2}, 0.4, 0.0) for a in (2e-3, 3e-2, 5e-2)]
    yield "threshold_figure", ve.threshold_figure(positive, scores)
    yield "threshold_grid", ve.threshold_grid(positive, scores)
    yield "threshold_animation", ve.threshold_animation(positive, scores, [0.9, 0.5, 0.1])._fig
    yield "roc_figure", ve.roc_figure(y, probs)
    yield "pr_figure", ve.pr_figure(positive, scores)
    yield "range_test_figure", ve.range_test_figure(RangeTest(lrs, losses, losses, True)).figure
    yield "search_figure", ve.search_figure({"grid": grid, "random": rand})


CHAPTERS = {
    "batch_norm": batch_norm_figures,
    "dropout": dropout_figures,
    "optimizers": optimizers_figures,
    "regularization": regularization_figures,
    "evaluating_tuning": evaluating_tuning_figures,
}


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_figure_of_the_chapter_is_legible(chapter):
    names = []
    for name, fig in CHAPTERS[chapter]():
        names.append(name)
        try:
            assert_legible(fig)
        except AssertionError as e:
            raise AssertionError(f"{chapter}: {name}: {e}") from None
        finally:
            plt.close(fig)
    assert len(names) >= 6


def test_a_figure_made_too_wide_is_caught():
    fig = vb.running_grid(steps=5)
    fig.set_figwidth(16)  # the old 12-panel grid's width: its text shrinks under 9 px
    with pytest.raises(AssertionError, match="px tall on screen"):
        assert_legible(fig)
    plt.close(fig)
