"""The two-marks experiment of the receptive-field chapter."""

import numpy as np
import torch

from dlbook import receptive_field
from dlbook.experiments.receptive import GAP, HEIGHT, WIDTH, build, make_pairs


def test_each_strip_has_its_two_marks_gap_apart():
    x, y = make_pairs(50, seed=0)
    assert x.shape == (50, 1, HEIGHT, WIDTH)
    for img, label in zip(x[:, 0], y):
        (r1, c1), (r2, c2) = np.argwhere(img == 1)[0], np.argwhere(img == -1)[0]
        assert r1 == r2 and abs(c1 - c2) == GAP and (c1 < c2) == (label == 1)


def test_build_fields_follow_the_dilations():
    assert receptive_field(build((1, 1, 1))[0], (1, HEIGHT, WIDTH)).size[1] == 7
    assert receptive_field(build((1, 2, 4))[0], (1, HEIGHT, WIDTH)).size[1] == 15
    out = build((1, 1, 1), strides=(2, 2, 1))(torch.zeros(3, 1, HEIGHT, WIDTH))
    assert out.shape == (3, 2)
