"""Run dlbook.scratch on PyTorch's own sample inputs (OpInfo and ModuleInfo) and classify each.

Every sample that torch accepts is given to dlbook with the same arguments, tensors turned into
NumPy arrays, and lands in one of these classes:

- ``equal``: forward, backward and any in-place updates agree with torch to 1e-10 (float64);
- ``random``: a stochastic sample (dropout with 0 < p < 1); only what can be checked without
  sharing torch's random stream is checked (shapes, dtypes, the mask's structure);
- ``wrong``: dlbook returned something else, or crashed with another exception;
- ``refused``: dlbook raised ``ValueError``, ``TypeError`` or ``NotImplementedError``.

Samples that torch itself refuses are left out.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import random
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch

import dlbook.scratch as scratch

TOL = 1e-10
MAX_SAMPLES = 150  # per op; max_pool2d alone has 1440
REFUSALS = (ValueError, TypeError, NotImplementedError)


@dataclass(frozen=True)
class OpSpec:
    """A dlbook function, the OpInfo it mirrors, and the arguments its backward differentiates."""

    opinfo: str
    grads: tuple[str, ...] = ("input",)
    variant: str = ""
    random: object = None  # bound arguments -> True where the result is stochastic
    arrange: object = None  # (input, args) -> the positional arguments, where the OpInfo's differ


def _dropout_random(args):
    p, training = args.get("p", 0.5), args.get("training", True)
    return bool(training) and 0 < p < 1


def _sdpa_random(args):
    return args.get("dropout_p", 0.0) > 0


_WEIGHTED = ("input", "weight", "bias")
OPS = {
    "conv2d": OpSpec("nn.functional.conv2d", _WEIGHTED),
    "conv_transpose2d": OpSpec("nn.functional.conv_transpose2d", _WEIGHTED),
    "max_pool2d": OpSpec("nn.functional.max_pool2d"),
    "avg_pool2d": OpSpec("nn.functional.avg_pool2d"),
    "batch_norm": OpSpec("nn.functional.batch_norm", _WEIGHTED),
    "layer_norm": OpSpec("nn.functional.layer_norm", _WEIGHTED),
    "linear": OpSpec("nn.functional.linear", _WEIGHTED),
    "relu": OpSpec("nn.functional.relu"),
    "sigmoid": OpSpec("sigmoid"),
    "tanh": OpSpec("tanh"),
    "leaky_relu": OpSpec("nn.functional.leaky_relu"),
    "elu": OpSpec("nn.functional.elu"),
    "gelu": OpSpec("nn.functional.gelu"),
    "silu": OpSpec("nn.functional.silu"),
    "softmax": OpSpec("softmax"),
    "softmax[with_dtype]": OpSpec("softmax", variant="with_dtype"),
    "log_softmax": OpSpec("log_softmax"),
    "log_softmax[with_dtype]": OpSpec("log_softmax", variant="with_dtype"),
    "logsumexp": OpSpec("logsumexp"),
    "dropout": OpSpec("nn.functional.dropout", random=_dropout_random),
    "cross_entropy": OpSpec("nn.functional.cross_entropy"),
    "nll_loss": OpSpec("nn.functional.nll_loss"),
    "mse_loss": OpSpec("nn.functional.mse_loss"),
    "l1_loss": OpSpec("nn.functional.l1_loss"),
    "smooth_l1_loss": OpSpec("nn.functional.smooth_l1_loss"),
    "huber_loss": OpSpec("nn.functional.huber_loss"),
    "binary_cross_entropy": OpSpec("nn.functional.binary_cross_entropy"),
    "binary_cross_entropy_with_logits": OpSpec("nn.functional.binary_cross_entropy_with_logits"),
    "kl_div": OpSpec("nn.functional.kl_div"),
    "multi_margin_loss": OpSpec("nn.functional.multi_margin_loss"),
    "hinge_embedding_loss": OpSpec("nn.functional.hinge_embedding_loss"),
    # embedding's OpInfo calls its samples as (weight, indices): F.embedding takes them swapped
    "embedding": OpSpec(
        "nn.functional.embedding", ("weight",), arrange=lambda w, args: (args[0], w, *args[1:])
    ),
    "scaled_dot_product_attention": OpSpec(
        "nn.functional.scaled_dot_product_attention", ("query", "key", "value"), random=_sdpa_random
    ),
}

# The torch.nn modules with a ModuleInfo whose dlbook.scratch twin (same class name) is checked.
LAYERS = (
    "Conv2d", "Linear", "MaxPool2d", "AvgPool2d", "BatchNorm1d", "BatchNorm2d", "LayerNorm",
    "Dropout", "ReLU", "Tanh", "Sigmoid", "RNN", "LSTM", "GRU", "Embedding",
)  # fmt: skip


TORCH_REFUSED: dict[str, int] = {}  # samples that torch itself refuses, left out, by op


@dataclass
class Outcome:
    kind: str  # equal, random, wrong, refused
    desc: str  # the sample, in a few words
    reason: str = ""
    kwargs: dict = field(default_factory=dict, repr=False)  # the sample's keyword arguments


class Refused(Exception):
    """dlbook refused the sample: the message says where and why."""


class Wrong(Exception):
    """dlbook's answer differs from torch's: the message says what."""


# --- converting torch's arguments ----------------------------------------------------------------


def to_numpy(x):
    """Torch's argument as dlbook's: tensors to NumPy copies, dtypes to NumPy dtypes, sizes to
    tuples; containers keep their type; everything else as it is."""
    if isinstance(x, torch.Tensor):
        return x.detach().clone().numpy()
    if isinstance(x, torch.dtype):
        return torch.empty((), dtype=x).numpy().dtype
    if isinstance(x, torch.Size):
        return tuple(x)
    if isinstance(x, (list, tuple)) and not hasattr(x, "_fields"):
        return type(x)(to_numpy(v) for v in x)
    if isinstance(x, dict):
        return {k: to_numpy(v) for k, v in x.items()}
    return x


def clone(x):
    """A fresh copy of torch's argument: leaf tensors with the same ``requires_grad``."""
    if isinstance(x, torch.Tensor):
        return x.detach().clone().requires_grad_(x.requires_grad)
    if isinstance(x, (list, tuple)) and not hasattr(x, "_fields"):
        return type(x)(clone(v) for v in x)
    if isinstance(x, dict):
        return {k: clone(v) for k, v in x.items()}
    return x


