"""The book's layout rules (STYLE.md), read from the files themselves.

- Rooms named after their chapters: ``notebooks/NN_part/NN_name.ipynb`` finds its code in
  ``dlbook/experiments/name.py`` and ``dlbook/viz/name.py`` (besides the shared
  ``dlbook/viz/common.py`` and earlier chapters' modules); every chapter module has a chapter.
- No harness in notebooks: a code cell holds at most ``MAX_CODE_LINES`` lines of code (comments and
  blank lines aside), unless it only imports; longer code lives in the chapter's modules and the
  notebook shows what teaches with ``show_source``.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(
    p for p in (ROOT / "notebooks").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts
)
MAX_CODE_LINES = 25
# Modules of dlbook.viz that serve every chapter rather than one.
SHARED = {"__init__", "common", "legible", "static"}


def chapter_name(path: Path) -> str:
    return re.sub(r"^\d+_", "", path.stem)


def code_cells(path: Path):
    nb = json.loads(path.read_text())
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            source = cell["source"]
            yield index, "".join(source) if isinstance(source, list) else source


def dlbook_imports(source: str) -> set[str]:
    """Every ``dlbook.x.y`` module a cell imports (``from dlbook.viz import y`` counts as
    ``dlbook.viz.y``); cell magics and shell lines are skipped."""
    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    found = set()
    for node in ast.walk(ast.parse("\n".join(lines))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("dlbook"))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dlbook"):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def code_lines(source: str) -> list[str]:
    return [
        line for line in source.splitlines() if line.strip() and not line.strip().startswith("#")
    ]


def only_imports(source: str) -> bool:
    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    tree = ast.parse("\n".join(lines))
    return all(isinstance(node, (ast.Import, ast.ImportFrom)) for node in tree.body)


def chapter_modules(package: str) -> set[str]:
    folder = ROOT / "dlbook" / package
    return {p.stem for p in folder.glob("*.py")} - SHARED


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 20


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_chapter_imports_the_modules_named_after_it(path):
    """Its own modules, shared ones, and at most the modules of earlier chapters (whose results
    it builds on, as the PyTorch LeNet chapter compares itself with the NumPy one)."""
    name = chapter_name(path)
    earlier = {chapter_name(p) for p in NOTEBOOKS[: NOTEBOOKS.index(path)]}
    imported = set()
    for _, source in code_cells(path):
        imported |= dlbook_imports(source)
    for package in ("experiments", "viz"):
        used = {m.split(".")[2] for m in imported if m.startswith(f"dlbook.{package}.")}
        foreign = used - {name} - SHARED - earlier
        assert not foreign, (
            f"{path.relative_to(ROOT)} imports dlbook.{package}.{sorted(foreign)}: a chapter's "
            f"code lives in dlbook/{package}/{name}.py"
        )
        if name in chapter_modules(package):
            assert name in used, f"{path.relative_to(ROOT)} does not use dlbook/{package}/{name}.py"


@pytest.mark.parametrize("package", ["experiments", "viz"])
def test_every_chapter_module_belongs_to_a_chapter(package):
    chapters = {chapter_name(p) for p in NOTEBOOKS}
    strays = chapter_modules(package) - chapters
    assert not strays, f"dlbook/{package}/ modules with no chapter of that name: {sorted(strays)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_harness_in_notebooks(path):
    long = [
        (index, len(code_lines(source)))
        for index, source in code_cells(path)
        if len(code_lines(source)) > MAX_CODE_LINES and not only_imports(source)
    ]
    assert not long, (
        f"{path.relative_to(ROOT)}: code cells over {MAX_CODE_LINES} lines (cell index, lines): "
        f"{long}; move the harness into the chapter's experiment or viz module"
    )


def private_imports(source: str) -> list[str]:
    """Private names of dlbook a cell reaches: ``from dlbook.x import _y``, ``import dlbook.x._y``,
    and ``m._y`` where ``m`` is a dlbook module the cell imported. A notebook uses public names."""
    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    tree = ast.parse("\n".join(lines))
    found, modules = [], {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dlbook"):
            found += [f"{node.module}.{a.name}" for a in node.names if a.name.startswith("_")]
            if any(part.startswith("_") for part in node.module.split(".")):
                found.append(node.module)
            modules.update({a.asname or a.name: f"{node.module}.{a.name}" for a in node.names})
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("dlbook"):
                    if any(part.startswith("_") for part in a.name.split(".")):
                        found.append(a.name)
                    modules[a.asname or a.name.split(".")[0]] = a.asname and a.name or "dlbook"
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
        ):
            found.append(f"{modules[node.value.id]}.{node.attr}")
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_import_public_names_only(path):
    # the whole notebook at once: a module imported in one cell is used in later ones
    private = private_imports("\n".join(source for _, source in code_cells(path)))
    assert not private, f"{path.relative_to(ROOT)} uses private names of dlbook: {private}"


def test_the_rules_catch_what_they_forbid():
    assert private_imports("from dlbook.scratch.conv import _padding_pairs, conv2d") == [
        "dlbook.scratch.conv._padding_pairs"
    ]
    assert private_imports("from dlbook.scratch._args import pair") == ["dlbook.scratch._args"]
    assert private_imports("from dlbook.scratch import conv2d") == []
    assert private_imports("from dlbook.scratch import init as si\nsi._fan(1)") == [
        "dlbook.scratch.init._fan"
    ]
    assert private_imports("import dlbook.scratch.init as si\nsi.__name__") == []
    long_cell = "\n".join(f"x{i} = {i}" for i in range(MAX_CODE_LINES + 1))
    assert len(code_lines(long_cell)) > MAX_CODE_LINES and not only_imports(long_cell)
    imports = "\n".join(f"import m{i}" for i in range(40))
    assert only_imports(imports)
    assert dlbook_imports("from dlbook.viz import pooling as v\nimport dlbook.experiments.rnn") >= {
        "dlbook.viz.pooling",
        "dlbook.experiments.rnn",
    }
    assert chapter_name(Path("notebooks/03_pooling/02_receptive_fields.ipynb")) == (
        "receptive_fields"
    )
