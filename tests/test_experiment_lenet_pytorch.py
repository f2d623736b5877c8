"""The PyTorch LeNet chapter's helpers: recording a run without changing it, shifting digits,
feature maps (the figures built from them: tests/test_viz_lenet_pytorch.py)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from dlbook import nets, seeding  # noqa: E402
from dlbook.data import Split, load_digits  # noqa: E402
from dlbook.experiments import lenet_pytorch as lt  # noqa: E402
from dlbook.experiments.lenet_numpy import train_torch  # noqa: E402
from dlbook.train import evaluate, fit  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def small():
    d = load_digits(size=28)
    return Split(d.x_train[:192], d.y_train[:192], d.x_test[:60], d.y_test[:60], "digits")


@pytest.fixture(scope="module")
def watched(small):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # LeNet is small: one thread is faster on a shared CPU
    # A module-scoped fixture runs before conftest's per-test removal of DLBOOK_SEED: remove it
    # here too, so that the tests can rebuild the same run.
    with pytest.MonkeyPatch.context() as mp, lt.watch_epochs() as snaps:
        mp.delenv("DLBOOK_SEED", raising=False)
        run = train_torch(small, modern=True, device="cpu", epochs=2, batch_size=64)
    yield run, snaps
    torch.set_num_threads(threads)


def test_watch_epochs_records_initial_and_per_epoch_weights_without_changing_the_run(
    small, watched
):
    run, snaps = watched
    assert len(snaps.states) == 1 + len(run.history) == 3
    seeding.manual_seed(0)  # train_torch seeds with CONFIG's seed 0 (plus DLBOOK_SEED) first
    initial = nets.LeNet5Modern(input_size=28).state_dict()
    for k, v in initial.items():
        assert torch.equal(snaps.states[0][k], v), k
    for k, v in run.model.state_dict().items():
        assert torch.equal(snaps.states[-1][k], v.cpu()), k
    first = snaps.states[0]["features.0.weight"]
    assert not torch.equal(first, snaps.states[1]["features.0.weight"])  # it trained
    again = train_torch(small, modern=True, device="cpu", epochs=2, batch_size=64)
    assert again.history["test_acc"] == run.history["test_acc"]
    assert again.history["train_loss"] == run.history["train_loss"]


def test_watch_epochs_refuses_two_models_and_removes_its_hook(small):
    with pytest.raises(RuntimeError, match="more than one"):
        with lt.watch_epochs():
            for _ in range(2):
                nets.LeNet5(input_size=28).train()(torch.zeros(2, 1, 28, 28))
    with lt.watch_epochs() as snaps:
        pass
    nets.LeNet5(input_size=28).train()(torch.zeros(2, 1, 28, 28))
    assert snaps.states == []


def test_weight_change_by_hand():
    a = {"features.0.weight": torch.ones(2, 1, 2, 2), "features.1.weight": torch.ones(2)}
    a |= {f"classifier.{i}.weight": torch.full((2, 2), 2.0) for i in range(4)}
    b = {k: v.clone() for k, v in a.items()}
    b["features.0.weight"][0] += 1.0  # 4 of 8 entries move by 1: |dW| = 2, |W| = sqrt(8)
    b["classifier.3.weight"] *= -1  # |W - (-W)| = 2 |W|
    change = lt.weight_change([a, b])
    assert list(change) == ["C1", "C3", "C5", "F6", "output"]  # the 1-D weight is left out
    assert change["C1"] == pytest.approx(2 / np.sqrt(8))
    assert change["F6"] == 0.0 and change["output"] == pytest.approx(2.0)
    with pytest.raises(ValueError, match="states"):
        lt.weight_change([a])


def test_replay_gives_each_states_predictions(small, watched):
    run, snaps = watched
    preds = lt.replay(run.model, snaps.states, small.x_test)
    assert preds.shape == (3, 60)
    final = lt.predict_proba(run.model, small.x_test).argmax(1)
    np.testing.assert_array_equal(preds[-1], final)
    acc = evaluate(run.model, small.x_test, small.y_test, "cpu")[1]
    assert np.mean(preds[-1] == small.y_test) == pytest.approx(acc)
    assert run.model.training  # left as it was
    with pytest.raises(ValueError, match="states"):
        lt.replay(run.model, [], small.x_test)


def test_shift_moves_without_wrapping():
    x = np.arange(1, 13, dtype=float).reshape(1, 3, 4)
    np.testing.assert_array_equal(lt.shift(x, 1, -1)[0], [[0, 0, 0, 0], [2, 3, 4, 0], [6, 7, 8, 0]])
    np.testing.assert_array_equal(lt.shift(x, 0, 0), x)
    assert lt.shift(x, -2, 3)[0].tolist() == [[0, 0, 0, 9], [0] * 4, [0] * 4]
    with pytest.raises(ValueError, match="shift"):
        lt.shift(x, 3, 0)


def test_shift_accuracy_at_zero_is_the_accuracy(small, watched):
    run, _ = watched
    acc = lt.shift_accuracy(run.model, small.x_test, small.y_test, shifts=[-1, 0, 2])
    assert set(acc) == {"right", "down"} and acc["right"].shape == (3,)
    plain = evaluate(run.model, small.x_test, small.y_test, "cpu")[1]
    assert acc["right"][1] == acc["down"][1] == pytest.approx(plain)


@pytest.mark.parametrize("modern", [False, True])
def test_feature_maps_follow_the_stages(modern):
    torch.manual_seed(0)
    model = nets.lenet5(input_size=28, modern=modern)
    image = np.random.default_rng(0).random((1, 28, 28), dtype=np.float32)
    maps = lt.feature_maps(model, image)
    shapes = {k: v.shape for k, v in maps.items()}
    assert shapes == {"C1": (6, 28, 28), "S2": (6, 14, 14), "C3": (16, 10, 10),
                      "S4": (16, 5, 5), "C5": (120,), "F6": (84,), "p": (10,)}  # fmt: skip
    model.eval()
    with torch.no_grad():
        x = torch.from_numpy(image)[None]
        c5 = model.features(x).flatten()
        p = torch.softmax(model(x), 1)[0]
        s2 = model.features[: 4 if modern else 3](x)[0]
    np.testing.assert_allclose(maps["C5"], c5.numpy(), atol=1e-6)
    np.testing.assert_allclose(maps["S2"], s2.numpy(), atol=1e-6)
    np.testing.assert_allclose(maps["p"], p.numpy(), atol=1e-6)
    if modern:
        assert (maps["C1"] >= 0).all()  # after the ReLU
    with pytest.raises(ValueError, match="model"):
        lt.feature_maps(torch.nn.Linear(3, 3), image)


def test_checkpointed_short_run_reloads_to_the_best_epoch(small, tmp_path):
    from dlbook.train import load_checkpoint

    torch.manual_seed(0)
    model = nets.LeNet5Modern(input_size=28)
    path = tmp_path / "lenet.pt"
    h = fit(model, small, epochs=3, batch_size=64, device="cpu", val_fraction=0.25,
            checkpoint=path)  # fmt: skip
    fresh = nets.LeNet5Modern(input_size=28)
    state = load_checkpoint(path, fresh)
    best = h.rows[h.best_epoch - 1]
    assert state["epoch"] == h.best_epoch
    assert evaluate(fresh, small.x_test, small.y_test, "cpu") == (best["test_loss"],
                                                                 best["test_acc"])  # fmt: skip
