"""The receptive-field chapter's experiment: a unit has to *see* a pattern to recognise it.

Each image is a ``HEIGHT x WIDTH`` strip with two marks ``GAP`` pixels apart on one row, one
bright (+1) and one dark (-1); the label says whether the bright one is on the left. A network of
3x3 convolutions and ReLUs ends in a global max over positions and a linear layer, so it can only
answer correctly if some unit's field spans both marks: ``GAP + 1`` pixels. :func:`build` makes
that network with chosen dilations and strides (its field follows from them), and
:func:`make_pairs` the data.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from dlbook import seeding

__all__ = ["HEIGHT", "WIDTH", "GAP", "MARGIN", "make_pairs", "GlobalMax", "build", "run"]

HEIGHT, WIDTH, GAP, MARGIN = 4, 32, 10, 8


def make_pairs(n: int, seed: int):
    """``(x, y)``: ``n`` strips ``(n, 1, HEIGHT, WIDTH)`` float32 and labels (1: bright left)."""
    rng = seeding.rng(seed)
    x = np.zeros((n, 1, HEIGHT, WIDTH), np.float32)
    y = rng.integers(0, 2, n)
    row = rng.integers(0, HEIGHT, n)
    left = rng.integers(MARGIN, WIDTH - MARGIN - GAP, n)
    sign = np.where(y == 1, 1.0, -1.0)
    x[np.arange(n), 0, row, left] = sign
    x[np.arange(n), 0, row, left + GAP] = -sign
    return x, y


class GlobalMax(nn.Module):
    """The largest response of each channel over all positions: ``(N, C, H, W) -> (N, C)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.amax(dim=(2, 3))


def build(dilations, strides=(1, 1, 1), channels: int = 16) -> nn.Sequential:
    """``Sequential(features, GlobalMax(), Linear(channels, 2))``: one 3x3 convolution + ReLU
    per dilation (with the matching stride), padded to keep the size at stride 1."""
    layers, c_in = [], 1
    for d, s in zip(dilations, strides):
        layers += [nn.Conv2d(c_in, channels, 3, stride=s, padding=d, dilation=d), nn.ReLU()]
        c_in = channels
    return nn.Sequential(nn.Sequential(*layers), GlobalMax(), nn.Linear(channels, 2))


def run(
    configs: dict, data, seeds=(0, 1), epochs: int = 5, lr: float = 0.01, batch_size=32, device=None
):
    """Train :func:`build` ``(**config)`` once per seed for every ``config`` in ``configs`` (name
    -> keyword arguments) with :func:`dlbook.train.fit` (Adam) on ``data``, a
    :class:`dlbook.data.Split` of :func:`make_pairs` strips.

    Returns name -> ``{"field": width, "jump": jump, "weights": count, "accs": [test accuracy
    in % per seed]}``, the field and jump along the strip's width from
    :func:`dlbook.receptive_field`.
    """
    from dlbook.nets import count_parameters
    from dlbook.receptive import receptive_field
    from dlbook.train import fit

    results = {}
    for name, cfg in configs.items():
        field = receptive_field(build(**cfg)[0], (1, HEIGHT, WIDTH))  # the features
        accs = []
        for seed in seeds:
            seeding.manual_seed(seed)
            model = build(**cfg)
            history = fit(
                model, data, epochs=epochs, lr=lr, batch_size=batch_size, device=device, seed=seed
            )
            accs.append(100 * history.final["test_acc"])
        results[name] = dict(
            field=field.size[1], jump=field.stride[1], weights=count_parameters(model), accs=accs
        )
    return results
