"""The exercise checker: right answers pass, and each kind of wrong answer is named in words."""

import numpy as np
import pytest
import torch

from dlbook.exercise import Case, check, describe_difference


def relu(x):
    return np.maximum(x, 0.0)


def relu_backward(grad_output, x):
    return grad_output * (x > 0), np.float64((x > 0).sum())


CASES = [((np.array([-1.0, 0.0, 2.0]),), {}), Case((np.array([[3.0, -4.0]]),), label="2-D")]


def test_a_right_answer_passes_and_says_so():
    report = check(lambda x: np.where(x > 0, x, 0.0), relu, CASES, name="relu")
    assert report and report.passed and report.problems == []
    assert str(report).startswith("✓ relu: right on all 2 cases")


def test_wrong_values_name_the_first_wrong_entry():
    report = check(lambda x: np.abs(x), relu, CASES, name="relu")
    assert not report
    assert (
        "case 1: the result is wrong at 1 of 3 entries; first at index (0,): 1, expected 0"
        in (report.problems[0])
    )
    assert report.problems[1].startswith("case 2 (2-D): the result is wrong")


@pytest.mark.parametrize(
    "fn,words",
    [
        (lambda x: x.tolist(), "should be a NumPy array of shape (3,), got list"),
        (lambda x: relu(x)[None], "has shape (1, 3), expected (3,)"),
        (lambda x: relu(x).astype(np.float32), "has dtype float32, expected float64"),
        (lambda x: relu(x) * np.nan, "contains NaN"),
        (lambda x: 1 / 0, "raised ZeroDivisionError: division by zero"),
    ],
    ids=["list", "shape", "dtype", "nan", "raises"],
)
def test_each_kind_of_mistake_is_named(fn, words):
    report = check(fn, relu, CASES[:1], name="relu")
    assert not report.passed
    assert words in report.problems[0], report.problems


def test_several_outputs_are_judged_one_by_one():
    def half_right(g, x):
        return g * (x > 0), np.float64(0.0)

    outputs = ("grad_input", "count")
    report = check(
        half_right, relu_backward, [((np.ones(3), np.array([-1.0, 1.0, 2.0])), {})], outputs=outputs
    )
    assert report.problems == ["case 1: count is 0, expected 2"]
    short = check(lambda g, x: g, relu_backward, [((np.ones(2), np.ones(2)), {})], outputs=outputs)
    assert short.problems == ["case 1: returned 1 values, expected 2"]


def test_the_readers_function_cannot_spoil_the_inputs_of_the_next_call():
    def in_place(x):
        np.maximum(x, 0.0, out=x)
        return x

    assert check(in_place, relu, CASES)


def test_the_torch_twin_is_checked_and_noted():
    twin = lambda x: torch.relu(torch.from_numpy(x))  # noqa: E731
    report = check(relu, relu, CASES, torch_twin=twin)
    assert "the reference equals torch on these 2 cases" in str(report)
    with pytest.raises(ValueError, match="disagrees with torch on case 1"):
        check(relu, relu, CASES, torch_twin=lambda x: torch.from_numpy(x))
    nearly = lambda x: torch.relu(torch.from_numpy(x)) + 1e-5  # noqa: E731
    with pytest.raises(ValueError, match="disagrees with torch"):
        check(relu, relu, CASES, torch_twin=nearly)
    assert check(relu, relu, CASES, torch_twin=nearly, twin_atol=1e-4)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="fn must be a function"):
        check(3, relu, CASES)
    with pytest.raises(ValueError, match="cases must hold at least one case"):
        check(relu, relu, [])


def test_tolerances_and_scalars():
    assert describe_difference(1.0 + 1e-12, 1.0, "x", 1e-8, 0) is None
    assert describe_difference(1.5, 1.0, "x", 1e-8, 0) == "x is 1.5, expected 1"
    assert describe_difference("a", 1.0, "x", 1e-8, 0) == "x should be a number, got str"
