r"""The Transformer's encoder block from scratch, forward and backward, and sinusoidal positions.

A block is two sublayers, each with a residual connection: multi-head self-attention
(:mod:`dlbook.scratch.multihead`), where every position reads the others, then a position-wise
MLP, ``linear2(activation(linear1(x)))``, that works on each position alone. Layer norm goes
*before* each sublayer (pre-norm, ``norm_first=True``, as GPT-2 and most models since) or after
each residual sum (post-norm, the original of Vaswani et al. 2017):

.. math::
    \text{pre-norm:}\quad x_1 = x + \text{MHA}(\text{LN}_1(x)), \quad
        y = x_1 + \text{MLP}(\text{LN}_2(x_1));
    \qquad \text{post-norm:}\quad x_1 = \text{LN}_1(x + \text{MHA}(x)), \quad
        y = \text{LN}_2(x_1 + \text{MLP}(x_1)).

In pre-norm the residual path from input to output is the identity, so gradients reach early
blocks undiminished. The parameters are a dict keyed by torch's names in
``nn.TransformerEncoderLayer.state_dict()`` (``self_attn.in_proj_weight``, ``linear1.weight``,
``norm1.weight``, ...), so that ``{k: v.numpy() for k, v in layer.state_dict().items()}`` is a
valid ``params``. The block equals that layer with ``dropout=0.0``.

Attention alone does not know the order of the positions: permuting them permutes the output.
The sinusoidal positional encoding of Vaswani et al., added to the embeddings, tells it; because
each pair of its features is a rotation by an angle proportional to the position, shifting every
position by :math:`k` is one fixed linear map (:func:`sinusoidal_shift_matrix`), the same at
every position.
"""

from __future__ import annotations

import numpy as np

from dlbook import checks
from dlbook.scratch.activations import gelu, gelu_backward, relu, relu_backward
from dlbook.scratch.layers import Linear
from dlbook.scratch.linear import linear, linear_backward
from dlbook.scratch.multihead import (
    MultiheadAttention,
    multi_head_attention_forward,
    multi_head_attention_forward_backward,
)
from dlbook.scratch.norm import layer_norm, layer_norm_backward

__all__ = [
    "sinusoidal_positional_encoding",
    "sinusoidal_shift_matrix",
    "transformer_block",
    "transformer_block_backward",
    "transformer_block_params",
]

_ACTIVATIONS = {"relu": (relu, relu_backward), "gelu": (gelu, gelu_backward)}
_WEIGHTS = ("self_attn.in_proj_weight", "self_attn.out_proj.weight", "linear1.weight",
            "linear2.weight", "norm1.weight", "norm2.weight")  # fmt: skip
_BIASES = tuple(name.replace("weight", "bias") for name in _WEIGHTS)
_NAMES = tuple(name for pair in zip(_WEIGHTS, _BIASES) for name in pair)  # torch's order


# --- sinusoidal positional encoding -------------------------------------------------------------


def _angles(positions, dim, base):
    """pos / base^(2 i / dim) for every position and every pair i (one entry per pair)."""
    dim = checks.check_int(dim, "dim")
    if dim % 2:
        raise ValueError(f"dim must be even (sin and cos features come in pairs), got {dim}")
    base = checks.real(base, "base")
    if base <= 0:
        raise ValueError(f"base must be positive, got {base}")
    return np.multiply.outer(positions, base ** (-np.arange(0, dim, 2) / dim))


def sinusoidal_positional_encoding(length, dim, base=10000.0, dtype=np.float64):
    """The positional encoding of Vaswani et al. (2017): sines and cosines whose wavelengths
    grow geometrically from 2 pi to base * 2 pi across the features.

    Shapes:
        returns: (length, dim), dtype; dim even
    Formula:
        PE[pos, 2 i] = sin(pos / base^(2 i / dim)), PE[pos, 2 i + 1] = cos(pos / base^(2 i / dim))
    Torch:
        none (torch has no positional encoding; its tutorials build this same table)
    """
    length = checks.check_int(length, "length", minimum=0)
    angles = _angles(np.arange(length), dim, base)
    pe = np.empty((length, angles.shape[1] * 2), dtype)
    pe[:, 0::2], pe[:, 1::2] = np.sin(angles), np.cos(angles)
    return pe


