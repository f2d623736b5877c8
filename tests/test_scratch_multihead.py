"""Multi-head attention from scratch against F.multi_head_attention_forward and
nn.MultiheadAttention, in float64: forward, attention weights, backward, masks, the layer."""

import inspect
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from dlbook.scratch.attention import scaled_dot_product_attention
from dlbook.scratch.gradcheck import gradcheck
from dlbook.scratch.multihead import (
    MultiheadAttention,
    key_padding_bias,
    multi_head_attention_forward,
    multi_head_attention_forward_backward,
    multi_head_attention_forward_naive,
)

DIFFERENTIABLE = [0, 1, 2, 5, 6, 11, 12]  # query, key, value, in_proj w/b, out_proj w/b


def make_args(rng, l_len=4, s_len=5, n=2, e=6, h=3, e_out=None, bias=True, dtype=np.float64):
    """Positional arguments of multi_head_attention_forward, batched (n=None: unbatched)."""
    batch = () if n is None else (n,)
    e_out = e if e_out is None else e_out

    def r(*shape):
        return rng.standard_normal(shape).astype(dtype)

    q, k, v = r(l_len, *batch, e), r(s_len, *batch, e), r(s_len, *batch, e)
    w, wo = r(3 * e, e), r(e_out, e)
    b, bo = (r(3 * e), r(e_out)) if bias else (None, None)
    return [q, k, v, e, h, w, b, None, None, False, 0.0, wo, bo]


