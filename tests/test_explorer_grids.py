"""Every chapter's explorer has a sensible static grid: more than one position, at most the cap,
and every position reachable by setting its controls (no control that another one drags away).

The pictures are not drawn here (scripts/explorer_grids.py draws them and times the build); the
controls are set to every position, as the book's build does."""

import importlib.util
import itertools
import math
import pathlib

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

import dlbook.viz.common as common  # noqa: E402
from dlbook.viz.static import GRID_ENV, MAX_POSITIONS  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("explorer_grids", ROOT / "scripts/explorer_grids.py")
grids = importlib.util.module_from_spec(spec)
spec.loader.exec_module(grids)


@pytest.mark.parametrize("name", sorted(grids.BUILDERS))
def test_each_chapters_explorer_has_a_sensible_grid(name, monkeypatch):
    monkeypatch.setenv(GRID_ENV, "full")
    seen = {}

    def positions_only(controls, values, draw, render, now):
        """``_grid_frames`` without the drawing: sets the controls to every position."""
        original = [w.value for w in controls]
        try:
            for position in itertools.product(*values):
                common._set(controls, position)
        finally:
            common._set(controls, original, check=False)
        seen["values"] = values
        index = [next(i for i, v in enumerate(vs) if common.same_value(v, o))
                 for vs, o in zip(values, original)]  # fmt: skip
        sizes = [len(v) for v in values]
        current = sum(i * math.prod(sizes[k + 1 :]) for k, i in enumerate(index))
        return [common.frame_html(*now)] * math.prod(sizes), current

    monkeypatch.setattr(common, "_grid_frames", positions_only)
    panel = grids.BUILDERS[name]()
    n = math.prod(len(v) for v in seen["values"])
    assert 4 <= n <= MAX_POSITIONS, (name, seen["values"])
    assert f'data-positions="{n}"' in panel._repr_mimebundle_()["text/html"]
