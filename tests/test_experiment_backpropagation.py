"""Tests for dlbook.experiments.backpropagation: the graph engine, the MLP, the network check."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlbook.data import Split
from dlbook.experiments import backpropagation as E
from dlbook.scratch import Linear

LEAVES = dict(x=1.5, w=0.8, b=-0.5, t=1.0)


def neuron_loss(x, w, b, t, lam=0.1):
    return 0.5 * (math.tanh(w * x + b) - t) ** 2 + 0.5 * lam * w * w


def test_graph_gradients_match_the_hand_formula_and_finite_differences():
    graph = E.neuron_graph(0.1)
    values = E.forward(graph, LEAVES)
    assert values["L"] == pytest.approx(neuron_loss(**LEAVES), rel=1e-15)
    grads = E.backward(graph, values, "L")
    h = math.tanh(0.8 * 1.5 - 0.5)
    zbar = (h - 1.0) * (1 - h * h)
    # w is used twice: by the neuron (x * zbar) and by the penalty (lam * w)
    assert grads["w"] == pytest.approx(1.5 * zbar + 0.1 * 0.8, rel=1e-14)
    assert grads["x"] == pytest.approx(0.8 * zbar, rel=1e-14)
    assert grads["t"] == pytest.approx(1.0 - h, rel=1e-14)
    for name in LEAVES:
        up, down = dict(LEAVES), dict(LEAVES)
        up[name] += 1e-6
        down[name] -= 1e-6
        numeric = (neuron_loss(**up) - neuron_loss(**down)) / 2e-6
        assert grads[name] == pytest.approx(numeric, rel=1e-7, abs=1e-10)


def test_a_variable_used_twice_by_one_node_gets_both_terms():
    graph = [E.Node("s", E.MUL, ("w", "w"))]  # s = w², ds/dw = 2w
    grads = E.backward(graph, E.forward(graph, {"w": 3.0}), "s")
    assert grads["w"] == 6.0


def test_backward_over_the_graphs_tail_gives_the_partial_sums():
    graph = E.neuron_graph(0.1)
    values = E.forward(graph, LEAVES)
    partial = E.backward(graph[-2:], values, "L")  # only L and r visited so far
    assert partial["w"] == pytest.approx(0.1 * 0.8)
    assert partial["u"] == 0.0 and partial["d"] == 1.0
    assert E.scaled_square(0.1).symbol.format("w") == "0.05·w²"


def test_mlp_layout_and_names_match_torch():
    net = E.mlp(hidden=(32, 16), activation="tanh", seed=1)
    kinds = [type(layer).__name__ for layer in net]
    assert kinds == ["Flatten", "Linear", "Tanh", "Linear", "Tanh", "Linear"]
    model = E.torch_mlp(hidden=(32, 16), activation="tanh")
    assert E.param_names(net) == [name for name, _ in model.named_parameters()]
    assert [p.shape for p in net.params] == [tuple(p.shape) for p in model.parameters()]
    assert net.params[0].dtype == np.float32


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_loss_and_grads_equal_autograd(activation):
    torch.manual_seed(0)
    model = E.torch_mlp(hidden=(12, 7), activation=activation).double()
    net = E.mlp(hidden=(12, 7), activation=activation, dtype=np.float64)
    net.set_params([p.detach().numpy() for p in model.parameters()])
    rng = np.random.default_rng(0)
    x, y = rng.random((9, 1, 8, 8)), rng.integers(0, 10, 9)
    loss, grads, grad_x = E.loss_and_grads(net, x, y)
    xt = torch.tensor(x, requires_grad=True)
    lt = F.cross_entropy(model(xt), torch.from_numpy(y))
    lt.backward()
    assert abs(loss - lt.item()) < 1e-12
    for g, p in zip(grads, model.parameters(), strict=True):
        np.testing.assert_allclose(g, p.grad.numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(grad_x, xt.grad.numpy(), rtol=0, atol=1e-12)


def _batch(n=16, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 1, 8, 8)), rng.integers(0, 10, n)


def test_network_gradcheck_passes_and_catches_a_wrong_bias_gradient():
    x, y = _batch()
    net = E.mlp(hidden=24, dtype=np.float64, seed=3)
    result = E.network_gradcheck(net, x, y, entries=10)
    assert result.ok and list(result.errors) == [
        "1.weight",
        "1.bias",
        "3.weight",
        "3.bias",
        "input",
    ]
    assert max(result.errors.values()) < 1e-7

    class MeanBias(Linear):
        def backward(self, grad_output):
            grad_input = super().backward(grad_output)
            self.grads[1] = grad_output.mean(axis=0)
            return grad_input

    bad = E.mlp(hidden=24, dtype=np.float64, seed=3)
    bad.layers[3] = MeanBias(24, 10, dtype=np.float64)
    bad.params = [p for layer in bad.layers for p in layer.params]
    bad.set_params(net.params)
    errors = E.network_gradcheck(bad, x, y, entries=10).errors
    assert errors["3.bias"] > 0.5 and errors["1.bias"] < 1e-7
    with pytest.raises(ValueError, match="entries"):
        E.network_gradcheck(net, x, y, entries=0)


def test_difference_errors_float32_is_much_worse_than_float64():
    x, y = _batch(8)
    net64 = E.mlp(hidden=16, activation="tanh", dtype=np.float64, seed=0)
    net32 = E.mlp(hidden=16, activation="tanh", dtype=np.float32, seed=0)
    net32.set_params(net64.params)
    hs = np.array([1e-8, 1e-5, 1e-2])
    e64 = E.difference_errors(net64, x, y, hs, entries=10)
    e32 = E.difference_errors(net32, x, y, hs, entries=10)
    assert e64.shape == (3,) and e64[1] < 1e-7 and e64[1] < e64[2]
    assert e32[0] > 0.1 and e32.min() > 1e-5


def test_backward_trace_ends_with_the_input_gradient():
    x, y = _batch(5)
    net = E.mlp(hidden=8, dtype=np.float64)
    trace = E.backward_trace(net, x, y)
    assert [name for name, _ in trace] == [
        "logits", "input of 3: Linear", "input of 2: ReLU", "input of 1: Linear",
        "input of 0: Flatten",
    ]  # fmt: skip
    assert trace[0][1].shape == (5, 10) and trace[-1][1].shape == x.shape
    np.testing.assert_allclose(trace[-1][1], E.loss_and_grads(net, x, y)[2])
    np.testing.assert_allclose(trace[0][1].sum(axis=1), 0, atol=1e-15)  # softmax - onehot


def test_matmul_counts_by_hand():
    net = E.mlp(hidden=64)
    assert E.matmul_counts(net, 5) == {"forward": 5 * (64 * 64 + 64 * 10), "backward": 47360}


def test_pass_times_are_positive():
    x, y = _batch(4)
    times = E.pass_times(E.mlp(hidden=8), x.astype(np.float32), y, repeat=2)
    assert set(times) == {"forward", "backward"} and min(times.values()) > 0


def _tiny_split():
    rng = np.random.default_rng(0)
    x = rng.random((60, 1, 8, 8)).astype(np.float32)
    y = (x.reshape(60, -1)[:, :10].argmax(1)).astype(np.int64)
    return Split(x[:40], y[:40], x[40:], y[40:], name="tiny")


def test_train_recorded_follows_train_mlp_exactly():
    data = _tiny_split()
    run = E.train_mlp(data, hidden=16, epochs=2, batch_size=8)
    snaps = E.train_recorded([0, 3], data, hidden=16, epochs=2, batch_size=8)
    assert [s["step"] for s in snaps] == [0, 3, 10]
    assert snaps[-1]["epoch"] == 2.0
    np.testing.assert_array_equal(snaps[-1]["weight"], run.model[1].weight)
    assert snaps[-1]["test_acc"] == run.test_acc
    assert len(run.history) == 2


def test_sweep_keys():
    results = E.sweep((4, 8), (0.1,), data=_tiny_split(), epochs=1)
    assert sorted(results) == [(4, 0.1), (8, 0.1)] and len(results[(4, 0.1)]) == 1


def test_sweep_runs_keep_the_models_and_sweep_their_histories():
    runs = E.sweep_runs((4,), (0.1, 0.2), data=_tiny_split(), epochs=1)
    assert sorted(runs) == [(4, 0.1), (4, 0.2)]
    assert runs[(4, 0.1)].model[1].weight.shape == (4, 64)
    assert len(runs[(4, 0.2)].history) == 1


def test_dead_units_are_those_never_active():
    net = E.mlp(hidden=5, seed=0)
    x = np.random.default_rng(0).random((30, 1, 8, 8)).astype(np.float32)
    assert E.dead_units(net, x).size == 0 or E.dead_units(net, x).max() < 5
    net[1].weight[[1, 3]] = -1.0  # inputs in [0, 1]: these two units can never turn on
    net[1].bias[[1, 3]] = 0.0
    net[1].weight[[0, 2, 4]] = 1.0
    np.testing.assert_array_equal(E.dead_units(net, x), [1, 3])


def test_bad_arguments():
    with pytest.raises(ValueError, match="activation"):
        E.mlp(activation="swish")
    with pytest.raises(ValueError, match="hidden"):
        E.mlp(hidden=(8, 0))
    with pytest.raises(ValueError, match="activation"):
        E.torch_mlp(activation="swish")
    with pytest.raises(ValueError, match="unknown settings"):
        E.train_mlp(_tiny_split(), momentum=0.5)


def test_autograd_tree_names_the_leaves():
    torch.manual_seed(0)
    model = E.torch_mlp(hidden=4)
    loss = F.cross_entropy(model(torch.rand(2, 1, 8, 8)), torch.tensor([1, 2]))
    names = {id(p): n for n, p in model.named_parameters()}
    lines = E.autograd_tree(loss, names).splitlines()
    assert lines[0] == "NllLossBackward0"
    leaves = sorted(line.strip() for line in lines if "AccumulateGrad" in line)
    assert leaves == [f"AccumulateGrad ({n})" for n in sorted(names.values())]
