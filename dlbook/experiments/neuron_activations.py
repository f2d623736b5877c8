r"""Measurements for the chapter on the neuron and its activation functions.

* :data:`ACTIVATIONS`: each activation's scratch forward and backward, and its ``torch.nn`` module;
* :func:`torch_cases`: every scratch activation next to its torch function, with the arguments
  it is checked at (non-default ones where a default could hide a mistake);
* :func:`collapse_linear`: a stack of linear layers is one linear layer;
* :func:`saturation_point`: where the derivative of a squashing function falls below a level;
* :func:`deep_gradients`: gradient norms through a deep NumPy MLP, layer by layer (the chain rule
  by hand, with :mod:`dlbook.scratch`);
* :func:`relu_interpolant` and :func:`sigmoid_staircase`: a one-hidden-layer network built by
  hand that approximates a 1-D function, and :func:`approximation_errors`;
* torch experiments: :func:`moons`, :func:`make_mlp`, :func:`dead_fractions`,
  :func:`dead_unit_run`, :func:`lr_sweep`, :func:`compare_activations` and
  :func:`sweep_activations` (each activation at each learning rate and seed, with
  :func:`best_learning_rates` to pick each one's rate on a validation split), which train with
  :func:`dlbook.train.fit`;
* :func:`check_elu_backward`: the checker of the chapter's write-it-yourself exercise.
"""

from __future__ import annotations

import functools
import numbers
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from dlbook import seeding
from dlbook.exercise import Case, Report, check
from dlbook.scratch import activations as A
from dlbook.scratch import linear, linear_backward
from dlbook.timing import one_thread

__all__ = [
    "ACTIVATIONS", "torch_cases", "forward", "derivative", "collapse_linear", "saturation_point",
    "GradientProfile", "deep_gradients", "relu_interpolant", "sigmoid_staircase",
    "approximation_errors", "moons", "make_mlp", "dead_fractions", "dead_unit_run", "lr_sweep",
    "compare_activations", "sweep_activations", "best_learning_rates", "epochs_to",
    "check_elu_backward",
]  # fmt: skip

# name -> (scratch forward, scratch backward, torch.nn class name, keyword arguments)
ACTIVATIONS = {
    "sigmoid": (A.sigmoid, A.sigmoid_backward, "Sigmoid", {}),
    "tanh": (A.tanh, A.tanh_backward, "Tanh", {}),
    "relu": (A.relu, A.relu_backward, "ReLU", {}),
    "leaky_relu": (A.leaky_relu, A.leaky_relu_backward, "LeakyReLU", {"negative_slope": 0.01}),
    "elu": (A.elu, A.elu_backward, "ELU", {"alpha": 1.0}),
    "gelu": (A.gelu, A.gelu_backward, "GELU", {}),
    "silu": (A.silu, A.silu_backward, "SiLU", {}),
}


def torch_cases():
    """``{name: (scratch forward, scratch backward, torch function, keyword arguments)}`` for
    every activation of the chapter, softmax and log-softmax included. ELU and LeakyReLU take
    non-default parameters and GELU appears in both forms, so a hard-coded default cannot hide."""
    import torch
    import torch.nn.functional as F

    return {
        "relu": (A.relu, A.relu_backward, F.relu, {}),
        "sigmoid": (A.sigmoid, A.sigmoid_backward, torch.sigmoid, {}),
        "tanh": (A.tanh, A.tanh_backward, torch.tanh, {}),
        "leaky_relu": (A.leaky_relu, A.leaky_relu_backward, F.leaky_relu, {"negative_slope": 0.1}),
        "elu": (A.elu, A.elu_backward, F.elu, {"alpha": 1.5}),
        "gelu": (A.gelu, A.gelu_backward, F.gelu, {}),
        "gelu, tanh form": (A.gelu, A.gelu_backward, F.gelu, {"approximate": "tanh"}),
        "silu": (A.silu, A.silu_backward, F.silu, {}),
        "softmax": (A.softmax, A.softmax_backward, F.softmax, {"dim": 1}),
        "log_softmax": (A.log_softmax, A.log_softmax_backward, F.log_softmax, {"dim": 1}),
    }


def _name(activation):
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {list(ACTIVATIONS)}, got {activation!r}")
    return activation


