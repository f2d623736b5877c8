"""Store each Markdown cell's inline results, so that JupyterLab shows the prose's numbers.

The chapters cite numbers as ``{eval}`glued("name:spec")``` (see ``dlbook/prose.py``).
``jupyterlab-myst`` shows an expression's result from the cell's ``user_expressions`` metadata
until the reader runs the cell in a kernel. This script fills that metadata in executed notebooks
from the values their cells glued (the ``application/papermill.record/text/plain`` outputs),
formatted as the book formats them, and removes it from cells without expressions. ``make
execute`` runs it after executing the notebooks.

    python scripts/user_expressions.py NOTEBOOK...

Exit status 1 when an expression names a value that no cell glued, or is not ``glued("...")``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dlbook.prose import format_value, split_key  # noqa: E402

ROLE = re.compile(r"\{eval\}`([^`]+)`")
CALL = re.compile(r'^glued\("([^"]+)"\)$')
RECORD = "application/papermill.record/text/plain"


def glued_values(nb) -> dict[str, str]:
    """Every value the notebook's outputs glued: name -> its text/plain."""
    found = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            name = out.get("metadata", {}).get("scrapbook", {}).get("name")
            if name is not None and RECORD in out.get("data", {}):
                found[name] = out["data"][RECORD]
    return found


def result(expression: str, values: dict[str, str]) -> dict:
    """The ``user_expressions`` entry for one expression (an error entry if it cannot be
    evaluated from the glued values)."""
    call = CALL.match(expression.strip())
    try:
        if call is None:
            raise ValueError(f'only glued("name:spec") expressions are supported: {expression}')
        name, spec = split_key(call.group(1))
        if name not in values:
            raise KeyError(f"nothing glued as {name!r} in this notebook")
        text = format_value(values[name], spec)
    except (ValueError, KeyError, TypeError) as exc:
        ename = type(exc).__name__
        return {"status": "error", "ename": ename, "evalue": str(exc), "traceback": []}
    return {"status": "ok", "data": {"text/plain": text}, "metadata": {}}


def fill(nb) -> list[str]:
    """Write ``user_expressions`` into every Markdown cell of ``nb``; return the problems."""
    values, problems = glued_values(nb), []
    for k, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        expressions = list(dict.fromkeys(ROLE.findall(cell.source)))
        if not expressions:
            cell.metadata.pop("user_expressions", None)
            continue
        entries = [{"expression": e, "result": result(e, values)} for e in expressions]
        for e in entries:
            if e["result"]["status"] != "ok":
                problems.append(f"cell {k}: {e['expression']}: {e['result']['evalue']}")
        cell.metadata["user_expressions"] = entries
    return problems


def main(paths: list[str]) -> int:
    status = 0
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        problems = fill(nb)
        nbformat.write(nb, path)
        for p in problems:
            print(f"{path}: {p}", file=sys.stderr)
        status |= bool(problems)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
