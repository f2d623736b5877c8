"""The Transformer chapter's exercise checker: it passes multi-head self-attention written right
and fails typical wrong ones with words that say what is wrong."""

import numpy as np
import pytest

from dlbook.experiments.transformer import check_multi_head


def right(x, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias, num_heads, split=None,
          scale_width=None):  # fmt: skip
    length, e = x.shape
    d = e // num_heads
    q, k, v = np.split(x @ in_proj_weight.T + in_proj_bias, 3, axis=1)
    if split == "wrong":  # features h, h + H, h + 2H, ... to head h instead of h D:(h + 1) D
        q, k, v = (t.reshape(length, d, num_heads).transpose(2, 0, 1) for t in (q, k, v))
    else:
        q, k, v = (t.reshape(length, num_heads, d).transpose(1, 0, 2) for t in (q, k, v))
    s = q @ k.transpose(0, 2, 1) / np.sqrt(scale_width or d)
    a = np.exp(s - s.max(axis=-1, keepdims=True))
    a /= a.sum(axis=-1, keepdims=True)
    heads = a @ v
    if split == "wrong":
        heads = heads.transpose(1, 2, 0).reshape(length, e)
    else:
        heads = heads.transpose(1, 0, 2).reshape(length, e)
    return heads @ out_proj_weight.T + out_proj_bias


def _problems(report):
    assert not report.passed
    return "\n".join(report.problems)


def test_right_answer_passes():
    report = check_multi_head(right)
    assert report.passed, report.problems
    assert report.cases == 4
    assert "equals torch" in str(report)


def test_the_stub_fails_everywhere():
    problems = _problems(check_multi_head(lambda x, *args: x))
    assert all(f"case {k}" in problems for k in (1, 2, 3, 4))
    assert "the result is wrong" in problems


def test_scaling_by_the_model_width_fails_only_with_several_heads():
    problems = _problems(check_multi_head(
        lambda x, *a: right(x, *a, scale_width=x.shape[1])))  # fmt: skip
    assert "case 1" not in problems  # one head: D = E, so the scale is right
    assert "case 2 (2 heads, L = 5, E = 8): the result is wrong" in problems


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        # the heads interleaved: reshape (L, D, H) instead of (L, H, D)
        (lambda x, *a: right(x, *a, split="wrong"), "case 2 (2 heads, L = 5, E = 8)"),
        # the output projection forgotten
        (lambda x, w, b, wo, bo, h: right(x, w, b, np.eye(len(wo)), 0 * bo, h), "case 1"),
        # a transposed result
        (lambda x, *a: right(x, *a).T, "shape"),
    ],
)
def test_wrong_answers_fail_with_the_right_words(wrong, words):
    assert words in _problems(check_multi_head(wrong))
