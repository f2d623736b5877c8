"""The optimizers chapter's experiments: loss surfaces, trajectories, weight decay, a small CNN.

* :class:`Surface`, :func:`rosenbrock` and :func:`quadratic`: 2-D losses with analytic gradients,
  written so that the same function evaluates NumPy arrays, grids and torch tensors.
* :func:`optimizer_by_name` builds one of :data:`OPTIMIZERS` from :mod:`dlbook.scratch.optim` or
  from ``torch.optim``; :func:`trajectory` moves a 2-element parameter with a scratch optimizer,
  :func:`torch_trajectory` does the same with autograd and ``torch.optim``; :func:`tune_lr`
  picks each optimizer's learning rate from a grid.
* :func:`match_torch`: 25 steps of every scratch optimizer against its ``torch.optim`` namesake.
* :func:`momentum_rate` and :func:`heavy_ball_optimum`: SGD with momentum on a quadratic, in
  closed form.
* :func:`decay_demo`: weight decay in Adam (an L2 term in the loss) against AdamW (decoupled).
* :func:`make_cnn` and :func:`compare_on_digits`: every optimizer on the same small digits CNN.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dlbook import seeding
from dlbook.exercise import Case, Report, check
from dlbook.scratch import optim as scratch_optim

__all__ = [
    "OPTIMIZERS",
    "LR_GRID",
    "ROSENBROCK_LRS",
    "QUADRATIC_LRS",
    "CNN_SETTINGS",
    "CNN_GRID",
    "Surface",
    "rosenbrock",
    "quadratic",
    "optimizer_by_name",
    "trajectory",
    "paths",
    "torch_trajectory",
    "tune_lr",
    "match_torch",
    "momentum_rate",
    "heavy_ball_optimum",
    "decay_demo",
    "make_cnn",
    "compare_on_digits",
    "lr_sweep",
    "neighbour_grid",
    "check_adam_step",
]

# name -> (scratch class name, the settings that make it this optimizer); torch's class has the
# same name, so one table serves both.
_KINDS = {
    "SGD": ("SGD", {}),
    "Momentum": ("SGD", {"momentum": 0.9}),
    "Nesterov": ("SGD", {"momentum": 0.9, "nesterov": True}),
    "AdaGrad": ("Adagrad", {}),
    "RMSprop": ("RMSprop", {}),
    "Adam": ("Adam", {}),
    "AdamW": ("AdamW", {"weight_decay": 0.01}),
}
OPTIMIZERS = tuple(_KINDS)
LR_GRID = tuple(float(f"{m}e{e}") for e in range(-5, 1) for m in (1, 3))  # 1e-5, 3e-5, ..., 3
# Learning rates for the 2-D paths. The SGD family uses about 1 / (largest curvature): the
# Rosenbrock valley's Hessian at the minimum has eigenvalues ~1000 and ~0.4, the quadratic's are
# 100 and 1. An adaptive method's lr is roughly a distance per step, whatever the curvature, so
# theirs are the same on both surfaces.
_ADAPTIVE_LRS = {"AdaGrad": 0.3, "RMSprop": 0.01, "Adam": 0.1, "AdamW": 0.1}
ROSENBROCK_LRS = {"SGD": 1e-3, "Momentum": 1e-3, "Nesterov": 1e-3, **_ADAPTIVE_LRS}
QUADRATIC_LRS = {"SGD": 1e-2, "Momentum": 1e-2, "Nesterov": 1e-2, **_ADAPTIVE_LRS}
# The digits CNN: each optimizer's learning rate is the best of CNN_GRID by validation accuracy
# after 8 epochs (lr_sweep with its defaults, run once offline: 42 trainings).
CNN_GRID = {
    **dict.fromkeys(("SGD", "Momentum", "Nesterov", "AdaGrad"), (3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0)),
    **dict.fromkeys(("RMSprop", "Adam", "AdamW"), (3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1)),
}
CNN_SETTINGS = {
    "SGD": dict(lr=0.3),
    "Momentum": dict(lr=0.03),
    "Nesterov": dict(lr=0.1),
    "AdaGrad": dict(lr=0.03),
    "RMSprop": dict(lr=3e-3),
    "Adam": dict(lr=3e-2),
    "AdamW": dict(lr=1e-2, weight_decay=0.01),
}


@dataclass(frozen=True)
class Surface:
    """A loss on the plane. ``f(p)`` takes ``p = (x, y)``: a 2-vector, a ``(2, ...)`` grid or a
    torch tensor; ``grad(p)`` is its analytic gradient, a NumPy ``(2,)`` array."""

    name: str
    f: Callable
    grad: Callable
    minimum: tuple[float, float]
    start: tuple[float, float]
    xlim: tuple[float, float]
    ylim: tuple[float, float]


def rosenbrock(a: float = 1.0, b: float = 100.0) -> Surface:
    r""":math:`f(x, y) = (a - x)^2 + b\,(y - x^2)^2`: a curved, flat-bottomed valley with its
    minimum 0 at :math:`(a, a^2)`, started from the classic :math:`(-1.2, 1)`."""

    def f(p):
        return (a - p[0]) ** 2 + b * (p[1] - p[0] ** 2) ** 2

    def grad(p):
        x, y = p
        return np.array([-2 * (a - x) - 4 * b * x * (y - x * x), 2 * b * (y - x * x)])

    return Surface("Rosenbrock", f, grad, (a, a * a), (-1.2, 1.0), (-1.6, 1.6), (-0.6, 1.6))


def quadratic(curvatures=(1.0, 100.0), angle: float = 0.0) -> Surface:
    r""":math:`f(p) = \tfrac12 p^\top H p` with :math:`H = R\,\mathrm{diag}(h)\,R^\top`, the
    curvatures ``h`` along axes rotated by ``angle`` degrees; minimum 0 at the origin, start
    :math:`(-4, 1.5)` in the rotated axes. The condition number :math:`h_\max / h_\min` says
    how ill-conditioned it is."""
    h0, h1 = (float(h) for h in curvatures)
    if not (h0 > 0 and h1 > 0):
        raise ValueError(f"curvatures must be two positive numbers, got {curvatures!r}")
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    hess = np.array([[c, -s], [s, c]]) @ np.diag([h0, h1]) @ np.array([[c, s], [-s, c]])

    def f(p):
        u, v = c * p[0] + s * p[1], -s * p[0] + c * p[1]
        return 0.5 * (h0 * u**2 + h1 * v**2)

    def grad(p):
        return hess @ np.asarray(p)

    # The start (-4, 1.5) and the window [-4.5, 1.5] x [-2, 2], in the bowl's own axes, turn
    # with it: a rotation-invariant optimizer (the SGD family) sees the same problem at any angle.
    def turn(u, v):
        return c * u - s * v, s * u + c * v

    corners = np.array([turn(u, v) for u in (-4.5, 1.5) for v in (-2.0, 2.0)])
    window = [(float(lo), float(hi)) for lo, hi in zip(corners.min(0), corners.max(0))]
    name = f"quadratic (condition {max(h0, h1) / min(h0, h1):g})"
    return Surface(name, f, grad, (0.0, 0.0), turn(-4.0, 1.5), *window)


def optimizer_by_name(name: str, params, lr: float, use_torch: bool = False, **overrides):
    """One of :data:`OPTIMIZERS` ("SGD", "Momentum" = SGD with momentum 0.9, "Nesterov",
    "AdaGrad", "RMSprop", "Adam", "AdamW" with weight decay 0.01) over ``params``: NumPy arrays
    for :mod:`dlbook.scratch.optim`, or tensors with ``use_torch=True`` for ``torch.optim``.
    ``overrides`` replace or add torch-named arguments (``momentum=0.5``, ``betas=...``)."""
    if name not in _KINDS:
        raise ValueError(f"name must be one of {OPTIMIZERS}, got {name!r}")
    cls_name, settings = _KINDS[name]
    if use_torch:
        import torch

        cls = getattr(torch.optim, cls_name)
    else:
        cls = getattr(scratch_optim, cls_name)
    return cls(params, lr=lr, **{**settings, **overrides})


def trajectory(surface: Surface, name: str, lr: float, steps: int, start=None, **overrides):
    """The points ``(steps + 1, 2)`` that a scratch optimizer visits on ``surface`` from
    ``start`` (default ``surface.start``), in float64. A run that blows up (non-finite, or
    beyond 1e6) stops there: the remaining rows are NaN."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be an int >= 0, got {steps!r}")
    p = np.array(surface.start if start is None else start, dtype=np.float64)
    if p.shape != (2,):
        raise ValueError(f"start must be a point (x, y), got shape {p.shape}")
    opt = optimizer_by_name(name, [p], lr, **overrides)
    path = np.full((steps + 1, 2), np.nan)
    path[0] = p
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(1, steps + 1):
            opt.step([surface.grad(p)])
            if not (np.all(np.isfinite(p)) and np.abs(p).max() < 1e6):
                break
            path[t] = p
    return path


