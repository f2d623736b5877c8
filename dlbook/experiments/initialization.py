r"""Measurements for the weight-initialization chapter.

* :func:`init_weight_` fills a NumPy weight by one of the chapter's schemes (:data:`SCHEMES`),
  with the functions of :mod:`dlbook.scratch.init`;
* :func:`symmetry_runs`: a one-hidden-layer NumPy network trained from zero, constant and Xavier
  weights, and :func:`distinct_units`, which counts how many hidden units it really has;
* :func:`scratch_init_scale` and :func:`torch_init_scale`: the bound or standard deviation an
  initializer really draws with, read off its output (:func:`implied_scale`);
* :func:`mlp_forward`, :func:`mlp_backward`, :func:`trace` and :func:`torch_trace`: a deep
  bias-free MLP, :math:`h_l = f(h_{l-1} W_l^\top)`, by hand and by autograd;
* :func:`depth_statistics` and :func:`torch_depth_statistics`: activation and gradient spread,
  layer by layer (:class:`DepthStats`);
* :func:`make_torch_mlp`, :func:`init_torch_` and :func:`train_grid`: the training comparison;
* :func:`check_kaiming_std`: the checker of the chapter's write-it-yourself exercise.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from dlbook import seeding
from dlbook.exercise import Case, Report, check
from dlbook.scratch import init as scratch_init
from dlbook.scratch.activations import (
    relu,
    relu_backward,
    sigmoid,
    sigmoid_backward,
    tanh,
    tanh_backward,
)
from dlbook.timing import one_thread

__all__ = [
    "SCHEMES", "ACTIVATIONS", "LABELS", "STDS", "init_weight_", "distinct_units",
    "symmetry_runs", "implied_scale", "scratch_init_scale", "torch_init_scale", "trace",
    "mlp_forward", "mlp_backward", "torch_trace", "DepthStats", "depth_statistics",
    "torch_depth_statistics", "make_torch_mlp", "init_torch_", "train_grid",
    "initial_weight_grads", "check_kaiming_std",
]  # fmt: skip

SCHEMES = ("zero", "small", "large", "xavier", "kaiming")
ACTIVATIONS = ("tanh", "relu")
STDS = {"small": 0.01, "large": 1.0}  # 0.01 * randn and plain randn: the two classic guesses
LABELS = {
    "zero": "zero",
    "small": "N(0, 0.01²)",
    "large": "N(0, 1)",
    "xavier": "Xavier",
    "kaiming": "Kaiming",
    "default": "PyTorch default",
}
_ACT = {
    "tanh": (tanh, tanh_backward),
    "relu": (relu, relu_backward),
    "sigmoid": (sigmoid, sigmoid_backward),
    "linear": (lambda x: x, lambda g, x: g),
}


def _activation(activation):
    if activation not in _ACT:
        raise ValueError(f"activation must be one of {tuple(_ACT)}, got {activation!r}")
    return _ACT[activation]


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def _one_blas_thread():
    """NumPy's BLAS on one thread (see :func:`dlbook.timing.one_thread`)."""
    return one_thread(blas=True)


def init_weight_(weight, scheme, activation="relu", rng=None, std=None, scale=1.0):
    """Fill ``weight`` (``(out, in, *kernel)``) in place by ``scheme``; return it.

    ``"zero"``; ``"small"`` and ``"large"``, normal with the std in :data:`STDS`; ``"normal"``
    with the given ``std``; ``"xavier"``, ``xavier_uniform_`` with gain 1 as Glorot & Bengio
    had it; ``"kaiming"``, ``kaiming_uniform_`` with the gain of ``activation`` (√2 for ReLU,
    5/3 for tanh). The result is then multiplied by ``scale``.
    """
    _activation(activation)
    if scheme == "zero":
        scratch_init.zeros_(weight)
    elif scheme in ("small", "large", "normal"):
        s = STDS.get(scheme) if std is None else std
        if s is None:
            raise ValueError("std: the 'normal' scheme needs a standard deviation")
        scratch_init.normal_(weight, 0.0, s, rng)
    elif scheme == "xavier":
        scratch_init.xavier_uniform_(weight, gain=1.0, rng=rng)
    elif scheme == "kaiming":
        scratch_init.kaiming_uniform_(weight, nonlinearity=activation, rng=rng)
    else:
        raise ValueError(f"scheme must be one of {SCHEMES + ('normal',)}, got {scheme!r}")
    weight *= scale
    return weight


