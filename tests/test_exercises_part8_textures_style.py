"""The textures-and-style chapter's exercise checker: it passes the right answer and fails typical
wrong ones with words that say what is wrong."""

import numpy as np
import pytest

from dlbook.experiments.textures_style import check_gram_matrix


def right(features):
    n, c = features.shape[:2]
    f = features.reshape(n, c, -1)
    return f @ f.transpose(0, 2, 1) / (c * f.shape[2])


def _problems(report):
    assert not report.passed
    return "\n".join(report.problems)


def test_right_answer_passes():
    report = check_gram_matrix(right)
    assert report.passed, report.problems
    assert report.cases == 4
    assert "equals torch" in str(report)


def _unnormalized(features):
    f = features.reshape(*features.shape[:2], -1)
    return f @ f.transpose(0, 2, 1)


def _positions(features):  # F^T F: positions by positions
    f = features.reshape(*features.shape[:2], -1)
    return f.transpose(0, 2, 1) @ f / f.size


def _by_positions_only(features):  # divides by H W, forgetting C
    f = features.reshape(*features.shape[:2], -1)
    return f @ f.transpose(0, 2, 1) / f.shape[2]


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        # the stub
        (lambda x: np.zeros(x.shape[:2]), "the Gram matrix has shape (2, 3), expected (2, 3, 3)"),
        (_unnormalized, "case 1 (2 maps, 3 channels, 4 x 4): the Gram matrix is wrong"),
        (_positions, "the Gram matrix has shape (2, 16, 16), expected (2, 3, 3)"),
        (_by_positions_only, "case 3 (4 channels, 2 x 7): the Gram matrix is wrong"),
        # float64 out for float32 features
        (lambda x: right(x).astype(np.float64), "case 4 (float32): the Gram matrix has dtype"),
    ],
)
def test_wrong_answers_fail_with_the_right_words(wrong, words):
    assert words in _problems(check_gram_matrix(wrong))


def test_the_one_channel_case_cannot_tell_c_from_one():
    """With one channel, dividing by H W alone is right: the other cases must catch it."""
    report = check_gram_matrix(_by_positions_only)
    assert not any(p.startswith("case 2") for p in report.problems)
