"""Every seed the book uses, moved together by one number: ``DLBOOK_SEED``.

The book's results come from small, seeded runs. A claim that holds only for seed 0 is luck, so
every place in ``dlbook`` that turns a seed into a random generator goes through this module, which
adds the integer in the environment variable ``DLBOOK_SEED`` (default 0). The notebooks do the
same for the seeds they use directly. ``DLBOOK_SEED=3 make test`` then re-runs the whole book on
other random draws (``make robust`` runs several), while ``DLBOOK_SEED`` unset reproduces the
stored run.

The offset is read at every call, so a test can change it with ``monkeypatch.setenv``. This module
imports torch only inside the functions that need it, so ``dlbook.scratch`` may use it.
"""

from __future__ import annotations

import os
import random

import numpy as np

__all__ = ["ENV", "offset", "seed", "rng", "generator", "manual_seed"]

ENV = "DLBOOK_SEED"


def offset() -> int:
    """The integer in ``DLBOOK_SEED``, or 0 when it is unset or blank.

    Anything that is not an integer raises ``ValueError`` naming the variable: a typo must not
    silently re-run the book on seed 0.
    """
    text = os.environ.get(ENV, "").strip()
    if not text:
        return 0
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{ENV} must be an integer (a seed offset), got {text!r}") from None
    if value < 0:
        raise ValueError(f"{ENV} must be a non-negative integer, got {value}")
    return value


def seed(base: int = 0) -> int:
    """``base + DLBOOK_SEED``: the seed to use where the book's code says ``base``."""
    if isinstance(base, bool) or not isinstance(base, (int, np.integer)):
        raise TypeError(f"base must be an int seed, got {type(base).__name__}")
    if base < 0:
        raise ValueError(f"base must be a non-negative seed, got {base}")
    return int(base) + offset()


def rng(base: int = 0) -> np.random.Generator:
    """``numpy.random.default_rng(seed(base))``."""
    return np.random.default_rng(seed(base))


def generator(base: int = 0, device=None):
    """A ``torch.Generator`` (on ``device``, CPU by default) seeded with ``seed(base)``."""
    import torch

    gen = torch.Generator() if device is None else torch.Generator(device=device)
    return gen.manual_seed(seed(base))


def manual_seed(base: int = 0) -> int:
    """Seed torch's global generator (and Python's ``random``) with ``seed(base)``; return it.

    Use it where torch draws from its global generator, as ``nn.Linear``'s initialization does.
    """
    import torch

    value = seed(base)
    random.seed(value)
    torch.manual_seed(value)
    return value
