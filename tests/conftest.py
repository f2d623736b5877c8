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
