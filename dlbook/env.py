"""What the book is running on: versions, the device, and a check that nothing is too old.

:func:`report` gathers what is actually installed here, so it prints differently on every machine
(the setup chapter tags the cells that show it ``nbval-ignore-output``). :func:`check` compares the
versions with the oldest the book supports and raises :class:`EnvironmentTooOld` if one falls
short; its own printout names only the minimums and a verdict, so it reads the same everywhere.
"""

from __future__ import annotations

import html
import platform
import re
import sys
from dataclasses import dataclass
from importlib import metadata

__all__ = ["MINIMUM", "EnvironmentTooOld", "Report", "Check", "report", "check", "parse_version"]

# The oldest versions the book supports: requirements.txt's lower bounds (torch is pinned there).
MINIMUM = {"numpy": "1.26", "torch": "2.13"}

# (row label, import name, distribution name) of every package the report lists.
PACKAGES = (
    ("numpy", "numpy", "numpy"),
    ("torch", "torch", "torch"),
    ("matplotlib", "matplotlib", "matplotlib"),
    ("scikit-learn", "sklearn", "scikit-learn"),
    ("scikit-image", "skimage", "scikit-image"),
    ("ipywidgets", "ipywidgets", "ipywidgets"),
)
NOT_INSTALLED = "not installed"


class EnvironmentTooOld(RuntimeError):
    """A package the book needs is missing or older than the book supports."""


def parse_version(version: str) -> tuple[int, ...]:
    """The leading release numbers of a version string: ``'2.13.0+cpu'`` → ``(2, 13, 0)``.

    Local labels (``+cpu``) and pre-release tags (``rc1``, ``.dev0``) are dropped, so a release
    candidate counts as its release; that is lenient, never wrong about a release being older.
    """
    match = re.match(r"\s*v?(\d+(?:\.\d+)*)", str(version))
    if match is None:
        raise ValueError(f"version: cannot read a release number from {version!r}")
    return tuple(int(part) for part in match.group(1).split("."))


def _at_least(installed: str, minimum: str) -> bool:
    have, need = parse_version(installed), parse_version(minimum)
    width = max(len(have), len(need))
    # Pad with zeros so that "2.13" and "2.13.0" compare equal.
    return have + (0,) * (width - len(have)) >= need + (0,) * (width - len(need))


def installed_version(name: str) -> str:
    """The version of a package the report lists (by its row label), or ``'not installed'``.

    numpy and torch are asked for ``__version__`` (the module that really runs); the others are
    read from their installed metadata, which avoids importing scikit-learn (seconds) for a string.
    """
    rows = {label: (module, dist) for label, module, dist in PACKAGES}
    if name not in rows:
        raise ValueError(f"name must be one of {sorted(rows)}, got {name!r}")
    module, dist = rows[name]
    if name in ("numpy", "torch"):
        try:
            return __import__(module).__version__
        except ImportError:
            return NOT_INSTALLED
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return NOT_INSTALLED


@dataclass(frozen=True)
class Report:
    """Rows of (what, value). Prints as an aligned text table; renders as HTML in Jupyter.

    ``report()["torch"]`` gives one value; :meth:`as_dict` all of them.
    """

    rows: tuple[tuple[str, object], ...]

    def __getitem__(self, key: str):
        for name, value in self.rows:
            if name == key:
                return value
        raise KeyError(key)

    def as_dict(self) -> dict:
        return dict(self.rows)

    def __repr__(self) -> str:
        width = max(len(name) for name, _ in self.rows)
        lines = ["dlbook environment"]
        lines += [f"  {name:<{width}}  {value}" for name, value in self.rows]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        cells = "".join(
            f"<tr><th style='text-align:left'>{html.escape(name)}</th>"
            f"<td style='text-align:left'><code>{html.escape(str(value))}</code></td></tr>"
            for name, value in self.rows
        )
        return f"<table><caption>dlbook environment</caption>{cells}</table>"


def report() -> Report:
    """Python's and the packages' versions, the device, torch's threads, CUDA and MPS.

    Everything is read from this machine at call time; nothing is typed in.
    """
    import torch

    import dlbook
    from dlbook import devices

    mps = getattr(torch.backends, "mps", None)
    rows = [
        ("Python", platform.python_version()),
        ("platform", f"{platform.system()} {platform.machine()}"),
        ("dlbook", dlbook.__version__),
    ]
    rows += [(label, installed_version(label)) for label, _, _ in PACKAGES]
    rows += [
        ("device", str(devices.device())),
        ("device detail", devices.describe()),
        ("torch threads", torch.get_num_threads()),
        ("CUDA available", torch.cuda.is_available()),
        ("MPS available", bool(mps is not None and mps.is_available())),
    ]
    return Report(tuple(rows))


@dataclass(frozen=True)
class Check:
    """The minimums that were met. Its printout omits the installed versions, so it is the same
    on every machine that passes (a machine that does not pass raises instead)."""

    minimum: tuple[tuple[str, str], ...]

    def __repr__(self) -> str:
        width = max((len(f"{n} >= {v}") for n, v in self.minimum), default=0)
        lines = [f"  {f'{name} >= {version}':<{width}}  ok" for name, version in self.minimum]
        return "\n".join(["dlbook environment check:", *lines])


def check(minimum: dict | None = None) -> Check:
    """Raise :class:`EnvironmentTooOld` unless every package meets its minimum version.

    ``minimum`` maps report row labels (``'numpy'``, ``'torch'``, ``'matplotlib'``, ...) to
    version strings; it defaults to :data:`MINIMUM`. Every shortfall is listed in one message.
    """
    minimum = MINIMUM if minimum is None else minimum
    if not isinstance(minimum, dict) or not minimum:
        raise TypeError(f"minimum must be a non-empty dict of name -> version, got {minimum!r}")
    known = [label for label, _, _ in PACKAGES]
    problems = []
    for name, version in minimum.items():
        if name not in known:
            raise ValueError(f"minimum: unknown package {name!r}; expected one of {known}")
        if not isinstance(version, str) or not re.match(r"\s*v?\d", version):
            raise ValueError(
                f"minimum[{name!r}] must be a version string like '2.13', got {version!r}"
            )
        have = installed_version(name)
        if have == NOT_INSTALLED:
            problems.append(f"{name} is not installed (need >= {version})")
        elif not _at_least(have, version):
            problems.append(f"{name} {have} is older than {version}")
    if problems:
        raise EnvironmentTooOld(
            "dlbook needs newer packages in this Python "
            f"({sys.executable}): " + "; ".join(problems) + ". "
            "Run `make setup` (or `pip install -r requirements.txt`) in the repository."
        )
    return Check(tuple((name, str(version)) for name, version in minimum.items()))
