import pytest
import torch
from torch import nn

from dlbook.data import load_digits
from dlbook.train import evaluate, fit, load_checkpoint


def small_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 8 * 8, 10)
    )


def test_fit_learns_the_digits_and_is_repeatable():
    data = load_digits()
    torch.manual_seed(0)
    before = evaluate(small_cnn(), data.x_test, data.y_test, "cpu")[1]
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        history = fit(small_cnn(), data, epochs=4, device="cpu", seed=0)
        runs.append(history["test_acc"])
    assert len(history) == 4 and set(history.final) >= {"train_loss", "test_acc", "seconds"}
    assert runs[0] == runs[1]  # same seed, same numbers
    assert before < 0.3 < 0.85 < history.final["test_acc"]
    assert history["train_loss"][-1] < history["train_loss"][0]


@pytest.mark.parametrize(
    "kwargs,words",
    [
        (dict(epochs=0), "epochs"),
        (dict(batch_size=0), "batch_size"),
        (dict(optimizer="lbfgs"), "optimizer"),
    ],
)
def test_fit_rejects_bad_arguments(kwargs, words):
    with pytest.raises(ValueError, match=words):
        fit(small_cnn(), load_digits(), device="cpu", **kwargs)


def _history_of(**kwargs):
    torch.manual_seed(0)
    model = small_cnn()
    return model, fit(model, load_digits(), device="cpu", seed=0, **kwargs)


def test_defaults_unchanged_by_the_new_options():
    _, plain = _history_of(epochs=2)
    _, same = _history_of(epochs=2, clip_grad_norm=1e9, progress=False)
    assert plain["test_loss"] == same["test_loss"] and plain.best_epoch is None


def test_early_stopping_restores_the_best_weights(tmp_path):
    data = load_digits()
    model, history = _history_of(
        epochs=40, lr=0.05, patience=2, val_fraction=0.2, checkpoint=tmp_path / "best.pt"
    )
    assert history.stopped_early and len(history) < 40
    assert len(history) == history.best_epoch + 2  # stopped after two epochs without progress
    assert set(history.final) >= {"val_loss", "val_acc"}
    best = history.rows[history.best_epoch - 1]
    assert evaluate(model, data.x_test, data.y_test, "cpu")[0] == pytest.approx(best["test_loss"])
    # The checkpoint holds the same best weights, and loads with weights_only=True.
    fresh = small_cnn()
    state = load_checkpoint(tmp_path / "best.pt", fresh)
    assert state["epoch"] == history.best_epoch
    assert len(state["history"]) == history.best_epoch
    for a, b in zip(fresh.state_dict().values(), model.state_dict().values()):
        assert torch.equal(a, b)


class _NotWeights:
    pass


def test_load_checkpoint_refuses_arbitrary_objects(tmp_path):
    torch.save({"model": {}, "payload": _NotWeights()}, tmp_path / "evil.pt")
    with pytest.raises(Exception, match="[Ww]eights only|weights_only"):
        load_checkpoint(tmp_path / "evil.pt")


def test_gradient_clipping_bounds_what_the_optimizer_sees():
    norms, biggest = [], []

    class Spy(torch.optim.SGD):
        def step(self, closure=None):
            grads = [p.grad for p in self.param_groups[0]["params"]]
            norms.append(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])).item())
            biggest.append(max(g.abs().max().item() for g in grads))
            return super().step(closure)

    _history_of(epochs=1, optimizer=lambda p: Spy(p, lr=0.01), clip_grad_norm=0.05)
    assert max(norms) <= 0.05 * (1 + 1e-5) and max(norms) > 0.04
    biggest.clear()
    _history_of(epochs=1, optimizer=lambda p: Spy(p, lr=0.01), clip_grad_value=1e-3)
    assert max(biggest) == pytest.approx(1e-3, rel=1e-6)  # clipped (float32 of 1e-3)


def test_progress_bar_and_plot_outside_jupyter(tmp_path, capsys):
    _, history = _history_of(epochs=2, progress=True)
    err = capsys.readouterr().err
    assert "fit" in err and "2/2" in err
    fig = history.plot(save=tmp_path / "curves.png")
    assert (tmp_path / "curves.png").stat().st_size > 1000 and len(fig.axes) == 2


@pytest.mark.parametrize(
    "kwargs,words",
    [
        (dict(val_fraction=1.5), "val_fraction"),
        (dict(patience=0), "patience"),
        (dict(clip_grad_norm=0), "clip_grad_norm"),
        (dict(clip_grad_value=-1.0), "clip_grad_value"),
    ],
)
def test_fit_rejects_bad_options(kwargs, words):
    with pytest.raises(ValueError, match=words):
        fit(small_cnn(), load_digits(), device="cpu", **kwargs)


def test_eval_train_false_records_running_means_and_keeps_the_test_numbers():
    _, full = _history_of(epochs=2)
    _, quick = _history_of(epochs=2, eval_train=False)
    assert quick["test_loss"] == full["test_loss"]  # the training itself is unchanged
    assert quick["train_loss"] != full["train_loss"]
    assert quick["train_loss"][1] < quick["train_loss"][0] and 0 < quick["train_acc"][1] <= 1


def test_callback_sees_every_epoch():
    seen = []
    _history_of(epochs=3, callback=lambda epoch, model: seen.append((epoch, model.training)))
    assert seen == [(1, True), (2, True), (3, True)]
