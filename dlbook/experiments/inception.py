"""The 1×1 convolutions and Inception chapter's experiments.

* :func:`pointwise_matmul`: a 1×1 convolution written as one matrix product per image, to hold
  against :func:`dlbook.scratch.conv2d` with a 1×1 kernel and against torch.
* :data:`COLOUR_MIX`: a hand-made 1×1 convolution from RGB to brightness and two colour
  opponents.
* :func:`conv_costs` and :func:`time_convs`: parameters and multiply-adds (from
  :func:`dlbook.nets.summary`) of a direct k×k convolution and of its bottleneck, and the
  wall-clock time of their forward passes on this CPU.
* :func:`branch_table`: each branch of an Inception block, with its receptive field (from
  :func:`dlbook.receptive_field`), output channels, parameters and multiply-adds.
* :func:`per_class`: a class-balanced subset (CIFAR-10, when it is downloaded).
* :func:`train_pair` and :func:`summarize_pair`: a small Inception network against a plain CNN
  of about the same multiply-adds, trained side by side on the photo patches.
* :func:`check_bottleneck_cost`: the checker of the "count a bottleneck's cost" exercise.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from dlbook import nets
from dlbook.data.augment import Augment
from dlbook.exercise import Case, Report, check
from dlbook.receptive import receptive_field
from dlbook.timing import one_thread

__all__ = [
    "COLOUR_MIX",
    "COLOUR_NAMES",
    "pointwise_matmul",
    "conv_costs",
    "best_cpu_time",
    "time_convs",
    "branch_table",
    "per_class",
    "MAKERS",
    "train_pair",
    "summarize_pair",
    "check_bottleneck_cost",
]

#: A 1×1 convolution from (R, G, B) to brightness (ITU-R 601 luma), red against green, and blue
#: against yellow: weight (3, 3, 1, 1) as a (3, 3) matrix, one output channel per row.
COLOUR_MIX = np.array([[0.299, 0.587, 0.114], [1.0, -1.0, 0.0], [-0.5, -0.5, 1.0]])
COLOUR_NAMES = ("brightness", "red − green", "blue − yellow")


def pointwise_matmul(input, weight, bias=None):
    """A 1×1 convolution as a matrix product: every pixel's channel vector times one matrix.

    ``weight`` may be ``(C_out, C_in, 1, 1)`` or ``(C_out, C_in)``. The image is flattened to
    ``(N, C_in, H·W)``, multiplied by the ``(C_out, C_in)`` matrix, and reshaped back.

    Shapes:
        input: (N, C_in, H, W)
        weight: (C_out, C_in, 1, 1) or (C_out, C_in)
        bias: (C_out,) or None
        returns: (N, C_out, H, W)
    Formula:
        out[n, o, y, x] = bias[o] + sum_c weight[o, c] * input[n, c, y, x]
    Torch:
        torch.nn.functional.conv2d with a 1×1 kernel
    """
    input, weight = np.asarray(input), np.asarray(weight)
    if input.ndim != 4:
        raise ValueError(f"input must be (N, C_in, H, W), got shape {input.shape}")
    if weight.ndim == 4:
        if weight.shape[2:] != (1, 1):
            raise ValueError(f"weight must have a 1×1 kernel, got shape {weight.shape}")
        weight = weight[:, :, 0, 0]
    if weight.ndim != 2 or weight.shape[1] != input.shape[1]:
        raise ValueError(
            f"weight must be (C_out, {input.shape[1]}) or (C_out, {input.shape[1]}, 1, 1) for "
            f"an input of {input.shape[1]} channels, got shape {weight.shape}"
        )
    n, c, h, w = input.shape
    out = (weight.astype(input.dtype) @ input.reshape(n, c, h * w)).reshape(n, -1, h, w)
    if bias is not None:
        out = out + np.asarray(bias, dtype=input.dtype)[:, None, None]
    return out


def conv_costs(in_channels=256, out_channels=256, mid=64, kernel_size=3, size=14):
    """The direct ``kernel_size`` convolution and its bottleneck (1×1 to ``mid``, k×k, 1×1),
    on a ``size`` × ``size`` input: ``{"direct": (module, summary), "bottleneck": (...)}``,
    each summary from :func:`dlbook.nets.summary` (parameters, multiply-adds per image)."""
    modules = {
        "direct": nets.direct_conv(in_channels, out_channels, kernel_size),
        "bottleneck": nets.bottleneck_conv(in_channels, out_channels, mid, kernel_size),
    }
    shape = (in_channels, size, size)
    return {k: (m, nets.summary(m, shape, trace_field=False)) for k, m in modules.items()}


def best_cpu_time(fn, repeat=7, warmup=2):
    """The CPU time (``time.process_time``) of the fastest of ``repeat`` calls of ``fn()``, after
    ``warmup`` calls. On one thread it is the wall-clock time the call takes on an idle machine,
    and other processes' load hardly changes it, while wall-clock time grows with the load."""
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


