"""Losses from scratch against torch.nn.functional, forward and backward, at ±800 too."""

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import assert_close
from hypothesis import given
from hypothesis import strategies as st

from dlbook.scratch.gradcheck import gradcheck
from dlbook.scratch.losses import (
    binary_cross_entropy_with_logits,
    binary_cross_entropy_with_logits_backward,
    cross_entropy,
    cross_entropy_backward,
    hinge_embedding_loss,
    hinge_embedding_loss_backward,
    kl_div,
    kl_div_backward,
    l1_loss,
    l1_loss_backward,
    mse_loss,
    mse_loss_backward,
    multi_margin_loss,
    multi_margin_loss_backward,
)

REDUCTIONS = st.sampled_from(["mean", "sum", "none"])


def torch_loss(fn, x, target, seed=0, **kw):
    """torch's loss and its gradient for ``x``, under a random upstream gradient (a scalar, or
    one per element for reduction='none'); returns ``(loss, grad_output, grad_input)``."""
    xt = torch.tensor(x, requires_grad=True)
    with warnings.catch_warnings():  # kl_div's note that 'mean' is not 'batchmean'
        warnings.simplefilter("ignore", UserWarning)
        out = fn(xt, torch.from_numpy(np.asarray(target)), **kw)
    g = np.asarray(np.random.default_rng(seed).standard_normal(out.shape), dtype=x.dtype)
    out.backward(torch.from_numpy(g))
    return out.detach().numpy(), g, xt.grad.numpy()


def close(ours, theirs):
    """Equal to 1e-10, or to a few units in the last place for losses in the hundreds of
    thousands (a squared error of 800 logits), where one ulp of float64 is already 1e-10."""
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    np.testing.assert_allclose(ours, theirs, rtol=1e-14, atol=1e-10)


def check_against_torch(ours, ours_backward, theirs, x, target, **kw):
    out, g, grad = torch_loss(theirs, x, target, **kw)
    close(ours(x, target, **kw), out)
    close(ours_backward(g, x, target, **kw), grad)


def _logits(r, shape, scale, integral):
    """Random logits; integer-valued ones land exactly on the hinges' kinks."""
    x = np.asarray(r.standard_normal(shape) * scale)
    return np.round(x) if integral else x


def _softmax(a, axis):
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@st.composite
def class_cases(draw, kdim=True):
    """Logits ``(C,)``, ``(N, C)`` or ``(N, C, d1, ...)`` and integer targets (or probabilities)."""
    kinds = ["1d", "2d", "kd"] if kdim else ["1d", "2d"]
    kind, c, n = draw(st.sampled_from(kinds)), draw(st.integers(1, 5)), draw(st.integers(1, 4))
    extra = tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=2))) if kind == "kd" else ()
    shape = {"1d": (c,), "2d": (n, c), "kd": (n, c) + extra}[kind]
    axis = 0 if kind == "1d" else 1
    r = np.random.default_rng(draw(st.integers(0, 2**16)))
    scale = draw(st.sampled_from([0.01, 1.0, 10.0, 100.0]))
    x = _logits(r, shape, scale, draw(st.booleans()))
    if kdim and draw(st.booleans()):
        return x, _softmax(r.standard_normal(shape), axis)
    return x, r.integers(0, c, shape[:axis] + shape[axis + 1 :])


@given(class_cases(), REDUCTIONS)
def test_cross_entropy_matches_torch(case, reduction):
    check_against_torch(cross_entropy, cross_entropy_backward, F.cross_entropy, *case,
                        reduction=reduction)  # fmt: skip


@given(class_cases(kdim=False), st.sampled_from([1, 2]), st.sampled_from([0.0, 0.5, 1.0, 2.0]),
       REDUCTIONS)  # fmt: skip
def test_multi_margin_loss_matches_torch(case, p, margin, reduction):
    kw = dict(p=p, margin=margin, reduction=reduction)
    check_against_torch(multi_margin_loss, multi_margin_loss_backward, F.multi_margin_loss,
                        *case, **kw)  # fmt: skip


def _probabilities(r, shape):
    p = r.random(shape)
    return np.where(r.random(shape) < 0.2, 0.0, p)  # exact zeros: 0 log 0 = 0


# name: (ours, our backward, torch's, how to draw a target for input x, extra keywords)
POINTWISE = {
    "mse_loss": (mse_loss, mse_loss_backward, F.mse_loss, lambda r, x: _logits(r, x.shape, 1, 1)),
    "l1_loss": (l1_loss, l1_loss_backward, F.l1_loss, lambda r, x: _logits(r, x.shape, 1, 1)),
    "hinge": (hinge_embedding_loss, hinge_embedding_loss_backward, F.hinge_embedding_loss,
              lambda r, x: r.choice([-1.0, 1.0], x.shape)),
    "kl_div": (kl_div, kl_div_backward, F.kl_div, lambda r, x: _probabilities(r, x.shape)),
    "kl_div_log": (kl_div, kl_div_backward, F.kl_div,
                   lambda r, x: np.log(r.uniform(1e-3, 1, x.shape))),
    "bce": (binary_cross_entropy_with_logits, binary_cross_entropy_with_logits_backward,
            F.binary_cross_entropy_with_logits, lambda r, x: np.round(r.random(x.shape), 1)),
}  # fmt: skip


