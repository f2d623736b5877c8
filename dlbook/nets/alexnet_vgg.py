"""AlexNet (Krizhevsky et al. 2012) and VGG (Simonyan & Zisserman 2015).

- :func:`alexnet` and :func:`vgg16` follow torchvision's layouts (``.features`` /
  ``.classifier``), whose parameter counts are the ones everyone quotes;
- :func:`alexnet_paper` is the 2012 paper's own network: 96-256-384-384-256 kernels, the two-GPU
  groups, local response normalization, 227x227 input (60,965,224 parameters);
- :func:`alexnet_small` and :func:`vgg_small` keep the ideas at 32x32 px, small enough to train in
  seconds on a CPU; :func:`vgg_block` is VGG's unit, and with ``kernel_size`` it also builds the
  "one large kernel" twin of a stack of 3x3 convolutions.
"""

from __future__ import annotations

import torch.nn as nn

from dlbook.nets.common import FeaturesClassifier
from dlbook.shapes import conv_output_size

__all__ = [
    "alexnet",
    "alexnet_paper",
    "alexnet_small",
    "learned_layers",
    "vgg16",
    "VGG16_CONFIG",
    "vgg_block",
    "vgg_small",
]


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


def _lrn():
    # The paper divides by (k + alpha * sum of n squares)^beta; torch's LocalResponseNorm divides
    # by (k + alpha / n * sum)^beta, so the paper's alpha = 1e-4 with n = 5 is torch's 5e-4.
    return nn.LocalResponseNorm(size=5, alpha=5 * 1e-4, beta=0.75, k=2.0)


def alexnet_paper(num_classes: int = 1000) -> nn.Module:
    """AlexNet as the 2012 paper describes it, for 227x227 input: 5 convolutional and 3 fully
    connected layers, 8 learned layers in all, 60,965,224 parameters.

    conv1 96@11x11/4 -> ReLU -> LRN -> max-pool 3/2 -> conv2 256@5x5 (2 groups) -> ReLU -> LRN ->
    max-pool 3/2 -> conv3 384@3x3 -> conv4 384@3x3 (2 groups) -> conv5 256@3x3 (2 groups) ->
    max-pool 3/2 -> fc6 4096 -> fc7 4096 -> fc8 ``num_classes``, with ReLU after every layer but
    the last and dropout 0.5 after fc6 and fc7. The groups are the paper's two GPUs: conv2, conv4
    and conv5 see only the maps on their own GPU, conv3 and the fully connected layers see both.
    Local response normalization uses the paper's k = 2, n = 5, alpha = 1e-4, beta = 0.75 (torch's
    ``alpha`` is n times the paper's). The paper's "224x224" input only fits its arithmetic at
    227 px: (227 - 11) / 4 + 1 = 55.
    """
    features = nn.Sequential(
        nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(inplace=True), _lrn(),
        nn.MaxPool2d(3, stride=2),
        nn.Conv2d(96, 256, 5, padding=2, groups=2), nn.ReLU(inplace=True), _lrn(),
        nn.MaxPool2d(3, stride=2),
        nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(384, 384, 3, padding=1, groups=2), nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, 3, padding=1, groups=2), nn.ReLU(inplace=True),
        nn.MaxPool2d(3, stride=2),
    )  # fmt: skip
    classifier = nn.Sequential(
        nn.Flatten(),
        nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True), nn.Dropout(0.5),
        nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout(0.5),
        nn.Linear(4096, num_classes),
    )  # fmt: skip
    return FeaturesClassifier(features, nn.Identity(), classifier)


def learned_layers(model: nn.Module) -> dict[str, int]:
    """How many layers of ``model`` have weights: ``{"conv": ..., "linear": ..., "total": ...}``
    (normalization layers, which have a few parameters too, are not counted as layers)."""
    conv = sum(isinstance(m, nn.Conv2d) for m in model.modules())
    linear = sum(isinstance(m, nn.Linear) for m in model.modules())
    return dict(conv=conv, linear=linear, total=conv + linear)


