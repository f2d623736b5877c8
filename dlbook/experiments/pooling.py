"""Two measurements behind the pooling chapter's claims.

1. *Do pooling layers (global average pooling) replace fully connected layers to prevent
   overfitting?* (Lin, Chen & Yan 2014). The same small conv trunk is trained on the digits with
   different heads: a linear layer on the flattened map (``fc``), a two-layer fully connected head
   (``mlp``), global average pooling then a linear layer (``gap``), Network in Network's 1×1
   convolution then global average pooling (``nin``), and global *max* pooling then a linear
   layer (``gmp``). Each reports its parameters and its train and test accuracy.
2. *How much does pooling make a feature map invariant to small shifts?* :func:`shift_change`
   measures how much a map changes when its input moves by a few pixels, :func:`shift_changes`
   for every pooling of :func:`shift_poolings`, and :func:`unchanged_max_share` how many
   max-pooled outputs keep their exact value.

:func:`torch_pairs` pairs every scratch pooling function, forward and backward, loops and
vectorized, with its PyTorch twin, for the chapter's check in float64.

:func:`check_max_pool2d_backward` holds the reader's max-pool backward (the chapter's exercise)
to the book's, case by case.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from dlbook import seeding
from dlbook.data import load_digits
from dlbook.exercise import Case, Report, check
from dlbook.nets import (
    count_parameters as count_params,  # re-exported: the chapter calls E.count_params
)
from dlbook.scratch import (
    avg_pool2d,
    avg_pool2d_backward,
    avg_pool2d_backward_naive,
    avg_pool2d_naive,
    global_avg_pool2d,
    global_avg_pool2d_backward,
    max_pool2d,
    max_pool2d_backward,
    max_pool2d_backward_naive,
    max_pool2d_indices,
    max_pool2d_naive,
)
from dlbook.train import evaluate, seed_everything, shuffled_batches, train_steps

__all__ = ["HEADS", "build_model", "count_params", "HeadResult", "train", "run", "shift_change",
           "shift_poolings", "shift_changes", "unchanged_max_share", "torch_pairs",
           "check_max_pool2d_backward"]  # fmt: skip

HEADS = {
    "fc": "flatten → linear",
    "mlp": "flatten → linear 128 → ReLU → linear",
    "gap": "global average pool → linear",
    "nin": "1×1 conv → global average pool",
    "gmp": "global max pool → linear",
}


def build_model(head: str = "gap", channels=(8, 16, 32), size: int = 8, classes: int = 10):
    """A conv trunk and a classifier head, as ``nn.Sequential(trunk=..., head=...)``.

    Trunk: conv3×3 → ReLU → conv3×3 → ReLU → max pool 2×2 → conv3×3 → ReLU (padding 1), which
    maps ``(N, 1, size, size)`` to ``(N, channels[-1], size/2, size/2)``. Head: one of
    :data:`HEADS`; the result maps to ``(N, classes)`` logits.
    """
    from torch import nn

    if head not in HEADS:
        raise ValueError(f"head must be one of {tuple(HEADS)}, got {head!r}")
    c1, c2, c3 = channels
    trunk = nn.Sequential(
        nn.Conv2d(1, c1, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(c1, c2, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(c2, c3, 3, padding=1),
        nn.ReLU(),
    )
    flat = c3 * (size // 2) ** 2
    heads = {
        "fc": lambda: [nn.Flatten(), nn.Linear(flat, classes)],
        "mlp": lambda: [nn.Flatten(), nn.Linear(flat, 128), nn.ReLU(), nn.Linear(128, classes)],
        "gap": lambda: [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c3, classes)],
        "nin": lambda: [nn.Conv2d(c3, classes, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten()],
        "gmp": lambda: [nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(c3, classes)],
    }
    return nn.Sequential(OrderedDict(trunk=trunk, head=nn.Sequential(*heads[head]())))


@dataclass
class HeadResult:
    """One head's runs, one entry per seed; ``curves`` hold test accuracy at ``checkpoints``."""

    head: str
    params: int
    head_params: int
    train_acc: list[float]
    test_acc: list[float]
    checkpoints: list[int]
    curves: list[list[float]]

    @property
    def train(self) -> float:
        return float(np.mean(self.train_acc))

    @property
    def test(self) -> float:
        return float(np.mean(self.test_acc))

    @property
    def gap(self) -> float:
        """Mean train accuracy minus mean test accuracy: the generalization gap."""
        return self.train - self.test

    @property
    def test_std(self) -> float:
        return float(np.std(self.test_acc))

    def test_at(self, epoch: int) -> float:
        """Mean test accuracy over the seeds at one of the ``checkpoints``."""
        if epoch not in self.checkpoints:
            raise ValueError(f"epoch {epoch} is not a checkpoint: {self.checkpoints}")
        return float(np.mean([c[self.checkpoints.index(epoch)] for c in self.curves]))


