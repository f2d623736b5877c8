"""dlbook.receptive_field: published receptive fields, merges, the gradient cross-check, errors."""

import warnings

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import dlbook
from dlbook import nets
from dlbook.receptive import ReceptiveFieldError, effective_receptive_field, receptive_field

IMAGENET = (3, 224, 224)


# --- published values ---------------------------------------------------------------------------


def test_alexnet_195_px_jump_32():
    rf = receptive_field(nets.alexnet().features, IMAGENET)
    assert rf.size == (195, 195) and rf.stride == (32, 32)
    assert rf.out_shape == (256, 6, 6)


def test_vgg16_at_each_pool():
    rf = receptive_field(nets.vgg16().features, IMAGENET)
    pools = [row for row in rf.layers if row.kind == "MaxPool2d"]
    assert [row.size[0] for row in pools] == [6, 16, 44, 100, 212]
    assert [row.stride[0] for row in pools] == [2, 4, 8, 16, 32]
    assert rf.size == (212, 212) and rf.padding == (90, 90)


def test_resnet50_torchvision_layout():
    # Stride in each stage's first 3x3 conv (torchvision "v1.5"). By hand: stem 7 (jump 2), max
    # pool 11 (jump 4); every 3x3 adds 2*jump: layer1 11+3*8 = 35, layer2 35+8+3*16 = 91,
    # layer3 91+16+5*32 = 267, layer4 267+32+2*64 = 427.
    model = nets.resnet50()
    rf = receptive_field(model, IMAGENET)
    ends = {name: rf[f"{name}"].size[0] for name in ("maxpool", "layer1", "layer2", "layer3")}
    assert ends == {"maxpool": 11, "layer1": 35, "layer2": 91, "layer3": 267}
    assert rf["layer4"].size == (427, 427) and rf["layer4"].stride == (32, 32)
    # Global average pooling: each output sees the union of all 7x7 units' fields.
    assert rf.size == (427 + 6 * 32,) * 2 and not rf.spatial


def _slim_resnet50():
    """TF-slim's resnet_v1_50, the network in Araujo et al.'s table: the stride sits in the last
    unit of each of the first three blocks, and block 4 keeps stride 1."""
    layers = [nn.Conv2d(3, 64, 7, stride=2, padding=3), nn.ReLU(), nn.MaxPool2d(3, 2, padding=1)]
    c = 64
    for units, width, stride in ((3, 64, 2), (4, 128, 2), (6, 256, 2), (3, 512, 1)):
        for u in range(units):
            layers.append(nets.Bottleneck(c, width, stride if u == units - 1 else 1))
            c = width * 4
    return nn.Sequential(*layers)


def test_resnet50_published_483():
    rf = receptive_field(_slim_resnet50(), IMAGENET)
    assert rf.size == (483, 483) and rf.stride == (32, 32)


def test_lenet5_sees_its_whole_32px_input():
    rf = receptive_field(nets.lenet5().features, (1, 32, 32))
    assert rf.size == (32, 32) and rf.stride == (4, 4) and rf.out_shape == (120, 1, 1)
    assert rf["1"].kind == "ScaledTanh"  # a small custom module folds into one row


def test_dilation_grows_exponentially_stride_multiplicatively():
    dilated = nn.Sequential(*[nn.Conv2d(1, 1, 3, dilation=2**i, padding=2**i) for i in range(5)])
    assert receptive_field(dilated, (1, 64, 64)).size == (1 + 2 * (2**5 - 1),) * 2
    strided = nn.Sequential(*[nn.Conv2d(1, 1, 3, stride=2, padding=1) for _ in range(4)])
    rf = receptive_field(strided, (1, 64, 64))
    assert rf.stride == (16, 16) and rf.size == (1 + 2 * (1 + 2 + 4 + 8),) * 2


# --- merges ---------------------------------------------------------------------------------------


