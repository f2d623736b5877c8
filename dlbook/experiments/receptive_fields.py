"""The receptive-field chapter's experiments.

*A unit has to see a pattern to recognise it.*

Each image is a ``HEIGHT x WIDTH`` strip with two marks ``GAP`` pixels apart on one row, one
bright (+1) and one dark (-1); the label says whether the bright one is on the left. A network of
3x3 convolutions and ReLUs ends in a global max over positions and a linear layer, so it can only
answer correctly if some unit's field spans both marks: ``GAP + 1`` pixels. :func:`build` makes
that network with chosen dilations and strides (its field follows from them), and
:func:`make_pairs` the data.

*Autograd finds the pixels the field says.* :func:`check_random_stacks` draws stacks of
convolutions and average poolings with positive weights (:func:`random_stack`) and compares the
input pixels that get a gradient with ``receptive_field``'s region.

*Linear, multiplicative, exponential.* :func:`field_growth` measures the fields of plain,
strided and dilated 3x3 stacks (:func:`conv_stack`) as they deepen, and their weights.

*From scratch.* :func:`through` is the recurrence for one layer, :func:`field_table` and
:func:`field_of_layers` run it over a stack, and :func:`merge` joins parallel paths.

*The exercise.* :func:`check_receptive_field` holds the reader's closed forms to the recurrence.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from dlbook import seeding
from dlbook.exercise import Case, Report, check

__all__ = [
    "HEIGHT", "WIDTH", "GAP", "MARGIN", "make_pairs", "GlobalMax", "build", "run",
    "random_stack", "check_random_stacks", "STACK_KINDS", "conv_stack", "field_growth",
    "through", "field_table", "field_of_layers", "merge", "check_receptive_field",
]  # fmt: skip

HEIGHT, WIDTH, GAP, MARGIN = 4, 32, 10, 8


def make_pairs(n: int, seed: int):
    """``(x, y)``: ``n`` strips ``(n, 1, HEIGHT, WIDTH)`` float32 and labels (1: bright left)."""
    rng = seeding.rng(seed)
    x = np.zeros((n, 1, HEIGHT, WIDTH), np.float32)
    y = rng.integers(0, 2, n)
    row = rng.integers(0, HEIGHT, n)
    left = rng.integers(MARGIN, WIDTH - MARGIN - GAP, n)
    sign = np.where(y == 1, 1.0, -1.0)
    x[np.arange(n), 0, row, left] = sign
    x[np.arange(n), 0, row, left + GAP] = -sign
    return x, y


class GlobalMax(nn.Module):
    """The largest response of each channel over all positions: ``(N, C, H, W) -> (N, C)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.amax(dim=(2, 3))


def build(dilations, strides=(1, 1, 1), channels: int = 16) -> nn.Sequential:
    """``Sequential(features, GlobalMax(), Linear(channels, 2))``: one 3x3 convolution + ReLU
    per dilation (with the matching stride), padded to keep the size at stride 1."""
    layers, c_in = [], 1
    for d, s in zip(dilations, strides):
        layers += [nn.Conv2d(c_in, channels, 3, stride=s, padding=d, dilation=d), nn.ReLU()]
        c_in = channels
    return nn.Sequential(nn.Sequential(*layers), GlobalMax(), nn.Linear(channels, 2))


def run(
    configs: dict, data, seeds=(0, 1), epochs: int = 5, lr: float = 0.01, batch_size=32, device=None
):
    """Train :func:`build` ``(**config)`` once per seed for every ``config`` in ``configs`` (name
    -> keyword arguments) with :func:`dlbook.train.fit` (Adam) on ``data``, a
    :class:`dlbook.data.Split` of :func:`make_pairs` strips.

    Returns name -> ``{"field": width, "jump": jump, "weights": count, "accs": [test accuracy
    in % per seed]}``, the field and jump along the strip's width from
    :func:`dlbook.receptive_field`.
    """
    from dlbook.nets import count_parameters
    from dlbook.receptive import receptive_field
    from dlbook.train import fit

    results = {}
    for name, cfg in configs.items():
        field = receptive_field(build(**cfg)[0], (1, HEIGHT, WIDTH))  # the features
        accs = []
        for seed in seeds:
            seeding.manual_seed(seed)
            model = build(**cfg)
            history = fit(
                model, data, epochs=epochs, lr=lr, batch_size=batch_size, device=device, seed=seed
            )
            accs.append(100 * history.final["test_acc"])
        results[name] = dict(
            field=field.size[1], jump=field.stride[1], weights=count_parameters(model), accs=accs
        )
    return results


