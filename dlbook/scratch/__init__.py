"""Every concept of the book written from scratch in NumPy, forward and backward.

The names, argument names, orders and defaults follow ``torch.nn.functional``, so a reader can put
one beside the other line for line. Nothing here imports torch.
"""

from dlbook.scratch.conv import conv2d, conv2d_backward, conv2d_backward_naive, conv2d_naive
from dlbook.scratch.conv_transpose import (
    conv_transpose2d,
    conv_transpose2d_backward,
    conv_transpose2d_naive,
)

__all__ = [
    "conv2d",
    "conv2d_backward",
    "conv2d_naive",
    "conv2d_backward_naive",
    "conv_transpose2d",
    "conv_transpose2d_backward",
    "conv_transpose2d_naive",
]