@pytest.mark.parametrize("name", POINTWISE)
@given(data=st.data())
def test_pointwise_losses_match_torch(name, data):
    ours, ours_backward, theirs, draw_target = POINTWISE[name]
    shape = tuple(data.draw(st.lists(st.integers(1, 4), max_size=4)))
    r = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    scale = data.draw(st.sampled_from([0.01, 1.0, 10.0, 100.0]))
    x = _logits(r, shape, scale, data.draw(st.booleans()))
    kw = dict(reduction=data.draw(REDUCTIONS))
    if name.startswith("kl_div"):
        kw["log_target"] = name == "kl_div_log"
        kw["reduction"] = data.draw(st.sampled_from(["mean", "batchmean", "sum", "none"]))
    if name == "hinge":
        kw["margin"] = data.draw(st.sampled_from([0.0, 0.5, 1.0, 2.0]))
    check_against_torch(ours, ours_backward, theirs, x, draw_target(r, x), **kw)


def test_kl_div_batchmean_is_the_kl_divergence(rng):
    p, q = _softmax(rng.standard_normal((4, 6)), 1), _softmax(rng.standard_normal((4, 6)), 1)
    kl = np.mean(np.sum(p * np.log(p / q), axis=1))
    assert kl_div(np.log(q), p, reduction="batchmean") == pytest.approx(kl, rel=1e-12)
    # The default 'mean' also divides by the number of classes: not the KL divergence.
    assert kl_div(np.log(q), p) == pytest.approx(kl / 6, rel=1e-12)


def test_hinges_kinks_follow_torch():
    # multi_margin: z = 1 - 1 + 0 = 0 exactly, which torch does not count as a violation.
    x, y = np.array([[1.0, 0.0, 0.0]]), np.array([0])
    check_against_torch(multi_margin_loss, multi_margin_loss_backward, F.multi_margin_loss, x, y)
    np.testing.assert_array_equal(multi_margin_loss_backward(1.0, x, y), np.zeros((1, 3)))
    # hinge_embedding: margin - x = 0 exactly, where torch's clamp still passes the gradient.
    x, t = np.array([1.0, 0.5]), np.array([-1.0, -1.0])
    np.testing.assert_array_equal(
        hinge_embedding_loss_backward(1.0, x, t, reduction="sum"), [-1, -1]
    )


N = 3
INDICES = np.array([0, 2, 1])
SCALAR_LOSSES = [
    (cross_entropy, cross_entropy_backward, F.cross_entropy, lambda r: INDICES, {}),
    (multi_margin_loss, multi_margin_loss_backward, F.multi_margin_loss, lambda r: INDICES,
     dict(p=2, margin=0.7)),
    (mse_loss, mse_loss_backward, F.mse_loss, lambda r: r.standard_normal((N, 4)), {}),
    (l1_loss, l1_loss_backward, F.l1_loss, lambda r: r.standard_normal((N, 4)), {}),
    (hinge_embedding_loss, hinge_embedding_loss_backward, F.hinge_embedding_loss,
     lambda r: r.choice([-1.0, 1.0], (N, 4)), dict(margin=0.5)),
    (kl_div, kl_div_backward, F.kl_div, lambda r: r.random((N, 4)), dict(reduction="batchmean")),
    (binary_cross_entropy_with_logits, binary_cross_entropy_with_logits_backward,
     F.binary_cross_entropy_with_logits, lambda r: r.random((N, 4)), {}),
]  # fmt: skip
IDS = [case[0].__name__ for case in SCALAR_LOSSES]


@pytest.mark.parametrize("ours,ours_backward,theirs,target,kw", SCALAR_LOSSES, ids=IDS)
def test_gradcheck(ours, ours_backward, theirs, target, kw, rng):
    # Logits away from the hinges' kinks at 0 and +-margin and from the targets of L1.
    x = rng.uniform(0.1, 0.4, (N, 4)) * rng.choice([-1.0, 1.0], (N, 4)) + rng.integers(
        -2, 3, (N, 4)
    )
    result = gradcheck(ours, ours_backward, (x, target(rng)), kw, differentiable=[0], tol=1e-7)
    assert set(result.errors) == {"input"} and result.ok, result.errors


EXTREMES = np.array([[800.0, -800.0, 0.0, 800.0], [-800.0, 800.0, 800.0, -800.0], [-800.0] * 4])


