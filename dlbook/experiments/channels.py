"""What channels and groups cost, and what they buy: the Channels chapter's experiment.

* :func:`conv_cost` counts a convolution's parameters and multiply-adds by hand, from the shapes.
* :func:`cost_rows` lays out standard, grouped and depthwise-separable layers of one size side by
  side, for the chapter's table; :func:`cost_modules` builds the same layers in PyTorch, so that
  :func:`model_cost` can check every count.
* :func:`make_net` builds one small digits CNN in three variants (standard, grouped,
  depthwise-separable) and :func:`model_cost` counts what a built model costs.
* :func:`run` trains each variant with :func:`dlbook.train.fit` for a few seeds.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from dlbook.exercise import Case, Report, check
from dlbook.scratch import conv2d

__all__ = [
    "ConvCost",
    "conv_cost",
    "cost_rows",
    "cost_modules",
    "make_net",
    "model_cost",
    "run",
    "KINDS",
    "check_grouped_conv2d",
]

KINDS = ("standard", "grouped", "separable")


@dataclass(frozen=True)
class ConvCost:
    """The cost of one convolution: weight shape, parameters, multiply-adds per image."""

    weight_shape: tuple[int, int, int, int]
    params: int
    macs: int

    def __add__(self, other: ConvCost) -> ConvCost:
        # A sum of layers has no single weight shape; keep the first, count everything.
        return ConvCost(self.weight_shape, self.params + other.params, self.macs + other.macs)


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def _pair(value, name):
    pair = (value, value) if isinstance(value, numbers.Integral) else tuple(value)
    if len(pair) != 2:
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    return tuple(_positive_int(v, name) for v in pair)


def conv_cost(in_channels, out_channels, kernel_size, groups=1, out_hw=(1, 1), bias=True):
    r"""Parameters and multiply-adds of ``nn.Conv2d(in_channels, out_channels, kernel_size,
    groups=groups, bias=bias)`` producing an ``out_hw = (H_out, W_out)`` map, for one image.

    Each output channel sees only its group's ``in_channels / groups`` input channels, so

    .. math::
        \text{weight} = (C_\text{out},\ C_\text{in}/g,\ k_h,\ k_w), \qquad
        \text{MACs} = C_\text{out} \cdot \frac{C_\text{in}}{g}\, k_h k_w \cdot H_\text{out}
        W_\text{out}.

    Bias additions are not counted as multiply-adds. Raises ``ValueError`` when ``groups`` does
    not divide both channel counts.
    """
    c_in = _positive_int(in_channels, "in_channels")
    c_out = _positive_int(out_channels, "out_channels")
    g = _positive_int(groups, "groups")
    kh, kw = _pair(kernel_size, "kernel_size")
    oh, ow = _pair(out_hw, "out_hw")
    if c_in % g or c_out % g:
        raise ValueError(f"groups={g} must divide both in_channels={c_in} and out_channels={c_out}")
    shape = (c_out, c_in // g, kh, kw)
    weights = c_out * (c_in // g) * kh * kw
    return ConvCost(shape, weights + (c_out if bias else 0), weights * oh * ow)


def separable_cost(in_channels, out_channels, kernel_size, out_hw=(1, 1), bias=True):
    """A depthwise ``k×k`` convolution (groups = in_channels) followed by a pointwise 1×1 one."""
    depthwise = conv_cost(in_channels, in_channels, kernel_size, in_channels, out_hw, bias)
    return depthwise + conv_cost(in_channels, out_channels, 1, 1, out_hw, bias)


def cost_rows(channels=256, kernel_size=3, out_hw=(28, 28), groups=(2, 32), bias=True):
    """Rows ``(name, weight shapes, ConvCost)`` for a ``channels → channels`` layer, made in the
    ways the chapter compares: standard, grouped for each of ``groups``, depthwise alone, and
    depthwise separable."""
    c, k = channels, kernel_size
    rows = [("standard", f"({c}, {c}, {k}, {k})", conv_cost(c, c, k, 1, out_hw, bias))]
    for g in groups:
        cost = conv_cost(c, c, k, g, out_hw, bias)
        rows.append((f"grouped, groups={g}", str(cost.weight_shape), cost))
    rows.append(("depthwise only", f"({c}, 1, {k}, {k})", conv_cost(c, c, k, c, out_hw, bias)))
    rows.append(
        (
            "depthwise separable",
            f"({c}, 1, {k}, {k}) + ({c}, {c}, 1, 1)",
            separable_cost(c, c, k, out_hw, bias),
        )
    )
    return rows


def cost_modules(channels=256, kernel_size=3, groups=(2, 32), bias=True, device="meta"):
    """The layers of :func:`cost_rows`, in the same order, as PyTorch modules.

    Standard, grouped for each of ``groups``, depthwise alone, and depthwise separable (an
    ``nn.Sequential`` of the depthwise and the 1×1 convolution); every ``k×k`` convolution pads
    ``k // 2``. On the ``"meta"`` device (the default) they have shapes but no memory, which is
    all a count needs.
    """
    from torch import nn

    c, k = channels, kernel_size

    def conv(g):
        return nn.Conv2d(c, c, k, padding=k // 2, groups=g, bias=bias, device=device)

    separable = nn.Sequential(conv(c), nn.Conv2d(c, c, 1, bias=bias, device=device))
    return [conv(1), *(conv(g) for g in groups), conv(c), separable]


def _block(kind, c_in, c_out, groups):
    """A 3×3, padding-1 convolution from ``c_in`` to ``c_out`` channels made as ``kind``, then
    batch norm and ReLU."""
    from torch import nn

    if kind == "standard":
        conv = [nn.Conv2d(c_in, c_out, 3, padding=1)]
    elif kind == "grouped":
        conv = [nn.Conv2d(c_in, c_out, 3, padding=1, groups=groups)]
    elif kind == "separable":
        # MobileNet's layout: depthwise 3×3, BN, ReLU, then pointwise 1×1 (BN, ReLU below).
        conv = [
            nn.Conv2d(c_in, c_in, 3, padding=1, groups=c_in),
            nn.BatchNorm2d(c_in),
            nn.ReLU(),
            nn.Conv2d(c_in, c_out, 1),
        ]
    else:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    return [*conv, nn.BatchNorm2d(c_out), nn.ReLU()]


def make_net(kind="standard", width=32, groups=4):
    """A small CNN for the 8×8 digits; ``kind`` changes how its two inner convolutions are made.

    ``(N,1,8,8)`` → conv 1→w → ReLU → block w→2w → ReLU → max-pool 2 → block 2w→2w → ReLU →
    global average pool → linear 2w→10. The first convolution stays standard in every variant:
    with one input channel there is nothing to separate.
    """
    from torch import nn

    width = _positive_int(width, "width")
    return nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1),
        nn.BatchNorm2d(width),
        nn.ReLU(),
        *_block(kind, width, 2 * width, groups),
        nn.MaxPool2d(2),
        *_block(kind, 2 * width, 2 * width, groups),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(2 * width, 10),
    )


def model_cost(model, input_shape=(1, 8, 8)) -> tuple[int, int]:
    """``(parameters, multiply-adds per image)`` of a model.

    The multiply-adds come from PyTorch's own FLOP counter (one multiply-add is two FLOPs) on one
    zero image: convolutions and linear layers, not pooling, activations or bias additions.
    """
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    device = next(model.parameters()).device
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros((1, *input_shape), device=device))
    return sum(p.numel() for p in model.parameters()), counter.get_total_flops() // 2


def run(data, kinds=KINDS, seeds=(0, 1), epochs=15, lr=3e-3, width=32, batch_size=64, device=None):
    """Train every ``kind`` of :func:`make_net` once per seed on ``data``.

    Returns one dict per run: ``kind``, ``seed``, ``params``, ``macs``, ``test_acc`` (final
    epoch), ``seconds`` (training time, summed over epochs) and the ``history``.
    """
    from dlbook.train import fit, seed_everything

    rows = []
    for kind in kinds:
        for seed in seeds:
            seed_everything(seed)  # the initial weights depend on the seed too
            model = make_net(kind, width)
            params, macs = model_cost(model, data.x_train.shape[1:])
            history = fit(
                model, data, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed, device=device
            )
            rows.append(
                dict(
                    kind=kind,
                    seed=seed,
                    params=params,
                    macs=macs,
                    test_acc=history.final["test_acc"],
                    seconds=sum(history["seconds"]),
                    history=history,
                )
            )
    return rows


def check_grouped_conv2d(fn) -> Report:
    """Hold the reader's ``fn(input, weight, groups)`` to :func:`dlbook.scratch.conv2d` with
    ``groups`` (stride 1, no padding, no bias): groups 1, 2, a depthwise case with two filters
    per channel, and a non-square one.

    Shapes:
        input: (N, C_in, H, W); weight: (C_out, C_in / groups, kH, kW); returns: a Report
        fn returns (N, C_out, H - kH + 1, W - kW + 1)
    Formula:
        out[:, o] = sum_c input[:, (o // O_g) C_g + c] ⋆ weight[o, c], C_g = C_in / groups,
        O_g = C_out / groups
    Torch:
        torch.nn.functional.conv2d
    """
    import torch
    import torch.nn.functional as F

    def reference(x, w, groups):
        return conv2d(x, w, groups=groups)

    def twin(x, w, groups):
        return F.conv2d(torch.from_numpy(x), torch.from_numpy(w), groups=groups)

    rng = np.random.default_rng(0)  # fixed: the same report whatever DLBOOK_SEED is

    def case(x_shape, w_shape, groups, label):
        return Case((rng.standard_normal(x_shape), rng.standard_normal(w_shape), groups), {}, label)

    cases = [
        case((1, 2, 5, 5), (3, 2, 3, 3), 1, "groups 1: an ordinary convolution"),
        case((2, 4, 5, 6), (6, 2, 3, 3), 2, "groups 2, 4 channels in, 6 out"),
        case((1, 3, 5, 5), (6, 1, 3, 3), 3, "depthwise, two filters per channel"),
        case((2, 6, 6, 7), (9, 2, 2, 3), 3, "groups 3, non-square kernel"),
    ]
    return check(fn, reference, cases, name="grouped conv2d", torch_twin=twin)
