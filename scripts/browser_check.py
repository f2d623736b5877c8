"""Read the built book in headless Chromium as a reader would, offline, and report what is broken.

    .venv/bin/python scripts/browser_check.py                   # every page of _toc.yml, and more
    .venv/bin/python scripts/browser_check.py --pages notebooks/02_convolution/01_convolution.html
    .venv/bin/python scripts/browser_check.py --html other/_build/html

Serves the book on 127.0.0.1 (a free port) and drives Debian's Chromium (``CHROMIUM``, default
/usr/bin/chromium) with Playwright for Python (requirements-browser.txt; never ``playwright
install``). The pages are those of ``_toc.yml`` plus index.html, search.html and genindex.html,
one browser, one after another. For each page:

- status 200, no console error, no uncaught error, no local request that fails;
- no request leaves 127.0.0.1: every request is routed, and any other host is aborted and named;
- the maths is typeset: every ``.math`` element holds an ``mjx-container``, MathJax reports no
  error, and no raw TeX (``$x$``, ``\\(``, ``\\frac`` ...) is left in the prose;
- every ``<img>`` loaded (``naturalWidth > 0``);
- every animation (matplotlib's jshtml player, ``.animation``) steps: its Next-frame button
  changes the shown frame;
- every explorer responds: each control (slider, select, checkbox, radio group, button group) of
  an explorer changes its picture for at least one of its positions. An explorer is an element
  marked as one (``EXPLORER``), or the nearest block around form controls in a cell output that
  holds a picture; an ipywidgets view that needs a kernel is reported as drawing nothing, and a
  widget shown as its text (``VBox(children=...``) as such;
- the page shows as many explorers and animations as its notebook has outputs of each (the
  notebook the book rendered, in ``_build/jupyter_execute``, else the one in ``_sources``);
- at 1400 px no display equation is wider than its column; at 400 px one that is wider scrolls
  inside its own box (``overflow-x: auto`` on it or on its ``.math`` wrapper);
- at 400 px the navigation button opens the book's contents (the primary sidebar) and the page's
  contents button opens the page's contents (the secondary sidebar);
- every internal link resolves to an existing file and anchor.

Prints one line per page (OK, or FAIL and its problems below it) and a summary with the time;
exits 1 on any problem.
"""

from __future__ import annotations

