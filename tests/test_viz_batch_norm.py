"""The batch-norm chapter's figures draw exactly the numbers they are given."""

import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from dlbook.experiments.batch_norm import running_stats  # noqa: E402
from dlbook.viz import batch_norm as vb  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


class _History:
    def __init__(self, accs):
        self.accs = accs

    def __getitem__(self, key):
        assert key == "test_acc"
        return self.accs


def _record(norm, steps=12, channels=4, snaps=5, seed=0):
    rng = np.random.default_rng(seed)
    return dict(
        norm=norm,
        mean=rng.standard_normal((steps, channels)),
        std=rng.uniform(0.5, 2.0, (steps, channels)),
        loss=np.linspace(2.0, 0.1, steps),
        snap_steps=np.linspace(0, steps - 1, snaps).astype(int),
        snap_values=rng.normal(0.0, 1.0, (snaps, 200)),
        ics_steps=np.arange(0, steps, 3),
        ics_change=rng.uniform(0.1, 1.0, len(range(0, steps, 3))),
    )


def test_normalize_figure_one_histogram_per_channel_and_stage():
    x = np.random.default_rng(0).normal(3.0, 2.0, (16, 3, 4, 4))
    fig = vb.normalize_figure([x, x - 3], ["a", "b"])
    assert len(fig.axes) == 2
    for ax in fig.axes:
        assert len(ax.patches) == 3  # one filled histogram per channel
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels[1] == f"channel 1: {x[:, 1].mean():+.2f} ± {x[:, 1].std():.2f}"


def test_axes_figure_shades_one_channel_against_one_example():
    n, c, hw = 3, 4, 5
    fig = vb.axes_figure(n=n, c=c, hw=hw)
    shaded = [sum(isinstance(p, Rectangle) for p in ax.patches) - 1 for ax in fig.axes]
    assert shaded == [n * hw, c * hw]  # batch norm: a column block; layer norm: a row


def test_sweep_figure_draws_the_mean_over_seeds():
    rows = [
        dict(
            norm=norm,
            lr=lr,
            seed=seed,
            test_acc=acc,
            recalibrated_acc=None,
            history=_History([0.1, acc]),
        )  # fmt: skip
        for norm, base in (("none", 0.2), ("batch", 0.8))
        for lr in (0.01, 0.1)
        for seed, acc in ((0, base), (1, base + 0.1))
    ]
    fig = vb.sweep_figure(rows)
    assert len(fig.axes) == 1 + 2
    mean_line = fig.axes[0].lines[0]  # the first norm's line through the seed means
    np.testing.assert_allclose(mean_line.get_ydata(), [25.0, 25.0])
    assert len(fig.axes[1].lines) == 4  # 2 norms x 2 seeds at one learning rate


def test_shift_figure_draws_the_records():
    recs = [_record("none"), _record("batch", seed=1)]
    fig = vb.shift_figure(recs, channels=(0, 2))
    axes = np.array(fig.axes).reshape(2, 2)
    np.testing.assert_allclose(axes[0, 1].lines[1].get_ydata(), recs[1]["mean"][:, 2])
    np.testing.assert_allclose(axes[1, 0].lines[0].get_ydata(), recs[0]["std"][:, 0])


def test_ics_figure_smooths_the_loss_and_draws_the_gradient_change():
    rec = _record("noisy")
    fig = vb.ics_figure([rec])
    loss_line, ics_line = fig.axes[0].lines[0], fig.axes[1].lines[0]
    assert len(loss_line.get_ydata()) == len(rec["loss"]) - 10  # an 11-step moving average
    assert loss_line.get_ydata()[0] == pytest.approx(rec["loss"][:11].mean())
    np.testing.assert_allclose(ics_line.get_ydata(), rec["ics_change"])


def test_histogram_animation_frames_and_heights():
    recs = [_record("none"), _record("batch", seed=1), _record("noisy", seed=2)]
    anim = vb.histogram_animation(recs, bins=10, lim=(-10.0, 10.0))
    assert anim._save_count == 5
    anim._func(3)
    bars = anim._fig.axes[2].patches[0]  # the stairs of the third panel
    heights = bars.get_data().values
    want, _ = np.histogram(recs[2]["snap_values"][3], bins=np.linspace(-10, 10, 11))
    np.testing.assert_allclose(heights, want / 200)
    assert "training step" in anim._fig._suptitle.get_text()


def test_batch_size_figure_lines():
    acc = {1: 0.1, 4: 0.5, 64: 0.9}
    fig = vb.batch_size_figure(acc, 0.8, 0.95)
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [10.0, 50.0, 90.0])
    assert [line.get_ydata()[0] for line in ax.lines[1:]] == [80.0, 95.0]


def test_running_figure_and_grid_draw_running_stats():
    fig, (am, av) = plt.subplots(1, 2)
    r = vb.running_figure(am, av, mean=1.0, std=2.0, batch_size=4, momentum=0.3, steps=10)
    want = running_stats(1.0, 2.0, 4, 0.3, 10)
    np.testing.assert_allclose(r["running_var"], want["running_var"])
    np.testing.assert_allclose(am.lines[1].get_ydata(), want["running_mean"])
    # the dotted line of what the biased average converges to: (m - 1) / m of the variance
    assert av.lines[-1].get_ydata()[0] == pytest.approx(4.0 * 3 / 4)
    grid = vb.running_grid(momenta=(0.1, 0.5), batch_sizes=(4,), steps=5)
    assert len(grid.axes) == 4


def test_explorer_updates_its_text():
    panel = vb.explorer(momentum=0.1, batch_size=8, steps=20)
    slider_m, slider_b = panel.children[0].children
    info = panel.children[1]
    before = info.value
    slider_m.value = 0.9
    assert info.value != before and "running mean" in info.value
    assert len(panel.children[2].value) > 0  # a PNG
    slider_b.value = 64
    r = running_stats(2.0, 3.0, 64, 0.9, 20)
    assert f"{r['running_mean'][-1]:.2f}" in info.value


def _cells(html):
    return re.findall(r"<td[^>]*>([^<]*)</td>", html.data)


def test_sweep_table_lists_every_seed():
    sweep = [
        dict(norm=n, lr=lr, seed=s, test_acc=a, recalibrated_acc=r)
        for lr in (0.1, 1.0)
        for s in (0, 1)
        for n, a, r in (("none", 0.5 + s / 10, None), ("batch", 0.8 - lr / 10, 0.9))
    ]
    assert _cells(vb.sweep_table(sweep, [1.0, 0.1])) == [
        *("1", "50.0, 60.0", "70.0, 70.0", "90.0, 90.0"),
        *("0.1", "50.0, 60.0", "79.0, 79.0", "90.0, 90.0"),
    ]


def test_study_table_rows_by_hand():
    m = dict(mean_shift=0.1234, scale_shift=0.05, drift=1.234, spread_drift=0.5, loss=0.25)
    means = {
        "none": m | dict(recalibrated_acc=0.8, ics=0.3),
        "batch": m | dict(recalibrated_acc=0.9, ics=0.1),
    }
    cells = _cells(vb.study_table(means))
    assert cells[:8] == [
        "no normalization",
        "0.123",
        "0.050",
        "1.23",
        "0.50",
        "0.250",
        "80.0",
        "0.300",
    ]
    assert cells[8] == "batch norm" and cells[-2:] == ["90.0", "0.100"]
