"""The Evaluating and tuning chapter's experiments: range test, search layouts, simulation."""

import math

import numpy as np
import pytest
import torch

from dlbook.data import Split, load_digits
from dlbook.experiments import evaluating_tuning as T


@pytest.fixture
def one_thread():
    # Tiny layers: a second thread only adds synchronisation, and stalls on a busy machine.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def small():
    d = load_digits()
    return Split(d.x_train[:320], d.y_train[:320], d.x_test[:100], d.y_test[:100])


def test_make_net_shapes_and_bad_width():
    torch.manual_seed(0)
    net = T.make_net(4)
    assert net(torch.zeros(3, 1, 8, 8)).shape == (3, 10)
    # conv 1->4 (3x3), conv 4->8 (3x3), linear 8*2*2 -> 10, with biases
    assert sum(p.numel() for p in net.parameters()) == (9 * 4 + 4) + (36 * 8 + 8) + (32 * 10 + 10)
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match="width"):
            T.make_net(bad)


def test_predict_proba_rows_are_softmax():
    torch.manual_seed(0)
    net = T.make_net(4)
    x = np.random.default_rng(0).random((5, 1, 8, 8)).astype(np.float32)
    p = T.predict_proba(net, x, "cpu")
    assert p.shape == (5, 10) and p.dtype == np.float64
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-12)
    expected = torch.softmax(net(torch.as_tensor(x)).double(), 1).detach().numpy()
    np.testing.assert_allclose(p, expected, atol=1e-12)
    assert net.training  # the mode is restored


def test_lr_range_test_schedule_and_suggestion(small, one_thread):
    torch.manual_seed(0)
    net = T.make_net(4)
    before = [p.detach().clone() for p in net.parameters()]
    r = T.lr_range_test(net, small, lr_min=1e-4, lr_max=1.0, batch_size=32, device="cpu")
    assert len(r.lrs) == len(r.losses) == len(r.smoothed) <= math.ceil(320 / 32)
    n = 10  # one pass: ceil(320 / 32) steps, each lr the last one times (1e4)^(1/9)
    np.testing.assert_allclose(r.lrs, 1e-4 * 1e4 ** (np.arange(len(r.lrs)) / (n - 1)))
    assert r.lr_at_min == r.lrs[np.argmin(r.smoothed)]
    assert r.suggestion == pytest.approx(r.lr_at_min / 10)
    # bias-corrected EMA: the first smoothed value is the first loss
    assert r.smoothed[0] == pytest.approx(r.losses[0])
    for a, b in zip(before, net.parameters()):
        assert torch.equal(a, b)  # the caller's model is untouched


def test_lr_range_test_stops_when_the_loss_explodes(small, one_thread):
    torch.manual_seed(0)
    r = T.lr_range_test(T.make_net(4), small, lr_min=1e-3, lr_max=1e4, steps=60, device="cpu")
    assert r.diverged and len(r.lrs) < 60
    assert r.smoothed[-1] > 4 * r.smoothed.min() or not np.isfinite(r.losses[-1])


def test_lr_range_test_is_repeatable(small, one_thread):
    torch.manual_seed(0)
    net = T.make_net(4)
    a = T.lr_range_test(net, small, steps=8, device="cpu")
    b = T.lr_range_test(net, small, steps=8, device="cpu")
    np.testing.assert_array_equal(a.losses, b.losses)


@pytest.mark.parametrize(
    "kwargs, word",
    [
        (dict(lr_min=0), "lr_min"),
        (dict(lr_min=1.0, lr_max=0.1), "lr_min"),
        (dict(steps=1), "steps"),
        (dict(smoothing=1.0), "smoothing"),
        (dict(diverge=1.0), "diverge"),
    ],
)
def test_lr_range_test_rejects_bad_arguments(small, kwargs, word):
    with pytest.raises(ValueError, match=word):
        T.lr_range_test(T.make_net(2), small, device="cpu", **kwargs)


