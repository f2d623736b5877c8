"""Wall time of every chapter, executed top to bottom in a fresh kernel as the book build does.

Budgets (BOOK.md): any one notebook <= 60 s on 2 CPU cores; the whole book <= 5 min.
"""

from __future__ import annotations

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


def report() -> bool:
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
    verdict = "ok" if total <= WHOLE_BOOK_S else "OVER"
    print(f"  {'all notebooks':60} {total:6.1f} s  {verdict}")
    return ok and verdict == "ok"


if __name__ == "__main__":
    raise SystemExit(0 if report() else 1)
