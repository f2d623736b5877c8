"""The two-marks experiment of the receptive-field chapter."""

import numpy as np
import pytest
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


def test_random_stacks_are_drawn_from_the_rng_with_positive_weights():
    from dlbook import seeding
    from dlbook.experiments.receptive_fields import random_stack

    for seed in range(5):
        a, b = random_stack(seeding.rng(seed)), random_stack(seeding.rng(seed))
        assert 1 <= len(a) <= 4 and repr(a) == repr(b)
        for m in a:
            assert isinstance(m, (torch.nn.Conv2d, torch.nn.AvgPool2d))
            if isinstance(m, torch.nn.Conv2d):
                assert m.weight.dtype == torch.float64 and m.bias is None
                assert 0.5 <= m.weight.min() and m.weight.max() <= 1.0


def test_check_random_stacks_counts_what_autograd_finds():
    from dlbook import seeding
    from dlbook.experiments.receptive_fields import check_random_stacks

    counts = check_random_stacks(seeding.rng(0), count=8)
    assert counts["checked"] == 8
    assert counts["bounded"] == 8 and counts["exact"] == counts["inside"]
    assert 0 <= counts["holes"] <= 8 and 0 <= counts["inside"] <= 8
    assert check_random_stacks(seeding.rng(0), count=8) == counts


def test_conv_stacks_grow_linearly_multiplicatively_exponentially():
    from dlbook.experiments.receptive_fields import STACK_KINDS, conv_stack, field_growth

    plain, strided, dilated = STACK_KINDS
    assert receptive_field(conv_stack(plain, 3), (1, 64, 64)).size[0] == 7
    assert receptive_field(conv_stack(strided, 3), (1, 64, 64)).stride[0] == 8
    assert conv_stack(dilated, 3)[2].dilation == (4, 4)
    with pytest.raises(ValueError, match="kind"):
        conv_stack("5×5", 2)
    depths = [1, 2, 3, 4]
    g = field_growth(depths, size=64, channels=4)
    assert g["sizes"][plain] == [2 * d + 1 for d in depths]
    assert g["sizes"][strided] == g["sizes"][dilated] == [2 ** (d + 1) - 1 for d in depths]
    assert g["jumps"][strided] == [2**d for d in depths] and g["jumps"][dilated] == [1] * 4
    assert all(g["params"][k] == [d * (9 * 16 + 4) for d in depths] for k in STACK_KINDS)
    assert g["big"] == [3, 5, 7, 9, 15, 31]
    assert g["big_params"] == [r * r * 16 + 4 for r in g["big"]]
