"""The Evaluating and tuning chapter's figures, animation and explorer."""

import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from sklearn import metrics as skm  # noqa: E402

from dlbook.experiments.evaluating_tuning import RangeTest, Trial  # noqa: E402
from dlbook.viz import evaluating_tuning as vm  # noqa: E402


@pytest.fixture
def task():
    rng = np.random.default_rng(0)
    positive = rng.random(200) < 0.2
    scores = np.clip(0.3 + 0.4 * positive + rng.normal(0, 0.2, 200), 0, 1)
    scores[:10] = np.round(scores[:10], 1)  # a few ties
    return positive, scores


def test_counts_by_hand():
    positive = np.array([True, True, False, False, False])
    scores = np.array([0.9, 0.4, 0.6, 0.2, 0.4])
    assert vm.counts(positive, scores, 0.5) == (1, 1, 1, 2)
    assert vm.counts(positive, scores, 0.4) == (2, 2, 0, 1)  # >= threshold is positive
    assert vm.counts(positive, scores, 1.1) == (0, 0, 2, 3)


def test_pr_points_equal_sklearn(task):
    positive, scores = task
    precision, recall, thr = vm.pr_points(positive, scores)
    p, r, t = skm.precision_recall_curve(positive, scores)
    np.testing.assert_allclose(precision, p[:-1][::-1], atol=1e-12)
    np.testing.assert_allclose(recall, r[:-1][::-1], atol=1e-12)
    np.testing.assert_allclose(thr, t[::-1], atol=1e-12)


def test_bad_binary_inputs():
    with pytest.raises(ValueError, match="positive"):
        vm.counts([True, False], [0.1, 0.2, 0.3], 0.5)
    with pytest.raises(ValueError, match="positive"):
        vm.pr_points([True, True], [0.1, 0.2])


def test_threshold_figure_shows_the_counts(task):
    positive, scores = task
    fig = vm.threshold_figure(positive, scores, threshold=0.5)
    tp, fp, fn, tn = vm.counts(positive, scores, 0.5)
    texts = {t.get_text() for t in fig.axes[2].texts}
    assert {f"TP\n{tp}", f"FP\n{fp}", f"FN\n{fn}", f"TN\n{tn}"} <= texts
    dot = fig.axes[1].lines[2]
    np.testing.assert_allclose(dot.get_xydata()[0], [fp / (fp + tn), tp / (tp + fn)])
    plt.close(fig)


def test_threshold_grid_has_a_row_per_threshold(task):
    fig = vm.threshold_grid(*task, thresholds=(0.2, 0.5, 0.8, 0.9))
    assert len(fig.axes) == 12
    assert [ax.get_title() for ax in fig.axes[::3]] == [
        f"threshold {t:.2f}" for t in (0.2, 0.5, 0.8, 0.9)
    ]
    plt.close(fig)


def test_threshold_animation_frames_and_last_frame(task):
    positive, scores = task
    anim = vm.threshold_animation(positive, scores, np.linspace(0.9, 0.1, 7))
    assert anim._save_count == 7
    anim._func(6)  # the last frame: threshold 0.1
    tp, fp, fn, tn = vm.counts(positive, scores, 0.1)
    assert f"TP\n{tp}" in {t.get_text() for t in anim._fig.axes[2].texts}
    plt.close(anim._fig)


def test_threshold_explorer_redraws_on_the_slider(task):
    panel = vm.threshold_explorer(*task, threshold=0.5)
    slider, picture = panel.children
    first = picture.value
    assert first[:8] == b"\x89PNG\r\n\x1a\n"
    slider.value = 0.2
    assert picture.value != first


def test_roc_figure_legend_has_the_aucs():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 150)
    probs = rng.random((150, 3)) + np.eye(3)[y]
    probs /= probs.sum(1, keepdims=True)
    fig = vm.roc_figure(y, probs, classes=(0, 2))
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    auc2 = skm.roc_auc_score(y == 2, probs[:, 2])
    assert f"digit 2 vs rest: AUC {auc2:.3f}" in labels
    plt.close(fig)


def test_pr_figure_marks(task):
    fig = vm.pr_figure(*task, marks=(0.3, 0.6))
    assert [t.get_text() for t in fig.axes[1].texts] == ["0.3", "0.6"]
    plt.close(fig)


def test_range_test_figure_marks_the_suggestion():
    lrs = np.logspace(-4, 0, 9)
    losses = np.array([2.3, 2.3, 2.2, 1.8, 1.2, 0.9, 1.5, 4.0, 9.0])
    ax = vm.range_test_figure(RangeTest(lrs, losses, losses, diverged=True))
    assert ax.get_xscale() == "log"
    xs = [line.get_xdata()[0] for line in ax.lines[2:]]
    assert xs == pytest.approx([lrs[5], lrs[5] / 10])
    plt.close(ax.figure)


def test_search_figure_counts_distinct_values():
    grid = [Trial({"lr": a, "weight_decay": b}, 0.5 + a, 0.0) for a in (0.01, 0.1) for b in (1, 2)]
    rand = [Trial({"lr": a, "weight_decay": 1.0}, 0.4, 0.0) for a in (0.02, 0.03, 0.05)]
    fig = vm.search_figure({"grid": grid, "random": rand})
    titles = [ax.get_title() for ax in fig.axes[:2]]
    assert titles == ["grid: 2 distinct values of lr", "random: 3 distinct values of lr"]
    assert len(fig.axes[2].lines) == 2  # one marker series per method in the projection
    plt.close(fig)


def test_search_table_rows_and_best_trial():
    grid = [Trial({"lr": a, "weight_decay": b}, 0.5 + a, 0.0) for a in (0.01, 0.1) for b in (1, 2)]
    rand = [Trial({"lr": a, "weight_decay": 0.3}, 0.4, 0.0) for a in (0.02, 0.03, 0.05)]
    html = vm.search_table({"grid": grid, "random": rand}).data
    cells = re.findall(r"<t[dh][^>]*>([^<]*)</t[dh]>", html)
    assert cells[:6] == [
        "search",
        "trials",
        "distinct learning rates",
        "best lr",
        "its weight decay",
        "best validation accuracy (%)",
    ]
    # grid: best is lr 0.1 (first of its two ties, weight decay 1); random: a three-way tie
    assert cells[6:] == [
        "grid",
        "4",
        "2",
        "0.1",
        "1",
        "60.0",
        "random",
        "3",
        "3",
        "0.02",
        "0.3",
        "40.0",
    ]
