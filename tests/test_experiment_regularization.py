"""The regularization chapter's penalties, solvers and experiments."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlbook.data import load_digits
from dlbook.experiments import regularization as reg
from dlbook.scratch.gradcheck import gradcheck
from dlbook.scratch.optim import SGD, Adam, AdamW


@pytest.fixture(scope="module")
def digits():
    return load_digits()


def test_penalties_match_hand_computation():
    w = np.array([[1.0, -2.0], [0.0, 3.0]])
    assert reg.l1_penalty(w, 0.5) == pytest.approx(3.0)
    assert reg.l2_penalty(w, 0.5) == pytest.approx(0.25 * 14)
    assert reg.elastic_net_penalty(w, 0.5, 0.3) == pytest.approx(0.5 * (0.3 * 6 + 0.35 * 14))
    np.testing.assert_array_equal(reg.l1_penalty_backward(2.0, w, 0.5), [[1, -1], [0, 1]])
    np.testing.assert_array_equal(reg.l2_penalty_backward(1.0, w, 0.5), 0.5 * w)


def test_elastic_net_ends_are_l1_and_l2():
    w = np.random.default_rng(0).standard_normal(7)
    assert reg.elastic_net_penalty(w, 0.3, 1.0) == pytest.approx(reg.l1_penalty(w, 0.3))
    assert reg.elastic_net_penalty(w, 0.3, 0.0) == pytest.approx(reg.l2_penalty(w, 0.3))


@pytest.mark.parametrize(
    "forward, backward, extra",
    [
        (reg.l1_penalty, reg.l1_penalty_backward, ()),
        (reg.l2_penalty, reg.l2_penalty_backward, ()),
        (reg.elastic_net_penalty, reg.elastic_net_penalty_backward, (0.7,)),
    ],
)
def test_penalty_backward_matches_finite_differences_and_autograd(forward, backward, extra):
    w = np.random.default_rng(1).standard_normal((3, 4))
    assert gradcheck(forward, backward, (w, 0.4, *extra))
    wt = torch.tensor(w, requires_grad=True)
    l1 = 0.4 * (extra[0] if extra else float(forward is reg.l1_penalty))
    l2 = 0.4 - l1 if forward is not reg.l1_penalty else 0.0
    value = l1 * wt.abs().sum() + l2 / 2 * (wt**2).sum()
    (grad,) = torch.autograd.grad(value, wt)
    np.testing.assert_allclose(backward(1.0, w, 0.4, *extra), grad.numpy(), atol=1e-12)


def test_soft_threshold_values_and_softshrink():
    w = np.array([-2.0, -0.3, 0.0, 0.5, 1.5])
    np.testing.assert_allclose(reg.soft_threshold(w, 0.5), [-1.5, 0, 0, 0, 1.0])
    x = torch.randn(50, dtype=torch.float64)
    np.testing.assert_array_equal(
        reg.soft_threshold(x.numpy(), 0.2), torch.nn.functional.softshrink(x, 0.2).numpy()
    )
    with pytest.raises(ValueError, match="threshold"):
        reg.soft_threshold(w, -1.0)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: reg.l1_penalty(np.ones(2), -1.0), "lam"),
        (lambda: reg.elastic_net_penalty(np.ones(2), 1.0, 1.5), "l1_ratio"),
        (lambda: reg.fit_linear(np.ones((3, 2)), np.ones(3), method="newton"), "method"),
        (lambda: reg.poly_features(np.ones(3), -1), "degree"),
        (lambda: reg.sparse_problem(d=5, k=6), "k"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_proximal_l2_only_converges_to_ridge():
    x, y, _ = reg.sparse_problem(n=40, d=10, k=3, seed=2)
    w = reg.fit_linear(x, y, lam=0.3, l1_ratio=0.0, steps=2000)
    np.testing.assert_allclose(w, reg.ridge(x, y, 0.3), atol=1e-10)


def test_proximal_lasso_satisfies_optimality_and_subgradient_has_no_zeros():
    x, y, _ = reg.sparse_problem(n=80, d=30, k=4, seed=0)
    lam = 0.3
    w = reg.fit_linear(x, y, lam, 1.0, "proximal", steps=3000)
    grad = 2 / len(y) * x.T @ (x @ w - y)
    zero = w == 0
    assert zero.sum() >= 20
    # KKT: -grad is lam * sign(w) on the support, and inside [-lam, lam] off it.
    np.testing.assert_allclose(-grad[~zero], lam * np.sign(w[~zero]), atol=1e-6)
    assert np.all(np.abs(grad[zero]) <= lam + 1e-9)
    w_sub = reg.fit_linear(x, y, lam, 1.0, "subgradient", steps=3000)
    assert np.sum(w_sub == 0) == 0 and np.sum(np.abs(w_sub) < 0.1) >= 20


def test_regularization_path_l1_ends_at_zero_and_l2_shrinks():
    x, y, _ = reg.sparse_problem(n=40, d=6, k=2, seed=1)
    lams = np.geomspace(1e-3, 100, 8)
    l1 = reg.regularization_path(x, y, lams, 1.0)
    l2 = reg.regularization_path(x, y, lams, 0.0)
    assert l1.shape == l2.shape == (8, 6)
    assert np.all(l1[-1] == 0) and np.all(l2[-1] != 0)
    assert np.all(np.diff(np.linalg.norm(l2, axis=1)) < 0)


def test_capacity_curve_train_error_falls_and_the_last_degree_interpolates():
    p = reg.poly_problem(n_train=8, seed=0)
    c = reg.capacity_curve(p, degrees=range(8))
    assert np.all(np.diff(c["train_mse"]) <= 1e-12)  # nested models
    assert c["train_mse"][-1] < 1e-20 and c["test_mse"][-1] > c["test_mse"].min()
    assert [len(k) for k in c["coef"]] == list(range(1, 9))


def test_poly_fit_with_l1_has_zeros_and_large_lam_kills_all():
    p = reg.poly_problem()
    assert np.sum(reg.poly_fit(p, 12, 0.1, 1.0) == 0) > 0
    assert np.all(reg.poly_fit(p, 12, 10.0, 1.0) == 0)


def test_adam_l2_depends_on_gradient_scale_adamw_does_not():
    r = reg.decay_by_gradient_scale(scales=(1e-3, 10.0), per_scale=100, steps=300)
    expected = (1 - 1e-2 * 0.1) ** 300
    np.testing.assert_allclose(r["adamw"], expected, atol=0.05)
    assert abs(r["adam"][0]) < 0.01 and r["adam"][1] > 0.9


def test_softmax_regression_grads_equal_autograd():
    x, y, start = reg.softmax_regression(n=32, seed=0)
    assert x.shape == (32, 64) and x.dtype == np.float64 and y.shape == (32,)
    assert [p.shape for p in start] == [(10, 64), (10,)] and not start[1].any()
    params = [torch.tensor(p, requires_grad=True) for p in start]
    F.cross_entropy(F.linear(torch.from_numpy(x), *params), torch.from_numpy(y)).backward()
    for ours, theirs in zip(reg.softmax_regression_grads(start, x, y), params):
        np.testing.assert_allclose(ours, theirs.grad.numpy(), rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "scratch, torch_cls",
    [(SGD, torch.optim.SGD), (Adam, torch.optim.Adam), (AdamW, torch.optim.AdamW)],
)
def test_train_scratch_equals_torch_and_leaves_start_alone(scratch, torch_cls):
    x, y, start = reg.softmax_regression(n=32, seed=0)
    before = [p.copy() for p in start]
    run = dict(x=x, y=y, start=start, lr=0.05, weight_decay=0.1, steps=5)
    ours = reg.train_scratch(scratch, **run)
    assert ours.shape == (650,)
    np.testing.assert_allclose(ours, reg.train_torch(torch_cls, **run).numpy(), rtol=0, atol=1e-10)
    for a, b in zip(start, before):
        np.testing.assert_array_equal(a, b)


def test_weight_decay_by_hand():
    x, y, start = reg.softmax_regression(n=32, seed=0)
    run = dict(x=x, y=y, start=start, lr=0.05, weight_decay=0.1, steps=5)
    sgd = reg.train_scratch(SGD, **run)
    # For SGD all four forms are one update; for Adam only the L2 form is Adam(weight_decay).
    for other in (
        reg.train_scratch(SGD, **run, by_hand="l2"),
        reg.train_scratch(SGD, **run, by_hand="decoupled"),
        reg.train_torch(torch.optim.SGD, **run, penalty_in_loss=True).numpy(),
    ):
        np.testing.assert_allclose(other, sgd, rtol=0, atol=1e-12)
    adam, adamw = reg.train_scratch(Adam, **run), reg.train_scratch(AdamW, **run)
    np.testing.assert_allclose(reg.train_scratch(Adam, **run, by_hand="l2"), adam, atol=1e-12)
    np.testing.assert_allclose(
        reg.train_scratch(AdamW, **run, by_hand="decoupled"), adamw, atol=1e-12
    )
    assert np.abs(adam - adamw).max() > 1e-3
    with pytest.raises(ValueError, match="by_hand"):
        reg.train_scratch(SGD, **run, by_hand="both")


def test_subset_and_label_noise(digits):
    s = reg.subset(digits, 100, seed=0)
    noisy = reg.subset(digits, 100, seed=0, label_noise=0.5)
    assert s.x_train.shape == (100, 1, 8, 8) and len(s.x_test) == len(digits.x_test)
    np.testing.assert_array_equal(s.x_train, noisy.x_train)
    changed = s.y_train != noisy.y_train
    assert 30 <= changed.sum() <= 70 and noisy.y_train.max() <= 9
    with pytest.raises(ValueError, match="n must"):
        reg.subset(digits, 0)


def test_networks_have_the_right_output_shape():
    x = torch.zeros(5, 1, 8, 8)
    assert reg.mlp(16)(x).shape == (5, 10)
    assert reg.small_cnn(4)(x).shape == (5, 10)
    assert reg.small_cnn(4, size=28)(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_training_experiments_run_and_report(digits):
    torch.set_num_threads(1)
    tiny = reg.subset(digits, 60, seed=0)
    rows = reg.width_sweep(tiny, widths=(4,), epochs=2, device="cpu")
    assert set(rows[0]) == {"width", "params", "train_loss", "train_acc", "test_loss", "test_acc"}
    assert rows[0]["params"] == 64 * 4 + 4 + 4 * 10 + 10
    es = reg.early_stopping(tiny, epochs=4, patience=1, width=8, device="cpu")
    assert len(es["full"]) == 4 and es["stopped"].best_epoch <= len(es["stopped"])
    assert 0 <= es["stopped_acc"] <= 1
    runs = reg.augmentation(tiny, augments=(None, {"shift": 1}), seeds=(0,), epochs=1,
                            device="cpu")  # fmt: skip
    assert [r["augment"] for r in runs] == ["none", "shift=1"]


def test_logistic_l1_torch_proximal_gives_exact_zeros(digits):
    torch.set_num_threads(1)
    w_loss, _ = reg.logistic_l1_torch(digits, 3e-3, steps=40, device="cpu")
    w_prox, acc = reg.logistic_l1_torch(digits, 3e-3, proximal=True, steps=40, device="cpu")
    assert w_prox.shape == (10, 64) and 0 < acc <= 1
    assert np.sum(w_loss == 0) == 0 and np.sum(w_prox == 0) > 100