def flatten(x):
    """The tensors or arrays in a (nested) output, in order."""
    if isinstance(x, (list, tuple)):
        return [a for v in x for a in flatten(v)]
    return [x]


def describe(x):
    if isinstance(x, (torch.Tensor, np.ndarray)):
        dtype = str(x.dtype).replace("torch.", "")
        return f"{dtype}{list(x.shape)}"
    if isinstance(x, (list, tuple)) and not isinstance(x, torch.Size):
        inner = ", ".join(describe(v) for v in x)
        return f"({inner})" if isinstance(x, tuple) else f"[{inner}]"
    if isinstance(x, dict):
        return "{" + ", ".join(f"{k}={describe(v)}" for k, v in x.items()) + "}"
    return repr(x)


def describe_call(args, kwargs):
    parts = [describe(a) for a in args] + [f"{k}={describe(v)}" for k, v in kwargs.items()]
    return "(" + ", ".join(parts) + ")"


# --- comparing ------------------------------------------------------------------------------------


def compare(what: str, ours, theirs: torch.Tensor) -> None:
    """Raise Wrong unless ``ours`` equals torch's tensor: type, shape, dtype and values."""
    if not isinstance(ours, (np.ndarray, np.generic)):
        raise Wrong(
            f"{what}: got {type(ours).__name__}, expected a NumPy array like {theirs.dtype}"
        )
    ours, ref = np.asarray(ours), theirs.detach().numpy()
    if ours.shape != ref.shape:
        raise Wrong(f"{what}: shape {ours.shape}, torch {ref.shape}")
    if ours.dtype != ref.dtype:
        raise Wrong(f"{what}: dtype {ours.dtype}, torch {ref.dtype}")
    if np.issubdtype(ref.dtype, np.floating):
        ok = np.isclose(ours, ref, rtol=TOL, atol=TOL, equal_nan=True)
    else:
        ok = ours == ref
    if not np.all(ok):
        i = np.argwhere(~ok)[0] if ok.ndim else ()
        i = tuple(int(v) for v in i)
        bad = np.count_nonzero(~ok)
        raise Wrong(f"{what}: {bad} entries differ, e.g. at {i}: {ours[i]!r} vs torch {ref[i]!r}")