import argparse
import functools
import html as htmlmod
import json
import os
import re
import sys
import threading
import time
from collections import Counter
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
EXTRA_PAGES = ("index.html", "search.html", "genindex.html")
DESK, PHONE = {"width": 1400, "height": 900}, {"width": 400, "height": 800}
# An element that declares itself an explorer; the scaffold is dlbook.viz.common.make_explorer.
EXPLORER = ".dlbook-explorer, [data-dlbook-explorer]"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
PANELS = (  # (button's name, what it opens, button, panel) in pydata-sphinx-theme's markup
    ("navigation button", "the book's contents", ".primary-toggle", ".bd-sidebar-primary"),
    ("page-contents button", "the page's contents", ".secondary-toggle", ".bd-sidebar-secondary"),
)
JS = r"""
function visible(e) {
  return e.checkVisibility({visibilityProperty: true, opacityProperty: true});
}
function hash(s) {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 16777619); }
  return (h >>> 0).toString(36) + ':' + s.length;
}
function tex(e) {
  try { return MathJax.startup.document.getMathItemsWithin(e)[0].math; }
  catch (_) { return e.textContent; }
}
function where(e) {
  const h = e.closest('section')?.querySelector('h1, h2, h3, h4');
  const title = h ? h.textContent.replace(/[#\u00b6]/g, '').trim().slice(0, 50) : '';
  const text = (e.matches('mjx-container') ? tex(e.parentElement) : '')
    .replace(/\s+/g, ' ').trim().slice(0, 60);
  return [title && `\u00a7 ${title}`, text].filter(Boolean).join(': ') || e.tagName.toLowerCase();
}
const frames = () => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));

async function checkMath() {
  const out = {containers: 0, raw: [], errors: [], noMathJax: false};
  const sp = window.MathJax?.startup?.promise;
  if (sp) await Promise.race([sp, new Promise(r => setTimeout(r, 20000))]);
  out.containers = document.querySelectorAll('mjx-container').length;
  for (const e of document.querySelectorAll('.math'))
    if (!e.querySelector('mjx-container')) out.raw.push(e.textContent.trim().slice(0, 60));
  out.noMathJax = !sp && out.raw.length > 0;
  for (const e of document.querySelectorAll('mjx-merror'))
    out.errors.push(e.getAttribute('data-mjx-error') || e.textContent.slice(0, 80));
  const skip = 'pre, code, script, style, textarea, mjx-container, .math, .highlight, kbd, samp';
  const re = new RegExp(String.raw`\$\$|\\\(|\\\[|\$[^\s$](?:[^$\n]{0,200}?[^\s$\\])?\$|`
    + String.raw`\\(?:frac|sum|begin|mathbf|mathrm|left|right|partial|sqrt)\b`);
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walk.nextNode()) {
    const node = walk.currentNode, parent = node.parentElement;
    if (!parent || parent.closest(skip)) continue;
    const m = node.textContent.match(re);
    if (m) out.raw.push(node.textContent.slice(Math.max(0, m.index - 20), m.index + 40).trim());
  }
  return out;
}

async function loadImages() {
  const imgs = [...document.images];
  for (const i of imgs) if (i.loading === 'lazy') i.loading = 'eager';
  await Promise.all(imgs.map(i => i.complete ? null : new Promise(r => {
    i.addEventListener('load', r, {once: true});
    i.addEventListener('error', r, {once: true});
    setTimeout(r, 10000);
  })));
  return imgs.filter(i => !(i.complete && i.naturalWidth > 0))
    .map(i => (i.getAttribute('src') || `(no src) ${i.id || i.alt}`).slice(0, 100));
}

function wideEquations(phone) {
  // Folded solutions and hidden cells count too: unfold them (details, sphinx-togglebutton).
  for (const d of document.querySelectorAll('details')) d.open = true;
  for (const e of document.querySelectorAll('.toggle-hidden')) e.classList.remove('toggle-hidden');
  const bad = [];
  for (const c of document.querySelectorAll('mjx-container[display="true"]')) {
    if (!visible(c)) continue;
    const box = c.parentElement;
    const need = c.scrollWidth;
    const have = Math.min(box.clientWidth, box.parentElement.clientWidth);
    if (need <= have + 1) continue;
    const scrolls = b => ['auto', 'scroll'].includes(getComputedStyle(b).overflowX)
      && b.clientWidth <= have + 1 && b.getBoundingClientRect().right <= innerWidth + 1;
    if (phone && (scrolls(c) || scrolls(box))) continue;
    bad.push([need, have, where(c)]);
  }
  return bad;
}

function links() { return [...document.querySelectorAll('a[href]')].map(a => a.href); }
function pageIds() {
  return [...document.querySelectorAll('[id], a[name]')].map(e => e.id || e.getAttribute('name'));
}

function picture(root) {
  const parts = [];
  for (const e of root.querySelectorAll('img'))
    if (visible(e)) parts.push(hash(e.currentSrc || e.src));
  for (const e of root.querySelectorAll('canvas')) if (visible(e)) parts.push(hash(e.toDataURL()));
  for (const e of root.querySelectorAll('pre, svg'))
    if (visible(e) && !e.closest('button')) parts.push(hash(e.outerHTML));
  return parts.join('|');
}

function label(c) {
  // A label's own words, not the options or the readout inside it.
  const own = e => e && [...e.childNodes].filter(n => n.nodeType === 3)
    .map(n => n.textContent).join(' ').trim();
  const text = c.getAttribute('aria-label') || c.title
    || (c.id && own(document.querySelector(`label[for="${CSS.escape(c.id)}"]`)))
    || own(c.closest('label')) || c.previousElementSibling?.textContent || c.name || '';
  return text.replace(/\s+/g, ' ').trim().slice(0, 40);
}

function findExplorers(sel) {
  const main = document.querySelector('main') || document.body;
  const roots = [...main.querySelectorAll(sel)].filter(e => !e.parentElement.closest(sel));
  const out = [];
  const views = 'script[type="application/vnd.jupyter.widget-view+json"]';
  for (const s of main.querySelectorAll(views)) {
    const box = s.parentElement;
    const drawn = [...box.children].some(e => e !== s && e.getBoundingClientRect().height > 0);
    if (!drawn) out.push({where: where(box), problem: 'an ipywidgets view that draws nothing '
      + '(it needs a kernel and the widget JavaScript)', groups: [], at: box});
    else roots.push(box);
  }
  // A widget with no HTML twin falls back to its text: "VBox(children=(HBox(children=(...".
  for (const e of main.querySelectorAll('.cell_output pre, .output pre')) {
    if (/^\s*(VBox|HBox|Box|GridBox|Tab|Accordion)\(children=/.test(e.textContent))
      out.push({where: where(e), groups: [], at: e,
        problem: `shown as text: "${e.textContent.trim().slice(0, 60)}..."`});
  }
  const free = 'input[type=range], input[type=checkbox], input[type=radio], select';
  for (const c of main.querySelectorAll(free)) {
    const stop = c.closest('.cell_output, .output');
    if (!stop || c.closest('.animation') || roots.some(r => r.contains(c))) continue;
    let r = c.parentElement;
    while (r !== stop && !r.querySelector('img, canvas')) r = r.parentElement;
    roots.push(r);
  }
  const kept = roots.filter((r, i) => roots.indexOf(r) === i
    && !roots.some(o => o !== r && o.contains(r)));
  let n = 0;
  for (const root of kept) {
    root.dataset.bcRoot = ++n;
    const groups = [], byKey = new Map();
    const all = root.querySelectorAll('input[type=range], select, input[type=checkbox], '
      + 'input[type=radio], button');
    let disabled = 0;
    for (const c of all) {
      if (!visible(c) || c.closest('.highlight, .animation')) continue;
      if (c.disabled) { disabled++; continue; }
      c.dataset.bc = ++n;
      const kind = c.tagName === 'SELECT' ? 'select' : c.tagName === 'BUTTON' ? 'button' : c.type;
      const key = kind === 'radio' ? 'r:' + c.name : kind === 'button' ? c.parentElement : c;
      if (!byKey.has(key)) {
        const what = {range: 'slider', select: 'menu', checkbox: 'checkbox', radio: 'option group',
          button: 'button group'}[kind];
        byKey.set(key, {kind, root: root.dataset.bcRoot, refs: [], what});
        groups.push(byKey.get(key));
      }
      const g = byKey.get(key);
      g.refs.push(c.dataset.bc);
      if (g.refs.length === 1 && label(c)) g.what += ` "${label(c)}"`;
    }
    const problem = !groups.length ? (disabled ? 'every control is disabled'
      : 'no control that the check can move')
      : !picture(root) ? 'shows no picture' : '';
    out.push({where: where(root), problem, groups, at: root});
  }
  const after = Node.DOCUMENT_POSITION_FOLLOWING;
  out.sort((a, b) => a.at.compareDocumentPosition(b.at) & after ? -1 : 1);
  return out.map(({at, ...rest}) => rest);
}

async function tryGroup(g) {
  const root = document.querySelector(`[data-bc-root="${g.root}"]`);
  const els = g.refs.map(r => document.querySelector(`[data-bc="${r}"]`));
  const before = picture(root);
  const fire = e => { for (const t of ['input', 'change'])
    e.dispatchEvent(new Event(t, {bubbles: true})); };
  let changed = false;
  const look = async () => { await frames(); changed ||= picture(root) !== before; };
  const el = els[0];
  if (g.kind === 'range') {
    const min = el.min === '' ? 0 : +el.min, max = el.max === '' ? 100 : +el.max;
    const step = el.step === 'any' ? (max - min) / 4 : +(el.step || 1);
    const n = Math.max(1, Math.round((max - min) / step)), orig = el.value;
    for (const k of new Set([0, 1, 2, 3, 4].map(i => Math.round(i * n / 4)))) {
      el.value = String(min + k * step);
      if (el.value !== orig) { fire(el); await look(); }
    }
    el.value = orig; fire(el);
  } else if (g.kind === 'select') {
    const orig = el.selectedIndex;
    for (let i = 0; i < Math.min(el.options.length, 12); i++) {
      if (i === orig) continue;
      el.selectedIndex = i; fire(el); await look();
    }
    el.selectedIndex = orig; fire(el);
  } else if (g.kind === 'checkbox') {
    el.click(); await look(); el.click();
  } else {  // a radio group or a group of buttons: press each
    const orig = els.find(e => e.checked);
    for (const e of els.slice(0, 12)) { if (e !== orig) { e.click(); await look(); } }
    orig?.click();
  }
  await frames();
  return changed;
}

function panelOpen(sel) {
  return [...document.querySelectorAll(sel)].some(e => {
    if (!visible(e)) return false;
    const r = e.getBoundingClientRect();
    const w = Math.min(r.right, innerWidth) - Math.max(r.left, 0);
    const h = Math.min(r.bottom, innerHeight) - Math.max(r.top, 0);
    if (w < 40 || h < 40 || w < 0.9 * Math.min(r.width, innerWidth) - 1) return false;
    const hit = document.elementFromPoint(Math.max(r.left, 0) + w / 2, Math.max(r.top, 0) + h / 2);
    return hit !== null && (e.contains(hit) || hit.contains(e));
  });
}
"""


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextmanager
def serve(html: Path):
    """Serve the folder ``html`` on 127.0.0.1 at a free port; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=html))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()


def toc_pages(book: Path) -> list[str]:
    """The HTML pages of ``_toc.yml`` (root, chapters, sections), in order, then EXTRA_PAGES."""
    import yaml

    files: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            for key in ("root", "file"):
                if key in node:
                    files.append(f"{Path(node[key]).with_suffix('')}.html")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(yaml.safe_load((book / "_toc.yml").read_text(encoding="utf-8")))
    return list(dict.fromkeys([*files, *EXTRA_PAGES]))


@functools.lru_cache(maxsize=256)
def anchors(path: Path) -> frozenset[str]:
    """Every ``id``/``name`` in an HTML file."""
    text = path.read_text(encoding="utf-8", errors="replace")
    found = re.findall(r"""\s(?:id|name)\s*=\s*(?:"([^"]*)"|'([^']*)')""", text)
    return frozenset(htmlmod.unescape(a or b) for a, b in found)


