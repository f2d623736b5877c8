"""Sequence data that needs no network: synthetic tasks, MNIST-1D as sequences, and a character
corpus cut from the Python standard library's own source files.

Sequences follow the book's ``(T, N, D)`` layout (time first, as ``torch.nn.RNN`` without
``batch_first``). Every generator is seeded, so a run repeats exactly.

* :func:`sine_forecast`: predict the next value of a noisy sine wave.
* :func:`adding_problem` (Hochreiter & Schmidhuber 1997): a row of random numbers, two of them
  marked; the target is their sum. Memory over the whole span is needed.
* :func:`copy_memory`: remember a few symbols, wait through blanks, then write them back.
* :func:`mnist1d_sequences`: MNIST-1D's 40-sample signals fed one sample per step.
* :class:`CharCorpus`: text, its vocabulary, encoding, and batches for a character model.
"""

from __future__ import annotations

import sysconfig
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dlbook import seeding
from dlbook.checks import check_int

__all__ = [
    "sine_forecast",
    "adding_problem",
    "copy_memory",
    "mnist1d_sequences",
    "stdlib_text",
    "CharCorpus",
]


def sine_forecast(n: int = 256, length: int = 50, noise: float = 0.1, seed: int = 0):
    """``(x, y)``, each ``(length, n, 1)`` float32: ``y[t]`` is the clean value at ``t + 1``.

    Each series has its own random frequency (0.5 to 2 cycles per 20 steps) and phase;
    ``x`` carries Gaussian noise of standard deviation ``noise``.
    """
    check_int(n, "n")
    check_int(length, "length", 2)
    rng = seeding.rng(seed)
    freq = rng.uniform(0.5, 2.0, n) * 2 * np.pi / 20
    phase = rng.uniform(0, 2 * np.pi, n)
    t = np.arange(length + 1)[:, None]
    clean = np.sin(freq * t + phase)
    x = clean[:-1] + rng.normal(0, noise, (length, n))
    return x[..., None].astype(np.float32), clean[1:, :, None].astype(np.float32)


def adding_problem(n: int = 512, length: int = 50, seed: int = 0):
    """``(x, y)``: ``x`` is ``(length, n, 2)`` float32 — channel 0 uniform in [0, 1), channel 1
    a marker that is 1 at two positions (one in each half) — and ``y`` is ``(n,)`` float32, the
    sum of the two marked numbers. Always guessing 1 scores a mean squared error of about 0.167.
    """
    check_int(n, "n")
    check_int(length, "length", 2)
    rng = seeding.rng(seed)
    values = rng.random((length, n))
    half = length // 2
    first = rng.integers(0, half, n)
    second = rng.integers(half, length, n)
    marks = np.zeros((length, n))
    marks[first, np.arange(n)] = 1
    marks[second, np.arange(n)] = 1
    y = values[first, np.arange(n)] + values[second, np.arange(n)]
    return np.stack([values, marks], axis=-1).astype(np.float32), y.astype(np.float32)


def copy_memory(n: int = 512, symbols: int = 8, remember: int = 5, delay: int = 20, seed: int = 0):
    """``(x, y)`` of integer tokens, each ``(remember + delay + remember, n)`` int64.

    Tokens: ``1..symbols`` are symbols, ``0`` is a blank, ``symbols + 1`` the "recall now"
    marker. ``x`` shows ``remember`` random symbols, then blanks, with the marker at the step
    before the answer begins; ``y`` is blank everywhere except the last ``remember`` steps, which
    repeat the symbols. A model that only ever answers blank, then guesses, has a cross-entropy
    of ``remember * log(symbols) / T`` per step.
    """
    for name, v in (("n", n), ("symbols", symbols), ("remember", remember), ("delay", delay)):
        check_int(v, name)
    rng = seeding.rng(seed)
    seq = rng.integers(1, symbols + 1, (remember, n))
    total = 2 * remember + delay
    x = np.zeros((total, n), np.int64)
    y = np.zeros((total, n), np.int64)
    x[:remember] = seq
    x[remember + delay - 1] = symbols + 1
    y[remember + delay :] = seq
    return x, y


