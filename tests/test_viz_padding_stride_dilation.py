"""The convolution-arithmetic diagrams: their sizes follow the formula, and their frames count."""

import matplotlib

matplotlib.use("Agg")

import itertools  # noqa: E402
from types import SimpleNamespace  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from dlbook.shapes import conv_output_size  # noqa: E402
from dlbook.viz import padding_stride_dilation as A  # noqa: E402
from dlbook.viz.common import to_html  # noqa: E402


def test_setting_matches_conv_output_size():
    for n, k, s, p, d in itertools.product(
        range(1, 9), range(1, 5), range(1, 4), range(3), range(1, 3)
    ):
        if d * (k - 1) + 1 > n + 2 * p:
            with pytest.raises(ValueError, match="kernel_size"):
                A.conv_setting(n, k, s, p, d)
            continue
        assert A.conv_setting(n, k, s, p, d).out == conv_output_size(n, k, s, p, d)


def test_named_paddings():
    same_even = A.conv_setting(5, 4, padding="same")
    assert same_even.pads == (1, 2) and same_even.out == 5  # the odd pixel goes after, as torch
    assert A.conv_setting(5, 3, padding="same", dilation=2).pads == (2, 2)
    full = A.conv_setting(4, 3, padding="full", dilation=2)
    assert full.pads == (4, 4) and full.out == 4 + 2 * 2
    assert A.conv_setting(5, 3, padding="valid").out == 3


def test_titles():
    assert A.conv_setting(5, 3, 2, 1, 1).title() == "k=3, s=2, p=1, d=1: 5×5 → 3×3"
    assert A.conv_setting(5, 4, padding="same").title() == "k=4, s=1, p=1+2 (same), d=1: 5×5 → 5×5"


def test_taps_and_unused_pixels():
    st = A.conv_setting(7, 3, stride=1, padding=0, dilation=2)
    assert st.taps(1).tolist() == [1, 3, 5]
    # n=6, k=3, s=2: windows start at 0 and 2, so pixel 5 is never read (the floor drops it).
    assert A.conv_setting(6, 3, 2, 0).used().tolist() == [True] * 5 + [False]
    assert A.conv_setting(5, 3, 2, 0).used().all()


@pytest.mark.parametrize(
    "args, match",
    [
        (dict(n=5, stride=0), "stride"),
        (dict(n=5, stride=2, padding="same"), "stride=1"),
        (dict(n=5, padding="half"), "padding"),
        (dict(n=5, padding=-1), "padding"),
        (dict(n=2, kernel_size=3), "kernel_size"),
        (dict(n=0), "n"),
    ],
)
def test_bad_arguments(args, match):
    with pytest.raises(ValueError, match=match):
        A.conv_setting(**args)


def test_diagram_moves_the_kernel():
    fig, ax = plt.subplots()
    diagram = A.ConvDiagram(ax, A.conv_setting(5, 3, stride=2, padding=1, dilation=1))
    diagram.move_to(1, 2, progress=True)
    rows, cols = diagram.window
    assert rows.tolist() == [2, 3, 4] and cols.tolist() == [4, 5, 6]  # padded coordinates
    assert tuple(diagram.outline.get_xy()) == (4, 2)  # (x, y) = (col, row)
    # The drawn taps: the first tap's square lands on padded (row 2, col 4) on screen as well.
    first = diagram.taps.get_paths()[0].vertices.min(axis=0)
    assert diagram._shift.transform(first).tolist() == [4, 2]
    colours = diagram.outputs.get_facecolor()
    assert len(colours) == 9 and (colours[5] != colours[6]).any()  # current vs not yet computed
    assert diagram.caption.get_text() == "out[1,2] reads rows 1,2,3, cols 3,4,5"
    plt.close(fig)


def test_animation_has_one_frame_per_output_pixel():
    anim = A.animate_conv(**A.CASES["stride 2"])
    assert len(list(anim.new_frame_seq())) == 9
    html = to_html(anim).data
    assert 'data-frames="9"' in html and html.count("frames[8]") == 1
    with pytest.raises(ValueError, match="max_frames"):
        A.animate_conv(9, 3, padding="full")  # 11 × 11 = 121 frames


def test_plot_cases_draws_one_panel_per_case():
    fig = A.plot_cases(A.CASES, ncols=3)
    titled = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert len(titled) == len(A.CASES)
    assert "k=3, s=1, p=2 (full), d=1: 3×3 → 5×5" in titled
    plt.close(fig)


def test_explorer_has_five_sliders():
    widget = A.conv_explorer()
    names = [c.description for c in widget.children if hasattr(c, "max")]
    assert names == ["input n", "kernel k", "padding p", "stride s", "dilation d"]


def test_explorer_works_out_the_formula():
    widget = A.conv_explorer()
    n, k, *_, out = widget.children
    assert out.outputs[0]["text"].strip().endswith("= ⌊4 / 2⌋ + 1 = 3")
    assert "image/png" in out.outputs[1]["data"]
    n.value, k.value = 1, 5  # the kernel does not fit
    assert len(out.outputs) == 1 and "spans 5 pixels" in out.outputs[0]["text"]
    assert plt.get_fignums() == []


def stride_result(stride, accuracies, macs, epochs=3):
    curves = [np.linspace(0.5, a, epochs) for a in accuracies]
    return SimpleNamespace(
        stride=stride,
        accuracies=accuracies,
        mean=float(np.mean(accuracies)),
        std=float(np.std(accuracies)),
        curves=curves,
        mean_curve=np.mean(curves, axis=0),
        macs=macs,
    )


def test_stride_figure_draws_both_heads_and_the_cost():
    flatten = [stride_result(s, [0.9 - 0.01 * s, 0.92 - 0.01 * s], 1000 // s**2) for s in (1, 2, 3)]
    gap = [stride_result(s, [0.6 + 0.1 * s, 0.62 + 0.1 * s], 0) for s in (1, 2, 3)]
    fig = A.stride_figure(flatten, gap)
    try:
        (acc_flat, acc_gap), (curves, cost) = fig.axes[0:2], fig.axes[2:4]
        assert "flatten" in acc_flat.get_title() and "3 epochs" in acc_flat.get_title()
        assert "global avg pool" in acc_gap.get_title()
        assert [bar.get_height() for bar in cost.patches] == [1000, 250, 111]
        assert [t.get_text() for t in cost.texts] == ["1,000", "250", "111"]
        assert len(curves.get_lines()) == 6  # one mean curve per stride and head
    finally:
        plt.close(fig)
