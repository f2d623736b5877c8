"""The book's budgets, read from ``benchmarks/`` at build time, as MyST substitutions.

``book/testing.md`` writes ``{{ notebook_budget_s }}`` and the like, so that the page states the
very numbers that ``make bench`` holds the book to. The modules are read, not imported (they
import torch): each budget is a literal module-level assignment, found with ``ast``.
"""

from __future__ import annotations

import ast
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def constants(path: Path) -> dict:
    """The module-level ``NAME = literal`` assignments of ``path``; in a dict literal, a key
    written as an attribute (``np.float32``) is read as its last name (``"float32"``)."""
    found = {}
    for node in ast.parse(path.read_text()).body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
            continue
        target = node.targets[0]
        if isinstance(target, ast.Name) and target.id.isupper():
            try:
                found[target.id] = _literal(node.value)
            except ValueError:
                continue
    return found


def _literal(node: ast.expr):
    if isinstance(node, ast.Dict):
        keys = [k.attr if isinstance(k, ast.Attribute) else _literal(k) for k in node.keys]
        return dict(zip(keys, (_literal(v) for v in node.values)))
    return ast.literal_eval(node)


def _number(x: float) -> str:
    return f"{x:g}"


def substitutions(folder: Path = BENCHMARKS) -> dict[str, str]:
    """Every budget of ``folder``'s benchmarks, formatted for the prose."""
    times = constants(folder / "notebook_times.py")
    lenet = constants(folder / "lenet.py")
    conv = constants(folder / "conv_speed.py")
    return {
        "notebook_budget_s": _number(times["PER_NOTEBOOK_S"]),
        "book_budget_min": _number(times["WHOLE_BOOK_S"] / 60),
        "lenet_numpy_accuracy": f"{lenet['ACCURACY']['numpy']:.0%}",
        "lenet_torch_accuracy": f"{lenet['ACCURACY']['torch']:.0%}",
        "lenet_budget_s": _number(lenet["SECONDS"]),
        "conv_float32_ratio": _number(conv["BUDGET"]["float32"]),
        "conv_float64_ratio": _number(conv["BUDGET"]["float64"]),
    }


def add_substitutions(app, config) -> None:
    config.myst_substitutions = {**substitutions(), **(config.myst_substitutions or {})}


def setup(app):
    app.connect("config-inited", add_substitutions)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
