"""Padding and packing of variable-length batches against torch.nn.utils.rnn, and recurrent
layers run on packed batches against torch's nn.RNN / nn.LSTM / nn.GRU on a PackedSequence."""

import inspect

import numpy as np
import pytest
import torch
from helpers import assert_close
from hypothesis import given
from hypothesis import strategies as st
from torch.nn.utils import rnn as R

import dlbook.scratch.packing as packing
from dlbook.scratch.gradcheck import gradcheck, numerical_gradient
from dlbook.scratch.lstm import lstm
from dlbook.scratch.packing import (
    PackedSequence,
    gru_packed,
    gru_packed_backward,
    last_valid,
    last_valid_backward,
    lstm_packed,
    lstm_packed_backward,
    pack_padded_sequence,
    pack_padded_sequence_backward,
    pack_padded_sequence_naive,
    pack_sequence,
    pack_sequence_backward,
    pad_packed_sequence,
    pad_packed_sequence_backward,
    pad_sequence,
    pad_sequence_backward,
    rnn_packed,
    rnn_packed_backward,
)


def signature(fn):
    return [(p.name, p.default, p.kind) for p in inspect.signature(fn).parameters.values()]


@pytest.mark.parametrize(
    "name", ["pack_padded_sequence", "pad_packed_sequence", "pad_sequence", "pack_sequence"]
)
def test_signatures_are_torchs_and_backwards_follow_them(name):
    torch_params = [(n, d) for n, d, _ in signature(getattr(R, name))]
    assert [(n, d) for n, d, _ in signature(getattr(packing, name))] == torch_params
    assert signature(getattr(packing, f"{name}_backward"))[1:] == signature(getattr(packing, name))


def test_every_backward_and_naive_version_has_its_forwards_signature():
    names = [n for n in packing.__all__ if n.endswith(("_backward", "_naive"))]
    assert len(names) == 9
    for name in names:
        forward = getattr(packing, name.removesuffix("_backward").removesuffix("_naive"))
        params = signature(getattr(packing, name))
        params = params[1:] if name.endswith("_backward") else params
        assert [p for p in params if p[2] != inspect.Parameter.KEYWORD_ONLY] == signature(forward)


def assert_same_packed(ours, theirs):
    assert isinstance(ours, PackedSequence)
    assert_close(ours.data, theirs.data.detach().numpy())
    assert ours.batch_sizes.dtype == np.int64
    np.testing.assert_array_equal(ours.batch_sizes, theirs.batch_sizes.numpy())
    for a, b in ((ours.sorted_indices, theirs.sorted_indices),
                 (ours.unsorted_indices, theirs.unsorted_indices)):  # fmt: skip
        assert (a is None) == (b is None)
        if a is not None:
            assert a.dtype == np.int64
            np.testing.assert_array_equal(a, b.numpy())


@st.composite
def batches(draw):
    t_len, batch = draw(st.integers(1, 6)), draw(st.integers(1, 5))
    features = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    lengths = draw(st.lists(st.integers(1, t_len), min_size=batch, max_size=batch))
    enforce_sorted = draw(st.booleans())
    if enforce_sorted:
        lengths = sorted(lengths, reverse=True)
    batch_first = draw(st.booleans())
    r = np.random.default_rng(draw(st.integers(0, 2**16)))
    shape = (batch, t_len) if batch_first else (t_len, batch)
    x = r.standard_normal(shape + features)
    return x, lengths, dict(batch_first=batch_first, enforce_sorted=enforce_sorted), r


@given(batches())
def test_pack_and_its_backward_match_torch(case):
    x, lengths, kw, r = case
    xt = torch.tensor(x, requires_grad=True)
    theirs = R.pack_padded_sequence(xt, torch.tensor(lengths), **kw)
    ours = pack_padded_sequence(x, lengths, **kw)
    assert_same_packed(ours, theirs)
    assert_same_packed(pack_padded_sequence_naive(x, np.array(lengths), **kw), theirs)
    g = r.standard_normal(ours.data.shape)
    theirs.data.backward(torch.from_numpy(g))
    grad = pack_padded_sequence_backward(g, x, lengths, **kw)
    assert_close(grad, xt.grad.numpy())


