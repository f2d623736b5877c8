r"""Scaled dot-product attention from scratch, forward and backward.

Every query asks every key how well it matches; the answers, softmaxed, weight the values:

.. math::
    \text{Attention}(Q, K, V) = \underbrace{\mathrm{softmax}\Big(\frac{Q K^\top}{\sqrt{E}}
        + M\Big)}_{A \;(L \times S)} V

with :math:`E` the query/key size and :math:`M` a mask: 0 where a query may attend, and
:math:`-\infty` where it may not. Dividing by :math:`\sqrt E` keeps the scores' variance near 1
for unit-variance queries and keys, so the softmax does not saturate. Mirrors
``torch.nn.functional.scaled_dot_product_attention``, dropout and grouped-query attention
included.

The backward pass is two matrix products and a softmax backward:

.. math:: \bar V = A^\top \bar O, \quad \bar A = \bar O V^\top, \quad
    \bar S = A \odot (\bar A - \textstyle\sum_j \bar A_{:j} A_{:j}), \quad
    \bar Q = \tfrac{1}{\sqrt E} \bar S K, \quad \bar K = \tfrac{1}{\sqrt E} \bar S^\top Q.

**A fully masked row** (a query allowed to see no key) gets all-zero weights, hence a zero
output and zero gradients, which is what torch 2.13 returns (its "safe softmax"); the plain
formula would give 0/0 = NaN.

**Dropout** (``dropout_p > 0``) drops attention weights, as torch does: the output is
:math:`(A \odot D) V`, with :math:`D` the scaled mask of
:func:`~dlbook.scratch.dropout.dropout_mask` over the weights' shape ``(..., L, S)``. Torch
draws it from its global generator; here it comes from ``rng``, a NumPy generator. The
stateless backward draws the mask again, so give it a generator in the state the forward's was
in, e.g. ``np.random.default_rng(seed)`` made twice from one seed (as for
:func:`~dlbook.scratch.dropout.dropout_backward`). Nothing is drawn when ``dropout_p == 0``.
"""

from __future__ import annotations

import math

import numpy as np

from dlbook import checks
from dlbook.scratch.dropout import dropout_mask

__all__ = [
    "scaled_dot_product_attention",
    "scaled_dot_product_attention_backward",
    "scaled_dot_product_attention_naive",
    "attention_weights",
    "mask_bias",
    "safe_softmax",
]


