"""Convolution-arithmetic diagrams in the style of Dumoulin & Visin (2016).

One square input of side ``n`` (blue), its zero padding (dashed white), the dilated kernel's taps
(dark blue, inside an outline that marks the span ``d(k-1)+1``) and the output grid (green). The
same drawing serves three uses: :func:`draw_conv` for one setting, :func:`plot_cases` for a grid
of settings, and :func:`animate_conv` for a ``FuncAnimation`` that slides the kernel over the
padded input one output pixel per frame. Nothing here computes a result the text relies on; the
sizes come from :func:`dlbook.shapes.conv_output_size`'s formula.

:func:`stride_figure` draws the chapter's stride experiment (the results of
:func:`dlbook.experiments.padding_stride_dilation.run`): accuracy, learning curves and cost.
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import FuncAnimation
from matplotlib.collections import PatchCollection
from matplotlib.patches import Rectangle
from matplotlib.transforms import Affine2D

from dlbook.shapes import same_padding
from dlbook.viz.common import make_explorer

__all__ = [
    "Setting",
    "conv_setting",
    "ConvDiagram",
    "draw_conv",
    "plot_cases",
    "animate_conv",
    "conv_explorer",
    "stride_figure",
    "legend",
    "CASES",
]

# The chapter's five classic cases, small enough to animate (each <= 25 frames).
CASES = {
    "valid": dict(n=5, kernel_size=3, stride=1, padding="valid", dilation=1),
    "same": dict(n=5, kernel_size=3, stride=1, padding="same", dilation=1),
    "full": dict(n=3, kernel_size=3, stride=1, padding="full", dilation=1),
    "stride 2": dict(n=5, kernel_size=3, stride=2, padding=1, dilation=1),
    "dilation 2": dict(n=7, kernel_size=3, stride=1, padding=0, dilation=2),
}

_INPUT, _PAD, _TAP, _SPAN = "#9ecae1", "white", "#08306b", "#08306b"
_OUT, _OUT_DONE, _OUT_NOW, _UNUSED = "#e5f5e0", "#a1d99b", "#238b45", "#fcbba1"
_GAP = 1.5  # cells between the input and the output grids


@dataclass(frozen=True)
class Setting:
    """One axis' arithmetic (the diagrams are square): sizes, padding (before, after) and output."""

    n: int
    kernel_size: int
    stride: int
    dilation: int
    pads: tuple[int, int]
    mode: str  # "", "valid", "same" or "full"

    @property
    def span(self) -> int:
        return self.dilation * (self.kernel_size - 1) + 1

    @property
    def padded(self) -> int:
        return self.n + sum(self.pads)

    @property
    def out(self) -> int:
        return (self.padded - self.span) // self.stride + 1

    def taps(self, i: int) -> np.ndarray:
        """Padded coordinates read by output index ``i`` along one axis."""
        return i * self.stride + self.dilation * np.arange(self.kernel_size)

    def used(self) -> np.ndarray:
        """Boolean mask over the padded axis: read by at least one window."""
        mask = np.zeros(self.padded, dtype=bool)
        for i in range(self.out):
            mask[self.taps(i)] = True
        return mask

    def title(self) -> str:
        before, after = self.pads
        p = str(before) if before == after else f"{before}+{after}"
        p += f" ({self.mode})" if self.mode else ""
        k, s, d, n, o = self.kernel_size, self.stride, self.dilation, self.n, self.out
        return f"k={k}, s={s}, p={p}, d={d}: {n}×{n} → {o}×{o}"


