"""Verdicts: the from-scratch code held to a reference, with printouts that are the same everywhere.

The book's "Verified" cells print verdicts against a stated tolerance rather than raw errors: the
last digits of a floating-point error depend on the BLAS library and the CPU, while "below 1e-10"
does not. The raw numbers stay available in ``.errors`` for the prose (``myst_nb.glue``).

One type, :class:`Verdict`, serves every such check: :func:`compare` (max abs error against
torch, or another reference) and :func:`dlbook.scratch.gradcheck.gradcheck` (relative error,
analytic against numerical) both return one. NumPy only, so that :mod:`dlbook.scratch` may use it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "max_abs_error",
    "relative_error",
    "Verdict",
    "compare",
    "gradient_verdict",
]


def _as_numpy(a) -> np.ndarray:
    if hasattr(a, "detach"):  # a torch tensor, without importing torch here
        a = a.detach().cpu().numpy()
    return np.asarray(a)


def max_abs_error(a, b) -> float:
    """``max |a - b|`` over all entries; arrays or tensors, of the same shape."""
    a, b = _as_numpy(a), _as_numpy(b)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))


def relative_error(a, b) -> float:
    """Relative error of two arrays: 0 when equal, 1 when unrelated, the same at any scale.

    Shapes:
        a, b: the same shape (arrays or tensors)
        returns: float
    Formula:
        ||a - b|| / max(||a|| + ||b||, tiny), with Frobenius norms over all entries
    Torch:
        none (torch.testing.assert_close judges entrywise, with rtol and atol)
    """
    a = np.asarray(_as_numpy(a), dtype=np.float64)
    b = np.asarray(_as_numpy(b), dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} and {b.shape}")
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / max(denom, np.finfo(np.float64).tiny))


@dataclass
class Verdict:
    """Rows of (what, error), each judged against one tolerance and printed as pass or FAIL.

    ``measure`` says what the errors are, for the header (``"max |scratch - torch|"``,
    ``"relative error"``); ``label``, when given, says what was checked (``"gradient check"``).
    ``error`` is how :meth:`add` turns a pair of arrays into one number. The printout shows
    verdicts only; the raw numbers are in ``.errors``.
    """

    tol: float
    errors: dict[str, float] = field(default_factory=dict)
    measure: str = "max |scratch - torch|"
    label: str = ""
    error: Callable[..., float] = field(default=max_abs_error, repr=False, compare=False)

    def add(self, name: str, a, b) -> Verdict:
        """Measure ``a`` against ``b`` with ``self.error`` and record it as the row ``name``."""
        self.errors[name] = self.error(a, b)
        return self

    @property
    def worst(self) -> float:
        """The largest error over all rows (0 when there are none)."""
        return max(self.errors.values(), default=0.0)

    @property
    def ok(self) -> bool:
        """Whether every row is within the tolerance."""
        return all(e <= self.tol for e in self.errors.values())

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        test = f"{self.measure} <= {self.tol:g}"
        header = f"{self.label} ({test}):" if self.label else f"{test}:"
        width = max((len(k) for k in self.errors), default=0)
        lines = [header]
        for name, err in self.errors.items():
            lines.append(f"  {name:<{width}}  {'pass' if err <= self.tol else 'FAIL'}")
        return "\n".join(lines)


def compare(pairs: dict, tol: float = 1e-10, reference: str = "torch") -> Verdict:
    """``compare({"output": (ours, theirs), ...})`` → a :class:`Verdict` on ``max |ours - theirs|``.

    ``reference`` names what "theirs" is (``"scikit-learn"``, say) in the printed header.
    """
    result = Verdict(tol=tol, measure=f"max |scratch - {reference}|")
    for name, (a, b) in pairs.items():
        result.add(name, a, b)
    return result


def gradient_verdict(errors: dict | None = None, tol: float = 1e-6) -> Verdict:
    """A :class:`Verdict` on relative errors, analytic gradient against numerical.

    ``errors`` maps each checked argument or parameter to its relative error; rows can also be
    added later with ``.add(name, analytic, numerical)``. Printed as
    ``gradient check (relative error <= 1e-06):`` and one pass/FAIL line per row.
    """
    return Verdict(
        tol=tol,
        errors=dict(errors or {}),
        measure="relative error",
        label="gradient check",
        error=relative_error,
    )
