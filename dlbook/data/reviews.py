"""Movie reviews for sentiment classification: a corpus made by a small grammar, and IMDB.

- :func:`load_reviews` generates short reviews offline ("the plot was not very good", "the acting
  was bad but the ending was wonderful"), labelled by the grammar's own meaning, so that the
  label depends on word order: a negation flips the adjective after it, and after "but" the
  second clause decides. A model that only counts words cannot tell "not good" from "good, not
  bad"; :attr:`Reviews.negated` marks the reviews where that matters.
- :func:`load_imdb` downloads the Large Movie Review Dataset (Maas et al. 2011: 25,000 + 25,000
  labelled reviews) with :func:`dlbook.data.download` (pinned SHA-256) and
  :func:`dlbook.data.extract`; :func:`load_imdb_or_none` is the chapters' switch, offline by
  default.
- :func:`tokenize`, :class:`Vocab` (``<pad>`` = 0, ``<unk>`` = 1, a minimum count) and
  :func:`pad_batch` turn texts into the padded index arrays an embedding layer reads.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dlbook import seeding
from dlbook.checks import check_int
from dlbook.data.fetch import DownloadError, data_home, download, extract

__all__ = [
    "POSITIVE",
    "NEGATIVE",
    "NEGATORS",
    "INTENSIFIERS",
    "Reviews",
    "ReviewCorpus",
    "make_review",
    "generate_reviews",
    "load_reviews",
    "tokenize",
    "Vocab",
    "pad_batch",
    "IMDB_FILE",
    "IMDB_SHA256",
    "IMDB_MIRRORS",
    "load_imdb",
    "load_imdb_or_none",
]

# The grammar's words. Every adjective has a polarity; a negator flips it; an intensifier and
# "at all" change nothing about the label (only how strongly it is said).
POSITIVE = ("good", "great", "wonderful", "brilliant", "fun", "moving", "clever", "superb")
NEGATIVE = ("bad", "boring", "awful", "dull", "terrible", "weak", "silly", "poor")
NEGATORS = ("not", "never")
INTENSIFIERS = ("very", "really", "truly")
_SUBJECTS = ("the movie", "this film", "the plot", "the acting", "the ending", "the script",
             "the music", "the cast", "the story", "the dialogue")  # fmt: skip
_VERBS = ("was", "is", "felt", "seemed")


@dataclass(frozen=True)
class Reviews:
    """Texts with labels (int64, 1 = positive, 0 = negative). For the generated corpus,
    ``negated`` marks the reviews whose deciding clause is negated and ``contrast`` those of two
    clauses joined by "but" (the second decides); both are None for IMDB."""

    texts: tuple
    labels: np.ndarray
    negated: np.ndarray | None = None
    contrast: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, mask) -> Reviews:
        """The reviews where the boolean ``mask`` (or an index array) selects them."""
        idx = np.flatnonzero(mask) if np.asarray(mask).dtype == bool else np.asarray(mask)
        pick = lambda a: None if a is None else a[idx]  # noqa: E731
        return Reviews(tuple(self.texts[i] for i in idx), self.labels[idx],
                       pick(self.negated), pick(self.contrast))  # fmt: skip


@dataclass(frozen=True)
class ReviewCorpus:
    """Three disjoint splits: ``train`` to fit, ``val`` to choose (epochs, early stopping),
    ``test`` to report once. ``name`` says which corpus it is."""

    train: Reviews
    val: Reviews
    test: Reviews
    name: str = ""


def _clause(rng, p_negation, p_intensifier):
    """One clause, its polarity (+1 or -1) after negation, and whether it is negated."""
    positive = bool(rng.random() < 0.5)
    adjective = str(rng.choice(POSITIVE if positive else NEGATIVE))
    negated = bool(rng.random() < p_negation)
    verbs = _VERBS[:2] if negated else _VERBS  # "felt not good" is not English
    words = [str(rng.choice(_SUBJECTS)), str(rng.choice(verbs))]
    if negated:
        words.append(str(rng.choice(NEGATORS)))
    if rng.random() < p_intensifier:
        words.append(str(rng.choice(INTENSIFIERS)))
    words.append(adjective)
    if negated and rng.random() < 0.3:
        words.append("at all")
    return " ".join(words), (1 if positive else -1) * (-1 if negated else 1), negated


def make_review(rng, p_negation=0.2, p_contrast=0.15, p_intensifier=0.3):
    """One review from the grammar, drawn with ``rng`` (a NumPy generator).

    Returns ``(text, label, negated, contrast)``: ``label`` 1 for positive; the review is one
    clause, or (with probability ``p_contrast``) two clauses of opposite polarity joined by
    "but", and then the second clause decides; ``negated`` says whether the deciding clause is
    negated.
    """
    text, polarity, negated = _clause(rng, p_negation, p_intensifier)
    contrast = bool(rng.random() < p_contrast)
    if contrast:
        while True:  # "good but boring": the second clause has the opposite polarity
            second, pol2, neg2 = _clause(rng, p_negation, p_intensifier)
            if pol2 == -polarity:
                break
        text, polarity, negated = f"{text} but {second}", pol2, neg2
    return text, int(polarity > 0), negated, contrast


def generate_reviews(n, seed=0, p_negation=0.2, p_contrast=0.15, p_intensifier=0.3,
                     label_noise=0.0) -> Reviews:  # fmt: skip
    """``n`` distinct reviews from :func:`make_review`, drawn with ``seeding.rng(seed)``, in a
    random order (a review drawn twice is kept once, so no text repeats; shuffling afterwards
    keeps the rarer forms, which come later, from piling up at the end). A fraction
    ``label_noise`` of the labels, drawn at random, is flipped, as real reviews are sometimes
    mislabelled or sarcastic: no model can then be right on more than about ``1 - label_noise``
    of them, and one that fits its training set beyond that has learned the noise."""
    check_int(n, "n")
    for name, p in (("p_negation", p_negation), ("p_contrast", p_contrast),
                    ("p_intensifier", p_intensifier), ("label_noise", label_noise)):  # fmt: skip
        if not 0 <= p <= 1:
            raise ValueError(f"{name} must be a probability in [0, 1], got {p!r}")
    rng = seeding.rng(seed)
    seen, rows = set(), []
    for _ in range(50 * n):
        row = make_review(rng, p_negation, p_contrast, p_intensifier)
        if row[0] not in seen:
            seen.add(row[0])
            rows.append(row)
            if len(rows) == n:
                break
    else:
        raise ValueError(f"n={n}: the grammar gave too few distinct reviews")
    rows = [rows[i] for i in rng.permutation(len(rows))]
    texts, labels, negated, contrast = zip(*rows)
    labels = np.array(labels, np.int64) ^ (rng.random(len(rows)) < label_noise)
    return Reviews(texts, labels.astype(np.int64), np.array(negated), np.array(contrast))


def load_reviews(n_train=2000, n_val=500, n_test=1000, seed=0, **grammar) -> ReviewCorpus:
    """The generated corpus, split three ways with no review in two splits.

    ``grammar`` passes ``p_negation``, ``p_contrast``, ``p_intensifier`` and ``label_noise`` on to
    :func:`generate_reviews`. The same ``seed`` (and ``DLBOOK_SEED``) gives the same corpus.
    """
    sizes = [check_int(n_train, "n_train"), check_int(n_val, "n_val"), check_int(n_test, "n_test")]
    every = generate_reviews(sum(sizes), seed, **grammar)
    cuts = np.cumsum([0] + sizes)
    parts = [every.subset(np.arange(a, b)) for a, b in zip(cuts[:-1], cuts[1:])]
    return ReviewCorpus(*parts, name="grammar")


# --- text to index arrays -----------------------------------------------------------------------

_TAG = re.compile(r"<[^>]+>")  # IMDB's reviews hold HTML line breaks, "<br />"
_WORD = re.compile(r"[a-z0-9_]+(?:'[a-z]+)?")


def tokenize(text: str) -> list[str]:
    """Lower-case words: HTML tags dropped, punctuation dropped, "don't" and "not_good" (a
    bigram made by joining two words) kept as one word.

    >>> tokenize("Not bad<br />at ALL, I didn't mind!")
    ['not', 'bad', 'at', 'all', 'i', "didn't", 'mind']
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return _WORD.findall(_TAG.sub(" ", text.lower()))


