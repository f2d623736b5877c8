r"""Activation functions from scratch, each beside its backward pass.

Every function works elementwise on an array of any shape (softmax and its kin along ``dim``) and
mirrors ``torch.nn.functional``. Each backward is the chain rule with the local derivative:
``grad_input = grad_output * f'(input)``. At a kink we pick the one-sided derivative torch picks:
``relu'(0) = 0``, ``leaky_relu'(0) = negative_slope`` and ``elu'(0) = alpha``.

As in torch, ``relu``, ``leaky_relu``, ``elu`` and ``silu`` take ``inplace`` (write the result
into the input and return it), and the softmax family takes a keyword ``dtype`` (cast the input
first). Each backward takes its forward's arguments; its ``input`` is always the forward's input as
it was before an in-place forward overwrote it.

Two functions are written for stability, and the book shows why:

* :func:`sigmoid` never computes ``exp`` of a large positive number, so ``sigmoid(-800)`` is 0
  with no overflow warning.
* :func:`softmax`, :func:`log_softmax` and :func:`logsumexp` subtract the maximum first (the
  log-sum-exp trick): :math:`\log \sum_j e^{x_j} = m + \log \sum_j e^{x_j - m}`, every
  :math:`e^{x_j - m} \le 1`. :func:`softmax_naive` is the textbook formula that overflows; it is
  here only to show that, and nothing else uses it.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
from scipy import special

from dlbook.checks import any_float_array, check_grad_output, real  # noqa: F401 (re-used)

__all__ = [
    "relu",
    "relu_backward",
    "sigmoid",
    "sigmoid_backward",
    "tanh",
    "tanh_backward",
    "leaky_relu",
    "leaky_relu_backward",
    "elu",
    "elu_backward",
    "gelu",
    "gelu_backward",
    "silu",
    "silu_backward",
    "softmax",
    "softmax_backward",
    "softmax_naive",
    "log_softmax",
    "log_softmax_backward",
    "logsumexp",
    "logsumexp_backward",
]


# --- argument checks, shared with linear.py and losses/ -----------------------------------------


def _elementwise(grad_output, input):
    x = any_float_array(input, "input")
    return check_grad_output(grad_output, x.shape, x.dtype), x


def _inplace(result: np.ndarray, x: np.ndarray, inplace) -> np.ndarray:
    """torch's ``inplace=True``: write the result into the input and return the input itself.

    The backward functions take ``inplace`` too, to keep the forward's signature, and ignore it:
    their ``input`` is the forward's input as it was before an in-place forward overwrote it.
    """
    if not inplace:
        return result
    x[...] = result
    return x


def _cast(input, dtype):
    """softmax's ``dtype``: the input cast to it first (None keeps the input's dtype)."""
    x = any_float_array(input, "input")
    if dtype is None:
        return x
    dtype = np.dtype(dtype)
    if not np.issubdtype(dtype, np.floating):
        raise TypeError(f"dtype must be a floating dtype (float32 or float64), got {dtype}")
    return x.astype(dtype)


# --- elementwise activations ----------------------------------------------------------------------


def relu(input, inplace=False):
    r""":math:`\max(0, x)`. Mirrors ``torch.nn.functional.relu``. Any shape in, same shape out.

    Shapes:
        input: any shape
        returns: the input's shape
    Formula:
        y = max(0, x)
    Torch:
        torch.nn.functional.relu
    """
    x = any_float_array(input, "input")
    return _inplace(np.maximum(x, 0), x, inplace)


def relu_backward(grad_output, input, inplace=False):
    """``grad_output`` where ``input > 0``, else 0 (so 0 at the kink, as in torch).

    Shapes:
        grad_output, input: any shape, the same
        returns: grad_input, the input's shape
    Formula:
        grad_input = grad_output * (x > 0)
    Torch:
        autograd through torch.nn.functional.relu
    """
    g, x = _elementwise(grad_output, input)
    return np.where(x > 0, g, 0)


def sigmoid(input):
    r""":math:`\sigma(x) = 1 / (1 + e^{-x})`, computed without overflow.

    With :math:`z = e^{-|x|} \le 1`: :math:`\sigma(x) = 1/(1+z)` for :math:`x \ge 0` and
    :math:`z/(1+z)` for :math:`x < 0`. The textbook formula computes :math:`e^{800}` for
    :math:`x = -800` and overflows. Mirrors ``torch.sigmoid``.

    Shapes:
        input: any shape
        returns: the input's shape
    Formula:
        y = 1 / (1 + exp(-x)): 1 / (1 + z) for x >= 0, z / (1 + z) below, z = exp(-|x|)
    Torch:
        torch.sigmoid
    """
    x = any_float_array(input, "input")
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + z), z / (1 + z))


def sigmoid_backward(grad_output, input):
    r""":math:`\sigma'(x) = \sigma(x)(1 - \sigma(x))`: at most 1/4, and near 0 once it saturates.

    Shapes:
        grad_output, input: any shape, the same
        returns: grad_input, the input's shape
    Formula:
        grad_input = grad_output * s (1 - s), s = sigmoid(x)
    Torch:
        autograd through torch.sigmoid
    """
    g, x = _elementwise(grad_output, input)
    y = sigmoid(x)
    return g * y * (1 - y)


def tanh(input):
    r""":math:`\tanh x = (e^x - e^{-x}) / (e^x + e^{-x})`. Mirrors ``torch.tanh``.

    Shapes:
        input: any shape
        returns: the input's shape
    Formula:
        y = tanh(x) = (exp(x) - exp(-x)) / (exp(x) + exp(-x))
    Torch:
        torch.tanh
    """
    return np.tanh(any_float_array(input, "input"))


def tanh_backward(grad_output, input):
    r""":math:`\tanh'(x) = 1 - \tanh^2 x`.

    Shapes:
        grad_output, input: any shape, the same
        returns: grad_input, the input's shape
    Formula:
        grad_input = grad_output * (1 - tanh(x)^2)
    Torch:
        autograd through torch.tanh
    """
    g, x = _elementwise(grad_output, input)
    y = np.tanh(x)
    return g * (1 - y * y)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    r""":math:`x` for :math:`x > 0`, else :math:`\text{negative\_slope} \cdot x`.
    Mirrors ``torch.nn.functional.leaky_relu``.

    Shapes:
        input: any shape
        returns: the input's shape
    Formula:
        y = x if x > 0 else negative_slope * x
    Torch:
        torch.nn.functional.leaky_relu
    """
    x, a = any_float_array(input, "input"), real(negative_slope, "negative_slope")
    return _inplace(np.where(x > 0, x, a * x), x, inplace)


def leaky_relu_backward(grad_output, input, negative_slope=0.01, inplace=False):
    """``grad_output`` where ``input > 0``, else ``negative_slope * grad_output`` (0 included).

    Shapes:
        grad_output, input: any shape, the same
        returns: grad_input, the input's shape
    Formula:
        grad_input = grad_output * (1 if x > 0 else negative_slope)
    Torch:
        autograd through torch.nn.functional.leaky_relu
    """
    g, x = _elementwise(grad_output, input)
    return np.where(x > 0, g, real(negative_slope, "negative_slope") * g)


def elu(input, alpha=1.0, inplace=False):
    r""":math:`x` for :math:`x > 0`, else :math:`\alpha (e^x - 1)`.
    Mirrors ``torch.nn.functional.elu``.

    Shapes:
        input: any shape
        returns: the input's shape
    Formula:
        y = x if x > 0 else alpha (exp(x) - 1)
    Torch:
        torch.nn.functional.elu
    """
    x, a = any_float_array(input, "input"), real(alpha, "alpha")
    # expm1 of min(x, 0): exact near 0, and no overflow in the branch np.where throws away.
    return _inplace(np.where(x > 0, x, a * np.expm1(np.minimum(x, 0))), x, inplace)


def elu_backward(grad_output, input, alpha=1.0, inplace=False):
    r"""1 for :math:`x > 0`, else :math:`\alpha e^x` (so :math:`\alpha` at 0, as in torch).

    Shapes:
        grad_output, input: any shape, the same
        returns: grad_input, the input's shape
    Formula:
        grad_input = grad_output * (1 if x > 0 else alpha exp(x))
    Torch:
        autograd through torch.nn.functional.elu
    """
    g, x = _elementwise(grad_output, input)
    return np.where(x > 0, g, real(alpha, "alpha") * np.exp(np.minimum(x, 0)) * g)


# Python floats, not NumPy scalars: those would upcast a float32 input.
_SQRT_2, _SQRT_2_OVER_PI, _SQRT_2PI = math.sqrt(2), math.sqrt(2 / math.pi), math.sqrt(2 * math.pi)


def _approximate(approximate):
    if approximate not in ("none", "tanh"):
        raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
    return approximate


def gelu(input, approximate="none"):
    r""":math:`x \Phi(x) = \tfrac{x}{2}(1 + \operatorname{erf}(x/\sqrt2))`, or with
    ``approximate='tanh'``: :math:`\tfrac{x}{2}(1 + \tanh(\sqrt{2/\pi}(x + 0.044715 x^3)))`.
    Mirrors ``torch.nn.functional.gelu``.

    Shapes:
        input: any shape
        returns: the input's shape
    Formula:
        y = x / 2 (1 + erf(x / sqrt 2)); 'tanh': x / 2 (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))
    Torch:
        torch.nn.functional.gelu
    """
    x = any_float_array(input, "input")
    if _approximate(approximate) == "tanh":
        return 0.5 * x * (1 + np.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x**3)))
    return 0.5 * x * (1 + special.erf(x / _SQRT_2))


def gelu_backward(grad_output, input, approximate="none"):
    r""":math:`\Phi(x) + x \varphi(x)`, :math:`\varphi` the standard normal density (or the
    derivative of the tanh formula).

    Shapes:
        grad_output, input: any shape, the same
        returns: grad_input, the input's shape
    Formula:
        grad_input = grad_output * (Phi(x) + x phi(x)) (or the tanh formula's derivative)
    Torch:
        autograd through torch.nn.functional.gelu
    """
    g, x = _elementwise(grad_output, input)
    if _approximate(approximate) == "tanh":
        t = np.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x**3))
        inner = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x)
        return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * inner)
    pdf = np.exp(-0.5 * x * x) / _SQRT_2PI
    return g * (0.5 * (1 + special.erf(x / _SQRT_2)) + x * pdf)


def silu(input, inplace=False):
    r""":math:`x \sigma(x)`, also called swish. Mirrors ``torch.nn.functional.silu``.

    Shapes:
        input: any shape
        returns: the input's shape
    Formula:
        y = x sigmoid(x)
    Torch:
        torch.nn.functional.silu
    """
    x = any_float_array(input, "input")
    return _inplace(x * sigmoid(x), x, inplace)


def silu_backward(grad_output, input, inplace=False):
    r""":math:`\sigma(x)(1 + x(1 - \sigma(x)))`.

    Shapes:
        grad_output, input: any shape, the same
        returns: grad_input, the input's shape
    Formula:
        grad_input = grad_output * s (1 + x (1 - s)), s = sigmoid(x)
    Torch:
        autograd through torch.nn.functional.silu
    """
    g, x = _elementwise(grad_output, input)
    s = sigmoid(x)
    return g * s * (1 + x * (1 - s))


# --- softmax and its kin: along one dimension -----------------------------------------------------


def _axis(dim, ndim: int) -> int:
    """``dim`` as a non-negative axis; a 0-D array counts as 1-D, as in torch."""
    if isinstance(dim, (bool, np.bool_)) or not isinstance(dim, numbers.Integral):
        raise TypeError(f"dim must be an int, got {dim!r}")
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise ValueError(f"dim must be in [{-n}, {n - 1}] for a {ndim}-D input, got {dim}")
    return int(dim) % n


def _along(input, dim, dtype=None):
    x = _cast(input, dtype)
    return np.atleast_1d(x), _axis(dim, x.ndim)


def _recompute(forward, grad_output, input, dim, dtype):
    """A (log-)softmax backward's start: ``grad_output`` checked against the input (cast to
    ``dtype``), the forward's output recomputed; both at least 1-D, and ``dim`` as an axis."""
    g, x = _elementwise(grad_output, _cast(input, dtype))
    y = forward(x, dim)
    return np.atleast_1d(g), np.atleast_1d(y), _axis(dim, y.ndim)


