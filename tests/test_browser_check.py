"""scripts/browser_check.py against small pages, each with one fault: every check catches its own.

One headless Chromium for the module; skipped (with the reason) without Playwright or Chromium.
"""

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "browser_check.py"

pytest.importorskip(
    "playwright.sync_api",
    reason="Playwright is not installed (pip install -r requirements-browser.txt)",
)
_spec = importlib.util.spec_from_file_location("browser_check", SCRIPT)
bc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bc)
if not Path(bc.CHROMIUM).exists():
    pytest.skip(f"no Chromium at {bc.CHROMIUM} (apt-get install chromium)", allow_module_level=True)

# Two different 2x1 PNGs (red, blue), as data URIs.
PNG = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAIAAAABCAIAAAB7QOjdAAAAD0lEQVR4nG"
RED = PNG + "P8z8DAwMAAAAYIAQHLR3Z1AAAAAElFTkSuQmCC"
BLUE = PNG + "NkYPjPwMAAAAQKAQHOAd3hAAAAAElFTkSuQmCC"


def page(body, head=""):
    head = f"<!doctype html><html><head><meta charset='utf-8'>{head}</head>"
    return f"{head}<body><main>{body}</main></body></html>"


def animation(step_works=True):
    """The structure of matplotlib's jshtml player: an image, and buttons that call the player."""
    frames = [RED, BLUE, RED]
    nxt = "this.i = (this.i || 0) + 1; " if step_works else ""
    return f"""
    <div class="animation">
      <img id="_anim_img1" src="{RED}">
      <div class="anim-buttons">
        <button title="Pause" onclick="anim1.pause_animation()">||</button>
        <button title="Next frame" onclick="anim1.next_frame()">&gt;</button>
      </div>
      <script>
        var anim1 = {{frames: {frames}, pause_animation() {{}},
          next_frame() {{ {nxt}document.getElementById('_anim_img1').src =
            this.frames[(this.i || 0) % 3]; }} }};
      </script>
    </div>"""


def explorer(kind="range", works=True, declared=True):
    """A static explorer in the spirit of make_explorer's twin: controls above a picture grid,
    marked as an explorer (``declared``) or found as controls next to a picture in a cell output."""
    if kind == "range":
        control = '<label for="lr">learning rate</label>'
        control += '<input id="lr" type="range" min="0" max="2" value="0">'
    elif kind == "checkbox":
        control = '<label><input type="checkbox"> nesterov</label>'
    else:
        control = (
            '<select aria-label="optimizer"><option>sgd</option><option>adam</option></select>'
        )
    show = "pics.forEach((p, j) => p.style.display = j === i ? '' : 'none')" if works else ""
    return f"""
    <div class="cell_output"><div class="{"dlbook-explorer" if declared else "widget"}">
      {control}<span class="readout">0</span>
      <div><img src="{RED}"><img src="{BLUE}" style="display:none">
        <img src="{RED}" style="display:none"></div>
      <script>
        (() => {{
          const root = document.currentScript.parentElement;
          const pics = root.querySelectorAll('img'), label = root.querySelector('.readout');
          root.querySelector('input, select').addEventListener('input', e => {{
            const v = e.target.value, t = e.target;
            const i = t.tagName === 'SELECT' ? t.selectedIndex
              : t.type === 'checkbox' ? +t.checked : +v;
            label.textContent = v;
            {show};
          }});
        }})();
      </script>
    </div></div>"""


def sidebar(works=True):
    """pydata-sphinx-theme's shape on a phone: two sidebars off screen, each opened by its button
    over a backdrop that catches every click until Escape closes it. Not ``works``: the
    navigation button does nothing."""
    style = """<style>
      .bd-sidebar-primary, .bd-sidebar-secondary { position: fixed; top: 0; width: 300px;
        height: 100%; background: #eee; z-index: 10; transition: left 0.1s, right 0.1s; }
      .bd-sidebar-primary { left: -300px; } .bd-sidebar-secondary { right: -300px; }
      .bd-sidebar-primary.open { left: 0; } .bd-sidebar-secondary.open { right: 0; }
      #backdrop { position: fixed; inset: 0; z-index: 5; display: none; }
      #backdrop.open { display: block; }
      @media (min-width: 960px) { .primary-toggle { display: none; }
        .bd-sidebar-primary { position: static; } }
    </style>"""
    body = f"""<button class="primary-toggle" onclick="show(this, 'primary')">menu</button>
      <button class="secondary-toggle" onclick="show(this, 'secondary')">on this page</button>
      <div id="backdrop"></div>
      <div class="bd-sidebar-primary"><a href="index.html">Contents</a></div>
      <div class="bd-sidebar-secondary"><a href="#">On this page</a></div>
      <script>
        function show(button, which) {{
          if (which === 'primary' && {"false" if works else "true"}) return;
          document.querySelector('.bd-sidebar-' + which).classList.add('open');
          document.getElementById('backdrop').classList.add('open');
        }}
        document.addEventListener('keydown', e => e.key === 'Escape'
          && document.querySelectorAll('.open').forEach(x => x.classList.remove('open')));
      </script>"""
    return page(body, style)