def forward(activation, x):
    """``activation`` (a name in :data:`ACTIVATIONS`) applied to the array ``x``, from scratch."""
    f, _, _, kw = ACTIVATIONS[_name(activation)]
    return f(np.asarray(x, dtype=float), **kw)


def derivative(activation, x):
    """The local derivative :math:`\\varphi'(x)`: the scratch backward with ``grad_output = 1``."""
    _, fb, _, kw = ACTIVATIONS[_name(activation)]
    x = np.asarray(x, dtype=float)
    return fb(np.ones_like(x), x, **kw)


def collapse_linear(weights, biases):
    r"""The single linear layer equal to ``linear`` layers applied in order.

    :math:`W_2(W_1 x + b_1) + b_2 = (W_2 W_1) x + (W_2 b_1 + b_2)`, and so on. ``weights[l]`` is
    ``(out_l, in_l)`` as in ``torch.nn.Linear``; ``biases[l]`` is ``(out_l,)``. Returns ``(W, b)``.
    """
    if len(weights) == 0 or len(weights) != len(biases):
        raise ValueError("weights and biases must be non-empty lists of the same length")
    W, b = weights[0], biases[0]
    for Wl, bl in zip(weights[1:], biases[1:]):
        W, b = Wl @ W, Wl @ b + bl
    return W, b


def saturation_point(activation, level=0.01):
    """The ``x > 0`` where :math:`\\varphi'(x)` falls to ``level``, for the squashing functions
    ``'sigmoid'`` and ``'tanh'`` (even derivatives, decreasing for ``x > 0``): beyond ``±x`` the
    unit is saturated (饱和)."""
    if activation not in ("sigmoid", "tanh"):
        raise ValueError(f"activation must be 'sigmoid' or 'tanh', got {activation!r}")
    peak = float(derivative(activation, 0.0))
    if not 0 < level < peak:
        raise ValueError(f"level must be in (0, {peak:g}), got {level!r}")
    return brentq(lambda x: float(derivative(activation, x)) - level, 0.0, 50.0, xtol=1e-12)


def _one_thread():
    """BLAS, and torch if it is loaded, on one thread (see :func:`dlbook.timing.one_thread`)."""
    return one_thread(blas=True, torch="if imported")