@given(batches(), st.booleans(), st.integers(0, 2), st.sampled_from([0.0, -1.5]))
def test_pad_packed_and_its_backward_match_torch(case, batch_first, extra, padding_value):
    x, lengths, kw, r = case
    theirs_packed = R.pack_padded_sequence(torch.from_numpy(x), torch.tensor(lengths), **kw)
    data = torch.tensor(theirs_packed.data.numpy(), requires_grad=True)
    theirs_packed = R.PackedSequence(data, *theirs_packed[1:])
    ours_packed = pack_padded_sequence(x, lengths, **kw)
    total = max(lengths) + extra if extra else None
    unpack_kw = dict(batch_first=batch_first, padding_value=padding_value, total_length=total)
    padded_t, lengths_t = R.pad_packed_sequence(theirs_packed, **unpack_kw)
    padded, lengths_ours = pad_packed_sequence(ours_packed, **unpack_kw)
    assert_close(padded, padded_t.detach().numpy(), tol=0)
    assert lengths_ours.dtype == np.int64
    np.testing.assert_array_equal(lengths_ours, lengths_t.numpy())
    np.testing.assert_array_equal(lengths_ours, lengths)  # in the batch's own order
    g = r.standard_normal(padded.shape)
    padded_t.backward(torch.from_numpy(g))
    assert_close(pad_packed_sequence_backward(g, ours_packed, **unpack_kw), data.grad.numpy())


def test_ties_keep_their_batch_order_and_unpack_as_torchs(rng):
    # Torch's sort is not stable: with 40 sequences and many ties its sorted_indices differ from
    # the stable order used here, but everything in batch order is the same.
    lengths = rng.integers(1, 4, size=40)
    x = rng.standard_normal((3, 40))
    theirs = R.pack_padded_sequence(torch.from_numpy(x), torch.from_numpy(lengths), False, False)
    ours = pack_padded_sequence(x, lengths, enforce_sorted=False)
    np.testing.assert_array_equal(ours.sorted_indices, np.argsort(-lengths, kind="stable"))
    assert ours.sorted_indices.tolist() != np.argsort(-lengths).tolist()  # the stable sort matters
    np.testing.assert_array_equal(ours.batch_sizes, theirs.batch_sizes.numpy())
    padded, n = pad_packed_sequence(ours)
    padded_t, n_t = R.pad_packed_sequence(theirs)
    assert_close(padded, padded_t.numpy(), tol=0)
    np.testing.assert_array_equal(n, n_t.numpy())
    naive = pack_padded_sequence_naive(x, lengths, enforce_sorted=False)
    assert_close(naive.data, ours.data, tol=0)
    np.testing.assert_array_equal(naive.sorted_indices, ours.sorted_indices)


def test_round_trip_gives_back_the_real_steps_and_padding_elsewhere(rng):
    x = rng.standard_normal((3, 6, 2))  # batch first: 3 sequences of up to 6 steps
    lengths = [4, 6, 1]
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    assert len(packed.data) == 11
    assert packed.batch_sizes.tolist() == [3, 2, 2, 2, 1, 1]
    assert packed.sorted_indices.tolist() == [1, 0, 2]
    assert packed.unsorted_indices.tolist() == [1, 0, 2]
    back, n = pad_packed_sequence(packed, batch_first=True, padding_value=9.0, total_length=7)
    assert back.shape == (3, 7, 2) and n.tolist() == lengths
    for b, length in enumerate(lengths):
        np.testing.assert_array_equal(back[b, :length], x[b, :length])
        np.testing.assert_array_equal(back[b, length:], 9.0)
    # step 0 of every sequence first, longest first: time-major and sorted
    np.testing.assert_array_equal(packed.data[:3], x[[1, 0, 2], 0])
    np.testing.assert_array_equal(packed.data[3:5], x[[1, 0], 1])


