"""The batch-norm chapter's experiments, against hand computations and torch's own layers."""

import numpy as np
import pytest
import torch
from torch import nn

from dlbook.data import Split, load_digits
from dlbook.experiments import batch_norm as E


@pytest.fixture(scope="module")
def small():
    torch.set_num_threads(1)
    d = load_digits()
    return Split(d.x_train[:192], d.y_train[:192], d.x_test[:96], d.y_test[:96])


@pytest.mark.parametrize("norm", E.NORMS)
def test_make_net_shapes_and_biases(norm):
    torch.manual_seed(0)
    net = E.make_net(norm, width=4)
    assert net(torch.zeros(5, 1, 8, 8)).shape == (5, 10)
    convs = [m for m in net if isinstance(m, nn.Conv2d)]
    assert len(convs) == 4
    # A norm's shift replaces the bias, so only the plain network keeps one.
    assert all((c.bias is not None) == (norm == "none") for c in convs)
    kinds = {"batch": nn.BatchNorm2d, "noisy": E.NoisyBatchNorm2d, "layer": nn.GroupNorm}
    kinds["drift"] = E.NoisyBatchNorm2d
    if norm in kinds:
        assert sum(isinstance(m, kinds[norm]) for m in net) == 4


@pytest.mark.parametrize("kwargs, word", [({"norm": "group"}, "norm"), ({"width": 0}, "width")])
def test_make_net_rejects_bad_arguments(kwargs, word):
    with pytest.raises(ValueError, match=word):
        E.make_net(**kwargs)


def test_noisy_batch_norm_noise_is_per_step_and_off_in_eval():
    torch.manual_seed(0)
    x = torch.randn(8, 3, 4, 4) * 2 + 1
    plain, noisy = nn.BatchNorm2d(3), E.NoisyBatchNorm2d(3, scale=0.0, shift=0.7)
    y, y_plain = noisy(x), plain(x)
    shift = (y - y_plain).mean(dim=(0, 2, 3))
    # Zero scale noise: the output is batch norm plus one constant per channel, within ±shift.
    assert torch.allclose(y - y_plain, shift.view(1, 3, 1, 1).expand_as(y), atol=1e-6)
    assert shift.abs().max() <= 0.7 and shift.abs().max() > 0
    assert not torch.allclose(noisy(x), y)  # a fresh draw every forward pass
    noisy.hold = True
    assert torch.allclose(noisy(x), noisy(x))
    # Evaluation mode: no noise, so the same as batch norm with the same running statistics.
    noisy.eval(), plain.eval()
    plain.load_state_dict(noisy.state_dict())
    assert torch.allclose(noisy(x), plain(x))


def test_drift_noise_moves_a_little_every_step_and_stays_in_eval():
    torch.manual_seed(0)
    x = torch.randn(8, 3, 4, 4) * 2 + 1
    plain, drift = nn.BatchNorm2d(3), E.NoisyBatchNorm2d(3, scale=0.0, shift=2.0, period=4)
    offsets = []
    for _ in range(8):
        offsets.append((drift(x) - plain(x)).mean(dim=(0, 2, 3)))
    offsets = torch.stack(offsets)  # (steps, C): the shift b of each step
    # From 0 to the first target in 4 equal steps, then on to the second in 4 more.
    first = offsets[3]
    assert torch.allclose(offsets[:4], torch.outer(torch.arange(1, 5) / 4, first), atol=1e-5)
    assert torch.allclose(
        offsets[4:] - first, torch.outer(torch.arange(1, 5) / 4, offsets[7] - first), atol=1e-5
    )
    assert offsets.abs().max() <= 2.0 + 1e-5 and first.abs().max() > 0
    drift.hold = True  # a replay: the same noise, the drift does not advance
    assert torch.allclose(drift(x) - plain(x), offsets[7].view(1, 3, 1, 1).expand_as(x), atol=1e-5)
    drift.eval(), plain.eval()
    plain.load_state_dict(drift.state_dict())
    assert torch.allclose(drift(x) - plain(x), offsets[7].view(1, 3, 1, 1).expand_as(x), atol=1e-5)
    with pytest.raises(ValueError, match="period"):
        E.NoisyBatchNorm2d(3, period=0)