def _single_threaded(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with _one_thread():
            return fn(*args, **kwargs)

    return wrapper


@dataclass
class GradientProfile:
    """One backward pass through a deep MLP: per layer (first to last), the norm of the weight
    gradient :math:`\\|\\partial L/\\partial W_l\\|` and of the gradient that reaches the layer's
    output :math:`\\|\\partial L/\\partial h_l\\|`."""

    activation: str
    weight_norms: np.ndarray
    signal_norms: np.ndarray

    @property
    def ratio(self) -> float:
        """``weight_norms[0] / weight_norms[-1]``: the first layer's gradient over the last's."""
        return float(self.weight_norms[0] / self.weight_norms[-1])

    @property
    def factor(self) -> float:
        """The geometric-mean change of the weight gradient per layer, going backwards."""
        return self.ratio ** (1 / (len(self.weight_norms) - 1))


@_single_threaded
def deep_gradients(activation, depth=20, width=64, batch=256, gain=1.0, seed=0):
    r"""Push a random batch through ``depth`` layers :math:`h_l = \varphi(W_l h_{l-1} + b_l)`
    and a random output gradient back, by hand, with :func:`dlbook.scratch.linear_backward` and
    the activation's backward. Weights are :math:`\mathcal N(0, \text{gain}^2/\text{width})`,
    biases 0; inputs are ``(batch, width)`` standard normal. Returns a :class:`GradientProfile`."""
    for name, v in (("depth", depth), ("width", width), ("batch", batch)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 2:
            raise ValueError(f"{name} must be an int >= 2, got {v!r}")
    f, f_backward, _, kw = ACTIVATIONS[_name(activation)]
    rng = seeding.rng(seed)
    Ws = [gain * rng.standard_normal((width, width)) / np.sqrt(width) for _ in range(depth)]
    bs = [np.zeros(width) for _ in range(depth)]
    hs, zs = [rng.standard_normal((batch, width))], []
    for W, b in zip(Ws, bs):
        zs.append(linear(hs[-1], W, b))
        hs.append(f(zs[-1], **kw))
    g = rng.standard_normal(hs[-1].shape) / batch  # dL/dh of the last layer
    weight_norms, signal_norms = np.zeros(depth), np.zeros(depth)
    for k in reversed(range(depth)):
        signal_norms[k] = np.linalg.norm(g)
        g_z = f_backward(g, zs[k], **kw)  # through the activation: times phi'(z)
        g, g_W, _ = linear_backward(g_z, hs[k], Ws[k], bs[k])  # through the weights: W^T
        weight_norms[k] = np.linalg.norm(g_W)
    return GradientProfile(activation, weight_norms, signal_norms)


# --- a one-hidden-layer network built by hand ----------------------------------------------------


def relu_interpolant(f, a, b, n):
    r"""``n`` ReLU units whose sum interpolates ``f`` linearly at ``n + 1`` equally spaced knots
    :math:`t_k` of ``[a, b]``: :math:`g(x) = f(t_0) + \sum_k c_k\, \mathrm{relu}(x - t_k)`, where
    :math:`c_k` is the change of slope at :math:`t_k`. Returns ``(knots (n,), c (n,), f(t_0))``:
    unit ``k`` has input weight 1, bias :math:`-t_k` and output weight :math:`c_k`."""
    n = _count(n)
    t = np.linspace(a, b, n + 1)
    slopes = np.diff(f(t)) / np.diff(t)
    return t[:-1], np.diff(slopes, prepend=0.0), float(f(t[0]))


def sigmoid_staircase(f, a, b, n, sharpness=None):
    r"""``n`` sigmoid units that build ``f`` as a staircase: a step of height
    :math:`f(t_{k+1}) - f(t_k)` centred between neighbouring knots,
    :math:`g(x) = f(t_0) + \sum_k c_k\, \sigma(s(x - m_k))`. The steepness ``s`` defaults to
    ``8 / spacing``. Returns ``(centres (n,), c (n,), f(t_0), s)``."""
    n = _count(n)
    t = np.linspace(a, b, n + 1)
    s = 8 / (t[1] - t[0]) if sharpness is None else sharpness
    return (t[:-1] + t[1:]) / 2, np.diff(f(t)), float(f(t[0])), float(s)


def _count(n):
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    return int(n)


def approximation_errors(f, a, b, ns, points=2001):
    """Max error on ``[a, b]`` of :func:`relu_interpolant` and :func:`sigmoid_staircase` with
    ``n`` units, for each ``n`` in ``ns``: ``{'relu': (len(ns),), 'sigmoid': (len(ns),)}``."""
    x = np.linspace(a, b, points)
    out = {"relu": [], "sigmoid": []}
    for n in ns:
        t, c, c0 = relu_interpolant(f, a, b, n)
        out["relu"].append(np.max(np.abs(c0 + A.relu(x[:, None] - t) @ c - f(x))))
        m, c, c0, s = sigmoid_staircase(f, a, b, n)
        out["sigmoid"].append(np.max(np.abs(c0 + A.sigmoid(s * (x[:, None] - m)) @ c - f(x))))
    return {k: np.array(v) for k, v in out.items()}


# --- torch experiments ---------------------------------------------------------------------------


def moons(n=1000, noise=0.2, test_fraction=0.25, seed=0):
    """scikit-learn's two interleaving half-moons, standardized with the training set's mean and
    standard deviation: a :class:`dlbook.data.Split` of ``(N, 2)`` float32 points, labels 0/1."""
    from sklearn.datasets import make_moons
    from sklearn.model_selection import train_test_split

    from dlbook.data import Split

    x, y = make_moons(n_samples=n, noise=noise, random_state=seeding.seed(seed))
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=test_fraction, random_state=seeding.seed(seed), stratify=y
    )
    mean, std = x_tr.mean(0), x_tr.std(0)
    x_tr, x_te = ((v - mean) / std for v in (x_tr, x_te))
    to = np.float32
    return Split(
        x_tr.astype(to), y_tr.astype(np.int64), x_te.astype(to), y_te.astype(np.int64), "moons"
    )


def make_mlp(activation, sizes=(2, 64, 64, 2), seed=0):
    """``Linear, activation, ..., Linear`` with ``sizes`` the widths from input to output; a
    ``Flatten`` first, so that images work too. Seeded: every activation gets the same weights."""
    from torch import nn

    _name(activation)
    if len(sizes) < 2:
        raise ValueError(f"sizes must have at least 2 widths, got {sizes!r}")
    seeding.manual_seed(seed)
    _, _, cls, kw = ACTIVATIONS[activation]
    layers = [nn.Flatten()]
    for i, (m, n) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(m, n))
        if i < len(sizes) - 2:
            layers.append(getattr(nn, cls)(**kw))
    return nn.Sequential(*layers)


