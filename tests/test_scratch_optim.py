"""The from-scratch optimizers against torch.optim: the same trajectories, state and checks."""

import inspect

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dlbook.scratch.optim import SGD, Adagrad, Adam, AdamW, RMSprop

SHAPES = [(4, 3), (5,), (2, 3, 2, 2), ()]
PAIRS = {SGD: torch.optim.SGD, Adagrad: torch.optim.Adagrad, RMSprop: torch.optim.RMSprop}
PAIRS |= {Adam: torch.optim.Adam, AdamW: torch.optim.AdamW}
# One typical setting per optimizer, with most options switched on, for the other tests.
TYPICAL = {
    SGD: dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01),
    Adagrad: dict(lr=0.1, lr_decay=0.01, weight_decay=0.01, initial_accumulator_value=0.1),
    RMSprop: dict(lr=0.01, momentum=0.5, centered=True, weight_decay=0.01),
    Adam: dict(lr=0.01, amsgrad=True, weight_decay=0.01),
    AdamW: dict(lr=0.01, amsgrad=True, weight_decay=0.1),
}

unit = st.floats(0.0, 0.95)
decay = st.sampled_from([0.0, 0.01, 0.3])


@st.composite
def sgd_kwargs(draw):
    kw = dict(lr=draw(st.floats(0.0, 0.5)), weight_decay=draw(decay))
    kw["nesterov"] = draw(st.booleans())
    kw["momentum"] = draw(st.floats(0.1, 0.95) if kw["nesterov"] else st.just(0.0) | unit)
    kw["dampening"] = 0.0 if kw["nesterov"] else draw(st.just(0.0) | unit)
    return kw


STRATEGIES = {
    SGD: sgd_kwargs(),
    Adagrad: st.fixed_dictionaries(
        dict(
            lr=st.floats(1e-3, 0.5),
            lr_decay=st.just(0.0) | st.floats(0.0, 1.0),
            weight_decay=decay,
            initial_accumulator_value=st.sampled_from([0.0, 0.1, 1.0]),
            eps=st.sampled_from([1e-10, 1e-6, 0.1]),
        )
    ),
    RMSprop: st.fixed_dictionaries(
        dict(
            lr=st.floats(1e-4, 0.1),
            alpha=st.floats(0.1, 0.999),
            eps=st.sampled_from([1e-8, 1e-3]),
            weight_decay=decay,
            momentum=st.just(0.0) | unit,
            centered=st.booleans(),
        )
    ),
    Adam: st.fixed_dictionaries(
        dict(
            lr=st.floats(1e-4, 0.1),
            betas=st.tuples(st.floats(0.0, 0.99), st.floats(0.0, 0.9999)),
            eps=st.sampled_from([1e-8, 1e-3]),
            weight_decay=decay,
            amsgrad=st.booleans(),
        )
    ),
}
STRATEGIES[AdamW] = STRATEGIES[Adam]
# Every option at least once, whatever hypothesis draws.
EXPLICIT = [
    (SGD, dict(lr=0.1)),
    (SGD, dict(lr=0.1, momentum=0.9)),
    (SGD, dict(lr=0.1, momentum=0.9, dampening=0.5, weight_decay=0.1)),
    (SGD, dict(lr=0.1, momentum=0.9, nesterov=True)),
    (SGD, dict(lr=0.1, momentum=0.5, nesterov=True, weight_decay=0.1)),
    (Adagrad, dict()),
    (Adagrad, dict(lr=0.1, lr_decay=0.1, initial_accumulator_value=0.5, weight_decay=0.1)),
    (RMSprop, dict()),
    (RMSprop, dict(centered=True)),
    (RMSprop, dict(momentum=0.9)),
    (RMSprop, dict(momentum=0.9, centered=True, weight_decay=0.1)),
    (Adam, dict()),
    (Adam, dict(lr=0.01, amsgrad=True)),
    (Adam, dict(lr=0.01, betas=(0.5, 0.9), weight_decay=0.1)),
    (AdamW, dict()),
    (AdamW, dict(lr=0.01, amsgrad=True, weight_decay=0.5)),
    (AdamW, dict(lr=0.01, weight_decay=0)),
]


