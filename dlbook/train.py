"""One PyTorch fit loop for the whole book.

:func:`fit` puts the model and the data on a device, seeds everything, trains with cross-entropy
and records loss and accuracy after every epoch in a :class:`History`. Options, all off by
default so that early chapters see the plain loop:

* ``progress=True``: a tqdm bar (a notebook widget in Jupyter, plain text in a terminal);
* ``val_fraction``: hold out part of the training set, and watch it;
* ``patience``: early stopping on the validation loss (or the test loss when there is no
  validation set), restoring the best weights;
* ``clip_grad_norm`` / ``clip_grad_value``: gradient clipping;
* ``augment``: a callable applied to every training batch (e.g. :class:`dlbook.data.augment.
  Augment`);
* ``eval_train=False``: skip the pass over the whole training set after each epoch, and record
  instead the running mean of the batch losses and accuracies seen during the epoch (cheaper;
  measured while the weights move, with dropout and augmentation on);
* ``callback(epoch, model)``: called after every epoch (1-based), as in
  :func:`dlbook.scratch.fit.fit`;
* ``checkpoint``: a file that always holds the best weights so far, written with
  :func:`save_checkpoint` and read back with :func:`load_checkpoint` (``weights_only=True``).

Recurrent networks trained on one long sequence use :func:`train_tbptt` instead, truncated
backpropagation through time with the same clipping options; it is the PyTorch twin of
:func:`dlbook.scratch.train_tbptt`.

Both, and every experiment that needs what :func:`fit` does not do (another loss, a regression
target, a record at every step, a learning rate that changes step by step), run the same inner
loop, :func:`train_steps`: loss, gradient, clipping, step, one batch at a time, handing control
back after every step. :func:`shuffled_batches` draws one epoch's seeded minibatches.
"""

from __future__ import annotations

import copy
import math
import os
import time

import numpy as np

from dlbook import seeding
from dlbook.history import History

__all__ = [
    "History",
    "seed_everything",
    "evaluate",
    "fit",
    "train_steps",
    "shuffled_batches",
    "make_optimizer",
    "as_tensors",
    "save_checkpoint",
    "load_checkpoint",
    "train_tbptt",
]


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch with ``seed + DLBOOK_SEED`` (:mod:`dlbook.seeding`), so that a
    run can be repeated exactly on one machine and re-run on other draws."""
    np.random.seed(seeding.seed(seed))
    seeding.manual_seed(seed)


def as_tensors(x, y, device):
    """``(x, y)`` as a float32 input tensor and an int64 label tensor on ``device``."""
    import torch

    return torch.as_tensor(x, dtype=torch.float32, device=device), torch.as_tensor(
        y, dtype=torch.long, device=device
    )


def evaluate(model, x, y, device=None, batch_size: int = 512) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` on ``(x, y)``, in evaluation mode."""
    import torch
    import torch.nn.functional as F

    from dlbook.devices import resolve

    if len(x) == 0:
        raise ValueError("x: cannot evaluate on an empty set")
    device = resolve(device)
    was_training = model.training
    model.eval()
    total_loss, correct = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            batch = slice(start, start + batch_size)
            xb, yb = as_tensors(x[batch], y[batch], device)
            logits = model(xb)
            total_loss += F.cross_entropy(logits, yb, reduction="sum").item()
            correct += (logits.argmax(1) == yb).sum().item()
    model.train(was_training)
    return total_loss / len(x), correct / len(x)


def save_checkpoint(path, model, epoch: int | None = None, history: History | None = None):
    """Write the model's weights (and, optionally, the epoch and the history so far) to ``path``,
    atomically: a reader never finds half a file."""
    import torch

    state = {"model": model.state_dict(), "epoch": epoch}
    if history is not None:
        state["history"] = [dict(r) for r in history.rows]
    tmp = f"{os.fspath(path)}.tmp"
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path, model=None, device=None) -> dict:
    """Read a checkpoint with ``torch.load(..., weights_only=True)``, which unpickles tensors and
    plain containers only, never arbitrary objects. Loads the weights into ``model`` if given."""
    import torch

    state = torch.load(path, map_location=device or "cpu", weights_only=True)
    if model is not None:
        model.load_state_dict(state["model"])
    return state


def make_optimizer(optimizer, params, lr, weight_decay=0.0):
    """The ``torch.optim`` optimizer that ``optimizer`` names: ``"adam"``, ``"adamw"``, ``"sgd"``
    (momentum 0.9), each with ``lr`` and ``weight_decay``, or a callable ``params -> optimizer``
    (which sets its own learning rate)."""
    import torch

    if optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if optimizer == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)
    if callable(optimizer):  # e.g. lambda p: torch.optim.RMSprop(p, lr=1e-3)
        return optimizer(params)
    raise ValueError(
        f"optimizer must be 'adam', 'adamw', 'sgd' or a callable params -> optimizer, "
        f"got {optimizer!r}"
    )


def _check(name, value, low, high=math.inf, allow_none=True):
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value < high:
        raise ValueError(f"{name} must be a number in [{low}, {high}), got {value!r}")


