r"""Multi-head attention from scratch, forward and backward, in ``nn.MultiheadAttention``'s layout.

One attention looks at the sequence one way; :math:`H` heads look at it :math:`H` ways at once.
Each head projects the queries, keys and values down to :math:`D = E / H` features with its own
slice of the weights, attends (see :mod:`dlbook.scratch.attention`), and the heads' outputs,
concatenated back to :math:`E` features, are mixed by one more linear map:

.. math::
    \text{head}_h = \text{Attention}(X_q W_q^{(h)\top} + b_q^{(h)},\,
        X_k W_k^{(h)\top} + b_k^{(h)},\, X_v W_v^{(h)\top} + b_v^{(h)}), \qquad
    \text{out} = [\text{head}_1, \dots, \text{head}_H]\, W_o^\top + b_o.

The weights are laid out exactly as torch's: ``in_proj_weight`` ``(3E, E)`` stacks
:math:`W_q, W_k, W_v` (rows ``0:E``, ``E:2E``, ``2E:3E``), head :math:`h` owns rows
``h D:(h + 1) D`` of each, and ``out_proj_weight`` is ``out_proj.weight``. Sequences are
``(L, N, E)`` (length first, as ``batch_first=False``) or unbatched ``(L, E)``.

**Masks: True means "do not attend" here**, the opposite of
:func:`~dlbook.scratch.attention.scaled_dot_product_attention` (where True = attend). Torch's
``nn.MultiheadAttention`` and ``F.multi_head_attention_forward`` took this convention from the
older ``masked_fill`` idiom, and we keep it so that a torch mask works unchanged. A float mask is
added to the scores in both (``-inf`` = do not attend). ``key_padding_mask`` ``(N, S)`` hides
padded keys of each sequence; ``attn_mask`` ``(L, S)`` (or ``(N H, L, S)``) hides keys per
query; the two add up.

**is_causal** is a hint in torch: it needs the causal ``attn_mask`` beside it. Here
``is_causal=True`` with no ``attn_mask`` builds that mask; with one, the mask must be the causal
mask (else ``ValueError``, where torch gives a result that depends on ``need_weights``).

**A fully masked query** gets zero weights and a zero attention output (torch's
``need_weights=False`` path, its safe softmax; its ``need_weights=True`` path gives NaN).

Not supported, each refused with a ``ValueError`` naming it: dropout while training,
``bias_k``/``bias_v``, ``add_zero_attn``, separate projection weights and ``static_k``/
``static_v``.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from dlbook import checks
from dlbook.scratch import init
from dlbook.scratch.attention import (
    attention_weights,
    safe_softmax,
    scaled_dot_product_attention,
    scaled_dot_product_attention_backward,
)
from dlbook.scratch.layer_base import Layer, parameter_dtype
from dlbook.scratch.layers import Linear
from dlbook.scratch.linear import linear, linear_backward

__all__ = [
    "multi_head_attention_forward",
    "multi_head_attention_forward_backward",
    "multi_head_attention_forward_naive",
    "key_padding_bias",
    "MultiheadAttention",
]


# --- argument checks and masks ------------------------------------------------------------------


def _flag(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {value!r}")
    return bool(value)


def _weight(a, name, shape, dtype):
    if a is None:
        return None
    checks.float_array(a, name, (len(shape),))
    if a.dtype != dtype:
        raise TypeError(f"{name} has dtype {a.dtype} but query has dtype {dtype}")
    if a.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {a.shape}")
    return a


def _canonical(mask, name, dtype):
    """A bool mask (True = do not attend) as an additive float bias; a float one as it is."""
    if mask is None:
        return None
    if not isinstance(mask, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray or None, got {type(mask).__name__}")
    if mask.dtype == bool:
        return np.where(mask, -np.inf, 0.0).astype(dtype)  # True = NOT allowed, as in torch
    if mask.dtype != dtype:
        raise TypeError(f"{name} must be bool or the query's dtype {dtype}, got {mask.dtype}")
    return mask


def key_padding_bias(key_padding_mask, dtype):
    """The additive bias of a key padding mask, shaped to broadcast over heads and queries.

    Shapes:
        key_padding_mask: (N, S), bool (True = padding, not attended) or float (added)
        returns: (N, 1, 1, S), dtype
    Formula:
        bias[n, 0, 0, j] = -inf if key_padding_mask[n, j] else 0 (a float mask as it is)
    Torch:
        none (torch builds it inside torch.nn.functional.multi_head_attention_forward)
    """
    bias = _canonical(key_padding_mask, "key_padding_mask", dtype)
    if bias.ndim != 2:
        raise ValueError(f"key_padding_mask must be 2-D (N, S), got {bias.shape}")
    return bias[:, None, None, :]


def _mask(attn_mask, key_padding_mask, is_causal, n, h, l_len, s_len, dtype):
    """attn_mask and key_padding_mask (batched, already a float bias) as one additive bias
    for the (N, H, L, S) scores."""
    bias = _canonical(attn_mask, "attn_mask", dtype)
    causal = np.where(np.tri(l_len, s_len, dtype=bool), 0.0, -np.inf).astype(dtype)
    if bias is not None:
        want = {2: (l_len, s_len), 3: (n * h, l_len, s_len)}.get(bias.ndim)
        if bias.shape != want:
            raise ValueError(
                f"attn_mask must be (L, S) = {(l_len, s_len)} or (N * num_heads, L, S) = "
                f"{(n * h, l_len, s_len)}, got {bias.shape}"
            )
        if is_causal and not np.array_equal(bias, np.broadcast_to(causal, bias.shape)):
            raise ValueError(
                "attn_mask must be the causal mask when is_causal=True (True, or -inf, exactly "
                "above the diagonal); torch treats is_causal as a hint about attn_mask"
            )
        bias = bias.reshape(n, h, l_len, s_len) if bias.ndim == 3 else bias
    elif is_causal:
        bias = causal
    if key_padding_mask is not None:
        if key_padding_mask.shape != (n, s_len):
            raise ValueError(
                f"key_padding_mask must be (N, S) = {(n, s_len)}, got {key_padding_mask.shape}"
            )
        kpm = key_padding_bias(key_padding_mask, dtype)
        bias = kpm if bias is None else kpm + bias
    return bias


def _unsupported(bias_k, bias_v, add_zero_attn, use_separate_proj_weight, q_proj_weight,
                 k_proj_weight, v_proj_weight, static_k, static_v):  # fmt: skip
    for name, value in (("bias_k", bias_k), ("bias_v", bias_v), ("q_proj_weight", q_proj_weight),
                        ("k_proj_weight", k_proj_weight), ("v_proj_weight", v_proj_weight),
                        ("static_k", static_k), ("static_v", static_v)):  # fmt: skip
        if value is not None:
            raise ValueError(f"{name} is not supported here: it must be None")
    for name, value in (("add_zero_attn", add_zero_attn),
                        ("use_separate_proj_weight", use_separate_proj_weight)):  # fmt: skip
        if _flag(value, name):
            raise ValueError(f"{name}=True is not supported here: it must be False")


def _prepare(query, key, value, embed_dim_to_check, num_heads, in_proj_weight, in_proj_bias,
             bias_k, bias_v, add_zero_attn, dropout_p, out_proj_weight, out_proj_bias, training,
             key_padding_mask, need_weights, attn_mask, use_separate_proj_weight, q_proj_weight,
             k_proj_weight, v_proj_weight, static_k, static_v, average_attn_weights,
             is_causal):  # fmt: skip
    """Check everything; return batched (L, N, E) query/key/value, the unbatched flag, the
    number of heads and the scores' bias (None for no mask)."""
    _unsupported(bias_k, bias_v, add_zero_attn, use_separate_proj_weight, q_proj_weight,
                 k_proj_weight, v_proj_weight, static_k, static_v)  # fmt: skip
    p = checks.check_probability("dropout_p", dropout_p)
    if _flag(training, "training") and p > 0:
        raise ValueError(
            f"dropout_p={p} with training=True is not supported here: pass dropout_p=0 or "
            "training=False"
        )
    for name, flag in (("need_weights", need_weights), ("is_causal", is_causal),
                       ("average_attn_weights", average_attn_weights)):  # fmt: skip
        _flag(flag, name)
    for name, a in (("query", query), ("key", key), ("value", value)):
        checks.float_array(a, name, (2, 3))
        checks.same_dtype(query, a, name)
    if not key.ndim == value.ndim == query.ndim:
        raise ValueError(
            f"key and value must be {query.ndim}-D like query {query.shape}, got key "
            f"{key.shape} and value {value.shape}"
        )
    if key.shape != value.shape:
        raise ValueError(f"value must have key's shape {key.shape}, got {value.shape}")
    unbatched = query.ndim == 2
    kpm = _canonical(key_padding_mask, "key_padding_mask", query.dtype)
    if unbatched:  # a batch of one; an unbatched (H, L, S) attn_mask is (N H, L, S) with N = 1
        query, key, value = query[:, None], key[:, None], value[:, None]
        if kpm is not None and kpm.ndim != 1:
            raise ValueError(
                f"key_padding_mask must be 1-D (S,) for unbatched query, got {kpm.shape}"
            )
        kpm = None if kpm is None else kpm[None]
    (l_len, n, e), s_len = query.shape, key.shape[0]
    if (
        isinstance(embed_dim_to_check, (bool, np.bool_))
        or not isinstance(embed_dim_to_check, numbers.Integral)
        or e != embed_dim_to_check
    ):
        raise ValueError(f"embed_dim_to_check={embed_dim_to_check!r}, but query has E={e}")
    h = checks.check_int(num_heads, "num_heads")
    if e % h:
        raise ValueError(f"num_heads={h} must divide the embedding size embed_dim={e}")
    if key.shape[1:] != (n, e):
        raise ValueError(f"key must be (S, N, E) with N={n}, E={e} as query, got {key.shape}")
    if in_proj_weight is None:
        raise ValueError("in_proj_weight must be a (3 E, E) array, got None")
    _weight(in_proj_weight, "in_proj_weight", (3 * e, e), query.dtype)
    _weight(in_proj_bias, "in_proj_bias", (3 * e,), query.dtype)
    checks.float_array(out_proj_weight, "out_proj_weight", (2,))
    _weight(out_proj_weight, "out_proj_weight", (out_proj_weight.shape[0], e), query.dtype)
    _weight(out_proj_bias, "out_proj_bias", (out_proj_weight.shape[0],), query.dtype)
    bias = _mask(attn_mask, kpm, is_causal, n, h, l_len, s_len, query.dtype)
    return query, key, value, unbatched, h, bias


