"""The Channels chapter's figures: they draw what the convolution computes, line for line."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from dlbook.scratch import conv2d  # noqa: E402
from dlbook.viz import channels as vc  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture
def image():
    return np.random.default_rng(0).random((3, 12, 12))


def test_colour_kernels_opponent_kernels_ignore_grey():
    w, names = vc.colour_kernels()
    assert w.shape == (6, 3, 3, 3) and len(names) == 6
    grey = np.repeat(np.random.default_rng(1).random((1, 1, 10, 10)), 3, axis=1)
    out = conv2d(grey, w)
    # Kernels 2-4 compare colours: on a grey image (R = G = B) they see nothing.
    assert np.abs(out[0, 2:5]).max() < 1e-12
    assert np.abs(out[0, [0, 1, 5]]).max() > 1e-3


def test_show_channel_sum_draws_the_convolution(image):
    w, _ = vc.colour_kernels()
    b = np.arange(6.0)
    fig = vc.show_channel_sum(image, w, b, o=3)
    assert len(fig.axes) == 3 * 3 + 1
    want = conv2d(image[None], w[3:4], b[3:4], padding="same")[0, 0]
    np.testing.assert_allclose(fig.axes[-1].images[0].get_array(), want, atol=1e-12)


def test_show_feature_maps_one_map_per_kernel(image):
    w, names = vc.colour_kernels()
    fig = vc.show_feature_maps(image, w[:4], names[:4])
    axes = np.array(fig.axes).reshape(2, 4)
    maps = conv2d(image[None], w[:4], padding="same")[0]
    for o in range(4):
        np.testing.assert_allclose(axes[1, o].images[0].get_array(), maps[o])


@pytest.mark.parametrize("c_in, c_out, groups", [(8, 8, 1), (8, 8, 2), (6, 12, 3), (4, 4, 4)])
def test_draw_groups_one_line_per_kernel_slice(c_in, c_out, groups):
    fig, ax = plt.subplots()
    cost = vc.draw_groups(ax, c_in, c_out, groups, k=3)
    assert len(ax.lines) == c_out * (c_in // groups)
    assert cost.weight_shape == (c_out, c_in // groups, 3, 3)
    assert str(cost.params) in ax.get_title()


def test_draw_groups_rejects_groups_that_do_not_divide():
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="groups"):
        vc.draw_groups(ax, 6, 8, 4)


def test_draw_separable_and_grid():
    fig, ax = plt.subplots()
    vc.draw_separable(ax, 4, 6)
    assert len(ax.lines) == 4 + 4 * 6
    assert f"{4 * 9 + 6 * 4} weights" in ax.get_title()
    grid = vc.groups_grid(8, 8, groups=(1, 2, 8))
    assert len(grid.axes) == 4


def test_channel_diagram_draws_every_plane():
    ax = vc.channel_diagram(c_in=3, c_out=4, highlight=2)
    assert len(ax.patches) == 3 + 4 * 3 + 4  # input planes, kernel slices, output planes


def test_build_animation_frames_and_final_frame(image):
    w, _ = vc.colour_kernels()
    anim = vc.build_animation(image, w[:4])
    assert anim._save_count == 4 * (3 + 1) + 1
    anim._func(anim._save_count - 1)
    outs = conv2d(image[None], w[:4], padding="same")[0]
    shown = [ax.images[0].get_array() for ax in anim._fig.axes[-4:]]
    for o in range(4):  # every output plane is on show, each scaled by its own maximum
        ratio = np.asarray(shown[o]) / outs[o]
        assert np.allclose(ratio, ratio.flat[0]) and ratio.flat[0] > 0
    plt.close(anim._fig)
    anim._draw_was_started = True  # drawn by hand above: no "deleted without rendering" warning


def test_build_animation_checks_its_arguments(image):
    w, _ = vc.colour_kernels()
    with pytest.raises(ValueError, match="input channels"):
        vc.build_animation(image[:2], w)
    with pytest.raises(ValueError, match="frames"):
        vc.build_animation(image, np.zeros((12, 3, 3, 3)))


def test_explorer_offers_only_divisors():
    panel = vc.explorer(c_in=8, c_out=8, groups=2)
    (w_in, w_out), (_, w_g) = panel.children[0].children, panel.children[1].children
    assert list(w_g.options) == [1, 2, 4, 8] and w_g.value == 2
    w_in.value = 6
    assert list(w_g.options) == [1, 2] and w_g.value == 2
    w_out.value = 9
    assert list(w_g.options) == [1, 3] and w_g.value == 1
    w_g.value = 3
    info, picture = panel.children[2:]
    assert "weight shape (9, 2, 3, 3)" in info.value
    assert f"parameters   {9 * 2 * 9 + 9}" in info.value
    assert bytes(picture.value).startswith(b"\x89PNG")
