"""The textures-and-style chapter's experiments: Gram matrices of a random-weight CNN's feature
maps as the statistics of a texture, texture synthesis by matching them, and style transfer.

No pretrained weights are used: :class:`RandomFeatures` is a small stack of 3×3 convolutions with
random weights and average pooling between them, so that each layer sees a larger window of the
image (Ustyuzhaninov et al. 2016 showed that random filters suffice for textures).

* :func:`texture`, :func:`photo`: scikit-image's textures and photographs, small and grey.
* :func:`gram_matrix_torch`: the Gram matrix in torch (``torch.bmm``), the twin of
  :func:`dlbook.scratch.gram.gram_matrix`; :func:`gram_losses`: one relative Gram loss per layer.
* :func:`synthesize`: optimizes an image with L-BFGS until its Gram matrices match a texture's
  (and, given a ``content`` image, its features match the content's: style transfer).
* :func:`roll`, :func:`shuffle_tiles`: rearrangements of an image that keep or nearly keep its
  Gram matrices.
* :func:`check_gram_matrix`: the checker of the chapter's exercise.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dlbook import seeding
from dlbook.exercise import Case, check
from dlbook.scratch.gram import gram_matrix

__all__ = [
    "TEXTURES",
    "texture",
    "photo",
    "RandomFeatures",
    "gram_matrix_torch",
    "gram_losses",
    "synthesize",
    "roll",
    "shuffle_tiles",
    "check_gram_matrix",
]

TEXTURES = ("brick", "grass", "gravel")


def _small(name, size, crop):
    from skimage.transform import resize

    from dlbook.data import load_image

    img = load_image(name, gray=True)
    if crop is not None:
        img = img[:crop, :crop]
    return resize(img, (size, size), anti_aliasing=True).astype(np.float32)


def texture(name, size=64, crop=256):
    """One of scikit-image's textures (:data:`TEXTURES`): its top-left ``crop`` × ``crop`` pixels
    shrunk to ``size`` × ``size``, grey, float32 in [0, 1]. Returns an ``(size, size)`` array."""
    if name not in TEXTURES:
        raise ValueError(f"name must be one of {TEXTURES}, got {name!r}")
    return _small(name, size, crop)


def photo(name="camera", size=64):
    """A scikit-image photograph, whole, shrunk to ``size`` × ``size``, grey, float32 in
    [0, 1]. Returns an ``(size, size)`` array."""
    return _small(name, size, None)


class RandomFeatures(nn.Module):
    """A random-weight CNN that returns the feature map of every layer: layer ``l`` is a 3×3
    convolution (circular padding, Kaiming-normal weights, zero bias) and a ReLU, with 2×2 average
    pooling before every layer but the first. Its weights are frozen; ``seed`` (moved by
    ``DLBOOK_SEED``) draws them, layer by layer, so a shorter ``widths`` gives the same first
    layers."""

    def __init__(self, in_channels=1, widths=(32, 64, 128), seed=0):
        super().__init__()
        gen = seeding.generator(seed)
        self.convs = nn.ModuleList()
        c = in_channels
        for w in widths:
            conv = nn.Conv2d(c, w, 3, padding=1, padding_mode="circular")
            with torch.no_grad():
                conv.weight.normal_(0, (2 / (9 * c)) ** 0.5, generator=gen)
                conv.bias.zero_()
            self.convs.append(conv)
            c = w
        self.requires_grad_(False)

    def forward(self, x):
        """``x``: (N, C, H, W) images in [0, 1]; returns a list of (N, C_l, H / 2^l, W / 2^l)."""
        h, out = x - 0.5, []
        for i, conv in enumerate(self.convs):
            if i:
                h = F.avg_pool2d(h, 2)
            h = F.relu(conv(h))
            out.append(h)
        return out

    def receptive_fields(self):
        """The side, in pixels, of each layer's receptive field: r += (k - 1) j per convolution,
        r += (2 - 1) j and j *= 2 per pooling, starting from r = j = 1."""
        r, j, sizes = 1, 1, []
        for i in range(len(self.convs)):
            if i:
                r, j = r + j, 2 * j
            r += 2 * j
            sizes.append(r)
        return sizes


def gram_matrix_torch(features):
    """The Gram matrix in torch, the twin of :func:`dlbook.scratch.gram.gram_matrix`.

    Shapes:
        features: (N, C, H, W); returns: (N, C, C)
    Formula:
        G[n] = F[n] F[n]^T / (C H W), F = features reshaped to (N, C, H W)
    Torch:
        torch.bmm (torch has no Gram function)
    """
    f = features.flatten(2)
    return torch.bmm(f, f.transpose(1, 2)) / (f.shape[1] * f.shape[2])


def _batch(image, device):
    x = torch.as_tensor(np.asarray(image, dtype=np.float32), device=device)
    if x.ndim != 2:
        raise ValueError(f"images must be grey (H, W) arrays, got shape {tuple(x.shape)}")
    return x[None, None]


def _relative(feats, targets, layers):
    return [F.mse_loss(gram_matrix_torch(feats[i]), targets[i]) / targets[i].pow(2).mean()
            for i in layers]  # fmt: skip


def gram_losses(net, image, style, device="cpu"):
    """Every layer's Gram loss between ``image`` and ``style`` (grey ``(H, W)`` arrays; the sizes
    may differ), relative to the size of the style's Gram matrix. Returns a float64 array.

    Formula:
        loss_l = mean (G_l(image) - G_l(style))^2 / mean G_l(style)^2
    """
    net = net.to(device)
    with torch.no_grad():
        targets = [gram_matrix_torch(f) for f in net(_batch(style, device))]
        losses = _relative(net(_batch(image, device)), targets, range(len(targets)))
    return np.array([float(v) for v in losses])


def synthesize(net, style, steps=100, content=None, style_weight=1.0, content_layer=1,
               layers=None, snapshots=(), seed=0, device=None):  # fmt: skip
    """Optimize an image with L-BFGS (``steps`` evaluations, no line search) so that its Gram
    matrices at ``layers`` (default: all) of ``net`` match those of ``style``. Without
    ``content`` it starts from uniform noise (``seed``, moved by ``DLBOOK_SEED``): texture
    synthesis. With a ``content`` image it starts from it and adds the squared error of the
    features at ``content_layer``: style transfer, with the Gram term weighted ``style_weight``.

    Every layer's term is :func:`gram_losses`' relative one (and the content term relative to the
    content's features), so every layer counts alike. Returns a dict: ``image`` (the result,
    clipped to [0, 1]), ``style_loss`` and ``content_loss`` (at every evaluation, and at the end),
    ``frames`` (``{evaluation: image}`` at ``snapshots``; 0 is the start).
    """
    from dlbook.devices import resolve

    device = resolve(device)
    net = net.to(device)
    layers = range(len(net.convs)) if layers is None else layers
    with torch.no_grad():
        targets = [gram_matrix_torch(f) for f in net(_batch(style, device))]
        if content is not None:
            c_image = _batch(content, device)
            c_feat = net(c_image)[content_layer]
    if content is None:
        start = torch.rand((1, 1, *np.shape(style)), generator=seeding.generator(seed))
        start = start.to(device)
    else:
        start = c_image.clone()
    x = start.requires_grad_(True)
    opt = torch.optim.LBFGS([x], lr=1, max_iter=steps, max_eval=steps, history_size=20,
                            tolerance_grad=0, tolerance_change=0)  # fmt: skip
    record = dict(style_loss=[], content_loss=[], frames={})

    def losses():
        feats = net(x)
        s = sum(_relative(feats, targets, layers))
        c = (F.mse_loss(feats[content_layer], c_feat) / c_feat.pow(2).mean()
             if content is not None else torch.zeros((), device=device))  # fmt: skip
        return s, c

    def closure():
        if len(record["style_loss"]) in snapshots:
            record["frames"][len(record["style_loss"])] = _image(x)
        opt.zero_grad()
        s, c = losses()
        (c + style_weight * s).backward()
        record["style_loss"].append(float(s.detach()))
        record["content_loss"].append(float(c.detach()))
        return c + style_weight * s

    opt.step(closure)
    with torch.no_grad():
        s, c = losses()
    n = len(record["style_loss"])
    if n in snapshots:
        record["frames"][n] = _image(x)
    record["style_loss"].append(float(s.detach()))
    record["content_loss"].append(float(c.detach()))
    return dict(image=_image(x), style_loss=np.array(record["style_loss"]),
                content_loss=np.array(record["content_loss"]), frames=record["frames"])  # fmt: skip


def _image(x):
    return x.detach()[0, 0].clamp(0, 1).cpu().numpy().copy()


def roll(image, shift):
    """``image`` shifted circularly by ``shift = (dy, dx)`` pixels (``np.roll``)."""
    return np.roll(image, shift, axis=(0, 1))


def shuffle_tiles(image, tile, seed=0):
    """``image`` cut into ``tile`` × ``tile`` squares, put back in a random order (``seed``,
    moved by ``DLBOOK_SEED``): every local pattern is kept, and where it is, is lost."""
    h, w = image.shape
    if h % tile or w % tile:
        raise ValueError(f"tile ({tile}) must divide the image's sides {image.shape}")
    tiles = image.reshape(h // tile, tile, w // tile, tile).transpose(0, 2, 1, 3)
    tiles = tiles.reshape(-1, tile, tile)
    tiles = tiles[seeding.rng(seed).permutation(len(tiles))]
    return tiles.reshape(h // tile, w // tile, tile, tile).transpose(0, 2, 1, 3).reshape(h, w)


def check_gram_matrix(fn):
    """Hold ``fn(features)`` to :func:`dlbook.scratch.gram.gram_matrix` (normalized by
    ``C H W``) on four cases from fixed generators: a batch of two, one channel, a wide map, and
    float32 (whose result must stay float32). The reference equals :func:`gram_matrix_torch`."""
    rng = np.random.default_rng(8)
    cases = [
        Case((rng.normal(size=(2, 3, 4, 4)),), {}, "2 maps, 3 channels, 4 x 4"),
        Case((rng.normal(size=(1, 1, 5, 5)),), {}, "1 channel"),
        Case((rng.normal(size=(1, 4, 2, 7)),), {}, "4 channels, 2 x 7"),
        Case((rng.normal(size=(2, 5, 3, 3)).astype(np.float32),), {}, "float32"),
    ]

    def twin(features):
        return gram_matrix_torch(torch.as_tensor(features)).numpy()

    return check(fn, gram_matrix, cases, name="gram_matrix", outputs=("the Gram matrix",),
                 torch_twin=twin, twin_atol=1e-6, twin_rtol=1e-5, atol=1e-6, rtol=1e-5)  # fmt: skip
