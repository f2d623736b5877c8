r"""The regularization chapter: penalties from scratch, and the experiments that measure them.

* Penalties in NumPy, each a forward/backward pair like :mod:`dlbook.scratch`'s losses:
  :func:`l1_penalty` :math:`\lambda\lVert w\rVert_1`, :func:`l2_penalty`
  :math:`\frac\lambda2\lVert w\rVert_2^2`, :func:`elastic_net_penalty` (their mix), and
  :func:`soft_threshold`, the proximal map of the L1 penalty.
* :func:`fit_linear`: least squares with any of them, by gradient steps of
  :class:`dlbook.scratch.optim.SGD` (the L2 part as its ``weight_decay``) and, for the L1 part,
  either a subgradient or a proximal (soft-thresholding) step.
* Capacity: :func:`poly_problem`, :func:`poly_fit`, :func:`capacity_curve`; :func:`width_sweep`
  trains MLPs of growing width with :func:`dlbook.train.fit`.
* :func:`decay_by_gradient_scale`: Adam's L2 penalty against AdamW's decoupled weight decay.
* :func:`train_scratch` and :func:`train_torch`: a softmax regression (:func:`softmax_regression`)
  trained with weight decay by a scratch or a torch optimizer, or with the decay written by hand.
* :func:`early_stopping` and :func:`augmentation`: measured with :func:`dlbook.train.fit`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlbook import seeding
from dlbook.exercise import Case, Report, check
from dlbook.scratch import cross_entropy_backward, linear, linear_backward, mse_loss_backward
from dlbook.scratch.optim import SGD, Adam, AdamW

__all__ = [
    "l1_penalty",
    "l1_penalty_backward",
    "l2_penalty",
    "l2_penalty_backward",
    "elastic_net_penalty",
    "elastic_net_penalty_backward",
    "soft_threshold",
    "sparse_problem",
    "fit_linear",
    "regularization_path",
    "ridge",
    "PolyProblem",
    "poly_problem",
    "poly_features",
    "poly_fit",
    "capacity_curve",
    "decay_by_gradient_scale",
    "softmax_regression",
    "softmax_regression_grads",
    "train_scratch",
    "train_torch",
    "subset",
    "mlp",
    "small_cnn",
    "width_sweep",
    "early_stopping",
    "augmentation",
    "logistic_l1_torch",
    "check_proximal_step",
]


# --- penalties: forward and backward side by side -----------------------------------------------


def _check_lam(lam, l1_ratio=0.0):
    if not lam >= 0:
        raise ValueError(f"lam must be >= 0, got {lam!r}")
    if not 0 <= l1_ratio <= 1:
        raise ValueError(f"l1_ratio must be in [0, 1], got {l1_ratio!r}")


def l1_penalty(weight, lam):
    r""":math:`\lambda \sum_i |w_i|` over an array of any shape; returns a 0-d array."""
    _check_lam(lam)
    return lam * np.abs(weight).sum()


def l1_penalty_backward(grad_output, weight, lam):
    r"""A subgradient of :func:`l1_penalty`: :math:`\lambda\,\mathrm{sign}(w_i)`, with 0 at
    :math:`w_i = 0` (any value in :math:`[-\lambda, \lambda]` is valid there; 0 is torch's)."""
    _check_lam(lam)
    return grad_output * lam * np.sign(weight)


def l2_penalty(weight, lam):
    r""":math:`\frac\lambda2 \sum_i w_i^2`: the half makes the gradient :math:`\lambda w`, which is
    what ``weight_decay=lam`` adds in torch's optimizers."""
    _check_lam(lam)
    return 0.5 * lam * (weight * weight).sum()


def l2_penalty_backward(grad_output, weight, lam):
    r""":math:`\lambda w_i`: a pull toward zero proportional to the weight."""
    _check_lam(lam)
    return grad_output * lam * weight


def elastic_net_penalty(weight, lam, l1_ratio=0.5):
    r""":math:`\lambda\big(\alpha\lVert w\rVert_1 + \frac{1-\alpha}2\lVert w\rVert_2^2\big)` with
    :math:`\alpha` = ``l1_ratio`` (scikit-learn's convention): L1 at 1, L2 at 0."""
    _check_lam(lam, l1_ratio)
    return l1_penalty(weight, lam * l1_ratio) + l2_penalty(weight, lam * (1 - l1_ratio))


def elastic_net_penalty_backward(grad_output, weight, lam, l1_ratio=0.5):
    r""":math:`\lambda\big(\alpha\,\mathrm{sign}(w) + (1-\alpha)\,w\big)`, a subgradient."""
    _check_lam(lam, l1_ratio)
    return l1_penalty_backward(grad_output, weight, lam * l1_ratio) + l2_penalty_backward(
        grad_output, weight, lam * (1 - l1_ratio)
    )


def soft_threshold(weight, threshold):
    r"""The proximal map of :math:`t\lVert w\rVert_1`, :math:`\arg\min_u \frac12\lVert u -
    w\rVert^2 + t\lVert u\rVert_1 = \mathrm{sign}(w)\max(|w| - t, 0)`: every weight moves
    ``threshold`` toward zero, and one that would cross zero stops *at* zero."""
    if not threshold >= 0:
        raise ValueError(f"threshold must be >= 0, got {threshold!r}")
    return np.sign(weight) * np.maximum(np.abs(weight) - threshold, 0)


# --- a sparse linear problem, solved with each penalty ------------------------------------------


def sparse_problem(n=80, d=100, k=10, noise=0.5, seed=0):
    """``x (n, d)`` standard normal, ``w_true (d,)`` with ``k`` nonzero entries of size 1 to 3,
    and ``y = x @ w_true + noise``. With ``n < d``, least squares alone cannot pin ``w`` down."""
    if not 0 <= k <= d:
        raise ValueError(f"k must be in [0, d={d}], got {k!r}")
    rng = seeding.rng(seed)
    x = rng.standard_normal((n, d))
    w_true = np.zeros(d)
    support = rng.choice(d, size=k, replace=False)
    w_true[support] = rng.choice([-1, 1], size=k) * rng.uniform(1, 3, size=k)
    return x, x @ w_true + noise * rng.standard_normal(n), w_true


def fit_linear(x, y, lam=0.0, l1_ratio=1.0, method="proximal", steps=1000, lr=None, weight=None):
    r"""Minimize :math:`\frac1n\lVert xw - y\rVert^2 + \text{elastic\_net\_penalty}(w)` from
    ``weight`` (zeros by default) by ``steps`` full-batch gradient steps; returns ``w (d,)``.

    The L2 part is :class:`~dlbook.scratch.optim.SGD`'s ``weight_decay``. The L1 part is either a
    ``"subgradient"`` added to the gradient, or a ``"proximal"`` step after it,
    :func:`soft_threshold` by ``lr * lam * l1_ratio`` (ISTA). ``lr=None`` takes
    :math:`1/L`, the inverse of the gradient's Lipschitz constant, the largest stable step.
    """
    _check_lam(lam, l1_ratio)
    if method not in ("proximal", "subgradient"):
        raise ValueError(f"method must be 'proximal' or 'subgradient', got {method!r}")
    n, d = x.shape
    l1, l2 = lam * l1_ratio, lam * (1 - l1_ratio)
    if lr is None:
        lr = 1.0 / (2 * np.linalg.norm(x, 2) ** 2 / n + l2)
    weight = np.zeros((1, d)) if weight is None else np.array(weight, dtype=float).reshape(1, d)
    opt = SGD([weight], lr=lr, weight_decay=l2)
    target = y.reshape(n, 1)
    for _ in range(steps):
        pred = linear(x, weight)
        _, grad, _ = linear_backward(mse_loss_backward(1.0, pred, target), x, weight)
        if method == "subgradient" and l1:
            grad = grad + l1_penalty_backward(1.0, weight, l1)
        opt.step([grad])
        if method == "proximal" and l1:
            weight[...] = soft_threshold(weight, lr * l1)
    return weight[0]


def regularization_path(x, y, lams, l1_ratio=1.0, steps=300):
    """The weights ``(len(lams), d)`` at each ``lam``, in the order given, each fit starting from
    the last one's answer (a warm start): exact :func:`ridge` when ``l1_ratio=0``."""
    path, weight = [], None
    for lam in lams:
        if l1_ratio == 0:
            path.append(ridge(x, y, lam))
        else:
            weight = fit_linear(x, y, lam, l1_ratio, "proximal", steps, weight=weight)
            path.append(weight)
    return np.array(path)


def ridge(x, y, lam):
    r"""The exact minimizer of :math:`\frac1n\lVert xw - y\rVert^2 + \frac\lambda2\lVert w\rVert^2`:
    :math:`(\frac2n x^\top x + \lambda I)\,w = \frac2n x^\top y`. ``lam=0`` gives the
    minimum-norm least-squares solution."""
    _check_lam(lam)
    n, d = x.shape
    if lam == 0:
        return np.linalg.lstsq(x, y, rcond=None)[0]
    return np.linalg.solve(2 / n * x.T @ x + lam * np.eye(d), 2 / n * x.T @ y)


# --- capacity: polynomials of growing degree ----------------------------------------------------


@dataclass
class PolyProblem:
    """Noisy samples of ``target(x) = sin(pi x)`` on [-1, 1]: a small training set and a large
    test set, drawn the same way."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    noise: float

    @staticmethod
    def target(x):
        return np.sin(np.pi * x)


def poly_problem(n_train=15, n_test=300, noise=0.25, seed=1) -> PolyProblem:
    rng = seeding.rng(seed)
    x_train = np.sort(rng.uniform(-1, 1, n_train))
    x_test = np.sort(rng.uniform(-1, 1, n_test))
    y_train = PolyProblem.target(x_train) + noise * rng.standard_normal(n_train)
    y_test = PolyProblem.target(x_test) + noise * rng.standard_normal(n_test)
    return PolyProblem(x_train, y_train, x_test, y_test, noise)


def poly_features(x, degree):
    """Legendre polynomials :math:`P_0 .. P_{degree}` at ``x``: ``(len(x), degree + 1)``. They
    span the same functions as :math:`1, x, .., x^{degree}`, but are far better conditioned."""
    if isinstance(degree, bool) or not isinstance(degree, (int, np.integer)) or degree < 0:
        raise ValueError(f"degree must be an int >= 0, got {degree!r}")
    return np.polynomial.legendre.legvander(x, degree)


def poly_fit(problem, degree, lam=0.0, l1_ratio=0.0, steps=None):
    """The coefficients ``(degree + 1,)`` of a penalized polynomial fit to the training set:
    exact for L2 (:func:`ridge`), proximal gradient steps when there is an L1 part. These
    converge more slowly as ``lam`` shrinks, so ``steps=None`` takes ``max(3000, 3 / lam)``."""
    _check_lam(lam, l1_ratio)
    x = poly_features(problem.x_train, degree)
    if lam == 0 or l1_ratio == 0:
        return ridge(x, problem.y_train, lam)
    steps = max(3000, int(3 / lam)) if steps is None else steps
    return fit_linear(x, problem.y_train, lam, l1_ratio, "proximal", steps)


def capacity_curve(problem, degrees=range(15)):
    """Unpenalized fits of every degree: ``{'degree', 'coef' (list), 'train_mse', 'test_mse'}``."""
    out = {"degree": np.array(list(degrees)), "coef": [], "train_mse": [], "test_mse": []}
    for degree in out["degree"]:
        coef = poly_fit(problem, int(degree))
        out["coef"].append(coef)
        for part in ("train", "test"):
            x, y = getattr(problem, f"x_{part}"), getattr(problem, f"y_{part}")
            out[f"{part}_mse"].append(np.mean((poly_features(x, int(degree)) @ coef - y) ** 2))
    out["train_mse"], out["test_mse"] = np.array(out["train_mse"]), np.array(out["test_mse"])
    return out


# --- weight decay under Adam and AdamW ----------------------------------------------------------


def decay_by_gradient_scale(
    scales=(1e-3, 1e-2, 1e-1, 1.0, 10.0),
    per_scale=200,
    steps=500,
    lr=1e-2,
    weight_decay=0.1,
    seed=0,
):
    r"""Weights that start at 1 and receive only zero-mean noise gradients of standard deviation
    ``scale`` (the loss does not care where they are): how far does weight decay pull them in?

    Returns ``{'scales', 'adam', 'adamw'}``: the mean weight of each group after ``steps`` steps
    of :class:`Adam` with ``weight_decay`` (an L2 penalty) and of :class:`AdamW` (decoupled decay),
    fed the same gradients. AdamW's answer is :math:`\approx(1 - \text{lr}\cdot\lambda)^{steps}`
    for every scale.
    """
    scales = np.asarray(scales, dtype=float)
    sigma = np.repeat(scales, per_scale)
    rng = seeding.rng(seed)
    w_adam, w_adamw = np.ones_like(sigma), np.ones_like(sigma)
    adam = Adam([w_adam], lr=lr, weight_decay=weight_decay)
    adamw = AdamW([w_adamw], lr=lr, weight_decay=weight_decay)
    for _ in range(steps):
        grad = sigma * rng.standard_normal(sigma.shape)
        adam.step([grad])
        adamw.step([grad])
    means = {
        k: w.reshape(len(scales), per_scale).mean(1)
        for k, w in (("adam", w_adam), ("adamw", w_adamw))
    }
    return {"scales": scales, **means}


def softmax_regression(n=256, seed=0):
    """A softmax regression on the first ``n`` training digits, in float64.

    Returns ``(x, y, start)``: inputs ``(n, 64)``, labels ``(n,)``, and the starting parameters
    ``[weight (10, 64), bias (10,)]`` (seeded weights of standard deviation 0.01, a zero bias).
    """
    from dlbook.data import load_digits

    digits = load_digits(dtype=np.float64)
    x, y = digits.x_train[:n].reshape(n, 64), digits.y_train[:n]
    return x, y, [0.01 * seeding.rng(seed).standard_normal((10, 64)), np.zeros(10)]


def softmax_regression_grads(params, x, y):
    """``[grad weight, grad bias]`` of the mean cross-entropy of ``linear(x, *params)`` against
    the labels ``y``, by the scratch backward passes."""
    logits = linear(x, *params)
    _, g_weight, g_bias = linear_backward(cross_entropy_backward(1.0, logits, y), x, *params)
    return [g_weight, g_bias]


def train_scratch(optimizer, x, y, start, lr, weight_decay, steps=30, by_hand=None):
    r"""``steps`` full-batch steps of the scratch ``optimizer`` class (``SGD``, ``Adam``,
    ``AdamW``) on the softmax regression, from a copy of ``start``. Returns the final weight and
    bias, flattened into one array.

    ``by_hand=None`` uses the optimizer's own ``weight_decay``. The other two give the optimizer
    no weight decay and write it by hand: ``"l2"`` adds :math:`\lambda w` to every gradient (the
    gradient of the penalty :math:`\frac\lambda2\lVert w\rVert^2`), ``"decoupled"`` shrinks every
    weight by :math:`1 - \eta\lambda` before each step.
    """
    if by_hand not in (None, "l2", "decoupled"):
        raise ValueError(f"by_hand must be None, 'l2' or 'decoupled', got {by_hand!r}")
    params = [p.copy() for p in start]
    opt = optimizer(params, lr=lr, weight_decay=0.0 if by_hand else weight_decay)
    for _ in range(steps):
        g = softmax_regression_grads(params, x, y)
        if by_hand == "l2":  # the penalty's gradient joins the loss's
            g = [gi + weight_decay * p for gi, p in zip(g, params)]
        if by_hand == "decoupled":  # shrink first, then a plain step
            for p in params:
                p *= 1 - lr * weight_decay
        opt.step(g)
    return np.concatenate([p.ravel() for p in params])


def train_torch(optimizer, x, y, start, lr, weight_decay, steps=30, penalty_in_loss=False):
    r""":func:`train_scratch` in PyTorch: ``optimizer`` is a ``torch.optim`` class, given
    ``weight_decay``, or (``penalty_in_loss=True``) given none while
    :math:`\frac\lambda2\lVert w\rVert^2` is added to the loss for autograd. Returns the final
    weight and bias, flattened into one float64 tensor."""
    import torch
    import torch.nn.functional as F

    params = [torch.tensor(p, requires_grad=True) for p in start]
    opt = optimizer(params, lr=lr, weight_decay=0.0 if penalty_in_loss else weight_decay)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(steps):
        loss = F.cross_entropy(F.linear(xt, *params), yt)
        if penalty_in_loss:
            loss = loss + weight_decay / 2 * sum((p**2).sum() for p in params)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return torch.cat([p.detach().reshape(-1) for p in params])


# --- networks on a small digits subset, trained with dlbook.train.fit ---------------------------


def subset(data, n, seed=0, label_noise=0.0):
    """The first ``n`` training images of a seeded shuffle of ``data`` (the test set is kept
    whole). ``label_noise``: that fraction of the training labels is replaced by a wrong class."""
    from dlbook.data.offline import Split

    if not 0 < n <= len(data.x_train):
        raise ValueError(f"n must be in [1, {len(data.x_train)}], got {n!r}")
    if not 0 <= label_noise <= 1:
        raise ValueError(f"label_noise must be in [0, 1], got {label_noise!r}")
    rng = seeding.rng(seed)
    idx = rng.permutation(len(data.x_train))[:n]
    y = data.y_train[idx].copy()
    flip = rng.random(n) < label_noise
    y[flip] = (y[flip] + rng.integers(1, 10, flip.sum())) % 10  # never the true class
    return Split(data.x_train[idx], y, data.x_test, data.y_test, name=data.name)


def mlp(width, in_features=64, num_classes=10):
    """Flatten, one hidden ReLU layer of ``width`` units, and a linear read-out."""
    from torch import nn

    return nn.Sequential(
        nn.Flatten(), nn.Linear(in_features, width), nn.ReLU(), nn.Linear(width, num_classes)
    )


def small_cnn(channels=8, size=8, num_classes=10):
    """Two 3x3 convolutions (``channels``, then twice as many), a 2x2 max pool, a linear layer."""
    from torch import nn

    c = channels
    return nn.Sequential(
        nn.Conv2d(1, c, 3, padding=1), nn.ReLU(),
        nn.Conv2d(c, 2 * c, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(2 * c * (size // 2) ** 2, num_classes),
    )  # fmt: skip


def width_sweep(
    data, widths=(1, 2, 4, 8, 16, 64, 256), epochs=60, lr=3e-3, batch_size=50, seed=0, device=None
):
    """Train :func:`mlp` of each width to (near) zero training error; returns one dict per width
    with ``width``, ``params``, ``train_loss``, ``train_acc``, ``test_loss``, ``test_acc``."""

    from dlbook.train import evaluate, fit

    rows = []
    for width in widths:
        seeding.manual_seed(seed)
        model = mlp(width)
        fit(model, data, epochs, lr, batch_size, device=device, seed=seed, eval_train=False)
        dev = next(model.parameters()).device
        row = {"width": width, "params": sum(p.numel() for p in model.parameters())}
        for part in ("train", "test"):
            x, y = getattr(data, f"x_{part}"), getattr(data, f"y_{part}")
            row[f"{part}_loss"], row[f"{part}_acc"] = evaluate(model, x, y, dev)
        rows.append(row)
    return rows


def early_stopping(
    data,
    epochs=100,
    patience=10,
    val_fraction=0.2,
    width=256,
    lr=3e-3,
    batch_size=32,
    seed=0,
    device=None,
):
    """The same MLP trained twice: for all ``epochs``, and with early stopping on a held-out
    ``val_fraction`` of the training set. Returns ``{'full': History, 'stopped': History,
    'full_acc': final test accuracy, 'stopped_acc': test accuracy of the restored best weights}``.
    """

    from dlbook.train import evaluate, fit

    out = {}
    for name, extra in (
        ("full", {}),
        ("stopped", dict(val_fraction=val_fraction, patience=patience)),
    ):
        seeding.manual_seed(seed)
        model = mlp(width)
        out[name] = fit(model, data, epochs, lr, batch_size, device=device, seed=seed,
                        eval_train=False, **extra)  # fmt: skip
        dev = next(model.parameters()).device
        out[f"{name}_acc"] = evaluate(model, data.x_test, data.y_test, dev)[1]
    return out


def augmentation(
    data,
    augments=(None, {"shift": 1}, {"shift": 2}),
    seeds=(0, 1),
    epochs=40,
    lr=5e-3,
    batch_size=50,
    channels=8,
    device=None,
):
    """:func:`small_cnn` trained once per seed with each of ``augments`` (``None``: no
    augmentation; a dict: the arguments of :class:`~dlbook.data.augment.Augment`). Returns one
    dict per run: ``seed``, ``augment`` (a label), ``test_acc``, ``history``."""

    from dlbook.data.augment import Augment
    from dlbook.train import fit

    runs = []
    for seed in seeds:
        for kwargs in augments:
            seeding.manual_seed(seed)
            aug = None if kwargs is None else Augment(**kwargs, seed=seed)
            model = small_cnn(channels, data.x_train.shape[-1])
            history = fit(model, data, epochs, lr, batch_size, device=device, seed=seed,
                          augment=aug, eval_train=False)  # fmt: skip
            label = "none" if kwargs is None else ", ".join(f"{k}={v}" for k, v in kwargs.items())
            runs.append(dict(seed=seed, augment=label, test_acc=history.final["test_acc"],
                             history=history))  # fmt: skip
    return runs


def logistic_l1_torch(data, l1, proximal=False, steps=200, lr=0.5, device=None, seed=0):
    """Softmax regression (``nn.Linear(64, 10)``) on ``data`` by full-batch SGD in torch, with
    an L1 penalty ``l1 * |W|_1`` on the weight: added to the loss (autograd's subgradient), or,
    with ``proximal=True``, applied after each step by ``F.softshrink`` (soft-thresholding).
    Returns ``(weight (10, 64) as NumPy, test accuracy)``."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    from dlbook.devices import resolve
    from dlbook.train import train_steps

    device = resolve(device)
    x, y = (torch.as_tensor(a, device=device) for a in (data.x_train, data.y_train))
    x = x.reshape(len(x), -1)
    seeding.manual_seed(seed)
    model = nn.Linear(x.shape[1], 10).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=lr)

    def full_batch_loss(_):
        loss = F.cross_entropy(model(x), y)
        return loss if proximal else loss + l1 * model.weight.abs().sum()

    for _ in train_steps(full_batch_loss, opt, range(steps)):
        if proximal:
            with torch.no_grad():
                model.weight.copy_(F.softshrink(model.weight, lr * l1))
    with torch.no_grad():
        x_test = torch.as_tensor(data.x_test, device=device).reshape(len(data.x_test), -1)
        pred = model(x_test).argmax(1).cpu().numpy()
    return model.weight.detach().cpu().numpy(), float(np.mean(pred == data.y_test))


# --- the write-it-yourself exercise: one proximal gradient (ISTA) step for L1 --------------------


def check_proximal_step(fn) -> Report:
    """Hold the reader's ``fn(weight, grad, lr, lam)``, one proximal gradient step for a loss
    plus :func:`l1_penalty` (a gradient step on the loss, then :func:`soft_threshold`), to the
    chapter's own step, and say in words what is wrong.

    The cases catch the usual mistakes: the threshold ``lam`` where ``lr * lam`` belongs; the
    subgradient step ``w - lr (g + lam sign(w))``, which overshoots zero instead of stopping at
    it; thresholding before the gradient step; the sign lost (``max(v - t, 0)``); ``lam = 0``
    not plain gradient descent.

    Shapes:
        fn: (weight (d,) or (m, d), grad of weight's shape, lr > 0, lam >= 0) -> weight's shape;
            returns a Report
    Formula:
        v = weight - lr grad; out = sign(v) max(|v| - lr lam, 0)
    Torch:
        torch.nn.functional.softshrink(weight - lr grad, lr lam)
    """
    rng = np.random.default_rng(24)  # fixed, not DLBOOK_SEED: one report everywhere
    w, g = rng.standard_normal(8), rng.standard_normal(8)
    cases = [
        Case((w, g, 0.1, 1.0), {}, "lr 0.1, lam 1"),
        Case((w, g, 0.5, 0.3), {}, "lr 0.5, lam 0.3"),
        Case((rng.standard_normal((3, 5)), rng.standard_normal((3, 5)), 0.2, 2.0), {},
             "a (3, 5) weight, lam 2"),
        Case((np.array([0.05, -0.05, 0.0, 1.0]), np.array([0.0, 0.0, 1.0, 0.0]), 0.1, 1.0),
             {}, "small weights that must stop at 0"),
        Case((w, g, 0.3, 0.0), {}, "lam = 0: plain gradient descent"),
    ]  # fmt: skip

    def reference(weight, grad, lr, lam):
        return soft_threshold(weight - lr * grad, lr * lam)

    def torch_twin(weight, grad, lr, lam):
        import torch

        return torch.nn.functional.softshrink(torch.from_numpy(weight - lr * grad), lr * lam)

    return check(fn, reference, cases, name="proximal_step", outputs=("the new weight",),
                 torch_twin=torch_twin, atol=1e-12, rtol=1e-10)  # fmt: skip
