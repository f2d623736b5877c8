"""dlbook.seeding: DLBOOK_SEED moves every seed by one offset, and a bad value is refused."""

import numpy as np
import pytest
import torch

from dlbook import seeding


def test_unset_means_zero(monkeypatch):
    monkeypatch.delenv(seeding.ENV, raising=False)
    assert seeding.offset() == 0 and seeding.seed(7) == 7
    assert seeding.rng(3).integers(1 << 30) == np.random.default_rng(3).integers(1 << 30)


def test_offset_moves_every_generator(monkeypatch):
    monkeypatch.setenv(seeding.ENV, "5")
    assert seeding.seed(7) == 12
    assert seeding.rng(3).integers(1 << 30) == np.random.default_rng(8).integers(1 << 30)
    assert torch.equal(
        torch.rand(4, generator=seeding.generator(1)),
        torch.rand(4, generator=torch.Generator().manual_seed(6)),
    )
    assert seeding.manual_seed(1) == 6
    first = torch.rand(3)
    torch.manual_seed(6)
    assert torch.equal(first, torch.rand(3))


@pytest.mark.parametrize("value", ["one", "1.5", "-2"])
def test_bad_environment_names_the_variable(monkeypatch, value):
    monkeypatch.setenv(seeding.ENV, value)
    with pytest.raises(ValueError, match="DLBOOK_SEED"):
        seeding.offset()


@pytest.mark.parametrize(("base", "error"), [(-1, ValueError), (1.0, TypeError), (True, TypeError)])
def test_bad_base(base, error):
    with pytest.raises(error, match="base"):
        seeding.seed(base)


def test_experiments_follow_the_offset(monkeypatch):
    """A seeded experiment draws other data under another offset, and the same under the same."""
    from dlbook.data import sequences

    monkeypatch.delenv(seeding.ENV, raising=False)
    a = sequences.adding_problem(4, 10, seed=0)
    monkeypatch.setenv(seeding.ENV, "1")
    b = sequences.adding_problem(4, 10, seed=0)
    monkeypatch.setenv(seeding.ENV, "0")
    c = sequences.adding_problem(4, 10, seed=0)
    assert not np.array_equal(a[0], b[0]) and np.array_equal(a[0], c[0])