# --- symmetry -----------------------------------------------------------------------------------


def distinct_units(weight, bias=None) -> int:
    """How many different units a layer has: distinct rows of ``[weight | bias]``, exactly."""
    rows = weight.reshape(len(weight), -1)
    if bias is not None:
        rows = np.concatenate([rows, bias.reshape(-1, 1)], axis=1)
    return len(np.unique(rows, axis=0))


def symmetry_runs(data, schemes=("zero", "constant", "xavier"), hidden=32, activation="tanh",
                  constant=0.1, epochs=10, lr=0.1, seed=0) -> list[dict]:  # fmt: skip
    """Train ``Flatten → Linear(64, hidden) → activation → Linear(hidden, 10)`` in NumPy from each
    scheme: every weight and bias 0, every weight and bias ``constant``, or Xavier weights with
    zero biases. SGD with momentum 0.9, in float64.

    Returns one dict per scheme: ``scheme``, ``weight`` (the trained first-layer weight,
    ``(hidden, 64)``), ``distinct`` (:func:`distinct_units` of the first layer), ``moved`` (the
    largest first-layer weight), ``test_acc`` and the ``history``.
    """
    from dlbook.scratch import layers as L
    from dlbook.scratch import optim
    from dlbook.scratch.fit import fit

    act = {"tanh": L.Tanh, "relu": L.ReLU, "sigmoid": L.Sigmoid}[activation]
    rows = []
    for scheme in schemes:
        rng = seeding.rng(seed)
        first = L.Linear(data.x_train[0].size, hidden, dtype=np.float64, rng=rng)
        net = L.Sequential(L.Flatten(), first, act(), L.Linear(hidden, 10, dtype=np.float64))
        for p in net.params:
            if scheme == "constant":
                p[...] = constant
            elif scheme == "xavier" and p.ndim == 2:
                scratch_init.xavier_uniform_(p, rng=rng)
            elif scheme in ("zero", "xavier"):
                scratch_init.zeros_(p)
            else:
                raise ValueError(f"schemes: unknown scheme {scheme!r}")
        with _one_blas_thread():
            history = fit(net, data, optim.SGD(net.params, lr, momentum=0.9), epochs, seed=seed)
        w, b = first.weight, first.bias
        rows.append(
            dict(scheme=scheme, weight=w.copy(), distinct=distinct_units(w, b),
                 moved=float(np.abs(w).max()), test_acc=history.final["test_acc"],
                 history=history)
        )  # fmt: skip
    return rows


# --- what an initializer draws from -----------------------------------------------------------

_INITS = ("xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_")


def implied_scale(filled, unit) -> float:
    """The ``s`` with ``filled = s * unit``, by least squares: the bound of a uniform draw when
    ``unit`` is the same generator's U(-1, 1) draw, the std of a normal one when it is N(0, 1).
    Raises ``ValueError`` if ``filled`` is not such a rescaled copy (to 1e-12)."""
    a, u = np.ravel(filled).astype(np.float64), np.ravel(unit).astype(np.float64)
    s = float(a @ u / (u @ u))
    if np.abs(a - s * u).max() > 1e-12 * abs(s):
        raise ValueError("filled is not a rescaled copy of unit")
    return s


def _check_init(name):
    if name not in _INITS:
        raise ValueError(f"name must be one of {_INITS}, got {name!r}")
    return "uniform" if "uniform" in name else "normal"


def scratch_init_scale(name, shape, seed=0, **kwargs) -> float:
    """The bound (``*_uniform_``) or std (``*_normal_``) that ``dlbook.scratch.init.<name>``
    draws a ``shape`` weight with, read off its output with :func:`implied_scale`."""
    kind = _check_init(name)
    filled = getattr(scratch_init, name)(np.empty(shape), rng=seeding.rng(seed), **kwargs)
    rng = seeding.rng(seed)
    unit = rng.uniform(-1, 1, size=shape) if kind == "uniform" else rng.normal(0, 1, size=shape)
    return implied_scale(filled, unit)


