r"""Finite-difference gradient checking, for every backward pass in the book.

For a function :math:`f` and a fixed random "upstream gradient" :math:`g`, the scalar
:math:`L(x) = \sum f(x) \odot g` has gradient :math:`\partial L / \partial x`, which is exactly
what ``f_backward(g, ...)`` must return. Central differences estimate it one entry at a time:

.. math:: \frac{\partial L}{\partial x_i} \approx \frac{L(x + h e_i) - L(x - h e_i)}{2h},

with an error of order :math:`h^2`. Run the check in float64: in float32, round-off swamps it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dlbook import seeding

__all__ = ["numerical_gradient", "gradcheck", "relative_error", "GradcheckResult"]


def numerical_gradient(f, x: np.ndarray, grad_output=None, h: float = 1e-6) -> np.ndarray:
    """Estimate the gradient of ``sum(f() * grad_output)`` with respect to ``x``.

    ``f`` takes no arguments and reads ``x``, which is nudged in place one entry at a time and
    restored afterwards. ``grad_output=None`` means ones (the gradient of ``f().sum()``).
    """
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        raise TypeError("x must be a floating numpy array")
    if h <= 0:
        raise ValueError(f"h must be positive, got {h}")
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)  # views: writes reach x
    if not np.shares_memory(flat, x):
        raise ValueError("x must be contiguous, so that it can be nudged in place")
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        plus = f()
        flat[i] = old - h
        minus = f()
        flat[i] = old
        g = 1.0 if grad_output is None else grad_output
        gflat[i] = np.sum((plus - minus) * g) / (2 * h)
    return grad


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """``||a - b|| / max(||a|| + ||b||, tiny)``: 0 when equal, 1 when unrelated, scale-free."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} and {b.shape}")
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / max(denom, np.finfo(np.float64).tiny))


@dataclass
class GradcheckResult:
    """Relative errors, analytic against numerical, for each argument checked."""

    errors: dict[str, float] = field(default_factory=dict)
    tol: float = 1e-6

    @property
    def ok(self) -> bool:
        return all(e <= self.tol for e in self.errors.values())

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        # The verdicts, not the raw errors, so that the printout is the same on every machine.
        width = max((len(k) for k in self.errors), default=0)
        lines = [f"gradient check (relative error <= {self.tol:g}):"]
        for name, err in self.errors.items():
            lines.append(f"  {name:<{width}}  {'pass' if err <= self.tol else 'FAIL'}")
        return "\n".join(lines)


def gradcheck(
    forward, backward, args, kwargs=None, wrt=None, differentiable=None, h=1e-6, tol=1e-6, seed=0
):
    """Check ``backward`` against finite differences of ``forward``.

    ``forward(*args, **kwargs)`` returns one array; ``backward(grad_output, *args, **kwargs)``
    returns the gradient of each differentiable argument in order (a bare array when there is
    one), as every ``f_backward`` in :mod:`dlbook.scratch` does. ``differentiable`` gives the
    positions in ``args`` that those gradients belong to; by default every argument that is a
    floating array or ``None``. ``wrt`` names the positions to check; by default every floating
    array among them. Returns a
    :class:`GradcheckResult`; it is truthy when every relative error is at most ``tol``.
    """
    kwargs = {} if kwargs is None else dict(kwargs)
    args = [np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in args]
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
    result = GradcheckResult(tol=tol)
    names = _argument_names(forward, len(args))
    for i in wrt:
        numeric = numerical_gradient(lambda: forward(*args, **kwargs), args[i], grad_output, h)
        result.errors[names[i]] = relative_error(by_position[i], numeric)
    return result


def _argument_names(fn, count):
    import inspect

    try:
        params = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        params = []
    return [params[i] if i < len(params) else f"arg{i}" for i in range(count)]