class Vocab:
    """Words to indices and back. Index 0 is ``<pad>`` (what :func:`pad_batch` fills with) and 1
    is ``<unk>`` (every word not in the vocabulary); the words follow, most frequent first."""

    PAD, UNK = "<pad>", "<unk>"
    pad_index, unk_index = 0, 1

    def __init__(self, words):
        words = list(words)
        if len(set(words)) != len(words):
            raise ValueError("words must not repeat")
        self.itos = [self.PAD, self.UNK] + [w for w in words if w not in (self.PAD, self.UNK)]
        self.stoi = {w: i for i, w in enumerate(self.itos)}

    @classmethod
    def build(cls, texts, min_count=1, max_size=None) -> Vocab:
        """The vocabulary of ``texts`` (strings, tokenized with :func:`tokenize`): every word seen
        at least ``min_count`` times, the ``max_size`` most frequent at most (ties: first seen)."""
        min_count = check_int(min_count, "min_count", 1)
        counts = Counter(w for t in texts for w in tokenize(t))
        words = [w for w, c in counts.most_common() if c >= min_count]
        if max_size is not None:
            words = words[: check_int(max_size, "max_size", 0)]
        vocab = cls(words)
        vocab.counts = counts
        return vocab

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, word) -> bool:
        return word in self.stoi

    def encode(self, text) -> np.ndarray:
        """A text (or a list of tokens) as an int64 array of indices, ``<unk>`` for new words."""
        tokens = tokenize(text) if isinstance(text, str) else list(text)
        return np.array([self.stoi.get(w, self.unk_index) for w in tokens], dtype=np.int64)

    def decode(self, indices) -> list[str]:
        """Indices back to words."""
        return [self.itos[int(i)] for i in indices]

    def __repr__(self) -> str:
        return f"Vocab({len(self)} words: {', '.join(self.itos[:8])}, ...)"


