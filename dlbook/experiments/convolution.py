r"""Learning a 3×3 kernel by gradient descent, with the book's own ``conv2d`` and its backward.

The set-up is the smallest "training" there is. A target image is made by a known kernel,
:math:`y = x \star w^*`, and a kernel :math:`w` started at random is fitted to it by minimising

.. math:: L(w) = \frac{1}{M} \sum_{p} \big((x \star w)_p - y_p\big)^2 ,

over the :math:`M` output pixels. The gradient comes from :func:`dlbook.scratch.conv2d_backward`:
no autograd, no torch. Because the output is linear in :math:`w`, the loss is an exact quadratic,

.. math:: L(w) = (w - w^*)^\top H \,(w - w^*) / 2, \qquad
          H = \frac{2}{M} \sum_p \mathbf{x}_p \mathbf{x}_p^\top ,

where :math:`\mathbf{x}_p` is the window (a column of im2col) under output pixel :math:`p`. The
eigenvalues of :math:`H` set the speed of gradient descent: a step size ``lr`` is stable only
below :math:`2/\lambda_{\max}`, and the slowest direction shrinks by :math:`1 - lr\,\lambda_{\min}`
per step. Neighbouring pixels of a photograph are strongly correlated, so :math:`H` is badly
conditioned, which is why momentum helps so much here.

:func:`against_torch` holds a from-scratch convolution (forward and backward) to PyTorch's: the
chapters on padding, channels and transposed convolution use it as well.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlbook import seeding
from dlbook.exercise import Case, Report, check
from dlbook.scratch import conv2d, conv2d_backward
from dlbook.scratch.im2col import im2col

__all__ = [
    "against_torch",
    "KernelRun",
    "standardize",
    "loss_and_grad",
    "loss_hessian",
    "learn_kernel",
    "check_conv2d",
]


def against_torch(
    forward, backward, reference, grad_output, input, weight, bias=None, **kwargs
) -> dict:
    """A scratch convolution's output and gradients next to torch's, ready for ``verify.compare``.

    ``forward(input, weight, bias, **kwargs)`` and ``backward(grad_output, input, weight, bias,
    **kwargs) -> (grad_input, grad_weight, grad_bias)`` are a ``dlbook.scratch`` pair such as
    ``conv2d`` and ``conv2d_backward``; ``reference`` is the torch function they mirror, such as
    ``torch.nn.functional.conv2d``. Torch's gradients come from autograd: the same
    ``grad_output`` is pushed back through ``reference``. Returns ``{"output": (ours, torch's),
    "grad input": ..., "grad weight": ..., "grad bias": ...}`` (no ``"grad bias"`` when ``bias``
    is None).
    """
    import torch

    ours = [forward(input, weight, bias, **kwargs)]
    ours += backward(grad_output, input, weight, bias, **kwargs)
    leaves = [
        None if a is None else torch.tensor(a, requires_grad=True) for a in (input, weight, bias)
    ]
    out = reference(*leaves, **kwargs)
    out.backward(torch.as_tensor(grad_output))
    theirs = [out, *(None if t is None else t.grad for t in leaves)]
    names = ["output", "grad input", "grad weight", "grad bias"]
    return {n: (a, b) for n, a, b in zip(names, ours, theirs, strict=True) if b is not None}


@dataclass(frozen=True)
class KernelRun:
    """One run of :func:`learn_kernel`.

    ``losses`` is ``(steps + 1,)``: the loss before each step and after the last one.
    ``kernels`` is ``(steps + 1, kh, kw)``: the starting kernel, then the kernel after each step.
    """

    losses: np.ndarray
    kernels: np.ndarray
    target: np.ndarray
    lr: float
    momentum: float

    @property
    def steps(self) -> int:
        return len(self.losses) - 1

    @property
    def errors(self) -> np.ndarray:
        """``max |w_t - w*|`` after every step, ``(steps + 1,)``."""
        return np.abs(self.kernels - self.target).max(axis=(1, 2))

    @property
    def final_error(self) -> float:
        return float(self.errors[-1])


def _image(image) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.ndim != 2:
        raise ValueError(f"image must be a 2-D (H, W) numpy array, got {type(image).__name__}")
    if not np.issubdtype(image.dtype, np.floating):
        raise ValueError(f"image must be a floating array, got dtype {image.dtype}")
    return image


def _kernel(kernel, image) -> np.ndarray:
    kernel = np.asarray(kernel, dtype=image.dtype)
    if kernel.ndim != 2:
        raise ValueError(f"target_kernel must be a 2-D (kh, kw) array, got shape {kernel.shape}")
    if kernel.shape[0] > image.shape[0] or kernel.shape[1] > image.shape[1]:
        raise ValueError(f"target_kernel {kernel.shape} is larger than the image {image.shape}")
    return kernel


def standardize(image: np.ndarray) -> np.ndarray:
    """``(image - mean) / std``: zero mean removes the one huge eigenvalue of ``H`` (the DC)."""
    image = _image(image)
    std = image.std()
    if std == 0:
        raise ValueError("image is constant: there is nothing to learn a kernel from")
    return (image - image.mean()) / std


def loss_and_grad(x: np.ndarray, y: np.ndarray, w: np.ndarray):
    """The MSE of ``conv2d(x, w)`` against ``y`` and its gradient for ``w``.

    Shapes: ``x`` ``(1, 1, H, W)``, ``w`` ``(1, 1, kh, kw)``, ``y`` the output's ``(1, 1, H', W')``.
    Returns ``(loss, grad_w)`` with ``grad_w`` shaped like ``w``.
    """
    residual = conv2d(x, w) - y
    # d(mean r^2)/d(out) = 2 r / M: that is the grad_output the backward pass starts from.
    _, grad_w, _ = conv2d_backward(2.0 * residual / residual.size, x, w)
    return float(np.mean(residual**2)), grad_w


def loss_hessian(image: np.ndarray, kernel_shape=(3, 3)) -> np.ndarray:
    """The ``(kh*kw, kh*kw)`` Hessian of the loss, ``2/M * sum_p x_p x_p^T`` (see the module)."""
    image = _image(image)
    kh, kw = kernel_shape
    out = (image.shape[0] - kh + 1, image.shape[1] - kw + 1)
    cols = im2col(image[None, None], (kh, kw), (1, 1), (1, 1), out)[0, 0]  # (kh*kw, M)
    return 2.0 * cols @ cols.T / cols.shape[1]


def learn_kernel(
    image: np.ndarray,
    target_kernel,
    steps: int = 400,
    lr: float = 0.1,
    momentum: float = 0.0,
    init_scale: float = 0.5,
    seed: int = 0,
) -> KernelRun:
    """Fit a random kernel to ``y = conv2d(image, target_kernel)`` by gradient descent.

    ``image`` is ``(H, W)`` and used as given (call :func:`standardize` first to condition the
    problem). The update is SGD with heavy-ball momentum, as ``torch.optim.SGD`` writes it:
    ``v = momentum * v + grad; w = w - lr * v`` (``momentum=0`` is plain gradient descent). The
    starting kernel is ``init_scale`` times standard normal noise drawn with ``seed``.
    """
    image = _image(image)
    target = _kernel(target_kernel, image)
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr!r}")
    if not 0 <= momentum < 1:
        raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
    x = image[None, None]
    y = conv2d(x, target[None, None])
    rng = seeding.rng(seed)
    w = (init_scale * rng.standard_normal(target.shape)).astype(image.dtype)[None, None]
    velocity = np.zeros_like(w)
    losses, kernels = np.empty(steps + 1), np.empty((steps + 1, *target.shape), image.dtype)
    kernels[0] = w[0, 0]
    for t in range(steps):
        losses[t], grad = loss_and_grad(x, y, w)
        velocity = momentum * velocity + grad
        w = w - lr * velocity
        kernels[t + 1] = w[0, 0]
    losses[steps], _ = loss_and_grad(x, y, w)
    return KernelRun(losses, kernels, target, float(lr), float(momentum))


def _conv2d_cases() -> list[Case]:
    rng = np.random.default_rng(0)
    ints = np.random.default_rng(1)  # small integers: float32 sums of them are exact
    return [
        Case(
            (rng.standard_normal((1, 1, 5, 5)), rng.standard_normal((1, 1, 3, 3))), {}, "5×5, 3×3"
        ),
        Case(
            (rng.standard_normal((1, 1, 6, 7)), rng.standard_normal((1, 1, 2, 3))),
            label="non-square image and kernel",
        ),
        Case(
            (rng.standard_normal((2, 3, 5, 6)), rng.standard_normal((4, 3, 3, 2))),
            label="batch of 2, 3 channels in, 4 out",
        ),
        Case(
            (
                ints.integers(-3, 4, (1, 2, 4, 5)).astype(np.float32),
                ints.integers(-3, 4, (3, 2, 2, 2)).astype(np.float32),
            ),
            label="float32",
        ),
    ]


def check_conv2d(fn) -> Report:
    """Hold the reader's ``fn(input, weight)`` to :func:`dlbook.scratch.conv2d` (stride 1, no
    padding, no bias) on a square, a non-square, a batched multi-channel and a float32 case.

    Shapes:
        input: (N, C_in, H, W); weight: (C_out, C_in, kH, kW)
        returns: a Report; fn must return (N, C_out, H - kH + 1, W - kW + 1) in input's dtype
    Formula:
        out[n, o, i, j] = sum_{c,u,v} weight[o, c, u, v] * input[n, c, i + u, j + v]
    Torch:
        torch.nn.functional.conv2d
    """
    import torch
    import torch.nn.functional as F

    def twin(x, w):
        return F.conv2d(torch.from_numpy(x), torch.from_numpy(w))

    return check(fn, conv2d, _conv2d_cases(), name="conv2d", torch_twin=twin)
