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


def resolve(dev=None):
    """The ``torch.device`` to run on: :func:`device` (the best there is) when ``dev`` is None,
    else ``torch.device(dev)`` (a name such as ``"cpu"`` or ``"cuda:0"``, or a device). Every
    function of the book that takes ``device=None`` passes it through here.

    >>> from dlbook.devices import resolve
    >>> resolve("cpu")
    device(type='cpu')
    """
    import torch

    return device() if dev is None else torch.device(dev)


def describe(dev=None) -> str:
    """One line naming the device, for the book's setup check."""
    import torch

    dev = resolve(dev)
    if dev.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(dev)}"
    if dev.type == "mps":
        return "mps: Apple GPU (Metal Performance Shaders)"
    return f"cpu: {torch.get_num_threads()} threads"
