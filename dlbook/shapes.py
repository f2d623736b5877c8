r"""Output-size arithmetic for convolution, pooling and transposed convolution.

For one spatial axis of size :math:`n`, a kernel of size :math:`k`, stride :math:`s`, padding
:math:`p` on each side and dilation :math:`d`, the dilated kernel spans :math:`d(k-1)+1` pixels and

.. math:: n_\text{out} = \left\lfloor \frac{n + 2p - d(k-1) - 1}{s} \right\rfloor + 1 .

Transposed convolution runs that map backwards:

.. math:: n_\text{out} = (n - 1)s - 2p + d(k-1) + \text{output\_padding} + 1 .

Every function takes an int (one axis) or a pair (height, width) and answers in kind.
"""

from __future__ import annotations

import numbers

__all__ = [
    "conv_out",
    "conv_output_size",
    "conv_transpose_output_size",
    "same_padding",
    "window_count",
]


def _is_pair(value) -> bool:
    return isinstance(value, (tuple, list))


def _per_axis(fn, size, *args):
    """Apply a one-axis rule to an int, or to each axis of a pair (broadcasting int arguments)."""
    if not _is_pair(size):
        if any(_is_pair(a) for a in args):
            raise TypeError("size is an int but another argument is a pair; pass size as a pair")
        return fn(size, *args)
    if len(size) != 2:
        raise ValueError(f"size must be an int or a pair, got {size!r}")
    # One-element tuples stand for both axes, as torch's 2-d layers read them.
    split = [(tuple(a) * 2 if len(a) == 1 else a) if _is_pair(a) else (a, a) for a in args]
    for a in split:
        if len(a) != 2:
            raise ValueError(f"expected an int or a pair, got {a!r}")
    return tuple(fn(size[i], *(a[i] for a in split)) for i in range(2))


def _check_int(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")


def same_padding(kernel_size: int, dilation: int = 1) -> tuple[int, int]:
    """The (before, after) padding that ``padding='same'`` uses, as torch does.

    The total is :math:`d(k-1)`; when it is odd, the extra pixel goes after (right or bottom).
    """
    total = dilation * (kernel_size - 1)
    return total // 2, total - total // 2


def conv_out(size, kernel_size, stride, padding, dilation, ceil_mode):
    """Output size of a convolution or pooling layer along one axis, its arguments checked.

    :func:`conv_output_size` hands each axis here. ``padding`` is an int, ``'valid'`` (0) or
    ``'same'`` (stride 1 only: the size is kept); a dilated kernel wider than the padded input
    is refused. The count itself is :func:`window_count`'s.

    >>> conv_out(32, 3, 1, 1, 1, False)
    32
    """
    _check_int(size, "size", 1)
    _check_int(kernel_size, "kernel_size", 1)
    _check_int(stride, "stride", 1)
    _check_int(dilation, "dilation", 1)
    if padding == "valid":
        padding = 0
    if padding == "same":
        if stride != 1:
            raise ValueError("padding='same' needs stride=1")
        return size
    _check_int(padding, "padding", 0)
    out = window_count(size, kernel_size, stride, padding, dilation, ceil_mode)
    if out < 1:
        span = dilation * (kernel_size - 1) + 1
        raise ValueError(
            f"kernel_size: the dilated kernel spans {span} pixels, more than the padded input "
            f"({size} + 2*{padding} = {size + 2 * padding})"
        )
    return out


def window_count(size, kernel_size, stride, padding=0, dilation=1, ceil_mode=False) -> int:
    """How many windows fit along one axis, by torch's rule; 0 or less when none does (no checks).

    ``padding`` is an int (that much on each side) or a ``(before, after)`` pair, as
    ``padding='same'`` gives for an even kernel. The count is ``floor`` (or, with ``ceil_mode``,
    ``ceil``) of ``(size + before + after - d(k-1) - 1) / s``, plus 1. In ceil mode the last window
    must still *start* inside the input or its left padding (torch's ``pooling_output_shape``),
    and a window wider than the padded input is kept if it overhangs by less than a stride, as
    torch's pooling does (``MaxPool2d(4, ceil_mode=True)`` on a 2x2 input gives 1x1).

    >>> window_count(5, 2, 2), window_count(5, 2, 2, ceil_mode=True)
    (2, 3)
    >>> window_count(6, 2, 2, padding=1, ceil_mode=True)  # a 5th window would start on padding
    4
    """
    before, after = padding if isinstance(padding, (tuple, list)) else (padding, padding)
    room = size + before + after - dilation * (kernel_size - 1) - 1
    out = (room + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + before:
        out -= 1
    return out


def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1, ceil_mode=False):
    """Output size of a convolution or pooling layer.

    ``padding`` may be an int, a pair, ``'valid'`` (no padding) or ``'same'`` (stride 1 only).
    ``ceil_mode=True`` rounds up as ``MaxPool2d(ceil_mode=True)`` does.

    >>> conv_output_size(32, 3, padding=1)
    32
    >>> conv_output_size((224, 224), 11, stride=4, padding=2)
    (55, 55)
    """

    def one(n, k, s, p, d):
        return conv_out(n, k, s, p, d, ceil_mode)

    if isinstance(padding, str):
        if padding not in ("valid", "same"):
            raise ValueError(f"padding must be an int, a pair, 'valid' or 'same', got {padding!r}")
        pad_arg = padding
        return _per_axis(
            lambda n, k, s, d: one(n, k, s, pad_arg, d), size, kernel_size, stride, dilation
        )
    return _per_axis(one, size, kernel_size, stride, padding, dilation)


def conv_transpose_output_size(
    size, kernel_size, stride=1, padding=0, output_padding=0, dilation=1
):
    """Output size of a transposed convolution (``ConvTranspose2d``).

    ``output_padding`` picks among the input sizes that a strided convolution maps to the same
    output size, so it must be smaller than the stride or the dilation (as in torch).

    >>> conv_transpose_output_size(16, 4, stride=2, padding=1)
    32
    """

    def one(n, k, s, p, op, d):
        _check_int(n, "size", 1)
        _check_int(k, "kernel_size", 1)
        _check_int(s, "stride", 1)
        _check_int(p, "padding", 0)
        _check_int(op, "output_padding", 0)
        _check_int(d, "dilation", 1)
        if op >= s and op >= d:
            raise ValueError(
                f"output_padding must be smaller than either stride or dilation, got "
                f"output_padding={op}, stride={s}, dilation={d}"
            )
        out = (n - 1) * s - 2 * p + d * (k - 1) + op + 1
        if out < 1:
            raise ValueError(f"padding={p} is too large: the output size would be {out}")
        return out

    return _per_axis(one, size, kernel_size, stride, padding, output_padding, dilation)