def torch_init_scale(name, shape, seed=0, **kwargs) -> float:
    """The same for ``torch.nn.init.<name>``, in float64, with a seeded ``torch.Generator``."""
    import torch

    kind = _check_init(name)
    filled, unit = torch.empty(shape, dtype=torch.float64), torch.empty(shape, dtype=torch.float64)
    getattr(torch.nn.init, name)(filled, generator=seeding.generator(seed), **kwargs)
    g = seeding.generator(seed)
    unit.uniform_(-1, 1, generator=g) if kind == "uniform" else unit.normal_(0, 1, generator=g)
    return implied_scale(filled.numpy(), unit.numpy())


# --- a deep MLP, by hand and by autograd --------------------------------------------------------


def trace(input, weights, activation, grad_output=None):
    r"""Forward (and backward) through :math:`h_0 = x`, :math:`h_l = f(h_{l-1} W_l^\top)`.

    ``input`` is ``(N, D_0)``, ``weights[l-1]`` is ``(D_l, D_{l-1})``. Returns ``(hs, grads,
    weight_grads)``: ``hs = [h_0, ..., h_L]``; with ``grad_output`` (``∂Loss/∂h_L``),
    ``grads = [∂Loss/∂h_0, ..., ∂Loss/∂h_L]`` and ``weight_grads = [∂Loss/∂W_1, ...]``
    (both ``None`` without it).
    """
    f, f_backward = _activation(activation)
    hs, ys = [np.asarray(input)], []
    for w in weights:
        ys.append(hs[-1] @ w.T)
        hs.append(f(ys[-1]))
    if grad_output is None:
        return hs, None, None
    grads, weight_grads = [np.asarray(grad_output)], []
    for w, y, h_in in zip(reversed(weights), reversed(ys), reversed(hs[:-1])):
        g_y = f_backward(grads[0], y)  # through the activation
        weight_grads.insert(0, g_y.T @ h_in)
        grads.insert(0, g_y @ w)  # through the layer: ∂/∂h_{l-1} = g_y W_l
    return hs, grads, weight_grads


def mlp_forward(input, *weights, activation="tanh"):
    """The output ``h_L`` of :func:`trace`'s MLP."""
    return trace(input, weights, activation)[0][-1]


def mlp_backward(grad_output, input, *weights, activation="tanh"):
    """``(∂Loss/∂input, ∂Loss/∂W_1, ..., ∂Loss/∂W_L)`` for :func:`mlp_forward`."""
    _, grads, weight_grads = trace(input, weights, activation, grad_output)
    return (grads[0], *weight_grads)


def torch_trace(input, weights, activation, grad_output):
    """:func:`trace` by torch's autograd (float64, CPU), for checking it: ``(hs, grads)``."""
    import torch

    f = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid}.get(
        activation, lambda t: t
    )
    hs = [torch.tensor(input, dtype=torch.float64, requires_grad=True)]
    for w in weights:
        hs.append(f(torch.nn.functional.linear(hs[-1], torch.tensor(w, dtype=torch.float64))))
        hs[-1].retain_grad()
    hs[-1].backward(torch.tensor(grad_output, dtype=torch.float64))
    return [h.detach().numpy() for h in hs], [h.grad.numpy() for h in hs]


@dataclass
class DepthStats:
    """Per-layer spread through a deep MLP, for layers ``l = 1..L``.

    ``act_std[l-1]``: std of :math:`h_l`; ``grad_std[l-1]``: std of the gradient at layer
    ``l``'s input, :math:`\\partial \\text{Loss} / \\partial h_{l-1}`; ``weight_grad_std[l-1]``:
    std of :math:`\\partial \\text{Loss} / \\partial W_l`; ``samples``: ``(L, keep)`` values of
    each :math:`h_l`, for histograms.
    """

    scheme: str
    activation: str
    act_std: np.ndarray
    grad_std: np.ndarray
    weight_grad_std: np.ndarray
    samples: np.ndarray