def link_problems(html: Path, base: str, page: str, hrefs, live_ids) -> list[str]:
    """Internal links (same host and port as ``base``) whose file or anchor does not exist."""
    origin = urlsplit(base).netloc
    bad = []
    for href in sorted(set(hrefs)):
        parts = urlsplit(href)
        if parts.scheme not in ("http", "https") or parts.netloc != origin:
            continue
        rel = unquote(parts.path).lstrip("/")
        target = html / rel
        if rel == "" or rel.endswith("/"):
            target = target / "index.html"
        if not target.resolve().is_relative_to(html.resolve()) or not target.is_file():
            bad.append(f"broken link: {rel or '/'} (no such file)")
            continue
        frag = unquote(parts.fragment)
        if frag and target.suffix == ".html":
            ids = anchors(target) | (live_ids if rel == page else frozenset())
            if frag not in ids:
                bad.append(f"broken link: {rel}#{frag} (no such anchor)")
    return bad


def notebook_outputs(html: Path, page: str) -> Counter:
    """How many outputs of the page's notebook are explorers (an ipywidgets view, or the static
    twin that make_explorer adds), stills (a widget that shows a ``dlbook-snapshot`` picture of
    itself, such as the stack builder) and animations (matplotlib's jshtml player); none for a page
    that is no notebook. The notebook is the one the book rendered (``_build/jupyter_execute``),
    else the one it publishes (``_sources``)."""
    name = Path(page).with_suffix(".ipynb")
    found = Counter()
    for nb in (html.parent / "jupyter_execute" / name, html / "_sources" / name):
        if nb.is_file():
            break
    else:
        return found
    cells = json.loads(nb.read_text(encoding="utf-8")).get("cells", [])
    for out in (o for c in cells for o in c.get("outputs", [])):
        data = out.get("data", {})
        text = "".join(data.get("text/html", ""))
        still = 'class="dlbook-snapshot"' in text  # a widget with a still for the page
        found["stills"] += still
        found["explorers"] += 'class="dlbook-explorer"' in text or (
            WIDGET_VIEW in data and not still
        )
        found["animations"] += text.count('<div class="animation">')
    return found


