"""The effective receptive field: the hand-written chain rule, the exact formulas, the summaries,
the networks and the training run."""

from math import comb

import numpy as np
import pytest
import torch
from torch import nn

import dlbook
from dlbook.experiments import effective_receptive_field as E
from dlbook.scratch.gradcheck import gradcheck

torch.set_num_threads(1)


def _weights(model):
    return [m.weight.detach().numpy() for m in model.modules() if isinstance(m, nn.Conv2d)]


# --- by hand -------------------------------------------------------------------------------------


def test_centre_gradient_selects_one_unit_in_every_channel():
    g = E.centre_gradient((2, 3, 5, 4))
    assert g.sum() == 2 * 3 and (g[:, :, 2, 2] == 1).all()
    assert E.centre_gradient((1, 1, 4, 4), unit=(0, 3))[0, 0, 0, 3] == 1


@pytest.mark.parametrize("depth", [1, 3, 7])
def test_binomial_stack_is_exactly_binomial(depth):
    size = 4 * depth + 3
    model = E.make_stack(depth, channels=1, nonlinearity="linear", init="binomial").double()
    x = np.random.default_rng(depth).standard_normal((2, 1, size, size))
    ours = E.erf_numpy(x, _weights(model))
    exact = E.binomial_erf(depth, size)
    np.testing.assert_allclose(ours, exact, atol=1e-14)
    np.testing.assert_allclose(E.effective_receptive_field(model, (1, size, size), n=2), exact)
    assert exact.sum() == pytest.approx(1.0)
    assert E.erf_std(exact) == pytest.approx(np.sqrt(depth / 2))  # Var[T] = 1/2 per layer
    # the end of the centre row: C(2n, n)/4^n down the middle, C(2n, 0)/4^n at the edge
    assert exact[size // 2, size // 2 - depth] == pytest.approx(
        comb(2 * depth, depth) / 16.0**depth
    )
    assert exact[size // 2, size // 2 - depth - 1] == 0


def test_binomial_erf_by_hand_for_two_layers():
    # (1, 4, 6, 4, 1) / 16 along each axis.
    p = np.array([1, 4, 6, 4, 1]) / 16
    np.testing.assert_allclose(E.binomial_erf(2, 7), np.outer(*(np.pad(p, 1),) * 2))


def test_convolution_power_gives_trinomial_coefficients():
    np.testing.assert_allclose(E.convolution_power(np.ones(3), 2), [1, 2, 3, 2, 1])
    np.testing.assert_allclose(E.convolution_power(np.ones(3), 3), [1, 3, 6, 7, 6, 3, 1])
    with pytest.raises(ValueError, match="depth"):
        E.convolution_power(np.ones(3), 0)


def test_scratch_erf_equals_autograd_with_relu_and_dilation():
    model = E.make_stack(3, channels=3, dilation=(1, 2, 1), seed=4).double()
    x = np.random.default_rng(0).standard_normal((4, 1, 15, 15))
    xt = torch.from_numpy(x).requires_grad_()
    model(xt)[:, :, 7, 7].sum().backward()
    ours = E.erf_numpy(x, _weights(model), dilation=(1, 2, 1), relu=True)
    np.testing.assert_allclose(ours, xt.grad.abs().sum(1).mean(0).numpy(), atol=1e-12)
    # The masks matter: without them the map differs.
    assert np.abs(E.erf_numpy(x, _weights(model), dilation=(1, 2, 1)) - ours).max() > 1e-3


def test_conv_stack_matches_torch_and_its_backward_passes_gradcheck():
    model = E.make_stack(2, channels=2, seed=2).double()
    w = _weights(model)
    x = np.random.default_rng(1).standard_normal((2, 1, 6, 6))
    np.testing.assert_allclose(
        E.conv_stack(x, w, relu=True), model(torch.from_numpy(x)).detach().numpy(), atol=1e-12
    )
    assert gradcheck(E.conv_stack, E.conv_stack_backward, (x, w), dict(relu=True))
    with pytest.raises(ValueError, match="dilation"):
        E.conv_stack(x, w, dilation=(1, 2, 3))


# --- summaries -----------------------------------------------------------------------------------


def test_erf_std_and_mass_width_by_hand():
    delta = np.zeros((5, 5))
    delta[2, 2] = 1
    assert E.erf_std(delta) == 0 and E.mass_width(delta) == 1
    square = np.zeros((7, 7))
    square[2:5, 2:5] = 1
    assert E.erf_std(square) == pytest.approx(np.sqrt(2 / 3))
    assert E.mass_width(square, 1.0) == 3 and E.mass_width(square, 0.1) == 1
    even = np.ones((4, 4))
    assert E.mass_width(even, 0.25, centre=(1.5, 1.5)) == 2
    assert E.mass_width(even, 1.0, centre=(1.5, 1.5)) == 4
    with pytest.raises(ValueError, match="erf"):
        E.erf_std(-delta)
    with pytest.raises(ValueError, match="fraction"):
        E.mass_width(delta, 0)


def test_fit_gaussian_and_slope():
    i = np.arange(41)
    g = 3 * np.exp(-((i - 20.5) ** 2) / (2 * 4.0**2))
    fit = E.fit_gaussian(g)
    assert (fit.amplitude, fit.mean, fit.sigma) == pytest.approx((3, 20.5, 4.0))
    assert fit.r2 == pytest.approx(1.0) and fit(20.5) == pytest.approx(3)
    assert E.fit_gaussian(np.ones(9) + (i[:9] == 4)).r2 < 0.99  # a spike on a plateau: poor fit
    assert E.loglog_slope([1, 4, 9, 16], [1, 2, 3, 4]) == pytest.approx(0.5)
    assert E.profile(np.ones((2, 4))).tolist() == [0.25] * 4


# --- networks and measurements -------------------------------------------------------------------


def test_make_stack_layout_and_errors():
    m = E.make_stack(4, channels=3, draws=2, residual=True, downsample="avg")
    out = m(torch.zeros(1, 2, 16, 16))
    assert out.shape == (1, 6, 4, 4)
    assert isinstance(m[0], nn.Sequential) and isinstance(m[1], E.Residual)
    assert sum(isinstance(x, nn.AvgPool2d) for x in m) == 2
    assert m[0][0].groups == 2 and m[0][0].bias is None
    strided = E.make_stack(4, downsample="stride")
    assert [c.stride for c in strided.modules() if isinstance(c, nn.Conv2d)][1] == (2, 2)
    assert (E.make_stack(2, init="uniform")[1][0].weight == 1 / 72).all()
    for kwargs, name in [
        (dict(depth=0), "depth"),
        (dict(depth=2, nonlinearity="gelu"), "nonlinearity"),
        (dict(depth=2, downsample="lp"), "downsample"),
        (dict(depth=2, padding="full"), "padding"),
        (dict(depth=2, residual=True, padding="valid"), "residual"),
        (dict(depth=2, init="zeros"), "init"),
        (dict(depth=2, dilation=(1, 2, 3)), "dilation"),
    ]:
        with pytest.raises(ValueError, match=name):
            E.make_stack(**kwargs)


def test_draws_side_by_side_average_separate_networks():
    # Linear stacks: the gradient does not depend on the input, so the averages can be compared
    # exactly with each group's network built on its own.
    stack = E.make_stack(3, channels=2, draws=3, nonlinearity="linear", seed=5).double()
    together = E.measure(stack, 9, n=1, draws=3)
    alone = []
    for g in range(3):
        convs = [c for c in stack.modules() if isinstance(c, nn.Conv2d)]
        parts = []
        for c in convs:
            w = c.weight.detach()[2 * g : 2 * g + 2]
            conv = nn.Conv2d(w.shape[1], 2, 3, padding=1, bias=False).double()
            conv.weight.data.copy_(w)
            parts.append(conv)
        alone.append(dlbook.effective_receptive_field(nn.Sequential(*parts), (1, 9, 9), n=1))
    np.testing.assert_allclose(together, np.mean(alone, axis=0), atol=1e-12)


def test_depth_sweep_maps_are_one_field_wide_and_obey_the_box_law():
    maps = E.depth_sweep([1, 2, 5], n=1, draws=1, channels=1, init="uniform", nonlinearity="linear")
    assert [m.shape for m in maps] == [(3, 3), (5, 5), (11, 11)]
    for n, m in zip([1, 2, 5], maps):
        assert E.erf_std(m) == pytest.approx(np.sqrt(2 * n / 3))
    res = E.depth_sweep([3], n=1, draws=1, residual=True)
    assert res[0].shape == (7, 7) and res[0].min() > 0  # the field just fits: no pixel is lost
    assert E.field_size(3, 3, (1, 2, 4)) == 15


def test_compare_field_bounds_the_erf():
    rows = E.compare({"pool": dict(downsample="max"), "plain": {}}, depth=4, n=2, draws=2)
    for r in rows:
        outside = r.erf.copy()
        outside[r.rows.start : r.rows.stop, r.cols.start : r.cols.stop] = 0
        assert not outside.any() and r.erf.max() > 0
        assert len(r.rows) == r.field and 1 <= r.width95 <= r.field
        assert 0 < r.ratio <= 1
    assert rows[1].field == 9 and rows[1].erf.shape == (9, 9)
    assert rows[0].field == 16  # 3, 5, pool 6 (jump 2), 10, 14, pool 16 (after layers 2 and 4)


# --- training ------------------------------------------------------------------------------------


def test_texture_patches_are_standardized_and_balanced():
    data = E.texture_patches(size=16, n_train=10, n_test=4, image_size=96)
    assert data.x_train.shape == (30, 1, 16, 16) and data.x_test.shape == (12, 1, 16, 16)
    assert data.x_train.dtype == np.float32 and np.bincount(data.y_train).tolist() == [10] * 3
    np.testing.assert_allclose(data.x_train.mean(axis=(1, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(data.x_train.std(axis=(1, 2, 3)), 1, atol=1e-4)
    again = E.texture_patches(size=16, n_train=10, n_test=4, image_size=96)
    assert np.array_equal(data.x_test, again.x_test)
    with pytest.raises(ValueError, match="image_size"):
        E.texture_patches(size=32, image_size=64)


def test_fcn_field_and_erf_on_real_inputs():
    model = E.make_fcn(width=2)
    assert model(torch.zeros(3, 1, 32, 32)).shape == (3, 3)
    assert dlbook.receptive_field(model[0], (1, 32, 32)).size == (32, 32)
    linear = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.Conv2d(2, 1, 3, padding=1))
    x = torch.randn(5, 1, 9, 9)
    np.testing.assert_allclose(
        E.erf_on(linear, x), dlbook.effective_receptive_field(linear, (1, 9, 9)), atol=1e-6
    )


def test_train_and_measure_returns_both_maps():
    data = E.texture_patches(size=32, n_train=16, n_test=8, image_size=160)
    r = E.train_and_measure(data, width=2, epochs=1, n=4, n_real=8)
    assert len(r["history"]["test_acc"]) == 1 and r["field"] == 32
    for when in ("initial", "trained"):
        assert r[when]["noise"].shape == (32, 32) and r[when]["real_std"] > 0
        assert 1 <= r[when]["noise_width95"] <= 32
    assert not np.array_equal(r["initial"]["noise"], r["trained"]["noise"])


def test_mask_centre_replaces_only_the_centre():
    data = E.texture_patches(size=16, n_train=4, n_test=2, image_size=96)
    masked = E.mask_centre(data, size=8)
    for before, after in ((data.x_train, masked.x_train), (data.x_test, masked.x_test)):
        assert after.shape == before.shape and after.dtype == before.dtype
        border = np.ones(before.shape[-2:], bool)
        border[4:12, 4:12] = False
        assert np.array_equal(after[..., border], before[..., border])
        assert not np.any(after[..., 4:12, 4:12] == before[..., 4:12, 4:12])
    assert np.array_equal(masked.y_train, data.y_train) and data.x_train is not masked.x_train
    with pytest.raises(ValueError, match="larger"):
        E.mask_centre(data, size=17)


def test_train_seeds_runs_one_training_per_seed():
    data = E.texture_patches(size=32, n_train=8, n_test=4, image_size=160)
    runs = E.train_seeds(data, seeds=(0, 1), width=2, epochs=1, n=2, n_real=4)
    assert len(runs) == 2 and all(r["field"] == 32 for r in runs)
    assert not np.array_equal(runs[0]["trained"]["noise"], runs[1]["trained"]["noise"])


def test_torch_checks_hold_the_hand_written_erf_to_autograd():
    from dlbook.verify import compare

    x = np.random.default_rng(0).standard_normal((2, 1, 9, 9))
    rows, w_relu = E.torch_checks(x, depth=3)
    assert len(rows) == 5 and "box: scratch vs (1,1,1)/3 convolved 3 times" in rows
    assert compare(rows, tol=1e-10).ok
    assert [w.shape for w in w_relu] == [(4, 1, 3, 3), (4, 4, 3, 3), (4, 4, 3, 3)]
    ours, theirs = rows["ReLU + dilation 2: scratch vs autograd"]
    assert ours.shape == (9, 9) and np.abs(ours).max() > 0
