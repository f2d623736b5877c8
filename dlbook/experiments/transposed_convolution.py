"""Checkerboard artifacts, measured and trained away: the Transposed convolution experiment.

* :func:`output_sizes_against_torch` puts the output-size formula next to what
  ``F.conv_transpose2d`` returns, over a grid of settings.
* :func:`checkerboard_contrast` measures a checkerboard: how much the four 2×2 phases of an image
  differ in mean brightness.
* :func:`constant_transposed` and :func:`resize_conv` upsample a photograph by 2 with fixed
  weights, a transposed convolution with a constant kernel and a resize-convolution.
* :func:`photo_tiles`, :func:`make_layer` and :func:`train_upsamplers` learn one-channel stride-2
  upsampling layers on tiles of photographs and track their checkerboard while they train;
  :func:`psnr` scores them.
* :func:`zero_insert` and :func:`conv_transpose2d_zero_insertion` compute a transposed
  convolution as an ordinary one: zeros between the inputs, padding, and the flipped kernel.
"""

from __future__ import annotations

import itertools
import numbers
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from dlbook import seeding
from dlbook.checks import pair
from dlbook.data import Split, load_image
from dlbook.exercise import Case, Report, check
from dlbook.scratch import conv2d, conv_transpose2d
from dlbook.shapes import conv_transpose_output_size

__all__ = [
    "KINDS",
    "output_sizes_against_torch",
    "checkerboard_contrast",
    "constant_transposed",
    "resize_conv",
    "psnr",
    "photo_tiles",
    "make_layer",
    "flat_contrast",
    "UpsamplingRun",
    "train_upsamplers",
    "check_conv_transpose2d",
    "zero_insert",
    "conv_transpose2d_zero_insertion",
]

# The learned layers the experiment compares, by the names the chapter prints.
KINDS = ("transposed k=3", "transposed k=4", "resize-conv")
BASELINE = "bilinear (fixed)"


def output_sizes_against_torch(sizes, kernels, strides, paddings, dilations, output_paddings):
    """The transposed output-size formula and ``F.conv_transpose2d``, on every combination.

    Returns ``{(n, k, s, p, d, op): (ours, theirs)}``: ``ours`` is
    :func:`dlbook.shapes.conv_transpose_output_size` (None where it raises ``ValueError``),
    ``theirs`` the width of ``F.conv_transpose2d``'s output on an ``n×n`` input with a ``k×k``
    kernel and ``output_padding=op`` (None where torch raises ``RuntimeError``; 0 where torch
    returns an empty tensor).
    """
    import torch
    import torch.nn.functional as F

    table = {}
    grid = itertools.product(sizes, kernels, strides, paddings, dilations, output_paddings)
    for n, k, s, p, d, op in grid:
        try:
            ours = conv_transpose_output_size(n, k, s, p, op, d)
        except ValueError:
            ours = None
        x, w = torch.zeros(1, 1, n, n), torch.zeros(1, 1, k, k)
        kwargs = dict(stride=s, padding=p, output_padding=op, dilation=d)
        try:
            theirs = F.conv_transpose2d(x, w, **kwargs).shape[-1]
        except RuntimeError:
            theirs = None
        table[n, k, s, p, d, op] = ours, theirs
    return table


def _int_at_least(value, name, low):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    return int(value)


def _image(img):
    img = np.asarray(img, dtype=np.float64)
    if img.ndim != 2:
        raise ValueError(f"img must be a 2-D (H, W) image, got shape {img.shape}")
    return img


