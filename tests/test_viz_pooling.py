"""Tests for dlbook.viz.pooling: the pictures show the right windows, maxima and gradients."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from dlbook.viz import pooling as V  # noqa: E402
from dlbook.viz.common import to_html  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:Animation was deleted without rendering")

X = np.random.default_rng(0).permutation(49).reshape(7, 7).astype(float)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_pool_view_winners_are_the_maxima():
    view = V.pool_view(X, 3, 2)
    assert view.out.shape == (3, 3) and view.title() == "max pool k=3, s=2, p=0: 7×7 → 3×3"
    rows, cols = view.winners[..., 0], view.winners[..., 1]
    np.testing.assert_array_equal(X[rows, cols], view.out)
    for y, x in np.ndindex(3, 3):  # each winner lies inside its own window
        r, c = view.start(y, x)
        assert r <= rows[y, x] < r + 3 and c <= cols[y, x] < c + 3
    avg = V.pool_view(X, 2, padding=1, mode="avg")
    assert avg.winners is None and avg.out[0, 0] == X[0, 0] / 4


def test_extent_covers_padding_and_ceil_overhang():
    assert V.pool_view(X, 3, 2).extent == ((0, 7), (0, 7))
    assert V.pool_view(X, 3, 2, padding=1).extent == ((-1, 8), (-1, 8))
    # ceil mode on 7 with k=2, s=2: 4 windows, the last reads rows 6 and 7 (7 is past the input)
    assert V.pool_view(X, 2, ceil_mode=True).extent == ((0, 8), (0, 8))


def test_bad_arguments():
    with pytest.raises(ValueError, match="mode"):
        V.pool_view(X, 2, mode="median")
    with pytest.raises(ValueError, match="padding"):
        V.pool_view(X, 2, padding=2)
    with pytest.raises(ValueError, match="x"):
        V.pool_view(X[0], 2)
    with pytest.raises(ValueError, match="settings"):
        V.settings_grid(X, [])
    with pytest.raises(ValueError, match="grad_output"):
        V.routing_figure(X, 3, 2, grad_output=np.ones((2, 2)))


def test_routing_figure_sends_each_gradient_to_its_max():
    fig = V.routing_figure(X, 3, 2)
    grad_in = fig.axes[2]
    numbers = [t.get_text() for t in grad_in.texts[:49]]
    values = [float(n.replace("\u2212", "-")) for n in numbers if n != "·"]
    assert sum(values) == sum(range(1, 10))  # 1 + ... + 9: no gradient is lost or doubled
    counts = [t.get_text() for t in grad_in.texts[49:]]
    assert counts == ["×2", "×2"]  # two pixels each win two overlapping windows
    assert len(values) == 9 - len(counts)


def test_settings_grid_has_three_panels_a_row():
    fig = V.settings_grid(X, [dict(kernel_size=2), dict(kernel_size=3, stride=2, ceil_mode=True)])
    assert len(fig.axes) == 6
    assert fig.axes[3].get_title() == "k=3, s=2, p=0: 7×7 → 3×3, ceil_mode"
    assert [fig.axes[i].get_title() for i in (1, 2)] == ["max pool output", "avg pool output"]


def test_animation_frames_and_caption():
    anim = V.pool_animation(X, 3, 2)
    assert 'data-frames="9"' in to_html(anim).data
    anim = V.pool_animation(X[:4, :4], 2, mode="avg")
    fig = anim._fig
    anim._func(3)
    caption = fig.axes[2].texts[0].get_text()
    window = X[2:4, 2:4]
    assert caption == f"out[1,1] = ({' + '.join(f'{v:g}' for v in window.ravel())}) / 4 = " + (
        f"{window.mean():.2f}"
    )
    shown = [t.get_text() for t in fig.axes[1].texts]
    assert all(shown) and len(shown) == 4  # every output up to the last frame is filled in
    with pytest.raises(ValueError, match="max_frames"):
        V.pool_animation(X, 1)


def test_size_formula():
    assert V.size_formula(7, 3, 2) == "⌊(7 + 2·0 − 3) / 2⌋ + 1 = ⌊4/2⌋ + 1 = 3"
    text = V.size_formula(5, 2, 2, padding=1, ceil_mode=True)
    assert text.startswith("⌈(5 + 2·1 − 2) / 2⌉ + 1 = ⌈5/2⌉ + 1 = 4;") and text.endswith(": 3")


def test_explorer_renders_and_reports_errors():
    box = V.pool_explorer(X)
    out = box.children[-1]
    assert out.outputs[0]["text"].startswith("H_out = ⌊(7 + 2·0 − 3) / 2⌋")
    assert any("image/png" in o.get("data", {}) for o in out.outputs)
    padding = box.children[0].children[2]
    padding.value = 2  # more than kernel_size // 2 = 1
    assert "padding" in out.outputs[0]["text"] and len(out.outputs) == 1


def test_shift_change_figure_one_line_a_pooling_coloured_by_window():
    shifts = np.arange(4)
    names = ["no pooling", "max pool 2", "max pool 4", "max pool 8", "avg pool 4", "avg pool 8"]
    change = {n: np.linspace(0, 0.1 * (i + 1), 4) for i, n in enumerate(names)}
    fig = V.shift_change_figure(shifts, change)
    lines = fig.axes[0].get_lines()
    assert [ln.get_label() for ln in lines] == names
    assert [ln.get_color() for ln in lines] == ["black", "C0", "C1", "C2", "C1", "C2"]
    assert [ln.get_linestyle() for ln in lines] == ["-"] * 4 + ["--"] * 2
    np.testing.assert_array_equal(lines[2].get_ydata(), change["max pool 4"])
