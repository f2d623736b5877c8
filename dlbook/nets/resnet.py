"""Residual networks (He et al. 2016), and their "plain" twins without shortcuts.

- :class:`BasicBlock` (two 3x3 convolutions) and :class:`Bottleneck` (1x1, 3x3, 1x1), each with
  a ``shortcut`` switch: ``shortcut=False`` drops the addition and keeps every other layer.
- :class:`ResNet` stacks either block in four stages: :func:`resnet18`, :func:`resnet34` and
  :func:`resnet50` are torchvision's layouts ("v1.5": the stride sits in each stage's first 3x3
  convolution), with the published parameter counts.
- :func:`resnet_small`: the 6n+2-layer network of He et al. §4.2 for small images, whose
  shortcuts change shape parameter-free (option A: subsample, then zero channels), so that the
  residual network and its plain twin have exactly the same parameters.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = [
    "BasicBlock",
    "Bottleneck",
    "PadShortcut",
    "ResNet",
    "SmallResNet",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet_small",
]


def _norm(channels: int, batch_norm: bool) -> nn.Module:
    return nn.BatchNorm2d(channels) if batch_norm else nn.Identity()


class PadShortcut(nn.Module):
    """The parameter-free shortcut of He et al.'s option A: keep every ``stride``-th pixel, then
    append zero channels up to ``out_channels``.

    Shapes:
        input: (N, C_in, H, W)
        returns: (N, C_out, ceil(H / s), ceil(W / s))
    Formula:
        out[n, c, i, j] = x[n, c, s i, s j] for c < C_in, 0 for C_in <= c < C_out
    Torch:
        none (torchvision's ResNets use option B, a strided 1x1 convolution and batch norm)
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        if out_channels < in_channels:
            raise ValueError(f"out_channels ({out_channels}) must be >= in_channels")
        self.stride = stride
        # A fixed strided 1x1 convolution that copies channel c to channel c: the same numbers as
        # slicing and zero-padding, in an operation that dlbook.receptive_field can trace.
        embed = torch.eye(out_channels, in_channels).reshape(out_channels, in_channels, 1, 1)
        self.register_buffer("embed", embed, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.embed, stride=self.stride)


class BasicBlock(nn.Module):
    """ResNet's basic block: ``relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))``.

    ``conv1`` carries the stride. Where the shape changes, the shortcut is a strided 1x1
    convolution and batch norm (``downsample="conv"``, option B, as in ResNet-18/34) or
    :class:`PadShortcut` (``downsample="pad"``, option A, no parameters). ``shortcut=False``
    is the plain block: the same two convolutions, no addition and no projection.
    ``batch_norm=False`` replaces each batch norm by the identity and gives the convolutions
    biases instead.

    Shapes:
        input: (N, C_in, H, W)
        returns: (N, C_out, H_out, W_out), H_out = floor((H - 1) / stride) + 1
    Formula:
        y = relu(F(x) + shortcut(x)), F(x) = bn2(conv2(relu(bn1(conv1(x)))))
    Torch:
        torchvision.models.resnet.BasicBlock (shortcut=True, batch_norm=True, "conv")
    """

    expansion = 1

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        shortcut: bool = True,
        batch_norm: bool = True,
        downsample: str = "conv",
    ):
        super().__init__()
        if downsample not in ("conv", "pad"):
            raise ValueError(f"downsample must be 'conv' or 'pad', got {downsample!r}")
        bias = not batch_norm
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, padding=1, bias=bias)
        self.bn1 = _norm(out_channels, batch_norm)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=bias)
        self.bn2 = _norm(out_channels, batch_norm)
        self.relu = nn.ReLU()
        self.shortcut = shortcut
        self.downsample = None
        if shortcut and (stride != 1 or in_channels != out_channels):
            if downsample == "pad":
                self.downsample = PadShortcut(in_channels, out_channels, stride)
            else:
                conv = nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=bias)
                self.downsample = nn.Sequential(conv, _norm(out_channels, batch_norm))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        if self.shortcut:
            y = y + (x if self.downsample is None else self.downsample(x))
        return self.relu(y)


class Bottleneck(nn.Module):
    """ResNet's bottleneck block: 1x1 reduce, 3x3 (carrying the stride), 1x1 expand, plus the
    shortcut (a strided 1x1 projection when the shape changes). ``shortcut=False`` is the plain
    block: the three convolutions, no addition and no projection (so it has the projection's
    parameters fewer where the shape changes).

    Shapes:
        input: (N, C_in, H, W)
        returns: (N, 4 width, H_out, W_out), H_out = floor((H - 1) / stride) + 1
    Formula:
        y = relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x)))))))) + shortcut(x))
    Torch:
        torchvision.models.resnet.Bottleneck
    """

    expansion = 4

    def __init__(self, in_channels: int, width: int, stride: int = 1, shortcut: bool = True):
        super().__init__()
        out = width * self.expansion
        self.conv1 = nn.Conv2d(in_channels, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = shortcut
        self.downsample = None
        if shortcut and (stride != 1 or in_channels != out):
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out, 1, stride=stride, bias=False), nn.BatchNorm2d(out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return self.relu(y + identity) if self.shortcut else self.relu(y)


class ResNet(nn.Module):
    """An ImageNet ResNet (He et al. 2016): a 7x7/2 stem and a 3x3/2 max pool, then four stages
    of ``block`` (:class:`Bottleneck` or :class:`BasicBlock`), global average pooling and a
    linear classifier. The first block of stages 2-4 halves the resolution.

    Shapes:
        input: (N, 3, H, W)
        returns: (N, num_classes)
    Formula:
        logits = fc(mean_{i,j} layer4(layer3(layer2(layer1(maxpool(relu(bn1(conv1(x)))))))))
    Torch:
        torchvision.models.ResNet
    """

    def __init__(self, blocks=(3, 4, 6, 3), num_classes: int = 1000, widths=(64, 128, 256, 512),
                 block=Bottleneck, shortcut: bool = True):  # fmt: skip
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        c, stages = 64, []
        for i, (n, w) in enumerate(zip(blocks, widths)):
            stage = []
            for b in range(n):
                stride = 2 if (b == 0 and i > 0) else 1
                stage.append(block(c, w, stride=stride, shortcut=shortcut))
                c = w * block.expansion
            stages.append(nn.Sequential(*stage))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(c, num_classes)

    def trunk(self) -> nn.Sequential:
        """The layers before global average pooling, as one ``nn.Sequential`` that shares this
        network's modules (for a receptive field, or an effective one, on a spatial output)."""
        stem = (self.conv1, self.bn1, self.relu, self.maxpool)
        return nn.Sequential(*stem, self.layer1, self.layer2, self.layer3, self.layer4)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.avgpool(self.features(x)), 1))


