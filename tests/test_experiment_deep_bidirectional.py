"""The deep and bidirectional RNN chapter: its checks against torch, the schedule of the grid,
the sensitivity maps, the models and the offset task, and its figures."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from torch import nn

from dlbook.data.offline import Split
from dlbook.experiments import deep_bidirectional as exp
from dlbook.scratch import GRU
from dlbook.timing import one_thread
from dlbook.train import History
from dlbook.verify import compare
from dlbook.viz import deep_bidirectional as vd


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("layers, bidirectional", [(1, False), (2, True), (3, False)])
def test_torch_pairs_agree_for_every_kind_and_shape(kind, layers, bidirectional):
    ours, theirs = exp.twins(kind, 2, 3, layers, bidirectional, seed=0)
    r = np.random.default_rng(0)
    shape = (layers * (1 + bidirectional), 2, 3)
    n = 2 if kind == "lstm" else 1
    hx = tuple(r.standard_normal(shape) for _ in range(n))
    gs = tuple(r.standard_normal(shape) for _ in range(n))
    hx, gs = (hx, gs) if n == 2 else (hx[0], gs[0])
    x, g = r.standard_normal((5, 2, 2)), r.standard_normal((5, 2, 3 * (1 + bidirectional)))
    pairs = exp.torch_pairs(ours, theirs, x, hx, g, gs)
    assert len(pairs) == 5 + 2 * (n - 1)
    assert compare(pairs, tol=1e-10).ok


def test_torch_pairs_notice_a_wrong_weight():
    ours, theirs = exp.twins("gru", 2, 3, 2, True)
    ours.weight_hh_l1_reverse[0, 0] += 1e-3
    r = np.random.default_rng(0)
    x, g = r.standard_normal((4, 2, 2)), r.standard_normal((4, 2, 6))
    pairs = exp.torch_pairs(ours, theirs, x, np.zeros((4, 2, 3)), g, np.zeros((4, 2, 3)))
    assert not compare(pairs, tol=1e-10).ok


def test_twins_refuse_an_unknown_kind():
    with pytest.raises(ValueError, match="kind"):
        exp.twins("transformer", 2, 3)


def test_layer_gradcheck_passes_and_catches_a_wrong_backward():
    ours, _ = exp.twins("lstm", 2, 2, 2, True, seed=3)
    r = np.random.default_rng(0)
    x, hx = r.standard_normal((3, 2, 2)), tuple(r.standard_normal((4, 2, 2)) for _ in range(2))
    result = exp.layer_gradcheck(ours, x, hx)
    assert result.ok
    assert list(result.errors) == ["input", "h_0", "c_0"] + [
        f"weights {c}" for c in ("l0", "l0_reverse", "l1", "l1_reverse")
    ]

    class Wrong(GRU):
        def backward(self, grad_output, grad_state=None):
            g = super().backward(grad_output, grad_state)
            self.grads = [1.01 * w for w in self.grads]
            return g

    wrong = Wrong(2, 2, 2, bidirectional=True, dtype=np.float64, rng=np.random.default_rng(0))
    bad = exp.layer_gradcheck(wrong, x)
    assert bad.errors["input"] < 1e-6 and not bad.ok
    with pytest.raises(ValueError, match="x"):
        exp.layer_gradcheck(ours, x.astype(np.float32), hx)


def test_schedule_is_a_wavefront_one_way_and_layer_by_layer_both_ways():
    t, layers = 7, 3
    uni = exp.schedule(t, layers, False)
    assert uni.shape == (layers, 1, t)
    np.testing.assert_array_equal(uni[:, 0], np.add.outer(np.arange(layers), np.arange(t)) + 1)
    bi = exp.schedule(t, layers, True)
    assert bi.shape == (layers, 2, t) and bi.max() == layers * t
    np.testing.assert_array_equal(bi[0, 1], t - np.arange(t))  # layer 0 backward: right to left
    assert bi[1].min() == t + 1  # layer 1 waits for the whole of layer 0
    with pytest.raises(ValueError, match="length"):
        exp.schedule(0, 2, True)
    with pytest.raises(ValueError, match="num_layers"):
        exp.schedule(4, 1.5, True)


def _torch_sensitivity(theirs, x, features):
    xt = torch.tensor(x)
    jac = torch.autograd.functional.jacobian(lambda z: theirs(z)[0][:, 0, features], xt)
    return jac.pow(2).sum(dim=(1, 3, 4)).sqrt().numpy()  # (t, feature, s, 1, D) -> (t, s)


CASES = [(2, False, "both"), (1, True, "forward"), (1, True, "backward"), (2, True, "both")]


@pytest.mark.parametrize("layers, bidirectional, half", CASES)
def test_sensitivity_matrix_is_the_norm_of_torchs_jacobian(layers, bidirectional, half):
    ours, theirs = exp.twins("gru", 2, 3, layers, bidirectional, seed=1)
    x = np.random.default_rng(0).standard_normal((6, 1, 2))
    m = exp.sensitivity_matrix(ours, x, half)
    features = {"both": slice(None), "forward": slice(0, 3), "backward": slice(3, 6)}[half]
    np.testing.assert_allclose(m, _torch_sensitivity(theirs, x, features), rtol=1e-9, atol=1e-12)
    future, past = m[np.triu_indices(6, 1)], m[np.tril_indices(6, -1)]
    if not bidirectional or half == "forward" and layers == 1:
        assert (future == 0).all() and (past > 0).all()
    elif half == "backward":
        assert (past == 0).all() and (future > 0).all()
    else:
        assert (m > 0).all()


def test_sensitivity_matrix_checks_its_arguments():
    layer = GRU(1, 2, dtype=np.float64, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="half"):
        exp.sensitivity_matrix(layer, np.zeros((4, 1, 1)), "backward")  # unidirectional
    with pytest.raises(ValueError, match="x"):
        exp.sensitivity_matrix(layer, np.zeros((4, 2, 1)))


def _sequences(n=40, t=12, seed=0):
    r = np.random.default_rng(seed)
    x = r.standard_normal((t, n, 1)).astype(np.float32)
    y = np.arange(n) % 10
    return Split(x, y, x[:, :20], y[:20], "toy")


def test_batch_first_swaps_time_and_examples():
    data = _sequences()
    bf = exp.batch_first(data)
    assert bf.x_train.shape == (40, 12, 1) and bf.x_test.shape == (20, 12, 1)
    np.testing.assert_array_equal(bf.x_train[3, :, 0], data.x_train[:, 3, 0])
    assert bf.y_train is data.y_train and bf.x_train.flags.c_contiguous
    with pytest.raises(ValueError, match="data"):
        exp.batch_first(Split(np.zeros((4, 3)), np.zeros(4), np.zeros((2, 3)), np.zeros(2)))


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_sequence_classifier_reads_both_final_states_of_the_last_layer(kind):
    torch.manual_seed(0)
    model = exp.SequenceClassifier(kind, 1, 5, num_layers=2, bidirectional=True)
    x = torch.randn(3, 12, 1)
    out, _ = model.rnn(x.transpose(0, 1))
    expected = model.head(torch.cat([out[-1, :, :5], out[0, :, 5:]], dim=1))
    torch.testing.assert_close(model(x), expected)
    assert model(x).shape == (3, 10)
    with pytest.raises(ValueError, match="kind"):
        exp.SequenceClassifier("cnn")


def test_conv_classifier_shape_receptive_field_and_parameters():
    model = exp.ConvClassifier(8)
    assert model(torch.randn(4, 40, 1)).shape == (4, 10)
    assert exp.receptive_field_1d(model) == 32  # 5, then +4*2 after a pool, +4*4 after another
    assert exp.count_parameters(model) == (8 * 5 + 8) + 2 * (8 * 8 * 5 + 8) + (8 * 10 + 10)
    with pytest.raises(ValueError, match="channels"):
        exp.ConvClassifier(0)


def test_train_models_is_repeatable_and_reports_what_it_trained():
    data = exp.batch_first(_sequences())
    factories = {
        "gru": lambda: exp.SequenceClassifier("gru", 1, 4),
        "cnn": lambda: exp.ConvClassifier(4),
    }
    with one_thread(torch=True):  # tiny models: a second thread only adds overhead
        a = exp.train_models(data, factories, epochs=2, lr=1e-2, batch_size=16, device="cpu")
        b = exp.train_models(data, factories, epochs=2, lr=1e-2, batch_size=16, device="cpu")
    assert list(a) == ["gru", "cnn"]
    for name in a:
        assert len(a[name]["history"]) == 2 and a[name]["seconds"] > 0
        assert a[name]["params"] == exp.count_parameters(a[name]["model"])
        assert a[name]["history"]["test_acc"] == b[name]["history"]["test_acc"]
    with pytest.raises(ValueError, match="factories"):
        exp.train_models(data, {})


def test_step_time_is_positive_and_leaves_gradients():
    model = exp.ConvClassifier(4)
    x, y = torch.randn(8, 40, 1), torch.arange(8)
    seconds = exp.step_time(model, x, y, repeat=3)
    assert 0 < seconds < 1
    assert all(p.grad is not None for p in model.parameters())
    with pytest.raises(ValueError, match="repeat"):
        exp.step_time(model, x, y, repeat=0)


def test_epochs_to_finds_the_first_epoch_that_reaches_a_level():
    h = History(rows=[{"test_acc": a} for a in (0.5, 0.91, 0.89, 0.95)])
    assert exp.epochs_to(h, 0.9) == 2 and exp.epochs_to(h, 0.95) == 4
    assert exp.epochs_to(h, 0.99) is None
    with pytest.raises(ValueError, match="accuracy"):
        exp.epochs_to(h, 90)


class _SecondHalf(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 10)

    def forward(self, x):
        return self.fc(x[:, 6:, 0])


def test_time_saliency_is_zero_where_the_model_does_not_look():
    x, y = np.random.default_rng(0).standard_normal((8, 12, 1)), np.arange(8)
    s = exp.time_saliency(_SecondHalf(), x, y)
    assert s.shape == (12,) and (s[:6] == 0).all() and (s[6:] > 0).all()
    with pytest.raises(ValueError, match="x"):
        exp.time_saliency(_SecondHalf(), x[:, :, 0], y)


def test_offset_task_targets_are_shifted_inputs():
    x, y, mask = exp.offset_task(n=5, length=8, offsets=[-2, 0, 3], seed=0)
    bits = (x[..., 0] > 0).astype(np.float32)
    assert set(np.unique(x)) == {-1.0, 1.0} and y.shape == mask.shape == (8, 5, 3)
    np.testing.assert_array_equal(y[2:, :, 0], bits[:-2])
    np.testing.assert_array_equal(y[:, :, 1], bits)
    np.testing.assert_array_equal(y[:-3, :, 2], bits[3:])
    assert mask[:2, :, 0].sum() == 0 and mask[-3:, :, 2].sum() == 0 and mask[:, :, 1].all()
    with pytest.raises(ValueError, match="offsets"):
        exp.offset_task(length=4, offsets=[5])


def test_only_the_bidirectional_tagger_sees_the_future():
    offsets = [-1, 2]
    train, test = exp.offset_task(256, 10, offsets, seed=0), exp.offset_task(256, 10, offsets, 1)
    with one_thread(torch=True):
        uni = exp.train_tagger(train, test, False, hidden_size=12, epochs=8, batch_size=16)
        bi = exp.train_tagger(train, test, True, hidden_size=12, epochs=8, batch_size=16)
    assert uni[0] > 0.95 and bi[0] > 0.95 and bi[1] > 0.95
    assert abs(uni[1] - 0.5) < 0.1  # the future bit is independent of everything read so far


def test_figures_draw_and_check_their_arguments():
    fig = vd.grids_figure(4, 2)
    assert len(fig.axes) == 2
    plt.close(fig)
    anim = vd.schedule_animation(3, 2)
    assert anim._save_count == 2 * 3 + 1
    anim._func(2)  # a frame in the middle draws
    plt.close(anim._fig)
    with pytest.raises(ValueError, match="length"):
        vd.grids_figure(0, 2)
    m = np.tril(np.ones((4, 4)))
    fig = vd.sensitivity_figure([("a", m), ("b", m.T)])
    assert len(fig.axes) == 3  # two maps and a colour bar
    plt.close(fig)
    with pytest.raises(ValueError, match="accuracies"):
        vd.offset_figure(range(3), {"x": np.ones(2)})
    with pytest.raises(ValueError, match="panels"):
        vd.sensitivity_figure([])
    plt.close("all")


def test_explorer_reports_what_each_output_sees():
    panel = vd.explorer(length=6, hidden_size=3)
    info = panel.children[2]
    assert "s = 0 .. 5" in info.value  # 2 layers, bidirectional, forward half: everything
    layers, direction = panel.children[0].children
    layers.value = 1
    assert "s = 0 .. 3" in info.value  # one layer, forward half at t = 3: the past only
    direction.value = "unidirectional"
    assert "(both)" in info.value and "s = 0 .. 3" in info.value
    assert panel.children[3].value[:4] == b"\x89PNG"


def test_comparison_summary_quotes_each_models_numbers():
    def run(accs, params):
        return {"history": History(rows=[{"test_acc": a} for a in accs]), "params": params}

    results = {"a": run([0.5, 0.8, 0.92], 10), "b": run([0.91, 0.95, 0.96], 20)}
    s = exp.comparison_summary(results, {"a": "x", "b": "y"}, accuracy=0.9)
    assert s["acc_x"] == pytest.approx(92.0) and s["acc2_x"] == pytest.approx(80.0)
    assert (s["params_x"], s["ep90_x"], s["ep90_y"]) == (10, 3, 1)
    assert s["acc_y"] == pytest.approx(96.0) and s["acc_spread"] == pytest.approx(4.0)
    assert exp.comparison_summary(results, {"a": "x", "b": "y"}, accuracy=0.99)["ep90_x"] == 0
    with pytest.raises(ValueError, match="tags"):
        exp.comparison_summary(results, {"a": "x"})


def test_tagger_merges_the_two_directions_as_named():
    torch.manual_seed(0)
    x = torch.randn(5, 3, 1)
    wide = exp.Tagger(4, hidden_size=6, bidirectional=True)
    assert wide.head.in_features == 12
    out = wide.rnn(x)[0]
    forward, backward = out[..., :6], out[..., 6:]
    for merge, expected in (("sum", forward + backward), ("ave", (forward + backward) / 2),
                            ("mul", forward * backward)):  # fmt: skip
        tagger = exp.Tagger(4, hidden_size=6, bidirectional=True, merge=merge)
        tagger.rnn.load_state_dict(wide.rnn.state_dict())
        assert tagger.head.in_features == 6
        torch.testing.assert_close(tagger(x), tagger.head(expected))
    with pytest.raises(ValueError, match="merge must be one of"):
        exp.Tagger(4, merge="max")


def test_merge_study_records_every_epoch_of_every_seed():
    train = exp.offset_task(n=64, length=8, offsets=range(-1, 2), seed=0)
    test = exp.offset_task(n=32, length=8, offsets=range(-1, 2), seed=1)
    study = exp.merge_study(train, test, merges=("concat", "mul"), seeds=(0, 1), epochs=2,
                            hidden_size=4)  # fmt: skip
    assert set(study) == {"concat", "mul"}
    assert all(a.shape == (2, 2, 3) and ((a >= 0) & (a <= 1)).all() for a in study.values())
    last = exp.train_tagger(train, test, True, 4, 2, seed=1, merge="mul")
    np.testing.assert_array_equal(study["mul"][1, -1], last)  # the same run, read at its end
