"""Argument checks shared across dlbook: one wording for one mistake, wherever it is made.

Every check raises ``ValueError`` (or ``TypeError`` for the wrong kind of object) with a message
that names the argument and says what was expected, so a mistake never becomes a silently wrong
array. The from-scratch functions (:mod:`dlbook.scratch`) check their arguments here.

At the bottom floor (it imports nothing of dlbook), so any module may use it.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "check_int",
    "pair",
    "float_array",
    "same_dtype",
    "check_bias",
    "broadcasts_to",
    "batched",
    "any_float_array",
    "real",
    "check_grad_output",
    "check_probability",
    "generator",
]


def check_int(value, name: str, minimum: int = 1) -> int:
    """``int(value)``, or a ``ValueError`` naming ``name`` when it is not an int >= ``minimum``.

    Python and NumPy integers pass; ``bool`` (an ``int`` subclass), floats such as ``3.0`` and
    strings do not.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def pair(value, name: str, minimum: int = 0) -> tuple[int, int]:
    """``value`` as an ``(h, w)`` pair of ints, each at least ``minimum``.

    As torch's 2-d functions read it: an int, or a tuple or list of one int (used for both axes)
    or of two. Any other length is a ``ValueError``; a float, a bool or a string a ``TypeError``.
    """
    if isinstance(value, (tuple, list)):
        if not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value):
            raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
        if len(value) not in (1, 2):
            raise ValueError(
                f"{name} must be an int or a tuple of one or two ints, got {len(value)} values "
                f"{value!r}"
            )
        value = (int(value[0]), int(value[-1]))
    elif isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)):
        value = (int(value), int(value))
    else:
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
    if min(value) < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return value


def float_array(x, name: str, ndims: tuple[int, ...]) -> np.ndarray:
    """Check that ``x`` is a floating NumPy array with one of the allowed numbers of dimensions."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(x).__name__}")
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{name} must have a floating dtype (float32 or float64), got {x.dtype}")
    if x.ndim not in ndims:
        want = " or ".join(f"{d}-D" for d in ndims)
        raise ValueError(f"{name} must be {want}, got {x.ndim}-D with shape {x.shape}")
    return x


def same_dtype(x: np.ndarray, other, name: str) -> None:
    """Torch refuses to mix dtypes in one operation; so do we, rather than cast silently."""
    if other is not None and other.dtype != x.dtype:
        raise TypeError(f"{name} has dtype {other.dtype} but input has dtype {x.dtype}")


def check_bias(bias, x: np.ndarray, size: int) -> None:
    """An optional ``bias``: ``None``, or a 1-D floating array of ``size`` entries in ``x``'s dtype.

    One check for every layer that adds a bias per output feature or channel (linear, conv2d,
    conv_transpose2d).
    """
    if bias is None:
        return
    float_array(bias, "bias", (1,))
    same_dtype(x, bias, "bias")
    if bias.shape[0] != size:
        raise ValueError(f"bias must have shape ({size},), got {bias.shape}")


def broadcasts_to(shape: tuple, target: tuple) -> bool:
    """Whether an array of ``shape`` broadcasts to ``target`` and leaves it as it is (a mask or a
    weight that may repeat along some axes, never stretch the input's)."""
    try:
        return np.broadcast_shapes(tuple(shape), tuple(target)) == tuple(target)
    except ValueError:
        return False


def batched(x: np.ndarray, name: str) -> tuple[np.ndarray, bool]:
    """Accept an unbatched ``(C, H, W)`` image as torch does; return ``(N, C, H, W)`` and a flag."""
    x = float_array(x, name, (3, 4))
    return (x[None], True) if x.ndim == 3 else (x, False)


def any_float_array(x, name: str) -> np.ndarray:
    """Check that ``x`` is a floating NumPy array; any number of dimensions is fine.

    A NumPy scalar counts as a 0-D array: arithmetic on 0-D arrays gives one, so a 0-D result
    can be passed straight back in. A Python float does not: it has no dtype to preserve.
    """
    if isinstance(x, np.generic):
        x = np.asarray(x)
    return float_array(x, name, (np.ndim(x),))


def real(value, name: str) -> float:
    """A plain Python float: a NumPy float64 scalar would silently upcast a float32 input."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    return float(value)


def check_grad_output(grad_output, shape: tuple, dtype, unbatched: bool = False) -> np.ndarray:
    """``grad_output`` must have the forward output's shape and dtype.

    ``unbatched=True`` is for a forward that was given an unbatched input and worked on it as a
    batch of one: ``shape`` is then the batched shape ``(1, ...)``, ``grad_output`` must have the
    unbatched one ``shape[1:]``, and it is returned with the leading axis of 1 put back.
    """
    if unbatched:
        g = float_array(grad_output, "grad_output", (len(shape) - 1,))
        return check_grad_output(g[None], shape, dtype)
    g = any_float_array(grad_output, "grad_output")
    if g.shape != tuple(shape):
        raise ValueError(f"grad_output must have the output's shape {tuple(shape)}, got {g.shape}")
    if g.dtype != dtype:
        raise TypeError(f"grad_output has dtype {g.dtype} but input has dtype {dtype}")
    return g


def check_probability(name: str, p) -> float:
    """``p`` as a Python float in ``[0, 1]`` (both ends allowed), e.g. a dropout probability."""
    p = real(p, name)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1, got {p}")
    return p


def generator(rng) -> np.random.Generator:
    """``rng`` itself if it is a ``numpy.random.Generator``; ``None`` gives a fresh unseeded one."""
    if rng is None:
        return np.random.default_rng()
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator or None, got {type(rng).__name__}")
    return rng
