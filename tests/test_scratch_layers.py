"""The NumPy layer objects, LeNet-5 in NumPy held to dlbook.nets.LeNet5, and the NumPy fit loop."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlbook import nets
from dlbook.data import Split
from dlbook.scratch import layers as L
from dlbook.scratch import optim
from dlbook.scratch.fit import evaluate, fit, train_step
from dlbook.scratch.losses import cross_entropy, cross_entropy_backward
from dlbook.scratch.nets import lenet5


def torch_lenet(input_size, modern):
    torch.manual_seed(0)
    net = nets.lenet5(input_size=input_size, modern=modern).double()
    if modern:  # the NumPy version has no batch norm: drop torch's, keep the rest in order
        feats = [m for m in net.features if not isinstance(m, torch.nn.BatchNorm2d)]
        for m in feats:
            if isinstance(m, torch.nn.Conv2d):
                m.bias = torch.nn.Parameter(torch.zeros(m.out_channels, dtype=torch.float64))
        net.features = torch.nn.Sequential(*feats)
    return net


@pytest.mark.parametrize("input_size, modern", [(32, False), (28, False), (28, True)])
def test_numpy_lenet_equals_torch_lenet(input_size, modern):
    tnet = torch_lenet(input_size, modern)
    net = lenet5(input_size=input_size, modern=modern, dtype=np.float64)
    net.set_params(p.detach().numpy() for p in tnet.parameters())
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 1, input_size, input_size))
    y = np.array([1, 7, 3])
    xt = torch.tensor(x, requires_grad=True)
    loss_t = F.cross_entropy(tnet(xt), torch.tensor(y))
    loss_t.backward()
    logits = net(x)
    assert abs(cross_entropy(logits, y) - loss_t.item()) < 1e-12
    gx = net.backward(cross_entropy_backward(1.0, logits, y))
    assert np.abs(gx - xt.grad.numpy()).max() < 1e-12
    assert len(net.grads) == len(list(tnet.parameters()))
    for g, p in zip(net.grads, tnet.parameters()):
        assert g.shape == p.shape and np.abs(g - p.grad.numpy()).max() < 1e-12


def test_numpy_lenet_defaults_are_the_torch_lenets():
    ours, theirs = lenet5(rng=np.random.default_rng(0)), nets.lenet5()
    assert [p.shape for p in ours.params] == [tuple(p.shape) for p in theirs.parameters()]
    x = np.zeros((2, 1, 32, 32), np.float32)  # the default input_size, 32: C1 unpadded
    assert ours(x).shape == tuple(theirs(torch.from_numpy(x)).shape) == (2, 10)


def test_one_sgd_step_matches_torch():
    tnet = torch_lenet(28, True)
    net = lenet5(input_size=28, modern=True, dtype=np.float64)
    net.set_params(p.detach().numpy() for p in tnet.parameters())
    x = np.random.default_rng(1).random((4, 1, 28, 28))
    y = np.array([0, 1, 2, 3])
    topt = torch.optim.SGD(tnet.parameters(), lr=0.1, momentum=0.9)
    opt = optim.SGD(net.params, lr=0.1, momentum=0.9)
    for _ in range(3):
        topt.zero_grad()
        F.cross_entropy(tnet(torch.tensor(x)), torch.tensor(y)).backward()
        topt.step()
        train_step(net, opt, x, y)
    for a, p in zip(net.params, tnet.parameters()):
        assert np.abs(a - p.detach().numpy()).max() < 1e-10


def test_layers_keep_float32_and_reject_misuse():
    net = lenet5(input_size=28, rng=np.random.default_rng(0))
    x = np.zeros((2, 1, 28, 28), np.float32)
    out = net(x)
    assert out.dtype == np.float32 and out.shape == (2, 10)
    assert net.backward(np.ones_like(out)).dtype == np.float32
    assert all(g.dtype == np.float32 for g in net.grads)
    with pytest.raises(RuntimeError, match="before forward"):
        L.ReLU().backward(np.ones(3))
    with pytest.raises(TypeError, match=r"layers\[1\]"):
        L.Sequential(L.ReLU(), torch.nn.ReLU())
    with pytest.raises(ValueError, match="arrays"):
        net.set_params([np.zeros(3)])
    with pytest.raises(ValueError, match="groups"):
        L.Conv2d(3, 4, 3, groups=2)


def test_default_init_bounds_follow_torch():
    conv = L.Conv2d(6, 16, 5, rng=np.random.default_rng(0))
    bound = 1 / np.sqrt(6 * 25)
    assert np.abs(conv.weight).max() <= bound and np.abs(conv.weight).max() > 0.95 * bound
    assert np.abs(conv.bias).max() <= bound


def test_linear_default_init_bounds_follow_torch():
    torch.manual_seed(0)
    bound = 1 / np.sqrt(50)  # torch.nn.Linear: uniform in +-1/sqrt(in_features)
    ours = L.Linear(50, 80, rng=np.random.default_rng(0)).weight
    theirs = torch.nn.Linear(50, 80).weight.detach().numpy()
    for w in (ours, theirs):
        assert 0.99 * bound < np.abs(w).max() <= bound


def test_fit_learns_a_separable_toy_problem_and_is_repeatable():
    rng = np.random.default_rng(0)
    x = rng.random((300, 1, 6, 6)).astype(np.float32)
    y = (x[:, 0, :, :3].mean((1, 2)) > x[:, 0, :, 3:].mean((1, 2))).astype(np.int64)
    data = Split(x[:200], y[:200], x[200:], y[200:])
    runs = []
    for _ in range(2):
        net = L.Sequential(L.Flatten(), L.Linear(36, 2, rng=np.random.default_rng(1)))
        history = fit(net, data, optim.SGD(net.params, lr=0.5), epochs=15, batch_size=20)
        runs.append(history["test_loss"])
    assert runs[0] == runs[1]
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert history.final["test_acc"] > 0.85 and history.final["images_per_s"] > 0
    assert evaluate(net, data.x_test, data.y_test)[1] == history.final["test_acc"]
    with pytest.raises(ValueError, match="epochs"):
        fit(net, data, optim.SGD(net.params, lr=0.5), epochs=0)