def mnist1d_sequences(n: int = 5000, test_fraction: float = 0.2, seed: int = 0):
    """MNIST-1D (made by its generator; see :func:`dlbook.data.load_mnist1d`) as sequences:
    a :class:`dlbook.data.Split` whose ``x_train``/``x_test`` are ``(40, N, 1)`` float32, one
    signal value per time step, with the usual int64 labels."""
    from dlbook.data.offline import Split, load_mnist1d

    d = load_mnist1d(n=n, test_fraction=test_fraction, seed=seed)
    to_seq = lambda x: np.ascontiguousarray(x.reshape(len(x), -1).T[..., None])  # noqa: E731
    return Split(to_seq(d.x_train), d.y_train, to_seq(d.x_test), d.y_test, name="mnist1d-seq")


def stdlib_text(modules=("textwrap", "string", "shlex", "fnmatch", "glob", "bisect")) -> str:
    """The source code of a few standard-library modules, concatenated: a text that ships with
    every Python, so the character model needs no download. Its exact content depends on the
    Python version, so figures computed from it may differ slightly between versions."""
    root = Path(sysconfig.get_paths()["stdlib"])
    parts = []
    for name in modules:
        path = root / f"{name}.py"
        if not path.exists():
            raise ValueError(f"modules: {name!r} is not a single-file standard-library module")
        parts.append(path.read_text(encoding="utf-8"))
    return "\n".join(parts)


@dataclass
class CharCorpus:
    """A text with its character vocabulary.

    ``encode``/``decode`` map between text and int64 ids; :meth:`batches` cuts the encoded text
    into ``(T, N)`` input/target pairs for next-character prediction (targets are the inputs
    shifted by one).
    """

    text: str

    def __post_init__(self):
        if len(self.text) < 2:
            raise ValueError("text must hold at least two characters")
        self.chars = sorted(set(self.text))
        self.index = {c: i for i, c in enumerate(self.chars)}
        self.ids = self.encode(self.text)

    @classmethod
    def from_stdlib(cls, modules=None) -> CharCorpus:
        return cls(stdlib_text() if modules is None else stdlib_text(modules))

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        unknown = sorted(set(text) - set(self.index))
        if unknown:
            raise ValueError(f"text: characters not in the vocabulary: {unknown[:10]!r}")
        return np.array([self.index[c] for c in text], dtype=np.int64)

    def decode(self, ids) -> str:
        return "".join(self.chars[int(i)] for i in np.asarray(ids).ravel())

    def split(self, fraction: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
        """The ids cut in two at ``fraction``: (training part, held-out part)."""
        if not 0 < fraction < 1:
            raise ValueError(f"fraction must be in (0, 1), got {fraction!r}")
        cut = int(len(self.ids) * fraction)
        return self.ids[:cut], self.ids[cut:]

    def batches(self, length: int, batch_size: int, ids=None, rng=None, shuffle=True):
        """Yield ``(x, y)`` pairs of shape ``(length, batch_size)``: windows of the ids starting
        at random (or, with ``shuffle=False``, consecutive) positions; ``y`` is ``x`` moved on
        by one character. One pass covers about ``len(ids) / (length * batch_size)`` batches."""
        check_int(length, "length")
        check_int(batch_size, "batch_size")
        ids = self.ids if ids is None else np.asarray(ids)
        starts = np.arange(0, len(ids) - length - 1, length)
        if len(starts) < batch_size:
            raise ValueError(f"length={length}, batch_size={batch_size}: the text is too short")
        if shuffle:
            starts = (np.random.default_rng() if rng is None else rng).permutation(starts)
        offs = np.arange(length)
        for i in range(0, len(starts) - batch_size + 1, batch_size):
            s = starts[i : i + batch_size]
            window = ids[s[None, :] + offs[:, None]]
            yield window, ids[s[None, :] + offs[:, None] + 1]