def wide_equation(overflow):
    return f"""<div style="max-width: 600px"><div class="math">
      <mjx-container display="true" style="display: block; overflow-x: {overflow}">
      <span style="display: inline-block; width: 900px">x</span></mjx-container></div></div>"""


PAGES = {
    "index.html": page('<p id="top">Home</p>'),
    "clean.html": page(
        f'<p id="here">Fine.</p><img src="{RED}"><a href="index.html#top">home</a>'
        f'<a href="clean.html#here">self</a>{animation()}{explorer("range")}'
        f"{explorer('select', declared=False)}{explorer('checkbox')}"
        r"<pre>not maths: $x$ \frac{a}{b}</pre><code>$$</code>"
        f'<div class="math"><mjx-container display="true">x</mjx-container></div>'
    ),
    "console.html": page("<script>console.error('boom')</script>"),
    "uncaught.html": page("<script>throw new Error('kaput')</script>"),
    "outside.html": page("<script src='https://cdn.example.org/lib.js'></script>"),
    "image.html": page('<img src="missing.png">'),
    "links.html": page('<a href="index.html#nowhere">a</a><a href="gone.html">b</a>'),
    "wide.html": page(wide_equation("auto")),
    "cut.html": page(wide_equation("visible")),
    "folded.html": page(f"<details><summary>Solution</summary>{wide_equation('auto')}</details>"),
    "tex.html": page(r"<p>The loss $L = \frac{1}{n}$ is raw.</p><span class='math'>\(x\)</span>"),
    "anim_broken.html": page(animation(step_works=False)),
    "explorer_broken.html": page(explorer("range", works=False)),
    "menu_broken.html": page(explorer("select", works=False, declared=False)),
    "disabled.html": page(
        f'<div class="dlbook-explorer"><input type="range" disabled><img src="{RED}"></div>'
    ),
    "widget.html": page(
        '<div class="cell_output"><div class="output">'
        '<script type="application/vnd.jupyter.widget-view+json">{"model_id": "x"}</script>'
        "</div></div>"
    ),
    "merror.html": page(
        '<div class="math"><mjx-container display="true">'
        '<mjx-merror data-mjx-error="Undefined control sequence \\foo">\\foo</mjx-merror>'
        "</mjx-container></div>"
    ),
    "redirect.html": '<meta http-equiv="Refresh" content="0; url=clean.html" />',
    "redirect_broken.html": '<meta http-equiv="Refresh" content="0; url=gone.html" />',
    "as_text.html": page(
        "<div class='cell_output'><pre>VBox(children=(FloatSlider(value=0.1),))</pre></div>"
    ),
    "lost.html": page("<p>The explorer's output is missing.</p>"),
    "nav.html": sidebar(works=True),
    "nav_broken.html": sidebar(works=False),
}


@pytest.fixture(scope="module")
def check(tmp_path_factory):
    html = tmp_path_factory.mktemp("html")
    for name, text in PAGES.items():
        (html / name).write_text(text, encoding="utf-8")
    # The notebooks behind two pages: an explorer output (a widget view), and an animation.
    explorer = {"output_type": "display_data", "data": {bc.WIDGET_VIEW: {"model_id": "m"}}}
    player = {"output_type": "display_data", "data": {"text/html": ['<div class="animation">']}}
    (html / "_sources").mkdir()
    for name, outputs in (("lost", [explorer, player]), ("as_text", [explorer])):
        notebook = json.dumps({"cells": [{"cell_type": "code", "outputs": outputs}]})
        (html / "_sources" / f"{name}.ipynb").write_text(notebook, encoding="utf-8")
    with bc.serve(html) as base:
        checker = bc.Checker(html, base)

        def run(name, require_nav=False, counts=False):
            checker.require_nav = require_nav
            problems, found = checker.check(name)
            return (problems, found) if counts else problems

        yield run
        checker.close()


def only(problems, start):
    """The problems that start with ``start``; fails if there are others."""
    hits = [p for p in problems if p.startswith(start)]
    assert hits and len(hits) == len(problems), problems
    return hits


def test_clean_page_has_no_problem(check):
    problems, counts = check("clean.html", counts=True)
    assert problems == []
    assert counts["animations"] == 1 and counts["explorers"] == 3 and counts["images"] == 11
    assert counts["links"] == 2 and counts["equations"] == 1


