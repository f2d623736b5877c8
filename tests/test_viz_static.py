"""dlbook.viz.static and the static twin that make_explorer carries: the grid of control values,
one picture per position, the JavaScript's data, the environment switch, and no URL anywhere."""

import html.parser
import importlib.util
import io
import json
import math
import os
import pathlib
import re
import shutil
import subprocess

import matplotlib

matplotlib.use("Agg")

import ipywidgets as widgets  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402
from PIL import Image  # noqa: E402

from dlbook.viz.common import make_explorer  # noqa: E402
from dlbook.viz.static import (  # noqa: E402
    GRID_ENV,
    MAX_POSITIONS,
    grid_mode,
    grid_values,
    palette_png,
    png_size,
)

ROOT = pathlib.Path(__file__).resolve().parent.parent
DATA_URI = re.compile(r"data:image/png;base64,[A-Za-z0-9+/=]+")


@pytest.fixture(autouse=True)
def current(monkeypatch):
    """The default (one picture per explorer), whatever the caller's environment says."""
    monkeypatch.delenv(GRID_ENV, raising=False)


@pytest.fixture
def full(monkeypatch):
    monkeypatch.setenv(GRID_ENV, "full")


class Parsed(html.parser.HTMLParser):
    """The twin's controls (tag, attributes), its view's images and its frames JSON."""

    def __init__(self, text):
        super().__init__()
        self.controls, self.view_images, self.frames, self.scripts = [], 0, None, 0
        self.root = None
        self._view_depth, self._in_frames = 0, False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "div" and a.get("class") == "dlbook-explorer":
            self.root = a
        if tag == "div" and (self._view_depth or a.get("class") == "dlbook-explorer-view"):
            self._view_depth += 1
        if tag in ("input", "select"):
            self.controls.append((tag, a))
        if tag == "img" and self._view_depth:
            self.view_images += 1
        if tag == "script":
            self.scripts += 1
            self._in_frames = a.get("class") == "dlbook-explorer-frames"

    def handle_endtag(self, tag):
        if tag == "div" and self._view_depth:
            self._view_depth -= 1

    def handle_data(self, data):
        if self._in_frames:
            self.frames = json.loads(data)
            self._in_frames = False


def _panel(**kwargs):
    """Four controls (a slider, a log slider, a checkbox, a dropdown); ``draw`` writes their
    values into the info HTML, so a frame says which position it was drawn for."""
    a = widgets.IntSlider(value=3, min=0, max=10, description="a")
    lr = widgets.FloatLogSlider(value=0.01, base=10, min=-3, max=0, step=0.25, description="lr")
    box = widgets.Checkbox(value=False, description="box")
    pick = widgets.Dropdown(options=["x", "y", "z"], value="y", description="pick")
    calls = []

    def draw():
        calls.append((a.value, lr.value, box.value, pick.value))
        fig = plt.figure(figsize=(1, 0.5))
        return f"<b>{a.value}|{lr.value:.3g}|{box.value}|{pick.value}</b>", fig

    panel = make_explorer([[a, lr], [box, pick]], draw, info=True, dpi=20, **kwargs)
    return panel, (a, lr, box, pick), calls


def test_grid_mode_reads_the_environment(monkeypatch):
    monkeypatch.delenv(GRID_ENV, raising=False)
    assert grid_mode() == "current"
    monkeypatch.setenv(GRID_ENV, "FULL")
    assert grid_mode() == "full"
    monkeypatch.setenv(GRID_ENV, "everything")
    with pytest.raises(ValueError, match=GRID_ENV):
        grid_mode()


def test_grid_takes_every_option_and_spaced_slider_values_with_the_current_one():
    a = widgets.IntSlider(value=3, min=0, max=100)
    pick = widgets.ToggleButtons(options=["p", "q", "r"], value="r")
    box = widgets.Checkbox(value=True)
    va, vp, vb = grid_values([a, pick, box], max_positions=24)
    assert vp == ["p", "q", "r"] and vb == [False, True]
    assert va == [0, 3, 67, 100]  # the ends stay; the current value replaces the nearest
    assert len(va) * 6 <= 24 and len(va) == 4  # the options take 6; the slider the rest