def _call(stage, fn, *args, **kwargs):
    """Call dlbook: a refusal becomes Refused, any other exception Wrong (a crash)."""
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            return fn(*args, **kwargs)
    except REFUSALS as e:
        raise Refused(f"{stage}: {type(e).__name__}: {e}") from None
    except Exception as e:  # noqa: BLE001 -- a crash is a wrong answer, reported as such
        raise Wrong(f"{stage} crashed: {type(e).__name__}: {e}") from None


def _grad_outputs(outs, seed):
    rng = np.random.default_rng(seed)
    return [
        torch.from_numpy(rng.standard_normal(tuple(o.shape)))
        if o.is_floating_point() and o.requires_grad
        else None
        for o in outs
    ]


def _torch_grads(outs, grad_outs, inputs):
    """The gradients of ``inputs`` (None where a tensor does not require a gradient)."""
    pairs = [(o, g) for o, g in zip(outs, grad_outs) if g is not None]
    wanted = [t for t in inputs if isinstance(t, torch.Tensor) and t.requires_grad]
    if not pairs or not wanted:
        return [None] * len(inputs)
    outs, grad_outs = zip(*pairs)
    got = iter(torch.autograd.grad(outs, wanted, grad_outs, allow_unused=True))
    grads = [next(got) if isinstance(t, torch.Tensor) and t.requires_grad else None for t in inputs]
    unused = [g is None and isinstance(t, torch.Tensor) and t.requires_grad
              for g, t in zip(grads, inputs)]  # fmt: skip
    return [torch.zeros_like(t) if u else g for g, t, u in zip(grads, inputs, unused)]


# --- functions ------------------------------------------------------------------------------------


def opinfo(spec: OpSpec):
    from torch.testing._internal.common_methods_invocations import op_db

    for op in op_db:
        if op.name == spec.opinfo and op.variant_test_name == spec.variant:
            return op
    raise LookupError(f"torch has no OpInfo {spec.opinfo!r} (variant {spec.variant!r})")


def op_samples(spec: OpSpec, max_samples: int = MAX_SAMPLES):
    """Torch's samples for the op, float64 with gradients, a fixed subset where there are many."""
    torch.manual_seed(0)
    samples = list(opinfo(spec).sample_inputs("cpu", torch.float64, requires_grad=True))
    if len(samples) > max_samples:
        keep = sorted(random.Random(0).sample(range(len(samples)), max_samples))
        samples = [samples[i] for i in keep]
    return samples


def dlbook_name(name: str) -> str:
    """The dlbook function an OPS entry checks: ``conv2d[naive]`` is ``conv2d_naive``."""
    base = name.split("[")[0]
    return f"{base}_naive" if name.endswith("[naive]") else base


def _lookup(fname: str):
    """A public function of dlbook.scratch or of one of its modules (naive ones may be only
    there)."""
    found = getattr(scratch, fname, None)
    for info in [] if found else pkgutil.walk_packages(scratch.__path__, "dlbook.scratch."):
        found = found or getattr(importlib.import_module(info.name), fname, None)
    return found if callable(found) else None


