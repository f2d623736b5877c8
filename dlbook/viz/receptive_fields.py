"""Pictures of receptive fields: 1-D stack diagrams, their animations, a stack builder, and
fields drawn on a photograph; the two-marks experiment's table and figure.

A *stack* is a list of :class:`Step` (convolution or max pooling along one axis). The diagrams
put every unit of every layer at the centre of its field, in input pixels, so that deeper layers
spread out by their jump; the *cone* of one unit is every unit (and padding cell) it depends on,
traced down by the layers' index arithmetic. The sizes, jumps and starts printed beside the
diagram come from :func:`dlbook.receptive_field`, which the tests hold equal to the cone.
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import FuncAnimation
from matplotlib.collections import LineCollection, PatchCollection
from matplotlib.patches import Rectangle
from matplotlib.transforms import blended_transform_factory

from dlbook.shapes import conv_output_size
from dlbook.viz.common import figure_png
from dlbook.viz.static import frame_html, png_size

__all__ = ["Step", "as_steps", "to_model", "Stack", "analyse", "cone", "draw_stack", "plot_stacks",
           "animate_growth", "animate_slide", "StackBuilder", "unit_near", "draw_regions",
           "plot_growth", "summary", "accuracy_table", "plot_accuracy_vs_field"]  # fmt: skip

_CONE, _UNIT, _PAD, _BAND = "#2171b5", "#d9d9d9", "#969696", "#c6dbef"


@dataclass(frozen=True)
class Step:
    """One layer along one axis: ``kind`` is ``"conv"`` or ``"pool"`` (max pooling)."""

    kind: str
    kernel: int
    stride: int = 1
    padding: int = 0
    dilation: int = 1

    def label(self) -> str:
        extra = "".join(f" {c}{v}" for c, v in (("s", self.stride), ("d", self.dilation)) if v > 1)
        pad = f" p{self.padding}" if self.padding else ""
        return f"{self.kind} {self.kernel}{extra}{pad}"


def _int(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def as_steps(spec) -> list[Step]:
    """Check a stack: ``Step``s or tuples ``(kind, kernel, stride, padding, dilation)``."""
    out = []
    for item in spec:
        st = item if isinstance(item, Step) else Step(*item)
        if st.kind not in ("conv", "pool"):
            raise ValueError(f"kind must be 'conv' or 'pool', got {st.kind!r}")
        for name in ("kernel", "stride", "padding", "dilation"):
            _int(getattr(st, name), name, 0 if name == "padding" else 1)
        if st.kind == "pool" and 2 * st.padding > st.dilation * (st.kernel - 1) + 1:
            raise ValueError(f"padding: a pooling pads at most half its window, got {st}")
        out.append(st)
    if not out:
        raise ValueError("steps must hold at least one layer")
    return out


def to_model(steps):
    """The stack as a one-channel ``nn.Sequential`` of square ``Conv2d`` / ``MaxPool2d``."""
    from torch import nn

    layers = [
        nn.Conv2d(1, 1, s.kernel, s.stride, s.padding, s.dilation, bias=False)
        if s.kind == "conv"
        else nn.MaxPool2d(s.kernel, s.stride, s.padding, s.dilation)
        for s in as_steps(steps)
    ]
    return nn.Sequential(*layers)


@dataclass(frozen=True)
class Stack:
    """A stack on an input of ``n`` pixels; lists run over levels 0 (the input) to L."""

    steps: list
    grids: list  # units per level
    sizes: list  # r
    jumps: list  # j
    pads: list  # effective padding p: unit u sees u*j - p ... u*j - p + r - 1

    def centre(self, level: int, unit) -> np.ndarray:
        """Centre of a unit's field, in input pixels: ``u j - p + (r - 1)/2``."""
        r, j, p = self.sizes[level], self.jumps[level], self.pads[level]
        return np.asarray(unit) * j - p + (r - 1) / 2