def test_grid_is_capped_and_shared_between_sliders():
    sliders = [widgets.FloatSlider(value=0.3, min=0, max=1, step=0.01) for _ in range(3)]
    values = grid_values(sliders, max_positions=30)
    sizes = [len(v) for v in values]
    assert math.prod(sizes) <= 30 and min(sizes) >= 3 and max(sizes) - min(sizes) <= 1
    assert all(0.3 in v for v in values)
    one = grid_values([widgets.IntSlider(value=0, min=0, max=1000)], max_positions=100)[0]
    assert len(one) == 9  # at most 9 values of one slider
    steps = {b - a for a, b in zip(one, one[1:])}
    assert max(steps) - min(steps) <= 1  # evenly spaced, to the slider's step


def test_grid_of_a_log_slider_is_spaced_on_the_exponent():
    lr = widgets.FloatLogSlider(value=1e-3, base=10, min=-3, max=1, step=0.5)
    (values,) = grid_values([lr], max_positions=5)
    assert values == pytest.approx([1e-3, 1e-2, 1e-1, 1.0, 10.0])


def test_grid_honours_explicit_values_by_control_or_description():
    a = widgets.IntSlider(value=3, min=0, max=10, description="a")
    b = widgets.IntSlider(value=5, min=0, max=10, description="b")
    assert grid_values([a, b], {a: [0, 3, 10], "b": [1, 2]}) == [[0, 3, 10], [1, 2, 5]]
    with pytest.raises(ValueError, match="max_positions=4"):
        grid_values([a, b], {a: [0, 1, 2], b: [0, 1]}, max_positions=4)
    with pytest.raises(ValueError, match="no control"):
        grid_values([a], {"c": [1]})


def test_current_mode_keeps_one_picture_and_a_note(monkeypatch):
    monkeypatch.delenv(GRID_ENV, raising=False)
    panel, controls, calls = _panel()
    bundle = panel._repr_mimebundle_()
    twin = Parsed(bundle["text/html"])
    assert twin.root["data-positions"] == "1" and twin.frames is None and twin.scripts == 0
    assert twin.view_images == 1 and calls == [(3, 0.01, False, "y")]
    assert all("disabled" in attrs for _, attrs in twin.controls)
    assert "move when the cell is run" in bundle["text/html"]
    assert bundle["text/plain"] == "Explorer: a, lr, box, pick; run the cell to use it"
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_full_grid_holds_one_picture_per_position_drawn_at_that_position(full):
    panel, (a, lr, box, pick), calls = _panel(max_positions=48)
    twin = Parsed(panel._repr_mimebundle_()["text/html"])
    movable = [(t, at) for t, at in twin.controls if "data-stride" in at]
    assert len(movable) == 4
    ranges = [int(at["max"]) + 1 for t, at in movable[:2]]
    sizes = [*ranges, 2, 3]  # then the checkbox and the select's three options
    positions = math.prod(sizes)
    assert int(twin.root["data-positions"]) == positions == len(twin.frames) == 48
    assert len(calls) == positions  # the first draw, then each other position once
    current = int(twin.root["data-current"])
    assert twin.frames[current] is None and twin.view_images == 1
    assert all(f.count("<img ") == 1 for i, f in enumerate(twin.frames) if i != current)
    # Each frame sits where the script looks for it: sum(index * stride) over the controls.
    strides = [int(at["data-stride"]) for _, at in movable]
    labels = [json.loads(at["data-labels"]) for _, at in movable[:2]]
    for i, frame in enumerate(twin.frames):
        if i == current:
            continue
        ka, kl, kb, kp = (i // s % n for s, n in zip(strides, sizes))
        want = f"<b>{labels[0][ka]}|{labels[1][kl]}|{bool(kb)}|{'xyz'[kp]}</b>"
        assert want in frame, (i, frame[:80])
    # The controls end where they started, the live picture is the current one, and
    # moving a control still redraws.
    assert (a.value, lr.value, box.value, pick.value) == (3, 0.01, False, "y")
    info = panel.children[2]
    assert info.value == "<b>3|0.01|False|y</b>"
    a.value = 4
    assert calls[-1] == (4, 0.01, False, "y")


def test_the_default_cap_holds(full):
    panel, _, calls = _panel()
    positions = int(Parsed(panel._repr_mimebundle_()["text/html"]).root["data-positions"])
    assert positions == len(calls) and 1 < positions <= MAX_POSITIONS


def test_explicit_values_and_a_harder_cap_reach_the_twin(full):
    panel, _, calls = _panel(grid={"a": [0, 10], "pick": ["x", "y"]}, max_positions=8)
    twin = Parsed(panel._repr_mimebundle_()["text/html"])
    ranges = {at.get("data-labels") for t, at in twin.controls if t == "input"}
    assert '["0", "3", "10"]' in ranges
    # a: 3 values, pick: 2; no room left for the checkbox or the log slider.
    assert int(twin.root["data-positions"]) == len(twin.frames) == len(calls) == 6


def test_the_twin_has_no_url_and_the_script_no_comment(full):
    panel, _, _ = _panel()
    text = DATA_URI.sub("DATA", panel._repr_mimebundle_()["text/html"])
    assert "http" not in text and "//" not in text and "<link" not in text
    assert "</div><!-- /dlbook-explorer -->" in text


def test_coupled_controls_that_leave_the_grid_fail_with_a_clear_message(full):
    a = widgets.IntSlider(value=1, min=1, max=4, description="a")
    b = widgets.IntSlider(value=1, min=1, max=4, description="b")
    b.observe(lambda _: setattr(a, "value", b.value), "value")  # b drags a along
    with pytest.raises(ValueError, match="grid: 'a' is"):
        make_explorer([[a, b]], lambda: plt.figure(figsize=(1, 1)), grid={"b": [1, 2]})
    assert (a.value, b.value) == (1, 1)  # restored


def test_pictures_are_twice_the_dpi_shown_at_css_size():
    a = widgets.IntSlider(value=1)
    panel = make_explorer([a], lambda: plt.figure(figsize=(2, 1)), dpi=30)
    image = panel.children[1]
    assert png_size(bytes(image.value)) == (120, 60) and image.layout.width == "60px"
    assert 'width="60"' in panel._repr_mimebundle_()["text/html"]


def test_output_explorers_keep_text_and_pictures_in_each_frame(full):
    a = widgets.IntSlider(value=0, min=0, max=2, description="a")

    def draw():
        return (f"value {a.value}\n", plt.figure(figsize=(1, 1))) if a.value < 2 else "too big\n"

    panel = make_explorer([a], draw, output=True, dpi=10)
    out = panel.children[1]
    assert out.outputs[1]["metadata"]["image/png"]["width"] == 10
    twin = Parsed(panel._repr_mimebundle_()["text/html"])
    assert "value 1" in twin.frames[1] and "<img " in twin.frames[1]
    assert "too big" in twin.frames[2] and "<img " not in twin.frames[2]


def test_palette_png_is_smaller_and_keeps_the_size():
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.imshow([[0, 1], [2, 3]], cmap="viridis", interpolation="bilinear")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=60)
    plt.close(fig)
    png = buffer.getvalue()
    small = palette_png(png)
    assert len(small) < len(png) and png_size(small) == png_size(png)
    assert Image.open(io.BytesIO(small)).mode == "P"