def functions(name: str):
    """``(forward, backward, check_backward)`` for an OPS entry. A naive forward without a naive
    backward is checked forward only (its fast backward is checked under the fast name)."""
    fn = _lookup(dlbook_name(name))
    if fn is None:
        raise LookupError(f"dlbook.scratch has no {dlbook_name(name)}")
    base = name.split("[")[0]
    if name.endswith("[naive]"):
        backward = _lookup(f"{base}_backward_naive")
        return fn, backward, backward is not None
    return fn, _lookup(f"{base}_backward"), True


def run_op(name: str, max_samples: int = MAX_SAMPLES) -> list[Outcome]:
    """Every sample of the op: torch's refusals left out, the rest classified."""
    spec, (fn, backward, check_backward) = OPS[name], functions(name)
    op = opinfo(spec)
    outcomes, TORCH_REFUSED[name] = [], 0
    for k, s in enumerate(op_samples(spec, max_samples)):
        t_in, t_args, t_kwargs = clone(s.input), clone(s.args), clone(s.kwargs)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t_out = op.op(t_in, *t_args, **t_kwargs)
        except Exception:  # noqa: BLE001 -- torch refuses: not a sample dlbook must take
            TORCH_REFUSED[name] = TORCH_REFUSED.get(name, 0) + 1
            continue
        desc = describe_call((spec.arrange or (lambda x, a: (x, *a)))(s.input, s.args), s.kwargs)
        outcome = Outcome("equal", desc, kwargs=dict(s.kwargs))
        try:
            if not check_backward:
                backward = _FORWARD_ONLY
            _check_op(spec, fn, backward, s, (t_in, t_args, t_kwargs), t_out, k, outcome)
        except Refused as e:
            outcome.kind, outcome.reason = "refused", str(e)
        except Wrong as e:
            outcome.kind, outcome.reason = "wrong", str(e)
        outcomes.append(outcome)
    return outcomes


def _FORWARD_ONLY(*args, **kwargs):  # a marker: the naive forward has no naive backward
    raise AssertionError("never called")


def _bind(fn, args, kwargs):
    try:
        return inspect.signature(fn).bind(*args, **kwargs)
    except TypeError as e:
        raise Refused(f"forward: TypeError: {e}") from None


def _check_op(spec, fn, backward, s, torch_call, t_out, seed, outcome):
    t_in, t_args, t_kwargs = torch_call
    np_in, np_args, np_kwargs = to_numpy(s.input), to_numpy(s.args), to_numpy(s.kwargs)
    takes_rng = "rng" in inspect.signature(fn).parameters
    rng_kw = {"rng": np.random.default_rng(seed)} if takes_rng else {}
    arrange = spec.arrange or (lambda x, args: (x, *args))
    bound = _bind(fn, arrange(np_in, np_args), {**np_kwargs, **rng_kw})
    t_bound = inspect.signature(fn).bind(*arrange(t_in, t_args), **t_kwargs, **rng_kw).arguments
    stochastic = spec.random is not None and spec.random({**bound.arguments, **np_kwargs})
    before = {k: v.copy() for k, v in bound.arguments.items() if isinstance(v, np.ndarray)}
    ours = _call("forward", fn, *bound.args, **bound.kwargs)
    t_outs, our_outs = flatten(t_out), flatten(ours)
    if len(t_outs) != len(our_outs):
        raise Wrong(f"forward: {len(our_outs)} outputs, torch {len(t_outs)}")
    if stochastic:
        outcome.kind = "random"
        for i, (a, t) in enumerate(zip(our_outs, t_outs)):
            compare(f"forward output {i} shape", np.zeros_like(a), torch.zeros_like(t))
        if backward is _FORWARD_ONLY:
            return
        if spec.opinfo == "nn.functional.dropout":
            _check_dropout(backward, bound, our_outs[0], seed)
        else:
            _check_same_draw_gradient(fn, backward, bound, spec.grads, seed, our_outs[0])
        return
    for i, (a, t) in enumerate(zip(our_outs, t_outs)):
        compare(f"forward output {i}", a, t)
    for k in before:  # in-place updates (batch norm's running statistics) as torch's
        compare(f"argument {k!r} after the forward", bound.arguments[k], t_bound[k])
    if backward is _FORWARD_ONLY:
        return
    if backward is None:
        raise Wrong(f"no {fn.__name__}_backward in dlbook.scratch")
    g_outs = _grad_outputs(t_outs, seed)
    names = spec.grads
    t_grads = _torch_grads(t_outs, g_outs, [t_bound.get(n) for n in names])
    call = {k: v.copy() if k in before else v for k, v in bound.arguments.items()}
    snapshot = {k: call[k].copy() for k in before}  # backward must not touch its arguments
    b = inspect.signature(fn).bind(**call)
    g = [x.numpy() for x in g_outs if x is not None]
    got = _call("backward", backward, g[0] if len(g) == 1 else tuple(g), *b.args, **b.kwargs)
    got = (got,) if len(names) == 1 else got
    if not isinstance(got, tuple) or len(got) != len(names):
        raise Wrong(f"backward: expected {len(names)} gradients {names}, got {describe(got)}")
    for n, ours_g, theirs_g in zip(names, got, t_grads):
        given = bound.arguments.get(n)
        if given is None:
            if ours_g is not None:
                raise Wrong(f"backward: grad of {n} (given None) is {describe(ours_g)}, not None")
            continue
        if theirs_g is not None:
            compare(f"grad of {n}", ours_g, theirs_g)
    for k, v in snapshot.items():
        if not np.array_equal(call[k], v, equal_nan=True):
            raise Wrong(f"backward changed its argument {k!r}")


