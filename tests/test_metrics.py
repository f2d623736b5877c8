"""dlbook.metrics against scikit-learn."""

import matplotlib
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn import metrics as skm

from dlbook import metrics as M


@st.composite
def labelled(draw, max_classes=5):
    n = draw(st.integers(1, 60))
    k = draw(st.integers(2, max_classes))
    seed = draw(st.integers(0, 2**16))
    r = np.random.default_rng(seed)
    y_true = r.integers(0, k, n)
    noise = draw(st.floats(0, 1))
    y_pred = np.where(r.random(n) < noise, r.integers(0, k, n), y_true)
    return y_true, y_pred


@pytest.mark.filterwarnings("ignore:A single label was found")  # sklearn, on one-class draws
@given(labelled())
def test_accuracy_and_confusion_matrix(case):
    y_true, y_pred = case
    assert M.accuracy(y_true, y_pred) == skm.accuracy_score(y_true, y_pred)
    assert np.array_equal(M.confusion_matrix(y_true, y_pred), skm.confusion_matrix(y_true, y_pred))
    labels = [3, 0, 1]
    assert np.array_equal(
        M.confusion_matrix(y_true, y_pred, labels=labels),
        skm.confusion_matrix(y_true, y_pred, labels=labels),
    )


@given(labelled(), st.sampled_from(["macro", "micro", "weighted", None]))
def test_precision_recall_f1_multiclass(case, average):
    y_true, y_pred = case
    ours = M.precision_recall_f1(y_true, y_pred, average=average)
    theirs = skm.precision_recall_fscore_support(y_true, y_pred, average=average, zero_division=0)
    for a, b in zip(ours, theirs[:3]):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


@given(labelled(max_classes=2))
def test_binary_metrics(case):
    y_true, y_pred = case
    kw = dict(zero_division=0)
    assert M.precision(y_true, y_pred) == pytest.approx(skm.precision_score(y_true, y_pred, **kw))
    assert M.recall(y_true, y_pred) == pytest.approx(skm.recall_score(y_true, y_pred, **kw))
    assert M.f1_score(y_true, y_pred) == pytest.approx(skm.f1_score(y_true, y_pred, **kw))


@given(st.integers(2, 80), st.integers(0, 2**16), st.booleans())
def test_roc_curve_and_auc(n, seed, coarse):
    r = np.random.default_rng(seed)
    y = r.integers(0, 2, n)
    y[:2] = [0, 1]  # both classes present
    score = y + r.normal(0, 1.0, n)
    if coarse:  # many ties
        score = np.round(score)
    fpr, tpr, thr = M.roc_curve(y, score)
    sk = skm.roc_curve(y, score, drop_intermediate=False)
    for a, b in zip((fpr, tpr, thr), sk):
        np.testing.assert_allclose(a, b, atol=1e-12)
    assert M.roc_auc(y, score) == pytest.approx(skm.roc_auc_score(y, score), abs=1e-12)


def test_multiclass_ovr_auc():
    r = np.random.default_rng(0)
    y = r.integers(0, 4, 200)
    scores = r.random((200, 4)) + np.eye(4)[y] * 0.5
    probs = scores / scores.sum(1, keepdims=True)
    assert M.roc_auc(y, probs, multi_class="ovr") == pytest.approx(
        skm.roc_auc_score(y, probs, multi_class="ovr"), abs=1e-12
    )


def test_bad_inputs():
    with pytest.raises(ValueError, match="y_pred"):
        M.accuracy([0, 1], [0])
    with pytest.raises(ValueError, match="average"):
        M.precision_recall_f1([0, 1], [0, 1], average="median")
    with pytest.raises(ValueError, match="binary"):
        M.f1_score([0, 1, 2], [0, 1, 2])
    with pytest.raises(ValueError, match="y_true"):
        M.roc_auc([1, 1, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="y_score"):
        M.roc_auc([0, 1, 2], np.ones((3, 2)), multi_class="ovr")
    with pytest.raises(ValueError, match="cm"):
        M.plot_confusion_matrix(np.ones((2, 3)))


def test_plot_confusion_matrix_writes_the_counts():
    matplotlib.use("Agg")
    cm = np.array([[5, 1], [0, 7]])
    ax = M.plot_confusion_matrix(cm, labels=["a", "b"])
    assert sorted(t.get_text() for t in ax.texts) == ["0", "1", "5", "7"]
    ax = M.plot_confusion_matrix(cm, normalize=True)
    assert "0.83" in [t.get_text() for t in ax.texts]
