"""The batch-norm chapter's experiments: what batch norm does to training, and what it does not.

* :func:`make_net` builds one small digits CNN with no normalization, batch norm, "noisy" batch
  norm (:class:`NoisyBatchNorm2d`) or layer norm after each convolution.
* :func:`lr_sweep` trains the variants with :func:`dlbook.train.fit` at several learning rates.
* :func:`watch_shift` trains with a loop of its own that records, at every step, the distribution
  of one layer's inputs (the *internal covariate shift* of Ioffe & Szegedy 2015) and, every few
  steps, Santurkar et al.'s (2018) gradient-based measure of it.
* :func:`shift_summary` turns those records into scale-free numbers;
  :func:`train_mode_accuracy` measures how small batches make batch norm's statistics noisy;
  :func:`running_stats` follows the running estimates of a stream of batches.
* :func:`layer_vs_torch`, :func:`functional_vs_torch`, :func:`cumulative_vs_torch` and
  :func:`naive_vs_torch` hold the from-scratch batch norm against torch's, for
  :func:`dlbook.verify.compare`.
"""

from __future__ import annotations

import copy
import numbers

import numpy as np
import torch
from torch import nn

from dlbook import seeding
from dlbook.exercise import Case, Report, check

__all__ = [
    "NORMS",
    "DRIFT",
    "NoisyBatchNorm2d",
    "make_net",
    "lr_sweep",
    "watch_shift",
    "SHIFT_SETTINGS",
    "shift_study",
    "study_means",
    "shift_summary",
    "train_mode_accuracy",
    "recalibrate",
    "running_stats",
    "QUANTITIES",
    "layer_vs_torch",
    "functional_vs_torch",
    "cumulative_vs_torch",
    "naive_vs_torch",
    "final_accuracies",
    "check_batch_norm_backward",
]

NORMS = ("none", "batch", "noisy", "drift", "layer")
# The slow drift of make_net("drift"): (scale, shift, period). Over one period of 100 steps each
# channel's scale moves from 1 to exp(u), u ~ U(-2.5, 2.5), and its shift from 0 to U(-7, 7), a
# little every step: about as far, from the first step to the last, as the inputs of the same
# layer move without normalization.
DRIFT = (2.5, 7.0, 100)


class NoisyBatchNorm2d(nn.BatchNorm2d):
    """Batch norm followed, in training mode only, by a random per-channel scale and shift,
    ``y * s + b``, with ``s ~ U(1 - scale, 1 + scale)`` and ``b ~ U(-shift, shift)``.

    ``period=None`` (a *jitter*): ``s`` and ``b`` are drawn afresh at every forward pass, so
    every step the next layer sees a differently shifted and rescaled distribution, by design.
    ``period=P`` (a *slow drift*): every ``P`` steps a new target is drawn per channel,
    ``s = exp(U(-scale, scale))`` and ``b ~ U(-shift, shift)``, and the noise moves to it in a
    straight line over the next ``P`` steps, starting from ``s = 1, b = 0``: the distribution
    changes by little in one step and by a lot over a run.

    In evaluation mode a jitter is off (``s = 1, b = 0``, its mean) and a drift stays where
    training left it (the network adapted to it).

    ``hold = True`` reuses the last noise (and does not advance the drift), so that a step can be
    replayed with the same noise.
    """

    def __init__(self, num_features, scale=0.5, shift=0.5, period=None, **kwargs):
        super().__init__(num_features, **kwargs)
        if period is not None and (
            isinstance(period, bool) or not isinstance(period, numbers.Integral) or period < 1
        ):
            raise ValueError(f"period must be None or a positive int, got {period!r}")
        self.noise_scale, self.noise_shift, self.period, self.hold = scale, shift, period, False
        self._noise = None
        self._steps = 0
        self._targets = None  # (previous target, next target), each (s, b), for a drift

    def _draw(self, c, kw):
        u = 2 * torch.rand(c, **kw) - 1
        # A jitter's scale is uniform around 1; a drift's is log-uniform, so it can grow as well
        # as shrink (as the spread of a layer without normalization does while it trains).
        s = 1 + self.noise_scale * u if self.period is None else torch.exp(self.noise_scale * u)
        b = self.noise_shift * (2 * torch.rand(c, **kw) - 1)
        return s, b

    def forward(self, x):
        y = super().forward(x)
        if not self.training:
            if self.period is None or self._noise is None:
                return y  # a jitter is off in evaluation mode: its mean
            s, b = self._noise  # a drift stays where training left it
            return y * s + b
        if self._noise is None or not self.hold:
            c, kw = self.num_features, dict(device=x.device, dtype=x.dtype)
            if self.period is None:
                s, b = self._draw(c, kw)
            else:
                k = self._steps % self.period
                if k == 0:
                    start = (
                        (torch.ones(c, **kw), torch.zeros(c, **kw))
                        if self._targets is None
                        else self._targets[1]
                    )
                    self._targets = (start, self._draw(c, kw))
                (s0, b0), (s1, b1) = self._targets
                t = (k + 1) / self.period
                s, b = s0 + t * (s1 - s0), b0 + t * (b1 - b0)
                self._steps += 1
            self._noise = (s.view(1, c, 1, 1), b.view(1, c, 1, 1))
        s, b = self._noise
        return y * s + b


