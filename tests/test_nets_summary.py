"""dlbook.nets.summary: parameters, multiply-adds and receptive fields, per layer and in total."""

import pytest
import torch
from torch import nn

from dlbook import nets, receptive_field


@pytest.mark.parametrize(
    "build, params, gmacs, field, last",
    [
        # torchvision's published parameter counts and GFLOPS (its "GFLOPS" count multiply-adds);
        # the last spatial layer's receptive field as Araujo, Norris & Sim (2019) compute it
        # (427 for ResNet-50 v1.5, whose stride sits in the 3x3; their 483 is TF-slim's layout).
        (nets.alexnet, 61_100_840, 0.71, 195, "features.12"),
        (nets.vgg16, 138_357_544, 15.47, 212, "features.30"),
        (nets.resnet50, 25_557_032, 4.09, 427, "layer4.2.relu"),
    ],
)
def test_published_models(build, params, gmacs, field, last):
    model = build()
    s = nets.summary(model, (3, 224, 224))
    assert s.params == params == nets.count_parameters(model)
    assert sum(r.params for r in s.rows) == params  # every parameter counted once
    assert round(s.mult_adds / 1e9, 2) == gmacs
    assert s[last].field == (field, field)
    assert s.out_shape == (1000,)


def test_mult_adds_by_hand():
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),  # 4*8*8 outputs, 3*9 products each
        nn.ReLU(),
        nn.Conv2d(4, 6, 3, stride=2, groups=2),  # 6*3*3 outputs, (4/2)*9 products each
        nn.Flatten(),
        nn.Linear(54, 5),  # 5 outputs, 54 products each
    )
    s = nets.summary(model, (3, 8, 8))
    assert [r.mult_adds for r in s.rows] == [4 * 64 * 27, 0, 54 * 18, 0, 5 * 54]
    assert [r.out_shape for r in s.rows] == [(4, 8, 8), (4, 8, 8), (6, 3, 3), (54,), (5,)]
    assert [r.field for r in s.rows][:3] == [(3, 3), (3, 3), (5, 5)]
    assert s.params == (3 * 9 * 4 + 4) + (2 * 9 * 6 + 6) + (54 * 5 + 5)
    text = repr(s)
    assert "mult-adds" in text and f"{s.mult_adds:,} multiply-adds" in text
    assert "<table" in s._repr_html_()


def test_fields_equal_the_tracer_for_a_block_with_a_shortcut():
    block = nets.Bottleneck(16, 8, stride=2)
    rf = receptive_field(block, (16, 32, 32))
    s = nets.summary(block, (16, 32, 32))
    for name in ("conv1", "conv2", "conv3", "downsample.0"):
        assert s[name].field == rf[name].size
    assert s.field.size == rf.size
    # the shared ReLU is called three times: three rows, its (zero) parameters counted once
    assert [r.name for r in s.rows].count("relu") == 3


def test_trace_field_off_and_bad_input():
    s = nets.summary(nets.InceptionBlock(8, 4, (4, 8), (2, 4), 4), (8, 16, 16), trace_field=False)
    assert s.field is None and all(r.field is None for r in s.rows)
    assert s.out_shape == (20, 16, 16)
    with pytest.raises(ValueError, match="input_shape"):
        nets.summary(nn.Conv2d(1, 1, 3), (1, 8))
    with pytest.raises(TypeError, match="model"):
        nets.summary(lambda x: x, (1, 8, 8))


def test_mode_is_restored():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2)).train()
    before = model[1].running_mean.clone()
    nets.summary(model, (1, 6, 6))
    assert model.training and torch.equal(model[1].running_mean, before)