def test_console_error(check):
    assert only(check("console.html"), "console error") == ["console error: boom"]


def test_uncaught_error(check):
    assert only(check("uncaught.html"), "uncaught") == ["uncaught Error: kaput"]


def test_request_to_another_host_is_aborted_and_named(check):
    problems = check("outside.html")
    assert only(problems, "request leaves") == [
        "request leaves 127.0.0.1: https://cdn.example.org/lib.js"
    ]


def test_image_not_loaded(check):
    problems = check("image.html")
    assert 'image not loaded: "missing.png"' in problems
    assert "HTTP 404 for missing.png" in problems
    assert len(problems) == 2, problems


def test_broken_internal_links(check):
    assert sorted(check("links.html")) == [
        "broken link: gone.html (no such file)",
        "broken link: index.html#nowhere (no such anchor)",
    ]


def test_display_equation_wider_than_its_column(check):
    # Scrolling inside its own box fits a phone, not the desktop column.
    problems = only(check("wide.html"), "display equation wider than its column at 1400 px")
    assert "(900 px in 600 px)" in problems[0]
    assert check("folded.html") == problems  # a folded solution is unfolded and measured
    cut = check("cut.html")
    assert len(cut) == 2 and "cut off at 400 px" in cut[1], cut


def test_raw_tex(check):
    problems = only(check("tex.html"), "maths not typeset")
    assert any("\\frac" in p for p in problems) and any("\\(x\\)" in p for p in problems)
    assert "maths not typeset: MathJax did not load" in problems


def test_mathjax_error(check):
    assert check("merror.html") == ['MathJax error: "Undefined control sequence \\foo"']


def test_redirect_page_is_checked_by_its_target(check):
    assert check("redirect.html", counts=True) == ([], {"redirect": "clean.html"})
    assert check("redirect_broken.html") == ["broken link: gone.html (no such file)"]


def test_animation_that_does_not_step(check):
    assert check("anim_broken.html") == ["animation 1: Next frame does not change the picture"]


def test_explorers_that_do_not_respond(check):
    (slider,) = check("explorer_broken.html")
    assert slider.endswith('slider "learning rate" never changes the picture'), slider
    (menu,) = check("menu_broken.html")
    assert menu.endswith('menu "optimizer" never changes the picture'), menu


def test_explorer_whose_controls_are_disabled(check):
    (problem,) = check("disabled.html")
    assert problem.endswith("every control is disabled"), problem


def test_explorer_shown_as_text_and_outputs_missing(check):
    (problem,) = check("as_text.html")
    assert 'shown as text: "VBox(children=(FloatSlider(value=0.1),))..."' in problem, problem
    assert check("lost.html") == [
        "1 animations in the notebook, 0 on the page",
        "1 explorers in the notebook, 0 on the page",
    ]


def test_ipywidgets_view_draws_nothing(check):
    (problem,) = check("widget.html")
    assert "ipywidgets view that draws nothing" in problem


def test_navigation_button(check):
    assert check("nav.html", require_nav=True) == []
    assert check("nav_broken.html", require_nav=True) == [
        "the navigation button does not open the book's contents at 400 px"
    ]
    assert check("index.html", require_nav=True) == ["no visible navigation button at 400 px"]


def test_missing_page(check):
    assert check("nowhere.html") == ["HTTP 404"]


def test_toc_pages_lists_the_books_pages():
    pages = bc.toc_pages(ROOT)
    assert pages[0] == "book/intro.html"
    assert "notebooks/02_convolution/01_convolution.html" in pages
    assert pages[-3:] == list(bc.EXTRA_PAGES)


def test_a_widget_with_a_still_is_counted_as_a_still_not_an_explorer(tmp_path):
    outputs = [
        {"data": {bc.WIDGET_VIEW: {}, "text/html": '<div class="dlbook-snapshot"><img></div>'}},
        {"data": {bc.WIDGET_VIEW: {}, "text/html": '<div class="dlbook-explorer" data-p="2">'}},
        {"data": {bc.WIDGET_VIEW: {}, "text/plain": "VBox(children=(...))"}},
    ]
    nb = {"cells": [{"cell_type": "code", "outputs": [{"output_type": "display_data", **o}]}
                    for o in outputs]}  # fmt: skip
    folder = tmp_path / "jupyter_execute" / "ch"
    folder.mkdir(parents=True)
    (folder / "one.ipynb").write_text(json.dumps(nb))
    found = bc.notebook_outputs(tmp_path / "html", "ch/one.html")
    assert (found["stills"], found["explorers"]) == (1, 2)