def _check_clip(**limits):
    for name, v in limits.items():
        if v is not None and not v > 0:
            raise ValueError(f"{name} must be > 0 or None, got {v!r}")


def shuffled_batches(n: int, batch_size: int, generator, device=None, drop_last: bool = False):
    """One epoch of minibatches: the index tensors of a shuffle of ``range(n)`` drawn from the
    ``torch.Generator`` ``generator`` (on the CPU, so a run draws the same batches on every
    device), cut into slices of ``batch_size``, moved to ``device``. The last, smaller batch is
    kept unless ``drop_last``. The shuffle is drawn when the first batch is asked for."""
    import torch

    order = torch.randperm(n, generator=generator).to(device)
    end = n // batch_size * batch_size if drop_last else n
    for i in range(0, end, batch_size):
        yield order[i : i + batch_size]


def train_steps(loss_fn, optimizer, batches, *, clip_grad_norm=None, clip_grad_value=None,
                before_step=None):  # fmt: skip
    """The book's inner loop, which :func:`fit`, :func:`train_tbptt` and the experiments share:
    for each ``batch`` of ``batches``, the loss ``loss_fn(batch)`` (a scalar tensor), its
    gradient, then one step of ``optimizer``.

    Before the step, the gradients of the optimizer's parameters are clipped by value
    (``clip_grad_value``), then by norm (``clip_grad_norm``; ``math.inf`` measures the norm
    without clipping), and ``before_step()`` is called if given (e.g. to read a gradient).
    A generator: it yields ``(loss, grad_norm)`` after every step, the loss detached and the
    norm before clipping (None without ``clip_grad_norm``), so that the caller can record,
    evaluate, change the learning rate or stop between steps. ``batches`` is read lazily, one
    batch per step, and may be any iterable: index tensors, ``range(steps)``, tuples.
    """
    import torch

    _check_clip(clip_grad_norm=clip_grad_norm, clip_grad_value=clip_grad_value)
    params = [p for group in optimizer.param_groups for p in group["params"]]
    for batch in batches:
        loss = loss_fn(batch)
        optimizer.zero_grad()
        loss.backward()
        if clip_grad_value is not None:
            torch.nn.utils.clip_grad_value_(params, clip_grad_value)
        norm = None
        if clip_grad_norm is not None:
            norm = torch.nn.utils.clip_grad_norm_(params, clip_grad_norm)
        if before_step is not None:
            before_step()
        optimizer.step()
        yield loss.detach(), norm


def _split_validation(data, val_fraction, seed):
    """Carve a validation set off the end of a seeded shuffle of the training set."""
    n = len(data.x_train)
    n_val = int(round(n * val_fraction))
    if not 0 < n_val < n:
        raise ValueError(f"val_fraction={val_fraction} leaves no validation or no training data")
    order = seeding.rng(seed).permutation(n)
    tr, va = order[: n - n_val], order[n - n_val :]
    return (data.x_train[tr], data.y_train[tr]), (data.x_train[va], data.y_train[va])