def _norm(kind, channels, noise, drift):
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "noisy":
        return NoisyBatchNorm2d(channels, *noise)
    if kind == "drift":
        return NoisyBatchNorm2d(channels, *drift)
    if kind == "layer":  # one group: each example normalized over all of (C, H, W)
        return nn.GroupNorm(1, channels)
    return nn.Identity()


def make_net(norm="none", width=16, noise=(0.5, 0.5), drift=DRIFT):
    """A small CNN for the 8×8 digits, with ``norm`` after each of its four convolutions.

    ``(N,1,8,8)`` → [conv 3×3 → norm → ReLU] × 2 → max-pool 2 → [conv 3×3 → norm → ReLU] × 2 →
    global average pool → linear → 10 scores. Widths ``w, w, 2w, 2w``. ``norm`` is ``"none"``,
    ``"batch"``, ``"noisy"`` (:class:`NoisyBatchNorm2d` with ``noise = (scale, shift)``, redrawn
    every step), ``"drift"`` (the same with ``drift = (scale, shift, period)``: a slow drift) or
    ``"layer"`` (``GroupNorm(1, C)``: layer norm over ``(C, H, W)``). The convolutions get
    Kaiming-normal weights, so that the network without normalization starts well scaled too;
    they drop their bias when a norm follows, since the norm's shift replaces it.
    """
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
    if isinstance(width, bool) or not isinstance(width, numbers.Integral) or width < 1:
        raise ValueError(f"width must be a positive int, got {width!r}")
    layers, c_in = [], 1
    for i, c_out in enumerate((width, width, 2 * width, 2 * width)):
        conv = nn.Conv2d(c_in, c_out, 3, padding=1, bias=norm == "none")
        nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
        if conv.bias is not None:
            nn.init.zeros_(conv.bias)
        layers += [conv, _norm(norm, c_out, noise, drift), nn.ReLU()]
        if i == 1:
            layers.append(nn.MaxPool2d(2))
        c_in = c_out
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c_in, 10))


def _conv_weight_norms(model):
    return [float(m.weight.detach().norm()) for m in model if isinstance(m, nn.Conv2d)]


def lr_sweep(data, lrs, norms=("none", "batch"), seeds=(0,), epochs=6, batch_size=64, device=None):
    """Train :func:`make_net` for each ``norm``, learning rate and seed with
    :func:`dlbook.train.fit` and SGD (momentum 0.9).

    Returns one dict per run: ``norm``, ``lr``, ``seed``, ``test_acc`` (after the last epoch),
    ``recalibrated_acc`` (the same after :func:`recalibrate`; ``None`` without batch norm), the
    ``history``, the trained ``model`` and ``weight_norms`` (each convolution's ``||W||``).
    """
    from dlbook.train import evaluate, fit, seed_everything

    rows = []
    for norm in norms:
        for lr in lrs:
            for seed in seeds:
                seed_everything(seed)  # the same initial weights at every learning rate
                model = make_net(norm)
                history = fit(
                    model, data, epochs=epochs, lr=lr, batch_size=batch_size, optimizer="sgd",
                    device=device, seed=seed, eval_train=False,
                )  # fmt: skip
                recalibrated = None
                if norm in ("batch", "noisy", "drift"):
                    fresh = recalibrate(model, data.x_train, batch_size, device)
                    recalibrated = evaluate(fresh, data.x_test, data.y_test, device)[1]
                rows.append(
                    dict(
                        norm=norm,
                        lr=lr,
                        seed=seed,
                        test_acc=history.final["test_acc"],
                        recalibrated_acc=recalibrated,
                        history=history,
                        model=model,
                        weight_norms=_conv_weight_norms(model),
                    )
                )
    return rows


