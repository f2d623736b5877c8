"""The checker of the 1×1 convolutions and Inception chapter's exercise passes the right answer
and names what is wrong in wrong ones."""

import pytest

from dlbook.experiments.inception import check_bottleneck_cost


def right(c_in, c_out, mid, k, h, w):
    params = c_in * mid + k * k * mid * mid + mid * c_out
    return params, params * h * w


def test_right_answer_passes():
    report = check_bottleneck_cost(right)
    assert report.passed, report.problems
    assert report.cases == 4


def _problems(report):
    assert not report.passed
    return "\n".join(report.problems)


@pytest.mark.parametrize(
    "wrong, words",
    [
        # the k×k convolution counted at the input width, not at mid
        (
            lambda c_in, c_out, mid, k, h, w: right(c_in, c_out, c_in, k, h, w),
            "case 1 (ResNet's 256 → 64 → 256): params is 720896, expected 69632",
        ),
        # the 1×1 expansion forgotten
        (
            lambda c_in, c_out, mid, k, h, w: (
                right(c_in, c_out, mid, k, h, w)[0] - mid * c_out,
                right(c_in, c_out, mid, k, h, w)[1] - mid * c_out * h * w,
            ),
            "mult_adds is",
        ),
        # k instead of k² weights per kernel
        (
            lambda c_in, c_out, mid, k, h, w: (
                c_in * mid + k * mid * mid + mid * c_out,
                (c_in * mid + k * mid * mid + mid * c_out) * h * w,
            ),
            "case 3 (a 5×5 middle, not square): params is",
        ),
        # only the parameters
        (lambda c_in, c_out, mid, k, h, w: right(c_in, c_out, mid, k, h, w)[0], "returned 1"),
        # multiply-adds for a square image of side h
        (
            lambda c_in, c_out, mid, k, h, w: right(c_in, c_out, mid, k, h, h),
            "case 2 (different in and out widths): mult_adds is",
        ),
    ],
    ids=["k-by-k-at-input-width", "no-expand", "k-not-squared", "one-value", "square-image"],
)
def test_wrong_answers_fail(wrong, words):
    assert words in _problems(check_bottleneck_cost(wrong))


def test_the_stub_of_the_chapter_fails_on_every_case():
    report = check_bottleneck_cost(lambda c_in, c_out, mid, k, h, w: (0, 0))
    assert len(report.problems) == 2 * report.cases
