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


# --- truncated BPTT in PyTorch ------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, clip", [("LSTM", dict(max_norm=0.3)), ("GRU", dict(clip_value=0.01))]
)
def test_train_tbptt_is_the_twin_of_the_scratch_loop(kind, clip):
    """Same weights, same chunks, same clipping, SGD: torch's train_tbptt and the from-scratch
    one give the same losses, gradient norms, final weights and final state."""
    import numpy as np

    from dlbook import scratch
    from dlbook.train import train_tbptt

    torch.manual_seed(0)
    theirs = getattr(nn, kind)(3, 5, num_layers=2, bidirectional=True).double()
    head_t = nn.Linear(10, 4).double()
    ours = getattr(scratch, kind)(3, 5, num_layers=2, bidirectional=True, dtype=np.float64)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    head = scratch.Linear(10, 4, dtype=np.float64)
    head.weight[...], head.bias[...] = (p.detach().numpy() for p in head_t.parameters())
    r = np.random.default_rng(0)
    x, y = r.standard_normal((8, 2, 3)), r.integers(0, 4, size=(8, 2))
    sgd = scratch.optim.SGD(ours.params + head.params, lr=0.5)
    losses, norms, state = scratch.train_tbptt(ours, head, sgd, x, y, 3, **clip)
    opt = torch.optim.SGD([*theirs.parameters(), *head_t.parameters()], lr=0.5)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    losses_t, norms_t, state_t = train_tbptt(theirs, head_t, opt, xt, yt, 3, **clip)
    assert len(losses_t) == len(norms_t) == 3  # chunks of 3, 3 and 2 steps
    np.testing.assert_allclose(losses_t, losses, rtol=0, atol=1e-10)
    np.testing.assert_allclose(norms_t, norms, rtol=0, atol=1e-10)
    for a, p in zip(ours.params + head.params, [*theirs.parameters(), *head_t.parameters()]):
        np.testing.assert_allclose(p.detach().numpy(), a, rtol=0, atol=1e-10)
    states = state_t if isinstance(state_t, tuple) else (state_t,)
    for s_ours, s in zip(state if isinstance(state, tuple) else (state,), states, strict=True):
        assert not s.requires_grad  # detached: the next call cannot backpropagate into this one
        np.testing.assert_allclose(s.numpy(), s_ours, rtol=0, atol=1e-10)


def test_train_tbptt_clips_and_carries_the_state():
    from dlbook.train import train_tbptt

    torch.manual_seed(0)
    model, head = nn.RNN(2, 8), nn.Linear(8, 3)
    opt = torch.optim.SGD([*model.parameters(), *head.parameters()], lr=0.0)
    x, y = 10 * torch.randn(12, 4, 2), torch.randint(0, 3, (12, 4))
    _, norms, state = train_tbptt(model, head, opt, x, y, 4, max_norm=1e-3)
    assert max(norms) > 1e-3  # the norms before clipping are reported
    for p in [*model.parameters(), *head.parameters()]:  # what the optimizer saw was clipped
        assert p.grad is not None
    total = torch.linalg.vector_norm(
        torch.stack(
            [torch.linalg.vector_norm(p.grad) for p in [*model.parameters(), *head.parameters()]]
        )
    )
    assert total <= 1e-3 * (1 + 1e-4)
    # The state after one pass over 12 steps is the state of running the whole sequence.
    with torch.no_grad():
        _, h_full = model(x)
    torch.testing.assert_close(state, h_full)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(length=0), "length"),
        (dict(length=2.5), "length"),
        (dict(max_norm=0.0), "max_norm"),
        (dict(clip_value=-1.0), "clip_value"),
        (dict(inputs=torch.zeros(5, 3)), "inputs"),
        (dict(targets=torch.zeros(5, 2, dtype=torch.long)), "targets"),
    ],
)
def test_train_tbptt_rejects_bad_arguments(kwargs, words):
    from dlbook.train import train_tbptt

    model, head = nn.GRU(2, 4), nn.Linear(4, 3)
    opt = torch.optim.SGD([*model.parameters(), *head.parameters()], lr=0.1)
    args = dict(inputs=torch.zeros(5, 3, 2), targets=torch.zeros(5, 3, dtype=torch.long), length=2)
    args.update(kwargs)
    with pytest.raises(ValueError, match=words):
        train_tbptt(model, head, opt, args.pop("inputs"), args.pop("targets"), **args)


def test_train_tbptt_refuses_a_batch_first_model():
    from dlbook.train import train_tbptt

    model, head = nn.GRU(2, 4, batch_first=True), nn.Linear(4, 3)
    opt = torch.optim.SGD([*model.parameters(), *head.parameters()], lr=0.1)
    with pytest.raises(ValueError, match="batch_first"):
        train_tbptt(model, head, opt, torch.zeros(5, 3, 2), torch.zeros(5, 3, dtype=torch.long), 2)


