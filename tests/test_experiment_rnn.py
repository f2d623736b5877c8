"""The RNN chapter's experiments and figures: gradients across time, clipping, the character
model, and the viz functions that draw them."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from torch import nn

from dlbook.data.sequences import CharCorpus
from dlbook.experiments import rnn as exp
from dlbook.viz import rnn as vr

TEXT = "def f(x):\n    return x + 1\n\nclass A:\n    pass\n" * 20


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_recurrent_weight_has_the_asked_spectral_radius_and_singular_values():
    w = exp.recurrent_weight(32, 1.7, seed=3)
    assert w.shape == (32, 32)
    assert exp.spectral_radius(w) == pytest.approx(1.7, rel=1e-10)
    assert exp.largest_singular_value(w) > 1.7  # a Gaussian matrix is not normal
    q = exp.recurrent_weight(16, 0.8, "orthogonal", seed=1)
    np.testing.assert_allclose(np.linalg.svd(q, compute_uv=False), 0.8, rtol=1e-12)
    np.testing.assert_array_equal(
        exp.recurrent_weight(8, 1.0, seed=2), exp.recurrent_weight(8, 1.0, seed=2)
    )


@pytest.mark.parametrize(
    "kwargs, match",
    [({"radius": 0.0}, "radius"), ({"radius": -1.0}, "radius"), ({"kind": "uniform"}, "kind"),
     ({"hidden": 0}, "hidden")],
)  # fmt: skip
def test_recurrent_weight_refuses_bad_arguments(kwargs, match):
    args = {"hidden": 4, "radius": 1.0} | kwargs
    with pytest.raises(ValueError, match=match):
        exp.recurrent_weight(**args)


def test_gradients_of_a_linear_regime_orthogonal_rnn_shrink_exactly_like_rho_to_the_k():
    # Zero input keeps every state at 0, where tanh' = 1: the Jacobian product is W^k, and an
    # orthogonal W times rho scales every vector by exactly rho per step.
    w = exp.recurrent_weight(12, 0.8, "orthogonal", seed=0)
    run = exp.gradient_through_time(w, length=20, batch=3, input_scale=0.0)
    assert run.hidden.shape == (20, 3, 12) and run.grad_norms.shape == (21, 3)
    np.testing.assert_allclose(run.grad_norms[:, 0], 0.8 ** np.arange(20, -1, -1), rtol=1e-10)
    assert run.ratio(10) == pytest.approx(0.8**10, rel=1e-10)
    assert run.factor(2, 12) == pytest.approx(0.8, rel=1e-10)


def test_gradients_through_time_agree_with_torch_autograd():
    w = exp.recurrent_weight(6, 1.3, seed=0)
    run = exp.gradient_through_time(w, length=8, batch=2, input_scale=0.5, seed=4)
    # Rebuild the same inputs and loss direction, and let autograd do BPTT.
    rng = np.random.default_rng(4)
    x = torch.tensor(rng.standard_normal((8, 2, 6)) * 0.5)
    u = rng.standard_normal((2, 6))
    u = torch.tensor(u / np.linalg.norm(u, axis=1, keepdims=True))
    wt, hs = torch.tensor(w), [torch.zeros(2, 6, dtype=torch.float64, requires_grad=True)]
    for t in range(8):
        hs.append(torch.tanh(x[t] + hs[-1] @ wt.T))
        hs[-1].retain_grad()
    (hs[-1] * u).sum().backward()
    norms = torch.stack([h.grad.norm(dim=1) for h in hs]).numpy()
    np.testing.assert_allclose(run.grad_norms, norms, rtol=1e-10)
    np.testing.assert_allclose(run.hidden, torch.stack(hs[1:]).detach().numpy(), atol=1e-12)


def test_gradient_profile_vanishes_for_small_radius_and_explodes_for_large():
    small = exp.gradient_through_time(exp.recurrent_weight(32, 0.5), length=60, batch=4)
    large = exp.gradient_through_time(exp.recurrent_weight(32, 3.0), length=60, batch=4)
    assert small.ratio(50) < 1e-10 and large.ratio(50) > 1e3
    assert small.factor(5, 50) == pytest.approx(0.5, abs=0.05)
    with pytest.raises(ValueError, match="back"):
        small.ratio(61)
    with pytest.raises(ValueError, match="start"):
        small.factor(30, 10)
    with pytest.raises(ValueError, match="weight_hh"):
        exp.gradient_through_time(np.ones((3, 4)))
    with pytest.raises(ValueError, match="input_scale"):
        exp.gradient_through_time(np.eye(3), input_scale=-1.0)


def test_clipping_stops_the_sine_run_from_blowing_up():
    wild = exp.train_sine(1.5, lr=0.3, steps=40, seed=0)
    tame = exp.train_sine(1.5, lr=0.3, steps=40, max_norm=1.0, seed=0)
    assert wild["losses"].max() > 1e3 and wild["norms"].max() > 1e3
    assert tame["diverged_at"] is None and np.all(tame["losses"][10:] < 1.0)
    assert tame["losses"][-5:].mean() < tame["losses"][0]
    assert tame["norms"].max() > 1.0  # recorded before clipping
    assert np.linalg.norm(np.concatenate([g.ravel() for g in tame["spike"]])) == pytest.approx(
        tame["norms"].max()
    )
    by_value = exp.train_sine(1.5, lr=0.3, steps=5, clip_value=1e-3, seed=0)
    assert len(by_value["losses"]) == 5
    with pytest.raises(ValueError, match="max_norm"):
        exp.train_sine(max_norm=0.0)
    with pytest.raises(ValueError, match="lr"):
        exp.train_sine(lr=-1.0)


def test_clip_directions_norm_keeps_the_direction_value_turns_it():
    grads = [np.array([[3.0, 0.5], [-0.2, 0.1]]), np.array([2.0])]
    d = exp.clip_directions(grads, max_norm=1.0, clip_value=0.3)
    assert d["norm"] == pytest.approx(np.sqrt(9 + 0.25 + 0.04 + 0.01 + 4))
    assert d["by_norm_norm"] == pytest.approx(1.0, abs=1e-6)
    assert d["by_norm_cos"] == pytest.approx(1.0, abs=1e-12)
    assert d["by_value_cos"] < 0.9
    assert grads[0][0, 0] == 3.0  # the originals are untouched
    with pytest.raises(ValueError, match="clip_value"):
        exp.clip_directions(grads, 1.0, 0)


def test_one_hot_and_parallel_streams():
    h = exp.one_hot(np.array([[0, 2], [1, 1]]), 3)
    assert h.shape == (2, 2, 3) and h.dtype == np.float32
    np.testing.assert_array_equal(h.argmax(-1), [[0, 2], [1, 1]])
    with pytest.raises(ValueError, match="ids"):
        exp.one_hot(np.array([3]), 3)
    x, y = exp.parallel_streams(np.arange(11), 2)
    np.testing.assert_array_equal(x, [[0, 5], [1, 6], [2, 7], [3, 8], [4, 9]])
    np.testing.assert_array_equal(y, x + 1)
    with pytest.raises(ValueError, match="too short"):
        exp.parallel_streams(np.arange(3), 5)


def test_unigram_loss_is_log_vocab_for_uniform_counts():
    ids = np.arange(4).repeat(10)
    assert exp.unigram_loss(ids, ids, 4) == pytest.approx(np.log(4))
    assert exp.unigram_loss(np.zeros(10, int), [1], 2) == pytest.approx(np.log(12))


def test_bigram_loss_counts_pairs_with_add_alpha_smoothing():
    # 0 is always followed by 1, 1 by 0: with add-one, P(1 | 0) = (n + 1) / (n + 2).
    ids = np.tile([0, 1], 10)
    n = 10  # pairs (0, 1) in the training text
    assert exp.bigram_loss(ids, [0, 1], 2) == pytest.approx(-np.log((n + 1) / (n + 2)))
    # A pair never seen costs log of its smoothed share; less smoothing makes it dearer.
    unseen = [0, 0]
    assert exp.bigram_loss(ids, unseen, 2) == pytest.approx(-np.log(1 / (n + 2)))
    assert exp.bigram_loss(ids, unseen, 2, alpha=0.1) > exp.bigram_loss(ids, unseen, 2)
    # On a text whose next character follows from the last one, the bigram beats the unigram.
    corpus = CharCorpus(TEXT)
    train, test = corpus.split(0.8)
    v = corpus.vocab_size
    assert exp.bigram_loss(train, test, v) < exp.unigram_loss(train, test, v)
    with pytest.raises(ValueError, match="alpha"):
        exp.bigram_loss(ids, ids, 2, alpha=0)
    with pytest.raises(ValueError, match="two characters"):
        exp.bigram_loss(ids, [1], 2)


def test_char_model_trains_samples_and_matches_torch():
    corpus = CharCorpus(TEXT)
    v = corpus.vocab_size
    train, test = corpus.split(0.8)
    model, readout = exp.char_model(v, hidden=16, seed=0)
    before = exp.char_loss(model, readout, test, n_streams=2)
    assert before == pytest.approx(np.log(v), abs=0.3)
    run = exp.train_char(train, v, hidden=16, length=10, batch=4, epochs=3, lr=1e-2, seed=0)
    assert len(run.losses) == len(run.norms) == 3 * int(np.ceil(((len(train) - 1) // 4) / 10))
    after = exp.char_loss(run.model, run.readout, test, n_streams=2)
    assert after < before - 1.0 and run.cpu_seconds > 0
    text = exp.sample(run.model, run.readout, corpus, "def", length=30, seed=1)
    assert text.startswith("def") and len(text) == 33 and set(text) <= set(corpus.chars)
    assert text == exp.sample(run.model, run.readout, corpus, "def", length=30, seed=1)
    # The same weights in nn.RNN give the same loss.
    net = nn.RNN(v, 16)
    net.load_state_dict({k: torch.from_numpy(a) for k, a in run.model.named_params().items()})
    x, y = exp.parallel_streams(test, 2)
    with torch.no_grad():
        out, _ = net(torch.from_numpy(exp.one_hot(x, v)))
        logits = out @ torch.from_numpy(run.readout.weight).T + torch.from_numpy(run.readout.bias)
        ref = nn.functional.cross_entropy(logits.reshape(-1, v), torch.from_numpy(y.reshape(-1)))
    assert after == pytest.approx(ref.item(), abs=1e-5)
    with pytest.raises(ValueError, match="prompt"):
        exp.sample(run.model, run.readout, corpus, "")
    with pytest.raises(ValueError, match="temperature"):
        exp.sample(run.model, run.readout, corpus, "d", temperature=0)


def test_rnn_output_is_the_output_of_rnn():
    rng = np.random.default_rng(0)
    x, w_ih, w_hh = rng.standard_normal((4, 2, 3)), rng.standard_normal((5, 3)), np.eye(5) / 2
    out = exp.rnn_output(x, None, w_ih, w_hh, nonlinearity="relu")
    assert out.shape == (4, 2, 5) and np.all(out >= 0)


def test_figures_draw_and_check_their_arguments():
    runs = {f"r{r}": exp.gradient_through_time(exp.recurrent_weight(8, r), 6, 2) for r in (0.5, 2)}
    anim = vr.bptt_animation(runs, units=4)
    assert anim._save_count == 14  # 6 forward frames, 7 backward frames, and the empty start
    anim._func(9)  # a backward frame draws without error
    assert len(anim._fig.axes) == 4
    fig = vr.gradient_figure({k: r.profile for k, r in runs.items()}, {"r0.5": 0.5},
                             [(0.5, 0.4, 0.9), (2.0, 1.2, 3.0)])  # fmt: skip
    assert len(fig.axes) == 2
    assert len(vr.unrolled_figure(3).axes) == 2
    assert len(vr.explorer_grid([(0.9, 20, "gaussian"), (1.0, 20, "orthogonal")]).axes) == 2
    sine = {"a": exp.train_sine(1.5, 0.3, 12), "b": exp.train_sine(1.5, 0.3, 12, max_norm=1.0)}
    assert len(vr.clipping_figure(sine, max_norm=1.0).axes) == 2
    assert vr.clip_direction_figure((2.0, 1.0)).axes[0].get_aspect() == 1.0
    assert len(vr.char_figure(np.linspace(5, 2, 50), {"u": 5.0}, {"end": (49, 2.1)}).axes) == 1
    with pytest.raises(ValueError, match="steps"):
        vr.unrolled_figure(1)
    with pytest.raises(ValueError, match="runs"):
        vr.bptt_animation({})
    with pytest.raises(ValueError, match="grad"):
        vr.clip_direction_figure((1.0, 2.0, 3.0))
    with pytest.raises(ValueError, match="losses"):
        vr.char_figure([1.0, 2.0], {}, smooth=5)
    with pytest.raises(ValueError, match="settings"):
        vr.explorer_grid([])


def test_explorer_builds_and_reacts_to_its_sliders():
    panel = vr.explorer(radius=0.9, length=20)
    sliders, info, picture = panel.children[0].children, panel.children[1], panel.children[2]
    first = picture.value
    assert first[:4] == b"\x89PNG" and "20 steps back" in info.value
    sliders[1].value = 40
    assert "40 steps back" in info.value and picture.value != first


def test_torch_pairs_agree_and_cover_every_case():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    sizes = dict(seq_len=3, batch=2, input_size=2, hidden_size=3)
    pairs = exp.functional_pairs(rng, **sizes) | exp.layer_pairs(rng, **sizes)
    pairs |= exp.clipping_pairs(rng)
    # 2 nonlinearities x (with biases: 8 rows, without: 6), 3 layer rows, 2 clipping rows
    assert len(pairs) == 2 * (8 + 6) + 3 + 2
    assert "relu, bias=False: grad weight_hh" in pairs and "tanh, bias=True: grad bias_hh" in pairs
    for name, (ours, theirs) in pairs.items():
        assert np.shape(ours) == np.shape(theirs), name
        assert np.abs(ours - theirs).max() <= 1e-10, name
        assert np.abs(ours).max() > 0, name  # nothing vacuous
    with pytest.raises(ValueError, match="hidden_size"):
        exp.functional_pairs(rng, hidden_size=0)


def test_layer_pairs_notice_a_layer_that_differs_from_torch(monkeypatch):
    real = exp.RNN.forward

    def one_percent_off(self, input, hx=None):
        out, h_n = real(self, input, hx)
        return out * 1.01, h_n

    monkeypatch.setattr(exp.RNN, "forward", one_percent_off)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    pairs = exp.layer_pairs(rng, seq_len=3, batch=2, input_size=2, hidden_size=3)
    ours, theirs = pairs["layer RNN: output"]
    assert np.abs(ours - theirs).max() > 1e-4


def test_char_baselines_are_the_losses_they_name():
    ids = np.array([0, 1, 2, 0, 1, 2, 0, 1, 3, 0, 1, 2])
    train, test = ids[:8], ids[8:]
    b = exp.char_baselines(train, test, 4, alphas=(1.0, 0.1))
    assert b["uniform"] == pytest.approx(np.log(4))
    assert b["unigram"] == {
        "train": exp.unigram_loss(train, train, 4),
        "test": exp.unigram_loss(train, test, 4),
    }
    assert b["bigram"]["test"] == exp.bigram_loss(train, test, 4)
    assert b["bigram_best"] == min(exp.bigram_loss(train, test, 4, alpha=a) for a in (1.0, 0.1))
    assert b["bigram"]["train"] < b["unigram"]["train"] < b["uniform"]