def test_backwards_are_each_others_transpose(rng):
    x, lengths = rng.standard_normal((5, 3, 2)), [2, 5, 3]
    packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
    g_packed = rng.standard_normal(packed.data.shape)
    g_padded = rng.standard_normal(x.shape)
    # <pack(x), g_packed> = <x, pack^T(g_packed)>, and pad is pack^T on the real steps
    lhs = np.sum(pack_padded_sequence_backward(g_packed, x, lengths, enforce_sorted=False) * x)
    assert abs(lhs - np.sum(packed.data * g_packed)) < 1e-12
    unpacked = pad_packed_sequence_backward(g_padded, packed)
    assert_close(unpacked, pack_padded_sequence(g_padded, lengths, enforce_sorted=False).data)


def test_gradcheck_pack_and_pad(rng):
    x, lengths = rng.standard_normal((4, 3, 2)), [3, 4, 1]
    kw = dict(batch_first=False, enforce_sorted=False)

    def pack_data(input, lengths, batch_first, enforce_sorted):
        return pack_padded_sequence(input, lengths, batch_first, enforce_sorted).data

    result = gradcheck(pack_data, pack_padded_sequence_backward, (x, lengths), kw, wrt=[0],
                       differentiable=[0])  # fmt: skip
    assert result.ok, result.errors
    packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
    data = packed.data.copy()
    g = rng.standard_normal((5, 3, 2))

    def padded():
        return pad_packed_sequence(packed._replace(data=data), total_length=5)[0]

    numeric = numerical_gradient(padded, data, g)
    assert_close(pad_packed_sequence_backward(g, packed, total_length=5), numeric, tol=1e-8)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_pad_sequence_and_its_backward_match_torch(batch_first, padding_side, rng):
    seqs = [rng.standard_normal((n, 2, 3)) for n in (3, 5, 1)]
    tensors = [torch.tensor(s, requires_grad=True) for s in seqs]
    kw = dict(batch_first=batch_first, padding_value=-2.0, padding_side=padding_side)
    theirs = R.pad_sequence(tensors, **kw)
    ours = pad_sequence(seqs, **kw)
    assert_close(ours, theirs.detach().numpy(), tol=0)
    g = rng.standard_normal(ours.shape)
    theirs.backward(torch.from_numpy(g))
    grads = pad_sequence_backward(g, seqs, **kw)
    for a, t in zip(grads, tensors, strict=True):
        assert_close(a, t.grad.numpy())
    numeric = numerical_gradient(lambda: pad_sequence(seqs, **kw), seqs[0], g)
    assert_close(grads[0], numeric, tol=1e-8)
    (alone,) = pad_sequence_backward(g[:, 1:2] if not batch_first else g[1:2], seqs[1:2], **kw)
    assert_close(alone, grads[1], tol=0)  # one sequence: the padded gradient, its own length


@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_pack_sequence_matches_torch(enforce_sorted, rng):
    lengths = (4, 3, 3, 1) if enforce_sorted else (2, 4, 1, 3)
    seqs = [rng.standard_normal((n, 2)) for n in lengths]
    tensors = [torch.tensor(s, requires_grad=True) for s in seqs]
    theirs = R.pack_sequence(tensors, enforce_sorted=enforce_sorted)
    ours = pack_sequence(seqs, enforce_sorted=enforce_sorted)
    assert_same_packed(ours, theirs)
    g = rng.standard_normal(ours.data.shape)
    theirs.data.backward(torch.from_numpy(g))
    grads = pack_sequence_backward(g, seqs, enforce_sorted=enforce_sorted)
    for a, t in zip(grads, tensors, strict=True):
        assert_close(a, t.grad.numpy())


