"""The recurrent layer objects against torch's stacked, bidirectional modules; gradient clipping
and truncated BPTT against torch.nn.utils and a torch training loop."""

import copy
import math
import warnings

import numpy as np
import pytest
import torch
from helpers import assert_close
from hypothesis import given
from hypothesis import strategies as st

from dlbook.scratch.dropout import dropout_mask
from dlbook.scratch.layers import Linear
from dlbook.scratch.optim import SGD
from dlbook.scratch.recurrent_layers import GRU, LSTM, RNN, RNNBase
from dlbook.scratch.tbptt import clip_grad_norm_, clip_grad_value_, tbptt_batches, train_tbptt

PAIRS = {
    "rnn": (RNN, torch.nn.RNN, dict(nonlinearity="tanh")),
    "rnn_relu": (RNN, torch.nn.RNN, dict(nonlinearity="relu")),
    "lstm": (LSTM, torch.nn.LSTM, {}),
    "gru": (GRU, torch.nn.GRU, {}),
}


def torch_state(module):
    return {k: v.detach().numpy() for k, v in module.state_dict().items()}


def as_tuple(state):
    return state if isinstance(state, tuple) else (state,)


def twins(kind, d, h, layers, bidirectional, bias, dtype=np.float64, **more):
    ours_cls, torch_cls, kw = PAIRS[kind]
    kw = dict(kw, bias=bias, bidirectional=bidirectional, **more)
    theirs = torch_cls(d, h, layers, **kw)
    theirs = theirs.double() if dtype == np.float64 else theirs
    ours = ours_cls(d, h, layers, dtype=dtype, **kw)
    return ours.load_state_dict(torch_state(theirs)), theirs


def compare(ours, theirs, x, hx, r, tol=1e-10):
    """Run both on ``x`` from ``hx``; then backward from random gradients of the output and the
    final state. Checks the outputs, the final states and every gradient."""
    xt = torch.tensor(x, requires_grad=True)
    hxt = None if hx is None else tuple(torch.tensor(s, requires_grad=True) for s in as_tuple(hx))
    out_t, state_t = theirs(xt, None if hxt is None else hxt if len(hxt) == 2 else hxt[0])
    out, state = ours(x, hx)
    assert_close(out, out_t.detach().numpy(), tol)
    for a, b in zip(as_tuple(state), as_tuple(state_t), strict=True):
        assert_close(a, b.detach().numpy(), tol)
    g = r.standard_normal(out.shape)
    g_state = tuple(r.standard_normal(s.shape) for s in as_tuple(state))
    loss = (out_t * torch.from_numpy(g)).sum()
    for s, gs in zip(as_tuple(state_t), g_state):
        loss = loss + (s * torch.from_numpy(gs)).sum()
    loss.backward()
    grad_x = ours.backward(g, g_state if len(g_state) == 2 else g_state[0])
    assert_close(grad_x, xt.grad.numpy(), tol)
    assert len(ours.grads) == len(list(theirs.parameters()))
    for a, p in zip(ours.grads, theirs.parameters()):
        assert_close(a, p.grad.numpy(), tol)
    if hx is None:
        assert ours.grad_hx is None
    else:
        for a, s in zip(as_tuple(ours.grad_hx), hxt, strict=True):
            assert_close(a, s.grad.numpy(), tol)