def _check_same_draw_gradient(fn, backward, bound, names, seed, out):
    """A stochastic op given the same ``rng`` seed: the forward repeats itself, and the backward
    is the derivative of that forward (a central difference along a random direction)."""
    if "rng" not in bound.arguments:
        return  # nothing to hold the draw fixed with: the shapes were all that could be checked
    if backward is None:
        raise Wrong(f"no {fn.__name__}_backward in dlbook.scratch")

    def run(h=0.0, dirs=None):
        args = {**bound.arguments, "rng": np.random.default_rng(seed)}
        for n, d in (dirs or {}).items():
            args[n] = args[n] + h * d
        return np.asarray(_call("forward", fn, **args))

    if not np.array_equal(run(), out, equal_nan=True):
        raise Wrong("forward: the same rng seed gives a different result")
    rng = np.random.default_rng(seed + 1)
    g = rng.standard_normal(out.shape)
    grads = _call(
        "backward", backward, g, **{**bound.arguments, "rng": np.random.default_rng(seed)}
    )
    grads = (grads,) if len(names) == 1 else grads
    dirs = {n: rng.standard_normal(np.shape(bound.arguments[n])) for n in names}
    h = 1e-6
    numeric = (np.sum(g * run(h, dirs)) - np.sum(g * run(-h, dirs))) / (2 * h)
    analytic = sum(np.sum(np.asarray(gr) * dirs[n]) for n, gr in zip(names, grads))
    if not abs(numeric - analytic) <= 1e-6 * max(1.0, abs(analytic)):
        raise Wrong(f"backward: directional derivative {analytic}, central difference {numeric}")


def _check_dropout(backward, bound, out, seed):
    """Dropout with 0 < p < 1: every output is 0 or input / (1 - p), and the backward (same
    seed) lets the gradient through exactly where the forward kept the input."""
    x, p = bound.arguments["input"], bound.arguments.get("p", 0.5)
    if backward is None:
        raise Wrong("no dropout_backward in dlbook.scratch")
    g = np.random.default_rng(seed + 1).standard_normal(x.shape)
    args = {**bound.arguments, "rng": np.random.default_rng(seed)}
    gx = _call("backward", backward, g, **args)
    _check_dropout_structure(x, p, out, gx, g)


