"""The AlexNet and VGG chapter's exercise checker passes a right answer and explains wrong ones."""

import numpy as np
import pytest

from dlbook.experiments.alexnet_vgg import check_local_response_norm


def lrn_right(a, n=5, k=2.0, alpha=1e-4, beta=0.75, per_channel=False):
    sq, out = a * a, np.empty_like(a)
    for c in range(a.shape[1]):
        lo, hi = max(c - n // 2, 0), min(c + (n - 1) // 2, a.shape[1] - 1)
        s = sq[:, lo : hi + 1].sum(1)
        out[:, c] = a[:, c] / (k + alpha * (s / n if per_channel else s)) ** beta
    return out


def test_right_answer_passes():
    report = check_local_response_norm(lrn_right)
    assert report.passed, report.problems
    assert report.cases == 4


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (lambda a, **kw: lrn_right(a, **kw, per_channel=True), "case 1 (the paper's constants)"),
        (lambda a, n=5, **kw: lrn_right(a, n=1, **kw), "case 2 (n = 3, alpha = 0.5)"),
        (
            lambda a, **kw: lrn_right(a, **kw).astype(np.float64),
            "the result has dtype float64, expected float32",
        ),  # fmt: skip
        (lambda a, **kw: a / 2**0.75, "the result is wrong"),
    ],
    ids=["torch-alpha", "no-neighbours", "dtype", "constant"],
)
def test_wrong_answers_are_explained(wrong, words):
    report = check_local_response_norm(wrong)
    assert not report.passed
    assert words in "\n".join(report.problems)
