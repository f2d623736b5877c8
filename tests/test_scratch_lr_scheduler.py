"""The from-scratch learning-rate schedulers against torch.optim.lr_scheduler, step by step.

Each case is built by one function from a module, ``m.StepLR(opt, ...)``, run once with
dlbook.scratch.lr_scheduler and a dlbook optimizer and once with torch's: the two must give the
same rate (and, for OneCycleLR, momentum) at every step, and drive the same trajectory.
"""

import copy
import inspect

import numpy as np
import pytest
import torch
import torch.optim.lr_scheduler as tsched
from hypothesis import given, settings
from hypothesis import strategies as st

import dlbook.scratch.lr_scheduler as sched
from dlbook.scratch.optim import SGD, Adagrad, Adam, AdamW, RMSprop

OPTIMIZERS = {
    "sgd": (SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9)),
    "sgd0": (SGD, torch.optim.SGD, dict(lr=0.1)),
    "nesterov": (SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.5, nesterov=True)),
    "adam": (Adam, torch.optim.Adam, dict(lr=0.01)),
    "adamw": (AdamW, torch.optim.AdamW, dict(lr=0.01, betas=(0.8, 0.99))),
    "rmsprop": (RMSprop, torch.optim.RMSprop, dict(lr=0.01, momentum=0.5)),
    "adagrad": (Adagrad, torch.optim.Adagrad, dict(lr=0.1)),
    "rmsprop0": (RMSprop, torch.optim.RMSprop, dict(lr=0.01)),
}


def warmup_cosine(m, o):
    warm = m.LinearLR(o, start_factor=0.1, total_iters=10)
    return m.SequentialLR(o, [warm, m.CosineAnnealingLR(o, T_max=50, eta_min=1e-3)], [10])


def three_stages(m, o):
    stages = [m.ExponentialLR(o, 0.9), m.StepLR(o, 5, 0.5), m.LambdaLR(o, lambda t: 1 / (t + 1))]
    return m.SequentialLR(o, stages, milestones=[20, 45])