def torch_trajectory(surface, name, lr, steps, device=None, dtype=None, **overrides):
    """:func:`trajectory` in PyTorch: autograd differentiates ``surface.f`` and ``torch.optim``
    steps, on ``device``. Returns a ``(steps + 1, 2)`` tensor on that device."""
    import torch

    from dlbook.train import train_steps

    device = torch.device("cpu") if device is None else torch.device(device)
    dtype = torch.float64 if dtype is None else dtype
    p = torch.tensor(surface.start, dtype=dtype, device=device, requires_grad=True)
    opt = optimizer_by_name(name, [p], lr, use_torch=True, **overrides)
    path = [p.detach().clone()]
    for _ in train_steps(lambda _: surface.f(p), opt, range(steps)):
        path.append(p.detach().clone())
    return torch.stack(path)


def paths(surface: Surface, lrs: dict, steps: int) -> dict:
    """``{name: (lr, trajectory)}`` for every optimizer in ``lrs`` (``{name: lr}``), all from
    ``surface.start``."""
    return {name: (lr, trajectory(surface, name, lr, steps)) for name, lr in lrs.items()}


def final_loss(surface: Surface, path: np.ndarray) -> float:
    """The loss at the path's last point; ``inf`` for a run that blew up."""
    return float(surface.f(path[-1])) if np.all(np.isfinite(path[-1])) else math.inf


