"""dlbook.claims: a held claim prints one fixed line; a broken one raises with the values."""

import json

import numpy as np
import pytest

from dlbook import claims


def test_held_claim_prints_one_line_without_numbers(capsys):
    c = claims.at_least("attention reaches at least 95% at 8 pairs", 97.3125, 95)
    assert capsys.readouterr().out == "✓ attention reaches at least 95% at 8 pairs\n"
    assert c.holds and c.margin == pytest.approx(2.3125)
    assert repr(c) == "✓ attention reaches at least 95% at 8 pairs"


def test_broken_claim_raises_with_measured_values(capsys):
    with pytest.raises(claims.ClaimFailed) as err:
        claims.greater("A beats B by 20 points", 90.0, 80.5, by=20, pairs=8)
    message = str(err.value)
    assert message.startswith("✗ A beats B by 20 points")
    assert "a=90.0" in message and "b=80.5" in message and "pairs=8" in message
    assert "a - b >= 20" in message
    assert capsys.readouterr().out == ""  # nothing printed that nbval could compare as held


@pytest.mark.parametrize(
    ("call", "holds"),
    [
        (lambda: claims.at_most("x", 1.0, 1.0), True),
        (lambda: claims.at_most("x", 1.0001, 1.0), False),
        (lambda: claims.between("x", 0.5, 0, 1), True),
        (lambda: claims.between("x", 1.5, 0, 1), False),
        (lambda: claims.within("x", 1.0, 1.2, 0.25), True),
        (lambda: claims.within("x", 1.0, 1.3, 0.25), False),
        (lambda: claims.greater("x", 3, 3), True),
        (lambda: claims.greater("x", 2.9, 3), False),
        (lambda: claims.check("x", np.bool_(True)), True),
        (lambda: claims.check("x", False), False),
    ],
)
def test_comparisons(call, holds):
    if holds:
        assert call().holds
    else:
        with pytest.raises(claims.ClaimFailed):
            call()


@pytest.mark.parametrize(
    ("call", "error", "names"),
    [
        (lambda: claims.at_least("", 1, 0), ValueError, "text"),
        (lambda: claims.at_least("two\nlines", 1, 0), ValueError, "text"),
        (lambda: claims.at_least("x", float("nan"), 0), ValueError, "value"),
        (lambda: claims.at_least("x", "97", 0), TypeError, "value"),
        (lambda: claims.between("x", 1, 2, 0), ValueError, "low"),
        (lambda: claims.within("x", 1, 1, -1), ValueError, "tol"),
        (lambda: claims.check("x", 1), TypeError, "holds"),
    ],
)
def test_bad_input_names_the_argument(call, error, names):
    with pytest.raises(error, match=names):
        call()


def test_every_claim_is_logged_held_or_not(tmp_path, monkeypatch):
    log = tmp_path / "claims.jsonl"
    monkeypatch.setenv(claims.LOG_ENV, str(log))
    monkeypatch.setenv(claims.NOTEBOOK_ENV, "nb.ipynb")
    monkeypatch.setenv("DLBOOK_SEED", "2")
    claims.at_least("held", np.float32(3.0), 2.0, runs=[1.0, 2.0])
    with pytest.raises(claims.ClaimFailed):
        claims.at_least("broken", 1.0, 2.0)
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(r["text"], r["holds"]) for r in rows] == [("held", True), ("broken", False)]
    assert rows[0]["notebook"] == "nb.ipynb" and rows[0]["seed_offset"] == "2"
    assert rows[0]["margin"] == 1.0 and rows[0]["relative_margin"] == pytest.approx(1 / 3)
    assert rows[0]["measured"] == {"value": 3.0, "runs": [1.0, 2.0]}


def test_measured_values_may_reuse_the_parameter_names(capsys):
    claims.between("x", 0.5, 0, 1, high=0.9, value=0.5)
    claims.greater("y", 2, 1, a="label")
    assert capsys.readouterr().out == "✓ x\n✓ y\n"
