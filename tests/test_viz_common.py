"""dlbook.viz.common: PNG rendering, animations as HTML, tables, numbers, show_source and the
explorer scaffold every chapter's explorer is built on."""

import ast
import io
import pathlib
import re

import matplotlib

matplotlib.use("Agg")

import ipywidgets as widgets  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.animation import FuncAnimation  # noqa: E402
from PIL import Image  # noqa: E402

import dlbook.viz  # noqa: E402
from dlbook.viz.common import (  # noqa: E402
    figure_png,
    format_number,
    html_table,
    make_explorer,
    show_source,
    to_html,
)


@pytest.fixture(autouse=True)
def one_picture(monkeypatch):
    """Explorers keep one picture (the default), whatever the caller's environment says."""
    monkeypatch.delenv("DLBOOK_EXPLORER_GRID", raising=False)


def test_figure_png_renders_at_the_dpi_and_closes_the_figure():
    fig, ax = plt.subplots(figsize=(4, 2))
    ax.plot([0, 1], [0, 1])
    png = figure_png(fig, dpi=50)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert Image.open(io.BytesIO(png)).size == (200, 100)  # 4 x 2 inches at 50 dpi
    assert not plt.fignum_exists(fig.number)


def test_figure_png_keeps_the_figures_own_dpi_when_asked():
    fig = plt.figure(figsize=(2, 1), dpi=30)
    assert Image.open(io.BytesIO(figure_png(fig, dpi=None))).size == (60, 30)


def test_figure_png_closes_the_figure_even_when_saving_fails():
    fig = plt.figure()
    with pytest.raises(TypeError):
        figure_png(fig, no_such_option=1)
    assert not plt.fignum_exists(fig.number)


def test_to_html_marks_the_block_counts_the_frames_and_closes_the_figure():
    fig, ax = plt.subplots()
    (line,) = ax.plot([0, 1], [0, 0])
    anim = FuncAnimation(fig, lambda i: line.set_ydata([i, i]), frames=3)
    html = to_html(anim).data
    assert html.startswith('<div class="dlbook-animation" data-frames="3">')
    assert html.endswith("</div><!-- /dlbook-animation -->")
    assert not plt.fignum_exists(fig.number)


def test_to_html_loads_nothing_from_the_network_and_draws_its_buttons_inline():
    fig, ax = plt.subplots(figsize=(1, 1))
    (line,) = ax.plot([0, 1], [0, 0])
    html = to_html(FuncAnimation(fig, lambda i: line.set_ydata([i, i]), frames=2), fig).data
    # Frames are data: URIs, split over lines with a backslash; nothing else may name a URL.
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=\\\n]+", "DATA", html)
    assert "DATA" in text
    assert "http" not in text and "//" not in text and "<link" not in text
    assert "fa fa-" not in text and 'class="fa' not in text
    buttons = re.findall(r"<button[^>]*>(.*?)</button>", text, flags=re.S)
    assert len(buttons) == 9 and all("<svg " in b and "<i " not in b for b in buttons)
    # Each button keeps a distinct symbol (mirrored ones differ by their transform).
    assert len({re.sub(r"\s+", "", b) for b in buttons}) == 9


def test_html_table_aligns_numbers_and_escapes():
    html = html_table(["name", "count"], [("a<b", "1,024"), ("c", "0.5")]).data
    assert html.count("<tr>") == 3
    assert "a&lt;b" in html and '<td style="text-align:left">c</td>' in html
    assert '<td style="text-align:right">1,024</td>' in html


def test_format_number_uses_a_real_minus_and_drops_the_sign_of_zero():
    assert format_number(-1.5) == "\u22121.5"
    assert format_number(-0.001, "{:.1f}") == "0.0"
    assert format_number(2.25, "{:.1f}") == "2.2"


def test_show_source_is_a_python_block_of_the_objects_code():
    md = show_source(format_number).data
    assert md.startswith("```python\ndef format_number(") and md.endswith("\n```")


def test_explorer_lays_out_rows_draws_once_and_redraws_on_every_control():
    a, b = widgets.IntSlider(value=1), widgets.IntSlider(value=2)
    c = widgets.Checkbox(value=False)
    calls = []
    plt.close("all")

    def draw():
        calls.append((a.value, b.value, c.value))
        fig = plt.figure(figsize=(1 + a.value, 1))
        return f"<pre>{a.value + b.value}</pre>", fig

    panel = make_explorer([[a, b], c], draw, info=True, dpi=10)
    row, single, info, picture = panel.children
    assert isinstance(panel, widgets.VBox) and isinstance(row, widgets.HBox)
    assert row.children == (a, b) and single is c
    assert calls == [(1, 2, False)] and info.value == "<pre>3</pre>"
    assert Image.open(io.BytesIO(picture.value)).size == (40, 20)  # twice the dpi
    assert picture.layout.width == "20px"  # shown at the dpi
    assert plt.get_fignums() == []  # every drawn figure is closed
    a.value = 3
    b.value = 5
    c.value = True
    assert calls[1:] == [(3, 2, False), (3, 5, False), (3, 5, True)]
    assert info.value == "<pre>8</pre>" and Image.open(io.BytesIO(picture.value)).size == (80, 20)


def test_explorer_keeps_the_picture_when_draw_returns_none_and_takes_png_bytes():
    a = widgets.IntSlider(value=0)
    png = figure_png(plt.figure(figsize=(1, 1)), dpi=10)
    panel = make_explorer([a], lambda: None if a.value else png)

    def pixels(data):
        return Image.open(io.BytesIO(bytes(data))).convert("RGB").tobytes()

    # PNG bytes are shown as they are, at most re-encoded with a palette (same pixels here).
    assert len(panel.children) == 2 and pixels(panel.children[1].value) == pixels(png)
    shown = bytes(panel.children[1].value)
    a.value = 1
    assert bytes(panel.children[1].value) == shown


def test_explorer_in_an_output_writes_text_and_pictures_in_order():
    a = widgets.IntSlider(value=0)

    def draw():
        if a.value:
            return f"bad {a.value}\n"
        return "first\n", plt.figure(figsize=(1, 1))

    panel = make_explorer([[a]], draw, output=True, side=True)
    assert isinstance(panel, widgets.HBox) and isinstance(panel.children[0], widgets.VBox)
    out = panel.children[1]
    assert isinstance(out, widgets.Output)
    assert out.outputs[0]["text"] == "first\n" and "image/png" in out.outputs[1]["data"]
    a.value = 2
    assert len(out.outputs) == 1 and out.outputs[0]["text"] == "bad 2\n"


def test_no_viz_module_imports_a_private_name_from_another_module_or_imports_train():
    for path in pathlib.Path(dlbook.viz.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"{path.name} imports {private} from {node.module}"
                train = node.module == "dlbook.train" or (
                    node.module == "dlbook" and "train" in [a.name for a in node.names]
                )
                assert not train, f"{path.name} imports dlbook.train"
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
                assert "dlbook.train" not in names, f"{path.name} imports dlbook.train"
