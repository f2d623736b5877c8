"""The layer objects take torch.nn's arguments: Conv2d's padding_mode, device and dtype, Linear's
device and dtype, ReLU(inplace), Flatten(start_dim, end_dim); signatures held to torch's."""

import inspect

import numpy as np
import pytest
import torch
from helpers import assert_close

from dlbook.scratch import layers as L

T = torch.from_numpy


def _params(cls):
    sig = inspect.signature(cls.__init__).parameters.values()
    return [(p.name, p.default, p.kind) for p in sig if p.name != "self"]


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (L.Conv2d, torch.nn.Conv2d),
        (L.Linear, torch.nn.Linear),
        (L.ReLU, torch.nn.ReLU),
        (L.Flatten, torch.nn.Flatten),
        (L.Sequential, torch.nn.Sequential),
        (L.MaxPool2d, torch.nn.MaxPool2d),
        (L.AvgPool2d, torch.nn.AvgPool2d),
        (L.BatchNorm1d, torch.nn.BatchNorm1d),
        (L.BatchNorm2d, torch.nn.BatchNorm2d),
        (L.LayerNorm, torch.nn.LayerNorm),
        (L.Dropout, torch.nn.Dropout),
    ],
)
def test_layer_signatures_are_torchs(ours, theirs):
    mine, torchs = _params(ours), _params(theirs)
    assert [p for p in mine if p in torchs] == torchs
    assert [p[0] for p in mine if p not in torchs] in ([], ["rng"])  # a NumPy rng is our addition


def _torch_conv(layer, **kw):
    o, i, kh, kw_ = layer.weight.shape
    module = torch.nn.Conv2d(i * layer.groups, o, (kh, kw_), **kw).double()
    module.weight.data = T(layer.weight.copy())
    if layer.bias is not None:
        module.bias.data = T(layer.bias.copy())
    return module


@pytest.mark.parametrize("padding_mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize(
    "shape, kw",
    [
        ((2, 4, 6, 7), dict(padding=1)),
        ((4, 6, 7), dict(padding=(2, 1), stride=2, groups=2)),  # unbatched
        ((2, 4, 5, 6), dict(padding="same", dilation=(1, 2))),
        ((2, 4, 5, 6), dict(padding="valid", bias=False)),
    ],
)
def test_conv2d_padding_modes_follow_torch(padding_mode, shape, kw, rng):
    layer = L.Conv2d(4, 6, 3, padding_mode=padding_mode, dtype=np.float64, rng=rng, **kw)
    module = _torch_conv(layer, padding_mode=padding_mode, **kw)
    x = rng.standard_normal(shape)
    xt = torch.tensor(x, requires_grad=True)
    out = module(xt)
    g = rng.standard_normal(out.shape)
    out.backward(T(g))
    assert_close(layer(x), out.detach().numpy())
    assert_close(layer.backward(g), xt.grad.numpy())
    for ours, p in zip(layer.grads, module.parameters(), strict=True):
        assert_close(ours, p.grad.numpy())


def test_conv2d_padding_mode_errors_name_the_argument():
    with pytest.raises(ValueError, match="padding_mode"):
        L.Conv2d(1, 1, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="padding: reflect"):  # torch refuses it too
        L.Conv2d(1, 1, 3, padding=3, padding_mode="reflect")(np.ones((1, 1, 3, 3), np.float32))
    with pytest.raises(ValueError, match="padding: circular"):
        L.Conv2d(1, 1, 3, padding=4, padding_mode="circular")(np.ones((1, 1, 3, 3), np.float32))
    with pytest.raises(ValueError, match="stride"):
        L.Conv2d(1, 1, 3, 2, "same", padding_mode="reflect")(np.ones((1, 1, 5, 5), np.float32))


@pytest.mark.parametrize(
    "make", [lambda **kw: L.Conv2d(2, 3, 3, **kw), lambda **kw: L.Linear(2, 3, **kw)]
)
def test_device_and_dtype_are_torchs(make):
    assert make().weight.dtype == np.float32 == make().bias.dtype  # torch's default dtype
    assert make(device="cpu", dtype=np.float64).weight.dtype == np.float64
    with pytest.raises(ValueError, match="device"):
        make(device="cuda:0")
    with pytest.raises(TypeError, match="dtype"):
        make(dtype=np.int64)


