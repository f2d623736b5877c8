"""dlbook.scratch's signatures against torch's: parameter names, order, kinds and defaults.

- Every mirrored function and class takes torch's parameters, in torch's order, with torch's
  defaults. The only differences allowed are listed below, each with its reason.
- Every ``f_backward`` is ``(grad_output, <f's parameters, same order, same defaults>)``.
- Every naive version (``f_naive``, ``f_backward_naive``) has the signature of its fast twin.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import typing

import pytest
import torch
import torch.nn.functional as F

import dlbook.scratch as scratch

P = inspect.Parameter
POSITIONAL = (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD)

# dlbook name (dotted below dlbook.scratch) -> torch twin
FUNCTIONS = {
    "conv2d": F.conv2d,
    "conv_transpose2d": F.conv_transpose2d,
    "max_pool2d": F.max_pool2d,
    "avg_pool2d": F.avg_pool2d,
    "batch_norm": F.batch_norm,
    "layer_norm": F.layer_norm,
    "linear": F.linear,
    "relu": F.relu,
    "sigmoid": F.sigmoid,
    "tanh": F.tanh,
    "leaky_relu": F.leaky_relu,
    "elu": F.elu,
    "gelu": F.gelu,
    "silu": F.silu,
    "softmax": F.softmax,
    "log_softmax": F.log_softmax,
    "logsumexp": torch.logsumexp,
    "dropout": F.dropout,
    "cross_entropy": F.cross_entropy,
    "nll_loss": F.nll_loss,
    "mse_loss": F.mse_loss,
    "l1_loss": F.l1_loss,
    "smooth_l1_loss": F.smooth_l1_loss,
    "huber_loss": F.huber_loss,
    "binary_cross_entropy": F.binary_cross_entropy,
    "binary_cross_entropy_with_logits": F.binary_cross_entropy_with_logits,
    "kl_div": F.kl_div,
    "multi_margin_loss": F.multi_margin_loss,
    "hinge_embedding_loss": F.hinge_embedding_loss,
    "scaled_dot_product_attention": F.scaled_dot_product_attention,
    "embedding": F.embedding,
    "multi_head_attention_forward": F.multi_head_attention_forward,
    "pack_padded_sequence": torch.nn.utils.rnn.pack_padded_sequence,
    "pad_packed_sequence": torch.nn.utils.rnn.pad_packed_sequence,
    "pad_sequence": torch.nn.utils.rnn.pad_sequence,
    "pack_sequence": torch.nn.utils.rnn.pack_sequence,
    "init.calculate_gain": torch.nn.init.calculate_gain,
    "init.uniform_": torch.nn.init.uniform_,
    "init.normal_": torch.nn.init.normal_,
    "init.zeros_": torch.nn.init.zeros_,
    "init.xavier_uniform_": torch.nn.init.xavier_uniform_,
    "init.xavier_normal_": torch.nn.init.xavier_normal_,
    "init.kaiming_uniform_": torch.nn.init.kaiming_uniform_,
    "init.kaiming_normal_": torch.nn.init.kaiming_normal_,
    "clip_grad_norm_": torch.nn.utils.clip_grad_norm_,
    "clip_grad_value_": torch.nn.utils.clip_grad_value_,
}
CLASSES = {
    name: getattr(torch.nn, name)
    for name in (
        "Conv2d", "Linear", "MaxPool2d", "AvgPool2d", "ReLU", "Tanh", "Sigmoid", "Flatten",
        "BatchNorm1d", "BatchNorm2d", "LayerNorm", "Dropout", "RNN", "LSTM", "GRU", "Embedding",
        "MultiheadAttention",
    )
} | {
    f"optim.{name}": getattr(torch.optim, name)
    for name in ("SGD", "Adagrad", "RMSprop", "Adam", "AdamW")
} | {
    f"lr_scheduler.{name}": getattr(torch.optim.lr_scheduler, name)
    for name in ("StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "LinearLR",
                 "LambdaLR", "SequentialLR", "OneCycleLR")
}  # fmt: skip

# torch parameters dlbook may leave out, and why
TORCH_ONLY = {
    "_stacklevel": "private to torch (where its deprecation warning points)",
    "out": "writes into a preallocated torch tensor",
    "foreach": "a choice among torch's kernels, same results",
    "fused": "a choice among torch's kernels, same results",
    "capturable": "CUDA-graph capture, a torch runtime concern",
    "differentiable": "autograd through the optimizer step, a torch runtime concern",
}
TORCH_ONLY_IN: dict[tuple[str, str], str] = {}  # the same, for one function only
# (dlbook name, torch parameter) -> dlbook parameter, and why (API.md names them so)
RENAMED = {
    **{
        (f"init.{f}", "tensor"): ("array", "dlbook fills NumPy arrays (API.md)")
        for f in (
            "uniform_",
            "normal_",
            "zeros_",
            "xavier_uniform_",
            "xavier_normal_",
            "kaiming_uniform_",
            "kaiming_normal_",
        )
    },
    **{
        (f"init.{f}", "generator"): ("rng", "a numpy.random.Generator (API.md)")
        for f in (
            "uniform_",
            "normal_",
            "xavier_uniform_",
            "xavier_normal_",
            "kaiming_uniform_",
            "kaiming_normal_",
        )
    },
    ("clip_grad_norm_", "parameters"): ("grads", "NumPy arrays carry no .grad: dlbook clips them"),
    ("clip_grad_value_", "parameters"): ("grads", "NumPy arrays carry no .grad: dlbook clips them"),
}
# (dlbook name or "*", parameter) whose default may differ from torch's, and why
DEFAULT_DIFFERS = {
    ("softmax", "dim"): "torch's None picks a dim implicitly, deprecated with a warning",
    ("log_softmax", "dim"): "torch's None picks a dim implicitly, deprecated with a warning",
}
# functions whose parameter positions follow API.md rather than torch, and why (the names and
# defaults are still compared)
API_ORDER = {
    "dropout": "API.md's dropout(input, p, training, rng): rng 4th, torch's inplace after it; a "
    "bool 4th is read as torch's positional inplace",
}
# trailing parameters dlbook adds, and why
DLBOOK_EXTRAS = {
    "rng": "the numpy.random.Generator to draw from; torch draws from its global generator",
}


# --- reading torch's signatures -------------------------------------------------------------------


def _from_docstring(fn, name: str) -> list[P]:
    """The signature line of a builtin's docstring, e.g. ``conv2d(input, weight, ...) -> Tensor``
    (it may run over several lines)."""
    doc = inspect.getdoc(fn) or ""
    start = doc.find(f"{name}(")
    if start < 0:
        raise LookupError(f"no signature line for {name} in torch's docstring")
    depth, i = 0, start + len(name)
    for i in range(start + len(name), len(doc)):
        depth += {"(": 1, ")": -1}.get(doc[i], 0)
        if depth == 0:
            break
    inner = " ".join(doc[start + len(name) + 1 : i].split())
    args = ast.parse(f"def f({inner}): pass").body[0].args

    def value(node):
        try:
            return ast.literal_eval(node)
        except ValueError:
            return ast.unparse(node)

    params = []
    positional = args.posonlyargs + args.args
    defaults = [P.empty] * (len(positional) - len(args.defaults)) + args.defaults
    for a, d in zip(positional, defaults):
        params.append(P(a.arg, P.POSITIONAL_OR_KEYWORD, default=d if d is P.empty else value(d)))
    for a, d in zip(args.kwonlyargs, args.kw_defaults):
        params.append(P(a.arg, P.KEYWORD_ONLY, default=P.empty if d is None else value(d)))
    return params


def torch_parameters(obj, name: str) -> list[P]:
    """torch's parameters of a function or a class's constructor (its first overload where
    ``__init__`` is overloaded, as for nn.RNN), without ``self`` and ``*args``/``**kwargs``."""
    if inspect.isclass(obj):
        overloads = typing.get_overloads(obj.__init__)
        sig = inspect.signature(overloads[0]) if overloads else inspect.signature(obj)
        params = list(sig.parameters.values())
    else:
        try:
            params = list(inspect.signature(obj).parameters.values())
        except ValueError:
            params = None
        if params is None or any(p.kind == P.VAR_POSITIONAL for p in params):
            params = _from_docstring(obj, obj.__name__)  # builtins, boolean_dispatch
    return [
        p for p in params if p.name != "self" and p.kind not in (P.VAR_POSITIONAL, P.VAR_KEYWORD)
    ]


def ours(name: str):
    obj = scratch
    for part in name.split("."):
        obj = getattr(obj, part, None)
    return obj


def _params(obj) -> list[P]:
    sig = inspect.signature(obj)
    return [p for p in sig.parameters.values() if p.name != "self"]


def _same(a, b) -> bool:
    if a is P.empty or b is P.empty or isinstance(a, bool) or isinstance(b, bool):
        return a is b or (type(a) is type(b) and a == b)
    try:
        return bool(a == b) and (a is None) == (b is None)
    except Exception:  # noqa: BLE001 -- incomparable defaults are different defaults
        return False


def _show(p: P) -> str:
    return p.name if p.default is P.empty else f"{p.name}={p.default!r}"


# --- the comparison -------------------------------------------------------------------------------


def mismatches(name: str, our_params: list[P], their_params: list[P], used=None) -> list[str]:
    """Every way ``our_params`` differ from torch's, in words (none: an empty list). ``used``
    collects the allowances that were needed."""
    used = set() if used is None else used
    problems, matched, dropped_before = [], [], False
    by_name = {p.name: p for p in our_params}
    for i, t in enumerate(their_params):
        new_name, _ = RENAMED.get((name, t.name), (t.name, ""))
        if new_name != t.name:
            used.add(("RENAMED", (name, t.name)))
        o = by_name.get(new_name)
        if o is None:
            if t.name in TORCH_ONLY or (name, t.name) in TORCH_ONLY_IN:
                key = (name, t.name) if (name, t.name) in TORCH_ONLY_IN else t.name
                used.add(("TORCH_ONLY_IN" if key != t.name else "TORCH_ONLY", key))
                dropped_before = True
                continue
            problems.append(f"torch's parameter {_show(t)} (position {i}) is missing")
            dropped_before = True
            continue
        matched.append(o.name)
        j = our_params.index(o)
        if name in API_ORDER and i != j:
            used.add(("API_ORDER", name))
        elif t.kind in POSITIONAL and o.kind in POSITIONAL and i != j:
            hint = " (make it keyword-only)" if dropped_before else ""
            problems.append(f"{o.name} is positional argument {j}, torch's is {i}{hint}")
        elif t.kind in POSITIONAL and o.kind == P.KEYWORD_ONLY and not dropped_before:
            problems.append(f"{o.name} is keyword-only, torch takes it as positional argument {i}")
        elif t.kind == P.KEYWORD_ONLY and o.kind in POSITIONAL:
            problems.append(f"{o.name} is positional, torch's is keyword-only")
        differs_ok = (name, t.name) in DEFAULT_DIFFERS or ("*", t.name) in DEFAULT_DIFFERS
        if differs_ok and not _same(o.default, t.default):
            key = (name, t.name) if (name, t.name) in DEFAULT_DIFFERS else ("*", t.name)
            used.add(("DEFAULT_DIFFERS", key))
        elif not _same(o.default, t.default):
            ours_d = "none" if o.default is P.empty else repr(o.default)
            theirs_d = "none" if t.default is P.empty else repr(t.default)
            problems.append(f"{o.name}: default {ours_d}, torch's {theirs_d}")
    order = [p.name for p in our_params if p.name in matched]
    if order != matched:
        problems.append(f"order {order}, torch's {matched}")
    last = max((our_params.index(by_name[m]) for m in matched), default=-1)
    for k, o in enumerate(our_params):
        if o.name in matched:
            continue
        used.add(("DLBOOK_EXTRAS", o.name))
        if o.name not in DLBOOK_EXTRAS:
            problems.append(f"{_show(o)} is not torch's (torch has no such parameter)")
        elif (k < last and name not in API_ORDER) or o.default is P.empty:
            problems.append(f"{_show(o)} must come after torch's parameters, with a default")
    return problems


def _report(name: str, problems: list[str], ours_obj, theirs: list[P]) -> str:
    ours_sig = ", ".join(_show(p) for p in _params(ours_obj))
    theirs_sig = ", ".join(_show(p) for p in theirs)
    lines = "\n".join(f"  - {p}" for p in problems)
    return f"{name}:\n{lines}\n  ours:  ({ours_sig})\n  torch: ({theirs_sig})"


@pytest.mark.parametrize("name", list(FUNCTIONS) + list(CLASSES))
def test_signature_is_torchs(name):
    obj = ours(name)
    if obj is None:
        pytest.skip(f"dlbook.scratch has no {name} (yet)")
    twin = FUNCTIONS.get(name) or CLASSES[name]
    theirs = torch_parameters(twin, name.split(".")[-1])
    problems = mismatches(name, _params(obj), theirs)
    if problems:
        pytest.fail(_report(name, problems, obj, theirs), pytrace=False)


def test_every_allowance_is_still_needed():
    """An allowed difference that no signature shows any more is stale: drop it."""
    used = set()
    for name in [*FUNCTIONS, *CLASSES]:
        if ours(name) is not None:
            twin = FUNCTIONS.get(name) or CLASSES[name]
            theirs = torch_parameters(twin, name.split(".")[-1])
            mismatches(name, _params(ours(name)), theirs, used)
    lists = {
        "TORCH_ONLY": TORCH_ONLY, "TORCH_ONLY_IN": TORCH_ONLY_IN, "RENAMED": RENAMED,
        "DEFAULT_DIFFERS": DEFAULT_DIFFERS, "DLBOOK_EXTRAS": DLBOOK_EXTRAS, "API_ORDER": API_ORDER,
    }  # fmt: skip
    stale = [f"{k}[{key!r}]" for k, entries in lists.items() for key in entries
             if (k, key) not in used]  # fmt: skip
    assert not stale, f"allowed differences no signature needs any more: {stale}"


LAYERS = [n for n, c in CLASSES.items() if issubclass(c, torch.nn.Module)]


@pytest.mark.parametrize("name", LAYERS)
def test_layer_call_takes_torchs_forward_arguments(name):
    """``layer(input=x)`` works in torch; ``forward`` and ``__call__`` take the same names."""
    obj = ours(name)
    if obj is None:
        pytest.skip(f"dlbook.scratch has no {name} (yet)")
    theirs = torch_parameters(CLASSES[name].forward, "forward")
    report = []
    for method in ("forward", "__call__"):
        problems = mismatches(f"{name}.{method}", _params(getattr(obj, method)), theirs)
        if problems:
            report.append(_report(f"{name}.{method}", problems, getattr(obj, method), theirs))
    if report:
        pytest.fail("\n".join(report), pytrace=False)


# --- backward and naive twins ---------------------------------------------------------------------


def scratch_functions() -> dict[str, object]:
    """Every public function defined in a dlbook/scratch module, by name."""
    found = {}
    for info in pkgutil.walk_packages(scratch.__path__, prefix="dlbook.scratch."):
        module = importlib.import_module(info.name)
        for n, f in vars(module).items():
            if inspect.isfunction(f) and f.__module__ == module.__name__ and not n.startswith("_"):
                found[n] = f
    return found


FUNCS = scratch_functions()
BACKWARDS = sorted(n for n in FUNCS if n.endswith("_backward"))
NAIVES = sorted(n for n in FUNCS if n.endswith("_naive"))


def _exact(our_params, expected) -> list[str]:
    """Names, order, kinds and defaults, exactly."""
    problems = []
    for k, (o, e) in enumerate(zip(our_params, expected)):
        if o.name != e.name:
            problems.append(f"parameter {k} is {o.name}, expected {e.name}")
        elif o.kind != e.kind:
            problems.append(f"{o.name} is {o.kind.description}, expected {e.kind.description}")
        elif not _same(o.default, e.default):
            problems.append(f"{o.name}: default {o.default!r}, expected {e.default!r}")
    if len(our_params) < len(expected):
        missing = [_show(e) for e in expected[len(our_params) :]]
        problems.append(f"missing {missing}")
    return problems


@pytest.mark.parametrize("name", BACKWARDS)
def test_backward_takes_grad_output_then_the_forwards_arguments(name):
    forward = FUNCS.get(name.removesuffix("_backward")) or ours(name.removesuffix("_backward"))
    assert forward is not None, f"{name} has no forward {name.removesuffix('_backward')}"
    params, expected = _params(FUNCS[name]), _params(forward)
    problems = []
    if not params or params[0].name != "grad_output" or params[0].kind not in POSITIONAL:
        problems.append("the first parameter must be grad_output, positional")
    rest = params[1:]
    problems += _exact(rest, expected)
    for extra in rest[len(expected) :]:  # upstream gradients of the forward's other outputs
        if not (extra.name.startswith("grad_") and extra.kind == P.KEYWORD_ONLY):
            problems.append(f"{_show(extra)} is not {forward.__name__}'s parameter")
    assert not problems, (
        f"{name}{inspect.signature(FUNCS[name])} against "
        f"{forward.__name__}{inspect.signature(forward)}:\n"
        + "\n".join(f"  - {p}" for p in problems)
    )


@pytest.mark.parametrize("name", NAIVES)
def test_naive_version_has_its_twins_signature(name):
    twin = FUNCS.get(name.removesuffix("_naive"))
    assert twin is not None, f"{name} has no fast twin {name.removesuffix('_naive')}"
    params, expected = _params(FUNCS[name]), _params(twin)
    problems = _exact(params, expected)
    if len(params) > len(expected):
        problems.append(f"extra {[_show(p) for p in params[len(expected) :]]}")
    if problems:
        head = f"{name}{inspect.signature(FUNCS[name])} against {twin.__name__}"
        lines = "\n".join(f"  - {p}" for p in problems)
        pytest.fail(f"{head}{inspect.signature(twin)}:\n{lines}", pytrace=False)


# --- the comparison itself ------------------------------------------------------------------------


def _p(name, default=P.empty, kind=P.POSITIONAL_OR_KEYWORD):
    return P(name, kind, default=default)


def test_the_comparison_sees_each_kind_of_difference():
    torch_like = [_p("input"), _p("weight"), _p("bias", None), _p("stride", 1)]
    assert mismatches("f", torch_like, torch_like) == []
    assert mismatches("f", [_p("input"), _p("weight"), _p("bias", None)], torch_like)  # missing
    swapped = [_p("input"), _p("bias", None), _p("weight"), _p("stride", 1)]
    assert mismatches("f", swapped, torch_like)  # order
    default = [_p("input"), _p("weight"), _p("bias", None), _p("stride", 2)]
    assert mismatches("f", default, torch_like)  # default
    flag = [_p("input"), _p("weight"), _p("bias", None), _p("stride", True)]
    assert mismatches("f", flag, torch_like)  # True is not 1
    extra = [*torch_like, _p("scale", 1.0)]
    assert mismatches("f", extra, torch_like)  # not torch's
    rng = [*torch_like, _p("rng", None)]
    assert mismatches("f", rng, torch_like) == []  # allowed, trailing
    kw = [_p("input"), _p("weight"), _p("bias", None, P.KEYWORD_ONLY), _p("stride", 1)]
    assert mismatches("f", kw, torch_like)  # positional in torch


def test_torch_signatures_are_read():
    """The docstring parser reads a builtin's signature: conv2d's, exactly."""
    names = [(p.name, p.default) for p in torch_parameters(F.conv2d, "conv2d")]
    assert names == [
        ("input", P.empty), ("weight", P.empty), ("bias", None), ("stride", 1), ("padding", 0),
        ("dilation", 1), ("groups", 1),
    ]  # fmt: skip
    sdpa = [p.name for p in torch_parameters(F.scaled_dot_product_attention, "x")]
    assert sdpa[:5] == ["query", "key", "value", "attn_mask", "dropout_p"]
