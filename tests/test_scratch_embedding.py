"""The embedding lookup from scratch against torch.nn.functional.embedding and nn.Embedding."""

import inspect

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import assert_close
from hypothesis import given
from hypothesis import strategies as st

from dlbook.scratch.embedding import (
    Embedding,
    embedding,
    embedding_backward,
    embedding_backward_naive,
    embedding_naive,
    embedding_renorm_,
)
from dlbook.scratch.gradcheck import gradcheck, numerical_gradient


def torch_embedding(idx, weight, grad_output, **kw):
    """Torch's output, its weight after the call (max_norm renormalizes it) and weight's grad."""
    w = torch.tensor(weight, requires_grad=True)
    out = F.embedding(torch.from_numpy(idx), w, **kw)
    out.backward(torch.from_numpy(grad_output))
    grad = w.grad.to_dense() if w.grad.is_sparse else w.grad
    return out.detach().numpy(), w.detach().numpy(), grad.numpy()


@st.composite
def cases(draw):
    v, d = draw(st.integers(1, 6)), draw(st.integers(1, 4))
    # 0-D input is tested on its own: torch's sparse backward fails on it with padding_idx
    shape = tuple(draw(st.lists(st.integers(0, 4), min_size=1, max_size=3)))
    seed = draw(st.integers(0, 2**16))
    r = np.random.default_rng(seed)
    idx = r.integers(0, v, size=shape)  # small V and many draws: repeated indices are the rule
    weight = r.standard_normal((v, d)) * 2
    kw = dict(
        padding_idx=draw(st.one_of(st.none(), st.integers(-v, v - 1))),
        max_norm=draw(st.one_of(st.none(), st.floats(0.1, 3.0))),
        norm_type=draw(st.sampled_from([1.0, 2.0, 3.5, np.inf])),
        scale_grad_by_freq=draw(st.booleans()),
    )
    kw["sparse"] = not kw["scale_grad_by_freq"] and draw(st.booleans())  # torch refuses both
    return idx, weight, kw, r.standard_normal(shape + (d,))


@given(cases())
def test_matches_torch_forward_backward_and_renorm(case):
    idx, weight, kw, g = case
    out_t, weight_t, grad_t = torch_embedding(idx, weight, g, **kw)
    ours_w = weight.copy()
    out = embedding(idx, ours_w, **kw)
    assert_close(out, out_t)
    assert_close(ours_w, weight_t)  # max_norm renormalized the same rows, in place
    before = ours_w.copy()
    grad = embedding_backward(g, idx, ours_w, **kw)
    assert_close(grad, grad_t)
    np.testing.assert_array_equal(ours_w, before)  # the backward never touches weight
    naive_w = weight.copy()
    assert_close(embedding_naive(idx, naive_w, **kw), out_t, tol=0)
    assert_close(embedding_backward_naive(g, idx, naive_w, **kw), grad_t, tol=1e-12)


def test_repeated_indices_add_up_and_padding_row_gets_nothing(rng):
    weight = rng.standard_normal((5, 3))
    idx = np.array([[1, 1, 4], [1, 0, 4]])
    g = rng.standard_normal((2, 3, 3))
    grad = embedding_backward(g, idx, weight, padding_idx=-1)  # row 4
    _, _, grad_t = torch_embedding(idx, weight, g, padding_idx=-1)
    assert_close(grad, grad_t)
    assert_close(grad[1], g[0, 0] + g[0, 1] + g[1, 0], tol=1e-14)  # three reads, three terms
    np.testing.assert_array_equal(grad[4], 0)
    np.testing.assert_array_equal(grad[[2, 3]], 0)  # never read
    assert_close(embedding(idx, weight, padding_idx=4)[0, 2], weight[4], tol=0)  # still read
    freq = embedding_backward(g, idx, weight, scale_grad_by_freq=True)
    assert_close(freq[1], (g[0, 0] + g[0, 1] + g[1, 0]) / 3, tol=1e-14)
    assert_close(freq[4], (g[0, 2] + g[1, 2]) / 2, tol=1e-14)


def test_is_a_product_with_one_hot_vectors(rng):
    weight, idx = rng.standard_normal((7, 4)), rng.integers(0, 7, size=(3, 5))
    one_hot = np.eye(7)[idx]  # (3, 5, 7)
    assert_close(embedding(idx, weight), one_hot @ weight, tol=1e-14)
    g = rng.standard_normal((3, 5, 4))
    assert_close(embedding_backward(g, idx, weight), one_hot.reshape(-1, 7).T @ g.reshape(-1, 4))


