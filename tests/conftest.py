import os

import numpy as np
import pytest
from hypothesis import settings

os.environ.setdefault("MPLBACKEND", "Agg")
# Unit tests fix their own seeds and reproduce seeded draws by hand, so they run with no
# DLBOOK_SEED offset even when the caller set one (the offset moves the book's runs: nbval and
# make robust). Removed here, before any fixture is built; tests/test_seeding.py sets it itself.
os.environ.pop("DLBOOK_SEED", None)

# Float64 comparisons against torch are exact up to summation order: 1e-10 leaves ample room for
# that and none for a wrong index.
settings.register_profile("dlbook", max_examples=60, deadline=None, derandomize=True)
settings.load_profile("dlbook")


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _seed_offset_zero(monkeypatch):
    """No test leaks a DLBOOK_SEED it set into the next one (see the top of this file)."""
    monkeypatch.delenv("DLBOOK_SEED", raising=False)


@pytest.fixture(autouse=True)
def _no_figure_leaks_into_the_next_test():
    """Every test starts with no matplotlib figure open, whatever the test before it (in the same
    xdist worker) left behind, so a test may check that its own code closes what it opens."""
    import sys

    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close("all")
    yield