@pytest.mark.parametrize("kind", list(PAIRS))
@given(
    sizes=st.tuples(*(st.integers(1, 4) for _ in range(4))),
    layers=st.integers(1, 2),
    flags=st.tuples(*(st.booleans() for _ in range(5))),
    data=st.data(),
)
def test_matches_torch_forward_and_backward(kind, sizes, layers, flags, data):
    """Every combination of layers, directions, bias, given state, batch_first and unbatched
    input; and for the LSTM, proj_size."""
    (t, n, d, h), (bidirectional, bias, given_state, batch_first, unbatched) = sizes, flags
    proj = data.draw(st.integers(0, h - 1)) if kind == "lstm" else 0
    more = dict(batch_first=batch_first, **({"proj_size": proj} if proj else {}))
    ours, theirs = twins(kind, d, h, layers, bidirectional, bias, **more)
    r = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    x = r.standard_normal((t, d) if unbatched else (n, t, d) if batch_first else (t, n, d))
    lead = (layers * (1 + bidirectional),) + (() if unbatched else (n,))
    sizes = (proj or h, h)[: 1 + (kind == "lstm")]
    hx = tuple(r.standard_normal((*lead, size)) for size in sizes)
    hx = (hx if kind == "lstm" else hx[0]) if given_state else None
    compare(ours, theirs, x, hx, r)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_parameters_are_named_shaped_and_ordered_like_torch(kind):
    ours_cls, torch_cls, _ = PAIRS[kind]
    ours = ours_cls(3, 5, 2, bidirectional=True, rng=np.random.default_rng(0))
    theirs = torch_cls(3, 5, 2, bidirectional=True)
    names = [name for name, _ in theirs.named_parameters()]
    assert list(ours.named_params()) == names
    for p, (name, q) in zip(ours.params, theirs.named_parameters()):
        assert p.shape == tuple(q.shape) and p is ours.named_params()[name]
        assert p.dtype == np.float32 and np.abs(p).max() <= 1 / math.sqrt(5)
    everything = np.concatenate([p.ravel() for p in ours.params])
    assert abs(everything.std() - 1 / math.sqrt(5 * 3)) < 0.02  # U(-b, b) has std b / sqrt(3)
    assert ours.weight_hh_l1_reverse is ours.named_params()["weight_hh_l1_reverse"]
    no_bias = ours_cls(3, 5, bias=False)
    assert list(no_bias.named_params()) == ["weight_ih_l0", "weight_hh_l0"]


EXAMPLES = {
    "unbatched": dict(unbatched=True),
    "unbatched_batch_first": dict(unbatched=True, batch_first=True),
    "batch_first": dict(batch_first=True),
    "bidirectional_2_layers": dict(layers=2, bidirectional=True),
    "no_bias": dict(bias=False, layers=2),
    "unbatched_bidirectional_2_layers": dict(unbatched=True, layers=2, bidirectional=True),
    "dropout_in_eval_mode": dict(layers=2, dropout=0.4, eval=True),
}


@pytest.mark.parametrize("kind", list(PAIRS) + ["lstm_proj"])
@pytest.mark.parametrize("example", list(EXAMPLES))
def test_examples_match_torch(kind, example):
    """Each option on its own (and some together), every kind, initial state given; lstm_proj is
    an LSTM with proj_size=2."""
    conf = dict(layers=1, bidirectional=False, bias=True, batch_first=False, unbatched=False)
    conf.update(EXAMPLES[example])
    more = dict(batch_first=conf["batch_first"], dropout=conf.get("dropout", 0.0))
    if kind == "lstm_proj":
        kind, more["proj_size"] = "lstm", 2
    ours, theirs = twins(kind, 3, 4, conf["layers"], conf["bidirectional"], conf["bias"], **more)
    if conf.get("eval"):
        ours.eval()
        theirs.eval()
    r = np.random.default_rng(5)
    t, n = 5, 2
    shape = (t, 3) if conf["unbatched"] else (n, t, 3) if conf["batch_first"] else (t, n, 3)
    lead = (conf["layers"] * (1 + conf["bidirectional"]),) + (() if conf["unbatched"] else (n,))
    states = [r.standard_normal((*lead, more.get("proj_size", 4)))]
    states += [r.standard_normal((*lead, 4))] if kind == "lstm" else []
    compare(
        ours, theirs, r.standard_normal(shape), tuple(states) if kind == "lstm" else states[0], r
    )


