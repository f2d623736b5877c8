"""The ERF chapter's figures: they draw the maps they are given, where they belong."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from dlbook.experiments import effective_receptive_field as E  # noqa: E402
from dlbook.viz import effective_receptive_field as ve  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_draw_erf_scales_to_the_peak_and_outlines_the_field_on_the_canvas():
    erf = E.binomial_erf(2, 5)
    fig, ax = plt.subplots()
    ve.draw_erf(ax, erf, range(1, 4), range(0, 5), canvas=11, title="t")
    np.testing.assert_allclose(ax.images[0].get_array(), erf / erf.max())
    left, right, bottom, top = ax.images[0].get_extent()
    assert (left, top) == (2.5, 2.5) and (right, bottom) == (7.5, 7.5)  # centred: offset 3
    (box,) = ax.patches
    assert box.get_xy() == (2.5, 3.5) and (box.get_width(), box.get_height()) == (5, 3)
    assert ax.get_xlim() == (-0.5, 10.5) and ax.get_title() == "t"


def test_erf_grid_one_panel_per_architecture():
    measured = E.compare({"a": {}, "b": dict(dilation=2), "c": dict(residual=True)}, 2, 1, 1)
    fig = ve.erf_grid(measured, ncols=2, title="x")
    drawn = [ax for ax in fig.axes if ax.images]
    assert len(drawn) == 3 and len(fig.axes) == 4
    assert all(ax.get_xlim() == (-0.5, 8.5) for ax in drawn)  # all on the widest field's frame
    assert "field 9 px" in drawn[1].get_title()


def test_profile_figure_plots_each_profile_and_a_fit():
    maps = [E.binomial_erf(n, 2 * n + 1) for n in (2, 6)]
    fig = ve.profile_figure(maps, ["two", "six"])
    ax = fig.axes[-1]
    assert len(ax.lines) == 4
    np.testing.assert_allclose(ax.lines[2].get_ydata(), E.profile(maps[1]))
    assert "σ = " in ax.lines[3].get_label()


def test_growth_figure_divides_by_root_n():
    d = [1, 4, 16]
    fig = ve.growth_figure(d, {"a": [1.0, 2.0, 4.0]}, {"a": "slope 0.50"})
    left, right = fig.axes
    np.testing.assert_allclose(right.lines[0].get_ydata(), [1, 1, 1])
    assert any("slope 0.50" in line.get_label() for line in left.lines)


def test_growth_animation_frames_and_placement():
    depths = [1, 2, 3]
    maps = [E.binomial_erf(n, 2 * n + 1) for n in depths]
    anim = ve.growth_animation(maps, depths)
    assert anim._save_count == 3
    anim._func(0)
    frame = anim._fig.axes[0].images[0].get_array()
    assert frame.shape == (7, 7) and frame[3, 3] == 1 and frame[:2].sum() == 0
    (box,) = anim._fig.axes[0].patches
    assert box.get_width() == 3 and box.get_xy() == (1.5, 1.5)
    with pytest.raises(ValueError, match="same length"):
        ve.growth_animation(maps, depths[:2])
    with pytest.raises(ValueError, match="40"):
        ve.growth_animation([maps[0]] * 41, [1] * 41)
    plt.close(anim._fig)


def test_settings_grid_and_explorer():
    fig = ve.settings_grid(depths=(1, 2), settings={"lin": dict(nonlinearity="linear")})
    assert len(fig.axes) == 2 and fig.axes[0].get_ylabel() == "lin"
    panel = ve.explorer(depth=2)
    info, picture = panel.children[2], panel.children[3]
    assert "field 5 px" in info.value and picture.value[:4] == b"\x89PNG"
    panel.children[0].children[0].value = 3  # the depth slider redraws
    assert "field 7 px" in info.value


def test_before_after_draws_four_maps_and_two_profiles():
    m = np.ones((8, 8))
    part = dict(noise=m, real=m, noise_std=1.0, real_std=1.0)
    result = dict(initial=part, trained=part, rows=range(-1, 9), cols=range(-1, 9))
    fig = ve.before_after(result)
    assert sum(bool(ax.images) for ax in fig.axes) == 4 and len(fig.axes[-1].lines) == 2
    assert fig.axes[0].patches[0].get_width() == 8  # the field is clipped to the image


def test_training_table_writes_one_row_per_run():
    def run(acc, s0, s1, w0, w1):
        return {
            "history": {"test_acc": [0.3, acc]},
            "initial": {"noise_std": s0, "real_std": s0 + 1, "noise_width95": w0,
                        "real_width95": w0 + 2},
            "trained": {"noise_std": s1, "real_std": s1 + 1, "noise_width95": w1,
                        "real_width95": w1 + 2},
        }  # fmt: skip

    html = ve.training_table([run(0.5, 3.0, 2.25, 9, 7), run(0.625, 3.5, 2.0, 11, 5)], (4, 7)).data
    assert html.count("<tr>") == 3 and html.count("</th>") == 6
    assert "<td " in html and ">4</td>" in html and ">7</td>" in html
    assert ">50.0%</td>" in html and ">62.5%</td>" in html
    assert ">3.00 → 2.25</td>" in html and ">4.00 → 3.25</td>" in html
    assert ">9 → 7</td>" in html and ">13 → 7</td>" in html
