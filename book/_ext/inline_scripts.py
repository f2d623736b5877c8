"""Each inline ``<script>`` once per page.

Sphinx 7.4 writes an inline script twice when an extension adds it after the builder started
(``app.add_js_file(None, body=...)``): once as the builder received it (file name ``None``) and
once more, as ``''``, when it copies the registry's scripts before writing. sphinx-thebe adds
``const THEBE_JS_URL = ...`` that way, and its second copy throws "Identifier 'THEBE_JS_URL' has
already been declared" on every page (sphinx-togglebutton's selector is repeated too, harmlessly,
with ``var``). This drops every repeat of a script already on the page.
"""

from __future__ import annotations


def script_key(script) -> tuple:
    """What makes two scripts the same: file (``None`` and ``''`` alike), priority, attributes."""
    attributes = getattr(script, "attributes", {})
    return (
        getattr(script, "filename", str(script)) or "",
        getattr(script, "priority", 500),
        tuple(sorted((k, str(v)) for k, v in attributes.items())),
    )


def drop_repeats(scripts: list) -> list:
    """``scripts`` in order, without any script equal (``script_key``) to an earlier one."""
    seen, kept = set(), []
    for script in scripts:
        key = script_key(script)
        if key not in seen:
            seen.add(key)
            kept.append(script)
    return kept


def dedupe_page_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if scripts:
        # In place: Sphinx restores this very list after each page.
        scripts[:] = drop_repeats(scripts)


def setup(app):
    # Late, after the extensions that add scripts to a page.
    app.connect("html-page-context", dedupe_page_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
