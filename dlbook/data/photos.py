"""Colour images offline: patches of the photographs that scikit-image and scikit-learn ship.

:func:`load_photo_patches` turns nine colour photographs into a small image-classification set in
CIFAR-10's format: ``(N, 3, size, size)`` patches in [0, 1], labelled by the photograph they were
cut from. Each photograph is divided into square tiles, a fixed quarter of which belong to the test
set; a training patch lies wholly inside training tiles and a test patch wholly inside test tiles,
so the two sets share no pixel. Recognising a patch's source takes colour, texture and shape, the
same cues CIFAR-10 needs, at a size that trains in seconds on a CPU.

:func:`load_faces` gives scikit-image's ``lfw_subset`` (100 faces and 100 non-faces, 25x25 gray),
and :func:`load_cifar10_or_photos` is the chapters' switch: CIFAR-10 when asked for and reachable,
the photo patches otherwise.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from dlbook.data.offline import Split

__all__ = ["PHOTOS", "load_photo_patches", "load_faces", "load_cifar10_or_photos"]

# The classes, by the name their package gives each photograph, in label order.
PHOTOS = (
    "astronaut",  # skimage: Eileen Collins in her orange suit, a flag
    "chelsea",  # skimage: a tabby cat
    "coffee",  # skimage: a cup of coffee on a saucer
    "rocket",  # skimage: a rocket on its launch pad
    "hubble_deep_field",  # skimage: galaxies on black
    "immunohistochemistry",  # skimage: stained tissue, brown and blue
    "retina",  # skimage: a fundus photograph, red and orange
    "china",  # sklearn: a temple roof against trees
    "flower",  # sklearn: a pink flower on green
)
_SKLEARN = {"china": "china.jpg", "flower": "flower.jpg"}
# A patch whose channels all vary less than this is blank (the black around the retina, the empty
# sky of the deep field) and says nothing about its photograph; it is not drawn.
_MIN_STD = 0.03
_TILES_PER_TEST = 4  # one tile in four is a test tile


def _int(name: str, value, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < low:
        raise ValueError(f"{name} must be at least {low}, got {value}")
    return int(value)


@lru_cache(maxsize=32)
def _photo(name: str, short_side: int) -> np.ndarray:
    """One photograph as float32 ``(H, W, 3)`` in [0, 1], its shorter side ``short_side`` px."""
    import skimage
    from skimage import transform

    if name in _SKLEARN:
        from sklearn.datasets import load_sample_image

        img = load_sample_image(_SKLEARN[name])
    else:
        img = getattr(skimage.data, name)()
    img = skimage.img_as_float(img)[..., :3]
    h, w = img.shape[:2]
    k = short_side / min(h, w)
    out = transform.resize(img, (round(h * k), round(w * k)), anti_aliasing=True)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def held_out_tiles(shape, tile: int) -> np.ndarray:
    """Boolean ``(H, W)`` map of a photograph's test pixels: one ``tile``-square tile in four,
    spread over the photograph (tile ``(ty, tx)`` is a test tile when ``(ty + 2 tx) % 4 == 1``)."""
    h, w = shape[:2]
    ty = np.arange(h)[:, None] // tile
    tx = np.arange(w)[None, :] // tile
    return (ty + 2 * tx) % _TILES_PER_TEST == 1


def _corners(region: np.ndarray, size: int) -> np.ndarray:
    """Top-left corners ``(K, 2)`` of every ``size``-square window lying wholly in ``region``."""
    s = np.pad(region.astype(np.int32), ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    inside = s[size:, size:] - s[:-size, size:] - s[size:, :-size] + s[:-size, :-size]
    return np.argwhere(inside == size * size)


def _draw(img, corners, size, n, rng, name, split):
    """``n`` non-blank patches ``(n, 3, size, size)`` at corners drawn at random (no repeats)."""
    out = np.empty((n, 3, size, size), np.float32)
    got = 0
    for i in rng.permutation(len(corners)):
        y, x = corners[i]
        patch = img[y : y + size, x : x + size]
        if patch.reshape(-1, 3).std(axis=0).max() < _MIN_STD:
            continue
        out[got] = patch.transpose(2, 0, 1)
        got += 1
        if got == n:
            return out
    raise ValueError(
        f"the {split} tiles of {name!r} hold only {got} distinct non-blank patches of {size} px; "
        f"ask for fewer (n_{split} per class) or a larger photo_size"
    )


def load_photo_patches(
    size: int = 32,
    n_train: int = 300,
    n_test: int = 100,
    photo_size=None,
    seed: int = 0,
    dtype=np.float32,
) -> Split:
    """Colour patches of nine photographs, labelled by their photograph (:data:`PHOTOS`).

    Each photograph is resized so that its shorter side is ``photo_size`` px (default
    ``6 * size``, so a patch always covers about a sixth of it) and cut into tiles of
    ``2 * size`` px; one tile in four is a test tile (:func:`held_out_tiles`). ``n_train`` training
    and ``n_test`` test patches per class are drawn at random positions, a training patch wholly
    inside training tiles and a test patch wholly inside test tiles, so that train and test share
    no pixel. Blank patches (every channel's standard deviation under 0.03) are skipped.

    Returns a :class:`~dlbook.data.Split` named ``"photo-patches"``: ``x`` of shape
    ``(N, 3, size, size)`` in [0, 1] (``dtype``), int64 labels indexing :data:`PHOTOS`, each set
    shuffled. The same ``seed`` gives the same patches.
    """
    size = _int("size", size, 8)
    n_train = _int("n_train", n_train, 1)
    n_test = _int("n_test", n_test, 1)
    photo_size = 6 * size if photo_size is None else _int("photo_size", photo_size, 4 * size)
    if np.dtype(dtype).kind != "f":
        raise ValueError(f"dtype must be a floating dtype, got {dtype!r}")
    rng = np.random.default_rng(seed)
    xs = {"train": [], "test": []}
    for name in PHOTOS:
        img = _photo(name, photo_size)
        test = held_out_tiles(img.shape, 2 * size)
        for split, region, n in (("train", ~test, n_train), ("test", test, n_test)):
            xs[split].append(_draw(img, _corners(region, size), size, n, rng, name, split))
    out = []
    for split, n in (("train", n_train), ("test", n_test)):
        x = np.concatenate(xs[split])
        y = np.repeat(np.arange(len(PHOTOS), dtype=np.int64), n)
        order = rng.permutation(len(y))
        out += [x[order].astype(dtype, copy=False), y[order]]
    return Split(*out, name="photo-patches")


def load_faces(test_fraction: float = 0.25, seed: int = 0, dtype=np.float32) -> Split:
    """scikit-image's ``lfw_subset``: 100 faces (label 1) and 100 non-faces (label 0) from
    Labeled Faces in the Wild, gray ``(N, 1, 25, 25)`` in [0, 1], split stratified by ``seed``."""
    from skimage.data import lfw_subset
    from sklearn.model_selection import train_test_split

    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    images = lfw_subset()
    x = np.asarray(images, dtype=dtype)[:, None]
    y = np.r_[np.ones(100), np.zeros(len(images) - 100)].astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=test_fraction, random_state=seed, stratify=y
    )
    return Split(x_tr, y_tr, x_te, y_te, name="faces")


def load_cifar10_or_photos(
    download: bool = False, seed: int = 0, root=None, mirrors=None, **kwargs
) -> Split:
    """CIFAR-10 when asked for and reachable; otherwise :func:`load_photo_patches` at 32 px.

    With ``download=False`` (the default, and what CI runs) no network is touched: it prints one
    line saying so and returns ``load_photo_patches(seed=seed, **kwargs)``. With ``download=True``
    it calls :func:`~dlbook.data.load_cifar10` with ``root`` and ``mirrors`` (a cached copy needs
    no network); if that fails it prints why and falls back in the same way. ``split.name`` says
    which one you got.
    """
    from dlbook.data.datasets import load_cifar10

    if download:
        try:
            return load_cifar10(root=root, mirrors=mirrors)
        except (OSError, ValueError) as err:
            reason = str(err).splitlines()[0]
            print(f"CIFAR-10 unavailable ({reason}); falling back to the offline photo patches")
    else:
        print(
            f"Using the offline photo patches ({len(PHOTOS)} photographs); "
            "pass download=True for CIFAR-10"
        )
    return load_photo_patches(seed=seed, **kwargs)
