"""Inception blocks (Szegedy et al. 2015): parallel branches of different receptive fields."""

from __future__ import annotations

import torch
import torch.nn as nn

__all__ = ["InceptionBlock"]


class InceptionBlock(nn.Module):
    """An Inception block (Szegedy et al. 2015): four parallel branches (1x1; 1x1 then 3x3;
    1x1 then 5x5; 3x3 max pool then 1x1), concatenated along the channels."""

    def __init__(self, in_channels: int, c1: int, c3: tuple, c5: tuple, pool_proj: int):
        super().__init__()
        relu = nn.ReLU
        self.b1 = nn.Sequential(nn.Conv2d(in_channels, c1, 1), relu())
        self.b3 = nn.Sequential(
            nn.Conv2d(in_channels, c3[0], 1), relu(), nn.Conv2d(c3[0], c3[1], 3, padding=1), relu()
        )
        self.b5 = nn.Sequential(
            nn.Conv2d(in_channels, c5[0], 1), relu(), nn.Conv2d(c5[0], c5[1], 5, padding=2), relu()
        )
        self.bp = nn.Sequential(
            nn.MaxPool2d(3, stride=1, padding=1), nn.Conv2d(in_channels, pool_proj, 1), relu()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b1(x), self.b3(x), self.b5(x), self.bp(x)], dim=1)
