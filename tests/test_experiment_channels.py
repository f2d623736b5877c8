"""The Channels chapter's cost counts and experiment, against hand computations and torch."""

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from dlbook.data import Split, load_digits
from dlbook.experiments.channels import (
    ConvCost,
    conv_cost,
    cost_modules,
    cost_rows,
    make_net,
    model_cost,
    run,
    separable_cost,
)


def _torch_macs(module, shape):
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        module(torch.zeros(shape))
    return counter.get_total_flops() // 2  # one multiply-add is two FLOPs


def test_conv_cost_by_hand():
    cost = conv_cost(3, 64, 3, groups=1, out_hw=(32, 32))
    assert cost == ConvCost((64, 3, 3, 3), 64 * 3 * 9 + 64, 64 * 27 * 32 * 32)
    grouped = conv_cost(8, 16, (3, 5), groups=4, out_hw=(2, 3), bias=False)
    assert grouped.weight_shape == (16, 2, 3, 5)
    assert grouped.params == 16 * 2 * 15
    assert grouped.macs == 16 * 2 * 15 * 6


@pytest.mark.parametrize(
    "c_in, c_out, k, groups",
    [(3, 8, 3, 1), (8, 8, 3, 2), (8, 16, 3, 8), (12, 6, 5, 3), (4, 4, 1, 1)],
)
def test_conv_cost_matches_torch(c_in, c_out, k, groups):
    layer = nn.Conv2d(c_in, c_out, k, groups=groups)
    hw = 10 - k + 1
    cost = conv_cost(c_in, c_out, k, groups, (hw, hw))
    assert cost.params == sum(p.numel() for p in layer.parameters())
    assert cost.weight_shape == tuple(layer.weight.shape)
    assert cost.macs == _torch_macs(layer, (1, c_in, 10, 10))


@pytest.mark.parametrize(
    "kwargs, word",
    [
        (dict(in_channels=6, out_channels=8, kernel_size=3, groups=4), "groups"),
        (dict(in_channels=8, out_channels=6, kernel_size=3, groups=4), "groups"),
        (dict(in_channels=0, out_channels=6, kernel_size=3), "in_channels"),
        (dict(in_channels=2, out_channels=6, kernel_size=(3, 3, 3)), "kernel_size"),
        (dict(in_channels=2, out_channels=6, kernel_size=3, groups=True), "groups"),
    ],
)
def test_conv_cost_rejects_bad_arguments(kwargs, word):
    with pytest.raises(ValueError, match=word):
        conv_cost(**kwargs)


def test_separable_ratio_is_one_over_cout_plus_one_over_k2():
    c, k = 256, 3
    standard = conv_cost(c, c, k, bias=False)
    separable = separable_cost(c, c, k, bias=False)
    assert separable.params / standard.params == pytest.approx(1 / c + 1 / k**2)
    block = nn.Sequential(nn.Conv2d(c, c, k, groups=c), nn.Conv2d(c, c, 1))
    assert separable_cost(c, c, k).params == sum(p.numel() for p in block.parameters())


def test_cost_rows():
    rows = cost_rows(channels=16, kernel_size=3, out_hw=(4, 4), groups=(2, 4))
    names = [r[0] for r in rows]
    assert names == [
        "standard",
        "grouped, groups=2",
        "grouped, groups=4",
        "depthwise only",
        "depthwise separable",
    ]
    params = [r[2].params for r in rows]
    assert params[0] == 16 * 16 * 9 + 16 and params[1] == 16 * 8 * 9 + 16
    assert params[:4] == sorted(params[:4], reverse=True)  # fewer groups, more weights
    assert params[4] == params[3] + 16 * 16 + 16  # depthwise + pointwise 1×1


@pytest.mark.parametrize("kind", ["standard", "grouped", "separable"])
def test_make_net_and_model_cost(kind):
    torch.manual_seed(0)
    net = make_net(kind, width=8, groups=4)
    assert net(torch.zeros(2, 1, 8, 8)).shape == (2, 10)
    params, macs = model_cost(net)
    assert params == sum(p.numel() for p in net.parameters())
    # By hand: stem 1→8 on 8×8, block 8→16 on 8×8, block 16→16 on 4×4, linear 16→10.
    block = dict(standard=conv_cost, separable=separable_cost)
    if kind == "grouped":
        inner = conv_cost(8, 16, 3, 4, (8, 8)).macs + conv_cost(16, 16, 3, 4, (4, 4)).macs
    else:
        cost = block[kind]
        inner = cost(8, 16, 3, out_hw=(8, 8)).macs + cost(16, 16, 3, out_hw=(4, 4)).macs
    assert macs == conv_cost(1, 8, 3, out_hw=(8, 8)).macs + inner + 16 * 10


def test_make_net_rejects_unknown_kind():
    with pytest.raises(ValueError, match="kind"):
        make_net("dilated")


def test_separable_net_is_cheaper():
    standard = model_cost(make_net("standard", 16))
    separable = model_cost(make_net("separable", 16))
    assert separable[0] < standard[0] / 4 and separable[1] < standard[1] / 4


@pytest.fixture
def one_thread():
    # Tiny layers: a second thread only adds synchronisation, and stalls on a busy machine.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_run_is_repeatable(one_thread):
    d = load_digits()
    small = Split(d.x_train[:200], d.y_train[:200], d.x_test[:100], d.y_test[:100])
    kwargs = dict(kinds=("separable",), seeds=(0,), epochs=1, width=4, device="cpu")
    first, second = run(small, **kwargs), run(small, **kwargs)
    assert len(first) == 1 and first[0]["kind"] == "separable" and first[0]["seed"] == 0
    assert first[0]["test_acc"] == second[0]["test_acc"]
    assert 0.0 <= first[0]["test_acc"] <= 1.0
    assert first[0]["params"] == model_cost(make_net("separable", 4))[0]
    np.testing.assert_equal(len(first[0]["history"]), 1)


def test_cost_modules_are_the_rows_layers_as_torch_counts_them():
    rows = cost_rows(channels=8, kernel_size=3, out_hw=(5, 5), groups=(2, 4))
    modules = cost_modules(channels=8, kernel_size=3, groups=(2, 4))
    assert len(modules) == len(rows) == 5
    assert all(p.device.type == "meta" for m in modules for p in m.parameters())
    counted = [model_cost(m, (8, 5, 5)) for m in modules]
    assert counted == [(cost.params, cost.macs) for _, _, cost in rows]
    assert [m.groups for m in modules[:4]] == [1, 2, 4, 8]
    assert modules[0].weight.shape == rows[0][2].weight_shape


def test_cost_modules_without_bias_on_the_cpu():
    modules = cost_modules(channels=4, kernel_size=5, groups=(2,), bias=False, device="cpu")
    rows = cost_rows(channels=4, kernel_size=5, out_hw=(6, 6), groups=(2,), bias=False)
    assert all(p.device.type == "cpu" for m in modules for p in m.parameters())
    out = modules[-1](torch.zeros(1, 4, 6, 6))
    assert out.shape == (1, 4, 6, 6)  # padding k // 2 keeps the size
    assert [model_cost(m, (4, 6, 6)) for m in modules] == [(c.params, c.macs) for _, _, c in rows]