def torch_mha(args, grad_output, **kw):
    """torch's output, weights and the gradients of the arrays at DIFFERENTIABLE."""
    args = list(args)
    leaves = {}
    for i in DIFFERENTIABLE:
        if args[i] is not None:
            leaves[i] = args[i] = torch.tensor(args[i], requires_grad=True)
    kw = {k: (torch.from_numpy(v) if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch: mixed mask types are deprecated
        out, weights = F.multi_head_attention_forward(*args, **kw)
    out.backward(torch.from_numpy(grad_output))
    grads = [leaves[i].grad.numpy() if i in leaves else None for i in DIFFERENTIABLE]
    return out.detach().numpy(), (None if weights is None else weights.detach().numpy()), grads


def compare(args, tol=1e-10, **kw):
    """Ours (forward, naive, backward) against torch."""
    out, weights = multi_head_attention_forward(*args, **kw)
    naive, naive_weights = multi_head_attention_forward_naive(*args, **kw)
    g = np.random.default_rng(1).standard_normal(out.shape).astype(out.dtype)
    theirs, their_weights, their_grads = torch_mha(args, g, **kw)
    assert out.dtype == args[0].dtype and out.shape == theirs.shape
    np.testing.assert_allclose(out, theirs, rtol=0, atol=tol)
    np.testing.assert_allclose(naive, theirs, rtol=0, atol=tol)
    assert (weights is None) == (their_weights is None) == (naive_weights is None)
    if weights is not None:
        assert weights.shape == their_weights.shape
        np.testing.assert_allclose(weights, their_weights, rtol=0, atol=tol)
        np.testing.assert_allclose(naive_weights, their_weights, rtol=0, atol=tol)
    grads = multi_head_attention_forward_backward(g, *args, **kw)
    assert len(grads) == 7
    for ours, theirs_g in zip(grads, their_grads):
        assert (ours is None) == (theirs_g is None)
        if ours is not None:
            assert ours.shape == theirs_g.shape and ours.dtype == args[0].dtype
            np.testing.assert_allclose(ours, theirs_g, rtol=0, atol=tol)
    return out, weights


def masks(kind, rng, l_len=4, s_len=5, n=2, h=3):
    """Keyword arguments with masks of one kind; every query keeps key 0 (no fully masked row)."""
    block = rng.random((l_len, s_len)) < 0.4
    block[:, 0] = False
    padding = np.zeros((n, s_len), bool)
    padding[0, max(1, s_len - 2) :] = True  # the first sequence's last keys (not key 0) are padding
    causal = np.triu(np.ones((l_len, s_len), bool), 1)
    return {
        "none": {},
        "attn_bool": dict(attn_mask=block),
        "attn_float": dict(attn_mask=rng.standard_normal((l_len, s_len))),
        "attn_3d": dict(attn_mask=rng.standard_normal((n * h, l_len, s_len))),
        "padding_bool": dict(key_padding_mask=padding),
        "padding_float": dict(key_padding_mask=np.where(padding, -np.inf, 0.5)),
        "both": dict(attn_mask=block, key_padding_mask=padding),
        "causal": dict(attn_mask=causal, is_causal=True),
        "causal_float_padding": dict(
            attn_mask=np.where(causal, -np.inf, 0.0), is_causal=True, key_padding_mask=padding
        ),
    }[kind]


KINDS = ["none", "attn_bool", "attn_float", "attn_3d", "padding_bool", "padding_float", "both",
         "causal", "causal_float_padding"]  # fmt: skip


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("need_weights, average", [(True, True), (True, False), (False, True)])
def test_equals_torch_with_masks(kind, need_weights, average, rng):
    s_len = 4 if "causal" in kind else 5  # causal: self-attention lengths
    args = make_args(rng, s_len=s_len)
    kw = masks(kind, rng, s_len=s_len)
    compare(args, need_weights=need_weights, average_attn_weights=average, **kw)


@pytest.mark.parametrize("kind", ["none", "attn_bool", "attn_3d", "padding_bool", "causal"])
def test_unbatched_equals_torch(kind, rng):
    kw = masks(kind, rng, s_len=4, n=1)
    if "key_padding_mask" in kw:
        kw["key_padding_mask"] = kw["key_padding_mask"][0]
    compare(make_args(rng, s_len=4, n=None), average_attn_weights=False, **kw)


def test_without_biases_and_with_another_output_size(rng):
    compare(make_args(rng, bias=False, e_out=5), **masks("both", rng))


def test_self_attention_gradient_is_the_sum_of_the_three(rng):
    """One x as query, key and value: torch's x.grad is our three gradients added."""
    args = make_args(rng, l_len=4, s_len=4)
    args[1] = args[2] = args[0]
    g = rng.standard_normal((4, 2, 6))
    x = torch.tensor(args[0], requires_grad=True)
    targs = [x, x, x] + [torch.from_numpy(a) if isinstance(a, np.ndarray) else a for a in args[3:]]
    causal = torch.ones(4, 4).triu(1).bool()
    out = F.multi_head_attention_forward(*targs, is_causal=True, attn_mask=causal)[0]
    out.backward(torch.from_numpy(g))
    gq, gk, gv = multi_head_attention_forward_backward(g, *args, is_causal=True)[:3]
    np.testing.assert_allclose(gq + gk + gv, x.grad.numpy(), rtol=0, atol=1e-10)
    assert not np.allclose(gq, gk)  # the three paths really differ


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    h=st.integers(1, 3),
    d=st.integers(1, 3),
    l_len=st.integers(1, 4),
    s_len=st.integers(1, 4),
    n=st.sampled_from([None, 1, 3]),
    kind=st.sampled_from(["none", "attn_float", "padding_bool", "both"]),
)
def test_random_shapes_equal_torch(seed, h, d, l_len, s_len, n, kind):
    rng = np.random.default_rng(seed)
    args = make_args(rng, l_len, s_len, n, h * d, h)
    kw = masks(kind, rng, l_len, s_len, n or 1, h)
    if n is None and "key_padding_mask" in kw:
        kw["key_padding_mask"] = kw["key_padding_mask"][0]
    compare(args, average_attn_weights=bool(seed % 2), **kw)


def test_true_means_not_allowed(rng):
    """nn.MultiheadAttention's bool masks say where NOT to look: the opposite of
    scaled_dot_product_attention's, which says where to look."""
    args = make_args(rng, l_len=3, s_len=5, n=1, e=4, h=1)
    blocked = np.zeros((3, 5), bool)
    blocked[:, [1, 3]] = True
    _, weights = multi_head_attention_forward(*args, attn_mask=blocked)
    assert np.all(weights[0][:, [1, 3]] == 0) and np.all(weights[0][:, [0, 2, 4]] > 0)
    # one head with identity projections is scaled_dot_product_attention with the inverse mask
    q, k, v = (a[:, 0] for a in args[:3])
    eye, zero = np.eye(4), np.zeros(4)
    ident = [q, k, v, 4, 1, np.vstack([eye] * 3), None, None, None, False, 0.0, eye, zero]
    out, _ = multi_head_attention_forward(*ident, attn_mask=blocked)
    np.testing.assert_allclose(out, scaled_dot_product_attention(q, k, v, ~blocked), atol=1e-12)


def test_is_causal_alone_builds_the_causal_mask(rng):
    args = make_args(rng, l_len=4, s_len=4)
    alone = multi_head_attention_forward(*args, is_causal=True)
    causal = np.triu(np.ones((4, 4), bool), 1)
    out, weights = compare(args, attn_mask=causal, is_causal=True)
    np.testing.assert_array_equal(alone[0], out)
    np.testing.assert_array_equal(alone[1], weights)
    assert np.all(np.triu(weights[0], 1) == 0)  # nobody looks ahead
    # changing a later position leaves every earlier output as it was
    args[0][3] += 1.0
    args[1][3] += 1.0
    args[2][3] -= 2.0
    later = multi_head_attention_forward(*args, is_causal=True)[0]
    np.testing.assert_array_equal(later[:3], alone[0][:3])
    assert not np.allclose(later[3], alone[0][3])


def test_a_fully_masked_query_gives_zero_attention_like_torchs_fast_path(rng):
    args = make_args(rng, l_len=3, s_len=4)
    blocked = np.zeros((3, 4), bool)
    blocked[1] = True  # query 1 may see nothing
    out, weights = multi_head_attention_forward(*args, attn_mask=blocked)
    np.testing.assert_allclose(out[1], np.broadcast_to(args[12], (2, 6)), atol=1e-12)
    assert np.all(weights[:, 1] == 0)
    g = rng.standard_normal(out.shape)
    theirs, _, grads = torch_mha(args, g, attn_mask=blocked, need_weights=False)
    np.testing.assert_allclose(out, theirs, atol=1e-10)
    for ours, t in zip(multi_head_attention_forward_backward(g, *args, attn_mask=blocked), grads):
        np.testing.assert_allclose(ours, t, atol=1e-10)


@pytest.mark.parametrize("kind", ["none", "both", "causal_float_padding"])
def test_gradcheck(kind, rng):
    args = make_args(rng, l_len=3, s_len=3 if "causal" in kind else 4, n=2, e=4, h=2)
    kw = masks(kind, rng, 3, 3 if "causal" in kind else 4, 2, 2)
    result = gradcheck(attn_output_only, multi_head_attention_forward_backward,
                       args, kw, differentiable=DIFFERENTIABLE, tol=1e-7)  # fmt: skip
    assert set(result.errors) == {"query", "key", "value", "in_proj_weight", "in_proj_bias",
                                  "out_proj_weight", "out_proj_bias"}  # fmt: skip
    assert result.ok, result.errors


def attn_output_only(*args, **kw):
    """The output alone, for finite differences (named like the function's parameters)."""
    return multi_head_attention_forward(*args, **kw)[0]


attn_output_only.__signature__ = inspect.signature(multi_head_attention_forward)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_preserved(dtype, rng):
    args = make_args(rng, dtype=dtype)
    kw = masks("padding_float", rng)
    kw["key_padding_mask"] = kw["key_padding_mask"].astype(dtype)
    out, weights = compare(args, tol=1e-4 if dtype == np.float32 else 1e-10, **kw)
    assert out.dtype == weights.dtype == dtype


def test_does_not_modify_its_inputs(rng):
    args = make_args(rng)
    kw = masks("both", rng)
    copies = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    multi_head_attention_forward_backward(np.ones((4, 2, 6)), *args, **kw)
    for a, c in zip(args, copies):
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, c)