@pytest.mark.parametrize("kind", ["rnn_relu", "lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_dropout_between_layers_matches_torch_with_the_same_masks(kind, bidirectional):
    """In training mode, layer 1 reads layer 0's output times the mask that
    ``dropout_mask(shape, p, layer.rng, dtype)`` draws next: the same as two one-layer torch
    modules with that mask between them, forward and backward."""
    more = dict(dropout=0.3, **({"proj_size": 2} if kind == "lstm" else {}))
    ours, theirs = twins(kind, 3, 4, 2, bidirectional, True, **more)
    dirs, out_size = 1 + bidirectional, 2 if kind == "lstm" else 4
    _, torch_cls, kw = PAIRS[kind]
    kw = dict(kw, bidirectional=bidirectional, **({"proj_size": 2} if kind == "lstm" else {}))
    cells = [torch_cls(3, 4, **kw).double(), torch_cls(dirs * out_size, 4, **kw).double()]
    for layer, cell in enumerate(cells):
        state = theirs.state_dict().items()
        cell.load_state_dict(
            {k.replace(f"_l{layer}", "_l0"): v for k, v in state if f"_l{layer}" in k}
        )
    r = np.random.default_rng(6)
    x = r.standard_normal((5, 2, 3))
    mask = dropout_mask((5, 2, dirs * out_size), 0.3, copy.deepcopy(ours.rng), np.float64)
    assert 0 < (mask == 0).sum() < mask.size  # some dropped, some kept
    out, state = ours(x)
    xt = torch.tensor(x, requires_grad=True)
    mid, state0 = cells[0](xt)
    out_t, state1 = cells[1](mid * torch.from_numpy(mask))
    assert_close(out, out_t.detach().numpy())
    for a, b0, b1 in zip(as_tuple(state), as_tuple(state0), as_tuple(state1), strict=True):
        assert_close(a, torch.cat([b0, b1]).detach().numpy())
    g = r.standard_normal(out.shape)
    (out_t * torch.from_numpy(g)).sum().backward()
    assert_close(ours.backward(g), xt.grad.numpy())
    theirs_grads = [p.grad for cell in cells for p in cell.parameters()]
    for a, b in zip(ours.grads, theirs_grads, strict=True):
        assert_close(a, b.numpy())


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_dropout_is_deterministic_given_the_rng_and_off_in_eval(kind):
    ours_cls = PAIRS[kind][0]
    x = np.random.default_rng(0).standard_normal((6, 3, 2))

    def run(seed, training=True):
        layer = ours_cls(2, 5, 3, dropout=0.5, dtype=np.float64, rng=np.random.default_rng(seed))
        out, _ = layer.train(training)(x)
        return out, layer.backward(np.ones_like(out)), layer.grads

    first, again, other = run(1), run(1), run(2)
    for a, b in zip([first[0], first[1], *first[2]], [again[0], again[1], *again[2]]):
        np.testing.assert_array_equal(a, b)
    assert np.abs(first[0] - other[0]).max() > 1e-3  # other weights and masks
    no_dropout = ours_cls(2, 5, 3, dtype=np.float64, rng=np.random.default_rng(1))
    assert np.abs(first[0] - no_dropout(x)[0]).max() > 1e-3  # the masks changed something
    assert_close(run(1, training=False)[0], no_dropout(x)[0], tol=0)  # eval: no dropout
    with pytest.warns(UserWarning, match="num_layers"):
        ours_cls(2, 5, dropout=0.5)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_constructor_defaults_and_positions_match_torch(kind):
    ours_cls, torch_cls, _ = PAIRS[kind]
    names = ["input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout"]
    names += ["bidirectional", "proj_size"] + (["nonlinearity"] if kind == "rnn" else [])
    ours, theirs = ours_cls(3, 4), torch_cls(3, 4)
    assert {k: getattr(ours, k) for k in names} == {k: getattr(theirs, k) for k in names}
    assert repr(ours) == repr(theirs)
    # every argument by position, in torch's order
    args = {"rnn": (2, "relu", False, True, 0.5, True), "lstm": (2, False, True, 0.5, True, 3)}
    args = (3, 4, *args.get(kind, (2, False, True, 0.5, True)), None, None)
    ours, theirs = ours_cls(*args[:-2]), torch_cls(*args[:-2])
    assert {k: getattr(ours, k) for k in names} == {k: getattr(theirs, k) for k in names}
    assert repr(ours) == repr(theirs)
    assert list(ours.named_params()) == [name for name, _ in theirs.named_parameters()]
    assert [p.shape for p in ours.params] == [tuple(p.shape) for p in theirs.parameters()]
    assert all(p.dtype == np.float32 for p in ours_cls(*args).params)


def test_device_and_dtype():
    assert GRU(2, 3, device="cpu", dtype=np.float64).params[0].dtype == np.float64
    assert GRU(2, 3, dtype="float64").params[0].dtype == np.float64
    assert GRU(2, 3, dtype=None).params[0].dtype == np.float32
    with pytest.raises(ValueError, match="device"):
        GRU(2, 3, device="cuda")
    with pytest.raises(ValueError, match="dtype"):
        GRU(2, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match="dtype"):
        LSTM(2, 3, dtype=np.int64)


@pytest.mark.parametrize("kind", list(PAIRS) + ["lstm_proj"])
@pytest.mark.parametrize("layout", ["batched", "batch_first", "unbatched"])
def test_float32_layers_stay_float32(kind, layout):
    more = dict(batch_first=layout == "batch_first")
    if kind == "lstm_proj":
        kind, more["proj_size"] = "lstm", 2
    ours, theirs = twins(kind, 3, 4, 2, True, True, dtype=np.float32, **more)
    shape = {"batched": (5, 2, 3), "batch_first": (2, 5, 3), "unbatched": (5, 3)}[layout]
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    out, state = ours(x)
    assert out.dtype == np.float32 and all(s.dtype == np.float32 for s in as_tuple(state))
    assert_close(out, theirs(torch.from_numpy(x))[0].detach().numpy(), tol=1e-5)
    assert ours.backward(np.ones_like(out)).dtype == np.float32
    assert all(g.dtype == np.float32 for g in ours.grads)


def test_bad_arguments_raise():
    layer = GRU(3, 4, 2, dtype=np.float64)
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.ones((5, 2, 4)))
    with pytest.raises(ValueError, match="input"):
        layer(np.ones((5, 2, 2)))
    with pytest.raises(ValueError, match="input"):
        layer(np.ones((5, 2, 1, 3)))
    with pytest.raises(TypeError, match="dtype"):
        layer(np.ones((5, 2, 3), np.float32))
    with pytest.raises(ValueError, match="hx"):
        layer(np.ones((5, 2, 3)), np.zeros((1, 2, 4)))
    out, _ = layer(np.ones((5, 2, 3)))
    with pytest.raises(ValueError, match="grad_output"):
        layer.backward(np.ones((5, 2, 3)))
    with pytest.raises(ValueError, match="grad_state"):
        layer.backward(out, np.ones((2, 4)))
    with pytest.raises(ValueError, match="state"):
        layer.load_state_dict({"weight_ih_l0": np.zeros((12, 3))})
    state = {name: np.zeros_like(p) for name, p in layer.named_params().items()}
    state["weight_hh_l1"] = np.zeros((4, 4))
    with pytest.raises(ValueError, match="weight_hh_l1"):
        layer.load_state_dict(state)
    with pytest.raises(ValueError, match="nonlinearity"):
        RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="hidden_size"):
        LSTM(3, 0)
    with pytest.raises(ValueError, match="num_layers"):
        LSTM(3, 4, 1.5)


