"""Losses from scratch on torch's full argument lists: PyTorch's own OpInfo sample inputs, class
weights, ignore_index, label smoothing, pos_weight, the legacy size_average/reduce, defaults,
every reduction, float32 and float64."""

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.testing._internal.common_methods_invocations import op_db

from dlbook.scratch import losses
from dlbook.scratch.gradcheck import gradcheck

NAMES = [
    "cross_entropy",
    "nll_loss",
    "mse_loss",
    "l1_loss",
    "multi_margin_loss",
    "hinge_embedding_loss",
    "kl_div",
    "binary_cross_entropy_with_logits",
    "binary_cross_entropy",
    "smooth_l1_loss",
    "huber_loss",
]
REDUCTIONS = ["mean", "sum", "none"]


def numpy_of(a):
    return a.detach().numpy().copy() if isinstance(a, torch.Tensor) else a


def compare(name, x, target, seed=0, tol=1e-10, **kw):
    """Ours against torch, forward and backward for ``input``; ``kw`` may hold arrays."""
    xt = torch.tensor(x, requires_grad=True)
    tkw = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # kl_div 'mean', legacy size_average
        out = getattr(F, name)(xt, torch.from_numpy(np.asarray(target)), **tkw)
        g = np.asarray(np.random.default_rng(seed).standard_normal(out.shape), dtype=x.dtype)
        out.backward(torch.from_numpy(g))
        ours = getattr(losses, name)(x, target, **kw)
        ours_grad = getattr(losses, name + "_backward")(g, x, target, **kw)
    assert ours.dtype == x.dtype and ours_grad.dtype == x.dtype
    assert ours.shape == tuple(out.shape) and ours_grad.shape == x.shape
    np.testing.assert_allclose(ours, out.detach().numpy(), rtol=1e-12, atol=tol, equal_nan=True)
    np.testing.assert_allclose(ours_grad, xt.grad.numpy(), rtol=1e-12, atol=tol, equal_nan=True)


def opinfo_samples():
    ops = {f"nn.functional.{n}": n for n in NAMES}
    for op in op_db:
        if op.name in ops:
            for i, s in enumerate(op.sample_inputs("cpu", torch.float64, requires_grad=False)):
                yield pytest.param(ops[op.name], s, id=f"{ops[op.name]}-{op.variant_test_name}{i}")


@pytest.mark.parametrize("name,sample", list(opinfo_samples()))
def test_torchs_own_sample_inputs(name, sample):
    """Every OpInfo sample of torch's test suite, forward and backward."""
    (target, *rest) = [numpy_of(a) for a in sample.args]
    kw = {k: numpy_of(v) for k, v in sample.kwargs.items()}
    args = dict(zip(("p", "margin") if name == "multi_margin_loss" else (), rest))
    compare(name, numpy_of(sample.input), target, **args, **kw)


# --- cross-entropy and nll_loss, every argument -------------------------------------------------


@st.composite
def class_cases(draw):
    r = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    c = draw(st.integers(1, 5))
    shape = draw(st.sampled_from([(c,), (3, c), (2, c, 3), (2, c, 2, 2)]))
    x = r.standard_normal(shape) * draw(st.sampled_from([1.0, 10.0]))
    sample_shape = shape[:1] + shape[2:] if len(shape) > 1 else ()
    ignore = draw(st.sampled_from([-100, 0, 1]))
    target = r.integers(0, c, sample_shape)
    kw = {"reduction": draw(st.sampled_from(REDUCTIONS)), "ignore_index": ignore}
    if draw(st.booleans()):
        kw["weight"] = r.uniform(0.1, 2.0, c)
    return x, target, kw


@settings(max_examples=60, deadline=None)
@given(class_cases(), st.sampled_from([0.0, 0.1, 0.5, 1.0]))
def test_cross_entropy_weight_ignore_index_label_smoothing(case, label_smoothing):
    x, target, kw = case
    compare("cross_entropy", x, target, label_smoothing=label_smoothing, **kw)


@settings(max_examples=40, deadline=None)
@given(class_cases())
def test_nll_loss_weight_ignore_index(case):
    x, target, kw = case
    compare("nll_loss", x, target, **kw)


@settings(max_examples=40, deadline=None)
@given(class_cases(), st.sampled_from([0.0, 0.2, 1.0]))
def test_cross_entropy_probabilities_with_weight_and_smoothing(case, label_smoothing):
    x, _, kw = case
    r = np.random.default_rng(1)
    q = r.uniform(size=x.shape)
    q /= q.sum(axis=0 if x.ndim == 1 else 1, keepdims=True)
    kw.pop("ignore_index")
    compare("cross_entropy", x, q, label_smoothing=label_smoothing, **kw)


@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_targets_at_the_default_ignore_index_are_ignored_as_in_torch(name, reduction):
    x = np.random.default_rng(0).standard_normal((4, 3))
    compare(name, x, np.array([2, -100, 0, -100]), reduction=reduction)  # -100: torch's default


