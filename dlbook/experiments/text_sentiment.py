"""The sentiment chapter's experiments: reviews as padded index arrays, a bag of words against an
LSTM on packed sequences, early stopping on a validation split, and the learned word vectors.

* :func:`encode`: a :class:`~dlbook.data.reviews.Reviews` split as ``(x, lengths, y)`` arrays.
* :class:`BagOfWords`: the mean of a review's word vectors, then a linear layer; it sees which
  words occur, not their order. :class:`LSTMClassifier`: the same embedding, an LSTM run on the
  packed batch, and a linear layer on its last state.
* :func:`train_classifier`: Adam on minibatches padded to their longest review, early stopping
  on the validation loss (the best weights restored), a record per epoch; :func:`accuracy_by_kind`
  splits the test accuracy into plain, negated and contrasting reviews; :func:`compare_models`
  does both for both models.
* :func:`mean_embedding` (NumPy) is what :class:`BagOfWords` computes before its linear layer;
  :func:`check_mean_embedding` is the checker of the chapter's exercise.
* :func:`pca_2d`, :func:`prefix_probabilities`, :func:`word_scores` and :func:`explain` feed
  the figures.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from dlbook import seeding
from dlbook.data.reviews import Vocab, pad_batch
from dlbook.exercise import Case, check

__all__ = [
    "encode",
    "BagOfWords",
    "LSTMClassifier",
    "evaluate",
    "train_classifier",
    "accuracy_by_kind",
    "compare_models",
    "mean_embedding",
    "check_mean_embedding",
    "pca_2d",
    "prefix_probabilities",
    "word_scores",
    "explain",
    "adjective_split",
]


def encode(reviews, vocab: Vocab, max_length=None):
    """``(x, lengths, y)``: the reviews as a ``(N, T)`` int64 array padded with ``<pad>`` = 0,
    their lengths ``(N,)`` and labels ``(N,)``."""
    x, lengths = pad_batch([vocab.encode(t) for t in reviews.texts], max_length, vocab.pad_index)
    return x, lengths, np.asarray(reviews.labels, dtype=np.int64)


def _embedding(vocab_size, embedding_dim, padding_idx):
    """``nn.Embedding`` started at N(0, 0.1^2) rather than torch's N(0, 1): small random vectors,
    so that what training writes into them, not the draw, shapes the learned table."""
    emb = nn.Embedding(vocab_size, embedding_dim, padding_idx=padding_idx)
    with torch.no_grad():
        emb.weight.normal_(0.0, 0.1)
        emb.weight[padding_idx] = 0
    return emb


class BagOfWords(nn.Module):
    """The mean of the word vectors of a review's real tokens (padding left out), then a linear
    layer to two logits. It is linear in the word counts divided by the length, so it cannot
    make one word (``not``) flip the meaning of another."""

    def __init__(self, vocab_size, embedding_dim=16, padding_idx=0):
        super().__init__()
        self.embedding = _embedding(vocab_size, embedding_dim, padding_idx)
        self.fc = nn.Linear(embedding_dim, 2)

    def forward(self, x, lengths):
        e = self.embedding(x)  # (B, T, D); the padding row is zero and never trains
        mean = e.sum(1) / lengths.to(e.dtype).unsqueeze(1)
        return self.fc(mean)


class LSTMClassifier(nn.Module):
    """Word vectors, an LSTM run on the packed batch (so each review stops at its own last
    word), and a linear layer on the final hidden state ``h_n``."""

    def __init__(self, vocab_size, embedding_dim=16, hidden_size=32, padding_idx=0):
        super().__init__()
        self.embedding = _embedding(vocab_size, embedding_dim, padding_idx)
        self.lstm = nn.LSTM(embedding_dim, hidden_size, batch_first=True)
        self.fc = nn.Linear(hidden_size, 2)

    def forward(self, x, lengths):
        packed = pack_padded_sequence(self.embedding(x), lengths.cpu(), batch_first=True,
                                      enforce_sorted=False)  # fmt: skip
        _, (h_n, _) = self.lstm(packed)  # h_n: (1, B, H), in the batch's own order
        return self.fc(h_n[0])


def _tensors(data, device):
    x, lengths, y = data
    return (torch.as_tensor(x, device=device), torch.as_tensor(lengths, device=device),
            torch.as_tensor(y, device=device))  # fmt: skip


def _trim(x, lengths):
    return x[:, : int(lengths.max())]  # the batch padded to its own longest review only


def evaluate(model, data, device=None, batch_size=512):
    """Mean cross-entropy and accuracy of ``model`` on ``data`` = ``(x, lengths, y)``."""
    device = device or next(model.parameters()).device
    x, lengths, y = _tensors(data, device)
    was, loss, hits = model.training, 0.0, 0
    model.eval()
    with torch.no_grad():
        for i in range(0, len(y), batch_size):
            s = slice(i, i + batch_size)
            logits = model(_trim(x[s], lengths[s]), lengths[s])
            loss += F.cross_entropy(logits, y[s], reduction="sum").item()
            hits += (logits.argmax(1) == y[s]).sum().item()
    model.train(was)
    return loss / len(y), hits / len(y)


def train_classifier(model, train, val, test=None, epochs=20, lr=1e-2, batch_size=64,
                     patience=4, seed=0, device=None):  # fmt: skip
    """Train ``model`` with Adam on ``train`` = ``(x, lengths, y)``; after every epoch measure
    ``val`` (and ``test``, recorded only: it never decides anything). Stop when the validation
    loss has not improved for ``patience`` epochs, and restore the weights of the best epoch.

    Returns a dict of per-epoch lists ``train_loss``, ``val_loss``, ``val_acc`` (and
    ``test_acc``), ``embeddings`` (a copy of the table after each epoch), ``best_epoch``
    (1-based) and ``stopped`` (the last epoch run).
    """
    from dlbook.devices import resolve
    from dlbook.train import seed_everything, shuffled_batches, train_steps

    device = resolve(device)
    seed_everything(seed)
    model.to(device)
    x, lengths, y = _tensors(train, device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = seeding.generator(seed)

    def loss_fn(idx):
        return F.cross_entropy(model(_trim(x[idx], lengths[idx]), lengths[idx]), y[idx])

    rec = {k: [] for k in ("train_loss", "val_loss", "val_acc", "test_acc", "embeddings")}
    best, best_state, waited = np.inf, None, 0
    for epoch in range(1, epochs + 1):
        model.train()
        losses = [loss.item() for loss, _ in train_steps(
            loss_fn, opt, shuffled_batches(len(y), batch_size, gen, device))]  # fmt: skip
        rec["train_loss"].append(float(np.mean(losses)))
        val_loss, val_acc = evaluate(model, val, device)
        rec["val_loss"].append(val_loss)
        rec["val_acc"].append(val_acc)
        if test is not None:
            rec["test_acc"].append(evaluate(model, test, device)[1])
        rec["embeddings"].append(model.embedding.weight.detach().cpu().double().numpy().copy())
        if val_loss < best:
            best, best_state, waited, rec["best_epoch"] = val_loss, copy.deepcopy(
                model.state_dict()), 0, epoch  # fmt: skip
        else:
            waited += 1
            if waited >= patience:
                break
    rec["stopped"] = epoch
    model.load_state_dict(best_state)
    return rec


def accuracy_by_kind(model, reviews, vocab, device=None, max_length=None):
    """Accuracy on all of ``reviews`` and on its kinds: ``plain`` (one clause, not negated),
    ``negated`` (the deciding clause negated) and ``contrast`` (two clauses joined by "but").
    Reviews without kinds (IMDB) give ``all`` only; ``max_length`` cuts long reviews."""
    kinds = dict(all=np.ones(len(reviews), bool))
    if reviews.negated is not None:
        kinds.update(negated=reviews.negated, contrast=reviews.contrast,
                     plain=~reviews.negated & ~reviews.contrast)  # fmt: skip
    return {k: evaluate(model, encode(reviews.subset(m), vocab, max_length), device)[1]
            for k, m in kinds.items()}  # fmt: skip


def compare_models(corpus, vocab=None, embedding_dim=16, hidden_size=32, epochs=20, lr=1e-2,
                   batch_size=64, patience=4, seed=0, device=None, max_length=None):  # fmt: skip
    """Train a :class:`BagOfWords` and an :class:`LSTMClassifier` on ``corpus`` (a
    :class:`~dlbook.data.reviews.ReviewCorpus`) with :func:`train_classifier`, from the same
    seed. Returns ``{"bow": run, "lstm": run}``, each run a dict with the ``model``, its
    ``history`` and ``accuracy`` (:func:`accuracy_by_kind` on the test split), and ``vocab``
    (by default every word of the training split). ``max_length`` cuts long reviews (IMDB)."""
    vocab = vocab or Vocab.build(corpus.train.texts)
    parts = (corpus.train, corpus.val, corpus.test)
    data = [encode(part, vocab, max_length) for part in parts]
    out = {"vocab": vocab}
    for name in ("bow", "lstm"):
        seeding.manual_seed(seed)  # the same initial word vectors for both models
        model = (BagOfWords(len(vocab), embedding_dim) if name == "bow"
                 else LSTMClassifier(len(vocab), embedding_dim, hidden_size))  # fmt: skip
        history = train_classifier(model, *data, epochs=epochs, lr=lr, batch_size=batch_size,
                                   patience=patience, seed=seed, device=device)  # fmt: skip
        acc = accuracy_by_kind(model, corpus.test, vocab, device, max_length)
        out[name] = dict(model=model, history=history, accuracy=acc)
    return out


def mean_embedding(input, lengths, weight):
    """The bag of words' review vector: the mean of the word vectors of each review's first
    ``lengths[b]`` tokens; the padding after them is left out.

    Shapes:
        input: (B, T) integer indices; lengths: (B,) ints in [1, T]; weight: (V, D)
        returns: (B, D), weight's dtype
    Formula:
        out[b] = (1 / lengths[b]) sum_{t < lengths[b]} weight[input[b, t]]
    Torch:
        none (BagOfWords.forward before its linear layer; nn.EmbeddingBag(mode="mean") on the
        unpadded reviews)
    """
    input, lengths = np.asarray(input), np.asarray(lengths)
    mask = np.arange(input.shape[1])[None, :] < lengths[:, None]  # (B, T): real tokens
    summed = (weight[input] * mask[..., None]).sum(axis=1)
    return summed / lengths[:, None].astype(weight.dtype)


def check_mean_embedding(fn):
    """Hold ``fn(input, lengths, weight)`` to :func:`mean_embedding` on four cases from fixed
    generators: no padding, padding with a non-zero padding row, a review of one word, float32.
    The reference equals ``nn.EmbeddingBag(mode="mean")`` on the unpadded reviews."""
    rng = np.random.default_rng(7)
    w = rng.normal(size=(10, 3))
    w2 = w.copy()
    w2[0] = 5.0  # a padding row that is not zero: it must still be left out
    cases = [
        Case((rng.integers(1, 10, (2, 4)), np.array([4, 4]), w), {}, "no padding"),
        Case(
            (np.array([[3, 4, 5, 0, 0], [6, 7, 0, 0, 0]]), np.array([3, 2]), w2),
            {},
            "padded, padding row not zero",
        ),  # fmt: skip
        Case((np.array([[9, 0, 0], [1, 2, 3]]), np.array([1, 3]), w), {}, "one word"),
        Case(
            (rng.integers(1, 10, (3, 5)), np.array([5, 2, 4]), w.astype(np.float32)), {}, "float32"
        ),  # fmt: skip
    ]

    def twin(input, lengths, weight):
        bag = nn.EmbeddingBag.from_pretrained(torch.from_numpy(weight), mode="mean")
        flat = np.concatenate([row[:n] for row, n in zip(input, lengths)])
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        return bag(torch.from_numpy(flat), torch.from_numpy(offsets)).numpy()

    return check(fn, mean_embedding, cases, name="mean_embedding", torch_twin=twin,
                 twin_atol=1e-5, twin_rtol=1e-5)  # fmt: skip


def adjective_split(model, vocab):
    """How well the first principal axis of ``model``'s word vectors separates the grammar's
    positive adjectives from its negative ones: the fraction of them on their own group's side
    of the midpoint between the two groups' means (1.0: a clean split; about 0.5: none)."""
    from dlbook.data.reviews import NEGATIVE, POSITIVE

    table = model.embedding.weight.detach().cpu().double().numpy()
    first = pca_2d(table[2:])[:, 0]  # without <pad> and <unk>, as the figures draw them
    pos = np.array([first[vocab.stoi[w] - 2] for w in POSITIVE if w in vocab])
    neg = np.array([first[vocab.stoi[w] - 2] for w in NEGATIVE if w in vocab])
    mid, sign = (pos.mean() + neg.mean()) / 2, np.sign(pos.mean() - neg.mean())
    right = (sign * (pos - mid) > 0).sum() + (sign * (neg - mid) < 0).sum()
    return float(right / (len(pos) + len(neg)))