def test_key_padding_bias():
    bias = key_padding_bias(np.array([[False, True, False]]), np.float32)
    assert bias.shape == (1, 1, 1, 3) and bias.dtype == np.float32
    np.testing.assert_array_equal(bias.ravel(), [0, -np.inf, 0])


def test_signature_is_torchs():
    ours = inspect.signature(multi_head_attention_forward).parameters
    theirs = inspect.signature(F.multi_head_attention_forward).parameters
    assert [(p.name, p.default) for p in ours.values()] == [
        (p.name, p.default) for p in theirs.values()
    ]
    backward = list(inspect.signature(multi_head_attention_forward_backward).parameters)
    assert backward == ["grad_output", *ours]


BAD = [
    (dict(num_heads=4), ValueError, "num_heads"),
    (dict(num_heads=0), ValueError, "num_heads"),
    (dict(embed_dim_to_check=5), ValueError, "embed_dim_to_check"),
    (dict(key=np.ones((5, 3, 6))), ValueError, "key"),
    (dict(value=np.ones((5, 2, 4))), ValueError, "value"),
    (dict(key=np.ones((5, 6))), ValueError, "key"),
    (dict(query=np.ones(6)), ValueError, "query"),
    (dict(query=np.ones((4, 2, 6), np.float32)), TypeError, "key"),
    (dict(in_proj_weight=np.ones((6, 6))), ValueError, "in_proj_weight"),
    (dict(in_proj_weight=None), ValueError, "in_proj_weight"),
    (dict(in_proj_bias=np.ones(6)), ValueError, "in_proj_bias"),
    (dict(out_proj_weight=np.ones((6, 5))), ValueError, "out_proj_weight"),
    (dict(out_proj_bias=np.ones(5)), ValueError, "out_proj_bias"),
    (dict(dropout_p=0.1), ValueError, "dropout_p"),
    (dict(dropout_p=1.5, training=False), ValueError, "dropout_p"),
    (dict(bias_k=np.ones((1, 1, 6)), bias_v=np.ones((1, 1, 6))), ValueError, "bias_k"),
    (dict(add_zero_attn=True), ValueError, "add_zero_attn"),
    (dict(use_separate_proj_weight=True), ValueError, "use_separate_proj_weight"),
    (dict(static_k=np.ones((6, 5, 2))), ValueError, "static_k"),
    (dict(attn_mask=np.ones((4, 4), bool)), ValueError, "attn_mask"),
    (dict(attn_mask=np.ones((2, 4, 5), bool)), ValueError, "attn_mask"),
    (dict(attn_mask=np.ones((4, 5), np.int64)), TypeError, "attn_mask"),
    (dict(attn_mask=[[False] * 5] * 4), TypeError, "attn_mask"),
    (dict(attn_mask=np.zeros((4, 5), bool), is_causal=True), ValueError, "causal"),
    (dict(key_padding_mask=np.ones((3, 5), bool)), ValueError, "key_padding_mask"),
    (dict(key_padding_mask=np.zeros((2, 5), np.float32)), TypeError, "key_padding_mask"),
    (dict(is_causal=1), TypeError, "is_causal"),
    (dict(need_weights="yes"), TypeError, "need_weights"),
]


