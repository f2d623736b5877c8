"""Every figure of Parts 3 and 4 (pooling, receptive fields, effective receptive field, the two
LeNet chapters) has text at least 9 px tall in the book's 720 px column. Each figure is built the
way its chapter builds it (same sizes, same number of panels), on cheap stand-in data."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from dlbook import nets  # noqa: E402
from dlbook.experiments import effective_receptive_field as E  # noqa: E402
from dlbook.experiments.lenet_pytorch import feature_maps  # noqa: E402
from dlbook.receptive.field import Region  # noqa: E402
from dlbook.scratch.nets import lenet5  # noqa: E402
from dlbook.viz import effective_receptive_field as ve  # noqa: E402
from dlbook.viz import lenet_numpy as vl  # noqa: E402
from dlbook.viz import lenet_pytorch as vt  # noqa: E402
from dlbook.viz import pooling as vp  # noqa: E402
from dlbook.viz import receptive_fields as vr  # noqa: E402
from dlbook.viz.legible import assert_legible  # noqa: E402

X7 = np.random.default_rng(0).permutation(49).reshape(7, 7).astype(float)
GRID6 = np.random.default_rng(1).integers(0, 10, (6, 6)).astype(float)
EXAMPLE = [("conv", 3, 1, 1, 1), ("conv", 3, 1, 1, 1), ("pool", 2, 2, 0, 1),
           ("conv", 3, 1, 1, 1), ("conv", 3, 2, 1, 1)]  # fmt: skip
CONV3 = ("conv", 3, 1, 1, 1)
HISTORY = {"train_loss": [1.0, 0.5], "test_loss": [1.1, 0.7], "train_acc": [0.5, 0.9],
           "test_acc": [0.4, 0.8]}  # fmt: skip


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def first_frame(anim):
    anim._func(0)
    return anim._fig


def lenets():
    torch.manual_seed(0)
    return nets.LeNet5(input_size=28).eval(), nets.LeNet5Modern(input_size=28).eval()


def digits(n=6):
    return np.random.default_rng(0).random((n, 1, 28, 28)).astype(np.float32)


def numpy_lenet():
    return lenet5(input_size=28, rng=np.random.default_rng(0))


def erf_result():
    m = E.binomial_erf(4, 9)
    part = dict(noise=m, real=m, noise_std=1.0, real_std=1.0)
    return dict(initial=part, trained=part, rows=range(-1, 9), cols=range(-1, 9))


def regions_figure():
    fig, axes = plt.subplots(1, 2, figsize=(10, 5.2), dpi=80)  # as the chapter draws them
    for ax in axes:
        names = [f"conv{i}: {10 * i} px, unit (3, 4)" for i in range(1, 6)]
        vr.draw_regions(
            ax, np.zeros((3, 224, 224)), {n: Region(range(0, 50), range(0, 50)) for n in names}
        )
    return fig


FIGURES = {
    # Pooling
    "pooling: settings_grid, one setting": lambda: vp.settings_grid(
        GRID6, [dict(kernel_size=2)], size=0.45
    ),
    "pooling: pool_figure, ceil mode": lambda: vp.pool_figure(X7, 2, ceil_mode=True, size=0.38),
    "pooling: pool_figure, average with padding": lambda: vp.pool_figure(
        X7[:5, :5], 2, padding=1, ceil_mode=True, mode="avg", size=0.38
    ),
    "pooling: routing_figure": lambda: vp.routing_figure(X7, kernel_size=3, stride=2),
    "pooling: pool_animation": lambda: first_frame(vp.pool_animation(X7, 3, 2, dpi=72)),
    "pooling: settings_grid, four settings": lambda: vp.settings_grid(
        X7,
        [
            dict(kernel_size=2, stride=2),
            dict(kernel_size=2, stride=2, ceil_mode=True),
            dict(kernel_size=3, stride=2),
            dict(kernel_size=3, stride=2, padding=1),
        ],
    ),  # fmt: skip
    "pooling: shift_change_figure": lambda: vp.shift_change_figure(
        np.arange(9),
        {
            n: np.linspace(0, 1, 9)
            for n in (
                "no pooling",
                "max pool 2",
                "max pool 4",
                "max pool 8",
                "avg pool 4",
                "avg pool 8",
            )
        },
    ),  # fmt: skip
    # Receptive fields
    "receptive fields: draw_stack": lambda: vr.draw_stack(vr.analyse(EXAMPLE, n=16), unit=2).figure,
    "receptive fields: plot_stacks": lambda: vr.plot_stacks(
        {
            "plain 3×3": [CONV3] * 3,
            "with pooling": [CONV3, ("pool", 2, 2, 0, 1), CONV3],
            "stride 2": [("conv", 3, 2, 1, 1)] * 3,
            "dilations 1, 2, 4": [CONV3, ("conv", 3, 1, 2, 2), ("conv", 3, 1, 4, 4)],
        },
        n=16,
    ),  # fmt: skip
    "receptive fields: animate_growth": lambda: first_frame(
        vr.animate_growth([CONV3, CONV3, ("pool", 2, 2, 0, 1), CONV3], n=24)
    ),
    "receptive fields: animate_slide": lambda: first_frame(
        vr.animate_slide([CONV3, ("pool", 2, 2, 0, 1), CONV3, ("conv", 3, 2, 1, 1)], n=24)
    ),
    "receptive fields: draw_regions": regions_figure,
    "receptive fields: plot_growth": lambda: vr.plot_growth(
        [1, 2, 3],
        {"plain 3×3": [3, 5, 7]},
        {"plain 3×3": [10, 20, 30]},
        big_kernel=([3, 5, 7], [9, 25, 49]),
    ),  # fmt: skip
    "receptive fields: plot_accuracy_vs_field": lambda: vr.plot_accuracy_vs_field(
        {
            "d = 1, 1, 1": dict(field=7, jump=1, weights=4834, accs=[51.2, 50.0]),
            "s = 2, 2, 1": dict(field=15, jump=4, weights=4834, accs=[100.0, 99.5]),
        },
        0.512,
        pattern=11,
    ),  # fmt: skip
    # Effective receptive field
    "ERF: profile_figure, three maps": lambda: ve.profile_figure(
        [E.binomial_erf(n, 2 * n + 1) for n in (1, 4, 16)], ["1 layer", "4 layers", "16 layers"]
    ),
    "ERF: growth_figure": lambda: ve.growth_figure(
        [1, 4, 16],
        {
            "box kernels, linear": [1.0, 2.0, 4.0],
            "random, linear": [1.1, 2.1, 4.1],
            "random, ReLU": [1.2, 2.2, 4.2],
        },
        {
            "box kernels, linear": "slope 0.50",
            "random, linear": "slope 0.51 for n ≥ 8",
            "random, ReLU": "slope 0.52 for n ≥ 8",
        },
    ),  # fmt: skip
    "ERF: erf_grid": lambda: ve.erf_grid(
        E.compare({"a": {}, "b": dict(dilation=2), "c": dict(residual=True)}, 2, 1, 1), ncols=4
    ),
    "ERF: growth_animation": lambda: first_frame(
        ve.growth_animation([E.binomial_erf(n, 2 * n + 1) for n in (1, 2, 3)], [1, 2, 3])
    ),
    "ERF: settings_grid": lambda: ve.settings_grid(depths=(1, 2, 3, 4), n=1, draws=1),
    "ERF: before_after": lambda: ve.before_after(erf_result()),
    # LeNet in NumPy
    "LeNet NumPy: architecture_diagram": lambda: (
        vl.architecture_diagram(numpy_lenet(), digits(1)[0]).figure
    ),
    "LeNet NumPy: learning_curves": lambda: vl.learning_curves(
        {"classic": HISTORY}, target=0.97, title="NumPy LeNet-5 on the 28×28 digits"
    ),
    "LeNet NumPy: show_filters": lambda: (
        vl.show_filters(numpy_lenet().params[0], "C1 filters at initialization (epoch 0)").figure
    ),
    "LeNet NumPy: feature_map_grid, C1": lambda: vl.feature_map_grid(
        digits(4), vl.stages(numpy_lenet(), digits(4))["C1"], "C1: six feature maps per digit"
    ),
    "LeNet NumPy: feature_map_grid, C3": lambda: vl.feature_map_grid(
        digits(4), vl.stages(numpy_lenet(), digits(4))["C3"], "C3: sixteen maps", ncols=8
    ),
    "LeNet NumPy: show_mistakes": lambda: vl.show_mistakes(
        digits(12),
        np.random.default_rng(0).dirichlet(np.ones(10), 12),
        np.arange(12) % 10,
        np.arange(12),
        title="Misclassified test digits, most confident first",
    ),
    "LeNet NumPy: filter_animation": lambda: first_frame(
        vl.filter_animation(
            [numpy_lenet().params[0]] * 2,
            [np.random.default_rng(0).random((6, 28, 28))] * 2,
            ["epoch 0: test accuracy 10.0%", "epoch 1: test accuracy 90.0%"],
        )
    ),
    "LeNet NumPy: explorer_grid": lambda: vl.explorer_grid(
        numpy_lenet(), digits(3), np.arange(3), [(0, "C1"), (0, "C3"), (2, "C3")]
    ),
    # LeNet in PyTorch
    "LeNet PyTorch: plot_plans": lambda: vt.plot_plans(
        {"LeNet5\n(1998)": lenets()[0], "LeNet5\nModern": lenets()[1]}
    ),
    "LeNet PyTorch: plot_feature_maps": lambda: vt.plot_feature_maps(
        feature_maps(lenets()[1], digits(1)[0]), digits(1)[0], "modern: a 3 through LeNet-5"
    ),
    "LeNet PyTorch: training_animation": lambda: first_frame(
        vt.training_animation(
            lenets()[1], [lenets()[1].state_dict()] * 2, digits(8), np.arange(8) % 10
        )
    ),
    "LeNet PyTorch: plot_shift_grid": lambda: vt.plot_shift_grid(
        {"modern": lenets()[1], "paper's": lenets()[0]}, digits(1)[0], 3
    ),
}


@pytest.mark.parametrize("name", list(FIGURES))
def test_figure_text_is_legible_in_the_column(name):
    assert_legible(FIGURES[name]())