def _watched(model, block):
    """``(norm module of block, conv of block + 1)``: the pre-activations we watch, and the layer
    whose input (after a ReLU) they are."""
    convs = [i for i, m in enumerate(model) if isinstance(m, nn.Conv2d)]
    if not 0 <= block < len(convs) - 1:
        raise ValueError(f"block must be in [0, {len(convs) - 2}], got {block!r}")
    return model[convs[block] + 1], convs[block + 1]


def _replay_gradient(model, x, y, old, new, first):
    """Santurkar et al.'s G': the gradient of conv ``model[first]``'s weight on the same batch,
    with every module before it already updated (``new``) and it and those after not (``old``)."""
    import torch.nn.functional as F

    mixed = {k: (new[k] if int(k.split(".")[0]) < first else old[k]) for k in new}
    model.load_state_dict(mixed)
    for m in model.modules():
        if isinstance(m, NoisyBatchNorm2d):
            m.hold = True  # the same noise as the step being replayed
    model.zero_grad()
    F.cross_entropy(model(x), y).backward()
    g = model[first].weight.grad.detach().clone()
    for m in model.modules():
        if isinstance(m, NoisyBatchNorm2d):
            m.hold = False
    model.load_state_dict(new)  # also undoes the running statistics the replay moved
    return g