def test_a_class_index_out_of_range_is_refused_naming_ignore_index():
    x, target = np.zeros((4, 3)), np.array([0, 3, 1, 2])
    with pytest.raises(ValueError, match=r"in \[0, 2\] \(or ignore_index=-100\), got values"):
        losses.cross_entropy(x, target)
    with pytest.raises(ValueError, match=r"in \[0, 2\], got values"):  # no ignore_index here
        losses.multi_margin_loss(x, target)


def test_cross_entropy_all_targets_ignored_is_nan_like_torch():
    x = np.random.default_rng(0).standard_normal((3, 4))
    compare("cross_entropy", x, np.full(3, 2), ignore_index=2)
    assert np.isnan(losses.cross_entropy(x, np.full(3, 2), ignore_index=2))


def test_cross_entropy_gradcheck_with_every_argument(rng):
    x, t = rng.standard_normal((4, 3, 2)), np.array([[0, 1], [2, 2], [1, 0], [0, 2]])
    kw = dict(weight=rng.uniform(0.5, 2, 3), ignore_index=1, label_smoothing=0.3)
    assert gradcheck(
        lambda x: losses.cross_entropy(x, t, **kw),
        lambda g, x: losses.cross_entropy_backward(g, x, t, **kw),
        (x,),
    )


# --- the other losses' new arguments -----------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(), (5,), (2, 3), (2, 3, 4)])
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss"])
def test_elementwise_weight(name, shape, reduction, rng):
    x, t = rng.standard_normal(shape), rng.standard_normal(shape)
    compare(name, x, t, weight=rng.uniform(0.1, 2, shape), reduction=reduction)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("shape", [(4,), (3, 4)])
def test_multi_margin_loss_weight_and_p(shape, p, reduction, rng):
    x = rng.standard_normal(shape)
    t = rng.integers(0, 4, shape[:-1])
    compare(
        "multi_margin_loss",
        x,
        t,
        p=p,
        margin=0.7,
        weight=rng.uniform(0.1, 2, 4),
        reduction=reduction,
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    "weight_shape,pos_weight_shape",
    [(None, None), ((2, 3, 4), None), (None, (4,)), ((4,), (4,)), ((3, 1), (1, 4)), ((), ())],
)
def test_bce_with_logits_weight_and_pos_weight(weight_shape, pos_weight_shape, reduction, rng):
    x = rng.standard_normal((2, 3, 4)) * 5
    t = rng.uniform(size=(2, 3, 4))
    kw = {"reduction": reduction}
    if weight_shape is not None:
        kw["weight"] = rng.uniform(0.1, 2, weight_shape)
    if pos_weight_shape is not None:
        kw["pos_weight"] = rng.uniform(0.1, 3, pos_weight_shape)
    compare("binary_cross_entropy_with_logits", x, t, **kw)


def test_bce_with_logits_pos_weight_is_stable_at_800():
    x = np.array([-800.0, 800.0, -800.0, 800.0])
    t = np.array([1.0, 0.0, 0.0, 1.0])
    kw = dict(weight=np.full(4, 2.0), pos_weight=np.full(4, 3.0))
    compare("binary_cross_entropy_with_logits", x, t, **kw)
    assert np.isfinite(losses.binary_cross_entropy_with_logits(x, t, **kw))


def test_hinge_embedding_loss_any_target_like_torch(rng):
    x = rng.standard_normal((3, 4))
    compare("hinge_embedding_loss", x, rng.standard_normal((3, 4)), margin=0.5)


# --- legacy arguments, defaults, dtypes ---------------------------------------------------------


def _example(name, rng, dtype=np.float64):
    x = rng.standard_normal((3, 4)).astype(dtype)
    if name in ("cross_entropy", "nll_loss", "multi_margin_loss"):
        return x, np.array([0, 3, 1])
    if name == "kl_div":
        return x, rng.uniform(size=(3, 4)).astype(dtype)
    if name == "binary_cross_entropy":
        return rng.uniform(0.01, 0.99, (3, 4)).astype(dtype), rng.uniform(size=(3, 4)).astype(dtype)
    if name == "hinge_embedding_loss":
        return x, np.where(rng.uniform(size=(3, 4)) < 0.5, -1.0, 1.0).astype(dtype)
    return x, rng.uniform(size=(3, 4)).astype(dtype)


@pytest.mark.parametrize("reduce", [None, True, False])
@pytest.mark.parametrize("size_average", [None, True, False])
@pytest.mark.parametrize("name", [n for n in NAMES if n != "huber_loss"])  # it has neither
def test_legacy_size_average_and_reduce_as_torch(name, size_average, reduce, rng):
    x, t = _example(name, rng)
    compare(name, x, t, size_average=size_average, reduce=reduce, reduction="sum")
    if size_average is not None or reduce is not None:
        with pytest.warns(UserWarning, match="size_average"):
            getattr(losses, name)(x, t, size_average=size_average, reduce=reduce)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", NAMES)
def test_every_reduction(name, reduction, rng):
    x, t = _example(name, rng)
    compare(name, x, t, reduction=reduction)