def pca_2d(vectors, fit_on=None):
    """Project ``vectors`` ``(n, D)`` on the two principal axes of ``fit_on`` (default: the
    vectors themselves), centred on its mean: ``(n, 2)``. Signs are fixed so that the largest
    coordinate of each axis is positive, so projections of successive snapshots do not flip."""
    vectors = np.asarray(vectors, dtype=np.float64)
    base = vectors if fit_on is None else np.asarray(fit_on, dtype=np.float64)
    mean = base.mean(0)
    _, _, vt = np.linalg.svd(base - mean, full_matrices=False)
    axes = vt[:2]
    proj = (base - mean) @ axes.T
    axes = axes * np.sign(proj[np.abs(proj).argmax(0), [0, 1]])[:, None]
    return (vectors - mean) @ axes.T


def prefix_probabilities(model, vocab, text):
    """The LSTM's probability that ``text`` is positive after each of its words: the linear
    layer applied to the hidden state after word 1, 2, ... (the last one is its prediction)."""
    ids = torch.as_tensor(vocab.encode(text))[None]
    device = next(model.parameters()).device
    with torch.no_grad():
        out, _ = model.lstm(model.embedding(ids.to(device)))
        return torch.softmax(model.fc(out[0]), -1)[:, 1].cpu().double().numpy()