def watch_shift(
    data, norm, lr=0.1, epochs=4, batch_size=64, seed=0, block=2, channel=0, snapshots=24,
    ics_every=3, noise=(0.5, 0.5), device=None,
):  # fmt: skip
    """Train :func:`make_net(norm) <make_net>` with SGD (momentum 0.9) and watch one layer.

    At every step it records, per channel, the mean and standard deviation (over the batch and
    the positions) of block ``block``'s pre-activations, the output of its norm, which after a
    ReLU are the next convolution's inputs; it keeps the values of one ``channel`` at
    ``snapshots`` evenly spaced steps. Every ``ics_every`` steps it also measures Santurkar et
    al.'s internal covariate shift: the gradient ``G`` of the next convolution's weight, against
    the gradient ``G'`` on the same batch after the layers before it took their step.
    ``noise = (scale, shift)`` is passed to :func:`make_net` for the ``"noisy"`` network.

    Returns a dict: ``norm``, ``mean`` and ``std`` ``(steps, C)``, ``loss`` ``(steps,)``,
    ``snap_steps``, ``snap_values`` ``(snapshots, values)``, ``ics_steps``, ``ics_change``
    (``||G - G'|| / ||G||``), ``ics_cosine``, ``test_acc``, ``recalibrated_acc`` (the same after
    :func:`recalibrate`; ``test_acc`` without a batch norm) and ``train_acc`` (final epoch, seen
    while training).
    """
    import torch.nn.functional as F

    from dlbook.devices import resolve
    from dlbook.train import evaluate, seed_everything, shuffled_batches, train_steps

    device = resolve(device)
    seed_everything(seed)
    model = make_net(norm, noise=noise).to(device)
    watched, next_conv = _watched(model, block)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    x_all = torch.as_tensor(data.x_train, dtype=torch.float32, device=device)
    y_all = torch.as_tensor(data.y_train, dtype=torch.long, device=device)
    per_epoch = len(x_all) // batch_size  # the last, incomplete batch is dropped
    snap_at = set(np.linspace(0, epochs * per_epoch - 1, snapshots).round().astype(int).tolist())
    seen = {}
    watched.register_forward_hook(lambda m, i, out: seen.__setitem__("z", out.detach()))
    rec = {k: [] for k in ("mean", "std", "loss", "snap_steps", "snap_values", "ics_steps")}
    rec |= {"ics_change": [], "ics_cosine": []}
    now = {"step": 0, "correct": 0}  # this step's number, batch and gradient; the epoch's hits

    def batch_loss(idx):  # the forward pass, and what it shows of the watched layer
        step = now["step"]
        now["x"], now["y"] = x_all[idx], y_all[idx]
        logits = model(now["x"])
        loss = F.cross_entropy(logits, now["y"])
        z = seen["z"]
        rec["mean"].append(z.mean(dim=(0, 2, 3)).cpu().numpy())
        rec["std"].append(z.std(dim=(0, 2, 3), correction=0).cpu().numpy())
        rec["loss"].append(loss.item())
        if step in snap_at:
            rec["snap_steps"].append(step)
            rec["snap_values"].append(z[:, channel].flatten().cpu().numpy())
        now["correct"] += (logits.argmax(1) == now["y"]).sum().item()
        return loss

    def before_step():  # the gradient G and the weights it was taken at, every ics_every steps
        if now["step"] % ics_every == 0:
            now["g"] = model[next_conv].weight.grad.detach().clone()
            now["old"] = copy.deepcopy(model.state_dict())

    generator = seeding.generator(seed)
    for _ in range(epochs):
        model.train()
        now["correct"] = 0
        batches = shuffled_batches(len(x_all), batch_size, generator, device, drop_last=True)
        for _ in train_steps(batch_loss, opt, batches, before_step=before_step):
            step = now["step"]
            if step % ics_every == 0:  # G', on the same batch, after the step
                new = copy.deepcopy(model.state_dict())
                g, g2 = now["g"], _replay_gradient(model, now["x"], now["y"], now["old"], new,
                                                   next_conv)  # fmt: skip
                rec["ics_steps"].append(step)
                rec["ics_change"].append(float((g - g2).norm() / g.norm()))
                rec["ics_cosine"].append(float(F.cosine_similarity(g.flatten(), g2.flatten(), 0)))
            now["step"] = step + 1
    out = {k: np.array(v) for k, v in rec.items()}
    out["norm"] = norm
    out["train_acc"] = now["correct"] / (per_epoch * batch_size)
    out["test_acc"] = evaluate(model, data.x_test, data.y_test, device)[1]
    out["recalibrated_acc"] = out["test_acc"]
    if norm in ("batch", "noisy", "drift"):
        fresh = recalibrate(model, data.x_train, batch_size, device)
        out["recalibrated_acc"] = evaluate(fresh, data.x_test, data.y_test, device)[1]
    return out


# The covariate-shift study: each network at a learning rate that suits it. 0.03 is the plain
# network's best rate in the chapter's learning-rate sweep; the normalized ones train at 0.1.
SHIFT_SETTINGS = (("none", 0.03), ("batch", 0.1), ("noisy", 0.1), ("drift", 0.1))


def shift_study(data, settings=SHIFT_SETTINGS, seeds=(0, 1, 2), epochs=5, device=None, **kwargs):
    """:func:`watch_shift` for each ``(norm, lr)`` of ``settings`` and each seed.

    Returns ``{norm: [record per seed]}``; each record also holds its ``lr`` and ``seed`` and the
    :func:`shift_summary` of its watched layer under ``summary``. ``kwargs`` go to
    :func:`watch_shift`.
    """
    study = {}
    for norm, lr in settings:
        study[norm] = []
        for seed in seeds:
            rec = watch_shift(data, norm, lr=lr, epochs=epochs, seed=seed, device=device, **kwargs)
            rec |= {"lr": lr, "seed": seed, "summary": shift_summary(rec["mean"], rec["std"])}
            study[norm].append(rec)
    return study


