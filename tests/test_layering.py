"""The layering of dlbook, held by reading every module's imports (STYLE.md, "Data flows one way").

Floors, lowest first: the bottom-floor modules (seeding, env, checks, shapes, verify, history,
claims, timing, devices) → data → scratch / nets / receptive / metrics → train → experiments →
viz. Every import goes to an equal or lower floor. On top of that: scratch never imports torch or
the PyTorch side; viz never trains; one experiment never imports another; nobody imports another
module's private (``_name``) names or a private module from outside its package; and there are no
import cycles.

The checker reads imports with ``ast`` (top-level and inside functions alike), so it sees lazy
``import torch`` lines too. The first tests run it on small synthetic trees, one violation each, so
that every rule is shown to catch what it is for; the last ones run it on dlbook itself.
"""

from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "dlbook"

BOTTOM = (
    "exercise",
    "prose",
    "seeding",
    "env",
    "checks",
    "shapes",
    "verify",
    "history",
    "claims",
    "timing",
    "devices",
)
FLOORS = {
    "dlbook": 0,  # the top __init__ imports only devices; everything else loads lazily by name
    **{f"dlbook.{m}": 0 for m in BOTTOM},
    "dlbook.data": 1,
    "dlbook.scratch": 2,
    "dlbook.nets": 2,
    "dlbook.receptive": 2,
    "dlbook.metrics": 2,
    "dlbook.train": 3,
    "dlbook.experiments": 4,
    "dlbook.viz": 5,
}
SCRATCH_FORBIDDEN = (
    "torch",
    "dlbook.train",
    "dlbook.nets",
    "dlbook.experiments",
    "dlbook.viz",
    "dlbook.receptive",
)
DATA_ALLOWED = ("dlbook.data", *(f"dlbook.{m}" for m in BOTTOM))
# (importer's package, module imported from, private name): exceptions to the private-name rule.
ALLOWED_PRIVATE: set[tuple[str, str, str]] = set()  # (package, source, name): none allowed


# --- the checker -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    target: str  # the module the import loads, as an absolute dotted name
    source: str | None  # for `from X import Y`, X resolved to an absolute name; else None
    name: str | None  # for `from X import Y`, Y (a name, or a submodule of X); else None
    line: int
    text: str  # the import statement as written

    def where(self) -> str:
        return f"{self.module} (line {self.line}: {self.text})"


def module_names(root: Path) -> dict[str, Path]:
    """Every module under the package directory ``root``, by dotted name."""
    names = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


def _base(module: str, is_package: bool, level: int) -> str:
    parts = module.split(".")
    if not is_package:
        parts = parts[:-1]
    return ".".join(parts[: len(parts) - (level - 1)] if level > 1 else parts)


def read_imports(root: Path) -> list[Import]:
    """Every import statement of every module under ``root``, with names resolved."""
    modules = module_names(root)
    found = []
    for module, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        is_package = path.name == "__init__.py"
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                text = ast.unparse(node)
            if isinstance(node, ast.Import):
                for alias in node.names:
                    found.append(Import(module, alias.name, None, None, node.lineno, text))
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = _base(module, is_package, node.level)
                    source = f"{base}.{node.module}" if node.module else base
                else:
                    source = node.module
                for alias in node.names:
                    sub = f"{source}.{alias.name}"
                    target = sub if sub in modules else source  # `from pkg import submodule`
                    found.append(Import(module, target, source, alias.name, node.lineno, text))
    return found


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def floor(module: str) -> int | None:
    if module == "dlbook":
        return FLOORS[module]
    best = max((p for p in FLOORS if p != "dlbook" and _within(module, p)), key=len, default=None)
    return None if best is None else FLOORS[best]


def scratch_imports_only_numpy_side(imports) -> list[str]:
    return [
        f"{i.where()}: dlbook.scratch imports {i.target}, which it must not"
        for i in imports
        if _within(i.module, "dlbook.scratch")
        and any(_within(i.target, bad) for bad in SCRATCH_FORBIDDEN)
    ]


def viz_never_trains(imports) -> list[str]:
    return [
        f"{i.where()}: dlbook.viz imports dlbook.train; figures draw, they do not train"
        for i in imports
        if _within(i.module, "dlbook.viz") and _within(i.target, "dlbook.train")
    ]


def _experiment(module: str) -> str | None:
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[:2] == ["dlbook", "experiments"] else None


def experiments_independent(imports) -> list[str]:
    return [
        f"{i.where()}: one experiment imports another ({_experiment(i.target)})"
        for i in imports
        if _experiment(i.module)
        and _experiment(i.target)
        and _experiment(i.target) != _experiment(i.module)
    ]


