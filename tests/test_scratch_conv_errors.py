"""Bad arguments raise a clear error that names the argument; never a silent wrong result."""

import numpy as np
import pytest

from dlbook.scratch import (
    conv2d,
    conv2d_backward,
    conv2d_naive,
    conv_transpose2d,
    conv_transpose2d_backward,
)

X = np.zeros((2, 4, 8, 8))
W = np.zeros((6, 4, 3, 3))

CONV_VALUE_ERRORS = [
    # (description, kwargs, the words the message must contain)
    ("channel mismatch", dict(weight=np.zeros((6, 3, 3, 3))), "channel mismatch"),
    ("kernel larger than the padded input", dict(weight=np.zeros((6, 4, 11, 3))), "weight"),
    ("dilated kernel too large", dict(dilation=5), "weight"),
    ("stride 0", dict(stride=0), "stride"),
    ("negative stride in a pair", dict(stride=(1, -1)), "stride"),
    ("negative padding", dict(padding=-1), "padding"),
    ("same with stride 2", dict(padding="same", stride=2), "padding='same'"),
    ("unknown padding string", dict(padding="full"), "padding"),
    ("groups that do not divide", dict(weight=np.zeros((6, 2, 3, 3)), groups=3), "groups"),
    ("groups zero", dict(groups=0), "groups"),
    ("dilation zero", dict(dilation=0), "dilation"),
    ("input 2-D", dict(input=np.zeros((8, 8))), "input"),
    ("input 5-D", dict(input=np.zeros((1, 2, 4, 8, 8))), "input"),
    ("weight 3-D", dict(weight=np.zeros((6, 4, 3))), "weight"),
    ("bias of the wrong length", dict(bias=np.zeros(5)), "bias"),
    ("bias 2-D", dict(bias=np.zeros((6, 1))), "bias"),
    ("padding of three values", dict(padding=(1, 2, 3)), "padding"),
    ("empty stride", dict(stride=()), "stride"),
]


@pytest.mark.parametrize("fn", [conv2d, conv2d_naive], ids=["conv2d", "conv2d_naive"])
@pytest.mark.parametrize(
    "name,kwargs,words", CONV_VALUE_ERRORS, ids=[c[0] for c in CONV_VALUE_ERRORS]
)
def test_conv2d_value_errors(fn, name, kwargs, words):
    args = dict(input=X, weight=W) | kwargs
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
        fn(**args)


@pytest.mark.parametrize(
    "kwargs,words",
    [
        (dict(input=X.astype(int)), "input"),
        (dict(input=X.tolist()), "input"),
        (dict(weight=W.astype(np.float32)), "weight"),
        (dict(stride=1.5), "stride"),
        (dict(stride=True), "stride"),
    ],
)
def test_conv2d_type_errors(kwargs, words):
    with pytest.raises(TypeError, match=words):
        conv2d(**(dict(input=X, weight=W) | kwargs))


def test_backward_checks_grad_output_shape():
    with pytest.raises(ValueError, match="grad_output"):
        conv2d_backward(np.zeros((2, 6, 5, 5)), X, W)


XT = np.zeros((2, 4, 5, 5))
WT = np.zeros((4, 3, 3, 3))


@pytest.mark.parametrize(
    "kwargs,words",
    [
        (dict(weight=np.zeros((3, 3, 3, 3))), "channel mismatch"),
        (dict(stride=0), "stride"),
        (dict(padding=-1), "padding"),
        (dict(output_padding=2, stride=2), "output_padding"),
        (dict(output_padding=1), "output_padding"),
        (dict(padding=9), "padding"),
        (dict(groups=3), "groups"),
        (dict(dilation=0), "dilation"),
        (dict(input=np.zeros((5, 5))), "input"),
        (dict(bias=np.zeros(4)), "bias"),
    ],
)
def test_conv_transpose2d_value_errors(kwargs, words):
    with pytest.raises(ValueError, match=words):
        conv_transpose2d(**(dict(input=XT, weight=WT) | kwargs))


def test_conv_transpose2d_backward_checks_grad_output_shape():
    with pytest.raises(ValueError, match="grad_output"):
        conv_transpose2d_backward(np.zeros((2, 3, 5, 5)), XT, WT)
