"""Every figure of Part 2 (convolution, padding/stride/dilation, channels, transposed
convolution) has text a reader can read: at least 9 px at the book's 720 px column, built with
the arguments the chapters use (on smaller data where the figure does not depend on it)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from test_viz_padding_stride_dilation import stride_result  # noqa: E402

from dlbook.scratch import conv2d  # noqa: E402
from dlbook.scratch.im2col import im2col  # noqa: E402
from dlbook.scratch.matrix import conv2d_matrix  # noqa: E402
from dlbook.viz import channels as vc  # noqa: E402
from dlbook.viz import convolution as vconv  # noqa: E402
from dlbook.viz import padding_stride_dilation as vpsd  # noqa: E402
from dlbook.viz import transposed_convolution as vt  # noqa: E402
from dlbook.viz.legible import assert_legible  # noqa: E402

RNG = np.random.default_rng(0)
SOBEL_X = np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
PHOTO = RNG.random((3, 32, 32))  # stands in for a photograph: the text does not depend on it
IMAGE = PHOTO[0]


def _kernels():
    gauss = vconv.gaussian_kernel(1.0, radius=2)
    return {
        "Sobel x": SOBEL_X,
        "Sobel y": SOBEL_X.T,
        "Laplacian": np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=float),
        "Gaussian blur 5×5": np.outer(gauss, gauss),
    }


def _responses(kernels):
    return {n: conv2d(IMAGE[None, None], k[None, None])[0, 0] for n, k in kernels.items()}


def _im2col():
    tiny = np.arange(1.0, 17.0).reshape(1, 1, 4, 4)
    return vconv.plot_im2col(tiny[0, 0], im2col(tiny, (3, 3), (1, 1), (1, 1), (2, 2))[0, 0], (3, 3))


def _stride_results():
    flatten = [
        stride_result(s, [0.9 - 0.01 * s, 0.92 - 0.01 * s], 100_000 // s**2) for s in (1, 2, 3)
    ]
    return flatten, [stride_result(s, [0.6 + 0.1 * s, 0.62 + 0.1 * s], 0) for s in (1, 2, 3)]


def _first_frame(anim):
    """The figure of a ``FuncAnimation`` with its first frame drawn."""
    anim._func(0)
    return anim._fig


STEP = np.array([[0, 0, 0, 2, 2, 2], [0, 0, 1, 2, 2, 2], [0, 0, 0, 2, 3, 2]] * 2, dtype=float)
FIGURES = {
    # convolution
    "impulse grids": lambda: vconv.show_grids(
        [np.eye(5), np.arange(9.0).reshape(3, 3), np.eye(5), np.eye(5)],
        ["impulse x", "kernel w", "x ⋆ w: w turned 180°", "x * w: w itself"],
    ),
    "kernels and responses": lambda: vconv.kernels_and_responses(
        _kernels(), _responses(_kernels())
    ),
    "edge images": lambda: vconv.show_images(
        [IMAGE, IMAGE, IMAGE > 0.5],
        ["camera", "gradient magnitude √(gx² + gy²)", "the strongest 10%"],
        size=3.0,
    ),
    "im2col": _im2col,
    "sliding window": lambda: _first_frame(
        vconv.sliding_window_animation(STEP, SOBEL_X, interval=1200, dpi=80)
    ),
    "kernel grid": lambda: vconv.kernel_grid(
        IMAGE, {"Sobel x": SOBEL_X, "Laplacian": _kernels()["Laplacian"]}, sigmas=(0, 1, 2, 4)
    ),
    "learned kernels": lambda: vconv.show_grids(
        [RNG.standard_normal((3, 3)) for _ in range(6)],
        ["step 0", "step 10", "step 50", "step 100", "step 400", "target S_x"],
        fmt="{:.1f}",
        size=1.65,
    ),
    "hessian directions": lambda: vconv.show_grids(
        [RNG.standard_normal((3, 3)) for _ in range(3)],
        ["fastest direction", "slowest direction", "plain GD's leftover error"],
        fmt="{:.2f}",
        size=2.3,
    ),
    # padding, stride and dilation
    "cases": lambda: vpsd.plot_cases(
        [
            vpsd.CASES["valid"],
            dict(n=5, kernel_size=4, padding="same"),
            vpsd.CASES["full"],
            vpsd.CASES["stride 2"],
            dict(n=6, kernel_size=3, stride=2, padding=0),
            vpsd.CASES["dilation 2"],
        ],
        ncols=3,
    ),
    "sweep": lambda: vpsd.plot_cases(
        [dict(n=5, kernel_size=3, stride=s, padding=p) for p in (0, 1, 2) for s in (1, 2, 3)],
        ncols=3,
    ),
    **{
        f"animation {name}": (lambda c=case: _first_frame(vpsd.animate_conv(**c)))
        for name, case in vpsd.CASES.items()
    },
    "stride figure": lambda: vpsd.stride_figure(*_stride_results()),
    "explorer diagram": lambda: vpsd.draw_conv(9, 5, 1, 4, 3).figure,
    # channels
    "channel sum": lambda: vc.show_channel_sum(PHOTO, vc.colour_kernels()[0], o=2),
    "feature maps": lambda: vc.show_feature_maps(PHOTO, *vc.colour_kernels()),
    "channel diagram": lambda: vc.channel_diagram(c_in=3, c_out=4, highlight=1).figure,
    "groups grid 8": lambda: vc.groups_grid(c_in=8, c_out=8, groups=(1, 2, 4, 8)),
    "groups grid 4": lambda: vc.groups_grid(c_in=4, c_out=8, groups=(1, 2, 4)),
    "channel animation": lambda: _first_frame(
        vc.build_animation(PHOTO, vc.colour_kernels()[0][[0, 2, 3, 4]])
    ),
    # transposed convolution
    "matrix": lambda: vt.matrix_figure(
        conv2d_matrix((4, 4), np.arange(1.0, 10.0).reshape(3, 3)),
        (4, 4),
        np.arange(1.0, 10.0).reshape(3, 3),
    ),
    "image grid": lambda: vt.image_grid(
        [IMAGE] * 4,
        ["x", "y = Bx  (blurred)", r"$B^T y$  (transposed conv)", r"$B^{-1} y$  (deconvolution)"],
    ),
    "stamping": lambda: _first_frame(
        vt.stamping_animation(
            np.array([[1.0, 2, 0], [0, 1, 3], [2, 0, 1]]), np.ones((3, 3)), stride=2, padding=1
        )
    ),
    "overlap grid": lambda: vt.overlap_figure(
        [dict(kernel_size=k, stride=s) for s in (1, 2, 3) for k in (2, 3, 4, 5)],
        in_size=3,
        ncols=4,
        size=2.0,
        annotate=121,
    ),
    "overlap cases": lambda: vt.overlap_figure(
        [
            dict(kernel_size=3, stride=2, padding=1, output_padding=1),
            dict(kernel_size=4, stride=2, padding=1),
            dict(kernel_size=2, stride=2),
        ],
        in_size=6,
    ),
    "explorer overlap map": lambda: vt.overlap_figure(
        [dict(kernel_size=3, stride=2, padding=0, output_padding=1)], in_size=5, size=4.5
    ),
    "upsampled photos": lambda: vt.image_grid(
        [RNG.random((64, 64))] + [RNG.random((128, 128))] * 5,
        ["64×64 input", "transposed, k=3 s=2", "transposed, k=4 s=2", "transposed, k=2 s=2"]
        + ["nearest resize + 3×3 conv", "bilinear resize + 3×3 conv"],
        crop=(slice(36, 68), slice(40, 72)),
        size=2.2,
    ),
    "learned upsamplers": lambda: vt.image_grid(
        [RNG.random((32, 32))] + [RNG.random((64, 64))] * 5,
        ["input 32×32", "transposed k=3", "transposed k=4", "resize-conv", "bilinear"]
        + ["target 64×64"],
        size=2.0,
        crop=(slice(8, 32), slice(8, 32)),
    ),
}


@pytest.mark.parametrize("name", FIGURES)
def test_figure_text_is_legible(name):
    fig = FIGURES[name]()
    try:
        fig.canvas.draw()  # animations lay out their text when first drawn
        assert_legible(fig)
    finally:
        plt.close(fig)