def test_dtypes_and_integer_data_are_kept(rng):
    tokens = rng.integers(0, 10, size=(4, 3))  # token ids pack too, before an embedding
    packed = pack_padded_sequence(tokens, [4, 2, 1])
    assert packed.data.dtype == tokens.dtype
    assert pad_packed_sequence(packed)[0].dtype == tokens.dtype
    x = rng.standard_normal((4, 3, 2)).astype(np.float32)
    packed = pack_padded_sequence(x, np.array([4, 2, 1], np.int32))
    assert packed.data.dtype == np.float32 and packed.batch_sizes.dtype == np.int64
    grad = pack_padded_sequence_backward(np.ones_like(packed.data), x, [4, 2, 1])
    assert grad.dtype == np.float32
    _, weights = make_layer("gru", 2, 3, True)
    weights = [w.astype(np.float32) for w in weights]
    out, h_n = gru_packed(packed, None, *weights)
    assert out.data.dtype == h_n.dtype == np.float32
    grads = gru_packed_backward(np.ones_like(out.data), packed, None, *weights)
    assert grads[1] is None and all(g.dtype == np.float32 for g in grads[:1] + grads[2:])


@pytest.mark.parametrize(
    "lengths, kw, match",
    [
        ([2, 4, 1], {}, "lengths.*sorted in decreasing order.*enforce_sorted"),
        ([3, 4, 1], {}, "lengths.*sorted in decreasing order.*enforce_sorted"),
        ([4, 0, 1], dict(enforce_sorted=False), "lengths.*greater than 0"),
        ([5, 2, 1], {}, "lengths.*at most the padded length T=4"),
        ([4, 2], {}, "len\\(lengths\\).*batch_size=3"),
        ([4, 2, 1.5], {}, "lengths.*whole numbers"),
        (np.array([[4, 2, 1]]), {}, "lengths.*1-D"),
        ([4, 2, 1], dict(batch_first=True), "len\\(lengths\\).*batch_size=4"),
    ],
)
def test_bad_lengths_raise_naming_them(lengths, kw, match):
    x = np.ones((4, 3, 2))
    for fn in (pack_padded_sequence, pack_padded_sequence_naive):
        with pytest.raises(ValueError, match=match):
            fn(x, lengths, **kw)
    with pytest.raises(ValueError, match=match):
        pack_padded_sequence_backward(np.ones((7, 2)), x, lengths, **kw)
    if "sorted" not in match:  # last_valid needs no order
        with pytest.raises(ValueError, match=match):
            last_valid(x, lengths, kw.get("batch_first", False))


def test_torch_refuses_what_we_refuse():
    x = torch.ones(4, 3, 2)
    for lengths in ([2, 4, 1], [4, 0, 1], [4, 2]):
        with pytest.raises(RuntimeError):
            R.pack_padded_sequence(x, lengths)


def test_other_bad_arguments_raise():
    x = np.ones((4, 3, 2))
    packed = pack_padded_sequence(x, [4, 2, 1])
    with pytest.raises(ValueError, match="total_length.*max sequence length being 4"):
        pad_packed_sequence(packed, total_length=3)
    with pytest.raises(TypeError, match="sequence must be a PackedSequence"):
        pad_packed_sequence((packed.data, packed.batch_sizes))
    with pytest.raises(ValueError, match="sequence.data"):
        pad_packed_sequence(packed._replace(data=packed.data.tolist()))
    with pytest.raises(ValueError, match="batch_sizes"):
        pad_packed_sequence(packed._replace(batch_sizes=np.array([3, 1, 2, 1])))
    with pytest.raises(ValueError, match="sorted_indices"):
        pad_packed_sequence(packed._replace(sorted_indices=np.array([0, 1, 2])))
    with pytest.raises(ValueError, match="input must be at least 2-D"):
        pack_padded_sequence(np.ones(4), [4])
    with pytest.raises(TypeError, match="batch_first"):
        pack_padded_sequence(x, [4, 2, 1], batch_first=None)
    with pytest.raises(ValueError, match="input must have T >= 1 and B >= 1"):
        pack_padded_sequence(np.ones((4, 0, 2)), [])
    with pytest.raises(ValueError, match="input must have T >= 1 and B >= 1"):
        pack_padded_sequence(np.ones((0, 3, 2)), [1, 1, 1])
    with pytest.raises(ValueError, match="sequences\\[1\\] must be an array"):
        pad_sequence([np.ones(2), [1.0]])
    with pytest.raises(ValueError, match="sequences\\[0\\] must be an array"):
        pad_sequence([np.float64(1.0)])
    with pytest.raises(TypeError, match="padding_value"):
        pad_packed_sequence(packed, padding_value="0")
    with pytest.raises(TypeError, match="lengths must hold ints"):
        pack_padded_sequence(x, np.array(["4", "2", "1"]))
    with pytest.raises(ValueError, match="padding_side"):
        pad_sequence([np.ones(2)], padding_side="middle")
    with pytest.raises(ValueError, match="sequences\\[1\\]"):
        pad_sequence([np.ones((2, 3)), np.ones((2, 4))])
    with pytest.raises(ValueError, match="sequences"):
        pad_sequence([])
    with pytest.raises(ValueError, match="grad_output"):
        pack_padded_sequence_backward(np.ones((6, 2)), x, [4, 2, 1])


