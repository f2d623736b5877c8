"""The book's repository and launch buttons, from environment variables read at build time.

A button appears only where a real address was given when the book was built; with none set (the
default) the pages carry no repository, issue or launch link at all. ``_config.yml`` sets no URL:

- ``DLBOOK_REPOSITORY_URL``: the public git repository of the book (``https://github.com/o/r``).
  Adds the "Repository" and "Open issue" buttons, and is what Binder and JupyterHub clone.
- ``DLBOOK_REPOSITORY_BRANCH``: the branch those links open (default ``main``).
- ``DLBOOK_BINDERHUB_URL``: a BinderHub (``https://mybinder.org``). Adds a "Binder" button to every
  chapter; Binder builds the repository from ``binder/`` (installs ``dlbook`` before any notebook
  runs).
- ``DLBOOK_JUPYTERHUB_URL``: a JupyterHub with nbgitpuller whose environment already has ``dlbook``
  and its requirements installed. Adds a "JupyterHub" button.

Colab gets no button: it opens a notebook without its repository, so ``import dlbook`` would fail.
Thebe ("Live Code") stays off, so sphinx-thebe, which Jupyter Book always loads, writes none of its
scripts or its per-page kernel settings (those name a sample Binder repository, not this one).
A value that is not an ``http(s)://`` address, or a launch address without a repository, stops the
build with an error naming the variable.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from sphinx.errors import ConfigError

REPOSITORY = "DLBOOK_REPOSITORY_URL"
BRANCH = "DLBOOK_REPOSITORY_BRANCH"
LAUNCHERS = {"binderhub_url": "DLBOOK_BINDERHUB_URL", "jupyterhub_url": "DLBOOK_JUPYTERHUB_URL"}
# Launch providers that sphinx-book-theme knows, all kept off unless set above.
OFF = ("binderhub_url", "jupyterhub_url", "colab_url", "deepnote_url", "jupyterlite_url")


def url_from_env(name: str, environ=os.environ) -> str:
    """The address in the environment variable ``name`` without a trailing slash, or ``""``."""
    value = environ.get(name, "").strip()
    if not value:
        return ""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{name} must be an http(s):// address, got {value!r}")
    return value.rstrip("/")


def theme_options(environ=os.environ) -> dict:
    """The sphinx-book-theme options for the repository and launch buttons, from ``environ``."""
    repository = url_from_env(REPOSITORY, environ)
    launch = {key: url_from_env(name, environ) for key, name in LAUNCHERS.items()}
    if any(launch.values()) and not repository:
        names = ", ".join(LAUNCHERS[key] for key, url in launch.items() if url)
        raise ConfigError(f"{names} needs {REPOSITORY}: a launched notebook clones the repository")
    if repository and len(urlsplit(repository).path.strip("/").split("/")) < 2:
        raise ConfigError(f"{REPOSITORY} must name an owner and a repository, got {repository!r}")
    return {
        "repository_url": repository,
        "repository_branch": environ.get(BRANCH, "").strip() or "main",
        "use_repository_button": bool(repository),
        "use_issues_button": bool(repository),
        "use_edit_page_button": False,
        "launch_buttons": {
            "notebook_interface": "jupyterlab",
            "thebe": False,
            **dict.fromkeys(OFF, ""),
            **launch,
        },
    }


# sphinx-thebe's handlers that write its scripts and its per-page settings (its static folder and
# its CSS file stay: the theme links the CSS file on every page).
THEBE_WRITERS = ("init_thebe_core", "update_thebe_context")


def apply(app, config) -> None:
    options = theme_options()
    # Jupyter Book fills in a default repository (its own) when _config.yml names none: replace it.
    config.html_theme_options.update(options)
    for listeners in list(app.events.listeners.values()):
        for listener in list(listeners):
            handler = listener.handler
            if handler.__module__ == "sphinx_thebe" and handler.__name__ in THEBE_WRITERS:
                app.disconnect(listener.id)


def setup(app):
    app.connect("config-inited", apply)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
