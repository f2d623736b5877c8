"""dlbook.viz.text_sentiment: every figure builds and is legible; animation and explorer."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.animation import FuncAnimation  # noqa: E402

from dlbook.data.reviews import load_reviews, tokenize  # noqa: E402
from dlbook.experiments import text_sentiment as exp  # noqa: E402
from dlbook.viz import text_sentiment as vt  # noqa: E402
from dlbook.viz.legible import assert_legible  # noqa: E402


@pytest.fixture(scope="module")
def runs():
    torch.set_num_threads(1)
    corpus = load_reviews(200, 60, 100, seed=6)
    return exp.compare_models(corpus, epochs=2, patience=1, hidden_size=8, embedding_dim=8)


def test_packing_figure_numbers_every_token():
    sentences = [tokenize(t) for t in ["not bad at all", "great", "the plot was dull"]]
    fig = vt.packing_figure(sentences)
    assert_legible(fig)
    inside = [t for t in fig.axes[1].texts if t.get_position()[1] > -len(sentences) - 0.2]
    numbers = sorted(int(t.get_text()) for t in inside if t.get_text().isdigit())
    assert numbers == list(range(9))  # every real token numbered once, no <pad>
    below = [t.get_text() for t in fig.axes[1].texts if t.get_position()[1] < -len(sentences)]
    assert below == ["3", "2", "2", "2", "batch_sizes"]
    plt.close(fig)


@pytest.mark.parametrize("name", ["curves_figure", "kinds_figure", "embedding_figure"])
def test_figures_build_and_are_legible(runs, name):
    fig = getattr(vt, name)(runs)
    assert_legible(fig)
    plt.close(fig)


def test_word_groups(runs):
    groups = vt.word_groups(runs["vocab"])
    assert groups["not"] == "negator" and groups["good"] == "positive"
    assert "the" not in groups


def test_animation_has_a_frame_per_epoch(runs):
    anim = vt.embedding_animation(runs["lstm"], runs["vocab"])
    assert isinstance(anim, FuncAnimation)
    assert len(list(anim.new_frame_seq())) == len(runs["lstm"]["history"]["embeddings"])
    assert_legible(anim._fig)
    plt.close(anim._fig)


def test_explorer_builds_and_closes_its_figures(runs):
    before = plt.get_fignums()
    examples = exp.explain(runs, ["the plot was not bad", "great but dull"], [1, 0])
    panel = vt.explorer(examples)
    assert "review" in panel.summary
    assert plt.get_fignums() == before