# --- recurrent layers over packed batches --------------------------------------------------------


MODULES = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}
OURS = {
    "rnn": (rnn_packed, rnn_packed_backward),
    "lstm": (lstm_packed, lstm_packed_backward),
    "gru": (gru_packed, gru_packed_backward),
}


def make_layer(kind, d, h, bias, proj_size=0):
    kw = dict(proj_size=proj_size) if proj_size else {}
    module = MODULES[kind](d, h, bias=bias, dtype=torch.float64, **kw)
    names = ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    weights = [getattr(module, n).detach().numpy() if bias or "weight" in n else None
               for n in names]  # fmt: skip
    if proj_size:
        weights.append(module.weight_hr_l0.detach().numpy())
    return module, weights


@pytest.mark.parametrize(
    "kind, bias, given_states, proj_size, enforce_sorted",
    [
        ("rnn", True, True, 0, False),
        ("rnn", False, False, 0, True),
        ("lstm", True, True, 0, False),
        ("lstm", True, False, 2, False),
        ("gru", True, True, 0, False),
        ("gru", False, False, 0, True),
    ],
)
def test_packed_run_matches_torch_forward_and_backward(
    kind, bias, given_states, proj_size, enforce_sorted, rng
):
    t_len, batch, d, h = 5, 4, 3, 3
    lengths = [5, 4, 2, 1] if enforce_sorted else [2, 5, 1, 4]
    x = rng.standard_normal((t_len, batch, d))
    p = proj_size or h
    states = [rng.standard_normal((batch, p))] + ([rng.standard_normal((batch, h))]
                                                  if kind == "lstm" else [])  # fmt: skip
    states = states if given_states else [None] * len(states)
    module, weights = make_layer(kind, d, h, bias, proj_size)
    # torch
    xt = torch.tensor(x, requires_grad=True)
    st_t = [None if s is None else torch.tensor(s[None], requires_grad=True) for s in states]
    packed_t = R.pack_padded_sequence(xt, torch.tensor(lengths), enforce_sorted=enforce_sorted)
    hx_t = None if states[0] is None else (st_t[0] if kind != "lstm" else tuple(st_t))
    out_t, finals_t = module(packed_t, hx_t)
    finals_t = finals_t if kind == "lstm" else (finals_t,)
    # ours
    packed = pack_padded_sequence(x, lengths, enforce_sorted=enforce_sorted)
    forward, backward = OURS[kind]
    out, *finals = forward(packed, *states, *weights)
    assert_same_packed(out, out_t)
    for a, b in zip(finals, finals_t, strict=True):
        assert_close(a, b[0].detach().numpy())
    # backward: the loss <out.data, g> + <h_n, g_h> (+ <c_n, g_c>)
    g = rng.standard_normal(out.data.shape)
    g_finals = [rng.standard_normal(f.shape) for f in finals]
    loss = (out_t.data * torch.from_numpy(g)).sum()
    loss = loss + sum((f[0] * torch.from_numpy(gf)).sum() for f, gf in zip(finals_t, g_finals))
    loss.backward()
    names = ["grad_h_n", "grad_c_n"][: len(finals)]
    grads = backward(g, packed, *states, *weights, **dict(zip(names, g_finals)))
    grad_data, grad_states, grad_w = grads[0], grads[1 : 1 + len(states)], grads[1 + len(states) :]
    grad_x = pack_padded_sequence_backward(grad_data, x, lengths, enforce_sorted=enforce_sorted)
    assert_close(grad_x, xt.grad.numpy())
    for a, b in zip(grad_states, st_t, strict=True):
        assert_close(a, None if b is None else b.grad[0].numpy())
    names = ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    names += ["weight_hr_l0"] if proj_size else []
    assert len(grad_w) == len(names)
    for a, n in zip(grad_w, names, strict=True):
        theirs = getattr(module, n, None)
        assert_close(a, None if theirs is None else theirs.grad.numpy())


