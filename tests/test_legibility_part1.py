"""Every figure of Part 1 (and the animations' frames) has text a reader can read: at least
MIN_TEXT_PX pixels tall in the book's 720 px column (``dlbook.viz.legible``)."""

import functools

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from dlbook.experiments import backpropagation as EB  # noqa: E402
from dlbook.experiments import initialization as EI  # noqa: E402
from dlbook.experiments import losses as EL  # noqa: E402
from dlbook.experiments import neuron_activations as EA  # noqa: E402
from dlbook.train import History  # noqa: E402
from dlbook.viz import backpropagation as VB  # noqa: E402
from dlbook.viz import initialization as VI  # noqa: E402
from dlbook.viz import losses as VL  # noqa: E402
from dlbook.viz import neuron_activations as VA  # noqa: E402
from dlbook.viz.legible import assert_legible  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:Animation was deleted without rendering")


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _figure(made):
    """A figure, or an animation's figure after its last frame is drawn."""
    if hasattr(made, "_fig"):
        made._func(made._save_count - 1)
        return made._fig
    return made


# --- the activations chapter --------------------------------------------------------------------


class _Final:
    def __init__(self, acc):
        self.final = {"val_acc": acc}

    def __getitem__(self, key):
        return [0.5, 0.8, 0.95]


def _activation_figures():
    profiles = [EA.deep_gradients(a, depth=5, width=8, batch=4) for a in ("sigmoid", "relu")]
    ns = [2, 4, 8]
    x = np.array([[0.0, 0.0], [1.0, 1.0]])
    weight, bias = np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([-0.5, 2.0])
    rows = [{"lr": 0.1, "dead": 0.1, "test_acc": 0.9}, {"lr": 1.0, "dead": 0.5, "test_acc": 0.6}]
    sweep = {n: {0.1: [_Final(0.8)], 1.0: [_Final(0.5)]} for n in ("sigmoid", "tanh", "relu")}
    return {
        "activation_grid": lambda: VA.activation_grid(),
        "neuron_plane": lambda: VA.neuron_plane([1.0, 2.0], -1.0),
        "gradient_profiles": lambda: VA.gradient_profiles(profiles, title="a title"),
        "approximation_animation": lambda: VA.approximation_animation(np.sin, -3, 3, [1, 4]),
        "approximation_errors_figure": lambda: VA.approximation_errors_figure(
            ns, EA.approximation_errors(np.sin, -3, 3, ns)
        ),
        "explorer_grid": lambda: VA.explorer_grid(),
        "dead_units_figure": lambda: VA.dead_units_figure(
            x, np.array([0, 1]), {"start": (weight, bias), "a": (weight, bias), "b": (weight, bias)}
        ),
        "lr_sweep_figure": lambda: VA.lr_sweep_figure({"relu": rows, "leaky_relu": rows}),
        "activation_lr_figure": lambda: VA.activation_lr_figure(sweep, {n: 0.1 for n in sweep}),
        "training_curves": lambda: VA.training_curves(
            {n: _Final(0.9) for n in ("sigmoid", "tanh", "relu")}, 0.9, title="a title"
        ),
    }


# --- the losses chapter -------------------------------------------------------------------------


def _loss_figures():
    def run(loss, lr, acc):
        return EL.Run(loss, lr, val_acc=[acc], test_acc=[acc / 2, acc], train_loss=[1.0])

    names = ("cross-entropy", "MSE on probabilities", "MSE on logits", "multi-class hinge")
    results = {
        n: {"sweep": [run(n, 0.1, 0.5), run(n, 1.0, 0.9)], "best": run(n, 1.0, 0.9),
            "bad": run(n, 1.0, 0.3)}
        for n in names
    }  # fmt: skip
    line = EL.line_data()
    fits = [EL.fit_line(line, "mse", steps=10), EL.fit_line(line, "mae", steps=10)]
    sample = np.array([5.1, 4.9, 5.6, 5.1, 14.0, 17.0])
    logits = (2.0, 1.0, 0.0, -1.0)
    return {
        "loss_grid": lambda: VL.loss_grid(),
        "saturation_figure": lambda: VL.saturation_figure(),
        "mean_median_figure": lambda: VL.mean_median_figure(sample, sample > 10),
        "line_fit_animation": lambda: VL.line_fit_animation(
            line, fits, EL.exact_line_fits(line), frames=[0, 10]
        ),
        "softmax_grid": lambda: VL.softmax_grid([(logits, 0), (logits, 3)]),
        "sweep_figure": lambda: VL.sweep_figure(results),
        "curves_figure": lambda: VL.curves_figure(results),
    }