def tune_lr(surface: Surface, name: str, steps: int, lrs=LR_GRID) -> tuple[float, dict]:
    """The learning rate from ``lrs`` whose run ends with the lowest loss, and every run's final
    loss ``{lr: loss}`` (``inf`` for a run that blew up)."""
    losses = {lr: final_loss(surface, trajectory(surface, name, lr, steps)) for lr in lrs}
    return min(losses, key=losses.get), losses


# Every option of every scratch optimizer that the chapter uses, with weight decay on, for
# :func:`match_torch`.
VERIFY_SETTINGS = {
    "SGD": dict(lr=0.1, weight_decay=0.01),
    "Momentum": dict(lr=0.05, dampening=0.1, weight_decay=0.01),
    "Nesterov": dict(lr=0.05, weight_decay=0.01),
    "AdaGrad": dict(lr=0.1, lr_decay=0.01, weight_decay=0.01),
    "RMSprop": dict(lr=0.01, weight_decay=0.01),
    "Adam": dict(lr=0.01, weight_decay=0.01),
    "AdamW": dict(lr=0.01, weight_decay=0.1),
}


def match_torch(dtype=np.float64, steps: int = 25, tol: float = 1e-10, seed: int = 0):
    """Run every scratch optimizer and its ``torch.optim`` namesake (:data:`VERIFY_SETTINGS`)
    from the same parameters, a ``(4, 3)`` weight and a ``(3,)`` bias, on the same ``steps``
    random gradients. Returns a :class:`dlbook.verify.Verdict`: per optimizer, the largest
    difference between the parameters over all steps, judged against ``tol``."""
    import torch

    from dlbook.verify import Verdict

    result = Verdict(tol=tol)
    for name, settings in VERIFY_SETTINGS.items():
        rng = seeding.rng(seed)
        ours = [rng.standard_normal(s).astype(dtype) for s in ((4, 3), (3,))]
        theirs = [torch.tensor(p, requires_grad=True) for p in ours]
        opt = optimizer_by_name(name, ours, **settings)
        opt_torch = optimizer_by_name(name, theirs, use_torch=True, **settings)
        worst = 0.0
        for _ in range(steps):
            grads = [rng.standard_normal(p.shape).astype(dtype) for p in ours]
            for t, g in zip(theirs, grads):
                t.grad = torch.tensor(g)
            opt.step(grads)
            opt_torch.step()
            worst = max(
                worst, *(np.abs(p - t.detach().numpy()).max() for p, t in zip(ours, theirs))
            )
        merged = {**settings, **_KINDS[name][1], **settings}  # lr first
        label = ", ".join(f"{k}={v!r}" for k, v in merged.items())
        result.errors[f"{name} ({label})"] = float(worst)
    return result


