"""Gram matrices and the style (Gram) loss from scratch: equal to torch autograd (torch.bmm) in
float64, forward and backward, checked by finite differences, and strict about their inputs."""

import numpy as np
import pytest
import torch

from dlbook.scratch.gradcheck import gradcheck
from dlbook.scratch.gram import gram_loss, gram_loss_backward, gram_matrix, gram_matrix_backward


def torch_gram(x, normalize=True):
    f = x.reshape(x.shape[0], x.shape[1], -1)
    g = torch.bmm(f, f.transpose(1, 2))
    return g / (f.shape[1] * f.shape[2]) if normalize else g


SHAPES = [(2, 3, 4, 5), (1, 6, 7, 7), (3, 2, 9), (2, 4, 2, 3, 2), (1, 1, 1, 1)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("normalize", [True, False])
def test_gram_matrix_equals_torch_forward_and_backward(shape, normalize):
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape)
    xt = torch.tensor(x, requires_grad=True)
    gt = torch_gram(xt, normalize)
    g = gram_matrix(x, normalize)
    assert g.shape == (shape[0], shape[1], shape[1])
    np.testing.assert_allclose(g, gt.detach().numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(g, g.transpose(0, 2, 1), rtol=0, atol=1e-12)  # symmetric
    up = rng.normal(size=g.shape)
    gt.backward(torch.tensor(up))
    grad = gram_matrix_backward(up, x, normalize)
    assert grad.shape == x.shape
    np.testing.assert_allclose(grad, xt.grad.numpy(), rtol=0, atol=1e-10)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("normalize", [True, False])
def test_gram_loss_equals_torch_forward_and_backward(reduction, normalize):
    rng = np.random.default_rng(1)
    x, t = rng.normal(size=(2, 3, 4, 4)), rng.normal(size=(2, 3, 3))
    xt = torch.tensor(x, requires_grad=True)
    lt = torch.nn.functional.mse_loss(torch_gram(xt, normalize), torch.tensor(t),
                                      reduction=reduction)  # fmt: skip
    loss = gram_loss(x, t, normalize, reduction)
    np.testing.assert_allclose(loss, lt.detach().numpy(), rtol=1e-12, atol=1e-12)
    up = rng.normal(size=lt.shape)
    lt.backward(torch.tensor(up))
    grad = gram_loss_backward(up, x, t, normalize, reduction)
    np.testing.assert_allclose(grad, xt.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_the_defaults_normalize_by_c_h_w_and_average():
    x = np.arange(12.0).reshape(1, 2, 2, 3)
    f = x.reshape(2, 6)
    np.testing.assert_allclose(gram_matrix(x)[0], f @ f.T / 12)
    t = np.zeros((1, 2, 2))
    assert np.isclose(gram_loss(x, t), np.mean((f @ f.T / 12) ** 2))


@pytest.mark.parametrize("normalize", [True, False])
def test_finite_differences(normalize):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 3, 3, 4))
    assert gradcheck(gram_matrix, gram_matrix_backward, (x,), dict(normalize=normalize))
    t = rng.normal(size=(2, 3, 3))
    assert gradcheck(gram_loss, gram_loss_backward, (x, t), dict(normalize=normalize),
                     differentiable=[0])  # fmt: skip


def test_where_is_summed_away():
    """A permutation of the positions leaves the Gram matrix exactly as it was."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(1, 4, 5, 5))
    flat = x.reshape(1, 4, 25)[:, :, rng.permutation(25)].reshape(x.shape)
    assert np.abs(flat - x).max() > 1
    np.testing.assert_allclose(gram_matrix(flat), gram_matrix(x), rtol=0, atol=1e-12)


def test_float32_stays_float32():
    x = np.random.default_rng(4).normal(size=(1, 2, 3, 3)).astype(np.float32)
    assert gram_matrix(x).dtype == np.float32
    assert gram_matrix_backward(np.ones((1, 2, 2), np.float32), x).dtype == np.float32
    t = np.zeros((1, 2, 2), np.float32)
    assert gram_loss_backward(np.float32(1), x, t).dtype == np.float32


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        (lambda: gram_matrix(np.ones((3, 4))), ValueError, "features must be (N, C, H, W)"),
        (lambda: gram_matrix([[[1.0]]]), TypeError, "features must be a NumPy array"),
        (lambda: gram_matrix(np.ones((1, 2, 3), int)), TypeError, "features must be a floating"),
        (lambda: gram_matrix(np.ones((1, 0, 3))), ValueError, "at least one channel"),
        (lambda: gram_matrix(np.ones((1, 2, 3)), normalize=1), TypeError, "normalize must be"),
        (lambda: gram_matrix_backward(np.ones((1, 3, 3)), np.ones((1, 2, 3))), ValueError,
         "grad_output must have shape (1, 2, 2)"),
        (lambda: gram_loss(np.ones((1, 2, 3)), np.ones((2, 2))), ValueError,
         "target must be a Gram matrix of shape (1, 2, 2)"),
        (lambda: gram_loss(np.ones((1, 2, 3)), 1.0), TypeError, "target must be a NumPy array"),
        (lambda: gram_loss(np.ones((1, 2, 3)), np.ones((1, 2, 2)), reduction="max"), ValueError,
         "reduction"),
        (lambda: gram_loss_backward(np.ones(2), np.ones((1, 2, 3)), np.ones((1, 2, 2))),
         ValueError, "grad_output"),
    ],
)  # fmt: skip
def test_bad_input_names_the_argument(call, error, words):
    with pytest.raises(error, match=None) as info:
        call()
    assert words in str(info.value)
