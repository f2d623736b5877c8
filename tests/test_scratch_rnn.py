"""rnn, lstm and gru from scratch against one layer of torch.nn.RNN/LSTM/GRU, forward and BPTT."""

import functools

import numpy as np
import pytest
import torch
from helpers import assert_close
from hypothesis import given
from hypothesis import strategies as st

from dlbook.scratch.gradcheck import gradcheck
from dlbook.scratch.gru import gru, gru_backward
from dlbook.scratch.lstm import lstm, lstm_backward
from dlbook.scratch.rnn import rnn, rnn_backward, rnn_states

# kind -> (forward, backward, gates, torch module, extra keyword arguments)
KINDS = {
    "rnn_tanh": (rnn, rnn_backward, 1, torch.nn.RNN, dict(nonlinearity="tanh")),
    "rnn_relu": (rnn, rnn_backward, 1, torch.nn.RNN, dict(nonlinearity="relu")),
    "lstm": (lstm, lstm_backward, 4, torch.nn.LSTM, {}),
    "gru": (gru, gru_backward, 3, torch.nn.GRU, {}),
}


def make_args(kind, t, n, d, h, bias=True, given_states=True, seed=0, dtype=np.float64):
    """Positional arguments for ``kind``'s forward: input, state(s), weights, biases."""
    r = np.random.default_rng(seed)
    gates, is_lstm = KINDS[kind][2], kind == "lstm"
    states = [r.standard_normal((n, h)) if given_states else None for _ in range(1 + is_lstm)]
    args = [r.standard_normal((t, n, d)), *states]
    args += [r.standard_normal((gates * h, d)) * 0.6, r.standard_normal((gates * h, h)) * 0.6]
    args += [r.standard_normal(gates * h), r.standard_normal(gates * h)] if bias else [None] * 2
    return [None if a is None else a.astype(dtype) for a in args]


def torch_reference(kind, args, grad_output, grad_finals):
    """Run a one-layer torch module with the same weights; return its outputs and the
    gradients of sum(output * grad_output) + sum(final_state * grad_final) for every argument."""
    *_, module_cls, kw = KINDS[kind]
    n_states = 2 if kind == "lstm" else 1
    x, states, w_hh, b_ih = args[0], args[1 : 1 + n_states], args[-3], args[-2]
    module = module_cls(x.shape[-1], w_hh.shape[1], bias=b_ih is not None, **kw).double()
    with torch.no_grad():
        for name, a in zip(("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"), args[-4:]):
            if a is not None:
                getattr(module, name).copy_(torch.from_numpy(a))
    xt = torch.tensor(x, requires_grad=True)
    st_ = [None if s is None else torch.tensor(s[None], requires_grad=True) for s in states]
    hx = None if states[0] is None else (tuple(st_) if n_states == 2 else st_[0])
    out, finals = module(xt, hx)
    finals = finals if n_states == 2 else (finals,)
    loss = (out * torch.from_numpy(grad_output)).sum()
    for f, g in zip(finals, grad_finals):
        if g is not None:
            loss = loss + (f[0] * torch.from_numpy(g)).sum()
    loss.backward()
    params = dict(module.named_parameters())
    grads = [xt.grad] + [None if s is None else s.grad[0] for s in st_]
    grads += [params[n].grad if n in params else None for n in ("weight_ih_l0", "weight_hh_l0")]
    grads += [params[n].grad if n in params else None for n in ("bias_ih_l0", "bias_hh_l0")]
    outputs = [out] + [f[0] for f in finals]
    return [o.detach().numpy() for o in outputs], [None if g is None else g.numpy() for g in grads]


@st.composite
def cases(draw):
    sizes = [draw(st.integers(1, 6)), draw(st.integers(1, 3))]
    sizes += [draw(st.integers(1, 4)), draw(st.integers(1, 4))]
    flags = dict(bias=draw(st.booleans()), given_states=draw(st.booleans()))
    return sizes, flags, draw(st.booleans()), draw(st.integers(0, 2**16))