def _check_dropout_structure(x, p, out, gx, g):
    kept = out != 0
    if not np.allclose(out[kept], x[kept] / (1 - p), rtol=TOL, atol=TOL):
        raise Wrong("forward: a kept entry is not input / (1 - p)")
    gx = np.asarray(gx)
    if gx.shape != x.shape:
        raise Wrong(f"backward: shape {gx.shape}, input {x.shape}")
    dropped = ~kept & (x != 0)  # where x == 0 the forward does not show the mask
    if np.any(gx[dropped] != 0):
        raise Wrong("backward: lets gradient through where the forward dropped the input")
    nz = kept & (x != 0)
    if not np.allclose(gx[nz], g[nz] / (1 - p), rtol=TOL, atol=TOL):
        raise Wrong("backward: a kept gradient is not grad_output / (1 - p)")


# --- layers ---------------------------------------------------------------------------------------


def moduleinfos(name: str):
    from torch.testing._internal.common_modules import module_db

    return [m for m in module_db if m.module_cls.__name__ == name]


class _DropoutInfo:
    """nn.Dropout has no ModuleInfo: its samples are the inputs of F.dropout's OpInfo."""

    module_cls = torch.nn.Dropout

    @staticmethod
    def module_inputs_func(info, device, dtype, requires_grad, training):
        from torch.testing._internal.common_modules import FunctionInput, ModuleInput

        inputs = [s.input for s in op_samples(OPS["dropout"])]
        shapes = {tuple(x.shape): x for x in inputs}.values()
        return [
            ModuleInput(FunctionInput(p), FunctionInput(x.detach().clone().requires_grad_()))
            for p in (0.0, 0.5, 1.0)
            for x in shapes
        ]


def moduleinfos_or_own(name: str):
    return moduleinfos(name) or ([_DropoutInfo] if name == "Dropout" else [])


def layer_samples(name: str):
    """``(training, ModuleInput)`` pairs: torch's samples in training mode, then in eval mode."""
    samples = []
    for info in moduleinfos_or_own(name):
        for training in (True, False):
            torch.manual_seed(0)
            inputs = info.module_inputs_func(
                info, device="cpu", dtype=torch.float64, requires_grad=True, training=training
            )
            samples += [(info, training, m) for m in inputs if m.forward_input is not None]
    return samples


def run_layer(name: str) -> list[Outcome]:
    cls = getattr(scratch, name, None)
    if cls is None:
        raise LookupError(f"dlbook.scratch has no {name}")
    outcomes, TORCH_REFUSED[name] = [], 0
    for k, (info, training, s) in enumerate(layer_samples(name)):
        c, f = s.constructor_input, s.forward_input
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                module = info.module_cls(*c.args, **c.kwargs).to(torch.float64).train(training)
                state = _state(module)  # before the forward moves the running statistics
                t_args, t_kwargs = clone(f.args), clone(f.kwargs)
                t_out = module(*t_args, **t_kwargs)
        except Exception:  # noqa: BLE001 -- torch refuses: not a sample dlbook must take
            TORCH_REFUSED[name] = TORCH_REFUSED.get(name, 0) + 1
            continue
        mode = "train" if training else "eval"
        desc = f"{name}{describe_call(c.args, c.kwargs)}.{mode}(){describe_call(f.args, f.kwargs)}"
        outcome = Outcome("equal", desc, kwargs={**c.kwargs, **f.kwargs})
        try:
            layer = _construct(cls, c.args, c.kwargs)
            _copy_state(layer, state, [n for n, _ in module.named_parameters()])
            _check_layer(layer, module, (t_args, t_kwargs), t_out, s, k, outcome)
        except Refused as e:
            outcome.kind, outcome.reason = "refused", str(e)
        except Wrong as e:
            outcome.kind, outcome.reason = "wrong", str(e)
        outcomes.append(outcome)
    return outcomes


def _construct(cls, args, kwargs):
    kwargs = to_numpy(kwargs)
    if "dtype" in inspect.signature(cls).parameters:
        kwargs.setdefault("dtype", np.float64)  # torch's module is moved to float64 the same way
    return _call("constructor", cls, *to_numpy(args), **kwargs)


