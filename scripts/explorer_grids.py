"""Build every chapter's explorer with cheap inputs, with the full static grid that the book's
build precomputes (``DLBOOK_EXPLORER_GRID=full``), and report per explorer: its positions, the
CPU seconds the grid adds to the chapter and the size of its static HTML.

    .venv/bin/python scripts/explorer_grids.py [name ...]

The inputs are small stand-ins for the chapters' own (untrained models, random scores), except
the backpropagation explorer, which trains its real MLP once per position. Exit status 1 when an
explorer's grid is not sensible (a single position, or more than ``MAX_POSITIONS``).
"""

from __future__ import annotations

import os
import sys
import time

GRID_ENV = "DLBOOK_EXPLORER_GRID"
os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np  # noqa: E402


def _lenet_numpy():
    from dlbook.data import load_digits
    from dlbook.scratch.nets import lenet5
    from dlbook.viz import lenet_numpy as v

    data = load_digits(size=28)
    net = lenet5(input_size=28, rng=np.random.default_rng(0))
    return v.explorer(net, data.x_test[:450], data.y_test[:450], index=0, stage="C1")


def _lenet_pytorch():
    from dlbook import nets
    from dlbook.data import load_digits
    from dlbook.viz import lenet_pytorch as v

    data = load_digits(size=28)
    modern, paper = nets.lenet5(input_size=28, modern=True), nets.lenet5(input_size=28)
    models = {"modern": modern, "paper's": paper}
    models = {k: m.eval() for k, m in models.items()}
    return v.explorer(models, data.x_test, data.y_test, index=0)


def _backpropagation():
    from dlbook.data import load_digits
    from dlbook.experiments.backpropagation import train_mlp
    from dlbook.viz import backpropagation as v

    data = load_digits()
    return v.explorer(lambda hidden, lr: train_mlp(data, hidden=hidden, lr=lr, epochs=10).history)


def _lstm_gru():
    from dlbook.experiments.lstm_gru import AddingModel
    from dlbook.viz import lstm_gru as v

    return v.explorer(AddingModel("lstm", 32, forget_bias=1.0), 0)


def _resnet():
    from dlbook.data import load_photo_patches
    from dlbook.experiments.resnet import train_twins
    from dlbook.viz import resnet as v

    data = load_photo_patches(size=16, photo_size=96, n_train=10, n_test=5)
    return v.explorer(train_twins(data, depths=(8, 14), widths=(4, 4, 4), epochs=2))


def _fast_convolution():
    from dlbook.experiments.fast_convolution import time_algorithms
    from dlbook.viz import fast_convolution as v

    return v.explorer(time_algorithms(channels=(4, 8, 16), size=16, n=1, repeat=1), k=3, c=16)


def _seeing_inside():
    from dlbook.experiments.seeing_inside import METHODS, STAGES
    from dlbook.viz import seeing_inside as v

    rng = np.random.default_rng(0)
    stages = (*STAGES, "shuffled labels")
    maps = {s: {m: rng.random((4, 28, 28)) for m in METHODS} for s in stages}
    rho = {m: np.linspace(1, 0.2, len(STAGES)) for m in METHODS}
    return v.explorer(dict(maps=maps, model=rho, data=dict.fromkeys(METHODS, 0.4)), [0, 1, 2, 3])


def _text_sentiment():
    from dlbook.data.reviews import load_reviews
    from dlbook.experiments import text_sentiment as e
    from dlbook.viz import text_sentiment as v

    runs = e.compare_models(load_reviews(100, 40, 40), epochs=1, hidden_size=8, embedding_dim=8)
    texts = [
        "the plot was not bad at all",
        "the acting was good",
        "this film is never dull",
        "the music was very good but the story was boring",
    ]
    return v.explorer(e.explain(runs, texts, [1, 1, 1, 0]))


def _textures_style():
    from dlbook.experiments import textures_style as exp
    from dlbook.viz import textures_style as v

    net = exp.RandomFeatures(widths=(4, 8))
    sources = {n: exp.texture(n, size=16) for n in exp.TEXTURES}
    runs = {
        n: exp.synthesize(net, t, steps=5, snapshots=(0, 1, 2, 5), device="cpu")
        for n, t in sources.items()
    }
    return v.explorer(sources, runs)


def _why_convolution():
    from dlbook.experiments.why_convolution import make_net
    from dlbook.viz import why_convolution as v

    return v.explorer(make_net("gap").eval(), np.ones((1, 16, 16), np.float32))


def _lr_schedules():
    from dlbook.experiments import lr_schedules as exp
    from dlbook.viz import lr_schedules as v

    def runs(lr):
        return {
            n: [
                dict(
                    lrs=exp.scratch_rates(n, 110, lr)["lr"][:-1],
                    losses=np.geomspace(2.3, 0.05 + 0.02 * k + 0.01 * s, 110),
                    test_acc=np.array([0.9]),
                )
                for s in range(3)
            ]
            for k, n in enumerate(exp.SCHEDULES)
        }

    return v.explorer({0.05: runs(0.05), 0.0125: runs(0.0125)})


def _distributed():
    from dlbook.experiments.distributed import traffic

    table = {
        (p, a): traffic(p, 4 * 11_689_512, a) for p in (2, 4, 8, 16) for a in ("ring", "central")
    }
    return _v("distributed").traffic_explorer(table)