@pytest.mark.parametrize("kind", list(KINDS))
@given(cases())
def test_matches_torch_forward_and_backward(kind, case):
    (t, n, d, h), flags, final_grads, seed = case
    forward, backward, *_, kw = KINDS[kind]
    args = make_args(kind, t, n, d, h, seed=seed, **flags)
    r = np.random.default_rng(seed + 1)
    grad_output = r.standard_normal((t, n, h))
    names = ["grad_h_n", "grad_c_n"][: 1 + (kind == "lstm")]
    grad_finals = [r.standard_normal((n, h)) if final_grads else None for _ in names]
    theirs, their_grads = torch_reference(kind, args, grad_output, grad_finals)
    ours = forward(*args, **kw)
    for a, b in zip(ours, theirs, strict=True):
        assert_close(a, b)
    our_grads = backward(grad_output, *args, **kw, **dict(zip(names, grad_finals)))
    for a, b in zip(our_grads, their_grads, strict=True):
        assert_close(a, b)


def whole(forward, backward, finals):
    """Wrap a layer so that gradcheck sees one output: ``output`` with the final state(s)
    appended along time, and a backward that splits the upstream gradient the same way."""

    @functools.wraps(forward)
    def f(*args, **kw):
        out, *last = forward(*args, **kw)
        return np.concatenate([out] + [s[None] for s in last])

    @functools.wraps(backward)
    def b(g, *args, **kw):
        k = len(finals)
        return backward(g[:-k], *args, **kw, **{name: g[-k + i] for i, name in enumerate(finals)})

    return f, b


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("bias", [True, False])
def test_gradcheck(kind, bias):
    forward, backward, *_, kw = KINDS[kind]
    finals = ["grad_h_n", "grad_c_n"][: 1 + (kind == "lstm")]
    f, b = whole(forward, backward, finals)
    args = make_args(kind, 4, 2, 3, 3, bias=bias, seed=1)
    result = gradcheck(f, b, args, kw, tol=1e-7)
    expected = {"input", "hx", "cx", "weight_ih", "weight_hh", "bias_ih", "bias_hh"}
    expected -= set() if kind == "lstm" else {"cx"}
    assert set(result.errors) == expected - (set() if bias else {"bias_ih", "bias_hh"})
    assert result.ok, result.errors


@pytest.mark.parametrize("kind", list(KINDS))
def test_chunks_chain_through_the_final_state(kind):
    """Two chunks, the second starting from the first's final state, give the whole sequence's
    outputs; and the second chunk's grad_hx, fed to the first as grad_h_n, gives full BPTT."""
    forward, backward, *_, kw = KINDS[kind]
    is_lstm = kind == "lstm"
    args = make_args(kind, 7, 2, 3, 4, seed=3)
    x, states, weights = args[0], args[1 : 2 + is_lstm], args[2 + is_lstm :]
    out, *last = forward(x, *states, *weights, **kw)
    out1, *mid = forward(x[:3], *states, *weights, **kw)
    out2, *end = forward(x[3:], *mid, *weights, **kw)
    assert_close(np.concatenate([out1, out2]), out, tol=1e-13)
    for a, b in zip(end, last):
        assert_close(a, b, tol=1e-13)
    g = np.random.default_rng(0).standard_normal(out.shape)
    full = backward(g, x, *states, *weights, **kw)
    second = backward(g[3:], x[3:], *mid, *weights, **kw)
    carried = dict(zip(["grad_h_n", "grad_c_n"], second[1 : 2 + is_lstm]))
    first = backward(g[:3], x[:3], *states, *weights, **kw, **carried)
    assert_close(np.concatenate([first[0], second[0]]), full[0], tol=1e-12)
    n_states = 1 + is_lstm
    for i in range(1, 1 + n_states):  # the initial states' gradients
        assert_close(first[i], full[i], tol=1e-12)
    for i in range(1 + n_states, len(full)):  # the weights: summed over both chunks
        assert_close(first[i] + second[i], full[i], tol=1e-12)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("unbatched", [False, True])
