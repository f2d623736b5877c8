"""The learning-rate schedules chapter's experiments: the same schedules built from
:mod:`dlbook.scratch.lr_scheduler` and from ``torch.optim.lr_scheduler``, and their effect on a
small CNN.

* :data:`SCHEDULES` and :func:`scratch_scheduler` / :func:`torch_scheduler`: one schedule of
  ``total_steps`` steps by name (constant, step, exponential, cosine, warm-up + cosine,
  one-cycle), built on a scratch optimizer or a torch one with the same arguments;
  :func:`scratch_rates` / :func:`torch_rates` step them and record every step's rate.
* :func:`train_scheduled`: trains a model with a torch optimizer whose rate a schedule sets
  after every batch; :func:`compare_schedules` does it for several schedules and seeds.
* :func:`overfit_by_rate`: does a larger rate shrink the gap between training and test accuracy
  of a network that overfits a small training set?
* :func:`check_warmup_cosine`: the checker of the chapter's exercise.
"""

from __future__ import annotations

import math

import numpy as np

from dlbook import seeding
from dlbook.exercise import Case, check
from dlbook.scratch import lr_scheduler as sl
from dlbook.scratch import optim as so

__all__ = [
    "SCHEDULES",
    "OTHER_SCHEDULES",
    "build_scheduler",
    "scratch_scheduler",
    "torch_scheduler",
    "scratch_rates",
    "torch_rates",
    "warmup_cosine_lr",
    "train_scheduled",
    "compare_schedules",
    "summarize",
    "overfit_by_rate",
    "check_warmup_cosine",
]

SCHEDULES = ("constant", "step", "exponential", "cosine", "warm-up + cosine", "one-cycle")
"""The schedules of the chapter, each over ``total_steps`` steps from a base rate ``lr``:
``step`` divides the rate by 10 at half and at three quarters of the run; ``exponential``
multiplies it by ``0.01 ** (1 / total_steps)`` every step (down to lr / 100); ``cosine`` anneals
it to 0; ``warm-up + cosine`` climbs linearly from lr / 100 in the first ``warmup`` steps, then
anneals; ``one-cycle`` is torch's default 1cycle with ``max_lr = lr``."""

OTHER_SCHEDULES = ("warm-up",)
"""Schedules the builders also know, for the exercises: ``warm-up`` is the linear warm-up of
``warm-up + cosine`` followed by a constant rate."""


