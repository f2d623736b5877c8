"""The dropout chapter's figures, animation and explorer: counts and numbers checked by hand."""

import re

import matplotlib.pyplot as plt
import numpy as np
import pytest

from dlbook.train import History
from dlbook.viz import dropout as vd


def test_network_masks_drop_hidden_units_only():
    rng = np.random.default_rng(0)
    masks = vd.network_masks((4, 50, 50, 3), 0.5, rng)
    assert [m.shape for m in masks] == [(4,), (50,), (50,), (3,)]
    assert masks[0].all() and masks[-1].all()  # input (p_input=0) and output are never dropped
    assert 0 < masks[1].sum() < 50
    assert all(m.all() for m in vd.network_masks((4, 5, 3), 0.0, rng))


def test_draw_network_counts_the_connections_left():
    fig, ax = plt.subplots()
    assert vd.draw_network(ax, (2, 3, 1)) == 2 * 3 + 3 * 1
    keep = [np.array([True, True]), np.array([True, False, False]), np.array([True])]
    assert vd.draw_network(ax, (2, 3, 1), keep) == 2 * 1 + 1 * 1
    plt.close(fig)


def test_thinned_networks_figure_has_one_panel_per_network():
    fig = vd.thinned_networks_figure(sizes=(3, 4, 2), n=2)
    assert len(fig.axes) == 3
    assert fig.axes[0].get_title().startswith("full network: 20 connections")
    plt.close(fig)


def test_expectation_figure_means_are_the_input():
    x = np.array([1.0, -2.0, 0.5])
    fig, draws = vd.expectation_figure(x, p=0.5, samples=4000)
    assert draws.shape == (4000, 3)
    assert set(np.unique(draws[:, 0])) == {0.0, 2.0}
    np.testing.assert_allclose(draws.mean(0), x, atol=0.15)  # about 7 standard errors
    plt.close(fig)


def test_mask_animation_frames_and_refusal():
    image = np.random.default_rng(0).random((6, 6))
    anim = vd.mask_animation(image, sizes=(3, 4, 2), frames=5)
    assert anim._save_count == 5
    anim._func(4)
    assert anim._fig.axes[2].get_title().startswith("mean of 5 masked copies")
    plt.close(anim._fig)
    with pytest.raises(ValueError, match="image"):
        vd.mask_animation(np.ones((2, 3, 3)))


def test_sample_grid_errors_match_the_prediction():
    image = np.random.default_rng(1).random((10, 10)) + 0.1
    fig, errors = vd.sample_grid(image, ps=(0.5, 0.8), ns=(1, 50))
    assert set(errors) == {(0.5, 1), (0.5, 50), (0.8, 1), (0.8, 50)}
    # with p = 0.5 one copy is 0 or 2x, so the error at every pixel is exactly x: rms(x)
    measured, predicted = errors[(0.5, 1)]
    assert measured == pytest.approx(predicted) == pytest.approx(np.sqrt(np.mean(image**2)))
    for m, pred in errors.values():
        assert 0.5 * pred < m < 1.5 * pred
    assert len(fig.axes) == 2 * 3
    plt.close(fig)


def test_explorer_draws_a_picture():
    panel = vd.explorer(np.ones((8, 8)), p=0.3, samples=5)
    picture = panel.children[-1]
    assert picture.value[:4] == b"\x89PNG"
    before = picture.value
    panel.children[0].children[0].value = 0.7  # move the p slider
    assert picture.value != before


def _rows():
    rows = []
    for p in (0.0, 0.5):
        h = History()
        for e in range(3):
            h.rows.append(dict(train_loss=1 / (e + 1), train_acc=0.9, test_loss=0.5, test_acc=0.85))
        rows.append(dict(p=p, seed=0, history=h))
    return rows


def test_curves_and_mc_figures():
    fig = vd.curves_figure(_rows())
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 4
    plt.close(fig)
    cur = dict(t=np.arange(1, 4), acc=np.array([0.8, 0.85, 0.9]), nll=np.array([0.5, 0.4, 0.3]))
    fig = vd.mc_figure({0.5: cur}, {0.5: (0.35, 0.88)})
    assert len(fig.axes) == 2 and len(fig.axes[1].lines) == 2
    plt.close(fig)


def test_grid_table_rows_by_hand():
    base = dict(
        train_acc=np.array([100.0, 99.0]),
        test_acc=np.array([90.0, 91.0]),
        train_loss=np.array([0.001, 0.003]),
        test_loss=np.array([0.5, 0.7]),
        best_epoch=np.array([3, 4]),
    )
    half = {k: v + 1 for k, v in base.items()} | dict(gain_mean=1.0, gain_se=0.25)
    html = vd.grid_table({0.0: base, 0.5: half}).data
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", html)
    assert cells == [
        *("0", "99.5", "90.5", "", "0.0020", "0.600", "3.5"),
        *("0.5", "100.5", "91.5", "+1.0 ± 0.2", "1.0020", "1.600", "4.5"),
    ]
    assert html.count("<th ") == 7
