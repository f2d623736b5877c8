"""The distributed chapter's exercise checker: it passes the right answer and fails typical
wrong ones with words that say what is wrong."""

import numpy as np
import pytest

from dlbook.experiments.distributed import check_reduce_scatter


def right(arrays):
    p = len(arrays)
    chunks = [np.array_split(a.ravel(), p) for a in arrays]
    return [sum(c[(r + 1) % p] for c in chunks) for r in range(p)]


def _problems(report):
    assert not report.passed
    return "\n".join(report.problems)


def test_right_answer_passes():
    report = check_reduce_scatter(right)
    assert report.passed, report.problems
    assert report.cases == 4


def _own_chunk(arrays):  # rank r keeps chunk r instead of chunk r + 1
    p = len(arrays)
    return [sum(np.array_split(a.ravel(), p)[r] for a in arrays) for r in range(p)]


def _one_step(arrays):  # only the neighbour's contribution: one step of p - 1
    p = len(arrays)
    s = [np.array_split(a.ravel(), p) for a in arrays]
    return [s[r][(r + 1) % p] + s[(r - 1) % p][(r + 1) % p] for r in range(p)]


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (lambda arrays: [np.zeros(1) for _ in arrays], "case 1 (2 ranks, 6 numbers): rank 0's"),
        (_own_chunk, "rank 0's chunk is wrong"),
        (_one_step, "case 2 (3 ranks, 7 numbers): rank 0's chunk is wrong"),
        (lambda arrays: [r.astype(np.float64) for r in right(arrays)], "case 4 (float32)"),
        (lambda arrays: [r / len(arrays) for r in right(arrays)], "is wrong"),
    ],
)
def test_wrong_answers_fail_with_the_right_words(wrong, words):
    assert words in _problems(check_reduce_scatter(wrong))
