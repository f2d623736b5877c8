"""The Transformer block from scratch against nn.TransformerEncoderLayer (dropout 0) in float64,
forward and backward, and the sinusoidal positional encoding's formula and shift property."""

import warnings

import numpy as np
import pytest
import torch

from dlbook.scratch.gradcheck import numerical_gradient, relative_error
from dlbook.scratch.transformer import (
    sinusoidal_positional_encoding,
    sinusoidal_shift_matrix,
    transformer_block,
    transformer_block_backward,
    transformer_block_params,
)

E, H, FF = 8, 2, 12


def torch_layer(norm_first, activation, bias=True, seed=0):
    torch.manual_seed(seed)
    layer = torch.nn.TransformerEncoderLayer(
        E, H, FF, dropout=0.0, activation=activation, norm_first=norm_first, bias=bias,
        dtype=torch.float64,
    )  # fmt: skip
    with torch.no_grad():
        for p in layer.parameters():
            p.add_(0.2 * torch.randn_like(p))  # biases 0 and norm weights 1 would hide mistakes
    return layer


def params_of(layer):
    return {k: v.detach().numpy().copy() for k, v in layer.state_dict().items()}


def masks(kind, s_len, n):
    """(our keyword arguments, torch's) for one kind of mask."""
    causal = torch.nn.Transformer.generate_square_subsequent_mask(s_len, dtype=torch.float64)
    padding = np.zeros((n, s_len), bool)
    padding[-1, s_len - 2 :] = True  # the last sequence is two shorter
    ours, theirs = {}, {}
    if kind in ("causal", "both"):
        ours["is_causal"] = True
        theirs.update(src_mask=causal, is_causal=True)
    if kind in ("padding", "both"):
        ours["src_key_padding_mask"] = padding
        theirs["src_key_padding_mask"] = torch.from_numpy(padding)
    return ours, theirs