def test_shift_summary_by_hand():
    mean = np.array([[0.0, 1.0], [1.0, 1.0], [1.0, 3.0]])
    std = np.array([[2.0, 1.0], [2.0, 2.0], [4.0, 2.0]])
    s = E.shift_summary(mean, std)
    # step 1: |1-0|/2 = 0.5, |0|/1 = 0; step 2: 0/2 = 0, |2|/2 = 1  -> mean 1.5 / 4
    assert s["mean_shift"] == pytest.approx(1.5 / 4)
    assert s["scale_shift"] == pytest.approx((0 + np.log(2) + np.log(2) + 0) / 4)
    assert s["drift"] == pytest.approx((1 / 2 + 2 / 1) / 2)
    assert s["spread_drift"] == pytest.approx((np.log(2) + np.log(2)) / 2)
    with pytest.raises(ValueError, match="mean and std"):
        E.shift_summary(mean[:1], std[:1])


def test_running_stats_follow_the_ema_by_hand():
    r = E.running_stats(mean=2.0, std=3.0, batch_size=5, momentum=0.2, steps=6, seed=1)
    rng = np.random.default_rng(1)
    rm, rv, rvb = 0.0, 1.0, 1.0
    for t in range(1, 7):
        x = rng.normal(2.0, 3.0, size=(5, 1))
        rm = 0.8 * rm + 0.2 * x.mean()
        rv = 0.8 * rv + 0.2 * x.var(ddof=1)
        rvb = 0.8 * rvb + 0.2 * x.var()
        assert r["running_mean"][t] == pytest.approx(rm)
        assert r["running_var"][t] == pytest.approx(rv)
        assert r["running_var_biased"][t] == pytest.approx(rvb)
        assert r["batch_mean"][t] == pytest.approx(x.mean())
    with pytest.raises(ValueError, match="batch_size"):
        E.running_stats(batch_size=1)
    with pytest.raises(ValueError, match="momentum"):
        E.running_stats(momentum=1.5)


def test_recalibrate_averages_the_batches_and_leaves_the_model_alone():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    before = net[1].running_mean.clone()
    x = torch.randn(10, 1, 5, 5).numpy()
    fresh = E.recalibrate(net, x, batch_size=4, device="cpu")
    assert torch.equal(net[1].running_mean, before)
    assert not fresh.training and fresh[1].momentum == 0.1
    with torch.no_grad():
        z = net[0](torch.as_tensor(x))
    batches = [z[0:4], z[4:8], z[8:10]]  # a plain average of the three batches' statistics
    want_mean = torch.stack([b.mean(dim=(0, 2, 3)) for b in batches]).mean(0)
    want_var = torch.stack([b.var(dim=(0, 2, 3)) for b in batches]).mean(0)
    assert torch.allclose(fresh[1].running_mean, want_mean, atol=1e-6)
    assert torch.allclose(fresh[1].running_var, want_var, atol=1e-6)


def test_train_mode_accuracy_uses_batch_statistics_on_a_copy(small):
    torch.manual_seed(0)
    net = E.make_net("batch", width=4).eval()
    state = {k: v.clone() for k, v in net.state_dict().items()}
    x, y = small.x_test[:64], small.y_test[:64]
    acc = E.train_mode_accuracy(net, x, y, (64,), device="cpu")
    probe = E.make_net("batch", width=4)
    probe.load_state_dict(state)
    with torch.no_grad():
        want = (probe.train()(torch.as_tensor(x)).argmax(1).numpy() == y).mean()
    assert acc[64] == pytest.approx(want)
    assert all(torch.equal(v, state[k]) for k, v in net.state_dict().items())
    with pytest.raises(ValueError, match="batch_sizes"):
        E.train_mode_accuracy(net, x, y, (0,), device="cpu")


def test_replayed_gradient_equals_the_gradient_when_nothing_moved(small):
    torch.manual_seed(0)
    net = E.make_net("noisy", width=4)
    x, y = torch.as_tensor(small.x_train[:16]), torch.as_tensor(small.y_train[:16])
    torch.nn.functional.cross_entropy(net(x), y).backward()
    g = net[10].weight.grad.clone()
    state = {k: v.clone() for k, v in net.state_dict().items()}
    g2 = E._replay_gradient(net, x, y, state, state, first=10)
    assert torch.allclose(g, g2, atol=1e-6)  # the same noise was replayed, too


