"""The checkers of Part 5's write-it-yourself exercises: each passes the right answer, and fails
each of two or more typical wrong answers with the words that say what is wrong."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from dlbook.experiments.batch_norm import check_batch_norm_backward
from dlbook.experiments.dropout import check_dropout
from dlbook.experiments.evaluating_tuning import check_roc_auc
from dlbook.experiments.optimizers import check_adam_step
from dlbook.experiments.regularization import check_proximal_step


def _problems(report):
    assert not report.passed
    return "\n".join(report.problems)


# --- batch norm's backward pass in training mode -------------------------------------------------


def bn_backward_right(grad_output, input, weight, eps=1e-5, third=True, axes=None, ddof=0):
    axes = (0, *range(2, input.ndim)) if axes is None else axes
    shape = [1] * input.ndim
    shape[1] = -1
    mean = input.mean(axis=axes, keepdims=True)
    var = input.var(axis=axes, keepdims=True, ddof=ddof)
    x_hat = (input - mean) / np.sqrt(var + eps)
    g_hat = grad_output * weight.reshape(shape)
    bracket = g_hat - g_hat.mean(axis=axes, keepdims=True)
    if third:
        bracket = bracket - x_hat * (g_hat * x_hat).mean(axis=axes, keepdims=True)
    grad_input = bracket / np.sqrt(var + eps)
    return grad_input, (grad_output * x_hat).sum(axis=axes), grad_output.sum(axis=axes)


def test_batch_norm_backward_right_answer_passes():
    report = check_batch_norm_backward(bn_backward_right)
    assert report.passed, report.problems
    assert report.cases == 4 and "equals torch" in str(report)


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        # the path through the variance forgotten
        (
            lambda g, x, w, eps=1e-5: bn_backward_right(g, x, w, eps, third=False),
            "case 1 ((N, C) = (6, 3)): grad_input is wrong",
        ),
        # statistics over the batch axis only: right for (N, C), wrong for images
        (
            lambda g, x, w, eps=1e-5: bn_backward_right(g, x, w, eps, axes=(0,)),
            "case 2 (an image batch (4, 3, 5, 5)): grad_input is wrong",
        ),
        # the unbiased variance
        (lambda g, x, w, eps=1e-5: bn_backward_right(g, x, w, eps, ddof=1), "grad_input is wrong"),
        # float64 out for a float32 input
        (
            lambda g, x, w, eps=1e-5: tuple(
                a.astype(np.float64) for a in bn_backward_right(g, x, w, eps)
            ),
            "grad_input has dtype float64, expected float32",
        ),
    ],
)
def test_batch_norm_backward_wrong_answers_fail(wrong, words):
    assert words in _problems(check_batch_norm_backward(wrong))


def test_batch_norm_backward_batch_axis_only_is_right_on_2d_input_only():
    report = check_batch_norm_backward(
        lambda g, x, w, eps=1e-5: bn_backward_right(g, x, w, eps, axes=(0,))
    )
    assert not any(p.startswith("case 1 ") for p in report.problems)
    assert any(p.startswith("case 2 ") for p in report.problems)


def test_batch_norm_backward_forgotten_weight_is_named():
    def no_weight(g, x, w, eps=1e-5):
        grad_input, gw, gb = bn_backward_right(g, x, np.ones_like(w), eps)
        return grad_input, bn_backward_right(g, x, w, eps)[1], gb

    problems = _problems(check_batch_norm_backward(no_weight))
    assert "grad_input is wrong" in problems and "grad_weight" not in problems


# --- inverted dropout -----------------------------------------------------------------------------


def dropout_right(input, p, u):
    if p == 1:
        return np.zeros_like(input)
    return input * (u >= p) / input.dtype.type(1 - p)


def test_dropout_right_answer_passes():
    report = check_dropout(dropout_right)
    assert report.passed, report.problems
    assert report.cases == 5


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (lambda x, p, u: x * (u >= p), "case 1 (p = 0.5): the output is wrong"),  # no scaling
        (lambda x, p, u: x * (u < p) / (1 - p) if p < 1 else 0 * x, "case 2 (p = 0.2)"),
        (lambda x, p, u: x * (u >= p) / (1 - p), "case 5 (p = 1: drop everything)"),  # 0/0
        (
            lambda x, p, u: dropout_right(x, p, u).astype(np.float64),
            "the output has dtype float64, expected float32",
        ),
    ],
    ids=["unscaled", "comparison-reversed", "p-one", "dtype"],
)
def test_dropout_wrong_answers_fail(wrong, words):
    with np.errstate(all="ignore"):
        assert words in _problems(check_dropout(wrong))


# --- one step of Adam -----------------------------------------------------------------------------


def adam_right(param, grad, m, v, step, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, where="torch"):
    b1, b2 = betas
    m = b1 * m + (1 - b1) * grad
    v = b2 * v + (1 - b2) * grad**2
    if where == "torch":
        denom = np.sqrt(v) / np.sqrt(1 - b2**step) + eps
    elif where == "inside":
        denom = np.sqrt(v / (1 - b2**step) + eps)
    else:  # eps before the bias correction of sqrt(v)
        denom = (np.sqrt(v) + eps) / np.sqrt(1 - b2**step)
    return param - lr / (1 - b1**step) * m / denom, m, v


def test_adam_right_answer_passes():
    report = check_adam_step(adam_right)
    assert report.passed, report.problems
    assert report.cases == 4 and "equals torch" in str(report)


def _no_correction(param, grad, m, v, step, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    b1, b2 = betas
    m = b1 * m + (1 - b1) * grad
    v = b2 * v + (1 - b2) * grad**2
    return param - lr * m / (np.sqrt(v) + eps), m, v


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (_no_correction, "case 1 (the first step): param is wrong"),
        (
            lambda *a, **k: adam_right(*a, **k, where="inside"),
            "case 4 (gradients of 1e-9: where eps sits): param is wrong",
        ),
        (
            lambda *a, **k: adam_right(*a, **k, where="before"),
            "case 4 (gradients of 1e-9: where eps sits): param is wrong",
        ),
        (
            lambda p, g, m, v, t, **k: (adam_right(p, g, m, v, t, **k)[0], m, v),
            "exp_avg is wrong",
        ),
        (
            lambda p, g, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8: adam_right(p, g, m, v, t),
            "case 3 (lr 0.1, betas (0.8, 0.99)): param is wrong",
        ),
    ],
    ids=["no-bias-correction", "eps-inside", "eps-before", "stale-moments", "ignores-arguments"],
)
def test_adam_wrong_answers_fail(wrong, words):
    assert words in _problems(check_adam_step(wrong))


def test_adam_eps_placement_only_shows_with_tiny_gradients():
    report = check_adam_step(lambda *a, **k: adam_right(*a, **k, where="inside"))
    assert all(p.startswith("case 4") for p in report.problems)


# --- one proximal gradient step for L1 ------------------------------------------------------------


def prox_right(weight, grad, lr, lam):
    v = weight - lr * grad
    return np.sign(v) * np.maximum(np.abs(v) - lr * lam, 0.0)


def test_proximal_step_right_answer_passes():
    report = check_proximal_step(prox_right)
    assert report.passed, report.problems
    assert report.cases == 5 and "equals torch" in str(report)


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (lambda w, g, lr, lam: prox_right(w, g, 1.0, lam * lr) - lr * g + g, "case 2"),
        (lambda w, g, lr, lam: prox_right(w, g, lr, lam / lr), "case 1 (lr 0.1, lam 1)"),
        (
            lambda w, g, lr, lam: w - lr * (g + lam * np.sign(w)),
            "case 4 (small weights that must stop at 0)",
        ),
        (
            lambda w, g, lr, lam: np.maximum(w - lr * g - lr * lam, 0.0),
            "the new weight is wrong",
        ),
    ],
    ids=["threshold-first", "threshold-lam", "subgradient", "sign-lost"],
)
def test_proximal_step_wrong_answers_fail(wrong, words):
    assert words in _problems(check_proximal_step(wrong))


# --- the area under the ROC curve -----------------------------------------------------------------


def auc_right(y_true, y_score, tie=0.5):
    pos, neg = y_score[y_true == 1], y_score[y_true == 0]
    wins = (pos[:, None] > neg[None, :]).sum() + tie * (pos[:, None] == neg[None, :]).sum()
    return wins / (len(pos) * len(neg))


def test_roc_auc_right_answer_passes_and_the_reference_is_sklearn():
    report = check_roc_auc(auc_right)
    assert report.passed, report.problems
    assert report.cases == 4
    assert check_roc_auc(lambda y, s: float(roc_auc_score(y, s))).passed


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (
            lambda y, s: auc_right(y, s, tie=0.0),
            "case 3 (the same scores rounded to 0.1: many ties): the AUC is",
        ),
        (lambda y, s: 1 - auc_right(y, s), "case 1 (4 examples): the AUC is 0.25, expected 0.75"),
        (lambda y, s: float(np.mean((s >= 0.5) == y)), "case 4 (scores well below 0.5 count too)"),
    ],
    ids=["ties-ignored", "roles-swapped", "accuracy"],
)
def test_roc_auc_wrong_answers_fail(wrong, words):
    assert words in _problems(check_roc_auc(wrong))
