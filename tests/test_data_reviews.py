"""dlbook.data.reviews: the grammar's corpus and its labels, tokens, vocabulary, padding, IMDB."""

import io
import tarfile

import numpy as np
import pytest
from test_download import LoopbackServer, closed_port

from dlbook.data import reviews
from dlbook.data.reviews import (
    NEGATIVE,
    NEGATORS,
    POSITIVE,
    Vocab,
    generate_reviews,
    load_imdb,
    load_imdb_or_none,
    load_reviews,
    pad_batch,
    tokenize,
)


def meaning(text):
    """The label read off the text by a rule written independently of the generator: the last
    clause decides; its adjective's polarity, flipped by a negator."""
    words = text.split(" but ")[-1].split()
    adjective = [w for w in words if w in POSITIVE or w in NEGATIVE]
    assert len(adjective) == 1, text
    positive = adjective[0] in POSITIVE
    negated = any(w in NEGATORS for w in words)
    return int(positive != negated), negated


def test_labels_follow_the_grammar():
    r = generate_reviews(600, seed=1)
    got = [meaning(t) for t in r.texts]
    assert [g[0] for g in got] == list(r.labels)
    assert [g[1] for g in got] == list(r.negated)
    assert list(r.contrast) == [" but " in t for t in r.texts]
    assert r.negated.any() and r.contrast.any() and 0.3 < r.labels.mean() < 0.7


def test_contrast_joins_opposite_opinions():
    r = generate_reviews(400, seed=2, p_contrast=1.0)
    for t in r.texts:
        first, second = t.split(" but ")
        assert meaning(first)[0] != meaning(second)[0]


def test_label_noise_flips_that_fraction():
    clean = generate_reviews(2000, seed=3)
    noisy = generate_reviews(2000, seed=3, label_noise=0.1)
    assert clean.texts == noisy.texts
    assert 0.07 < (clean.labels != noisy.labels).mean() < 0.13


def test_splits_are_seeded_disjoint_and_distinct(monkeypatch):
    a, b = load_reviews(200, 50, 100, seed=0), load_reviews(200, 50, 100, seed=0)
    assert a.train.texts == b.train.texts and a.test.texts == b.test.texts
    assert (len(a.train), len(a.val), len(a.test)) == (200, 50, 100)
    every = a.train.texts + a.val.texts + a.test.texts
    assert len(set(every)) == len(every)
    monkeypatch.setenv("DLBOOK_SEED", "1")
    assert load_reviews(200, 50, 100, seed=0).train.texts != a.train.texts


def test_subset_keeps_the_kinds():
    r = generate_reviews(50, seed=4)
    s = r.subset(r.negated)
    assert len(s) == r.negated.sum() and s.negated.all()
    assert list(s.labels) == list(r.labels[r.negated])


def test_bad_grammar_arguments():
    with pytest.raises(ValueError, match="p_negation"):
        generate_reviews(10, p_negation=1.5)
    with pytest.raises(ValueError, match="n"):
        generate_reviews(0)
    with pytest.raises(ValueError, match="n_val"):
        load_reviews(10, -1, 10)


def test_tokenize():
    assert tokenize("Not bad<br />at ALL, I didn't mind!") == [
        "not", "bad", "at", "all", "i", "didn't", "mind",
    ]  # fmt: skip
    assert tokenize("not_good film") == ["not_good", "film"]
    with pytest.raises(TypeError, match="text"):
        tokenize(["a list"])


def test_vocab_special_tokens_counts_and_unknowns():
    v = Vocab.build(["a b b c c c", "c d"], min_count=2)
    assert v.itos[:2] == ["<pad>", "<unk>"] and (v.pad_index, v.unk_index) == (0, 1)
    assert v.itos[2:] == ["c", "b"]  # most frequent first; "a" and "d" are too rare
    assert list(v.encode("c a b zebra")) == [2, 1, 3, 1]
    assert v.decode([2, 3, 0]) == ["c", "b", "<pad>"]
    assert len(Vocab.build(["a b b c c c"], max_size=1)) == 3
    with pytest.raises(ValueError, match="min_count"):
        Vocab.build(["a"], min_count=0)
    with pytest.raises(ValueError, match="repeat"):
        Vocab(["a", "a"])


def test_pad_batch():
    x, lengths = pad_batch([[5, 6, 7], [8], np.array([1, 2])])
    assert x.dtype == np.int64 and x.shape == (3, 3)
    assert x.tolist() == [[5, 6, 7], [8, 0, 0], [1, 2, 0]] and lengths.tolist() == [3, 1, 2]
    x, lengths = pad_batch([[5, 6, 7], [8]], max_length=2, padding_value=9)
    assert x.tolist() == [[5, 6], [8, 9]] and lengths.tolist() == [2, 1]
    with pytest.raises(ValueError, match="empty"):
        pad_batch([[1], []])
    with pytest.raises(ValueError, match="sequences"):
        pad_batch([])


def fake_imdb(n=2):
    """A tiny aclImdb_v1.tar.gz: ``n`` reviews per class in train and test."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for part in ("train", "test"):
            for label in ("pos", "neg"):
                for i in range(n):
                    body = f"A {label} {part} review number {i}.<br />The end.".encode()
                    info = tarfile.TarInfo(f"aclImdb/{part}/{label}/{i}_7.txt")
                    info.size = len(body)
                    tar.addfile(info, io.BytesIO(body))
    return buf.getvalue()


def test_imdb_downloads_checks_extracts_and_caches(monkeypatch, tmp_path):
    import hashlib

    body = fake_imdb(5)
    monkeypatch.setattr(reviews, "IMDB_SHA256", hashlib.sha256(body).hexdigest())
    with LoopbackServer({"/s/aclImdb_v1.tar.gz": body}) as server:
        mirrors = [f"http://127.0.0.1:{closed_port()}/", server.url + "/s/"]  # first one dead
        corpus = load_imdb(root=tmp_path, mirrors=mirrors, val_fraction=0.2)
        again = load_imdb(root=tmp_path, mirrors=mirrors, val_fraction=0.2)
    assert server.requests == ["/s/aclImdb_v1.tar.gz"]  # the second load read the cache
    assert (len(corpus.train), len(corpus.val), len(corpus.test)) == (8, 2, 10)
    assert corpus.train.texts == again.train.texts and corpus.name == "imdb"
    assert corpus.test.labels.tolist() == [1] * 5 + [0] * 5
    assert all("pos" in t for t, y in zip(corpus.test.texts, corpus.test.labels) if y == 1)
    assert corpus.test.negated is None


def test_imdb_wrong_checksum_is_refused(tmp_path):
    with LoopbackServer({"/s/aclImdb_v1.tar.gz": fake_imdb()}) as server:
        with pytest.raises(OSError, match="SHA-256"):
            load_imdb(root=tmp_path, mirrors=[server.url + "/s/"])
    assert not (tmp_path / "aclImdb").exists()


def test_imdb_switch_offline_and_unreachable(capsys, tmp_path):
    assert load_imdb_or_none() is None
    out = capsys.readouterr().out
    assert "offline" in out and out.count("\n") == 1
    dead = f"http://127.0.0.1:{closed_port()}/"
    assert load_imdb_or_none(True, root=tmp_path, mirrors=[dead]) is None
    out = capsys.readouterr().out
    assert "IMDB unavailable" in out and "generated reviews" in out and out.count("\n") == 1
