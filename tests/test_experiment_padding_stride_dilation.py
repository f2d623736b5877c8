"""The stride experiment: its model shapes, cost counts and a one-epoch run."""

import numpy as np
import pytest
import torch

from dlbook.data import load_digits
from dlbook.experiments import padding_stride_dilation as S


@pytest.mark.parametrize("s, side", [(1, 12), (2, 3), (3, 2)])
def test_model_shapes(s, side):
    model = S.build_model(s)
    assert model(torch.zeros(2, 1, 12, 12)).shape == (2, 10)
    assert model[-1].in_features == 16 * side * side
    gap = S.build_model(s, head="gap")
    assert gap(torch.zeros(2, 1, 12, 12)).shape == (2, 10)
    assert gap[-1].in_features == 16


def test_count_macs_by_hand():
    # stride 2 on 12×12: conv1 8·6²·1·9, conv2 16·3²·8·9, linear (16·3²)·10
    expected = 8 * 36 * 9 + 16 * 9 * 8 * 9 + 144 * 10
    assert S.count_macs(S.build_model(2), (1, 12, 12)) == expected == 14400


def test_pad_images_adds_a_zero_border():
    digits = load_digits()
    data = S.pad_images(digits)
    assert data.x_train.shape[1:] == (1, 12, 12)
    x = data.x_test[0, 0]
    assert np.array_equal(x[2:-2, 2:-2], digits.x_test[0, 0])
    assert x.sum() == digits.x_test[0, 0].sum()
    with pytest.raises(ValueError, match="border"):
        S.pad_images(digits, -1)


def test_bad_arguments():
    with pytest.raises(ValueError, match="stride"):
        S.build_model(0)
    with pytest.raises(ValueError, match="head"):
        S.build_model(1, head="max")


def test_short_run_restores_threads():
    before = torch.get_num_threads()
    (result,) = S.run(strides=(2,), seeds=(0,), epochs=1, threads=1)
    assert torch.get_num_threads() == before
    assert result.stride == 2 and result.feature_map == 3 and result.receptive_field == 7
    assert result.params == 8 * 9 + 8 + 16 * 8 * 9 + 16 + 144 * 10 + 10
    assert 0.1 < result.mean <= 1 and result.std == 0
    assert result.mean_curve.shape == (1,) and result.mean_curve[0] == result.mean


def test_run_records_every_epoch_and_the_training_accuracy():
    (result,) = S.run(strides=(3,), seeds=(0, 1), epochs=2, head="gap", eval_train=False)
    assert len(result.curves) == 2 and all(len(c) == 2 for c in result.curves)
    assert result.at(2) == result.accuracies and len(result.at(1)) == 2
    assert len(result.train_accuracies) == 2
    assert all(0 <= a <= 1 for a in result.train_accuracies)
    with pytest.raises(ValueError, match="epoch"):
        result.at(3)


def test_patch_features_by_hand():
    # Centres: the all-zero patch and the all-one patch (3×3). On a blank image every patch is
    # 0, at distance 0 and 3 from them: mean 1.5, so the features are (1.5, 0).
    blank = np.zeros((2, 1, 4, 4))
    centres = np.stack([np.zeros(9), np.ones(9)])
    f = S.patch_features(blank, centres, size=3)
    assert f.shape == (2, 2)
    assert np.allclose(f, [[1.5, 0.0], [1.5, 0.0]])


def test_patch_features_match_a_loop():
    rng = np.random.default_rng(0)
    x = rng.random((2, 1, 5, 6))
    centres = rng.random((3, 9))
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    expected = np.zeros((2, 3))
    for n in range(2):
        for i in range(5):
            for j in range(6):
                z = np.linalg.norm(centres - padded[n, 0, i : i + 3, j : j + 3].ravel(), axis=1)
                expected[n] += np.maximum(0, z.mean() - z) / 30
    assert np.allclose(S.patch_features(x, centres, size=3), expected)
    with pytest.raises(ValueError, match="centres"):
        S.patch_features(x, centres, size=5)
    with pytest.raises(ValueError, match="images"):
        S.patch_features(x[0], centres, size=3)


def test_patch_baseline_is_far_above_chance():
    base = S.patch_baseline(clusters=8, size=3, seeds=(0,), sample=2000)
    assert base.clusters == 8 and base.size == 3 and len(base.accuracies) == 1
    assert 0.3 < base.mean <= 1 and 0.3 < base.train_accuracies[0] <= 1
