"""Classic network architectures, written out in PyTorch (no torchvision needed).

The layouts follow the papers, and torchvision's versions where those are the reference everyone
quotes: :func:`alexnet` and :func:`vgg16` have torchvision's ``.features`` / ``.classifier`` split,
:func:`resnet50` is torchvision's "v1.5" (the stride sits in each stage's first 3x3 convolution).
They are built with random weights: the book never downloads pretrained ones.
"""

from __future__ import annotations

import torch
import torch.nn as nn

__all__ = [
    "count_parameters",
    "LeNet5",
    "LeNet5Modern",
    "ScaledTanh",
    "lenet5",
    "alexnet",
    "vgg16",
    "VGG16_CONFIG",
    "Bottleneck",
    "ResNet",
    "resnet50",
    "InceptionBlock",
]


def count_parameters(module: nn.Module) -> int:
    """The number of trainable numbers in a torch module (frozen parameters not counted)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


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
    return _FeaturesClassifier(features, nn.AdaptiveAvgPool2d((6, 6)), classifier)


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
    return _FeaturesClassifier(nn.Sequential(*layers), nn.AdaptiveAvgPool2d((7, 7)), classifier)


class _FeaturesClassifier(nn.Module):
    """``features -> avgpool -> classifier``, with torchvision's attribute names."""

    def __init__(self, features: nn.Module, avgpool: nn.Module, classifier: nn.Module):
        super().__init__()
        self.features, self.avgpool, self.classifier = features, avgpool, classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.avgpool(self.features(x)))


class Bottleneck(nn.Module):
    """ResNet's bottleneck block: 1x1 reduce, 3x3 (carrying the stride), 1x1 expand, plus the
    shortcut (a strided 1x1 projection when the shape changes)."""

    expansion = 4

    def __init__(self, in_channels: int, width: int, stride: int = 1):
        super().__init__()
        out = width * self.expansion
        self.conv1 = nn.Conv2d(in_channels, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or in_channels != out:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out, 1, stride=stride, bias=False), nn.BatchNorm2d(out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return self.relu(y + identity)


class ResNet(nn.Module):
    """A bottleneck ResNet (He et al. 2016): a 7x7/2 stem and a 3x3/2 max pool, then four stages
    of :class:`Bottleneck` blocks, global average pooling and a linear classifier."""

    def __init__(self, blocks=(3, 4, 6, 3), num_classes: int = 1000, widths=(64, 128, 256, 512)):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        c, stages = 64, []
        for i, (n, w) in enumerate(zip(blocks, widths)):
            stage = []
            for b in range(n):
                stage.append(Bottleneck(c, w, stride=2 if (b == 0 and i > 0) else 1))
                c = w * Bottleneck.expansion
            stages.append(nn.Sequential(*stage))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(c, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.avgpool(self.features(x)), 1))


def resnet50(num_classes: int = 1000) -> ResNet:
    return ResNet((3, 4, 6, 3), num_classes)


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
