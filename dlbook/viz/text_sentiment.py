"""Figures, the animation and the explorer of the sentiment chapter.

They draw what :mod:`dlbook.experiments.text_sentiment` measured: a padded and a packed batch,
the training curves of the bag of words and the LSTM, their accuracy on each kind of review,
the learned word vectors, and how each model reads one review word by word. Nothing here trains.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import FuncAnimation

from dlbook.experiments.text_sentiment import pca_2d
from dlbook.viz.common import make_explorer

__all__ = [
    "packing_figure",
    "curves_figure",
    "kinds_figure",
    "word_groups",
    "embedding_figure",
    "embedding_animation",
    "explorer",
]

MODELS = {"bow": ("bag of words", "C1"), "lstm": ("LSTM", "C0")}
GROUPS = {"positive": "C2", "negative": "C3", "negator": "k", "intensifier": "C4"}


def packing_figure(sentences):
    """A batch of token lists, padded (left: one row per sentence, ``<pad>`` in grey) and
    packed (right: the same tokens sorted by length, numbered in the order ``data`` holds them,
    time step by time step, with ``batch_sizes`` under each step)."""
    lengths = np.array([len(s) for s in sentences])
    t_max, b = lengths.max(), len(sentences)
    order = np.argsort(-lengths, kind="stable")
    fig, axes = plt.subplots(1, 2, figsize=(9.6, 0.55 * b + 1.6))
    for ax, rows, title in ((axes[0], range(b), "padded: (B, T), lengths kept aside"),
                            (axes[1], order, "packed: data in time-major order")):  # fmt: skip
        for i, r in enumerate(rows):
            for t in range(t_max):
                real = t < lengths[r]
                ax.add_patch(plt.Rectangle((t, -i - 1), 0.95, 0.9, fc="#dbe7f3" if real else
                             "0.9", ec="0.5", lw=0.6))  # fmt: skip
                text = sentences[r][t] if real else "<pad>"
                ax.text(t + 0.47, -i - 0.62, text, ha="center", va="center", fontsize=9,
                        color="k" if real else "0.55")  # fmt: skip
        ax.set_xlim(-0.1, t_max + 0.1)
        ax.set_ylim(-b - 1.1, 0.2)
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    sorted_len = lengths[order]
    k = 0
    for t in range(t_max):
        running = int((sorted_len > t).sum())
        for i in range(running):
            axes[1].text(t + 0.06, -i - 0.2, str(k), fontsize=9, color="C3", va="center")
            k += 1
        axes[1].text(t + 0.47, -b - 0.6, f"{running}", ha="center", fontsize=9, color="C3")
    axes[1].text(-0.1, -b - 0.6, "batch_sizes", ha="right", fontsize=9, color="C3")
    fig.tight_layout()
    return fig


def curves_figure(runs):
    """Per epoch, for both models of :func:`~dlbook.experiments.text_sentiment.compare_models`:
    training and validation loss (left), validation and test accuracy (right); a dotted line
    marks the epoch early stopping kept."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(9.6, 3.4))
    for key, (label, colour) in MODELS.items():
        h = runs[key]["history"]
        e = np.arange(1, len(h["val_loss"]) + 1)
        a.plot(e, h["train_loss"], color=colour, ls="--", lw=1.2, label=f"{label}, training")
        a.plot(e, h["val_loss"], color=colour, lw=1.8, label=f"{label}, validation")
        b.plot(e, h["val_acc"], color=colour, lw=1.8, label=f"{label}, validation")
        if h["test_acc"]:
            b.plot(e, h["test_acc"], color=colour, ls=":", lw=1.2, label=f"{label}, test")
        for ax in (a, b):
            ax.axvline(h["best_epoch"], color=colour, ls=":", lw=1)
    a.set_ylabel("cross-entropy")
    b.set_ylabel("accuracy")
    a.set_title("Loss (dotted line: the kept epoch)", fontsize=10)
    b.set_title("Accuracy", fontsize=10)
    for ax in (a, b):
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=9)
    fig.tight_layout()
    return fig


def kinds_figure(runs):
    """Test accuracy of both models on each kind of review: plain (one clause, no negation),
    negated (the deciding clause negated), contrast (two clauses joined by "but"), all."""
    kinds = ("plain", "negated", "contrast", "all")
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    x = np.arange(len(kinds))
    for j, (key, (label, colour)) in enumerate(MODELS.items()):
        acc = [runs[key]["accuracy"][k] for k in kinds]
        bars = ax.bar(x + (j - 0.5) * 0.38, acc, 0.36, color=colour, label=label)
        ax.bar_label(bars, [f"{v:.2f}" for v in acc], fontsize=9, padding=2)
    ax.axhline(0.5, color="0.4", lw=0.8, ls=":")
    ax.text(len(kinds) - 0.5, 0.51, "coin toss", fontsize=9, ha="right", va="bottom")
    ax.set_xticks(x, kinds)
    ax.set_ylim(0, 1.12)
    ax.set_ylabel("test accuracy")
    ax.legend(fontsize=9, loc="upper left", ncol=2)
    fig.tight_layout()
    return fig


