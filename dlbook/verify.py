"""Holding the from-scratch code to PyTorch, with printouts that are the same on every machine.

The book's "Verified" cells print verdicts against a stated tolerance rather than raw errors: the
last digits of a floating-point error depend on the BLAS library and the CPU, while "below 1e-10"
does not. The raw numbers stay available in ``.errors`` for the prose (``myst_nb.glue``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["max_abs_error", "Comparison", "compare"]


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


@dataclass
class Comparison:
    """Rows of (what, max abs error), judged against one tolerance."""

    tol: float
    errors: dict[str, float] = field(default_factory=dict)
    reference: str = "torch"  # what the scratch code is held to, for the printed header

    def add(self, name: str, a, b) -> Comparison:
        self.errors[name] = max_abs_error(a, b)
        return self

    @property
    def worst(self) -> float:
        return max(self.errors.values(), default=0.0)

    @property
    def ok(self) -> bool:
        return self.worst <= self.tol

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        width = max((len(k) for k in self.errors), default=0)
        lines = [f"max |scratch - {self.reference}| <= {self.tol:g}:"]
        for name, err in self.errors.items():
            lines.append(f"  {name:<{width}}  {'pass' if err <= self.tol else 'FAIL'}")
        return "\n".join(lines)


def compare(pairs: dict, tol: float = 1e-10, reference: str = "torch") -> Comparison:
    """``compare({"output": (ours, theirs), ...})`` → a :class:`Comparison` that prints verdicts.
    ``reference`` names what "theirs" is (``"scikit-learn"``, say) in the printed header."""
    result = Comparison(tol=tol, reference=reference)
    for name, (a, b) in pairs.items():
        result.add(name, a, b)
    return result
