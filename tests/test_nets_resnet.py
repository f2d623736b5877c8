"""Residual networks of dlbook.nets: published parameter counts, the plain twins, shapes, and
summaries whose receptive fields are dlbook.receptive_field's."""

import pytest
import torch

import dlbook
from dlbook import nets
from dlbook.nets import count_parameters


@pytest.mark.parametrize(
    ("build", "published"),
    [(nets.resnet18, 11_689_512), (nets.resnet34, 21_797_672), (nets.resnet50, 25_557_032)],
)
def test_imagenet_resnets_have_the_published_parameter_counts(build, published):
    assert count_parameters(build()) == published


def test_imagenet_plain_twins_lack_exactly_the_projections():
    # ResNet-18: 1x1 projections 64->128, 128->256, 256->512 and their batch norms
    projections = 64 * 128 + 128 * 256 + 256 * 512 + 2 * (128 + 256 + 512)
    assert count_parameters(nets.resnet18(shortcut=False)) == 11_689_512 - projections
    # ResNet-50: one projection per stage, stage 1 included (64 -> 256)
    proj50 = sum(c * 4 * w + 2 * 4 * w for c, w in [(64, 64), (256, 128), (512, 256), (1024, 512)])
    assert count_parameters(nets.resnet50(shortcut=False)) == 25_557_032 - proj50


def _small_count(n, a=16, classes=9, c_in=3):
    """He et al.'s CIFAR ResNet counted by hand: convolutions without bias, BN two per channel."""
    w = [a, 2 * a, 4 * a]
    total = 9 * c_in * a + 2 * a + 4 * a * classes + classes
    for s, ws in enumerate(w):
        prev = w[max(s - 1, 0)]
        total += 9 * prev * ws + 9 * ws * ws + 4 * ws + (n - 1) * (18 * ws * ws + 4 * ws)
    return total


@pytest.mark.parametrize("n", [1, 3])
def test_small_resnet_and_its_plain_twin_have_the_same_parameters(n):
    res, plain = nets.resnet_small(n), nets.resnet_small(n, shortcut=False)
    assert count_parameters(res) == count_parameters(plain) == _small_count(n)
    assert res.depth == 6 * n + 2
    assert len(res.blocks()) == 3 * n
    convs = [m for m in res.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) + 1 == 6 * n + 2  # plus the linear layer


def test_resnet20_has_the_papers_0_27_million_parameters():
    assert round(count_parameters(nets.resnet_small(3, num_classes=10)), -4) == 270_000


def test_twins_from_the_same_seed_have_the_same_weights_but_different_outputs():
    torch.manual_seed(0)
    res = nets.resnet_small(1, widths=(4, 8, 16))
    torch.manual_seed(0)
    plain = nets.resnet_small(1, widths=(4, 8, 16), shortcut=False)
    for a, b in zip(res.parameters(), plain.parameters()):
        assert torch.equal(a, b)
    x = torch.randn(2, 3, 16, 16)
    assert res(x).shape == plain(x).shape == (2, 9)
    assert not torch.allclose(res(x), plain(x))


def test_no_batch_norm_gives_biases_and_no_bn_layers():
    model = nets.resnet_small(1, batch_norm=False)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    assert all(m.bias is not None for m in model.modules() if isinstance(m, torch.nn.Conv2d))


def test_basic_block_shapes_and_shortcuts():
    x = torch.randn(2, 4, 7, 7)
    for downsample in ("conv", "pad"):
        block = nets.BasicBlock(4, 8, stride=2, downsample=downsample)
        assert block(x).shape == (2, 8, 4, 4)
    assert nets.BasicBlock(4, 8, 2, downsample="pad").downsample.__class__ is nets.PadShortcut
    assert nets.BasicBlock(4, 4).downsample is None
    assert nets.BasicBlock(4, 8, 2, shortcut=False).downsample is None
    with pytest.raises(ValueError, match="downsample"):
        nets.BasicBlock(4, 8, downsample="zero")


def test_pad_shortcut_subsamples_and_appends_zero_channels():
    x = torch.arange(2 * 2 * 5 * 5, dtype=torch.float32).reshape(2, 2, 5, 5)
    y = nets.PadShortcut(2, 5, 2)(x)
    assert y.shape == (2, 5, 3, 3)
    assert torch.equal(y[:, :2], x[:, :, ::2, ::2])
    assert torch.count_nonzero(y[:, 2:]) == 0
    with pytest.raises(ValueError, match="out_channels"):
        nets.PadShortcut(4, 2)


def test_identity_shortcut_with_zero_branch_is_the_identity_on_non_negative_input():
    block = nets.BasicBlock(3, 3).eval()
    torch.nn.init.zeros_(block.bn2.weight)
    x = torch.rand(2, 3, 5, 5)
    assert torch.equal(block(x), x)


def test_bottleneck_shortcut_switch():
    x = torch.randn(1, 64, 8, 8)
    res, plain = nets.Bottleneck(64, 16), nets.Bottleneck(64, 16, shortcut=False)
    assert res(x).shape == plain(x).shape == (1, 64, 8, 8)
    assert plain.downsample is None and res.downsample is None


def test_small_resnet_refuses_bad_arguments():
    with pytest.raises(ValueError, match="blocks_per_stage"):
        nets.resnet_small(0)
    with pytest.raises(TypeError, match="blocks_per_stage"):
        nets.resnet_small(1.5)
    with pytest.raises(ValueError, match="widths"):
        nets.resnet_small(1, widths=(8, 16))


def test_summary_fields_are_dlbook_receptive_field():
    model = nets.resnet_small(1, widths=(4, 8, 16))
    s = nets.summary(model, (3, 16, 16))
    rf = dlbook.receptive_field(model, (3, 16, 16))
    assert s.field.size == rf.size and s.field.stride == rf.stride
    assert s.params == count_parameters(model)


def test_resnet50_trunk_receptive_field_is_427():
    trunk = nets.resnet50().trunk()
    assert isinstance(trunk[-1], torch.nn.Sequential) and len(trunk) == 8
    assert dlbook.receptive_field(trunk, (3, 224, 224)).size == (427, 427)
