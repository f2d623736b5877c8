"""Does a larger stride make a CNN more accurate? The digits, trained at strides 1, 2 and 3.

Every network has the same two 3×3 convolutions (padding 1, the same channels) and a linear
classifier on the flattened feature map; only the stride of the two convolutions changes. The
8×8 digits get a 2-pixel border of zeros (12×12), so that stride 3 still leaves a 2×2 map; they
are not upsampled, which would repeat pixels and let a stride skip copies instead of information.
A larger stride shrinks the map, so it cuts the multiply-adds and the classifier's weights, and it
widens each feature's receptive field; what it does to accuracy is what the experiment measures.

:func:`patch_baseline` is a reference for the networks with global average pooling: how well a
bag of ``size×size`` patches can do with no training of features at all (k-means features of the
patches, averaged over the image, then logistic regression).

Two smaller pieces serve the chapter's checks: :func:`output_sizes_against_torch` puts the
output-size formula next to what ``F.conv2d`` returns over a grid of settings, and
:func:`footprint` measures which input pixels reach one output of a :func:`dilated_stack`.
"""

from __future__ import annotations

import itertools
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from dlbook import seeding
from dlbook.data import Split, load_digits
from dlbook.exercise import Case, Report, check
from dlbook.scratch import conv2d
from dlbook.shapes import conv_output_size
from dlbook.train import fit, seed_everything

__all__ = [
    "output_sizes_against_torch",
    "dilated_stack",
    "footprint",
    "pad_images",
    "build_model",
    "count_macs",
    "StrideResult",
    "run",
    "PatchBaseline",
    "patch_features",
    "patch_baseline",
    "check_strided_conv2d",
]


def output_sizes_against_torch(sizes, kernels, strides, paddings, dilations) -> dict:
    """The output-size formula and ``F.conv2d`` side by side, on every combination of settings.

    Returns ``{(n, k, s, p, d): (ours, theirs)}``: ``ours`` is
    :func:`dlbook.shapes.conv_output_size` (None where it raises ``ValueError``), ``theirs`` the
    width of ``F.conv2d``'s output on an ``n×n`` input with a ``k×k`` kernel (None where torch
    raises ``RuntimeError``).
    """
    import torch
    import torch.nn.functional as F

    table = {}
    for n, k, s, p, d in itertools.product(sizes, kernels, strides, paddings, dilations):
        try:
            ours = conv_output_size(n, k, s, p, d)
        except ValueError:
            ours = None
        x, w = torch.zeros(1, 1, n, n), torch.zeros(1, 1, k, k)
        try:
            theirs = F.conv2d(x, w, stride=s, padding=p, dilation=d).shape[-1]
        except RuntimeError:
            theirs = None
        table[n, k, s, p, d] = ours, theirs
    return table


