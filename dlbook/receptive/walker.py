"""Walking a traced graph: run it on zeros and carry a field beside every tensor."""

from __future__ import annotations

import warnings

import torch
import torch.fx

from dlbook.receptive.field import Field, Layer, ReceptiveFieldError, format_pair
from dlbook.receptive.rules import Rules
from dlbook.shapes import window_count


class Walker(Rules, torch.fx.Interpreter):
    """Runs the traced graph on zeros and carries a :class:`Field` beside every tensor."""

    def __init__(self, gm: torch.fx.GraphModule):
        super().__init__(gm)
        self.extra_traceback = False  # our errors say what went wrong; fx's node dump adds noise
        self.fields: dict[torch.fx.Node, Field | None] = {}
        self.rows: list[Layer] = []
        self.owners: list[tuple[str, str] | None] = []

    def run_node(self, n: torch.fx.Node):
        result = super().run_node(n)
        if n.op == "output":
            return result
        field, kind, note = self._field(n, result)
        self.fields[n] = field
        if field is not None and n.op != "placeholder" and isinstance(result, torch.Tensor):
            owner = None  # for a function call inside a custom module: (its path, its class)
            if n.op == "call_module":
                name = n.target
            else:
                stack = list((n.meta.get("nn_module_stack") or {}).values())
                owner = (stack[-1][0], stack[-1][1].__name__) if stack else None
                name = owner[0] if owner else n.name
            shape = tuple(result.shape)
            row = Layer(name, kind, field.size, field.stride, field.padding, shape, note)
            self.rows.append(row)
            self.owners.append(owner)
        return result

    def table(self) -> list[Layer]:
        """The rows, with the function calls inside a small custom module that holds no modules
        of its own (a scaled tanh, say) folded into one row named after that module."""
        out, owners = [], []
        for row, owner in zip(self.rows, self.owners):
            path = owner[0] if owner else None
            foldable = path is not None and not any(
                r.name.startswith(path + ".") for r in self.rows
            )
            if foldable and owners and owners[-1] is not None and owners[-1][0] == path:
                note = "; ".join(x for x in (out[-1].note, row.note) if x)
                out[-1] = Layer(path, owner[1], row.size, row.stride, row.padding, row.out_shape,
                                note)  # fmt: skip
                continue
            out.append(row)
            owners.append(owner)
        return out

    # -- helpers --
    def _inputs(self, n):
        """The fields of the tensor arguments of ``n`` (in order), skipping non-tensors."""
        found = []
        for a in n.all_input_nodes:
            f = self.fields.get(a)
            if f is not None:
                found.append((a, f))
        return found

    def _one(self, n) -> Field:
        ins = self._inputs(n)
        if len(ins) != 1:
            raise ReceptiveFieldError(
                f"{self._where(n)}: expected one tensor input, found {len(ins)}"
            )
        return ins[0][1]

    def _where(self, n) -> str:
        if n.op == "call_module":
            m = self.module.get_submodule(n.target)
            return f"module '{n.target}' ({type(m).__name__})"
        return f"node '{n.name}' ({getattr(n.target, '__name__', n.target)})"

    def _in_shape(self, n):
        return tuple(self.env[n.all_input_nodes[0]].shape)

    def _check_grid(self, n, result, expected):
        got = tuple(result.shape[-2:])
        if got != tuple(expected):
            raise ReceptiveFieldError(
                f"{self._where(n)}: its output grid is {got}, but its kernel, stride and "
                f"padding predict {tuple(expected)}"
            )

    def _window(self, n, result, kernel, stride, pad, dilation=(1, 1), kind="conv", ceil=False):
        """A sliding-window layer (convolution or pooling)."""
        f = self._one(n)
        if not f.spatial:
            raise ReceptiveFieldError(f"{self._where(n)}: applied after the grid was flattened")
        h, w = self._in_shape(n)[-2:]
        before = tuple(p[0] for p in pad)
        expected = []
        for a, size in enumerate((h, w)):
            expected.append(window_count(size, kernel[a], stride[a], pad[a], dilation[a], ceil))
        self._check_grid(n, result, expected)
        return f.through(kernel, stride, before, dilation), kind, ""

    def merge(self, n, result, kind):
        """Where paths meet (``+``, ``cat``, ...): the union of the inputs' fields.

        The inputs must share their jump (stride), or their units would not line up; the merged
        field reaches as far left and as far right as any input's does. Fields with different
        centres are merged too, with a note and a warning: the paths are not aligned.
        Returns ``(field, kind, note)``, as every rule does.
        """
        ins = self._inputs(n)
        if not ins:
            return None, kind, ""
        fields = [f for _, f in ins]
        if len(fields) == 1:
            return fields[0], kind, ""
        if len({f.spatial for f in fields}) > 1:
            raise ReceptiveFieldError(f"{self._where(n)}: mixes a flattened and a spatial tensor")
        if len({f.stride for f in fields}) > 1:
            raise ReceptiveFieldError(
                f"{self._where(n)}: its inputs have different jumps "
                f"({', '.join(format_pair(f.stride) for f in fields)}), "
                "so their units do not line up"
            )
        pad = tuple(max(f.padding[a] for f in fields) for a in range(2))
        end = tuple(max(f.size[a] - 1 - f.padding[a] for f in fields) for a in range(2))
        size = tuple(end[a] + pad[a] + 1 for a in range(2))
        merged = Field(size, fields[0].stride, pad, fields[0].spatial)
        centres = {f.centre_offset() for f in fields}
        note = ""
        if len(centres) > 1:
            note = (
                "paths not aligned (their fields have different centres: "
                + ", ".join(f"{c[0]:g},{c[1]:g}" for c in sorted(centres))
                + "); the field is their union"
            )
            warnings.warn(f"receptive_field: {self._where(n)}: {note}", stacklevel=2)
        return merged, kind, note

    # -- the rules --
