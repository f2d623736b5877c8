"""dlbook.nets: the classic layouts, held to their published parameter counts and shapes."""

import pytest
import torch

from dlbook import nets


def count(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    "build, params",
    [
        # torchvision's published counts for the same layouts
        (nets.alexnet, 61_100_840),
        (nets.vgg16, 138_357_544),
        (nets.resnet50, 25_557_032),
    ],
)
def test_published_parameter_counts(build, params):
    assert count(build()) == params


def test_imagenet_models_map_224_to_1000_classes():
    x = torch.zeros(1, 3, 224, 224)
    for build in (nets.alexnet, nets.resnet50):
        model = build().eval()
        with torch.no_grad():
            assert model(x).shape == (1, 1000)


def test_lenet5_layouts():
    # C1 156, C3 2,416 (fully connected), C5 48,120, F6 10,164, output 850.
    assert count(nets.lenet5()) == 156 + 2416 + 48120 + 10164 + 850
    for size in (28, 32):
        for modern in (False, True):
            model = nets.lenet5(input_size=size, modern=modern).eval()
            assert model(torch.zeros(2, 1, size, size)).shape == (2, 10)
            assert model.features(torch.zeros(1, 1, size, size)).shape == (1, 120, 1, 1)
    with pytest.raises(ValueError, match="input_size"):
        nets.lenet5(input_size=30)


def test_inception_block_concatenates_its_branches():
    block = nets.InceptionBlock(192, 64, (96, 128), (16, 32), 32)  # GoogLeNet's 3a
    assert block(torch.zeros(1, 192, 28, 28)).shape == (1, 256, 28, 28)
    # 1x1: 12,352; 1x1+3x3: 18,528 + 110,720; 1x1+5x5: 3,088 + 12,832; pool+1x1: 6,176
    assert count(block) == 163_696


def test_count_parameters_counts_trainable_numbers_only():
    from torch import nn

    from dlbook.nets import count_parameters

    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2, bias=False))
    assert count_parameters(model) == (3 * 4 + 4) + 4 * 2
    model[0].weight.requires_grad_(False)
    assert count_parameters(model) == 4 + 4 * 2
