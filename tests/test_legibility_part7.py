"""Every figure and animation of Part 7 (Sequences), built from cheap inputs, has text at least
9 px tall in the book's 720 px column (:func:`dlbook.viz.legible.assert_legible`)."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from dlbook.experiments import rnn as exp_rnn  # noqa: E402
from dlbook.history import History  # noqa: E402
from dlbook.viz import attention as va  # noqa: E402
from dlbook.viz import deep_bidirectional as vd  # noqa: E402
from dlbook.viz import lstm_gru as vg  # noqa: E402
from dlbook.viz import rnn as vr  # noqa: E402
from dlbook.viz.legible import assert_legible  # noqa: E402

RNG = np.random.default_rng(0)


# --- the RNN chapter ------------------------------------------------------------------------------


def _time_runs():
    return {
        f"spectral radius {rho:g}": exp_rnn.gradient_through_time(
            exp_rnn.recurrent_weight(16, rho, seed=0), length=6, batch=1, seed=1
        )
        for rho in (0.6, 3.0)
    }


def _sine_run(diverged):
    losses, norms = np.geomspace(1.0, 1e8 if diverged else 0.02, 60), np.geomspace(1, 50, 60)
    return {"losses": losses, "norms": norms, "diverged_at": 50 if diverged else None}


def rnn_figures():
    profiles = {f"rho = {r:g}": r ** np.arange(21.0)[::-1] for r in (0.5, 1.0, 1.5)}
    rates = [(0.5, 0.49, 0.98), (1.0, 0.93, 1.97), (1.5, 1.02, 2.95)]
    sine = {"rho = 1.5, no clipping": _sine_run(True), "clip_grad_norm_ to 1": _sine_run(False)}
    baselines = {"uniform, ln V": 5.06, "unigram": 3.04, "bigram": 2.59}
    held_out = {"held out, before": (0, 5.04), "held out, after": (99, 2.03)}
    return {
        "rnn.unrolled_figure": lambda: vr.unrolled_figure(steps=4),
        "rnn.gradient_figure": lambda: vr.gradient_figure(profiles, {"rho = 0.5": 0.5}, rates),
        "rnn.bptt_animation": lambda: vr.bptt_animation(_time_runs(), units=12)._fig,
        "rnn.explorer_grid": lambda: vr.explorer_grid(
            [(0.9, 20, "gaussian"), (1.0, 20, "orthogonal"), (2.0, 20, "gaussian")], hidden=8
        ),
        "rnn.clipping_figure": lambda: vr.clipping_figure(sine, max_norm=1.0),
        "rnn.clip_direction_figure": lambda: vr.clip_direction_figure((3.0, 0.6), 1.0, 0.5),
        "rnn.char_figure": lambda: vr.char_figure(
            np.linspace(5, 2, 100), baselines, held_out, smooth=20
        ),
    }


# --- the LSTM and GRU chapter ---------------------------------------------------------------------


def _adding_batch(t=20, n=3):
    x = np.zeros((t, n, 2))
    x[..., 0] = RNG.random((t, n))
    x[3, :, 1] = x[14, :, 1] = 1
    return x


def _gates(t=20, n=3, h=6):
    return {k: RNG.random((t, n, h)) for k in ("i", "f", "g", "o", "c", "h", "r", "z", "n")}


def _mse_history(start):
    steps = np.arange(0, 201, 50)
    return {"step": steps, "test_mse": start * np.geomspace(1, 0.01, len(steps))}


def lstm_gru_figures():
    x, gates = _adding_batch(), _gates()
    profiles = {label: np.geomspace(1, 1e-6, 20) for label in ("RNN", "LSTM, forget bias 1")}
    histories = {label: _mse_history(0.17) for label in ("RNN", "LSTM, forget bias 1", "GRU")}
    histories["RNN, T = 10"] = _mse_history(0.1)
    shifts, lengths = [-1.0, 0.0, 1.0], [25, 50, 100]
    by_shift = {s: _gates() for s in shifts}
    mse_length = {"LSTM": [0.01, 0.001, 0.02], "GRU": [0.02, 0.001, 0.03]}
    return {
        "lstm_gru.cells_figure": vg.cells_figure,
        "lstm_gru.sensitivity_figure": lambda: vg.sensitivity_figure(
            {"At initialization": profiles, "After training": profiles}
        ),
        "lstm_gru.gates_figure": lambda: vg.gates_figure(x, gates, gates, 0, 1, 2),
        "lstm_gru.cell_animation": lambda: vg.cell_animation(x, gates, 0, 1)._fig,
        "lstm_gru.knobs_figure": lambda: vg.knobs_figure(
            by_shift, 0, 1, shifts, [0.01, 0.001, 0.005], lengths, mse_length, 0.17
        ),
        "lstm_gru.curves_figure": lambda: vg.curves_figure(histories, 0.17),
    }


# --- the deep and bidirectional chapter -----------------------------------------------------------


def _results():
    names = ("GRU", "2-layer GRU", "bidirectional GRU", "1-D CNN")
    rows = [{"test_acc": 0.5 + 0.05 * e, "train_loss": 2.0 / e} for e in range(1, 9)]
    return {name: {"history": History(rows=rows)} for name in names}


def deep_bidirectional_figures():
    matrix = np.tril(RNG.random((12, 12))) + 1e-3
    panels = [(f"panel {k}: 2 layers, bidirectional", matrix) for k in range(4)]
    offsets = range(-4, 5)
    accuracies = {"unidirectional GRU": np.full(9, 0.7), "bidirectional GRU": np.full(9, 0.99)}
    saliency = {name: RNG.random(40) for name in ("GRU", "2-layer GRU", "1-D CNN")}
    return {
        "deep_bidirectional.grids_figure": lambda: vd.grids_figure(length=5, num_layers=2),
        "deep_bidirectional.schedule_animation": lambda: vd.schedule_animation(6, 2)._fig,
        "deep_bidirectional.sensitivity_figure": lambda: vd.sensitivity_figure(panels),
        "deep_bidirectional.offset_figure": lambda: vd.offset_figure(offsets, accuracies),
        "deep_bidirectional.curves_figure": lambda: vd.curves_figure(_results()),
        "deep_bidirectional.saliency_figure": lambda: vd.saliency_figure(saliency),
    }


# --- the attention chapter ------------------------------------------------------------------------


def _recall_history(evaluations=3, probes=5, length=18):
    def layer_maps():
        m = RNG.random((probes, 2, length, length))
        return m / m.sum(-1, keepdims=True)

    return {
        "maps": [[layer_maps(), layer_maps()] for _ in range(evaluations)],
        "step": list(range(25, 25 * evaluations + 1, 25)),
        "acc": list(np.linspace(0.2, 0.9, evaluations)),
        "loss": list(np.linspace(2.0, 0.3, evaluations)),
    }


def attention_figures():
    q8, k8 = RNG.standard_normal((8, 4)), RNG.standard_normal((8, 4))
    dims = np.array([4, 16, 64])
    stats = {"dims": dims} | {
        f"{k}_{v}": RNG.random(3) + 0.1 for k in ("std", "max", "jac") for v in ("raw", "scaled")
    }
    hist = _recall_history()
    texts = ["a1b2c3d4e5f6g7h8?a"[:18]] * 5
    which = np.zeros(5, dtype=int)
    curves = {"attention": hist, "LSTM": hist}
    pairs = [1, 2, 4, 8]
    acc = {"attention": [1.0, 0.9, 0.9, 0.8], "LSTM": [1.0, 0.6, 0.4, 0.3]}
    by_pair = {"attention": np.full(8, 0.9), "LSTM": np.full(8, 0.3)}
    baselines = {"frequency baseline": [1.0, 0.6, 0.4, 0.3]}
    return {
        "attention.lookup_figure": va.lookup_figure,
        "attention.scaling_figure": lambda: va.scaling_figure(stats),
        "attention.masks_figure": lambda: va.masks_figure(q8, k8, length=5),
        "attention.scale_animation": lambda: (
            va.scale_animation(q8, k8, [0.1, 1.0, 10.0], row=5, mask="causal")._fig
        ),
        "attention.explorer_grid": lambda: va.explorer_grid(q8, k8, scales=(0.1, 0.5, 2.5)),
        "attention.curves_figure": lambda: va.curves_figure(curves),
        "attention.length_figure": lambda: va.length_figure(pairs, acc, by_pair, baselines),
        "attention.recall_maps_figure": lambda: va.recall_maps_figure(
            hist["maps"][-1], texts, which, example=0
        ),
        "attention.training_animation": lambda: va.training_animation(hist, texts, which)._fig,
    }


FIGURES = rnn_figures() | lstm_gru_figures() | deep_bidirectional_figures() | attention_figures()


@pytest.mark.filterwarnings("ignore:Animation was deleted without rendering")
@pytest.mark.parametrize("name", sorted(FIGURES))
def test_figure_text_is_legible_in_the_column(name):
    fig = FIGURES[name]()
    try:
        fig.canvas.draw()  # tick labels exist only once drawn
        assert_legible(fig)
    finally:
        plt.close(fig)
