"""The AlexNet and VGG chapter's experiments.

* :func:`local_response_norm` is AlexNet's local response normalization in NumPy, with
  ``torch.nn.functional.local_response_norm``'s arguments; :func:`check_local_response_norm`
  holds a reader's version, written with the *paper's* constants, to it.
* :func:`scratch_block` copies a torch :func:`~dlbook.nets.vgg_block` into
  :mod:`dlbook.scratch` layers, to check the NumPy forward and backward against torch.
* :func:`stack_cost` is the arithmetic of VGG's argument: ``n`` stacked ``k x k`` convolutions
  against one large kernel with the same receptive field.
* :func:`train_runs` trains several networks on the same data and seeds with
  :func:`dlbook.train.fit`, recording the first layer's filters after every epoch;
  :func:`epochs_to` reads off when a run first reached a training error;
  :func:`summarize_runs` collects the runs per network.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from dlbook.exercise import Case, Report, check

__all__ = [
    "local_response_norm",
    "check_local_response_norm",
    "scratch_block",
    "stack_cost",
    "kaiming_init",
    "train_runs",
    "epochs_to",
    "summarize_runs",
]


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """Local response normalization across channels, as ``torch.nn.functional.
    local_response_norm``: each value is divided by a power of the mean square of its ``size``
    neighbouring channels (zero beyond the first and last channel).

    Shapes:
        input: (N, C, ...) ; returns: the same shape and dtype
    Formula:
        out[n, c] = x[n, c] / (k + alpha / size * sum_{c' = c - size//2}^{c + (size-1)//2}
        x[n, c']^2)^beta ; the paper's alpha is torch's alpha / size
    Torch:
        torch.nn.functional.local_response_norm
    """
    x = np.asarray(input)
    if x.ndim < 3:
        raise ValueError(f"input must have at least 3 dimensions (N, C, ...), got {x.ndim}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be a positive int, got {size!r}")
    sq = x * x
    pad = [(0, 0)] * x.ndim
    pad[1] = (size // 2, (size - 1) // 2)
    csum = np.cumsum(np.pad(sq, pad), axis=1)
    csum = np.concatenate([np.zeros_like(csum[:, :1]), csum], axis=1)
    window = csum[:, size:] - csum[:, :-size]  # the sum of `size` padded channels
    return (x / (k + alpha / size * window) ** beta).astype(x.dtype, copy=False)


def check_local_response_norm(fn) -> Report:
    """Exercise: ``fn(a, n=5, k=2.0, alpha=1e-4, beta=0.75)``, AlexNet's normalization written
    with the paper's formula, ``b[c] = a[c] / (k + alpha * sum of the n neighbouring a^2)^beta``,
    checked against torch's ``local_response_norm`` with ``alpha * n`` on fixed random inputs."""
    import torch.nn.functional as F

    rng = np.random.default_rng(6)

    def paper(a, n=5, k=2.0, alpha=1e-4, beta=0.75):
        return local_response_norm(a, n, alpha * n, beta, k)

    def twin(a, n=5, k=2.0, alpha=1e-4, beta=0.75):
        return F.local_response_norm(torch.from_numpy(a), n, alpha * n, beta, k).numpy()

    cases = [
        Case((10 * rng.standard_normal((2, 8, 3, 3)),), {}, "the paper's constants"),
        Case(
            (rng.standard_normal((1, 6, 2, 2)),),
            dict(n=3, k=1.0, alpha=0.5, beta=0.5),
            "n = 3, alpha = 0.5",
        ),  # fmt: skip
        Case(
            (rng.standard_normal((1, 4, 2, 2)),),
            dict(n=5, k=1.0, alpha=1.0, beta=1.0),
            "a window wider than the channels",
        ),  # fmt: skip
        Case(
            (rng.standard_normal((2, 5, 2, 3)).astype(np.float32),),
            dict(alpha=0.1),
            "float32 input",
        ),  # fmt: skip
    ]
    return check(fn, paper, cases, name="local response normalization (the paper's formula)",
                 torch_twin=twin, twin_atol=1e-6, twin_rtol=1e-5, atol=1e-6, rtol=1e-5)  # fmt: skip


def scratch_block(block: nn.Sequential, dtype=np.float64):
    """A :mod:`dlbook.scratch` copy of a torch :func:`~dlbook.nets.vgg_block` (convolutions,
    ReLUs, max pools), holding the same weights (as ``dtype``): the NumPy twin whose forward and
    backward the chapter checks against torch's."""
    from dlbook.scratch import layers as L

    out = []
    for m in block:
        if isinstance(m, nn.Conv2d):
            conv = L.Conv2d(m.in_channels, m.out_channels, m.kernel_size, stride=m.stride,
                            padding=m.padding, dtype=dtype)  # fmt: skip
            conv.weight[...] = m.weight.detach().cpu().double().numpy()
            conv.bias[...] = m.bias.detach().cpu().double().numpy()
            out.append(conv)
        elif isinstance(m, nn.ReLU):
            out.append(L.ReLU())
        elif isinstance(m, nn.MaxPool2d):
            out.append(L.MaxPool2d(m.kernel_size, m.stride))
        else:
            raise ValueError(f"block: no scratch twin for {type(m).__name__}")
    return L.Sequential(*out)


def stack_cost(channels: int, kernel_size: int = 3, num_convs: int = 1, size: int = 1) -> dict:
    """The cost of ``num_convs`` stacked ``kernel_size`` convolutions from ``channels`` to
    ``channels`` channels (stride 1, "same" padding, no biases) on a ``size x size`` map.

    Returns ``field`` = 1 + n (k - 1) (the receptive field of one output unit), ``params``
    = n k^2 C^2 and ``mult_adds`` = n k^2 C^2 size^2 (per image).
    """
    for name, v in (("channels", channels), ("kernel_size", kernel_size),
                    ("num_convs", num_convs), ("size", size)):  # fmt: skip
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    params = num_convs * kernel_size**2 * channels**2
    return dict(field=1 + num_convs * (kernel_size - 1), params=params,
                mult_adds=params * size * size)  # fmt: skip


def kaiming_init(model: nn.Module) -> nn.Module:
    """Re-draw every convolution's and linear layer's weights with Kaiming (He) initialization
    for ReLU, ``N(0, 2 / fan_in)``, and zero their biases, in place; returns ``model``. PyTorch's
    default draws with variance ``1 / (3 fan_in)``, six times smaller, under which a deep ReLU
    network's signal shrinks at every layer."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return model


def train_runs(builders: dict, data, seeds=(0,), epochs=5, lr=0.01, batch_size=64,
               optimizer="sgd", device=None, eval_train=False):  # fmt: skip
    """Train every network of ``builders`` (name -> function returning a fresh model) on ``data``
    for every seed, with :func:`dlbook.train.fit` (same seed: same initial draw and batches).

    The first convolution's weights are recorded before training and after every epoch.
    Returns one dict per run: ``name``, ``seed``, ``history``, ``model`` and ``filters``, an
    array ``(epochs + 1, C_out, C_in, k, k)``. ``eval_train=False`` records the training loss and
    accuracy of the batches as they were seen (dropout on), which costs no extra pass.
    """
    from dlbook.train import fit, seed_everything

    rows = []
    for name, build in builders.items():
        for seed in seeds:
            seed_everything(seed)
            model = build()
            first = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
            filters = [first.weight.detach().cpu().numpy().copy()]

            def record(_epoch, _model, first=first, filters=filters):
                filters.append(first.weight.detach().cpu().numpy().copy())

            history = fit(model, data, epochs=epochs, lr=lr, batch_size=batch_size,
                          optimizer=optimizer, device=device, seed=seed, eval_train=eval_train,
                          callback=record)  # fmt: skip
            rows.append(dict(name=name, seed=seed, history=history, model=model,
                             filters=np.stack(filters)))  # fmt: skip
    return rows


def epochs_to(history, error: float) -> float:
    """The first epoch (from 1) whose training error ``1 - train_acc`` is at most ``error``,
    interpolated linearly from the epoch before (1 if the first epoch reaches it; ``inf`` if no
    epoch does)."""
    err = np.array([1 - r["train_acc"] for r in history.rows])
    hit = np.flatnonzero(err <= error)
    if not hit.size:
        return float("inf")
    i = int(hit[0])
    if i == 0:
        return 1.0
    return float(i + (err[i - 1] - error) / (err[i - 1] - err[i]))


def summarize_runs(rows, error=None) -> dict:
    """The runs of :func:`train_runs` per network name, one entry per seed (sorted by seed):
    ``seeds``, the final ``train_loss``, ``train_acc`` and ``test_acc`` (%), ``mean_error``, the
    training error (%) averaged over the epochs (the area under the curve), and with ``error``
    the ``epochs`` to reach that training error (:func:`epochs_to`)."""
    if not rows:
        raise ValueError("rows: no runs to summarize")
    out = {}
    for name in dict.fromkeys(r["name"] for r in rows):
        runs = sorted((r for r in rows if r["name"] == name), key=lambda r: r["seed"])
        hs = [r["history"] for r in runs]
        s = dict(
            seeds=[r["seed"] for r in runs],
            train_loss=np.array([h.final["train_loss"] for h in hs]),
            train_acc=np.array([100 * h.final["train_acc"] for h in hs]),
            test_acc=np.array([100 * h.final["test_acc"] for h in hs]),
            mean_error=np.array([100 * (1 - np.mean(h["train_acc"])) for h in hs]),
        )
        if error is not None:
            s["epochs"] = np.array([epochs_to(h, error) for h in hs])
        out[name] = s
    return out
