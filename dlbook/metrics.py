r"""Classification metrics from scratch in NumPy, held equal to scikit-learn's by the tests.

With true positives :math:`TP`, false positives :math:`FP` and false negatives :math:`FN` of a
class,

.. math::
    \text{precision} = \frac{TP}{TP + FP}, \qquad \text{recall} = \frac{TP}{TP + FN}, \qquad
    F_1 = \frac{2\,\text{precision}\cdot\text{recall}}{\text{precision} + \text{recall}} .

For several classes, ``average`` says how the per-class values combine: ``'macro'`` (plain
mean), ``'weighted'`` (weighted by each class's support), ``'micro'`` (pool the counts first),
``None`` (one value per class) or ``'binary'`` (the ``pos_label`` class only). A ratio with a zero
denominator is 0, as scikit-learn's ``zero_division=0`` makes it.

The ROC curve sweeps a threshold over the scores; its area (ROC-AUC) is the probability that a
random positive scores above a random negative, ties counting one half.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "accuracy",
    "confusion_matrix",
    "precision_recall_f1",
    "precision",
    "recall",
    "f1_score",
    "roc_curve",
    "roc_auc",
    "plot_confusion_matrix",
]

_AVERAGES = ("binary", "macro", "micro", "weighted", None)


def _labels(y_true, y_pred=None):
    y_true = np.asarray(y_true)
    if y_true.ndim != 1 or y_true.size == 0:
        raise ValueError(f"y_true must be a non-empty 1-D array, got shape {y_true.shape}")
    if y_pred is None:
        return y_true
    y_pred = np.asarray(y_pred)
    if y_pred.shape != y_true.shape:
        raise ValueError(f"y_pred has shape {y_pred.shape}, but y_true has {y_true.shape}")
    return y_true, y_pred


def accuracy(y_true, y_pred) -> float:
    """The fraction of predictions that equal the labels."""
    y_true, y_pred = _labels(y_true, y_pred)
    return float(np.mean(y_true == y_pred))


def confusion_matrix(y_true, y_pred, labels=None) -> np.ndarray:
    """``C[i, j]``: how many samples of true class ``labels[i]`` were predicted ``labels[j]``.
    ``labels`` defaults to the sorted classes found in either array."""
    y_true, y_pred = _labels(y_true, y_pred)
    labels = np.union1d(y_true, y_pred) if labels is None else np.asarray(labels)
    index = {v: i for i, v in enumerate(labels.tolist())}
    keep = np.array([t in index and p in index for t, p in zip(y_true.tolist(), y_pred.tolist())])
    rows = np.array([index[t] for t in y_true[keep].tolist()], dtype=np.intp)
    cols = np.array([index[p] for p in y_pred[keep].tolist()], dtype=np.intp)
    cm = np.zeros((len(labels), len(labels)), dtype=np.int64)
    np.add.at(cm, (rows, cols), 1)
    return cm


def _ratio(num, den):
    num, den = np.asarray(num, float), np.asarray(den, float)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def precision_recall_f1(y_true, y_pred, average="binary", pos_label=1, labels=None):
    """``(precision, recall, f1)``, each a float (or a per-class array with ``average=None``)."""
    if average not in _AVERAGES:
        raise ValueError(f"average must be one of {_AVERAGES}, got {average!r}")
    y_true, y_pred = _labels(y_true, y_pred)
    present = np.union1d(y_true, y_pred)
    if average == "binary":
        if len(present) > 2:
            raise ValueError(
                f"average='binary' needs two classes, found {len(present)}; choose another average"
            )
        labels = [pos_label]
    labels = present if labels is None else np.asarray(labels)
    cm = confusion_matrix(y_true, y_pred, labels=np.union1d(present, labels))
    where = np.searchsorted(np.union1d(present, labels), labels)
    tp = np.diag(cm)[where]
    fp = cm.sum(axis=0)[where] - tp
    fn = cm.sum(axis=1)[where] - tp
    if average == "micro":
        tp, fp, fn = tp.sum(), fp.sum(), fn.sum()
    p, r = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    f = _ratio(2 * p * r, p + r)
    if average in ("binary", "micro"):
        return float(np.ravel(p)[0]), float(np.ravel(r)[0]), float(np.ravel(f)[0])
    if average is None:
        return p, r, f
    weights = (tp + fn).astype(float) if average == "weighted" else np.ones(len(labels))
    if weights.sum() == 0:
        return 0.0, 0.0, 0.0
    return tuple(float(np.average(v, weights=weights)) for v in (p, r, f))


def precision(y_true, y_pred, average="binary", pos_label=1):
    return precision_recall_f1(y_true, y_pred, average, pos_label)[0]


def recall(y_true, y_pred, average="binary", pos_label=1):
    return precision_recall_f1(y_true, y_pred, average, pos_label)[1]


def f1_score(y_true, y_pred, average="binary", pos_label=1):
    return precision_recall_f1(y_true, y_pred, average, pos_label)[2]


def _binary_scores(y_true, scores, pos_label):
    y_true = _labels(y_true)
    scores = np.asarray(scores, dtype=float)
    if scores.shape != y_true.shape:
        raise ValueError(f"y_score has shape {scores.shape}, but y_true has {y_true.shape}")
    positive = y_true == pos_label
    if positive.all() or not positive.any():
        raise ValueError("y_true: ROC needs both positive and negative samples")
    return positive, scores


def roc_curve(y_true, y_score, pos_label=1):
    """``(fpr, tpr, thresholds)``: one point per distinct score, from the highest threshold down,
    starting at (0, 0) with threshold ``inf`` as scikit-learn does (``drop_intermediate=False``)."""
    positive, scores = _binary_scores(y_true, y_score, pos_label)
    order = np.argsort(-scores, kind="mergesort")
    s, pos = scores[order], positive[order]
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]  # the end of each run of equal scores
    tps = np.cumsum(pos)[last]
    fps = (last + 1) - tps
    tpr = np.r_[0.0, tps / positive.sum()]
    fpr = np.r_[0.0, fps / (~positive).sum()]
    return fpr, tpr, np.r_[np.inf, s[last]]


def roc_auc(y_true, y_score, pos_label=1, multi_class=None) -> float:
    """Area under the ROC curve (trapezoids, so ties count one half).

    For several classes, pass ``y_score`` of shape ``(N, K)`` (probabilities or scores per class)
    and ``multi_class='ovr'``: the mean over classes of one-vs-rest AUC (scikit-learn's
    ``average='macro'``).
    """
    if multi_class is not None:
        if multi_class != "ovr":
            raise ValueError(f"multi_class must be None or 'ovr', got {multi_class!r}")
        y_true = _labels(y_true)
        y_score = np.asarray(y_score, dtype=float)
        classes = np.unique(y_true)
        if y_score.ndim != 2 or y_score.shape != (len(y_true), len(classes)):
            raise ValueError(
                f"y_score must have shape (N, {len(classes)}) for {len(classes)} classes, "
                f"got {y_score.shape}"
            )
        return float(np.mean([roc_auc(y_true == c, y_score[:, k], True) for k, c in
                              enumerate(classes)]))  # fmt: skip
    fpr, tpr, _ = roc_curve(y_true, y_score, pos_label)
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def plot_confusion_matrix(cm, labels=None, normalize: bool = False, ax=None, cmap="Blues"):
    """Draw a confusion matrix with its counts (or row fractions, with ``normalize``) written in
    the cells. Returns the axes; outside Jupyter, save its figure or call ``plt.show()``."""
    import matplotlib.pyplot as plt

    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"cm must be a square matrix, got shape {cm.shape}")
    labels = list(range(len(cm))) if labels is None else list(labels)
    shown = _ratio(cm, cm.sum(axis=1, keepdims=True)) if normalize else cm
    if ax is None:
        _, ax = plt.subplots(figsize=(0.5 * len(cm) + 2, 0.5 * len(cm) + 1.6))
    ax.imshow(shown, cmap=cmap, vmin=0)
    top = shown.max() if shown.size else 0
    for (i, j), v in np.ndenumerate(shown):
        text = f"{v:.2f}" if normalize else f"{v:d}"
        ax.text(j, i, text, ha="center", va="center", fontsize=9,
                color="white" if v > top / 2 else "black")  # fmt: skip
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    return ax