def test_inception_takes_the_largest_aligned_branch():
    block = nets.InceptionBlock(8, 4, (4, 8), (2, 4), 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # aligned branches: no warning
        rf = receptive_field(block, (8, 16, 16))
    assert rf.size == (5, 5) and rf.padding == (2, 2) and rf.out_shape == (20, 16, 16)


class _Misaligned(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(1, 1, 3, padding=1)
        self.b = nn.Sequential(nn.ZeroPad2d((0, 2, 0, 2)), nn.Conv2d(1, 1, 3))

    def forward(self, x):
        return self.a(x) + self.b(x)


def test_misaligned_paths_warn_and_give_the_union():
    with pytest.warns(UserWarning, match="not aligned"):
        rf = receptive_field(_Misaligned(), (1, 8, 8))
    # path a sees u-1..u+1, path b sees u..u+2: the union is u-1..u+2.
    assert rf.size == (4, 4) and rf.padding == (1, 1)
    assert "not aligned" in repr(rf)


class _Functional(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.ones(2, 1, 3, 3))

    def forward(self, x):
        y = F.conv2d(x, self.w, stride=2, padding=1)
        y = F.max_pool2d(torch.cat([y, y.relu()], dim=1), 2)
        return y.mean((2, 3))


def test_functional_calls_and_a_spatial_mean():
    rf = receptive_field(_Functional(), (1, 16, 16))
    # conv: 3, jump 2; pool 2: 3 + 2 = 5, jump 4; the mean over the 4x4 grid adds 3*4.
    assert rf["cat"].size == (3, 3)
    assert rf.size == (5 + 3 * 4,) * 2 and not rf.spatial


# --- the table, and the region of one unit -------------------------------------------------------


def test_region_of_one_unit():
    rf = receptive_field(nets.alexnet().features, IMAGENET)
    assert rf.padding == (66, 66)
    assert rf.region(0, 0, clip=False) == dlbook.receptive.Region(range(-66, 129), range(-66, 129))
    assert rf.region(0, 0) == dlbook.receptive.Region(range(0, 129), range(0, 129))
    assert rf.region(5, 2).rows == range(5 * 32 - 66, 224)
    with pytest.raises(ValueError, match="x=6"):
        rf.region(0, 6)


def test_table_text_and_html():
    rf = receptive_field(nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2)), (1, 8, 8))
    assert repr(rf).splitlines() == [
        "layer  kind       size  jump  padding  output",
        "-----  ---------  ----  ----  -------  -------",
        "0      Conv2d     3     1     0        1x2x6x6",
        "1      ReLU       3     1     0        1x2x6x6",
        "2      MaxPool2d  4     2     0        1x2x3x3",
        "receptive field 4 px, jump 2, effective padding 0",
    ]
    html = rf._repr_html_()
    assert html.count("<tr>") == 4 and "MaxPool2d" in html


