"""Scaled dot-product attention on torch's full signature: PyTorch's own OpInfo sample inputs,
dropout (with the mask drawn again by the backward), grouped-query attention, and dtypes."""

import inspect
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.testing._internal.common_methods_invocations import op_db

from dlbook.scratch.attention import (
    scaled_dot_product_attention,
    scaled_dot_product_attention_backward,
    scaled_dot_product_attention_naive,
)
from dlbook.scratch.dropout import dropout_mask
from dlbook.scratch.gradcheck import gradcheck


def torch_reference(q, k, v, grad_output, attn_mask=None, drop=None, **kw):
    """torch's output and gradients; with a dropout mask ``drop``, torch's own maths (the
    reference implementation in its docstring) with that mask in place of torch's random one."""
    tensors = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
    mask = None if attn_mask is None else torch.from_numpy(attn_mask)
    if drop is None:
        out = F.scaled_dot_product_attention(*tensors, attn_mask=mask, **kw)
    else:
        qt, kt, vt = tensors
        if kw.get("enable_gqa"):
            kt = kt.repeat_interleave(qt.size(-3) // kt.size(-3), -3)
            vt = vt.repeat_interleave(qt.size(-3) // vt.size(-3), -3)
        scale = kw.get("scale") or 1 / np.sqrt(q.shape[-1])
        scores = qt @ kt.transpose(-2, -1) * scale
        if kw.get("is_causal"):
            mask = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool).tril()
        if mask is not None:
            scores = (
                scores.masked_fill(~mask, -torch.inf)
                if mask.dtype == torch.bool
                else (scores + mask)
            )
        out = (torch._safe_softmax(scores, -1) * torch.from_numpy(drop)) @ vt  # as torch's math
    out.backward(torch.from_numpy(grad_output))
    return out.detach().numpy(), [t.grad.numpy() for t in tensors]


def compare(q, k, v, tol=1e-10, seed=0, **kw):
    """Ours (forward, backward and the naive loop) against torch; dropout from ``seed``."""
    p = kw.get("dropout_p", 0.0)
    ours = scaled_dot_product_attention(q, k, v, **kw, rng=np.random.default_rng(seed))
    g = np.random.default_rng(1).standard_normal(ours.shape).astype(q.dtype)
    drop = None
    if p > 0:
        a_shape = ours.shape[:-1] + (k.shape[-2],)
        drop = dropout_mask(a_shape, p, np.random.default_rng(seed), q.dtype)
    theirs_kw = {k_: v_ for k_, v_ in kw.items() if k_ not in ("attn_mask", "dropout_p")}
    out, grads = torch_reference(q, k, v, g, kw.get("attn_mask"), drop, **theirs_kw)
    grads_ours = scaled_dot_product_attention_backward(
        g, q, k, v, **kw, rng=np.random.default_rng(seed)
    )
    naive = scaled_dot_product_attention_naive(q, k, v, **kw, rng=np.random.default_rng(seed))
    assert ours.dtype == q.dtype and ours.shape == out.shape
    np.testing.assert_allclose(ours, out, rtol=0, atol=tol)
    np.testing.assert_allclose(naive, out, rtol=0, atol=tol)
    for a, b in zip(grads_ours, grads):
        assert a.shape == b.shape and a.dtype == q.dtype
        np.testing.assert_allclose(a, b, rtol=0, atol=tol)


def opinfo_samples():
    for op in op_db:
        if op.name == "nn.functional.scaled_dot_product_attention":
            samples = op.sample_inputs("cpu", torch.float64, requires_grad=False)
            return [pytest.param(s, id=f"sample{i}") for i, s in enumerate(samples)]
    raise AssertionError("torch has no OpInfo for scaled_dot_product_attention")


@pytest.mark.parametrize("sample", opinfo_samples())
def test_torchs_own_sample_inputs(sample):
    q = sample.input.detach().numpy()
    k, v = (a.detach().numpy() for a in sample.args)
    kw = {n: (a.detach().numpy() if isinstance(a, torch.Tensor) else a) for n, a in
          sample.kwargs.items()}  # fmt: skip
    compare(q, k, v, **kw)


def test_the_dropout_reference_is_torchs_attention():
    """The hand-written torch reference used for dropout equals torch's function at p = 0."""
    r = np.random.default_rng(0)
    q, k, v = (
        r.standard_normal((2, 4, 3, 5)),
        r.standard_normal((2, 2, 6, 5)),
        r.standard_normal((2, 2, 6, 4)),
    )
    g = r.standard_normal((2, 4, 3, 4))
    for kw in ({"is_causal": True, "enable_gqa": True}, {"enable_gqa": True, "scale": 0.3}):
        ones = np.ones((2, 4, 3, 6))
        out, grads = torch_reference(q, k, v, g, drop=ones, **kw)
        out2, grads2 = torch_reference(q, k, v, g, **kw)
        np.testing.assert_allclose(out, out2, atol=1e-12)
        for a, b in zip(grads, grads2):
            np.testing.assert_allclose(a, b, atol=1e-12)


@st.composite
def cases(draw):
    r = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    hkv = draw(st.integers(1, 3))
    hq = hkv * draw(st.integers(1, 3))
    batch = tuple(draw(st.lists(st.integers(1, 2), max_size=2)))
    l_len, s_len, e, ev = (draw(st.integers(1, 4)) for _ in range(4))
    q = r.standard_normal((*batch, hq, l_len, e))
    k = r.standard_normal((*batch, hkv, s_len, e))
    v = r.standard_normal((*batch, hkv, s_len, ev))
    kw = {"enable_gqa": True, "dropout_p": draw(st.sampled_from([0.0, 0.3, 1.0]))}
    mask = draw(st.sampled_from(["none", "bool", "float", "causal"]))
    if mask == "causal":
        kw["is_causal"] = True
    elif mask == "bool":
        kw["attn_mask"] = r.random((l_len, s_len)) < 0.7
    elif mask == "float":
        kw["attn_mask"] = r.standard_normal((hq, l_len, s_len))
    if draw(st.booleans()):
        kw["scale"] = draw(st.floats(0.1, 2))
    return q, k, v, kw


@settings(max_examples=60, deadline=None)
@given(cases())
def test_grouped_query_attention_and_dropout_match_torch(case):
    q, k, v, kw = case
    compare(q, k, v, **kw)


def test_grouped_query_attention_equals_torchs_own_enable_gqa(rng):
    q, k, v = (
        rng.standard_normal((2, 6, 3, 4)),
        rng.standard_normal((2, 2, 5, 4)),
        (rng.standard_normal((2, 3, 5, 2))),
    )
    compare(q, k, v, enable_gqa=True)  # value has 3 heads, key 2: torch repeats each its own


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("dropout_p", [0.0, 0.5])
def test_dtype_is_preserved_with_dropout(dtype, dropout_p, rng):
    q, k, v = (rng.standard_normal((2, 3, 4)).astype(dtype) for _ in range(3))
    compare(q, k, v, tol=1e-5 if dtype == np.float32 else 1e-10, dropout_p=dropout_p)


def test_dropout_gradcheck(rng):
    q, k, v = (
        rng.standard_normal((2, 3, 4)),
        rng.standard_normal((2, 5, 4)),
        (rng.standard_normal((2, 5, 3))),
    )
    kw = dict(dropout_p=0.4, is_causal=True)
    assert gradcheck(
        lambda q, k, v: scaled_dot_product_attention(q, k, v, **kw, rng=np.random.default_rng(7)),
        lambda g, q, k, v: scaled_dot_product_attention_backward(
            g, q, k, v, **kw, rng=np.random.default_rng(7)
        ),
        (q, k, v),
    )


def test_dropout_drops_about_p_of_the_weights_and_keeps_the_mean(rng):
    q, k = rng.standard_normal((200, 8, 4)), rng.standard_normal((200, 8, 4))
    v = np.eye(8)[None].repeat(200, 0)  # the output is the (dropped) weights themselves
    plain = scaled_dot_product_attention(q, k, v)
    dropped = scaled_dot_product_attention(q, k, v, dropout_p=0.25, rng=rng)
    assert abs(np.mean(dropped == 0) - 0.25) < 0.02
    np.testing.assert_allclose(dropped[dropped != 0], plain[dropped != 0] / 0.75, rtol=1e-12)
    assert np.all(scaled_dot_product_attention(q, k, v, dropout_p=1.0) == 0)


def test_the_backward_refuses_dropout_without_rng(rng):
    q = rng.standard_normal((3, 4))
    with pytest.raises(ValueError, match="rng"):
        scaled_dot_product_attention_backward(np.ones((3, 4)), q, q, q, dropout_p=0.5)


@pytest.mark.parametrize(
    "kw,error,match",
    [
        (dict(dropout_p=1.5), ValueError, "dropout_p"),
        (dict(dropout_p="half"), TypeError, "dropout_p"),
        (dict(enable_gqa=1), TypeError, "enable_gqa"),
        (dict(enable_gqa=True, key=np.ones((3, 5, 4))), ValueError, "enable_gqa"),
    ],
)
def test_bad_new_arguments_raise(kw, error, match):
    args = dict(query=np.ones((2, 4, 3, 4)), key=np.ones((2, 2, 5, 4)), value=np.ones((2, 2, 5, 3)))
    args["enable_gqa"] = kw.pop("enable_gqa", True)
    args.update(kw)
    with pytest.raises(error, match=match):
        scaled_dot_product_attention(**args)


def test_signature_is_torchs():
    """torch 2.13's signature, read from its docstring (the builtin has no inspect signature),
    with our keyword-only ``rng`` after it."""
    line = F.scaled_dot_product_attention.__doc__.split(") -> Tensor")[0]
    theirs = re.findall(r"(\w+)(?:=([^,\s]+))?", line.split("(", 1)[1])
    params = list(inspect.signature(scaled_dot_product_attention).parameters.values())
    assert [(p.name, repr(p.default) if p.default is not p.empty else "") for p in params[:-1]] == [
        (name, default) for name, default in theirs
    ]
    assert params[-1].name == "rng" and params[-1].kind is inspect.Parameter.KEYWORD_ONLY


@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 4), (2, 2, 3, 4), (2, 1, 2, 3, 4)])
def test_defaults_only_equal_torchs(shape, rng):
    """Every batch rank, called with the defaults only on both sides."""
    q, k, v = (rng.standard_normal(shape) for _ in range(3))
    compare(q, k, v)
