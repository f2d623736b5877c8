"""The LeNet chapter's helpers: they must show what the network computes, for NumPy and torch."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from dlbook import nets  # noqa: E402
from dlbook.scratch.nets import lenet5  # noqa: E402
from dlbook.viz import lenet_numpy as vl  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture
def pair():
    """A NumPy LeNet and a torch LeNet with the same float64 weights."""
    torch.manual_seed(0)
    tnet = nets.LeNet5(input_size=28).double()
    net = lenet5(input_size=28, dtype=np.float64, rng=np.random.default_rng(0))
    net.set_params(p.detach().numpy() for p in tnet.parameters())
    return net, tnet


@pytest.fixture
def images():
    return np.random.default_rng(1).random((3, 1, 28, 28))


def test_stages_follow_the_paper_and_agree_between_numpy_and_torch(pair, images):
    net, tnet = pair
    ours, theirs = vl.stages(net, images), vl.stages(tnet, torch.from_numpy(images))
    assert list(ours) == list(theirs) == list(vl.PAPER_NAMES)
    shapes = {k: v.shape[1:] for k, v in ours.items()}
    assert shapes == {"C1": (6, 28, 28), "S2": (6, 14, 14), "C3": (16, 10, 10),
                      "S4": (16, 5, 5), "C5": (120,), "F6": (84,), "output": (10,)}  # fmt: skip
    for k in ours:
        np.testing.assert_allclose(ours[k], theirs[k], atol=1e-12)
    # C1 is the squashed convolution, what S2 pools.
    x = images
    for layer in net.layers[:2]:
        x = layer(x)
    np.testing.assert_allclose(ours["C1"], x)
    np.testing.assert_allclose(ours["output"], net(images))
    assert tnet.training and net.training  # the helpers put the mode back


def test_stages_of_the_modern_torch_net_fold_batch_norm_into_the_stage():
    steps = vl.activations(nets.LeNet5Modern(input_size=28), torch.zeros(2, 1, 28, 28))
    assert [s.kind for s in steps if s.stage == "C1"] == ["Conv2d", "BatchNorm2d", "ReLU"]


def test_probabilities_are_the_softmax_of_the_output(pair, images):
    net, _ = pair
    p = vl.probabilities(net, images)
    z = net(images)
    np.testing.assert_allclose(p, np.exp(z) / np.exp(z).sum(1, keepdims=True), atol=1e-12)


def test_layer_table_counts_parameters_by_hand(pair):
    net, tnet = pair
    rows = vl.layer_table(net)
    assert rows[0] == ("input", "", (1, 28, 28), 0)
    by_stage = {r[0]: r for r in rows if r[0]}
    assert by_stage["C1"][3] == 6 * 25 + 6
    assert by_stage["C3"][3] == 16 * 6 * 25 + 16
    assert by_stage["C5"][3] == 120 * 16 * 25 + 120
    assert by_stage["F6"][3] == 120 * 84 + 84
    assert by_stage["output"][2:] == ((10,), 84 * 10 + 10)
    assert sum(r[3] for r in rows) == sum(p.size for p in net.params) == 61706
    assert vl.layer_table(tnet) == rows


def test_mosaic_places_tiles_between_nan_borders():
    maps = np.arange(5 * 2 * 3, dtype=float).reshape(5, 2, 3)
    m = vl.mosaic(maps, ncols=3)
    assert m.shape == (2 * 2 + 1, 3 * 3 + 2)
    np.testing.assert_array_equal(m[0:2, 4:7], maps[1])
    np.testing.assert_array_equal(m[3:5, 0:3], maps[3])
    assert np.isnan(m[2]).all() and np.isnan(m[3:5, 8:]).all()  # border row, missing 6th tile
    with pytest.raises(ValueError, match="maps"):
        vl.mosaic(np.zeros((2, 2)))


def test_show_filters_draws_every_filter_on_one_centred_scale():
    w = np.random.default_rng(0).standard_normal((4, 2, 3, 3))
    ax = vl.show_filters(torch.from_numpy(w))
    im = ax.images[0]
    np.testing.assert_array_equal(im.get_array().filled(np.nan), vl.mosaic(w.transpose(1, 0, 2, 3)))
    assert im.norm.vmin == -im.norm.vmax == -np.abs(w).max()
    with pytest.raises(ValueError, match="weight"):
        vl.show_filters(w[0])


def test_architecture_diagram_labels_every_stage(pair, images):
    ax = vl.architecture_diagram(pair[0], images[0])
    texts = [t.get_text() for t in ax.texts]
    for label in ("1@28×28", "6@28×28", "6@14×14", "16@10×10", "16@5×5", "120", "84", "10"):
        assert label in texts
    assert texts.count("convolve") == 3 and texts.count("subsample") == 2
    assert len(ax.images) == 1  # only the input, unless maps=True
    assert len(vl.architecture_diagram(pair[0], images[0], maps=True).images) == 5


def test_feature_map_grid_one_row_per_image(pair, images):
    maps = vl.stages(pair[0], images)["C3"]
    fig = vl.feature_map_grid(images, maps, "C3", ncols=8)
    assert len(fig.axes) == 2 * 3
    np.testing.assert_array_equal(fig.axes[3].images[0].get_array().filled(np.nan),
                                  vl.mosaic(maps[1], 8))  # fmt: skip
    with pytest.raises(ValueError, match="maps"):
        vl.feature_map_grid(images, maps[:2], "C3")


def test_learning_curves_overlays_runs():
    h = {"train_loss": [1.0, 0.5], "test_loss": [1.1, 0.7], "train_acc": [0.5, 0.9],
         "test_acc": [0.4, 0.8]}  # fmt: skip
    fig = vl.learning_curves({"a": h, "b": h}, target=0.97)
    ax_loss, ax_acc = fig.axes
    assert len(ax_loss.lines) == 4 and len(ax_acc.lines) == 5  # plus the budget line
    np.testing.assert_allclose(ax_acc.lines[1].get_ydata(), [40, 80])


def test_confident_mistakes_most_confident_first():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.6, 0.4], [0.05, 0.95]])
    y = np.array([0, 0, 0, 1, 1])
    np.testing.assert_array_equal(vl.confident_mistakes(probs, y), [1, 2, 3])
    np.testing.assert_array_equal(vl.confident_mistakes(probs, y, k=1), [1])
    fig = vl.show_mistakes(np.zeros((5, 1, 4, 4)), probs, y, [1, 3], ncols=2)
    assert fig.axes[0].get_title() == "#1: says 1 (80%)\ntrue 0 (20%)"
    with pytest.raises(ValueError, match="probs"):
        vl.confident_mistakes(probs[:, 0], y)


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_filter_recorder_keeps_copies_and_maps(pair, images, kind):
    model = pair[0] if kind == "numpy" else pair[1]
    rec = vl.FilterRecorder(image=images[0])
    rec(1, model)
    first = model.params[0] if kind == "numpy" else model.features[0].weight.data.numpy()
    first *= 2  # later training must not change what was recorded
    rec(2, model)
    assert rec.epochs == [1, 2]
    np.testing.assert_allclose(rec.filters[1], 2 * rec.filters[0])
    assert rec.maps[0].shape == (6, 28, 28)


def test_filter_animation_one_frame_per_snapshot():
    rng = np.random.default_rng(0)
    filters = [rng.standard_normal((6, 1, 5, 5)) for _ in range(4)]
    maps = [rng.standard_normal((6, 8, 8)) for _ in range(4)]
    anim = vl.filter_animation(filters, maps, titles=[f"epoch {e}" for e in range(4)])
    assert anim._save_count == 4
    anim._func(3)
    np.testing.assert_array_equal(anim._fig.axes[2].images[0].get_array(), filters[3][2, 0])
    np.testing.assert_array_equal(anim._fig.axes[6 + 5].images[0].get_array(), maps[3][5])
    assert anim._fig._suptitle.get_text() == "epoch 3"
    plt.close(anim._fig)
    anim._draw_was_started = True
    with pytest.raises(ValueError, match="filters"):
        vl.filter_animation(filters * 11)
    with pytest.raises(ValueError, match="maps"):
        vl.filter_animation(filters, maps[:2])


def test_digit_panel_and_grid(pair, images):
    net, _ = pair
    fig = plt.figure()
    p = vl.digit_panel(fig, net, images[1], "S4", label=3)
    np.testing.assert_allclose(p, vl.probabilities(net, images[1:2])[0])
    assert fig.axes[1].get_title() == "S4: 16 maps"
    with pytest.raises(ValueError, match="stage"):
        vl.digit_panel(plt.figure(), net, images[1], "F6")
    grid = vl.explorer_grid(net, images, [0, 1, 2], [(0, "C1"), (2, "C3")])
    assert len(grid.axes) == 6 and grid.axes[3].get_title() == "#2 (true 2)"


def test_explorer_redraws_when_the_image_changes(pair, images):
    panel = vl.explorer(pair[0], images, [0, 1, 2])
    (w_i, w_s), picture = panel.children[0].children, panel.children[1]
    assert list(w_s.options) == ["C1", "S2", "C3", "S4"]
    before = bytes(picture.value)
    assert before.startswith(b"\x89PNG")
    w_i.value = 2
    assert bytes(picture.value) != before