@st.composite
def stacks(draw):
    layers, size = [], draw(st.integers(12, 24))
    for _ in range(draw(st.integers(1, 4))):
        k, s, d = draw(st.integers(1, 4)), draw(st.integers(1, 2)), draw(st.integers(1, 2))
        p = draw(st.integers(0, (k - 1) * d))
        if draw(st.booleans()):
            layers.append(nn.Conv2d(1, 1, k, stride=s, padding=p, dilation=d))
        else:
            p = min(p, k // 2)
            layers.append(nn.AvgPool2d(k, stride=s, padding=p, count_include_pad=True))
    return nn.Sequential(*layers), size


@settings(max_examples=30)
@given(stacks(), st.integers(0, 10**6))
def test_region_bounds_exactly_where_the_gradient_is_nonzero(case, seed):
    """Independent check by autograd. With positive weights and no ReLU, an output unit has a
    nonzero gradient on input pixels it sees, and on no others. Strides larger than a kernel (or
    dilation) can leave holes inside the field, so the field is the gradient's bounding box."""
    model, size = case
    torch.manual_seed(seed)
    for m in model:
        if isinstance(m, nn.Conv2d):
            nn.init.uniform_(m.weight, 0.5, 1.0)
    model = model.double()
    x = torch.zeros(1, 1, size, size, dtype=torch.float64, requires_grad=True)
    try:
        y = model(x)
    except RuntimeError:
        assume(False)  # the stack does not fit this input
    rf = receptive_field(model, (1, size, size))
    assert rf.out_shape == tuple(y.shape[1:])
    for uy, ux in {(0, 0), (y.shape[2] // 2, y.shape[3] - 1)}:
        (g,) = torch.autograd.grad(y[0, 0, uy, ux], x, retain_graph=True)
        hit = g[0, 0].numpy() > 0
        rows, cols = np.nonzero(hit.any(axis=1))[0], np.nonzero(hit.any(axis=0))[0]
        region, full = rf.region(uy, ux), rf.region(uy, ux, clip=False)
        assert region.rows.start <= rows.min() and rows.max() < region.rows.stop
        assert region.cols.start <= cols.min() and cols.max() < region.cols.stop
        if full.rows == region.rows:  # the field lies inside the image: its ends are both seen
            assert (rows.min(), rows.max() + 1) == (region.rows.start, region.rows.stop)
        if full.cols == region.cols:
            assert (cols.min(), cols.max() + 1) == (region.cols.start, region.cols.stop)


# --- what it refuses ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "model, match",
    [
        (nn.Sequential(nn.Conv2d(1, 1, 3), nn.Upsample(scale_factor=2)), "Upsample"),
        (nn.Sequential(nn.ConvTranspose2d(1, 1, 3)), "ConvTranspose2d"),
        (nn.Sequential(nn.Conv2d(1, 4, 3), nn.PixelShuffle(2)), "PixelShuffle"),
        (nn.Sequential(nn.Conv2d(1, 1, 3), nn.Linear(6, 6)), "Linear"),
        (nn.Sequential(nn.Conv2d(1, 1, 3), nn.AdaptiveAvgPool2d(4)), "unequal"),
        (nn.Sequential(nn.Conv2d(1, 1, 3), nn.Softmax(dim=-1)), "softmax"),
    ],
)
def test_unsupported_spatial_modules_raise(model, match):
    with pytest.raises(ReceptiveFieldError, match=match):
        receptive_field(model, (1, 8, 8))


class _DataDependent(nn.Module):
    def forward(self, x):
        return x if x.sum() > 0 else -x


def test_untraceable_model_and_bad_arguments():
    with pytest.raises(ReceptiveFieldError, match="could not trace"):
        receptive_field(_DataDependent(), (1, 4, 4))
    with pytest.raises(ValueError, match="input_shape"):
        receptive_field(nn.Conv2d(1, 1, 3), (1, 8))
    with pytest.raises(TypeError, match="model"):
        receptive_field(lambda x: x, (1, 8, 8))
    assert issubclass(ReceptiveFieldError, ValueError)


def test_training_mode_is_restored():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    receptive_field(model, (1, 5, 5))
    assert model.training


# --- the effective receptive field ---------------------------------------------------------------


def test_erf_lies_inside_the_theoretical_field_and_peaks_at_its_centre():
    torch.manual_seed(0)
    convs = [nn.Conv2d(1 if i == 0 else 8, 8, 3, padding=1) for i in range(4)]
    model = nn.Sequential(*[m for conv in convs for m in (conv, nn.ReLU())])
    erf = effective_receptive_field(model, (1, 21, 21), n=64)
    assert erf.shape == (21, 21) and erf.dtype == np.float64 and (erf >= 0).all()
    region = receptive_field(model, (1, 21, 21)).region(10, 10)
    outside = erf.copy()
    outside[region.slices] = 0
    assert region.rows == range(6, 15) and not outside.any() and erf[region.slices].sum() > 0
    assert np.unravel_index(erf.argmax(), erf.shape) == (10, 10)
    again = effective_receptive_field(model, (1, 21, 21), n=64)
    assert np.array_equal(erf, again)  # seeded


def test_erf_bad_arguments():
    model = nn.Conv2d(1, 1, 3)
    with pytest.raises(ValueError, match="n must"):
        effective_receptive_field(model, (1, 8, 8), n=0)
    with pytest.raises(ValueError, match="unit"):
        effective_receptive_field(model, (1, 8, 8), unit=(7, 0))


def test_erf_on_given_inputs_equals_the_random_draws_it_replaces():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 1, 3, padding=1))
    x = torch.randn(16, 2, 9, 9, generator=torch.Generator().manual_seed(5))
    drawn = effective_receptive_field(model, (2, 9, 9), n=16, seed=5)
    given = effective_receptive_field(model, (2, 9, 9), inputs=x.numpy())
    assert np.array_equal(drawn, given)
    with pytest.raises(ValueError, match="inputs"):
        effective_receptive_field(model, (2, 9, 9), inputs=np.zeros((3, 1, 9, 9)))