def _group_heads(query, key, value, enable_gqa):
    """Grouped-query attention: each key/value head serves ``H_q / H_kv`` query heads, so the
    key and value heads (dimension -3) are repeated, each head ``H_q / H_kv`` times in a row."""
    if not isinstance(enable_gqa, (bool, np.bool_)):
        raise TypeError(f"enable_gqa must be a bool, got {enable_gqa!r}")
    if not enable_gqa:
        return key, value
    hq = query.shape[-3] if query.ndim >= 3 else 1
    out = []
    for name, a in (("key", key), ("value", value)):
        if a is None:
            continue
        if a.ndim < 3 or query.ndim < 3 or hq % a.shape[-3]:
            raise ValueError(
                f"enable_gqa=True: {name} must have heads in dimension -3 that divide the "
                f"query's H_q={hq}, got query {query.shape} and {name} {a.shape}"
            )
        out.append(np.repeat(a, hq // a.shape[-3], axis=-3))
    return out[0], (out[1] if value is not None else None)


def _check_qkv(query, key, value=None, enable_gqa=False):
    """The checked key and value (heads repeated for grouped-query attention) and the batch
    shape, the broadcast of all leading dimensions."""
    arrays = {"query": query, "key": key, "value": value}
    for name, a in arrays.items():
        if a is None:
            continue
        checks.any_float_array(a, name)
        checks.same_dtype(query, a, name)
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
    key, value = _group_heads(query, key, value, enable_gqa)
    try:
        batch = np.broadcast_shapes(*(a.shape[:-2] for a in (query, key, value) if a is not None))
    except ValueError:
        raise ValueError(
            "query, key and value: their batch dimensions (all but the last two) must "
            f"broadcast, got {query.shape}, {key.shape} and {getattr(value, 'shape', None)}"
        ) from None
    return key, value, batch


def _scale(scale, e):
    if scale is None:
        if e == 0:
            raise ValueError("query must have a feature size E >= 1 when scale is None")
        return 1 / math.sqrt(e)
    return checks.real(scale, "scale")


def _dropout_p(dropout_p):
    p = checks.real(dropout_p, "dropout_p")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout_p must be between 0 and 1, got {p}")
    return p


def mask_bias(attn_mask, is_causal, scores_shape, dtype):
    """The mask as an additive bias (0 = attend, -inf = do not), or None for no mask.

    A boolean ``attn_mask`` means True = attend, as in torch; a float one is the bias already.
    ``is_causal=True`` builds the lower-triangular mask (query ``i`` sees keys ``0..i``) and
    refuses an ``attn_mask`` beside it, as torch does.

    Shapes:
        attn_mask: broadcastable to scores_shape (..., L, S), bool or dtype, or None
        scores_shape: the scores' shape (..., L, S)
        returns: attn_mask's shape ((L, S) when causal), dtype; or None
    Formula:
        M = where(attn_mask, 0, -inf) for a bool mask; M[i, j] = 0 if j <= i else -inf when
            causal
    Torch:
        none (torch builds this bias inside torch.nn.functional.scaled_dot_product_attention)
    """
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
    if not checks.broadcasts_to(attn_mask.shape, scores_shape):
        raise ValueError(
            f"attn_mask must broadcast to the scores' shape {tuple(scores_shape)} "
            f"(..., L, S), got {attn_mask.shape}"
        )
    if attn_mask.dtype == bool:
        return np.where(attn_mask, 0, -np.inf).astype(dtype)  # True = attend, as in torch
    return attn_mask


def safe_softmax(scores):
    """Softmax over the last axis; a row that is all -inf gives zeros instead of NaN.

    Shapes:
        scores: (..., S)
        returns: (..., S), each row summing to 1, or all zeros for a row that is all -inf
    Formula:
        out[..., j] = exp(x_j - m) / sum_k exp(x_k - m), m = max_k x_k; 0 where every x_k = -inf
    Torch:
        torch._safe_softmax(scores, -1) (private in torch; what its
        scaled_dot_product_attention uses)
    """
    m = np.max(scores, axis=-1, keepdims=True)
    e = np.exp(scores - np.where(np.isneginf(m), 0, m))
    total = np.sum(e, axis=-1, keepdims=True)
    return np.divide(e, total, out=np.zeros_like(e), where=total > 0)


def attention_weights(query, key, attn_mask=None, is_causal=False, scale=None, enable_gqa=False):
    r"""The attention weights: row :math:`i` says how much query :math:`i` takes from each key.
    This is what attention heatmaps plot (before any dropout).

    Shapes:
        query: (..., L, E)
        key: (..., S, E), or (..., H_kv, S, E) with enable_gqa
        attn_mask: broadcastable to (..., L, S), bool (True = attend) or float (added)
        returns: (..., L, S)
    Formula:
        A = softmax(Q K^T * scale + M) over the keys, scale = 1 / sqrt(E) by default
    Torch:
        none (torch computes these weights inside
        torch.nn.functional.scaled_dot_product_attention and does not return them)
    """
    key, _, _ = _check_qkv(query, key, enable_gqa=enable_gqa)
    s = _scale(scale, query.shape[-1])
    scores = (query @ np.swapaxes(key, -1, -2)) * s
    bias = mask_bias(attn_mask, is_causal, scores.shape, query.dtype)
    return safe_softmax(scores if bias is None else scores + bias)


def _dropped(a, dropout_p, rng):
    """The weights after dropout, and the scaled mask (None when nothing is dropped)."""
    p = _dropout_p(dropout_p)
    if p == 0.0:
        return a, None
    mask = dropout_mask(a.shape, p, rng, a.dtype)
    return a * mask, mask


def scaled_dot_product_attention(
    query,
    key,
    value,
    attn_mask=None,
    dropout_p=0.0,
    is_causal=False,
    scale=None,
    enable_gqa=False,
    *,
    rng=None,
):
    r"""Attention: the softmaxed, masked scores weight the values.

    ``dropout_p`` drops attention weights (torch applies it whenever it is given: pass 0 when
    evaluating); ``rng`` is the NumPy generator it draws from (see the module's docstring for
    giving the backward the same mask). ``enable_gqa=True`` lets ``H_q`` query heads share
    ``H_kv`` key/value heads, ``H_q`` a multiple of ``H_kv``.

    Shapes:
        query: (..., L, E)
        key: (..., S, E); (..., H_kv, S, E) with enable_gqa, query (..., H_q, L, E)
        value: (..., S, Ev), heads as key's
        attn_mask: broadcastable to (..., L, S): bool (True = attend) or a float added to
            the scores (-inf = do not attend); not together with is_causal, which lets query i
            attend to keys 0..i (top-left aligned, as torch)
        returns: (..., L, Ev); the leading (batch, head) dimensions broadcast, as in torch
    Formula:
        out = dropout(softmax(Q K^T * scale + M)) V, scale = 1 / sqrt(E) by default
    Torch:
        torch.nn.functional.scaled_dot_product_attention
    """
    key, value, _ = _check_qkv(query, key, value, enable_gqa)
    a = attention_weights(query, key, attn_mask, is_causal, scale)
    return _dropped(a, dropout_p, rng)[0] @ value


def _unbroadcast(grad, shape):
    """Sum ``grad`` over the dimensions that broadcasting added to or stretched in ``shape``,
    and over the query heads that share one key/value head (grouped-query attention)."""
    grad = grad.sum(axis=tuple(range(grad.ndim - len(shape))))
    stretched = tuple(i for i, n in enumerate(shape[:-3]) if n == 1 and grad.shape[i] != 1)
    grad = grad.sum(axis=stretched, keepdims=True) if stretched else grad
    h = shape[-3] if len(shape) >= 3 else None
    if h is not None and grad.shape[-3] != h:
        if h == 1:
            return grad.sum(axis=-3, keepdims=True)
        return grad.reshape(grad.shape[:-3] + (h, -1) + grad.shape[-2:]).sum(axis=-3)
    return grad


def scaled_dot_product_attention_backward(
    grad_output,
    query,
    key,
    value,
    attn_mask=None,
    dropout_p=0.0,
    is_causal=False,
    scale=None,
    enable_gqa=False,
    *,
    rng=None,
):
    r"""The gradients of the query, key and value (see the module's docstring for the maths).

    Masked entries have weight 0 and so pass no gradient; dropped ones too. With
    ``0 < dropout_p < 1``, ``rng`` must be in the state the forward's was in (``None`` is
    refused, as by :func:`~dlbook.scratch.dropout.dropout_backward`).

    Shapes:
        grad_output: (..., L, Ev), the output's shape
        returns: (grad_query, grad_key, grad_value), shaped like query, key and value
    Formula:
        grad_V = (A D)^T G, grad_A = (G V^T) D, grad_S = A (grad_A - rowsum(grad_A A)),
        grad_Q = scale grad_S K, grad_K = scale grad_S^T Q (D the dropout mask, 1 without)
    Torch:
        autograd through torch.nn.functional.scaled_dot_product_attention
    """
    key_h, value_h, batch = _check_qkv(query, key, value, enable_gqa)
    a = attention_weights(query, key_h, attn_mask, is_causal, scale)
    s = _scale(scale, query.shape[-1])
    out_shape = batch + (query.shape[-2], value.shape[-1])
    g = checks.check_grad_output(grad_output, out_shape, query.dtype)
    if rng is None and 0.0 < _dropout_p(dropout_p) < 1.0:
        raise ValueError(
            "rng: with dropout_p > 0 the backward needs a numpy Generator in the state the "
            "forward's was in, to draw the same dropout mask; got None"
        )
    a_dropped, mask = _dropped(a, dropout_p, rng)
    grad_value = np.swapaxes(a_dropped, -1, -2) @ g
    grad_a = g @ np.swapaxes(value_h, -1, -2)
    grad_a = grad_a if mask is None else grad_a * mask
    grad_scores = a * (grad_a - np.sum(grad_a * a, axis=-1, keepdims=True))
    grad_query = (grad_scores @ key_h) * s
    grad_key = (np.swapaxes(grad_scores, -1, -2) @ query) * s
    return tuple(
        _unbroadcast(gr, arg.shape)
        for gr, arg in ((grad_query, query), (grad_key, key), (grad_value, value))
    )


def scaled_dot_product_attention_naive(
    query,
    key,
    value,
    attn_mask=None,
    dropout_p=0.0,
    is_causal=False,
    scale=None,
    enable_gqa=False,
    *,
    rng=None,
):
    """The same attention one query at a time, written for reading: score every key, softmax,
    take the weighted sum of the values. It draws the same dropout mask from ``rng``.

    Shapes:
        as :func:`scaled_dot_product_attention`
    Formula:
        out[b, i] = sum_j softmax_j(q[b, i] . k[b, j] * scale + M[b, i, j]) D[b, i, j] v[b, j]
    Torch:
        torch.nn.functional.scaled_dot_product_attention
    """
    key, value, batch = _check_qkv(query, key, value, enable_gqa)
    (l_len, e), s_len = query.shape[-2:], key.shape[-2]
    s = _scale(scale, e)
    bias = mask_bias(attn_mask, is_causal, batch + (l_len, s_len), query.dtype)
    bias = np.zeros((l_len, s_len), query.dtype) if bias is None else bias
    q, k = np.broadcast_to(query, batch + (l_len, e)), np.broadcast_to(key, batch + (s_len, e))
    v = np.broadcast_to(value, batch + value.shape[-2:])
    bias = np.broadcast_to(bias, batch + (l_len, s_len))
    drop = _dropped(np.ones(batch + (l_len, s_len), query.dtype), dropout_p, rng)[0]
    out = np.zeros(batch + (l_len, value.shape[-1]), dtype=query.dtype)
    for b in np.ndindex(*batch):
        for i in range(l_len):
            scores = np.array([q[b][i] @ k[b][j] * s for j in range(s_len)]) + bias[b][i]
            weights = safe_softmax(scores)  # how much query i takes from each key
            out[b][i] = (weights * drop[b][i]) @ v[b]
    return out
