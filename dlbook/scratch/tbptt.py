r"""Training a recurrent network over long sequences: gradient clipping and truncated BPTT.

:func:`clip_grad_norm_` and :func:`clip_grad_value_` mirror ``torch.nn.utils``'s functions on a
list of NumPy gradients (clipped in place). :func:`train_tbptt` cuts long sequences into chunks
(:func:`tbptt_batches`), carries the state across chunks and stops each backward pass at the
chunk's first step; :func:`dlbook.train.train_tbptt` is its PyTorch twin.
"""

from __future__ import annotations

import math

import numpy as np

from dlbook import checks
from dlbook.checks import check_int
from dlbook.scratch.losses import cross_entropy, cross_entropy_backward

__all__ = ["clip_grad_norm_", "clip_grad_value_", "tbptt_batches", "train_tbptt"]


# --- gradient clipping ----------------------------------------------------------------------------


def _grad_list(grads):
    grads = [grads] if isinstance(grads, np.ndarray) else list(grads)
    grads = [g for g in grads if g is not None]  # torch skips parameters without a gradient
    for g in grads:
        if not isinstance(g, np.ndarray) or not np.issubdtype(g.dtype, np.floating):
            raise TypeError(f"grads must be floating numpy arrays (clipped in place), got {g!r}")
    return grads


def clip_grad_norm_(grads, max_norm, norm_type=2.0, error_if_nonfinite=False):
    r"""Rescale ``grads`` in place so that their joint norm is at most ``max_norm``; as
    ``torch.nn.utils.clip_grad_norm_``, which takes the parameters where this takes their
    gradients (a list of arrays, or one array).

    The joint norm is the ``norm_type``-norm of all the entries together (``inf``: the largest
    magnitude). Every gradient is multiplied by :math:`\min(1, \text{max\_norm} / (\text{norm} +
    10^{-6}))`: the direction is kept, only the length is capped. Returns the norm before
    clipping, as a float. Recurrent networks need this when their gradients explode.

    Shapes:
        grads: a list of arrays of any shapes (or one array), changed in place
        returns: a float, the joint norm before clipping
    Formula:
        norm = ||(||g_1||_p, ||g_2||_p, ...)||_p; g_i *= min(1, max_norm / (norm + 1e-6))
    Torch:
        torch.nn.utils.clip_grad_norm_ (given the parameters, not their gradients)
    """
    grads, max_norm = _grad_list(grads), checks.real(max_norm, "max_norm")
    if max_norm < 0:
        raise ValueError(f"max_norm must be >= 0, got {max_norm}")
    p = float(norm_type)  # torch also takes the string 'inf'
    if not p > 0:
        raise ValueError(f"norm_type must be positive (or inf), got {norm_type!r}")
    if not grads:
        return 0.0
    norms = [np.max(np.abs(g), initial=0) if p == math.inf else np.linalg.norm(g.ravel(), p)
             for g in grads]  # fmt: skip
    norms = np.array(norms, dtype=grads[0].dtype)
    total = norms.max() if p == math.inf else np.linalg.norm(norms, p)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(
            f"the total norm of order {norm_type} of the gradients is {total}; "
            "pass error_if_nonfinite=False to clip anyway"
        )
    coef = min(max_norm / (float(total) + 1e-6), 1.0)
    for g in grads:
        g *= g.dtype.type(coef)
    return float(total)


def clip_grad_value_(grads, clip_value):
    """Clamp every gradient entry into ``[-clip_value, clip_value]``, in place. Unlike clipping
    by norm, this can turn the direction. Returns None.

    Shapes:
        grads: a list of arrays of any shapes (or one array), changed in place
    Formula:
        g_i = min(max(g_i, -clip_value), clip_value), entry by entry
    Torch:
        torch.nn.utils.clip_grad_value_ (given the parameters, not their gradients)
    """
    clip_value = checks.real(clip_value, "clip_value")
    if clip_value < 0:
        raise ValueError(f"clip_value must be >= 0, got {clip_value}")
    for g in _grad_list(grads):
        np.clip(g, -clip_value, clip_value, out=g)


# --- truncated backpropagation through time -------------------------------------------------------


def tbptt_batches(sequence, length):
    """Cut ``sequence`` along time into consecutive chunks of ``length`` steps (views; the last
    chunk may be shorter), yielded in order.

    Shapes:
        sequence: (T, ...)
        yields: (length, ...), the last (T - length * floor((T - 1) / length), ...)
    Formula:
        chunk k = sequence[k length : (k + 1) length]
    Torch:
        torch.Tensor.split(length) (along dim 0)
    """
    length = check_int(length, "length")
    for start in range(0, len(sequence), length):
        yield sequence[start : start + length]


def train_tbptt(model, readout, optimizer, inputs, targets, length, *, max_norm=None,
                clip_value=None, state=None):  # fmt: skip
    """One pass of truncated BPTT over long sequences, predicting a class at every step.

    ``model`` is an :class:`RNN`, :class:`LSTM` or :class:`GRU`; ``readout`` a layer (e.g.
    ``Linear(directions * H, C)``) from its outputs to class scores; ``optimizer`` holds
    ``model.params + readout.params``. ``inputs`` ``(T, N, D)`` and integer ``targets``
    ``(T, N)`` are cut into chunks of ``length`` steps. Each chunk starts from the previous
    chunk's final state, but its backward pass stops at the chunk's first step: the gradient of
    the initial state is dropped (that is the truncation; in NumPy there is no graph to
    detach). Gradients are clipped by value (``clip_value``), then by norm (``max_norm``),
    before each step.

    Returns ``(losses, grad_norms, state)``: the mean cross-entropy of each chunk, the gradient
    norm before norm clipping, and the final state (to continue from).

    Shapes:
        inputs: (T, N, D) or unbatched (T, D); targets: (T, N) or (T,), integer classes
        state: the model's state (None means zeros), as its forward takes it
        returns: (losses [float] * chunks, grad_norms [float] * chunks, final state)
    Formula:
        per chunk: loss = mean cross_entropy(readout(model(x, state.detached))), clip, step
    Torch:
        none (the usual torch loop: detach the carried state, loss.backward(), clip, step)
    """
    if getattr(model, "batch_first", False):
        raise ValueError(
            "train_tbptt cuts inputs along axis 0 (time): model must not be batch_first"
        )
    losses, norms = [], []
    for x, y in zip(tbptt_batches(inputs, length), tbptt_batches(targets, length)):
        out, state = model(x, state)
        logits, y = readout(out.reshape(-1, out.shape[-1])), y.reshape(-1)
        losses.append(float(cross_entropy(logits, y)))
        g = readout.backward(cross_entropy_backward(np.ones((), logits.dtype), logits, y))
        model.backward(g.reshape(out.shape))
        grads = model.grads + readout.grads
        if clip_value is not None:
            clip_grad_value_(grads, clip_value)
        norms.append(clip_grad_norm_(grads, math.inf if max_norm is None else max_norm))
        optimizer.step(grads)
    return losses, norms, state