# --- the forward and backward passes ------------------------------------------------------------


def _project(x, in_proj_weight, in_proj_bias, i):
    """The i-th of the q, k, v projections (rows i E:(i + 1) E of the packed weight)."""
    e = in_proj_weight.shape[1]
    rows = slice(i * e, (i + 1) * e)
    b = None if in_proj_bias is None else in_proj_bias[rows]
    return in_proj_weight[rows], b


def _split_heads(x, h):
    """(T, N, E) to (N, H, T, D): head h takes features h D:(h + 1) D."""
    t, n, e = x.shape
    return x.reshape(t, n, h, e // h).transpose(1, 2, 0, 3)


def _merge_heads(x):
    """(N, H, T, D) back to (T, N, H D): the heads side by side."""
    n, h, t, d = x.shape
    return x.transpose(2, 0, 1, 3).reshape(t, n, h * d)


def _heads(query, key, value, h, in_proj_weight, in_proj_bias):
    xs = (query, key, value)
    return [
        _split_heads(linear(x, *_project(x, in_proj_weight, in_proj_bias, i)), h)
        for i, x in enumerate(xs)
    ]


def multi_head_attention_forward(
    query, key, value, embed_dim_to_check, num_heads, in_proj_weight, in_proj_bias, bias_k,
    bias_v, add_zero_attn, dropout_p, out_proj_weight, out_proj_bias, training=True,
    key_padding_mask=None, need_weights=True, attn_mask=None, use_separate_proj_weight=False,
    q_proj_weight=None, k_proj_weight=None, v_proj_weight=None, static_k=None, static_v=None,
    average_attn_weights=True, is_causal=False,
):  # fmt: skip
    """Multi-head attention: H heads attend in parallel, then one linear map mixes them.

    Boolean masks mean True = do NOT attend (torch's convention for this function; see the
    module's docstring). Returns ``(attn_output, attn_weights)``, the weights ``None`` unless
    ``need_weights``; averaged over the heads unless ``average_attn_weights=False``.

    Shapes:
        query: (L, N, E) or unbatched (L, E); key, value: (S, N, E) or (S, E)
        in_proj_weight: (3 E, E), rows [W_q; W_k; W_v]; in_proj_bias: (3 E,) or None
        out_proj_weight: (E_out, E); out_proj_bias: (E_out,) or None
        key_padding_mask: (N, S) or (S,), bool (True = padding) or float (added)
        attn_mask: (L, S) or (N * num_heads, L, S) ((num_heads, L, S) unbatched), bool
            (True = not allowed) or float (added)
        returns: attn_output (L, N, E_out) or (L, E_out); attn_weights (N, L, S), or
            (N, num_heads, L, S) unaveraged (without N when unbatched), or None
    Formula:
        head_h = softmax((x_q W_q^h + b_q^h)(x_k W_k^h + b_k^h)^T / sqrt(D) + M)
        (x_v W_v^h + b_v^h), D = E / H; out = [head_1 ... head_H] W_o^T + b_o
    Torch:
        torch.nn.functional.multi_head_attention_forward
    """
    query, key, value, unbatched, h, bias = _prepare(**locals())  # every argument, checked
    q, k, v = _heads(query, key, value, h, in_proj_weight, in_proj_bias)
    context = _merge_heads(scaled_dot_product_attention(q, k, v, bias))
    out = linear(context, out_proj_weight, out_proj_bias)
    weights = None
    if need_weights:
        weights = attention_weights(q, k, bias)  # (N, H, L, S)
        weights = weights.mean(axis=1) if average_attn_weights else weights
        weights = weights[0] if unbatched else weights
    return (out[:, 0] if unbatched else out), weights


def multi_head_attention_forward_backward(
    grad_output, query, key, value, embed_dim_to_check, num_heads, in_proj_weight,
    in_proj_bias, bias_k, bias_v, add_zero_attn, dropout_p, out_proj_weight, out_proj_bias,
    training=True, key_padding_mask=None, need_weights=True, attn_mask=None,
    use_separate_proj_weight=False, q_proj_weight=None, k_proj_weight=None, v_proj_weight=None,
    static_k=None, static_v=None, average_attn_weights=True, is_causal=False,
):  # fmt: skip
    """The gradients of :func:`multi_head_attention_forward`'s ``attn_output``.

    Returns ``(grad_query, grad_key, grad_value, grad_in_proj_weight, grad_in_proj_bias,
    grad_out_proj_weight, grad_out_proj_bias)``; a bias given as None gets None. (The
    unsupported arguments, always None here, get no entry.) The attention weights are not
    differentiated. For self-attention (one x passed as query, key and value) the gradient of x
    is the sum of the first three.

    Shapes:
        grad_output: attn_output's shape, (L, N, E_out) or (L, E_out)
        returns: shaped like query, key, value, in_proj_weight, in_proj_bias,
            out_proj_weight, out_proj_bias
    Formula:
        grad_context, grad_W_o, grad_b_o = linear_backward(G, context, W_o, b_o); per head,
        scaled_dot_product_attention_backward; then linear_backward through each of the q, k
        and v projections, their weight gradients stacked as in_proj_weight is
    Torch:
        autograd through torch.nn.functional.multi_head_attention_forward
    """
    arguments = {k: v for k, v in locals().items() if k != "grad_output"}
    query, key, value, unbatched, h, bias = _prepare(**arguments)  # every argument, checked
    q, k, v = _heads(query, key, value, h, in_proj_weight, in_proj_bias)
    context = _merge_heads(scaled_dot_product_attention(q, k, v, bias))
    shape = (query.shape[0], query.shape[1], out_proj_weight.shape[0])
    if unbatched:  # the batch axis of 1 is axis 1 here, not 0
        g = checks.check_grad_output(grad_output, shape[:1] + shape[2:], query.dtype)[:, None]
    else:
        g = checks.check_grad_output(grad_output, shape, query.dtype)
    grad_context, grad_w_o, grad_b_o = linear_backward(g, context, out_proj_weight, out_proj_bias)
    grads_qkv = scaled_dot_product_attention_backward(_split_heads(grad_context, h), q, k, v, bias)
    grad_x, grad_w, grad_b = [], [], []
    for i, (x, gx) in enumerate(zip((query, key, value), grads_qkv)):
        w, b = _project(x, in_proj_weight, in_proj_bias, i)
        gi, gw, gb = linear_backward(_merge_heads(gx), x, w, b)
        grad_x.append(gi[:, 0] if unbatched else gi)
        grad_w.append(gw)
        grad_b.append(gb)
    grad_in_b = None if in_proj_bias is None else np.concatenate(grad_b)
    return (*grad_x, np.concatenate(grad_w), grad_in_b, grad_w_o, grad_b_o)


def multi_head_attention_forward_naive(
    query, key, value, embed_dim_to_check, num_heads, in_proj_weight, in_proj_bias, bias_k,
    bias_v, add_zero_attn, dropout_p, out_proj_weight, out_proj_bias, training=True,
    key_padding_mask=None, need_weights=True, attn_mask=None, use_separate_proj_weight=False,
    q_proj_weight=None, k_proj_weight=None, v_proj_weight=None, static_k=None, static_v=None,
    average_attn_weights=True, is_causal=False,
):  # fmt: skip
    """The same, one sequence and one head at a time, written for reading: each head projects
    with its own rows of the weights, attends, and the heads are concatenated and mixed.

    Shapes:
        as :func:`multi_head_attention_forward`
    Formula:
        for every sequence n and head h: q = x_q[:, n] W_q[rows_h]^T + b_q[rows_h] (and k, v),
        a = softmax(q k^T / sqrt(D) + M[n, h]), head_h = a v; out[:, n] = [head_h]_h W_o^T + b_o
    Torch:
        torch.nn.functional.multi_head_attention_forward
    """
    query, key, value, unbatched, h, bias = _prepare(**locals())  # every argument, checked
    (l_len, n, e), s_len, d = query.shape, key.shape[0], query.shape[2] // h
    bias = np.zeros((n, h, l_len, s_len), query.dtype) + (0 if bias is None else bias)
    w_q, w_k, w_v = np.split(in_proj_weight, 3)
    no_bias = np.zeros(3 * e, query.dtype)
    b_q, b_k, b_v = np.split(no_bias if in_proj_bias is None else in_proj_bias, 3)
    out = np.zeros((l_len, n, out_proj_weight.shape[0]), query.dtype)
    weights = np.zeros((n, h, l_len, s_len), query.dtype)
    for i in range(n):
        heads = []
        for j in range(h):
            rows = slice(j * d, (j + 1) * d)  # head j's rows of W_q, W_k and W_v
            q = query[:, i] @ w_q[rows].T + b_q[rows]
            k = key[:, i] @ w_k[rows].T + b_k[rows]
            v = value[:, i] @ w_v[rows].T + b_v[rows]
            weights[i, j] = safe_softmax(q @ k.T / math.sqrt(d) + bias[i, j])
            heads.append(weights[i, j] @ v)
        out[:, i] = np.concatenate(heads, axis=1) @ out_proj_weight.T
        out[:, i] += 0 if out_proj_bias is None else out_proj_bias
    weights = weights.mean(axis=1) if average_attn_weights else weights
    if unbatched:
        out, weights = out[:, 0], weights[0]
    return out, (weights if need_weights else None)


# --- the layer object ---------------------------------------------------------------------------


class MultiheadAttention(Layer):
    """:func:`multi_head_attention_forward` as a layer, with ``nn.MultiheadAttention``'s
    constructor, parameter names and initialization: ``in_proj_weight`` Xavier-uniform, the
    biases zero, ``out_proj.weight`` uniform in ``±1/sqrt(E)``. ``rng`` (a NumPy generator)
    replaces torch's global one. Copy a torch module in with
    ``layer.load_state_dict({k: v.numpy() for k, v in module.state_dict().items()})``.

    ``forward(query, key, value, ...)`` returns ``(attn_output, attn_weights)`` as torch's
    does; ``backward(grad_output)`` takes the gradient of ``attn_output`` and returns
    ``(grad_query, grad_key, grad_value)`` (add them up for self-attention), and sets ``grads``
    in the order of ``params``: in_proj_weight, in_proj_bias, out_proj.weight, out_proj.bias.
    ``dropout`` is accepted but must be 0 while training; ``add_bias_kv``, ``add_zero_attn`` and
    ``kdim``/``vdim`` other than ``embed_dim`` are refused (``ValueError``).

    Shapes:
        query: (L, N, E), (N, L, E) with batch_first, or unbatched (L, E); key, value: (S, ...)
        returns: (attn_output like query, attn_weights (N, L, S) or None)
    Formula:
        out = [head_1 ... head_H] W_o^T + b_o, head_h = softmax(q_h k_h^T / sqrt(D) + M) v_h
    Torch:
        torch.nn.MultiheadAttention
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
                 add_zero_attn=False, kdim=None, vdim=None, batch_first=False, device=None,
                 dtype=None, rng=None):  # fmt: skip
        super().__init__()
        e = self.embed_dim = checks.check_int(embed_dim, "embed_dim")
        self.num_heads = checks.check_int(num_heads, "num_heads")
        if e % self.num_heads:
            raise ValueError(f"embed_dim={e} must be divisible by num_heads={self.num_heads}")
        self.dropout = checks.check_probability("dropout", dropout)
        for name, flag in (("add_bias_kv", add_bias_kv), ("add_zero_attn", add_zero_attn)):
            if _flag(flag, name):
                raise ValueError(f"{name}=True is not supported here: it must be False")
        for name, dim in (("kdim", kdim), ("vdim", vdim)):
            if dim is not None and dim != e:
                raise ValueError(f"{name} must be None or embed_dim={e}, got {dim!r}")
        self.batch_first = _flag(batch_first, "batch_first")
        dtype, rng = parameter_dtype(device, dtype), checks.generator(rng)
        self.in_proj_weight = init.xavier_uniform_(np.empty((3 * e, e), dtype), rng=rng)
        self.in_proj_bias = np.zeros(3 * e, dtype) if _flag(bias, "bias") else None
        self.out_proj = Linear(e, e, bias=bias, dtype=dtype, rng=rng)
        if bias:
            self.out_proj.bias[...] = 0
        self.params = [a for a in self.named_params().values()]

    def named_params(self) -> dict[str, np.ndarray]:
        """The parameters by torch's names, in torch's order (the arrays themselves)."""
        named = {
            "in_proj_weight": self.in_proj_weight,
            "in_proj_bias": self.in_proj_bias,
            "out_proj.weight": self.out_proj.weight,
            "out_proj.bias": self.out_proj.bias,
        }
        return {k: v for k, v in named.items() if v is not None}

    def load_state_dict(self, state) -> MultiheadAttention:
        """Copy arrays (e.g. a torch module's ``state_dict()``, as NumPy) in place, by name."""
        named = self.named_params()
        if set(state) != set(named):
            raise ValueError(f"state must have exactly the keys {list(named)}, got {list(state)}")
        for name, p in named.items():
            a = np.asarray(state[name])
            if a.shape != p.shape:
                raise ValueError(f"state[{name!r}] has shape {a.shape}, expected {p.shape}")
            p[...] = a
        return self

    def __call__(self, query, key, value, key_padding_mask=None, need_weights=True,
                 attn_mask=None, average_attn_weights=True, is_causal=False):  # fmt: skip
        return self.forward(query, key, value, key_padding_mask, need_weights, attn_mask,
                            average_attn_weights, is_causal)  # fmt: skip

    def _functional_args(self, query, key, value):
        swap = self.batch_first and query.ndim == 3
        qkv = [a.swapaxes(0, 1) if swap and a.ndim == 3 else a for a in (query, key, value)]
        return swap, (*qkv, self.embed_dim, self.num_heads, self.in_proj_weight,
                      self.in_proj_bias, None, None, False, self.dropout, self.out_proj.weight,
                      self.out_proj.bias, self.training)  # fmt: skip

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True,
                attn_mask=None, average_attn_weights=True, is_causal=False):  # fmt: skip
        """``(attn_output, attn_weights)``; keeps the inputs and masks for the backward."""
        swap, args = self._functional_args(query, key, value)
        kwargs = dict(key_padding_mask=key_padding_mask, need_weights=need_weights,
                      attn_mask=attn_mask, average_attn_weights=average_attn_weights,
                      is_causal=is_causal)  # fmt: skip
        out, weights = multi_head_attention_forward(*args, **kwargs)
        self._input = (query, key, value, kwargs)
        return (out.swapaxes(0, 1) if swap else out), weights

    def backward(self, grad_output):
        """``(grad_query, grad_key, grad_value)`` for the last forward; ``grads`` gets the
        parameters' gradients, in the order of ``params``."""
        query, key, value, kwargs = self._saved_input()
        swap, args = self._functional_args(query, key, value)
        g = grad_output.swapaxes(0, 1) if swap else grad_output
        gq, gk, gv, *grads = multi_head_attention_forward_backward(g, *args, **kwargs)
        self.grads = [gr for gr in grads if gr is not None]
        return tuple(a.swapaxes(0, 1) if swap else a for a in (gq, gk, gv))

    def extra_repr(self):
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"
