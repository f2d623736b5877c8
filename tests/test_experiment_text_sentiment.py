"""dlbook.experiments.text_sentiment: encoding, the two models, training with early stopping."""

import numpy as np
import pytest
import torch

from dlbook.data.reviews import Vocab, load_reviews
from dlbook.experiments import text_sentiment as exp


@pytest.fixture(scope="module")
def small():
    torch.set_num_threads(1)
    corpus = load_reviews(300, 100, 150, seed=5)
    runs = exp.compare_models(corpus, epochs=3, patience=1, hidden_size=8, embedding_dim=8)
    return corpus, runs


def test_encode_pads_with_the_pad_index():
    corpus = load_reviews(20, 5, 5, seed=1)
    vocab = Vocab.build(corpus.train.texts)
    x, lengths, y = exp.encode(corpus.train, vocab)
    assert x.shape == (20, lengths.max()) and y.tolist() == corpus.train.labels.tolist()
    for row, n, text in zip(x, lengths, corpus.train.texts):
        assert vocab.decode(row[:n]) == text.split() and (row[n:] == 0).all()


def tensors(rows):
    x = torch.tensor(rows)
    return x, (x != 0).sum(1)


def test_bag_of_words_ignores_order_and_padding():
    torch.manual_seed(0)
    model = exp.BagOfWords(10, 4).eval()
    a, la = tensors([[3, 4, 5, 0, 0]])
    b, lb = tensors([[5, 3, 4]])
    torch.testing.assert_close(model(a, la), model(b, lb))


def test_lstm_reads_order_and_ignores_padding():
    torch.manual_seed(0)
    model = exp.LSTMClassifier(10, 4, 6).eval()
    a, la = tensors([[3, 4, 5, 0, 0], [7, 0, 0, 0, 0]])
    b, lb = tensors([[3, 4, 5], [7, 0, 0]])
    torch.testing.assert_close(model(a, la), model(b, lb))  # the packed run stops at the end
    c, lc = tensors([[5, 4, 3]])
    assert not torch.allclose(model(b[:1], lb[:1]), model(c, lc))


def test_padding_row_starts_at_zero_and_never_trains(small):
    _, runs = small
    for key in ("bow", "lstm"):
        table = runs[key]["model"].embedding.weight.detach()
        assert (table[0] == 0).all()
        assert (runs[key]["history"]["embeddings"][0][0] == 0).all()


def test_early_stopping_keeps_the_best_validation_epoch(small):
    corpus, runs = small
    vocab = runs["vocab"]
    for key in ("bow", "lstm"):
        h = runs[key]["history"]
        assert 1 <= h["best_epoch"] <= h["stopped"] <= 3
        assert h["val_loss"][h["best_epoch"] - 1] == min(h["val_loss"])
        loss, acc = exp.evaluate(runs[key]["model"], exp.encode(corpus.val, vocab))
        assert loss == pytest.approx(min(h["val_loss"]), rel=1e-5)
        assert acc == pytest.approx(h["val_acc"][h["best_epoch"] - 1])
        assert len(h["test_acc"]) == len(h["val_loss"]) == len(h["embeddings"])


def test_accuracy_by_kind(small):
    corpus, runs = small
    acc = runs["lstm"]["accuracy"]
    assert set(acc) == {"all", "negated", "contrast", "plain"}
    assert all(0 <= v <= 1 for v in acc.values())
    x = exp.evaluate(runs["lstm"]["model"], exp.encode(corpus.test, runs["vocab"]))[1]
    assert acc["all"] == pytest.approx(x)


def test_same_seed_same_run():
    corpus = load_reviews(100, 40, 40, seed=2)
    a, b = (exp.compare_models(corpus, epochs=1, hidden_size=4, embedding_dim=4) for _ in "ab")
    assert a["lstm"]["history"]["val_loss"] == b["lstm"]["history"]["val_loss"]


def test_mean_embedding_leaves_padding_out():
    w = np.arange(12.0).reshape(4, 3)
    out = exp.mean_embedding(np.array([[1, 2, 0], [3, 0, 0]]), np.array([2, 1]), w)
    np.testing.assert_allclose(out, [(w[1] + w[2]) / 2, w[3]])


def test_pca_2d_fixed_signs_and_shapes():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(20, 5)) * [5, 2, 1, 1, 1]
    xy = exp.pca_2d(v)
    assert xy.shape == (20, 2)
    np.testing.assert_allclose(exp.pca_2d(-v), xy)  # the sign does not follow the data's
    assert xy[:, 0].var() >= xy[:, 1].var()
    assert exp.pca_2d(v[:3], fit_on=v).shape == (3, 2)


def test_adjective_split_and_explain(small):
    _, runs = small
    assert 0 <= exp.adjective_split(runs["lstm"]["model"], runs["vocab"]) <= 1
    [e] = exp.explain(runs, ["the plot was not good"], [0])
    assert e["words"] == ["the", "plot", "was", "not", "good"]
    assert e["lstm_probs"].shape == (5,) and e["bow_scores"].shape == (5,)
    ids = torch.tensor(runs["vocab"].encode(e["text"]))[None]
    model = runs["lstm"]["model"].eval()
    with torch.no_grad():
        p = torch.softmax(model(ids, torch.tensor([5])), -1)[0, 1].item()
        logits = runs["bow"]["model"](ids, torch.tensor([5]))[0]
    assert e["lstm_probs"][-1] == pytest.approx(p, abs=1e-6)
    diff = (logits[1] - logits[0]).item()
    assert e["bow_scores"].sum() + e["bow_bias"] == pytest.approx(diff, abs=1e-5)
