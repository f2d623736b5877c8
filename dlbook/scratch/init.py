r"""Weight initialization from scratch: Xavier/Glorot and Kaiming/He, with torch's formulas.

A layer's output variance is its input variance times :math:`\text{fan} \cdot \text{Var}(w)`, so
weights with :math:`\text{Var}(w) = \text{gain}^2 / \text{fan}` keep the signal's scale through
depth. Glorot & Bengio (2010) average the two directions, :math:`\text{fan} = (\text{fan\_in} +
\text{fan\_out}) / 2`; He et al. (2015) use one of them and a gain of :math:`\sqrt 2` for ReLU,
which zeroes half of its input. A uniform :math:`\mathcal U(-b, b)` has standard deviation
:math:`b / \sqrt 3`, hence the bounds :math:`b = \sqrt 3 \cdot \text{std}`.

Each ``*_`` function fills ``array`` in place (any layout, views included), keeps its dtype and
returns it, like ``torch.nn.init``. Randomness comes from ``rng``, a ``numpy.random.Generator``
(``None`` means a fresh ``numpy.random.default_rng()``), where torch takes a ``generator``.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from dlbook import checks

__all__ = [
    "calculate_gain",
    "calculate_fan_in_and_fan_out",
    "uniform_",
    "normal_",
    "zeros_",
    "xavier_uniform_",
    "xavier_normal_",
    "kaiming_uniform_",
    "kaiming_normal_",
]

_LINEAR = ("linear", "conv1d", "conv2d", "conv3d")
_LINEAR += ("conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "sigmoid")
_NONLINEARITIES = _LINEAR + ("tanh", "relu", "leaky_relu", "selu")


def calculate_gain(nonlinearity: str, param=None) -> float:
    r"""The gain that keeps the signal's scale through ``nonlinearity``, as torch's.

    ``1`` for linear layers and sigmoid, :math:`5/3` for tanh, :math:`\sqrt 2` for ReLU,
    :math:`\sqrt{2 / (1 + \text{slope}^2)}` for leaky ReLU (``param`` is the negative slope,
    0.01 when ``None``) and :math:`3/4` for SELU.

    Shapes:
        nonlinearity: a name; param: leaky_relu's negative slope or None
        returns: a float
    Formula:
        1 (linear, conv, sigmoid), 5/3 (tanh), sqrt 2 (relu), sqrt(2 / (1 + slope^2))
            (leaky_relu), 3/4 (selu)
    Torch:
        torch.nn.init.calculate_gain
    """
    if nonlinearity not in _NONLINEARITIES:
        raise ValueError(f"nonlinearity must be one of {_NONLINEARITIES}, got {nonlinearity!r}")
    if nonlinearity in _LINEAR:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "selu":
        return 3.0 / 4  # found empirically by torch's authors (pytorch PR 50664)
    slope = 0.01 if param is None else param
    if isinstance(slope, (bool, np.bool_)) or not isinstance(slope, numbers.Real):
        raise ValueError(
            f"param (the negative slope of leaky_relu) must be a number, got {param!r}"
        )
    return math.sqrt(2.0 / (1 + slope**2))


def calculate_fan_in_and_fan_out(array: np.ndarray) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight laid out as torch's: ``(out, in, *kernel)``.

    A linear weight ``(out_features, in_features)`` has ``fan_in = in_features``. A conv weight
    ``(C_out, C_in / groups, kH, kW)`` feeds each output from ``C_in / groups * kH * kW`` inputs,
    so both fans include the receptive field size ``kH * kW``.

    Shapes:
        array: a weight (out, in, *kernel), at least 2-D
        returns: (fan_in, fan_out), two ints
    Formula:
        fan_in = in * prod(kernel), fan_out = out * prod(kernel)
    Torch:
        torch.nn.init._calculate_fan_in_and_fan_out (private in torch; public here, since the
        book shows it)
    """
    _check_array(array)
    if array.ndim < 2:
        raise ValueError(
            f"array must have at least 2 dimensions to compute fan_in and fan_out, "
            f"got shape {array.shape}"
        )
    receptive_field_size = math.prod(array.shape[2:])
    return array.shape[1] * receptive_field_size, array.shape[0] * receptive_field_size


def _calculate_correct_fan(array: np.ndarray, mode: str) -> int:
    modes = ("fan_in", "fan_out")
    if not isinstance(mode, str) or mode.lower() not in modes:
        raise ValueError(f"mode must be one of {modes}, got {mode!r}")
    fan_in, fan_out = calculate_fan_in_and_fan_out(array)
    return fan_in if mode.lower() == "fan_in" else fan_out


def uniform_(array: np.ndarray, a: float = 0.0, b: float = 1.0, rng=None) -> np.ndarray:
    r"""Fill ``array`` in place with draws from :math:`\mathcal U(a, b)`; return it.

    Shapes:
        array: any shape, filled in place (its dtype kept)
        returns: array itself
    Formula:
        array[...] ~ U(a, b), drawn from rng
    Torch:
        torch.nn.init.uniform_ (rng in place of generator)
    """
    _check_array(array)
    if not a <= b:
        raise ValueError(f"uniform_ needs a <= b, got a={a}, b={b}")
    array[...] = checks.generator(rng).uniform(a, b, size=array.shape)
    return array