def study_means(study, last=20):
    """``{norm: means over the seeds}`` of a :func:`shift_study`: the four :func:`shift_summary`
    numbers, ``loss`` (the training loss over the ``last`` steps), ``test_acc``,
    ``recalibrated_acc`` and ``ics`` (the mean gradient change ``||G - G'|| / ||G||``)."""
    out = {}
    for norm, recs in study.items():
        rows = [
            {
                **r["summary"],
                "loss": float(np.mean(r["loss"][-last:])),
                "test_acc": float(r["test_acc"]),
                "recalibrated_acc": float(r["recalibrated_acc"]),
                "ics": float(np.mean(r["ics_change"])),
            }
            for r in recs
        ]
        out[norm] = {k: float(np.mean([row[k] for row in rows])) for k in rows[0]}
    return out


def shift_summary(mean, std):
    """Scale-free measures of how a layer's input distribution moves, from per-step, per-channel
    ``mean`` and ``std`` arrays ``(steps, C)``, each averaged over channels and steps:

    * ``mean_shift``: how far the mean moves in one step, in units of the previous step's
      standard deviation, ``|mu_t - mu_{t-1}| / sigma_{t-1}``;
    * ``scale_shift``: how much the spread changes in one step, ``|log(sigma_t / sigma_{t-1})|``
      (0.1 is about 10%);
    * ``drift``: how far the mean ends from where it started, ``|mu_T - mu_0| / sigma_0``;
    * ``spread_drift``: how far the spread ends from where it started, ``|log(sigma_T / sigma_0)|``.

    The first two are per step, the last two from the first step to the last: a jitter can move
    a lot per step and end where it started, a slow drift the other way round.
    """
    mean, std = np.asarray(mean, dtype=np.float64), np.asarray(std, dtype=np.float64)
    if mean.ndim != 2 or mean.shape != std.shape or len(mean) < 2:
        raise ValueError(
            f"mean and std must be (steps >= 2, C) arrays, got {mean.shape}, {std.shape}"
        )
    std = np.maximum(std, 1e-12)
    return dict(
        mean_shift=float(np.mean(np.abs(np.diff(mean, axis=0)) / std[:-1])),
        scale_shift=float(np.mean(np.abs(np.diff(np.log(std), axis=0)))),
        drift=float(np.mean(np.abs(mean[-1] - mean[0]) / std[0])),
        spread_drift=float(np.mean(np.abs(np.log(std[-1] / std[0])))),
    )


def train_mode_accuracy(model, x, y, batch_sizes, seed=0, device=None):
    """Accuracy of ``model`` on ``(x, y)`` run in *training* mode, so that every batch norm uses
    the statistics of the batch at hand, with random batches of each size in ``batch_sizes``.

    The examples are shuffled once and cut into batches (a remainder too small to fill one is
    dropped). Works on a copy: the model's running statistics are left alone. Returns
    ``{batch_size: accuracy}``.
    """
    from dlbook.devices import resolve

    device = resolve(device)
    probe = copy.deepcopy(model).to(device).train()
    x = torch.as_tensor(x, dtype=torch.float32, device=device)
    y = torch.as_tensor(y, dtype=torch.long, device=device)
    order = torch.randperm(len(x), generator=seeding.generator(seed)).to(device)
    result = {}
    with torch.no_grad():
        for b in batch_sizes:
            if isinstance(b, bool) or not isinstance(b, numbers.Integral) or not 1 <= b <= len(x):
                raise ValueError(f"batch_sizes: each must be an int in [1, {len(x)}], got {b!r}")
            n = len(x) // b * b
            correct = sum(
                (probe(x[order[i : i + b]]).argmax(1) == y[order[i : i + b]]).sum().item()
                for i in range(0, n, b)
            )
            result[b] = correct / n
    return result