def random_stack(rng) -> nn.Sequential:
    """1 to 4 layers drawn with ``rng``, float64: each a convolution (one channel, no bias,
    weights uniform in [0.5, 1], so no two paths cancel) or an average pooling, with a random
    kernel (1-4), stride (1-2), dilation (1-2, convolutions only) and padding."""
    layers = []
    for _ in range(rng.integers(1, 5)):
        k, s, d = (int(v) for v in (rng.integers(1, 5), rng.integers(1, 3), rng.integers(1, 3)))
        if rng.random() < 0.5:
            p = int(rng.integers(0, (k - 1) * d + 1))
            conv = nn.Conv2d(1, 1, k, stride=s, padding=p, dilation=d, bias=False)
            nn.init.uniform_(conv.weight, 0.5, 1.0)
            layers.append(conv)
        else:
            layers.append(nn.AvgPool2d(k, stride=s, padding=int(rng.integers(0, k // 2 + 1))))
    return nn.Sequential(*layers).double()


def check_random_stacks(rng, count: int = 60) -> dict[str, int]:
    """Draw :func:`random_stack` s and square inputs of 12 to 24 pixels with ``rng`` until
    ``count`` of them fit, backpropagate from one random output unit of each, and compare the
    bounding box of the input pixels that get a gradient with the unit's ``rf.region``.

    Returns the counts ``checked``; ``bounded`` (the box lies inside the clipped region);
    ``inside`` (the field lies inside the image) and ``exact`` (of those, box == region); and
    ``holes`` (some pixel inside the box gets no gradient).
    """
    from dlbook.receptive import receptive_field

    checked = inside = exact = bounded = holes = 0
    while checked < count:
        model, size = random_stack(rng), int(rng.integers(12, 25))
        x = torch.zeros(1, 1, size, size, dtype=torch.float64, requires_grad=True)
        try:
            y = model(x)
        except RuntimeError:  # this stack does not fit this input: draw another
            continue
        rf = receptive_field(model, (1, size, size))
        uy, ux = int(rng.integers(y.shape[2])), int(rng.integers(y.shape[3]))
        (g,) = torch.autograd.grad(y[0, 0, uy, ux], x)
        hit = g[0, 0].numpy() > 0
        rows, cols = np.flatnonzero(hit.any(1)), np.flatnonzero(hit.any(0))
        box = range(rows[0], rows[-1] + 1), range(cols[0], cols[-1] + 1)
        region, full = rf.region(uy, ux), rf.region(uy, ux, clip=False)
        checked += 1
        bounded += (
            region.rows.start <= box[0].start
            and box[0].stop <= region.rows.stop
            and (region.cols.start <= box[1].start and box[1].stop <= region.cols.stop)
        )
        if (full.rows, full.cols) == (region.rows, region.cols):
            inside += 1
            exact += box == (region.rows, region.cols)
        holes += bool(hit.sum() < len(box[0]) * len(box[1]))
    return dict(checked=checked, bounded=bounded, inside=inside, exact=exact, holes=holes)


STACK_KINDS = ("plain 3×3", "3×3, stride 2", "3×3, dilation 2^l")


def conv_stack(kind: str, depth: int, channels: int = 1) -> nn.Sequential:
    """``depth`` 3x3 convolutions of one of :data:`STACK_KINDS`: padding 1; stride 2 and
    padding 1; or dilation and padding ``2**l`` in layer ``l`` (0, 1, ...)."""
    options = {
        "plain 3×3": lambda i: dict(padding=1),
        "3×3, stride 2": lambda i: dict(stride=2, padding=1),
        "3×3, dilation 2^l": lambda i: dict(padding=2**i, dilation=2**i),
    }
    if kind not in options:
        raise ValueError(f"kind must be one of {STACK_KINDS}, got {kind!r}")
    return nn.Sequential(
        *[nn.Conv2d(channels, channels, 3, **options[kind](i)) for i in range(depth)]
    )


def field_growth(depths, size: int = 256, channels: int = 64) -> dict:
    """The field and jump of every :func:`conv_stack` kind at every depth, on a ``size``-pixel
    one-channel input, and its weights with ``channels`` channels; all on the meta device (no
    storage). ``big`` are the distinct field sizes found, ``big_params`` the weights of one
    ``r x r`` layer of ``channels`` channels for each.

    Returns ``{"sizes", "jumps", "params": {kind: [one per depth]}, "big", "big_params"}``.
    """
    from dlbook.nets import count_parameters
    from dlbook.receptive import receptive_field

    sizes, jumps, params = {}, {}, {}
    with torch.device("meta"):
        for kind in STACK_KINDS:
            fields = [receptive_field(conv_stack(kind, d), (1, size, size)) for d in depths]
            sizes[kind] = [f.size[0] for f in fields]
            jumps[kind] = [f.stride[0] for f in fields]
            params[kind] = [count_parameters(conv_stack(kind, d, channels)) for d in depths]
        big = sorted({r for rs in sizes.values() for r in rs})
        big_params = [count_parameters(nn.Conv2d(channels, channels, r)) for r in big]
    return dict(sizes=sizes, jumps=jumps, params=params, big=big, big_params=big_params)


def through(field, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1):
    """The field ``(r, j, p)`` of a layer's output, from the field of its input: one step of the
    recurrence, along one axis.

    Shapes:
        field: (r, j, p), three ints: size, jump and effective padding of the input units
        returns: (r', j', p'), three ints
    Formula:
        r' = r + d (k - 1) j,  j' = s j,  p' = p + q j
    Torch:
        none (torch has no receptive-field function; dlbook.receptive_field traces nn.Modules)
    """
    r, j, p = field
    return r + dilation * (kernel - 1) * j, stride * j, p + padding * j


def field_table(layers) -> list[tuple[int, int, int]]:
    """The field ``(r, j, p)`` after each layer of a stack, each ``(kernel, stride, padding,
    dilation)``, starting from the input's ``(1, 1, 0)``: every pixel sees itself.

    Shapes:
        layers: a list of (k, s, q, d) tuples of ints
        returns: a list of (r, j, p), one per layer
    Formula:
        r' = r + d (k - 1) j,  j' = s j,  p' = p + q j, from r = j = 1, p = 0
    Torch:
        none (torch has no receptive-field function; dlbook.receptive_field traces nn.Modules)
    """
    field, table = (1, 1, 0), []
    for k, s, q, d in layers:
        field = through(field, k, s, q, d)
        table.append(field)
    return table


def field_of_layers(layers) -> tuple[int, int, int]:
    """The size, jump and effective padding ``(r, j, p)`` along one axis after a stack of
    sliding-window layers, each ``(kernel, stride, padding, dilation)``: the last row of
    :func:`field_table`.

    Shapes:
        layers: a non-empty list of (k, s, q, d) tuples of ints
        returns: (r, j, p), three ints
    Formula:
        r' = r + d (k - 1) j,  j' = s j,  p' = p + q j, from r = j = 1, p = 0
    Torch:
        none (torch has no receptive-field function; dlbook.receptive_field traces nn.Modules)
    """
    return field_table(layers)[-1] if layers else (1, 1, 0)


def merge(*fields) -> tuple[int, int, int]:
    """The field of a sum or concatenation of parallel paths: the union of what each sees.

    Unit ``u`` of path ``i`` sees input pixels ``u j - p_i`` to ``u j - p_i + r_i - 1``. With a
    common jump the union runs from ``u j - max p_i`` to ``u j + max (r_i - 1 - p_i)``; paths
    with different jumps cannot be added unit by unit, so they raise.

    Shapes:
        fields: two or more (r, j, p), three ints each, with equal j
        returns: (r, j, p) of the union
    Formula:
        p = max_i p_i,  r = p + max_i (r_i - 1 - p_i) + 1,  j = j_i
    Torch:
        none (dlbook.receptive_field does the same where a traced graph adds or concatenates)
    """
    if len(fields) < 2:
        raise ValueError(f"fields: merge needs two paths or more, got {len(fields)}")
    jumps = {j for _, j, _ in fields}
    if len(jumps) != 1:
        raise ValueError(f"fields: paths with different jumps {sorted(jumps)} cannot be merged")
    pad = max(p for _, _, p in fields)
    end = max(r - 1 - p for r, _, p in fields)
    return pad + end + 1, jumps.pop(), pad


def _field_by_autograd(layers, length: int = 512) -> tuple[int, int, int]:
    """``(r, j, p)`` read off gradients: a stack of ``nn.Conv1d`` with weights of ones, and the
    input pixels that reach two neighbouring units in the middle of the output."""
    stack = nn.Sequential(
        *(nn.Conv1d(1, 1, k, s, q, d, bias=False, dtype=torch.float64) for k, s, q, d in layers)
    )
    for conv in stack:
        nn.init.ones_(conv.weight)
    x = torch.zeros(1, 1, length, dtype=torch.float64, requires_grad=True)
    y = stack(x)
    u = y.shape[-1] // 2 - 1
    first, last = [], []
    for unit in (u, u + 1):
        (g,) = torch.autograd.grad(y[0, 0, unit], x, retain_graph=True)
        reached = np.flatnonzero(g[0, 0].numpy() > 0)
        first.append(int(reached[0]))
        last.append(int(reached[-1]))
    jump = first[1] - first[0]
    return last[0] - first[0] + 1, jump, u * jump - first[0]


def check_receptive_field(fn) -> Report:
    """Hold the reader's ``fn(layers)`` to :func:`field_of_layers` on plain, pooled, strided and
    dilated stacks and AlexNet's feature extractor; each of ``layers`` is ``(kernel, stride,
    padding, dilation)``, and ``fn`` returns ``(r, j, p)`` along one axis.

    Shapes:
        layers: a list of (k, s, q, d) tuples of ints
        returns: a Report; fn must return (r, j, p), three ints
    Formula:
        r' = r + d (k - 1) j,  j' = s j,  p' = p + q j, from r = j = 1, p = 0
    Torch:
        none (the reference is checked against autograd through a torch.nn.Conv1d stack)
    """
    conv3 = (3, 1, 1, 1)
    alexnet = [(11, 4, 2, 1), (3, 2, 0, 1), (5, 1, 2, 1), (3, 2, 0, 1), (3, 1, 1, 1),
               (3, 1, 1, 1), (3, 1, 1, 1), (3, 2, 0, 1)]  # fmt: skip
    cases = [
        Case(([conv3, conv3, conv3],), label="three 3×3 convolutions, padding 1"),
        Case(([conv3, (2, 2, 0, 1), conv3],), label="a 2×2 pooling between two convolutions"),
        Case(([(3, 2, 1, 1)] * 3,), label="three 3×3 convolutions with stride 2"),
        Case(([conv3, (3, 1, 2, 2), (3, 1, 4, 4)],), label="dilations 1, 2, 4"),
        Case((alexnet,), label="AlexNet's feature extractor"),
    ]
    report = check(
        fn, field_of_layers, cases, name="receptive_field", outputs=("r", "j", "p"), atol=0
    )
    for case in cases:  # the reference itself, against autograd
        if field_of_layers(*case.args) != _field_by_autograd(*case.args):
            raise ValueError(f"the recurrence disagrees with autograd on {case.label}")
    report.notes.append(f"  (the reference equals autograd's field on these {len(cases)} cases)")
    return report