def fit(
    model,
    data,
    epochs: int = 10,
    lr: float = 1e-3,
    batch_size: int = 64,
    optimizer="adam",
    weight_decay: float = 0.0,
    device=None,
    seed: int = 0,
    *,
    progress: bool = False,
    val_fraction: float = 0.0,
    patience: int | None = None,
    clip_grad_norm: float | None = None,
    clip_grad_value: float | None = None,
    checkpoint=None,
    augment=None,
    eval_train: bool = True,
    callback=None,
):
    """Train ``model`` with cross-entropy on ``data`` (a :class:`dlbook.data.Split`).

    ``optimizer`` is ``"adam"``, ``"adamw"``, ``"sgd"`` (momentum 0.9) or a callable that takes
    the parameters and returns a ``torch.optim`` optimizer. See the module docstring for the
    options. Returns a :class:`History`; with ``patience`` the model ends with its best weights.
    """
    import torch.nn.functional as F

    from dlbook.devices import resolve

    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be an int >= 1, got {epochs!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    _check("val_fraction", val_fraction, 0.0, 1.0, allow_none=False)
    if patience is not None and (not isinstance(patience, int) or patience < 1):
        raise ValueError(f"patience must be an int >= 1 or None, got {patience!r}")
    _check_clip(clip_grad_norm=clip_grad_norm, clip_grad_value=clip_grad_value)
    device = resolve(device)
    seed_everything(seed)
    model.to(device)
    opt = make_optimizer(optimizer, model.parameters(), lr, weight_decay)
    if val_fraction:
        (xt, yt), val = _split_validation(data, val_fraction, seed)
    else:
        (xt, yt), val = (data.x_train, data.y_train), None
    x_train, y_train = as_tensors(xt, yt, device)
    watch = "val_loss" if val is not None else "test_loss"
    generator = seeding.generator(seed)
    clip = dict(clip_grad_norm=clip_grad_norm, clip_grad_value=clip_grad_value)
    history, best, best_state, waited = History(), math.inf, None, 0
    seen = [0.0, 0]  # with eval_train=False: the epoch's summed batch loss and hits so far

    def batch_loss(idx):
        xb = x_train[idx] if augment is None else augment(x_train[idx])
        logits = model(xb)
        loss = F.cross_entropy(logits, y_train[idx])
        if not eval_train:
            seen[0] += loss.item() * len(idx)
            seen[1] += (logits.argmax(1) == y_train[idx]).sum().item()
        return loss

    bar = _progress_bar(epochs, progress)
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        model.train()
        seen[:] = [0.0, 0]
        batches = shuffled_batches(len(x_train), batch_size, generator, device)
        for _ in train_steps(batch_loss, opt, batches, **clip):
            pass
        row = {}
        if eval_train:
            row["train_loss"], row["train_acc"] = evaluate(model, xt, yt, device)
        else:
            row["train_loss"], row["train_acc"] = seen[0] / len(xt), seen[1] / len(xt)
        if val is not None:
            row["val_loss"], row["val_acc"] = evaluate(model, *val, device)
        row["test_loss"], row["test_acc"] = evaluate(model, data.x_test, data.y_test, device)
        row["seconds"] = time.perf_counter() - start
        history.rows.append(row)
        if callback is not None:  # e.g. record the filters after every epoch
            callback(epoch, model)
        if bar is not None:
            bar.set_postfix(loss=f"{row['train_loss']:.3f}", acc=f"{row[watch[:-4] + 'acc']:.3f}")
            bar.update()
        if patience is None and checkpoint is None:
            continue
        if row[watch] < best:
            best, waited, history.best_epoch = row[watch], 0, epoch
            best_state = copy.deepcopy(model.state_dict())
            if checkpoint is not None:
                save_checkpoint(checkpoint, model, epoch, history)
        else:
            waited += 1
            if patience is not None and waited >= patience:
                history.stopped_early = epoch < epochs
                break
    if bar is not None:
        bar.close()
    if patience is not None and best_state is not None:
        model.load_state_dict(best_state)
    return history


def _progress_bar(epochs, progress):
    if not progress:
        return None
    from tqdm.auto import tqdm  # a widget in Jupyter, text elsewhere

    return tqdm(total=epochs, unit="epoch", desc="fit")


def _detach_state(state):
    if state is None:
        return None
    if isinstance(state, tuple):  # an LSTM's (h, c)
        return tuple(s.detach() for s in state)
    return state.detach()


def train_tbptt(model, readout, optimizer, inputs, targets, length, *, max_norm=None,
                clip_value=None, state=None):  # fmt: skip
    """One pass of truncated backpropagation through time, predicting a class at every step;
    the PyTorch twin of :func:`dlbook.scratch.train_tbptt`, with the same arguments.

    ``model`` is a sequence-first ``nn.RNN``, ``nn.LSTM`` or ``nn.GRU``; ``readout`` a module
    from its outputs ``(..., directions * H)`` to class scores; ``optimizer`` a ``torch.optim``
    optimizer over both. ``inputs`` ``(T, N, D)`` (a float tensor) and ``targets`` ``(T, N)``
    (integer class indices) are cut into chunks of ``length`` steps. Each chunk starts from the
    previous chunk's final state, *detached*: the forward pass carries the memory across chunks,
    but the backward pass stops at the chunk's first step. Gradients are clipped by value
    (``clip_value``), then by norm (``max_norm``), before each step.

    Returns ``(losses, grad_norms, state)``: the mean cross-entropy of each chunk (floats), the
    gradient norm of each chunk before norm clipping, and the final state, detached.
    """
    import torch
    import torch.nn.functional as F

    if isinstance(length, bool) or not isinstance(length, int) or length < 1:
        raise ValueError(f"length must be an int >= 1, got {length!r}")
    _check_clip(max_norm=max_norm, clip_value=clip_value)
    if not isinstance(inputs, torch.Tensor) or inputs.dim() != 3:
        raise ValueError(
            f"inputs must be a (T, N, D) tensor, got {getattr(inputs, 'shape', inputs)!r}"
        )
    if not isinstance(targets, torch.Tensor) or tuple(targets.shape) != tuple(inputs.shape[:2]):
        raise ValueError(
            f"targets must be a (T, N) tensor matching inputs {tuple(inputs.shape[:2])}, "
            f"got {getattr(targets, 'shape', targets)!r}"
        )
    if getattr(model, "batch_first", False):
        raise ValueError(
            "model must be sequence-first (batch_first=False), as inputs are (T, N, D)"
        )
    model.train()
    readout.train()

    def chunk_loss(start):
        nonlocal state
        x, y = inputs[start : start + length], targets[start : start + length]
        out, state = model(x, _detach_state(state))
        logits = readout(out.reshape(-1, out.shape[-1]))
        return F.cross_entropy(logits, y.reshape(-1))

    losses, norms = [], []
    chunks = range(0, inputs.shape[0], length)
    limit = math.inf if max_norm is None else max_norm
    for loss, norm in train_steps(chunk_loss, optimizer, chunks, clip_grad_norm=limit,
                                  clip_grad_value=clip_value):  # fmt: skip
        losses.append(loss.item())
        norms.append(float(norm))
    return losses, norms, _detach_state(state)
