"""Tests for dlbook.viz.losses: the curves drawn are the right numbers, the animation has its
frames, and bad arguments are refused."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from dlbook.experiments.losses import Run, exact_line_fits, fit_line, line_data  # noqa: E402
from dlbook.viz import losses as V  # noqa: E402
from dlbook.viz.common import to_html  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:Animation was deleted without rendering")


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_huber_matches_torch():
    r = torch.linspace(-3, 3, 61, dtype=torch.float64, requires_grad=True)
    F.huber_loss(r, torch.zeros_like(r), reduction="sum", delta=1.5).backward()
    x = r.detach().numpy()
    np.testing.assert_allclose(
        V.huber(x, 1.5), F.huber_loss(r, torch.zeros_like(r), reduction="none", delta=1.5).detach()
    )
    np.testing.assert_allclose(V.huber_backward(x, 1.5), r.grad.numpy())


def test_multiclass_curves_by_hand():
    lead = np.array([-2.0, 0.0, 0.5, 3.0])
    curves = V.multiclass_curves(lead, classes=10)
    ce, ce_grad = curves["cross-entropy"]
    np.testing.assert_allclose(ce, np.log(np.exp(lead) + 9) - lead)
    np.testing.assert_allclose(ce_grad, np.exp(lead) / (np.exp(lead) + 9) - 1)
    hinge, hinge_grad = curves["multi-class hinge"]
    np.testing.assert_allclose(hinge, 0.9 * np.maximum(0, 1 - lead))
    np.testing.assert_allclose(hinge_grad, [-0.9, -0.9, -0.9, 0.0])
    brier, brier_grad = curves["MSE on probabilities"]
    h = 1e-6  # the softmax-Jacobian gradient against finite differences of the loss itself
    numeric = (V.multiclass_curves(lead + h)["MSE on probabilities"][0] - brier) / h
    np.testing.assert_allclose(brier_grad, numeric, atol=1e-5)


def test_loss_grid_and_saturation_figure():
    fig = V.loss_grid()
    assert len(fig.axes) == 6
    assert len(fig.axes[0].lines) == 3 and len(fig.axes[1].lines) == 4  # 0-1 loss on top only
    assert len(fig.axes[4].lines) == 4  # three gradients and the zero line
    fig = V.saturation_figure()
    ce, mse = fig.axes[1].lines
    at = np.argmin(np.abs(ce.get_xdata() + 10))  # z = -10, confidently wrong
    assert ce.get_ydata()[at] > 0.99 and mse.get_ydata()[at] < 1e-3


def test_mean_median_figure_reports_both():
    sample = np.array([1.0, 2.0, 3.0, 4.0, 100.0])
    fig = V.mean_median_figure(sample, sample > 10)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "mean = 22.00" in labels and "median = 3.00" in labels


def test_line_fit_animation_frames():
    d = line_data()
    fits = [fit_line(d, "mse", steps=80), fit_line(d, "mae", steps=80)]
    anim = V.line_fit_animation(d, fits, exact_line_fits(d))
    assert 15 <= anim._save_count <= 24  # small enough to embed in the page
    anim._func(80)
    line = anim._fig.axes[0].lines[1]  # the MSE fit, after the truth line
    np.testing.assert_allclose(np.diff(line.get_ydata()) / 2.1, fits[0].params[80][0])
    html = to_html(V.line_fit_animation(d, fits, frames=[0, 40, 80])).data
    assert 'data-frames="3"' in html
    with pytest.raises(ValueError, match="frames"):
        V.line_fit_animation(d, fits, frames=[0, 81])
    with pytest.raises(ValueError, match="fits"):
        V.line_fit_animation(d, [])


def test_softmax_panel_grid_and_explorer():
    fig, ax = plt.subplots()
    p, loss = V.softmax_panel(ax, (2.0, 1.0, -1.0), target=2, temperature=0.5)
    z = np.array([2.0, 1.0, -1.0]) / 0.5
    np.testing.assert_allclose(p, np.exp(z) / np.exp(z).sum())
    assert loss == pytest.approx(-np.log(p[2]))
    assert len(ax.patches) == 6  # a probability and a descent direction per class
    heights = [b.get_height() for b in ax.patches]
    np.testing.assert_allclose(heights[3:], np.eye(3)[2] - p)
    fig = V.softmax_grid([((1.0, 0.0), 0), ((1.0, 0.0), 1)], (0.5, 1.0, 2.0))
    assert len(fig.axes) == 6
    with pytest.raises(ValueError, match="cases"):
        V.softmax_grid([], (1.0,))
    widget = V.softmax_explorer(logits=(1.0, 0.0, -1.0), target=1)
    controls = widget.children[0].children
    assert len(controls) == 5 and controls[-1].value == 1  # 3 logits, T, the true class


def _run(loss, lr, acc):
    return Run(loss, lr, val_acc=[acc], test_acc=[acc / 2, acc], train_loss=[1.0])


def test_training_figures():
    results = {
        name: {
            "sweep": [_run(name, 0.1, 0.5), _run(name, 1.0, 0.9)],
            "best": _run(name, 1.0, 0.9),
            "bad": _run(name, 1.0, 0.3),
        }
        for name in ("cross-entropy", "multi-class hinge")
    }
    fig = V.sweep_figure(results)
    ys = fig.axes[0].lines[0].get_ydata()
    np.testing.assert_allclose(ys, [50, 90])
    fig = V.curves_figure(results)
    assert len(fig.axes[0].lines) == len(fig.axes[1].lines) == 2
    np.testing.assert_allclose(fig.axes[1].lines[0].get_ydata(), [15, 30])