def word_groups(vocab):
    """``{word: group}`` for the grammar's words that carry meaning: positive and negative
    adjectives, negators, intensifiers."""
    from dlbook.data.reviews import INTENSIFIERS, NEGATIVE, NEGATORS, POSITIVE

    groups = {}
    for group, words in (("positive", POSITIVE), ("negative", NEGATIVE),
                         ("negator", NEGATORS), ("intensifier", INTENSIFIERS)):  # fmt: skip
        groups.update({w: group for w in words if w in vocab})
    return groups


def _scatter(ax, xy, words, groups, every=True):
    """Words as dots, coloured by group; all labelled, or (``every=False``) only the grouped."""
    colours = [GROUPS.get(groups.get(w), "0.6") for w in words]
    ax.scatter(xy[:, 0], xy[:, 1], s=14, c=colours)
    for (x, y), w, colour in zip(xy, words, colours):
        if every or w in groups:
            ax.annotate(w, (x, y), xytext=(3, 2), textcoords="offset points", fontsize=9,
                        color=colour)  # fmt: skip
    ax.grid(alpha=0.3)
    ax.set_xlabel("first principal axis")
    ax.set_ylabel("second principal axis")


def embedding_figure(runs):
    """The word vectors of both models, each projected on its own first two principal axes
    (:func:`~dlbook.experiments.text_sentiment.pca_2d`); colour by the word's role in the
    grammar, grey for the rest."""
    vocab = runs["vocab"]
    groups = word_groups(vocab)
    words = vocab.itos[2:]  # no <pad>, <unk>
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.4))
    for ax, key in zip(axes, MODELS):
        table = runs[key]["model"].embedding.weight.detach().cpu().double().numpy()[2:]
        _scatter(ax, pca_2d(table), words, groups)
        ax.set_title(f"{MODELS[key][0]}: word vectors", fontsize=10)
    fig.tight_layout()
    return fig


def embedding_animation(run, vocab, dpi=72, interval=500):
    """One model's word vectors after each epoch, all projected on the principal axes of the
    last epoch, so that the picture moves only where the vectors move; only the words of
    :func:`word_groups` are labelled. A ``FuncAnimation``."""
    groups = word_groups(vocab)
    snaps = [s[2:] for s in run["history"]["embeddings"]]
    words = vocab.itos[2:]
    xy = [pca_2d(s, fit_on=snaps[-1]) for s in snaps]
    lo, hi = np.min([p.min(0) for p in xy], 0), np.max([p.max(0) for p in xy], 0)
    fig, ax = plt.subplots(figsize=(6, 4), dpi=dpi)

    def update(i):
        ax.clear()
        _scatter(ax, xy[i], words, groups, every=False)
        ax.set_xlim(lo[0] - 0.3, hi[0] + 1.0)
        ax.set_ylim(lo[1] - 0.3, hi[1] + 0.3)
        ax.set_title(f"LSTM word vectors after epoch {i + 1} of {len(xy)}", fontsize=10)
        return []

    update(0)
    fig.tight_layout()
    return FuncAnimation(fig, update, frames=len(xy), interval=interval, blit=False)


def _reading(ax, words, probs):
    ax.plot(np.arange(len(words)), probs, "o-", color=MODELS["lstm"][1])
    ax.axhline(0.5, color="0.5", lw=0.8, ls=":")
    ax.set_ylim(-0.05, 1.05)
    ax.set_ylabel("P(positive) so far")
    ax.set_title("LSTM, after each word", fontsize=10)
    ax.grid(alpha=0.3)


def _evidence(ax, words, scores):
    ax.bar(np.arange(len(words)), scores, color=["C2" if s > 0 else "C3" for s in scores])
    ax.axhline(0, color="0.3", lw=0.8)
    ax.set_ylabel("evidence for positive")
    ax.set_title("bag of words, per word", fontsize=10)
    ax.grid(alpha=0.3)


def explorer(examples, index=0):
    """Pick one review (``examples``: from :func:`~dlbook.experiments.text_sentiment.explain`)
    and see how the LSTM's belief moves word by word (top), and what each word adds to the bag
    of words' vote (bottom)."""
    import ipywidgets as widgets

    w_pick = widgets.Dropdown(options=[(e["text"], i) for i, e in enumerate(examples)],
                              value=index, description="review",
                              layout=widgets.Layout(width="640px"))  # fmt: skip

    def draw():
        e = examples[w_pick.value]
        words = e["words"]
        # one column, the words written once under both panels: the static grid draws every
        # review, so the picture is kept cheap (no tight_layout, which draws it twice)
        fig, (a, b) = plt.subplots(2, 1, figsize=(6.4, 4.4), sharex=True)
        fig.subplots_adjust(left=0.13, right=0.97, bottom=0.17, top=0.94, hspace=0.3)
        _reading(a, words, e["lstm_probs"])
        _evidence(b, words, e["bow_scores"])
        b.set_xticks(np.arange(len(words)), words, rotation=40, ha="right", fontsize=9)
        bow = "positive" if sum(e["bow_scores"]) + e["bow_bias"] > 0 else "negative"
        lstm = "positive" if e["lstm_probs"][-1] > 0.5 else "negative"
        html = (f"<pre>label: {'positive' if e['label'] else 'negative'}; LSTM says {lstm}, "
                f"bag of words says {bow}</pre>")  # fmt: skip
        return html, fig

    return make_explorer([[w_pick]], draw, info=True)