def checkerboard_contrast(u, border: int = 4):
    r"""How much the four 2×2 phases of ``u`` differ: 0 for no checkerboard at all.

    ``u`` is ``(..., H, W)``; the contrast is taken over the last two axes, away from a ``border``
    of pixels on every side (an upsampling layer's border has an artifact of its own). With
    :math:`m_{ab}` the mean of the phase ``u[..., a::2, b::2]``, :math:`a, b \in \{0, 1\}`,

    .. math::
        \text{contrast} = \frac{\operatorname{std}_{ab} m_{ab}}{|\operatorname{mean}_{ab} m_{ab}|}
        = \sqrt{E_\text{Nyquist} / E_\text{DC}}

    (population std). The second form holds when the cropped size is even: the energy of the
    discrete Fourier transform at :math:`(\pi, 0)`, :math:`(0, \pi)` and :math:`(\pi, \pi)`,
    over the energy at frequency zero. Returns a float64 array of shape ``(...)``.
    """
    u = np.asarray(u, dtype=np.float64)
    border = _int_at_least(border, "border", 0)
    if u.ndim < 2:
        raise ValueError(f"u must have at least 2 dimensions (H, W), got shape {u.shape}")
    h, w = u.shape[-2:]
    if min(h, w) - 2 * border < 2:
        raise ValueError(f"border={border} leaves less than 2×2 of a {h}×{w} image")
    u = u[..., border : h - border, border : w - border]
    phases = np.stack([u[..., a::2, b::2].mean(axis=(-2, -1)) for a in (0, 1) for b in (0, 1)])
    return phases.std(axis=0) / np.abs(phases.mean(axis=0))


def constant_transposed(img, kernel_size: int, padding=0, output_padding=0, stride: int = 2):
    """``conv_transpose2d`` of an ``(H, W)`` image with a constant ``kernel_size``² kernel.

    Every weight is :math:`s^2/k^2`, so the *average* gain over the output is 1 and only the
    uneven overlap of the stamps is left to see. Returns the ``(H_out, W_out)`` image, with
    ``H_out = (H - 1)s - 2p + k + output_padding``.
    """
    img = _image(img)
    kernel_size = _int_at_least(kernel_size, "kernel_size", 1)
    stride = _int_at_least(stride, "stride", 1)
    kernel = np.full((1, 1, kernel_size, kernel_size), stride**2 / kernel_size**2)
    out = conv_transpose2d(
        img[None, None], kernel, stride=stride, padding=padding, output_padding=output_padding
    )
    return out[0, 0]


def resize_conv(img, mode: str = "nearest"):
    """Resize an ``(H, W)`` image by 2 (``mode`` 'nearest' or 'bilinear'), then a 3×3 box blur.

    The resize is ``torch.nn.functional.interpolate``; the blur is :func:`dlbook.scratch.conv2d`
    with padding 1 and every weight 1/9. Returns the ``(2H, 2W)`` image.
    """
    import torch
    import torch.nn.functional as F

    img = _image(img)
    if mode not in ("nearest", "bilinear"):
        raise ValueError(f"mode must be 'nearest' or 'bilinear', got {mode!r}")
    resized = F.interpolate(torch.tensor(img[None, None]), scale_factor=2, mode=mode).numpy()
    return conv2d(resized, np.full((1, 1, 3, 3), 1 / 9), padding=1)[0, 0]


def psnr(pred, target, border: int = 0) -> float:
    r"""Peak signal-to-noise ratio in dB for images in [0, 1]: :math:`10 \log_{10}(1/\text{MSE})`.

    ``pred`` and ``target`` are tensors (or arrays) of one shape ``(..., H, W)``; the mean squared
    error is over every entry, away from ``border`` pixels on every side. Identical images give
    ``inf``; each halving of the error's amplitude adds about 6 dB.
    """
    import torch
    import torch.nn.functional as F

    pred, target = torch.as_tensor(pred), torch.as_tensor(target)
    if pred.shape != target.shape:
        raise ValueError(
            f"pred and target must have one shape, got {pred.shape} and {target.shape}"
        )
    if pred.ndim < 2:
        raise ValueError(f"pred must have at least 2 dimensions (H, W), got {tuple(pred.shape)}")
    border = _int_at_least(border, "border", 0)
    h, w = pred.shape[-2:]
    if min(h, w) <= 2 * border:
        raise ValueError(f"border={border} leaves nothing of a {h}×{w} image")
    inner = (..., slice(border, h - border), slice(border, w - border))
    return 10 * torch.log10(1 / F.mse_loss(pred[inner], target[inner])).item()


