r"""Inverted dropout from scratch (Srivastava et al. 2014), forward and backward.

In training mode each value is kept with probability :math:`1 - p` and zeroed otherwise; the kept
values are scaled by :math:`1 / (1 - p)`, so that the expectation is unchanged:

.. math:: y = x \odot m, \qquad m_i = \begin{cases} 1/(1-p) & \text{with probability } 1-p \\
    0 & \text{with probability } p \end{cases}, \qquad \mathbb E[y_i] = x_i.

Because of that scaling ("inverted" dropout) evaluation mode is the identity: no rescaling at test
time. Mirrors ``torch.nn.functional.dropout``, ``inplace`` included, with a NumPy ``rng`` (after
torch's arguments) where torch has a global generator.

**Reproducing the mask.** The mask is random, so the stateless backward cannot recompute it from
the arguments alone. It takes it from ``rng`` instead: :func:`dropout_mask` draws exactly one
uniform number per value, ``rng.random(shape)`` in float64, whatever ``p`` and the dtype are, so
two generators in the same state give the same mask. Pass :func:`dropout_backward` a generator in
the state the forward's was in, e.g. ``np.random.default_rng(seed)`` made twice from one seed (the
*same* generator object twice would not do: the forward has moved it on). Code that keeps state,
like :class:`dlbook.scratch.layers.Dropout`, keeps the mask from :func:`dropout_mask` instead.
"""

from __future__ import annotations

import numpy as np

from dlbook import checks

__all__ = ["dropout", "dropout_backward", "dropout_mask"]


def dropout_mask(shape, p=0.5, rng=None, dtype=np.float64) -> np.ndarray:
    """The scaled mask of inverted dropout: ``1/(1-p)`` where a value is kept, ``0`` where dropped.

    Shape ``shape``, dtype ``dtype``. Value ``i`` is kept when ``u_i >= p`` for
    ``u = rng.random(shape)`` (uniform in ``[0, 1)``), which happens with probability exactly
    ``1 - p``: ``p=0`` keeps everything (a mask of ones), ``p=1`` drops everything (zeros, with
    no division by zero). It always draws ``prod(shape)`` numbers from ``rng``, so the stream
    does not depend on ``p`` or ``dtype``. ``dropout(x) == x * mask`` and the gradient is
    ``grad_output * mask``.

    Shapes:
        shape: a tuple of ints; p: a probability; dtype: a floating dtype
        returns: an array of shape and dtype
    Formula:
        mask_i = 1 / (1 - p) if u_i >= p else 0, u = rng.random(shape) (0 everywhere for p = 1)
    Torch:
        none (torch draws the mask inside F.dropout; here it comes from a NumPy generator, so the
            backward can draw it again)
    """
    p = checks.check_probability("p", p)
    dtype = np.dtype(dtype)
    if not np.issubdtype(dtype, np.floating):
        raise TypeError(f"dtype must be a floating dtype, got {dtype}")
    keep = checks.generator(rng).random(shape) >= p
    scale = dtype.type(0.0 if p == 1.0 else 1.0 / (1.0 - p))
    return keep.astype(dtype) * scale


def _torch_inplace(rng, inplace):
    """API.md puts ``rng`` 4th, where torch has ``inplace``. A bool there is torch's ``inplace``
    (a bool is never a generator), so ``dropout(x, 0.5, True, False)`` means what it does in
    torch, and ``dropout(x, 0.5, True, False, rng)`` (torch's order, then the generator) works."""
    if isinstance(rng, (bool, np.bool_)):
        return (None if isinstance(inplace, (bool, np.bool_)) else inplace), bool(rng)
    if not isinstance(inplace, (bool, np.bool_)):
        raise TypeError(f"inplace must be a bool, got {inplace!r}")
    return rng, bool(inplace)


def dropout(input, p=0.5, training=True, rng=None, inplace=False):
    """Inverted dropout. Mirrors ``torch.nn.functional.dropout``, with a NumPy ``rng`` 4th (API.md)
    and torch's ``inplace`` after it (``inplace=True`` multiplies ``input`` by the mask in place
    and returns it). A bool given 4th is read as torch's positional ``inplace``.

    ``training=True``: ``input * dropout_mask(input.shape, p, rng, input.dtype)``, a new array.
    ``training=False``: returns ``input`` itself, not a copy, as torch returns the same tensor;
    nothing is drawn from ``rng``. ``rng=None`` means a fresh ``numpy.random.default_rng()``
    (then the backward cannot reproduce the mask: see the module's docstring).

    Shapes:
        input: any shape
        returns: the input's shape and dtype
    Formula:
        y = x * dropout_mask(x.shape, p, rng) in training mode, y = x otherwise
    Torch:
        torch.nn.functional.dropout
    """
    x = checks.any_float_array(input, "input")
    p = checks.check_probability("p", p)
    rng, inplace = _torch_inplace(rng, inplace)
    if not training:
        return x
    mask = dropout_mask(x.shape, p, rng, x.dtype)
    if inplace:
        x *= mask
        return x
    return x * mask


def dropout_backward(grad_output, input, p=0.5, training=True, rng=None, inplace=False):
    """The gradient of :func:`dropout` for ``input``: ``grad_output * mask`` (a bare array).

    ``rng`` must be in the state the forward's was in, so that it draws the same mask (see the
    module's docstring). ``rng=None`` is refused in training mode with ``0 < p < 1``, where the
    mask is random: a fresh generator would give a gradient for some other mask. With
    ``training=False`` the gradient is ``grad_output`` itself. ``inplace`` changes nothing here.

    Shapes:
        grad_output, input: any shape, the same
        returns: grad_input, the input's shape
    Formula:
        grad_input = grad_output * dropout_mask(x.shape, p, rng) in training mode, else grad_output
    Torch:
        autograd through torch.nn.functional.dropout
    """
    x = checks.any_float_array(input, "input")
    g = checks.check_grad_output(grad_output, x.shape, x.dtype)
    p = checks.check_probability("p", p)
    rng, _ = _torch_inplace(rng, inplace)
    if not training:
        return g
    if rng is None and 0.0 < p < 1.0:
        raise ValueError(
            "rng: dropout_backward needs a numpy Generator in the state the forward's was in, to "
            "draw the same mask (e.g. np.random.default_rng(seed) with the forward's seed); "
            "got None"
        )
    return g * dropout_mask(x.shape, p, rng, x.dtype)
