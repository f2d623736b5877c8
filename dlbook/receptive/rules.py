"""How each kind of graph node moves the receptive field: the dispatch on modules, functions
and methods, and the rules for element-wise layers, merges, flattening and pooling."""

from __future__ import annotations

import operator

import torch
import torch.fx
import torch.nn as nn
import torch.nn.functional as F

from dlbook.receptive.field import Field, ReceptiveFieldError

# --- what each kind of node does to the field --------------------------------------------------

_POINTWISE_MODULES = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU,
    nn.Mish, nn.Sigmoid, nn.Tanh, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid, nn.Softplus,
    nn.Identity, nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.AlphaDropout,
    nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm, nn.InstanceNorm2d, nn.LocalResponseNorm,
)  # fmt: skip
# Normalization layers count as pointwise: their statistics are treated as constants, as in the
# receptive-field literature (and as they are at inference time for batch norm).

_POINTWISE_FUNCTIONS = {
    F.relu, F.relu6, F.leaky_relu, F.elu, F.gelu, F.silu, F.sigmoid, F.tanh, F.hardtanh,
    F.dropout, F.dropout2d, F.batch_norm, F.local_response_norm, F.softplus,
    torch.relu, torch.sigmoid, torch.tanh, torch.exp, torch.abs, torch.neg, torch.sqrt,
    operator.neg, operator.abs,
}  # fmt: skip
_MERGE_FUNCTIONS = {
    operator.add, operator.sub, operator.mul, operator.truediv, operator.iadd, operator.imul,
    torch.add, torch.sub, torch.mul, torch.div, torch.maximum, torch.minimum,
}  # fmt: skip
_POINTWISE_METHODS = {
    "relu", "sigmoid", "tanh", "exp", "abs", "neg", "sqrt", "contiguous", "clone", "float",
    "double", "to", "relu_", "sigmoid_", "tanh_",
}  # fmt: skip
_MERGE_METHODS = {"add", "sub", "mul", "div", "add_", "mul_"}


