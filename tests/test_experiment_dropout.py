"""The dropout chapter's experiments: replaying a mask through the from-scratch dropout, the
unscaled variant, the small training set, the network, Monte Carlo dropout and its curves."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dlbook.data.offline import Split
from dlbook.experiments import dropout as exp
from dlbook.scratch import dropout, dropout_backward, dropout_mask


def test_replay_generator_decides_the_mask_at_every_call():
    keep = np.array([[True, False, True], [False, False, True]])
    rng = exp.ReplayGenerator(exp.uniforms_for_keep(keep, 0.3))
    for _ in range(3):  # the same mask every time: the forward does not use it up
        mask = dropout_mask(keep.shape, 0.3, rng)
        np.testing.assert_array_equal(mask > 0, keep)
        np.testing.assert_allclose(mask[keep], 1 / 0.7)
    g = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(dropout_backward(g, np.ones((2, 3)), 0.3, rng=rng), g * mask)
    assert isinstance(rng.normal(), float)  # the other methods still work


def test_replay_generator_refuses_wrong_shapes_and_values():
    rng = exp.ReplayGenerator(np.full((2, 2), 0.5))
    with pytest.raises(ValueError, match="size"):
        rng.random((4,))
    with pytest.raises(ValueError, match="uniforms"):
        exp.ReplayGenerator(np.array([0.2, 1.0]))
    with pytest.raises(ValueError, match="p"):
        exp.uniforms_for_keep(np.ones(3, bool), 0.0)


def test_torch_mask_replayed_in_numpy_gives_torch_output_and_gradient():
    torch.manual_seed(0)
    x = torch.rand(5, 7, dtype=torch.float64) + 0.5  # no zeros, so out / x recovers the mask
    x.requires_grad_(True)
    out = F.dropout(x, 0.4)
    g = torch.randn_like(out)
    out.backward(g)
    keep = (out / x).detach().numpy() > 0
    rng = exp.ReplayGenerator(exp.uniforms_for_keep(keep, 0.4))
    xn = x.detach().numpy()
    np.testing.assert_allclose(dropout(xn, 0.4, rng=rng), out.detach().numpy(), rtol=0, atol=1e-12)
    grad = dropout_backward(g.numpy(), xn, 0.4, rng=rng)
    np.testing.assert_allclose(grad, x.grad.numpy(), rtol=0, atol=1e-12)


def test_unscaled_dropout_keeps_values_unscaled_and_scales_at_test_time():
    torch.manual_seed(0)
    layer = exp.UnscaledDropout(0.5, test_scale=0.5)
    x = torch.full((10_000,), 3.0)
    y = layer(x)
    assert set(torch.unique(y).tolist()) == {0.0, 3.0}
    assert abs((y == 0).float().mean().item() - 0.5) < 0.03
    layer.eval()
    assert torch.equal(layer(x), x * 0.5)
    with pytest.raises(ValueError, match="p"):
        exp.UnscaledDropout(1.0)


def _toy(n_per=4, n_test=6, seed=0):
    r = np.random.default_rng(seed)
    y = np.repeat(np.arange(10), n_per + 2)
    x = r.random((len(y), 1, 8, 8)).astype(np.float32)
    return Split(x, y, x[:n_test], y[:n_test], "toy")


def test_small_split_is_class_balanced_and_keeps_the_test_set():
    data = _toy()
    small = exp.small_split(data, per_class=3, seed=1)
    assert np.bincount(small.y_train).tolist() == [3] * 10
    assert small.x_test is data.x_test and small.name == "toy"
    # every chosen example is a real training example with its own label
    for xi, yi in zip(small.x_train, small.y_train):
        (j,) = np.flatnonzero((data.x_train == xi).all(axis=(1, 2, 3)))
        assert data.y_train[j] == yi
    with pytest.raises(ValueError, match="per_class"):
        exp.small_split(data, per_class=7)
    with pytest.raises(ValueError, match="per_class"):
        exp.small_split(data, per_class=0)


def test_make_net_shapes_and_dropout_rates():
    net = exp.make_net(0.5, width=4, hidden=16)
    assert net(torch.zeros(3, 1, 8, 8)).shape == (3, 10)
    assert [m.p for m in net if isinstance(m, nn.Dropout)] == [0.25, 0.5]
    net = exp.make_net(0.4, width=4, hidden=16, p_features=0.1, unscaled=True)
    assert [m.p for m in net if isinstance(m, exp.UnscaledDropout)] == [0.1, 0.4]
    with pytest.raises(ValueError, match="p"):
        exp.make_net(1.0)
    with pytest.raises(ValueError, match="width"):
        exp.make_net(0.5, width=0)


def test_mc_curve_by_hand():
    probs = np.array([[[0.9, 0.1], [0.4, 0.6]], [[0.3, 0.7], [0.2, 0.8]]])  # (T=2, N=2, classes=2)
    cur = exp.mc_curve(probs, np.array([0, 1]))
    assert cur["t"].tolist() == [1, 2]
    assert cur["acc"].tolist() == [1.0, 1.0]  # the means are [0.6, 0.4] and [0.3, 0.7]
    np.testing.assert_allclose(
        cur["nll"], [-(np.log(0.9) + np.log(0.6)) / 2, -np.log(0.6 * 0.7) / 2]
    )


def test_mc_predict_samples_differ_only_with_dropout():
    torch.manual_seed(0)
    x = np.random.default_rng(0).random((5, 1, 8, 8)).astype(np.float32)
    plain = exp.make_net(0.0, width=2, hidden=8)
    probs = exp.mc_predict(plain, x, samples=3, device="cpu")
    assert probs.shape == (3, 5, 10)
    np.testing.assert_allclose(probs[0], probs[2], atol=1e-7)
    np.testing.assert_allclose(probs.sum(-1), 1, atol=1e-6)
    net = exp.make_net(0.5, width=2, hidden=8)
    probs = exp.mc_predict(net, x, samples=3, device="cpu")
    assert np.abs(probs[0] - probs[1]).max() > 1e-4
    assert not any(m.training for m in net.modules())  # left in evaluation mode
    np.testing.assert_array_equal(probs, exp.mc_predict(net, x, samples=3, device="cpu"))
    with pytest.raises(ValueError, match="samples"):
        exp.mc_predict(net, x, samples=0)


def test_train_grid_and_scaling_check_run():
    data = _toy()
    rows = exp.train_grid(data, ps=(0.0, 0.5), seeds=(0,), epochs=2, device="cpu", width=2,
                          hidden=8)  # fmt: skip
    assert [(r["p"], r["seed"], len(r["history"])) for r in rows] == [(0.0, 0, 2), (0.5, 0, 2)]
    assert {"train_acc", "test_acc", "train_loss", "test_loss"} <= set(rows[0]["history"].final)
    check = exp.scaling_check(data, p=0.5, epochs=2, device="cpu", width=2, hidden=8)
    assert set(check) == {"identity", "scaled", "logit_ratio"}
    assert check["identity"][0] != check["scaled"][0]  # the test-time factor changes the loss
    assert all(0 <= acc <= 1 for _, acc in (check["identity"], check["scaled"]))


def test_all_masks_enumerates_every_pattern_with_its_probability():
    keep, prob = exp.all_masks(3, 0.25)
    assert keep.shape == (8, 3) and len({tuple(k) for k in keep}) == 8
    assert keep[5].tolist() == [True, False, True]  # 5 = 0b101, lowest bit first
    assert prob[5] == pytest.approx(0.75 * 0.25 * 0.75)
    assert prob.sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="n"):
        exp.all_masks(0, 0.5)
    with pytest.raises(ValueError, match="p"):
        exp.all_masks(3, 1.0)


def test_ensemble_geometric_mean_is_weight_scaling_for_a_linear_layer_only():
    r = np.random.default_rng(0)
    x, w, b = r.normal(size=6), r.normal(size=(6, 3)), r.normal(size=3)
    e = exp.ensemble_predictions(lambda z: z @ w + b, x, 0.5)
    np.testing.assert_allclose(e["geometric"], e["weight_scaling"], atol=1e-12)
    assert np.abs(e["arithmetic"] - e["weight_scaling"]).max() > 1e-3
    np.testing.assert_allclose([v.sum() for v in e.values()], 1.0)
    w1, w2 = 0.5 * r.normal(size=(6, 8)), 0.5 * r.normal(size=(8, 3))
    e = exp.ensemble_predictions(lambda z: np.maximum(z @ w1, 0) @ w2 + b, x, 0.5)
    assert np.abs(e["geometric"] - e["weight_scaling"]).max() > 1e-3  # not exact after a ReLU


def _history(test_acc, test_losses, train_acc=1.0, train_loss=0.01):
    from dlbook.train import History

    return History(rows=[dict(train_acc=train_acc, train_loss=train_loss, test_acc=test_acc,
                              test_loss=loss) for loss in test_losses])  # fmt: skip


def test_summarize_grid_by_hand():
    rows = [
        dict(p=0.5, seed=1, history=_history(0.93, [0.5, 0.2, 0.3])),
        dict(p=0.0, seed=0, history=_history(0.90, [0.4, 0.3, 0.35])),
        dict(p=0.5, seed=0, history=_history(0.92, [0.5, 0.4, 0.25])),
        dict(p=0.0, seed=1, history=_history(0.92, [0.3, 0.35, 0.36])),
    ]
    s = exp.summarize_grid(rows)
    assert list(s) == [0.0, 0.5] and s[0.5]["seeds"] == [0, 1]
    np.testing.assert_allclose(s[0.0]["test_acc"], [90.0, 92.0])
    np.testing.assert_allclose(s[0.5]["test_loss"], [0.25, 0.3])
    np.testing.assert_allclose(s[0.0]["min_test_loss"], [0.3, 0.3])
    np.testing.assert_array_equal(s[0.5]["best_epoch"], [3, 2])
    np.testing.assert_allclose(s[0.5]["gain"], [2.0, 1.0])  # paired by seed
    assert s[0.5]["gain_mean"] == pytest.approx(1.5)
    assert s[0.5]["gain_se"] == pytest.approx(np.std([2.0, 1.0], ddof=1) / np.sqrt(2))
    assert "gain" not in s[0.0]
    one = exp.summarize_grid(rows[1:3])
    assert np.isnan(one[0.5]["gain_se"])
    with pytest.raises(ValueError, match="different seeds"):
        exp.summarize_grid(rows[:3])
    with pytest.raises(ValueError, match="baseline"):
        exp.summarize_grid(rows, baseline=0.25)
    with pytest.raises(ValueError, match="no runs"):
        exp.summarize_grid([])


def test_train_grid_takes_a_training_set_per_seed():
    data, asked = _toy(), []

    def per_seed(seed):
        asked.append(seed)
        return data

    rows = exp.train_grid(per_seed, ps=(0.0, 0.5), seeds=(3, 4), epochs=1, device="cpu", width=2,
                          hidden=8)  # fmt: skip
    assert asked == [3, 4, 3, 4]  # every rate sees each seed's own training set
    assert [(r["p"], r["seed"]) for r in rows] == [(0.0, 3), (0.0, 4), (0.5, 3), (0.5, 4)]