def normal_(array: np.ndarray, mean: float = 0.0, std: float = 1.0, rng=None) -> np.ndarray:
    r"""Fill ``array`` in place with draws from :math:`\mathcal N(\text{mean}, \text{std}^2)`.

    Shapes:
        array: any shape, filled in place (its dtype kept)
        returns: array itself
    Formula:
        array[...] ~ N(mean, std^2), drawn from rng
    Torch:
        torch.nn.init.normal_ (rng in place of generator)
    """
    _check_array(array)
    if not std >= 0:
        raise ValueError(f"std must be >= 0, got {std}")
    array[...] = checks.generator(rng).normal(mean, std, size=array.shape)
    return array


def zeros_(array: np.ndarray) -> np.ndarray:
    """Fill ``array`` in place with zeros; return it. Zero weights make every unit of a layer
    compute the same thing, and get the same gradient: they never become different.

    Shapes:
        array: any shape, filled in place (its dtype kept)
        returns: array itself
    Formula:
        array[...] = 0
    Torch:
        torch.nn.init.zeros_
    """
    _check_array(array)
    array[...] = 0
    return array


def xavier_uniform_(array: np.ndarray, gain: float = 1.0, rng=None) -> np.ndarray:
    r"""Glorot uniform: :math:`\mathcal U(-b, b)`,
    :math:`b = \text{gain} \sqrt{6 / (\text{fan\_in} + \text{fan\_out})}`.

    Shapes:
        array: a weight (out, in, *kernel), at least 2-D, filled in place
        returns: array itself
    Formula:
        array ~ U(-b, b), b = gain sqrt(6 / (fan_in + fan_out))
    Torch:
        torch.nn.init.xavier_uniform_ (rng in place of generator)
    """
    fan_in, fan_out = calculate_fan_in_and_fan_out(array)
    if array.size == 0:  # nothing to fill (a no-op in torch too), and a fan may be 0
        return array
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    return uniform_(array, -bound, bound, rng)


def xavier_normal_(array: np.ndarray, gain: float = 1.0, rng=None) -> np.ndarray:
    r"""Glorot normal: :math:`\mathcal N(0, \text{std}^2)`,
    :math:`\text{std} = \text{gain} \sqrt{2 / (\text{fan\_in} + \text{fan\_out})}`.

    Shapes:
        array: a weight (out, in, *kernel), at least 2-D, filled in place
        returns: array itself
    Formula:
        array ~ N(0, std^2), std = gain sqrt(2 / (fan_in + fan_out))
    Torch:
        torch.nn.init.xavier_normal_ (rng in place of generator)
    """
    fan_in, fan_out = calculate_fan_in_and_fan_out(array)
    if array.size == 0:
        return array
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return normal_(array, 0.0, std, rng)


def _kaiming_std(array, a, mode, nonlinearity):
    """He's ``gain / sqrt(fan)`` for :func:`kaiming_uniform_` and :func:`kaiming_normal_`, the
    arguments checked; None for an empty array, which has nothing to fill."""
    fan, gain = _calculate_correct_fan(array, mode), calculate_gain(nonlinearity, a)
    return None if array.size == 0 else gain / math.sqrt(fan)


def kaiming_uniform_(
    array: np.ndarray, a=0, mode="fan_in", nonlinearity="leaky_relu", rng=None
) -> np.ndarray:
    r"""He uniform: :math:`\mathcal U(-b, b)`, :math:`b = \text{gain} \sqrt{3 / \text{fan}}`.

    ``fan`` is ``fan_in`` (keeps the forward signal's scale) or ``fan_out`` (keeps the backward
    gradient's scale) as ``mode`` says; ``gain = calculate_gain(nonlinearity, a)``, where ``a`` is
    the negative slope of a leaky ReLU (the default ``a=0`` gives ReLU's :math:`\sqrt 2`).

    Shapes:
        array: a weight (out, in, *kernel), at least 2-D, filled in place
        returns: array itself
    Formula:
        array ~ U(-b, b), b = gain sqrt(3 / fan), gain = calculate_gain(nonlinearity, a)
    Torch:
        torch.nn.init.kaiming_uniform_ (rng in place of generator)
    """
    std = _kaiming_std(array, a, mode, nonlinearity)
    if std is None:
        return array
    bound = math.sqrt(3.0) * std
    return uniform_(array, -bound, bound, rng)


def kaiming_normal_(
    array: np.ndarray, a=0, mode="fan_in", nonlinearity="leaky_relu", rng=None
) -> np.ndarray:
    r"""He normal: :math:`\mathcal N(0, \text{std}^2)`,
    :math:`\text{std} = \text{gain} / \sqrt{\text{fan}}`; arguments as :func:`kaiming_uniform_`.

    Shapes:
        array: a weight (out, in, *kernel), at least 2-D, filled in place
        returns: array itself
    Formula:
        array ~ N(0, std^2), std = gain / sqrt(fan), gain = calculate_gain(nonlinearity, a)
    Torch:
        torch.nn.init.kaiming_normal_ (rng in place of generator)
    """
    std = _kaiming_std(array, a, mode, nonlinearity)
    if std is None:
        return array
    return normal_(array, 0.0, std, rng)


# --- argument checks ---------------------------------------------------------------------------


def _check_array(array) -> None:
    if not isinstance(array, np.ndarray):
        raise TypeError(f"array must be a numpy.ndarray, got {type(array).__name__}")
    if not np.issubdtype(array.dtype, np.floating):
        raise TypeError(f"array must have a floating dtype (float32 or float64), got {array.dtype}")
