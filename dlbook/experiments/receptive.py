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

__all__ = ["HEIGHT", "WIDTH", "GAP", "MARGIN", "make_pairs", "GlobalMax", "build"]

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