def test_bad_new_options_raise():
    with pytest.raises(TypeError, match="bias"):
        GRU(3, 4, bias=1)
    with pytest.raises(TypeError, match="batch_first"):
        GRU(3, 4, batch_first="yes")
    with pytest.raises(ValueError, match="dropout"):
        LSTM(3, 4, 2, dropout=1.5)
    with pytest.raises(ValueError, match="proj_size"):
        LSTM(3, 4, proj_size=4)  # torch: proj_size has to be smaller than hidden_size
    with pytest.raises(ValueError, match="proj_size"):
        LSTM(3, 4, proj_size=-1)
    with pytest.raises(TypeError, match="proj_size"):
        GRU(3, 4, proj_size=2)  # only the LSTM has projections
    lstm = LSTM(3, 4, 2, batch_first=True, proj_size=2, dtype=np.float64)
    with pytest.raises(ValueError, match=r"hx must hold .* \(2, 2\)"):
        lstm(np.ones((5, 3)), (np.zeros((2, 1, 2)), np.zeros((2, 1, 4))))  # unbatched: no N
    with pytest.raises(ValueError, match=r"hx must hold .* \(2, 1, 2\)"):
        lstm(np.ones((1, 5, 3)), (np.zeros((2, 2)), np.zeros((2, 4))))
    with pytest.raises(ValueError, match="pair"):
        lstm(np.ones((1, 5, 3)), np.zeros((2, 1, 2)))
    out, _ = lstm(np.ones((1, 5, 3)))
    assert out.shape == (1, 5, 2)
    with pytest.raises(ValueError, match=r"grad_output .* \(1, 5, 2\)"):
        lstm.backward(out.swapaxes(0, 1))