@pytest.mark.parametrize("ours,ours_backward,theirs,target,kw", SCALAR_LOSSES, ids=IDS)
def test_stable_at_plus_minus_800(ours, ours_backward, theirs, target, kw, rng):
    t = target(rng)
    if ours is kl_div:  # kl_div's input is log-probabilities: log_softmax of extreme logits
        x = torch.log_softmax(torch.from_numpy(EXTREMES), 1).numpy()
    else:
        x = EXTREMES
    out, g, grad = torch_loss(theirs, x, t, **kw)
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        loss, gx = ours(x, t, **kw), ours_backward(g, x, t, **kw)
    assert np.isfinite(loss) and np.all(np.isfinite(gx))
    close(loss, out)
    close(gx, grad)


@pytest.mark.parametrize("ours,ours_backward,theirs,target,kw", SCALAR_LOSSES, ids=IDS)
def test_float32_is_preserved(ours, ours_backward, theirs, target, kw, rng):
    x = rng.standard_normal((N, 4)).astype(np.float32)
    t = target(rng)
    t = t.astype(np.float32) if t.dtype == np.float64 else t
    loss = ours(x, t, **kw)
    assert loss.dtype == np.float32 and loss.shape == ()
    for g in (1.0, np.float32(2.0), np.ones((), np.float32)):
        assert ours_backward(g, x, t, **kw).dtype == np.float32
    out, _, _ = torch_loss(theirs, x, t, **kw)
    assert_close(loss, out, tol=1e-5)


def test_int32_targets_and_unbatched_input(rng):
    x = rng.standard_normal((N, 4))
    assert cross_entropy(x, INDICES.astype(np.int32)) == cross_entropy(x, INDICES)
    y = cross_entropy(x[1], np.array(2))
    assert y.shape == () and cross_entropy_backward(1.0, x[1], np.array(2)).shape == (4,)
    # NumPy scalars, as indexing gives them, count as 0-D arrays.
    assert cross_entropy(x[1], INDICES[2]) == cross_entropy(x[1], np.array(1))
    assert hinge_embedding_loss(x[0, 0], np.float64(-1.0)).shape == ()


def test_does_not_modify_its_inputs(rng):
    x, y = rng.standard_normal((N, 4)), INDICES.copy()
    x0 = x.copy()
    cross_entropy_backward(1.0, x, y)
    multi_margin_loss_backward(1.0, x, y)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(y, INDICES)


X = np.zeros((N, 4))
XF = np.zeros((N, 4))


@pytest.mark.parametrize(
    "call,error,words",
    [
        (lambda: cross_entropy(X, np.array([0, 1, 4])), ValueError, "target"),
        (lambda: cross_entropy(X, np.array([0, -1, 1])), ValueError, "target"),
        (lambda: cross_entropy(X, np.array([0, 1])), ValueError, "target"),
        (lambda: cross_entropy(X, np.zeros((N, 3))), ValueError, "target"),
        (lambda: cross_entropy(X, np.array([True, False, True])), TypeError, "target"),
        (lambda: cross_entropy(X, [0, 1, 2]), TypeError, "target"),
        (lambda: cross_entropy(np.array(1.0), np.array(0)), ValueError, "input"),
        (lambda: cross_entropy(X, INDICES, reduction="avg"), ValueError, "reduction"),
        (lambda: cross_entropy(X, np.zeros((N, 4), np.float32)), TypeError, "target"),
        (lambda: multi_margin_loss(X, INDICES, p=3), ValueError, "p"),
        (lambda: multi_margin_loss(X, INDICES, margin="1"), TypeError, "margin"),
        (lambda: multi_margin_loss(np.zeros((N, 4, 2)), np.zeros((N, 2), int)), ValueError,
         "input"),
        (lambda: multi_margin_loss(X, np.array([0, 1, 9])), ValueError, "target"),
        (lambda: mse_loss(X, np.zeros((N, 1))), ValueError, "target"),
        (lambda: mse_loss(X, np.zeros((N, 4), np.float32)), TypeError, "target"),
        (lambda: mse_loss(X, XF, reduction="batchmean"), ValueError, "reduction"),
        (lambda: l1_loss(X.astype(int), XF), TypeError, "input"),
        (lambda: hinge_embedding_loss(X, np.ones(4)), ValueError, "target"),
        (lambda: hinge_embedding_loss(X, np.ones((N, 4), bool)), TypeError, "target"),
        (lambda: kl_div(X, -np.ones((N, 4))), ValueError, "target"),
        (lambda: kl_div(X, XF, log_target="yes"), TypeError, "log_target"),
        (lambda: binary_cross_entropy_with_logits(X, np.zeros(4)), ValueError, "target"),
        (lambda: mse_loss_backward(np.ones(2), X, XF), ValueError, "grad_output"),
        (lambda: mse_loss_backward(np.float32(1), X, XF), TypeError, "grad_output"),
        (lambda: mse_loss_backward("1", X, XF), TypeError, "grad_output"),
        (lambda: l1_loss_backward(np.ones(3), X, XF, reduction="none"), ValueError, "grad_output"),
        (lambda: cross_entropy_backward(np.ones(2), X, INDICES, reduction="none"), ValueError,
         "grad_output"),
    ],
)  # fmt: skip
def test_bad_arguments_raise(call, error, words):
    with pytest.raises(error, match=words):
        call()
