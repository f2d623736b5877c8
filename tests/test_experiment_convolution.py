"""Tests for dlbook.experiments.convolution: the gradient, the quadratic, the convergence, and
the scratch convolutions held to torch."""

import subprocess
import sys

import numpy as np
import pytest
import torch.nn.functional as F

from dlbook.experiments.convolution import (
    against_torch,
    learn_kernel,
    loss_and_grad,
    loss_hessian,
    standardize,
)
from dlbook.scratch import conv2d, conv2d_backward, conv_transpose2d, conv_transpose2d_backward
from dlbook.scratch.gradcheck import numerical_gradient, relative_error
from dlbook.verify import compare

SOBEL_X = np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])


@pytest.fixture
def noise():
    return np.random.default_rng(1).standard_normal((12, 14))


def test_loss_and_grad_match_finite_differences(noise):
    x = noise[None, None]
    y = conv2d(x, SOBEL_X[None, None])
    w = np.random.default_rng(2).standard_normal((1, 1, 3, 3))
    loss, grad = loss_and_grad(x, y, w)
    assert loss == pytest.approx(np.mean((conv2d(x, w) - y) ** 2), rel=1e-12)
    numeric = numerical_gradient(lambda: np.mean((conv2d(x, w) - y) ** 2), w)
    assert relative_error(grad, numeric) < 1e-7


def test_loss_is_the_quadratic_form_of_the_hessian(noise):
    x = noise[None, None]
    y = conv2d(x, SOBEL_X[None, None])
    w = np.random.default_rng(3).standard_normal((1, 1, 3, 3))
    d = (w[0, 0] - SOBEL_X).ravel()
    loss, _ = loss_and_grad(x, y, w)
    assert loss == pytest.approx(d @ loss_hessian(noise) @ d / 2, rel=1e-10)


def test_hessian_by_hand_for_a_tiny_image():
    image = np.arange(9.0).reshape(3, 3)
    h = loss_hessian(image, (2, 2))
    patches = np.array([[0, 1, 3, 4], [1, 2, 4, 5], [3, 4, 6, 7], [4, 5, 7, 8]], float)
    np.testing.assert_allclose(h, 2 * patches.T @ patches / 4)


def test_history_shapes_and_first_entries(noise):
    run = learn_kernel(noise, SOBEL_X, steps=5, lr=0.01, seed=4)
    assert run.losses.shape == (6,) and run.kernels.shape == (6, 3, 3) and run.steps == 5
    start = 0.5 * np.random.default_rng(4).standard_normal((3, 3))
    np.testing.assert_array_equal(run.kernels[0], start)
    y = conv2d(noise[None, None], SOBEL_X[None, None])
    expected = np.mean((conv2d(noise[None, None], start[None, None]) - y) ** 2)
    assert run.losses[0] == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(run.errors, np.abs(run.kernels - SOBEL_X).max(axis=(1, 2)))


def test_plain_gradient_descent_takes_the_step_it_should(noise):
    run = learn_kernel(noise, SOBEL_X, steps=1, lr=0.05)
    x, y = noise[None, None], conv2d(noise[None, None], SOBEL_X[None, None])
    _, grad = loss_and_grad(x, y, run.kernels[0][None, None])
    np.testing.assert_allclose(run.kernels[1], run.kernels[0] - 0.05 * grad[0, 0], rtol=1e-12)


def test_recovers_sobel_on_noise_and_momentum_is_faster(noise):
    lam = np.linalg.eigvalsh(loss_hessian(noise))
    lr = 1.0 / lam.max()
    plain = learn_kernel(noise, SOBEL_X, steps=150, lr=lr)
    heavy = learn_kernel(noise, SOBEL_X, steps=150, lr=lr, momentum=0.5)
    assert plain.losses[-1] < 1e-3 * plain.losses[0]
    assert np.all(np.diff(plain.losses) <= 1e-15)  # lr < 2/L: gradient descent never goes up
    assert heavy.final_error < 1e-8 and heavy.final_error < plain.final_error


def test_standardize():
    z = standardize(np.array([[1.0, 2.0], [3.0, 4.0]]))
    assert z.mean() == pytest.approx(0) and z.std() == pytest.approx(1)
    with pytest.raises(ValueError, match="constant"):
        standardize(np.ones((3, 3)))


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"image": np.zeros((4, 4, 1))}, "image"),
        ({"image": np.zeros((4, 4), int)}, "image"),
        ({"target_kernel": np.zeros(3)}, "target_kernel"),
        ({"target_kernel": np.zeros((9, 3))}, "target_kernel"),
        ({"steps": 0}, "steps"),
        ({"lr": 0.0}, "lr"),
        ({"momentum": 1.0}, "momentum"),
    ],
)
def test_bad_arguments_name_themselves(noise, kwargs, name):
    args = {"image": noise[:6, :6], "target_kernel": SOBEL_X} | kwargs
    with pytest.raises(ValueError, match=name):
        learn_kernel(**args)


def test_no_torch_needed():
    code = (
        "import sys, dlbook.experiments.convolution as k; "
        "import numpy as np; k.learn_kernel(np.eye(5), np.eye(3), steps=2); "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- against_torch: the scratch convolutions held to torch, forward and backward ---------------


def test_against_torch_pairs_agree_for_conv2d():
    rng = np.random.default_rng(0)
    x, w, b = (
        rng.standard_normal((2, 3, 7, 6)),
        rng.standard_normal((4, 3, 3, 2)),
        rng.normal(size=4),
    )
    kwargs = dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2))
    g = rng.standard_normal(conv2d(x, w, b, **kwargs).shape)
    pairs = against_torch(conv2d, conv2d_backward, F.conv2d, g, x, w, b, **kwargs)
    assert list(pairs) == ["output", "grad input", "grad weight", "grad bias"]
    assert compare(pairs, tol=1e-10).ok
    for (ours, theirs), shape in zip(pairs.values(), [g.shape, x.shape, w.shape, b.shape]):
        assert ours.shape == tuple(theirs.shape) == shape
    # torch's side really is autograd with this grad_output: grad bias is g summed.
    np.testing.assert_allclose(pairs["grad bias"][1].numpy(), g.sum(axis=(0, 2, 3)), rtol=1e-12)


def test_against_torch_without_bias_and_for_conv_transpose2d():
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((1, 4, 3, 4)), rng.standard_normal((4, 3, 3, 3))
    kwargs = dict(stride=2, padding=1, output_padding=1, groups=2)
    g = rng.standard_normal(conv_transpose2d(x, w, **kwargs).shape)
    pairs = against_torch(
        conv_transpose2d, conv_transpose2d_backward, F.conv_transpose2d, g, x, w, **kwargs
    )
    assert list(pairs) == ["output", "grad input", "grad weight"]
    assert compare(pairs, tol=1e-10).ok


def test_against_torch_catches_a_wrong_backward():
    def halved_weight_grad(*args, **kwargs):
        gx, gw, gb = conv2d_backward(*args, **kwargs)
        return gx, gw / 2, gb

    rng = np.random.default_rng(2)
    x, w, b = rng.standard_normal((1, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3)), np.ones(3)
    g = rng.standard_normal((1, 3, 3, 3))
    verdict = compare(against_torch(conv2d, halved_weight_grad, F.conv2d, g, x, w, b))
    assert not verdict.ok
    assert [name for name, e in verdict.errors.items() if e > verdict.tol] == ["grad weight"]
