"""The residual-network chapter's experiments: the from-scratch block against torch, gradient
norms, the twins' training loop and its summary, and the effective receptive field's extent."""

import numpy as np
import pytest
import torch

from dlbook import nets
from dlbook.data.offline import Split
from dlbook.experiments import resnet as exp
from dlbook.scratch.gradcheck import gradcheck


def test_pad_shortcut_equals_the_torch_module_and_its_backward_is_the_adjoint():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 5, 5))
    ours = exp.pad_shortcut(x, 6, 2)
    theirs = nets.PadShortcut(3, 6, 2).double()(torch.from_numpy(x)).numpy()
    np.testing.assert_array_equal(ours, theirs)
    g = rng.normal(size=ours.shape)
    # <g, S x> = <S^T g, x>: the backward is the transpose of the linear forward
    np.testing.assert_allclose(
        (g * ours).sum(), (exp.pad_shortcut_backward(g, x, 6, 2) * x).sum(), rtol=1e-12
    )
    with pytest.raises(ValueError, match="out_channels"):
        exp.pad_shortcut(x, 2)
    with pytest.raises(ValueError, match="input"):
        exp.pad_shortcut(x[0], 6)


@pytest.mark.parametrize(("c_in", "c_out", "stride", "shortcut"),
                         [(3, 3, 1, True), (2, 4, 2, True), (2, 4, 2, False)])  # fmt: skip
def test_scratch_block_equals_torch_forward_and_backward(c_in, c_out, stride, shortcut):
    torch.manual_seed(0)
    block = nets.BasicBlock(c_in, c_out, stride, shortcut, downsample="pad").double().train()
    for bn in (block.bn1, block.bn2):
        torch.nn.init.normal_(bn.weight)
        torch.nn.init.normal_(bn.bias)
    x = torch.randn(3, c_in, 5, 5, dtype=torch.float64, requires_grad=True)
    out = block(x)
    g = torch.randn_like(out)
    out.backward(g)
    ps = exp.block_arrays(block)
    xn = x.detach().numpy()
    np.testing.assert_allclose(exp.basic_block(xn, *ps, stride, shortcut), out.detach(),
                               atol=1e-10, rtol=0)  # fmt: skip
    grads = exp.basic_block_backward(g.numpy(), xn, *ps, stride, shortcut)
    params = (block.conv1.weight, block.bn1.weight, block.bn1.bias,
              block.conv2.weight, block.bn2.weight, block.bn2.bias)  # fmt: skip
    for ours, theirs in zip(grads, (x.grad, *(p.grad for p in params))):
        np.testing.assert_allclose(ours, theirs.numpy(), atol=1e-10, rtol=0)


def test_scratch_block_passes_a_gradient_check():
    rng = np.random.default_rng(3)
    args = (rng.normal(size=(4, 2, 4, 4)), rng.normal(size=(2, 2, 3, 3)), rng.normal(size=2),
            rng.normal(size=2), rng.normal(size=(2, 2, 3, 3)), rng.normal(size=2),
            rng.normal(size=2))  # fmt: skip
    assert gradcheck(exp.basic_block, exp.basic_block_backward, args)


def _tiny_split(n=36, size=8, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = rng.normal(size=(n, 3, size, size)).astype(np.float32) + y[:, None, None, None]
    return Split(x, y, x[:12], y[:12], "tiny")


def test_gradient_norms_has_one_value_per_block_and_per_convolution():
    model = nets.resnet_small(1, widths=(4, 8, 16), num_classes=3).train()
    data = _tiny_split()
    g = exp.gradient_norms(model, data.x_train[:8], data.y_train[:8])
    assert g["activations"].shape == (4,)  # the stem and 3 blocks
    assert g["weights"].shape == (7,)  # 1 + 3 x 2 convolutions
    assert (g["activations"] > 0).all() and (g["weights"] > 0).all()
    assert all(p.grad is None or not p.grad.any() for p in model.parameters())


def test_plain_network_without_batch_norm_has_a_vanishing_gradient():
    torch.manual_seed(0)
    data = _tiny_split()
    ratios = {}
    for shortcut in (True, False):
        torch.manual_seed(0)
        model = nets.resnet_small(3, (4, 8, 16), 3, shortcut, batch_norm=False)
        a = exp.gradient_norms(model, data.x_train, data.y_train)["activations"]
        ratios[shortcut] = a[0] / a[-1]
    assert ratios[False] < 1e-2 < ratios[True]


def test_train_twins_and_summary():
    data = _tiny_split()
    rows = exp.train_twins(data, depths=(8,), widths=(4, 4, 4), epochs=2, batch_size=12, probe=9)
    assert [(r["depth"], r["shortcut"]) for r in rows] == [(8, True), (8, False)]
    assert len(rows[0]["history"]["train_loss"]) == 2
    s = exp.summarize_twins(rows)
    assert set(s) == {(8, True, True), (8, False, True)}
    assert set(s[8, True, True]) == {"loss", "test_acc", "ratio_init", "ratio_trained"}
    with pytest.raises(ValueError, match="6 n \\+ 2"):
        exp.train_twins(data, depths=(10,))


def test_erf_side_by_hand():
    delta = np.zeros((9, 9))
    delta[4, 4] = 1
    assert exp.erf_side(delta, 0.9) == 1
    flat = np.ones((9, 9))
    assert exp.erf_side(flat, 1.0) == 9
    assert exp.erf_side(flat, 9 / 81) == 3  # the 3 x 3 centre holds 9 of 81
    with pytest.raises(ValueError, match="fraction"):
        exp.erf_side(flat, 0)


def test_erf_side_around_an_off_centre_unit():
    erf = np.zeros((9, 9))
    erf[2, 3] = 1
    assert exp.erf_side(erf, 1.0, centre=(2, 3)) == 1
    assert exp.erf_side(erf, 1.0) == 5  # around the middle (4, 4): two rows away


def test_unit_centre_of_resnet50s_central_unit():
    from types import SimpleNamespace

    # ResNet-50's field at 224 px (tests/test_nets_resnet.py): 427 px, stride 32, padding 213
    field = SimpleNamespace(size=(427, 427), stride=(32, 32), padding=(213, 213))
    assert exp.unit_centre(field, (3, 3)) == (96.0, 96.0)  # 3 * 32 - 213 + 213
    assert exp.unit_centre(field, (0, 6)) == (0.0, 192.0)