def recalibrate(model, x, batch_size=64, device=None):
    """A copy of ``model`` whose batch norms' running statistics are recomputed with its final
    weights: reset, then the plain average (``momentum=None``) of the statistics of every batch of
    ``x``, one pass in training mode without gradients. This is the population estimate of Ioffe &
    Szegedy's Algorithm 2; the running averages kept during training instead mix in statistics
    from weights that have since moved."""
    from dlbook.devices import resolve

    device = resolve(device)
    fresh = copy.deepcopy(model).to(device)
    norms = [m for m in fresh.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
        if isinstance(m, NoisyBatchNorm2d) and m.period is not None:
            m.hold = True  # the drift stays where training left it
    fresh.train()
    x = torch.as_tensor(x, dtype=torch.float32, device=device)
    with torch.no_grad():
        for i in range(0, len(x) - 1, batch_size):  # a last batch of one example is skipped
            fresh(x[i : i + batch_size])
    for m in norms:
        m.momentum = 0.1
        if isinstance(m, NoisyBatchNorm2d):
            m.hold = False
    return fresh.eval()


def running_stats(mean=2.0, std=3.0, batch_size=8, momentum=0.1, steps=100, seed=0):
    """Follow batch norm's running estimates over a stream of batches of one channel whose values
    are drawn from ``N(mean, std^2)``, using :func:`dlbook.scratch.batch_norm` (which updates
    them in place, as torch does, starting from 0 and 1).

    Returns a dict of ``(steps + 1,)`` arrays: ``running_mean``, ``running_var`` (torch's, with
    the unbiased batch variance) and ``running_var_biased`` (the same average of the biased
    batch variance, as some from-scratch versions keep it), plus the batch ``batch_mean``.
    """
    from dlbook.scratch import batch_norm

    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral):
        raise ValueError(f"batch_size must be an int >= 2, got {batch_size!r}")
    if batch_size < 2:
        raise ValueError(f"batch_size must be an int >= 2, got {batch_size!r}")
    if not 0 <= momentum <= 1:
        raise ValueError(f"momentum must be in [0, 1], got {momentum!r}")
    rng = seeding.rng(seed)
    rm, rv, rv_biased = np.zeros(1), np.ones(1), 1.0
    out = {k: [v] for k, v in (("running_mean", 0.0), ("running_var", 1.0))}
    out |= {"running_var_biased": [1.0], "batch_mean": [np.nan]}
    for _ in range(steps):
        x = rng.normal(mean, std, size=(batch_size, 1))
        batch_norm(x, rm, rv, training=True, momentum=momentum)
        rv_biased = (1 - momentum) * rv_biased + momentum * x.var()
        out["running_mean"].append(rm[0])
        out["running_var"].append(rv[0])
        out["running_var_biased"].append(rv_biased)
        out["batch_mean"].append(x.mean())
    return {k: np.array(v) for k, v in out.items()}


# --- the from-scratch batch norm against torch's, for dlbook.verify.compare ---------------------
# Each takes the NumPy generator ``rng`` that draws its data and returns ``{name: (ours, theirs)}``.

QUANTITIES = ("output", "grad input", "grad weight", "grad bias", "running mean", "running var")


def layer_vs_torch(rng, channels=3, momentum=0.2, steps=3):
    """:class:`dlbook.scratch.BatchNorm2d` against ``nn.BatchNorm2d`` in float64, with the same
    random weight and bias: ``steps`` training steps on ``(4, channels, 5, 5)`` batches whose mean
    and spread change from step to step, then one step in evaluation mode on a fresh batch.

    Every step is a forward and a backward pass of a random ``grad_output`` through both layers.
    Training: each of :data:`QUANTITIES`, stacked over the steps. Evaluation: the output and the
    three gradients."""
    from dlbook.scratch import BatchNorm2d

    c = channels
    ours = BatchNorm2d(c, momentum=momentum, dtype=np.float64)
    theirs = nn.BatchNorm2d(c, momentum=momentum, dtype=torch.float64)
    ours.weight[...], ours.bias[...] = rng.normal(1.0, 0.5, c), rng.normal(0.0, 0.5, c)
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(ours.weight))
        theirs.bias.copy_(torch.from_numpy(ours.bias))

    def step(x):  # (ours, theirs), each a list in the order of QUANTITIES
        g = rng.standard_normal(x.shape)
        xt = torch.tensor(x, requires_grad=True)
        theirs.zero_grad()
        yt = theirs(xt)
        yt.backward(torch.from_numpy(g))
        y, gx = ours(x), ours.backward(g)
        stats = [ours.running_mean.copy(), ours.running_var.copy()]
        stats_t = [theirs.running_mean.clone(), theirs.running_var.clone()]
        return [y, gx, *ours.grads, *stats], [
            yt,
            xt.grad,
            theirs.weight.grad,
            theirs.bias.grad,
            *stats_t,
        ]

    runs = [step(rng.normal(2.0 * k, 1.0 + k, (4, c, 5, 5))) for k in range(steps)]
    checks = {
        f"{steps} training steps: {name}": (
            np.stack([r[0][i] for r in runs]),
            torch.stack([r[1][i] for r in runs]),
        )
        for i, name in enumerate(QUANTITIES)
    }
    ours.eval(), theirs.eval()
    ev = step(rng.normal(3.0, 2.0, (4, c, 5, 5)))
    return checks | {f"evaluation: {n}": (ev[0][i], ev[1][i]) for i, n in enumerate(QUANTITIES[:4])}


