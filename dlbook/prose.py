"""Numbers in the prose, the same in the HTML book and in JupyterLab.

Every number a chapter's text states comes from code. A cell glues it::

    glue("gd_steps", steps)

and the Markdown cites it with an inline expression, ``{eval}`glued("gd_steps:d")```. The
argument is ``"name"`` or ``"name:format_spec"``, as ``myst_nb``'s ``{glue:text}`` role takes it.

* In the HTML book, the ``eval`` role of ``book/_ext/glued_eval.py`` reads ``glued("name:spec")``
  as ``{glue:text}`name:spec``: the value glued when the book executed the notebook.
* In JupyterLab, ``jupyterlab-myst`` shows the results stored in each Markdown cell's
  ``user_expressions`` metadata (written by ``scripts/user_expressions.py`` when the notebooks
  are executed), and, once the reader runs the cells, evaluates ``glued("name:spec")`` in the
  kernel: the value this session glued.

Both format the value the same way (:func:`format_value`, ``myst_nb``'s rule).
"""

from __future__ import annotations

import re
from ast import literal_eval

__all__ = ["glue", "glued", "format_value", "split_key"]

_values: dict[str, object] = {}
_NAME = re.compile(r"[^\s\"'`:]+")


def glue(name: str, value, display: bool = False):
    """``myst_nb.glue(name, value, display)``, and remember ``value`` for :func:`glued`."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"name must be a word without spaces, quotes or colons, got {name!r}")
    from myst_nb import glue as myst_glue

    _values[name] = value
    return myst_glue(name, value, display=display)


def split_key(key: str) -> tuple[str, str]:
    """``"name:spec"`` as ``("name", "spec")``; ``"name"`` as ``("name", "")`` (split at the
    last colon, as ``{glue:text}`` splits)."""
    name, _, spec = key.rpartition(":") if ":" in key else (key, "", "")
    if not _NAME.fullmatch(name):
        raise ValueError(f"key must be 'name' or 'name:format_spec', got {key!r}")
    return name, spec


def format_value(text_or_value, spec: str) -> str:
    """Format a glued value as ``{glue:text}`` does: the value's ``text/plain`` read back as a
    Python literal where it is one, then ``format(value, spec)``, with ``spec``'s type letter
    choosing str, int or float first."""
    value = text_or_value
    if isinstance(value, str):
        try:
            value = literal_eval(value)
        except (SyntaxError, ValueError):
            pass
    if spec == "":
        return str(value)
    kind = spec[-1]
    if kind == "s":
        value = str(value)
    elif kind in "bcdoxX":
        value = int(value)
    elif kind in "eEfFgGn%":
        value = float(value)
    return format(value, spec)


def glued(key: str) -> str:
    """The value glued as ``name``, formatted by ``spec``, for ``key = "name:spec"``."""
    name, spec = split_key(key)
    if name not in _values:
        raise KeyError(f"nothing glued as {name!r} yet: run the cells above first")
    return format_value(repr(_values[name]), spec)
