"""The Transformer chapter's experiments: scratch multi-head attention and the pre-norm block
against torch and finite differences, what heads and positions do, and the character models."""

import numpy as np
import pytest
import torch

from dlbook.experiments import transformer as exp
from dlbook.verify import compare


def test_scratch_attention_and_block_equal_torch_forward_and_backward():
    mha = compare(exp.mha_pairs(seed=3))
    assert mha.ok, mha
    assert len(mha.errors) == 18  # 2 set-ups x (output, weights, 7 gradients)
    block = compare(exp.block_pairs(seed=3))
    assert block.ok, block
    assert len(block.errors) == 14  # output, input gradient, 12 parameters


def test_gradchecks_pass_and_would_catch_a_wrong_gradient():
    for verdict in (exp.gradcheck_mha(seed=4), exp.gradcheck_block(seed=4)):
        assert verdict.ok, verdict
    assert len(exp.gradcheck_block().errors) == 13
    rng = np.random.default_rng(0)
    a = rng.normal(size=(3, 2))
    wrong = exp._gradcheck(lambda: a**2, {"a": a}, {"a": a}, np.ones_like(a))  # d(a^2) is 2a
    assert not wrong.ok


def test_heads_add_up_and_cost_the_same():
    rng = np.random.default_rng(1)
    x, w_in, b_in = rng.normal(size=(5, 12)), rng.normal(size=(36, 12)), rng.normal(size=36)
    w_out, b_out = rng.normal(size=(12, 12)), rng.normal(size=12)
    terms = exp.head_contributions(x, w_in, b_in, w_out, 3)
    assert terms.shape == (3, 5, 12)
    np.testing.assert_allclose(terms.sum(0) + b_out, exp._reference(x, w_in, b_in, w_out, b_out, 3),
                               atol=1e-12)  # fmt: skip
    rows = exp.head_cost(embed_dim=16, length=8, heads=(1, 4))
    assert rows[0]["parameters"] == rows[1]["parameters"] == 4 * 16 * 16 + 4 * 16
    assert rows[0]["multiply_adds"] == rows[1]["multiply_adds"] == 4 * 8 * 256 + 2 * 64 * 16
    assert [r["head_dim"] for r in rows] == [16, 4]


def test_permutation_and_shift():
    errors = exp.permutation_errors(seed=2)
    assert errors["self-attention"] < 1e-12
    assert errors["with positions"] > 0.1 and errors["causal mask"] > 0.1
    assert max(exp.shift_errors(length=20, dim=8, offsets=(1, 3)).values()) < 1e-12


@pytest.mark.parametrize("positions", ["learned", "sinusoidal"])
def test_char_transformer_is_causal(positions):
    torch.manual_seed(0)
    model = exp.CharTransformer(11, d_model=8, nhead=2, num_layers=2, dim_feedforward=16,
                                context=6, positions=positions)  # fmt: skip
    x = torch.randint(0, 11, (2, 6))
    y = x.clone()
    y[:, 4] = (y[:, 4] + 1) % 11  # change the fifth character only
    a, b = model(x), model(y)
    assert a.shape == (2, 6, 11)
    torch.testing.assert_close(a[:, :4], b[:, :4])  # the first four never see it
    assert not torch.allclose(a[:, 4:], b[:, 4:])
    assert model.pos.requires_grad == (positions == "learned")
    with pytest.raises(ValueError, match="context"):
        model(torch.zeros(1, 7, dtype=torch.long))
    with pytest.raises(ValueError, match="positions"):
        exp.CharTransformer(11, positions="rotary")


def test_training_lowers_the_held_out_loss_and_records_maps():
    ids = np.tile(np.arange(5), 200)  # a periodic text: easy to predict
    torch.manual_seed(0)
    model = exp.CharTransformer(5, d_model=8, nhead=2, num_layers=1, dim_feedforward=16,
                                context=8)  # fmt: skip
    run = exp.train_char(model, ids, ids[:100], steps=30, batch_size=8, context=8, lr=2e-2,
                         probe=ids[:8], every=10)  # fmt: skip
    assert run["step"] == [0, 10, 20, 30] and len(run["loss"]) == 30
    assert run["test"][-1] < run["test"][0] - 0.5
    assert len(run["maps"]) == 4 and run["maps"][0].shape == (1, 2, 8, 8)
    maps = run["maps"][-1]
    np.testing.assert_allclose(maps.sum(-1), 1, atol=1e-5)
    assert np.all(np.triu(maps[0, 0], 1) == 0)  # causal
    lstm = exp.CharLSTM(5, embed_dim=4, hidden_size=6)
    assert abs(exp.heldout_loss(lstm, ids[:100], context=8) - np.log(5)) < 0.3
    assert exp.train_char(lstm, ids, ids[:100], steps=3, batch_size=4, context=8)["maps"] == []


def test_offset_share_and_mean_distance():
    t = 5
    previous = np.eye(t, k=-1)
    previous[0, 0] = 1  # the first query has nothing before it
    maps = np.stack([previous, np.eye(t)])[None]  # (1 layer, 2 heads, t, t)
    np.testing.assert_allclose(exp.offset_share(maps, 1), [[1, 0]])
    np.testing.assert_allclose(exp.mean_distance(maps), [[(t - 1) / t, 0]])