def data_stays_low(imports) -> list[str]:
    return [
        f"{i.where()}: dlbook.data imports {i.target}, above it"
        for i in imports
        if _within(i.module, "dlbook.data")
        and _within(i.target, "dlbook")
        and not any(_within(i.target, ok) for ok in DATA_ALLOWED)
    ]


def no_private_imports(imports) -> list[str]:
    out = []
    for i in imports:
        if i.name is not None and _private(i.name):
            if (_package(i.module), i.source, i.name) not in ALLOWED_PRIVATE:
                out.append(f"{i.where()}: imports the private name {i.name} from {i.source}")
            continue
        parts = i.target.split(".")
        for k in range(1, len(parts)):
            package = ".".join(parts[:k])
            if _private(parts[k]) and not _within(i.module, package):
                out.append(f"{i.where()}: imports the private module {i.target} from outside")
                break
    return out


def _package(module: str) -> str:
    """The package a module belongs to (dlbook.scratch for dlbook.scratch.conv)."""
    return module.rsplit(".", 1)[0]


def cycles(imports, modules) -> list[str]:
    """One cycle per strongly connected group of dlbook modules that import each other."""
    graph = {m: set() for m in modules}
    for i in imports:
        if i.target in graph and i.target != i.module:
            graph[i.module].add(i.target)
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.add(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(group)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [f"import cycle: {' -> '.join(_one_cycle(graph, g))}" for g in groups]


def _one_cycle(graph, group) -> list[str]:
    start = min(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:  # breadth-first, inside the group, back to the start
        nxt = []
        for v in frontier:
            for w in sorted(graph[v] & group):
                if w == start:
                    return paths[v] + [start]
                if w not in paths:
                    paths[w] = paths[v] + [w]
                    nxt.append(w)
        frontier = nxt
    raise AssertionError("a strongly connected group always holds a cycle")


def floors_respected(imports, modules) -> list[str]:
    out = []
    for m in sorted(modules):
        if floor(m) is None:
            out.append(f"{m}: has no floor; give it one in FLOORS (tests/test_layering.py)")
    for i in imports:
        low, high = floor(i.target), floor(i.module)
        if not _within(i.target, "dlbook") or low is None or high is None:
            continue
        if low > high:
            out.append(f"{i.where()}: floor {high} imports {i.target} on floor {low}, above it")
    return out


def check(root: Path) -> dict[str, list[str]]:
    """Every rule's complaints about the package at ``root``, by rule."""
    imports, modules = read_imports(root), set(module_names(root))
    return {
        "scratch": scratch_imports_only_numpy_side(imports),
        "viz": viz_never_trains(imports),
        "experiments": experiments_independent(imports),
        "data": data_stays_low(imports),
        "private": no_private_imports(imports),
        "cycles": cycles(imports, modules),
        "floors": floors_respected(imports, modules),
    }


# --- each rule catches what it is for ----------------------------------------------------------


def tree(tmp_path: Path, files: dict[str, str]) -> Path:
    """A synthetic ``dlbook`` package under ``tmp_path``; every package gets an ``__init__``."""
    root = tmp_path / "dlbook"
    for rel, source in {"__init__.py": "", **files}.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        for parent in path.relative_to(root).parents:
            init = root / parent / "__init__.py"
            if not init.exists():
                init.write_text("")
        path.write_text(textwrap.dedent(source))
    return root


CLEAN = {
    "seeding.py": "import numpy as np\n",
    "data/__init__.py": "from dlbook.data.sequences import sine_forecast\n",
    "data/sequences.py": "from dlbook import seeding\nfrom dlbook.checks import check_int\n",
    "checks.py": "import numbers\n",
    "scratch/__init__.py": "from .conv import conv2d\n",
    "scratch/conv.py": "from dlbook import checks\nfrom dlbook.data import sequences\n",
    "train.py": "def fit():\n    import torch\n    from dlbook.nets import LeNet5\n",
    "nets.py": "import torch\n",
    "experiments/lenet.py": "from dlbook import train\nfrom dlbook.scratch.conv import conv2d\n",
    "viz/lenet.py": "from dlbook.experiments import lenet\nfrom dlbook.viz.common import table\n",
    "viz/common.py": "",
}


def test_a_clean_tree_passes(tmp_path):
    assert check(tree(tmp_path, CLEAN)) == {rule: [] for rule in check(tree(tmp_path, CLEAN))}


@pytest.mark.parametrize(
    "rule, files, expected",
    [
        ("scratch", {"scratch/pool.py": "def f():\n    import torch\n"}, "imports torch"),
        ("scratch", {"scratch/pool.py": "import torch.nn.functional as F\n"}, "torch.nn"),
        ("scratch", {"scratch/fit.py": "from dlbook.train import fit\n"}, "dlbook.train"),
        ("scratch", {"scratch/fit.py": "from dlbook import nets\n"}, "dlbook.nets"),
        ("scratch", {"scratch/a.py": "from ..receptive import receptive_field\n"}, "receptive"),
        ("viz", {"viz/lenet.py": "def show():\n    from dlbook.train import fit\n"}, "train"),
        ("experiments", {"experiments/b.py": "from dlbook.experiments import lenet\n"}, "lenet"),
        ("experiments", {"experiments/b.py": "from .lenet import CONFIG\n"}, "lenet"),
        ("data", {"data/offline.py": "from dlbook.scratch import conv2d\n"}, "dlbook.scratch"),
        ("data", {"data/offline.py": "from dlbook import train\n"}, "dlbook.train"),
        ("private", {"viz/pooling.py": "from dlbook.viz.common import _number\n"}, "_number"),
        ("private", {"scratch/pool.py": "from .conv import _check\n"}, "_check"),
        ("private", {"experiments/a.py": "from dlbook.scratch._args import f\n"}, "outside"),
        ("private", {"experiments/a.py": "from dlbook.scratch import _args\n"}, "_args"),
        (
            "cycles",
            {
                "scratch/conv.py": "from dlbook.scratch import pool\n",
                "scratch/pool.py": "def f():\n    from dlbook.scratch import conv\n",
            },
            "dlbook.scratch.conv -> dlbook.scratch.pool -> dlbook.scratch.conv",
        ),
        (
            "cycles",
            {
                "scratch/__init__.py": "from .pool import f\n",
                "scratch/pool.py": "from dlbook.scratch import conv2d\n",
            },
            "dlbook.scratch -> dlbook.scratch.pool -> dlbook.scratch",
        ),
        ("floors", {"nets.py": "from dlbook.train import fit\n"}, "floor 2 imports dlbook.train"),
        ("floors", {"train.py": "from dlbook.viz import lenet\n"}, "floor 5"),
        ("floors", {"verify.py": "from dlbook.scratch import conv2d\n"}, "floor 0"),
        ("floors", {"newthing.py": ""}, "dlbook.newthing: has no floor"),
    ],
)
def test_each_rule_catches_its_violation(tmp_path, rule, files, expected):
    report = check(tree(tmp_path, {**CLEAN, **files}))
    assert any(expected in line for line in report[rule]), report[rule]
    # the complaint names the module and the import statement, so it can be found at once
    if rule != "cycles" and "no floor" not in expected:
        assert any("(line " in line for line in report[rule] if expected in line)


def test_a_private_module_is_private_even_inside_its_package(tmp_path):
    inside = {"scratch/pool.py": "from dlbook.scratch import _args\n", "scratch/_args.py": ""}
    assert check(tree(tmp_path / "a", {**CLEAN, **inside}))["private"]


def test_imports_are_resolved(tmp_path):
    source = """
        import numpy as np
        from dlbook import seeding
        from . import _args
        from .conv import conv2d as c2

        def later():
            import torch.nn
            from ..data.sequences import sine_forecast
        """
    imports = read_imports(
        tree(tmp_path, {**CLEAN, "scratch/_args.py": "", "scratch/pool.py": source})
    )
    got = {(i.target, i.source, i.name) for i in imports if i.module == "dlbook.scratch.pool"}
    assert got == {
        ("numpy", None, None),
        ("dlbook.seeding", "dlbook", "seeding"),
        ("dlbook.scratch._args", "dlbook.scratch", "_args"),
        ("dlbook.scratch.conv", "dlbook.scratch.conv", "conv2d"),
        ("torch.nn", None, None),
        ("dlbook.data.sequences", "dlbook.data.sequences", "sine_forecast"),
    }
    package = {(i.target, i.name) for i in imports if i.module == "dlbook.scratch"}
    assert package == {("dlbook.scratch.conv", "conv2d")}  # relative to the package itself


# --- dlbook itself -----------------------------------------------------------------------------


@pytest.mark.parametrize("rule", ["scratch", "viz", "experiments", "data", "private", "cycles"])
def test_dlbook_keeps_the_rule(rule):
    complaints = check(ROOT)[rule]
    assert not complaints, "\n".join(complaints)


def test_dlbook_keeps_its_floors():
    complaints = check(ROOT)["floors"]
    assert not complaints, "\n".join(complaints)
