"""dlbook: deep learning from the inside.

Each idea lives twice: in NumPy, written from scratch (:mod:`dlbook.scratch`, which never imports
torch), and in PyTorch. This top-level module stays light: submodules load on first use, so that
``import dlbook`` is quick and ``dlbook.shapes`` or ``dlbook.scratch`` still work without their own
import line.
"""

import importlib

from dlbook.devices import device

__all__ = ["device", "receptive_field", "effective_receptive_field"]
__version__ = "0.1.0"

_SUBMODULES = {
    "checks",
    "claims",
    "data",
    "devices",
    "env",
    "experiments",
    "history",
    "metrics",
    "nets",
    "receptive",
    "scratch",
    "seeding",
    "shapes",
    "timing",
    "train",
    "verify",
    "viz",
}


def __getattr__(name):
    if name in ("receptive_field", "effective_receptive_field"):  # torch loads only when asked
        return getattr(importlib.import_module("dlbook.receptive"), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"dlbook.{name}")
    raise AttributeError(f"module 'dlbook' has no attribute {name!r}")