def sinusoidal_shift_matrix(offset, dim, base=10000.0, dtype=np.float64):
    """The matrix that moves every sinusoidal encoding ``offset`` positions along: a rotation of
    each (sin, cos) pair by its angle times ``offset``, the same whatever the position.

    Shapes:
        returns: (dim, dim), block-diagonal with 2 x 2 rotations
    Formula:
        PE[pos + offset] = M PE[pos], M = diag_i [[cos(w_i k), sin(w_i k)], [-sin(w_i k),
        cos(w_i k)]], w_i = base^(-2 i / dim), k = offset
    Torch:
        none (a property of the encoding, not an operation)
    """
    if isinstance(offset, (bool, np.bool_)) or not isinstance(offset, (int, np.integer)):
        raise TypeError(f"offset must be an int, got {offset!r}")
    angles = _angles(offset, dim, base)
    m = np.zeros((2 * len(angles),) * 2, dtype)
    c, s = np.cos(angles), np.sin(angles)
    pairs = np.arange(0, len(m), 2)
    m[pairs, pairs], m[pairs, pairs + 1] = c, s
    m[pairs + 1, pairs], m[pairs + 1, pairs + 1] = -s, c
    return m


# --- the block ----------------------------------------------------------------------------------


def _check_params(params, x):
    """Every weight present (biases all or none, as torch's bias flag); nothing else."""
    if not isinstance(params, dict):
        raise TypeError(f"params must be a dict of arrays by torch's names, got {type(params)}")
    names = set(params)
    allowed = set(_WEIGHTS) | set(_BIASES)
    if not set(_WEIGHTS) <= names <= allowed or names & set(_BIASES) not in (set(), set(_BIASES)):
        raise ValueError(
            f"params must have the keys {list(_WEIGHTS)} and either all or none of "
            f"{list(_BIASES)}, got {sorted(names)}"
        )
    for name, a in params.items():
        checks.float_array(a, f"params[{name!r}]", (np.ndim(a),))
        if a.dtype != x.dtype:
            raise TypeError(f"params[{name!r}] has dtype {a.dtype} but src has dtype {x.dtype}")
    for name in ("norm1.weight", "norm2.weight"):
        if params[name].shape != x.shape[-1:]:
            raise ValueError(
                f"params[{name!r}] must have shape {x.shape[-1:]}, got {params[name].shape}"
            )
    return {name: params.get(name) for name in _NAMES}


def _check(src, params, activation, norm_first, src_mask, num_heads):
    x = checks.float_array(src, "src", (2, 3))
    p = _check_params(params, x)
    if src_mask is not None:  # named here: multi_head_attention_forward calls it attn_mask
        s_len = x.shape[0]
        n_h = (x.shape[1] if x.ndim == 3 else 1) * checks.check_int(num_heads, "num_heads")
        if np.shape(src_mask) not in ((s_len, s_len), (n_h, s_len, s_len)):
            raise ValueError(
                f"src_mask must be (S, S) = {(s_len, s_len)} or (N * num_heads, S, S) = "
                f"{(n_h, s_len, s_len)}, got {np.shape(src_mask)}"
            )
    if activation not in _ACTIVATIONS:
        raise ValueError(f"activation must be 'relu' or 'gelu', got {activation!r}")
    if not isinstance(norm_first, (bool, np.bool_)):
        raise TypeError(f"norm_first must be a bool, got {norm_first!r}")
    return x, p


def _attention_args(x, p, num_heads, src_mask, src_key_padding_mask, is_causal):
    """Self-attention's arguments for multi_head_attention_forward (and its backward)."""
    args = (x, x, x, x.shape[-1], num_heads, p["self_attn.in_proj_weight"],
            p["self_attn.in_proj_bias"], None, None, False, 0.0, p["self_attn.out_proj.weight"],
            p["self_attn.out_proj.bias"])  # fmt: skip
    kwargs = dict(training=False, key_padding_mask=src_key_padding_mask, need_weights=False,
                  attn_mask=src_mask, is_causal=is_causal)  # fmt: skip
    return args, kwargs