def dead_fractions(model, x):
    """Per hidden layer of ``model`` (as :func:`make_mlp` builds it), the fraction of units whose
    pre-activation is ``<= 0`` for every row of ``x``. A ReLU unit like that is dead: its output
    and its gradient are 0 on all the data."""
    import torch
    from torch import nn

    device = next(model.parameters()).device
    fractions, h = [], torch.as_tensor(x, dtype=torch.float32, device=device).flatten(1)
    layers = list(model)[1:]  # skip the Flatten
    with torch.no_grad():
        for layer, nxt in zip(layers, layers[1:] + [None]):
            h = layer(h)
            if isinstance(layer, nn.Linear) and nxt is not None:
                fractions.append((h <= 0).all(dim=0).float().mean().item())
    return fractions


def _first_layer(model):
    """The first hidden layer's weight ``(units, inputs)`` and bias ``(units,)``, as NumPy."""
    return tuple(p.detach().cpu().numpy().copy() for p in (model[1].weight, model[1].bias))


def dead_unit_run(activation, shift=1.5, epochs=20, lr=0.01, data=None, device=None):
    """Lower the first hidden layer's biases by ``shift``, so that many of its units are negative
    on all the data, then train with Adam. Returns a dict: ``dead_before``, ``dead_after`` (the
    first layer's :func:`dead_fractions`), ``max_change_of_dead`` (the largest total change of
    the weights and bias of a unit that started negative everywhere), ``test_acc``, and the
    first layer's ``(weight, bias)`` ``before`` and ``after`` training."""
    import torch

    from dlbook.train import fit

    data = moons() if data is None else data
    model = make_mlp(activation)
    with torch.no_grad():
        model[1].bias -= shift
    before, dead_before = _first_layer(model), dead_fractions(model, data.x_train)[0]
    with _one_thread():
        history = fit(model, data, epochs=epochs, lr=lr, optimizer="adam", device=device)
    after = _first_layer(model)
    was_dead = np.all(data.x_train @ before[0].T + before[1] <= 0, axis=0)
    change = np.abs(after[0] - before[0]).sum(1) + np.abs(after[1] - before[1])
    return {
        "dead_before": dead_before,
        "dead_after": dead_fractions(model, data.x_train)[0],
        "max_change_of_dead": float(change[was_dead].max()) if was_dead.any() else 0.0,
        "test_acc": history.final["test_acc"],
        "before": before,
        "after": after,
    }


def lr_sweep(activation, lrs, epochs=10, data=None, device=None):
    """Train :func:`make_mlp` with plain SGD (no momentum) at each learning rate in ``lrs``.
    Returns one dict per rate: ``lr``, ``dead`` (the fraction of all hidden units that are
    negative on every training point) and ``test_acc``."""
    import torch

    from dlbook.train import fit

    data = moons() if data is None else data
    rows = []
    for lr in lrs:
        model = make_mlp(activation)
        sgd = lambda params, lr=lr: torch.optim.SGD(params, lr=lr)  # noqa: E731
        with _one_thread():
            history = fit(model, data, epochs=epochs, optimizer=sgd, device=device)
        dead = float(np.mean(dead_fractions(model, data.x_train)))
        rows.append({"lr": lr, "dead": dead, "test_acc": history.final["test_acc"]})
    return rows


def compare_activations(data, names, sizes, epochs=20, lr=0.05, device=None):
    """Train the same MLP (same seed, so the same initial weights) once per activation with
    :func:`dlbook.train.fit` (SGD with momentum 0.9). Returns ``{name: History}``."""
    from dlbook.train import fit

    out = {}
    with _one_thread():
        for name in names:
            model = make_mlp(name, sizes)
            out[name] = fit(model, data, epochs=epochs, lr=lr, optimizer="sgd", device=device)
    return out