def test_palette_png_halves_a_large_high_dpi_photograph_only():
    import numpy as np

    noise = np.random.default_rng(0).integers(0, 256, (200, 300, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, format="PNG")
    png = buffer.getvalue()
    assert png_size(palette_png(png, css_width=150, max_bytes=20_000)) == (150, 100)
    assert png_size(palette_png(png, css_width=300, max_bytes=20_000)) == (300, 200)  # 1x
    assert png_size(palette_png(png, css_width=150, max_bytes=10**7)) == (300, 200)  # small


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed")
def test_the_page_switches_pictures_in_headless_chromium(full, tmp_path):
    panel, _, _ = _panel(max_positions=48)
    twin = panel._repr_mimebundle_()["text/html"]
    # Move the slider 'a' to its last value and the select to 'x', as a reader would; the page
    # then writes what the view shows into an element that --dump-dom prints.
    probe = """<script>
var root = document.querySelector(".dlbook-explorer");
var range = root.querySelector("input[type=range]");
range.value = range.max; range.dispatchEvent(new Event("input"));
var select = root.querySelector("select");
select.value = "0"; select.dispatchEvent(new Event("change"));
document.getElementById("probe").textContent =
  root.querySelector(".dlbook-explorer-info").textContent + "#" +
  root.querySelectorAll(".dlbook-explorer-view img").length + "#" +
  root.querySelector("output").textContent;
</script>"""
    page = tmp_path / "page.html"
    page.write_text(f'<!doctype html><meta charset="utf-8"><body>{twin}'
                    f'<pre id="probe"></pre>{probe}</body>')  # fmt: skip
    dom = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=60,
    ).stdout  # fmt: skip
    shown = re.search(r'<pre id="probe">(.*?)</pre>', dom).group(1)
    assert shown == "10|0.01|False|x#1#10", shown


