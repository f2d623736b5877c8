"""Simple data augmentation for small images: random shifts, flips and noise.

Each transform takes a batch ``(N, C, H, W)`` — a NumPy array or a torch tensor, on any device —
and returns a new batch of the same kind, drawing its randomness from a NumPy ``Generator`` so
that a seeded run repeats exactly. :class:`Augment` chains them into one callable, which
``dlbook.train.fit(..., augment=...)`` applies to every training batch.
"""

from __future__ import annotations

import numpy as np

from dlbook import seeding

__all__ = ["random_shift", "random_flip", "gaussian_noise", "Augment"]


def _is_torch(x) -> bool:
    return hasattr(x, "detach")


def _check_batch(x):
    if getattr(x, "ndim", None) != 4:
        raise ValueError(
            f"x must be a batch (N, C, H, W), got shape {tuple(getattr(x, 'shape', ()))}"
        )


def random_shift(x, max_shift: int = 2, rng=None):
    """Move each image by a random whole number of pixels, up to ``max_shift`` each way along
    both axes, filling the uncovered border with zeros (the background of the digits)."""
    _check_batch(x)
    if isinstance(max_shift, bool) or not isinstance(max_shift, int) or max_shift < 0:
        raise ValueError(f"max_shift must be an int >= 0, got {max_shift!r}")
    rng = np.random.default_rng() if rng is None else rng
    m = max_shift
    n, _, h, w = x.shape
    shifts = rng.integers(-m, m + 1, size=(n, 2))
    if _is_torch(x):
        import torch.nn.functional as F

        padded = F.pad(x, (m, m, m, m))
        out = x.new_empty(x.shape)
    else:
        padded = np.pad(x, ((0, 0), (0, 0), (m, m), (m, m)))
        out = np.empty_like(x)
    # One slice per distinct shift (at most (2m+1)^2 of them), not one per image.
    for dy, dx in np.unique(shifts, axis=0):
        idx = np.nonzero((shifts[:, 0] == dy) & (shifts[:, 1] == dx))[0]
        rows = slice(m - dy, m - dy + h)
        cols = slice(m - dx, m - dx + w)
        if _is_torch(x):
            import torch

            sel = torch.as_tensor(idx, device=x.device)
            out[sel] = padded[sel][:, :, rows, cols]
        else:
            out[idx] = padded[idx][:, :, rows, cols]
    return out


def random_flip(x, p: float = 0.5, rng=None, axis: int = -1):
    """Mirror each image along ``axis`` (-1: left-right, -2: up-down) with probability ``p``.
    (Digits are not mirror-symmetric: a flipped 2 is not a 2; use this on textures and photos.)"""
    _check_batch(x)
    if not 0 <= p <= 1:
        raise ValueError(f"p must be in [0, 1], got {p!r}")
    if axis not in (-1, -2, 2, 3):
        raise ValueError(f"axis must be a spatial axis (-1 or -2), got {axis!r}")
    rng = np.random.default_rng() if rng is None else rng
    flip = np.nonzero(rng.random(len(x)) < p)[0]
    out = x.clone() if _is_torch(x) else x.copy()
    if len(flip):
        if _is_torch(x):
            import torch

            sel = torch.as_tensor(flip, device=x.device)
            out[sel] = torch.flip(x[sel], dims=(axis,))
        else:
            out[flip] = np.flip(x[flip], axis=axis)
    return out


def gaussian_noise(x, std: float = 0.05, rng=None, clip=(0.0, 1.0)):
    """Add independent Gaussian noise of standard deviation ``std`` to every pixel, then clip to
    ``clip`` (``None`` to keep the raw values)."""
    _check_batch(x)
    if not std >= 0:
        raise ValueError(f"std must be >= 0, got {std!r}")
    rng = np.random.default_rng() if rng is None else rng
    noise = rng.normal(0.0, std, size=tuple(x.shape))
    if _is_torch(x):
        import torch

        out = x + torch.as_tensor(noise, dtype=x.dtype, device=x.device)
        return out.clamp(*clip) if clip is not None else out
    out = x + noise.astype(x.dtype)
    return np.clip(out, *clip) if clip is not None else out


class Augment:
    """Several transforms in a row, sharing one seeded generator:

    >>> aug = Augment(shift=2, noise=0.05, seed=0)
    >>> batch = aug(batch)                                    # doctest: +SKIP
    """

    def __init__(self, shift: int = 0, flip: float = 0.0, noise: float = 0.0, seed: int = 0):
        self.shift, self.flip, self.noise = shift, flip, noise
        self.rng = seeding.rng(seed)

    def __call__(self, x):
        if self.shift:
            x = random_shift(x, self.shift, self.rng)
        if self.flip:
            x = random_flip(x, self.flip, self.rng)
        if self.noise:
            x = gaussian_noise(x, self.noise, self.rng)
        return x

    def __repr__(self) -> str:
        return f"Augment(shift={self.shift}, flip={self.flip}, noise={self.noise})"
