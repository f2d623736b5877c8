"""Tests for dlbook.viz.backpropagation: the graph frames, the mosaics, figures and explorer."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from dlbook.experiments import backpropagation as E  # noqa: E402
from dlbook.train import History  # noqa: E402
from dlbook.viz import backpropagation as V  # noqa: E402
from dlbook.viz.common import to_html  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:Animation was deleted without rendering")

LEAVES = dict(x=1.5, w=0.8, b=-0.5, t=1.0)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_graph_frames_run_forward_then_backward():
    graph = E.neuron_graph()
    frames = V.graph_frames(graph, LEAVES, "L")
    assert len(frames) == 2 * len(graph) + 2
    values0, grads0, _, active0, _ = frames[0]
    assert set(values0) == set(LEAVES) and grads0 == {} and active0 is None
    # forward frame k has computed exactly the first k nodes
    assert set(frames[3][0]) == set(LEAVES) | {"u", "z", "h"} and frames[3][3] == "h"
    # after L and r: w has only the penalty's share, and is marked as incomplete
    _, grads, complete, active, caption = frames[len(graph) + 2]
    assert active == "r" and grads["w"] == pytest.approx(0.08) and "w" not in complete
    assert caption.startswith("backward: r sends")
    # at the end every gradient is the full one
    values, grads, complete, _, _ = frames[-1]
    assert grads == E.backward(graph, values, "L") and complete == set(values)


def test_graph_layout_covers_every_name():
    graph = E.neuron_graph()
    names = set(LEAVES) | {node.name for node in graph}
    assert set(V.NEURON_LAYOUT) == names


def test_graph_figure_prints_every_gradient():
    graph = E.neuron_graph()
    fig = V.graph_figure(graph, LEAVES, "L")
    texts = {t.get_text() for t in fig.axes[0].texts}
    grads = E.backward(graph, E.forward(graph, LEAVES), "L")
    assert {f"{g:+.3f}" for g in grads.values()} <= texts
    assert "w = 0.05·w²" not in texts and "r = 0.05·w²" in texts


def test_graph_animation_has_one_frame_per_state():
    anim = V.graph_animation(E.neuron_graph(), LEAVES, "L")
    assert anim._save_count == 16  # what to_html reports as data-frames
    anim._func(15)
    assert anim._fig.texts[0].get_text().startswith("step 15/15: done")


def test_tile_lays_out_images_with_nan_gaps():
    images = np.arange(3 * 2 * 2, dtype=float).reshape(3, 2, 2)
    out = V.tile(images, cols=2)
    assert out.shape == (5, 5)
    np.testing.assert_array_equal(out[:2, 3:], images[1])
    np.testing.assert_array_equal(out[3:, :2], images[2])
    assert np.isnan(out[2]).all() and np.isnan(out[:, 2]).all() and np.isnan(out[3:, 3:]).all()


def test_weights_animation_frames_and_title():
    rng = np.random.default_rng(0)
    snaps = [
        dict(step=s, epoch=s / 10, loss=2.0 / (s + 1), test_acc=0.5, weight=rng.random((20, 64)))
        for s in (0, 5, 10)
    ]
    anim = V.weights_animation(snaps, units=16)
    anim._func(2)
    assert "step 10 (epoch 1.00)" in anim._fig._suptitle.get_text()
    assert 'data-frames="3"' in to_html(anim).data


def test_backward_figure_reports_zeros():
    trace = [("logits", np.ones((4, 10))), ("input of 2: ReLU", np.array([[0.0, 1.0]] * 4))]
    fig = V.backward_figure(trace)
    titles = [ax.get_title() for ax in fig.axes]
    assert "0% zeros" in titles[0] and "50% zeros" in titles[1]


def test_jacobian_figure_counts_nonzeros():
    fig = V.jacobian_figure({"diag": np.eye(4)})
    assert "4×4, 25% nonzero" in fig.axes[0].get_title()


def test_cost_and_sweep_and_h_figures():
    fig = V.cost_figure({"forward": 2.0, "backward": 3.0}, {"forward": 10, "backward": 20})
    labels = [t.get_text() for t in fig.axes[0].texts] + [t.get_text() for t in fig.axes[1].texts]
    assert labels == ["1.00×", "1.50×", "1.00×", "2.00×"]
    history = History(rows=[dict(test_acc=0.5), dict(test_acc=0.9)])
    fig = V.sweep_figure(
        {(8, 0.1): history, (16, 0.1): history, (8, 1.0): history, (16, 1.0): history}
    )
    assert len(fig.axes) == 2 and fig.axes[0].get_legend().get_texts()[0].get_text() == (
        "8 hidden: 90.0%"
    )
    fig = V.h_sweep_figure(np.array([1e-6, 1e-3]), {"a": np.array([1e-9, 1e-6])})
    assert len(fig.axes[0].lines) == 2  # the curve and the tolerance line


def test_explorer_trains_with_the_chosen_settings():
    calls = []

    def train(hidden, lr):
        calls.append((hidden, lr))
        return History(rows=[dict(train_loss=1.0, test_loss=1.1, train_acc=0.5, test_acc=0.4)])

    box = V.explorer(train)
    assert calls == [(64, 0.1)]
    hidden, lr = box.children[0].children
    hidden.value = 16
    assert calls[-1] == (16, 0.1)
    assert len(box.children[1].outputs) == 1
