"""Tests for dlbook.experiments.convolution: the gradient, the quadratic, the convergence."""

import subprocess
import sys

import numpy as np
import pytest

from dlbook.experiments.convolution import (
    learn_kernel,
    loss_and_grad,
    loss_hessian,
    standardize,
)
from dlbook.scratch import conv2d
from dlbook.scratch.gradcheck import numerical_gradient, relative_error

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