def test_grid_points_sit_at_cell_centres():
    pts = T.grid_points({"lr": (1e-4, 1e-1), "weight_decay": (1e-5, 1e-1)}, per_axis=3)
    assert len(pts) == 9
    lrs = sorted({p["lr"] for p in pts})
    np.testing.assert_allclose(np.log10(lrs), [-3.5, -2.5, -1.5])
    wds = sorted({p["weight_decay"] for p in pts})
    np.testing.assert_allclose(np.log10(wds), [-5 + 4 / 6, -3, -1 - 4 / 6])
    assert {(p["lr"], p["weight_decay"]) for p in pts} == {(a, b) for a in lrs for b in wds}


def test_random_points_are_seeded_log_uniform_and_distinct():
    space = {"lr": (1e-4, 1e-1), "weight_decay": (1e-5, 1e-1)}
    a, b = T.random_points(space, n=200, seed=3), T.random_points(space, n=200, seed=3)
    assert a == b
    assert a != T.random_points(space, n=200, seed=4)
    u = np.log10([p["lr"] for p in a])
    assert u.min() >= -4 and u.max() <= -1 and len(set(u)) == 200
    assert abs(np.mean(u) - (-2.5)) < 0.2  # uniform in the exponent, not in the value


@pytest.mark.parametrize(
    "call, word",
    [
        (lambda: T.grid_points({"lr": (1e-1, 1e-4)}), "space"),
        (lambda: T.grid_points(per_axis=0), "per_axis"),
        (lambda: T.random_points(n=0), "n"),
        (lambda: T.best([]), "trials"),
        (lambda: T.simulate_search((1.0,)), "weights"),
        (lambda: T.simulate_search((1.0, -1.0)), "weights"),
    ],
)
def test_bad_arguments(call, word):
    with pytest.raises(ValueError, match=word):
        call()


def test_best_takes_the_highest_validation_accuracy_first_on_ties():
    trials = [T.Trial({"lr": k}, acc, 0.0) for k, acc in enumerate([0.5, 0.9, 0.9, 0.2])]
    assert T.best(trials).params == {"lr": 1}


def test_run_trial_and_search(small, one_thread):
    with pytest.raises(ValueError, match="params"):
        T.run_trial({"momentum": 0.9}, small)
    pts = [{"lr": 1e-2, "weight_decay": 0.0}, {"lr": 1e-5, "weight_decay": 0.0}]
    trials = T.search(pts, small, width=4, epochs=2, device="cpu")
    assert [t.params for t in trials] == pts
    assert all(0.0 <= t.val_acc <= 1.0 for t in trials)
    assert trials[0].val_acc > trials[1].val_acc  # 1e-5 barely moves in two epochs
    again = T.run_trial(pts[0], small, width=4, epochs=2, device="cpu")
    assert again.val_acc == trials[0].val_acc  # same seed: same split, weights and batches


def test_simulate_search_matches_hand_expectations():
    # Only the first hyperparameter matters: the grid's best is the nearest of 3 cell centres,
    # a distance uniform on [0, 1/2] decade, so its mean squared distance is (1/2)^2 / 3.
    sim = T.simulate_search((1.0, 0.0), repeats=20000, seed=0)
    assert sim["grid"].mean() == pytest.approx(0.25 / 3, rel=0.03)
    assert sim["random"].mean() < sim["grid"].mean()
    both = T.simulate_search((1.0, 1.0), repeats=5000, seed=0)
    assert both["random"].mean() > both["grid"].mean()  # nine points do not fill two dimensions
    assert (sim["grid"] >= 0).all() and (sim["random"] >= 0).all()


def test_run_trial_tunes_adamw_decoupled_decay_by_default(small, one_thread, monkeypatch):
    import dlbook.train

    seen = {}
    real_fit = dlbook.train.fit

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(dlbook.train, "fit", spy)
    T.run_trial({"lr": 1e-2, "weight_decay": 0.1}, small, width=4, epochs=1, device="cpu")
    assert seen["optimizer"] == "adamw" and seen["weight_decay"] == 0.1
    T.run_trial({"lr": 1e-2, "weight_decay": 0.1}, small, width=4, epochs=1, optimizer="adam")
    assert seen["optimizer"] == "adam"
    lo, hi = T.SPACE["weight_decay"]
    assert lo < 0.01 < hi  # AdamW's default decay sits inside the searched range
