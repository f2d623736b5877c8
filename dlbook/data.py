"""Data the book runs on, all of it offline.

This module holds the offline loaders the early chapters use: scikit-learn's handwritten digits and
scikit-image's bundled photographs. (The downloaders for MNIST, Fashion-MNIST and CIFAR-10 come with
the chapters that train on them.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Split", "load_digits", "load_image", "IMAGES"]

# The photographs and textures scikit-image ships, by the name skimage.data gives them.
IMAGES = (
    "camera",
    "astronaut",
    "coins",
    "brick",
    "grass",
    "gravel",
    "moon",
    "text",
    "checkerboard",
)


@dataclass(frozen=True)
class Split:
    """Arrays for one experiment: images ``(N, 1, H, W)`` float32 in [0, 1], labels int64."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def load_digits(test_fraction: float = 0.25, seed: int = 0, dtype=np.float32) -> Split:
    """scikit-learn's 1,797 real 8×8 handwritten digits, as ``(N, 1, 8, 8)`` images in [0, 1].

    The split is stratified by class and fixed by ``seed``.
    """
    from sklearn.datasets import load_digits as sk_digits
    from sklearn.model_selection import train_test_split

    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    bunch = sk_digits()
    x = (bunch.images / 16.0).astype(dtype)[:, None]  # pixel values run 0..16
    y = bunch.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=test_fraction, random_state=seed, stratify=y
    )
    return Split(x_tr, y_tr, x_te, y_te)


def load_image(name: str = "camera", gray: bool = True, size=None, dtype=np.float64) -> np.ndarray:
    """A photograph that scikit-image ships, as a float array in [0, 1].

    ``gray=True`` gives ``(H, W)``; otherwise colour images come as ``(3, H, W)``, channels first
    like everything else in the book. ``size=(h, w)`` resizes with anti-aliasing.
    """
    import skimage
    from skimage import color, transform

    if name not in IMAGES:
        raise ValueError(f"name must be one of {IMAGES}, got {name!r}")
    img = skimage.img_as_float(getattr(skimage.data, name)())
    if img.ndim == 3 and img.shape[-1] == 4:
        img = color.rgba2rgb(img)
    if gray and img.ndim == 3:
        img = color.rgb2gray(img)
    if size is not None:
        img = transform.resize(img, tuple(size) + img.shape[2:], anti_aliasing=True)
    if img.ndim == 3:
        img = np.moveaxis(img, -1, 0)
    return np.ascontiguousarray(img, dtype=dtype)