def test_watch_shift_records_and_the_measurement_does_not_disturb_training(small):
    small = Split(small.x_train[:128], small.y_train[:128], small.x_test[:32], small.y_test[:32])
    a = E.watch_shift(small, "batch", lr=0.05, epochs=2, batch_size=32, snapshots=5,
                      ics_every=1, device="cpu")  # fmt: skip
    b = E.watch_shift(small, "batch", lr=0.05, epochs=2, batch_size=32, snapshots=5,
                      ics_every=1000, device="cpu")  # fmt: skip
    steps = 2 * (128 // 32)
    assert a["mean"].shape == a["std"].shape == (steps, 32)
    assert a["loss"].shape == (steps,) and len(a["snap_steps"]) == 5
    assert a["snap_values"].shape == (5, 32 * 4 * 4)
    assert len(a["ics_change"]) == steps and len(b["ics_change"]) == 1
    np.testing.assert_allclose(a["loss"], b["loss"], rtol=1e-6)
    # Batch norm's output has batch mean beta, which starts at 0 and moves slowly.
    assert np.abs(a["mean"][0]).max() < 1e-5
    assert 0 <= a["test_acc"] <= 1 and 0 <= a["train_acc"] <= 1


def test_lr_sweep_rows(small):
    rows = E.lr_sweep(small, lrs=(0.05,), norms=("none", "batch"), seeds=(0,), epochs=1,
                      batch_size=64, device="cpu")  # fmt: skip
    assert [(r["norm"], r["lr"], r["seed"]) for r in rows] == [
        ("none", 0.05, 0),
        ("batch", 0.05, 0),
    ]
    assert rows[0]["recalibrated_acc"] is None and 0 <= rows[1]["recalibrated_acc"] <= 1
    assert len(rows[1]["weight_norms"]) == 4 and len(rows[1]["history"]) == 1


def test_shift_study_and_its_means(small):
    settings = (("none", 0.03), ("drift", 0.1))
    study = E.shift_study(small, settings, seeds=(0, 1), epochs=2, device="cpu")
    assert list(study) == ["none", "drift"]
    for norm, lr in settings:
        assert [(r["lr"], r["seed"], r["norm"]) for r in study[norm]] == [
            (lr, 0, norm),
            (lr, 1, norm),
        ]
        for r in study[norm]:
            assert r["summary"] == E.shift_summary(r["mean"], r["std"])
            assert 0 <= r["recalibrated_acc"] <= 1
    assert study["none"][0]["recalibrated_acc"] == study["none"][0]["test_acc"]
    means = E.study_means(study, last=3)
    drift = study["drift"]
    assert means["drift"]["drift"] == pytest.approx(np.mean([r["summary"]["drift"] for r in drift]))
    assert means["drift"]["loss"] == pytest.approx(
        np.mean([np.mean(r["loss"][-3:]) for r in drift])
    )
    assert means["none"]["ics"] == pytest.approx(
        np.mean([np.mean(r["ics_change"]) for r in study["none"]])
    )


def test_scratch_batch_norm_against_torch_every_row_agrees():
    rng = np.random.default_rng(0)
    checks = E.layer_vs_torch(rng, channels=2, momentum=0.3, steps=2)
    checks |= E.functional_vs_torch(rng, shapes=[(4, 3), (4, 3, 5)], momentum=0.2)
    checks |= E.cumulative_vs_torch(rng, channels=2, steps=3)
    checks |= E.naive_vs_torch(rng, channels=2)
    assert len(checks) == 6 + 4 + 2 * 3 + 1 + 1
    assert "2 training steps: running var" in checks and "evaluation: grad bias" in checks
    assert "momentum=None, 3 steps: running mean, var" in checks
    for name, (ours, theirs) in checks.items():
        theirs = theirs.detach().numpy()
        assert np.shape(ours) == theirs.shape, name
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-10, err_msg=name)


def test_scratch_against_torch_catches_a_wrong_batch_norm(monkeypatch):
    import dlbook.scratch as scratch

    def forgets_the_running_stats(input, running_mean, running_var, *args, **kwargs):
        return scratch.batch_norm(input, None, None, *args, **kwargs)

    monkeypatch.setattr(scratch, "batch_norm_naive", forgets_the_running_stats)
    ((ours, theirs),) = E.naive_vs_torch(np.random.default_rng(0), channels=2).values()
    assert np.abs(ours - theirs.numpy()).max() > 0.1


def test_final_accuracies_by_hand():
    sweep = [
        dict(norm="none", lr=0.1, seed=0, test_acc=0.5),
        dict(norm="batch", lr=0.1, seed=0, test_acc=0.8, recalibrated_acc=0.85),
        dict(norm="none", lr=0.1, seed=1, test_acc=0.25),
        dict(norm="batch", lr=0.1, seed=1, test_acc=0.75, recalibrated_acc=0.9),
    ]
    np.testing.assert_allclose(E.final_accuracies(sweep, "none", 0.1), [50, 25])
    np.testing.assert_allclose(
        E.final_accuracies(sweep, "batch", 0.1, "recalibrated_acc"), [85, 90]
    )
    with pytest.raises(ValueError, match="lr=0.3"):
        E.final_accuracies(sweep, "none", 0.3)