def compare(layer, x, norm_first, activation, kind="none", tol=1e-10):
    n = 1 if x.ndim == 2 else x.shape[1]
    ours_kw, theirs_kw = masks(kind, x.shape[0], n)
    if x.ndim == 2 and "src_key_padding_mask" in ours_kw:
        ours_kw["src_key_padding_mask"] = ours_kw["src_key_padding_mask"][0]
        theirs_kw["src_key_padding_mask"] = theirs_kw["src_key_padding_mask"][0]
    kw = dict(norm_first=norm_first, activation=activation, **ours_kw)
    params = params_of(layer)
    out = transformer_block(x, params, H, **kw)
    xt = torch.tensor(x, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch: mixed mask types are deprecated
        theirs = layer(xt, **theirs_kw)
    g = np.random.default_rng(1).standard_normal(out.shape)
    theirs.backward(torch.from_numpy(g))
    np.testing.assert_allclose(out, theirs.detach().numpy(), rtol=0, atol=tol)
    grad_x, grads = transformer_block_backward(g, x, params, H, **kw)
    np.testing.assert_allclose(grad_x, xt.grad.numpy(), rtol=0, atol=tol)
    assert list(grads) == [name for name, _ in layer.named_parameters()]
    for name, p in layer.named_parameters():
        assert grads[name].shape == tuple(p.shape)
        np.testing.assert_allclose(grads[name], p.grad.numpy(), rtol=0, atol=tol, err_msg=name)
    return out, grad_x


@pytest.mark.parametrize("kind", ["none", "causal", "padding", "both"])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("norm_first", [True, False])
def test_block_equals_torchs_encoder_layer(norm_first, activation, kind, rng):
    layer = torch_layer(norm_first, activation)
    compare(layer, rng.standard_normal((5, 3, E)), norm_first, activation, kind)


@pytest.mark.parametrize("norm_first", [True, False])
def test_unbatched_and_without_biases(norm_first, rng):
    layer = torch_layer(norm_first, "gelu", bias=False)
    compare(layer, rng.standard_normal((4, E)), norm_first, "gelu", "both")
    compare(torch_layer(norm_first, "relu"), rng.standard_normal((4, E)), norm_first, "relu")


def test_a_3d_float_mask_equals_torch(rng):
    layer = torch_layer(True, "gelu")
    x, mask = rng.standard_normal((4, 2, E)), rng.standard_normal((2 * H, 4, 4))
    xt = torch.tensor(x, requires_grad=True)
    theirs = layer(xt, src_mask=torch.from_numpy(mask))
    g = rng.standard_normal(x.shape)
    theirs.backward(torch.from_numpy(g))
    params = params_of(layer)
    out = transformer_block(x, params, H, src_mask=mask)
    np.testing.assert_allclose(out, theirs.detach().numpy(), rtol=0, atol=1e-10)
    grad_x, _ = transformer_block_backward(g, x, params, H, src_mask=mask)
    np.testing.assert_allclose(grad_x, xt.grad.numpy(), rtol=0, atol=1e-10)


@pytest.mark.parametrize("norm_first", [True, False])
def test_finite_differences(norm_first, rng):
    x = rng.standard_normal((3, 2, 4))
    params = transformer_block_params(4, 2, 6, dtype=np.float64, rng=rng)
    for v in params.values():
        v += 0.3 * rng.standard_normal(v.shape)
    kw = dict(norm_first=norm_first, is_causal=True, src_key_padding_mask=np.array([[0, 0, 1],
              [0, 0, 0]], bool))  # fmt: skip
    g = rng.standard_normal(x.shape)
    grad_x, grads = transformer_block_backward(g, x, params, 2, **kw)

    def f():
        return transformer_block(x, params, 2, **kw)

    assert relative_error(grad_x, numerical_gradient(f, x, g)) < 1e-7
    for name, p in params.items():
        assert relative_error(grads[name], numerical_gradient(f, p, g)) < 1e-7, name


def test_causal_block_never_looks_ahead(rng):
    params = transformer_block_params(E, H, FF, dtype=np.float64, rng=rng)
    x = rng.standard_normal((6, 2, E))
    out = transformer_block(x, params, H, is_causal=True)
    x[4:] += rng.standard_normal((2, 2, E))
    changed = transformer_block(x, params, H, is_causal=True)
    np.testing.assert_array_equal(changed[:4], out[:4])
    assert not np.allclose(changed[4:], out[4:])
    g = np.zeros_like(x)
    g[1] = 1.0  # the loss reads position 1 only: positions 2.. get no gradient
    grad_x, _ = transformer_block_backward(g, x, params, H, is_causal=True)
    assert np.all(grad_x[2:] == 0) and np.all(grad_x[:2] != 0)


def test_pre_norm_residual_path_is_the_identity(rng):
    """With the sublayers' output maps at zero, a pre-norm block is the identity, and its
    gradient passes through unchanged; a post-norm block normalizes instead."""
    params = transformer_block_params(E, H, FF, dtype=np.float64, rng=rng)
    for name in ("self_attn.out_proj.weight", "self_attn.out_proj.bias", "linear2.weight",
                 "linear2.bias"):  # fmt: skip
        params[name][...] = 0
    x, g = rng.standard_normal((4, 2, E)), rng.standard_normal((4, 2, E))
    np.testing.assert_array_equal(transformer_block(x, params, H), x)
    np.testing.assert_array_equal(transformer_block_backward(g, x, params, H)[0], g)
    post = transformer_block(x, params, H, norm_first=False)
    np.testing.assert_allclose(post.mean(-1), 0, atol=1e-12)
    np.testing.assert_allclose(post.var(-1), 1, atol=1e-4)  # (var + eps) under the root


def test_params_are_torchs_names_shapes_and_start():
    params = transformer_block_params(E, H, FF, rng=np.random.default_rng(0))
    theirs = torch.nn.TransformerEncoderLayer(E, H, FF).state_dict()
    assert [(k, v.shape) for k, v in params.items()] == [(k, tuple(v.shape)) for k, v in
                                                         theirs.items()]  # fmt: skip
    assert all(v.dtype == np.float32 for v in params.values())
    assert np.all(params["norm1.weight"] == 1) and np.all(params["norm2.bias"] == 0)
    assert np.all(params["self_attn.in_proj_bias"] == 0)
    assert np.abs(params["linear2.weight"]).max() <= 1 / np.sqrt(FF)
    assert np.abs(params["linear1.bias"]).max() <= 1 / np.sqrt(E)
    assert np.abs(params["linear1.bias"]).max() > 0  # drawn, not zero
    no_bias = transformer_block_params(E, H, FF, bias=False, dtype=np.float64)
    assert list(no_bias) == list(
        torch.nn.TransformerEncoderLayer(E, H, FF, bias=False).state_dict()
    )
    x = np.ones((3, 1, E), np.float32)
    assert transformer_block(x, params, H).dtype == np.float32


def test_bad_arguments_raise(rng):
    params = transformer_block_params(E, H, FF, dtype=np.float64, rng=rng)
    x = rng.standard_normal((4, 2, E))
    missing = {k: v for k, v in params.items() if k != "linear1.weight"}
    half_biases = {k: v for k, v in params.items() if k != "norm1.bias"}
    cases = [
        (dict(params=missing), ValueError, "params"),
        (dict(params=half_biases), ValueError, "params"),
        (dict(params=list(params.values())), TypeError, "params"),
        (dict(params={**params, "norm1.weight": np.ones(3)}), ValueError, "norm1.weight"),
        (dict(activation="tanh"), ValueError, "activation"),
        (dict(norm_first=1), TypeError, "norm_first"),
        (dict(num_heads=3), ValueError, "num_heads"),
        (dict(src=np.ones(E)), ValueError, "src"),
        (dict(src=np.ones((4, 2, E), np.float32)), TypeError, "params"),
        (dict(src_mask=np.zeros((4, 5), bool)), ValueError, "src_mask"),
        (dict(src_mask=np.zeros((4, 4), np.int64)), TypeError, "attn_mask"),
        (dict(src_mask=np.ones((4, 4), bool), is_causal=True), ValueError, "causal"),
        (dict(src_key_padding_mask=np.ones((3, 4), bool)), ValueError, "key_padding_mask"),
    ]
    for change, error, match in cases:
        kw = {**dict(src=x, params=params, num_heads=H), **change}
        with pytest.raises(error, match=match):
            transformer_block(**kw)
        with pytest.raises(error, match=match):
            transformer_block_backward(np.ones((4, 2, E)), **kw)
    with pytest.raises(ValueError, match="grad_output"):
        transformer_block_backward(np.ones((4, E)), x, params, H)


# --- sinusoidal positional encoding -------------------------------------------------------------


def test_positional_encoding_is_vaswanis_formula():
    pe = sinusoidal_positional_encoding(7, 6)
    assert pe.shape == (7, 6) and pe.dtype == np.float64
    for pos in range(7):
        for i in range(3):
            angle = pos / 10000 ** (2 * i / 6)
            assert pe[pos, 2 * i] == pytest.approx(np.sin(angle), abs=1e-15)
            assert pe[pos, 2 * i + 1] == pytest.approx(np.cos(angle), abs=1e-15)
    np.testing.assert_array_equal(pe[0], [0, 1, 0, 1, 0, 1])
    short = sinusoidal_positional_encoding(3, 4, base=100.0, dtype=np.float32)
    assert short.dtype == np.float32
    np.testing.assert_allclose(short[2, 2:], [np.sin(2 / 10), np.cos(2 / 10)], rtol=1e-6)
    assert sinusoidal_positional_encoding(0, 4).shape == (0, 4)


@pytest.mark.parametrize("offset", [1, 3, 17, -5])
def test_a_shift_is_one_linear_map_at_every_position(offset):
    """PE[p + k] = M(k) PE[p] with M(k) depending on k alone: attention can learn to look k
    positions back with one fixed matrix, wherever it is."""
    pe = sinusoidal_positional_encoding(60, 16)
    m = sinusoidal_shift_matrix(offset, 16)
    start, stop = max(0, -offset), 60 - max(0, offset)
    np.testing.assert_allclose(pe[start + offset : stop + offset], pe[start:stop] @ m.T, atol=1e-12)
    np.testing.assert_allclose(m @ m.T, np.eye(16), atol=1e-12)  # a rotation: lengths kept
    np.testing.assert_allclose(m @ sinusoidal_shift_matrix(2, 16), sinusoidal_shift_matrix(
        offset + 2, 16), atol=1e-12)  # fmt: skip


def test_similarity_depends_only_on_the_distance():
    pe = sinusoidal_positional_encoding(50, 32)
    for k in (1, 4, 10):
        dots = np.sum(pe[:-k] * pe[k:], axis=1)  # PE[p] . PE[p + k] for every p
        np.testing.assert_allclose(dots, dots[0], atol=1e-12)
    norms = np.linalg.norm(pe, axis=1)
    np.testing.assert_allclose(norms, np.sqrt(16), atol=1e-12)
    near, far = pe[10] @ pe[11], pe[10] @ pe[30]
    assert near > far  # nearby positions look more alike


def test_positional_encoding_errors():
    with pytest.raises(ValueError, match="dim"):
        sinusoidal_positional_encoding(4, 5)
    with pytest.raises(ValueError, match="base"):
        sinusoidal_positional_encoding(4, 4, base=0.0)
    with pytest.raises(ValueError, match="length"):
        sinusoidal_positional_encoding(-1, 4)
    with pytest.raises(TypeError, match="offset"):
        sinusoidal_shift_matrix(1.5, 4)


@pytest.mark.parametrize("norm_first", [True, False])
def test_float32_in_float32_out(norm_first, rng):
    params = transformer_block_params(E, H, FF, rng=rng)  # float32, as torch's default
    x = rng.standard_normal((4, 2, E)).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    kw = dict(norm_first=norm_first, is_causal=True)
    out = transformer_block(x, params, H, **kw)
    grad_x, grads = transformer_block_backward(g, x, params, H, **kw)
    assert out.dtype == grad_x.dtype == np.float32
    assert all(v.dtype == np.float32 for v in grads.values())
    wide = {k: v.astype(np.float64) for k, v in params.items()}
    x64, g64 = x.astype(np.float64), g.astype(np.float64)
    np.testing.assert_allclose(out, transformer_block(x64, wide, H, **kw), atol=1e-4)
    grad_x64, grads64 = transformer_block_backward(g64, x64, wide, H, **kw)
    np.testing.assert_allclose(grad_x, grad_x64, atol=1e-4)
    for name in grads:
        np.testing.assert_allclose(grads[name], grads64[name], atol=1e-4, err_msg=name)
