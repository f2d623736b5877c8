"""The AlexNet and VGG chapter's figures, animation, explorer and table: they build, and their
text is legible (at least 9 px in the book's column)."""

import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch.nn as nn  # noqa: E402

from dlbook import nets  # noqa: E402
from dlbook.train import History  # noqa: E402
from dlbook.viz import alexnet_vgg as vv  # noqa: E402
from dlbook.viz.legible import assert_legible  # noqa: E402


def test_filter_tiles_layout_and_scaling():
    w = np.zeros((5, 3, 2, 2))
    w[0, 0, 0, 0] = 2.0
    w[0, 1, 0, 0] = -2.0
    tiles = vv.filter_tiles(w)
    assert tiles.shape == (2 * 3 + 1, 3 * 3 + 1, 3)  # 5 filters in 2 rows of 3, 1 px gaps
    np.testing.assert_allclose(tiles[1, 1], [1.0, 0.0, 0.5])  # +max white, -max black, 0 grey
    assert tiles[0].min() == 1.0  # the gap is white
    with pytest.raises(ValueError, match="weights"):
        vv.filter_tiles(np.zeros((4, 1, 3, 3)))


def _rows():
    rng = np.random.default_rng(0)
    rows = []
    for name in ("ReLU", "tanh"):
        for seed in (0, 1):
            h = History(rows=[dict(train_acc=a, train_loss=1 - a) for a in (0.2, 0.5, 0.7)])
            rows.append(dict(name=name, seed=seed, history=h,
                             filters=rng.normal(size=(4, 6, 3, 5, 5))))  # fmt: skip
    return rows


def test_figures_build_and_are_legible():
    rows = _rows()
    fig = vv.error_curves(rows, target=0.6)
    assert len(fig.axes[0].lines) == 4 + 1
    assert_legible(fig)
    plt.close(fig)
    fig = vv.filters_figure([rows[0]["filters"][0], rows[0]["filters"][-1]], ["start", "end"])
    assert len(fig.axes) == 2
    assert_legible(fig)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(7.6, 2.6))
    assert vv.field_diagram(ax, 3) == 7
    assert vv.field_diagram(ax, 2, 5) == 9
    plt.close(fig)


def test_animation_has_one_frame_per_epoch():
    anim = vv.filters_animation(_rows()[0]["filters"])
    assert anim._save_count == 4
    anim._func(3)
    assert anim._fig.axes[0].get_title() == "after epoch 3"
    assert_legible(anim._fig)
    plt.close(anim._fig)


def test_explorer_redraws_and_reports_the_ratio():
    panel = vv.explorer(num_convs=2, kernel_size=3, channels=4)
    info, picture = panel.children[1], panel.children[2]
    assert picture.value[:4] == b"\x89PNG"
    assert "ratio 0.72" in info.value  # 18 C^2 against 25 C^2
    panel.children[0].children[0].value = 3
    assert "ratio 0.55" in info.value  # 27 against 49


def test_summary_table_rows():
    model = nn.Sequential(nets.vgg_block(3, 4, 2), nn.Flatten(), nn.Linear(4 * 16, 2))
    html = vv.summary_table({"toy": (nets.summary(model, (3, 8, 8)), (3, 8, 8))}).data
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", html)
    params = (4 * 27 + 4) + (4 * 36 + 4) + (64 * 2 + 2)
    macs = 64 * 4 * 27 + 64 * 4 * 36 + 64 * 2
    # the linear layer sees all 4x4 pooled units: 6 + 3 * 2 = 12 px (the padded 8 px input)
    assert cells == ["toy", "3x8x8", "3", f"{params:,}", f"{macs / 1e6:,.1f} M", "12 px"]