def train(model, data, epochs=40, lr=1e-2, batch_size=128, seed=0, eval_every=5, device=None):
    """Adam on cross-entropy, as :func:`dlbook.train.fit` does, but evaluated only every
    ``eval_every`` epochs: on this small a network, evaluating both sets after every epoch costs
    as much as training. Returns ``(checkpoints, test accuracies there, final train accuracy)``.
    """
    import torch
    import torch.nn.functional as F

    from dlbook.devices import resolve

    device = resolve(device)
    seed_everything(seed)
    model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    x = torch.as_tensor(data.x_train, device=device)
    y = torch.as_tensor(data.y_train, device=device)
    generator = seeding.generator(seed)

    def batch_loss(idx):
        return F.cross_entropy(model(x[idx]), y[idx])

    checkpoints, curve = [], []
    for epoch in range(1, epochs + 1):
        model.train()
        batches = shuffled_batches(len(x), batch_size, generator, device)
        for _ in train_steps(batch_loss, opt, batches):
            pass
        if epoch % eval_every == 0 or epoch == epochs:
            checkpoints.append(epoch)
            curve.append(evaluate(model, data.x_test, data.y_test, device)[1])
    return checkpoints, curve, evaluate(model, data.x_train, data.y_train, device)[1]


def run(
    heads=("fc", "mlp", "gap"),
    seeds=(0, 1, 2),
    epochs: int | Mapping[str, int] = 40,
    lr: float = 1e-2,
    batch_size: int = 128,
    test_fraction: float = 0.75,
    eval_every: int = 5,
    device=None,
    threads: int | None = 1,
) -> list[HeadResult]:
    """Train every head with every seed on the digits; return one :class:`HeadResult` a head.

    ``epochs`` is one number for every head, or a mapping from each head to its own number (a
    head that learns slowly can train longer, so that every head fits its training set).
    ``test_fraction=0.75`` trains on a quarter of the 1,797 digits (449 images), so that a head
    that overfits has room to show it. ``threads`` caps torch's CPU threads during the runs
    (restored afterwards): layers this small lose more to thread synchronisation than they gain.
    """
    import torch

    if isinstance(epochs, Mapping):
        missing = [h for h in heads if h not in epochs]
        if missing:
            raise ValueError(f"epochs gives no number of epochs for the heads {missing}")
        per_head = {h: int(epochs[h]) for h in heads}
    else:
        per_head = dict.fromkeys(heads, int(epochs))
    data = load_digits(test_fraction=test_fraction)
    before = torch.get_num_threads()
    torch.set_num_threads(threads or before)
    results = []
    try:
        for head in heads:
            train_acc, test_acc, curves = [], [], []
            for seed in seeds:
                seed_everything(seed)  # the same trunk initialisation for every head
                model = build_model(head, size=data.x_train.shape[-1])
                steps, curve, tr = train(
                    model, data, per_head[head], lr, batch_size, seed, eval_every, device
                )
                train_acc.append(tr)
                test_acc.append(curve[-1])
                curves.append(curve)
            results.append(
                HeadResult(
                    head=head,
                    params=count_params(model),
                    head_params=count_params(model.head),
                    train_acc=train_acc,
                    test_acc=test_acc,
                    checkpoints=steps,
                    curves=curves,
                )
            )
    finally:
        torch.set_num_threads(before)
    return results


