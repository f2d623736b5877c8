"""dlbook.data.sequences: the synthetic tasks, MNIST-1D as sequences and the character corpus."""

import numpy as np
import pytest

from dlbook.data.sequences import (
    CharCorpus,
    adding_problem,
    copy_memory,
    mnist1d_sequences,
    sine_forecast,
    stdlib_text,
)


def test_sine_forecast_targets_are_the_next_clean_value():
    x, y = sine_forecast(n=8, length=30, noise=0.0, seed=1)
    assert x.shape == y.shape == (30, 8, 1) and x.dtype == np.float32
    np.testing.assert_allclose(x[1:], y[:-1], atol=1e-6)  # no noise: input t+1 == target t
    xn, _ = sine_forecast(n=8, length=30, noise=0.1, seed=1)
    assert 0.05 < np.std(xn - x) < 0.15
    assert np.array_equal(sine_forecast(seed=3)[0], sine_forecast(seed=3)[0])


def test_adding_problem():
    x, y = adding_problem(n=100, length=20, seed=0)
    assert x.shape == (20, 100, 2) and y.shape == (100,)
    marks = x[..., 1]
    assert (marks.sum(0) == 2).all() and (marks[:10].sum(0) == 1).all()
    np.testing.assert_allclose(y, (x[..., 0] * marks).sum(0), rtol=1e-6)
    # the baseline quoted in the docstring: always guessing 1
    assert abs(np.mean((adding_problem(n=20000)[1] - 1) ** 2) - 1 / 6) < 0.01


def test_copy_memory():
    x, y = copy_memory(n=10, symbols=4, remember=3, delay=6, seed=0)
    assert x.shape == y.shape == (12, 10)
    assert np.array_equal(y[-3:], x[:3]) and (x[:3] >= 1).all() and (x[:3] <= 4).all()
    assert (x[8] == 5).all() and (y[:-3] == 0).all()


def test_mnist1d_as_sequences():
    d = mnist1d_sequences(n=200, test_fraction=0.2)
    assert d.x_train.shape == (40, 160, 1) and d.x_test.shape == (40, 40, 1)
    assert d.y_train.dtype == np.int64 and d.x_train.flags.c_contiguous


def test_char_corpus_from_the_standard_library():
    corpus = CharCorpus.from_stdlib()
    assert len(corpus.text) > 50_000 and "def " in corpus.text
    assert corpus.decode(corpus.encode("def f(x):")) == "def f(x):"
    assert corpus.vocab_size == len(set(corpus.text))
    train, held = corpus.split(0.9)
    assert len(train) + len(held) == len(corpus.ids)
    x, y = next(corpus.batches(16, 4, ids=train, rng=np.random.default_rng(0)))
    assert x.shape == y.shape == (16, 4) and np.array_equal(x[1:], y[:-1])
    with pytest.raises(ValueError, match="vocabulary"):
        corpus.encode("\x00")
    with pytest.raises(ValueError, match="modules"):
        stdlib_text(("no_such_module",))


def test_bad_arguments():
    with pytest.raises(ValueError, match="length"):
        sine_forecast(length=1)
    with pytest.raises(ValueError, match="delay"):
        copy_memory(delay=0)
    with pytest.raises(ValueError, match="text"):
        CharCorpus("a")
