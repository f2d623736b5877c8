"""The downloaded data sets, served by a loopback HTTP server from small hand-made files."""

import gzip
import hashlib
import io
import pickle
import re
import struct
import tarfile

import numpy as np
import pytest
from test_download import LoopbackServer, closed_port

from dlbook.data import datasets
from dlbook.data.datasets import (
    CHECKSUMS,
    load_cifar10,
    load_fashion_mnist,
    load_mnist,
    load_mnist_or_digits,
    read_cifar_batch,
    read_idx,
)
from dlbook.data.fetch import DownloadError


def write_idx(array: np.ndarray) -> bytes:
    """The IDX bytes of a uint8 array: magic 0x0000 08 <ndim>, big-endian sizes, then the data."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def fake_mnist(n_train=5, n_test=3, seed=0):
    """The four gzipped IDX files of a tiny MNIST, and the arrays in them."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    return {name: gzip.compress(write_idx(a)) for name, a in arrays.items()}, arrays


def pin(monkeypatch, dataset, files):
    """Make the loaders expect our fake files' checksums instead of the official ones."""
    for name, body in files.items():
        monkeypatch.setitem(CHECKSUMS[dataset], name, hashlib.sha256(body).hexdigest())


@pytest.fixture
def mnist_server(monkeypatch):
    files, arrays = fake_mnist()
    pin(monkeypatch, "mnist", files)
    with LoopbackServer({f"/mnist/{k}": v for k, v in files.items()}) as server:
        server.arrays = arrays
        yield server


# ---------------------------------------------------------------- IDX


def test_idx_parses_hand_written_bytes():
    raw = bytes([0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 255])
    np.testing.assert_array_equal(read_idx(raw), [[1, 2, 3], [4, 5, 255]])
    labels = struct.pack(">I", 2049) + struct.pack(">I", 3) + bytes([7, 0, 9])
    assert read_idx(gzip.compress(labels)).tolist() == [7, 0, 9]


def test_idx_reads_wider_big_endian_types():
    values = np.array([[1.5, -2.0], [1e30, 0.0]], dtype=">f4")
    raw = struct.pack(">HBBII", 0, 0x0D, 2, 2, 2) + values.tobytes()
    out = read_idx(raw)
    assert out.dtype == np.float32 and out.dtype.isnative
    np.testing.assert_array_equal(out, values)


def test_idx_round_trip(tmp_path):
    images = np.random.default_rng(1).integers(0, 256, (4, 28, 28), dtype=np.uint8)
    (tmp_path / "x.gz").write_bytes(gzip.compress(write_idx(images)))
    (tmp_path / "x").write_bytes(write_idx(images))
    for name in ("x.gz", "x"):
        out = read_idx(tmp_path / name)
        assert out.dtype == np.uint8 and out.shape == (4, 28, 28)
        np.testing.assert_array_equal(out, images)


@pytest.mark.parametrize("raw", [b"\x1f\x00\x08\x01" + bytes(8), b"\x00\x00\x07\x01" + bytes(8)])
def test_idx_bad_magic(raw):
    with pytest.raises(ValueError, match="bad magic number"):
        read_idx(raw)


def test_idx_wrong_length():
    with pytest.raises(ValueError, match="should hold 13 bytes"):
        read_idx(struct.pack(">II", 2049, 5) + bytes(4))


# ---------------------------------------------------------------- MNIST and Fashion-MNIST


def test_checksum_table_is_complete():
    for dataset, files in CHECKSUMS.items():
        assert files and set(files) <= set(datasets.MIRRORS) | set(files), dataset
        for name, digest in files.items():
            assert re.fullmatch("[0-9a-f]{64}", digest), (dataset, name)


def test_load_mnist_through_a_mirror(mnist_server, tmp_path):
    split = load_mnist(root=tmp_path, mirrors=[mnist_server.url + "/mnist/"])
    a = mnist_server.arrays
    assert split.name == "mnist"
    assert split.x_train.shape == (5, 1, 28, 28) and split.x_test.shape == (3, 1, 28, 28)
    assert split.x_train.dtype == np.float32 and split.y_train.dtype == np.int64
    np.testing.assert_allclose(split.x_train[:, 0], a["train-images-idx3-ubyte.gz"] / 255, 1e-6)
    np.testing.assert_array_equal(split.y_test, a["t10k-labels-idx1-ubyte.gz"])
    assert 0 <= split.x_test.min() and split.x_test.max() <= 1
    # A second load reads the cache only.
    load_mnist(root=tmp_path, mirrors=[mnist_server.url + "/mnist/"])
    assert len(mnist_server.requests) == 4


def test_next_mirror_is_tried(mnist_server, tmp_path):
    dead = f"http://127.0.0.1:{closed_port()}/"
    mirrors = [dead, mnist_server.url + "/nowhere/", mnist_server.url + "/mnist"]
    split = load_mnist(root=tmp_path, mirrors=mirrors, dtype=np.float64)
    assert split.x_train.dtype == np.float64 and len(split.y_train) == 5