class Halving:
    """A callable object, whose attributes LambdaLR's state_dict keeps (a lambda's it cannot)."""

    def __init__(self, every):
        self.every = every

    def __call__(self, t):
        return 0.5 ** (t // self.every)


CASES = {
    "step": lambda m, o: m.StepLR(o, step_size=7, gamma=0.5),
    "step_default": lambda m, o: m.StepLR(o, 30),
    "step_1_grow": lambda m, o: m.StepLR(o, 1, gamma=1.05),
    "multistep": lambda m, o: m.MultiStepLR(o, milestones=[10, 25, 60], gamma=0.3),
    "multistep_repeat_0": lambda m, o: m.MultiStepLR(o, [40, 0, 15, 15]),
    "exponential": lambda m, o: m.ExponentialLR(o, gamma=0.97),
    "cosine": lambda m, o: m.CosineAnnealingLR(o, T_max=50),
    "cosine_past_T_max": lambda m, o: m.CosineAnnealingLR(o, T_max=17, eta_min=0.002),
    "cosine_float_T": lambda m, o: m.CosineAnnealingLR(o, T_max=12.5, eta_min=0.02),
    "linear_default": lambda m, o: m.LinearLR(o),
    "linear_1": lambda m, o: m.LinearLR(o, 0.25, total_iters=1),
    "linear_decay": lambda m, o: m.LinearLR(o, start_factor=1.0, end_factor=0.05, total_iters=80),
    "lambda": lambda m, o: m.LambdaLR(o, lambda t: 1 / (1 + 0.1 * t) ** 0.5),
    "lambda_object_list": lambda m, o: m.LambdaLR(o, [Halving(9)]),
    "warmup_cosine": warmup_cosine,
    "three_stages": three_stages,
    "sequential_at_1": lambda m, o: m.SequentialLR(
        o, [m.LinearLR(o, 0.5, total_iters=3), m.ExponentialLR(o, 0.9)], milestones=[1]
    ),
    "onecycle": lambda m, o: m.OneCycleLR(o, max_lr=0.5, total_steps=120),
    "onecycle_epochs_linear": lambda m, o: m.OneCycleLR(
        o, [0.3], epochs=6, steps_per_epoch=20, anneal_strategy="linear", pct_start=0.25
    ),
    "onecycle_three_phase": lambda m, o: m.OneCycleLR(
        o, 0.2, 120, three_phase=True, div_factor=10.0, final_div_factor=100.0
    ),
    "onecycle_momentum": lambda m, o: m.OneCycleLR(
        o, 1.0, 120, pct_start=0.4, base_momentum=0.6, max_momentum=0.9
    ),
    "onecycle_no_momentum": lambda m, o: m.OneCycleLR(o, 0.1, 120, cycle_momentum=False),
    "onecycle_pct_0": lambda m, o: m.OneCycleLR(o, 0.1, 120, pct_start=0.0),
    "onecycle_1_step": lambda m, o: m.OneCycleLR(o, 0.1, epochs=1, steps_per_epoch=1),
    "onecycle_total_1": lambda m, o: m.OneCycleLR(o, 0.1, total_steps=1, three_phase=True),
}
ONE_STEP = ("onecycle_1_step", "onecycle_total_1")  # step 1 is the last one allowed


def momentum_of(opt):
    """The momentum a scheduler may cycle: SGD's or RMSprop's momentum, Adam's beta1."""
    if isinstance(opt, torch.optim.Optimizer):
        group = opt.param_groups[0]
        return group["betas"][0] if "betas" in group else group.get("momentum")
    return opt.betas[0] if hasattr(opt, "betas") else getattr(opt, "momentum", None)


def quadratic(dim=4, seed=0):
    """The gradient of f(w) = w^T A w / 2 - b^T w, with A symmetric positive definite."""
    r = np.random.default_rng(seed)
    q = r.standard_normal((dim, dim))
    a, b = q @ q.T / dim + 0.5 * np.eye(dim), r.standard_normal(dim)
    return lambda w: a @ w - b


def run(case, opt_name="sgd", steps=120, set_lr=None):
    """Drive ours and torch's side by side on a quadratic: (rates, momenta, weights) of each.

    ``set_lr = (t, lr)`` sets both optimizers' rate by hand before step ``t``."""
    ours_cls, torch_cls, kw = OPTIMIZERS[opt_name]
    grad = quadratic()
    w0 = np.random.default_rng(1).standard_normal(4)
    w, tw = w0.copy(), torch.tensor(w0, requires_grad=True)
    opt, topt = ours_cls([w], **kw), torch_cls([tw], **kw)
    s, ts = CASES[case](sched, opt), CASES[case](tsched, topt)
    ours, theirs = [], []
    for t in range(steps):
        if set_lr is not None and t == set_lr[0]:
            opt.lr = topt.param_groups[0]["lr"] = set_lr[1]
        ours.append((s.get_last_lr()[0], opt.lr, momentum_of(opt), w.copy()))
        theirs.append((ts.get_last_lr()[0], topt.param_groups[0]["lr"], momentum_of(topt)))
        theirs[-1] += (tw.detach().numpy().copy(),)
        if t == steps - 1:
            break
        opt.step([grad(w)])
        tw.grad = torch.from_numpy(grad(tw.detach().numpy()))
        topt.step()
        s.step()
        ts.step()
    return ours, theirs


def assert_same_run(ours, theirs, weights_tol=1e-10):
    for t, (o, th) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(o[:2], th[:2], rtol=1e-12, atol=1e-15, err_msg=f"lr, step {t}")
        if th[2] is None:
            assert o[2] in (None, 0), t
        else:
            np.testing.assert_allclose(o[2], th[2], rtol=1e-12, err_msg=f"momentum, step {t}")
        np.testing.assert_allclose(
            o[3], th[3], rtol=weights_tol, atol=weights_tol, err_msg=f"w, step {t}"
        )


@pytest.mark.parametrize("case", CASES)
def test_rates_and_sgd_trajectory_equal_torch(case):
    """Every step's rate (get_last_lr and optimizer.lr), momentum and SGD weights."""
    assert_same_run(*run(case, "sgd", steps=2 if case in ONE_STEP else 120))


@pytest.mark.parametrize("opt_name", ["sgd0", "nesterov", "adam", "adamw", "rmsprop"])
@pytest.mark.parametrize("case", ["onecycle", "onecycle_three_phase", "warmup_cosine"])
def test_each_optimizer_follows_torch_with_a_schedule(case, opt_name):
    """OneCycleLR cycles SGD's and RMSprop's momentum and Adam's beta1; trajectories agree."""
    assert_same_run(*run(case, opt_name, steps=121))  # to total_steps, the last step allowed


def test_adagrad_has_no_momentum_to_cycle():
    assert_same_run(*run("onecycle_no_momentum", "adagrad", steps=60))
    with pytest.raises(ValueError, match="cycle_momentum"):
        sched.OneCycleLR(Adagrad([np.zeros(2)]), 0.1, 10)
    with pytest.raises(ValueError, match="momentum"):
        tsched.OneCycleLR(torch.optim.Adagrad([torch.zeros(2, requires_grad=True)]), 0.1, 10)


def test_rmsprop_without_momentum_gets_one_from_onecycle():
    """RMSprop built with momentum=0: OneCycleLR switches momentum on, and the buffer starts at
    zero at the first step, as torch makes its state there."""
    assert_same_run(*run("onecycle", "rmsprop0", steps=20))


@pytest.mark.parametrize(
    "case", ["step", "multistep", "exponential", "cosine_past_T_max", "linear_decay"]
)
def test_recursive_schedules_follow_a_rate_set_by_hand(case):
    """They scale the current rate, as torch's do: a rate changed at step 30 carries on."""
    ours, theirs = run(case, "sgd", steps=90, set_lr=(30, 0.037))
    assert_same_run(ours, theirs)
    assert ours[30][1] == 0.037 and ours[29][1] != 0.037


CLOSED_FORMS = {
    "step": (lambda t: sched.step_lr(t, 0.1, 7, 0.5), None),
    "step_1_grow": (lambda t: sched.step_lr(t, 0.1, 1, gamma=1.05), None),
    "multistep": (lambda t: sched.multistep_lr(t, 0.1, [25, 10, 60], 0.3), None),
    "multistep_repeat_0": (lambda t: sched.multistep_lr(t, 0.1, (40, 0, 15, 15)), None),
    "exponential": (lambda t: sched.exponential_lr(t, 0.1, 0.97), None),
    "cosine_past_T_max": (lambda t: sched.cosine_lr(t, 0.1, 17, 0.002), None),
    "cosine_float_T": (lambda t: sched.cosine_lr(t, 0.1, 12.5, eta_min=0.02), None),
    "linear_default": (lambda t: sched.linear_lr(t, 0.1), None),
    "linear_1": (lambda t: sched.linear_lr(t, 0.1, 0.25, total_iters=1), None),
    "linear_decay": (lambda t: sched.linear_lr(t, 0.1, 1.0, 0.05, 80), None),
    "onecycle": (
        lambda t: sched.one_cycle_lr(t, 0.5, 120),
        lambda t: sched.one_cycle_momentum(t, 120),
    ),
    "onecycle_three_phase": (
        lambda t: sched.one_cycle_lr(t, 0.2, 120, 0.3, "cos", 10.0, 100.0, True),
        lambda t: sched.one_cycle_momentum(t, 120, three_phase=True),
    ),
    "onecycle_epochs_linear": (
        lambda t: sched.one_cycle_lr(t, 0.3, 120, pct_start=0.25, anneal_strategy="linear"),
        lambda t: sched.one_cycle_momentum(t, 120, 0.25, "linear"),
    ),
    "onecycle_momentum": (
        lambda t: sched.one_cycle_lr(t, 1.0, 120, pct_start=0.4),
        lambda t: sched.one_cycle_momentum(t, 120, 0.4, base_momentum=0.6, max_momentum=0.9),
    ),
}


@pytest.mark.parametrize("case", CLOSED_FORMS)
def test_closed_forms_give_torchs_rates(case):
    """The plain functions, one step at a time and on an array of steps, against torch's run.
    Torch's cosine is recursive: equal up to rounding (1e-12 relative)."""
    lr_of, momentum_of_step = CLOSED_FORMS[case]
    _, theirs = run(case, "sgd", steps=121 if "onecycle" in case else 100)
    steps = np.arange(len(theirs))
    torch_lr = np.array([th[0] for th in theirs])
    np.testing.assert_allclose([lr_of(int(t)) for t in steps], torch_lr, rtol=1e-12, atol=1e-16)
    np.testing.assert_allclose(lr_of(steps), torch_lr, rtol=1e-12, atol=1e-16)
    assert lr_of(steps.reshape(-1, 1)).shape == (len(steps), 1)
    assert isinstance(lr_of(3), float)
    if momentum_of_step is not None:
        np.testing.assert_allclose(momentum_of_step(steps), [th[2] for th in theirs], rtol=1e-12)


def test_closed_forms_take_real_steps_for_smooth_plots():
    t = np.linspace(0, 10, 41)
    np.testing.assert_allclose(sched.cosine_lr(t, 1.0, 10), (1 + np.cos(np.pi * t / 10)) / 2)
    np.testing.assert_allclose(sched.exponential_lr(t, 2.0, 0.5), 2.0 * 0.5**t)
    assert sched.step_lr(6.5, 1.0, 3, 0.5) == 0.25 and sched.linear_lr(2.5, 1.0, 0.5) == 0.75


@pytest.mark.parametrize(
    "case", ["step", "multistep_repeat_0", "exponential", "cosine_past_T_max", "linear_decay"]
)
def test_deprecated_step_epoch_jumps_by_the_closed_form_as_torch(case):
    opt, topt = SGD([np.zeros(2)], lr=0.1), torch.optim.SGD([torch.zeros(2)], lr=0.1)
    s, ts = CASES[case](sched, opt), CASES[case](tsched, topt)
    for epoch in [3, 17, 18, 40, 7, 34]:
        with pytest.warns(UserWarning):
            s.step(epoch)
        with pytest.warns(UserWarning):
            ts.step(epoch)
        assert s.last_epoch == ts.last_epoch == epoch
        np.testing.assert_allclose(s.get_last_lr(), ts.get_last_lr(), rtol=1e-12, atol=1e-16)


@settings(max_examples=25, deadline=None)
@given(
    step_size=st.integers(1, 20),
    gamma=st.floats(0.0, 1.5),
    T_max=st.integers(1, 40) | st.floats(0.5, 40.0),
    eta_min=st.sampled_from([0.0, 1e-3, 0.05]),
    start=st.floats(0.01, 1.0),
    end=st.floats(0.0, 1.0),
    total_iters=st.integers(1, 50),
)
def test_random_settings_equal_torch(step_size, gamma, T_max, eta_min, start, end, total_iters):
    schedules = [
        lambda m, o: m.StepLR(o, step_size, gamma),
        lambda m, o: m.ExponentialLR(o, min(gamma, 1.0)),
        lambda m, o: m.CosineAnnealingLR(o, T_max, eta_min),
        lambda m, o: m.LinearLR(o, start, end, total_iters),
    ]
    for make in schedules:
        opt, topt = SGD([np.zeros(1)], lr=0.1), torch.optim.SGD([torch.zeros(1)], lr=0.1)
        s, ts = make(sched, opt), make(tsched, topt)
        for _ in range(80):
            np.testing.assert_allclose(s.get_last_lr(), ts.get_last_lr(), rtol=1e-12, atol=1e-15)
            topt.step()
            s.step()
            ts.step()


@settings(max_examples=25, deadline=None)
@given(
    total_steps=st.integers(10, 150),
    pct_start=st.floats(0.05, 0.95),
    linear=st.booleans(),
    three_phase=st.booleans(),
    max_lr=st.floats(1e-3, 1.0),
)
def test_random_one_cycles_equal_torch(total_steps, pct_start, linear, three_phase, max_lr):
    kw = dict(pct_start=pct_start, anneal_strategy="linear" if linear else "cos")
    kw |= dict(three_phase=three_phase)
    opt = Adam([np.zeros(1)])
    topt = torch.optim.Adam([torch.zeros(1)])
    try:
        ts = tsched.OneCycleLR(topt, max_lr, total_steps, **kw)
    except ZeroDivisionError:  # a phase of no steps: ours says so
        with pytest.raises(ValueError, match="pct_start"):
            sched.OneCycleLR(opt, max_lr, total_steps, **kw)
        return
    s = sched.OneCycleLR(opt, max_lr, total_steps, **kw)
    for _ in range(total_steps):
        np.testing.assert_allclose(s.get_last_lr(), ts.get_last_lr(), rtol=1e-12, atol=1e-16)
        assert opt.betas == pytest.approx(topt.param_groups[0]["betas"], rel=1e-12)
        topt.step()
        try:
            ts.step()
        except ZeroDivisionError:
            with pytest.raises(ValueError, match="pct_start"):
                s.step()
            return
        s.step()


def test_onecycle_stops_where_torch_stops():
    opt, topt = SGD([np.zeros(1)], momentum=0.9), torch.optim.SGD([torch.zeros(1)], momentum=0.9)
    s, ts = sched.OneCycleLR(opt, 0.1, 10), tsched.OneCycleLR(topt, 0.1, 10)
    for _ in range(10):
        topt.step()
        s.step()
        ts.step()
    assert s.last_epoch == ts.last_epoch == 10
    with pytest.raises(ValueError, match="total_steps is 10"):
        s.step()
    with pytest.raises(ValueError, match="total steps is 10"):
        ts.step()
    with pytest.raises(ValueError, match="step must be <= total_steps=10"):
        sched.one_cycle_lr(11, 0.1, 10)


def resumable(case, state_dicts=None, steps=0):
    """A fresh (optimizer, scheduler) of ``case``, given ``steps`` SGD steps on a quadratic,
    with ``state_dicts`` (the optimizer's and the scheduler's) loaded first if given."""
    grad, w = quadratic(), np.ones(4)
    opt = SGD([w], lr=0.1, momentum=0.9)
    s = CASES[case](sched, opt)
    if state_dicts is not None:
        opt.load_state_dict(state_dicts[0])
        s.load_state_dict(state_dicts[1])
        w[:] = state_dicts[2]
    lrs = []
    for _ in range(steps):
        opt.step([grad(w)])
        s.step()
        lrs.append((s.get_last_lr()[0], momentum_of(opt), w.copy()))
    return opt, s, lrs


@pytest.mark.parametrize("case", [c for c in CASES if c not in ONE_STEP])
def test_state_dict_round_trip_resumes_the_same_run(case):
    """40 steps, save, load into a new optimizer and scheduler, 60 more: the same as 100."""
    _, _, whole = resumable(case, steps=100)
    opt, s, _ = resumable(case, steps=40)
    saved = (opt.state_dict(), s.state_dict(), opt.params[0].copy())
    opt.step([np.full(4, 9.0)])  # the saved state must be a copy: this must not reach it
    s.step()
    _, _, rest = resumable(case, saved, steps=60)
    for t, (a, b) in enumerate(zip(whole[40:], rest)):
        assert a[:2] == b[:2], t
        np.testing.assert_array_equal(a[2], b[2])


def test_state_dict_keeps_a_callable_objects_state_but_not_a_lambdas():
    opt = SGD([np.zeros(1)], lr=1.0)
    s = sched.LambdaLR(opt, Halving(3))
    state = s.state_dict()
    assert state["lr_lambdas"] == [{"every": 3}]
    assert sched.LambdaLR(opt, lambda t: 1.0).state_dict()["lr_lambdas"] == [None]
    other = sched.LambdaLR(SGD([np.zeros(1)], lr=1.0), Halving(100))
    other.load_state_dict(state)
    assert other.lr_lambdas[0].every == 3 and state["lr_lambdas"] == [{"every": 3}]


@pytest.mark.parametrize("case", ["step", "exponential", "cosine", "linear_decay", "onecycle"])
def test_last_epoch_resumes_as_torch_does(case):
    """Torch's rules: the optimizer's saved state (with initial_lr) first, then the scheduler
    with last_epoch = k, whose first step keeps the rate and makes last_epoch k + 1."""
    _, torch_cls, kw = OPTIMIZERS["sgd"]
    opt, topt = SGD([np.zeros(1)], **kw), torch_cls([torch.zeros(1, requires_grad=True)], **kw)
    s, ts = CASES[case](sched, opt), CASES[case](tsched, topt)
    for _ in range(25):
        topt.step()
        s.step()
        ts.step()
    ours_state, torch_state = copy.deepcopy(opt.state_dict()), copy.deepcopy(topt.state_dict())
    opt, topt = SGD([np.zeros(1)], **kw), torch_cls([torch.zeros(1, requires_grad=True)], **kw)
    opt.load_state_dict(ours_state)
    topt.load_state_dict(torch_state)
    make = {
        "step": lambda m, o: m.StepLR(o, 7, 0.5, last_epoch=25),
        "exponential": lambda m, o: m.ExponentialLR(o, 0.97, last_epoch=25),
        "cosine": lambda m, o: m.CosineAnnealingLR(o, 50, last_epoch=25),
        "linear_decay": lambda m, o: m.LinearLR(o, 1.0, 0.05, 80, last_epoch=25),
        "onecycle": lambda m, o: m.OneCycleLR(o, 0.5, 120, last_epoch=25),
    }[case]
    s, ts = make(sched, opt), make(tsched, topt)
    for _ in range(60):
        assert s.last_epoch == ts.last_epoch
        np.testing.assert_allclose(s.get_last_lr(), ts.get_last_lr(), rtol=1e-12, atol=1e-16)
        np.testing.assert_allclose(momentum_of(opt), momentum_of(topt), rtol=1e-12)
        topt.step()
        s.step()
        ts.step()


def test_the_interface_is_torchs():
    opt = SGD([np.zeros(1)], lr=0.2, momentum=0.9)
    s = sched.StepLR(opt, 3)
    assert s.last_epoch == 0 and s.base_lrs == [0.2] and s.get_last_lr() == [0.2]
    assert opt.initial_lr == 0.2 and "initial_lr" in opt.state_dict()["hyperparameters"]
    s.get_last_lr().append(1.0)  # a copy
    assert s.get_last_lr() == [0.2] and "StepLR(last_epoch=0" in repr(s)
    later = sched.ExponentialLR(opt, 0.5)  # a second scheduler keeps the first's base rate
    assert later.base_lrs == [0.2]
    assert isinstance(s, sched.LRScheduler) and isinstance(s.state_dict()["last_epoch"], int)
    with pytest.raises(NotImplementedError):
        sched.LRScheduler(opt)
    w = np.ones(3, dtype=np.float32)
    opt = SGD([w], lr=0.5)
    s = sched.LambdaLR(opt, lambda t: np.float32(0.5) ** t)  # the rate stays a Python float
    s.step()
    assert type(opt.lr) is float and type(s.get_last_lr()[0]) is float and opt.lr == 0.25
    opt.step([np.ones(3, dtype=np.float32)])
    assert w.dtype == np.float32 and w[0] == 0.75


def test_signatures_are_torchs():
    """Names, order and defaults of every parameter; the closed forms take the class's
    parameters' defaults."""
    for name in sched.__all__:
        if name[0].isupper():
            ours, theirs = inspect.signature(getattr(sched, name)), getattr(tsched, name)
            expected = inspect.signature(theirs).parameters.values()
            assert [(p.name, p.default) for p in ours.parameters.values()] == [
                (p.name, p.default) for p in expected
            ], name
    functions = {
        sched.step_lr: sched.StepLR,
        sched.multistep_lr: sched.MultiStepLR,
        sched.exponential_lr: sched.ExponentialLR,
        sched.cosine_lr: sched.CosineAnnealingLR,
        sched.linear_lr: sched.LinearLR,
        sched.one_cycle_lr: sched.OneCycleLR,
        sched.one_cycle_momentum: sched.OneCycleLR,
    }
    for fn, cls in functions.items():
        params = list(inspect.signature(fn).parameters.values())
        cls_params = inspect.signature(cls).parameters
        assert params[0].name == "step"
        assert params[1].name in ("base_lr", "max_lr", "total_steps")
        for p in params[2:]:
            if p.default is not p.empty:  # one_cycle_*'s total_steps is needed
                assert p.default == cls_params[p.name].default, (fn.__name__, p.name)


ERRORS = [
    (lambda o: sched.StepLR(o, 0), ValueError, "step_size"),
    (lambda o: sched.StepLR(o, 2.5), ValueError, "step_size"),
    (lambda o: sched.StepLR(o, 3, gamma=-0.1), ValueError, "gamma"),
    (lambda o: sched.StepLR(o, 3, gamma=float("nan")), ValueError, "gamma"),
    (lambda o: sched.StepLR(o, 3, gamma="0.1"), TypeError, "gamma"),
    (lambda o: sched.StepLR(o, 3, last_epoch=-2), ValueError, "last_epoch must be an int >= -1"),
    (lambda o: sched.SequentialLR(o, [sched.StepLR(o, 2)], [], -2), ValueError, "last_epoch must"),
    (lambda o: sched.OneCycleLR(o, 0.1, 10, last_epoch=-2), ValueError, "last_epoch must"),
    (lambda o: sched.StepLR(o, 3, last_epoch=4), ValueError, "initial_lr"),
    (lambda o: sched.StepLR("sgd", 3), TypeError, "optimizer"),
    (lambda o: sched.MultiStepLR(o, 10), TypeError, "milestones"),
    (lambda o: sched.MultiStepLR(o, [3, -1]), ValueError, r"milestones\[1\]"),
    (lambda o: sched.ExponentialLR(o, float("inf")), ValueError, "gamma"),
    (lambda o: sched.CosineAnnealingLR(o, 0), ValueError, "T_max"),
    (lambda o: sched.CosineAnnealingLR(o, 10, eta_min=-1e-3), ValueError, "eta_min"),
    (lambda o: sched.LinearLR(o, start_factor=0.0), ValueError, "start_factor"),
    (lambda o: sched.LinearLR(o, start_factor=1.5), ValueError, "start_factor"),
    (lambda o: sched.LinearLR(o, end_factor=1.5), ValueError, "end_factor"),
    (lambda o: sched.LinearLR(o, total_iters=0), ValueError, "total_iters"),
    (lambda o: sched.LambdaLR(o, 0.5), TypeError, "lr_lambda"),
    (lambda o: sched.LambdaLR(o, [abs, abs]), ValueError, "lr_lambda"),
    (lambda o: sched.SequentialLR(o, [], []), ValueError, "schedulers"),
    (lambda o: sched.SequentialLR(o, [sched.StepLR(o, 2), "x"], [3]), TypeError, "schedulers"),
    (lambda o: sched.SequentialLR(o, [sched.StepLR(o, 2)] * 2, []), ValueError, "milestones"),
    (
        lambda o: sched.SequentialLR(o, [sched.StepLR(o, 2)] * 3, [9, 4]),
        ValueError,
        "milestones must be sorted",
    ),
    (
        lambda o: sched.SequentialLR(o, [sched.StepLR(SGD([np.zeros(1)]), 2)], []),
        ValueError,
        "another optimizer",
    ),
    (lambda o: sched.OneCycleLR(o, 0.1), ValueError, "total_steps is missing"),
    (lambda o: sched.OneCycleLR(o, 0.1, epochs=3), ValueError, "total_steps is missing"),
    (lambda o: sched.OneCycleLR(o, 0.1, 0), ValueError, "total_steps"),
    (lambda o: sched.OneCycleLR(o, 0.1, epochs=0, steps_per_epoch=3), ValueError, "epochs"),
    (lambda o: sched.OneCycleLR(o, 0.1, epochs=2, steps_per_epoch=0), ValueError, "steps_per"),
    (lambda o: sched.OneCycleLR(o, 0.1, 10, pct_start=1.2), ValueError, "pct_start"),
    (lambda o: sched.OneCycleLR(o, 0.1, 10, pct_start=0.1), ValueError, "pct_start"),
    (lambda o: sched.OneCycleLR(o, 0.1, 10, anneal_strategy="cosine"), ValueError, "anneal"),
    (lambda o: sched.OneCycleLR(o, [0.1, 0.2], 10), ValueError, "param groups"),
    (lambda o: sched.OneCycleLR(o, -0.1, 10), ValueError, "max_lr"),
    (lambda o: sched.OneCycleLR(o, 0.1, 10, div_factor=0), ValueError, "div_factor"),
    (lambda o: sched.OneCycleLR(o, 0.1, 10, final_div_factor=0), ValueError, "final_div"),
    (lambda o: sched.OneCycleLR(o, 0.1, 10, cycle_momentum=1), TypeError, "cycle_momentum"),
    (lambda o: sched.OneCycleLR(o, 0.1, 10, three_phase=None), TypeError, "three_phase"),
    (lambda o: sched.OneCycleLR(o, 0.1, 10, max_momentum=-0.9), ValueError, "max_momentum"),
    (lambda o: sched.OneCycleLR(o, 0.1, 10, last_epoch=3), ValueError, "max_lr"),
    (
        lambda o: sched.OneCycleLR(Adam([np.zeros(1)]), 0.1, 10, max_momentum=1.0),
        ValueError,
        "betas",
    ),
    (
        lambda o: sched.OneCycleLR(Adam([np.zeros(1)]), 0.1, 10, base_momentum=1.0),
        ValueError,
        "betas",
    ),
    (lambda o: sched.step_lr(3, 0.1, step_size=0), ValueError, "step_size"),
    (lambda o: sched.linear_lr(3, 0.1, total_iters=0), ValueError, "total_iters"),
    (lambda o: sched.one_cycle_lr(0, 0.1, total_steps=0), ValueError, "total_steps"),
    (lambda o: sched.cosine_lr(True, 0.1, 10), TypeError, "step"),
    (lambda o: sched.cosine_lr(-1, 0.1, 10), ValueError, "step"),
    (lambda o: sched.cosine_lr([1, float("nan")], 0.1, 10), ValueError, "step"),
    (lambda o: sched.step_lr(3, -0.1, 10), ValueError, "base_lr"),
    (lambda o: sched.one_cycle_momentum(3, 10, base_momentum=-1), ValueError, "base_momentum"),
]


@pytest.mark.parametrize("make, error, match", ERRORS)
def test_bad_arguments_raise_naming_the_argument(make, error, match):
    with pytest.raises(error, match=match):
        make(SGD([np.zeros(1)], momentum=0.9))


def test_step_epoch_must_be_a_step():
    s = sched.StepLR(SGD([np.zeros(1)], lr=0.1), 3)
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="epoch"):
        s.step(-1)
    with pytest.warns(UserWarning):
        s.step(6)
    with pytest.warns(UserWarning):
        s.step(0)  # back to the start, as torch allows
    assert s.last_epoch == 0 and s.get_last_lr() == [0.1]
