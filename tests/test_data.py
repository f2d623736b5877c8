import numpy as np
import pytest

from dlbook.data import IMAGES, load_digits, load_image


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