def momentum_rate(lr: float, momentum: float, curvatures, nesterov: bool = False) -> float:
    r"""The asymptotic factor by which SGD with momentum (torch's form, no dampening) shrinks the
    distance to the minimum per step on a quadratic with Hessian eigenvalues ``curvatures``.

    Along an eigenvector with curvature :math:`h`, with :math:`a = \gamma h`, the iteration is
    linear and its characteristic roots solve :math:`z^2 - (1 + \mu - a) z + \mu = 0` (heavy
    ball), or :math:`z^2 - (1 + \mu)(1 - a) z + \mu (1 - a) = 0` (Nesterov). The rate is the
    largest :math:`|z|` over all curvatures: below 1 the run converges, above 1 it diverges.
    ``momentum=0`` gives plain SGD's :math:`\max |1 - \gamma h|`."""
    rate = 0.0
    for h in curvatures:
        a = lr * h
        if nesterov:
            coefficients = [1.0, -(1.0 + momentum) * (1.0 - a), momentum * (1.0 - a)]
        else:
            coefficients = [1.0, -(1.0 + momentum - a), momentum]
        rate = max(rate, float(np.abs(np.roots(coefficients)).max()))
    return rate


def heavy_ball_optimum(curvatures) -> tuple[float, float, float]:
    r"""Polyak's best constant settings for SGD with momentum on a quadratic whose curvatures lie
    in :math:`[m, L]`: :math:`\gamma^* = 4 / (\sqrt L + \sqrt m)^2`, :math:`\mu^* = \big((\sqrt
    \kappa - 1) / (\sqrt\kappa + 1)\big)^2` with :math:`\kappa = L/m`, and the rate they reach,
    :math:`(\sqrt\kappa - 1) / (\sqrt\kappa + 1)`. Returns ``(lr, momentum, rate)``."""
    m, big = min(curvatures), max(curvatures)
    if not m > 0:
        raise ValueError(f"curvatures must be positive, got {curvatures!r}")
    root = math.sqrt(big / m)
    rate = (root - 1) / (root + 1)
    return 4 / (math.sqrt(big) + math.sqrt(m)) ** 2, rate**2, rate


DECAY_METHODS = (
    "SGD, L2 in the loss",
    "SGD, decoupled",
    "Adam, L2 in the loss",
    "AdamW, decoupled",
)