def depth_statistics(scheme, activation, depth=30, width=256, batch=256, seed=0, std=None,
                     scale=1.0, keep=2048) -> DepthStats:  # fmt: skip
    """Spread of activations and gradients through ``depth`` bias-free layers of ``width`` units,
    initialized by :func:`init_weight_`, in NumPy (float64). The input rows and the gradient
    arriving at the top are standard normal, so a scheme that keeps both spreads at 1 is ideal.
    """
    depth, width = _positive_int(depth, "depth"), _positive_int(width, "width")
    batch = _positive_int(batch, "batch")
    rng = seeding.rng(seed)
    weights = [
        init_weight_(np.empty((width, width)), scheme, activation, rng, std, scale)
        for _ in range(depth)
    ]
    x, g = rng.standard_normal((batch, width)), rng.standard_normal((batch, width))
    with _one_blas_thread():
        hs, grads, weight_grads = trace(x, weights, activation, g)
    return DepthStats(
        scheme,
        activation,
        np.array([h.std() for h in hs[1:]]),
        np.array([gr.std() for gr in grads[:-1]]),
        np.array([gw.std() for gw in weight_grads]),
        np.stack([h.ravel()[:keep] for h in hs[1:]]),
    )


# --- PyTorch ------------------------------------------------------------------------------------


def make_torch_mlp(depth=12, width=128, activation="relu", in_features=64, classes=10,
                   bias=True):  # fmt: skip
    """``Flatten → [Linear → activation] × depth → Linear(width, classes)``, torch's default
    initialization (``classes=None`` leaves out the last layer)."""
    from torch import nn

    depth, width = _positive_int(depth, "depth"), _positive_int(width, "width")
    act = {"tanh": nn.Tanh, "relu": nn.ReLU}
    if activation not in act:
        raise ValueError(f"activation must be one of {tuple(act)}, got {activation!r}")
    layers, d = [nn.Flatten()], in_features
    for _ in range(depth):
        layers += [nn.Linear(d, width, bias=bias), act[activation]()]
        d = width
    if classes is not None:
        layers.append(nn.Linear(d, classes, bias=bias))
    return nn.Sequential(*layers)


def init_torch_(model, scheme, activation="relu"):
    """Re-initialize every ``nn.Linear`` of ``model`` in place by ``scheme`` (as
    :func:`init_weight_`, with ``torch.nn.init``), biases zero; ``"default"`` keeps torch's own
    initialization. Returns the model."""
    import torch
    from torch import nn

    if scheme == "default":
        return model
    with torch.no_grad():
        for m in model.modules():
            if not isinstance(m, nn.Linear):
                continue
            if m.bias is not None:
                nn.init.zeros_(m.bias)
            if scheme == "zero":
                nn.init.zeros_(m.weight)
            elif scheme in STDS:
                nn.init.normal_(m.weight, 0.0, STDS[scheme])
            elif scheme == "xavier":
                nn.init.xavier_uniform_(m.weight)
            elif scheme == "kaiming":
                nn.init.kaiming_uniform_(m.weight, nonlinearity=activation)
            else:
                raise ValueError(f"scheme must be one of {SCHEMES + ('default',)}, got {scheme!r}")
    return model


def torch_depth_statistics(scheme, activation, depth=30, width=256, batch=256, seed=0,
                           device=None) -> DepthStats:  # fmt: skip
    """:func:`depth_statistics` in PyTorch, on ``device``: a bias-free ``make_torch_mlp``
    initialized by :func:`init_torch_`, activations caught by forward hooks, gradients by
    ``retain_grad``. (``samples`` is empty.)"""
    import torch
    from torch import nn

    from dlbook.devices import resolve

    device = resolve(device)
    seeding.manual_seed(seed)
    model = make_torch_mlp(depth, width, activation, width, classes=None, bias=False)
    model = init_torch_(model, scheme, activation).to(device)
    outs = []

    def keep(module, args, out):
        out.retain_grad()
        outs.append(out)

    for m in model.modules():
        if isinstance(m, (nn.Tanh, nn.ReLU)):
            m.register_forward_hook(keep)
    x = torch.randn(batch, width, device=device, requires_grad=True)
    top = model(x)
    top.backward(torch.randn(batch, width, device=device))
    weights = [m.weight for m in model.modules() if isinstance(m, nn.Linear)]

    def spread(tensors):
        return np.array([t.std(correction=0).item() for t in tensors])

    ins = [x, *outs[:-1]]
    return DepthStats(
        scheme, activation, spread(outs), spread(h.grad for h in ins),
        spread(w.grad for w in weights), np.empty((depth, 0)),
    )  # fmt: skip