def make_pair(cls, kw, seed=0, dtype=np.float64):
    """Our optimizer and torch's, on equal copies of the same starting parameters."""
    r = np.random.default_rng(seed)
    ours = [r.standard_normal(s).astype(dtype) for s in SHAPES]
    theirs = [torch.tensor(p.copy(), requires_grad=True) for p in ours]
    return cls(ours, **kw), PAIRS[cls](theirs, **kw)


def torch_step(opt, grads):
    for p, g in zip(opt.param_groups[0]["params"], grads):
        p.grad = None if g is None else torch.tensor(g)
    opt.step()


def assert_params_equal(ours, theirs, tol):
    # A plain max is ten times faster than assert_allclose, which matters at 25 checks a case.
    for i, (p, t) in enumerate(zip(ours.params, theirs.param_groups[0]["params"])):
        assert p.shape == tuple(t.shape)
        error = np.max(np.abs(p - t.detach().numpy()), initial=0.0)
        assert error <= tol, f"params[{i}] differs from torch's by {error:.3g}"


def assert_state_equal(ours, theirs, tol):
    """Our per-parameter state has torch's names and values (torch's SGD without momentum keeps
    no empty ``momentum_buffer``)."""
    for p_state, t in zip(ours.state, theirs.param_groups[0]["params"]):
        t_state = theirs.state[t]
        assert set(t_state) <= set(p_state)
        assert all(p_state[key] is None for key in set(p_state) - set(t_state))
        for key, value in p_state.items():
            if key not in t_state:
                continue
            if value is None or key == "step":
                assert value == (None if t_state[key] is None else int(t_state[key]))
            else:
                # Relative too: centered RMSprop's sqrt(v - mean^2) cancels, and its momentum
                # buffer, of g / sqrt(...), can grow to hundreds with round-off to scale.
                np.testing.assert_allclose(value, t_state[key].numpy(), rtol=tol, atol=tol)


def run_against_torch(cls, kw, seed, grad_scale=1.0):
    """25 steps with the same random gradients given to both; params equal after every step."""
    ours, theirs = make_pair(cls, kw, seed)
    r = np.random.default_rng(seed + 1)
    for _ in range(25):
        grads = [grad_scale * r.standard_normal(s) for s in SHAPES]
        ours.step(grads)
        torch_step(theirs, grads)
        assert_params_equal(ours, theirs, tol=1e-10)
    assert_state_equal(ours, theirs, tol=1e-10)


@pytest.mark.parametrize("cls,kw", EXPLICIT)
def test_follows_torch_for_25_steps(cls, kw):
    run_against_torch(cls, kw, seed=0)


@pytest.mark.parametrize("cls", list(PAIRS))
def test_follows_torch_for_drawn_hyperparameters(cls):
    @settings(max_examples=30)
    @given(STRATEGIES[cls], st.integers(0, 2**16), st.sampled_from([1e-3, 1.0, 10.0]))
    def check(kw, seed, grad_scale):
        run_against_torch(cls, kw, seed, grad_scale)

    check()


@pytest.mark.parametrize("cls", list(PAIRS))
def test_follows_torch_on_a_quadratic_loss(cls):
    """Each side takes its gradient at its own parameters (torch by autograd), as in training."""
    ours, theirs = make_pair(cls, TYPICAL[cls])
    r = np.random.default_rng(1)
    curvature = [r.uniform(0.1, 3.0, s) for s in SHAPES]
    pull = [r.standard_normal(s) for s in SHAPES]
    for _ in range(25):
        ours.step([c * p + b for c, p, b in zip(curvature, ours.params, pull)])
        theirs.zero_grad()
        tensors = theirs.param_groups[0]["params"]
        loss = sum(
            (0.5 * torch.tensor(c) * t**2 + torch.tensor(b) * t).sum()
            for c, t, b in zip(curvature, tensors, pull)
        )
        loss.backward()
        theirs.step()
    assert_params_equal(ours, theirs, tol=1e-10)