def decay_demo(steps=300, lr=0.01, weight_decay=0.1, noise=(10.0, 1.0, 0.01), runs=200, seed=0):
    r"""Weights whose loss gradient is pure zero-mean noise of scale ``noise[i]``, all starting
    at 1, trained with weight decay four ways (:data:`DECAY_METHODS`): SGD and Adam with
    ``weight_decay`` (torch's meaning there: an L2 term, :math:`\lambda\theta` added to the
    gradient), SGD with the weights shrunk by :math:`1 - \gamma\lambda` before each plain step,
    and AdamW (decoupled decay). ``runs`` noise sequences run at once, as rows of one array; half
    of them are the other half negated (antithetic pairs), so that the noise cancels in the mean.

    Returns ``{method: mean weight over the runs, (steps + 1, len(noise))}``.
    """
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 2 or runs % 2:
        raise ValueError(f"runs must be an even int >= 2, got {runs!r}")
    rng = seeding.rng(seed)
    half = rng.standard_normal((steps, runs // 2, len(noise))) * np.asarray(noise, dtype=float)
    grads = np.concatenate([half, -half], axis=1)
    out = {}
    for method in DECAY_METHODS:
        w = np.ones((runs, len(noise)))
        name = method.split(",")[0]
        decoupled_sgd = method == "SGD, decoupled"
        decay = 0.0 if decoupled_sgd else weight_decay
        opt = optimizer_by_name(name, [w], lr, weight_decay=decay)
        means = [w.mean(0)]
        for g in grads:
            if decoupled_sgd:
                w *= 1 - lr * weight_decay
            opt.step([g])
            means.append(w.mean(0))
        out[method] = np.array(means)
    return out


def make_cnn(width: int = 8):
    """A small CNN for the 8×8 digits: ``(N,1,8,8)`` → conv 3×3 (``width``) → ReLU → max-pool 2
    → conv 3×3 (``2 width``) → ReLU → max-pool 2 → linear → 10 scores. No normalization, so
    the optimizer alone has to cope with the layers' different scales."""
    from torch import nn

    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError(f"width must be a positive int, got {width!r}")
    return nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(width, 2 * width, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(2 * width * 4, 10),
    )


def compare_on_digits(
    data, settings=None, seeds=(0,), epochs=8, batch_size=32, width=8, device=None, **fit_kwargs
) -> dict:
    """Train :func:`make_cnn` with each optimizer in ``settings`` (``{name: torch-named
    arguments}``, default :data:`CNN_SETTINGS`) for each seed, with :func:`dlbook.train.fit`:
    for one seed, every optimizer starts from the same weights and sees the same batches.
    Returns ``{name: [History per seed]}``. ``eval_train=False``: the training loss is the
    running mean over each epoch's batches."""
    from dlbook.train import fit, seed_everything

    settings = CNN_SETTINGS if settings is None else settings
    histories = {name: [] for name in settings}
    for name, kwargs in settings.items():
        for seed in seeds:
            seed_everything(seed)  # the same initial weights for every optimizer
            model = make_cnn(width)

            def build(params, name=name, kwargs=kwargs):
                return optimizer_by_name(name, params, use_torch=True, **kwargs)

            kw = dict(batch_size=batch_size, device=device, seed=seed, eval_train=False)
            histories[name].append(fit(model, data, epochs, optimizer=build, **kw, **fit_kwargs))
    return histories


def lr_sweep(data, grid=None, settings=None, val_fraction=0.2, **kwargs):
    """Each optimizer at each learning rate of ``grid`` (``{name: lrs}``, default
    :data:`CNN_GRID`), its other arguments from ``settings`` (default :data:`CNN_SETTINGS`),
    trained on the training set less a validation split of ``val_fraction``: the test set plays
    no part in the choice. Returns ``{name: {lr: final validation accuracy}}``; ``kwargs`` go
    to :func:`compare_on_digits`."""
    grid = CNN_GRID if grid is None else grid
    settings = CNN_SETTINGS if settings is None else settings
    table = {}
    for name, lrs in grid.items():
        table[name] = {}
        for lr in lrs:
            runs = compare_on_digits(
                data, {name: {**settings[name], "lr": lr}}, val_fraction=val_fraction, **kwargs
            )
            table[name][lr] = runs[name][0].final["val_acc"]
    return table


def neighbour_grid(grid=None, settings=None) -> dict:
    """Each optimizer's chosen learning rate (``settings``, default :data:`CNN_SETTINGS`) with
    its neighbours in ``grid`` (default :data:`CNN_GRID`): ``{name: (one step down, chosen, one
    step up)}``, fewer where the chosen rate is at an end of its grid. A cheap re-check of the
    choice with :func:`lr_sweep`: 3 trainings per optimizer instead of the grid's 6."""
    grid = CNN_GRID if grid is None else grid
    settings = CNN_SETTINGS if settings is None else settings
    out = {}
    for name, lrs in grid.items():
        lrs = tuple(lrs)
        chosen = settings[name]["lr"]
        if chosen not in lrs:
            raise ValueError(f"{name}'s chosen lr {chosen!r} is not in its grid {lrs!r}")
        i = lrs.index(chosen)
        out[name] = lrs[max(i - 1, 0) : i + 2]
    return out


# --- the write-it-yourself exercise: one step of Adam ---------------------------------------------


def check_adam_step(fn) -> Report:
    """Hold the reader's ``fn(param, grad, exp_avg, exp_avg_sq, step, lr=1e-3, betas=(0.9,
    0.999), eps=1e-8)``, one Adam update returning new arrays ``(param, exp_avg, exp_avg_sq)``,
    to :class:`dlbook.scratch.optim.Adam`, and say in words what is wrong.

    ``step`` is the number of this step, 1 for the first. The cases catch the usual mistakes:
    no bias correction (or one with ``step - 1``); ``g`` where ``g**2`` belongs; ``eps`` inside the
    square root or before the bias correction (a case with gradients of 1e-9 shows it); the
    moments returned un-updated; one learning rate or beta ignored.

    Shapes:
        fn: (param, grad, exp_avg, exp_avg_sq: arrays of one shape, step an int >= 1, ...)
            -> (param, exp_avg, exp_avg_sq) of that shape; returns a Report
    Formula:
        m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
        param = param - lr / (1 - b1^t) m / (sqrt(v) / sqrt(1 - b2^t) + eps)
    Torch:
        torch.optim.Adam (one step from the given state)
    """
    rng = np.random.default_rng(23)  # fixed, not DLBOOK_SEED: one report everywhere

    def state(shape, step, g_scale=1.0):
        param, grad = rng.standard_normal(shape), g_scale * rng.standard_normal(shape)
        if step == 1:
            return param, grad, np.zeros(shape), np.zeros(shape), step
        return (param, grad, g_scale * rng.standard_normal(shape) * 0.3,
                g_scale**2 * rng.uniform(0.1, 1.0, shape), step)  # fmt: skip

    cases = [
        Case(state((3, 4), 1), {}, "the first step"),
        Case(state((5,), 7), {}, "step 7"),
        Case(state((2, 3), 3), dict(lr=0.1, betas=(0.8, 0.99)), "lr 0.1, betas (0.8, 0.99)"),
        Case(state((4,), 2, g_scale=1e-9), dict(eps=1e-8), "gradients of 1e-9: where eps sits"),
    ]

    def reference(param, grad, exp_avg, exp_avg_sq, step, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        opt = scratch_optim.Adam([param.copy()], lr=lr, betas=betas, eps=eps)
        opt.state[0] = {"step": step - 1, "exp_avg": exp_avg.copy(),
                        "exp_avg_sq": exp_avg_sq.copy()}  # fmt: skip
        opt.step([grad])
        return opt.params[0], opt.state[0]["exp_avg"], opt.state[0]["exp_avg_sq"]

    def torch_twin(param, grad, exp_avg, exp_avg_sq, step, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        import torch

        p = torch.tensor(param, requires_grad=True)
        opt = torch.optim.Adam([p], lr=lr, betas=betas, eps=eps)
        opt.state[p] = {
            "step": torch.tensor(float(step - 1)),
            "exp_avg": torch.tensor(exp_avg),
            "exp_avg_sq": torch.tensor(exp_avg_sq),
        }
        p.grad = torch.tensor(grad)
        opt.step()
        s = opt.state[p]
        return p.detach().numpy(), s["exp_avg"].numpy(), s["exp_avg_sq"].numpy()

    return check(fn, reference, cases, name="adam_step",
                 outputs=("param", "exp_avg", "exp_avg_sq"), torch_twin=torch_twin,
                 atol=1e-12, rtol=1e-9)  # fmt: skip
