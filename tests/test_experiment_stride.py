"""The stride experiment: its model shapes, cost counts and a one-epoch run."""

import numpy as np
import pytest
import torch

from dlbook.data import load_digits
from dlbook.experiments import stride as S


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
