"""Showing dlbook's own source in a chapter, so that a notebook never pastes a second copy."""

from __future__ import annotations

import inspect

__all__ = ["show_source"]


def show_source(obj):
    """Display the source of a function, class or module as a highlighted Python block."""
    from IPython.display import Markdown

    return Markdown(f"```python\n{inspect.getsource(obj).rstrip()}\n```")