def analyse(steps, n: int) -> Stack:
    """Grid sizes from the output-size formula; size, jump and padding from
    :func:`dlbook.receptive_field` on :func:`to_model`'s network (a field is a field whatever
    the channels, so one channel is enough)."""
    from dlbook.receptive import receptive_field

    steps, n = as_steps(steps), _int(n, "n", 1)
    grids = [n]
    for i, s in enumerate(steps):
        try:
            grids.append(conv_output_size(grids[-1], s.kernel, s.stride, s.padding, s.dilation))
        except ValueError as err:
            raise ValueError(f"n: {n} pixels are too few for layer {i + 1}; {err}") from None
    rows = receptive_field(to_model(steps), (1, n, n)).layers
    sizes, jumps, pads = ([first] + [getattr(r, a)[0] for r in rows]
                          for first, a in ((1, "size"), (1, "stride"), (0, "padding")))  # fmt: skip
    return Stack(steps, grids, sizes, jumps, pads)


def cone(stack: Stack, level: int, unit: int) -> list[np.ndarray]:
    """The units at every level ``0..level`` that ``unit`` of ``level`` depends on. Indices
    outside ``[0, grid)`` are padding (or lie beyond it): the unclipped field counts them."""
    units = [np.array([unit])]
    for s in reversed(stack.steps[:level]):
        taps = units[0][:, None] * s.stride - s.padding + s.dilation * np.arange(s.kernel)
        units.insert(0, np.unique(taps))
    return units


def _boxes(ax, xs, level, **style):
    """One box per unit centred at ``xs`` on row ``level``, as a single collection."""
    boxes = [Rectangle((x - 0.4, level - 0.18), 0.8, 0.36) for x in np.atleast_1d(xs)]
    ax.add_collection(PatchCollection(boxes, **style))


def draw_stack(stack: Stack, level=None, unit=None, ax=None, fontsize=9.0, title=""):
    """The diagram, with the cone of ``unit`` at ``level`` (default: the top level's middle
    unit); levels above ``level`` are faded. Returns the Axes."""
    L = len(stack.steps)
    level = L if level is None else _int(level, "level", 0)
    if level > L:
        raise ValueError(f"level must be at most {L}, the number of layers; got {level}")
    unit = stack.grids[level] // 2 if unit is None else _int(unit, "unit", 0)
    if unit >= stack.grids[level]:
        raise ValueError(f"unit={unit} is outside level {level}'s {stack.grids[level]} units")
    if ax is None:
        _, ax = plt.subplots(figsize=(8.5, 0.55 * L + 1.6), dpi=80)
    units, lines = cone(stack, level, unit), []
    for lv in range(L + 1):
        alpha = 1.0 if lv <= level else 0.35
        _boxes(ax, stack.centre(lv, np.arange(stack.grids[lv])), lv, fc=_UNIT, ec="0.5",
               lw=0.4, alpha=alpha)  # fmt: skip
        if lv > level:
            continue
        ok = (units[lv] >= 0) & (units[lv] < stack.grids[lv])
        _boxes(ax, stack.centre(lv, units[lv][ok]), lv, fc=_CONE, ec=_CONE, lw=0.8)
        _boxes(
            ax, stack.centre(lv, units[lv][~ok]), lv, fc="white", ec=_PAD, lw=1.2, ls=(0, (3, 2))
        )
        if lv > 0:
            s = stack.steps[lv - 1]
            for u in units[lv]:
                taps = u * s.stride - s.padding + s.dilation * np.arange(s.kernel)
                x0 = stack.centre(lv, u)
                lines += [[(x0, lv - 0.18), (x, lv - 0.82)] for x in stack.centre(lv - 1, taps)]
    ax.add_collection(LineCollection(lines, colors=_CONE, lw=0.6, alpha=0.6))
    lo, hi = int(units[0].min()), int(units[0].max())
    ax.add_patch(Rectangle((lo - 0.5, -0.45), hi - lo + 1, 0.9, fc=_BAND, ec="none", zorder=0))
    ax.add_patch(Rectangle((-0.5, -0.62), stack.grids[0], 0.08, fc="0.3", ec="none"))
    xs = np.concatenate([stack.centre(lv, [0, stack.grids[lv] - 1]) for lv in range(L + 1)])
    ax.set_xlim(min(xs.min(), lo) - 1, max(xs.max(), hi) + 1)
    ax.set_ylim(-0.8, L + 0.5)
    ax.set_yticks(range(L + 1), ["input"] + [s.label() for s in stack.steps], fontsize=fontsize)
    ax.tick_params(axis="x", labelsize=fontsize)
    ax.set_xlabel("input pixel (dark bar: the image; dashed boxes: padding)", fontsize=fontsize)
    side = blended_transform_factory(ax.transAxes, ax.transData)
    for lv in range(L + 1):
        text = f"r={stack.sizes[lv]} j={stack.jumps[lv]} start={-stack.pads[lv]}"
        ax.text(1.01, lv, text, transform=side, va="center", fontsize=fontsize,
                color="0.6" if lv > level else "black")  # fmt: skip
    ax.spines[["top", "right"]].set_visible(False)
    name = "the input" if level == 0 else f"layer {level}"
    ax.set_title(f"{title}unit {unit} of {name} sees input pixels {lo}…{hi} (r = {hi - lo + 1})",
                 fontsize=fontsize + 1, loc="left")  # fmt: skip
    return ax


