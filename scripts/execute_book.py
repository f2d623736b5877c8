"""Execute every notebook of the book afresh, in parallel, into the book's execution cache.

``make book`` runs this before ``jupyter-book build``. Jupyter Book 1.x executes notebooks one
after another; here jupyter-cache's ``local-parallel`` executor runs one kernel per CPU core. The
cache (``_build/.jupyter_cache``, where myst-nb looks for it) is emptied first, so every notebook
runs against the ``dlbook`` code as it is now: nothing stale can be served, which is the reason
the book otherwise builds with ``execute_notebooks: force``. The build that follows finds every
notebook in the cache, matched by its code cells, and executes none itself.

Scheduling, for the whole-book budget (BOOK.md: 5 minutes on 2 cores):

- **One thread per kernel.** The kernels share the cores, so the threads the caller allows
  (``OMP_NUM_THREADS``, 2 in the stored set-up) are divided between them: with one kernel per
  core, each runs one thread. Two kernels of two threads each on two cores only make the threads
  wait for each other.
- **Longest first, one at a time.** jupyter-cache's ``local-parallel`` executor hands each worker a
  block of four notebooks (``Pool.map``'s default chunks), so one worker can be left with a block
  while the other idles. Here each worker takes the next notebook as soon as it is free, the
  longest first, as the stored notebooks' own execution times say (:func:`expected_seconds`).

The kernels run with ``DLBOOK_EXPLORER_GRID=full`` (unless the caller set it), so that every
explorer precomputes its grid of pictures for the static HTML (:mod:`dlbook.viz.static`); the
notebooks stored in git keep one picture per explorer. The book loads no ipywidgets JavaScript,
so the widget state that the kernels leave in each notebook's metadata would be dead weight on
its page (myst-nb embeds it): it is dropped from the cached notebooks.

Exit status 1 when a notebook fails, with its traceback on stderr.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import sys
import time
from datetime import datetime
from pathlib import Path

import nbformat
import yaml
from jupyter_cache import get_cache
from jupyter_cache.executors.base import ExecutorRunResult
from jupyter_cache.executors.basic import ExecutionWorkerLocalMProc, ProcessData

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "_build" / ".jupyter_cache"
# dlbook.viz.static.GRID_ENV; the kernels inherit this process's environment.
GRID_ENV = "DLBOOK_EXPLORER_GRID"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def toc_notebooks(toc_path: Path = ROOT / "_toc.yml") -> list[Path]:
    """The notebooks that ``_toc.yml`` lists, in book order."""
    toc = yaml.safe_load(toc_path.read_text())
    files = [ch["file"] for part in toc.get("parts", []) for ch in part.get("chapters", [])]
    found = [ROOT / f"{f}.ipynb" for f in files if (ROOT / f"{f}.ipynb").exists()]
    if not found:
        raise SystemExit(f"no notebooks listed in {toc_path}")
    return found


def expected_seconds(path: Path) -> float:
    """How long ``path`` took when it was last stored: the sum of its code cells' execution times
    (from the ``execution`` timestamps nbclient records), 0 when it records none."""
    total = 0.0
    for cell in nbformat.read(path, as_version=4).cells:
        stamps = cell.get("metadata", {}).get("execution", {})
        start, end = stamps.get("iopub.execute_input"), stamps.get("shell.execute_reply")
        if start and end:
            parse = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
            total += (parse(end) - parse(start)).total_seconds()
    return total


def longest_first(notebooks: list[Path]) -> list[Path]:
    """``notebooks`` by :func:`expected_seconds`, longest first (ties keep their order)."""
    return sorted(notebooks, key=lambda nb: -expected_seconds(nb))


def kernel_threads(workers: int) -> int:
    """Threads each of ``workers`` parallel kernels gets: the caller's ``OMP_NUM_THREADS`` (or the
    number of cores) divided between them, at least one."""
    total = os.environ.get("OMP_NUM_THREADS") or str(os.cpu_count() or 1)
    return max(1, int(total) // workers)


def execute_all(cache_dir: Path, notebooks: list[Path], timeout: int = 120):
    """Empty ``cache_dir``, then execute ``notebooks`` into it, one kernel per CPU core, one
    thread per kernel, longest first. Returns ``(cache, result, seconds)``; ``result`` lists the
    succeeded and failed URIs."""
    shutil.rmtree(cache_dir, ignore_errors=True)
    cache = get_cache(str(cache_dir))
    records = [cache.add_nb_to_project(str(nb)) for nb in longest_first(notebooks)]
    workers = min(os.cpu_count() or 1, len(records))
    jobs = [ProcessData(r.pk, r.uri, cache, timeout, False) for r in records]
    saved = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = str(kernel_threads(workers))  # the kernels inherit it
    start = time.perf_counter()
    try:
        with multiprocessing.Pool(workers) as pool:
            results = list(pool.imap_unordered(ExecutionWorkerLocalMProc(), jobs, chunksize=1))
    finally:
        if saved is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = saved
    result = ExecutorRunResult(
        succeeded=[uri for code, uri in results if code == 0],
        excepted=[uri for code, uri in results if code == 1],
        errored=[uri for code, uri in results if code == 2],
    )
    return cache, result, time.perf_counter() - start


def drop_widget_state(cache) -> int:
    """Empty the widget state (``metadata.widgets``) of every executed notebook in ``cache``, in
    place: the cache's keys hash the cells' sources, not this metadata. It is emptied rather than
    removed, since the build merges it over the source notebook's own (the one stored in git).
    Returns how many bytes it saved."""
    saved = 0
    for record in cache.list_cache_records():
        path = Path(cache._get_notebook_path_cache(record.hashkey))
        if not path.exists():
            continue
        before = path.stat().st_size
        nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
        state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {})
        if state.get("state"):
            nb.metadata["widgets"] = {WIDGET_STATE: {**state, "state": {}}}
            nbformat.write(nb, path)
            saved += before - path.stat().st_size
    return saved


def main(timeout: int = 120) -> int:
    notebooks = toc_notebooks()
    os.environ.setdefault(GRID_ENV, "full")
    print(f"execute_book: running {len(notebooks)} notebooks in parallel", flush=True)
    cache, result, seconds = execute_all(CACHE, notebooks, timeout)
    failed = result.excepted + result.errored
    saved = drop_widget_state(cache)
    print(f"execute_book: dropped {saved / 1024:.0f} KiB of widget state", flush=True)
    print(
        f"execute_book: {len(result.succeeded)} executed, {len(failed)} failed, in {seconds:.0f} s",
        flush=True,
    )
    for uri in failed:
        record = cache.get_project_record(uri)
        print(f"execute_book: FAILED {uri}\n{record.traceback}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
