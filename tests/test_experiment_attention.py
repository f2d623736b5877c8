"""The attention chapter's experiments and figures: the score statistics, masks, the cases held
to torch, the associative-recall task, the two models, their training loop and the plots."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from dlbook.experiments import attention as exp  # noqa: E402
from dlbook.scratch import (  # noqa: E402
    scaled_dot_product_attention,
    scaled_dot_product_attention_backward,
)
from dlbook.timing import one_thread  # noqa: E402
from dlbook.viz import attention as va  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # Tiny models: on a busy machine a second thread makes them many times slower.
    with one_thread(torch=True):
        yield


def test_score_statistics_show_sqrt_d_growth_and_saturation():
    st = exp.score_statistics(dims=(4, 64, 1024), keys=8, samples=300)
    np.testing.assert_allclose(st["std_scaled"], 1.0, atol=0.1)
    np.testing.assert_allclose(st["std_raw"] / st["std_scaled"], np.sqrt([4, 64, 1024]))
    assert np.all(np.diff(st["max_raw"]) > 0) and st["max_raw"][-1] > 0.9
    assert np.all(np.diff(st["jac_raw"]) < 0) and st["jac_raw"][-1] < 0.5 * st["jac_scaled"][-1]
    with pytest.raises(ValueError, match="dims"):
        exp.score_statistics(dims=(4, 0))
    with pytest.raises(ValueError, match="keys"):
        exp.score_statistics(keys=1)


def test_padding_mask_hides_the_keys_after_each_length():
    m = exp.padding_mask(np.array([3, 1]), 4)
    assert m.shape == (2, 1, 4) and m.dtype == bool
    assert m[:, 0].tolist() == [[True, True, True, False], [True, False, False, False]]
    with pytest.raises(ValueError, match="lengths"):
        exp.padding_mask(np.array([0, 2]), 4)
    with pytest.raises(ValueError, match="lengths"):
        exp.padding_mask(np.array([5]), 4)


def test_verification_cases_match_torch_through_torch_attention():
    rng = np.random.default_rng(1)
    for name, (q, k, v, kw) in exp.verification_cases().items():
        out = scaled_dot_product_attention(q, k, v, **kw)
        g = rng.standard_normal(out.shape)
        ref = exp.torch_attention(q, k, v, g, **kw)
        ours = (out, *scaled_dot_product_attention_backward(g, q, k, v, **kw))
        for a, b in zip(ours, ref):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-10, err_msg=name)
    q, k, v, _ = exp.verification_cases()["no mask, L=5, S=7"]
    with pytest.raises(ValueError, match="grad_output"):
        exp.torch_attention(q, k, v, np.zeros((2, 5, 4)))


def test_associative_recall_puts_the_answer_after_the_queried_key():
    x, y, which = exp.associative_recall(200, pairs=5, keys=6, values=4, seed=3)
    assert x.shape == (12, 200) and y.shape == which.shape == (200,)
    cols = np.arange(200)
    assert (x[2 * which, cols] == x[-1]).all()  # the query is the key of pair `which`
    assert (x[2 * which + 1, cols] == 6 + y).all()  # ... and the answer is its value
    assert (x[-2] == 10).all() and (y < 4).all()
    keys = x[0:10:2]
    assert all(len(set(keys[:, n])) == 5 for n in range(200))  # distinct keys
    assert exp.decode(x[:, 0], keys=6, values=4)[-2] == "?"
    with pytest.raises(ValueError, match="pairs"):
        exp.associative_recall(10, pairs=7, keys=6)


def test_frequency_baseline_counts_the_most_common_value():
    # values are tokens 16..23; sequences: (a 0, b 0, ?, a) and (a 0, b 1, ?, b)
    x = np.array([[0, 16, 1, 16, 24, 0], [0, 16, 1, 17, 24, 1]]).T
    assert exp.frequency_baseline(x, np.array([0, 1])) == pytest.approx((1.0 + 0.5) / 2)
    x1, y1, _ = exp.associative_recall(50, pairs=1)
    assert exp.frequency_baseline(x1, y1) == 1.0
    with pytest.raises(ValueError, match="x must be"):
        exp.frequency_baseline(x, np.array([0]))


def test_sinusoidal_positions_follow_the_formula():
    pe = exp.sinusoidal_positions(10, 8)
    assert pe.shape == (10, 8)
    np.testing.assert_allclose(pe[0, 0::2], 0.0)
    np.testing.assert_allclose(pe[0, 1::2], 1.0)
    assert pe[7, 2].item() == pytest.approx(np.sin(7 / 10000 ** (2 / 8)), abs=1e-6)
    assert pe[7, 5].item() == pytest.approx(np.cos(7 / 10000 ** (4 / 8)), abs=1e-6)
    with pytest.raises(ValueError, match="d_model"):
        exp.sinusoidal_positions(4, 7)


def test_recorded_weights_are_the_ones_sdpa_uses():
    model = exp.make_model("attention", pairs=3, heads=2)
    x, _, _ = exp.associative_recall(5, pairs=3)
    x = torch.from_numpy(x)
    with torch.no_grad():
        fused, record = model(x), []
        explicit = model(x, record)
    torch.testing.assert_close(fused, explicit, rtol=1e-5, atol=1e-5)
    maps = model.attention_maps(x)
    assert len(maps) == 2 and maps[0].shape == (5, 2, 8, 8)
    torch.testing.assert_close(maps[1].sum(-1), torch.ones(5, 2, 8))
    assert (maps[0].triu(1) == 0).all()  # causal: nothing above the diagonal


def test_without_positions_or_causality_the_order_is_invisible():
    model = exp.make_model("attention", pairs=4, causal=False, positions=False)
    x, _, _ = exp.associative_recall(6, pairs=4)
    x = torch.from_numpy(x)
    perm = torch.cat(
        [torch.randperm(9, generator=torch.Generator().manual_seed(0)), torch.tensor([9])]
    )
    with torch.no_grad():
        torch.testing.assert_close(model(x), model(x[perm]))
        assert not torch.allclose(model(x), exp.make_model("attention", pairs=4)(x[perm]))


def test_models_have_similar_sizes_and_shapes():
    att, lstm = exp.make_model("attention", 8), exp.make_model("LSTM", 8)
    assert abs(exp.count_parameters(att) / exp.count_parameters(lstm) - 1) < 0.1
    x = torch.from_numpy(exp.associative_recall(3, pairs=8)[0])
    assert att(x).shape == lstm(x).shape == (3, 8)
    with pytest.raises(ValueError, match="kind"):
        exp.make_model("gru", 8)
    with pytest.raises(ValueError, match="d_model"):
        exp.make_model("attention", 8, d_model=30, heads=4)


def test_train_recall_learns_one_pair_and_records_maps():
    probe = exp.associative_recall(3, pairs=1, seed=5)[0]
    hist = exp.train_recall(exp.make_model("attention", 1), 1, steps=60, eval_every=20,
                            n_test=200, probe=probe)  # fmt: skip
    assert hist["step"] == [20, 40, 60] and len(hist["maps"]) == 3
    assert hist["maps"][-1][1].shape == (3, 1, 4, 4)
    assert hist["test_acc"] > 0.9 and hist["loss"][-1] < hist["loss"][0]
    assert hist["acc_by_pair"].shape == (1,)
    with pytest.raises(ValueError, match="lr"):
        exp.train_recall(exp.make_model("LSTM", 1), 1, lr=0)
    with pytest.raises(ValueError, match="steps"):
        exp.train_recall(exp.make_model("LSTM", 1), 1, steps=0)


def test_length_sweep_trains_both_models_and_records_the_last_probe():
    probe = exp.associative_recall(2, pairs=2, seed=5)[0]
    hists, models = exp.length_sweep((1, 2), steps=40, probe=probe, eval_every=20)
    assert set(hists) == {"attention", "LSTM"} and set(hists["LSTM"]) == {1, 2}
    assert hists["attention"][1]["maps"] == [] and len(hists["attention"][2]["maps"]) == 2
    for kind in hists:  # a curve at the last pair count only; the others are evaluated once
        assert hists[kind][1]["step"] == [40] and hists[kind][2]["step"] == [20, 40]
    assert isinstance(models["LSTM"], exp.RecallLSTM)


def test_focus_finds_the_right_and_the_wrong_place():
    t, which = 6, np.array([0, 1])
    right = [np.zeros((2, 1, t, t)), np.zeros((2, 1, t, t))]
    for pos in (1, 3):
        right[0][:, 0, pos, pos - 1] = 1
    right[1][[0, 1], 0, -1, 2 * which + 1] = 1
    assert exp.focus(right, which) == {"query": 1.0, "previous key": 1.0}
    wrong = [np.roll(m, 1, axis=-1) for m in right]
    assert exp.focus(wrong, which) == {"query": 0.0, "previous key": 0.0}
    with pytest.raises(ValueError, match="which"):
        exp.focus(right, np.array([0]))


def test_figures_and_widgets_build():
    rng = np.random.default_rng(0)
    q, k = rng.standard_normal((6, 4)), rng.standard_normal((6, 4))
    w, keep = va.mask_weights(q, k, "padding", length=2)
    assert (w[:, 2:] == 0).all() and np.allclose(w.sum(1), 1) and keep.shape == (6, 6)
    with pytest.raises(ValueError, match="mask"):
        va.mask_weights(q, k, "diagonal")
    with pytest.raises(ValueError, match="weights"):
        va.heatmap(plt.gca(), np.ones(3))
    st = exp.score_statistics(dims=(4, 16), samples=20)
    for fig in (va.lookup_figure(), va.scaling_figure(st), va.masks_figure(q, k, 3),
                va.explorer_grid(q, k, (0.5, 2.0))):  # fmt: skip
        assert isinstance(fig, plt.Figure)
    anim = va.scale_animation(q, k, np.geomspace(0.1, 10, 4))
    assert anim._save_count == 4
    panel = va.explorer(q, k)
    assert panel.children[1].value[:4] == b"\x89PNG"
    plt.close("all")


def test_recall_figures_and_animation_build():
    probe, _, which = exp.associative_recall(3, pairs=2, seed=1)
    hists, _ = exp.length_sweep((1, 2), steps=25, probe=probe)
    texts = [exp.decode(probe[:, i]) for i in range(3)]
    h = hists["attention"][2]
    assert isinstance(va.recall_maps_figure(h["maps"][-1], texts, which), plt.Figure)
    assert isinstance(va.curves_figure({k: hists[k][2] for k in hists}), plt.Figure)
    acc = {k: [hists[k][p]["test_acc"] for p in (1, 2)] for k in hists}
    by_pair = {k: hists[k][2]["acc_by_pair"] for k in hists}
    assert isinstance(va.length_figure([1, 2], acc, by_pair, {"chance": [0.125] * 2}), plt.Figure)
    anim = va.training_animation(h, texts, which)
    assert anim._save_count == len(h["maps"])
    h3 = {"step": [10, 20, 30], "acc": [0.1, 0.5, 0.9], "maps": [h["maps"][-1]] * 3}
    assert va.training_animation(h3, texts, which, every=2)._save_count == 2  # records 1 and 3
    with pytest.raises(ValueError, match="every"):
        va.training_animation(h, texts, which, every=0)
    plt.close("all")
