"""The transposed-convolution figures: overlap counts by hand, the stamping animation's frames."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from dlbook.scratch import conv_transpose2d
from dlbook.scratch.matrix import conv2d_matrix
from dlbook.viz import transposed_convolution as vt
from dlbook.viz.common import to_html


def test_overlap_count_by_hand():
    # Three stamps of width 3, two apart, along each axis: 1 1 2 1 2 1 1; in 2-D the product.
    row = np.array([1, 1, 2, 1, 2, 1, 1])
    np.testing.assert_array_equal(vt.overlap_count(3, 3, 2), np.outer(row, row))
    # Kernel divisible by the stride: even counts in the interior.
    assert np.ptp(vt.overlap_count(6, 4, 2, padding=1)[2:-2, 2:-2]) == 0
    # Kernel smaller than the stride: holes.
    assert vt.overlap_count(3, 2, 3).min() == 0


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_overlap_count_bad_sizes(bad):
    with pytest.raises(ValueError, match="in_size"):
        vt.overlap_count(bad, 3, 2)
    with pytest.raises(ValueError, match="kernel_size"):
        vt.overlap_count(4, bad, 2)


def test_stamping_animation_frames_and_final_output():
    x = np.array([[1.0, 2, 0], [0, 1, 3], [2, 0, 1]])
    w = np.array([[1.0, 1, 1], [1, 2, 1], [1, 1, 1]])
    anim = vt.stamping_animation(x, w, stride=2, padding=1)
    assert anim._save_count == x.size + 1
    anim._func(x.size)  # the last frame: every stamp placed
    image = anim._fig.axes[2].images[0].get_array()
    full = conv_transpose2d(x[None, None], w[None, None], stride=2)[0, 0]  # uncropped
    np.testing.assert_allclose(image, full)
    np.testing.assert_allclose(
        image[1:-1, 1:-1], conv_transpose2d(x[None, None], w[None, None], stride=2, padding=1)[0, 0]
    )
    html = to_html(anim).data
    assert 'data-frames="10"' in html


def test_stamping_animation_rejects_non_2d():
    with pytest.raises(ValueError):
        vt.stamping_animation(np.ones((1, 3, 3)), np.ones((3, 3)))


def test_matrix_figure_panels():
    w = np.arange(1.0, 10.0).reshape(3, 3)
    fig = vt.matrix_figure(conv2d_matrix((4, 4), w), (4, 4), w)
    assert len(fig.axes) == 5
    titles = " ".join(ax.get_title() for ax in fig.axes)
    assert "4×16" in titles and "16×4" in titles
    plt.close(fig)


def test_overlap_figure_titles_and_invalid_case():
    cases = [dict(kernel_size=3, stride=2), dict(kernel_size=3, stride=1, output_padding=1)]
    fig = vt.overlap_figure(cases, in_size=4)
    first, second = (ax.get_title() for ax in fig.axes[:2])
    assert "4→9" in first and "counts 1–4" in first
    assert second.startswith("k=3 s=1 op=1")
    assert any("invalid" in t.get_text() for t in fig.axes[1].texts)
    plt.close(fig)


def test_image_grid_with_zoom():
    images = [np.zeros((8, 8)), np.ones((16, 16))]
    fig = vt.image_grid(images, ["a", "b"], crop=(slice(0, 8), slice(4, 12)))
    assert len(fig.axes) == 4
    # The crop is given in the largest image's pixels and halved for the 8x8 one.
    assert fig.axes[2].images[0].get_array().shape == (4, 4)
    assert fig.axes[3].images[0].get_array().shape == (8, 8)
    plt.close(fig)


def test_overlap_explorer_has_four_sliders():
    explorer = vt.overlap_explorer(in_size=4)
    *sliders, out = explorer.children
    assert [s.description for s in sliders] == ["kernel", "stride", "padding", "out. pad."]
    assert out.outputs[0]["text"] == "output size = (4-1)·2 - 2·0 + (3-1) + 0 + 1 = 9\n"
    assert "image/png" in out.outputs[1]["data"]
    sliders[1].value, sliders[3].value = 1, 2  # output_padding must be below the stride
    assert len(out.outputs) == 1 and out.outputs[0]["text"].startswith("invalid")


def test_zero_insertion_animation_fills_the_output_one_value_a_frame():
    x = np.array([[1.0, 2, 0], [0, 1, 3], [2, 0, 1]])
    anim = vt.zero_insertion_animation(x, np.arange(1.0, 10.0).reshape(3, 3), stride=2, padding=1)
    assert len(list(anim.new_frame_seq())) == 5 * 5 + 1
    padded = anim._fig.axes[0]
    assert len(padded.texts) == 7 * 7  # 5x5 zero-inserted, 1 pixel of padding all round
    assert [t.get_text() for t in anim._fig.axes[1].texts][0] == "9"  # the kernel, turned
    from dlbook.viz.legible import assert_legible

    assert_legible(anim._fig)
    plt.close(anim._fig)
    with pytest.raises(ValueError, match="padding"):
        vt.zero_insertion_animation(x, np.ones((3, 3)), stride=2, padding=3)
