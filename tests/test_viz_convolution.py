"""Tests for dlbook.viz.convolution: the numbers drawn are the right numbers, frames are counted."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from dlbook.scratch.im2col import im2col  # noqa: E402
from dlbook.viz import convolution  # noqa: E402

# The tests draw single frames by hand rather than playing the animations.
pytestmark = pytest.mark.filterwarnings("ignore:Animation was deleted without rendering")

SOBEL_X = np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def texts(ax):
    return [t.get_text() for t in ax.texts]


def test_draw_grid_writes_every_number_with_a_real_minus():
    fig, ax = plt.subplots()
    convolution.draw_grid(ax, np.array([[1.0, -2.0], [0.5, -0.0]]), "k")
    assert texts(ax) == ["1", "\u22122", "0.5", "0"]
    assert ax.get_title() == "k"
    fig, ax = plt.subplots()
    convolution.draw_grid(ax, np.array([[-0.04, -1.0]]), fmt="{:.1f}")
    assert texts(ax) == ["0.0", "\u22121.0"]  # rounds to zero: no minus sign
    with pytest.raises(ValueError, match="2-D"):
        convolution.draw_grid(ax, np.zeros((2, 2, 2)))


def test_show_grids_and_show_images_layout():
    fig = convolution.show_grids([np.eye(2), np.ones((3, 3))], ["a", "b"])
    assert [ax.get_title() for ax in fig.axes] == ["a", "b"]
    with pytest.raises(ValueError, match="titles"):
        convolution.show_grids([np.eye(2)], ["a", "b"])
    fig = convolution.show_images([np.eye(4) - 0.5] * 5, ncols=2, symmetric=True)
    assert len(fig.axes) == 6  # 3 rows of 2, the last panel blank
    lo, hi = fig.axes[0].images[0].get_clim()
    assert lo == -hi and hi > 0
    with pytest.raises(ValueError, match="symmetric"):
        convolution.show_images([np.eye(2)] * 2, symmetric=[True])


def test_kernels_and_responses_needs_matching_names():
    ks = {"a": SOBEL_X, "b": SOBEL_X.T}
    fig = convolution.kernels_and_responses(ks, {"a": np.eye(4), "b": -np.eye(4)})
    assert len(fig.axes) == 4 and fig.axes[0].get_title() == "a"
    with pytest.raises(ValueError, match="responses"):
        convolution.kernels_and_responses(ks, {"b": np.eye(4), "a": np.eye(4)})


def test_plot_im2col_draws_the_columns():
    x = np.arange(1.0, 17.0).reshape(4, 4)
    cols = im2col(x[None, None], (3, 3), (1, 1), (1, 1), (2, 2))[0, 0]
    fig = convolution.plot_im2col(x, cols, (3, 3))
    assert len(fig.axes) == 5  # four windows and the matrix
    matrix = fig.axes[-1]
    assert texts(matrix)[:4] == ["1", "2", "5", "6"]  # first row: top-left pixel of each window
    with pytest.raises(ValueError, match="cols"):
        convolution.plot_im2col(x, cols[:, :3], (3, 3))


def test_animation_has_one_frame_per_output_and_writes_the_sum():
    x = np.array([[0, 0, 2, 2], [0, 0, 2, 2], [0, 1, 2, 2]], dtype=float)
    anim = convolution.sliding_window_animation(x, SOBEL_X)
    assert len(list(anim.new_frame_seq())) == 2  # a 1x2 output
    anim._func(1)
    fig = anim._fig
    output_ax = fig.axes[2]
    # By hand: window x[:, 1:4] = [[0,2,2],[0,2,2],[1,2,2]] -> 2 + 4 + 1 = 7 (and frame 0: 8).
    assert texts(output_ax)[:2] == ["8", "7"]
    summary = fig.axes[3].texts[0].get_text()
    assert summary.startswith("out[0,1] = ") and summary.endswith("= 7")
    assert "1·\u22121" in summary  # the bottom-left pixel times its weight


def test_animation_with_stride_padding_and_dilation():
    x = np.arange(25.0).reshape(5, 5)
    anim = convolution.sliding_window_animation(x, np.ones((2, 2)), stride=2, padding=1, dilation=2)
    # padded 7, span (2 - 1) * 2 + 1 = 3: (7 - 3) // 2 + 1 = 3 outputs a side, 9 frames
    assert len(list(anim.new_frame_seq())) == 9
    anim._func(4)
    # The centre output reads padded rows/cols {2, 4}, i.e. x[1, 1] + x[1, 3] + x[3, 1] + x[3, 3].
    assert texts(anim._fig.axes[2])[4] == "48" == f"{6 + 8 + 16 + 18}"
    assert anim._fig.axes[0].get_title() == "input (zero-padded)"


def test_animation_refuses_too_many_frames():
    with pytest.raises(ValueError, match="max_frames"):
        convolution.sliding_window_animation(np.zeros((12, 12)), np.ones((3, 3)))


def test_gaussian_kernel():
    g = convolution.gaussian_kernel(1.0)
    assert g.shape == (7,) and g.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(g, g[::-1])
    assert g[3] / g[4] == pytest.approx(np.exp(0.5))
    with pytest.raises(ValueError, match="sigma"):
        convolution.gaussian_kernel(0.0)


def test_filter_response_keeps_size_and_flat_images_give_zero_edges():
    rng = np.random.default_rng(0)
    image = rng.random((20, 24))
    np.testing.assert_allclose(convolution.filter_response(image, [[1.0]]), image)
    assert convolution.filter_response(image, SOBEL_X, sigma=1.5).shape == image.shape
    assert convolution.filter_response(image, np.ones((2, 4)) / 8).shape == image.shape
    flat = np.full((16, 16), 0.3)
    np.testing.assert_allclose(convolution.filter_response(flat, SOBEL_X, sigma=2.0), 0, atol=1e-12)
    np.testing.assert_allclose(convolution.filter_response(flat, [[1.0]], sigma=2.0), 0.3)


def test_kernel_grid_and_explorer(monkeypatch):
    image = np.random.default_rng(0).random((24, 24))
    fig = convolution.kernel_grid(image, {"a": SOBEL_X, "b": SOBEL_X.T}, sigmas=(0, 1, 2))
    assert len(fig.axes) == 6 and fig.axes[4].get_title() == "b, σ = 1"

    drawn = []

    def record(images, titles, **kwargs):
        drawn.append((titles, images[1]))
        return plt.figure()

    monkeypatch.setattr(convolution, "show_images", record)
    box = convolution.kernel_explorer(image, {"a": SOBEL_X, "b": SOBEL_X.T})
    controls, out = box.children
    kernel, sigma = controls.children
    assert len(out.outputs) == 1 and drawn[-1][0] == ["blurred, σ = 0", "a response"]
    kernel.value = "b"
    sigma.value = 1.5
    assert len(out.outputs) == 1 and drawn[-1][0] == ["blurred, σ = 1.5", "b response"]
    np.testing.assert_allclose(drawn[-1][1], convolution.filter_response(image, SOBEL_X.T, 1.5))
