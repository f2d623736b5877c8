"""dlbook.data.photos: the offline colour set, its disjoint split, the faces, the CIFAR switch."""

import numpy as np
import pytest
from test_datasets import fake_cifar, pin
from test_download import LoopbackServer, closed_port

from dlbook.data import PHOTOS, load_cifar10_or_photos, load_faces, load_photo_patches, photos


@pytest.fixture(scope="module")
def small():
    return load_photo_patches(size=16, n_train=40, n_test=20, seed=3)


def test_shapes_labels_and_range(small):
    k = len(PHOTOS)
    assert small.name == "photo-patches"
    assert small.x_train.shape == (40 * k, 3, 16, 16) and small.x_test.shape == (20 * k, 3, 16, 16)
    assert small.x_train.dtype == np.float32 and small.y_train.dtype == np.int64
    assert np.bincount(small.y_train).tolist() == [40] * k
    assert np.bincount(small.y_test).tolist() == [20] * k
    assert 0.0 <= small.x_train.min() and small.x_train.max() <= 1.0
    # shuffled: the labels do not come in blocks
    assert (np.diff(small.y_train) != 0).sum() > 100


def test_no_blank_patches(small):
    std = small.x_train.reshape(len(small.x_train), 3, -1).std(axis=2).max(axis=1)
    assert std.min() >= photos._MIN_STD - 1e-6


def test_same_seed_same_patches_other_seed_other_patches(small):
    again = load_photo_patches(size=16, n_train=40, n_test=20, seed=3)
    np.testing.assert_array_equal(again.x_train, small.x_train)
    np.testing.assert_array_equal(again.y_test, small.y_test)
    other = load_photo_patches(size=16, n_train=40, n_test=20, seed=4)
    assert not np.array_equal(other.x_train, small.x_train)


def test_train_and_test_patches_share_no_pixel_position():
    size, tile = 16, 32
    img = photos._photo("coffee", 6 * size)
    test = photos.held_out_tiles(img.shape, tile)
    assert 0.15 < test.mean() < 0.35  # a quarter, give or take the ragged edge
    for region in (test, ~test):
        corners = photos._corners(region, size)
        assert len(corners) > 0
        for y, x in corners[:: max(1, len(corners) // 200)]:
            assert region[y : y + size, x : x + size].all()
    # every window wholly inside a region is found: count them by brute force on a small map
    rng = np.random.default_rng(0)
    region = rng.random((12, 14)) < 0.8
    found = {tuple(c) for c in photos._corners(region, 3)}
    brute = {(y, x) for y in range(10) for x in range(12) if region[y : y + 3, x : x + 3].all()}
    assert found == brute


def test_patches_come_from_their_photograph(small):
    # Each test patch is found, pixel for pixel, in its own photograph's test tiles.
    for i in range(0, len(small.y_test), 37):
        img = photos._photo(PHOTOS[small.y_test[i]], 96)
        patch = small.x_test[i].transpose(1, 2, 0)
        win = np.lib.stride_tricks.sliding_window_view(img, (16, 16, 3))[..., 0, :, :, :]
        hits = np.argwhere(np.all(win == patch, axis=(2, 3, 4)))
        assert len(hits) >= 1
        y, x = hits[0]
        assert photos.held_out_tiles(img.shape, 32)[y : y + 16, x : x + 16].all()


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="size"):
        load_photo_patches(size=4)
    with pytest.raises(TypeError, match="n_train"):
        load_photo_patches(n_train=2.5)
    with pytest.raises(ValueError, match="photo_size"):
        load_photo_patches(size=32, photo_size=64)
    with pytest.raises(ValueError, match="dtype"):
        load_photo_patches(dtype=np.int32)
    with pytest.raises(ValueError, match="n_test per class"):
        load_photo_patches(size=32, n_test=100_000)


def test_faces():
    f = load_faces(seed=1)
    assert f.name == "faces" and f.x_train.shape == (150, 1, 25, 25)
    assert f.y_test.tolist().count(1) == 25 and f.y_test.tolist().count(0) == 25
    assert 0.0 <= f.x_train.min() and f.x_train.max() <= 1.0


def test_cifar_switch_defaults_to_the_photos(capsys):
    split = load_cifar10_or_photos(size=16, n_train=5, n_test=5)
    assert "offline photo patches" in capsys.readouterr().out
    assert split.name == "photo-patches" and split.x_train.shape[1:] == (3, 16, 16)


def test_cifar_switch_falls_back_when_offline(capsys, tmp_path):
    dead = f"http://127.0.0.1:{closed_port()}/"
    split = load_cifar10_or_photos(
        download=True, root=tmp_path, mirrors=[dead], size=16, n_train=5, n_test=5
    )
    out = capsys.readouterr().out
    assert "CIFAR-10 unavailable" in out and "falling back" in out and out.count("\n") == 1
    assert split.name == "photo-patches"


def test_cifar_switch_downloads_when_reachable(monkeypatch, tmp_path):
    body, _ = fake_cifar()
    pin(monkeypatch, "cifar10", {"cifar-10-python.tar.gz": body})
    with LoopbackServer({"/kriz/cifar-10-python.tar.gz": body}) as server:
        split = load_cifar10_or_photos(
            download=True, root=tmp_path, mirrors=[server.url + "/kriz/"]
        )
    assert split.name == "cifar10" and split.x_train.shape == (10, 3, 32, 32)