def sweep_activations(
    data, names, sizes, lrs, epochs=20, seeds=(0,), val_fraction=0.2, device=None
):
    """Train :func:`make_mlp` once per activation, learning rate and seed with
    :func:`dlbook.train.fit` (SGD with momentum 0.9), holding out ``val_fraction`` of the
    training set to choose the rate by (:func:`best_learning_rates`). The seed sets the initial
    weights (the same for every activation), the validation split and the batch order.
    Returns ``{name: {lr: [History, one per seed]}}``; each History has ``val_acc`` and
    ``test_acc`` per epoch."""
    from dlbook.train import fit

    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction!r}")
    if len(lrs) == 0 or len(seeds) == 0:
        raise ValueError("lrs and seeds must not be empty")
    for name in names:
        _name(name)
    out = {}
    with _one_thread():
        for name in names:
            out[name] = {}
            for lr in lrs:
                out[name][lr] = [
                    fit(make_mlp(name, sizes, seed=s), data, epochs=epochs, lr=lr,
                        optimizer="sgd", device=device, seed=s, val_fraction=val_fraction,
                        eval_train=False)
                    for s in seeds
                ]  # fmt: skip
    return out


def best_learning_rates(sweep, key="val_acc"):
    """``{name: lr}``: for each activation of :func:`sweep_activations`' result, the learning rate
    whose final ``key`` (validation accuracy), averaged over the seeds, is highest; the smaller
    rate among equals."""
    best = {}
    for name, by_lr in sweep.items():
        score = {lr: np.mean([h.final[key] for h in runs]) for lr, runs in by_lr.items()}
        top = max(score.values())
        best[name] = min(lr for lr, v in score.items() if v == top)
    return best


def epochs_to(history, threshold):
    """The first epoch (1-based) whose test accuracy reaches ``threshold``, or ``None``."""
    acc = np.asarray(history["test_acc"])
    hits = np.flatnonzero(acc >= threshold)
    return int(hits[0]) + 1 if hits.size else None


# --- the write-it-yourself exercise: ELU's backward pass -----------------------------------------


def check_elu_backward(fn) -> Report:
    """Hold the reader's ``fn(grad_output, input, alpha=1.0)`` to :func:`elu_backward
    <dlbook.scratch.elu_backward>`, and say in words what is wrong.

    The cases catch the usual mistakes: a forgotten ``grad_output`` (a random one, not ones), a
    forgotten ``alpha`` or the wrong side of the kink at an exact 0 (torch takes
    :math:`\\alpha e^0 = \\alpha` there), ``nan`` from ``inf * 0`` where ``exp`` overflows at +800,
    and a float32 input that must give a float32 gradient.

    Shapes:
        fn: (grad_output, input, alpha) -> grad_input, all of the input's shape; returns a Report
    Formula:
        grad_input = grad_output * (1 if input > 0 else alpha * exp(input))
    Torch:
        autograd through torch.nn.functional.elu
    """
    # Fixed cases, the same under any DLBOOK_SEED: the report is a printout that nbval compares.
    rng = np.random.default_rng(7)
    x = np.linspace(-3.0, 3.0, 7)
    cases = [
        Case((np.ones(7), x), {}, "grad_output of ones"),
        Case((rng.standard_normal(7), x), {}, "random grad_output"),
        Case((rng.standard_normal(5), np.array([-2.0, -0.5, 0.0, 0.5, 2.0])), {"alpha": 0.5},
             "alpha=0.5, an exact 0"),
        Case((np.ones(4), np.array([-800.0, -1.0, 1.0, 800.0])), {}, "inputs of ±800"),
        Case((rng.standard_normal((2, 3, 4)).astype(np.float32),
              rng.standard_normal((2, 3, 4)).astype(np.float32)), {"alpha": 1.5},
             "float32, (2, 3, 4)"),
    ]  # fmt: skip

    def torch_twin(grad_output, input, alpha=1.0):
        import torch

        x = torch.tensor(input, requires_grad=True)
        torch.nn.functional.elu(x, alpha).backward(torch.from_numpy(grad_output))
        return x.grad

    with np.errstate(over="ignore", invalid="ignore"):
        return check(fn, A.elu_backward, cases, name="elu_backward", outputs=("grad_input",),
                     torch_twin=torch_twin)  # fmt: skip
