"""The checkers of Part 1's write-it-yourself exercises: each passes the right answer, and fails
each of two or more typical wrong answers with the words that say what is wrong."""

import math

import numpy as np
import pytest

from dlbook.experiments.backpropagation import check_mlp_backward
from dlbook.experiments.initialization import check_kaiming_std
from dlbook.experiments.losses import check_cross_entropy
from dlbook.experiments.neuron_activations import check_elu_backward


def _problems(report):
    assert not report.passed
    return "\n".join(report.problems)


# --- ELU's backward pass -------------------------------------------------------------------------


def elu_backward_right(grad_output, input, alpha=1.0):
    return np.where(input > 0, grad_output, alpha * np.exp(np.minimum(input, 0)) * grad_output)


def test_elu_backward_right_answer_passes():
    report = check_elu_backward(elu_backward_right)
    assert report.passed, report.problems
    assert report.cases == 5 and "equals torch" in str(report)


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        # grad_output forgotten: right only where it is all ones
        (
            lambda g, x, alpha=1.0: elu_backward_right(np.ones_like(g), x, alpha),
            "random grad_output",
        ),
        # the kink on the wrong side: 1 at x = 0 instead of alpha
        (
            lambda g, x, alpha=1.0: np.where(x >= 0, g, alpha * np.exp(np.minimum(x, 0)) * g),
            "case 3 (alpha=0.5, an exact 0): grad_input is wrong at 1 of 5 entries",
        ),
        # masks instead of np.where: inf * 0 = nan where exp overflows
        (
            lambda g, x, alpha=1.0: g * (x > 0) + alpha * np.exp(x) * g * (x <= 0),
            "contains NaN",
        ),
        # float64 out for a float32 input
        (
            lambda g, x, alpha=1.0: elu_backward_right(g, x, alpha).astype(np.float64),
            "has dtype float64, expected float32",
        ),
    ],
)
def test_elu_backward_wrong_answers_fail(wrong, words):
    assert words in _problems(check_elu_backward(wrong))


# --- cross-entropy -------------------------------------------------------------------------------


def _log_sum_exp(x):
    m = x.max(axis=1, keepdims=True)
    return m[:, 0] + np.log(np.exp(x - m).sum(axis=1))


def cross_entropy_right(input, target):
    return np.mean(_log_sum_exp(input) - input[np.arange(len(target)), target])


def test_cross_entropy_right_answer_passes():
    report = check_cross_entropy(cross_entropy_right)
    assert report.passed, report.problems


def _naive(input, target):
    p = np.exp(input) / np.exp(input).sum(axis=1, keepdims=True)
    return -np.mean(np.log(p[np.arange(len(target)), target]))


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (_naive, "case 4 (logits of ±800): the loss contains NaN"),
        (lambda x, t: len(t) * cross_entropy_right(x, t), "the loss is 1600, expected 800"),
        (
            lambda x, t: _log_sum_exp(x) - x[np.arange(len(t)), t],
            "the loss has shape (4,), expected ()",
        ),
        (
            lambda x, t: np.mean(_log_sum_exp(x) - x[:, t].mean(axis=1)),
            "case 3 (6 examples, 10 classes, repeated labels): the loss is",
        ),
    ],
)
def test_cross_entropy_wrong_answers_fail(wrong, words):
    assert words in _problems(check_cross_entropy(wrong))


# --- an MLP's backward pass ----------------------------------------------------------------------