def dilated_stack(dilations, k: int = 3, device=None):
    """Stride-1 ``k×k`` one-channel convolutions, one per dilation, with all weights 1, no bias.

    Each layer pads ``d (k - 1) / 2`` on each side, so an odd ``k`` keeps the map's size.
    """
    from torch import nn

    layers = [
        nn.Conv2d(1, 1, k, padding=d * (k - 1) // 2, dilation=d, bias=False) for d in dilations
    ]
    for layer in layers:
        nn.init.ones_(layer.weight)
    return nn.Sequential(*layers).to(device)


def footprint(dilations, size: int = 33, k: int = 3, device=None) -> np.ndarray:
    """``(size, size)``: the gradient of a :func:`dilated_stack`'s centre output for its input.

    An entry is non-zero exactly where that input pixel reaches the centre output; with all
    weights 1 it counts the paths from the pixel to the output.
    """
    import torch

    centre = size // 2
    x = torch.zeros(1, 1, size, size, device=device, requires_grad=True)
    dilated_stack(dilations, k, device)(x)[0, 0, centre, centre].backward()
    return x.grad[0, 0].cpu().numpy()


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
    # final training accuracy per seed: on the whole training set, or with ``eval_train=False``
    # the running accuracy on the last epoch's batches
    train_accuracies: list[float] = field(default_factory=list)

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

    def at(self, epoch: int) -> list[float]:
        """Test accuracy of every seed after ``epoch`` epochs (1-based)."""
        if not 1 <= epoch <= len(self.curves[0]):
            raise ValueError(f"epoch must be in 1..{len(self.curves[0])}, got {epoch!r}")
        return [c[epoch - 1] for c in self.curves]


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
    eval_train: bool = True,
) -> list[StrideResult]:
    """Train one network per (stride, seed) on the padded digits; return one row per stride.

    Each run trains with Adam through :func:`dlbook.train.fit` and reports the test accuracy after
    every epoch (``curves``; the last one is ``accuracies``). ``threads`` caps torch's CPU threads
    during the runs (restored afterwards): layers this small spend more time synchronising threads
    than computing, most of all on a busy machine. ``eval_train=False`` skips the pass over the
    training set after each epoch (cheaper); the training accuracy is then the running one.
    """
    data = pad_images(load_digits(), border)
    size = data.x_train.shape[-1]
    results = []
    with _torch_threads(threads):
        for s in strides:
            curves, train = [], []
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
                    eval_train=eval_train,
                )
                curves.append(history["test_acc"])
                train.append(history["train_acc"][-1])
            results.append(
                StrideResult(
                    stride=s,
                    accuracies=[c[-1] for c in curves],
                    curves=curves,
                    params=sum(p.numel() for p in model.parameters()),
                    macs=count_macs(model, (1, size, size)),
                    feature_map=conv_output_size(conv_output_size(size, 3, s, 1), 3, s, 1),
                    receptive_field=_receptive_field(s),
                    train_accuracies=train,
                )
            )
    return results


@dataclass
class PatchBaseline:
    """Test and training accuracy of the bag-of-patches reference, per seed."""

    accuracies: list[float]
    train_accuracies: list[float]
    clusters: int
    size: int

    @property
    def mean(self) -> float:
        return float(np.mean(self.accuracies))


def patch_features(images: np.ndarray, centres: np.ndarray, size: int = 5) -> np.ndarray:
    """Every ``size×size`` patch (zero padding, stride 1) of ``(N, 1, H, W)`` images, encoded by
    its distances to ``centres`` ``(K, size²)`` and averaged over the image: ``(N, K)``.

    The encoding is the "triangle" one of Coates, Ng and Lee (2011): feature ``k`` of a patch is
    ``max(0, mean_j z_j - z_k)``, where ``z_j`` is the patch's distance to centre ``j``; a patch
    far from centre ``k`` (further than average) gives 0, as a ReLU would.
    """
    from dlbook.scratch.im2col import im2col

    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 4 or images.shape[1] != 1:
        raise ValueError(f"images must be (N, 1, H, W), got shape {images.shape}")
    centres = np.asarray(centres, dtype=np.float64)
    if centres.ndim != 2 or centres.shape[1] != size * size:
        raise ValueError(f"centres must be (K, {size * size}), got shape {centres.shape}")
    n, _, h, w = images.shape
    p = size // 2
    padded = np.pad(images, ((0, 0), (0, 0), (p, size - 1 - p), (p, size - 1 - p)))
    patches = im2col(padded, (size, size), (1, 1), (1, 1), (h, w))[:, 0].transpose(0, 2, 1)
    squared = (
        np.sum(patches**2, axis=-1, keepdims=True)
        - 2 * patches @ centres.T
        + np.sum(centres**2, axis=-1)
    )
    z = np.sqrt(np.maximum(squared, 0.0))  # (N, H·W, K)
    return np.maximum(0.0, z.mean(axis=-1, keepdims=True) - z).mean(axis=1)


