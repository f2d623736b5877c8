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


def test_output_sizes_against_torch_agree_and_refuse_together():
    table = S.output_sizes_against_torch(range(1, 6), range(1, 4), (1, 2), (0, 1), (1, 2))
    assert len(table) == 5 * 3 * 2 * 2 * 2
    assert all(ours == theirs for ours, theirs in table.values())
    # A 3-tap kernel with dilation 2 spans 5 pixels: it fits in 5, not in 4 (without padding).
    assert table[5, 3, 1, 0, 2] == (1, 1)
    assert table[4, 3, 1, 0, 2] == (None, None)
    assert table[5, 3, 2, 1, 1] == (3, 3)


def test_dilated_stack_keeps_the_size_and_has_unit_weights():
    stack = S.dilated_stack((1, 2, 4))
    assert [layer.dilation for layer in stack] == [(1, 1), (2, 2), (4, 4)]
    assert all(torch.all(layer.weight == 1) and layer.bias is None for layer in stack)
    assert stack(torch.zeros(1, 1, 17, 17)).shape == (1, 1, 17, 17)


@pytest.mark.parametrize("dilations, side", [((1, 1, 1), 7), ((1, 2, 4), 15), ((2, 2, 2), 13)])
def test_footprint_spans_the_receptive_field(dilations, side):
    grad = S.footprint(dilations, size=21)
    rows = np.flatnonzero(grad.any(axis=1))
    cols = np.flatnonzero(grad.any(axis=0))
    assert rows[-1] - rows[0] + 1 == side == cols[-1] - cols[0] + 1
    assert rows[0] + rows[-1] == 20  # centred on pixel 10
    # With all weights 1 the entries count paths: 3 layers of 9 taps give 9**3 paths in all.
    assert grad.sum() == 9**3


def test_footprint_of_equal_dilations_has_gaps():
    grad = S.footprint((2, 2, 2), size=21)
    assert not grad[1::2].any() and not grad[:, 1::2].any()  # odd offsets from 10 are never seen
    assert (S.footprint((1, 2, 4), size=21)[3:18, 3:18] != 0).all()