@torch.no_grad()
def time_convs(modules, input_shape=(8, 256, 14, 14), repeat=7, seed=0):
    """:func:`best_cpu_time` of a forward pass of each module on one random batch, on the CPU
    and one thread: ``{name: seconds}``."""
    x = torch.randn(input_shape, generator=torch.Generator().manual_seed(seed))
    times = {}
    with one_thread(torch=True):
        for name, m in modules.items():
            m = m.cpu().eval()
            times[name] = best_cpu_time(lambda m=m: m(x), repeat=repeat)
    return times


def branch_table(block, input_shape):
    """One row per branch of an :class:`~dlbook.nets.InceptionBlock` (``b1``, ``b3``, ``b5``,
    ``bp``) and one for the whole block: name, receptive field (from
    :func:`dlbook.receptive_field`), output channels, parameters and multiply-adds per image."""
    rows = []
    parts = [(n, getattr(block, n)) for n in ("b1", "b3", "b5", "bp")] + [("block", block)]
    for name, module in parts:
        s = nets.summary(module, input_shape, trace_field=False)
        field = receptive_field(module, input_shape).size
        rows.append(
            dict(
                name=name,
                field=field[0],
                channels=s.out_shape[0],
                params=s.params,
                mult_adds=s.mult_adds,
            )  # fmt: skip
        )
    return rows


def per_class(data, n_train=300, n_test=100):
    """The first ``n_train`` training and ``n_test`` test examples of each class of ``data`` (a
    :class:`~dlbook.data.Split`), so that CIFAR-10 trains as quickly as the photo patches."""
    keep = []
    for y, n in ((data.y_train, n_train), (data.y_test, n_test)):
        y = np.asarray(y)
        keep.append(np.sort(np.concatenate([np.flatnonzero(y == c)[:n] for c in np.unique(y)])))
    tr, te = keep
    return type(data)(data.x_train[tr], data.y_train[tr], data.x_test[te], data.y_test[te],
                      data.name)  # fmt: skip


MAKERS = {"inception": nets.inception_small, "plain": nets.plain_cnn_small}


def train_pair(data, seeds=(0,), epochs=6, lr=3e-3, batch_size=64, width=16, flip=0.5, device=None):
    """Train :func:`~dlbook.nets.inception_small` and :func:`~dlbook.nets.plain_cnn_small`
    (``width``) with :func:`dlbook.train.fit` on ``data``, once per seed: Adam with a cosine
    learning-rate decay from ``lr`` to 0, and left-right flips of probability ``flip``. Runs with
    the same seed see the same batches. The networks are tiny, so they train on one CPU thread:
    a second thread costs more in synchronisation than it saves.

    Returns one dict per run: ``kind``, ``seed``, ``history``, ``model``, ``params``,
    ``mult_adds`` (per image) and ``cpu_seconds`` (process time of the training).
    """
    from dlbook.train import fit, seed_everything

    shape = tuple(data.x_train.shape[1:])
    rows = []
    for seed in seeds:
        for kind, make in MAKERS.items():
            seed_everything(seed)
            model = make(num_classes=int(data.y_train.max()) + 1, width=width)
            s = nets.summary(model, shape, trace_field=False)
            start = time.process_time()
            opt, step = _adam_cosine(lr, epochs)
            augment = Augment(flip=flip, seed=seed) if flip else None
            with one_thread(torch=True):
                history = fit(model, data, epochs=epochs, batch_size=batch_size, device=device,
                              seed=seed, optimizer=opt, callback=step, augment=augment,
                              eval_train=False)  # fmt: skip
            rows.append(
                dict(
                    kind=kind,
                    seed=seed,
                    history=history,
                    model=model,
                    params=s.params,
                    mult_adds=s.mult_adds,
                    cpu_seconds=time.process_time() - start,
                )  # fmt: skip
            )
    return rows