def _execute_book():
    spec = importlib.util.spec_from_file_location("execute_book", ROOT / "scripts/execute_book.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_execute_book_builds_the_full_grid(monkeypatch):
    module = _execute_book()
    assert module.GRID_ENV == GRID_ENV
    # main() sets the variable in its own environment: give it a copy to set it in.
    monkeypatch.setattr(os, "environ", {k: v for k, v in os.environ.items() if k != GRID_ENV})
    seen = {}

    class Result:
        succeeded, excepted, errored = ["nb"], [], []

    class Cache:
        def list_cache_records(self):
            return []

    def execute_all(cache_dir, notebooks, timeout):
        seen["grid"] = os.environ.get(GRID_ENV)
        return Cache(), Result(), 0.0

    monkeypatch.setattr(module, "toc_notebooks", lambda: ["nb"])
    monkeypatch.setattr(module, "execute_all", execute_all)
    assert module.main() == 0 and seen["grid"] == "full"


def test_execute_book_drops_the_widget_state_and_the_cache_still_matches(tmp_path):
    import nbformat
    from jupyter_cache import get_cache

    module = _execute_book()
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("1 + 1", execution_count=1))
    result = nbformat.v4.new_output("execute_result", {"text/plain": "2"}, execution_count=1)
    nb.cells[0].outputs.append(result)
    state = {"state": {"x": 1}, "version_major": 2, "version_minor": 0}
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": state}
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    cache = get_cache(str(tmp_path / "cache"))
    cache.cache_notebook_file(str(path), check_validity=False)
    assert module.drop_widget_state(cache) > 0
    # The source notebook keeps its state; the merged one, which the book renders, has none.
    _, merged = cache.merge_match_into_notebook(nbformat.read(path, as_version=4))
    assert merged.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"] == {}
    assert merged.cells[0].outputs[0]["data"]["text/plain"] == "2"
    assert module.drop_widget_state(cache) == 0


def test_the_book_renders_the_twin_and_loads_no_widget_javascript():
    from myst_nb.core.render import get_mime_priority

    config = yaml.safe_load((ROOT / "_config.yml").read_text())["sphinx"]["config"]
    assert config["nb_ipywidgets_js"] == {}
    order = get_mime_priority("html", [tuple(o) for o in config["nb_mime_priority_overrides"]])
    assert "application/vnd.jupyter.widget-view+json" not in order
    assert order.index("text/html") < order.index("text/plain")


def test_execute_book_runs_every_notebook_one_thread_per_kernel_longest_first(
    tmp_path, monkeypatch
):
    import nbformat

    module = _execute_book()
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    monkeypatch.setattr(module.os, "cpu_count", lambda: 2)
    paths = []
    for name, seconds in (("short", 1.0), ("long", 9.0), ("failing", 0.0)):
        nb = nbformat.v4.new_notebook()
        code = "import os\nprint(os.environ['OMP_NUM_THREADS'])"
        cell = nbformat.v4.new_code_cell(code if name != "failing" else "1 / 0")
        cell.metadata["execution"] = {
            "iopub.execute_input": "2026-01-01T00:00:00.000000Z",
            "shell.execute_reply": f"2026-01-01T00:00:{seconds:09.6f}Z",
        }
        nb.cells.append(cell)
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
        path = tmp_path / f"{name}.ipynb"
        nbformat.write(nb, path)
        paths.append(path)
    assert [module.expected_seconds(p) for p in paths] == [1.0, 9.0, 0.0]
    assert module.longest_first(paths) == [paths[1], paths[0], paths[2]]
    assert module.kernel_threads(2) == 1 and module.kernel_threads(4) == 1
    cache, result, seconds = module.execute_all(tmp_path / "cache", paths, timeout=60)
    assert sorted(result.succeeded) == sorted(str(p) for p in paths[:2])
    assert result.excepted == [str(paths[2])] and seconds > 0
    assert module.os.environ["OMP_NUM_THREADS"] == "2"  # restored
    for record in cache.list_cache_records():
        nb = cache.get_cache_bundle(record.pk).nb
        assert nb.cells[0].outputs[0]["text"].strip() == "1"  # one thread in each kernel