# --- clipping -------------------------------------------------------------------------------------


@st.composite
def grad_lists(draw):
    shapes = draw(st.lists(st.lists(st.integers(1, 4), max_size=3), min_size=1, max_size=4))
    r = np.random.default_rng(draw(st.integers(0, 2**16)))
    return [np.asarray(r.standard_normal(s) * draw(st.sampled_from([0.01, 1, 10]))) for s in shapes]


@given(grad_lists(), st.floats(0, 5), st.sampled_from([1.0, 2.0, 3.5, math.inf, "inf"]))
def test_clip_grad_norm_matches_torch(grads, max_norm, norm_type):
    params = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, g in zip(params, grads):
        p.grad = torch.tensor(g)
    theirs = torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type)
    ours = clip_grad_norm_(grads, max_norm, norm_type)
    assert isinstance(ours, float)
    assert abs(ours - float(theirs)) <= 1e-10 * max(1.0, ours)
    for g, p in zip(grads, params):
        assert_close(g, p.grad.numpy())


@given(grad_lists(), st.floats(0, 3))
def test_clip_grad_value_matches_torch(grads, clip_value):
    params = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, g in zip(params, grads):
        p.grad = torch.tensor(g)
    torch.nn.utils.clip_grad_value_(params, clip_value)
    assert clip_grad_value_(grads, clip_value) is None
    for g, p in zip(grads, params):
        assert_close(g, p.grad.numpy(), tol=0)


def test_clipping_details():
    g = np.array([3.0, 4.0], np.float32)
    assert clip_grad_norm_(g, 1.0) == 5.0  # a single array works too
    assert g.dtype == np.float32 and abs(np.linalg.norm(g) - 1.0) < 1e-5
    assert clip_grad_norm_([], 1.0) == 0.0
    with pytest.raises(RuntimeError, match="error_if_nonfinite"):
        clip_grad_norm_([np.array([np.inf])], 1.0, error_if_nonfinite=True)
    with pytest.raises(ValueError, match="max_norm"):
        clip_grad_norm_([g], -1.0)
    with pytest.raises(ValueError, match="norm_type"):
        clip_grad_norm_([g], 1.0, norm_type=0)
    with pytest.raises(ValueError, match="clip_value"):
        clip_grad_value_([g], -0.5)
    with pytest.raises(TypeError, match="grads"):
        clip_grad_norm_([np.float64(3.0)], 1.0)  # a NumPy scalar cannot change in place
    with pytest.raises(TypeError, match="clip_value"):
        clip_grad_value_([g], None)


# --- truncated BPTT -------------------------------------------------------------------------------


def test_tbptt_batches_cut_the_sequence_in_order():
    seq = np.arange(10 * 2).reshape(10, 2)
    chunks = list(tbptt_batches(seq, 4))
    assert [len(c) for c in chunks] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate(chunks), seq)
    with pytest.raises(ValueError, match="length"):
        list(tbptt_batches(seq, 0))