def plot_stacks(cases: dict, n: int = 16, fontsize=9.0):
    """One diagram per stack, stacked vertically; ``cases`` maps a title to a stack spec."""
    if not cases:
        raise ValueError("cases must hold at least one stack")
    stacks = {title: analyse(spec, n) for title, spec in cases.items()}
    heights = [len(s.steps) + 1.6 for s in stacks.values()]
    fig, axes = plt.subplots(
        len(stacks),
        1,
        figsize=(8.5, 0.5 * sum(heights) + 0.3),
        dpi=80,
        gridspec_kw={"height_ratios": heights},
        squeeze=False,
    )
    for ax, (title, st) in zip(axes[:, 0], stacks.items()):
        draw_stack(st, ax=ax, fontsize=fontsize, title=f"{title}: ")
        if ax is not axes[-1, 0]:
            ax.set_xlabel("")
    fig.tight_layout()
    return fig


def _animation(stack, frames, dpi, interval, pick):
    L = len(stack.steps)
    fig, ax = plt.subplots(figsize=(8.5, 0.55 * L + 1.6), dpi=dpi)

    def update(i):
        ax.clear()
        draw_stack(stack, *pick(i), ax=ax)
        return []

    update(0)
    fig.tight_layout()  # once: every frame has the same labels
    return FuncAnimation(fig, update, frames=frames, interval=interval, blit=False)


