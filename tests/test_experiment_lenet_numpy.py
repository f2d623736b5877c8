"""The NumPy LeNet chapter's finite-difference check: it agrees with correct gradients and
catches wrong ones."""

import numpy as np
import pytest

from dlbook import seeding
from dlbook.experiments.lenet_numpy import finite_difference_errors
from dlbook.scratch.losses import cross_entropy, cross_entropy_backward
from dlbook.scratch.nets import lenet5

NAMES = [f"{layer} {kind}" for layer in ("C1", "C3", "C5", "F6", "output")
         for kind in ("weight", "bias")]  # fmt: skip


@pytest.fixture(scope="module")
def net_and_grads():
    rng = seeding.rng(0)
    net = lenet5(input_size=28, dtype=np.float64, rng=rng)
    x, y = rng.random((4, 1, 28, 28)), np.array([0, 3, 7, 9])
    logits = net(x)
    net.backward(cross_entropy_backward(np.ones(()), logits, y))
    return net, x, y, [g.copy() for g in net.grads]


def test_central_differences_match_the_backward_pass(net_and_grads):
    net, x, y, grads = net_and_grads
    before = [p.copy() for p in net.params]
    loss = float(cross_entropy(net(x), y))
    errors = finite_difference_errors(net, x, y, grads, NAMES, seeding.rng(1), picks=2)
    assert list(errors) == NAMES
    assert max(errors.values()) < 1e-6
    # every nudge was undone
    assert all(np.array_equal(a, b) for a, b in zip(before, net.params))
    assert float(cross_entropy(net(x), y)) == loss


def test_a_wrong_gradient_is_caught(net_and_grads):
    net, x, y, grads = net_and_grads
    wrong = [g.copy() for g in grads]
    wrong[4] = -wrong[4]  # C5's weight gradient, sign flipped
    errors = finite_difference_errors(net, x, y, wrong, NAMES, seeding.rng(1), picks=2)
    assert errors["C5 weight"] > 0.5
    assert errors["C1 weight"] < 1e-6
    with pytest.raises(ValueError):
        finite_difference_errors(net, x, y, grads, NAMES[:3], seeding.rng(1))