def test_last_valid_of_a_padded_run_is_the_packed_runs_h_n(rng):
    # Running the LSTM over the padding too, then taking each sequence's output at its last real
    # step, gives torch's h_n of the packed run; c_n needs the packed run.
    t_len, batch, d, h = 6, 4, 2, 3
    lengths = [3, 6, 1, 4]
    x = rng.standard_normal((batch, t_len, d))
    module, weights = make_layer("lstm", d, h, True)
    packed_t = R.pack_padded_sequence(torch.from_numpy(x), lengths, True, enforce_sorted=False)
    _, (h_n, c_n) = module(packed_t)
    output, _, c_padded = lstm(np.swapaxes(x, 0, 1), None, None, *weights)
    ours = last_valid(output, lengths)
    assert_close(ours, h_n[0].detach().numpy())
    assert_close(last_valid(np.swapaxes(output, 0, 1), lengths, batch_first=True), ours, tol=0)
    assert np.abs(c_padded - c_n[0].detach().numpy()).max() > 1e-3  # padding moved the cell
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    assert_close(lstm_packed(packed, None, None, *weights)[2], c_n[0].detach().numpy())
    g = rng.standard_normal(ours.shape)
    grad = last_valid_backward(g, output, lengths)
    assert_close(grad[[2, 5, 0, 3], range(4)], g, tol=0)
    assert np.count_nonzero(grad) == g.size
    result = gradcheck(last_valid, last_valid_backward, (output, lengths), differentiable=[0])
    assert result.ok, result.errors


def test_gradcheck_packed_lstm(rng):
    x, lengths = rng.standard_normal((3, 3, 2)), [1, 3, 2]
    packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
    _, weights = make_layer("lstm", 2, 2, True)
    weights = [w.copy() for w in weights]
    hx, cx = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    g, g_h, g_c = (rng.standard_normal(s) for s in ((6, 2), (3, 2), (3, 2)))
    data = packed.data.copy()

    def loss():
        out, h_n, c_n = lstm_packed(packed._replace(data=data), hx, cx, *weights)
        return np.sum(out.data * g) + np.sum(h_n * g_h) + np.sum(c_n * g_c)

    grads = lstm_packed_backward(g, packed, hx, cx, *weights, grad_h_n=g_h, grad_c_n=g_c)
    for grad, arg in zip(grads, [data, hx, cx, *weights], strict=True):
        assert_close(grad, numerical_gradient(loss, arg), tol=1e-8)


def test_packed_run_checks_its_states(rng):
    packed = pack_padded_sequence(rng.standard_normal((3, 2, 2)), [3, 1])
    _, weights = make_layer("gru", 2, 4, True)
    with pytest.raises(ValueError, match="hx must have shape \\(2, 4\\)"):
        gru_packed(packed, np.zeros((3, 4)), *weights)
    with pytest.raises(TypeError, match="hx"):
        gru_packed(packed, np.zeros((2, 4), np.float32), *weights)
    with pytest.raises(ValueError, match="grad_h_n must have shape"):
        gru_packed_backward(None, packed, None, *weights, grad_h_n=np.zeros(4))
    with pytest.raises(ValueError, match="grad_output"):
        gru_packed_backward(np.zeros((5, 4)), packed, None, *weights)
    with pytest.raises(TypeError, match="sequence must be a PackedSequence"):
        gru_packed(np.zeros((4, 2)), None, *weights)