@pytest.mark.parametrize("name", NAMES)
def test_defaults_equal_torchs(name, rng):
    """Called with the defaults only, on both sides; the signatures' defaults match too."""
    import inspect

    x, t = _example(name, rng)
    compare(name, x, t)
    theirs = inspect.signature(getattr(F, name)).parameters
    ours = inspect.signature(getattr(losses, name)).parameters
    assert list(ours) == list(theirs)
    assert [p.default for p in ours.values()] == [p.default for p in theirs.values()]


@pytest.mark.parametrize("name", NAMES)
def test_float32_is_preserved_with_every_argument(name, rng):
    x, t = _example(name, rng, np.float32)
    kw = {}
    if name in ("cross_entropy", "nll_loss", "multi_margin_loss"):
        kw["weight"] = rng.uniform(0.5, 2, 4).astype(np.float32)
    elif name in ("mse_loss", "l1_loss", "huber_loss") or name.startswith("binary"):
        kw["weight"] = rng.uniform(0.5, 2, (3, 4)).astype(np.float32)
    compare(name, x, t, tol=1e-5, **kw)


@pytest.mark.parametrize(
    "call,error,words",
    [
        (lambda x, t: losses.cross_entropy(x, t, weight=np.ones(3)), ValueError, "weight"),
        (lambda x, t: losses.cross_entropy(x, t, weight=np.ones(4, np.float32)), TypeError,
         "weight"),
        (lambda x, t: losses.cross_entropy(x, t, ignore_index=1.5), TypeError, "ignore_index"),
        (lambda x, t: losses.cross_entropy(x, t, label_smoothing=1.5), ValueError,
         "label_smoothing"),
        (lambda x, t: losses.cross_entropy(x, np.full((3, 4), 0.25), ignore_index=0), ValueError,
         "ignore_index"),
        (lambda x, t: losses.cross_entropy(x, np.array([0, 4, -100])), ValueError, "target"),
        (lambda x, t: losses.nll_loss(x, np.full((3, 4), 0.25)), TypeError, "target"),
        (lambda x, t: losses.mse_loss(x, x, weight=np.ones(4)), ValueError, "weight"),
        (lambda x, t: losses.mse_loss(x, x, size_average="yes"), TypeError, "size_average"),
        (lambda x, t: losses.multi_margin_loss(x, t, weight=np.ones(2)), ValueError, "weight"),
        (lambda x, t: losses.binary_cross_entropy_with_logits(x, x, pos_weight=np.ones(3)),
         ValueError, "pos_weight"),
        (lambda x, t: losses.binary_cross_entropy_with_logits(x, x, weight=np.ones((2, 3, 4))),
         ValueError, "weight"),
    ],
)  # fmt: skip
def test_bad_new_arguments_raise(call, error, words, rng):
    with pytest.raises(error, match=words):
        call(rng.standard_normal((3, 4)), np.array([0, 3, 1]))


def test_weights_and_smoothing_stay_finite_at_plus_minus_800(rng):
    x = np.where(rng.random((4, 3, 2)) < 0.5, -800.0, 800.0)
    t = rng.integers(0, 3, (4, 2))
    kw = dict(weight=rng.uniform(0.5, 2, 3), label_smoothing=0.2, ignore_index=1)
    compare("cross_entropy", x, t, tol=1e-8, **kw)
    assert np.isfinite(losses.cross_entropy(x, t, **kw))
    assert np.isfinite(losses.cross_entropy_backward(1.0, x, t, **kw)).all()


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0, 3.0])
def test_smooth_l1_and_huber_on_both_sides_of_the_kink(beta, reduction, rng):
    x = rng.standard_normal((4, 5)) * 2
    t = x + np.array([-4.0, -beta, -0.3, 0.0, 0.3])  # exactly at the kink too
    compare("smooth_l1_loss", x, t, beta=beta, reduction=reduction)
    if beta > 0:
        w = rng.uniform(0.1, 2, (4, 5))
        compare("huber_loss", x, t, delta=beta, weight=w, reduction=reduction)
        compare("huber_loss", x, t, delta=beta, reduction=reduction)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight_shape", [None, (2, 3), (3,), ()])
def test_binary_cross_entropy_with_weight_and_at_0_and_1(weight_shape, reduction, rng):
    x = rng.uniform(0.01, 0.99, (2, 3))
    x[0, :2] = (0.0, 1.0)  # log 0 clamped at -100, as torch
    t = rng.uniform(size=(2, 3))
    w = None if weight_shape is None else rng.uniform(0.1, 2, weight_shape)
    compare("binary_cross_entropy", x, t, weight=w, reduction=reduction)
    assert np.isfinite(losses.binary_cross_entropy(x, t, weight=w)).all()


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: losses.binary_cross_entropy(np.array([1.5]), np.array([1.0])), "input"),
        (lambda: losses.smooth_l1_loss(np.ones(2), np.ones(2), beta=-1.0), "beta"),
        (lambda: losses.huber_loss(np.ones(2), np.ones(2), delta=0.0), "delta"),
    ],
)
def test_bad_beta_delta_and_probabilities_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()