def animate_growth(steps, n: int = 16, dpi=72, interval=900):
    """One frame per level: the cone of the middle unit of level 0, 1, ..., L."""
    stack = analyse(steps, n)
    return _animation(
        stack, len(stack.steps) + 1, dpi, interval, lambda i: (i, stack.grids[i] // 2)
    )


def animate_slide(steps, n: int = 16, dpi=72, interval=500, max_frames=40):
    """One frame per top-level unit: the field slides by the jump each frame."""
    stack = analyse(steps, n)
    frames = stack.grids[-1]
    if frames > max_frames:
        raise ValueError(f"max_frames: the top layer has {frames} units, more than {max_frames}")
    return _animation(stack, frames, dpi, interval, lambda i: (len(stack.steps), i))


class StackBuilder:
    """An ipywidgets stack builder: choose a layer, add it, and the table and the diagram
    follow. ``steps`` holds the current stack; display the object to get the widgets."""

    def __init__(self, steps=(("conv", 3, 1, 1, 1), ("pool", 2, 2, 0, 1)), n: int = 24):
        import ipywidgets as w

        self.steps = as_steps(steps)
        self._initial = list(self.steps)
        slider = lambda d, lo, hi, v: w.IntSlider(value=v, min=lo, max=hi, description=d)  # noqa: E731
        self.kind = w.Dropdown(options=["conv", "pool"], value="conv", description="layer")
        self.kernel, self.stride = slider("kernel", 1, 7, 3), slider("stride", 1, 4, 1)
        self.padding, self.dilation = slider("padding", 0, 8, 1), slider("dilation", 1, 8, 1)
        self.n = slider("input n", 4, 48, n)
        buttons = [w.Button(description=d) for d in ("add layer", "remove last", "reset")]
        for b, fn in zip(buttons, (self.add, self.remove, self.reset)):
            b.on_click(lambda _, fn=fn: fn())
        self.n.observe(lambda _: self.redraw(), names="value")
        self.out = w.Output()
        controls = w.VBox([self.kind, self.kernel, self.stride, self.padding, self.dilation])
        self.widget = w.VBox([w.HBox([controls, w.VBox([self.n, *buttons])]), self.out])
        self.redraw()

    def add(self):
        v = [c.value for c in (self.kind, self.kernel, self.stride, self.padding, self.dilation)]
        self.steps.append(Step(*v))
        self.redraw()

    def remove(self):
        if len(self.steps) > 1:
            self.steps.pop()
        self.redraw()

    def reset(self):
        self.steps = list(self._initial)
        self.redraw()

    def table(self, stack: Stack) -> str:
        lines = ["layer            units   size r  jump j  start -p  centre of unit 0"]
        for lv, label in enumerate(["input"] + [s.label() for s in stack.steps]):
            r, j, p = stack.sizes[lv], stack.jumps[lv], stack.pads[lv]
            lines.append(f"{label:<16} {stack.grids[lv]:>5} {r:>8} {j:>7} {-p:>9} "
                         f"{stack.centre(lv, 0):>17g}")  # fmt: skip
        return "\n".join(lines) + "\n"

    def redraw(self):
        # Outputs are set directly, not captured with `with self.out:`: the capture's messages
        # can stall nbclient (jupyter/nbclient#312) when the book executes this cell.
        from IPython.display import Image

        self.out.outputs = ()
        try:
            stack = analyse(self.steps, self.n.value)
        except ValueError as err:  # the input is too small for the stack
            message = (f"cannot build this stack: {str(err).splitlines()[0]}\n"
                       "press 'remove last' or enlarge the input\n")  # fmt: skip
            self.out.append_stdout(message)
            self._snapshot = [message]
            return
        table = self.table(stack)
        self.out.append_stdout(table)
        fig = draw_stack(stack).figure
        png = figure_png(fig, dpi=None, bbox_inches="tight")
        self.out.append_display_data(Image(png))
        self._snapshot = [table, (png, png_size(png)[0])]

    def _repr_mimebundle_(self, **kwargs):
        """The live widgets, with a still of the current stack for pages read without a kernel
        (the HTML book shows ``text/html``)."""
        bundle = self.widget._repr_mimebundle_(**kwargs)
        note = "<p><em>Add and remove layers when the cell is run in Jupyter.</em></p>"
        bundle["text/html"] = (
            f'<div class="dlbook-snapshot">{frame_html(None, self._snapshot)}{note}</div>'
        )
        layers = ", ".join(s.label() for s in self.steps)
        bundle["text/plain"] = f"Stack builder ({layers}); run the cell to add and remove layers"
        return bundle


def unit_near(rf, point) -> tuple[int, int]:
    """The output unit of ``rf`` (a :class:`dlbook.receptive.ReceptiveField`) whose field is
    centred nearest to the input pixel ``point = (row, col)``."""
    unit = []
    for a, c in enumerate(point):
        r, j, p, grid = rf.size[a], rf.stride[a], rf.padding[a], rf.out_shape[-2 + a]
        unit.append(int(np.clip(np.floor((c + p - (r - 1) / 2) / j + 0.5), 0, grid - 1)))
    return tuple(unit)


def draw_regions(ax, image, regions: dict, colours=None, fontsize=9.0):
    """``image`` (``(H, W)`` or ``(3, H, W)``) with one rectangle per ``label -> Region``."""
    img = np.moveaxis(image, 0, -1) if image.ndim == 3 else image
    ax.imshow(img, cmap="gray" if img.ndim == 2 else None)
    colours = colours or plt.cm.viridis(np.linspace(0.0, 0.9, len(regions)))
    for (label, reg), c in zip(regions.items(), colours):
        y0, x0 = reg.rows.start, reg.cols.start
        ax.add_patch(
            Rectangle(
                (x0 - 0.5, y0 - 0.5),
                len(reg.cols),
                len(reg.rows),
                fill=False,
                ec=c,
                lw=1.8,
                label=label,
            )
        )
    ax.legend(fontsize=fontsize, loc="lower left", framealpha=0.85)
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def plot_growth(depths, sizes: dict, params: dict, big_kernel=None, fontsize=9.0):
    """Receptive field against depth (left) and parameters against receptive field (right).

    ``sizes`` and ``params`` map a stack's name to one value per depth; ``big_kernel`` is an
    optional ``(sizes, params)`` curve for single k×k layers."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8), dpi=80)
    for (name, r), m in zip(sizes.items(), ("o", "s", "^", "v")):
        a.plot(depths, r, marker=m, label=name)
        b.plot(r, params[name], marker=m, label=name)
    if big_kernel is not None:
        b.plot(*big_kernel, "k--", label="one k×k layer, k = r")
    a.set_yscale("log", base=2)
    a.set_xlabel("depth (3×3 layers)", fontsize=fontsize)
    a.set_ylabel("receptive field r (pixels, log scale)", fontsize=fontsize)
    a.set_title("How far one unit sees", fontsize=fontsize + 1)
    b.set_xscale("log", base=2)
    b.set_yscale("log")
    b.set_xlabel("receptive field r (pixels, log scale)", fontsize=fontsize)
    b.set_ylabel("parameters (log scale)", fontsize=fontsize)
    b.set_title("What that field costs in weights", fontsize=fontsize + 1)
    for ax in (a, b):
        ax.legend(fontsize=fontsize)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def summary(rf, names) -> str:
    """A few rows of a receptive-field table, as text. ``names`` are module paths, looked up
    as ``rf[name]``: a block's row is its last one, shown with kind "block output"."""
    head = ("layer", "kind", "size", "jump", "padding", "output")
    body = []
    for name in names:
        row = rf[name]
        kind = row.kind if row.name == name else "block output"
        shape = "x".join(str(v) for v in row.out_shape[1:])
        body.append((name, kind, *(str(v[0]) for v in (row.size, row.stride, row.padding)), shape))
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [head, *body]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def accuracy_table(results: dict, chance: float) -> str:
    """The two-marks runs as text, one line a network: field, jump, weights and the test
    accuracy (%) of every seed. ``results`` as :func:`dlbook.experiments.receptive_fields.run`
    returns them; ``chance`` the share of the larger class (0 to 1)."""
    lines = ["network       field  jump  weights  test accuracy (%) per seed"]
    for name, r in results.items():
        accs = "  ".join(f"{a:5.1f}" for a in r["accs"])
        lines.append(f"{name:<13}{r['field']:>6}{r['jump']:>6}{r['weights']:>9,}   {accs}")
    lines.append(f"chance (the larger class): {100 * chance:.1f} %")
    return "\n".join(lines)


def plot_accuracy_vs_field(results: dict, chance: float, pattern: int):
    """Test accuracy against field width, one dot per seed (squares: strided networks), with
    the ``pattern`` width (dashed) and ``chance`` (0 to 1, dotted) marked. Returns the Figure."""
    fig, ax = plt.subplots(figsize=(6.5, 3.4), dpi=80)
    for name, r in results.items():
        jump, accs = r["jump"], r["accs"]
        marker, colour = ("s", "C1") if jump > 1 else ("o", "C0")
        ax.plot([r["field"]] * len(accs), accs, marker, color=colour, alpha=0.8)
        ax.annotate(name, (r["field"], np.mean(accs)), textcoords="offset points",
                    xytext=(6, -12 if jump > 1 else 2), fontsize=9)  # fmt: skip
    ax.axvline(pattern, color="gray", ls="--", lw=1)
    ax.text(pattern - 0.2, 75, f"field = pattern width ({pattern})", rotation=90, fontsize=9,
            color="gray", ha="right", va="center")  # fmt: skip
    ax.axhline(100 * chance, color="gray", ls=":", lw=1)
    ax.text(18.8, 100 * chance + 1, "chance", ha="right", fontsize=9, color="gray")
    ax.plot([], [], "o", color="C0", label="stride 1 (dilated)")
    ax.plot([], [], "s", color="C1", label="strided (jump 4)")
    ax.set_xlabel("receptive field width (pixels)")
    ax.set_ylabel("test accuracy (%), one dot per seed")
    ax.set_title("A unit must see both marks", fontsize=10)
    ax.set_xlim(5, 19)
    ax.legend(fontsize=9, loc="center right")
    fig.tight_layout()
    return fig
