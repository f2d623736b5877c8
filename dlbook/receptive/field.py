"""The result of :func:`dlbook.receptive_field`: the field of one tensor, the per-layer table
and the input region of one output unit."""

from __future__ import annotations

from dataclasses import dataclass


class ReceptiveFieldError(ValueError):
    """The model holds something whose effect on the receptive field cannot be known."""


@dataclass(frozen=True)
class Field:
    """Size, jump and effective padding along (height, width); ``spatial=False`` once the
    spatial grid has been flattened away (every feature then sees the whole field)."""

    size: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    spatial: bool = True

    def through(self, kernel, stride, pad_before, dilation=(1, 1)) -> Field:
        r, j, p = self.size, self.stride, self.padding
        return Field(
            tuple(r[a] + dilation[a] * (kernel[a] - 1) * j[a] for a in range(2)),
            tuple(j[a] * stride[a] for a in range(2)),
            tuple(p[a] + pad_before[a] * j[a] for a in range(2)),
            self.spatial,
        )

    def centre_offset(self) -> tuple[float, float]:
        """Where unit 0's field is centred, in input pixels (``(r - 1)/2 - p``)."""
        return tuple((self.size[a] - 1) / 2 - self.padding[a] for a in range(2))


@dataclass(frozen=True)
class Region:
    """The input pixels one output unit sees: ``rows`` and ``cols`` are half-open ranges."""

    rows: range
    cols: range

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.rows.start, self.rows.stop), slice(self.cols.start, self.cols.stop)


@dataclass(frozen=True)
class Layer:
    """One row of the table: a node of the traced graph and the field after it."""

    name: str
    kind: str
    size: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    out_shape: tuple[int, ...]
    note: str = ""


def format_pair(pair) -> str:
    """An ``(h, w)`` pair as the table prints it: ``"5"`` when square, ``"5x3"`` otherwise."""
    return f"{pair[0]}" if pair[0] == pair[1] else f"{pair[0]}x{pair[1]}"


class ReceptiveField:
    """What :func:`receptive_field` returns: ``.size``, ``.stride`` (jump) and ``.padding``
    (effective padding) of the model's output, each an ``(h, w)`` pair, and ``.layers``.

    It prints as a text table and renders as an HTML table in Jupyter.
    """

    def __init__(self, layers: list[Layer], input_shape, field: Field, out_shape):
        self.layers = layers
        self.input_shape = tuple(input_shape)
        self.size, self.stride, self.padding = field.size, field.stride, field.padding
        self.spatial = field.spatial
        self.out_shape = tuple(out_shape)

    def __getitem__(self, name: str) -> Layer:
        """The row of the last node run inside the module at path ``name`` (as in
        ``model.named_modules()``): for a block or a stage, the field of its output."""
        for row in reversed(self.layers):
            if row.name == name or row.name.startswith(name + "."):
                return row
        raise KeyError(f"no layer named {name!r}; the names are in .layers")

    def region(self, y: int, x: int, clip: bool = True) -> Region:
        """The input rows and columns that output unit ``(y, x)`` sees. With ``clip=False`` the
        ranges may reach into the padding (below 0 or past the image)."""
        if not self.spatial:
            raise ValueError("region: the model's output has no spatial grid (it was flattened)")
        grid = self.out_shape[-2:]
        for name, u, n in (("y", y, grid[0]), ("x", x, grid[1])):
            if not 0 <= u < n:
                raise ValueError(f"{name}={u} is outside the output grid of size {n}")
        spans = []
        for a, u in enumerate((y, x)):
            lo = u * self.stride[a] - self.padding[a]
            hi = lo + self.size[a]
            if clip:
                lo, hi = max(lo, 0), min(hi, self.input_shape[1 + a])
            spans.append(range(lo, hi))
        return Region(*spans)

    def _rows(self):
        head = ("layer", "kind", "size", "jump", "padding", "output")
        body = [
            (
                r.name,
                r.kind,
                format_pair(r.size),
                format_pair(r.stride),
                format_pair(r.padding),
                "x".join(str(s) for s in r.out_shape),
            )
            for r in self.layers
        ]
        return head, body

    def __repr__(self) -> str:
        head, body = self._rows()
        widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
        line = lambda row: "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip()  # noqa: E731
        out = [line(head), line(["-" * w for w in widths])] + [line(r) for r in body]
        out.append(
            f"receptive field {format_pair(self.size)} px, jump {format_pair(self.stride)}, "
            f"effective padding {format_pair(self.padding)}"
        )
        notes = [f"{r.name}: {r.note}" for r in self.layers if r.note]
        return "\n".join(out + [f"note: {n}" for n in notes])

    def _repr_html_(self) -> str:
        from html import escape

        head, body = self._rows()
        th = "".join(f"<th>{escape(h)}</th>" for h in head)
        trs = "".join(
            "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in body
        )
        caption = escape(
            f"receptive field {format_pair(self.size)} px, jump {format_pair(self.stride)}, "
            f"effective padding {format_pair(self.padding)}"
        )
        return (
            f'<table class="dlbook-rf"><caption>{caption}</caption>'
            f"<thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>"
        )
