"""The shared argument checks of dlbook.checks that several scratch modules call (check_bias,
broadcasts_to), directly and through each caller, so one wording serves every mistake."""

import numpy as np
import pytest

from dlbook import checks
from dlbook.scratch.attention import scaled_dot_product_attention
from dlbook.scratch.conv import conv2d
from dlbook.scratch.conv_transpose import conv_transpose2d
from dlbook.scratch.linear import linear
from dlbook.scratch.losses import binary_cross_entropy_with_logits

X = np.zeros((2, 3, 5, 5))


def test_check_bias_accepts_none_and_a_matching_vector():
    assert checks.check_bias(None, X, 4) is None
    assert checks.check_bias(np.zeros(4), X, 4) is None


@pytest.mark.parametrize(
    "bias, error, match",
    [
        (np.zeros(3), ValueError, r"bias must have shape \(4,\), got \(3,\)"),
        (np.zeros((4, 1)), ValueError, "bias must be 1-D"),
        (np.zeros(4, np.float32), TypeError, "bias has dtype float32"),
        ([0.0] * 4, TypeError, "bias must be a numpy.ndarray"),
    ],
)
def test_check_bias_refuses(bias, error, match):
    with pytest.raises(error, match=match):
        checks.check_bias(bias, X, 4)


@pytest.mark.parametrize(
    "call",
    [
        lambda b: linear(np.zeros((2, 3)), np.zeros((4, 3)), b),
        lambda b: conv2d(X, np.zeros((4, 3, 3, 3)), b),
        lambda b: conv_transpose2d(X, np.zeros((3, 2, 3, 3)), b, groups=1),
    ],
    ids=["linear", "conv2d", "conv_transpose2d"],
)
def test_every_layer_words_a_wrong_bias_alike(call):
    with pytest.raises(ValueError, match=r"bias must have shape \(\d\,\), got \(7,\)"):
        call(np.zeros(7))


@pytest.mark.parametrize(
    "shape, target, fits",
    [
        ((3,), (2, 3), True),
        ((1, 3), (2, 3), True),
        ((), (2, 3), True),
        ((2, 3), (2, 3), True),
        ((2, 1), (2, 3), True),
        ((4,), (2, 3), False),  # does not broadcast at all
        ((2, 2, 3), (2, 3), False),  # would grow the target
        ((2, 3), (1, 3), False),  # would stretch the target
    ],
)
def test_broadcasts_to(shape, target, fits):
    assert checks.broadcasts_to(shape, target) is fits


def test_attention_and_bce_refuse_what_does_not_broadcast():
    q = np.zeros((2, 4, 8))
    with pytest.raises(ValueError, match="attn_mask must broadcast to the scores' shape"):
        scaled_dot_product_attention(q, q, q, attn_mask=np.ones((3, 4), dtype=bool))
    x = np.zeros((2, 3))
    with pytest.raises(ValueError, match="pos_weight must broadcast to the input's shape"):
        binary_cross_entropy_with_logits(x, x, pos_weight=np.ones(2))
