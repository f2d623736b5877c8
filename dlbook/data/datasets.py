"""Downloaded data sets: MNIST, Fashion-MNIST and CIFAR-10, checked against pinned SHA-256 sums.

Each loader downloads the official files once into ``data_home() / <name>`` (see
:func:`dlbook.data.download`), checks them on every load, parses them with the small readers below
and returns a :class:`~dlbook.data.Split` of float images in [0, 1] with int64 labels. The book's
own runs never need these: :func:`load_mnist_or_digits` falls back to the offline digits.

The checksums are those published by TensorFlow Datasets (``url_checksums/mnist.txt`` and
``fashion_mnist.txt``) and Keras (``keras/src/datasets/cifar10.py``) for the very same files.
"""

from __future__ import annotations

import gzip
import io
import pickle
import tarfile
from pathlib import Path

import numpy as np

from dlbook.data.fetch import DownloadError, data_home, download
from dlbook.data.offline import Split, load_digits

__all__ = [
    "CHECKSUMS",
    "MIRRORS",
    "read_idx",
    "read_cifar_batch",
    "load_mnist",
    "load_fashion_mnist",
    "load_cifar10",
    "load_mnist_or_digits",
]

_MNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
_MNIST_FILES += ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")

# SHA-256 of every official file. None would mean "not verified yet": such a file is accepted with
# a loud warning that prints its digest (see dlbook.data.fetch); today every entry is pinned.
CHECKSUMS: dict[str, dict[str, str | None]] = {
    "mnist": dict(
        zip(
            _MNIST_FILES,
            (
                "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
            ),
        )
    ),
    "fashion_mnist": dict(
        zip(
            _MNIST_FILES,
            (
                "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
                "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
                "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
                "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
            ),
        )
    ),
    "cifar10": {
        "cifar-10-python.tar.gz": "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
    },
}

# Tried in order; the checksum makes any mirror as good as the original.
MIRRORS: dict[str, tuple[str, ...]] = {
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",  # torchvision's mirror
        "https://storage.googleapis.com/cvdf-datasets/mnist/",  # TensorFlow Datasets' mirror
    ),
    "fashion_mnist": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    "cifar10": ("https://www.cs.toronto.edu/~kriz/",),
}

# IDX type codes (third byte of the magic number) and the big-endian dtypes they stand for.
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(source) -> np.ndarray:
    """Parse an IDX file (LeCun's MNIST format), gzipped or not; ``source`` is a path or bytes.

    The header is a big-endian magic number ``0x0000TTDD`` (``TT`` the element type, ``0x08`` for
    unsigned bytes; ``DD`` the number of dimensions), then ``DD`` big-endian uint32 sizes, then the
    data in row-major order. MNIST's images have magic 2051 (``0x0803``: bytes, 3-D) and its
    labels 2049 (``0x0801``: bytes, 1-D). A bad magic number or a wrong length raises ValueError.
    """
    raw = source if isinstance(source, (bytes, bytearray)) else Path(source).read_bytes()
    if raw[:2] == b"\x1f\x8b":  # gzip's own magic number
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] not in _IDX_TYPES:
        magic = int.from_bytes(raw[:4], "big")
        raise ValueError(f"not an IDX file: bad magic number {magic} (0x{magic:08x})")
    dtype, ndim = np.dtype(_IDX_TYPES[raw[2]]), raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    expected = header + dtype.itemsize * int(np.prod(shape))
    if len(raw) != expected:
        raise ValueError(f"IDX file of shape {shape} should hold {expected} bytes, has {len(raw)}")
    return np.frombuffer(raw, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


class _ArraysOnly(pickle.Unpickler):
    """Unpickling can run any code; CIFAR's batches need only NumPy arrays, so allow only those."""

    _ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}
    _ALLOWED |= {(m, "_reconstruct") for m in ("numpy.core.multiarray", "numpy._core.multiarray")}

    def find_class(self, module, name):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"CIFAR batch refers to {module}.{name}; refused")
        # NumPy 2 renamed numpy.core (which CIFAR's 2009 pickles name) to numpy._core.
        old, new = (
            ("numpy.core", "numpy._core") if hasattr(np, "_core") else ("numpy._core", "numpy.core")
        )
        if module.startswith(old + "."):
            module = new + module[len(old) :]
        return super().find_class(module, name)


