r"""The effective receptive field (Luo, Li, Urtasun & Zemel 2016): measured, by hand and in torch.

The ERF of an output unit :math:`y` is the map :math:`|\partial y / \partial x|` over the input
pixels, averaged over random inputs (and here over random weight draws too). This module holds

* the chain rule by hand in NumPy (:func:`conv_stack`, :func:`conv_stack_backward`,
  :func:`erf_numpy`), built on :func:`dlbook.scratch.conv2d_backward`, and the exact ERF of a
  stack of binomial kernels (:func:`binomial_erf`) or of any kernel (:func:`convolution_power`);
* :func:`torch_checks`: the hand-written backward pass and the exact maps held against autograd;
* numbers that summarize a map (:func:`erf_std`, :func:`mass_width`, :func:`fit_gaussian`);
* the torch networks the chapter measures (:func:`make_stack`) and the measurements
  (:func:`measure`, :func:`depth_sweep`, :func:`compare`);
* the training experiment: texture patches (:func:`texture_patches`), a small fully
  convolutional network (:func:`make_fcn`) and its ERF before and after training
  (:func:`train_and_measure`);
* the exercise's checker, :func:`check_erf`, and its reference, :func:`erf_of_kernels`.
"""

from __future__ import annotations

import dataclasses
import numbers
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import OptimizeWarning, curve_fit
from scipy.special import comb
from torch import nn

from dlbook import seeding
from dlbook.exercise import Case, Report, check
from dlbook.receptive import effective_receptive_field, receptive_field
from dlbook.scratch import conv2d, conv2d_backward

__all__ = [
    "conv_stack", "conv_stack_backward", "centre_gradient", "erf_numpy", "binomial_erf",
    "convolution_power", "erf_std", "mass_width", "profile", "GaussianFit", "fit_gaussian",
    "loglog_slope", "Residual", "make_stack", "field_size", "measure", "depth_sweep", "Measured",
    "compare", "CONFIGS", "TEXTURES", "texture_patches", "mask_centre", "make_fcn", "erf_on",
    "train_and_measure", "train_seeds", "torch_checks", "erf_of_kernels", "check_erf",
]  # fmt: skip


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def _dilations(dilation, depth):
    """One dilation per layer, from an int or a sequence of ``depth`` ints."""
    if isinstance(dilation, numbers.Integral):
        return [_positive_int(dilation, "dilation")] * depth
    d = [_positive_int(v, "dilation") for v in dilation]
    if len(d) != depth:
        raise ValueError(f"dilation must be an int or {depth} ints (one per layer), got {d}")
    return d


# --- the chain rule by hand (NumPy) --------------------------------------------------------------


def _forward(x, weights, dilations, relu):
    """Run the stack, keeping what the backward pass needs: each layer's input and ReLU mask."""
    inputs, masks = [], []
    for w, d in zip(weights, dilations):
        inputs.append(x)
        z = conv2d(x, w, padding="same", dilation=d)
        mask = z > 0 if relu else None
        masks.append(mask)
        x = z * mask if relu else z
    return x, inputs, masks


def conv_stack(input, weights, dilation=1, relu=False):
    r"""A plain stack of stride-1, ``'same'``-padded convolutions without bias:
    :math:`x_{l+1} = \phi(W_l \star x_l)`, with :math:`\phi` = ReLU or the identity.

    ``input`` is ``(N, C_0, H, W)``, ``weights[l]`` is ``(C_{l+1}, C_l, k, k)`` (odd ``k``) and
    ``dilation`` an int or one per layer. Returns ``(N, C_L, H, W)``.
    """
    return _forward(input, weights, _dilations(dilation, len(weights)), relu)[0]


def conv_stack_backward(grad_output, input, weights, dilation=1, relu=False):
    """The gradient of ``sum(conv_stack(input, ...) * grad_output)`` for ``input``: the chain
    rule from the top layer down. A ReLU passes the gradient only where its input was positive;
    a convolution sends it back through its kernel (:func:`dlbook.scratch.conv2d_backward`).

    ``grad_output`` has the output's shape ``(N, C_L, H, W)``; returns ``(N, C_0, H, W)``.
    """
    dilations = _dilations(dilation, len(weights))
    _, inputs, masks = _forward(input, weights, dilations, relu)
    g = grad_output
    for x, w, d, mask in reversed(list(zip(inputs, weights, dilations, masks))):
        if mask is not None:
            g = g * mask
        g = conv2d_backward(g, x, w, padding="same", dilation=d)[0]
    return g