def functional_vs_torch(rng, shapes=((6, 5), (6, 5, 7)), momentum=0.3):
    """:func:`dlbook.scratch.batch_norm` against ``F.batch_norm`` on inputs of each of ``shapes``
    (``(N, C)`` or ``(N, C, L)``), with running statistics starting at 0 and 1: the output in
    training mode and the running statistics it updates in place, then the output in evaluation
    mode with those statistics."""
    import torch.nn.functional as F

    from dlbook.scratch import batch_norm

    checks = {}
    for shape in shapes:
        x, c = rng.normal(1.0, 2.0, shape), shape[1]
        rm, rv = np.zeros(c), np.ones(c)
        rmt, rvt = torch.zeros(c, dtype=torch.float64), torch.ones(c, dtype=torch.float64)
        y_tr = batch_norm(x, rm, rv, training=True, momentum=momentum)
        yt_tr = F.batch_norm(torch.from_numpy(x), rmt, rvt, training=True, momentum=momentum)
        y_ev = batch_norm(x, rm, rv, training=False)
        yt_ev = F.batch_norm(torch.from_numpy(x), rmt, rvt, training=False)
        checks |= {
            f"F.batch_norm {shape}, training: output": (y_tr, yt_tr),
            f"F.batch_norm {shape}, training: running mean, var": (
                np.r_[rm, rv],
                torch.cat([rmt, rvt]),
            ),
            f"F.batch_norm {shape}, evaluation: output": (y_ev, yt_ev),
        }
    return checks


def cumulative_vs_torch(rng, channels=3, steps=4):
    """``momentum=None``: the running statistics are the plain average of all the batches so far.
    :class:`dlbook.scratch.BatchNorm2d` against ``nn.BatchNorm2d`` after ``steps`` training
    batches of ``(3, channels, 4, 4)`` whose mean and spread change from batch to batch."""
    from dlbook.scratch import BatchNorm2d

    ours = BatchNorm2d(channels, momentum=None, dtype=np.float64)
    theirs = nn.BatchNorm2d(channels, momentum=None, dtype=torch.float64)
    for k in range(steps):
        x = rng.normal(k, 1.0 + k, (3, channels, 4, 4))
        ours(x), theirs(torch.from_numpy(x))
    return {
        f"momentum=None, {steps} steps: running mean, var": (
            np.r_[ours.running_mean, ours.running_var],
            torch.cat([theirs.running_mean, theirs.running_var]),
        )
    }


def naive_vs_torch(rng, channels=3):
    """:func:`dlbook.scratch.batch_norm_naive`, the loop version, in training mode against
    ``F.batch_norm`` on a ``(4, channels, 5, 5)`` batch with random weight and bias: the output
    and the running statistics it updates, in one row."""
    import torch.nn.functional as F

    from dlbook.scratch import batch_norm_naive

    x = rng.normal(1.0, 2.0, (4, channels, 5, 5))
    w, b = rng.normal(1.0, 0.5, channels), rng.normal(0.0, 0.5, channels)
    rm, rv = np.zeros(channels), np.ones(channels)
    rmt, rvt = (torch.full((channels,), v, dtype=torch.float64) for v in (0.0, 1.0))
    y = batch_norm_naive(x, rm, rv, w, b, training=True)
    xt, wt, bt = (torch.from_numpy(a) for a in (x, w, b))
    yt = F.batch_norm(xt, rmt, rvt, wt, bt, training=True)
    return {
        "batch_norm_naive, training: output and running stats": (
            np.r_[y.ravel(), rm, rv],
            torch.cat([yt.ravel(), rmt, rvt]),
        )
    }


