"""lstm with a projection (torch's proj_size, weight_hr_l0) against torch.nn.LSTM, forward and
BPTT, batched and unbatched; finite differences; bad shapes."""

import functools

import numpy as np
import pytest
import torch
from helpers import assert_close
from hypothesis import given
from hypothesis import strategies as st

from dlbook.scratch.gradcheck import gradcheck
from dlbook.scratch.lstm import lstm, lstm_backward


def make_args(t, n, d, h, p, bias=True, given_states=True, seed=0, dtype=np.float64):
    """input, hx (N, P), cx (N, H), weight_ih (4H, D), weight_hh (4H, P), biases, weight_hr
    (P, H); n=None gives unbatched input and states."""
    r = np.random.default_rng(seed)
    lead = () if n is None else (n,)
    x = r.standard_normal((t, *lead, d))
    states = [r.standard_normal((*lead, s)) if given_states else None for s in (p, h)]
    weights = [r.standard_normal((4 * h, d)) * 0.6, r.standard_normal((4 * h, p)) * 0.6]
    biases = [r.standard_normal(4 * h), r.standard_normal(4 * h)] if bias else [None, None]
    args = [x, *states, *weights, *biases, r.standard_normal((p, h)) * 0.6]
    return [None if a is None else a.astype(dtype) for a in args]


def torch_reference(args, grad_output, grad_h_n, grad_c_n):
    """torch.nn.LSTM(proj_size=P) with the same weights: outputs, and the gradients of
    sum(output * grad_output) + sum(h_n * grad_h_n) + sum(c_n * grad_c_n) for every argument."""
    x, hx, cx, w_ih, w_hh, b_ih, b_hh, w_hr = args
    h, p = w_hr.shape[1], w_hr.shape[0]
    module = torch.nn.LSTM(x.shape[-1], h, bias=b_ih is not None, proj_size=p).double()
    names = ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_hr_l0"]
    with torch.no_grad():
        for name, a in zip(names, args[3:]):
            if a is not None:
                getattr(module, name).copy_(torch.from_numpy(a))
    xt = torch.tensor(x, requires_grad=True)
    states = [None if s is None else torch.tensor(s[None], requires_grad=True) for s in (hx, cx)]
    out, (h_n, c_n) = module(xt, None if hx is None else tuple(states))
    loss = (out * torch.from_numpy(grad_output)).sum()
    loss = loss + (h_n[0] * torch.from_numpy(grad_h_n)).sum()
    loss = loss + (c_n[0] * torch.from_numpy(grad_c_n)).sum()
    loss.backward()
    params = dict(module.named_parameters())
    grads = [xt.grad] + [None if s is None else s.grad[0] for s in states]
    grads += [params[name].grad if name in params else None for name in names]
    outputs = [o.detach().numpy() for o in (out, h_n[0], c_n[0])]
    return outputs, [None if g is None else g.numpy() for g in grads]


@given(
    sizes=st.tuples(st.integers(1, 5), st.integers(1, 3), st.integers(1, 4), st.integers(2, 5)),
    flags=st.tuples(st.booleans(), st.booleans(), st.booleans()),
    data=st.data(),
)
def test_matches_torch_forward_and_backward(sizes, flags, data):
    (t, n, d, h), (bias, given_states, unbatched) = sizes, flags
    p = data.draw(st.integers(1, h - 1))
    seed = data.draw(st.integers(0, 2**16))
    n = None if unbatched else n
    args = make_args(t, n, d, h, p, bias=bias, given_states=given_states, seed=seed)
    lead = () if n is None else (n,)
    r = np.random.default_rng(seed + 1)
    g, g_h, g_c = (r.standard_normal(s) for s in [(t, *lead, p), (*lead, p), (*lead, h)])
    theirs, their_grads = torch_reference(args, g, g_h, g_c)
    ours = lstm(*args)
    assert [o.shape for o in ours] == [(t, *lead, p), (*lead, p), (*lead, h)]
    for a, b in zip(ours, theirs, strict=True):
        assert_close(a, b)
    our_grads = lstm_backward(g, *args, grad_h_n=g_h, grad_c_n=g_c)
    assert len(our_grads) == 8  # grad_weight_hr comes last
    for a, b in zip(our_grads, their_grads, strict=True):
        assert_close(a, b)


def test_gradcheck():
    """Finite differences of every output (output, h_n, c_n flattened into one array)."""

    @functools.wraps(lstm)  # gradcheck names the arguments after lstm's parameters
    def forward(*args):
        return np.concatenate([o.ravel() for o in lstm(*args)])

    def backward(g, *args):
        out, h_n, c_n = lstm(*args)
        parts = np.split(g, np.cumsum([out.size, h_n.size]))
        shaped = [part.reshape(o.shape) for part, o in zip(parts, (out, h_n, c_n))]
        return lstm_backward(shaped[0], *args, grad_h_n=shaped[1], grad_c_n=shaped[2])

    args = make_args(4, 2, 3, 4, 2, seed=3)
    result = gradcheck(forward, backward, args, tol=1e-7)
    expected = {"input", "hx", "cx", "weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr"}
    assert set(result.errors) == expected
    assert result.ok, result.errors


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_preserved(dtype):
    args = make_args(3, 2, 3, 4, 2, seed=2, dtype=dtype)
    outs = lstm(*args)
    assert all(o.dtype == dtype for o in outs)
    grads = lstm_backward(np.ones_like(outs[0]), *args)
    assert all(g.dtype == dtype for g in grads)
    ref = lstm(*make_args(3, 2, 3, 4, 2, seed=2))
    assert_close(outs[0].astype(np.float64), ref[0], tol=1e-5 if dtype == np.float32 else 0)


def test_bad_arguments_raise():
    x, hx, cx, w_ih, w_hh, b_ih, b_hh, w_hr = make_args(3, 2, 3, 4, 2)
    with pytest.raises(ValueError, match="weight_hr"):
        lstm(x, hx, cx, w_ih, w_hh, b_ih, b_hh, w_hr.T)
    with pytest.raises(ValueError, match="weight_hh"):
        lstm(x, hx, cx, w_ih, w_hh, b_ih, b_hh)  # (4H, P) needs the projection
    with pytest.raises(ValueError, match="hx"):
        lstm(x, cx, cx, w_ih, w_hh, b_ih, b_hh, w_hr)  # hx is (N, P), not (N, H)
    with pytest.raises(ValueError, match="cx"):
        lstm(x, hx, hx, w_ih, w_hh, b_ih, b_hh, w_hr)
    with pytest.raises(ValueError, match="grad_output"):
        lstm_backward(np.ones((3, 2, 4)), x, hx, cx, w_ih, w_hh, b_ih, b_hh, w_hr)
    with pytest.raises(ValueError, match="grad_h_n"):
        lstm_backward(None, x, hx, cx, w_ih, w_hh, b_ih, b_hh, w_hr, grad_h_n=np.ones((2, 4)))
    with pytest.raises(TypeError, match="weight_hr"):
        lstm(x, hx, cx, w_ih, w_hh, b_ih, b_hh, w_hr.astype(np.float32))