def test_max_norm_rescales_only_the_rows_read_and_only_if_too_long():
    weight = np.array([[3.0, 4.0], [0.3, 0.4], [6.0, 8.0], [30.0, 40.0]])
    out = embedding(np.array([0, 1, 0, 2]), weight, max_norm=1.0)
    assert_close(np.linalg.norm(weight[[0, 2]], axis=1), np.full(2, 1.0), tol=1e-6)
    assert_close(weight[[0, 2]], np.array([[0.6, 0.8], [0.6, 0.8]]), tol=1e-6)
    np.testing.assert_array_equal(weight[1], [0.3, 0.4])  # short enough
    np.testing.assert_array_equal(weight[3], [30.0, 40.0])  # not read
    assert_close(out, weight[[0, 1, 0, 2]], tol=0)
    w = np.array([[3.0, -4.0]])
    embedding_renorm_(w, np.array([0]), 2.0, norm_type=1.0)
    t = torch.tensor([[3.0, -4.0]], dtype=torch.float64)
    torch.embedding_renorm_(t, torch.tensor([0]), 2.0, 1.0)
    assert_close(w, t.numpy())


def test_gradcheck(rng):
    weight, idx = rng.standard_normal((6, 3)), np.array([[0, 2, 2], [5, 0, 2]])
    result = gradcheck(embedding, embedding_backward, (idx, weight), differentiable=[1])
    assert set(result.errors) == {"weight"}
    assert result.ok, result.errors


def test_padding_and_frequency_change_the_finite_difference_gradient_as_documented(rng):
    # Neither is the forward's true gradient: padding_idx zeroes a row of it, scale_grad_by_freq
    # divides each row by its count; everything else is the finite-difference gradient.
    weight, idx = rng.standard_normal((6, 3)), np.array([[0, 2, 2], [5, 0, 2]])
    g = rng.standard_normal((2, 3, 3))
    numeric = numerical_gradient(lambda: embedding(idx, weight), weight, g)
    padded = numeric.copy()
    padded[2] = 0
    assert_close(embedding_backward(g, idx, weight, padding_idx=-4), padded, tol=1e-8)
    counts = np.array([2, 1, 3, 1, 1, 1])[:, None]  # rows 1, 3 and 4 are never read
    scaled = embedding_backward(g, idx, weight, scale_grad_by_freq=True)
    assert_close(scaled, numeric / counts, tol=1e-8)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("idx_dtype", [np.int32, np.int64])
def test_dtypes(dtype, idx_dtype, rng):
    weight = rng.standard_normal((4, 3)).astype(dtype)
    idx = np.array([3, 0, 3], dtype=idx_dtype)
    out = embedding(idx, weight)
    assert out.dtype == dtype and out.shape == (3, 3)
    grad = embedding_backward(np.ones_like(out), idx, weight, scale_grad_by_freq=True)
    assert grad.dtype == dtype
    _, _, grad_t = torch_embedding(idx, weight, np.ones_like(out), scale_grad_by_freq=True)
    assert_close(grad, grad_t, tol=1e-6)


def test_a_single_index_gives_one_row(rng):
    weight = rng.standard_normal((4, 3))
    out = embedding(np.int64(2), weight)
    assert out.shape == (3,)
    assert_close(out, F.embedding(torch.tensor(2), torch.from_numpy(weight)).numpy(), tol=0)


@pytest.mark.parametrize(
    "change, error, match",
    [
        (dict(input=np.array([0.0, 1.0])), ValueError, "input.*integer"),
        (dict(input=np.array([True])), ValueError, "input.*integer"),
        (dict(input=np.array([0, 4])), ValueError, r"input.*\[0, 4\)"),
        (dict(input=np.array([-1])), ValueError, r"input.*\[0, 4\)"),
        (dict(input=[0, 1]), TypeError, "input"),
        (dict(weight=np.ones(4)), ValueError, "weight"),
        (dict(weight=np.ones((4, 3), np.int64)), TypeError, "weight"),
        (dict(padding_idx=4), ValueError, "padding_idx"),
        (dict(padding_idx=-5), ValueError, "padding_idx"),
        (dict(padding_idx=1.0), TypeError, "padding_idx"),
        (dict(max_norm="1"), TypeError, "max_norm"),
        (dict(scale_grad_by_freq=1), TypeError, "scale_grad_by_freq"),
        (dict(sparse=None), TypeError, "sparse"),
    ],
)
def test_bad_arguments_raise(change, error, match):
    kw = dict(input=np.array([0, 3]), weight=np.ones((4, 3)), max_norm=None)
    kw.update(change)
    with pytest.raises(error, match=match):
        embedding(**kw)
    if "max_norm" not in change:
        with pytest.raises(error, match=match):
            embedding_backward(np.ones((2, 3)), **kw)


def test_sparse_with_frequency_scaling_is_refused_by_the_backward_as_by_torch():
    idx, weight = np.array([0, 0]), np.ones((2, 3))
    assert embedding(idx, weight, sparse=True, scale_grad_by_freq=True).shape == (2, 3)
    with pytest.raises(ValueError, match="scale_grad_by_freq.*sparse"):
        embedding_backward(np.ones((2, 3)), idx, weight, scale_grad_by_freq=True, sparse=True)
    w = torch.ones(2, 3, requires_grad=True)
    out = F.embedding(torch.from_numpy(idx), w, scale_grad_by_freq=True, sparse=True)
    with pytest.raises(RuntimeError, match="scale_grad_by_freq"):
        out.sum().backward()


