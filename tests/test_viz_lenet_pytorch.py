"""The PyTorch LeNet chapter's pictures: layer plans, replayed training, shifted digits and the
explorer (untrained models and made-up weight states: nothing here trains)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from dlbook import nets  # noqa: E402
from dlbook.experiments.lenet_pytorch import predict_proba, replay, shift  # noqa: E402
from dlbook.viz import lenet_pytorch as vt  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    return {"a": nets.LeNet5(input_size=28).eval(), "b": nets.LeNet5Modern(input_size=28).eval()}


@pytest.fixture(scope="module")
def digits():
    x = np.random.default_rng(0).random((8, 1, 28, 28)).astype(np.float32)
    return x, np.arange(8) % 10


@pytest.fixture(scope="module")
def states(models):
    """Three made-up weight states of the modern LeNet: the initial one, then two nudges."""
    gen = torch.Generator().manual_seed(1)
    first = {k: v.clone() for k, v in models["b"].state_dict().items()}
    out = [first]
    for _ in range(2):
        out.append({k: v + 0.3 * torch.randn(v.shape, generator=gen) if v.is_floating_point()
                    else v.clone() for k, v in out[-1].items()})  # fmt: skip
    return out


def test_plot_plans_draws_one_box_per_layer_and_the_shapes():
    fig = vt.plot_plans({"a": nets.LeNet5(input_size=28), "b": nets.LeNet5Modern(input_size=28)})
    ax = fig.axes[0]
    assert len(ax.patches) == 11 + 14  # the modern plan adds a batch norm to C1, C3 and C5
    texts = [t.get_text() for t in ax.texts]
    for shape in ("6@28×28", "6@14×14", "16@10×10", "16@5×5", "120@1×1", "84", "10"):
        assert texts.count(shape) == 2, shape
    assert texts.count("batch\nnorm") == 3 and texts.count("scaled\ntanh") == 4


def test_training_animation_one_frame_per_state(models, states, digits):
    x, y = digits
    model = models["b"]
    anim = vt.training_animation(model, states, x, y)
    assert anim._save_count == 3
    preds = replay(model, states, x)
    anim._func(2)
    texts = [t.get_text() for t in anim._fig.axes[1].texts]
    wrong = int((preds[2] != y).sum())
    assert f"mistakes on the test set: {wrong}" in texts
    w = states[2]["features.0.weight"][:, 0].numpy()
    np.testing.assert_array_equal(anim._fig.axes[0].images[0].get_array()[:5, :5], w[0])
    plt.close(anim._fig)
    anim._draw_was_started = True  # silence matplotlib's "never rendered" warning
    with pytest.raises(ValueError, match="states"):
        vt.training_animation(model, states * 14, x, y)


def test_shift_grid_titles_every_models_answer(models, digits):
    x, y = digits
    fig = vt.plot_shift_grid(models, x[0], y[0])
    assert len(fig.axes) == 15
    p = {name: predict_proba(m, shift(x[0], -4, -4)[None])[0] for name, m in models.items()}
    title = "\n".join(f"{n}: {q.argmax()} ({q.max():.0%})" for n, q in p.items())
    assert fig.axes[0].get_title() == title
    assert fig.axes[0].get_ylabel() == "down -4" and fig.axes[-1].get_xlabel() == "right +4"


def test_explorer_figure_shows_every_models_answer(models, digits):
    x, y = digits
    fig = vt.explorer_figure(models, x[3], int(y[3]))
    ax_i, ax_p = fig.axes
    assert ax_i.get_title() == "true label 3"
    np.testing.assert_array_equal(ax_i.images[0].get_array(), x[3, 0])
    labels = [t.get_text() for t in ax_p.get_legend().get_texts()]
    for (name, m), text in zip(models.items(), labels):
        p = predict_proba(m, x[3][None])[0]
        assert text == f"{name}: says {p.argmax()} ({p.max():.0%})"
    heights = [b.get_height() for b in ax_p.patches]
    assert len(heights) == 20 and np.isclose(sum(heights), 2.0, atol=1e-5)


def test_explorer_redraws_when_a_slider_moves(models, digits):
    x, y = digits
    panel = vt.explorer(models, x, y, index=0)
    w_i, (w_dx, w_dy), picture = panel.children[0], panel.children[1].children, panel.children[2]
    before = bytes(picture.value)
    assert before.startswith(b"\x89PNG")
    w_i.value = 5
    after_digit = bytes(picture.value)
    assert after_digit != before
    w_dx.value = 3
    after_right = bytes(picture.value)
    assert after_right != after_digit
    w_dy.value = -2
    assert bytes(picture.value) != after_right
    with pytest.raises(ValueError, match="index"):
        vt.explorer(models, x, y, index=8)