def mlp_backward_right(x, y, W1, b1, W2, b2, mask=True, transpose=False):
    z1 = x @ W1.T + b1
    h = np.maximum(z1, 0)
    z2 = h @ W2.T + b2
    p = np.exp(z2 - z2.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    g2 = (p - np.eye(W2.shape[0])[y]) / len(y)
    grad_W2 = h.T @ g2 if transpose else g2.T @ h
    gz1 = (g2 @ W2) * (z1 > 0) if mask else g2 @ W2
    return gz1.T @ x, gz1.sum(axis=0), grad_W2, g2.sum(axis=0)


def test_mlp_backward_right_answer_passes():
    report = check_mlp_backward(mlp_backward_right)
    assert report.passed, report.problems


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (
            lambda *a: mlp_backward_right(*a, transpose=True),
            "case 1 (N=7, D=5, H=6, C=3): grad_W2 has shape (6, 3), expected (3, 6)",
        ),
        (
            lambda *a: mlp_backward_right(*a, transpose=True),
            "case 3 (N = D = H = C = 4): grad_W2 is wrong",
        ),
        (lambda *a: mlp_backward_right(*a, mask=False), "grad_W1 is wrong"),
        (
            lambda *a: tuple(len(a[1]) * g for g in mlp_backward_right(*a)),
            "case 1 (N=7, D=5, H=6, C=3): grad_b2 is wrong",
        ),
    ],
)
def test_mlp_backward_wrong_answers_fail(wrong, words):
    assert words in _problems(check_mlp_backward(wrong))


def test_mlp_backward_forgotten_mask_leaves_the_output_layer_right():
    problems = _problems(check_mlp_backward(lambda *a: mlp_backward_right(*a, mask=False)))
    assert "grad_W2" not in problems and "grad_b2" not in problems


# --- Kaiming's standard deviation ----------------------------------------------------------------


def kaiming_std_right(shape, a=0.0, mode="fan_in", nonlinearity="leaky_relu"):
    receptive = math.prod(shape[2:])
    fan = (shape[1] if mode == "fan_in" else shape[0]) * receptive
    gain = {"relu": math.sqrt(2), "tanh": 5 / 3, "leaky_relu": math.sqrt(2 / (1 + a**2))}
    return gain[nonlinearity] / math.sqrt(fan)


def test_kaiming_std_right_answer_passes():
    report = check_kaiming_std(kaiming_std_right)
    assert report.passed, report.problems


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (
            lambda s, a=0.0, mode="fan_in", nonlinearity="leaky_relu": kaiming_std_right(
                s, a, "fan_out" if mode == "fan_in" else "fan_in", nonlinearity
            ),
            "case 1 (nn.Linear(256, 128), the defaults): the std is 0.125, expected 0.0883883",
        ),
        (
            lambda s, a=0.0, mode="fan_in", nonlinearity="leaky_relu": kaiming_std_right(
                s[:2], a, mode, nonlinearity
            ),
            "case 2 (nn.Conv2d(3, 64, 3), the defaults): the std is 0.816497",
        ),
        (
            lambda s, a=0.0, mode="fan_in", nonlinearity="leaky_relu": kaiming_std_right(
                s, 0.0, mode, "relu"
            ),
            "case 4 (tanh): the std is",
        ),
    ],
)
def test_kaiming_std_wrong_answers_fail(wrong, words):
    assert words in _problems(check_kaiming_std(wrong))


@pytest.mark.parametrize(
    "checker", [check_elu_backward, check_cross_entropy, check_mlp_backward, check_kaiming_std]
)
def test_a_function_that_raises_is_reported_not_propagated(checker):
    def broken(*args, **kwargs):
        raise NotImplementedError("not yet")

    problems = _problems(checker(broken))
    assert "raised NotImplementedError: not yet" in problems


@pytest.mark.parametrize(
    ("checker", "stub"),
    [
        (check_elu_backward, lambda g, x, alpha=1.0: np.zeros_like(x)),
        (check_cross_entropy, lambda x, t: 0.0),
        (check_mlp_backward, lambda x, y, *p: tuple(np.zeros_like(a) for a in p)),
        (check_kaiming_std, lambda shape, **kw: 1.0),
    ],
)
def test_the_report_on_a_stub_is_the_same_under_any_seed(checker, stub, monkeypatch):
    # The notebooks print this report, and nbval compares it under any DLBOOK_SEED.
    first = str(checker(stub))
    monkeypatch.setenv("DLBOOK_SEED", "3")
    assert str(checker(stub)) == first
