"""The sentiment chapter's exercise checker: the right answer passes, wrong ones are named."""

import numpy as np

from dlbook.experiments import text_sentiment as exp


def right(input, lengths, weight):
    mask = np.arange(input.shape[1])[None, :] < lengths[:, None]
    return (weight[input] * mask[..., None]).sum(axis=1) / lengths[:, None].astype(weight.dtype)


def test_the_right_answer_passes():
    report = exp.check_mean_embedding(right)
    assert report.passed, report
    assert "equals torch" in str(report)


def test_averaging_the_padding_fails():
    report = exp.check_mean_embedding(lambda input, lengths, weight: weight[input].mean(axis=1))
    assert not report.passed
    assert any("padded" in p and "wrong" in p for p in report.problems)


def test_dividing_by_the_padded_length_fails():
    def by_t(input, lengths, weight):
        mask = np.arange(input.shape[1])[None, :] < lengths[:, None]
        return (weight[input] * mask[..., None]).sum(axis=1) / input.shape[1]

    report = exp.check_mean_embedding(by_t)
    assert not report.passed and any("one word" in p for p in report.problems)


def test_float64_for_float32_input_fails():
    report = exp.check_mean_embedding(
        lambda input, lengths, weight: right(input, lengths, weight.astype(np.float64))
    )
    assert not report.passed and any("float32" in p and "dtype" in p for p in report.problems)
