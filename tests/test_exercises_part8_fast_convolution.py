"""The fast-convolution chapter's exercise checker: it passes the right answer and fails typical
wrong ones with words that say what is wrong."""

import numpy as np
import pytest

from dlbook.experiments.fast_convolution import check_winograd_1d


def right(d, g):
    m1 = (d[..., 0] - d[..., 2]) * g[..., 0]
    m2 = (d[..., 1] + d[..., 2]) * (g[..., 0] + g[..., 1] + g[..., 2]) / 2
    m3 = (d[..., 2] - d[..., 1]) * (g[..., 0] - g[..., 1] + g[..., 2]) / 2
    m4 = (d[..., 1] - d[..., 3]) * g[..., 2]
    return np.stack([m1 + m2 + m3, m2 - m3 - m4], axis=-1)


def no_halves(d, g):
    return right(d, g) * np.array([2, 2]) - right(d, g)  # drops the kernel transform's 1/2


def _problems(report):
    assert not report.passed
    return "\n".join(report.problems)


def test_right_answer_passes():
    report = check_winograd_1d(right)
    assert report.passed, report.problems
    assert report.cases == 5


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        # the stub: zeros
        (
            lambda d, g: np.zeros(np.broadcast_shapes(d.shape[:-1], g.shape[:-1]) + (2,)),
            "case 1 (integers): y is wrong",
        ),  # fmt: skip
        # the two outputs swapped
        (lambda d, g: right(d, g)[..., ::-1], "y is wrong"),
        # convolution (flipped kernel) instead of cross-correlation
        (lambda d, g: right(d, g[..., ::-1]), "case 2 (one tile): y is wrong"),
        # computed in float64 whatever the input
        (lambda d, g: right(d.astype(np.float64), g.astype(np.float64)), "case 5 (float32)"),
        # a batch of tiles not broadcast: only the first tile
        (lambda d, g: right(d.reshape(-1, 4)[:1], g.reshape(-1, 3)[:1])[0], "case 3"),
    ],
)
def test_wrong_answers_fail_with_the_right_words(wrong, words):
    assert words in _problems(check_winograd_1d(wrong))