def _some(what: str, items: list[str], show: int = 3) -> list[str]:
    """One problem line per item, at most ``show`` of them, then how many more."""
    lines = [f'{what}: "{item}"' for item in items[:show]]
    if len(items) > show:
        lines.append(f"{what}: {len(items) - show} more")
    return lines


class Checker:
    """One headless Chromium for many pages; :meth:`check` returns one page's problems."""

    def __init__(self, html: Path, base: str, *, require_nav: bool = True):
        from playwright.sync_api import sync_playwright

        self.html, self.base, self.require_nav = html, base, require_nav
        self.origin = urlsplit(base).netloc
        self._pw = sync_playwright().start()
        self.browser = self._pw.chromium.launch(
            executable_path=CHROMIUM,
            # Belt and braces: a request that escaped the router still could not resolve a host.
            # A container's small /dev/shm crashes Chromium on the book's larger pages.
            args=[
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                "--disable-dev-shm-usage",
            ],
        )
        self.context = self.browser.new_context(viewport=DESK)
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self._log.append(f"uncaught {e.name}: {e.message}"))
        self.page.on("response", self._response)
        self.page.on("requestfailed", self._failed)
        self.page.on("websocket", lambda ws: self._route_log(ws.url))
        self._log: list[str] = []
        self._quiet_urls: set[str] = set()

    def close(self):
        self.browser.close()
        self._pw.stop()

    def _route(self, route):
        url = route.request.url
        if urlsplit(url).netloc == self.origin:
            route.continue_()
            return
        self._route_log(url)
        route.abort()

    def _route_log(self, url):
        if urlsplit(url).netloc != self.origin:
            self._quiet_urls.add(url)
            self._log.append(f"request leaves 127.0.0.1: {url[:120]}")

    def _console(self, msg):
        if msg.type not in ("error", "assert"):
            return
        if msg.text.startswith("Failed to load resource") and (
            msg.location.get("url") in self._quiet_urls
        ):
            return  # already reported as a request that left, or as a failed local request
        self._log.append(f"console error: {msg.text[:200]}")

    def _response(self, response):
        if response.status >= 400 and response.url != self._url:
            self._quiet_urls.add(response.url)
            self._log.append(f"HTTP {response.status} for {response.url.removeprefix(self.base)}")

    def _failed(self, request):
        if request.url not in self._quiet_urls and urlsplit(request.url).netloc == self.origin:
            self._quiet_urls.add(request.url)
            self._log.append(f"request failed: {request.url.removeprefix(self.base)}")

    def check(self, page: str) -> tuple[list[str], dict]:
        """``(problems, counts)`` for one page, given by its path inside the HTML folder."""
        self._log, self._quiet_urls = [], set()
        self._url = self.base + page
        file = self.html / page
        if file.is_file():
            redirect = re.search(
                r"""http-equiv=["']refresh["'][^>]*url=([^"'>\s]+)""",
                file.read_text(encoding="utf-8", errors="replace")[:2000],
                re.IGNORECASE,
            )
            if redirect:  # Jupyter Book's index.html: check where it leads, not the jump
                target = str(Path(page).parent / redirect.group(1))
                bad = link_problems(self.html, self.base, page, [self.base + target], frozenset())
                return bad, {"redirect": target}
        pg = self.page
        if pg.url.startswith(self.base):  # every page a first visit: no stored theme mode
            pg.evaluate("localStorage.clear(); sessionStorage.clear()")
        pg.set_viewport_size(DESK)
        response = pg.goto(self._url, wait_until="load", timeout=60_000)
        if response is None or response.status != 200:
            return [f"HTTP {response.status if response else 'no response'}"], {}
        problems, counts = [], {}
        math = self._eval("checkMath()")
        counts["equations"] = math["containers"]
        problems += _some("maths not typeset (raw TeX)", math["raw"])
        problems += _some("MathJax error", math["errors"])
        if math["noMathJax"]:
            problems.append("maths not typeset: MathJax did not load")
        broken = self._eval("loadImages()")
        counts["images"] = self._eval("document.images.length")
        problems += _some("image not loaded", broken)
        problems += [
            f"display equation wider than its column at 1400 px ({w} px in {c} px): {where}"
            for w, c, where in self._eval("wideEquations(false)")
        ]
        hrefs, ids = self._eval("[links(), pageIds()]")
        counts["links"] = len(hrefs)
        problems += link_problems(self.html, self.base, page, hrefs, frozenset(ids))
        problems += self._animations(page, counts)
        problems += self._explorers(page, counts)
        pg.set_viewport_size(PHONE)
        pg.wait_for_timeout(100)
        problems += [
            f"display equation cut off at 400 px ({w} px in {c} px, no scrolling box): {where}"
            for w, c, where in self._eval("wideEquations(true)")
        ]
        for name, what, button, panel in PANELS:
            problems += self._panel(name, what, button, panel)
        counted = Counter(self._log)
        problems = [f"{p} (x{n})" if n > 1 else p for p, n in counted.items()] + problems
        return problems, counts

    def _eval(self, expr: str, arg=None):
        return self.page.evaluate(f"async (arg) => {{ {JS}; return await {expr}; }}", arg)

    def _expected(self, page, what, shown) -> list[str]:
        """Fewer explorers or animations on the page than outputs in its notebook?"""
        expected = notebook_outputs(self.html, page)[what]
        if expected > shown:
            return [f"{expected} {what} in the notebook, {shown} on the page"]
        return []

    def _animations(self, page, counts) -> list[str]:
        pg = self.page
        players = pg.locator(".animation")
        counts["animations"] = n = players.count()
        problems = self._expected(page, "animations", n)
        for i in range(n):
            player = players.nth(i)
            pause = player.locator('button[onclick*="pause_animation"]')
            if pause.count():
                pause.first.click(timeout=5000)
            step = player.locator('button[onclick*="next_frame"], button[title="Next frame"]')
            if not step.count():
                problems.append(f"animation {i + 1}: no Next-frame button")
                continue
            before = player.evaluate(f"(root) => {{ {JS}; return picture(root); }}")
            for _ in range(3):  # two frames in a row may be the same picture
                step.first.click(timeout=5000)
                after = player.evaluate(f"(root) => {{ {JS}; return picture(root); }}")
                if after != before:
                    break
            else:
                problems.append(f"animation {i + 1}: Next frame does not change the picture")
        return problems

    def _explorers(self, page, counts) -> list[str]:
        found = self._eval("findExplorers(arg)", EXPLORER)
        counts["explorers"] = len(found)
        problems = []
        problems += self._expected(page, "explorers", len(found))
        problems += self._expected(
            page, "stills", self.page.locator(".dlbook-snapshot img").count()
        )
        for k, ex in enumerate(found, 1):
            label = f"explorer {k} ({ex['where']})"
            if ex["problem"]:
                problems.append(f"{label}: {ex['problem']}")
                continue
            for group in ex["groups"]:
                if not self._eval("tryGroup(arg)", group):
                    problems.append(f"{label}: {group['what']} never changes the picture")
        return problems

    def _panel(self, name, what, button, panel) -> list[str]:
        pg = self.page
        shown = [b for b in pg.locator(button).all() if b.is_visible()]
        if not shown:
            if self.require_nav and (name.startswith("navigation") or pg.locator(panel).count()):
                return [f"no visible {name} at 400 px"]
            return []
        problems = []
        for i, b in enumerate(shown):
            try:
                b.click(timeout=3000)
                self._wait("panelOpen(arg)", panel)
            except Exception:  # Playwright's timeout, or a button that is covered
                which = f" {i + 1} of {len(shown)}" if len(shown) > 1 else ""
                problems.append(f"the {name}{which} does not open {what} at 400 px")
            self._close_panels()
        return problems

    def _wait(self, expr, arg=None, timeout=1500):
        self.page.wait_for_function(
            f"(arg) => {{ {JS}; return {expr}; }}", arg=arg, timeout=timeout
        )

    def _close_panels(self):
        """Close whatever panel is open (Escape closes the theme's dialogs), else reload."""
        panels = ", ".join(p for *_, p in PANELS)
        self.page.keyboard.press("Escape")
        try:
            self._wait("!panelOpen(arg)", panels, timeout=1000)
        except Exception:
            self.page.reload(wait_until="load")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--html", type=Path, default=ROOT / "_build" / "html")
    parser.add_argument("--pages", nargs="+", help="pages inside --html (default: the whole book)")
    args = parser.parse_args(argv)
    html = args.html.resolve()
    if not (html / "index.html").is_file():
        print(f"browser_check: no {html}/index.html; run 'make book' first", file=sys.stderr)
        return 2
    if not Path(CHROMIUM).exists():
        print(
            f"browser_check: no Chromium at {CHROMIUM} (apt-get install chromium)", file=sys.stderr
        )
        return 2
    pages = [re.sub(r"\.(html|ipynb|md)$", "", p) + ".html" for p in args.pages or toc_pages(ROOT)]
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        print("browser_check: pip install -r requirements-browser.txt", file=sys.stderr)
        return 2
    start, failed, totals = time.perf_counter(), 0, Counter()
    with serve(html) as base:
        checker = Checker(html, base)
        try:
            for page in pages:
                t0 = time.perf_counter()
                try:
                    problems, counts = checker.check(page)
                except Exception as error:  # report the page, go on with the rest
                    problems, counts = [f"check crashed: {type(error).__name__}: {error}"], {}
                totals.update({k: v for k, v in counts.items() if isinstance(v, int)})
                took = time.perf_counter() - t0
                what = ", ".join(f"{v} {k}" for k, v in counts.items())
                print(f"{'FAIL' if problems else 'OK  '} {page} ({took:.1f} s; {what})")
                for p in problems:
                    print(f"     - {p}")
                failed += bool(problems)
                sys.stdout.flush()
        finally:
            checker.close()
    what = ", ".join(f"{v} {k}" for k, v in totals.items())
    print(
        f"browser_check: {len(pages) - failed} of {len(pages)} pages OK, {failed} with problems "
        f"({what}); {time.perf_counter() - start:.0f} s"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
