"""The Why convolution chapter's exercise checker: it passes the right answer and fails typical
wrong ones with words that say what is wrong."""

import numpy as np
import pytest

from dlbook.experiments.why_convolution import check_shift


def right(x, dy, dx):
    out = np.zeros_like(x)
    h, w = x.shape[-2:]
    if abs(dy) >= h or abs(dx) >= w:
        return out
    out[..., max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = x[
        ..., max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    return out


def test_right_answer_passes():
    report = check_shift(right)
    assert report.passed, report.problems
    assert report.cases == 7


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        # the stub: np.roll wraps round
        (lambda x, dy, dx: np.roll(x, (dy, dx), axis=(-2, -1)), "case 1 (down by 1)"),
        # the direction reversed
        (lambda x, dy, dx: right(x, -dy, -dx), "case 2 (right by 2): the result is wrong"),
        # only the positive shifts handled
        (lambda x, dy, dx: right(x, max(dy, 0), max(dx, 0)), "case 3 (up by 2)"),
        # float64 out for any input
        (lambda x, dy, dx: right(x, dy, dx).astype(np.float32), "dtype"),
    ],
)
def test_wrong_answers_fail_with_words(wrong, words):
    report = check_shift(wrong)
    assert not report.passed
    assert words in "\n".join(report.problems)
    assert "no shift" not in "\n".join(p for p in report.problems if "reversed" in p)


def test_roll_fails_everywhere_but_no_shift():
    report = check_shift(lambda x, dy, dx: np.roll(x, (dy, dx), axis=(-2, -1)))
    assert len(report.problems) == 6
    assert not any("no shift" in p for p in report.problems)
