"""The learning-rate schedules chapter's exercise checker: it passes the right answer and fails
typical wrong ones with words that say what is wrong."""

import math

import pytest

from dlbook.experiments.lr_schedules import check_warmup_cosine


def right(step, lr, total_steps, warmup):
    if step < warmup:
        return lr * (0.01 + 0.99 * step / warmup)
    return lr * (1 + math.cos(math.pi * (step - warmup) / (total_steps - warmup))) / 2


def _problems(report):
    assert not report.passed
    return "\n".join(report.problems)


def test_right_answer_passes():
    report = check_warmup_cosine(right)
    assert report.passed, report.problems
    assert report.cases == 15
    assert "equals torch" in "\n".join(report.notes)


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        # the stub: the base rate throughout
        (lambda s, lr, T, W: lr, "case 1 (the first step, T=100, W=10): lr is"),
        # the warm-up from 0 instead of 0.01 lr
        (lambda s, lr, T, W: lr * s / W if s < W else right(s, lr, T, W), "the first step"),
        # the cosine counted from step 0 rather than from the end of the warm-up
        (
            lambda s, lr, T, W: right(s, lr, T, W) if s < W
            else lr * (1 + math.cos(math.pi * s / T)) / 2,
            "case 3 (the end of the warm-up, T=100, W=10)",
        ),
    ],
)  # fmt: skip
def test_wrong_answers_fail_with_the_right_words(wrong, words):
    assert words in _problems(check_warmup_cosine(wrong))
