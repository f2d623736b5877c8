"""Networks assembled from the NumPy layers of :mod:`dlbook.scratch.layers`.

:func:`lenet5` mirrors :class:`dlbook.nets.LeNet5` layer for layer, with its parameters in the
same order, so ``net.set_params(p.detach().numpy() for p in torch_net.parameters())`` gives both
the same weights (the book uses that to hold one to the other).
"""

from __future__ import annotations

import numpy as np

from dlbook.scratch.layers import (
    AvgPool2d,
    Conv2d,
    Flatten,
    Linear,
    MaxPool2d,
    ReLU,
    ScaledTanh,
    Sequential,
)

__all__ = ["lenet5"]


def lenet5(
    num_classes: int = 10, in_channels: int = 1, input_size: int = 32, modern: bool = False,
    dtype=np.float32, rng=None,
) -> Sequential:  # fmt: skip
    """LeNet-5 in NumPy: C1 6@5x5, S2, C3 16@5x5, S4, C5 120@5x5, F6 84, 10 outputs.

    ``modern=False``: scaled tanh and average pooling, as :class:`dlbook.nets.LeNet5`.
    ``modern=True``: ReLU and max pooling (the batch-norm layers of :class:`dlbook.nets.
    LeNet5Modern` are left out here). ``input_size=28`` pads C1 by 2, so that both sizes reach C5
    with a 5x5 map. ``rng`` draws the initial weights (a fresh generator when ``None``).

    Shapes:
        input: (N, in_channels, input_size, input_size), input_size 28 or 32
        returns: a Sequential mapping it to (N, num_classes) class scores
    Formula:
        C1 conv 5x5 -> act -> S2 pool 2 -> C3 conv 5x5 -> act -> S4 pool 2 -> C5 conv 5x5 -> act
        -> flatten -> F6 linear 120->84 -> act -> linear 84->num_classes
    Torch:
        dlbook.nets.LeNet5 (a torch.nn.Module; the same parameters in the same order)
    """
    if input_size not in (28, 32):
        raise ValueError(f"input_size must be 28 or 32, got {input_size!r}")
    rng = np.random.default_rng() if rng is None else rng
    act = ReLU if modern else ScaledTanh
    pool = MaxPool2d if modern else AvgPool2d
    kw = dict(dtype=dtype, rng=rng)
    return Sequential(
        Conv2d(in_channels, 6, 5, padding=(32 - input_size) // 2, **kw), act(), pool(2),
        Conv2d(6, 16, 5, **kw), act(), pool(2),
        Conv2d(16, 120, 5, **kw), act(),
        Flatten(), Linear(120, 84, **kw), act(), Linear(84, num_classes, **kw),
    )  # fmt: skip