@pytest.mark.parametrize("change, error, match", BAD)
def test_bad_arguments_raise(change, error, match, rng):
    names = list(inspect.signature(multi_head_attention_forward).parameters)
    kw = dict(zip(names, make_args(rng)))
    kw.update(change)
    with pytest.raises(error, match=match):
        multi_head_attention_forward(**kw)
    with pytest.raises(error, match=match):
        multi_head_attention_forward_backward(np.ones((4, 2, 6)), **kw)


def test_grad_output_must_match(rng):
    with pytest.raises(ValueError, match="grad_output"):
        multi_head_attention_forward_backward(np.ones((4, 2, 5)), *make_args(rng))


def test_unbatched_masks_must_be_unbatched(rng):
    args = make_args(rng, n=None)
    with pytest.raises(ValueError, match="key_padding_mask"):
        multi_head_attention_forward(*args, key_padding_mask=np.zeros((1, 5), bool))
    with pytest.raises(ValueError, match="attn_mask"):
        multi_head_attention_forward(*args, attn_mask=np.zeros((2, 4, 5), bool))  # H = 3 heads


# --- the layer ----------------------------------------------------------------------------------


def torch_layer(e=6, h=3, bias=True, batch_first=False):
    torch.manual_seed(0)
    module = torch.nn.MultiheadAttention(e, h, bias=bias, batch_first=batch_first,
                                         dtype=torch.float64)  # fmt: skip
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.1 * torch.randn_like(p))  # the biases start at 0: move them
    return module


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_layer_equals_nn_multiheadattention(batch_first, bias, rng):
    module = torch_layer(bias=bias, batch_first=batch_first)
    layer = MultiheadAttention(6, 3, bias=bias, batch_first=batch_first, dtype=np.float64)
    layer.load_state_dict({k: v.detach().numpy() for k, v in module.state_dict().items()})
    shape_q, shape_k = ((2, 4, 6), (2, 5, 6)) if batch_first else ((4, 2, 6), (5, 2, 6))
    q, k, v = (
        rng.standard_normal(shape_q),
        rng.standard_normal(shape_k),
        rng.standard_normal(shape_k),
    )
    padding = np.zeros((2, 5), bool)
    padding[1, 3:] = True
    out, weights = layer(q, k, v, key_padding_mask=padding, average_attn_weights=False)
    tensors = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
    t_out, t_weights = module(*tensors, key_padding_mask=torch.from_numpy(padding),
                              average_attn_weights=False)  # fmt: skip
    g = rng.standard_normal(out.shape)
    t_out.backward(torch.from_numpy(g))
    np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(weights, t_weights.detach().numpy(), rtol=0, atol=1e-10)
    for ours, t in zip(layer.backward(g), tensors):
        np.testing.assert_allclose(ours, t.grad.numpy(), rtol=0, atol=1e-10)
    names = [name for name, _ in module.named_parameters()]
    assert list(layer.named_params()) == names
    assert len(layer.grads) == len(layer.params) == len(names)
    for ours, (_, p) in zip(layer.grads, module.named_parameters()):
        np.testing.assert_allclose(ours, p.grad.numpy(), rtol=0, atol=1e-10)