def centre_gradient(shape, unit=None, dtype=np.float64):
    """The output gradient that selects one unit: 1 at ``unit`` (default: the centre,
    ``(H // 2, W // 2)``) in every channel and every image, 0 elsewhere. ``shape`` is
    ``(N, C, H, W)``. Backpropagating it gives the gradient of the sum over channels of that unit,
    as :func:`dlbook.effective_receptive_field` does."""
    g = np.zeros(shape, dtype=dtype)
    uy, ux = unit if unit is not None else (shape[2] // 2, shape[3] // 2)
    g[:, :, uy, ux] = 1
    return g


def erf_numpy(input, weights, dilation=1, relu=False, unit=None):
    r"""The ERF of :func:`conv_stack`'s centre unit, by hand: backpropagate
    :func:`centre_gradient` to the input, take :math:`|\cdot|`, sum over input channels and
    average over the ``N`` inputs. ``input`` ``(N, C_0, H, W)`` → ``(H, W)``."""
    shape = (input.shape[0], weights[-1].shape[0], *input.shape[2:])
    g = conv_stack_backward(
        centre_gradient(shape, unit, input.dtype), input, weights, dilation, relu
    )
    return np.abs(g).sum(axis=1).mean(axis=0)


def binomial_erf(depth, size):
    r"""The exact ERF of ``depth`` single-channel layers with the binomial kernel
    :math:`b b^\top / 16`, :math:`b = (1, 2, 1)`: :math:`\binom{2n}{i}\binom{2n}{j} / 16^n` around
    the centre of a ``size × size`` map (``size`` odd, at least :math:`4n + 1` to hold it all)."""
    n = _positive_int(depth, "depth")
    i = np.arange(_positive_int(size, "size")) - size // 2 + n  # offset from the field's start
    p = np.where((i >= 0) & (i <= 2 * n), comb(2 * n, np.clip(i, 0, 2 * n)), 0.0) / 4.0**n
    return np.outer(p, p)


def convolution_power(kernel, depth):
    """A 1-D ``kernel`` convolved with itself: ``depth`` copies, length ``depth (k - 1) + 1``."""
    out = np.ones(1)
    for _ in range(_positive_int(depth, "depth")):
        out = np.convolve(out, kernel)
    return out


# --- numbers that summarize a map ----------------------------------------------------------------


def _normalized(erf):
    erf = np.asarray(erf, dtype=np.float64)
    if erf.ndim != 2 or not np.all(np.isfinite(erf)) or erf.min() < 0 or erf.sum() <= 0:
        raise ValueError("erf must be a non-negative (H, W) map with a positive sum")
    return erf / erf.sum()


def erf_std(erf):
    r"""The ERF's spread in pixels: treat the map as a probability distribution over pixels and
    return :math:`\sqrt{(\sigma_y^2 + \sigma_x^2)/2}`, each variance about the map's centroid."""
    p = _normalized(erf)
    var = []
    for axis in (1, 0):  # the marginal along y, then along x
        m = p.sum(axis=axis)
        i = np.arange(m.size)
        var.append(float((m * (i - (m * i).sum()) ** 2).sum()))
    return float(np.sqrt(np.mean(var)))


def mass_width(erf, fraction=0.95, centre=None):
    """The side, in pixels, of the smallest square around ``centre`` that holds ``fraction`` of
    the map's mass. ``centre = (cy, cx)`` may be half-integers (fields of even size); by default
    it is the middle of the map."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    p = _normalized(erf)
    h, w = p.shape
    cy, cx = centre if centre is not None else ((h - 1) / 2, (w - 1) / 2)
    dist = np.maximum(np.abs(np.arange(h)[:, None] - cy), np.abs(np.arange(w)[None, :] - cx))
    order = np.argsort(dist, axis=None, kind="stable")
    mass = np.cumsum(p.ravel()[order])
    r = dist.ravel()[order][np.searchsorted(mass, fraction - 1e-12)]
    return int(round(2 * r + 1))


def profile(erf):
    """The ERF's marginal along x (summed over rows), normalized to sum 1: ``(W,)``."""
    return _normalized(erf).sum(axis=0)


@dataclass(frozen=True)
class GaussianFit:
    """``amplitude · exp(-(i - mean)² / (2 sigma²))`` fitted to a profile; ``r2`` is the share of
    the profile's variance (about its mean) that the curve explains."""

    amplitude: float
    mean: float
    sigma: float
    r2: float

    def __call__(self, i):
        return self.amplitude * np.exp(-((np.asarray(i) - self.mean) ** 2) / (2 * self.sigma**2))


def fit_gaussian(values) -> GaussianFit:
    """Least-squares Gaussian through a 1-D profile (``scipy.optimize.curve_fit``), started from
    its moments."""
    v = np.asarray(values, dtype=np.float64)
    i = np.arange(v.size)
    mean = (v * i).sum() / v.sum()
    sigma = np.sqrt((v * (i - mean) ** 2).sum() / v.sum())

    def gauss(t, a, m, s):
        return a * np.exp(-((t - m) ** 2) / (2 * s**2))

    with warnings.catch_warnings():  # a 3-point profile leaves no error estimate; we need none
        warnings.simplefilter("ignore", OptimizeWarning)
        (a, m, s), _ = curve_fit(gauss, i, v, p0=(v.max(), mean, max(sigma, 0.5)))
    r2 = 1 - ((v - gauss(i, a, m, s)) ** 2).sum() / ((v - v.mean()) ** 2).sum()
    return GaussianFit(float(a), float(m), float(abs(s)), float(r2))


def loglog_slope(x, y):
    """The slope of the least-squares line through ``(log x, log y)``: the exponent ``a`` in
    ``y ∝ x^a``."""
    return float(np.polyfit(np.log(np.asarray(x, float)), np.log(np.asarray(y, float)), 1)[0])


# --- the networks, in torch ----------------------------------------------------------------------


class Residual(nn.Module):
    """``x + body(x)``: an identity shortcut around one layer (``body`` keeps the shape)."""

    def __init__(self, body: nn.Module):
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


_ACTS = {"linear": nn.Identity, "relu": nn.ReLU, "tanh": nn.Tanh}
_GAINS = {"linear": "linear", "relu": "relu", "tanh": "tanh"}


def _init_(w, init, nonlinearity, generator):
    fan_in = w.shape[1] * w.shape[2] * w.shape[3]
    with torch.no_grad():
        if init == "kaiming":  # He et al.: keeps the signal's scale from layer to layer
            nn.init.kaiming_normal_(w, nonlinearity=_GAINS[nonlinearity], generator=generator)
        elif init == "uniform":  # every weight equal and positive
            w.fill_(1.0 / fan_in)
        elif init == "binomial":  # the kernel b bᵀ/16 on every channel pair
            b = torch.tensor([1.0, 2.0, 1.0], dtype=w.dtype)
            if w.shape[2:] != (3, 3):
                raise ValueError("init='binomial' needs kernel_size=3")
            w.copy_((torch.outer(b, b) / 16 / w.shape[1]).expand_as(w))
        else:
            raise ValueError(f"init must be 'kaiming', 'uniform' or 'binomial', got {init!r}")


def make_stack(
    depth,
    channels=8,
    kernel_size=3,
    dilation=1,
    nonlinearity="relu",
    residual=False,
    downsample=None,
    downsample_after=(2, 4),
    init="kaiming",
    draws=1,
    padding="same",
    seed=0,
) -> nn.Sequential:
    """``depth`` k×k convolutions without bias, each followed by ``nonlinearity`` ('linear',
    'relu' or 'tanh'): the networks whose ERF the chapter measures.

    * ``dilation``: an int, or one per layer.
    * ``residual=True`` wraps every layer but the first (which changes the channel count) as
      ``x + φ(conv(x))``.
    * ``downsample``: ``'avg'`` or ``'max'`` puts a 2×2 pool after each layer numbered (from 1)
      in ``downsample_after``; ``'stride'`` gives those layers stride 2 instead.
    * ``draws > 1`` builds that many independent networks side by side as groups (``groups =
      draws``), so one pass measures them all: ``(N, draws, H, W)`` → ``(N, draws·channels, ...)``.
    * ``padding``: ``'same'`` (k // 2 · dilation) or ``'valid'`` (0).

    Weights come from ``init`` ('kaiming' normal, 'uniform' or 'binomial'), seeded by ``seed``.
    """
    depth, channels = _positive_int(depth, "depth"), _positive_int(channels, "channels")
    draws, k = _positive_int(draws, "draws"), _positive_int(kernel_size, "kernel_size")
    dilations = _dilations(dilation, depth)
    if nonlinearity not in _ACTS:
        raise ValueError(f"nonlinearity must be one of {tuple(_ACTS)}, got {nonlinearity!r}")
    if downsample not in (None, "avg", "max", "stride"):
        raise ValueError(f"downsample must be None, 'avg', 'max' or 'stride', got {downsample!r}")
    if padding not in ("same", "valid"):
        raise ValueError(f"padding must be 'same' or 'valid', got {padding!r}")
    if residual and padding != "same":
        raise ValueError("residual=True needs padding='same' (the shortcut keeps the shape)")
    gen = seeding.generator(seed)
    layers, c_in = [], draws
    for i, d in enumerate(dilations, start=1):
        stride = 2 if downsample == "stride" and i in downsample_after else 1
        pad = d * (k - 1) // 2 if padding == "same" else 0
        conv = nn.Conv2d(c_in, draws * channels, k, stride, pad, d, groups=draws, bias=False)
        _init_(conv.weight, init, nonlinearity, gen)
        layer = nn.Sequential(conv, _ACTS[nonlinearity]())
        layers.append(Residual(layer) if residual and i > 1 and stride == 1 else layer)
        if downsample in ("avg", "max") and i in downsample_after:
            layers.append(nn.AvgPool2d(2) if downsample == "avg" else nn.MaxPool2d(2))
        c_in = draws * channels
    return nn.Sequential(*layers)


def field_size(depth, kernel_size=3, dilation=1):
    """The theoretical receptive field of a stride-1 stack: ``1 + Σ_l d_l (k - 1)`` pixels."""
    return 1 + sum(d * (kernel_size - 1) for d in _dilations(dilation, depth))


def measure(model, size, n=8, seed=0, draws=1, device=None):
    """The ERF of ``model``'s centre unit on ``size × size`` inputs, averaged over ``n`` random
    inputs and over the ``draws`` networks side by side in it: ``(size, size)`` float64."""
    shape = (draws, size, size)
    return effective_receptive_field(model, shape, n=n, seed=seed, device=device) / draws


def depth_sweep(depths, n=4, draws=8, seed=0, **stack):
    """The ERF of a fresh stack of each depth in ``depths``, one map per depth.

    Each map is one theoretical field wide (``field_size``): the input is exactly that size and
    the convolutions are unpadded (``'same'`` for residual stacks, where the field then just fits),
    so no padding ever reaches the centre unit. ``stack`` goes to :func:`make_stack`.
    """
    maps = []
    for j, depth in enumerate(depths):
        kw = dict(stack, padding="same" if stack.get("residual") else "valid")
        model = make_stack(depth, draws=draws, seed=seed + j, **kw)
        size = field_size(depth, stack.get("kernel_size", 3), stack.get("dilation", 1))
        maps.append(measure(model, size, n=n, seed=seed + j, draws=draws))
    return maps


# --- one depth, many architectures ---------------------------------------------------------------

# The architectures the chapter compares at one depth: keyword arguments of make_stack.
CONFIGS = {
    "linear": dict(nonlinearity="linear"),
    "ReLU": dict(),
    "ReLU + residual": dict(residual=True),
    "ReLU, dilation 2": dict(dilation=2),
    "ReLU, 2 avg pools": dict(downsample="avg"),
    "ReLU, 2 max pools": dict(downsample="max"),
    "ReLU, 2 stride-2 convs": dict(downsample="stride"),
    "ReLU, dilation 1,1,2,2,4,4,8,8": dict(dilation=(1, 1, 2, 2, 4, 4, 8, 8)),
}


@dataclass(frozen=True)
class Measured:
    """One architecture's ERF: the map on a ``size × size`` input, the theoretical ``field``
    (its side, and the ``rows``/``cols`` it covers), the ERF's ``std`` and ``width95`` (the
    side of the centred square holding 95% of the mass, :func:`mass_width`), in pixels."""

    name: str
    erf: np.ndarray
    field: int
    rows: range
    cols: range
    std: float
    width95: int

    @property
    def ratio(self) -> float:
        """``width95 / field``: how much of the theoretical field the ERF really uses."""
        return self.width95 / self.field


def _fitting_size(model, draws):
    """The smallest input on which the centre output unit's field lies inside the image and is
    centred to within a pixel, so that no padding reaches it."""
    rf = receptive_field(model, (draws, 256, 256))
    (r, _), (j, _), (p, _) = rf.size, rf.stride, rf.padding
    with torch.no_grad():
        for size in range(r, r + 4 * j + 4):
            out = model(torch.zeros(1, draws, size, size)).shape[-1]
            lo = (out // 2) * j - p
            if lo >= 0 and lo + r <= size and abs(lo - (size - lo - r)) <= 1:
                return size
    raise ValueError("model: no input size centres its middle unit's field")  # pragma: no cover


def compare(configs=None, depth=8, n=8, draws=4, seed=0, channels=8) -> list[Measured]:
    """Measure each architecture in ``configs`` (default :data:`CONFIGS`) at one ``depth``, on
    the smallest input that holds its centre unit's whole field."""
    rows = []
    for name, kw in (CONFIGS if configs is None else configs).items():
        model = make_stack(depth, channels=channels, draws=draws, seed=seed, **kw)
        size = _fitting_size(model, draws)
        rf = receptive_field(model, (draws, size, size))
        region = rf.region(rf.out_shape[1] // 2, rf.out_shape[2] // 2)
        erf = measure(model, size, n=n, seed=seed, draws=draws)
        centre = ((region.rows.start + region.rows.stop - 1) / 2,) * 2
        std, width = erf_std(erf), mass_width(erf, 0.95, centre)
        rows.append(Measured(name, erf, rf.size[0], region.rows, region.cols, std, width))
    return rows


# --- training: does the ERF change? --------------------------------------------------------------

TEXTURES = ("brick", "grass", "gravel")


def texture_patches(size=32, n_train=400, n_test=150, image_size=256, seed=0):
    """Random ``size × size`` patches of scikit-image's brick, grass and gravel photographs
    (labels 0, 1, 2), each scaled to zero mean and unit variance so that only texture, not
    brightness, tells them apart. Training patches come from the top three quarters of each
    photograph (resized to ``image_size``), test patches from the bottom quarter: they never
    overlap. Returns a :class:`dlbook.data.Split` with ``(N, 1, size, size)`` float32 images."""
    from dlbook.data import Split, load_image

    rng = seeding.rng(seed)
    cut = 3 * image_size // 4
    if cut - size < 1 or image_size - cut - size < 1:
        raise ValueError(f"image_size={image_size} is too small for {size}-pixel patches")
    parts = {"train": ([], []), "test": ([], [])}
    for label, name in enumerate(TEXTURES):
        img = load_image(name, size=(image_size, image_size))
        for split, count, (top, bottom) in (
            ("train", n_train, (0, cut)),
            ("test", n_test, (cut, image_size)),
        ):
            ys = rng.integers(top, bottom - size, count)
            xs = rng.integers(0, image_size - size, count)
            p = np.stack([img[y : y + size, x : x + size] for y, x in zip(ys, xs)])
            p = (p - p.mean(axis=(1, 2), keepdims=True)) / p.std(axis=(1, 2), keepdims=True)
            parts[split][0].append(p[:, None].astype(np.float32))
            parts[split][1].append(np.full(count, label))
    (xtr, ytr), (xte, yte) = ((np.concatenate(a), np.concatenate(b)) for a, b in parts.values())
    return Split(xtr, ytr, xte, yte)


def mask_centre(data, size=16, seed=0):
    """A copy of ``data`` (a :class:`dlbook.data.Split`) whose images have their central
    ``size × size`` pixels replaced by standard-normal noise, in the training and the test images
    alike: the texture is visible only near the border."""
    size = _positive_int(size, "size")
    h, w = data.x_train.shape[-2:]
    if size > min(h, w):
        raise ValueError(f"size={size} is larger than the {h}×{w} images")
    rng = seeding.rng(seed)
    top, left = (h - size) // 2, (w - size) // 2
    window = (..., slice(top, top + size), slice(left, left + size))
    out = []
    for x in (data.x_train, data.x_test):
        x = x.copy()
        x[window] = rng.standard_normal(x[window].shape).astype(x.dtype)
        out.append(x)
    return dataclasses.replace(data, x_train=out[0], x_test=out[1])


def make_fcn(width=8, classes=3):
    """A small fully convolutional network: ``model[0]`` holds the features, two 3×3 ReLU
    convolutions before each of two 2×2 max pools and two after (``w, w, 2w, 2w, 2w, 2w``
    channels; a 32-pixel field), and ``model[1:]`` a 1×1 convolution to class scores averaged
    over the map (global average pooling)."""
    w = _positive_int(width, "width")
    chans = [1, w, w, 2 * w, 2 * w, 2 * w, 2 * w]
    layers = []
    for i in range(6):
        layers += [nn.Conv2d(chans[i], chans[i + 1], 3, padding=1), nn.ReLU()]
        if i in (1, 3):
            layers.append(nn.MaxPool2d(2))
    head = [nn.Conv2d(2 * w, classes, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    return nn.Sequential(nn.Sequential(*layers), *head)


def erf_on(model, x, unit=None):
    """The ERF of ``model``'s centre unit on the given inputs ``x`` ``(N, C, H, W)`` (real images
    rather than noise): ``(H, W)``, averaged over the ``N`` images."""
    x = torch.as_tensor(x)
    return effective_receptive_field(model, tuple(x.shape[1:]), unit=unit, inputs=x)


def train_and_measure(data, width=8, epochs=6, lr=3e-3, seed=0, n=64, n_real=256):
    """Train :func:`make_fcn` on ``data`` with :func:`dlbook.train.fit` (on the CPU) and measure
    its features' ERF before and after: on ``n`` noise inputs and on ``n_real`` test images.

    Returns a dict: ``history``, ``initial`` and ``trained`` (each a dict of ``noise`` and
    ``real`` maps with their ``std`` and ``width95``), the centre unit's theoretical ``field``
    and its ``rows``/``cols``.
    """
    import copy

    from dlbook.train import fit, seed_everything

    seed_everything(seed)
    size = data.x_train.shape[-1]
    model = make_fcn(width, int(data.y_train.max()) + 1)
    initial = copy.deepcopy(model[0])
    history = fit(model, data, epochs=epochs, lr=lr, batch_size=64, device="cpu", seed=seed)
    rf = receptive_field(model[0], (1, size, size))
    region = rf.region(rf.out_shape[1] // 2, rf.out_shape[2] // 2, clip=False)
    centre = ((region.rows.start + region.rows.stop - 1) / 2,) * 2
    out = dict(history=history, field=rf.size[0], rows=region.rows, cols=region.cols)
    for name, net in (("initial", initial), ("trained", model[0])):
        maps = dict(
            noise=effective_receptive_field(net, (1, size, size), n=n, seed=seed),
            real=erf_on(net, data.x_test[:n_real]),
        )
        out[name] = {
            **maps,
            **{f"{k}_std": erf_std(m) for k, m in maps.items()},
            **{f"{k}_width95": mass_width(m, 0.95, centre) for k, m in maps.items()},
        }
    return out


def train_seeds(data, seeds=(0, 1, 2), **kw):
    """:func:`train_and_measure` once per seed in ``seeds`` (keyword arguments ``kw`` go to it):
    a list of its results, in the order of ``seeds``."""
    return [train_and_measure(data, seed=seed, **kw) for seed in seeds]


def torch_checks(x, depth: int = 6):
    """The chapter's checks of the ERF by hand, on inputs ``x`` ``(N, 1, S, S)`` float64 (``S``
    odd, at least ``2 depth + 1``):

    1. ``depth`` binomial layers: :func:`erf_numpy` against
       :func:`dlbook.effective_receptive_field` (autograd), and :func:`binomial_erf` against both;
    2. ``depth`` flat box kernels: the ERF is ``(1, 1, 1) / 3`` convolved with itself ``depth``
       times (:func:`convolution_power`), squared into 2-D;
    3. three ReLU layers with 4 channels and dilation 2: :func:`erf_numpy` against autograd on
       the very same inputs.

    Returns ``(rows, relu_weights)``: ``{label: (a, b)}`` for :func:`dlbook.verify.compare`, and
    the ReLU stack's weights (for a gradient check of :func:`conv_stack_backward`).
    """
    x = np.asarray(x, dtype=np.float64)
    size = x.shape[-1]
    # 1. Binomial kernels: one channel, no nonlinearity.
    binomial = make_stack(depth, channels=1, nonlinearity="linear", init="binomial").double()
    w_binomial = [m.weight.detach().numpy() for m in binomial.modules() if isinstance(m, nn.Conv2d)]
    ours = erf_numpy(x, w_binomial)
    theirs = effective_receptive_field(binomial, (1, size, size), n=3)
    exact = binomial_erf(depth, size)
    # 2. Flat box kernels: the ERF is (1/3, 1/3, 1/3) convolved with itself `depth` times, squared.
    box = [np.full((1, 1, 3, 3), 1 / 9)] * depth
    p = convolution_power(np.full(3, 1 / 3), depth)
    box_exact = np.pad(np.outer(p, p), (size - p.size) // 2)
    # 3. ReLU, 4 channels, dilation 2: autograd on the very same inputs.
    relu_net = make_stack(3, channels=4, dilation=2, seed=1).double()
    w_relu = [m.weight.detach().numpy() for m in relu_net.modules() if isinstance(m, nn.Conv2d)]
    xt = torch.from_numpy(x).requires_grad_()
    y = relu_net(xt)
    y[:, :, size // 2, size // 2].sum().backward()
    rows = {
        "binomial: scratch vs effective_receptive_field": (ours, theirs),
        "binomial: exact C(2n,i)C(2n,j)/16^n vs torch": (exact, theirs),
        "binomial: exact vs scratch": (exact, ours),
        f"box: scratch vs (1,1,1)/3 convolved {depth} times": (erf_numpy(x, box), box_exact),
        "ReLU + dilation 2: scratch vs autograd": (
            erf_numpy(x, w_relu, dilation=2, relu=True),
            xt.grad.abs().sum(1).mean(0),
        ),
    }
    return rows, w_relu


def erf_of_kernels(kernels, size):
    r"""The ERF of the centre unit of a linear stack of single-channel, stride-1, ``'same'``
    zero-padded cross-correlations, on a ``size × size`` input: :func:`erf_numpy` with one input
    (a linear stack's gradient does not depend on it).

    Shapes:
        kernels: a list of (k, k) arrays, k odd, applied first to last
        returns: (size, size)
    Formula:
        ERF[i, j] = |∂ y[c, c] / ∂ x[i, j]|, c = size // 2, y = w_L ⋆ (... ⋆ (w_1 ⋆ x))
    Torch:
        autograd through torch.nn.functional.conv2d with padding='same'
    """
    weights = [np.asarray(w, dtype=np.float64)[None, None] for w in kernels]
    return erf_numpy(np.zeros((1, 1, size, size)), weights)


def check_erf(fn) -> Report:
    """Hold the reader's ``fn(kernels, size)`` to :func:`erf_of_kernels` on a lopsided kernel
    (which catches a flip), two layers of different sizes with negative weights (which catch a
    missing absolute value), and a field wider than the input (which catches the padding).

    Shapes:
        kernels: a list of (k, k) float64 arrays, k odd; size: an odd int
        returns: a Report; fn must return the (size, size) float64 map
    Formula:
        ERF[i, j] = |∂ y[c, c] / ∂ x[i, j]|, c = size // 2
    Torch:
        autograd through torch.nn.functional.conv2d with padding='same'
    """
    import torch.nn.functional as F

    def twin(kernels, size):
        x = torch.zeros(1, 1, size, size, dtype=torch.float64, requires_grad=True)
        y = x
        for w in kernels:
            y = F.conv2d(y, torch.from_numpy(w)[None, None], padding="same")
        y[0, 0, size // 2, size // 2].backward()
        return x.grad[0, 0].abs()

    rng = np.random.default_rng(7)  # fixed, not DLBOOK_SEED: one report everywhere
    lopsided = np.array([[0.0, 1.0, 2.0], [0.0, 3.0, 0.0], [0.0, 0.0, 0.0]])
    cases = [
        Case(([lopsided], 7), label="one lopsided 3×3 kernel"),
        Case(
            ([rng.standard_normal((3, 3)), rng.standard_normal((5, 5))], 11),
            label="a 3×3 layer, then a 5×5 one, with negative weights",
        ),
        Case(
            ([rng.standard_normal((3, 3)) for _ in range(4)], 5),
            label="four 3×3 layers on a 5×5 input: the padding cuts the 9-pixel field",
        ),
    ]
    return check(fn, erf_of_kernels, cases, name="erf", torch_twin=twin)
