"""Scaled dot-product attention from scratch against F.scaled_dot_product_attention."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import assert_close
from hypothesis import given
from hypothesis import strategies as st

from dlbook.scratch.attention import (
    attention_weights,
    mask_bias,
    safe_softmax,
    scaled_dot_product_attention,
    scaled_dot_product_attention_backward,
    scaled_dot_product_attention_naive,
)
from dlbook.scratch.gradcheck import gradcheck


def torch_attention(q, k, v, attn_mask=None, grad_output=None, **kw):
    """Torch's output and, for ``grad_output``, the gradients of query, key and value."""
    tensors = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
    mask = None if attn_mask is None else torch.from_numpy(attn_mask)
    out = F.scaled_dot_product_attention(*tensors, attn_mask=mask, **kw)
    if grad_output is None:
        return out.detach().numpy()
    out.backward(torch.from_numpy(grad_output))
    return out.detach().numpy(), tuple(t.grad.numpy() for t in tensors)


def make_mask(kind, shape, r, dtype=np.float64):
    if kind == "bool":
        return r.random(shape) < 0.7  # some rows end up fully masked
    if kind == "float":
        m = r.standard_normal(shape).astype(dtype)
        return np.where(r.random(shape) < 0.2, -np.inf, m).astype(dtype)
    return None


@st.composite
def cases(draw):
    batch = draw(st.lists(st.integers(1, 3), max_size=2))
    l_len, s_len, e, ev = (draw(st.integers(1, 5)) for _ in range(4))
    # broadcasting: key/value may have size 1 in a batch dimension, or fewer dimensions
    k_batch = [draw(st.sampled_from([b, 1])) for b in batch][draw(st.integers(0, len(batch))) :]
    v_batch = [draw(st.sampled_from([b, 1])) for b in batch][len(batch) - len(k_batch) :]
    mask_kind = draw(st.sampled_from(["none", "bool", "float", "causal"]))
    mask_shape = draw(st.sampled_from([(l_len, s_len), (*batch, l_len, s_len), (1, s_len)]))
    scale = draw(st.one_of(st.none(), st.floats(-2, 2, allow_nan=False)))
    seed = draw(st.integers(0, 2**16))
    r = np.random.default_rng(seed)
    q = r.standard_normal((*batch, l_len, e))
    k = r.standard_normal((*k_batch, s_len, e))
    v = r.standard_normal((*v_batch, s_len, ev))
    kw = dict(is_causal=mask_kind == "causal", scale=scale)
    return (q, k, v, make_mask(mask_kind, mask_shape, r)), kw


@given(cases())
def test_matches_torch_forward_and_backward(case):
    (q, k, v, mask), kw = case
    ours = scaled_dot_product_attention(q, k, v, mask, **kw)
    g = np.random.default_rng(0).standard_normal(ours.shape)
    theirs, their_grads = torch_attention(q, k, v, mask, g, **kw)
    assert_close(ours, theirs)
    grads = scaled_dot_product_attention_backward(g, q, k, v, mask, **kw)
    for a, b in zip(grads, their_grads, strict=True):
        assert_close(a, b)


@given(cases())
def test_naive_equals_vectorized(case):
    (q, k, v, mask), kw = case
    y = scaled_dot_product_attention(q, k, v, mask, **kw)
    assert_close(scaled_dot_product_attention_naive(q, k, v, mask, **kw), y, tol=1e-12)


def test_fully_masked_rows_give_zeros_like_torch(rng):
    q, k, v = rng.standard_normal((3, 4)), rng.standard_normal((5, 4)), rng.standard_normal((5, 2))
    mask = np.ones((3, 5), bool)
    mask[1] = False
    y = scaled_dot_product_attention(q, k, v, mask)
    g = np.ones_like(y)
    theirs, their_grads = torch_attention(q, k, v, mask, g)
    assert_close(y, theirs)
    np.testing.assert_array_equal(y[1], 0)
    gq, gk, gv = scaled_dot_product_attention_backward(g, q, k, v, mask)
    np.testing.assert_array_equal(gq[1], 0)
    for a, b in zip((gq, gk, gv), their_grads):
        assert_close(a, b)
    w = attention_weights(q, k, mask)
    np.testing.assert_array_equal(w[1], 0)
    assert_close(w[[0, 2]].sum(axis=-1), np.ones(2), tol=1e-14)


def test_attention_weights_are_torchs_softmax(rng):
    q, k = rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 6, 3))
    w = attention_weights(q, k, is_causal=True, scale=0.5)
    scores = torch.from_numpy(q) @ torch.from_numpy(k).transpose(-1, -2) * 0.5
    causal = torch.ones(4, 6, dtype=torch.bool).tril()
    theirs = torch.softmax(scores.masked_fill(~causal, -torch.inf), dim=-1).numpy()
    assert_close(w, theirs)
    assert np.all(np.triu(w[0], 1) == 0)  # query i never looks past key i
    # and they are what the output is made of: weights @ value
    v = rng.standard_normal((2, 6, 5))
    assert_close(w @ v, scaled_dot_product_attention(q, k, v, is_causal=True, scale=0.5))


