"""Checked claims: a sentence about a measured result, tested against the measurement.

A claim is stated in words, checked against the values a notebook measured, and then either
prints one line that is the same on every machine::

    ✓ attention beats the LSTM by at least 20 points at 8 pairs

or raises :class:`ClaimFailed` with the measured values, failing the cell (and so nbval and the
book's build). The printed line holds no measured number, so nbval can compare it verbatim while
the numbers themselves (float32 training results) differ from machine to machine.

The helpers::

    check(text, holds, **measured)            any boolean condition
    at_least(text, value, bound, **measured)  value >= bound
    at_most(text, value, bound, **measured)   value <= bound
    between(text, value, low, high, ...)      low <= value <= high
    greater(text, a, b, by=0, ...)            a - b >= by (a beats b by at least ``by``)
    within(text, a, b, tol, ...)              |a - b| <= tol (no difference larger than tol)

Each returns the :class:`Claim` it checked (which does not display itself again). When the
environment variable ``DLBOOK_CLAIMS_LOG`` names a file, every claim, held or not, is appended to
it as one JSON line with its measured values and its margin; ``make robust`` collects these into a
table. ``DLBOOK_CLAIMS_NOTEBOOK`` (set by ``make robust``) labels the lines with the notebook.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field

__all__ = [
    "Claim",
    "ClaimFailed",
    "check",
    "at_least",
    "at_most",
    "between",
    "greater",
    "within",
    "LOG_ENV",
    "NOTEBOOK_ENV",
]

LOG_ENV = "DLBOOK_CLAIMS_LOG"
NOTEBOOK_ENV = "DLBOOK_CLAIMS_NOTEBOOK"
HOLDS, FAILS = "✓", "✗"


class ClaimFailed(AssertionError):
    """A claim the book makes did not hold for the values measured in this run."""


def _number(value, name: str) -> float:
    if hasattr(value, "item"):  # a NumPy scalar or a one-element tensor
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"{name} is NaN: a run that produced NaN cannot support a claim")
    return value


def _plain(value):
    """A JSON- and print-friendly version of a measured value."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, float):
        return float(f"{value:.6g}")
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class Claim:
    """One checked claim: its words, whether it held, the measured values and the margin.

    ``margin`` is how far the measurement is from breaking the claim, in the claim's own units
    (``value - bound`` for :func:`at_least`), or ``None`` for a plain :func:`check`.
    ``relative_margin`` is that distance as a fraction of the scale of the numbers involved.
    """

    text: str
    holds: bool
    measured: dict = field(default_factory=dict)
    condition: str = ""
    margin: float | None = None
    relative_margin: float | None = None

    @property
    def line(self) -> str:
        return f"{HOLDS if self.holds else FAILS} {self.text}"

    def explain(self) -> str:
        values = ", ".join(f"{k}={_plain(v)!r}" for k, v in self.measured.items())
        parts = [self.line]
        if self.condition:
            parts.append(f"  needed: {self.condition}")
        parts.append(f"  measured: {values or '(nothing recorded)'}")
        if self.margin is not None:
            parts.append(f"  margin: {self.margin:.4g}")
        return "\n".join(parts)

    def __repr__(self) -> str:
        return self.line


def _log(claim: Claim) -> None:
    path = os.environ.get(LOG_ENV, "").strip()
    if not path:
        return
    record = {
        "notebook": os.environ.get(NOTEBOOK_ENV, ""),
        "text": claim.text,
        "holds": claim.holds,
        "condition": claim.condition,
        "margin": claim.margin,
        "relative_margin": claim.relative_margin,
        "measured": {k: _plain(v) for k, v in claim.measured.items()},
        "seed_offset": os.environ.get("DLBOOK_SEED", "0") or "0",
        "threads": os.environ.get("OMP_NUM_THREADS", ""),
    }
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record, ensure_ascii=False) + "\n")


def _settle(claim: Claim) -> Claim:
    _log(claim)
    if not claim.holds:
        raise ClaimFailed(claim.explain())
    print(claim.line)
    return _Quiet(claim)


class _Quiet(Claim):
    """The returned claim: it already printed its line, so a cell ending in a claim does not
    display it twice."""

    def __init__(self, claim: Claim):
        super().__init__(**{f: getattr(claim, f) for f in claim.__dataclass_fields__})

    def _ipython_display_(self):
        pass


def _text(text) -> str:
    if not isinstance(text, str) or not text.strip():
        raise ValueError("text must be a non-empty sentence stating the claim")
    if "\n" in text:
        raise ValueError("text must be one line")
    return text.strip()


def _relative(margin: float, *scale: float) -> float:
    size = max((abs(s) for s in scale), default=0.0)
    return margin / size if size > 0 else (0.0 if margin == 0 else math.copysign(math.inf, margin))


def check(text: str, holds, /, **measured) -> Claim:
    """The claim ``text`` holds when ``holds`` is true; ``measured`` are the values behind it,
    shown when it fails. Prefer the comparisons below, which also record a margin."""
    if hasattr(holds, "item"):
        holds = holds.item()
    if not isinstance(holds, bool):
        raise TypeError(f"holds must be a bool, got {type(holds).__name__}")
    return _settle(Claim(_text(text), holds, dict(measured)))


def _bounded(text, value, bound, measured, above: bool) -> Claim:
    v, b = _number(value, "value"), _number(bound, "bound")
    margin = v - b if above else b - v
    condition = f"value {'>=' if above else '<='} {b:g}"
    measured = {"value": v, **measured}
    return _settle(
        Claim(_text(text), margin >= 0, measured, condition, margin, _relative(margin, b, v))
    )


def at_least(text: str, value, bound, /, **measured) -> Claim:
    """``value >= bound``."""
    return _bounded(text, value, bound, measured, above=True)


def at_most(text: str, value, bound, /, **measured) -> Claim:
    """``value <= bound``."""
    return _bounded(text, value, bound, measured, above=False)


def between(text: str, value, low, high, /, **measured) -> Claim:
    """``low <= value <= high``."""
    v, lo, hi = _number(value, "value"), _number(low, "low"), _number(high, "high")
    if lo > hi:
        raise ValueError(f"low must not exceed high, got low={lo:g}, high={hi:g}")
    margin = min(v - lo, hi - v)
    return _settle(
        Claim(
            _text(text),
            margin >= 0,
            {"value": v, **measured},
            f"{lo:g} <= value <= {hi:g}",
            margin,
            _relative(margin, hi - lo),
        )
    )


def greater(text: str, a, b, /, by=0.0, **measured) -> Claim:
    """``a - b >= by``: ``a`` beats ``b`` by at least ``by`` (``by=0``: at least ties)."""
    x, y, d = _number(a, "a"), _number(b, "b"), _number(by, "by")
    margin = (x - y) - d
    return _settle(
        Claim(
            _text(text),
            margin >= 0,
            {"a": x, "b": y, **measured},
            f"a - b >= {d:g}",
            margin,
            _relative(margin, x, y),
        )
    )


def within(text: str, a, b, tol, /, **measured) -> Claim:
    """``|a - b| <= tol``: no difference larger than ``tol`` (for example the seeds' spread)."""
    x, y, t = _number(a, "a"), _number(b, "b"), _number(tol, "tol")
    if t < 0:
        raise ValueError(f"tol must be >= 0, got {t:g}")
    margin = t - abs(x - y)
    return _settle(
        Claim(
            _text(text),
            margin >= 0,
            {"a": x, "b": y, "tol": t, **measured},
            f"|a - b| <= {t:g}",
            margin,
            _relative(margin, t),
        )
    )