def test_shuffled_batches_cover_every_index_once_and_repeat_with_the_seed():
    from dlbook import seeding
    from dlbook.train import shuffled_batches

    batches = list(shuffled_batches(10, 4, seeding.generator(3)))
    assert [len(b) for b in batches] == [4, 4, 2]
    assert sorted(torch.cat(batches).tolist()) == list(range(10))
    again = list(shuffled_batches(10, 4, seeding.generator(3), drop_last=True))
    assert len(again) == 2 and all(torch.equal(a, b) for a, b in zip(again, batches))


def _hand_loop(model, opt, x, y, batches, clip_value=None, clip_norm=None):
    """The loop train_steps replaces, written out."""
    for idx in batches:
        loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        if clip_value is not None:
            nn.utils.clip_grad_value_(model.parameters(), clip_value)
        if clip_norm is not None:
            nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
        opt.step()


@pytest.mark.parametrize("clip", [{}, dict(clip_grad_value=0.01, clip_grad_norm=0.05)])
def test_train_steps_is_the_hand_written_loop_bit_for_bit(clip):
    from dlbook.train import train_steps

    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(40, 5, generator=g), torch.randint(0, 3, (40,), generator=g)
    batches = [torch.arange(i, i + 8) for i in range(0, 40, 8)]

    def fresh():
        torch.manual_seed(1)
        model = nn.Sequential(nn.Linear(5, 6), nn.Tanh(), nn.Linear(6, 3))
        return model, torch.optim.Adam(model.parameters(), lr=0.05)

    runs = []
    for use_train_steps in (False, True):
        model, opt = fresh()
        if use_train_steps:

            def loss_fn(idx, model=model):
                return nn.functional.cross_entropy(model(x[idx]), y[idx])

            out = list(train_steps(loss_fn, opt, batches, **clip))
            assert len(out) == len(batches)
            assert all(loss.requires_grad is False for loss, _ in out)
            assert all((norm is None) == (not clip) for _, norm in out)
        else:
            _hand_loop(model, opt, x, y, batches, clip.get("clip_grad_value"),
                       clip.get("clip_grad_norm"))  # fmt: skip
        runs.append([p.detach().clone() for p in model.parameters()])
    assert all(torch.equal(a, b) for a, b in zip(*runs))


def test_train_steps_reads_batches_lazily_and_calls_before_step_between_gradient_and_step():
    from dlbook.train import train_steps

    w = nn.Parameter(torch.tensor([1.0, -2.0]))
    opt = torch.optim.SGD([w], lr=0.1)
    seen, drawn = [], []

    def batches():
        for i in range(100):
            drawn.append(i)
            yield i

    def before_step():  # the gradient is there, the weight not yet moved
        seen.append((w.grad.clone(), w.detach().clone()))

    steps = train_steps(lambda _: (w**2).sum(), opt, batches(), before_step=before_step)
    out = [next(steps) for _ in range(3)]
    assert drawn == [0, 1, 2] and len(seen) == 3 and out[-1][1] is None
    loss = out[-1][0]
    assert torch.equal(seen[0][0], torch.tensor([2.0, -4.0]))
    assert torch.equal(seen[0][1], torch.tensor([1.0, -2.0]))
    assert torch.equal(seen[1][1], torch.tensor([0.8, -1.6]))
    assert loss.item() == pytest.approx(0.64**2 * 5)  # the third loss, at 0.8² of the start
    # math.inf measures the norm without clipping it
    w2 = nn.Parameter(torch.tensor([3.0, 4.0]))
    opt2 = torch.optim.SGD([w2], lr=0.0)
    ((_, norm),) = train_steps(lambda _: (w2**2).sum() / 2, opt2, [0], clip_grad_norm=float("inf"))
    assert float(norm) == pytest.approx(5.0)


@pytest.mark.parametrize("kwargs", [dict(clip_grad_norm=0.0), dict(clip_grad_value=-1.0)])
def test_train_steps_rejects_bad_clipping(kwargs):
    from dlbook.train import train_steps

    w = nn.Parameter(torch.ones(2))
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        next(train_steps(lambda _: w.sum(), torch.optim.SGD([w], lr=0.1), [0], **kwargs))


def test_make_optimizer_and_as_tensors():
    from dlbook.train import as_tensors, make_optimizer

    params = [nn.Parameter(torch.zeros(2))]
    assert isinstance(make_optimizer("sgd", params, 0.1), torch.optim.SGD)
    assert make_optimizer("sgd", params, 0.1).param_groups[0]["momentum"] == 0.9
    assert isinstance(make_optimizer("adamw", params, 0.1, 0.01), torch.optim.AdamW)
    with pytest.raises(ValueError, match="optimizer"):
        make_optimizer("lbfgs", params, 0.1)
    x, y = as_tensors([[0.5]], [1], "cpu")
    assert x.dtype == torch.float32 and y.dtype == torch.int64


def test_resolve_gives_the_best_device_for_none_and_the_named_one_otherwise():
    import dlbook
    from dlbook.devices import resolve

    assert resolve() == resolve(None) == dlbook.device()
    assert resolve("cpu") == resolve(torch.device("cpu")) == torch.device("cpu")
    with pytest.raises(RuntimeError):
        resolve("no-such-device")