def patch_baseline(
    clusters: int = 16,
    size: int = 5,
    seeds=(0,),
    sample: int = 5000,
    border: int = 2,
) -> PatchBaseline:
    """A bag of ``size×size`` patches on the padded digits, with no feature learned from labels.

    ``clusters`` k-means centres are fitted to ``sample`` random patches of the training images;
    :func:`patch_features` averages every image's patch encodings over the image (as global
    average pooling does), and a logistic regression on the standardized averages is trained on
    the training set. With ``size=5`` and ``clusters=16`` the features see what the stride-1
    network's 16 channels see: 5×5 patches, averaged. Returns the test accuracy for each seed.
    """
    from sklearn.cluster import KMeans
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from dlbook.scratch.im2col import im2col

    data = pad_images(load_digits(), border)
    h = data.x_train.shape[-1]
    p = size // 2
    padded = np.pad(data.x_train, ((0, 0), (0, 0), (p, size - 1 - p), (p, size - 1 - p)))
    cols = im2col(padded, (size, size), (1, 1), (1, 1), (h, h))[:, 0]  # (N, size², H·W)
    patches = cols.transpose(0, 2, 1).reshape(-1, size * size)
    tests, trains = [], []
    for seed in seeds:
        rng = seeding.rng(seed)
        pick = patches[rng.choice(len(patches), min(sample, len(patches)), replace=False)]
        km = KMeans(clusters, n_init=1, random_state=seeding.seed(seed)).fit(pick)
        f_train = patch_features(data.x_train, km.cluster_centers_, size)
        f_test = patch_features(data.x_test, km.cluster_centers_, size)
        scaler = StandardScaler().fit(f_train)
        clf = LogisticRegression(max_iter=5000).fit(scaler.transform(f_train), data.y_train)
        tests.append(float(clf.score(scaler.transform(f_test), data.y_test)))
        trains.append(float(clf.score(scaler.transform(f_train), data.y_train)))
    return PatchBaseline(tests, trains, clusters, size)


def _one_plane_conv2d(x, w, stride=1, padding=0, dilation=1):
    return conv2d(x[None, None], w[None, None], None, stride, padding, dilation)[0, 0]


def check_strided_conv2d(fn) -> Report:
    """Hold the reader's ``fn(x, w, stride=1, padding=0, dilation=1)``, a one-channel
    convolution with int settings, to :func:`dlbook.scratch.conv2d`, on one case per setting
    (the floor of the size formula included) and one with all three and a non-square kernel.

    Shapes:
        x: (H, W); w: (kH, kW); returns: a Report
        fn returns (H_out, W_out), H_out = floor((H + 2 p - d (kH - 1) - 1) / s) + 1
    Formula:
        out[i, j] = sum_{u,v} w[u, v] * x_pad[s i + d u, s j + d v]
    Torch:
        torch.nn.functional.conv2d
    """
    import torch
    import torch.nn.functional as F

    def twin(x, w, **kwargs):
        return F.conv2d(torch.from_numpy(x)[None, None], torch.from_numpy(w)[None, None], **kwargs)[
            0, 0
        ]

    rng = np.random.default_rng(0)  # fixed: the same report whatever DLBOOK_SEED is

    def case(h, w, kh, kw, label, **kwargs):
        return Case((rng.standard_normal((h, w)), rng.standard_normal((kh, kw))), kwargs, label)

    cases = [
        case(5, 6, 3, 3, "defaults"),
        case(5, 6, 3, 3, "padding 1", padding=1),
        case(6, 7, 3, 3, "stride 2: the floor drops a row", stride=2),
        case(7, 8, 3, 3, "dilation 2", dilation=2),
        case(9, 8, 3, 2, "stride 2, padding 2, dilation 2", stride=2, padding=2, dilation=2),
    ]
    return check(fn, _one_plane_conv2d, cases, name="strided conv2d", torch_twin=twin)
