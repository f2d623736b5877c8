"""AlexNet (Krizhevsky et al. 2012) and VGG (Simonyan & Zisserman 2015).

The full-size layouts follow torchvision's (``.features`` / ``.classifier``), whose parameter
counts are the ones everyone quotes."""

from __future__ import annotations

import torch.nn as nn

from dlbook.nets.common import FeaturesClassifier

__all__ = ["alexnet", "vgg16", "VGG16_CONFIG"]


def alexnet(num_classes: int = 1000) -> nn.Module:
    """AlexNet (Krizhevsky et al. 2012) in torchvision's single-tower layout, for 224x224 input."""
    features = nn.Sequential(
        nn.Conv2d(3, 64, 11, stride=4, padding=2), nn.ReLU(inplace=True),
        nn.MaxPool2d(3, stride=2),
        nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(inplace=True),
        nn.MaxPool2d(3, stride=2),
        nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(inplace=True),
        nn.MaxPool2d(3, stride=2),
    )  # fmt: skip
    classifier = nn.Sequential(
        nn.Flatten(),
        nn.Dropout(0.5), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
        nn.Dropout(0.5), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
        nn.Linear(4096, num_classes),
    )  # fmt: skip
    return FeaturesClassifier(features, nn.AdaptiveAvgPool2d((6, 6)), classifier)


# VGG-16 ("configuration D"): numbers are 3x3 convolutions' channels, "M" a 2x2 max pool.
VGG16_CONFIG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
                512, 512, 512, "M"]  # fmt: skip


def vgg16(num_classes: int = 1000, batch_norm: bool = False) -> nn.Module:
    """VGG-16 (Simonyan & Zisserman 2015) in torchvision's layout, for 224x224 input."""
    layers, c = [], 3
    for v in VGG16_CONFIG:
        if v == "M":
            layers.append(nn.MaxPool2d(2, stride=2))
            continue
        layers.append(nn.Conv2d(c, v, 3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(v))
        layers.append(nn.ReLU(inplace=True))
        c = v
    classifier = nn.Sequential(
        nn.Flatten(),
        nn.Linear(512 * 7 * 7, 4096), nn.ReLU(inplace=True), nn.Dropout(0.5),
        nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout(0.5),
        nn.Linear(4096, num_classes),
    )  # fmt: skip
    return FeaturesClassifier(nn.Sequential(*layers), nn.AdaptiveAvgPool2d((7, 7)), classifier)