def _v(module):
    import importlib

    return importlib.import_module(f"dlbook.viz.{module}")


def _camera(size):
    from dlbook.data import load_image

    return load_image("camera", size=(size, size))


def _kernels():
    """The five kernels of the convolution chapter's explorer."""
    sobel = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=float)
    return {
        "Sobel x": sobel,
        "Sobel y": sobel.T,
        "Laplacian": np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=float),
        "sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype=float),
        "box blur 3×3": np.full((3, 3), 1 / 9),
    }


def _scores():
    rng = np.random.default_rng(0)
    positive = rng.random(450) < 0.1
    return positive, np.clip(0.6 * positive + 0.5 * rng.random(450), 0, 1)


def _qk():
    rng = np.random.default_rng(0)
    return rng.standard_normal((8, 4)), rng.standard_normal((8, 4))


def _poly():
    from dlbook.experiments.regularization import poly_problem

    return poly_problem(n_train=15, noise=0.25, seed=1)


def _quad():
    from dlbook.experiments.optimizers import quadratic

    return quadratic()


BUILDERS = {
    "neuron_activations": lambda: _v("neuron_activations").explorer(),
    "losses": lambda: _v("losses").softmax_explorer(logits=(2.0, 1.0, 0.0, -1.0), target=0),
    "backpropagation": _backpropagation,
    "initialization": lambda: _v("initialization").explorer("kaiming", "relu", depth=30),
    "why_convolution": _why_convolution,
    "convolution": lambda: _v("convolution").kernel_explorer(_camera(256), _kernels()),
    "padding_stride_dilation": lambda: _v("padding_stride_dilation").conv_explorer(),
    "channels": lambda: _v("channels").explorer(c_in=8, c_out=8, kernel_size=3, groups=2),
    "transposed_convolution": lambda: _v("transposed_convolution").overlap_explorer(in_size=5),
    "pooling": lambda: _v("pooling").pool_explorer(np.arange(49.0).reshape(7, 7) % 10),
    "effective_receptive_field": lambda: _v("effective_receptive_field").explorer(depth=6),
    "lenet_numpy": _lenet_numpy,
    "lenet_pytorch": _lenet_pytorch,
    "batch_norm": lambda: _v("batch_norm").explorer(momentum=0.1, batch_size=8),
    "dropout": lambda: _v("dropout").explorer(_camera(40), p=0.5, samples=10),
    "optimizers": lambda: _v("optimizers").explorer(_quad(), lr=0.02, momentum=0.5),
    "regularization": lambda: _v("regularization").explorer(_poly(), "L2", lam=1e-3, degree=12),
    "lr_schedules": _lr_schedules,
    "evaluating_tuning": lambda: _v("evaluating_tuning").threshold_explorer(*_scores(), 0.5),
    "rnn": lambda: _v("rnn").explorer(radius=1.0, length=100),
    "lstm_gru": _lstm_gru,
    "deep_bidirectional": lambda: _v("deep_bidirectional").explorer(12, hidden_size=8, seed=0),
    "attention": lambda: _v("attention").explorer(*_qk(), scale=0.5, row=5, mask="causal"),
    "alexnet_vgg": lambda: _v("alexnet_vgg").explorer(num_convs=2, kernel_size=3),
    "resnet": _resnet,
    "inception": lambda: _v("inception").explorer(channels=256, mid=64, kernel_size=3),
    "text_sentiment": _text_sentiment,
    "transformer": lambda: _v("transformer").explorer(
        np.tril(np.ones((2, 4, 32, 32))) / np.arange(1, 33)[:, None],
        "def _listdir(dirname, dir_fd, di",
        show=16,
    ),
    "seeing_inside": _seeing_inside,
    "textures_style": _textures_style,
    "fast_convolution": _fast_convolution,
    "distributed": _distributed,
}


def measure(name):
    """``(positions, added_cpu_seconds, html_kib, panel)`` for the explorer of chapter ``name``:
    it is built once with one picture (which pays for imports and data), then with the full
    grid; the difference is what the grid adds to the chapter's run."""
    os.environ[GRID_ENV] = "current"
    start = time.process_time()
    BUILDERS[name]()
    base = time.process_time() - start
    os.environ[GRID_ENV] = "full"
    start = time.process_time()
    panel = BUILDERS[name]()
    seconds = time.process_time() - start - base
    html = panel._repr_mimebundle_()["text/html"]
    positions = int(html.split('data-positions="', 1)[1].split('"', 1)[0])
    return positions, seconds, len(html.encode()) / 1024, panel


def main(names) -> int:
    from dlbook.viz.static import MAX_POSITIONS

    bad = 0
    print(f"{'explorer':<27} {'positions':>9} {'added CPU s':>11} {'HTML KiB':>9}")
    for name in names or BUILDERS:
        try:
            positions, seconds, kib, _ = measure(name)
        except Exception as err:  # report every explorer, then fail
            bad += 1
            print(f"{name:<27} FAILED {type(err).__name__}: {err}", flush=True)
            continue
        flag = "" if 1 < positions <= MAX_POSITIONS else "  <- not a sensible grid"
        bad += bool(flag)
        print(f"{name:<27} {positions:>9} {seconds:>11.1f} {kib:>9.0f}{flag}", flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