@pytest.mark.parametrize("cls", list(PAIRS))
def test_float32_stays_float32_and_follows_torch(cls):
    ours, theirs = make_pair(cls, TYPICAL[cls], dtype=np.float32)
    r = np.random.default_rng(1)
    for _ in range(25):
        grads = [r.standard_normal(s).astype(np.float32) for s in SHAPES]
        ours.step(grads)
        torch_step(theirs, grads)
    assert all(p.dtype == np.float32 for p in ours.params)
    arrays = [v for s in ours.state for v in s.values() if isinstance(v, np.ndarray)]
    assert arrays and all(a.dtype == np.float32 for a in arrays)
    assert_params_equal(ours, theirs, tol=1e-5)


@pytest.mark.parametrize("cls", list(PAIRS))
def test_lr_schedule_and_missing_gradients_follow_torch(cls):
    """``opt.lr`` may change between steps; a ``None`` gradient skips its parameter, as in torch."""
    ours, theirs = make_pair(cls, TYPICAL[cls])
    r = np.random.default_rng(1)
    for k in range(25):
        ours.lr = theirs.param_groups[0]["lr"] = 0.05 * 0.9**k
        grads = [r.standard_normal(s) for s in SHAPES]
        grads[1] = None if k % 3 else grads[1]
        ours.step(grads)
        torch_step(theirs, grads)
    assert_params_equal(ours, theirs, tol=1e-10)
    assert_state_equal(ours, theirs, tol=1e-10)


@pytest.mark.parametrize("cls", list(PAIRS))
def test_updates_in_place_through_views(cls):
    buffer = np.zeros(20)
    weight, column = buffer[:12].reshape(4, 3), np.ones((3, 4))[:, ::2]  # a strided view
    opt = cls([weight, column], **TYPICAL[cls])
    opt.step([np.ones((4, 3)), np.ones((3, 2))])
    assert opt.params[0] is weight and opt.params[1] is column
    assert np.all(buffer[:12] != 0) and np.all(buffer[12:] == 0)
    assert np.all(column.base[:, 1::2] == 1) and np.all(column != 1)


@pytest.mark.parametrize("cls", list(PAIRS))
def test_state_dict_resumes_exactly(cls):
    first, _ = make_pair(cls, TYPICAL[cls])
    r = np.random.default_rng(1)
    all_grads = [[r.standard_normal(s) for s in SHAPES] for _ in range(25)]
    for grads in all_grads[:10]:
        first.step(grads)
    first.lr = 0.02
    saved = first.state_dict()
    second = cls([p.copy() for p in first.params], **TYPICAL[cls])
    second.load_state_dict(saved)
    assert second.lr == 0.02
    for grads in all_grads[10:]:
        first.step(grads)
        second.step(grads)
    for a, b in zip(first.params, second.params):
        np.testing.assert_array_equal(a, b)
    # The saved dict is a copy: later steps did not change it.
    assert all(s.get("step", 10) == 10 for s in saved["state"])


def test_bad_state_dict_raises():
    opt = Adam([np.zeros(3), np.zeros((2, 2))])
    saved = opt.state_dict()
    with pytest.raises(ValueError, match="state_dict"):
        Adam([np.zeros(3)]).load_state_dict(saved)
    with pytest.raises(ValueError, match=r"state_dict.*state\[1\]"):
        Adam([np.zeros(3), np.zeros((2, 3))]).load_state_dict(saved)


# torch's arguments that choose how it runs the maths, not the maths: left out on purpose.
IMPLEMENTATION_ONLY = {"foreach", "fused", "capturable", "differentiable"}


