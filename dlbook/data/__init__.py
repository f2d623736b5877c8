"""Data the book runs on.

- **Offline** (:mod:`dlbook.data.offline`, :mod:`dlbook.data.photos`), what every notebook
  uses: scikit-learn's digits, MNIST-1D made by its generator, scikit-image's photographs, and a
  colour classification set cut from the photographs both packages ship.
- **Downloaded** (:mod:`dlbook.data.datasets`), behind a flag: MNIST, Fashion-MNIST, CIFAR-10,
  with pinned SHA-256 checksums and a cache in :func:`data_home`.
- **The machinery** (:mod:`dlbook.data.fetch`): :func:`download` and :func:`extract`.
"""

from dlbook.data.datasets import (
    CHECKSUMS,
    MIRRORS,
    load_cifar10,
    load_fashion_mnist,
    load_mnist,
    load_mnist_or_digits,
    read_cifar_batch,
    read_idx,
)
from dlbook.data.fetch import (
    DownloadError,
    UnsafeArchiveError,
    data_home,
    download,
    extract,
    sha256sum,
)
from dlbook.data.offline import IMAGES, Split, load_digits, load_image, load_mnist1d
from dlbook.data.photos import PHOTOS, load_cifar10_or_photos, load_faces, load_photo_patches

__all__ = [
    "Split",
    "IMAGES",
    "load_digits",
    "load_mnist1d",
    "load_image",
    "PHOTOS",
    "load_photo_patches",
    "load_faces",
    "load_cifar10_or_photos",
    "download",
    "extract",
    "data_home",
    "sha256sum",
    "DownloadError",
    "UnsafeArchiveError",
    "CHECKSUMS",
    "MIRRORS",
    "read_idx",
    "read_cifar_batch",
    "load_mnist",
    "load_fashion_mnist",
    "load_cifar10",
    "load_mnist_or_digits",
]
