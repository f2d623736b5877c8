"""The optimizers chapter's experiments: surfaces, trajectories, closed forms, decay, the CNN."""

import math

import numpy as np
import pytest
import torch

from dlbook.data import Split, load_digits
from dlbook.experiments import optimizers as E
from dlbook.scratch.gradcheck import numerical_gradient


@pytest.mark.parametrize(
    "surface", [E.rosenbrock(), E.quadratic(), E.quadratic((2.0, 30.0), angle=30)]
)
def test_analytic_gradient_matches_finite_differences_and_autograd(surface, rng):
    for _ in range(5):
        p = rng.uniform(-1.5, 1.5, 2)
        numeric = numerical_gradient(lambda p=p: np.asarray(surface.f(p)), p)
        np.testing.assert_allclose(surface.grad(p), numeric, rtol=1e-6, atol=1e-6)
        t = torch.tensor(p, requires_grad=True)
        surface.f(t).backward()
        np.testing.assert_allclose(surface.grad(p), t.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_surfaces_have_their_minimum_where_they_say():
    for surface in (E.rosenbrock(), E.quadratic(angle=45)):
        m = np.array(surface.minimum)
        assert surface.f(m) == 0.0
        np.testing.assert_allclose(surface.grad(m), 0.0, atol=1e-12)
    grid = np.stack(np.meshgrid(np.linspace(-1, 1, 5), np.linspace(-1, 1, 4)))
    assert E.rosenbrock().f(grid).shape == (4, 5)
    with pytest.raises(ValueError, match="curvatures"):
        E.quadratic((0.0, 1.0))


def test_rotated_quadratic_has_the_given_curvatures():
    q = E.quadratic((1.0, 100.0), angle=30)
    hess = np.column_stack([q.grad(e) for e in np.eye(2)])
    np.testing.assert_allclose(np.linalg.eigvalsh(hess), [1.0, 100.0])
    assert q.name == "quadratic (condition 100)"


def test_optimizer_by_name_builds_both_kinds():
    p = np.zeros(3)
    opt = E.optimizer_by_name("Nesterov", [p], lr=0.1)
    assert (opt.momentum, opt.nesterov) == (0.9, True)
    assert E.optimizer_by_name("Momentum", [p], lr=0.1, momentum=0.5).momentum == 0.5
    t = torch.zeros(3, requires_grad=True)
    assert isinstance(
        E.optimizer_by_name("AdaGrad", [t], lr=0.1, use_torch=True), torch.optim.Adagrad
    )
    assert (
        E.optimizer_by_name("AdamW", [t], lr=0.1, use_torch=True).defaults["weight_decay"] == 0.01
    )
    with pytest.raises(ValueError, match="name"):
        E.optimizer_by_name("Adamax", [p], lr=0.1)


def test_sgd_step_by_hand_on_the_quadratic():
    q = E.quadratic((1.0, 100.0))
    path = E.trajectory(q, "SGD", 0.01, steps=3)
    assert path.shape == (4, 2)
    # x_{t+1} = (1 - lr h) x_t: lr = 1/100 solves the steep axis in one step, the flat one
    # shrinks by 0.99 a step.
    np.testing.assert_allclose(path[:, 1], [1.5, 0.0, 0.0, 0.0], atol=1e-15)
    np.testing.assert_allclose(path[:, 0], -4.0 * 0.99 ** np.arange(4))


def test_trajectory_marks_a_blow_up_with_nan():
    path = E.trajectory(E.quadratic(), "SGD", 0.05, steps=200)  # lr > 2/100 diverges
    assert np.isnan(path[-1]).all() and np.isfinite(path[0]).all()
    assert E.final_loss(E.quadratic(), path) == math.inf
    with pytest.raises(ValueError, match="steps"):
        E.trajectory(E.quadratic(), "SGD", 0.01, steps=-1)
    with pytest.raises(ValueError, match="start"):
        E.trajectory(E.quadratic(), "SGD", 0.01, steps=2, start=(1.0, 2.0, 3.0))


@pytest.mark.parametrize("name", ["Nesterov", "RMSprop", "Adam"])
def test_torch_trajectory_follows_the_scratch_one(name):
    surface = E.rosenbrock()
    ours = E.trajectory(surface, name, E.ROSENBROCK_LRS[name], 100)
    theirs = E.torch_trajectory(surface, name, E.ROSENBROCK_LRS[name], 100)
    assert theirs.shape == (101, 2)
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=0, atol=1e-10)


def test_tune_lr_picks_the_lowest_final_loss():
    best, losses = E.tune_lr(E.quadratic(), "SGD", 50, lrs=(1e-3, 0.01, 0.03))
    assert best == 0.01  # 0.03 > 2 / 100 diverges
    assert losses[0.03] == math.inf
    assert losses[0.01] == pytest.approx(0.5 * (4 * 0.99**50) ** 2)  # the steep axis is solved


def test_match_torch_passes_in_both_precisions():
    for dtype, tol in ((np.float64, 1e-10), (np.float32, 1e-6)):
        result = E.match_torch(dtype, tol=tol)
        assert len(result.errors) == len(E.OPTIMIZERS) and result.ok, result.errors
    assert "Momentum (lr=0.05, dampening=0.1" in repr(result)


