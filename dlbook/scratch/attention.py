r"""Scaled dot-product attention from scratch, forward and backward.

Every query asks every key how well it matches; the answers, softmaxed, weight the values:

.. math::
    \text{Attention}(Q, K, V) = \underbrace{\mathrm{softmax}\Big(\frac{Q K^\top}{\sqrt{E}}
        + M\Big)}_{A \;(L \times S)} V

with :math:`E` the query/key size and :math:`M` a mask: 0 where a query may attend, and
:math:`-\infty` where it may not. Dividing by :math:`\sqrt E` keeps the scores' variance near 1
for unit-variance queries and keys, so the softmax does not saturate. Mirrors
``torch.nn.functional.scaled_dot_product_attention`` (without dropout).

The backward pass is two matrix products and a softmax backward:

.. math:: \bar V = A^\top \bar O, \quad \bar A = \bar O V^\top, \quad
    \bar S = A \odot (\bar A - \textstyle\sum_j \bar A_{:j} A_{:j}), \quad
    \bar Q = \tfrac{1}{\sqrt E} \bar S K, \quad \bar K = \tfrac{1}{\sqrt E} \bar S^\top Q.

**A fully masked row** (a query allowed to see no key) gets all-zero weights, hence a zero
output and zero gradients, which is what torch 2.13 returns (its "safe softmax"); the plain
formula would give 0/0 = NaN.
"""

from __future__ import annotations

import math

import numpy as np

from dlbook.scratch import _args

__all__ = [
    "scaled_dot_product_attention",
    "scaled_dot_product_attention_backward",
    "scaled_dot_product_attention_naive",
    "attention_weights",
]


def _check_qkv(query, key, value=None):
    arrays = {"query": query, "key": key, "value": value}
    for name, a in arrays.items():
        if a is None:
            continue
        _args.any_float_array(a, name)
        _args.same_dtype(query, a, name)
        if a.ndim < 2:
            raise ValueError(f"{name} must be at least 2-D, (..., length, features), got {a.shape}")
    if key.shape[-1] != query.shape[-1]:
        raise ValueError(
            f"key must have the query's feature size E={query.shape[-1]} in its last "
            f"dimension, got key of shape {key.shape}"
        )
    if value is not None and value.shape[-2] != key.shape[-2]:
        raise ValueError(
            f"value must have as many rows as key (S={key.shape[-2]}), got value of shape "
            f"{value.shape}"
        )
    try:
        batch = np.broadcast_shapes(*(a.shape[:-2] for a in arrays.values() if a is not None))
    except ValueError:
        raise ValueError(
            "query, key and value: their batch dimensions (all but the last two) must "
            f"broadcast, got {query.shape}, {key.shape} and {getattr(value, 'shape', None)}"
        ) from None
    return batch


def _scale(scale, e):
    if scale is None:
        if e == 0:
            raise ValueError("query must have a feature size E >= 1 when scale is None")
        return 1 / math.sqrt(e)
    return _args.real(scale, "scale")


def _mask_bias(attn_mask, is_causal, scores_shape, dtype):
    """The mask as an additive bias (0 = attend, -inf = do not), or None for no mask."""
    if not isinstance(is_causal, (bool, np.bool_)):
        raise TypeError(f"is_causal must be a bool, got {is_causal!r}")
    l_len, s_len = scores_shape[-2:]
    if is_causal:
        if attn_mask is not None:
            raise ValueError("attn_mask must be None when is_causal=True (torch refuses both)")
        attn_mask = np.tril(np.ones((l_len, s_len), dtype=bool))  # query i sees keys 0..i
    if attn_mask is None:
        return None
    if not isinstance(attn_mask, np.ndarray):
        raise TypeError(f"attn_mask must be a numpy.ndarray, got {type(attn_mask).__name__}")
    if attn_mask.dtype != bool and attn_mask.dtype != dtype:
        raise TypeError(
            f"attn_mask must be bool or the query's dtype {dtype}, got {attn_mask.dtype}"
        )
    try:
        fits = np.broadcast_shapes(attn_mask.shape, scores_shape) == tuple(scores_shape)
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(
            f"attn_mask must broadcast to the scores' shape {tuple(scores_shape)} "
            f"(..., L, S), got {attn_mask.shape}"
        )
    if attn_mask.dtype == bool:
        return np.where(attn_mask, 0, -np.inf).astype(dtype)  # True = attend, as in torch
    return attn_mask