def _shifted(x: np.ndarray, axis: int) -> np.ndarray:
    """``x - max(x)`` along ``axis``: every exponent is then at most 0, so nothing overflows."""
    return x - np.max(x, axis=axis, keepdims=True, initial=-np.inf)


def softmax(input, dim, *, dtype=None):
    r""":math:`\mathrm{softmax}(x)_i = e^{x_i - m} / \sum_j e^{x_j - m}`, :math:`m = \max_j x_j`,
    along ``dim``. Subtracting :math:`m` changes nothing in exact arithmetic and keeps every
    exponential in :math:`(0, 1]`. Mirrors ``torch.nn.functional.softmax``; any shape.

    Shapes:
        input: any shape; dim: one of its axes
        returns: the input's shape
    Formula:
        y_i = exp(x_i - m) / sum_j exp(x_j - m) along dim, m = max_j x_j
    Torch:
        torch.nn.functional.softmax
    """
    x, axis = _along(input, dim, dtype)
    e = np.exp(_shifted(x, axis))
    return (e / e.sum(axis=axis, keepdims=True)).reshape(np.shape(input))


def softmax_backward(grad_output, input, dim, *, dtype=None):
    r"""The Jacobian :math:`\partial y_i/\partial x_j = y_i(\delta_{ij} - y_j)` applied to
    ``grad_output``, without forming it: :math:`y \odot (g - \sum_j g_j y_j)`.

    Shapes:
        grad_output, input: any shape, the same; dim: one of its axes
        returns: grad_input, the input's shape
    Formula:
        grad_input = y * (g - sum_j g_j y_j) along dim, y = softmax(x), g = grad_output
    Torch:
        autograd through torch.nn.functional.softmax
    """
    g, y, axis = _recompute(softmax, grad_output, input, dim, dtype)
    gx = y * (g - np.sum(g * y, axis=axis, keepdims=True))
    # the cast's gradient: back to the input's dtype
    return gx.reshape(np.shape(input)).astype(input.dtype, copy=False)


