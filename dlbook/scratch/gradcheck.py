r"""Finite-difference gradient checking, for every backward pass in the book.

For a function :math:`f` and a fixed random "upstream gradient" :math:`g`, the scalar
:math:`L(x) = \sum f(x) \odot g` has gradient :math:`\partial L / \partial x`, which is exactly
what ``f_backward(g, ...)`` must return. Central differences estimate it one entry at a time:

.. math:: \frac{\partial L}{\partial x_i} \approx \frac{L(x + h e_i) - L(x - h e_i)}{2h},

with an error of order :math:`h^2`. Run the check in float64: in float32, round-off swamps it.
The verdicts are :class:`dlbook.verify.Verdict` objects, the same type as every other check.
"""

from __future__ import annotations

import inspect

import numpy as np

from dlbook import seeding
from dlbook.verify import Verdict, gradient_verdict, relative_error

__all__ = ["numerical_gradient", "gradcheck", "relative_error"]


def numerical_gradient(f, x, grad_output=None, h=1e-6, entries=None):
    """Central differences for the gradient of ``sum(f() * grad_output)`` with respect to ``x``.

    ``f`` takes no arguments and reads ``x``, which is nudged in place one entry at a time and
    restored afterwards (so ``x`` must be a contiguous floating array). ``grad_output=None``
    means ones: the gradient of ``f().sum()``, or of ``f()`` itself when it returns a scalar
    loss. ``entries``, flat indices into ``x``, estimates only those entries (two calls of ``f``
    each) instead of all of them.

    Shapes:
        x: any shape
        grad_output: the shape of f(), or None
        entries: (K,) flat indices into x, or None
        returns: float64; the shape of x, or (K,) when entries is given
    Formula:
        grad[i] = sum((f(x + h e_i) - f(x - h e_i)) * grad_output) / (2 h)
    Torch:
        torch.autograd.gradcheck.get_numerical_jacobian (the same central differences)
    """
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        raise TypeError("x must be a floating numpy array")
    if h <= 0:
        raise ValueError(f"h must be positive, got {h}")
    flat = x.reshape(-1)  # a view: writes reach x
    if not np.shares_memory(flat, x) and x.size > 0:
        raise ValueError("x must be contiguous, so that it can be nudged in place")
    if entries is None:
        idx = np.arange(flat.size)
    else:
        idx = np.asarray(entries)
        if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
            raise ValueError("entries must be a 1-D sequence of integer indices into x")
        if idx.size and (idx.min() < -flat.size or idx.max() >= flat.size):
            raise ValueError(f"entries must lie in [0, {flat.size}), got {idx.min()}..{idx.max()}")
    g = 1.0 if grad_output is None else grad_output
    out = np.empty(len(idx))
    for k, i in enumerate(idx):
        old = flat[i]
        flat[i] = old + h
        plus = f()
        flat[i] = old - h
        minus = f()
        flat[i] = old
        out[k] = np.sum((np.asarray(plus) - np.asarray(minus)) * g) / (2 * h)
    return out.reshape(x.shape) if entries is None else out


def gradcheck(
    forward, backward, args, kwargs=None, wrt=None, differentiable=None, h=1e-6, tol=1e-6, seed=0
) -> Verdict:
    """Check ``backward`` against finite differences of ``forward``.

    ``forward(*args, **kwargs)`` returns one array; ``backward(grad_output, *args, **kwargs)``
    returns the gradient of each differentiable argument in order (a bare array when there is
    one), as every ``f_backward`` in :mod:`dlbook.scratch` does. ``differentiable`` gives the
    positions in ``args`` that those gradients belong to; by default every argument that is a
    floating array or ``None``. ``wrt`` names the positions to check; by default every floating
    array among them. A fixed random ``grad_output`` (from ``seed``) makes the loss a scalar.
    Returns a :class:`dlbook.verify.Verdict` with one row per checked argument, named after the
    parameter of ``forward``; it is truthy when every relative error is at most ``tol``.

    Shapes:
        args: whatever forward takes; the checked ones floating numpy arrays (float64)
        returns: a Verdict, one relative error per checked argument
    Formula:
        error = ||analytic - numerical|| / (||analytic|| + ||numerical||)
        numerical = numerical_gradient(lambda: forward(*args, **kwargs), args[i], grad_output, h)
    Torch:
        torch.autograd.gradcheck (which compares entrywise rather than by relative error)
    """
    kwargs = {} if kwargs is None else dict(kwargs)
    # C-ordered copies: the caller's arrays are never nudged, and any layout can be checked
    args = [np.array(a, copy=True, order="C") if isinstance(a, np.ndarray) else a for a in args]
    arrays = [
        i
        for i, a in enumerate(args)
        if isinstance(a, np.ndarray) and np.issubdtype(a.dtype, np.floating)
    ]
    if differentiable is None:
        differentiable = [i for i, a in enumerate(args) if a is None or i in arrays]
    differentiable = list(differentiable)
    wrt = [i for i in differentiable if i in arrays] if wrt is None else list(wrt)
    for i in wrt:
        if i not in arrays or i not in differentiable:
            raise ValueError(f"wrt: argument {i} is not a differentiable floating array")
    rng = seeding.rng(seed)
    out = forward(*args, **kwargs)
    grad_output = rng.standard_normal(np.shape(out)).astype(np.asarray(out).dtype)
    grads = backward(grad_output, *args, **kwargs)
    grads = grads if isinstance(grads, tuple) else (grads,)
    if len(grads) != len(differentiable):
        raise ValueError(
            f"backward returned {len(grads)} gradients for {len(differentiable)} differentiable "
            "arguments; pass differentiable= to say which arguments they belong to"
        )
    by_position = dict(zip(differentiable, grads))
    result = gradient_verdict(tol=tol)
    names = _argument_names(forward, len(args))
    for i in wrt:
        numeric = numerical_gradient(lambda: forward(*args, **kwargs), args[i], grad_output, h)
        result.add(names[i], by_position[i], numeric)
    return result


def _argument_names(fn, count):
    try:
        params = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        params = []
    return [params[i] if i < len(params) else f"arg{i}" for i in range(count)]