@pytest.mark.parametrize("cls", list(PAIRS))
def test_argument_names_order_and_defaults_match_torch(cls):
    """Every argument of torch's but the implementation-only ones, with torch's default; the
    positional ones in torch's order; keyword-only ones only where torch's positional ones
    before them are left out (so a positional call never lands on another argument)."""
    ours = inspect.signature(cls).parameters
    theirs = inspect.signature(PAIRS[cls]).parameters
    assert set(theirs) - set(ours) == IMPLEMENTATION_ONLY & set(theirs)
    assert set(ours) <= set(theirs)
    for name, p in ours.items():
        assert p.default == theirs[name].default, name
    positional = [n for n, p in ours.items() if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert positional == list(theirs)[: len(positional)]


@pytest.mark.parametrize("cls", list(PAIRS))
def test_defaults_only_follow_torch_for_25_steps(cls):
    """Called with the defaults only on both sides (SGD's lr included)."""
    run_against_torch(cls, {}, seed=3)


MAXIMIZE = [
    (SGD, dict(lr=0.1, maximize=True)),
    (SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1, maximize=True)),
    (Adagrad, dict(lr=0.1, lr_decay=0.1, weight_decay=0.1, maximize=True)),
    (RMSprop, dict(momentum=0.9, centered=True, weight_decay=0.1, maximize=True)),
    (Adam, dict(lr=0.01, amsgrad=True, weight_decay=0.1, maximize=True)),
    (Adam, dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    (Adam, dict(lr=0.01, amsgrad=True, weight_decay=0.1, decoupled_weight_decay=True,
                maximize=True)),
    (AdamW, dict(lr=0.01, weight_decay=0.1, maximize=True)),
    (AdamW, dict(lr=0.01, amsgrad=True, maximize=True)),
]  # fmt: skip


@pytest.mark.parametrize("cls,kw", MAXIMIZE)
def test_maximize_and_decoupled_weight_decay_follow_torch_for_25_steps(cls, kw):
    run_against_torch(cls, kw, seed=5)


def test_maximize_ascends():
    """On f(x) = -|x|^2 / 2, whose gradient is -x, maximizing walks to 0, minimizing away."""
    for maximize, shrinks in ((True, True), (False, False)):
        x = np.ones(3)
        opt = SGD([x], lr=0.1, maximize=maximize)
        opt.step([-x.copy()])
        assert (np.abs(x) < 1).all() == shrinks


@pytest.mark.parametrize("cls", list(PAIRS))
def test_maximize_must_be_a_bool(cls):
    with pytest.raises(TypeError, match="maximize"):
        cls([np.zeros(3)], maximize="yes")


def test_adam_with_decoupled_weight_decay_is_adamw(rng):
    a = rng.standard_normal((4, 3))
    b = a.copy()
    adam = Adam([a], lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)
    adamw = AdamW([b], lr=0.01, weight_decay=0.1)
    for _ in range(5):
        g = rng.standard_normal((4, 3))
        adam.step([g])
        adamw.step([g])
    np.testing.assert_array_equal(a, b)


BAD_HYPERPARAMETERS = [
    (SGD, dict(lr=-0.1), "lr"),
    (SGD, dict(lr=0.1, momentum=-0.5), "momentum"),
    (SGD, dict(lr=0.1, weight_decay=-1), "weight_decay"),
    (SGD, dict(lr=0.1, nesterov=True), "nesterov"),
    (SGD, dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "nesterov"),
    (Adagrad, dict(lr=-1.0), "lr"),
    (Adagrad, dict(lr_decay=-1.0), "lr_decay"),
    (Adagrad, dict(weight_decay=-1.0), "weight_decay"),
    (Adagrad, dict(initial_accumulator_value=-1.0), "initial_accumulator_value"),
    (Adagrad, dict(eps=-1.0), "eps"),
    (RMSprop, dict(lr=-1.0), "lr"),
    (RMSprop, dict(alpha=-0.1), "alpha"),
    (RMSprop, dict(eps=-1.0), "eps"),
    (RMSprop, dict(momentum=-0.1), "momentum"),
    (RMSprop, dict(weight_decay=-0.1), "weight_decay"),
    (Adam, dict(lr=-1.0), "lr"),
    (Adam, dict(eps=-1.0), "eps"),
    (Adam, dict(weight_decay=-1.0), "weight_decay"),
    (Adam, dict(betas=(1.0, 0.999)), r"betas\[0\]"),
    (AdamW, dict(betas=(0.9, -0.1)), r"betas\[1\]"),
    (AdamW, dict(betas=(0.9, 1.5)), r"betas\[1\]"),
]


@pytest.mark.parametrize("cls,kw,name", BAD_HYPERPARAMETERS)
def test_bad_hyperparameters_raise_as_in_torch(cls, kw, name):
    with pytest.raises(ValueError, match=name):
        cls([np.zeros(3)], **kw)
    with pytest.raises(ValueError):
        PAIRS[cls]([torch.zeros(3, requires_grad=True)], **kw)


def test_betas_must_be_a_pair():
    with pytest.raises(ValueError, match="betas"):
        Adam([np.zeros(3)], betas=(0.9,))


@pytest.mark.parametrize(
    "params,error,words",
    [
        (np.zeros(3), TypeError, "params"),  # one array, not a list of them
        ([], ValueError, "params"),
        ([np.zeros(3), np.zeros(2, dtype=int)], TypeError, r"params\[1\]"),
        ([np.zeros(3), [1.0, 2.0]], TypeError, r"params\[1\]"),
    ],
)
def test_bad_params_raise(params, error, words):
    with pytest.raises(error, match=words):
        SGD(params, lr=0.1)


def test_the_same_array_twice_raises():
    w = np.zeros(3)
    with pytest.raises(ValueError, match="params"):
        Adam([w, w])


@pytest.mark.parametrize(
    "grads,error,words",
    [
        ([np.ones(3)], ValueError, "grads has 1"),
        ([np.ones(3), np.ones((2, 2)), np.ones(1)], ValueError, "grads has 3"),
        ([np.ones(3), np.ones((2, 3))], ValueError, r"grads\[1\] has shape"),
        ([np.ones(3, dtype=np.float32), np.ones((2, 2))], TypeError, r"grads\[0\] has dtype"),
        ([np.ones(3), [[1.0, 1.0], [1.0, 1.0]]], TypeError, r"grads\[1\]"),
        (np.ones((2, 3)), TypeError, "grads"),
    ],
)
def test_bad_grads_raise_and_change_nothing(grads, error, words):
    params = [np.zeros(3), np.zeros((2, 2))]
    opt = Adam(params)
    with pytest.raises(error, match=words):
        opt.step(grads)
    assert all(np.all(p == 0) for p in params)
    assert all(s["step"] == 0 for s in opt.state)


def test_repr_shows_the_hyperparameters():
    text = repr(SGD([np.zeros(3)], lr=0.1, momentum=0.9))
    assert text.startswith("SGD(1 params, lr=0.1, momentum=0.9")


# Weight decay of exactly 0 and exactly 1: the code branches on `weight_decay != 0`, and a
# mutation run showed that no drawn value ever hit 1 (a `!= 1` slip went unnoticed).
WEIGHT_DECAY_EDGES = [
    (cls, dict(TYPICAL[cls], weight_decay=wd)) for cls in PAIRS for wd in (0.0, 1.0)
] + [(Adam, dict(lr=0.01, weight_decay=wd, decoupled_weight_decay=True)) for wd in (0.0, 1.0)]


@pytest.mark.parametrize("cls,kw", WEIGHT_DECAY_EDGES)
def test_weight_decay_zero_and_one_follow_torch_for_25_steps(cls, kw):
    run_against_torch(cls, kw, seed=6)