def _norm(x, p, i, eps):
    return layer_norm(x, x.shape[-1:], p[f"norm{i}.weight"], p[f"norm{i}.bias"], eps)


def _norm_backward(g, x, p, i, eps):
    gx, gw, gb = layer_norm_backward(g, x, x.shape[-1:], p[f"norm{i}.weight"], p[f"norm{i}.bias"],
                                     eps)  # fmt: skip
    return gx, {f"norm{i}.weight": gw, f"norm{i}.bias": gb}


def _mlp(x, p, activation):
    act = _ACTIVATIONS[activation][0]
    return linear(act(linear(x, p["linear1.weight"], p["linear1.bias"])), p["linear2.weight"],
                  p["linear2.bias"])  # fmt: skip


def _mlp_backward(g, x, p, activation):
    act, act_backward = _ACTIVATIONS[activation]
    hidden = linear(x, p["linear1.weight"], p["linear1.bias"])
    gh, gw2, gb2 = linear_backward(g, act(hidden), p["linear2.weight"], p["linear2.bias"])
    gx, gw1, gb1 = linear_backward(act_backward(gh, hidden), x, p["linear1.weight"],
                                   p["linear1.bias"])  # fmt: skip
    return gx, {"linear1.weight": gw1, "linear1.bias": gb1, "linear2.weight": gw2,
                "linear2.bias": gb2}  # fmt: skip


def _self_attention(x, p, masks):
    args, kwargs = _attention_args(x, p, *masks)
    return multi_head_attention_forward(*args, **kwargs)[0]


def _self_attention_backward(g, x, p, masks):
    args, kwargs = _attention_args(x, p, *masks)
    gq, gk, gv, gw, gb, gwo, gbo = multi_head_attention_forward_backward(g, *args, **kwargs)
    return gq + gk + gv, dict(zip(_NAMES[:4], (gw, gb, gwo, gbo)))  # query = key = value = x


def transformer_block(src, params, num_heads, src_mask=None, src_key_padding_mask=None,
                      is_causal=False, norm_first=True, activation="gelu",
                      layer_norm_eps=1e-5):  # fmt: skip
    """One Transformer encoder block: self-attention and an MLP, each with a residual
    connection and a layer norm, before it (``norm_first=True``) or after the sum.

    Masks as in :func:`~dlbook.scratch.multihead.multi_head_attention_forward` (bool True = do
    not attend); ``is_causal=True`` alone makes each position see itself and the earlier ones.
    The defaults are the modern block's (pre-norm, GELU); torch's layer defaults to post-norm
    and ReLU.

    Shapes:
        src: (S, N, E) or unbatched (S, E)
        params: torch's state_dict names: self_attn.in_proj_weight (3 E, E), ...out_proj.weight
            (E, E), linear1.weight (F, E), linear2.weight (E, F), norm1/norm2.weight (E,), and
            the biases (all or none)
        src_mask: (S, S) or (N * num_heads, S, S); src_key_padding_mask: (N, S) or (S,)
        returns: src's shape
    Formula:
        pre-norm: x1 = x + MHA(LN1(x)), y = x1 + MLP(LN2(x1));
        post-norm: x1 = LN1(x + MHA(x)), y = LN2(x1 + MLP(x1)); MLP(x) = W2 act(W1 x + b1) + b2
    Torch:
        torch.nn.TransformerEncoderLayer (with dropout=0.0)
    """
    x, p = _check(src, params, activation, norm_first, src_mask, num_heads)
    masks = (num_heads, src_mask, src_key_padding_mask, is_causal)
    if norm_first:
        x1 = x + _self_attention(_norm(x, p, 1, layer_norm_eps), p, masks)
        return x1 + _mlp(_norm(x1, p, 2, layer_norm_eps), p, activation)
    x1 = _norm(x + _self_attention(x, p, masks), p, 1, layer_norm_eps)
    return _norm(x1 + _mlp(x1, p, activation), p, 2, layer_norm_eps)


