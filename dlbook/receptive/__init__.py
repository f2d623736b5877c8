r"""Receptive fields of any ``torch.nn.Module``, worked out from its traced graph.

For one spatial axis, every tensor in a network carries three numbers about the input pixels that
one of its units sees (Araujo, Norris & Sim, Distill 2019):

* the **size** :math:`r` of the field, in input pixels;
* the **jump** :math:`j` (effective stride): how far the field moves when the unit moves by one;
* the **effective padding** :math:`p`: unit :math:`u` sees input pixels
  :math:`u j - p, \dots, u j - p + r - 1`.

The input itself has :math:`r = 1, j = 1, p = 0`. A layer with kernel :math:`k`, stride :math:`s`,
padding :math:`q` (on the left/top) and dilation :math:`d` maps them to

.. math::
    r' = r + d(k - 1)\,j, \qquad j' = s\,j, \qquad p' = p + q\,j .

Where paths meet (a residual sum, a concatenation), a unit sees the union of what its inputs see:
the largest field when the paths are *aligned* (their fields share a centre), and a lopsided union
when they are not, which this module reports as a warning rather than hiding.

:func:`receptive_field` traces the model with ``torch.fx``, runs it once on zeros to learn every
tensor's shape, and applies those rules node by node. A layer it does not know, or a use of a
known one that it cannot reason about, raises :class:`ReceptiveFieldError`: it never guesses.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.fx
import torch.nn as nn

from dlbook import seeding
from dlbook.receptive.field import Layer, ReceptiveField, ReceptiveFieldError, Region
from dlbook.receptive.walker import Walker

__all__ = [
    "ReceptiveFieldError",
    "Region",
    "Layer",
    "ReceptiveField",
    "receptive_field",
    "effective_receptive_field",
]


def _check_shape(input_shape):
    if not (
        isinstance(input_shape, (tuple, list))
        and len(input_shape) == 3
        and all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in input_shape)
    ):
        raise ValueError(f"input_shape must be (C, H, W), three positive ints; got {input_shape!r}")
    return tuple(input_shape)


def _device_of(model):
    p = next(iter(model.parameters()), None)
    return p.device if p is not None else torch.device("cpu")


def _dtype_of(model):
    p = next(iter(model.parameters()), None)
    return p.dtype if p is not None and p.is_floating_point() else torch.float32


def receptive_field(model: nn.Module, input_shape) -> ReceptiveField:
    """Size, jump and effective padding of ``model``'s output units, with a per-layer table.

    ``input_shape`` is ``(C, H, W)``. The model is traced with ``torch.fx`` (custom modules are
    followed inside) and run once on zeros, in evaluation mode, to learn each tensor's shape.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    c, h, w = _check_shape(input_shape)
    try:
        gm = torch.fx.symbolic_trace(model)
    except Exception as e:  # fx raises several kinds; say what happened in one place
        raise ReceptiveFieldError(
            f"model: torch.fx could not trace it ({type(e).__name__}: {e}). Data-dependent "
            "control flow cannot be traced; pass the traceable part (e.g. model.features)."
        ) from e
    walker = Walker(gm)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = walker.run(
                torch.zeros(1, c, h, w, device=_device_of(model), dtype=_dtype_of(model))
            )
    finally:
        model.train(was_training)
    if not isinstance(out, torch.Tensor):
        raise ReceptiveFieldError("model: it returns more than one tensor; pass one branch")
    out_node = next(nd for nd in gm.graph.nodes if nd.op == "output").args[0]
    field = walker.fields.get(out_node)
    if field is None:
        raise ReceptiveFieldError("model: its output does not depend on the input")
    return ReceptiveField(walker.table(), (c, h, w), field, tuple(out.shape[1:]))


def effective_receptive_field(
    model: nn.Module, input_shape, n: int = 32, seed: int = 0, unit=None, device=None,
    inputs=None,
) -> np.ndarray:  # fmt: skip
    r"""The effective receptive field (Luo et al., 2016): the map of
    :math:`|\partial y_\text{centre} / \partial x|`, summed over input channels and averaged over
    ``n`` standard-normal inputs — or over ``inputs`` ``(N, C, H, W)`` (real images, say), when
    given, which then replace the random draws (``n`` and ``seed`` are not used).

    ``y_centre`` is the sum over output channels of the unit at ``unit`` (default: the centre of
    the output grid). The model runs in evaluation mode; no parameter gradients are touched.
    Returns an ``(H, W)`` float64 array.
    """
    c, h, w = _check_shape(input_shape)
    dev = torch.device(device) if device is not None else _device_of(model)
    if inputs is None:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive int, got {n!r}")
        g = seeding.generator(seed)
        x = torch.randn(n, c, h, w, generator=g, dtype=_dtype_of(model))
    else:
        x = torch.as_tensor(inputs, dtype=_dtype_of(model))
        if x.ndim != 4 or tuple(x.shape[1:]) != (c, h, w) or len(x) == 0:
            raise ValueError(
                f"inputs must have shape (N, {c}, {h}, {w}) to match input_shape, "
                f"got {tuple(x.shape)}"
            )
    x = x.to(dev).requires_grad_()
    was_training = model.training
    model.eval()
    try:
        y = model(x)
        if y.ndim != 4:
            raise ValueError(f"model: needs a spatial (N, C, H, W) output, got shape {y.shape}")
        oh, ow = y.shape[-2:]
        uy, ux = unit if unit is not None else (oh // 2, ow // 2)
        if not (0 <= uy < oh and 0 <= ux < ow):
            raise ValueError(f"unit={unit!r} is outside the output grid {(oh, ow)}")
        (grad,) = torch.autograd.grad(y[:, :, uy, ux].sum(), x)
    finally:
        model.train(was_training)
    return grad.abs().sum(dim=1).mean(dim=0).double().cpu().numpy()
