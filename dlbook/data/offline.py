"""Offline data: everything here comes from installed packages or from code, never the network.

- :func:`load_digits`: scikit-learn's 1,797 real 8×8 handwritten digits, optionally enlarged to
  MNIST's 28×28 (or LeNet-5's 32×32) layout;
- :func:`load_mnist1d`: MNIST-1D, made procedurally by the ``mnist1d`` package's generator;
- :func:`load_image`: the photographs and textures scikit-image ships.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

__all__ = ["Split", "load_digits", "load_mnist1d", "load_image", "IMAGES"]

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

# MNIST's digits fill a 20×20 box centred in a 28×28 image (LeCun et al. 1998).
_MNIST_BOX = 20


@dataclass(frozen=True)
class Split:
    """Arrays for one experiment: inputs ``x_*`` (float, see the loader), labels ``y_*`` int64.

    ``name`` says which data set it is (``"digits"``, ``"mnist"``, ...), so a notebook can report
    what it trained on.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    name: str = ""


def _check_fraction(test_fraction: float) -> None:
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")


def _enlarge(images: np.ndarray, size: int) -> np.ndarray:
    """``(N, 8, 8)`` digits -> ``(N, size, size)``: bilinear 8×8 -> 20×20, then zero padding.

    This copies MNIST's own layout: a 20×20 digit centred in a larger black image. Bilinear
    interpolation (``scipy.ndimage.zoom`` with ``order=1``) only averages neighbouring pixels, so
    the values stay in [0, 1].
    """
    from scipy.ndimage import zoom

    n, h, w = images.shape
    big = zoom(images, (1, _MNIST_BOX / h, _MNIST_BOX / w), order=1)
    before = (size - _MNIST_BOX) // 2
    after = size - _MNIST_BOX - before
    big = np.pad(big, ((0, 0), (before, after), (before, after)))
    return np.clip(big, 0.0, 1.0)


def load_digits(
    test_fraction: float = 0.25, seed: int = 0, dtype=np.float32, size: int = 8
) -> Split:
    """scikit-learn's 1,797 real handwritten digits, as ``(N, 1, size, size)`` images in [0, 1].

    ``size=8`` gives the digits as they are. A larger ``size`` (at least 20) lays them out the way
    MNIST does, so that MNIST's networks run on them unchanged: each 8×8 digit is enlarged to
    20×20 by bilinear interpolation and padded with zeros to ``size × size``. ``size=28`` is MNIST's
    shape; ``size=32`` is the input LeNet-5 was drawn for.

    The split is stratified by class (each class keeps its share in both halves) and fixed by
    ``seed``. Labels are int64.
    """
    from sklearn.datasets import load_digits as sk_digits
    from sklearn.model_selection import train_test_split

    _check_fraction(test_fraction)
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)):
        raise TypeError(f"size must be an int, got {size!r}")
    if size != 8 and size < _MNIST_BOX:
        raise ValueError(f"size must be 8 (as the digits are) or at least {_MNIST_BOX}, got {size}")
    bunch = sk_digits()
    images = bunch.images / 16.0  # pixel values run 0..16
    if size != 8:
        images = _enlarge(images, int(size))
    x = images.astype(dtype)[:, None]
    y = bunch.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=test_fraction, random_state=seed, stratify=y
    )
    return Split(x_tr, y_tr, x_te, y_te, name="digits")


def load_mnist1d(
    n: int = 5000, test_fraction: float = 0.2, seed: int = 0, dtype=np.float32
) -> Split:
    """MNIST-1D (Greydanus 2020), made on the spot by the ``mnist1d`` package's generator.

    Each example is one of ten 1-D digit templates, padded, shifted, sheared, scaled and made noisy,
    then resampled to 40 points; the whole set is standardized (mean 0, standard deviation 1). The
    generator's default settings are used, with ``num_samples=n`` and ``seed=seed``; nothing is
    downloaded. ``n`` must be a multiple of 10 (the generator makes ``n // 10`` examples a class).

    Returns ``x`` of shape ``(N, 1, 40)`` (channels first, ready for ``conv1d``; ``x[:, 0]`` is the
    ``(N, 40)`` table and ``x[:, 0].T[..., None]`` the ``(T=40, N, 1)`` sequence an RNN reads) and
    int64 labels. The examples come shuffled; the last ``round(n * test_fraction)`` are the test
    set. NumPy's and Python's global random states are left as they were.
    """
    from mnist1d.data import get_dataset_args, make_dataset

    _check_fraction(test_fraction)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"n must be an int, got {n!r}")
    if n < 10 or n % 10:
        raise ValueError(f"n must be a positive multiple of 10, got {n}")
    args = get_dataset_args()
    args.num_samples, args.seed, args.train_split = int(n), int(seed), 1.0
    # The generator seeds the global random states; put them back so no other code notices.
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        data = make_dataset(args)
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    x = np.asarray(data["x"], dtype=dtype)[:, None]
    y = np.asarray(data["y"], dtype=np.int64)
    cut = len(y) - int(round(len(y) * test_fraction))
    return Split(x[:cut], y[:cut], x[cut:], y[cut:], name="mnist1d")


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
