"""The book's ``{eval}`` role: ``{eval}`glued("name:spec")``` is ``{glue:text}`name:spec```.

The chapters cite their numbers with inline expressions (see ``dlbook/prose.py``), which
JupyterLab (``jupyterlab-myst``) evaluates in the kernel. myst-nb's own ``eval`` role needs a live
kernel while Sphinx runs (``nb_execution_mode: inline``); the book executes its notebooks in
parallel beforehand (``scripts/execute_book.py``), so this extension replaces that role by one that
reads the glued value, exactly as ``{glue:text}`` does. Only ``glued("...")`` expressions are
accepted; anything else is a warning, which ``make book`` (``-W``) turns into an error.
"""

from __future__ import annotations

import re

from myst_nb.ext.glue.roles import PasteTextRole
from myst_nb.ext.glue.utils import glue_warning

EXPRESSION = re.compile(r'^\s*glued\(\s*"([^\s"\'`:]+(?::[^"]*)?)"\s*\)\s*$')


def glued_key(expression: str) -> str | None:
    """``"name:spec"`` from ``glued("name:spec")``, or None for any other expression."""
    match = EXPRESSION.match(expression)
    return match.group(1) if match else None


class GluedEvalRole(PasteTextRole):
    def run(self):
        key = glued_key(self.text)
        if key is None:
            message = f'the book evaluates only glued("name:spec") expressions, not {self.text!r}'
            return [], [glue_warning(message, self.document, self.line)]
        self.text = key
        return super().run()


def setup(app):
    app.add_role("eval", GluedEvalRole(), override=True)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