def photo_tiles(names=("camera", "brick", "grass", "gravel"), tile: int = 64, holdout: int = 4):
    """Tiles of 512×512 photographs: 2×2-averaged inputs and full-size targets, as a ``Split``.

    Each photograph is cut into ``(512 / tile)²`` tiles of ``tile × tile`` (the targets ``y``);
    the inputs ``x`` are their 2×2 averages, ``tile/2 × tile/2``. Every ``holdout``-th tile goes to
    the test set. Arrays are float32 ``(N, 1, H, W)`` in [0, 1]; ``y`` holds images, not labels.
    """
    import torch
    import torch.nn.functional as F

    tile = _int_at_least(tile, "tile", 2)
    holdout = _int_at_least(holdout, "holdout", 2)
    if tile % 2 or 512 % tile:
        raise ValueError(f"tile must be even and divide 512, got {tile}")
    if not names:
        raise ValueError("names must name at least one photograph")
    n, tiles = 512 // tile, []
    for name in names:
        img = load_image(name, dtype=np.float32)
        if img.shape != (512, 512):
            raise ValueError(f"names must be 512×512 photographs, {name!r} is {img.shape}")
        tiles.append(img.reshape(n, tile, n, tile).transpose(0, 2, 1, 3).reshape(-1, tile, tile))
    high = torch.tensor(np.concatenate(tiles))[:, None]
    low = F.avg_pool2d(high, 2)  # torch's rounding, so the chapter's numbers stay put
    test = np.arange(len(high)) % holdout == 0
    high, low = high.numpy(), low.numpy()
    return Split(low[~test], high[~test], low[test], high[test])


def make_layer(kind: str, seed: int = 0):
    """A one-channel stride-2 upsampling layer, ``(N, 1, H, W) -> (N, 1, 2H, 2W)``.

    ``kind`` is one of :data:`KINDS`: ``"transposed k=3"`` (``ConvTranspose2d``, padding 1,
    output padding 1), ``"transposed k=4"`` (padding 1) or ``"resize-conv"`` (nearest resize,
    then a 3×3 ``Conv2d`` with padding 1). Its weights are drawn after
    ``seeding.manual_seed(seed)``.
    """
    from torch import nn

    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    seeding.manual_seed(seed)
    if kind == "transposed k=3":
        return nn.ConvTranspose2d(1, 1, 3, stride=2, padding=1, output_padding=1)
    if kind == "transposed k=4":
        return nn.ConvTranspose2d(1, 1, 4, stride=2, padding=1)
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(1, 1, 3, padding=1))


def flat_contrast(upsample, size: int = 32, device=None) -> float:
    """:func:`checkerboard_contrast` of ``upsample``'s response to a flat grey ``size``² input.

    A flat input has no phases of its own, so any checkerboard in the response is the layer's.
    ``upsample`` is a module or any function of an ``(1, 1, size, size)`` tensor.
    """
    import torch

    size = _int_at_least(size, "size", 5)  # doubled, 10: a 2×2 interior inside the 4-pixel border
    flat = torch.full((1, 1, size, size), 0.5, device=device)
    with torch.no_grad():
        return float(checkerboard_contrast(upsample(flat).cpu().numpy()[0, 0]))


@dataclass
class UpsamplingRun:
    """What :func:`train_upsamplers` measured.

    ``scores[kind]`` has ``psnr`` and ``interior`` (held-out PSNR in dB, the whole tile and away
    from a 4-pixel border) and ``init`` and ``final`` (flat-input contrast, a fraction);
    ``curves[kind]`` is the flat-input contrast at steps 0, ``every``, ``2·every``, ... ``≤ steps``.
    The fixed bilinear baseline is scored under ``"bilinear (fixed)"``, with ``init`` NaN.
    """

    steps: int
    every: int
    scores: dict[str, dict[str, float]] = field(default_factory=dict)
    curves: dict[str, list[float]] = field(default_factory=dict)
    layers: dict = field(default_factory=dict)

    def first_step_below(self, threshold: float) -> dict[str, int | None]:
        """The first recorded step at which each layer's contrast is below ``threshold``."""
        return {
            kind: next((i * self.every for i, c in enumerate(curve) if c < threshold), None)
            for kind, curve in self.curves.items()
        }

    def table(self) -> str:
        """The scores as a text table, contrasts in percent."""
        lines = [
            f"{'':17} {'held-out PSNR (dB)':>19} {'flat-input contrast (%)':>25}",
            f"{'':17} {'whole':>8} {'interior':>10} {'at init':>13} {'trained':>11}",
        ]
        for kind, r in self.scores.items():
            init = "-" if np.isnan(r["init"]) else f"{100 * r['init']:.2f}"
            psnrs = f"{r['psnr']:8.2f} {r['interior']:10.2f}"
            lines.append(f"{kind:17} {psnrs} {init:>13} {100 * r['final']:11.3f}")
        return "\n".join(lines)


