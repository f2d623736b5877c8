"""Numbers that the book's own pages state, read at build time from the files that hold them.

``book/testing.md`` writes ``{{ notebook_budget_s }}``, ``{{ tested_threads }}`` and the like (MyST
substitutions), so that the page states the very budgets that ``make bench`` holds the book to, the
set-ups that the ``Makefile`` runs and the tolerance that the unit tests use. The files are read,
not imported (the benchmarks import torch): a budget is a literal module-level assignment, found
with ``ast``; a Makefile default is a ``NAME ?= value`` line or a ``$(call tested,NAME,value)``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


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


def default_argument(path: Path, function: str, argument: str):
    """The default value of ``argument`` in the top-level ``def function`` of ``path``."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef) and node.name == function:
            args = node.args.args[len(node.args.args) - len(node.args.defaults) :]
            for arg, default in zip(args, node.args.defaults):
                if arg.arg == argument:
                    return ast.literal_eval(default)
    raise ValueError(f"{path.name} has no {function}({argument}=...)")


def make_defaults(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """The Makefile's stored defaults (``NAME ?= value``), tested ones (``$(call tested,..)``)."""
    text = path.read_text()
    stored = dict(re.findall(r"^([A-Z_]+)\s*\?=\s*(.*?)\s*$", text, re.M))
    tested = dict(re.findall(r"\$\(call tested,([A-Z_]+),([^)]*)\)", text))
    return stored, tested


def _number(x: float) -> str:
    return f"{x:g}"


def _words(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def substitutions(root: Path = ROOT) -> dict[str, str]:
    """Every fact the pages state, formatted for the prose."""
    times = constants(root / "benchmarks/notebook_times.py")
    lenet = constants(root / "benchmarks/lenet.py")
    conv = constants(root / "benchmarks/conv_speed.py")
    stored, tested = make_defaults(root / "Makefile")
    tolerance = default_argument(root / "tests/helpers.py", "assert_close", "tol")
    return {
        "notebook_budget_s": _number(times["PER_NOTEBOOK_S"]),
        "book_budget_min": _number(times["WHOLE_BOOK_S"] / 60),
        "lenet_numpy_accuracy": f"{lenet['ACCURACY']['numpy']:.0%}",
        "lenet_torch_accuracy": f"{lenet['ACCURACY']['torch']:.0%}",
        "lenet_budget_s": _number(lenet["SECONDS"]),
        "conv_float32_ratio": _number(conv["BUDGET"]["float32"]),
        "conv_float64_ratio": _number(conv["BUDGET"]["float64"]),
        "unit_tolerance": f"{tolerance:g}",
        "stored_threads": stored["OMP_NUM_THREADS"],
        "stored_isa": stored["ONEDNN_MAX_CPU_ISA"],
        "stored_seed": stored["DLBOOK_SEED"],
        "tested_threads": tested["OMP_NUM_THREADS"],
        "tested_isa": tested["ONEDNN_MAX_CPU_ISA"],
        "tested_seed": tested["DLBOOK_SEED"],
        "robust_seeds": _words(stored["ROBUST_SEEDS"].split()),
    }


def add_substitutions(app, config) -> None:
    config.myst_substitutions = {**substitutions(), **(config.myst_substitutions or {})}


def setup(app):
    app.connect("config-inited", add_substitutions)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