def _args(name, total_steps, warmup):
    if name not in SCHEDULES + OTHER_SCHEDULES:
        raise ValueError(f"name must be one of {SCHEDULES + OTHER_SCHEDULES}, got {name!r}")
    if isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps < 4:
        raise ValueError(f"total_steps must be an int >= 4, got {total_steps!r}")
    if warmup is None:
        warmup = max(1, total_steps // 10)
    if not 1 <= warmup < total_steps:
        raise ValueError(f"warmup must be in [1, total_steps), got {warmup!r}")
    return warmup


def build_scheduler(lib, opt, name, total_steps, warmup=None):
    """The schedule ``name`` (one of :data:`SCHEDULES`) of ``total_steps`` steps on ``opt``,
    from ``lib``: :mod:`dlbook.scratch.lr_scheduler` with a scratch optimizer, or
    ``torch.optim.lr_scheduler`` with a torch one. Both take the same arguments, so one function
    builds either; ``warmup`` (default a tenth of the steps) is the warm-up's length."""
    warmup = _args(name, total_steps, warmup)
    T = total_steps
    if name == "constant":
        return lib.LambdaLR(opt, lambda t: 1.0)
    if name == "step":
        return lib.MultiStepLR(opt, milestones=[T // 2, 3 * T // 4], gamma=0.1)
    if name == "exponential":
        return lib.ExponentialLR(opt, gamma=0.01 ** (1 / T))
    if name == "cosine":
        return lib.CosineAnnealingLR(opt, T_max=T)
    if name == "warm-up":
        return lib.LinearLR(opt, start_factor=0.01, end_factor=1.0, total_iters=warmup)
    if name == "warm-up + cosine":
        up = lib.LinearLR(opt, start_factor=0.01, end_factor=1.0, total_iters=warmup)
        down = lib.CosineAnnealingLR(opt, T_max=T - warmup)
        return lib.SequentialLR(opt, [up, down], milestones=[warmup])
    lr = opt.lr if hasattr(opt, "lr") else opt.param_groups[0]["lr"]  # scratch or torch
    return lib.OneCycleLR(opt, max_lr=lr, total_steps=T)


def scratch_scheduler(opt, name, total_steps, warmup=None):
    """The schedule ``name`` (one of :data:`SCHEDULES`) of ``total_steps`` steps on a
    :mod:`dlbook.scratch.optim` optimizer, from :mod:`dlbook.scratch.lr_scheduler`;
    ``warmup`` (default a tenth of the steps) is the warm-up's length."""
    return build_scheduler(sl, opt, name, total_steps, warmup)


def torch_scheduler(opt, name, total_steps, warmup=None):
    """:func:`scratch_scheduler`'s twin on a ``torch.optim`` optimizer, from
    ``torch.optim.lr_scheduler`` with the same arguments."""
    import torch

    return build_scheduler(torch.optim.lr_scheduler, opt, name, total_steps, warmup)


def scratch_rates(name, total_steps, lr=0.1, momentum=0.9, warmup=None):
    """Every step's rate (and momentum) of :func:`scratch_scheduler`'s schedule, driving a
    scratch ``SGD(lr, momentum)`` on one weight for ``total_steps`` steps. Returns a dict of
    float64 arrays of ``total_steps + 1`` values: ``lr`` and ``momentum``."""
    opt = so.SGD([np.zeros(1)], lr=lr, momentum=momentum)
    sched = scratch_scheduler(opt, name, total_steps, warmup)
    lrs, moms = [opt.lr], [opt.momentum]
    for _ in range(total_steps):
        opt.step([np.ones(1)])
        sched.step()
        lrs.append(sched.get_last_lr()[0])
        moms.append(opt.momentum)
    return dict(lr=np.array(lrs), momentum=np.array(moms))


def torch_rates(name, total_steps, lr=0.1, momentum=0.9, warmup=None):
    """:func:`scratch_rates` with ``torch.optim.SGD`` and :func:`torch_scheduler`."""
    import torch

    w = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([w], lr=lr, momentum=momentum)
    sched = torch_scheduler(opt, name, total_steps, warmup)
    group = opt.param_groups[0]
    lrs, moms = [group["lr"]], [group["momentum"]]
    for _ in range(total_steps):
        w.grad = torch.ones(1)
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr()[0])
        moms.append(group["momentum"])
    return dict(lr=np.array(lrs, dtype=np.float64), momentum=np.array(moms, dtype=np.float64))


def warmup_cosine_lr(step, lr, total_steps, warmup, start_factor=0.01):
    """The warm-up + cosine schedule's rate at ``step``, in closed form: a line from
    ``start_factor * lr`` to ``lr`` over ``warmup`` steps, then a cosine down to 0 at
    ``total_steps``.

    Shapes:
        step: an int in [0, total_steps]; returns: a float
    Formula:
        lr (f + (1 - f) t / W) for t < W; lr (1 + cos(pi (t - W) / (T - W))) / 2 after
    Torch:
        SequentialLR(LinearLR(start_factor=f, total_iters=W), CosineAnnealingLR(T_max=T - W),
        milestones=[W])
    """
    if step < warmup:
        return lr * (start_factor + (1 - start_factor) * step / warmup)
    return lr * (1 + math.cos(math.pi * (step - warmup) / (total_steps - warmup))) / 2


def train_scheduled(model_fn, data, schedule, lr, epochs=6, batch_size=64, optimizer="adam",
                    warmup=None, seed=0, device=None, every_epoch=True):  # fmt: skip
    """Train ``model_fn()`` on ``data`` with cross-entropy and a ``torch.optim`` optimizer
    (:func:`dlbook.train.make_optimizer`'s names) whose rate :func:`torch_scheduler`'s
    ``schedule`` sets after every batch, over ``epochs`` passes in batches of ``batch_size``.

    Returns a dict: ``lrs`` (the rate of every step), ``losses`` (every batch's loss),
    ``train_loss``, ``train_acc``, ``test_acc`` (one per epoch, evaluated after it; with
    ``every_epoch=False`` after the last epoch only) and ``model``. The same ``seed`` gives
    the same initial weights and batches to every schedule.
    """
    import torch.nn.functional as F

    from dlbook.devices import resolve
    from dlbook.train import (
        as_tensors,
        evaluate,
        make_optimizer,
        seed_everything,
        shuffled_batches,
        train_steps,
    )

    device = resolve(device)
    seed_everything(seed)
    model = model_fn().to(device)
    opt = make_optimizer(optimizer, model.parameters(), lr)
    n = len(data.x_train)
    total = epochs * math.ceil(n / batch_size)
    sched = torch_scheduler(opt, schedule, total, warmup)
    x, y = as_tensors(data.x_train, data.y_train, device)
    generator = seeding.generator(seed)
    out = dict(lrs=[], losses=[], train_loss=[], train_acc=[], test_acc=[])

    def batch_loss(idx):
        return F.cross_entropy(model(x[idx]), y[idx])

    for epoch in range(epochs):
        model.train()
        batches = shuffled_batches(n, batch_size, generator, device)
        for loss, _ in train_steps(batch_loss, opt, batches):
            out["lrs"].append(opt.param_groups[0]["lr"])
            out["losses"].append(loss.item())
            sched.step()
        if not every_epoch and epoch < epochs - 1:
            continue
        train_loss, train_acc = evaluate(model, data.x_train, data.y_train, device)
        out["train_loss"].append(train_loss)
        out["train_acc"].append(train_acc)
        out["test_acc"].append(evaluate(model, data.x_test, data.y_test, device)[1])
    result = {k: np.array(v, dtype=np.float64) for k, v in out.items()}
    result["model"] = model
    return result


def compare_schedules(model_fn, data, lr, schedules=SCHEDULES, seeds=(0, 1, 2), **kwargs):
    """:func:`train_scheduled` for every schedule and seed (``seeds`` are moved by
    ``DLBOOK_SEED``). Returns ``{schedule: [run per seed]}``, the runs without their model."""
    runs = {}
    for name in schedules:
        runs[name] = []
        for s in seeds:
            r = train_scheduled(model_fn, data, name, lr, seed=seeding.seed(s), **kwargs)
            r.pop("model")
            runs[name].append(r)
    return runs


def summarize(runs):
    """Per schedule of :func:`compare_schedules`' result: the final ``train_loss`` and
    ``test_acc`` (%) of every seed, as float64 arrays, and their means ``loss`` and ``acc``."""
    out = {}
    for name, rs in runs.items():
        loss = np.array([r["train_loss"][-1] for r in rs])
        acc = np.array([100 * r["test_acc"][-1] for r in rs])
        out[name] = dict(train_loss=loss, test_acc=acc, loss=float(loss.mean()),
                         acc=float(acc.mean()))  # fmt: skip
    return out


def overfit_by_rate(model_fn, data, lrs, n_train=200, epochs=30, batch_size=32,
                    optimizer="sgd", seeds=(0, 1, 2), device=None):  # fmt: skip
    """Train ``model_fn()`` at each constant rate of ``lrs`` on the first ``n_train`` training
    images only, long enough to overfit them, for every seed (moved by ``DLBOOK_SEED``).
    Returns ``{lr: array (len(seeds), 2)}``: the final training and test accuracy (%) of each
    run; their difference is the gap that overfitting opens."""
    from dlbook.data import Split

    if isinstance(n_train, bool) or not isinstance(n_train, int) or n_train < batch_size:
        raise ValueError(f"n_train must be an int >= batch_size, got {n_train!r}")
    small = Split(data.x_train[:n_train], data.y_train[:n_train], data.x_test, data.y_test)
    out = {}
    for lr in lrs:
        rows = []
        for s in seeds:
            r = train_scheduled(model_fn, small, "constant", lr, epochs, batch_size, optimizer,
                                seed=seeding.seed(s), device=device, every_epoch=False)  # fmt: skip
            rows.append((100 * r["train_acc"][-1], 100 * r["test_acc"][-1]))
        out[lr] = np.array(rows)
    return out


def check_warmup_cosine(fn):
    """Hold ``fn(step, lr, total_steps, warmup)`` to :func:`warmup_cosine_lr`: steps inside the
    warm-up, at its end, in the middle of the cosine and at the very end, with rates and lengths
    from a fixed generator."""
    rng = np.random.default_rng(16)
    cases = []
    for total, warmup in ((100, 10), (50, 5), (30, 1)):
        lr = float(rng.uniform(0.01, 1))
        for step, what in ((0, "the first step"), (warmup // 2, "inside the warm-up"),
                           (warmup, "the end of the warm-up"),
                           ((warmup + total) // 2, "the middle of the cosine"),
                           (total, "the last step")):  # fmt: skip
            cases.append(Case((step, lr, total, warmup), {}, f"{what}, T={total}, W={warmup}"))
    return check(fn, warmup_cosine_lr, cases, name="warmup_cosine_lr", outputs=("lr",),
                 torch_twin=_torch_warmup_cosine)  # fmt: skip


def _torch_warmup_cosine(step, lr, total_steps, warmup):
    return float(torch_rates("warm-up + cosine", total_steps, lr, warmup=warmup)["lr"][step])