def _state(module):
    """Copies of the module's parameters and buffers, by name."""
    named = list(module.named_parameters()) + list(module.named_buffers())
    return {name: t.detach().clone() for name, t in named}


def _copy_state(layer, state, param_names):
    """torch's parameters and buffers into the layer, in place, by torch's names; the layer's
    ``params`` must be the same arrays in torch's ``parameters()`` order."""
    for pname, p in state.items():
        ours = getattr(layer, pname, None)
        if pname == "num_batches_tracked":
            if ours is not None:
                layer.num_batches_tracked = int(p)
            continue
        if not isinstance(ours, np.ndarray):
            raise Wrong(f"the layer has no array {pname!r} (torch's {tuple(p.shape)})")
        if ours.shape != tuple(p.shape):
            raise Wrong(f"{pname}: shape {ours.shape}, torch {tuple(p.shape)}")
        ours[...] = p.numpy()
    params = getattr(layer, "params", None)
    if (
        params is None
        or len(params) != len(param_names)
        or not all(_same_array(a, getattr(layer, n)) for a, n in zip(params, param_names))
    ):
        raise Wrong(f"params is not torch's parameters() {param_names}, in that order")


def _same_array(a, b) -> bool:
    return a is b or (isinstance(b, np.ndarray) and a.size > 0 and np.shares_memory(a, b))


def _check_layer(layer, module, forward, t_out, s, seed, outcome):
    layer.train(module.training)
    t_args, t_kwargs = forward
    np_args, np_kwargs = to_numpy(s.forward_input.args), to_numpy(s.forward_input.kwargs)
    ours = _call("forward", layer, *np_args, **np_kwargs)
    if isinstance(module, torch.nn.Dropout) and module.training and 0 < module.p < 1:
        outcome.kind = "random"
        compare("forward output shape", np.zeros_like(ours), torch.zeros_like(t_out))
        x, p = np_args[0], module.p
        g = np.random.default_rng(seed).standard_normal(x.shape)
        gx = _call("backward", layer.backward, g)
        _check_dropout_structure(x, p, ours, gx, g)
        return
    t_outs, our_outs = flatten(t_out), flatten(ours)
    if len(t_outs) != len(our_outs):
        raise Wrong(f"forward: {len(our_outs)} outputs, torch {len(t_outs)}")
    for i, (a, t) in enumerate(zip(our_outs, t_outs)):
        compare(f"forward output {i}", a, t)
    for bname, b in module.named_buffers():
        ours_b = getattr(layer, bname, None)
        if bname == "num_batches_tracked":
            if ours_b != int(b):
                raise Wrong(f"num_batches_tracked: {ours_b}, torch {int(b)}")
        else:
            compare(f"buffer {bname} after the forward", ours_b, b)
    # backward: the gradient of the input, the parameters and (recurrent layers) the state
    g_outs = _grad_outputs(t_outs, seed)
    t_inputs = flatten(list(t_args) + list(t_kwargs.values()))
    params = [p for _, p in module.named_parameters()]
    t_grads = _torch_grads(t_outs, g_outs, t_inputs + params)
    g = [x.numpy() for x in g_outs if x is not None]
    if isinstance(ours, tuple) and len(g) > 1:  # (output, state): backward(grad_output, grad_state)
        g_state = _nest_like(ours[1], iter(g[1:]))
        gx = _call("backward", layer.backward, g[0], g_state)
    else:
        gx = _call("backward", layer.backward, g[0])
    if t_grads[0] is not None:  # None: an input without a gradient (Embedding's indices)
        compare("grad of input", gx, t_grads[0])
    for (pname, _), a, t in zip(module.named_parameters(), layer.grads, t_grads[len(t_inputs) :]):
        compare(f"grad of {pname}", a, t)
    if len(layer.grads) != len(params):
        raise Wrong(f"grads has {len(layer.grads)} arrays, torch has {len(params)} parameters")
    if len(t_inputs) > 1:  # the initial state was given
        states = flatten(getattr(layer, "grad_hx", None))
        if len(states) != len(t_inputs) - 1:
            raise Wrong(f"grad_hx holds {describe(states)}, expected {len(t_inputs) - 1} arrays")
        for i, (a, t) in enumerate(zip(states, t_grads[1 : len(t_inputs)])):
            compare(f"grad of the initial state {i}", a, t)


