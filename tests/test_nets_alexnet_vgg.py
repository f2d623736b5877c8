"""AlexNet as published, the small AlexNet and VGG networks: shapes, parameters counted by hand,
and summaries whose receptive fields are dlbook.receptive_field's."""

import pytest
import torch
import torch.nn as nn

from dlbook import nets, receptive_field


def _own_params(m):
    return sum(p.numel() for p in m.parameters(recurse=False))


@pytest.fixture(scope="module")
def paper():
    model = nets.alexnet_paper().eval()
    return model, nets.summary(model, (3, 227, 227))


def test_alexnet_paper_has_the_published_count_layer_by_layer(paper):
    model, _ = paper
    learned = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    by_hand = [
        96 * 3 * 11 * 11 + 96,  # conv1
        256 * (96 // 2) * 5 * 5 + 256,  # conv2: each half sees the 48 maps of its own GPU
        384 * 256 * 3 * 3 + 384,  # conv3: sees both GPUs
        384 * (384 // 2) * 3 * 3 + 384,  # conv4
        256 * (384 // 2) * 3 * 3 + 256,  # conv5
        256 * 6 * 6 * 4096 + 4096,  # fc6
        4096 * 4096 + 4096,  # fc7
        4096 * 1000 + 1000,  # fc8
    ]
    assert [_own_params(m) for m in learned] == by_hand
    assert sum(by_hand) == nets.count_parameters(model) == 60_965_224


def test_alexnet_paper_has_5_conv_and_3_fully_connected_layers(paper):
    assert nets.learned_layers(paper[0]) == dict(conv=5, linear=3, total=8)
    layers = nets.learned_layers(nn.Sequential(nets.vgg_block(3, 4, 2), nn.Linear(2, 2)))
    assert layers == dict(conv=2, linear=1, total=3)


def test_alexnet_paper_shapes_and_lrn_constants(paper):
    model, s = paper
    shapes = [r.out_shape for r in s.rows if r.kind in ("Conv2d", "MaxPool2d")]
    assert shapes == [(96, 55, 55), (96, 27, 27), (256, 27, 27), (256, 13, 13), (384, 13, 13),
                      (384, 13, 13), (256, 13, 13), (256, 6, 6)]  # fmt: skip
    assert s.out_shape == (1000,)
    lrn = [m for m in model.modules() if isinstance(m, nn.LocalResponseNorm)]
    assert len(lrn) == 2
    for m in lrn:  # torch divides alpha by n: the paper's 1e-4 is torch's 5e-4
        assert (m.size, m.alpha / m.size, m.beta, m.k) == (5, pytest.approx(1e-4), 0.75, 2.0)
    # the paper's formula by hand on one value
    x = torch.randn(1, 8, 2, 2, dtype=torch.float64)
    c = 3
    by_hand = x[0, c] / (2 + 1e-4 * (x[0, 1:6] ** 2).sum(0)) ** 0.75
    torch.testing.assert_close(lrn[0].double()(x)[0, c], by_hand)


def test_full_size_fields_equal_receptive_field(paper):
    model, s = paper
    assert s.field.size == receptive_field(model, (3, 227, 227)).size
    assert s["features.14"].field == (195, 195)  # the last pool: AlexNet's published 195 px


@pytest.mark.parametrize("kw", [dict(), dict(activation="tanh", lrn=True), dict(pool_kernel=2)])
def test_alexnet_small_shapes_and_field(kw):
    model = nets.alexnet_small(widths=(4, 8, 8, 8, 6), hidden=16, **kw).eval()
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 9)
    s = nets.summary(model, (3, 32, 32))
    assert s.field.size == receptive_field(model, (3, 32, 32)).size
    assert s.rows[0].out_shape == (4, 16, 16)  # the large first kernel, stride 2
    assert nets.learned_layers(model)["total"] == 8
    if kw.get("activation") == "tanh":
        assert any(isinstance(m, nn.Tanh) for m in model.modules())
    assert sum(isinstance(m, nn.LocalResponseNorm) for m in model.modules()) == 2 * kw.get(
        "lrn", False
    )


def test_alexnet_small_refuses_bad_arguments():
    with pytest.raises(ValueError, match="activation"):
        nets.alexnet_small(activation="gelu")
    with pytest.raises(ValueError, match="pool_kernel"):
        nets.alexnet_small(pool_kernel=4)
    with pytest.raises(ValueError, match="widths"):
        nets.alexnet_small(widths=(4, 4))
    with pytest.raises(ValueError, match="dropout"):
        nets.alexnet_small(dropout=1.0)


def test_vgg_block_by_hand():
    block = nets.vgg_block(4, 6, 2)
    assert [type(m).__name__ for m in block] == ["Conv2d", "ReLU", "Conv2d", "ReLU", "MaxPool2d"]
    assert nets.count_parameters(block) == (6 * 4 * 9 + 6) + (6 * 6 * 9 + 6)
    assert block(torch.zeros(1, 4, 10, 10)).shape == (1, 6, 5, 5)
    bn = nets.vgg_block(4, 6, 3, batch_norm=True)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in bn) == 3
    # two 3x3 see the same 5x5 window as one 5x5, with 18 C^2 weights against 25 C^2
    c = 8
    stack, one = nets.vgg_block(c, c, 2), nets.vgg_block(c, c, 1, kernel_size=5)
    assert nets.count_parameters(stack) - 2 * c == 18 * c * c
    assert nets.count_parameters(one) - c == 25 * c * c
    for b in (stack, one):
        assert receptive_field(b[:-1], (c, 16, 16)).size == (5, 5)
    with pytest.raises(ValueError, match="kernel_size"):
        nets.vgg_block(4, 4, 1, kernel_size=4)
    with pytest.raises(ValueError, match="num_convs"):
        nets.vgg_block(4, 4, 0)


def test_vgg_small_twins_share_their_receptive_field():
    stack = nets.vgg_small(widths=(4, 8, 8), num_convs=2)
    large = nets.vgg_small(widths=(4, 8, 8), num_convs=1, kernel_size=5)
    for m in (stack, large):
        assert m(torch.zeros(2, 3, 32, 32)).shape == (2, 9)
        s = nets.summary(m, (3, 32, 32))
        assert s.field.size == receptive_field(m, (3, 32, 32)).size == (60, 60)
    assert nets.learned_layers(stack)["conv"] == 6 and nets.learned_layers(large)["conv"] == 3
    assert nets.vgg_small(num_convs=(1, 2, 3))(torch.zeros(1, 3, 32, 32)).shape == (1, 9)
    with pytest.raises(ValueError, match="num_convs"):
        nets.vgg_small(num_convs=(1, 2))
    with pytest.raises(ValueError, match="input_size"):
        nets.vgg_small(input_size=4)