def test_layer_unbatched_and_causal(rng):
    module = torch_layer()
    layer = MultiheadAttention(6, 3, batch_first=True, dtype=np.float64)
    layer.load_state_dict({k: v.detach().numpy() for k, v in module.state_dict().items()})
    x = rng.standard_normal((4, 6))  # unbatched: batch_first changes nothing
    mask = torch.nn.Transformer.generate_square_subsequent_mask(4, dtype=torch.float64)
    t_out = module(*(torch.from_numpy(x),) * 3, attn_mask=mask, is_causal=True)[0]
    out, _ = layer(x, x, x, is_causal=True)
    np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=0, atol=1e-10)


def test_layer_starts_like_torch_and_refuses_what_it_lacks():
    layer = MultiheadAttention(8, 2, rng=np.random.default_rng(0))
    module = torch.nn.MultiheadAttention(8, 2)
    assert {k: v.shape for k, v in layer.named_params().items()} == {
        k: tuple(v.shape) for k, v in module.state_dict().items()
    }
    assert all(p.dtype == np.float32 for p in layer.params)
    assert np.all(layer.in_proj_bias == 0) and np.all(layer.out_proj.bias == 0)
    bound = np.sqrt(6 / (8 + 24))  # Xavier uniform over (3 E, E)
    assert np.abs(layer.in_proj_weight).max() <= bound
    assert np.abs(layer.in_proj_weight).max() > 0.8 * bound
    assert np.abs(layer.out_proj.weight).max() <= 1 / np.sqrt(8)
    with pytest.raises(ValueError, match="num_heads"):
        MultiheadAttention(6, 4)
    with pytest.raises(ValueError, match="add_bias_kv"):
        MultiheadAttention(6, 3, add_bias_kv=True)
    with pytest.raises(ValueError, match="kdim"):
        MultiheadAttention(6, 3, kdim=4)
    with pytest.raises(ValueError, match="dropout_p"):
        MultiheadAttention(6, 3, dropout=0.1)(*(np.ones((2, 6), np.float32),) * 3)
    x = np.ones((2, 6), np.float32)
    assert MultiheadAttention(6, 3, dropout=0.1).eval()(x, x, x)[0].shape == (2, 6)
    with pytest.raises(RuntimeError, match="before forward"):
        MultiheadAttention(6, 3).backward(x)