def _adam_cosine(lr, epochs):
    """An optimizer factory for :func:`dlbook.train.fit` (Adam at ``lr``) and a callback that
    steps a cosine decay to 0 over ``epochs`` after every epoch."""
    held = {}

    def make(params):
        opt = torch.optim.Adam(params, lr=lr)
        held["schedule"] = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
        return opt

    return make, lambda epoch, model: held["schedule"].step()


def summarize_pair(rows):
    """Per kind: ``seeds``, final ``test_acc`` and ``train_acc`` (%, one per seed), their
    ``mean``, ``params``, ``mult_adds`` and ``cpu_seconds`` (mean); and ``gap``, the paired
    difference inception − plain in test accuracy (points, one per seed)."""
    out = {}
    for kind in MAKERS:
        runs = sorted((r for r in rows if r["kind"] == kind), key=lambda r: r["seed"])
        if not runs:
            raise ValueError(f"rows: no {kind} runs")
        acc = np.array([100 * r["history"].final["test_acc"] for r in runs])
        out[kind] = dict(
            seeds=[r["seed"] for r in runs],
            test_acc=acc,
            train_acc=np.array([100 * r["history"].final["train_acc"] for r in runs]),
            mean=float(acc.mean()),
            params=runs[0]["params"],
            mult_adds=runs[0]["mult_adds"],
            cpu_seconds=float(np.mean([r["cpu_seconds"] for r in runs])),
        )
    if out["inception"]["seeds"] != out["plain"]["seeds"]:
        raise ValueError("rows: the two kinds were run with different seeds")
    out["gap"] = out["inception"]["test_acc"] - out["plain"]["test_acc"]
    return out


def _bottleneck_cost(in_channels, out_channels, mid, kernel_size, height, width):
    """The reference: read off :func:`dlbook.nets.summary` of the real module."""
    s = nets.summary(
        nets.bottleneck_conv(in_channels, out_channels, mid, kernel_size),
        (in_channels, height, width),
        trace_field=False,
    )
    return s.params, s.mult_adds


def check_bottleneck_cost(fn) -> Report:
    """Check the reader's ``fn(in_channels, out_channels, mid, kernel_size, height, width)``,
    which returns ``(params, mult_adds)`` of :func:`~dlbook.nets.bottleneck_conv` (no biases)
    on one ``height`` × ``width`` image; the reference counts them on the real module with
    :func:`dlbook.nets.summary`."""
    cases = [Case((256, 256, 64, 3, 14, 14), label="ResNet's 256 → 64 → 256")]
    for k, label in ((1, "different in and out widths"), (2, "a 5×5 middle, not square")):
        rng = np.random.default_rng(k)
        c_in, c_out, mid = (int(v) for v in rng.integers(4, 40, 3))
        h, w = int(rng.integers(3, 9)), int(rng.integers(10, 16))
        cases.append(Case((c_in, c_out, mid, 2 * k + 1, h, w), label=label))
    cases.append(Case((192, 192, 192, 3, 7, 7), label="no reduction: mid = in_channels"))
    return check(
        fn,
        _bottleneck_cost,
        cases,
        name="bottleneck cost",
        outputs=("params", "mult_adds"),
        atol=0,
        rtol=0,
    )