def shift_change(feature, pool, shifts=range(9)) -> np.ndarray:
    """How much ``pool(map)`` changes when the map's content moves right by ``t`` pixels:
    ``||pool(shifted) - pool(original)|| / ||pool(original)||`` for each ``t`` in ``shifts``.

    ``feature`` is a 2-D map; ``pool`` maps a 2-D array to a 2-D array (the identity measures the
    unpooled map). Both windows are cut from the same map, ``max(shifts)`` columns apart at most,
    so no content wraps around or enters from outside.
    """
    feature = np.asarray(feature)
    shifts = [int(t) for t in shifts]
    if feature.ndim != 2:
        raise ValueError(f"feature must be 2-D, got shape {feature.shape}")
    m = max(shifts)
    if min(shifts) < 0 or m >= feature.shape[1]:
        raise ValueError(f"shifts must lie in [0, {feature.shape[1] - 1}], got {shifts}")
    width = feature.shape[1] - m
    ref = pool(feature[:, m : m + width])
    out = [np.linalg.norm(pool(feature[:, m - t : m - t + width]) - ref) for t in shifts]
    return np.array(out) / np.linalg.norm(ref)


def shift_poolings() -> dict:
    """The poolings whose shift robustness the chapter compares: name -> a function of a 2-D
    map (the identity measures the unpooled map)."""
    return {
        "no pooling": lambda f: f,
        "max pool 2": lambda f: max_pool2d(f[None], 2)[0],
        "max pool 4": lambda f: max_pool2d(f[None], 4)[0],
        "max pool 8": lambda f: max_pool2d(f[None], 8)[0],
        "avg pool 4": lambda f: avg_pool2d(f[None], 4)[0],
        "avg pool 8": lambda f: avg_pool2d(f[None], 8)[0],
    }


def shift_changes(feature, shifts=range(9), poolings=None) -> dict[str, np.ndarray]:
    """:func:`shift_change` of a 2-D ``feature`` map under every pooling in ``poolings`` (name
    -> function of a 2-D map; default :func:`shift_poolings`), one array over ``shifts`` each."""
    poolings = shift_poolings() if poolings is None else poolings
    return {name: shift_change(feature, pool, shifts) for name, pool in poolings.items()}


def unchanged_max_share(feature, kernel_size: int = 4, margin: int = 8) -> float:
    """The share of the non-zero outputs of ``kernel_size`` max pooling of a 2-D ``feature``
    map that keep their exact value when its content moves right by one pixel.

    Both maps are cut from ``feature`` as :func:`shift_change` cuts them, the reference
    ``margin`` columns in (its largest shift)."""
    feature = np.asarray(feature)
    if feature.ndim != 2:
        raise ValueError(f"feature must be 2-D, got shape {feature.shape}")
    if not 1 <= margin < feature.shape[1]:
        raise ValueError(f"margin must lie in [1, {feature.shape[1] - 1}], got {margin}")
    ref, moved = feature[:, margin:], feature[:, margin - 1 : -1]
    a, b = max_pool2d(ref[None], kernel_size)[0], max_pool2d(moved[None], kernel_size)[0]
    live = a > 0
    return float(np.mean(a[live] == b[live]))


