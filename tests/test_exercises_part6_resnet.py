"""The residual-network chapter's exercise checker: it passes the right answer and fails typical
wrong ones with words that say what is wrong."""

import numpy as np
import pytest

from dlbook.experiments.resnet import check_shortcut_backward


def right(grad_output, input, out_channels, stride):
    grad_input = np.zeros(input.shape, dtype=grad_output.dtype)
    grad_input[:, :, ::stride, ::stride] = grad_output[:, : input.shape[1]]
    return grad_input


def _problems(report):
    assert not report.passed
    return "\n".join(report.problems)


def test_right_answer_passes():
    report = check_shortcut_backward(right)
    assert report.passed, report.problems
    assert report.cases == 4


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        # the stub: zeros everywhere
        (lambda g, x, c, s: np.zeros_like(x), "grad_input is wrong"),
        # the stride forgotten: the gradient put on the first pixels
        (
            lambda g, x, c, s: np.pad(
                g[:, : x.shape[1]],
                ((0, 0), (0, 0), (0, x.shape[2] - g.shape[2]), (0, x.shape[3] - g.shape[3])),
            ),
            "case 2 (4 -> 8 channels, stride 2): grad_input is wrong",
        ),  # fmt: skip
        # float64 out for a float32 gradient
        (lambda g, x, c, s: right(g, x, c, s).astype(np.float64), "case 4 (float32)"),
    ],
)
def test_wrong_answers_fail_with_the_right_words(wrong, words):
    assert words in _problems(check_shortcut_backward(wrong))