def resnet18(num_classes: int = 1000, shortcut: bool = True) -> ResNet:
    """ResNet-18: basic blocks (2, 2, 2, 2), 11,689,512 parameters for 1000 classes.

    Shapes:
        input: (N, 3, H, W); returns: (N, num_classes)
    Formula:
        1 stem convolution + 2 x 8 convolutions in blocks + 1 linear layer = 18 weight layers
    Torch:
        torchvision.models.resnet18
    """
    return ResNet((2, 2, 2, 2), num_classes, block=BasicBlock, shortcut=shortcut)


def resnet34(num_classes: int = 1000, shortcut: bool = True) -> ResNet:
    """ResNet-34: basic blocks (3, 4, 6, 3), 21,797,672 parameters for 1000 classes.

    Shapes:
        input: (N, 3, H, W); returns: (N, num_classes)
    Formula:
        1 stem convolution + 2 x 16 convolutions in blocks + 1 linear layer = 34 weight layers
    Torch:
        torchvision.models.resnet34
    """
    return ResNet((3, 4, 6, 3), num_classes, block=BasicBlock, shortcut=shortcut)


def resnet50(num_classes: int = 1000, shortcut: bool = True) -> ResNet:
    """ResNet-50 (v1.5): bottleneck blocks (3, 4, 6, 3), 25,557,032 parameters for 1000 classes.

    Shapes:
        input: (N, 3, H, W); returns: (N, num_classes)
    Formula:
        1 stem convolution + 3 x 16 convolutions in blocks + 1 linear layer = 50 weight layers
    Torch:
        torchvision.models.resnet50
    """
    return ResNet((3, 4, 6, 3), num_classes, shortcut=shortcut)


class SmallResNet(nn.Module):
    """The CIFAR-style network of He et al. §4.2: a 3x3 convolution to ``widths[0]`` channels,
    three stages of ``n`` :class:`BasicBlock` (the first block of stages 2 and 3 halves the
    resolution), global average pooling and a linear layer: ``6 n + 2`` weight layers. Its
    shape-changing shortcuts are :class:`PadShortcut` (option A), so ``shortcut=False`` gives a
    plain twin with exactly the same parameters.

    Shapes:
        input: (N, in_channels, H, W)
        returns: (N, num_classes)
    Formula:
        logits = fc(mean_{i,j} stage3(stage2(stage1(relu(bn(conv(x)))))))
    Torch:
        none (torchvision has no CIFAR ResNet; this follows He et al. 2016, section 4.2)
    """

    def __init__(self, blocks_per_stage: int = 3, widths=(16, 32, 64), num_classes: int = 9,
                 shortcut: bool = True, batch_norm: bool = True, in_channels: int = 3):  # fmt: skip
        super().__init__()
        if isinstance(blocks_per_stage, bool) or not isinstance(blocks_per_stage, int):
            raise TypeError(f"blocks_per_stage must be an int, got {blocks_per_stage!r}")
        if blocks_per_stage < 1:
            raise ValueError(f"blocks_per_stage must be at least 1, got {blocks_per_stage}")
        if len(widths) != 3:
            raise ValueError(f"widths must hold three stage widths, got {widths!r}")
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=not batch_norm)
        self.bn1 = _norm(widths[0], batch_norm)
        self.relu = nn.ReLU()
        c, stages = widths[0], []
        for i, w in enumerate(widths):
            stage = []
            for b in range(blocks_per_stage):
                stride = 2 if (b == 0 and i > 0) else 1
                stage.append(BasicBlock(c, w, stride, shortcut, batch_norm, downsample="pad"))
                c = w
            stages.append(nn.Sequential(*stage))
        self.layer1, self.layer2, self.layer3 = stages
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(c, num_classes)
        self.depth = 6 * blocks_per_stage + 2

    def blocks(self) -> list[BasicBlock]:
        """The residual blocks, input to output."""
        return [*self.layer1, *self.layer2, *self.layer3]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet_small(blocks_per_stage: int = 3, widths=(16, 32, 64), num_classes: int = 9,
                 shortcut: bool = True, batch_norm: bool = True, in_channels: int = 3):  # fmt: skip
    """He et al.'s CIFAR ResNet with ``6 blocks_per_stage + 2`` weight layers (ResNet-20 by
    default); ``shortcut=False`` is its plain twin, with the same parameters.

    Shapes:
        input: (N, in_channels, H, W); returns: (N, num_classes)
    Formula:
        depth = 6 n + 2: 1 convolution, 3 stages x n blocks x 2 convolutions, 1 linear layer
    Torch:
        none (see :class:`SmallResNet`)
    """
    return SmallResNet(blocks_per_stage, widths, num_classes, shortcut, batch_norm, in_channels)