def _pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _flat(value):
    if isinstance(value, (tuple, list)):
        for v in value:
            yield from _flat(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _flat(v)
    else:
        yield value


def _bind(n, names) -> dict:
    bound = dict(zip(names, n.args))
    bound.update(n.kwargs)
    return bound


class Rules:
    """The rules; :class:`dlbook.receptive.walker.Walker` supplies ``_one``, ``_where``,
    ``_in_shape``, ``_window`` and ``merge``."""

    def _field(self, n, result):
        if n.op == "placeholder":
            return Field(), "input", ""
        if n.op == "get_attr":
            return None, "constant", ""
        if not isinstance(result, torch.Tensor):
            if any(isinstance(v, torch.Tensor) for v in _flat(result)):
                raise ReceptiveFieldError(
                    f"{self._where(n)} returns several tensors; receptive_field follows single "
                    "tensors only"
                )
            return None, "value", ""
        if n.op == "call_module":
            return self._module_rule(n, result, self.module.get_submodule(n.target))
        if n.op == "call_function":
            return self._function_rule(n, result)
        if n.op == "call_method":
            return self._method_rule(n, result)
        raise ReceptiveFieldError(f"{self._where(n)}: unexpected graph node of kind {n.op}")

    def _module_rule(self, n, result, m):
        name = type(m).__name__
        if isinstance(m, _POINTWISE_MODULES):
            return self._pointwise(n, result, name)
        if isinstance(m, nn.Conv2d):
            if m.padding_mode == "circular":
                raise ReceptiveFieldError(f"{self._where(n)}: circular padding wraps the image")
            pad = m._reversed_padding_repeated_twice  # (left, right, top, bottom)
            pads = ((pad[2], pad[3]), (pad[0], pad[1]))
            return self._window(n, result, m.kernel_size, m.stride, pads, m.dilation, name)
        if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
            k, s, p = _pair(m.kernel_size), _pair(m.stride or m.kernel_size), _pair(m.padding)
            d = _pair(getattr(m, "dilation", 1))
            pads = ((p[0], p[0]), (p[1], p[1]))
            return self._window(n, result, k, s, pads, d, name, ceil=m.ceil_mode)
        if isinstance(m, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
            return self._adaptive(n, result, name)
        if isinstance(m, (nn.ZeroPad2d, nn.ConstantPad2d, nn.ReflectionPad2d, nn.ReplicationPad2d)):
            return self._pad(n, result, m.padding, name)
        if isinstance(m, nn.Flatten):
            return self._flatten(n, result, m.start_dim, name)
        if isinstance(m, nn.Linear):
            return self._linear(n, result, name)
        if isinstance(m, (nn.Softmax, nn.LogSoftmax)):
            return self._softmax(n, result, m.dim, name)
        if isinstance(m, nn.LayerNorm):
            return self._layer_norm(n, result, len(m.normalized_shape), name)
        raise ReceptiveFieldError(
            f"{self._where(n)}: receptive_field does not know how this module maps input pixels "
            "to output pixels, so it will not guess. Known: Conv2d, MaxPool2d, AvgPool2d, "
            "adaptive pooling, padding, Flatten, Linear after Flatten, and element-wise layers."
        )

    def _function_rule(self, n, result):
        fn, name = n.target, getattr(n.target, "__name__", str(n.target))
        if fn in _POINTWISE_FUNCTIONS:
            return self._pointwise(n, result, name)
        if fn in _MERGE_FUNCTIONS:
            return self.merge(n, result, name)
        if fn is torch.cat:
            dim = n.kwargs.get("dim", n.args[1] if len(n.args) > 1 else 0)
            if dim % result.ndim != 1:
                raise ReceptiveFieldError(f"{self._where(n)}: concatenates along dim {dim}")
            return self.merge(n, result, "cat")
        if fn in (torch.flatten,):
            start = n.kwargs.get("start_dim", n.args[1] if len(n.args) > 1 else 0)
            return self._flatten(n, result, start, name)
        if fn in (F.max_pool2d, F.avg_pool2d):
            a = _bind(n, ("input", "kernel_size", "stride", "padding"))
            k = _pair(a["kernel_size"])
            s = _pair(a.get("stride") or k)
            p = _pair(a.get("padding", 0))
            d = _pair(n.kwargs.get("dilation", n.args[4] if len(n.args) > 4 else 1))
            d = d if fn is F.max_pool2d else (1, 1)
            ceil = n.kwargs.get("ceil_mode", False)
            pads = ((p[0], p[0]), (p[1], p[1]))
            return self._window(n, result, k, s, pads, d, name, ceil=ceil)
        if fn is F.conv2d:
            a = _bind(n, ("input", "weight", "bias", "stride", "padding", "dilation", "groups"))
            k = tuple(self.env[a["weight"]].shape[-2:])
            s, d = _pair(a.get("stride", 1)), _pair(a.get("dilation", 1))
            p = a.get("padding", 0)
            if p == "same":
                pads = tuple((t // 2, t - t // 2) for t in (d[i] * (k[i] - 1) for i in range(2)))
            else:
                p = (0, 0) if p == "valid" else _pair(p)
                pads = ((p[0], p[0]), (p[1], p[1]))
            return self._window(n, result, k, s, pads, d, name)
        if fn in (F.adaptive_avg_pool2d, F.adaptive_max_pool2d):
            return self._adaptive(n, result, name)
        if fn is F.pad:
            return self._pad(n, result, _bind(n, ("input", "pad"))["pad"], name)
        if fn is torch.mean or fn is torch.amax or fn is torch.sum:
            return self._reduce(n, result, name)
        raise ReceptiveFieldError(
            f"{self._where(n)}: receptive_field does not know this function, so it will not guess"
        )

    def _method_rule(self, n, result):
        name = n.target
        if name in _POINTWISE_METHODS:
            return self._pointwise(n, result, name)
        if name in _MERGE_METHODS:
            return self.merge(n, result, name)
        if name == "flatten":
            start = n.kwargs.get("start_dim", n.args[1] if len(n.args) > 1 else 0)
            return self._flatten(n, result, start, name)
        if name in ("view", "reshape"):
            before = self._in_shape(n)
            if tuple(result.shape) == before:
                return self._pointwise(n, result, name)
            if result.ndim == 2 and result.shape[0] == before[0]:
                return self._flatten(n, result, 1, name)
            raise ReceptiveFieldError(f"{self._where(n)}: reshapes {before} to {result.shape}")
        if name in ("mean", "amax", "sum"):
            return self._reduce(n, result, name)
        raise ReceptiveFieldError(
            f"{self._where(n)}: receptive_field does not know the method .{name}(), so it will "
            "not guess"
        )

    def _pointwise(self, n, result, kind):
        f = self._one(n)
        if f.spatial and tuple(result.shape[-2:]) != self._in_shape(n)[-2:]:
            raise ReceptiveFieldError(f"{self._where(n)}: changes the spatial grid")
        return f, kind, ""

    def _collapse(self, n, f: Field, grid, kind):
        """Every output sees every unit of the ``grid``: a window as large as the grid."""
        if not f.spatial:
            return f, kind, ""
        g = f.through(tuple(grid), tuple(grid), (0, 0))
        whole = f"each output sees the whole {grid[0]}x{grid[1]} grid"
        note = "" if tuple(grid) == (1, 1) else whole
        return Field(g.size, g.stride, g.padding, spatial=False), kind, note

    def _flatten(self, n, result, start_dim, kind):
        f = self._one(n)
        shape = self._in_shape(n)
        if not f.spatial:
            return f, kind, ""
        if start_dim % len(shape) > 1:
            raise ReceptiveFieldError(f"{self._where(n)}: flattens only part of the grid")
        return self._collapse(n, f, shape[-2:], kind)

    def _reduce(self, n, result, kind):
        f = self._one(n)
        shape = self._in_shape(n)
        dims = n.kwargs.get("dim", n.args[1] if len(n.args) > 1 else None)
        dims = {d % len(shape) for d in ((dims,) if isinstance(dims, int) else dims or ())}
        if not f.spatial or dims.isdisjoint({len(shape) - 2, len(shape) - 1}):
            return f, kind, ""
        if {len(shape) - 2, len(shape) - 1} <= dims:
            g, _, note = self._collapse(n, f, shape[-2:], kind)
            keep = result.ndim == len(shape)  # keepdim: still an (N, C, 1, 1) grid
            return Field(g.size, g.stride, g.padding, spatial=keep), kind, note
        raise ReceptiveFieldError(f"{self._where(n)}: reduces over only one spatial axis")

    def _adaptive(self, n, result, kind):
        before, after = self._in_shape(n)[-2:], tuple(result.shape[-2:])
        if any(b % a for b, a in zip(before, after)):
            raise ReceptiveFieldError(
                f"{self._where(n)}: adaptive pooling from {before} to {after} uses windows of "
                "unequal sizes, which have no single receptive field"
            )
        k = tuple(b // a for b, a in zip(before, after))
        pads = ((0, 0), (0, 0))
        return self._window(n, result, k, k, pads, (1, 1), kind)

    def _pad(self, n, result, padding, kind):
        f = self._one(n)
        p = (padding,) * 4 if isinstance(padding, int) else tuple(padding)
        if len(p) != 4:
            raise ReceptiveFieldError(f"{self._where(n)}: pads {len(p) // 2} axes, not 2")
        return f.through((1, 1), (1, 1), (p[2], p[0])), kind, ""

    def _linear(self, n, result, kind):
        f = self._one(n)
        if f.spatial:
            raise ReceptiveFieldError(
                f"{self._where(n)}: a Linear layer on a spatial tensor mixes its width axis; "
                "flatten first"
            )
        return f, kind, ""

    def _softmax(self, n, result, dim, kind):
        f = self._one(n)
        if f.spatial and (dim is None or dim % result.ndim >= result.ndim - 2):
            raise ReceptiveFieldError(f"{self._where(n)}: a softmax over a spatial axis")
        return f, kind, ""

    def _layer_norm(self, n, result, dims, kind):
        f = self._one(n)
        if f.spatial and result.ndim - dims < result.ndim - 1:
            raise ReceptiveFieldError(
                f"{self._where(n)}: a LayerNorm over the spatial axes mixes every pixel"
            )
        return f, kind, ""