def _safe_softmax(scores):
    """Softmax over the last axis; a row that is all -inf gives zeros instead of NaN."""
    m = np.max(scores, axis=-1, keepdims=True)
    e = np.exp(scores - np.where(np.isneginf(m), 0, m))
    total = np.sum(e, axis=-1, keepdims=True)
    return np.divide(e, total, out=np.zeros_like(e), where=total > 0)


def attention_weights(query, key, attn_mask=None, is_causal=False, scale=None):
    r"""The attention weights :math:`A = \mathrm{softmax}(Q K^\top \cdot \text{scale} + M)`,
    ``(..., L, S)``: row :math:`i` says how much query :math:`i` takes from each key. This is
    what attention heatmaps plot. ``scale`` defaults to :math:`1/\sqrt E`."""
    _check_qkv(query, key)
    s = _scale(scale, query.shape[-1])
    scores = (query @ np.swapaxes(key, -1, -2)) * s
    bias = _mask_bias(attn_mask, is_causal, scores.shape, query.dtype)
    return _safe_softmax(scores if bias is None else scores + bias)


def scaled_dot_product_attention(query, key, value, attn_mask=None, is_causal=False, scale=None):
    r""":math:`\mathrm{softmax}(Q K^\top \cdot \text{scale} + M) V`. Mirrors
    ``torch.nn.functional.scaled_dot_product_attention`` (no dropout, so ``attn_mask`` is the
    fourth argument here).

    Shapes:
        query ``(..., L, E)``, key ``(..., S, E)``, value ``(..., S, Ev)``; the leading (batch,
        head) dimensions broadcast against each other, as in torch
        attn_mask broadcastable to ``(..., L, S)``: bool (True = attend) or a float added to
        the scores (``-inf`` = do not attend)
        is_causal  query :math:`i` attends to keys :math:`0..i` (top-left aligned, as torch);
                   not together with ``attn_mask``
        scale      defaults to :math:`1/\sqrt E`
        returns ``(..., L, Ev)``
    """
    _check_qkv(query, key, value)
    return attention_weights(query, key, attn_mask, is_causal, scale) @ value


def _unbroadcast(grad, shape):
    """Sum ``grad`` over the dimensions that broadcasting added to or stretched in ``shape``."""
    grad = grad.sum(axis=tuple(range(grad.ndim - len(shape))))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    return grad.sum(axis=stretched, keepdims=True) if stretched else grad


def scaled_dot_product_attention_backward(
    grad_output, query, key, value, attn_mask=None, is_causal=False, scale=None
):
    r"""The gradients of the query, key and value (see the module's docstring for the maths).
    Masked entries have weight 0 and so pass no gradient. Returns ``(grad_query, grad_key,
    grad_value)``, shaped like the arguments."""
    batch = _check_qkv(query, key, value)
    a = attention_weights(query, key, attn_mask, is_causal, scale)
    s = _scale(scale, query.shape[-1])
    out_shape = batch + (query.shape[-2], value.shape[-1])
    g = _args.check_grad_output(grad_output, out_shape, query.dtype)
    grad_value = np.swapaxes(a, -1, -2) @ g
    grad_a = g @ np.swapaxes(value, -1, -2)
    grad_scores = a * (grad_a - np.sum(grad_a * a, axis=-1, keepdims=True))
    grad_query = (grad_scores @ key) * s
    grad_key = (np.swapaxes(grad_scores, -1, -2) @ query) * s
    return tuple(
        _unbroadcast(gr, arg.shape)
        for gr, arg in ((grad_query, query), (grad_key, key), (grad_value, value))
    )


def scaled_dot_product_attention_naive(
    query, key, value, attn_mask=None, is_causal=False, scale=None
):
    """The same attention one query at a time, written for reading: score every key, softmax,
    take the weighted sum of the values."""
    batch = _check_qkv(query, key, value)
    (l_len, e), s_len = query.shape[-2:], key.shape[-2]
    s = _scale(scale, e)
    bias = _mask_bias(attn_mask, is_causal, batch + (l_len, s_len), query.dtype)
    bias = np.zeros((l_len, s_len), query.dtype) if bias is None else bias
    q, k = np.broadcast_to(query, batch + (l_len, e)), np.broadcast_to(key, batch + (s_len, e))
    v = np.broadcast_to(value, batch + value.shape[-2:])
    bias = np.broadcast_to(bias, batch + (l_len, s_len))
    out = np.zeros(batch + (l_len, value.shape[-1]), dtype=query.dtype)
    for b in np.ndindex(*batch):
        for i in range(l_len):
            scores = np.array([q[b][i] @ k[b][j] * s for j in range(s_len)]) + bias[b][i]
            weights = _safe_softmax(scores)  # how much query i takes from each key
            out[b][i] = weights @ v[b]
    return out
