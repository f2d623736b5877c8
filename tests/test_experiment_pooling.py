"""The pooling experiment: its heads, parameter counts, a short run and the shift measure."""

import numpy as np
import pytest
import torch

from dlbook.experiments import pooling as E
from dlbook.scratch import max_pool2d


def test_heads_shapes_and_parameter_counts():
    trunk = 1 * 8 * 9 + 8 + 8 * 16 * 9 + 16 + 16 * 32 * 9 + 32
    expected = {"fc": 512 * 10 + 10, "mlp": 512 * 128 + 128 + 128 * 10 + 10, "gap": 330}
    expected |= {"nin": 330, "gmp": 330}
    for head in E.HEADS:
        model = E.build_model(head)
        assert model(torch.zeros(3, 1, 8, 8)).shape == (3, 10)
        assert E.count_params(model.head) == expected[head]
        assert E.count_params(model) == trunk + expected[head]
    with pytest.raises(ValueError, match="head"):
        E.build_model("attention")


def test_nin_head_is_gap_then_linear():
    # Averaging and a 1×1 convolution are both linear, so they commute: the same weights give
    # the same logits.
    gap, nin = E.build_model("gap"), E.build_model("nin")
    nin.trunk.load_state_dict(gap.trunk.state_dict())
    linear, conv = gap.head[2], nin.head[0]
    with torch.no_grad():
        conv.weight.copy_(linear.weight[:, :, None, None])
        conv.bias.copy_(linear.bias)
    x = torch.randn(4, 1, 8, 8)
    torch.testing.assert_close(nin(x), gap(x))


def test_short_run_restores_threads():
    before = torch.get_num_threads()
    (result,) = E.run(heads=("gap",), seeds=(0, 1), epochs=2, eval_every=1)
    assert torch.get_num_threads() == before
    assert result.head == "gap" and result.params == 6218 and result.head_params == 330
    assert result.checkpoints == [1, 2] and len(result.curves) == 2
    assert [c[-1] for c in result.curves] == result.test_acc
    assert 0 < result.test <= 1 and result.gap == pytest.approx(result.train - result.test)


def test_epochs_per_head():
    fast, slow = E.run(heads=("fc", "gap"), seeds=(0,), epochs={"fc": 1, "gap": 2}, eval_every=1)
    assert fast.checkpoints == [1] and slow.checkpoints == [1, 2]
    assert slow.test_at(2) == pytest.approx(slow.test) and 0 < slow.test_at(1) <= 1
    with pytest.raises(ValueError, match="checkpoint"):
        slow.test_at(3)
    with pytest.raises(ValueError, match="gap"):
        E.run(heads=("fc", "gap"), seeds=(0,), epochs={"fc": 1})


def test_shift_change_by_hand():
    impulse = np.zeros((4, 12))
    impulse[1, 4] = 1.0
    unpooled = E.shift_change(impulse, lambda f: f, shifts=[0, 1, 2])
    np.testing.assert_allclose(unpooled, [0, np.sqrt(2), np.sqrt(2)])  # the spike moved away

    def pooled(f):
        return max_pool2d(f[None], 4)[0]

    # Shifts up to 4 keep columns 4..11, where the spike starts at column 0 of the first 4-wide
    # window and moves right: the max pool does not change until the spike leaves the window.
    np.testing.assert_allclose(E.shift_change(impulse, pooled, range(5)), [0, 0, 0, 0, np.sqrt(2)])
    stripes = np.tile([[0.0], [1.0]], (1, 12))  # constant along each row
    assert np.all(E.shift_change(stripes, lambda f: f) == 0)
    with pytest.raises(ValueError, match="shifts"):
        E.shift_change(impulse, pooled, shifts=[12])
    with pytest.raises(ValueError, match="feature"):
        E.shift_change(impulse[0], pooled)


def test_shift_changes_measures_every_pooling():
    rng = np.random.default_rng(0)
    feature = np.maximum(rng.standard_normal((16, 24)), 0)
    change = E.shift_changes(feature, range(5))
    assert list(change) == list(E.shift_poolings())
    for name, pool in E.shift_poolings().items():
        np.testing.assert_array_equal(change[name], E.shift_change(feature, pool, range(5)))
        assert change[name][0] == 0 and np.all(change[name][1:] > 0)
    only = E.shift_changes(feature, range(3), {"id": lambda f: f})
    assert list(only) == ["id"] and only["id"].shape == (3,)


def test_unchanged_max_share_counts_the_outputs_that_keep_their_value():
    # A single bright pixel moves one column right: inside its 4x4 window it keeps the window's
    # maximum; on the window's right edge it moves into the next window.
    feature = np.zeros((8, 20))
    feature[1, 8 + 5] = 1.0  # column 5 of the reference map -> 6: window 4..7 either way
    assert E.unchanged_max_share(feature, kernel_size=4, margin=8) == 1.0
    feature = np.zeros((8, 20))
    feature[1, 8 + 7] = 1.0  # column 7 -> 8: from window 4..7 into window 8..11
    assert E.unchanged_max_share(feature, kernel_size=4, margin=8) == 0.0
    with pytest.raises(ValueError, match="margin"):
        E.unchanged_max_share(feature, margin=0)
    with pytest.raises(ValueError, match="2-D"):
        E.unchanged_max_share(feature[None])


def test_torch_pairs_agree_and_describe_their_settings():
    from dlbook.verify import compare

    rng = np.random.default_rng(0)
    x = rng.permutation(1 * 2 * 7 * 6).reshape(1, 2, 7, 6) / 10.0
    mx = dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)
    av = dict(kernel_size=2, stride=(2, 1), padding=1)
    lines, rows = E.torch_pairs(x, rng, mx, av)
    assert len(lines) == 3 and lines[0].startswith("input (1, 2, 7, 6) max pool")
    assert "'count_include_pad': False" in lines[2]
    assert len(rows) == 15 and "global avg: grad input" in rows
    assert compare(rows, tol=1e-10).ok
