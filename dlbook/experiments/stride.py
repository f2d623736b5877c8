"""Does a larger stride make a CNN more accurate? The digits, trained at strides 1, 2 and 3.

Every network has the same two 3×3 convolutions (padding 1, the same channels) and a linear
classifier on the flattened feature map; only the stride of the two convolutions changes. The
8×8 digits get a 2-pixel border of zeros (12×12), so that stride 3 still leaves a 2×2 map; they
are not upsampled, which would repeat pixels and let a stride skip copies instead of information.
A larger stride shrinks the map, so it cuts the multiply-adds and the classifier's weights, and it
widens each feature's receptive field; what it does to accuracy is what the experiment measures.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from dlbook.data import Split, load_digits
from dlbook.shapes import conv_output_size
from dlbook.train import fit, seed_everything

__all__ = ["pad_images", "build_model", "count_macs", "StrideResult", "run"]


def pad_images(split: Split, border: int = 2) -> Split:
    """A border of zeros around every image: ``(N, 1, H, W)`` → ``(N, 1, H + 2b, W + 2b)``."""
    if isinstance(border, bool) or not isinstance(border, int) or border < 0:
        raise ValueError(f"border must be a non-negative int, got {border!r}")

    def pad(x):
        return np.pad(x, ((0, 0), (0, 0), (border, border), (border, border)))

    return Split(pad(split.x_train), split.y_train, pad(split.x_test), split.y_test)


def build_model(
    stride: int, size: int = 12, channels=(8, 16), classes: int = 10, head: str = "flatten"
):
    """conv3×3(stride) → ReLU → conv3×3(stride) → ReLU → head, for ``size``² inputs.

    ``head="flatten"`` puts a linear layer on the whole flattened feature map (its weights grow
    with the map); ``head="gap"`` averages each channel over the map first (global average
    pooling), so every stride has the same parameters. Returns an ``nn.Sequential`` mapping
    ``(N, 1, size, size)`` to ``(N, classes)``.
    """
    from torch import nn

    if isinstance(stride, bool) or not isinstance(stride, int) or stride < 1:
        raise ValueError(f"stride must be a positive int, got {stride!r}")
    if head not in ("flatten", "gap"):
        raise ValueError(f"head must be 'flatten' or 'gap', got {head!r}")
    c1, c2 = channels
    out = conv_output_size(conv_output_size(size, 3, stride, 1), 3, stride, 1)
    pool = [nn.AdaptiveAvgPool2d(1)] if head == "gap" else []
    features = c2 if head == "gap" else c2 * out * out
    return nn.Sequential(
        nn.Conv2d(1, c1, 3, stride=stride, padding=1),
        nn.ReLU(),
        nn.Conv2d(c1, c2, 3, stride=stride, padding=1),
        nn.ReLU(),
        *pool,
        nn.Flatten(),
        nn.Linear(features, classes),
    )


def count_macs(model, input_shape) -> int:
    """Multiply-adds of one forward pass for one ``(C, H, W)`` input (Conv2d and Linear layers).

    A convolution costs ``C_out · H_out · W_out · (C_in / groups) · kH · kW``; a linear layer
    ``in · out``. Biases and activations are not counted.
    """
    import torch
    from torch import nn

    total = 0

    def hook(module, inputs, output):
        nonlocal total
        if isinstance(module, nn.Conv2d):
            kh, kw = module.kernel_size
            total += output[0].numel() * (module.in_channels // module.groups) * kh * kw
        elif isinstance(module, nn.Linear):
            total += module.in_features * module.out_features

    handles = [
        m.register_forward_hook(hook)
        for m in model.modules()
        if isinstance(m, (nn.Conv2d, nn.Linear))
    ]
    try:
        device = next(model.parameters()).device
        with torch.no_grad():
            model(torch.zeros(1, *input_shape, device=device))
    finally:
        for h in handles:
            h.remove()
    return total


@dataclass
class StrideResult:
    """One stride's runs: test accuracies per seed (final, and after every epoch) and the network's
    size and cost."""

    stride: int
    accuracies: list[float]
    curves: list[list[float]]  # test accuracy after each epoch, one list per seed
    params: int
    macs: int
    feature_map: int  # side of the last feature map
    receptive_field: int  # side of one last-layer feature's receptive field, in input pixels

    @property
    def mean(self) -> float:
        return float(np.mean(self.accuracies))

    @property
    def std(self) -> float:
        return float(np.std(self.accuracies))

    @property
    def mean_curve(self) -> np.ndarray:
        """Test accuracy after each epoch, averaged over the seeds: shape ``(epochs,)``."""
        return np.mean(self.curves, axis=0)


def _receptive_field(stride: int, layers: int = 2, kernel: int = 3) -> int:
    # r grows by (k - 1) times the jump (the product of the strides so far).
    r, jump = 1, 1
    for _ in range(layers):
        r, jump = r + (kernel - 1) * jump, jump * stride
    return r


@contextmanager
def _torch_threads(n):
    """Cap torch's CPU threads inside the block, then restore them."""
    import torch

    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def run(
    strides=(1, 2, 3),
    seeds=(0, 1, 2),
    epochs: int = 10,
    lr: float = 0.02,
    batch_size: int = 64,
    channels=(8, 16),
    head: str = "flatten",
    border: int = 2,
    device=None,
    threads: int | None = 1,
) -> list[StrideResult]:
    """Train one network per (stride, seed) on the padded digits; return one row per stride.

    Each run trains with Adam through :func:`dlbook.train.fit` and reports the final epoch's test
    accuracy. ``threads`` caps torch's CPU threads during the runs (restored afterwards): layers
    this small spend more time synchronising threads than computing, most of all on a busy machine.
    """
    data = pad_images(load_digits(), border)
    size = data.x_train.shape[-1]
    results = []
    with _torch_threads(threads):
        for s in strides:
            curves = []
            for seed in seeds:
                seed_everything(seed)  # the same initial draw order for every stride
                model = build_model(s, size, channels, head=head)
                history = fit(
                    model,
                    data,
                    epochs=epochs,
                    lr=lr,
                    batch_size=batch_size,
                    seed=seed,
                    device=device,
                )
                curves.append(history["test_acc"])
            results.append(
                StrideResult(
                    stride=s,
                    accuracies=[c[-1] for c in curves],
                    curves=curves,
                    params=sum(p.numel() for p in model.parameters()),
                    macs=count_macs(model, (1, size, size)),
                    feature_map=conv_output_size(conv_output_size(size, 3, s, 1), 3, s, 1),
                    receptive_field=_receptive_field(s),
                )
            )
    return results
