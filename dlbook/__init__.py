"""dlbook: deep learning from the inside.

Each idea lives twice: in NumPy, written from scratch (:mod:`dlbook.scratch`, which never imports
torch), and in PyTorch. This top-level module stays light: it imports torch only when a function
that needs it is called.
"""

from dlbook.devices import device

__all__ = ["device"]
__version__ = "0.1.0"