def softmax_naive(input, dim, *, dtype=None):
    r"""The textbook :math:`e^{x_i} / \sum_j e^{x_j}`: UNSTABLE, kept only to show why.

    :math:`e^{x}` overflows float64 past :math:`x \approx 709` (float32 past 88), and then
    ``inf / inf`` gives ``nan`` with a RuntimeWarning. Use :func:`softmax` everywhere else.

    Shapes:
        input: any shape; dim: one of its axes
        returns: the input's shape
    Formula:
        y_i = exp(x_i) / sum_j exp(x_j) along dim (overflows past x = 709 in float64)
    Torch:
        torch.nn.functional.softmax (which is stable; this is not)
    """
    x, axis = _along(input, dim, dtype)
    e = np.exp(x)
    return (e / e.sum(axis=axis, keepdims=True)).reshape(np.shape(input))


def log_softmax(input, dim, *, dtype=None):
    r""":math:`\log \mathrm{softmax}(x)_i = (x_i - m) - \log \sum_j e^{x_j - m}`, never
    :math:`\log` of an underflowed 0. Mirrors ``torch.nn.functional.log_softmax``.

    Shapes:
        input: any shape; dim: one of its axes
        returns: the input's shape
    Formula:
        y_i = (x_i - m) - log sum_j exp(x_j - m) along dim, m = max_j x_j
    Torch:
        torch.nn.functional.log_softmax
    """
    x, axis = _along(input, dim, dtype)
    z = _shifted(x, axis)
    with np.errstate(divide="ignore"):  # only an empty dim sums to 0, and then z is empty too
        log_total = np.log(np.sum(np.exp(z), axis=axis, keepdims=True))
    return (z - log_total).reshape(np.shape(input))


