import numpy as np
import pytest
from scipy.ndimage import zoom

from dlbook.data import IMAGES, load_digits, load_image, load_mnist1d


def test_digits_split_is_stratified_and_fixed():
    a, b = load_digits(seed=0), load_digits(seed=0)
    assert a.x_train.shape == (1347, 1, 8, 8) and a.x_test.shape == (450, 1, 8, 8)
    assert a.x_train.dtype == np.float32 and 0.0 <= a.x_train.min() and a.x_train.max() <= 1.0
    np.testing.assert_array_equal(a.y_test, b.y_test)
    # Stratified: each class keeps its share of the whole set, to within one image.
    everything = np.concatenate([a.y_train, a.y_test])
    expected = np.bincount(everything, minlength=10) * len(a.y_test) / len(everything)
    assert np.all(np.abs(np.bincount(a.y_test, minlength=10) - expected) <= 1)
    assert not np.array_equal(load_digits(seed=1).y_test, a.y_test)


def test_digits_rejects_a_bad_fraction():
    with pytest.raises(ValueError, match="test_fraction"):
        load_digits(test_fraction=1.5)


@pytest.mark.parametrize("name", IMAGES)
def test_images_are_floats_in_unit_range(name):
    img = load_image(name)
    assert img.ndim == 2 and img.dtype == np.float64
    assert 0.0 <= img.min() and img.max() <= 1.0 and img.std() > 0.01


def test_colour_channels_first_and_resize():
    img = load_image("astronaut", gray=False, size=(64, 48), dtype=np.float32)
    assert img.shape == (3, 64, 48) and img.dtype == np.float32


def test_unknown_image_name():
    with pytest.raises(ValueError, match="name"):
        load_image("lena")


@pytest.mark.parametrize("size", [28, 32])
def test_digits_enlarged_like_mnist(size):
    small, big = load_digits(seed=3), load_digits(seed=3, size=size)
    assert big.x_train.shape == (1347, 1, size, size) and big.x_train.dtype == np.float32
    np.testing.assert_array_equal(big.y_test, small.y_test)  # the same split, image for image
    assert 0.0 <= big.x_test.min() and big.x_test.max() <= 1.0
    lo = (size - 20) // 2
    box = big.x_test[:, 0, lo : lo + 20, lo : lo + 20]
    # The digit fills the central 20×20 box; the frame around it is black, as in MNIST.
    assert big.x_test.sum() == pytest.approx(box.sum(), rel=1e-6)
    # Bilinear interpolation keeps the corner pixels, and shrinking back gives the digit again.
    np.testing.assert_allclose(box[:, 0, 0], small.x_test[:, 0, 0, 0], atol=1e-6)
    np.testing.assert_allclose(box[:, -1, -1], small.x_test[:, 0, -1, -1], atol=1e-6)
    back = zoom(box, (1, 8 / 20, 8 / 20), order=1)
    assert np.abs(back - small.x_test[:, 0]).mean() < 0.05


@pytest.mark.parametrize("size, error", [(12, ValueError), (28.0, TypeError), (True, TypeError)])
def test_digits_rejects_a_bad_size(size, error):
    with pytest.raises(error, match="size"):
        load_digits(size=size)


def test_mnist1d_is_the_generators_data():
    from mnist1d.data import get_dataset_args, make_dataset

    state = np.random.get_state()
    split = load_mnist1d(n=200, test_fraction=0.25, seed=5)
    assert np.array_equal(np.random.get_state()[1], state[1]), "global random state was touched"
    assert split.name == "mnist1d"
    assert split.x_train.shape == (150, 1, 40) and split.x_test.shape == (50, 1, 40)
    assert split.x_train.dtype == np.float32 and split.y_train.dtype == np.int64
    args = get_dataset_args()
    args.num_samples, args.seed = 200, 5
    ref = make_dataset(args)
    x = np.concatenate([split.x_train, split.x_test])[:, 0]
    np.testing.assert_allclose(x, np.concatenate([ref["x"], ref["x_test"]]), atol=1e-6)
    y = np.concatenate([split.y_train, split.y_test])
    assert np.bincount(y).tolist() == [20] * 10
    assert abs(x.mean()) < 1e-5 and abs(x.std() - 1) < 1e-5  # standardized as a whole


def test_mnist1d_seed_and_dtype():
    a, b = load_mnist1d(n=100, seed=0, dtype=np.float64), load_mnist1d(n=100, seed=1)
    assert a.x_test.dtype == np.float64 and a.x_test.shape == (20, 1, 40)
    assert not np.allclose(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.x_train, load_mnist1d(n=100, seed=0, dtype=np.float64).x_train)


@pytest.mark.parametrize(
    "kwargs, error, name",
    [
        ({"n": 105}, ValueError, "n"),
        ({"n": 0}, ValueError, "n"),
        ({"n": 100.0}, TypeError, "n"),
        ({"test_fraction": 0}, ValueError, "test_fraction"),
    ],
)
def test_mnist1d_rejects_bad_arguments(kwargs, error, name):
    with pytest.raises(error, match=name):
        load_mnist1d(**kwargs)