_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def alexnet_small(num_classes: int = 9, in_channels: int = 3, activation: str = "relu",
                  lrn: bool = False, dropout: float = 0.5, widths=(24, 48, 64, 64, 48),
                  hidden: int = 256, pool_kernel: int = 3,
                  input_size: int = 32) -> nn.Module:  # fmt: skip
    """AlexNet's plan for 32x32 images: a large first kernel with a stride, overlapping max pools,
    three 3x3 convolutions, and a wide classifier with dropout.

    conv 5x5/2 (``widths[0]``) -> act -> [LRN] -> pool -> conv 3x3 (``widths[1]``) -> act ->
    [LRN] -> pool -> three conv 3x3 -> act -> pool -> dropout -> linear ``hidden`` -> act ->
    dropout -> linear ``hidden`` -> act -> linear ``num_classes``. ``activation`` is ``"relu"``
    or ``"tanh"``; ``lrn=True`` adds the paper's local response normalization after the first two
    convolutions; ``pool_kernel=3`` pools 3x3 windows at stride 2 (overlapping, as AlexNet),
    ``pool_kernel=2`` pools 2x2 windows at stride 2 (not overlapping).
    """
    if activation not in _ACTIVATIONS:
        raise ValueError(f"activation must be one of {tuple(_ACTIVATIONS)}, got {activation!r}")
    if pool_kernel not in (2, 3):
        raise ValueError(f"pool_kernel must be 2 or 3, got {pool_kernel!r}")
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    if len(widths) != 5:
        raise ValueError(f"widths must hold 5 channel counts, got {widths!r}")
    checked = dict(num_classes=num_classes, in_channels=in_channels, hidden=hidden,
                   input_size=input_size)  # fmt: skip
    for name, v in [*checked.items(), *(("widths", w) for w in widths)]:
        _positive_int(name, v)
    act = _ACTIVATIONS[activation]
    c1, c2, c3, c4, c5 = widths
    layers = [nn.Conv2d(in_channels, c1, 5, stride=2, padding=2), act()]
    layers += [_lrn()] if lrn else []
    layers += [nn.MaxPool2d(pool_kernel, stride=2), nn.Conv2d(c1, c2, 3, padding=1), act()]
    layers += [_lrn()] if lrn else []
    layers += [nn.MaxPool2d(pool_kernel, stride=2)]
    for a, b in ((c2, c3), (c3, c4), (c4, c5)):
        layers += [nn.Conv2d(a, b, 3, padding=1), act()]
    layers += [nn.MaxPool2d(pool_kernel, stride=2)]
    size = conv_output_size(input_size, 5, 2, 2)
    for _ in range(3):
        size = conv_output_size(size, pool_kernel, 2)
    if size < 1:
        raise ValueError(f"input_size {input_size} is too small for three pools")
    classifier = nn.Sequential(
        nn.Flatten(),
        nn.Dropout(dropout), nn.Linear(c5 * size * size, hidden), act(),
        nn.Dropout(dropout), nn.Linear(hidden, hidden), act(),
        nn.Linear(hidden, num_classes),
    )  # fmt: skip
    return FeaturesClassifier(nn.Sequential(*layers), nn.Identity(), classifier)


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


def vgg_block(in_channels: int, out_channels: int, num_convs: int, batch_norm: bool = False,
              kernel_size: int = 3) -> nn.Sequential:  # fmt: skip
    """VGG's unit: ``num_convs`` convolutions (``kernel_size`` x ``kernel_size``, "same" padding,
    each followed by [batch norm and] ReLU), then a 2x2 max pool that halves the map.

    With the default 3x3, a block of ``n`` convolutions sees a (2n + 1) x (2n + 1) window of its
    input before the pool, as one (2n + 1) x (2n + 1) convolution would
    (``vgg_block(c, c, 1, kernel_size=2 * n + 1)``), with 9n C^2 weights against (2n + 1)^2 C^2.
    """
    _positive_int("in_channels", in_channels)
    _positive_int("out_channels", out_channels)
    _positive_int("num_convs", num_convs)
    if _positive_int("kernel_size", kernel_size) % 2 == 0:
        raise ValueError(f"kernel_size must be odd (for 'same' padding), got {kernel_size}")
    layers, c = [], in_channels
    for _ in range(num_convs):
        layers.append(nn.Conv2d(c, out_channels, kernel_size, padding=kernel_size // 2))
        if batch_norm:
            layers.append(nn.BatchNorm2d(out_channels))
        layers.append(nn.ReLU(inplace=True))
        c = out_channels
    layers.append(nn.MaxPool2d(2, stride=2))
    return nn.Sequential(*layers)


def vgg_small(num_classes: int = 9, in_channels: int = 3, widths=(16, 32, 64), num_convs=2,
              kernel_size: int = 3, batch_norm: bool = False, hidden: int = 128,
              dropout: float = 0.5, input_size: int = 32) -> nn.Module:  # fmt: skip
    """A small VGG for 32x32 images: one :func:`vgg_block` per entry of ``widths`` (each halves
    the map), then flatten -> linear ``hidden`` -> ReLU -> dropout -> linear ``num_classes``.

    ``num_convs`` is an int, or one per block. ``vgg_small(num_convs=2)`` (two 3x3 per block) and
    ``vgg_small(num_convs=1, kernel_size=5)`` (one 5x5 per block) have the same receptive field.
    """
    convs = [num_convs] * len(widths) if isinstance(num_convs, int) else list(num_convs)
    if len(convs) != len(widths):
        raise ValueError(f"num_convs: one per block ({len(widths)}), got {num_convs!r}")
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    size = _positive_int("input_size", input_size) // 2 ** len(widths)
    if size < 1:
        raise ValueError(f"input_size {input_size} is too small for {len(widths)} blocks")
    blocks, c = [], in_channels
    for w, n in zip(widths, convs):
        blocks.append(vgg_block(c, w, n, batch_norm=batch_norm, kernel_size=kernel_size))
        c = w
    classifier = nn.Sequential(
        nn.Flatten(), nn.Linear(c * size * size, hidden), nn.ReLU(inplace=True),
        nn.Dropout(dropout), nn.Linear(hidden, num_classes),
    )  # fmt: skip
    return FeaturesClassifier(nn.Sequential(*blocks), nn.Identity(), classifier)
