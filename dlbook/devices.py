"""Picking the device the PyTorch half of the book runs on."""

from __future__ import annotations


def device():
    """Return the best ``torch.device`` there is: CUDA, then Apple MPS, then the CPU.

    >>> import dlbook
    >>> dlbook.device().type in {"cuda", "mps", "cpu"}
    True
    """
    import torch

    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def describe(dev=None) -> str:
    """One line naming the device, for the book's setup check."""
    import torch

    dev = device() if dev is None else torch.device(dev)
    if dev.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(dev)}"
    if dev.type == "mps":
        return "mps: Apple GPU (Metal Performance Shaders)"
    return f"cpu: {torch.get_num_threads()} threads"
