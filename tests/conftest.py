import os

import numpy as np
import pytest
from hypothesis import settings

os.environ.setdefault("MPLBACKEND", "Agg")

# Float64 comparisons against torch are exact up to summation order: 1e-10 leaves ample room for
# that and none for a wrong index.
settings.register_profile("dlbook", max_examples=60, deadline=None, derandomize=True)
settings.load_profile("dlbook")


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _seed_offset_zero(monkeypatch):
    """Unit tests fix their own seeds and reproduce seeded draws by hand, so they run with no
    DLBOOK_SEED offset even when the caller set one: the offset moves the book's runs (nbval,
    make robust), where claims must hold on any seed. tests/test_seeding.py sets it explicitly."""
    monkeypatch.delenv("DLBOOK_SEED", raising=False)
