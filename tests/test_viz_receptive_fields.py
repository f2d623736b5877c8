"""The receptive-field pictures: their cones are the traced fields, and their frames count."""

import matplotlib

matplotlib.use("Agg")

import itertools  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from dlbook import nets  # noqa: E402
from dlbook.receptive import Region, receptive_field  # noqa: E402
from dlbook.viz import receptive_fields as R  # noqa: E402
from dlbook.viz.common import to_html  # noqa: E402

EXAMPLE = [
    ("conv", 3, 1, 1, 1),
    ("conv", 3, 1, 1, 1),
    ("pool", 2, 2, 0, 1),
    ("conv", 3, 1, 1, 1),
    ("conv", 3, 2, 1, 1),
]


def test_analyse_follows_the_recurrence_by_hand():
    st = R.analyse(EXAMPLE, 16)
    assert st.grids == [16, 16, 16, 8, 8, 4]
    # r' = r + d(k-1)j, j' = sj, p' = p + qj, worked by hand layer by layer.
    assert st.sizes == [1, 3, 5, 6, 10, 14]
    assert st.jumps == [1, 1, 1, 2, 2, 4]
    assert st.pads == [0, 1, 2, 2, 4, 6]
    assert st.centre(5, 0) == -6 + 13 / 2 and st.centre(0, 3) == 3


def _stacks():
    kinds = [("conv", 3, 1, 1, 1), ("conv", 3, 2, 1, 1), ("conv", 3, 1, 2, 2), ("pool", 2, 2, 0, 1),
             ("conv", 4, 3, 0, 1), ("pool", 3, 1, 1, 2), ("conv", 1, 2, 0, 1)]  # fmt: skip
    yield from itertools.product(kinds, repeat=2)
    yield from itertools.islice(itertools.product(kinds, repeat=3), 0, None, 11)  # 32 of 343


def test_every_cone_base_is_the_traced_region():
    checked = 0
    for steps in _stacks():
        n = 20
        try:
            st = R.analyse(steps, n)
        except ValueError:
            continue
        rf = receptive_field(R.to_model(steps), (1, n, n))
        top = len(st.steps)
        for u in range(st.grids[top]):
            base = R.cone(st, top, u)[0]
            full, clipped = rf.region(u, u, clip=False), rf.region(u, u)
            assert (base.min(), base.max() + 1) == (full.rows.start, full.rows.stop)
            inside = base[(base >= 0) & (base < n)]
            assert inside.min() >= clipped.rows.start and inside.max() < clipped.rows.stop
            checked += 1
    assert checked > 150


def test_cone_marks_padding_outside_the_grid():
    st = R.analyse([("conv", 3, 1, 1, 1), ("conv", 3, 1, 1, 1)], 8)
    assert R.cone(st, 2, 0)[1].tolist() == [-1, 0, 1]
    assert R.cone(st, 2, 0)[0].tolist() == [-2, -1, 0, 1, 2]
    assert R.cone(st, 1, 7)[0].tolist() == [6, 7, 8]


@pytest.mark.parametrize(
    "spec, match",
    [
        ([("dense", 3)], "kind"),
        ([("conv", 0)], "kernel"),
        ([("conv", 3, 0)], "stride"),
        ([("conv", 3, 1, -1)], "padding"),
        ([("pool", 2, 2, 0, 0)], "dilation"),
        ([], "at least one"),
        ([("pool", 2, 2, 2)], "padding"),
    ],
)
def test_bad_steps(spec, match):
    with pytest.raises(ValueError, match=match):
        R.as_steps(spec)


def test_input_too_small():
    with pytest.raises(ValueError, match="n: 6 pixels are too few for layer 2"):
        R.analyse([("conv", 5, 1, 0, 1), ("conv", 5, 1, 0, 1)], 6)


def test_labels():
    assert R.Step("conv", 3, 2, 1, 1).label() == "conv 3 s2 p1"
    assert R.Step("pool", 2, 2).label() == "pool 2 s2"
    assert R.Step("conv", 3, 1, 4, 4).label() == "conv 3 d4 p4"


def test_draw_stack_title_and_cone():
    st = R.analyse(EXAMPLE, 16)
    ax = R.draw_stack(st, unit=2)
    assert ax.get_title(loc="left") == "unit 2 of layer 5 sees input pixels 2…15 (r = 14)"
    right = [t.get_text() for t in ax.texts]
    assert right[-1] == "r=14 j=4 start=-6" and right[0] == "r=1 j=1 start=0"
    plt.close(ax.figure)
    ax = R.draw_stack(st, level=0, unit=3)
    assert ax.get_title(loc="left") == "unit 3 of the input sees input pixels 3…3 (r = 1)"
    plt.close(ax.figure)
    for kwargs, match in [(dict(level=6), "level"), (dict(level=5, unit=4), "unit=4")]:
        with pytest.raises(ValueError, match=match):
            R.draw_stack(st, **kwargs)
    plt.close("all")


def test_animations_count_their_frames():
    html = to_html(R.animate_growth(EXAMPLE, n=16)).data
    assert 'data-frames="6"' in html  # the input and five layers
    html = to_html(R.animate_slide(EXAMPLE, n=16)).data
    assert 'data-frames="4"' in html  # the top layer's 4 units
    with pytest.raises(ValueError, match="max_frames"):
        R.animate_slide(EXAMPLE, n=16, max_frames=3)
    assert not plt.get_fignums()  # to_html closed them