def _int(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def conv_setting(n, kernel_size=3, stride=1, padding=0, dilation=1) -> Setting:
    """Check one setting and resolve ``padding``: an int, ``'valid'``, ``'same'`` or ``'full'``.

    ``'same'`` pads ``d(k-1)`` in total with the odd pixel after, as torch does (stride 1 only);
    ``'full'`` pads ``d(k-1)`` on each side, so every partial overlap gives an output.
    """
    n, k = _int(n, "n", 1), _int(kernel_size, "kernel_size", 1)
    s, d = _int(stride, "stride", 1), _int(dilation, "dilation", 1)
    mode = padding if isinstance(padding, str) else ""
    if mode == "valid":
        pads = (0, 0)
    elif mode == "same":
        if s != 1:
            raise ValueError(f"padding='same' needs stride=1, got stride={s}")
        pads = same_padding(k, d)
    elif mode == "full":
        pads = (d * (k - 1),) * 2
    elif mode:
        raise ValueError(f"padding must be an int, 'valid', 'same' or 'full', got {padding!r}")
    else:
        pads = (_int(padding, "padding", 0),) * 2
    setting = Setting(n, k, s, d, pads, mode)
    if setting.span > setting.padded:
        raise ValueError(
            f"kernel_size: the dilated kernel spans {setting.span} pixels, more than the padded "
            f"input's {setting.padded}"
        )
    return setting


class ConvDiagram:
    """A diagram on ``ax`` whose kernel can be moved with :meth:`move_to` (for animations).

    Each grid is one ``PatchCollection``, so that a frame costs a few draw calls, not hundreds.
    """

    def __init__(self, ax, setting: Setting, show_unused=True, caption=True, fontsize=8.0):
        self.ax, self.s = ax, setting
        small = 0.875 * fontsize
        st, size, b = setting, setting.padded, setting.pads[0]
        used = st.used()
        cells, faces, styles = [], [], []
        for r in range(size):
            for c in range(size):
                inside = b <= r < b + st.n and b <= c < b + st.n
                unused = show_unused and inside and not (used[r] and used[c])
                cells.append(Rectangle((c, r), 1, 1))
                faces.append(_UNUSED if unused else (_INPUT if inside else _PAD))
                styles.append("-" if inside else (0, (2, 2)))
        ax.add_collection(PatchCollection(cells, fc=faces, ec="0.35", lw=0.6, ls=styles))
        self.x0, self.y0 = size + _GAP, (size - st.out) / 2
        out = [
            Rectangle((self.x0 + c, self.y0 + r), 1, 1)
            for r in range(st.out)
            for c in range(st.out)
        ]
        self.outputs = ax.add_collection(PatchCollection(out, fc=_OUT, ec="0.2", lw=0.6))
        # The taps sit at multiples of d inside the window; moving the window moves the shift.
        self._shift = Affine2D()
        offsets = st.dilation * np.arange(st.kernel_size)
        taps = [Rectangle((j, i), 1, 1) for i in offsets for j in offsets]
        self.taps = ax.add_collection(
            PatchCollection(taps, fc=_TAP, alpha=0.7, lw=0, transform=self._shift + ax.transData)
        )
        self.outline = ax.add_patch(
            Rectangle((0, 0), st.span, st.span, fill=False, ec=_SPAN, lw=1.6)
        )
        label = "input (padded)" if sum(st.pads) else "input"
        ax.text(size / 2, -0.3, label, ha="center", va="bottom", fontsize=small)
        ax.text(
            self.x0 + st.out / 2, self.y0 - 0.3, "output", ha="center", va="bottom", fontsize=small
        )
        self.caption = (
            ax.text(0, size + 0.3, "", ha="left", va="top", fontsize=small) if caption else None
        )
        ax.set_xlim(-0.2, self.x0 + max(st.out, 1) + 0.2)
        ax.set_ylim(size + (1.4 if caption else 0.3), -1.3)
        ax.set_aspect("equal")
        ax.axis("off")
        ax.set_title(st.title(), fontsize=fontsize)
        self.move_to(0, 0)

    def move_to(self, y: int, x: int, progress: bool = False):
        """Put the kernel on output pixel ``(y, x)``; ``progress`` fills the pixels before it.

        Afterwards ``self.window`` holds the padded (rows, cols) the window reads.
        """
        st = self.s
        self.window = rows, cols = st.taps(y), st.taps(x)
        self._shift.clear().translate(cols[0], rows[0])
        self.taps.stale = True
        self.outline.set_xy((cols[0], rows[0]))
        order = np.arange(st.out * st.out)
        now = y * st.out + x
        faces = np.where(
            order == now, _OUT_NOW, np.where(progress & (order < now), _OUT_DONE, _OUT)
        )
        self.outputs.set_facecolor(list(faces))
        if self.caption is not None:
            b = st.pads[0]
            self.caption.set_text(
                f"out[{y},{x}] reads rows {_fmt(rows - b)}, cols {_fmt(cols - b)}"
            )
        return [self.taps, self.outline, self.outputs]


def _fmt(idx: np.ndarray) -> str:
    """Input coordinates a window reads; negative or >= n means padding."""
    return ",".join(str(int(i)) for i in idx)


def legend(fig, y: float = 0.0, fontsize: float = 8.0):
    """A one-line key to the colours at the bottom of ``fig``."""
    keys = [
        (_INPUT, "-", "input"),
        (_PAD, (0, (2, 2)), "zero padding"),
        (_TAP, "-", "kernel taps"),
        (_UNUSED, "-", "never read"),
        (_OUT_NOW, "-", "current output"),
    ]
    handles = [
        Rectangle((0, 0), 1, 1, fc=fc, ec="0.35", ls=ls, alpha=0.7 if fc == _TAP else 1)
        for fc, ls, _ in keys
    ]
    fig.legend(
        handles,
        [k[2] for k in keys],
        loc="lower center",
        bbox_to_anchor=(0.5, y),
        ncol=len(keys),
        fontsize=fontsize,
        frameon=False,
        handlelength=1.2,
    )


def _figsize(setting: Setting, scale: float) -> tuple[float, float]:
    """Inches for one diagram at ``scale`` inches per cell (wide enough for its title)."""
    width = setting.padded + _GAP + setting.out + 0.4
    return max(width * scale, 12 * scale), (setting.padded + 3.0) * scale + 0.4


def draw_conv(
    n,
    kernel_size=3,
    stride=1,
    padding=0,
    dilation=1,
    position=(0, 0),
    ax=None,
    show_unused=True,
    caption=True,
    fontsize=10.0,
):
    """Draw one setting with the kernel on output pixel ``position``; returns the Axes.

    Input pixels that no window ever reads (the floor in the output-size formula drops them)
    are drawn in red when ``show_unused``.
    """
    st = conv_setting(n, kernel_size, stride, padding, dilation)
    if ax is None:
        _, ax = plt.subplots(figsize=_figsize(st, 0.3), dpi=80)
    ConvDiagram(ax, st, show_unused, caption, fontsize).move_to(*position)
    return ax


def plot_cases(cases, ncols: int = 3, panel=(2.7, 2.4), fontsize=8.5):
    """A figure with one static diagram per setting; ``cases`` holds dicts of draw_conv's args.

    ``panel`` is one diagram's (width, height) in inches; the figure is drawn at the dpi that
    makes it as wide as the book's 720 px column (at most 100 dpi).
    """
    cases = list(cases.values()) if isinstance(cases, dict) else list(cases)
    if not cases:
        raise ValueError("cases must hold at least one setting")
    ncols = min(_int(ncols, "ncols", 1), len(cases))
    nrows = -(-len(cases) // ncols)
    width = panel[0] * ncols
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(width, panel[1] * nrows), dpi=min(100, 720 / width), squeeze=False
    )
    for ax, case in zip(axes.flat, cases):
        draw_conv(**case, ax=ax, fontsize=fontsize)
    for ax in axes.flat[len(cases) :]:
        ax.axis("off")
    fig.tight_layout(rect=(0, 0.35 / (panel[1] * nrows), 1, 1))
    legend(fig, fontsize=fontsize)
    return fig


def animate_conv(
    n, kernel_size=3, stride=1, padding=0, dilation=1, interval=400, dpi=80, max_frames=40
):
    """A ``FuncAnimation`` with one frame per output pixel, row by row; show it with ``to_html``.

    Raises ``ValueError`` (naming ``max_frames``) when the output has more pixels than that, so a
    notebook cannot silently grow by megabytes.
    """
    st = conv_setting(n, kernel_size, stride, padding, dilation)
    frames = st.out * st.out
    if frames > max_frames:
        raise ValueError(f"max_frames: the output has {frames} pixels, more than {max_frames}")
    fig, ax = plt.subplots(figsize=_figsize(st, 0.3), dpi=dpi)
    diagram = ConvDiagram(ax, st, fontsize=10.0)
    fig.tight_layout(pad=0.4)

    def update(i):
        return diagram.move_to(*divmod(i, st.out), progress=True)

    return FuncAnimation(fig, update, frames=frames, interval=interval, blit=False)


def conv_explorer():
    """Sliders for n, k, p, s, d: the diagram and the output-size formula, worked (ipywidgets).
    Returns the widget (display it); the formula and the diagram go into its ``Output``."""
    import ipywidgets as widgets

    slider = widgets.IntSlider
    controls = dict(
        n=slider(value=5, min=1, max=9, description="input n"),
        kernel_size=slider(value=3, min=1, max=5, description="kernel k"),
        padding=slider(value=1, min=0, max=4, description="padding p"),
        stride=slider(value=2, min=1, max=3, description="stride s"),
        dilation=slider(value=1, min=1, max=3, description="dilation d"),
    )

    def draw():
        n, k, p, s, d = (w.value for w in controls.values())
        try:
            st = conv_setting(n, k, s, p, d)
        except ValueError as err:
            return f"{err}\n"
        formula = (
            f"out = ⌊({n} + 2·{p} − {d}·({k}−1) − 1) / {s}⌋ + 1"
            f" = ⌊{n + 2 * p - st.span} / {s}⌋ + 1 = {st.out}\n"
        )
        return formula, draw_conv(n, k, s, p, d).figure

    return make_explorer(list(controls.values()), draw, output=True, dpi=None)


_STRIDE_COLOURS = {1: "tab:blue", 2: "tab:orange", 3: "tab:green"}


def _accuracy_panel(ax, rows, label, colour):
    """Mean ± std of the last epoch's test accuracy per stride, with every seed as a dot."""
    strides = [r.stride for r in rows]
    ax.errorbar(
        strides,
        [100 * r.mean for r in rows],
        yerr=[100 * r.std for r in rows],
        marker="o",
        capsize=4,
        color=colour,
        label="mean ± std",
    )
    for r in rows:
        seeds = [100 * a for a in r.accuracies]
        ax.plot([r.stride] * len(seeds), seeds, "k.", alpha=0.5)
    ax.plot([], [], "k.", alpha=0.5, label="one seed")
    ax.set_xticks(strides)
    ax.set_xlabel("stride of both convolutions")
    ax.set_ylabel("test accuracy after the last epoch (%)")
    ax.set_title(f"Head: {label}, {len(rows[0].curves[0])} epochs", fontsize=10)
    ax.legend(fontsize=9)


def stride_figure(flatten, gap):
    """Two rows of panels for the stride experiment, one list of ``StrideResult`` per head.

    Top: accuracy against stride for the flatten head and the global-average-pooling head. Bottom
    left: the mean learning curves of both heads; bottom right: the flatten network's multiply-adds
    per image. Returns the figure.
    """
    fig, axes = plt.subplots(2, 2, figsize=(9, 6.6), dpi=80)  # 720 px: the book's column
    heads = [(flatten, "flatten → linear", "-"), (gap, "global avg pool → linear", "--")]
    for ax, (rows, label, _), colour in zip(axes[0], heads, ["C0", "C1"]):
        _accuracy_panel(ax, rows, label, colour)
    ax_curve, ax_cost = axes[1]
    for rows, label, style in heads:
        for r in rows:
            epochs = np.arange(1, len(r.mean_curve) + 1)
            ax_curve.plot(
                epochs,
                100 * r.mean_curve,
                style,
                color=_STRIDE_COLOURS[r.stride],
                label=f"s={r.stride}, {label.split(' →')[0]}",
            )
    ax_curve.set_xlabel("epoch")
    ax_curve.set_ylabel("test accuracy (%), mean over seeds")
    ax_curve.set_title("Learning curves", fontsize=10)
    ax_curve.legend(fontsize=8.5, ncol=2, loc="lower right")
    strides = [r.stride for r in flatten]
    ax_cost.bar(strides, [r.macs for r in flatten], color="tab:gray")
    ax_cost.set_yscale("log")
    ax_cost.set_ylim(top=3 * max(r.macs for r in flatten))  # room for the labels
    ax_cost.set_xticks(strides)
    ax_cost.set_xlabel("stride of both convolutions")
    ax_cost.set_ylabel("multiply-adds per image (log)")
    ax_cost.set_title("Cost of the flatten network", fontsize=10)
    for s, r in zip(strides, flatten):
        ax_cost.text(s, r.macs, f"{r.macs:,}", ha="center", va="bottom", fontsize=9)
    fig.tight_layout()
    return fig
