r"""Backpropagation, from a graph of scalars to a whole network.

Three pieces, for the backpropagation chapter:

* a scalar computational graph: :func:`forward` and :func:`backward` over a list of :class:`Node`
  in topological order, which is the whole of reverse-mode differentiation in a dozen lines;
* a NumPy MLP on the 8x8 digits built from :mod:`dlbook.scratch.layers` (:func:`mlp`,
  :func:`train_mlp`), its PyTorch twin (:func:`torch_mlp`), and a finite-difference check of
  every parameter of the whole network (:func:`network_gradcheck`);
* the cost of a backward pass against a forward pass (:func:`matmul_counts`,
  :func:`pass_times`);
* :func:`check_mlp_backward`, the checker of the chapter's write-it-yourself exercise.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dlbook import seeding
from dlbook.exercise import Case, Report, check
from dlbook.history import Run  # model, history, seconds; .test_acc
from dlbook.scratch import (
    Flatten,
    Linear,
    ReLU,
    Sequential,
    Sigmoid,
    Tanh,
    linear,
    linear_backward,
    optim,
    relu,
    relu_backward,
)
from dlbook.scratch.gradcheck import numerical_gradient
from dlbook.scratch.losses import cross_entropy, cross_entropy_backward
from dlbook.timing import one_thread
from dlbook.verify import Verdict, gradient_verdict, relative_error

__all__ = [
    "Op", "Node", "MUL", "ADD", "SUB", "TANH", "HALF_SQUARE", "scaled_square", "neuron_graph",
    "forward", "backward", "mlp", "torch_mlp", "CONFIG", "Run", "train_mlp", "train_recorded",
    "sweep", "sweep_runs", "dead_units", "one_blas_thread",
    "param_names", "loss_and_grads", "network_gradcheck", "difference_errors", "backward_trace",
    "matmul_counts", "pass_times", "autograd_tree", "check_mlp_backward",
]  # fmt: skip


# --- a scalar computational graph -----------------------------------------------------------------


@dataclass(frozen=True)
class Op:
    """An operation: its value ``f(*inputs)`` and its local partial derivatives ``df(*inputs)``,
    one per input. ``symbol`` is how a figure writes it: an infix sign for two inputs, a pattern
    with ``{}`` for one."""

    symbol: str
    f: Callable
    df: Callable


MUL = Op("×", lambda a, b: a * b, lambda a, b: (b, a))
ADD = Op("+", lambda a, b: a + b, lambda a, b: (1.0, 1.0))
SUB = Op("−", lambda a, b: a - b, lambda a, b: (1.0, -1.0))
TANH = Op("tanh {}", math.tanh, lambda a: (1.0 - math.tanh(a) ** 2,))
HALF_SQUARE = Op("½{}²", lambda a: 0.5 * a * a, lambda a: (a,))


def scaled_square(c: float) -> Op:
    """``(c/2) a²``, e.g. an L2 penalty with strength ``c``."""
    return Op(f"{c / 2:g}·{{}}²", lambda a: 0.5 * c * a * a, lambda a: (c * a,))


@dataclass(frozen=True)
class Node:
    """``name = op(*inputs)``; ``inputs`` name leaves or earlier nodes."""

    name: str
    op: Op
    inputs: tuple[str, ...]


def neuron_graph(lam: float = 0.1) -> list[Node]:
    r"""One tanh neuron, a squared error and weight decay:
    :math:`L = \tfrac12(\tanh(wx + b) - t)^2 + \tfrac\lambda2 w^2`. ``w`` is used twice."""
    return [
        Node("u", MUL, ("w", "x")),
        Node("z", ADD, ("u", "b")),
        Node("h", TANH, ("z",)),
        Node("e", SUB, ("h", "t")),
        Node("d", HALF_SQUARE, ("e",)),
        Node("r", scaled_square(lam), ("w",)),
        Node("L", ADD, ("d", "r")),
    ]


def forward(graph: list[Node], leaves: dict) -> dict:
    """Every node's value, given the leaves' values. ``graph`` is in topological order."""
    values = dict(leaves)
    for node in graph:  # inputs are always computed before the nodes that use them
        values[node.name] = node.op.f(*(values[name] for name in node.inputs))
    return values


def backward(graph: list[Node], values: dict, output: str) -> dict:
    """``dL/dv`` for every leaf and node ``v``, where ``L = values[output]``: reverse mode."""
    grads = {name: 0.0 for name in values}
    grads[output] = 1.0
    for node in reversed(graph):  # every use of a node comes after it: its gradient is complete
        local = node.op.df(*(values[name] for name in node.inputs))
        for name, d in zip(node.inputs, local):
            grads[name] += grads[node.name] * d  # the chain rule; += sums over the paths
    return grads


# --- the MLP, in NumPy and in PyTorch -------------------------------------------------------------

ACTIVATIONS = {"relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid}


def mlp(hidden=(64,), activation="relu", dtype=np.float32, seed=0, in_features=64, classes=10):
    """``Flatten, Linear, act, ..., Linear`` from :mod:`dlbook.scratch.layers`, parameters in the
    order torch's ``nn.Sequential`` of :func:`torch_mlp` has them. ``hidden``: an int or a tuple
    of widths. Input ``(N, 1, 8, 8)`` (or ``(N, in_features)``), output ``(N, classes)`` logits."""
    widths = _widths(hidden, in_features, classes)
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    rng = seeding.rng(seed)
    layers = [Flatten()]
    for a, b in zip(widths[:-2], widths[1:-1]):
        layers += [Linear(a, b, dtype=dtype, rng=rng), ACTIVATIONS[activation]()]
    return Sequential(*layers, Linear(widths[-2], widths[-1], dtype=dtype, rng=rng))


def _widths(hidden, in_features, classes):
    hidden = (hidden,) if isinstance(hidden, int) else tuple(hidden)
    if any(not isinstance(h, int) or h < 1 for h in hidden):
        raise ValueError(f"hidden must be an int >= 1 or a tuple of them, got {hidden!r}")
    return (in_features, *hidden, classes)


def torch_mlp(hidden=(64,), activation="relu", in_features=64, classes=10):
    """The same layout as :func:`mlp` as a ``torch.nn.Sequential`` (float32, torch's init)."""
    from torch import nn

    acts = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
    if activation not in acts:
        raise ValueError(f"activation must be one of {sorted(acts)}, got {activation!r}")
    widths = _widths(hidden, in_features, classes)
    layers = [nn.Flatten()]
    for a, b in zip(widths[:-2], widths[1:-1]):
        layers += [nn.Linear(a, b), acts[activation]()]
    return nn.Sequential(*layers, nn.Linear(widths[-2], widths[-1]))


# SGD with momentum, as dlbook.train.fit's optimizer="sgd" (momentum 0.9), so that the NumPy and
# the PyTorch runs share every setting but the random numbers.
CONFIG = dict(hidden=64, activation="relu", epochs=20, lr=0.1, batch_size=32, seed=0)


def train_mlp(data=None, callback=None, **overrides) -> Run:
    """:func:`mlp` trained by :func:`dlbook.scratch.fit.fit` with :class:`~dlbook.scratch.optim.SGD`
    (momentum 0.9) on the 8x8 digits; settings from :data:`CONFIG`, changed by ``overrides``."""
    from dlbook.scratch.fit import fit

    net, opt, data, cfg = _setup(data, overrides)
    start = time.perf_counter()
    with one_blas_thread():
        history = fit(net, data, opt, cfg["epochs"], cfg["batch_size"], cfg["seed"], callback)
    return Run(net, history, time.perf_counter() - start)


def _setup(data, overrides):
    from dlbook.data import load_digits

    unknown = set(overrides) - set(CONFIG)
    if unknown:
        raise ValueError(f"unknown settings {sorted(unknown)}; known: {sorted(CONFIG)}")
    cfg = {**CONFIG, **overrides}
    data = load_digits() if data is None else data
    net = mlp(cfg["hidden"], cfg["activation"], seed=cfg["seed"])
    return net, optim.SGD(net.params, lr=cfg["lr"], momentum=0.9), data, cfg


def train_recorded(record_at, data=None, **overrides) -> list[dict]:
    """:func:`train_mlp`'s run (the same batches, so the same weights), with a snapshot before
    each step in ``record_at`` (and after the last step): ``step``, ``epoch`` (fractional),
    ``loss`` (on the whole training set), ``test_acc`` and the first layer's ``weight``."""
    from dlbook.scratch.fit import evaluate, train_step

    net, opt, data, cfg = _setup(data, overrides)
    x, y, n, bs = data.x_train, data.y_train, len(data.x_train), cfg["batch_size"]
    steps_per_epoch = -(-n // bs)
    record_at = set(record_at) | {cfg["epochs"] * steps_per_epoch}
    rng = seeding.rng(cfg["seed"])
    snapshots, step = [], 0

    def snap():
        loss, _ = evaluate(net, x, y)
        _, acc = evaluate(net, data.x_test, data.y_test)
        epoch = step / steps_per_epoch
        snapshots.append(dict(step=step, epoch=epoch, loss=loss, test_acc=acc,
                              weight=net[1].weight.copy()))  # fmt: skip

    with one_blas_thread():
        for _ in range(cfg["epochs"]):
            order = rng.permutation(n)  # as dlbook.scratch.fit.fit draws them
            for i in range(0, n, bs):
                if step in record_at:
                    snap()
                train_step(net, opt, x[order[i : i + bs]], y[order[i : i + bs]])
                step += 1
        snap()
    return snapshots


def one_blas_thread():
    """NumPy's BLAS on one thread (see :func:`dlbook.timing.one_thread`)."""
    return one_thread(blas=True)


def sweep_runs(hiddens, lrs, data=None, **overrides) -> dict:
    """``{(hidden, lr): Run}`` for every pair, each run as :func:`train_mlp` (the trained model
    too, so that its dead units can be counted with :func:`dead_units`)."""
    return {(h, lr): train_mlp(data, hidden=h, lr=lr, **overrides) for h in hiddens for lr in lrs}


def sweep(hiddens, lrs, data=None, **overrides) -> dict:
    """``{(hidden, lr): History}`` for every pair, each run as :func:`train_mlp`."""
    return {key: run.history for key, run in sweep_runs(hiddens, lrs, data, **overrides).items()}


def dead_units(model: Sequential, x) -> np.ndarray:
    """Indices of the first hidden layer's ReLU units that are off (pre-activation <= 0) for every
    example of ``x``: dead units, whose mask passes no gradient back to their weights."""
    layers = list(model.layers)
    first = next(i for i, layer in enumerate(layers) if isinstance(layer, Linear))
    z = Sequential(*layers[: first + 1])(x)
    return np.flatnonzero((z > 0).sum(axis=0) == 0)


# --- checking the whole network -------------------------------------------------------------------


def param_names(model: Sequential) -> list[str]:
    """``"1.weight"``, ``"1.bias"``, ...: torch's ``named_parameters`` names for the same layout."""
    names = []
    for i, layer in enumerate(model.layers):
        for p in layer.params:
            attr = next(a for a in ("weight", "bias") if getattr(layer, a, None) is p)
            names.append(f"{i}.{attr}")
    return names


def loss_and_grads(model: Sequential, x, y):
    """Mean cross-entropy of ``model(x)``, the parameters' gradients, and the input's gradient."""
    logits = model(x)
    loss = cross_entropy(logits, y)
    grad_input = model.backward(cross_entropy_backward(np.ones((), logits.dtype), logits, y))
    return float(loss), [g.copy() for g in model.grads], grad_input


def network_gradcheck(model, x, y, entries=20, h=1e-6, tol=1e-6, seed=0) -> Verdict:
    """Finite differences of the loss against backprop, for ``entries`` random entries of every
    parameter (all of them when it has fewer) and of the input ``x``. Use float64.

    Each checked entry costs two forward passes; backprop got all of them from one backward.
    Returns a :func:`~dlbook.verify.gradient_verdict` (one verdict per parameter).
    """
    if entries < 1:
        raise ValueError(f"entries must be >= 1, got {entries}")
    x = np.array(x, copy=True)
    _, grads, grad_input = loss_and_grads(model, x, y)
    rng = seeding.rng(seed)
    result = gradient_verdict(tol=tol)
    arrays = list(zip(param_names(model), model.params, grads)) + [("input", x, grad_input)]
    for name, array, grad in arrays:
        idx = rng.choice(array.size, size=min(entries, array.size), replace=False)
        numeric = numerical_gradient(_loss(model, x, y), array, h=h, entries=idx)
        result.add(name, grad.reshape(-1)[idx], numeric)
    return result


def _loss(model, x, y):
    """The mean cross-entropy of ``model(x)`` as a float, a function of no arguments: what
    :func:`~dlbook.scratch.gradcheck.numerical_gradient` nudges the parameters under."""
    return lambda: float(cross_entropy(model(x), y))


def difference_errors(model, x, y, hs, entries=40, seed=0) -> np.ndarray:
    """Relative error of central differences against backprop, over ``entries`` random entries of
    the first weight, for every step ``h`` in ``hs``, in the model's own dtype: ``(len(hs),)``."""
    dtype = model.params[0].dtype
    x = np.asarray(x, dtype=dtype)
    _, grads, _ = loss_and_grads(model, x, y)
    weight = model.params[0]
    idx = seeding.rng(seed).choice(weight.size, entries, replace=False)
    analytic = grads[0].reshape(-1)[idx]
    loss = _loss(model, x, y)
    return np.array(
        [relative_error(analytic, numerical_gradient(loss, weight, h=h, entries=idx)) for h in hs]
    )


def backward_trace(model: Sequential, x, y) -> list[tuple[str, np.ndarray]]:
    """The gradients one backward pass computes, in order: ``[("logits", dL/dlogits),
    ("input of 3: Linear", dL/d(that layer's input)), ..., ("input of 0: Flatten", dL/dx)]``."""
    logits = model(x)
    g = cross_entropy_backward(np.ones((), logits.dtype), logits, y)
    trace = [("logits", g)]
    for i in range(len(model) - 1, -1, -1):
        g = model[i].backward(g)
        trace.append((f"input of {i}: {type(model[i]).__name__}", g))
    return trace


# --- what a backward pass costs -------------------------------------------------------------------


def matmul_counts(model: Sequential, batch: int) -> dict:
    """Multiply-adds of the matrix products of one forward and one backward pass (the elementwise
    layers add only O(batch * width)). A linear layer's forward is ``batch * in * out``; its
    backward is twice that: ``G W`` for the input and ``G^T X`` for the weight."""
    fwd = sum(batch * layer.weight.size for layer in model.layers if isinstance(layer, Linear))
    return {"forward": fwd, "backward": 2 * fwd}


def pass_times(model: Sequential, x, y, repeat=20) -> dict:
    """Best wall times in seconds of the forward pass (with the loss) and of the backward pass."""
    from dlbook.timing import best_time

    logits = model(x)
    g = cross_entropy_backward(np.ones((), logits.dtype), logits, y)
    with one_blas_thread():
        fwd = best_time(lambda: cross_entropy(model(x), y), repeat)
        model(x)  # the saved inputs the backward pass reads
        bwd = best_time(lambda: model.backward(g), repeat)
    return {"forward": fwd, "backward": bwd}


def autograd_tree(tensor, names=None) -> str:
    """The graph autograd recorded behind ``tensor``, one backward node per line, indented by
    depth. Leaves (``AccumulateGrad``) are labelled with ``names`` (``{id(param): name}``)."""
    names = names or {}
    lines = []

    def walk(fn, depth):
        label = type(fn).__name__
        if hasattr(fn, "variable"):
            label += f" ({names.get(id(fn.variable), tuple(fn.variable.shape))})"
        lines.append("  " * depth + label)
        for child, _ in fn.next_functions:
            if child is not None:
                walk(child, depth + 1)

    walk(tensor.grad_fn, 0)
    return "\n".join(lines)


# --- the write-it-yourself exercise: an MLP's backward pass ---------------------------------------


def _mlp_gradients(x, y, W1, b1, W2, b2):
    """The book's answer: the gradients of the mean cross-entropy of ``relu(x W1^T + b1) W2^T + b2``
    for ``(W1, b1, W2, b2)``, from the scratch layers' backward passes."""
    z1 = linear(x, W1, b1)
    h = relu(z1)
    g2 = cross_entropy_backward(1.0, linear(h, W2, b2), y)
    gh, gW2, gb2 = linear_backward(g2, h, W2, b2)
    _, gW1, gb1 = linear_backward(relu_backward(gh, z1), x, W1, b1)
    return gW1, gb1, gW2, gb2


def check_mlp_backward(fn) -> Report:
    """Hold the reader's ``fn(x, y, W1, b1, W2, b2)`` to the book's backward pass of a
    one-hidden-layer ReLU MLP with a mean cross-entropy loss, and say in words what is wrong.

    The cases catch the usual mistakes: a forgotten transpose (the shapes are all different,
    then all equal, so a wrong product shows either as a shape or as wrong values), a forgotten
    ``1/N`` of the mean or a bias gradient averaged instead of summed (batches of 1 and of 7), and
    the ReLU's mask taken from the wrong array (negative biases switch many units off).

    Shapes:
        fn: (x (N, D), y (N,) class indices, W1 (H, D), b1 (H,), W2 (C, H), b2 (C,))
            -> (grad_W1, grad_b1, grad_W2, grad_b2), each of its parameter's shape; returns a Report
    Formula:
        loss = cross_entropy(relu(x W1^T + b1) W2^T + b2, y), the mean over the N examples
    Torch:
        autograd through torch.nn.functional.cross_entropy of the same MLP
    """
    # Fixed cases, the same under any DLBOOK_SEED: the report is a printout that nbval compares.
    rng = np.random.default_rng(5)

    def case(n, d, h, c, shift, label):
        x, y = rng.standard_normal((n, d)), rng.integers(0, c, n)
        w1, b1 = rng.standard_normal((h, d)) / math.sqrt(d), rng.standard_normal(h) + shift
        w2, b2 = rng.standard_normal((c, h)) / math.sqrt(h), rng.standard_normal(c)
        return Case((x, y, w1, b1, w2, b2), {}, label)

    cases = [
        case(7, 5, 6, 3, 0.0, "N=7, D=5, H=6, C=3"),
        case(1, 5, 6, 3, 0.0, "a batch of one"),
        case(4, 4, 4, 4, 0.0, "N = D = H = C = 4"),
        case(7, 5, 6, 3, -1.0, "biases lowered by 1: many units off"),
    ]

    def torch_twin(x, y, *params):
        import torch
        import torch.nn.functional as F

        w1, b1, w2, b2 = (torch.tensor(p, requires_grad=True) for p in params)
        h = torch.relu(F.linear(torch.from_numpy(x), w1, b1))
        F.cross_entropy(F.linear(h, w2, b2), torch.from_numpy(y)).backward()
        return w1.grad, b1.grad, w2.grad, b2.grad

    outputs = ("grad_W1", "grad_b1", "grad_W2", "grad_b2")
    return check(fn, _mlp_gradients, cases, name="mlp_backward", outputs=outputs,
                 torch_twin=torch_twin)  # fmt: skip