def pad_batch(sequences, max_length=None, padding_value=0):
    """Index arrays of different lengths as one ``(B, T)`` int64 array, batch first, and their
    lengths: each sequence is cut to ``max_length`` (if given) and filled on the right with
    ``padding_value`` up to the longest.

    Shapes:
        sequences: B 1-D integer arrays (or lists), lengths L_b >= 1
        returns: (padded (B, T) int64, T = max_b min(L_b, max_length); lengths (B,) int64)
    """
    seqs = [np.asarray(s, dtype=np.int64).ravel() for s in sequences]
    if not seqs:
        raise ValueError("sequences must hold at least one sequence")
    if max_length is not None:
        seqs = [s[: check_int(max_length, "max_length", 1)] for s in seqs]
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    if lengths.min() < 1:
        raise ValueError(f"sequences: every sequence needs a word; sequence {lengths.argmin()} "
                         "is empty")  # fmt: skip
    out = np.full((len(seqs), lengths.max()), padding_value, dtype=np.int64)
    for b, s in enumerate(seqs):
        out[b, : len(s)] = s
    return out, lengths


# --- IMDB ---------------------------------------------------------------------------------------

IMDB_FILE = "aclImdb_v1.tar.gz"
# TensorFlow Datasets' checksums.tsv for imdb_reviews: 84,125,825 bytes, this SHA-256.
IMDB_SHA256 = "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"
IMDB_MIRRORS = ("https://ai.stanford.edu/~amaas/data/sentiment/",
                "http://ai.stanford.edu/~amaas/data/sentiment/")  # fmt: skip
_DONE = ".extracted"  # written after a complete extraction, so a cut-off one is redone


def _read_folder(folder: Path, max_per_class):
    texts, labels = [], []
    for label, name in ((1, "pos"), (0, "neg")):
        files = sorted((folder / name).glob("*.txt"))
        if not files:
            raise ValueError(f"{folder / name} holds no reviews")
        for f in files[:max_per_class]:
            texts.append(f.read_text(encoding="utf-8"))
            labels.append(label)
    return texts, np.array(labels, dtype=np.int64)


def load_imdb(
    root=None, mirrors=None, val_fraction=0.2, seed=0, max_per_class=None
) -> ReviewCorpus:
    """IMDB's 25,000 training and 25,000 test reviews (half positive, half negative).

    Downloads ``aclImdb_v1.tar.gz`` once into ``root`` (default ``data_home() / "imdb"``) from
    the first of ``mirrors`` that gives the pinned SHA-256, extracts it with
    :func:`dlbook.data.extract`, and reads ``train`` and ``test``. A seeded ``val_fraction`` of
    the training reviews becomes the validation split. ``max_per_class`` keeps the first reviews
    of each class (by file name) for a quicker run. Raises :class:`DownloadError` when no mirror
    works.
    """
    root = Path(root) if root is not None else data_home() / "imdb"
    if not (root / _DONE).is_file():
        errors = []
        for base in IMDB_MIRRORS if mirrors is None else tuple(mirrors):
            try:
                archive = download(base.rstrip("/") + "/" + IMDB_FILE, root / IMDB_FILE,
                                   IMDB_SHA256, progress=True)  # fmt: skip
                break
            except DownloadError as err:
                errors.append(str(err))
        else:
            raise DownloadError(f"could not download {IMDB_FILE}:\n  " + "\n  ".join(errors))
        extract(archive, root)
        (root / _DONE).write_text("ok\n")
    train_t, train_y = _read_folder(root / "aclImdb" / "train", max_per_class)
    test_t, test_y = _read_folder(root / "aclImdb" / "test", max_per_class)
    order = seeding.rng(seed).permutation(len(train_t))
    n_val = int(round(val_fraction * len(order)))
    if not 0 < n_val < len(order):
        raise ValueError(f"val_fraction={val_fraction} leaves no validation or training reviews")
    every = Reviews(tuple(train_t), train_y)
    return ReviewCorpus(every.subset(order[n_val:]), every.subset(order[:n_val]),
                        Reviews(tuple(test_t), test_y), "imdb")  # fmt: skip


def load_imdb_or_none(download: bool = False, **kwargs) -> ReviewCorpus | None:
    """IMDB when asked for and reachable, else None, with one line that says why.

    With ``download=False`` (the default, and what CI runs) no network is touched. With
    ``download=True`` it calls :func:`load_imdb` (a cached copy needs no network); a failure
    prints its reason and gives None, so a chapter goes on with the generated corpus.
    """
    if not download:
        print("IMDB not loaded (offline); pass download=True for the 50,000 IMDB reviews")
        return None
    try:
        return load_imdb(**kwargs)
    except (OSError, ValueError) as err:
        print(f"IMDB unavailable ({str(err).splitlines()[0]}); going on with the generated reviews")
        return None