def read_cifar_batch(raw: bytes) -> tuple[np.ndarray, np.ndarray]:
    """One pickled CIFAR-10 batch -> images ``(N, 3, 32, 32)`` uint8 and labels ``(N,)`` int64.

    A batch is a dict whose ``data`` is an ``(N, 3072)`` uint8 array (1,024 red, then green, then
    blue values, each row by row) and whose ``labels`` is a list of N ints. Only NumPy arrays
    may be unpickled (see ``_ArraysOnly``).
    """
    batch = _ArraysOnly(io.BytesIO(raw), encoding="latin1").load()
    batch = {k.decode() if isinstance(k, bytes) else k: v for k, v in batch.items()}
    data = np.asarray(batch["data"], dtype=np.uint8)
    labels = np.asarray(batch["labels"], dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(labels) != len(data):
        raise ValueError(f"CIFAR batch has data {data.shape} and {len(labels)} labels")
    return data.reshape(-1, 3, 32, 32), labels


def _fetch(dataset: str, filename: str, root, mirrors) -> Path:
    """Download one file of ``dataset`` from the first mirror that gives the right bytes."""
    root = Path(root) if root is not None else data_home() / dataset
    mirrors = MIRRORS[dataset] if mirrors is None else tuple(mirrors)
    sha256 = CHECKSUMS[dataset][filename]
    errors = []
    for base in mirrors:
        url = base.rstrip("/") + "/" + filename
        try:
            return download(url, root / filename, sha256, progress=True)
        except DownloadError as err:
            errors.append(str(err))
    raise DownloadError(f"could not download {filename} from any mirror:\n  " + "\n  ".join(errors))


def _unit(x: np.ndarray, dtype) -> np.ndarray:
    """uint8 pixels 0..255 -> floats in [0, 1]."""
    return (x / np.asarray(255, dtype)).astype(dtype)


def _load_idx_set(dataset: str, root, mirrors, dtype) -> Split:
    x_tr, y_tr, x_te, y_te = (read_idx(_fetch(dataset, f, root, mirrors)) for f in _MNIST_FILES)
    for x, y, part in ((x_tr, y_tr, "train"), (x_te, y_te, "test")):
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise ValueError(f"{dataset} {part}: images {x.shape} do not match labels {y.shape}")
    x_tr, x_te = _unit(x_tr[:, None], dtype), _unit(x_te[:, None], dtype)
    return Split(x_tr, y_tr.astype(np.int64), x_te, y_te.astype(np.int64), dataset)


def load_mnist(root=None, mirrors=None, dtype=np.float32) -> Split:
    """MNIST's official split: 60,000 training and 10,000 test handwritten digits.

    Images ``(N, 1, 28, 28)`` in [0, 1], labels int64 (0-9). Files are cached in ``root``
    (default ``data_home() / "mnist"``) and fetched from ``mirrors`` (base URLs, tried in order;
    default :data:`MIRRORS` ``["mnist"]``). Raises :class:`DownloadError` when no mirror works.
    """
    return _load_idx_set("mnist", root, mirrors, dtype)


def load_fashion_mnist(root=None, mirrors=None, dtype=np.float32) -> Split:
    """Fashion-MNIST (Xiao et al. 2017): 60,000 + 10,000 28×28 photos of clothes in ten classes.

    The same layout and arguments as :func:`load_mnist`; cached in ``data_home() /
    "fashion_mnist"``. Classes: T-shirt/top, trouser, pullover, dress, coat, sandal, shirt,
    sneaker, bag, ankle boot.
    """
    return _load_idx_set("fashion_mnist", root, mirrors, dtype)


def load_cifar10(root=None, mirrors=None, dtype=np.float32) -> Split:
    """CIFAR-10 (Krizhevsky 2009): 50,000 + 10,000 colour photos, 32×32, in ten classes.

    Images ``(N, 3, 32, 32)`` in [0, 1], labels int64. The checked ``cifar-10-python.tar.gz`` is
    read directly (one pass, nothing extracted). Classes: airplane, automobile, bird, cat, deer,
    dog, frog, horse, ship, truck. Arguments as for :func:`load_mnist`; the float32 arrays take
    about 740 MB.
    """
    archive = _fetch("cifar10", "cifar-10-python.tar.gz", root, mirrors)
    wanted = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    found = {}
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:  # one pass over the stream; looking members up by name rereads it
            name = member.name.rsplit("/", 1)[-1]
            if member.isfile() and name in wanted:
                found[name] = read_cifar_batch(tar.extractfile(member).read())
    missing = [w for w in wanted if w not in found]
    if missing:
        raise ValueError(f"{archive} lacks the CIFAR-10 batches {missing}")
    x_tr = np.concatenate([found[w][0] for w in wanted[:-1]])
    y_tr = np.concatenate([found[w][1] for w in wanted[:-1]])
    x_te, y_te = found["test_batch"]
    return Split(_unit(x_tr, dtype), y_tr, _unit(x_te, dtype), y_te, "cifar10")


def load_mnist_or_digits(download: bool = False, size: int = 28, seed: int = 0, **kwargs) -> Split:
    """MNIST when asked for and reachable; otherwise the offline digits, enlarged to ``size``.

    With ``download=False`` (the default, and what CI runs) no network is touched: it prints one
    line saying so and returns ``load_digits(size=size, seed=seed)``. With ``download=True`` it
    calls ``load_mnist(**kwargs)`` (a cached copy needs no network); if that fails it prints why
    and falls back to the digits in the same way. ``split.name`` says which one you got.
    """
    if download:
        try:
            return load_mnist(**kwargs)
        except (OSError, ValueError) as err:
            reason = str(err).splitlines()[0]
            print(
                f"MNIST unavailable ({reason}); falling back to the offline digits at {size}x{size}"
            )
    else:
        print(
            f"Using the offline digits (1,797 images) at {size}x{size}; "
            "pass download=True for MNIST"
        )
    return load_digits(seed=seed, size=size)
