"""1×1 convolutions, bottlenecks and Inception blocks (Lin et al. 2014; Szegedy et al. 2015).

- :func:`direct_conv` and :func:`bottleneck_conv`: one k×k convolution from ``in_channels`` to
  ``out_channels``, against a 1×1 reduction to ``mid`` channels, the k×k convolution at ``mid``
  channels, and a 1×1 expansion; the same input and output shapes, far fewer multiply-adds.
- :class:`InceptionBlock`: four parallel branches of different receptive fields (1, 3, 5, and a
  3×3 max pool), concatenated along the channels; GoogLeNet's block 3a has 163,696 parameters.
- :func:`inception_small` and :func:`plain_cnn_small`: two small networks for 32×32 (or 16×16)
  colour images with about the same multiply-adds, one built from Inception blocks and one from
  plain 3×3 convolutions, to train side by side.
"""

from __future__ import annotations

import numbers

import torch
import torch.nn as nn

__all__ = [
    "direct_conv",
    "bottleneck_conv",
    "InceptionBlock",
    "inception_small",
    "plain_cnn_small",
]


def _positive(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def _odd_kernel(kernel_size):
    k = _positive("kernel_size", kernel_size)
    if k % 2 == 0:
        raise ValueError(
            f"kernel_size must be odd (so that padding k // 2 keeps the size), got {k}"
        )
    return k


def direct_conv(in_channels: int, out_channels: int, kernel_size: int = 3) -> nn.Sequential:
    """One ``kernel_size`` × ``kernel_size`` convolution with padding ``k // 2`` (the size is
    kept) and no bias: ``C_out · C_in · k²`` weights, and as many multiply-adds per pixel.

    Shapes:
        input: (N, in_channels, H, W)
        returns: (N, out_channels, H, W)
    Formula:
        out[n, o] = sum_c weight[o, c] ⋆ x[n, c]
    Torch:
        torch.nn.Conv2d(in_channels, out_channels, k, padding=k // 2, bias=False)
    """
    _positive("in_channels", in_channels)
    _positive("out_channels", out_channels)
    k = _odd_kernel(kernel_size)
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, k, padding=k // 2, bias=False))


def bottleneck_conv(
    in_channels: int, out_channels: int, mid: int, kernel_size: int = 3, relu: bool = True
) -> nn.Sequential:
    """A bottleneck in place of :func:`direct_conv`: a 1×1 convolution reduces the channels to
    ``mid``, the ``kernel_size`` × ``kernel_size`` convolution works at ``mid`` channels, and a
    1×1 convolution expands them to ``out_channels``; ReLUs between (``relu=True``), no biases.

    Shapes:
        input: (N, in_channels, H, W)
        returns: (N, out_channels, H, W)
    Formula:
        params = C_in · mid + k² · mid² + mid · C_out  (multiply-adds: params · H · W)
    Torch:
        none (a torch.nn.Sequential of three torch.nn.Conv2d, as in ResNet's and Inception's
        blocks)
    """
    _positive("in_channels", in_channels)
    _positive("out_channels", out_channels)
    _positive("mid", mid)
    k = _odd_kernel(kernel_size)
    act = nn.ReLU if relu else nn.Identity
    return nn.Sequential(
        nn.Conv2d(in_channels, mid, 1, bias=False),
        act(),
        nn.Conv2d(mid, mid, k, padding=k // 2, bias=False),
        act(),
        nn.Conv2d(mid, out_channels, 1, bias=False),
    )


def _conv(c_in, c_out, k, batch_norm):
    """Convolution (padding k // 2) then ReLU; with ``batch_norm`` the convolution drops its bias
    and a BatchNorm2d sits between."""
    if not batch_norm:
        return [nn.Conv2d(c_in, c_out, k, padding=k // 2), nn.ReLU()]
    return [nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]


class InceptionBlock(nn.Module):
    """An Inception block (Szegedy et al. 2015): four parallel branches (1x1; 1x1 then 3x3;
    1x1 then 5x5; 3x3 max pool then 1x1), concatenated along the channels.

    ``c3`` and ``c5`` are ``(reduce, out)`` pairs: the 1×1 reduction's width, then the 3×3's
    (5×5's) output channels. Every convolution is followed by a ReLU; with ``batch_norm=True``
    by batch norm and a ReLU, without a bias (as in Inception v2 and later).

    Shapes:
        input: (N, in_channels, H, W)
        returns: (N, c1 + c3[1] + c5[1] + pool_proj, H, W)
    Formula:
        out = concat_channels(b1(x), b3(x), b5(x), bp(x)); receptive fields 1, 3, 5 and 3
    Torch:
        none (torchvision.models.googlenet's Inception, which uses a 3×3 where the paper has 5×5)
    """

    def __init__(
        self,
        in_channels: int,
        c1: int,
        c3: tuple,
        c5: tuple,
        pool_proj: int,
        batch_norm: bool = False,
    ):
        super().__init__()
        for name, v in (("in_channels", in_channels), ("c1", c1), ("pool_proj", pool_proj)):
            _positive(name, v)
        for name, pair in (("c3", c3), ("c5", c5)):
            if len(tuple(pair)) != 2:
                raise ValueError(f"{name} must be a (reduce, out) pair, got {pair!r}")
            for v in pair:
                _positive(name, v)
        bn = batch_norm
        self.b1 = nn.Sequential(*_conv(in_channels, c1, 1, bn))
        self.b3 = nn.Sequential(*_conv(in_channels, c3[0], 1, bn), *_conv(c3[0], c3[1], 3, bn))
        self.b5 = nn.Sequential(*_conv(in_channels, c5[0], 1, bn), *_conv(c5[0], c5[1], 5, bn))
        self.bp = nn.Sequential(
            nn.MaxPool2d(3, stride=1, padding=1), *_conv(in_channels, pool_proj, 1, bn)
        )
        self.out_channels = c1 + c3[1] + c5[1] + pool_proj

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b1(x), self.b3(x), self.b5(x), self.bp(x)], dim=1)


def _head(channels, num_classes):
    return [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes)]


def inception_small(num_classes: int = 9, width: int = 16) -> nn.Sequential:
    """A small Inception network for 16×16 or 32×32 colour images.

    Stem: 3×3 convolution (``2 width``), batch norm, ReLU, 2×2 max pool. Then Inception block
    ``a`` (``2w`` → ``4w`` channels: 1×1 ``w``; 1×1 ``w`` → 3×3 ``2w``; 1×1 ``w/4`` → 5×5
    ``w/2``; pool → 1×1 ``w/2``), a 2×2 max pool, block ``b`` (``4w`` → ``6w``: the same plan,
    every width times 1.5), global average pooling and a linear layer. Batch norm after every
    convolution, as in Inception v2.

    Shapes:
        input: (N, 3, H, W), H and W multiples of 4
        returns: (N, num_classes)
    Formula:
        logits = linear(mean_{y,x} block_b(pool(block_a(stem(x)))))
    Torch:
        none (a scaled-down GoogLeNet, Szegedy et al. 2015)
    """
    num_classes = _positive("num_classes", num_classes)
    w = _positive("width", width)
    if w % 4:
        raise ValueError(f"width must be a multiple of 4, got {w}")
    a = InceptionBlock(2 * w, w, (w, 2 * w), (w // 4, w // 2), w // 2, batch_norm=True)
    h = w * 3 // 2
    b = InceptionBlock(a.out_channels, h, (h, 3 * w), (w // 2, 3 * w // 4), 3 * w // 4, True)
    return nn.Sequential(
        *_conv(3, 2 * w, 3, True),
        nn.MaxPool2d(2),
        a,
        nn.MaxPool2d(2),
        b,
        *_head(b.out_channels, num_classes),
    )


def plain_cnn_small(num_classes: int = 9, width: int = 16) -> nn.Sequential:
    """The plain twin of :func:`inception_small`: the same stem, pools and head, with each
    Inception block replaced by one 3×3 convolution (batch norm, ReLU), of about the same
    multiply-adds in all (5% fewer): ``2w`` → ``3w/2`` channels, then ``3w/2`` → ``4w``.

    Shapes:
        input: (N, 3, H, W), H and W multiples of 4
        returns: (N, num_classes)
    Formula:
        logits = linear(mean_{y,x} conv_b(pool(conv_a(stem(x)))))
    Torch:
        none (a VGG-style stack of 3×3 convolutions)
    """
    num_classes = _positive("num_classes", num_classes)
    w = _positive("width", width)
    return nn.Sequential(
        *_conv(3, 2 * w, 3, True),
        nn.MaxPool2d(2),
        *_conv(2 * w, 3 * w // 2, 3, True),
        nn.MaxPool2d(2),
        *_conv(3 * w // 2, 4 * w, 3, True),
        *_head(4 * w, num_classes),
    )