def word_scores(model, vocab, text):
    """The bag of words' evidence for "positive" from each word of ``text``: its vector's
    contribution to ``logit_pos - logit_neg``, divided by the review's length (their sum plus
    the bias difference is the model's logit difference)."""
    ids = torch.as_tensor(vocab.encode(text))
    with torch.no_grad():
        w = model.fc.weight[1] - model.fc.weight[0]
        e = model.embedding(ids.to(w.device))
        return ((e @ w) / len(ids)).cpu().double().numpy()


def explain(runs, texts, labels):
    """For each review of ``texts`` (with its ``labels``), what the two models of
    :func:`compare_models` make of it: a dict with ``text``, ``label``, ``words``,
    ``lstm_probs`` (:func:`prefix_probabilities`), ``bow_scores`` (:func:`word_scores`) and
    ``bow_bias`` (the bag of words' bias difference; its logit difference is the sum of the
    scores plus this)."""
    vocab, bow, lstm = runs["vocab"], runs["bow"]["model"], runs["lstm"]["model"]
    bias = float((bow.fc.bias[1] - bow.fc.bias[0]).detach())
    return [dict(text=t, label=int(y), words=vocab.decode(vocab.encode(t)),
                 lstm_probs=prefix_probabilities(lstm, vocab, t),
                 bow_scores=word_scores(bow, vocab, t), bow_bias=bias)
            for t, y in zip(texts, labels)]  # fmt: skip