# --- the backpropagation chapter ----------------------------------------------------------------


def _backprop_figures():
    leaves = dict(x=1.5, w=0.8, b=-0.5, t=1.0)
    rng = np.random.default_rng(0)
    snaps = [
        dict(step=s, epoch=s / 10, loss=2.0 / (s + 1), test_acc=0.5, weight=rng.random((20, 64)))
        for s in (0, 5)
    ]
    x = rng.random((12, 1, 8, 8), dtype=np.float32)  # the chapter's sizes: 64 pixels, 64 units
    trace = EB.backward_trace(EB.mlp(hidden=64, seed=0), x, np.arange(12) % 10)
    history = History(rows=[dict(test_acc=0.5), dict(test_acc=0.9)])
    runs = {(h, lr): history for h in (16, 64, 256) for lr in (0.01, 0.1, 1.0)}
    return {
        "graph_figure": lambda: VB.graph_figure(EB.neuron_graph(), leaves, "L"),
        "graph_animation": lambda: VB.graph_animation(EB.neuron_graph(), leaves, "L"),
        "backward_figure": lambda: VB.backward_figure(trace[:-1]),
        "jacobian_figure": lambda: VB.jacobian_figure({"a": np.eye(12), "b": np.eye(12)}),
        "h_sweep_figure": lambda: VB.h_sweep_figure(
            np.array([1e-6, 1e-3]), {"relu": np.array([1e-9, 1e-6]), "tanh": np.ones(2)}
        ),
        "cost_figure": lambda: VB.cost_figure(
            {"forward": 2.0, "backward": 3.0}, {"forward": 10, "backward": 20}
        ),
        "weights_animation": lambda: VB.weights_animation(snaps, units=16),
        "sweep_figure": lambda: VB.sweep_figure(runs),
    }


# --- the initialization chapter -----------------------------------------------------------------


@functools.cache
def _init_inputs():
    stats = {
        (s, a): EI.depth_statistics(s, a, depth=6, width=16, batch=16, keep=200)
        for a in EI.ACTIVATIONS
        for s in EI.SCHEMES
    }
    torch_stats = {  # torch's default scheme drawn with Kaiming's numbers: only the text matters
        (s, a): stats["kaiming" if s == "default" else s, a]
        for s in ("xavier", "kaiming", "default")
        for a in EI.ACTIVATIONS
    }
    sweep = {
        (a, m): EI.depth_statistics("kaiming", a, depth=4, width=16, batch=16, scale=m)
        for a in EI.ACTIVATIONS
        for m in (0.5, 1, 2)
    }
    return stats, torch_stats, sweep


@functools.cache
def _deep_stats():
    return {
        (s, "relu"): EI.depth_statistics(s, "relu", depth=30, width=8, batch=8, keep=50)
        for s in EI.SCHEMES
    }


def _init_figures():
    w = np.random.default_rng(0).standard_normal((8, 64))
    rows = [dict(scheme=s, weight=w, distinct=8, test_acc=0.9) for s in ("zero", "xavier")]
    history = History([dict(test_acc=0.5), dict(test_acc=0.7)])
    runs = [
        dict(scheme=s, activation=a, history=history)
        for s in EI.SCHEMES + ("default",)
        for a in EI.ACTIVATIONS
    ]
    return {
        "unit_weights_figure": lambda: VI.unit_weights_figure(rows),
        "depth_figure": lambda: VI.depth_figure(_init_inputs()[0]),
        "histogram_grid": lambda: VI.histogram_grid(_deep_stats(), "relu"),  # layers 1 to 30
        "histogram_animation": lambda: VI.histogram_animation(_init_inputs()[0], step=2),
        "gain_grid": lambda: VI.gain_grid(_init_inputs()[2]),
        "torch_numpy_figure": lambda: VI.torch_numpy_figure(*_init_inputs()[1::-1], "cpu"),
        "training_figure": lambda: VI.training_figure(runs),
    }


FIGURES = {
    **{f"activations.{k}": v for k, v in _activation_figures().items()},
    **{f"losses.{k}": v for k, v in _loss_figures().items()},
    **{f"backpropagation.{k}": v for k, v in _backprop_figures().items()},
    **{f"initialization.{k}": v for k, v in _init_figures().items()},
}


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_figure_text_is_legible(name):
    assert_legible(_figure(FIGURES[name]()))