def test_momentum_rate_by_hand_and_against_a_run():
    h = (1.0, 100.0)
    assert E.momentum_rate(0.005, 0.0, h) == pytest.approx(0.995)  # max |1 - lr h|
    assert E.momentum_rate(0.03, 0.0, h) == pytest.approx(2.0)
    # With complex roots |z| = sqrt(momentum), whatever the curvature.
    assert E.momentum_rate(0.01, 0.81, h) == pytest.approx(0.9)
    lr, mu, rate = E.heavy_ball_optimum(h)
    assert (lr, mu, rate) == pytest.approx((4 / 121, (9 / 11) ** 2, 9 / 11))
    assert E.momentum_rate(lr, mu, h) == pytest.approx(rate, abs=1e-6)
    with pytest.raises(ValueError, match="curvatures"):
        E.heavy_ball_optimum((0.0, 1.0))
    q = E.quadratic(h)
    for nesterov, settings in ((False, (0.01, 0.5)), (True, (0.012, 0.9))):
        name = "Nesterov" if nesterov else "Momentum"
        path = E.trajectory(q, name, settings[0], 400, momentum=settings[1])
        dist = np.linalg.norm(path, axis=1)
        measured = (dist[400] / dist[200]) ** (1 / 200)
        predicted = E.momentum_rate(*settings, h, nesterov=nesterov)
        assert measured == pytest.approx(predicted, abs=0.01)
    # Nesterov's limit is lower than heavy ball's: lr h < 2 (1 + mu) / (1 + 2 mu).
    assert E.momentum_rate(0.015, 0.9, h, nesterov=True) > 1 > E.momentum_rate(0.015, 0.9, h)


def test_decay_demo():
    lr, wd = 0.01, 0.1
    demo = E.decay_demo(steps=200, lr=lr, weight_decay=wd, runs=20)
    assert set(demo) == set(E.DECAY_METHODS)
    decay = (1 - lr * wd) ** np.arange(201)
    # Antithetic pairs: the noise cancels exactly in the mean when the update is odd in it.
    for method in ("AdamW, decoupled", "SGD, decoupled", "SGD, L2 in the loss"):
        np.testing.assert_allclose(demo[method], np.repeat(decay[:, None], 3, 1), atol=1e-12)
    loud, medium, quiet = demo["Adam, L2 in the loss"][-1]
    assert loud > decay[-1] + 0.1 and quiet < 0.1 and abs(medium - decay[-1]) < 0.05
    with pytest.raises(ValueError, match="runs"):
        E.decay_demo(runs=3)


def test_make_cnn_shapes():
    net = E.make_cnn(4)
    assert net(torch.zeros(5, 1, 8, 8)).shape == (5, 10)
    with pytest.raises(ValueError, match="width"):
        E.make_cnn(0)


@pytest.fixture(scope="module")
def small_digits():
    d = load_digits()
    return Split(d.x_train[:160], d.y_train[:160], d.x_test[:80], d.y_test[:80], "digits")


def test_compare_on_digits_same_start_and_repeatable(small_digits):
    torch.set_num_threads(1)
    settings = {"SGD": dict(lr=0.0), "Adam": dict(lr=1e-2)}
    runs = E.compare_on_digits(small_digits, settings, seeds=(0, 1), epochs=2, device="cpu")
    assert [len(r) for r in runs.values()] == [2, 2] and len(runs["SGD"][0]) == 2
    # lr = 0 never moves: its two epochs score the same initial network.
    sgd = runs["SGD"][0]
    assert sgd["test_acc"][0] == sgd["test_acc"][1]
    again = E.compare_on_digits(small_digits, {"Adam": dict(lr=1e-2)}, epochs=2, device="cpu")
    assert again["Adam"][0]["test_acc"] == runs["Adam"][0]["test_acc"]
    assert runs["Adam"][0]["train_loss"][-1] < runs["SGD"][0]["train_loss"][-1]


def test_lr_sweep_uses_a_validation_split(small_digits):
    table = E.lr_sweep(small_digits, {"Adam": (1e-3, 1e-2)}, epochs=1, device="cpu")
    assert list(table["Adam"]) == [1e-3, 1e-2]
    assert all(0.0 <= acc <= 1.0 for acc in table["Adam"].values())


def test_neighbour_grid():
    around = E.neighbour_grid()
    assert list(around) == list(E.CNN_GRID)
    for name, lrs in around.items():
        grid, chosen = E.CNN_GRID[name], E.CNN_SETTINGS[name]["lr"]
        i = grid.index(chosen)
        assert lrs == (grid[i - 1], chosen, grid[i + 1])  # every chosen rate is inside its grid
    ends = E.neighbour_grid({"A": (1.0, 2.0, 3.0)}, {"A": dict(lr=3.0)})
    assert ends == {"A": (2.0, 3.0)}
    with pytest.raises(ValueError, match="not in its grid"):
        E.neighbour_grid({"A": (1.0, 2.0)}, {"A": dict(lr=5.0)})
