"""A network at a glance: each layer's output shape, parameters, multiply-adds and receptive field.

:func:`summary` runs the model once on zeros, recording every leaf module it calls (in the order
they run, once per call), and traces it with :func:`dlbook.receptive_field` for the field each
layer's units see. Multiply-adds count the products a convolution or a linear layer computes for
one image (a multiply-add, or MAC, is one product added to a sum); normalization, activation and
pooling layers are counted as none, as is usual, since their few operations per element are dwarfed
by the products.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

import torch
import torch.nn as nn

from dlbook.receptive import ReceptiveFieldError, receptive_field
from dlbook.receptive.field import format_pair

__all__ = ["Row", "Summary", "summary", "mult_adds"]


@dataclass(frozen=True)
class Row:
    """One call of a leaf module: its path in ``named_modules()``, its class, output shape (no
    batch axis), its own trainable parameters (counted on its first call only), multiply-adds per
    image, and the receptive field ``(h, w)`` of its output units (``None`` where the field was
    not traced)."""

    name: str
    kind: str
    out_shape: tuple[int, ...]
    params: int
    mult_adds: int
    field: tuple[int, int] | None


def mult_adds(module: nn.Module, output: torch.Tensor) -> int:
    """Multiply-adds ``module`` computed to give ``output`` for ONE image (batch axis dropped).

    ``Conv2d``/``Conv1d``: each output number is a sum of ``C_in / groups * prod(kernel)``
    products. ``Linear``: ``in_features`` products per output number. Anything else: 0.
    """
    per_image = output.numel() // max(output.shape[0], 1)
    if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        k = 1
        for v in module.kernel_size:
            k *= v
        return per_image * (module.in_channels // module.groups) * k
    if isinstance(module, nn.Linear):
        return per_image * module.in_features
    return 0


class Summary:
    """What :func:`summary` returns: ``.rows`` (:class:`Row`), ``.params`` (trainable numbers of
    the whole model), ``.mult_adds`` (per image), ``.out_shape``, and ``.field``, the
    :class:`~dlbook.receptive.ReceptiveField` of the model's output (``None`` if it could not be
    traced). It prints as a text table and renders as an HTML table in Jupyter."""

    def __init__(self, rows, params, out_shape, field, input_shape):
        self.rows = list(rows)
        self.params = int(params)
        self.mult_adds = sum(r.mult_adds for r in self.rows)
        self.out_shape = tuple(out_shape)
        self.field = field
        self.input_shape = tuple(input_shape)

    def __getitem__(self, name: str) -> Row:
        """The last call of the leaf module at path ``name``."""
        for row in reversed(self.rows):
            if row.name == name:
                return row
        raise KeyError(f"no leaf module named {name!r}; the names are in .rows")

    def _table(self):
        head = ("layer", "kind", "output", "params", "mult-adds", "field")
        body = [
            (
                r.name,
                r.kind,
                "x".join(str(s) for s in r.out_shape),
                f"{r.params:,}",
                f"{r.mult_adds:,}",
                "" if r.field is None else format_pair(r.field),
            )
            for r in self.rows
        ]
        return head, body

    def footer(self) -> str:
        """The one-line total: parameters, multiply-adds and the output's receptive field."""
        field = "" if self.field is None else f"; receptive field {format_pair(self.field.size)} px"
        return (
            f"{self.params:,} parameters; {self.mult_adds:,} multiply-adds per "
            f"{'x'.join(map(str, self.input_shape))} image{field}"
        )

    def __repr__(self) -> str:
        head, body = self._table()
        widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
        right = {3, 4}
        fmt = lambda row: "  ".join(  # noqa: E731
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))
        ).rstrip()
        lines = [fmt(head), fmt(["-" * w for w in widths]), *(fmt(r) for r in body)]
        return "\n".join([*lines, self.footer()])

    def _repr_html_(self) -> str:
        head, body = self._table()
        th = "".join(f"<th>{escape(h)}</th>" for h in head)
        trs = "".join(
            "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in body
        )
        return (
            f'<table class="dlbook-summary"><caption>{escape(self.footer())}</caption>'
            f"<thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>"
        )


def _fields_by_call(field) -> dict[str, list[tuple[int, int]]]:
    """Each module path's receptive-field sizes, one per call, in the order they ran."""
    out: dict[str, list[tuple[int, int]]] = {}
    for layer in field.layers if field is not None else ():
        out.setdefault(layer.name, []).append(tuple(layer.size))
    return out


def summary(model: nn.Module, input_shape, trace_field: bool = True) -> Summary:
    """Output shape, parameters, multiply-adds and receptive field of every leaf module of
    ``model`` for one ``input_shape = (C, H, W)`` image.

    The model runs once on zeros in evaluation mode (its mode is restored) on its own device. With
    ``trace_field=True`` the receptive fields come from :func:`dlbook.receptive_field`; a model it
    cannot trace raises its :class:`~dlbook.receptive.ReceptiveFieldError`. With
    ``trace_field=False`` the field column stays empty.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not (
        isinstance(input_shape, (tuple, list))
        and len(input_shape) == 3
        and all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in input_shape)
    ):
        raise ValueError(f"input_shape must be (C, H, W), three positive ints; got {input_shape!r}")
    field = receptive_field(model, tuple(input_shape)) if trace_field else None
    fields = _fields_by_call(field)
    names = {m: n for n, m in model.named_modules()}
    calls: list[tuple[str, nn.Module, torch.Tensor]] = []

    def hook(module, _inputs, output):
        if isinstance(output, torch.Tensor):
            calls.append((names[module], module, output.detach()))

    leaves = [m for m in model.modules() if next(iter(m.children()), None) is None]
    handles = [m.register_forward_hook(hook) for m in leaves if m is not model or not leaves]
    p = next(iter(model.parameters()), None)
    device = p.device if p is not None else torch.device("cpu")
    dtype = p.dtype if p is not None and p.is_floating_point() else torch.float32
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(torch.zeros(1, *input_shape, device=device, dtype=dtype))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    if not isinstance(out, torch.Tensor):
        raise ReceptiveFieldError("model: it returns more than one tensor")
    rows, seen, occurrence = [], set(), {}
    for name, module, output in calls:
        k = occurrence.get(name, 0)
        occurrence[name] = k + 1
        sizes = fields.get(name, [])
        own = 0
        if id(module) not in seen:
            seen.add(id(module))
            own = sum(q.numel() for q in module.parameters(recurse=False) if q.requires_grad)
        rows.append(
            Row(
                name,
                type(module).__name__,
                tuple(output.shape[1:]),
                own,
                mult_adds(module, output),
                sizes[min(k, len(sizes) - 1)] if sizes else None,
            )
        )
    params = sum(q.numel() for q in model.parameters() if q.requires_grad)
    return Summary(rows, params, out.shape[1:], field, input_shape)