def train_upsamplers(
    data: Split, kinds=KINDS, steps=300, every=20, batch_size=16, lr=0.03, device=None, seed=0
) -> UpsamplingRun:
    """Train each layer of ``kinds`` (:func:`make_layer`) to map ``data.x`` to ``data.y``.

    Adam with learning rate ``lr`` on the mean squared error, ``steps`` steps of ``batch_size``
    tiles drawn with replacement from a generator seeded with ``seed``, the same for every layer.
    Every ``every`` steps the flat-input contrast (:func:`flat_contrast`) is recorded. Returns an
    :class:`UpsamplingRun` with the held-out scores, including fixed bilinear interpolation.
    """
    import torch
    import torch.nn.functional as F

    from dlbook.devices import resolve
    from dlbook.train import train_steps

    steps = _int_at_least(steps, "steps", 1)
    every = _int_at_least(every, "every", 1)
    batch_size = _int_at_least(batch_size, "batch_size", 1)
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr!r}")
    if not kinds or any(kind not in KINDS for kind in kinds):
        raise ValueError(f"kinds must be a non-empty selection of {KINDS}, got {kinds!r}")
    device = resolve(device)
    x_train, y_train, x_test, y_test = (
        torch.as_tensor(a).to(device)
        for a in (data.x_train, data.y_train, data.x_test, data.y_test)
    )
    size = x_train.shape[-1]
    run = UpsamplingRun(steps, every)

    def loss_of(layer):
        return lambda idx: F.mse_loss(layer(x_train[idx]), y_train[idx])

    # One thread: these one-channel convolutions are tiny, and on 2 shared cores splitting them
    # across 2 threads makes them several times slower, not faster.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for kind in kinds:
            layer = make_layer(kind, seed).to(device)
            opt = torch.optim.Adam(layer.parameters(), lr=lr)
            gen = seeding.generator(seed)
            batches = (
                torch.randint(0, len(x_train), (batch_size,), generator=gen) for _ in range(steps)
            )
            curve = [flat_contrast(layer, size, device)]
            for step, _ in enumerate(train_steps(loss_of(layer), opt, batches), 1):
                if step % every == 0:
                    curve.append(flat_contrast(layer, size, device))
            with torch.no_grad():
                pred = layer(x_test)
            run.scores[kind] = dict(
                psnr=psnr(pred, y_test),
                interior=psnr(pred, y_test, border=4),
                init=curve[0],
                final=flat_contrast(layer, size, device),
            )
            run.curves[kind], run.layers[kind] = curve, layer
    finally:
        torch.set_num_threads(threads)

    bilinear = partial(F.interpolate, scale_factor=2, mode="bilinear")
    pred = bilinear(x_test)
    run.scores[BASELINE] = dict(
        psnr=psnr(pred, y_test),
        interior=psnr(pred, y_test, border=4),
        init=float("nan"),
        final=flat_contrast(bilinear, size, device),
    )
    return run


def _one_plane_transposed(x, w, stride=1, padding=0):
    return conv_transpose2d(x[None, None], w[None, None], None, stride, padding)[0, 0]


def check_conv_transpose2d(fn) -> Report:
    """Hold the reader's ``fn(x, w, stride=1, padding=0)``, a one-channel transposed
    convolution with int settings, to :func:`dlbook.scratch.conv_transpose2d`: stride 1 (a full
    convolution), stride 2 with and without padding, a non-square case and a kernel smaller than
    its stride, which leaves holes.

    Shapes:
        x: (H, W); w: (kH, kW); returns: a Report
        fn returns (H_out, W_out), H_out = (H - 1) s - 2 p + kH
    Formula:
        out[s a + u, s b + v] += x[a, b] * w[u, v], then p rows and columns cropped on each side
    Torch:
        torch.nn.functional.conv_transpose2d
    """
    import torch
    import torch.nn.functional as F

    def twin(x, w, **kwargs):
        x, w = torch.from_numpy(x)[None, None], torch.from_numpy(w)[None, None]
        return F.conv_transpose2d(x, w, **kwargs)[0, 0]

    rng = np.random.default_rng(0)  # fixed: the same report whatever DLBOOK_SEED is

    def case(h, w, kh, kw, label, **kwargs):
        return Case((rng.standard_normal((h, w)), rng.standard_normal((kh, kw))), kwargs, label)

    cases = [
        case(3, 3, 3, 3, "stride 1: a full convolution"),
        case(3, 4, 3, 3, "stride 2", stride=2),
        case(4, 4, 4, 4, "stride 2, padding 1", stride=2, padding=1),
        case(3, 5, 3, 2, "non-square, stride 3, padding 1", stride=3, padding=1),
        case(3, 3, 2, 2, "kernel smaller than the stride", stride=3),
    ]
    return check(fn, _one_plane_transposed, cases, name="conv_transpose2d", torch_twin=twin)


