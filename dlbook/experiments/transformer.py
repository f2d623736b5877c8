r"""The Transformer chapter's experiments: multi-head attention and the pre-norm block held to
torch, what the heads and the positional encoding do, and a small character Transformer
against an LSTM.

* :func:`mha_pairs` and :func:`block_pairs`: :func:`dlbook.scratch.multi_head_attention_forward`
  and :func:`~dlbook.scratch.transformer_block` (forward and backward) beside
  ``nn.MultiheadAttention`` and ``nn.TransformerEncoderLayer`` in float64, as pairs for
  :func:`dlbook.verify.compare`; :func:`gradcheck_mha` and :func:`gradcheck_block` hold the
  backward passes to finite differences.
* :func:`head_contributions`: the output of multi-head attention split into one term per head;
  :func:`head_cost`: parameters and multiply-adds for any number of heads.
* :func:`permutation_errors`: self-attention is permutation equivariant, until a positional
  encoding or a causal mask is added; :func:`shift_errors`: the sinusoidal encoding moves by a
  fixed linear map.
* :class:`CharTransformer`, :class:`CharLSTM`, :func:`train_char`, :func:`heldout_loss`,
  :func:`attention_maps` and :func:`offset_share`: next-character models on the standard
  library's source.
* :func:`check_multi_head`: the checker of the exercise in which the reader writes multi-head
  self-attention.
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dlbook import seeding
from dlbook.exercise import Case, Report, check
from dlbook.scratch import (
    multi_head_attention_forward,
    multi_head_attention_forward_backward,
    sinusoidal_positional_encoding,
    sinusoidal_shift_matrix,
    transformer_block,
    transformer_block_backward,
)
from dlbook.scratch.gradcheck import numerical_gradient
from dlbook.train import train_steps
from dlbook.verify import gradient_verdict

__all__ = [
    "MHA_NAMES",
    "mha_pairs",
    "torch_block",
    "block_pairs",
    "gradcheck_mha",
    "gradcheck_block",
    "head_contributions",
    "head_cost",
    "permutation_errors",
    "shift_errors",
    "CharTransformer",
    "CharLSTM",
    "windows",
    "train_char",
    "heldout_loss",
    "attention_maps",
    "offset_share",
    "mean_distance",
    "check_multi_head",
]

MHA_NAMES = ("query", "key", "value", "in_proj_weight", "in_proj_bias", "out_proj.weight",
             "out_proj.bias")  # fmt: skip


def _mha_args(mha):
    """The weights of an ``nn.MultiheadAttention`` in :func:`multi_head_attention_forward`'s
    argument order, as arrays."""
    w = [p.detach().numpy() for p in (mha.in_proj_weight, mha.in_proj_bias,
                                       mha.out_proj.weight, mha.out_proj.bias)]  # fmt: skip
    return (mha.embed_dim, mha.num_heads, w[0], w[1], None, None, False, 0.0, w[2], w[3])


# --- scratch against torch ----------------------------------------------------------------------


def mha_pairs(seed=0) -> dict:
    """Scratch multi-head attention against ``nn.MultiheadAttention`` in float64, on two set-ups:
    causal self-attention (L = S = 5, 2 heads) and cross-attention with padded keys (L = 4,
    S = 6, 4 heads); E = 8, N = 2, random biases. Returns ``{name: (ours, torch's)}``: the
    output, the per-head weights and the gradients of every input and parameter."""
    rng, pairs = seeding.rng(seed), {}
    seeding.manual_seed(seed)
    for tag, l_len, s_len, heads in (("self, causal", 5, 5, 2), ("cross, padded keys", 4, 6, 4)):
        mha = nn.MultiheadAttention(8, heads, dtype=torch.float64)
        with torch.no_grad():
            mha.in_proj_bias.normal_(), mha.out_proj.bias.normal_()
        arrays = [rng.standard_normal((n, 2, 8)) for n in (l_len, s_len, s_len)]
        if tag.startswith("self"):
            arrays[1] = arrays[2] = arrays[0]
        q, k, v = (torch.tensor(a, requires_grad=True) for a in arrays)
        masks = dict(attn_mask=None, key_padding_mask=None, is_causal=False)
        if tag.startswith("self"):
            masks.update(attn_mask=np.triu(np.ones((5, 5), bool), 1), is_causal=True)
        else:
            masks["key_padding_mask"] = np.arange(s_len) >= np.array([[s_len], [3]])
        torch_masks = {k_: torch.from_numpy(m) if isinstance(m, np.ndarray) else m
                       for k_, m in masks.items()}  # fmt: skip
        out, w = mha(q, k, v, need_weights=True, average_attn_weights=False, **torch_masks)
        g = rng.standard_normal(out.shape)
        out.backward(torch.from_numpy(g))
        args = (*(t.detach().numpy() for t in (q, k, v)), *_mha_args(mha))
        kw = dict(training=False, need_weights=True, average_attn_weights=False, **masks)
        ours, ours_w = multi_head_attention_forward(*args, **kw)
        grads = multi_head_attention_forward_backward(g, *args, **kw)
        pairs[f"{tag}: output"] = (ours, out)
        pairs[f"{tag}: weights"] = (ours_w, w)
        theirs = (q.grad, k.grad, v.grad, mha.in_proj_weight.grad, mha.in_proj_bias.grad,
                  mha.out_proj.weight.grad, mha.out_proj.bias.grad)  # fmt: skip
        for name, a, b in zip(MHA_NAMES, grads, theirs):
            pairs[f"{tag}: grad {name}"] = (a, b)
    return pairs


def torch_block(d_model=8, nhead=2, dim_feedforward=16, seed=0):
    """A pre-norm ``nn.TransformerEncoderLayer`` in float64 (GELU, no dropout, batch first) with
    random norm weights and biases, so that none of them is trivially 1 or 0."""
    seeding.manual_seed(seed)
    layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout=0.0,
                                       activation="gelu", batch_first=True, norm_first=True,
                                       dtype=torch.float64)  # fmt: skip
    with torch.no_grad():
        for name, p in layer.named_parameters():
            if name.startswith("norm") or name.endswith("bias"):
                p.normal_(0.0 if name.endswith("bias") else 1.0, 0.3)
    return layer


def block_pairs(seed=0) -> dict:
    """The from-scratch :func:`~dlbook.scratch.transformer_block` against a pre-norm
    ``nn.TransformerEncoderLayer`` (E = 8, 2 heads, F = 16), causal, on a batch of 3 sequences
    of length 5: the output and the gradients of the input and of all 12 parameters."""
    layer, rng = torch_block(seed=seed), seeding.rng(seed)
    x = torch.tensor(rng.standard_normal((3, 5, 8)), requires_grad=True)  # (N, S, E)
    mask = nn.Transformer.generate_square_subsequent_mask(5, dtype=torch.float64)
    out = layer(x, src_mask=mask, is_causal=True)
    g = rng.standard_normal(out.shape)
    out.backward(torch.from_numpy(g))
    params = {k: v.detach().numpy() for k, v in layer.state_dict().items()}
    src = x.detach().numpy().transpose(1, 0, 2)  # scratch is sequence first: (S, N, E)
    ours = transformer_block(src, params, 2, is_causal=True)
    grad_src, grads = transformer_block_backward(g.transpose(1, 0, 2), src, params, 2,
                                                 is_causal=True)  # fmt: skip
    pairs = {"output": (ours.transpose(1, 0, 2), out), "grad src": (grad_src.transpose(1, 0, 2),
                                                                    x.grad)}  # fmt: skip
    for name, p in layer.named_parameters():
        pairs[f"grad {name}"] = (grads[name], p.grad)
    return pairs


def _gradcheck(forward, arrays, backward_grads, g, tol=1e-6):
    """One row per array: the analytic gradient against central differences of forward()."""
    verdict = gradient_verdict(tol=tol)
    for name, a in arrays.items():
        verdict.add(name, backward_grads[name], numerical_gradient(forward, a, g))
    return verdict


def gradcheck_mha(seed=1):
    """Finite differences of multi-head self-attention (L = 4, N = 2, E = 4, 2 heads, one key
    padded) for the query, key, value and every weight: a :class:`~dlbook.verify.Verdict`."""
    rng = np.random.default_rng(seed)
    arrays = dict(zip(MHA_NAMES, [rng.standard_normal(s) for s in (
        (4, 2, 4), (4, 2, 4), (4, 2, 4), (12, 4), (12,), (4, 4), (4,))]))  # fmt: skip
    a = list(arrays.values())
    kw = dict(training=False, need_weights=False,
              key_padding_mask=np.array([[False] * 4, [False] * 3 + [True]]))  # fmt: skip
    args = (*a[:3], 4, 2, a[3], a[4], None, None, False, 0.0, a[5], a[6])
    g = rng.standard_normal((4, 2, 4))
    grads = dict(zip(MHA_NAMES, multi_head_attention_forward_backward(g, *args, **kw)))
    return _gradcheck(lambda: multi_head_attention_forward(*args, **kw)[0], arrays, grads, g)


def gradcheck_block(seed=2):
    """Finite differences of the causal pre-norm block (S = 3, N = 2, E = 4, 2 heads, F = 8) for
    its input and all 12 parameters, drawn at random: a :class:`~dlbook.verify.Verdict`."""
    rng = np.random.default_rng(seed)
    params = {k: rng.standard_normal(v.shape) * 0.5
              for k, v in torch_block(4, 2, 8).state_dict().items()}  # fmt: skip
    src, g = rng.standard_normal((3, 2, 4)), rng.standard_normal((3, 2, 4))
    grad_src, grads = transformer_block_backward(g, src, params, 2, is_causal=True)
    arrays = {"src": src, **params}
    return _gradcheck(lambda: transformer_block(src, params, 2, is_causal=True), arrays,
                      {"src": grad_src, **grads}, g)  # fmt: skip


# --- what the heads and the positions do --------------------------------------------------------


def head_contributions(x, in_proj_weight, in_proj_bias, out_proj_weight, num_heads):
    r"""Multi-head self-attention's output, head by head: head :math:`h` attends with its own
    rows :math:`hD{:}(h+1)D` of :math:`W_q, W_k, W_v` and writes through its own columns of
    :math:`W_o`, so the output is the sum of the heads' terms plus the bias.

    Shapes:
        x: (L, E); returns: (num_heads, L, E_out)
    Formula:
        term_h = softmax(q_h k_h^T / sqrt(D)) v_h W_o[:, h D:(h + 1) D]^T, D = E / H
    """
    e = x.shape[1]
    d = e // num_heads
    qkv = x @ in_proj_weight.T + in_proj_bias
    terms = []
    for h in range(num_heads):
        q, k, v = (qkv[:, i * e + h * d : i * e + (h + 1) * d] for i in range(3))
        s = q @ k.T / np.sqrt(d)
        w = np.exp(s - s.max(axis=1, keepdims=True))
        terms.append(
            (w / w.sum(axis=1, keepdims=True)) @ v @ out_proj_weight[:, h * d : (h + 1) * d].T
        )
    return np.stack(terms)


def head_cost(embed_dim=32, length=32, heads=(1, 2, 4, 8)) -> list[dict]:
    """For each number of heads: the parameters of ``nn.MultiheadAttention(embed_dim, H)``
    (counted from torch) and the multiply-adds of self-attention on one sequence of ``length``
    (projections 4 L E^2, scores and weighted sum H L^2 D each, D = E / H)."""
    rows = []
    for h in heads:
        params = sum(p.numel() for p in nn.MultiheadAttention(embed_dim, h).parameters())
        d = embed_dim // h
        macs = 4 * length * embed_dim**2 + 2 * h * length**2 * d
        rows.append(dict(heads=h, head_dim=d, parameters=params, multiply_adds=macs))
    return rows


def permutation_errors(length=6, embed_dim=8, num_heads=2, seed=0) -> dict:
    """How far self-attention is from permutation equivariance, ``max |f(P x) - P f(x)|`` for a
    random permutation P: plain (zero up to rounding), with the sinusoidal encoding added to
    the input (``f(x + PE)``), and with a causal mask."""
    rng = seeding.rng(seed)
    x = rng.standard_normal((length, embed_dim))
    w_in, b_in = rng.standard_normal((3 * embed_dim, embed_dim)), rng.standard_normal(3 * embed_dim)
    w_out, b_out = rng.standard_normal((embed_dim, embed_dim)), rng.standard_normal(embed_dim)
    perm = rng.permutation(length)
    while np.array_equal(perm, np.arange(length)):
        perm = rng.permutation(length)
    pe = sinusoidal_positional_encoding(length, embed_dim)

    def f(z, causal=False):
        return multi_head_attention_forward(z, z, z, embed_dim, num_heads, w_in, b_in, None, None,
                                            False, 0.0, w_out, b_out, training=False,
                                            need_weights=False, is_causal=causal)[0]  # fmt: skip

    return {
        "self-attention": float(np.abs(f(x[perm]) - f(x)[perm]).max()),
        "with positions": float(np.abs(f(x[perm] + pe) - f(x + pe)[perm]).max()),
        "causal mask": float(np.abs(f(x[perm], True) - f(x, True)[perm]).max()),
    }


def shift_errors(length=64, dim=16, offsets=(1, 5, 20)) -> dict:
    """For each offset k, ``max_pos |PE[pos + k] - M_k PE[pos]|`` with
    :func:`~dlbook.scratch.sinusoidal_shift_matrix` ``M_k``: one matrix for every position."""
    pe = sinusoidal_positional_encoding(length, dim)
    return {k: float(np.abs(pe[k:] - pe[:-k] @ sinusoidal_shift_matrix(k, dim).T).max())
            for k in offsets}  # fmt: skip


# --- character models ---------------------------------------------------------------------------


class CharTransformer(nn.Module):
    """Embedding plus learned (or sinusoidal) positions, ``num_layers`` pre-norm
    ``nn.TransformerEncoderLayer`` blocks with a causal mask, a final layer norm and a linear
    readout. Input ``(N, T)`` ids, output ``(N, T, V)`` scores for the next character."""

    def __init__(self, vocab_size, d_model=32, nhead=4, num_layers=2, dim_feedforward=64,
                 context=32, positions="learned"):  # fmt: skip
        super().__init__()
        if positions not in ("learned", "sinusoidal"):
            raise ValueError(f"positions must be 'learned' or 'sinusoidal', got {positions!r}")
        self.embed = nn.Embedding(vocab_size, d_model)
        self.pos = nn.Parameter(torch.zeros(context, d_model), requires_grad=positions == "learned")
        with torch.no_grad():
            if positions == "learned":
                self.pos.normal_(0.0, 0.02)
            else:
                self.pos.copy_(torch.from_numpy(sinusoidal_positional_encoding(context, d_model)))
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout=0.0,
                                       activation="gelu", batch_first=True, norm_first=True)
            for _ in range(num_layers)
        )  # fmt: skip
        self.norm = nn.LayerNorm(d_model)
        self.readout = nn.Linear(d_model, vocab_size)

    def _mask(self, t):
        if t > len(self.pos):
            raise ValueError(f"sequences of {t} characters exceed the context of {len(self.pos)}")
        return nn.Transformer.generate_square_subsequent_mask(t, device=self.pos.device)

    def forward(self, x):
        mask = self._mask(x.shape[1])  # first: it checks the length
        h = self.embed(x) + self.pos[: x.shape[1]]
        for layer in self.layers:
            h = layer(h, src_mask=mask, is_causal=True)
        return self.readout(self.norm(h))


class CharLSTM(nn.Module):
    """Embedding, one ``nn.LSTM`` layer (batch first) and a linear readout: the LSTM character
    model, reading ``(N, T)`` ids from a zero state and scoring the next character."""

    def __init__(self, vocab_size, embed_dim=32, hidden_size=48):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.lstm = nn.LSTM(embed_dim, hidden_size, batch_first=True)
        self.readout = nn.Linear(hidden_size, vocab_size)

    def forward(self, x):
        return self.readout(self.lstm(self.embed(x))[0])


def windows(ids, context, batch_size, rng):
    """``batch_size`` random windows of ``context`` characters and the characters one on:
    int64 tensors ``(batch_size, context)``."""
    ids = np.asarray(ids)
    starts = rng.integers(0, len(ids) - context - 1, batch_size)
    idx = starts[:, None] + np.arange(context)
    return torch.from_numpy(ids[idx]), torch.from_numpy(ids[idx + 1])


def heldout_loss(model, ids, context=32, device="cpu") -> float:
    """Mean cross-entropy (nats per character) of ``model`` over consecutive, non-overlapping
    windows of ``context`` characters of ``ids``, each read from scratch (every model sees the
    same windows and the same amount of context)."""
    ids = np.asarray(ids)
    n = (len(ids) - 1) // context
    x = torch.from_numpy(ids[: n * context].reshape(n, context)).to(device)
    y = torch.from_numpy(ids[1 : n * context + 1].reshape(n, context)).to(device)
    model.eval()
    with torch.no_grad():
        logits = model(x)
    model.train()
    return float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1)))


def attention_maps(model, x) -> np.ndarray:
    """Every head's causal attention weights in every layer of a :class:`CharTransformer`, for
    the ids ``x`` ``(T,)`` or ``(1, T)``: ``(layers, heads, T, T)``."""
    x = torch.as_tensor(np.asarray(x)).reshape(1, -1).to(model.pos.device)
    maps = []
    with torch.no_grad():
        mask = model._mask(x.shape[1])
        h = model.embed(x) + model.pos[: x.shape[1]]
        for layer in model.layers:
            n = layer.norm1(h)
            _, w = layer.self_attn(n, n, n, attn_mask=mask, need_weights=True,
                                   average_attn_weights=False)  # fmt: skip
            maps.append(w[0].cpu().numpy())
            h = layer(h, src_mask=mask, is_causal=True)
    return np.stack(maps)


def offset_share(maps, offset=1) -> np.ndarray:
    """The mean weight each head puts on the key ``offset`` characters back (queries at
    positions >= offset): ``(layers, heads)``; 1 for a head that only reads that character."""
    maps = np.asarray(maps)
    t = maps.shape[-1]
    rows = np.arange(offset, t)
    return maps[..., rows, rows - offset].mean(axis=-1)


def mean_distance(maps) -> np.ndarray:
    """How far back each head looks on average: the attention-weighted distance ``i - j`` from
    query ``i`` to key ``j``, averaged over the queries: ``(layers, heads)``."""
    maps = np.asarray(maps)
    t = maps.shape[-1]
    dist = np.arange(t)[:, None] - np.arange(t)[None, :]
    return (maps * np.maximum(dist, 0)).sum(axis=-1).mean(axis=-1)


def train_char(model, train_ids, test_ids, steps=250, batch_size=32, context=32, lr=1e-2,
               seed=0, device="cpu", probe=None, every=50) -> dict:  # fmt: skip
    """Adam on random windows of ``train_ids`` (data seed ``seed``) for ``steps`` steps.
    Returns a dict: ``loss`` (every step's training loss), ``step`` and ``test`` (the held-out
    loss every ``every`` steps and at the end), ``maps`` (the :func:`attention_maps` of
    ``probe`` at those steps, for a Transformer given a probe), ``cpu_seconds`` and
    ``parameters``."""
    model.to(device)
    rng = seeding.rng(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)

    def loss_fn(_):
        x, y = (t.to(device) for t in windows(train_ids, context, batch_size, rng))
        logits = model(x)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))

    n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    out = dict(loss=[], step=[], test=[], maps=[], parameters=n_params)

    def record(step):
        out["step"].append(step)
        out["test"].append(heldout_loss(model, test_ids, context, device))
        if probe is not None and isinstance(model, CharTransformer):
            out["maps"].append(attention_maps(model, probe))

    start = time.process_time()
    record(0)
    for i, (loss, _) in enumerate(train_steps(loss_fn, opt, range(steps)), 1):
        out["loss"].append(loss.item())
        if i % every == 0 or i == steps:
            record(i)
    out["cpu_seconds"] = time.process_time() - start
    return out


# --- the exercise -------------------------------------------------------------------------------


def _reference(x, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias, num_heads):
    e = x.shape[-1]
    return multi_head_attention_forward(x, x, x, e, num_heads, in_proj_weight, in_proj_bias,
                                        None, None, False, 0.0, out_proj_weight, out_proj_bias,
                                        training=False, need_weights=False)[0]  # fmt: skip


def _twin(x, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias, num_heads):
    t = [torch.from_numpy(a) for a in (x, in_proj_weight, in_proj_bias, out_proj_weight,
                                       out_proj_bias)]  # fmt: skip
    x_ = t[0][:, None]
    out, _ = F.multi_head_attention_forward(x_, x_, x_, x.shape[-1], num_heads, t[1], t[2], None,
                                            None, False, 0.0, t[3], t[4], training=False,
                                            need_weights=False)  # fmt: skip
    return out[:, 0].numpy()


def _cases() -> list[Case]:
    rng = np.random.default_rng(5)

    def args(length, e, h):
        return (rng.standard_normal((length, e)), rng.standard_normal((3 * e, e)) / np.sqrt(e),
                rng.standard_normal(3 * e) / 2, rng.standard_normal((e, e)) / np.sqrt(e),
                rng.standard_normal(e) / 2, h)  # fmt: skip

    return [
        Case(args(4, 6, 1), label="one head, L = 4, E = 6"),
        Case(args(5, 8, 2), label="2 heads, L = 5, E = 8"),
        Case(args(3, 8, 4), label="4 heads, L = 3, E = 8"),
        Case(args(6, 12, 3), label="3 heads, L = 6, E = 12"),
    ]


def check_multi_head(fn) -> Report:
    """Hold the reader's ``fn(x, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias,
    num_heads)``, multi-head self-attention on one sequence ``x`` ``(L, E)`` with no mask, to
    :func:`~dlbook.scratch.multi_head_attention_forward` (itself equal to torch's) on 4 cases."""
    return check(fn, _reference, _cases(), name="multi-head self-attention",
                 torch_twin=_twin, atol=1e-8, rtol=1e-6)  # fmt: skip