@pytest.mark.parametrize("mask_kind", ["none", "float", "causal"])
def test_gradcheck(mask_kind, rng):
    # key broadcasts over the batch, so its gradient sums over it
    q, k = rng.standard_normal((2, 3, 4)), rng.standard_normal((1, 5, 4))
    v = rng.standard_normal((2, 5, 3))
    mask = make_mask(mask_kind, (3, 5), rng)
    if mask is not None:
        mask[:, 0] = 0.0  # every query sees at least one key: softmax is smooth everywhere
    kw = dict(is_causal=mask_kind == "causal", scale=0.7)
    result = gradcheck(
        scaled_dot_product_attention, scaled_dot_product_attention_backward, (q, k, v, mask), kw,
        differentiable=[0, 1, 2], tol=1e-7,
    )  # fmt: skip
    assert set(result.errors) == {"query", "key", "value"}
    assert result.ok, result.errors


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_preserved(dtype, rng):
    q, k, v = (rng.standard_normal((2, 4, 3)).astype(dtype) for _ in range(3))
    mask = make_mask("float", (4, 4), rng, dtype)
    y = scaled_dot_product_attention(q, k, v, mask)
    assert y.dtype == dtype
    assert attention_weights(q, k, mask).dtype == dtype
    grads = scaled_dot_product_attention_backward(np.ones_like(y), q, k, v, mask)
    assert all(g.dtype == dtype for g in grads)
    theirs = torch_attention(q, k, v, mask)
    assert_close(y, theirs, tol=1e-5 if dtype == np.float32 else 1e-10)


def test_does_not_modify_its_inputs(rng):
    q, k, v = (rng.standard_normal((4, 3)) for _ in range(3))
    mask = make_mask("float", (4, 4), rng)
    copies = [a.copy() for a in (q, k, v, mask)]
    scaled_dot_product_attention_backward(np.ones((4, 3)), q, k, v, mask)
    for a, c in zip((q, k, v, mask), copies):
        np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize(
    "change, error, match",
    [
        (dict(attn_mask=np.ones((4, 5), bool), is_causal=True), ValueError, "attn_mask"),
        (dict(attn_mask=np.ones((3, 5), bool)), ValueError, "attn_mask"),
        (dict(attn_mask=np.ones((2, 2, 4, 5), bool)), ValueError, "attn_mask"),
        (dict(attn_mask=np.ones((4, 5), np.int64)), TypeError, "attn_mask"),
        (dict(attn_mask=np.zeros((4, 5), np.float32)), TypeError, "attn_mask"),
        (dict(attn_mask=[[True] * 5] * 4), TypeError, "attn_mask"),
        (dict(key=np.ones((2, 5, 2))), ValueError, "key"),
        (dict(value=np.ones((2, 4, 6))), ValueError, "value"),
        (dict(query=np.ones(3)), ValueError, "query"),
        (dict(query=np.ones((3, 4, 3))), ValueError, "batch"),
        (dict(key=np.ones((2, 5, 3), np.float32)), TypeError, "key"),
        (dict(is_causal=1), TypeError, "is_causal"),
        (dict(scale="big"), TypeError, "scale"),
    ],
)
def test_bad_arguments_raise(change, error, match, rng):
    kw = dict(query=np.ones((2, 4, 3)), key=np.ones((2, 5, 3)), value=np.ones((2, 5, 6)))
    kw.update(change)
    with pytest.raises(error, match=match):
        scaled_dot_product_attention(**kw)
    with pytest.raises(error, match=match):
        scaled_dot_product_attention_backward(np.ones((2, 4, 6)), **kw)


def test_grad_output_must_match(rng):
    q, k, v = rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 5, 3)), np.ones((2, 5, 6))
    with pytest.raises(ValueError, match="grad_output"):
        scaled_dot_product_attention_backward(np.ones((2, 4, 3)), q, k, v)


# --- the two helpers the book shows: mask_bias and safe_softmax ---------------------------------


def test_safe_softmax_equals_torchs_and_gives_zeros_for_a_row_with_nothing_to_see(rng):
    scores = rng.standard_normal((2, 3, 5))
    scores[0, 1] = -np.inf  # every key masked
    scores[1, 2, [0, 3]] = -np.inf  # some keys masked
    ours = safe_softmax(scores)
    assert_close(ours, torch._safe_softmax(torch.from_numpy(scores), -1).numpy())
    assert np.all(ours[0, 1] == 0) and np.all(ours[1, 2, [0, 3]] == 0)
    assert_close(np.delete(ours.sum(-1).ravel(), 1), np.ones(5))


def test_mask_bias_turns_a_mask_into_the_additive_bias():
    keep = np.array([[True, False, True], [False, False, True]])
    bias = mask_bias(keep, False, (4, 2, 3), np.float64)
    assert bias.dtype == np.float64
    assert np.array_equal(bias, np.where(keep, 0.0, -np.inf))
    causal = mask_bias(None, True, (2, 3, 3), np.float32)
    assert causal.dtype == np.float32
    assert np.array_equal(np.isneginf(causal), np.triu(np.ones((3, 3), bool), k=1))
    given_bias = np.full((2, 3), -2.5)
    assert mask_bias(given_bias, False, (2, 3), np.float64) is given_bias  # a float mask is a bias
    assert mask_bias(None, False, (2, 3), np.float64) is None
    with pytest.raises(ValueError, match="is_causal"):
        mask_bias(keep, True, (2, 3), np.float64)
    with pytest.raises(ValueError, match="attn_mask"):
        mask_bias(np.ones((3, 3), bool), False, (2, 3), np.float64)