def test_every_mirror_failing_names_them_all(mnist_server, tmp_path):
    with pytest.raises(DownloadError, match=r"(?s)any mirror.*/nowhere/train-images.*404"):
        load_mnist(root=tmp_path, mirrors=[mnist_server.url + "/nowhere/"])
    assert list(tmp_path.iterdir()) == []


def test_official_checksums_refuse_other_files(tmp_path):
    files, _ = fake_mnist()
    with LoopbackServer({f"/{k}": v for k, v in files.items()}) as server:
        with pytest.raises(DownloadError, match="SHA-256 is"):
            load_mnist(root=tmp_path, mirrors=[server.url])
    assert list(tmp_path.iterdir()) == []


def test_cache_goes_to_dlbook_data(mnist_server, tmp_path, monkeypatch):
    monkeypatch.setenv("DLBOOK_DATA", str(tmp_path / "cache"))
    load_mnist(mirrors=[mnist_server.url + "/mnist/"])
    assert sorted(p.name for p in (tmp_path / "cache" / "mnist").iterdir()) == sorted(
        CHECKSUMS["mnist"]
    )


def test_fashion_mnist(monkeypatch, tmp_path):
    files, arrays = fake_mnist(n_train=4, n_test=2, seed=3)
    pin(monkeypatch, "fashion_mnist", files)
    monkeypatch.setenv("DLBOOK_DATA", str(tmp_path))
    with LoopbackServer({f"/f/{k}": v for k, v in files.items()}) as server:
        split = load_fashion_mnist(mirrors=[server.url + "/f/"])
    assert split.name == "fashion_mnist" and split.x_train.shape == (4, 1, 28, 28)
    np.testing.assert_array_equal(split.y_train, arrays["train-labels-idx1-ubyte.gz"])
    assert (tmp_path / "fashion_mnist" / "t10k-images-idx3-ubyte.gz").is_file()


# ---------------------------------------------------------------- CIFAR-10


def cifar_batch(rng, n):
    data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    labels = rng.integers(0, 10, n).tolist()
    return {b"batch_label": b"fake", b"labels": labels, b"data": data}


def fake_cifar():
    rng = np.random.default_rng(0)
    batches = {f"data_batch_{i}": cifar_batch(rng, 2) for i in range(1, 6)}
    batches["test_batch"] = cifar_batch(rng, 3)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, batch in [("batches.meta", {b"label_names": []}), *batches.items()]:
            raw = pickle.dumps(batch, protocol=2)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return buf.getvalue(), batches


def test_load_cifar10(monkeypatch, tmp_path):
    body, batches = fake_cifar()
    pin(monkeypatch, "cifar10", {"cifar-10-python.tar.gz": body})
    with LoopbackServer({"/kriz/cifar-10-python.tar.gz": body}) as server:
        split = load_cifar10(root=tmp_path, mirrors=[server.url + "/kriz/"])
    assert split.x_train.shape == (10, 3, 32, 32) and split.x_test.shape == (3, 3, 32, 32)
    assert split.x_train.dtype == np.float32 and split.y_train.dtype == np.int64
    first = batches["data_batch_1"]
    # Row 0 of the first batch: 1,024 red values, then green, then blue, each row by row.
    np.testing.assert_allclose(split.x_train[0, 1].ravel(), first[b"data"][0, 1024:2048] / 255)
    expected = sum((batches[f"data_batch_{i}"][b"labels"] for i in range(1, 6)), [])
    assert split.y_train.tolist() == expected
    assert split.y_test.tolist() == batches["test_batch"][b"labels"]


def test_cifar_batch_with_str_keys_and_old_numpy_names():
    data = np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3072) % 251
    raw = pickle.dumps({"data": data, "labels": [3, 4]}, protocol=2)
    # CIFAR's own pickles (2009) name numpy.core, which NumPy 2 calls numpy._core.
    raw = raw.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    x, y = read_cifar_batch(raw)
    assert x.shape == (2, 3, 32, 32) and y.tolist() == [3, 4]
    np.testing.assert_array_equal(x.reshape(2, -1), data)


def test_cifar_unpickler_runs_no_code():
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    with pytest.raises(pickle.UnpicklingError, match=r"print; refused"):
        read_cifar_batch(pickle.dumps({"data": Evil()}, protocol=2))


# ---------------------------------------------------------------- the notebooks' helper


def test_fallback_is_the_default(capsys):
    split = load_mnist_or_digits()
    assert "offline digits" in capsys.readouterr().out
    assert split.name == "digits" and split.x_train.shape[1:] == (1, 28, 28)


def test_fallback_when_offline(capsys, tmp_path):
    dead = f"http://127.0.0.1:{closed_port()}/"
    split = load_mnist_or_digits(download=True, size=32, root=tmp_path, mirrors=[dead])
    out = capsys.readouterr().out
    assert "MNIST unavailable" in out and "falling back" in out and out.count("\n") == 1
    assert split.name == "digits" and split.x_test.shape[1:] == (1, 32, 32)


def test_mnist_when_asked_and_reachable(mnist_server, tmp_path):
    split = load_mnist_or_digits(
        download=True, root=tmp_path, mirrors=[mnist_server.url + "/mnist"]
    )
    assert split.name == "mnist" and split.x_train.shape == (5, 1, 28, 28)
