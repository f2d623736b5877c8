"""The AlexNet and VGG chapter's experiments: LRN against torch, the scratch VGG block against
torch, the cost arithmetic by hand, and the training helpers on a toy set."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlbook import nets
from dlbook.data.offline import Split
from dlbook.experiments import alexnet_vgg as exp
from dlbook.train import History


@pytest.mark.parametrize("size", [1, 2, 3, 5, 12])
def test_local_response_norm_equals_torch(size):
    x = np.random.default_rng(size).standard_normal((2, 7, 3, 2))
    want = F.local_response_norm(torch.from_numpy(x), size, 0.3, 0.6, 1.5).numpy()
    np.testing.assert_allclose(exp.local_response_norm(x, size, 0.3, 0.6, 1.5), want, atol=1e-12)
    x32 = x.astype(np.float32)
    assert exp.local_response_norm(x32, size).dtype == np.float32


def test_local_response_norm_refuses_bad_arguments():
    with pytest.raises(ValueError, match="input"):
        exp.local_response_norm(np.ones((3, 4)), 3)
    with pytest.raises(ValueError, match="size"):
        exp.local_response_norm(np.ones((1, 3, 2, 2)), 0)


def test_scratch_block_equals_torch_forward_and_backward():
    torch.manual_seed(0)
    block = nets.vgg_block(2, 3, 2).double()
    ours = exp.scratch_block(block)
    x = torch.randn(2, 2, 6, 6, dtype=torch.float64, requires_grad=True)
    out = block(x)
    g = torch.randn_like(out)
    out.backward(g)
    np.testing.assert_allclose(ours.forward(x.detach().numpy()), out.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(ours.backward(g.numpy()), x.grad.numpy(), atol=1e-12)
    for mine, p in zip(ours.grads, block.parameters()):
        np.testing.assert_allclose(mine, p.grad.numpy(), atol=1e-12)
    with pytest.raises(ValueError, match="BatchNorm2d"):
        exp.scratch_block(nets.vgg_block(2, 3, 1, batch_norm=True))


def test_stack_cost_by_hand():
    assert exp.stack_cost(64, 3, 2, size=10) == dict(
        field=5, params=2 * 9 * 64**2, mult_adds=2 * 9 * 64**2 * 100
    )
    assert exp.stack_cost(8, 7, 1) == dict(field=7, params=49 * 64, mult_adds=49 * 64)
    assert exp.stack_cost(8, 5, 3)["field"] == 13
    with pytest.raises(ValueError, match="num_convs"):
        exp.stack_cost(8, 3, 0)


def _history(accs):
    return History(rows=[dict(train_acc=a, train_loss=1 - a, test_acc=a, test_loss=1.0)
                         for a in accs])  # fmt: skip


def test_epochs_to_interpolates():
    h = _history([0.2, 0.4, 0.8])  # errors 0.8, 0.6, 0.2
    assert exp.epochs_to(h, 0.6) == 2.0
    assert exp.epochs_to(h, 0.4) == pytest.approx(2.5)  # half way from 0.6 to 0.2
    assert exp.epochs_to(h, 0.9) == 1.0
    assert exp.epochs_to(h, 0.1) == float("inf")


def test_train_runs_and_summary_on_a_toy_set():
    rng = np.random.default_rng(0)
    x = rng.random((36, 3, 32, 32)).astype(np.float32)
    y = np.arange(36) % 9
    data = Split(x, y, x[:18], y[:18], "toy")
    small = dict(widths=(2, 2, 2, 2, 2), hidden=4, dropout=0.0)
    builders = {"a": lambda: nets.alexnet_small(**small),
                "b": lambda: nets.alexnet_small(activation="tanh", **small)}  # fmt: skip
    rows = exp.train_runs(builders, data, seeds=(1, 0), epochs=2, batch_size=18, device="cpu")
    assert [(r["name"], r["seed"]) for r in rows] == [("a", 1), ("a", 0), ("b", 1), ("b", 0)]
    assert rows[0]["filters"].shape == (3, 2, 3, 5, 5)
    assert not np.array_equal(rows[0]["filters"][0], rows[0]["filters"][-1])  # it trained
    s = exp.summarize_runs(rows, error=0.5)
    assert list(s) == ["a", "b"] and s["a"]["seeds"] == [0, 1]
    assert s["a"]["epochs"].shape == (2,) and s["a"]["test_acc"].shape == (2,)
    h = rows[1]["history"]  # seed 0 of "a"
    assert s["a"]["mean_error"][0] == pytest.approx(100 * (1 - np.mean(h["train_acc"])))
    with pytest.raises(ValueError, match="no runs"):
        exp.summarize_runs([])


def test_kaiming_init_draws_with_variance_two_over_fan_in():
    torch.manual_seed(0)
    model = exp.kaiming_init(nets.vgg_block(64, 64, 2))
    conv = model[0]
    assert float(conv.bias.detach().abs().max()) == 0.0
    fan_in = 64 * 9
    assert float(conv.weight.detach().var()) == pytest.approx(2 / fan_in, rel=0.05)  # 36,864 draws
    default = nets.vgg_block(64, 64, 1)[0]  # torch's default: variance 1 / (3 fan_in)
    assert float(default.weight.detach().var()) == pytest.approx(1 / (3 * fan_in), rel=0.05)