def test_grad_output_must_match():
    with pytest.raises(ValueError, match="grad_output"):
        embedding_backward(np.ones((3, 3)), np.array([0, 1]), np.ones((4, 3)))
    with pytest.raises(TypeError, match="grad_output"):
        embedding_backward(np.ones((2, 3), np.float32), np.array([0, 1]), np.ones((4, 3)))


# --- the layer -----------------------------------------------------------------------------------


def test_layer_equals_nn_embedding(rng):
    layer = Embedding(6, 3, padding_idx=-2, scale_grad_by_freq=True, rng=rng, dtype=np.float64)
    assert layer.padding_idx == 4
    np.testing.assert_array_equal(layer.weight[4], 0)  # starts at zero, as torch's
    assert abs(layer.weight.std() - 1) < 0.6  # N(0, 1)
    theirs = torch.nn.Embedding(6, 3, padding_idx=-2, scale_grad_by_freq=True, dtype=torch.float64)
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(layer.weight))
    idx = np.array([[4, 1, 1], [0, 5, 1]])
    out = layer(idx)
    out_t = theirs(torch.from_numpy(idx))
    assert_close(out, out_t.detach().numpy())
    g = rng.standard_normal(out.shape)
    out_t.backward(torch.from_numpy(g))
    assert layer.backward(g) is None
    assert len(layer.grads) == 1
    assert_close(layer.grads[0], theirs.weight.grad.numpy())
    assert layer.params[0] is layer.weight
    assert repr(layer) == repr(theirs) == "Embedding(6, 3, padding_idx=4, scale_grad_by_freq=True)"


def test_from_pretrained_uses_the_table_and_freezes_it(rng):
    table = rng.standard_normal((5, 2))
    frozen = Embedding.from_pretrained(table)
    assert frozen.weight is table and frozen.params == []
    frozen.backward(np.ones_like(frozen(np.array([1, 2]))))
    assert frozen.grads == []
    trained = Embedding.from_pretrained(table, freeze=False, max_norm=1.0)
    assert trained.params == [table]
    trained(np.array([0]))
    assert np.linalg.norm(table[0]) <= 1.0  # the layer's max_norm renormalizes its table
    with pytest.raises(RuntimeError, match="before forward"):
        Embedding(3, 2).backward(np.ones((1, 2), np.float32))
    with pytest.raises(ValueError, match="_weight"):
        Embedding(3, 2, _weight=np.ones((2, 3)))
    assert Embedding(3, 2).weight.dtype == np.float32  # torch's default dtype
    for v, d in ((0, 2), (2, 0)):  # empty tables are allowed, as in torch
        assert Embedding(v, d).weight.shape == tuple(torch.nn.Embedding(v, d).weight.shape)
    with pytest.raises(ValueError, match="num_embeddings"):
        Embedding(-1, 2)


@pytest.mark.parametrize("kw", [{}, dict(max_norm=1.5, norm_type=1.0, sparse=True)])
def test_repr_and_from_pretrained_defaults_are_torchs(kw, rng):
    table = rng.standard_normal((5, 2))
    ours = Embedding.from_pretrained(table, **kw)
    theirs = torch.nn.Embedding.from_pretrained(torch.from_numpy(table), **kw)
    assert repr(ours) == repr(theirs)
    assert (ours.max_norm, ours.norm_type, ours.sparse) == (
        theirs.max_norm, theirs.norm_type, theirs.sparse
    )  # fmt: skip


def test_signatures_are_torchs_and_the_backward_and_naive_ones_follow():
    def params(fn):
        return [(p.name, p.default) for p in inspect.signature(fn).parameters.values()]

    assert params(embedding) == params(F.embedding)
    assert params(embedding_naive) == params(embedding)
    for backward in (embedding_backward, embedding_backward_naive):
        assert params(backward) == [("grad_output", inspect.Parameter.empty), *params(embedding)]
    assert params(Embedding) == [*params(torch.nn.Embedding), ("rng", None)]
    assert params(Embedding.from_pretrained) == params(torch.nn.Embedding.from_pretrained)
    assert repr(Embedding(3, 2)) == repr(torch.nn.Embedding(3, 2))


def test_renorm_defaults_to_the_euclidean_norm():
    w = np.array([[3.0, -4.0], [1.0, 1.0]])
    embedding_renorm_(w, np.array([0, 1]), 2.5)
    assert_close(w, np.array([[1.5, -2.0], [1.0, 1.0]]) * np.array([[5 / (5 + 1e-7)], [1]]))
