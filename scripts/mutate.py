"""Mutation testing for dlbook.scratch: do the tests notice when the code is wrong?

Each mutant changes one thing in one module (an operator, a comparison, a number, a boolean, a
default argument), then the module's own tests run against it. A mutant the tests fail on is
*killed*; one they pass is a *survivor*: either a branch no test reaches, or a change no user can
see (an equivalent mutant). Survivors are listed for a person to judge.

The mutants run in a throw-away clone of the repository's HEAD (never in the working tree), with
``PYTHONPATH`` pointing at it, so that a running mutant cannot disturb anyone else.

    python scripts/mutate.py                       # the default modules, 60 mutants each
    python scripts/mutate.py conv pool --per-module 0   # every mutant of conv.py and pool.py
    python scripts/mutate.py losses/hinge          # dlbook/scratch/losses/hinge.py
    python scripts/mutate.py --list conv           # the mutants, without running them

Writes a Markdown report to ``_build/mutation.md`` (``--out``).
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODULES = ["conv", "conv_transpose", "pool", "norm", "lstm", "gru", "rnn", "optim",
                   "losses/classification", "losses/binary", "losses/hinge", "losses/regression",
                   "losses/divergence", "losses/common", "attention", "linear", "activations",
                   "dropout", "embedding", "packing", "multihead", "transformer", "lr_scheduler",
                   "fast_conv", "gram"]  # fmt: skip
# The tests that hold each module (besides the signature and torch-sample tests, which hold all).
TESTS = {
    "lstm": ["test_scratch_rnn*.py", "test_scratch_lstm*.py", "test_scratch_recurrent_layers*.py"],
    "gru": ["test_scratch_rnn*.py", "test_scratch_gru*.py", "test_scratch_recurrent_layers*.py"],
    "rnn": ["test_scratch_rnn*.py", "test_scratch_recurrent_layers*.py"],
    "norm": ["test_scratch_norm*.py", "test_scratch_layers*.py"],
    "tbptt": ["test_scratch_recurrent_layers*.py"],
    "recurrent_layers": ["test_scratch_recurrent_layers*.py"],
    "activation_layers": ["test_scratch_layers*.py", "test_scratch_activations*.py"],
    "layer_base": ["test_scratch_layers*.py"],
    "norm_layers": ["test_scratch_layers*.py", "test_scratch_norm*.py"],
    "im2col": ["test_scratch_conv*.py"],
    "gradcheck": ["test_gradcheck_and_verify.py"],
    "fit": ["test_scratch_fit.py", "test_scratch_layers*.py", "test_experiment_lenet_numpy.py"],
    "nets": ["test_scratch_layers*.py", "test_experiment_lenet_numpy.py"],
}
SHARED_TESTS = ["test_defaults.py", "test_torch_samples.py"]

SWAP = {
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
    ast.FloorDiv: ast.Mult, ast.Pow: ast.Mult, ast.Mod: ast.FloorDiv,
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
    ast.In: ast.NotIn, ast.NotIn: ast.In, ast.And: ast.Or, ast.Or: ast.And,
}  # fmt: skip


@dataclass(frozen=True)
class Mutant:
    module: str
    index: int  # position among the module's candidate nodes
    line: int
    what: str


def _docstring_nodes(tree) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def _in_raise(tree) -> set[int]:
    """Nodes inside a ``raise`` statement: its message is text, not a result."""
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise):
            ids.update(id(n) for n in ast.walk(node))
    return ids


def _candidates(tree):
    """Every node a mutant may change, in a fixed order, with a description of the change."""
    skip = _docstring_nodes(tree) | _in_raise(tree)
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, (ast.BinOp, ast.AugAssign)) and type(node.op) in SWAP:
            yield node, f"{type(node.op).__name__} -> {SWAP[type(node.op)].__name__}"
        elif isinstance(node, ast.BoolOp) and type(node.op) in SWAP:
            yield node, f"{type(node.op).__name__} -> {SWAP[type(node.op)].__name__}"
        elif isinstance(node, ast.Compare) and type(node.ops[0]) in SWAP:
            yield node, f"{type(node.ops[0]).__name__} -> {SWAP[type(node.ops[0])].__name__}"
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.Not)):
            yield node, f"drop {type(node.op).__name__}"
        elif isinstance(node, ast.Constant) and type(node.value) in (int, float, bool):
            yield node, f"{node.value!r} -> {_changed(node.value)!r}"


def _changed(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    return value * 2 if value else 1.0


def _apply(tree, index: int):
    for i, (node, _) in enumerate(_candidates(tree)):
        if i != index:
            continue
        if isinstance(node, (ast.BinOp, ast.AugAssign, ast.BoolOp)):
            node.op = SWAP[type(node.op)]()
        elif isinstance(node, ast.Compare):
            node.ops[0] = SWAP[type(node.ops[0])]()
        elif isinstance(node, ast.UnaryOp):
            return _replace(tree, node, node.operand)
        elif isinstance(node, ast.Constant):
            node.value = _changed(node.value)
        return tree
    raise IndexError(index)


def _replace(tree, old, new):
    for parent in ast.walk(tree):
        for name, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, name, new)
                return tree
            if isinstance(value, list):
                for i, item in enumerate(value):
                    if item is old:
                        value[i] = new
                        return tree
    raise LookupError("node not found")


def mutants(module: str) -> list[Mutant]:
    tree = ast.parse((ROOT / "dlbook" / "scratch" / f"{module}.py").read_text())
    return [Mutant(module, i, getattr(node, "lineno", 0), what)
            for i, (node, what) in enumerate(_candidates(tree))]  # fmt: skip


def test_files(module: str, clone: Path, shared: bool = False) -> list[str]:
    own = TESTS.get(module, [f"test_scratch_{module.split('/')[0]}*.py"])
    patterns = SHARED_TESTS if shared else own
    return sorted(
        {str(p.relative_to(clone)) for pat in patterns for p in (clone / "tests").glob(pat)}
    )


def _pytest(files: list[str], clone: Path, timeout: float) -> str:
    env = dict(os.environ, PYTHONPATH=str(clone), MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1")
    env.pop("DLBOOK_SEED", None)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *files],
            cwd=clone, env=env, capture_output=True, timeout=timeout,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return "timeout"  # counts as killed: the tests did not pass
    if proc.returncode == 0:
        return "survived"
    return "killed" if proc.returncode == 1 else "error"


def run_mutant(m: Mutant, clone: Path, timeout: float) -> tuple[str, float]:
    """The module's own tests first (``-x``: a killed mutant stops at its first failure); a
    mutant they miss then meets the tests that hold every op (signatures, torch's samples)."""
    path = clone / "dlbook" / "scratch" / f"{m.module}.py"
    original = path.read_text()
    tree = _apply(ast.parse(original), m.index)
    path.write_text(ast.unparse(ast.fix_missing_locations(tree)))
    start = time.perf_counter()
    try:
        verdict = _pytest(test_files(m.module, clone), clone, timeout)
        if verdict == "survived":
            verdict = _pytest(test_files(m.module, clone, shared=True), clone, timeout)
    finally:
        path.write_text(original)
    return verdict, time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", default=DEFAULT_MODULES)
    parser.add_argument("--per-module", type=int, default=60,
                        help="mutants sampled per module (0: all)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "_build" / "mutation.md"))
    args = parser.parse_args(argv)

    chosen = []
    for module in args.modules:
        ms = mutants(module)
        if args.per_module and len(ms) > args.per_module:
            ms = sorted(random.Random(f"{args.seed}:{module}").sample(ms, args.per_module),
                        key=lambda m: m.index)  # fmt: skip
        chosen += ms
    if args.list:
        for m in chosen:
            print(f"{m.module}.py:{m.line}  #{m.index}  {m.what}")
        return 0

    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()  # fmt: skip  (what the clone holds)
    workdir = Path(tempfile.mkdtemp(prefix="dlbook-mutate-"))
    clone = workdir / "repo"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    results = []
    try:
        for k, m in enumerate(chosen, 1):
            verdict, cpu = run_mutant(m, clone, args.timeout)
            results.append((m, verdict))
            print(f"[{k}/{len(chosen)}] {m.module}.py:{m.line} {m.what}: {verdict} ({cpu:.0f} s)",
                  flush=True)  # fmt: skip
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    lines = ["# Mutation run over dlbook/scratch", "",
             f"HEAD {head}, "
             f"{args.per_module or 'all'} mutants per module, seed {args.seed}.", "",
             "| module | mutants | killed | survived |", "|---|---|---|---|"]  # fmt: skip
    for module in args.modules:
        rows = [v for m, v in results if m.module == module]
        killed = sum(v in ("killed", "timeout") for v in rows)
        lines.append(f"| {module}.py | {len(rows)} | {killed} | {rows.count('survived')} |")
    total = len(results)
    killed = sum(v in ("killed", "timeout") for _, v in results)
    lines += ["", f"Killed {killed} of {total} ({100 * killed / max(total, 1):.1f}%).", "",
              "## Survivors", ""]  # fmt: skip
    lines += [f"- `{m.module}.py:{m.line}` #{m.index}: {m.what}" for m, v in results
              if v == "survived"] or ["none"]  # fmt: skip
    errors = [m for m, v in results if v == "error"]
    if errors:
        lines += ["", "## Errors (the test run itself failed to start)", ""]
        lines += [f"- `{m.module}.py:{m.line}` #{m.index}: {m.what}" for m in errors]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    json_path = out.with_suffix(".json")
    json_path.write_text(json.dumps([dict(m.__dict__, verdict=v) for m, v in results], indent=1))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