def test_dtype_is_preserved(kind, dtype, unbatched):
    forward, backward, *_, kw = KINDS[kind]
    args = make_args(kind, 3, 1 if unbatched else 2, 3, 4, seed=2)
    args = unbatch_args(kind, args) if unbatched else args
    ours = [a.astype(dtype) for a in args]
    outs = forward(*ours, **kw)
    assert all(o.dtype == dtype for o in outs)
    grads = backward(np.ones_like(outs[0]), *ours, **kw)
    assert all(g.dtype == dtype for g in grads)
    ref, _ = torch_reference(kind, args, np.ones(outs[0].shape), [])
    assert_close(outs[0].astype(np.float64), ref[0], tol=1e-5 if dtype == np.float32 else 1e-10)


@pytest.mark.parametrize("kind", list(KINDS))
def test_missing_states_mean_zeros_and_get_no_gradient(kind):
    forward, backward, *_, kw = KINDS[kind]
    args = make_args(kind, 3, 2, 3, 4, given_states=False)
    zeros = [np.zeros((2, 4)) if a is None else a for a in args]
    for a, b in zip(forward(*args, **kw), forward(*zeros, **kw)):
        assert_close(a, b, tol=0)
    grads = backward(np.ones((3, 2, 4)), *args, **kw)
    assert grads[1] is None and (kind != "lstm" or grads[2] is None)


@pytest.mark.parametrize("kind", list(KINDS))
def test_does_not_modify_its_inputs(kind):
    forward, backward, *_, kw = KINDS[kind]
    args = make_args(kind, 3, 2, 3, 4)
    copies = [a.copy() for a in args]
    backward(np.ones((3, 2, 4)), *args, **kw)
    for a, c in zip(args, copies):
        np.testing.assert_array_equal(a, c)


def _replace(args, i, value):
    args = list(args)
    args[i] = value
    return args


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize(
    "position, bad, match",
    [
        (0, np.zeros((3, 2, 3, 1)), "input"),
        (0, np.zeros((3, 3)), "hx must be 1-D for 2-D input"),
        (0, np.zeros((0, 2, 3)), "input"),
        (1, np.zeros((2, 5)), "hx"),
        (-4, np.zeros((5, 3)), "weight_ih"),
        (-3, np.zeros((5, 4)), "weight_hh"),
        (-2, np.zeros(3), "bias_ih"),
        (-1, np.zeros((1, 4)), "bias_hh"),
    ],
)
def test_bad_arguments_raise(kind, position, bad, match):
    forward, backward, *_, kw = KINDS[kind]
    args = _replace(make_args(kind, 3, 2, 3, 4), position, bad)
    with pytest.raises(ValueError, match=match):
        forward(*args, **kw)
    with pytest.raises(ValueError, match=match):
        backward(np.ones((3, 2, 4)), *args, **kw)


def test_more_bad_arguments_raise():
    x, hx, c, w_ih, w_hh, b_ih, b_hh = make_args("lstm", 3, 2, 3, 4)
    with pytest.raises(ValueError, match="cx"):
        lstm(x, hx, c[:1], w_ih, w_hh)
    with pytest.raises(ValueError, match="grad_c_n"):
        lstm_backward(np.ones((3, 2, 4)), x, hx, c, w_ih, w_hh, grad_c_n=np.ones((2, 3)))
    x, hx, w_ih, w_hh, *_ = make_args("rnn_tanh", 3, 2, 3, 4)
    with pytest.raises(ValueError, match="nonlinearity"):
        rnn(x, hx, w_ih, w_hh, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="grad_output"):
        rnn_backward(np.ones((3, 2, 5)), x, hx, w_ih, w_hh)
    with pytest.raises(ValueError, match="grad_h_n"):
        rnn_backward(np.ones((3, 2, 4)), x, hx, w_ih, w_hh, grad_h_n=np.ones(4))
    with pytest.raises(TypeError, match="weight_hh"):
        gru(x, hx, make_args("gru", 3, 2, 3, 4)[2], np.ones((12, 4), np.float32))
    with pytest.raises(TypeError, match="hx"):
        rnn(x, hx.astype(np.float32), w_ih, w_hh)


def test_only_the_final_state_may_get_a_gradient():
    """Sequence classification reads h_n alone: grad_output=None means zeros."""
    x, hx, w_ih, w_hh, b_ih, b_hh = make_args("gru", 4, 2, 3, 4)
    g = np.random.default_rng(0).standard_normal((2, 4))
    a = gru_backward(None, x, hx, w_ih, w_hh, b_ih, b_hh, grad_h_n=g)
    b = gru_backward(np.zeros((4, 2, 4)), x, hx, w_ih, w_hh, b_ih, b_hh, grad_h_n=g)
    for u, v in zip(a, b):
        assert_close(u, v, tol=0)
    assert np.abs(a[0]).sum() > 0


