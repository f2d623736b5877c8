"""LeNet-5 (LeCun et al. 1998), as published and with modern parts."""

from __future__ import annotations

import torch
import torch.nn as nn

__all__ = ["LeNet5", "LeNet5Modern", "ScaledTanh", "lenet5"]


class LeNet5(nn.Module):
    """LeNet-5's layer plan (LeCun et al. 1998), with its scaled tanh ``1.7159 tanh(2x/3)`` and
    average-pool subsampling.

    C1 6@5x5 -> S2 2x2 -> C3 16@5x5 -> S4 2x2 -> C5 120@5x5 -> F6 84 -> 10 outputs. The paper
    feeds 32x32 images (MNIST's 28x28 digits, padded); with ``input_size=28`` C1 pads by 2, which
    is the same thing. Two simplifications, as in most re-implementations: C3 connects to all six
    S2 maps (the paper's sparse table kept the parameter count down), and the output is a linear
    layer read with a softmax instead of the paper's RBF units; S2 and S4 are plain average pools
    without the paper's trainable coefficient.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, input_size: int = 32):
        super().__init__()
        if input_size not in (28, 32):
            raise ValueError(f"input_size must be 28 or 32, got {input_size!r}")
        act = ScaledTanh
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=(32 - input_size) // 2), act(), nn.AvgPool2d(2),
            nn.Conv2d(6, 16, 5), act(), nn.AvgPool2d(2),
            nn.Conv2d(16, 120, 5), act(),
        )  # fmt: skip
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(120, 84), act(), nn.Linear(84, num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class LeNet5Modern(nn.Module):
    """LeNet-5's plan with today's parts: ReLU, max pooling and batch normalization after each
    convolution (and dropout before the output, when ``dropout`` > 0)."""

    def __init__(
        self, num_classes: int = 10, in_channels: int = 1, input_size: int = 32, dropout=0.0
    ):
        super().__init__()
        if input_size not in (28, 32):
            raise ValueError(f"input_size must be 28 or 32, got {input_size!r}")
        pad = (32 - input_size) // 2
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=pad, bias=False), nn.BatchNorm2d(6), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5, bias=False), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 120, 5, bias=False), nn.BatchNorm2d(120), nn.ReLU(),
        )  # fmt: skip
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(120, 84), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(84, num_classes),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class ScaledTanh(nn.Module):
    """LeCun's ``1.7159 tanh(2x/3)``: unit variance in, roughly unit variance out."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 1.7159 * torch.tanh(x * (2.0 / 3.0))


def lenet5(num_classes: int = 10, in_channels: int = 1, input_size: int = 32, modern=False):
    """LeNet-5 as in the paper (:class:`LeNet5`) or with modern parts (:class:`LeNet5Modern`)."""
    cls = LeNet5Modern if modern else LeNet5
    return cls(num_classes, in_channels, input_size)
