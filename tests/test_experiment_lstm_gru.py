"""The LSTM and GRU chapter: its comparisons with torch, the gate read-outs (held to the
from-scratch layers' own outputs), the adding-problem models and the figures."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from dlbook.data.sequences import adding_problem
from dlbook.experiments import lstm_gru as E
from dlbook.scratch import gru, gru_backward, lstm, lstm_backward, rnn
from dlbook.viz import lstm_gru as V


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)
    yield
    plt.close("all")


def _weights(rng, gates, d, h, scale=0.6):
    return (
        scale * rng.standard_normal((gates * h, d)),
        scale * rng.standard_normal((gates * h, h)),
        scale * rng.standard_normal(gates * h),
        scale * rng.standard_normal(gates * h),
    )


@pytest.mark.parametrize("kind", list(E.KINDS))
@pytest.mark.parametrize("bias", [True, False])
def test_torch_pairs_agree_and_cover_every_gradient(kind, bias):
    pairs = E.torch_pairs(kind, bias, seq_len=5, batch=2, input_size=3, hidden_size=4, seed=3)
    grads = {"input", "hx", "weight_ih", "weight_hh"} | ({"cx"} if kind == "lstm" else set())
    grads |= {"bias_ih", "bias_hh"} if bias else set()
    finals = {"h_n", "c_n"} if kind == "lstm" else {"h_n"}
    assert set(pairs) == {"output"} | finals | {f"grad {g}" for g in grads}
    for name, (ours, theirs) in pairs.items():
        assert ours.shape == theirs.shape, name
        assert np.abs(theirs).max() > 0, name  # a comparison of zeros would prove nothing
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-10, err_msg=name)


def test_torch_comparison_merges_runs_with_and_without_bias():
    pairs = E.torch_comparison("gru")
    sizes = [(sh["seq_len"], sh["batch"], sh["input_size"], sh["hidden_size"]) for sh in E.SHAPES]
    assert pairs["output"][0].size == sum(2 * t * n * h for t, n, _, h in sizes)
    assert pairs["grad bias_hh"][0].size == sum(3 * h for *_, h in sizes)  # bias runs only
    assert max(np.abs(a - b).max() for a, b in pairs.values()) < 1e-10


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_gradcheck_layer_checks_every_argument(kind):
    result = E.gradcheck_layer(kind)
    expected = {"input", "hx", "weight_ih", "weight_hh", "bias_ih", "bias_hh"}
    assert set(result.errors) == expected | ({"cx"} if kind == "lstm" else set())
    assert result.ok, result.errors
    assert set(E.gradcheck_layer(kind, bias=False).errors) == set(result.errors) - {
        "bias_ih",
        "bias_hh",
    }


def test_bad_kind_is_refused():
    with pytest.raises(ValueError, match="kind"):
        E.torch_pairs("transformer")
    with pytest.raises(ValueError, match="kind"):
        E.AddingModel("lstm2")


def test_lstm_gates_reproduce_the_scratch_lstm(rng):
    x = rng.standard_normal((7, 3, 2))
    hx, cx = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    w = _weights(rng, 4, 2, 4)
    g = E.lstm_gates(x, hx, cx, *w)
    out, h_n, c_n = lstm(x, hx, cx, *w)
    assert set(g) == {"i", "f", "g", "o", "c", "h"}
    np.testing.assert_allclose(g["o"] * np.tanh(g["c"]), out, rtol=0, atol=1e-12)
    np.testing.assert_allclose(g["c"][-1], c_n, rtol=0, atol=1e-12)
    for k in "ifo":
        assert ((g[k] > 0) & (g[k] < 1)).all()
    # the chapter's claim: along the cell path, dc_t/dc_{t-1} = diag(f_t)
    _, _, grad_cx, *_ = lstm_backward(
        np.zeros((1, 3, 4)), x[:1], hx, cx, *w, grad_c_n=np.ones((3, 4))
    )
    np.testing.assert_allclose(grad_cx, g["f"][0], rtol=0, atol=1e-14)


def test_gru_gates_reproduce_the_scratch_gru(rng):
    x, hx = rng.standard_normal((6, 2, 3)), rng.standard_normal((2, 5))
    w = _weights(rng, 3, 3, 5)
    g = E.gru_gates(x, hx, *w)
    prev = np.concatenate([hx[None], g["h"][:-1]])
    np.testing.assert_allclose((1 - g["z"]) * g["n"] + g["z"] * prev, gru(x, hx, *w)[0], atol=1e-12)
    # without recurrent weights the only path from h_{t-1} to h_t is z_t * h_{t-1}
    w0 = (w[0], np.zeros_like(w[1]), w[2], w[3])
    z = E.gru_gates(x[:1], hx, *w0)["z"][0]
    grad_hx = gru_backward(np.zeros((1, 2, 5)), x[:1], hx, *w0, grad_h_n=np.ones((2, 5)))[1]
    np.testing.assert_allclose(grad_hx, z, rtol=0, atol=1e-14)


def test_gru_with_z_zero_and_r_one_is_a_plain_rnn(rng):
    x, hx = rng.standard_normal((5, 2, 3)), rng.standard_normal((2, 4))
    w_ih, w_hh, b_ih, b_hh = _weights(rng, 3, 3, 4)
    b_ih[:4], b_ih[4:8] = 60.0, -60.0  # r = 1, z = 0
    w_ih[:8], w_hh[:8] = 0.0, 0.0
    out = gru(x, hx, w_ih, w_hh, b_ih, b_hh)[0]
    ref = rnn(x, hx, w_ih[8:], w_hh[8:], b_ih[8:], b_hh[8:])[0]
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-12)


def test_adding_model_forget_bias_and_arguments():
    torch.manual_seed(0)
    m = E.AddingModel("lstm", 3, forget_bias=2.0)
    assert torch.equal(m.rnn.bias_ih_l0[3:6], torch.full((3,), 2.0))
    assert torch.equal(m.rnn.bias_hh_l0[3:6], torch.zeros(3))
    assert m(torch.zeros(4, 5, 2)).shape == (5,)
    counts = {k: sum(p.numel() for p in E.AddingModel(k, 8).rnn.parameters()) for k in E.KINDS}
    assert counts == {"rnn": 8 * (2 + 8 + 2), "lstm": 4 * 8 * 12, "gru": 3 * 8 * 12}
    with pytest.raises(ValueError, match="forget_bias"):
        E.AddingModel("gru", 3, forget_bias=1.0)
    with pytest.raises(ValueError, match="hidden_size"):
        E.AddingModel("rnn", 0)


def test_adding_model_identity_is_an_irnn():
    torch.manual_seed(0)
    m = E.AddingModel("rnn", 4, identity=True)
    assert m.rnn.nonlinearity == "relu"
    assert torch.equal(m.rnn.weight_hh_l0, torch.eye(4))
    assert not m.rnn.bias_ih_l0.any() and not m.rnn.bias_hh_l0.any()
    # With W_hh = I, zero biases and inputs that are 0 after the first step, a ReLU state keeps
    # its first value for ever.
    x = torch.zeros(7, 3, 2)
    x[0] = torch.randn(3, 2)
    out, _ = m.rnn(x)
    assert torch.allclose(out[-1], out[0])
    with pytest.raises(ValueError, match="identity"):
        E.AddingModel("lstm", 3, identity=True)


def test_train_adding_clips_the_gradient_norm():
    data = E.adding_data(length=5, n_train=64, n_test=16, seed=0)
    histories = []
    for max_norm in (None, 1e-6):
        torch.manual_seed(0)
        m = E.AddingModel("rnn", 4, identity=True)
        before = [p.detach().clone() for p in m.parameters()]
        histories.append(E.train_adding(m, data, steps=3, lr=1e-3, batch_size=8, every=1,
                                        max_norm=max_norm))  # fmt: skip
        moved = max((p.detach() - b).abs().max().item() for p, b in zip(m.parameters(), before))
        assert moved <= 3 * 1e-3 * 1.01  # Adam moves each weight by at most about lr per step
    # Both runs start from the same test error and stay finite; clipping changed the path.
    assert histories[0]["test_mse"][0] == histories[1]["test_mse"][0]
    assert all(np.isfinite(h["test_mse"]).all() for h in histories)
    assert histories[0]["test_mse"][1:] != histories[1]["test_mse"][1:]
    with pytest.raises(ValueError, match="max_norm"):
        E.train_adding(m, data, steps=1, max_norm=0)


@pytest.mark.parametrize("identity", [False, True])
def test_input_sensitivity_of_a_plain_rnn_matches_autograd(identity):
    torch.manual_seed(0)
    model = E.AddingModel("rnn", 5, identity=identity)
    x = torch.as_tensor(E.adding_data(length=6, n_test=8)["x_test"], dtype=torch.float64)
    x.requires_grad_()
    model.double()
    model(x).sum().backward()
    model.float()
    expected = x.grad.norm(dim=2).mean(1).flip(0).numpy()
    np.testing.assert_allclose(E.input_sensitivity(model, x.detach().numpy()), expected, rtol=1e-9)


def test_adding_data_baseline_is_the_variance_of_the_targets():
    d = E.adding_data(length=10, n_train=2000, n_test=2000, seed=4)
    assert d["x_train"].shape == (10, 2000, 2) and d["x_test"].shape == (10, 2000, 2)
    assert not np.array_equal(d["y_train"], d["y_test"])
    assert abs(d["baseline"] - 1 / 6) < 0.02
    with pytest.raises(ValueError, match="n_test"):
        E.adding_data(n_test=0)


@pytest.fixture(scope="module")
def tiny():
    torch.set_num_threads(1)
    data = E.adding_data(length=6, n_train=256, n_test=64, seed=0)
    models, hist = {}, {}
    for kind in E.KINDS:
        torch.manual_seed(0)
        models[kind] = E.AddingModel(kind, 6, forget_bias=1.0 if kind == "lstm" else None)
        hist[kind] = E.train_adding(models[kind], data, steps=40, lr=1e-2, batch_size=32, every=10)
    return data, models, hist


def test_train_adding_records_and_repeats(tiny):
    data, models, hist = tiny
    assert hist["gru"]["step"] == [0, 10, 20, 30, 40]
    assert hist["gru"]["test_mse"][-1] < hist["gru"]["test_mse"][0]
    # Repeated with the same seeds, a run repeats exactly. (Both runs here, not one against the
    # module fixture's: the fixture is built before the per-test DLBOOK_SEED reset of conftest.)
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        again = E.AddingModel("gru", 6)
        runs.append(E.train_adding(again, data, steps=40, batch_size=32, every=10))
    assert runs[0] == runs[1]
    with pytest.raises(ValueError, match="steps"):
        E.train_adding(again, data, steps=0)


@pytest.mark.parametrize("kind", list(E.KINDS))
def test_input_sensitivity_matches_autograd(tiny, kind):
    data, models, _ = tiny
    model = models[kind]
    x = torch.as_tensor(data["x_test"][:, :16], dtype=torch.float64).requires_grad_()
    model.double()
    try:
        model(x).sum().backward()  # each prediction depends on its own sequence only
    finally:
        model.float()
    expected = x.grad.norm(dim=2).mean(1).flip(0).numpy()
    np.testing.assert_allclose(E.input_sensitivity(model, x.detach().numpy()), expected, rtol=1e-9)
    with pytest.raises(ValueError, match="x"):
        E.input_sensitivity(model, np.zeros((4, 3, 1)))


def test_model_gates_and_forget_shift_agree_with_the_torch_model(tiny):
    data, models, _ = tiny
    x, y = data["x_test"], data["y_test"]
    expected = {}
    for kind in ("lstm", "gru"):
        with torch.no_grad():
            expected[kind] = models[kind](torch.as_tensor(x)).numpy().astype(np.float64)
        y_hat = E.model_gates(models[kind], x)["y_hat"]
        np.testing.assert_allclose(y_hat, expected[kind], atol=1e-5)
    mse = E.forget_shift_mse(models["lstm"], x, y, [0.0, 2.0])
    assert mse[0] == pytest.approx(np.mean((expected["lstm"] - y) ** 2), abs=1e-5)
    assert mse[1] != mse[0]
    shifted = E.model_gates(models["lstm"], x, forget_shift=2.0)["f"]
    assert shifted.mean() > E.model_gates(models["lstm"], x)["f"].mean()
    with pytest.raises(ValueError, match="lstm"):
        E.forget_shift_mse(models["gru"], x, y, [0.0])
    with pytest.raises(ValueError, match="forget_shift"):
        E.model_gates(models["gru"], x, forget_shift=1.0)


def test_length_mse_is_the_error_on_fresh_sequences(tiny):
    _, models, _ = tiny
    x, y = adding_problem(16, 9, seed=5)
    expected = np.mean((E.model_gates(models["gru"], x)["y_hat"] - y) ** 2)
    assert E.length_mse(models["gru"], [9], n=16, seed=5)[0] == pytest.approx(expected)


def test_memory_unit_finds_the_unit_that_holds_the_target(rng):
    y = rng.random(50)
    values = rng.standard_normal((4, 50, 5))
    values[-1, :, 3] = 2 - 0.5 * y
    assert E.memory_unit(values, y) == (3, pytest.approx(-1.0))
    with pytest.raises(ValueError, match="values"):
        E.memory_unit(values[:, :10], y)


def test_figures_draw(tiny):
    data, models, hist = tiny
    for kind in ("lstm", "gru"):
        assert len(V.cell_diagram(kind).axes[0].patches) >= 6
    with pytest.raises(ValueError, match="kind"):
        V.cell_diagram("rnn")
    x = data["x_test"][:, :4]
    gl, gg = E.model_gates(models["lstm"], x), E.model_gates(models["gru"], x)
    assert len(V.gates_figure(x, gl, gg, 1, 0, 2).axes) == 6  # five panels and a colorbar
    anim = V.cell_animation(x, gl, 0, 1, every=4)
    assert list(anim.new_frame_seq()) == [4, 6]  # the last frame is always the last step
    prof = {k: E.input_sensitivity(m, x) for k, m in models.items()}
    assert len(V.sensitivity_figure({"a": prof, "b": prof}).axes) == 2
    V.curves_figure(hist, data["baseline"])
    by_shift = {s: E.model_gates(models["lstm"], x, s) for s in (-1.0, 0.0)}
    lengths = [4, 8]
    by_length = {"LSTM": E.length_mse(models["lstm"], lengths, n=8)}
    fig = V.knobs_figure(by_shift, 0, 1, [-1.0, 0.0], [0.2, 0.1], lengths, by_length, 0.17)
    assert len(fig.axes) == 3


def test_figures_refuse_bad_arguments(tiny):
    data, models, hist = tiny
    x = data["x_test"][:, :4]
    g = E.model_gates(models["lstm"], x)
    with pytest.raises(ValueError, match="example"):
        V.cell_animation(x, g, 4, 0)
    with pytest.raises(ValueError, match="every"):
        V.cell_animation(x, g, 0, 0, every=0)
    with pytest.raises(ValueError, match="x"):
        V.gates_figure(x[..., :1], g, g, 0, 0, 0)
    with pytest.raises(ValueError, match="mse"):
        V.knobs_figure({0.0: g}, 0, 0, [0.0, 1.0], [0.1], [4], {}, 0.17)
    with pytest.raises(ValueError, match="histories"):
        V.curves_figure({}, 0.17)
    with pytest.raises(ValueError, match="n"):
        V.explorer(models["lstm"], 0, n=0)
    with pytest.raises(ValueError, match="lr"):
        E.train_adding(models["rnn"], data, steps=1, lr=0.0)
    with pytest.raises(ValueError, match="hidden_size"):
        E.torch_pairs("gru", hidden_size=0)


def test_explorer_redraws_on_change(tiny):
    _, models, _ = tiny
    panel = V.explorer(models["lstm"], unit=0, length=20, n=4)
    sliders, info, picture = panel.children[0].children, panel.children[1], panel.children[2]
    first, text = picture.value, info.value
    assert first[:4] == b"\x89PNG" and "prediction" in text
    sliders[1].value = -2.0  # the forget-gate shift
    assert picture.value != first and info.value != text


def test_memory_stats_reads_the_gates_at_and_away_from_the_markers():
    t, n, h = 5, 3, 4
    marks = np.zeros((t, n), dtype=bool)
    marks[1], marks[3, 0] = True, True
    full = lambda v: np.full((t, n, h), v)  # noqa: E731
    g_lstm = {"i": full(0.2), "f": full(0.9), "o": full(0.7)}
    g_lstm["i"][..., 2] = np.where(marks, 0.8, 0.05)  # the memory unit opens at the markers
    g_lstm["f"][..., 2] = np.where(marks, 0.1, 0.99)
    g_lstm["f"][4, 1, 2] = 0.95
    g_gru = {"z": full(0.5)}
    g_gru["z"][..., 1] = np.where(marks, 0.3, 0.9)
    init = {"f": full(0.5), "z": full(0.4)}
    s = E.memory_stats(g_lstm, 2, g_gru, 1, marks, init, init, span=3)
    assert s["i_mark"] == pytest.approx(0.8) and s["i_rest"] == pytest.approx(0.05)
    rest = g_lstm["f"][..., 2][~marks]
    assert s["f_rest"] == pytest.approx(rest.mean()) and s["f_min"] == pytest.approx(0.95)
    assert s["i_mark_all"] == pytest.approx((3 * 0.2 + 0.8) / 4)
    assert s["i_rest_all"] == pytest.approx((3 * 0.2 + 0.05) / 4)
    assert s["o_unit"] == pytest.approx(0.7)
    assert (s["z_mark"], s["z_rest"]) == (pytest.approx(0.3), pytest.approx(0.9))
    assert (s["f_unit_init"], s["z_unit_init"]) == (pytest.approx(0.5), pytest.approx(0.4))
    assert s["pow_init"] == pytest.approx(0.125) and s["pow_trained"] == pytest.approx(
        rest.mean() ** 3
    )
    assert all(type(v) is float for v in s.values())
    with pytest.raises(ValueError, match="marks"):
        E.memory_stats(g_lstm, 2, g_gru, 1, marks[:, :2], init, init)