def unbatch_args(kind, args):
    """The same arguments with the batch axis of 1 dropped: input (T, D), states (H,)."""
    k = 2 if kind == "lstm" else 1
    states = [None if s is None else s[0] for s in args[1 : 1 + k]]
    return [args[0][:, 0], *states, *args[1 + k :]]


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("given_states", [True, False])
def test_unbatched_input_matches_torch(kind, given_states):
    """(T, D) input and (H,) states, as torch's modules take them (hx there is (1, H)); the
    gradients have the unbatched shapes, and everything equals the batch of one."""
    forward, backward, *_, kw = KINDS[kind]
    batched = make_args(kind, 4, 1, 3, 5, given_states=given_states, seed=7)
    args = unbatch_args(kind, batched)
    r = np.random.default_rng(8)
    g = r.standard_normal((4, 5))
    names = ["grad_h_n", "grad_c_n"][: 1 + (kind == "lstm")]
    g_finals = [r.standard_normal(5) for _ in names]
    theirs, their_grads = torch_reference(kind, args, g, g_finals)
    ours = forward(*args, **kw)
    assert [o.shape for o in ours] == [(4, 5)] + [(5,)] * len(names)
    for a, b in zip(ours, theirs, strict=True):
        assert_close(a, b)
    our_grads = backward(g, *args, **kw, **dict(zip(names, g_finals)))
    for a, b in zip(our_grads, their_grads, strict=True):
        assert_close(a, b)
    assert our_grads[0].shape == (4, 3)
    as_batch = backward(g[:, None], *batched, **kw, **{k: v[None] for k, v in zip(names, g_finals)})
    assert_close(our_grads[0], as_batch[0][:, 0], tol=0)
    for a, b in zip(our_grads[1 + len(names) :], as_batch[1 + len(names) :], strict=True):
        assert_close(a, b, tol=0)


@pytest.mark.parametrize("kind", list(KINDS))
def test_unbatched_and_batched_arguments_do_not_mix(kind):
    forward, backward, *_, kw = KINDS[kind]
    batched = make_args(kind, 3, 1, 3, 4)
    args = unbatch_args(kind, batched)
    with pytest.raises(ValueError, match="hx must be 1-D for 2-D input"):
        forward(*_replace(args, 1, batched[1]), **kw)
    with pytest.raises(ValueError, match="hx must be 2-D for 3-D input"):
        forward(*_replace(batched, 1, args[1]), **kw)
    with pytest.raises(ValueError, match="grad_output"):
        backward(np.ones((3, 1, 4)), *args, **kw)
    with pytest.raises(ValueError, match="grad_h_n"):
        backward(np.ones((3, 4)), *args, **kw, grad_h_n=np.ones((1, 4)))


def test_rnn_states_are_h0_then_rnns_outputs():
    x, hx, w_ih, w_hh, b_ih, b_hh = make_args("rnn_tanh", 4, 2, 3, 5)
    for nonlinearity in ("tanh", "relu"):
        xb, hs, unbatched = rnn_states(x, hx, w_ih, w_hh, b_ih, b_hh, nonlinearity)
        out, h_n = rnn(x, hx, w_ih, w_hh, b_ih, b_hh, nonlinearity)
        assert hs.shape == (5, 2, 5) and not unbatched
        assert_close(xb, x, tol=0)
        assert_close(hs[0], hx, tol=0)
        assert_close(hs[1:], out, tol=0)
        assert_close(hs[-1], h_n, tol=0)
    xb, hs, unbatched = rnn_states(x[:, 0], None, w_ih, w_hh, None, None, "tanh")
    assert unbatched and xb.shape == (4, 1, 3) and hs.shape == (5, 1, 5) and not hs[0].any()
    with pytest.raises(ValueError, match="nonlinearity"):
        rnn_states(x, hx, w_ih, w_hh, b_ih, b_hh, "sigmoid")
