"""Wall time of every chapter, executed top to bottom in a fresh kernel as the book build does.

Budgets (BOOK.md): any one notebook <= 60 s on 2 CPU cores; the whole book <= 5 min.

Explorers build their whole static grid, as in the book (``DLBOOK_EXPLORER_GRID=full``).
Each notebook is timed alone, one after another, for the per-notebook budget. The whole book is
timed the way ``make book`` executes it: every notebook of ``_toc.yml`` at once, one kernel per
core (``scripts/execute_book.py``), into a scratch cache.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
PER_NOTEBOOK_S = 60.0
WHOLE_BOOK_S = 300.0


def time_notebook(path: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    start = time.perf_counter()
    client.execute()
    return time.perf_counter() - start


def _execute_book_module():
    spec = importlib.util.spec_from_file_location("execute_book", ROOT / "scripts/execute_book.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def time_book() -> tuple[float, int]:
    """Seconds to execute the whole book as ``make book`` does, and the number of failures."""
    book = _execute_book_module()
    with tempfile.TemporaryDirectory() as tmp:
        _, result, seconds = book.execute_all(Path(tmp) / "cache", book.toc_notebooks())
    return seconds, len(result.excepted) + len(result.errored)


def report() -> bool:
    from dlbook.viz.static import GRID_ENV

    os.environ[GRID_ENV] = "full"  # the explorers' whole static grid, as make book builds them
    paths = sorted(
        p for p in (ROOT / "notebooks").glob("**/*.ipynb") if ".ipynb_checkpoints" not in p.parts
    )
    ok, total = True, 0.0
    print(f"notebook execution (budget {PER_NOTEBOOK_S:.0f} s each, {WHOLE_BOOK_S:.0f} s in all)")
    for p in paths:
        seconds = time_notebook(p)
        total += seconds
        verdict = "ok" if seconds <= PER_NOTEBOOK_S else "OVER"
        ok &= verdict == "ok"
        print(f"  {p.relative_to(ROOT)!s:60} {seconds:6.1f} s  {verdict}")
    print(f"  {'all notebooks, one after another':60} {total:6.1f} s")
    seconds, failed = time_book()
    verdict = "ok" if seconds <= WHOLE_BOOK_S and not failed else "OVER"
    if failed:
        verdict = f"{failed} FAILED"
    print(f"  {'the whole book, executed as make book does':60} {seconds:6.1f} s  {verdict}")
    return ok and verdict == "ok"


if __name__ == "__main__":
    raise SystemExit(0 if report() else 1)