def zero_insert(input, stride=1):
    """``stride - 1`` zeros between neighbouring pixels of ``(..., H, W)`` images: the input of
    the ordinary convolution that a transposed convolution with this stride is.

    Shapes:
        input: (..., H, W); returns: (..., (H - 1) s + 1, (W - 1) s + 1), same dtype
    """
    sh, sw = pair(stride, "stride", 1)
    x = np.asarray(input)
    h, w = x.shape[-2:]
    out = np.zeros((*x.shape[:-2], (h - 1) * sh + 1, (w - 1) * sw + 1), dtype=x.dtype)
    out[..., ::sh, ::sw] = x
    return out


def conv_transpose2d_zero_insertion(input, weight, bias=None, stride=1, padding=0,
                                    output_padding=0, groups=1, dilation=1):  # fmt: skip
    """``conv_transpose2d`` as an ordinary convolution (Dumoulin & Visin's picture): insert
    ``s - 1`` zeros between the inputs, pad by ``d (k - 1) - p`` on every side (a negative
    amount crops) and by ``output_padding`` more at the bottom and right, then convolve at
    stride 1 with the kernel turned by 180° and its two channel axes swapped (per group).

    Shapes:
        input: (N, C_in, H, W); weight: (C_in, C_out / groups, kH, kW); bias: (C_out,) or None
        returns: (N, C_out, H_out, W_out), H_out = (H - 1) s - 2 p + d (kH - 1) + op + 1
    Formula:
        conv2d(pad(zero_insert(x, s), d (k - 1) - p), flip(swap(w)), b, dilation=d, groups)
    Torch:
        torch.nn.functional.conv_transpose2d
    """
    x, w = np.asarray(input), np.asarray(weight)
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError(f"input and weight must be 4-D, got {x.shape} and {w.shape}")
    g = int(groups)
    if g < 1 or x.shape[1] != w.shape[0] or w.shape[0] % g:
        raise ValueError(f"weight's first axis must equal input's channels {x.shape[1]} and be "
                         f"divisible by groups={groups}, got weight {w.shape}")  # fmt: skip
    s, p = pair(stride, "stride", 1), pair(padding, "padding", 0)
    op, d = pair(output_padding, "output_padding", 0), pair(dilation, "dilation", 1)
    k = w.shape[-2:]
    size = conv_transpose_output_size(x.shape[-2:], k, s, p, op, d)  # checks the arguments
    z = zero_insert(x, s)
    edge = [d[a] * (k[a] - 1) - p[a] for a in (0, 1)]
    pads = [(max(edge[a], 0), max(edge[a], 0) + op[a]) for a in (0, 1)]
    z = np.pad(z, ((0, 0), (0, 0), *pads))
    crop = [max(-edge[a], 0) for a in (0, 1)]
    z = z[..., crop[0] : z.shape[-2] - crop[0], crop[1] : z.shape[-1] - crop[1]]
    c_in, c_out = w.shape[0] // g, w.shape[1]
    flipped = w.reshape(g, c_in, c_out, *k).swapaxes(1, 2).reshape(g * c_out, c_in, *k)
    out = conv2d(z, flipped[..., ::-1, ::-1].copy(), bias, 1, 0, d, g)
    if out.shape[-2:] != tuple(size):
        raise AssertionError(f"zero insertion gave {out.shape[-2:]}, expected {size}")
    return out