@pytest.mark.parametrize(
    "kind, clip", [("lstm", dict(max_norm=0.3)), ("gru", dict(clip_value=0.01))]
)
def test_train_tbptt_matches_a_torch_loop(kind, clip):
    """Chunks of 3 steps, state carried over and detached, clipping, SGD: the same losses,
    gradient norms and final weights as the same loop in torch."""
    torch.manual_seed(0)
    ours, theirs = twins(kind, 3, 5, 1, False, True)
    head_t = torch.nn.Linear(5, 4).double()
    head = Linear(5, 4, dtype=np.float64)
    head.weight[...], head.bias[...] = (p.detach().numpy() for p in head_t.parameters())
    r = np.random.default_rng(0)
    x, y = r.standard_normal((8, 2, 3)), r.integers(0, 4, size=(8, 2))
    losses, norms, state = train_tbptt(ours, head, SGD(ours.params + head.params, lr=0.5),
                                       x, y, 3, **clip)  # fmt: skip
    params = list(theirs.parameters()) + list(head_t.parameters())
    state_t, ref_losses, ref_norms = None, [], []
    for xc, yc in zip(torch.from_numpy(x).split(3), torch.from_numpy(y).split(3)):
        for p in params:
            p.grad = None
        out, state_t = theirs(xc, state_t)
        state_t = tuple(s.detach() for s in state_t) if kind == "lstm" else state_t.detach()
        loss = torch.nn.functional.cross_entropy(head_t(out.reshape(-1, 5)), yc.reshape(-1))
        loss.backward()
        if "clip_value" in clip:
            torch.nn.utils.clip_grad_value_(params, clip["clip_value"])
        ref_norms.append(float(torch.nn.utils.clip_grad_norm_(params, clip.get("max_norm", 1e9))))
        ref_losses.append(loss.item())
        with torch.no_grad():  # plain SGD (torch.optim takes seconds to import)
            for p in params:
                p -= 0.5 * p.grad
    np.testing.assert_allclose(losses, ref_losses, rtol=0, atol=1e-10)
    np.testing.assert_allclose(norms, ref_norms, rtol=0, atol=1e-10)
    for a, p in zip(ours.params + head.params, params, strict=True):
        assert_close(a, p.detach().numpy())
    for a, b in zip(as_tuple(state), as_tuple(state_t), strict=True):
        assert_close(a, b.numpy())


def test_assigning_a_parameter_by_name_writes_into_it():
    """layer.weight_hh_l0 = a must reach the array that params, grads and optimizers use."""
    layer = GRU(2, 3, dtype=np.float64, rng=np.random.default_rng(0))
    before = layer.weight_hh_l0
    new = np.full((9, 3), 0.25)
    layer.weight_hh_l0 = new
    assert layer.weight_hh_l0 is before  # the same array, now holding the new values
    assert any(p is before for p in layer.params)
    np.testing.assert_array_equal(layer.params[1], new)
    with pytest.raises(ValueError, match="weight_hh_l0"):
        layer.weight_hh_l0 = np.zeros((3, 3))
    layer.note = "other attributes are set as usual"
    assert layer.note.startswith("other")


def test_train_tbptt_refuses_batch_first_models():
    model = GRU(3, 5, batch_first=True, dtype=np.float64)
    head = Linear(5, 4, dtype=np.float64)
    x, y = np.ones((8, 2, 3)), np.zeros((8, 2), dtype=np.int64)
    with pytest.raises(ValueError, match="batch_first"):
        train_tbptt(model, head, SGD(model.params + head.params, lr=0.1), x, y, 3)


def test_rnn_lstm_and_gru_share_the_public_base_class_rnnbase():
    for cls, torch_cls in ((RNN, torch.nn.RNN), (LSTM, torch.nn.LSTM), (GRU, torch.nn.GRU)):
        assert issubclass(cls, RNNBase) and issubclass(torch_cls, torch.nn.RNNBase)
        assert cls.forward is RNNBase.forward and cls.backward is RNNBase.backward
    assert (RNN.gates, LSTM.gates, GRU.gates) == (1, 4, 3)
    assert (RNN.n_states, LSTM.n_states, GRU.n_states) == (1, 2, 1)


def test_a_subclass_keeping_rnnbases_constructor_gets_torchs_defaults():
    # RNNBase's own defaults are torch.nn.RNNBase's (a subclass that only adds a cell uses them)
    names = ["num_layers", "bias", "batch_first", "dropout", "bidirectional", "proj_size"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # dropout=0.0: no "dropout does nothing" warning
        ours = RNNBase(3, 4)
    theirs = torch.nn.RNNBase("RNN_TANH", 3, 4)
    assert {k: getattr(ours, k) for k in names} == {k: getattr(theirs, k) for k in names}
    assert list(ours.named_params()) == [name for name, _ in theirs.named_parameters()]
    assert [p.shape for p in ours.params] == [tuple(p.shape) for p in theirs.parameters()]
