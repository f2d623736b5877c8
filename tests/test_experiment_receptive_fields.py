"""The two-marks experiment of the receptive-field chapter."""

import numpy as np
import torch

from dlbook import receptive_field
from dlbook.experiments.receptive_fields import GAP, HEIGHT, WIDTH, build, make_pairs


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


def test_run_reports_field_weights_and_one_accuracy_per_seed():
    from dlbook.data import Split
    from dlbook.experiments.receptive_fields import run

    torch.set_num_threads(1)
    data = Split(*make_pairs(64, seed=0), *make_pairs(32, seed=1))
    configs = {
        "small": dict(dilations=(1, 1, 1)),
        "strided": dict(dilations=(1, 1, 1), strides=(2, 2, 1)),
    }
    results = run(configs, data, seeds=(0, 1), epochs=1, device="cpu")
    assert list(results) == ["small", "strided"]
    assert (results["small"]["field"], results["small"]["jump"]) == (7, 1)
    assert (results["strided"]["field"], results["strided"]["jump"]) == (15, 4)
    assert results["small"]["weights"] == results["strided"]["weights"] == 4834
    for r in results.values():
        assert len(r["accs"]) == 2 and all(0 <= a <= 100 for a in r["accs"])
