"""The saliency chapter's exercise checker: it passes the right answer and fails typical wrong
ones (Pearson's correlation of the values, ranks without the mean over ties, the stub) with
words that say what is wrong."""

import numpy as np
import pytest
from scipy.stats import spearmanr

from dlbook.experiments.seeing_inside import check_rank_correlation


def right(a, b):
    a, b = a.reshape(len(a), -1), b.reshape(len(b), -1)
    return np.array([spearmanr(u, v)[0] for u, v in zip(a, b)])


def pearson(a, b):
    a, b = a.reshape(len(a), -1), b.reshape(len(b), -1)
    return np.array([np.corrcoef(u, v)[0, 1] for u, v in zip(a, b)])


def ordinal(a, b):  # ranks, but ties broken by position instead of sharing their mean rank
    a, b = a.reshape(len(a), -1), b.reshape(len(b), -1)
    r = [(np.argsort(np.argsort(u, kind="stable")), np.argsort(np.argsort(v, kind="stable")))
         for u, v in zip(a, b)]  # fmt: skip
    return np.array([np.corrcoef(ru, rv)[0, 1] for ru, rv in r])


def _problems(report):
    assert not report.passed
    return "\n".join(report.problems)


def test_right_answer_passes():
    report = check_rank_correlation(right)
    assert report.passed, report.problems
    assert report.cases == 4


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (lambda a, b: np.zeros(len(a)), "case 1 (continuous maps): rho is wrong"),
        (pearson, "case 2 (b a monotone (curved) function of a): rho is wrong"),
        (ordinal, "case 3 (many ties: a zero background): rho is wrong"),
    ],
)
def test_wrong_answers_fail_with_the_right_words(wrong, words):
    assert words in _problems(check_rank_correlation(wrong))


def test_ordinal_ranks_pass_where_there_are_no_ties():
    # the tie case is the only one that tells the two apart: the checker is not too strict
    problems = _problems(check_rank_correlation(ordinal))
    assert "case 1" not in problems and "case 2" not in problems