def final_accuracies(sweep, norm, lr, key="test_acc"):
    """The final accuracies (%) of the seeds' runs in an :func:`lr_sweep` for one network
    (``norm``) and learning rate, in the order of the sweep; ``key`` is ``"test_acc"`` or
    ``"recalibrated_acc"``."""
    found = [r[key] for r in sweep if r["norm"] == norm and r["lr"] == lr]
    if not found:
        raise ValueError(f"no runs with norm={norm!r} and lr={lr!r} in the sweep")
    return 100 * np.array(found)


# --- the write-it-yourself exercise: batch norm's backward pass in training mode ----------------


def check_batch_norm_backward(fn) -> Report:
    """Hold the reader's ``fn(grad_output, input, weight, eps=1e-5)``, the gradients of
    training-mode batch norm, to :func:`dlbook.scratch.batch_norm_backward`, and say in words
    what is wrong.

    The cases catch the usual mistakes: the third term (the path through the variance)
    forgotten; the statistics taken over the batch axis alone for an image batch (they run over
    N, H and W); the unbiased variance where the biased one belongs; ``weight`` not multiplied
    into the input gradient; a float64 result for a float32 input.

    Shapes:
        fn: (grad_output (N, C) or (N, C, H, W), input of the same shape, weight (C,), eps)
            -> (grad_input like input, grad_weight (C,), grad_bias (C,)); returns a Report
    Formula:
        grad_input = weight / sqrt(var + eps) (g - mean(g) - x_hat mean(g x_hat)),
        grad_weight = sum(g x_hat), grad_bias = sum(g), sums and means over all axes but C
    Torch:
        autograd through torch.nn.functional.batch_norm (training=True)
    """
    from dlbook.scratch import batch_norm_backward  # here: the chapter module stays light

    rng = np.random.default_rng(21)  # fixed, not DLBOOK_SEED: one report everywhere

    def inputs(shape, dtype=np.float64, scale=2.0, shift=1.0):
        x = (shift + scale * rng.standard_normal(shape)).astype(dtype)
        g = rng.standard_normal(shape).astype(dtype)
        return g, x, rng.normal(1.0, 0.5, shape[1]).astype(dtype)

    cases = [
        Case(inputs((6, 3)), {}, "(N, C) = (6, 3)"),
        Case(inputs((4, 3, 5, 5)), {}, "an image batch (4, 3, 5, 5)"),
        Case(inputs((2, 5, 3, 4), shift=-3.0, scale=0.5), dict(eps=1e-3), "eps = 1e-3"),
        Case(inputs((5, 2, 3, 3), np.float32), {}, "float32 in, float32 out"),
    ]

    def reference(grad_output, input, weight, eps=1e-5):
        # Computed in float64 and rounded to the input's dtype, so that torch's float64 twin
        # holds the same numbers.
        as64 = [a.astype(np.float64) for a in (grad_output, input, weight)]
        grads = batch_norm_backward(as64[0], as64[1], None, None, as64[2], np.zeros_like(as64[2]),
                                    training=True, eps=eps)  # fmt: skip
        return tuple(gr.astype(input.dtype) for gr in grads)

    def torch_twin(grad_output, input, weight, eps=1e-5):
        x = torch.tensor(input, dtype=torch.float64, requires_grad=True)
        w = torch.tensor(weight, dtype=torch.float64, requires_grad=True)
        b = torch.zeros_like(w, requires_grad=True)
        out = torch.nn.functional.batch_norm(x, None, None, w, b, training=True, eps=eps)
        out.backward(torch.as_tensor(grad_output, dtype=torch.float64))
        return tuple(t.grad.numpy().astype(input.dtype) for t in (x, w, b))

    return check(fn, reference, cases, name="batch_norm_backward",
                 outputs=("grad_input", "grad_weight", "grad_bias"), torch_twin=torch_twin,
                 atol=1e-5, rtol=1e-5)  # fmt: skip
