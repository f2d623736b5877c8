"""The checkers of Parts 3 and 4's write-it-yourself exercises: each passes the right answer, and
fails at least two usual mistakes, saying in words what is wrong."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlbook.experiments.effective_receptive_field import check_erf, erf_of_kernels
from dlbook.experiments.lenet_numpy import check_confusion_matrix
from dlbook.experiments.lenet_pytorch import check_train_step
from dlbook.experiments.pooling import check_max_pool2d_backward
from dlbook.experiments.receptive_fields import check_receptive_field, field_of_layers

# --- pooling: max-pool backward ------------------------------------------------------------------


def max_pool_backward(grad_output, input, kernel_size, stride=None, add=True):
    k = kernel_size
    s = k if stride is None else stride
    n, c, oh, ow = grad_output.shape
    grad_input = np.zeros_like(input)
    b, ch = np.indices((n, c))
    for i in range(oh):
        for j in range(ow):
            window = input[:, :, i * s : i * s + k, j * s : j * s + k].reshape(n, c, k * k)
            r, q = np.divmod(window.argmax(axis=2), k)
            if add:
                grad_input[b, ch, i * s + r, j * s + q] += grad_output[:, :, i, j]
            else:  # the mistake: a pixel that wins two windows keeps only the last gradient
                grad_input[b, ch, i * s + r, j * s + q] = grad_output[:, :, i, j]
    return grad_input


def max_pool_backward_all_ties(grad_output, input, kernel_size, stride=None):
    k = kernel_size
    s = k if stride is None else stride
    grad_input = np.zeros(input.shape)  # float64 whatever the input: a second mistake
    for i in range(grad_output.shape[2]):
        for j in range(grad_output.shape[3]):
            w = input[:, :, i * s : i * s + k, j * s : j * s + k]
            winners = w == w.max(axis=(2, 3), keepdims=True)
            grad_input[:, :, i * s : i * s + k, j * s : j * s + k] += (
                winners * grad_output[:, :, i, j, None, None]
            )
    return grad_input


def test_max_pool_checker_passes_the_right_answer():
    report = check_max_pool2d_backward(max_pool_backward)
    assert report.passed, report
    assert "equals torch" in str(report)


def test_max_pool_checker_catches_overwritten_gradients():
    report = check_max_pool2d_backward(
        lambda g, x, k, s=None: max_pool_backward(g, x, k, s, add=False)
    )
    assert not report.passed
    assert any("overlapping" in p and "wrong at" in p for p in report.problems)
    assert not any("2×2 windows, stride 2)" in p for p in report.problems)  # no overlap: right


def test_max_pool_checker_catches_ties_and_dtype():
    report = check_max_pool2d_backward(max_pool_backward_all_ties)
    assert any("ties" in p and "wrong at" in p for p in report.problems)
    assert any("dtype float64, expected float32" in p for p in report.problems)


def test_max_pool_checker_reports_a_crash_in_words():
    report = check_max_pool2d_backward(lambda g, x, k, s=None: x.reshape(-1)[10**6])
    assert len(report.problems) == 5
    assert all("raised IndexError" in p for p in report.problems)


# --- receptive fields: the recurrence ------------------------------------------------------------


def recurrence(layers, dilation=True, jump_first=False):
    r, j, p = 1, 1, 0
    for k, s, q, d in layers:
        d = d if dilation else 1
        if jump_first:  # the mistake: the new jump used for this layer's own taps
            j = j * s
            r, p = r + d * (k - 1) * j, p + q * j
        else:
            r, j, p = r + d * (k - 1) * j, j * s, p + q * j
    return r, j, p


def test_receptive_field_checker_passes_the_right_answer():
    report = check_receptive_field(recurrence)
    assert report.passed, report
    assert "autograd" in str(report)


def test_receptive_field_checker_catches_a_forgotten_dilation():
    report = check_receptive_field(lambda layers: recurrence(layers, dilation=False))
    assert report.problems == ["case 4 (dilations 1, 2, 4): r is 7, expected 15"]


def test_receptive_field_checker_catches_the_jump_updated_too_early():
    report = check_receptive_field(lambda layers: recurrence(layers, jump_first=True))
    assert "case 2 (a 2×2 pooling between two convolutions): r is 9, expected 8" in report.problems
    assert any("AlexNet" in p and "p is" in p for p in report.problems)


def test_field_of_layers_matches_the_chapter():
    # The chapter's exercise 1: r, j, p = 19, 4, 9.
    assert field_of_layers([(5, 1, 2, 1), (3, 2, 1, 1), (3, 1, 2, 2), (3, 2, 1, 1)]) == (19, 4, 9)


# --- effective receptive field: backpropagate a one-hot gradient ---------------------------------


def erf(kernels, size, flip=False, absolute=True):
    g = np.zeros((size, size))
    g[size // 2, size // 2] = 1.0
    for w in reversed(kernels):
        w = w[::-1, ::-1] if flip else w
        h = w.shape[0] // 2
        padded = np.zeros((size + 2 * h, size + 2 * h))
        for u in range(w.shape[0]):
            for v in range(w.shape[1]):
                padded[u : u + size, v : v + size] += w[u, v] * g
        g = padded[h : h + size, h : h + size]
    return np.abs(g) if absolute else g


def test_erf_checker_passes_the_right_answer():
    report = check_erf(erf)
    assert report.passed, report


def test_erf_checker_catches_a_flipped_kernel():
    report = check_erf(lambda k, n: erf(k, n, flip=True))
    assert any("lopsided" in p and "wrong at" in p for p in report.problems)


def test_erf_checker_catches_a_missing_absolute_value():
    report = check_erf(lambda k, n: erf(k, n, absolute=False))
    assert not any("lopsided" in p for p in report.problems)  # all its weights are positive
    assert any("negative weights" in p and "wrong at" in p for p in report.problems)


def test_erf_checker_catches_a_map_of_the_wrong_size():
    report = check_erf(lambda k, n: erf(k, n)[1:, 1:])
    assert all("has shape" in p for p in report.problems) and len(report.problems) == 3


def test_erf_of_kernels_is_the_binomial_map():
    b = np.array([1.0, 2.0, 1.0])
    from dlbook.experiments.effective_receptive_field import binomial_erf

    np.testing.assert_allclose(erf_of_kernels([np.outer(b, b) / 16] * 3, 13), binomial_erf(3, 13))


# --- LeNet in NumPy: the confusion matrix --------------------------------------------------------


def confusion(y_true, y_pred, num_classes):
    counts = np.zeros((num_classes, num_classes), dtype=np.int64)
    for t, p in zip(y_true, y_pred):
        counts[t, p] += 1
    return counts


def test_confusion_checker_passes_the_right_answer():
    assert check_confusion_matrix(confusion).passed


def test_confusion_checker_catches_rows_and_columns_swapped():
    report = check_confusion_matrix(lambda t, p, k: confusion(t, p, k).T)
    assert len(report.problems) == 3
    assert report.problems[0].startswith("case 1 (three classes): the result is wrong at")


def test_confusion_checker_catches_repeated_pairs_counted_once():
    def fancy(y_true, y_pred, num_classes):
        counts = np.zeros((num_classes, num_classes), dtype=np.int64)
        counts[y_true, y_pred] += 1  # a pair that occurs twice is counted once
        return counts

    report = check_confusion_matrix(fancy)
    assert len(report.problems) == 1 and "200 random labels" in report.problems[0]


def test_confusion_checker_catches_float_counts_and_only_the_classes_present():
    report = check_confusion_matrix(lambda t, p, k: confusion(t, p, k).astype(float))
    assert all("dtype float64, expected int64" in p for p in report.problems)

    def present(y_true, y_pred, num_classes):
        labels = np.union1d(y_true, y_pred)
        return confusion(np.searchsorted(labels, y_true), np.searchsorted(labels, y_pred), 3)

    report = check_confusion_matrix(present)
    assert any("has shape (3, 3), expected (5, 5)" in p for p in report.problems)


# --- LeNet in PyTorch: one training step ---------------------------------------------------------


def step(model, optimizer, xb, yb, zero=True, reduction="mean", update=True):
    if zero:
        optimizer.zero_grad()
    loss = F.cross_entropy(model(xb), yb, reduction=reduction)
    loss.backward()
    if update:
        optimizer.step()
    return loss.item()


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_train_step_checker_passes_the_right_answer():
    assert check_train_step(step).passed


def test_train_step_checker_catches_gradients_never_cleared():
    report = check_train_step(lambda m, o, x, y: step(m, o, x, y, zero=False))
    assert not any("case 1" in p for p in report.problems)  # one step: nothing to clear yet
    assert any(p.startswith("case 2 (three steps): the weight vector") for p in report.problems)


def test_train_step_checker_catches_a_summed_loss_and_a_missing_update():
    report = check_train_step(lambda m, o, x, y: step(m, o, x, y, reduction="sum"))
    assert any("case 1 (one step): the list of losses" in p for p in report.problems)
    report = check_train_step(lambda m, o, x, y: step(m, o, x, y, update=False))
    assert any("case 1 (one step): the weight vector" in p for p in report.problems)
