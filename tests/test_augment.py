"""dlbook.data.augment: shifts, flips and noise, on NumPy arrays and torch tensors alike."""

import numpy as np
import pytest
import torch

from dlbook.data import load_digits
from dlbook.data.augment import Augment, gaussian_noise, random_flip, random_shift


def test_shift_moves_each_image_by_its_drawn_offset():
    x = np.zeros((40, 1, 7, 7), np.float32)
    x[:, 0, 3, 3] = 1.0  # one bright pixel in the middle
    out = random_shift(x, 2, np.random.default_rng(0))
    assert out.dtype == np.float32 and out.shape == x.shape
    shifts = np.random.default_rng(0).integers(-2, 3, size=(40, 2))
    for img, (dy, dx) in zip(out, shifts):
        assert img[0, 3 + dy, 3 + dx] == 1.0 and img.sum() == 1.0
    assert len(np.unique(shifts, axis=0)) > 5


def test_torch_and_numpy_agree_and_edges_fill_with_zeros():
    x = np.random.default_rng(1).random((16, 2, 5, 6)).astype(np.float32)
    a = random_shift(x, 1, np.random.default_rng(3))
    b = random_shift(torch.from_numpy(x), 1, np.random.default_rng(3))
    assert isinstance(b, torch.Tensor) and np.array_equal(a, b.numpy())
    assert np.array_equal(random_shift(x, 0, np.random.default_rng(0)), x)
    f1 = random_flip(x, 0.5, np.random.default_rng(4))
    f2 = random_flip(torch.from_numpy(x), 0.5, np.random.default_rng(4)).numpy()
    assert np.array_equal(f1, f2)
    flipped = [i for i in range(16) if not np.array_equal(f1[i], x[i])]
    assert 0 < len(flipped) < 16
    for i in flipped:
        assert np.array_equal(f1[i], x[i, :, :, ::-1])


def test_noise_statistics_and_clipping():
    x = np.full((200, 1, 8, 8), 0.5, np.float32)
    out = gaussian_noise(x, 0.1, np.random.default_rng(0))
    assert out.dtype == np.float32
    assert abs(out.std() - 0.1) < 0.005 and abs(out.mean() - 0.5) < 0.005
    assert gaussian_noise(x + 0.5, 0.2, np.random.default_rng(0)).max() <= 1.0


def test_bad_arguments():
    x = np.zeros((2, 1, 4, 4))
    with pytest.raises(ValueError, match="max_shift"):
        random_shift(x, -1)
    with pytest.raises(ValueError, match="x must be a batch"):
        random_shift(np.zeros((4, 4)), 1)
    with pytest.raises(ValueError, match="p must"):
        random_flip(x, 1.5)
    with pytest.raises(ValueError, match="std"):
        gaussian_noise(x, -0.1)


def test_fit_applies_the_augmentation_to_training_batches():
    from dlbook.train import fit

    seen = []

    class Spy(Augment):
        def __call__(self, x):
            seen.append(x.shape[0])
            return super().__call__(x)

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    data = load_digits()
    fit(model, data, epochs=1, batch_size=100, device="cpu", augment=Spy(shift=1, seed=0))
    assert sum(seen) == len(data.x_train) and len(seen) == -(-len(data.x_train) // 100)
