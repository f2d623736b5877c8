"""Argument checks shared across dlbook: one wording for one mistake, wherever it is made.

At the bottom floor (it imports nothing of dlbook), so any module may use it.
"""

from __future__ import annotations

import numbers

__all__ = ["check_int"]


def check_int(value, name: str, minimum: int = 1) -> int:
    """``int(value)``, or a ``ValueError`` naming ``name`` when it is not an int >= ``minimum``.

    Python and NumPy integers pass; ``bool`` (an ``int`` subclass), floats such as ``3.0`` and
    strings do not.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)