def _nest_like(template, values):
    if isinstance(template, tuple):
        return tuple(_nest_like(t, values) for t in template)
    return next(values)


# --- the table ------------------------------------------------------------------------------------

KINDS = ("equal", "random", "wrong", "refused")


def table_row(name: str, outcomes: list[Outcome]) -> str:
    counts = {k: sum(o.kind == k for o in outcomes) for k in KINDS}
    first = next((o.reason for o in outcomes if o.kind in ("wrong", "refused")), "")
    cells = " ".join(f"{counts[k]:>7}" for k in KINDS)
    skipped = TORCH_REFUSED.get(name, 0)
    return f"{name:<34} {len(outcomes):>7} {cells} {skipped:>7}  {first[:160]}"


def table_header() -> str:
    cells = " ".join(f"{k:>7}" for k in KINDS)
    return f"{'op':<34} {'samples':>7} {cells} {'torch✗':>7}  first wrong/refused"


# Naive versions (plain loops) on the same samples: forward, and backward where there is one.
OPS.update({f"{n}[naive]": OPS[n] for n in list(OPS) if "[" not in n and _lookup(f"{n}_naive")})


# --- float32 in, float32 out ----------------------------------------------------------------------


def to_float32(x):
    """Floating arrays to float32 (integer targets and indices stay as they are)."""
    if isinstance(x, np.ndarray) and np.issubdtype(x.dtype, np.floating):
        return x.astype(np.float32)
    if isinstance(x, (list, tuple)) and not hasattr(x, "_fields"):
        return type(x)(to_float32(v) for v in x)
    if isinstance(x, dict):
        return {k: to_float32(v) for k, v in x.items()}
    return x


def float32_problems(name: str, max_samples: int = MAX_SAMPLES) -> list[str]:
    """The samples, cast to float32: every floating output and gradient must be float32 (API.md:
    float32 in gives float32 out). Refusals are the float64 run's business, not counted here."""
    spec, (fn, backward, check_backward) = OPS[name], functions(name)
    backward = backward if check_backward else None
    arrange = spec.arrange or (lambda x, args: (x, *args))
    problems = []
    for k, s in enumerate(op_samples(spec, max_samples)):
        if "dtype" in s.kwargs:
            continue  # the dtype argument decides the output's dtype
        args = to_float32(to_numpy(arrange(s.input, s.args)))
        kwargs = to_float32(to_numpy(s.kwargs))
        if "rng" in inspect.signature(fn).parameters:
            kwargs["rng"] = np.random.default_rng(k)
        desc = describe_call(args, kwargs)
        try:
            out = _call("forward", fn, *args, **kwargs)
            outs = [np.asarray(o) for o in flatten(out)]
            bad = [str(o.dtype) for o in outs if o.dtype.kind == "f" and o.dtype != np.float32]
            if bad:
                problems.append(f"{desc}: forward returns {bad}")
                continue
            if backward is None or outs[0].dtype != np.float32:
                continue
            g = np.random.default_rng(k).standard_normal(outs[0].shape).astype(np.float32)
            if "rng" in kwargs:
                kwargs["rng"] = np.random.default_rng(k)
            grads = flatten(_call("backward", backward, g, *args, **kwargs))
            bad = [str(np.asarray(a).dtype) for a in grads if a is not None]
            if any(b != "float32" for b in bad):
                problems.append(f"{desc}: backward returns {bad}")
        except Refused:
            continue
        except Wrong as e:
            problems.append(f"{desc}: {e}")
    return problems