def log_softmax_backward(grad_output, input, dim, *, dtype=None):
    r""":math:`g - \mathrm{softmax}(x) \sum_j g_j`.

    Shapes:
        grad_output, input: any shape, the same; dim: one of its axes
        returns: grad_input, the input's shape
    Formula:
        grad_input = g - softmax(x) * sum_j g_j along dim, g = grad_output
    Torch:
        autograd through torch.nn.functional.log_softmax
    """
    g, y, axis = _recompute(log_softmax, grad_output, input, dim, dtype)
    gx = g - np.exp(y) * np.sum(g, axis=axis, keepdims=True)
    # the cast's gradient: back to the input's dtype
    return gx.reshape(np.shape(input)).astype(input.dtype, copy=False)


def logsumexp(input, dim, keepdim=False):
    r""":math:`\log \sum_j e^{x_j} = m + \log \sum_j e^{x_j - m}` along ``dim`` (an int or a
    tuple of ints). Mirrors ``torch.logsumexp``: an infinite maximum is not subtracted, so a row
    of ``-inf`` gives ``-inf`` (a fully masked row), not ``nan``.

    Shapes:
        input: any shape; dim: an axis or a tuple of axes
        returns: the input's shape without the dims (kept as 1 with keepdim)
    Formula:
        y = m + log sum_j exp(x_j - m) over dim, m = max_j x_j (0 where m is infinite)
    Torch:
        torch.logsumexp
    """
    x = any_float_array(input, "input")
    axes, x1 = _axes(dim, x.ndim), np.atleast_1d(x)
    m = np.max(x1, axis=axes, keepdims=True, initial=-np.inf)
    m = np.where(np.isinf(m), 0, m)
    with np.errstate(divide="ignore"):  # log(0) = -inf is the right answer for a -inf row
        out = np.log(np.sum(np.exp(x1 - m), axis=axes, keepdims=True)) + m
    return out.reshape(_reduced_shape(x.shape, axes, keepdim))