def test_plot_stacks_one_panel_per_stack():
    fig = R.plot_stacks({"a": EXAMPLE, "b": [("conv", 3, 1, 1, 1)]}, n=16)
    assert len(fig.axes) == 2 and fig.axes[1].get_title(loc="left").startswith("b: unit 8")
    plt.close(fig)
    with pytest.raises(ValueError, match="cases"):
        R.plot_stacks({})


def test_unit_near():
    rf = receptive_field(nn.Conv2d(1, 1, 3, stride=2, padding=1), (1, 8, 8))
    # unit u is centred on pixel 2u; ties round up; far points clip to the grid.
    assert R.unit_near(rf, (4, 5)) == (2, 3)
    assert R.unit_near(rf, (100, -7)) == (3, 0)
    with torch.device("meta"):
        alex = nets.alexnet().features
    rf = receptive_field(alex, (3, 224, 224))  # r 195, jump 32, padding 66: centres 32u + 31
    assert R.unit_near(rf, (31, 223)) == (0, 5) and R.unit_near(rf, (112, 112)) == (3, 3)


def test_draw_regions():
    fig, ax = plt.subplots()
    regions = {"a": Region(range(2, 5), range(0, 8)), "b": Region(range(0, 10), range(1, 3))}
    R.draw_regions(ax, np.zeros((3, 10, 10)), regions)
    boxes = [p for p in ax.patches if p.get_label() in regions]
    assert [(b.get_xy(), b.get_width(), b.get_height()) for b in boxes] == [
        ((-0.5, 1.5), 8, 3),
        ((0.5, -0.5), 2, 10),
    ]
    plt.close(fig)


def test_summary_rows():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2))
    text = R.summary(receptive_field(model, (1, 8, 8)), ["0", "2"])
    assert text.splitlines() == [
        "layer  kind       size  jump  padding  output",
        "-----  ---------  ----  ----  -------  ------",
        "0      Conv2d     3     1     0        2x6x6",
        "2      MaxPool2d  4     2     0        2x3x3",
    ]


def test_plot_growth_axes():
    fig = R.plot_growth([1, 2], {"a": [3, 5]}, {"a": [10, 20]}, big_kernel=([3, 5], [9, 25]))
    left, right = fig.axes
    assert left.get_yscale() == "log" and right.get_xscale() == "log"
    assert len(right.lines) == 2
    plt.close(fig)


def _text(builder):
    return "".join(o.get("text", "") for o in builder.out.outputs)


def test_stack_builder():
    b = R.StackBuilder(steps=[("conv", 3, 1, 1, 1)], n=16)
    assert [o["output_type"] for o in b.out.outputs] == ["stream", "display_data"]
    b.kind.value, b.kernel.value, b.stride.value, b.padding.value = "pool", 2, 2, 0
    b.add()
    assert b.steps[-1] == R.Step("pool", 2, 2, 0, 1)
    assert _text(b).splitlines()[-1].split() == ["pool", "2", "s2", "8", "4", "2", "-1", "0.5"]
    b.kind.value, b.kernel.value, b.padding.value, b.stride.value = "conv", 7, 0, 1
    for _ in range(3):
        b.add()  # 16 -> 8, then 7x7 valid layers run out of room
    assert "cannot build this stack" in _text(b)
    b.remove()
    assert len(b.steps) == 4
    b.reset()
    assert b.steps == [R.Step("conv", 3, 1, 1, 1)] and "conv 3 p1" in _text(b)
    assert not plt.get_fignums()


RESULTS = {
    "d = 1, 1, 1": dict(field=7, jump=1, weights=4834, accs=[51.2, 50.0]),
    "s = 2, 2, 1": dict(field=15, jump=4, weights=4834, accs=[100.0, 99.5]),
}


def test_accuracy_table_has_one_line_a_network_and_chance():
    lines = R.accuracy_table(RESULTS, 0.512).splitlines()
    assert lines[0].startswith("network") and len(lines) == 4
    assert lines[1] == "d = 1, 1, 1       7     1    4,834    51.2   50.0"
    assert lines[2].split()[-2:] == ["100.0", "99.5"]
    assert lines[3] == "chance (the larger class): 51.2 %"


def test_accuracy_figure_has_a_dot_per_seed_and_its_markers():
    fig = R.plot_accuracy_vs_field(RESULTS, 0.512, pattern=11)
    ax = fig.axes[0]
    dots = [ln for ln in ax.lines if ln.get_marker() in ("o", "s") and len(ln.get_xdata())]
    assert [list(ln.get_xdata()) for ln in dots] == [[7, 7], [15, 15]]
    assert [ln.get_marker() for ln in dots] == ["o", "s"]
    vertical = [ln for ln in ax.lines if ln.get_linestyle() == "--"]
    assert vertical and list(vertical[0].get_xdata()) == [11, 11]
    assert any(t.get_text() == "field = pattern width (11)" for t in ax.texts)
    plt.close(fig)


def test_the_stack_builder_has_a_still_for_pages_without_a_kernel():
    from dlbook.viz.receptive_fields import StackBuilder

    builder = StackBuilder()
    bundle = builder._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle  # live in Jupyter
    assert bundle["text/plain"].startswith("Stack builder (conv 3 p1, pool 2 s2)")
    html = bundle["text/html"]
    assert "data:image/png;base64," in html and "layer" in html and "http" not in html
    builder.add()
    assert "conv 3 p1, pool 2 s2, conv 3 p1" in builder._repr_mimebundle_()["text/plain"]
