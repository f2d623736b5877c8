"""The PyTorch LeNet chapter's explorer: a digit, moved, and every model's probabilities."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from dlbook import nets  # noqa: E402
from dlbook.experiments.lenet_pytorch import predict_proba  # noqa: E402
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
