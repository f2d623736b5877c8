"""The losses chapter's experiments: the line fits and the four-loss classifier comparison."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlbook.experiments import losses as E
from dlbook.scratch import l1_loss, multi_margin_loss


def test_line_data_has_its_outliers_below_the_line():
    d = E.line_data(n=30, n_outliers=6, seed=0)
    assert d.x.shape == d.y.shape == d.outlier.shape == (30,)
    assert d.outlier.sum() == 6 and np.all(d.x[d.outlier] > 0.2)
    residual = d.y - (d.slope * d.x + d.intercept)
    assert np.all(residual[d.outlier] < -2) and np.all(np.abs(residual[~d.outlier]) < 1)
    with pytest.raises(ValueError, match="n_outliers"):
        E.line_data(n=5, n_outliers=5)


def test_exact_fits_are_least_squares_and_least_absolute_deviations():
    d = E.line_data()
    exact = E.exact_line_fits(d)
    np.testing.assert_allclose(exact["mse"], np.polyfit(d.x, d.y, 1), atol=1e-10)
    design = np.stack([d.x, np.ones_like(d.x)], axis=1)
    lad = l1_loss(design @ exact["mae"], d.y)
    rng = np.random.default_rng(0)
    for w in exact["mae"] + 0.05 * rng.standard_normal((20, 2)):  # no nearby line does better
        assert l1_loss(design @ w, d.y) >= lad - 1e-12
    # the absolute error ignores the outliers, the squared error does not
    assert abs(exact["mae"][0] - d.slope) < 0.1 < abs(exact["mse"][0] - d.slope)


def test_gradient_descent_reaches_the_exact_fits():
    d = E.line_data()
    exact = E.exact_line_fits(d)
    mse = E.fit_line(d, "mse", steps=80)
    assert mse.params.shape == (81, 2) and mse.losses.shape == (81,)
    np.testing.assert_allclose(mse.params[-1], exact["mse"], atol=1e-6)
    assert np.all(np.diff(mse.losses) <= 1e-15)  # a stable step only ever goes down
    mae = E.fit_line(d, "mae", steps=80)
    design = np.stack([d.x, np.ones_like(d.x)], axis=1)
    assert mae.losses[-1] - l1_loss(design @ exact["mae"], d.y) < 1e-3
    with pytest.raises(ValueError, match="loss"):
        E.fit_line(d, "huber")


def test_classification_losses_by_hand():
    rng = np.random.default_rng(0)
    z = torch.tensor(rng.standard_normal((5, 4)))
    y = torch.tensor([0, 3, 1, 1, 2])
    onehot = np.eye(4)[y.numpy()]
    p = np.exp(z.numpy()) / np.exp(z.numpy()).sum(1, keepdims=True)
    by_hand = {
        "cross-entropy": -np.log(p[np.arange(5), y.numpy()]).mean(),
        "MSE on probabilities": ((p - onehot) ** 2).sum(1).mean(),
        "MSE on logits": ((z.numpy() - onehot) ** 2).sum(1).mean(),
        "multi-class hinge": float(multi_margin_loss(z.numpy(), y.numpy())),
    }
    assert set(by_hand) == set(E.LOSSES)
    for name, value in by_hand.items():
        assert abs(E.classification_loss(name, z, y).item() - value) < 1e-12, name
    with pytest.raises(ValueError, match="name"):
        E.classification_loss("focal", z, y)


def test_logit_gradients_are_per_example():
    z = torch.randn(6, 5, dtype=torch.float64)
    y = torch.tensor([0, 1, 2, 3, 4, 0])
    grad = E.logit_gradients("cross-entropy", z, y)
    torch.testing.assert_close(grad, z.softmax(1) - F.one_hot(y, 5).double())
    assert not z.requires_grad  # the caller's logits are left alone


def test_make_classifier_and_bad_start():
    default, again = E.make_classifier(seed=3), E.make_classifier(seed=3)
    assert torch.equal(default.weight, again.weight)
    bad = E.make_classifier(64, init_std=2.0, seed=0)
    assert torch.all(bad.bias == 0) and abs(bad.weight.std().item() - 2.0) < 0.2
    with pytest.raises(ValueError, match="val_fraction"):
        E.flat_split(val_fraction=0.0)


def test_run_epochs_to():
    run = E.Run("cross-entropy", 0.1, test_acc=[0.5, 0.92, 0.97])
    assert run.epochs_to(0.9) == 2 and run.epochs_to(0.95) == 3 and run.epochs_to(0.99) is None


def test_short_comparison_learns_and_restores_threads():
    before = torch.get_num_threads()
    results = E.compare_losses(
        losses=("cross-entropy", "multi-class hinge"), lrs=(0.1, 1.0), epochs=2, device="cpu"
    )
    assert torch.get_num_threads() == before
    assert list(results) == ["cross-entropy", "multi-class hinge"]
    for res in results.values():
        assert [r.lr for r in res["sweep"]] == [0.1, 1.0]
        assert res["best"].val_acc[-1] == max(r.val_acc[-1] for r in res["sweep"])
        assert res["bad"].lr == res["best"].lr
        for run in (*res["sweep"], res["bad"]):
            assert len(run.val_acc) == len(run.test_acc) == len(run.train_loss) == 2
        assert res["best"].test_acc[-1] > 0.8  # ten classes: chance is 0.1
    with pytest.raises(ValueError, match="loss"):
        E.train_classifier("focal", E.flat_split(), 0.1)


def test_momentum_rule_matches_torch_sgd():
    split = E.flat_split()
    run = E.train_classifier("cross-entropy", split, 0.3, epochs=1, device="cpu")
    # the same epoch with torch.optim.SGD
    (x, y), held_out = split[0], split[2]
    model = E.make_classifier(64, seed=0)
    opt = torch.optim.SGD(model.parameters(), lr=0.3, momentum=0.9)
    order = torch.Generator().manual_seed(0)
    xt, yt = torch.as_tensor(x), torch.as_tensor(y)
    for idx in torch.randperm(len(xt), generator=order).split(64):
        opt.zero_grad()
        F.cross_entropy(model(xt[idx]), yt[idx]).backward()
        opt.step()
    with torch.no_grad():
        logits = model(torch.as_tensor(held_out[0]))
    acc = (logits.argmax(1) == torch.as_tensor(held_out[1])).float().mean().item()
    assert acc == run.test_acc[0]


def test_over_seeds_summaries():
    runs = E.compare_losses_over_seeds(
        (0, 1), losses=("cross-entropy", "MSE on logits"), lrs=(0.01, 0.1), epochs=1, device="cpu"
    )
    assert len(runs) == 2 and all(list(r) == ["cross-entropy", "MSE on logits"] for r in runs)
    summaries = [E.summarize(r) for r in runs]
    for r, s in zip(runs, summaries):
        for loss, res in r.items():
            assert s[loss]["lr"] == res["best"].lr
            assert s[loss]["test"] == 100 * res["best"].test_acc[-1]
            assert s[loss]["bad"] == 100 * res["bad"].test_acc[-1]
            assert s[loss]["epoch1_at_probe"] == 100 * res["sweep"][1].test_acc[0]
            assert set(s[loss]) >= {"val_at_0.01", "val_at_0.1"}
    mean, low = E.over_seeds(summaries), E.over_seeds(summaries, reduce=np.min)
    for loss in mean:
        values = [s[loss]["test"] for s in summaries]
        assert mean[loss]["test"] == pytest.approx(np.mean(values))
        assert low[loss]["test"] == min(values) <= mean[loss]["test"]
    with pytest.raises(ValueError, match="probe_lr"):
        E.summarize(runs[0], probe_lr=0.3)
    with pytest.raises(ValueError, match="seeds"):
        E.compare_losses_over_seeds(())
    with pytest.raises(ValueError, match="summaries"):
        E.over_seeds([])


def test_torch_cases_hold_every_loss_to_its_torch_twin():
    cases = E.torch_cases(np.random.default_rng(0))
    assert len(cases) == 12 and {"cross-entropy, per pixel", "KL, batchmean"} <= set(cases)
    for name, ((forward, backward, torch_loss), args, kwargs) in cases.items():
        assert all(np.asarray(a).dtype.kind in "fi" for a in args), name
        first = torch.tensor(args[0], requires_grad=True)
        out = torch_loss(first, *(torch.from_numpy(np.asarray(a)) for a in args[1:]), **kwargs)
        out.backward(torch.tensor(0.5, dtype=torch.float64))
        np.testing.assert_allclose(forward(*args, **kwargs), out.item(), atol=1e-10, err_msg=name)
        grad = backward(0.5, *args, **kwargs)
        np.testing.assert_allclose(grad, first.grad.numpy(), atol=1e-10, err_msg=name)
    # The same generator state gives the same cases, so the chapter's numbers repeat.
    again = E.torch_cases(np.random.default_rng(0))
    np.testing.assert_array_equal(again["MSE"][1][0], cases["MSE"][1][0])