def torch_pairs(x, rng, max_args: dict, avg_args: dict):
    """Every scratch pooling function on ``x`` ``(N, C, H, W)`` float64 beside PyTorch's, each
    backward with an upstream gradient drawn from ``rng`` (in the order: max, average with
    ``count_include_pad`` True then False, global average).

    ``max_args`` go to max pooling, ``avg_args`` (without ``count_include_pad``) to average
    pooling. Returns ``(lines, rows)``: one line per setting (input shape, settings, output
    shape) and ``{label: (ours, torch's)}`` for :func:`dlbook.verify.compare`.
    """
    import torch
    import torch.nn.functional as F

    def torch_run(fn, g, **kw):
        # fn on a float64 tensor copy of x, backpropagating g: returns (output, grad input)
        xt = torch.tensor(x, requires_grad=True)
        out = fn(xt, **kw)
        out.backward(torch.from_numpy(g))
        return out, xt.grad

    mx = max_args
    g = rng.standard_normal(max_pool2d(x, **mx).shape)
    out_t, grad_t = torch_run(F.max_pool2d, g, **mx)
    _, idx_t = F.max_pool2d(torch.from_numpy(x), **mx, return_indices=True)
    lines = [" ".join(map(str, ("input", x.shape, "max pool", mx, "->", out_t.shape)))]
    rows = {
        "max: output": (max_pool2d(x, **mx), out_t),
        "max: output, loops": (max_pool2d_naive(x, **mx), out_t),
        "max: indices of the maxima": (max_pool2d_indices(x, **mx), idx_t),
        "max: grad input": (max_pool2d_backward(g, x, **mx), grad_t),
        "max: grad input, loops": (max_pool2d_backward_naive(g, x, **mx), grad_t),
    }
    for label, cip in [("avg", True), ("avg, real pixels only", False)]:
        av = dict(avg_args, count_include_pad=cip)
        g = rng.standard_normal(avg_pool2d(x, **av).shape)
        out_t, grad_t = torch_run(F.avg_pool2d, g, **av)
        lines.append(" ".join(map(str, ("input", x.shape, "avg pool", av, "->", out_t.shape))))
        rows[f"{label}: output"] = (avg_pool2d(x, **av), out_t)
        rows[f"{label}: output, loops"] = (avg_pool2d_naive(x, **av), out_t)
        rows[f"{label}: grad input"] = (avg_pool2d_backward(g, x, **av), grad_t)
        rows[f"{label}: grad input, loops"] = (avg_pool2d_backward_naive(g, x, **av), grad_t)
    g = rng.standard_normal(x.shape[:2] + (1, 1))
    out_t, grad_t = torch_run(F.adaptive_avg_pool2d, g, output_size=1)
    rows["global avg: output"] = (global_avg_pool2d(x), out_t)
    rows["global avg: grad input"] = (global_avg_pool2d_backward(g, x), grad_t)
    return lines, rows


def _max_pool_backward_cases() -> list[Case]:
    rng = np.random.default_rng(3)  # fixed, not DLBOOK_SEED: one report everywhere

    def distinct(*shape):  # a permutation: no ties, so every window has one maximum
        return rng.permutation(int(np.prod(shape))).reshape(shape).astype(np.float64)

    def case(x, kernel_size, stride, label):
        n, c, h, w = x.shape
        s = kernel_size if stride is None else stride
        oh, ow = (h - kernel_size) // s + 1, (w - kernel_size) // s + 1
        g = rng.integers(1, 10, (n, c, oh, ow)).astype(x.dtype)
        return Case((g, x, kernel_size, stride), label=label)

    return [
        case(distinct(1, 1, 4, 4), 2, None, "2×2 windows, stride 2"),
        case(distinct(1, 1, 7, 7), 3, 2, "overlapping 3×3 windows, stride 2, on a 7×7 map"),
        case(distinct(2, 3, 6, 8), 2, None, "batch of 2, 3 channels, a 6×8 map"),
        case(np.ones((1, 2, 4, 4)), 2, None, "ties: every window holds four equal values"),
        case(distinct(1, 2, 5, 4).astype(np.float32), 2, 1, "float32, stride 1"),
    ]


def check_max_pool2d_backward(fn) -> Report:
    """Hold the reader's ``fn(grad_output, input, kernel_size, stride=None)`` (square windows, no
    padding) to :func:`dlbook.scratch.max_pool2d_backward` on non-overlapping and overlapping
    windows, a batched multi-channel non-square map, ties and float32.

    Shapes:
        grad_output: (N, C, H_out, W_out); input: (N, C, H, W)
        returns: a Report; fn must return grad_input, (N, C, H, W) in input's dtype
    Formula:
        grad_input[n, c, r, q] = sum of grad_output[n, c, u, v] over the windows (u, v) whose
        first maximum (row-major) is input[n, c, r, q]
    Torch:
        autograd through torch.nn.functional.max_pool2d
    """
    import torch
    import torch.nn.functional as F

    def twin(g, x, kernel_size, stride=None):
        xt = torch.from_numpy(x).requires_grad_()
        F.max_pool2d(xt, kernel_size, stride).backward(torch.from_numpy(g))
        return xt.grad

    return check(
        fn,
        max_pool2d_backward,
        _max_pool_backward_cases(),
        name="max_pool2d_backward",
        torch_twin=twin,
    )
