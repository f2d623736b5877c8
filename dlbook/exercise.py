"""Checkers for the write-it-yourself exercises: run the reader's function, say what is wrong.

An exercise asks the reader to write one function (a forward, a backward, an update rule). Its
checker, in the chapter's experiment module, calls :func:`check` with the reader's function, the
book's reference and a few cases. :func:`check` runs every case, holds each result to the
reference, and reports in words what differs: an exception, a missing output, the wrong type,
shape or dtype, or the first entry that is wrong and by how much, case by case. Where a torch
twin exists, the report also states that the reference itself equals torch on those cases, so the
reader knows what they are being held to.

Example::

    def check_relu(fn):
        return check(fn, relu, cases=[((np.array([-1.0, 0.0, 2.0]),), {})], name="relu",
                     torch_twin=lambda x: torch.relu(torch.from_numpy(x)))

The report prints as a short verdict (``✓ relu: right on all 3 cases``) followed by one line per
problem, is truthy when everything is right, and carries the details in ``.problems``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Case", "Report", "check", "describe_difference"]


@dataclass(frozen=True)
class Case:
    """One call of the function under test: ``fn(*args, **kwargs)``, with a label for the
    report (for example ``"stride 2, padding 1"``)."""

    args: tuple
    kwargs: dict = field(default_factory=dict)
    label: str = ""


@dataclass
class Report:
    """The verdict on the reader's function: ``passed``, the number of cases, and one line per
    problem found (empty when it passed)."""

    name: str
    cases: int
    problems: list[str]
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        if self.passed:
            head = f"✓ {self.name}: right on all {self.cases} cases"
        else:
            head = f"✗ {self.name}: {len(self.problems)} problem(s) in {self.cases} cases"
        return "\n".join([head, *(f"  - {p}" for p in self.problems), *self.notes])

    def __repr__(self) -> str:
        return str(self)


def _as_array(value):
    if hasattr(value, "detach"):  # a torch tensor, without importing torch here
        value = value.detach().cpu().numpy()
    return value


def describe_difference(got, want, what: str, atol: float, rtol: float) -> str | None:
    """Why ``got`` is not ``want`` (arrays or numbers), in words; ``None`` when they agree to
    ``|got - want| <= atol + rtol |want|`` with the same shape (and dtype, for arrays).

    Shapes:
        got, want: arrays of any shape, or numbers
        returns: a sentence, or None
    Formula:
        wrong where |got - want| > atol + rtol |want|; the first such entry, and the largest error
    Torch:
        none (torch.testing.assert_close also reports the greatest difference)
    """
    got, want = _as_array(got), _as_array(want)
    if isinstance(want, np.ndarray):
        if not isinstance(got, np.ndarray):
            return f"{what} should be a NumPy array of shape {want.shape}, got {type(got).__name__}"
        if got.shape != want.shape:
            return f"{what} has shape {got.shape}, expected {want.shape}"
        if got.dtype != want.dtype:
            return f"{what} has dtype {got.dtype}, expected {want.dtype}"
    try:
        g = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return f"{what} should be a number, got {type(got).__name__}"
    w = np.asarray(want, dtype=np.float64)
    if g.shape != w.shape:
        return f"{what} has shape {g.shape}, expected {w.shape}"
    if np.isnan(g).any() and not np.isnan(w).any():
        first = tuple(int(i) for i in np.argwhere(np.isnan(g))[0])
        return f"{what} contains NaN (first at index {first})"
    wrong = ~(np.abs(g - w) <= atol + rtol * np.abs(w))
    if not wrong.any():
        return None
    if g.ndim == 0:
        return f"{what} is {float(g):.6g}, expected {float(w):.6g}"
    first = tuple(int(i) for i in np.argwhere(wrong)[0])
    count = int(wrong.sum())
    return (
        f"{what} is wrong at {count} of {g.size} entries; first at index {first}: "
        f"{g[first]:.6g}, expected {w[first]:.6g} (largest error {np.max(np.abs(g - w)):.3g})"
    )


def _outputs(result, names) -> list:
    if len(names) == 1:
        return [result]
    return list(result) if isinstance(result, (tuple, list)) else [result]


def check(
    fn: Callable,
    reference: Callable,
    cases: Sequence[Case | tuple],
    *,
    name: str | None = None,
    outputs: Sequence[str] = ("the result",),
    torch_twin: Callable | None = None,
    atol: float = 1e-8,
    rtol: float = 1e-6,
    twin_atol: float = 1e-8,
    twin_rtol: float = 1e-6,
) -> Report:
    """Hold ``fn`` to ``reference`` on every case and report what is wrong, in words.

    ``cases``: :class:`Case` objects or ``(args, kwargs)`` pairs. ``outputs`` names the results
    when the functions return a tuple (for example ``("grad_input", "grad_weight")``).
    ``torch_twin``, if given, is called like the reference and must agree with it on every case
    to ``twin_atol + twin_rtol |reference|`` (a ValueError otherwise: that is a bug in the book,
    not in the reader's code; loosen the tolerance for float32 cases); the report then notes that
    the reference equals torch. Inputs are copied before each call, so a
    function that writes into its arguments cannot spoil the next call.

    Shapes:
        fn, reference, torch_twin: the same signature; returns a Report
    Formula:
        a case passes when every output has the reference's type, shape and dtype and
        |got - want| <= atol + rtol |want| entrywise
    Torch:
        none (torch.testing.assert_close holds one result to another)
    """
    if not callable(fn):
        raise ValueError(f"fn must be a function, got {type(fn).__name__}")
    label = name or getattr(fn, "__name__", "your function")
    problems: list[str] = []
    normalized = [c if isinstance(c, Case) else Case(tuple(c[0]), dict(c[1])) for c in cases]
    if not normalized:
        raise ValueError("cases must hold at least one case")

    def call(f, case):
        args = [a.copy() if isinstance(a, np.ndarray) else a for a in case.args]
        return f(*args, **case.kwargs)

    for k, case in enumerate(normalized, 1):
        where = f"case {k}" + (f" ({case.label})" if case.label else "")
        want = _outputs(call(reference, case), outputs)
        if torch_twin is not None:
            twin = _outputs(call(torch_twin, case), outputs)
            for o, t, w in zip(outputs, twin, want):
                if describe_difference(
                    np.asarray(_as_array(t)), np.asarray(w), o, twin_atol, twin_rtol
                ):
                    raise ValueError(f"the reference disagrees with torch on {where}, {o}")
        try:
            got = _outputs(call(fn, case), outputs)
        except Exception as exc:  # the reader's code may raise anything; report it in words
            problems.append(f"{where}: raised {type(exc).__name__}: {exc}")
            continue
        if len(got) != len(want):
            problems.append(f"{where}: returned {len(got)} values, expected {len(want)}")
            continue
        for o, g, w in zip(outputs, got, want):
            why = describe_difference(g, w, o, atol, rtol)
            if why:
                problems.append(f"{where}: {why}")
    notes = (
        [f"  (the reference equals torch on these {len(normalized)} cases)"] if torch_twin else []
    )
    return Report(label, len(normalized), problems, notes)