def train_grid(data, schemes=SCHEMES, activations=ACTIVATIONS, depth=10, width=96, epochs=5,
               lr=0.01, optimizer="sgd", batch_size=64, seed=0, device=None):  # fmt: skip
    """Train :func:`make_torch_mlp` once for each (activation, scheme) with
    :func:`dlbook.train.fit` (``"sgd"`` is SGD with momentum 0.9).

    Returns one dict per run: ``scheme``, ``activation``, ``test_acc`` and ``train_loss`` (last
    epoch; the loss may be nan), ``seconds`` and the ``history``.
    """
    from dlbook.train import fit, seed_everything

    rows = []
    for activation in activations:
        for scheme in schemes:
            seed_everything(seed)
            model = make_torch_mlp(depth, width, activation, data.x_train[0].size)
            init_torch_(model, scheme, activation)
            history = fit(model, data, epochs, lr, batch_size, optimizer, device=device, seed=seed)
            rows.append(
                dict(scheme=scheme, activation=activation, test_acc=history.final["test_acc"],
                     train_loss=history.final["train_loss"], seconds=sum(history["seconds"]),
                     history=history)
            )  # fmt: skip
    return rows


def initial_weight_grads(data, scheme, activation="relu", depth=10, width=96, batch=64, seed=0):
    """The largest ``|dL/dW|`` of each weight matrix of :func:`train_grid`'s network, as
    initialized there, for the cross-entropy of the first ``batch`` training digits: what the
    first step of any optimizer sees. Returns ``(depth + 1,)`` float64, bottom layer first."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    from dlbook.train import seed_everything

    seed_everything(seed)
    model = make_torch_mlp(depth, width, activation, data.x_train[0].size)
    init_torch_(model, scheme, activation)
    x = torch.as_tensor(data.x_train[:batch], dtype=torch.float32)
    y = torch.as_tensor(data.y_train[:batch], dtype=torch.long)
    F.cross_entropy(model(x), y).backward()
    weights = [m.weight for m in model.modules() if isinstance(m, nn.Linear)]
    return np.array([w.grad.abs().max().item() for w in weights])


# --- the write-it-yourself exercise: Kaiming's standard deviation ---------------------------------


def check_kaiming_std(fn) -> Report:
    """Hold the reader's ``fn(shape, a=0.0, mode="fan_in", nonlinearity="leaky_relu")``, the
    standard deviation that ``kaiming_normal_`` draws a weight of that shape with, to the std
    that :func:`dlbook.scratch.init.kaiming_normal_` really draws with (read off its output by
    :func:`scratch_init_scale`), and say in words what is wrong.

    The cases catch the usual mistakes: fan-in and fan-out swapped (a non-square linear weight),
    a convolution's receptive field size left out of the fans, ``mode`` or ``nonlinearity``
    ignored (fan-out with ReLU, tanh's gain 5/3), and the leaky ReLU's slope ``a`` left out of
    its gain.

    Shapes:
        fn: (shape, a, mode, nonlinearity) -> a number; returns a Report
    Formula:
        std = gain / sqrt(fan), fan = (in or out) * prod(kernel), gain = calculate_gain(...)
    Torch:
        the std torch.nn.init.kaiming_normal_ draws with (read off its output)
    """
    cases = [
        Case(((128, 256),), {}, "nn.Linear(256, 128), the defaults"),
        Case(((64, 3, 3, 3),), {}, "nn.Conv2d(3, 64, 3), the defaults"),
        Case(((128, 256),), {"mode": "fan_out", "nonlinearity": "relu"}, "fan_out, ReLU"),
        Case(((10, 20),), {"nonlinearity": "tanh"}, "tanh"),
        Case(((32, 16, 5, 5),), {"a": 0.2}, "a conv, leaky ReLU of slope 0.2"),
    ]

    def reference(shape, **kwargs):
        return scratch_init_scale("kaiming_normal_", shape, **kwargs)

    def torch_twin(shape, **kwargs):
        return torch_init_scale("kaiming_normal_", shape, **kwargs)

    return check(fn, reference, cases, name="kaiming_std", outputs=("the std",),
                 torch_twin=torch_twin)  # fmt: skip
