"""The two-marks experiment of the receptive-field chapter."""

import numpy as np
import pytest
import torch
from torch import nn

from dlbook import receptive_field
from dlbook.experiments import receptive_fields as rfexp
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


def test_the_recurrence_equals_the_tracer_on_random_stacks():
    rng = np.random.default_rng(3)
    for _ in range(25):
        layers = []
        for _ in range(rng.integers(1, 6)):
            k, s, d = int(rng.integers(1, 6)), int(rng.integers(1, 3)), int(rng.integers(1, 3))
            layers.append((k, s, int(rng.integers(0, d * (k - 1) // 2 + 1)), d))
        model = nn.Sequential(*(nn.Conv2d(1, 1, k, s, q, d) for k, s, q, d in layers))
        traced = receptive_field(model, (1, 96, 96))
        table = rfexp.field_table(layers)
        assert table[-1] == rfexp.field_of_layers(layers)
        assert [(row.size[0], row.stride[0], row.padding[0]) for row in traced.layers] == table


def test_one_step_by_hand():
    assert rfexp.through((1, 1, 0), 3, 1, 1, 1) == (3, 1, 1)
    assert rfexp.through((6, 2, 2), 3, 2, 1, 1) == (10, 4, 4)  # taps 2 px apart: +4
    assert rfexp.through((5, 1, 2), 3, 1, 2, 2) == (9, 1, 4)
    assert rfexp.field_of_layers([]) == (1, 1, 0)


def test_merge_is_the_union_and_equals_the_tracer_on_a_bottleneck():
    from dlbook import nets

    block = nets.Bottleneck(64, 16, stride=2)
    main = rfexp.field_of_layers([(1, 1, 0, 1), (3, 2, 1, 1), (1, 1, 0, 1)])
    shortcut = rfexp.field_of_layers([(1, 2, 0, 1)])
    traced = receptive_field(block, (64, 16, 16))
    assert rfexp.merge(main, shortcut) == (traced.size[0], traced.stride[0], traced.padding[0])
    # a lopsided pair: pixels u-1..u+1 and u..u+2 give the four pixels u-1..u+2
    assert rfexp.merge((3, 1, 1), (3, 1, 0)) == (4, 1, 1)
    with pytest.raises(ValueError, match="fields: paths with different jumps"):
        rfexp.merge((3, 1, 1), (3, 2, 1))
    with pytest.raises(ValueError, match="fields: merge needs two paths"):
        rfexp.merge((3, 1, 1))