def logsumexp_backward(grad_output, input, dim, keepdim=False):
    r"""The gradient of log-sum-exp is softmax:
    :math:`\partial\, \mathrm{lse}/\partial x_i = e^{x_i - \mathrm{lse}} = \mathrm{softmax}(x)_i`.

    Shapes:
        grad_output: logsumexp's output shape; input: any shape
        returns: grad_input, the input's shape
    Formula:
        grad_input = grad_output * exp(x - logsumexp(x)) = grad_output * softmax(x) over dim
    Torch:
        autograd through torch.logsumexp
    """
    x = any_float_array(input, "input")
    axes, x1 = _axes(dim, x.ndim), np.atleast_1d(x)
    lse = logsumexp(x1, dim, keepdim=True)
    g = check_grad_output(grad_output, _reduced_shape(x.shape, axes, keepdim), x.dtype)
    return (g.reshape(lse.shape) * np.exp(x1 - lse)).reshape(x.shape)


def _axes(dim, ndim: int) -> tuple[int, ...]:
    dims = dim if isinstance(dim, (tuple, list)) else (dim,)
    axes = tuple(_axis(d, ndim) for d in dims)
    if len(set(axes)) != len(axes):
        raise ValueError(f"dim must not repeat a dimension, got {dim!r}")
    return axes


def _reduced_shape(shape: tuple, axes: tuple, keepdim: bool) -> tuple:
    """A reduction's output shape: the reduced axes kept as size 1, or dropped."""
    if keepdim:
        return tuple(1 if i in axes else s for i, s in enumerate(shape))
    return tuple(s for i, s in enumerate(shape) if i not in axes)