def transformer_block_backward(grad_output, src, params, num_heads, src_mask=None,
                               src_key_padding_mask=None, is_causal=False, norm_first=True,
                               activation="gelu", layer_norm_eps=1e-5):  # fmt: skip
    """The gradients of :func:`transformer_block`: ``(grad_src, grad_params)``, the second a
    dict with ``params``' keys. Each residual connection passes the gradient straight through
    and adds the sublayer's; self-attention's input gets query's, key's and value's.

    Shapes:
        grad_output: src's shape
        returns: (grad_src like src, {name: gradient shaped like params[name]})
    Formula:
        pre-norm: g_x1 = g + LN2'(MLP'(g)), g_x = g_x1 + LN1'(MHA'(g_x1));
        post-norm: g_s2 = LN2'(g), g_x1 = g_s2 + MLP'(g_s2), g_s1 = LN1'(g_x1),
        g_x = g_s1 + MHA'(g_s1); primes are the sublayers' backward passes
    Torch:
        autograd through torch.nn.TransformerEncoderLayer (with dropout=0.0)
    """
    x, p = _check(src, params, activation, norm_first, src_mask, num_heads)
    g = checks.check_grad_output(grad_output, x.shape, x.dtype)
    masks, eps, grads = (num_heads, src_mask, src_key_padding_mask, is_causal), layer_norm_eps, {}
    if norm_first:
        n1 = _norm(x, p, 1, eps)
        x1 = x + _self_attention(n1, p, masks)
        g_n2, gr = _mlp_backward(g, _norm(x1, p, 2, eps), p, activation)
        g_x1, gr2 = _norm_backward(g_n2, x1, p, 2, eps)
        g_x1 = g + g_x1
        g_n1, gr3 = _self_attention_backward(g_x1, n1, p, masks)
        g_x, gr4 = _norm_backward(g_n1, x, p, 1, eps)
        g_x = g_x1 + g_x
    else:
        s1 = x + _self_attention(x, p, masks)
        x1 = _norm(s1, p, 1, eps)
        g_s2, gr2 = _norm_backward(g, x1 + _mlp(x1, p, activation), p, 2, eps)
        g_mlp, gr = _mlp_backward(g_s2, x1, p, activation)
        g_s1, gr4 = _norm_backward(g_s2 + g_mlp, s1, p, 1, eps)
        g_attn, gr3 = _self_attention_backward(g_s1, x, p, masks)
        g_x = g_s1 + g_attn
    for part in (gr, gr2, gr3, gr4):
        grads.update(part)
    return g_x, {name: grads[name] for name in params}


def transformer_block_params(d_model, nhead, dim_feedforward=2048, bias=True, dtype=None,
                             rng=None):  # fmt: skip
    """Fresh parameters for :func:`transformer_block`, drawn as ``nn.TransformerEncoderLayer``
    draws them: attention as :class:`~dlbook.scratch.multihead.MultiheadAttention`, the linear
    maps uniform in ``±1/sqrt(fan_in)``, the norms' weights 1 and biases 0. ``dtype=None``
    means float32, as torch.

    Shapes:
        returns: {name: array} with torch's state_dict names and shapes, E = d_model,
            F = dim_feedforward
    Formula:
        in_proj_weight ~ Xavier uniform; linear weights and biases ~ U(-1/sqrt(fan_in),
        1/sqrt(fan_in)); attention biases 0; norm weights 1, biases 0
    Torch:
        torch.nn.TransformerEncoderLayer (its parameters, by the state_dict's names)
    """
    rng = checks.generator(rng)
    attn = MultiheadAttention(d_model, nhead, bias=bias, dtype=dtype, rng=rng)
    params = {f"self_attn.{k}": v for k, v in attn.named_params().items()}
    for name, (n_in, n_out) in (("linear1", (d_model, dim_feedforward)),
                                ("linear2", (dim_feedforward, d_model))):  # fmt: skip
        layer = Linear(n_in, n_out, bias=bias, dtype=dtype, rng=rng)
        params[f"{name}.weight"] = layer.weight
        if bias:
            params[f"{name}.bias"] = layer.bias
    dtype = attn.in_proj_weight.dtype
    for name in ("norm1", "norm2"):
        params[f"{name}.weight"] = np.ones(d_model, dtype)
        if bias:
            params[f"{name}.bias"] = np.zeros(d_model, dtype)
    return {name: params[name] for name in _NAMES if name in params}