def test_relu_inplace_writes_into_its_input(rng):
    x = rng.standard_normal((3, 4))
    xt = torch.tensor(x, requires_grad=True)
    out = torch.nn.ReLU(inplace=True)(xt.clone())
    g = rng.standard_normal(x.shape)
    out.backward(T(g))
    layer = L.ReLU(inplace=True)
    y = layer(x)
    assert y is x and (x >= 0).all()
    assert_close(y, out.detach().numpy())
    assert_close(layer.backward(g), xt.grad.numpy())
    x2 = rng.standard_normal((3, 4))
    copy = x2.copy()
    L.ReLU()(x2)
    np.testing.assert_array_equal(x2, copy)  # not in place by default


@pytest.mark.parametrize(
    "shape, args", [((2, 3, 4, 5), ()), ((2, 3, 4, 5), (0, 2)), ((2, 3, 4, 5), (-3, -2)),
                    ((2, 3, 4), (2,)), ((3,), (0,))],
)  # fmt: skip
def test_flatten_follows_torch(shape, args, rng):
    x = rng.standard_normal(shape)
    out = torch.nn.Flatten(*args)(T(x)).numpy()
    layer = L.Flatten(*args)
    y = layer(x)
    assert_close(y, out, 0)
    np.testing.assert_array_equal(layer.backward(y), x)


@pytest.mark.parametrize(
    "args, error", [((5,), ValueError), ((2, 1), ValueError), ((1.0,), TypeError)]
)
def test_flatten_refuses_what_torch_refuses(args, error):
    x = np.ones((2, 3, 4))
    with pytest.raises((RuntimeError, IndexError, TypeError)):
        torch.nn.Flatten(*args)(T(x))
    with pytest.raises(error, match="_dim"):
        L.Flatten(*args)(x)


@pytest.mark.parametrize("padding_mode", ["zeros", "reflect"])
def test_conv2d_reads_one_element_tuples_as_torch(padding_mode, rng):
    # torch's reflect padding refuses padding=(1,) (NotImplementedError), so it gets an int
    padding = (1,) if padding_mode == "zeros" else 1
    kw = dict(stride=(2,), padding=padding, dilation=(1,), padding_mode=padding_mode)
    layer = L.Conv2d(2, 3, (3,), dtype=np.float64, rng=rng, **kw)
    module = _torch_conv(layer, **kw)
    x = rng.standard_normal((2, 2, 6, 7))
    xt = torch.tensor(x, requires_grad=True)
    out = module(xt)
    g = rng.standard_normal(out.shape)
    out.backward(T(g))
    assert layer.weight.shape == (3, 2, 3, 3)
    assert_close(layer(x), out.detach().numpy())
    assert_close(layer.backward(g), xt.grad.numpy())


@pytest.mark.parametrize("padding_mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("padding", [0, (0, 1), (2, 0)])
def test_conv2d_padding_mode_with_a_zero_padding_follows_torch(padding_mode, padding, rng):
    # torch accepts padding 0 (on one axis or both) with any padding_mode: nothing is padded there
    layer = L.Conv2d(2, 3, 3, padding=padding, padding_mode=padding_mode, dtype=np.float64, rng=rng)
    module = _torch_conv(layer, padding=padding, padding_mode=padding_mode)
    x = rng.standard_normal((2, 2, 5, 6))
    xt = torch.tensor(x, requires_grad=True)
    out = module(xt)
    g = rng.standard_normal(out.shape)
    out.backward(T(g))
    assert_close(layer(x), out.detach().numpy())
    assert_close(layer.backward(g), xt.grad.numpy())


def _modes(ours, theirs):
    return [m.training for m in [ours, *ours.layers]], [m.training for m in theirs.modules()]


def test_train_and_eval_switch_the_mode_as_torch(rng):
    ours = L.Sequential(L.Linear(3, 4, rng=rng), L.Dropout(0.5, rng=rng))
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Dropout(0.5))
    assert L.Linear(3, 4).training is torch.nn.Linear(3, 4).training is True  # a new layer trains
    assert _modes(ours, theirs) == ([True] * 3, [True] * 3)
    assert ours.eval() is ours and theirs.eval() is theirs
    assert _modes(ours, theirs) == ([False] * 3, [False] * 3)
    assert ours.train() is ours and theirs.train() is theirs  # train() means train(True)
    assert _modes(ours, theirs) == ([True] * 3, [True] * 3)
    ours.layers[1].eval(), theirs[1].eval()
    assert [m.training for m in ours.layers] == [m.training for m in theirs] == [True, False]


def test_eval_mode_turns_dropout_off_and_train_mode_back_on(rng):
    layer, x = L.Dropout(0.5, rng=rng), np.ones((4, 50))
    assert (layer(x) == 0).any()  # a new Dropout layer is in training mode: it drops
    np.testing.assert_array_equal(layer.eval()(x), x)  # evaluation mode: the identity
    assert (layer.train()(x) == 0).any()
