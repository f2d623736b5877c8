"""Why convolution: locality, weight sharing, and what shifting an image does to a network.

* :func:`layer_parameters` counts the weights of a dense, a locally connected and a
  convolutional layer that map the same image to the same feature maps.
* :func:`shift` moves images by whole pixels (zeros come in), and :func:`shift_error` measures how
  far a layer is from equivariant: ``layer(shift(x))`` against the best shift of ``layer(x)``,
  away from the borders.
* :func:`padded_digits`, :func:`make_net`, :func:`train_shift_nets` and :func:`shift_sensitivity`
  train two small CNNs on digits, one with global average pooling and one that flattens, and
  measure how much their outputs move when the digit is shifted by 1..k pixels.
* :func:`check_shift` holds a reader's ``shift`` to this module's.
"""

from __future__ import annotations

import numbers

import numpy as np

from dlbook.data import Split, load_digits
from dlbook.exercise import Case, Report, check

__all__ = [
    "layer_parameters",
    "shift",
    "shift_error",
    "padded_digits",
    "make_net",
    "train_shift_nets",
    "shift_sensitivity",
    "check_shift",
]


def _count(value, name, low):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    return int(value)


def layer_parameters(height=224, width=224, in_channels=3, out_channels=64, kernel_size=3):
    """Weights and biases of three layers that map a ``(C_in, H, W)`` image to ``(C_out, H, W)``
    feature maps ('same' padding, stride 1), as Python ints.

    * ``"dense"``: every output value sees every input value, with its own weights;
    * ``"locally connected"``: every output value sees a ``k×k×C_in`` window (locality), with its
      own weights at every position;
    * ``"convolution"``: the same window, and the same weights at every position (sharing).
    Each has one bias per output value, except the convolution: one per output channel.
    """
    h, w = _count(height, "height", 1), _count(width, "width", 1)
    c_in, c_out = _count(in_channels, "in_channels", 1), _count(out_channels, "out_channels", 1)
    k = _count(kernel_size, "kernel_size", 1)
    n_in, n_out = c_in * h * w, c_out * h * w
    return {
        "dense": n_in * n_out + n_out,
        "locally connected": n_out * c_in * k * k + n_out,
        "convolution": c_out * c_in * k * k + c_out,
    }


def shift(x, dy, dx):
    """Move the images in ``x`` down by ``dy`` and right by ``dx`` pixels (negative: up, left).

    What leaves the frame is lost and zeros come in, as when an object moves in front of a
    camera; ``np.roll`` would wrap it round instead.

    Shapes:
        x: (..., H, W); returns: the same shape and dtype
    Formula:
        out[..., i, j] = x[..., i - dy, j - dx] where that index is inside x, else 0
    """
    dy, dx = (_count(v, name, -(10**9)) for v, name in ((dy, "dy"), (dx, "dx")))
    x = np.asarray(x)
    if x.ndim < 2:
        raise ValueError(f"x must have at least 2 dimensions (..., H, W), got shape {x.shape}")
    out = np.zeros_like(x)
    h, w = x.shape[-2:]
    if abs(dy) >= h or abs(dx) >= w:
        return out
    out[..., max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = x[
        ..., max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    return out


def shift_error(layer, x, d, stride=1, margin=0):
    """How far ``layer`` is from equivariant under a shift of ``d >= 0`` pixels to the right.

    ``layer`` maps ``(N, C, H, W)`` arrays to ``(N, C', H', W')`` with total ``stride``, so an
    exact equivariant would move its output by ``d / stride`` pixels. Returns the relative error
    ``|layer(shift(x)) - shift(layer(x), q)| / |shift(layer(x), q)|`` over the output columns
    ``q + margin .. W' - margin`` (the columns left of ``q`` only ever see zeros that came in), at
    the better of ``q = floor(d / stride)`` and ``ceil(d / stride)``: 0 means equivariant there.
    """
    d, s, m = _count(d, "d", 0), _count(stride, "stride", 1), _count(margin, "margin", 0)
    moved, base = np.asarray(layer(shift(x, 0, d))), np.asarray(layer(x))
    errors = []
    for q in sorted({d // s, -(-d // s)}):
        want = shift(base, 0, q)[..., :, q + m : base.shape[-1] - m]
        got = moved[..., :, q + m : base.shape[-1] - m]
        if want.size == 0:
            raise ValueError(f"margin {m} and shift {d} leave no output column to compare")
        errors.append(float(np.linalg.norm(got - want) / max(np.linalg.norm(want), 1e-300)))
    return min(errors)


def padded_digits(canvas: int = 16, seed: int = 0) -> Split:
    """scikit-learn's 8×8 digits in the middle of a ``canvas × canvas`` black frame, float32, so
    that a digit can move ``(canvas - 8) / 2`` pixels either way without leaving the frame."""
    c = _count(canvas, "canvas", 8)
    data = load_digits(seed=seed)
    lo = (c - 8) // 2
    pad = ((0, 0), (0, 0), (lo, c - 8 - lo), (lo, c - 8 - lo))
    return Split(np.pad(data.x_train, pad), data.y_train, np.pad(data.x_test, pad), data.y_test,
                 name=f"digits on a {c}x{c} canvas")  # fmt: skip


def make_net(head: str, widths=(8, 16, 32), size: int = 16, classes: int = 10):
    """A small CNN: three 3×3 convolutions (padding 1, batch norm, ReLU), the first two followed
    by 2×2 max pooling (a total stride of 4), then ``head="gap"``: global average pooling and a
    linear layer, or ``head="flatten"``: the ``(size / 4)²`` positions of every channel
    flattened into a linear layer, which gives each position its own weights."""
    import torch.nn as nn

    if head not in ("gap", "flatten"):
        raise ValueError(f"head must be 'gap' or 'flatten', got {head!r}")
    a, b, c = (_count(w, "widths", 1) for w in widths)
    n = _count(size, "size", 4) // 4

    def block(c_in, c_out, pool):
        layers = [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
                  nn.ReLU()]  # fmt: skip
        return layers + ([nn.MaxPool2d(2)] if pool else [])

    trunk = block(1, a, True) + block(a, b, True) + block(b, c, False)
    if head == "gap":
        tail = [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, classes)]
    else:
        tail = [nn.Flatten(), nn.Linear(c * n * n, classes)]
    return nn.Sequential(*trunk, *tail)


def train_shift_nets(data: Split, epochs: int = 6, lr: float = 1e-2, device=None, seed: int = 0):
    """Train :func:`make_net` with each head on ``data`` (unshifted digits) with
    :func:`dlbook.train.fit`, from the same trunk weights, on one torch thread; returns
    ``{head: (model, history)}``, the models in evaluation mode."""
    import torch

    from dlbook import seeding
    from dlbook.train import fit

    # The layers are tiny: on a busy 2-core machine a second thread spin-waits and makes them
    # several times slower, not faster. One thread while training, then as it was.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    runs = {}
    try:
        for head in ("gap", "flatten"):
            seeding.manual_seed(seed)
            model = make_net(head, size=data.x_train.shape[-1])
            history = fit(model, data, epochs=epochs, lr=lr, batch_size=64, device=device,
                          seed=seed)  # fmt: skip
            runs[head] = (model.eval(), history)
    finally:
        torch.set_num_threads(threads)
    return runs


def shift_sensitivity(model, x, y, shifts=(0, 1, 2, 3, 4), device=None):
    """How much ``model``'s output moves when the images ``x`` move right by each shift.

    Returns ``{d: dict(change=..., flipped=..., accuracy=...)}``: the mean relative change of
    the logits ``|f(shift(x)) - f(x)| / |f(x)|`` per image, the fraction of predictions that
    change, and the accuracy (%) on the shifted images.
    """
    import torch

    from dlbook.devices import resolve

    device = resolve(device)
    model = model.to(device).eval()

    def logits(images):
        with torch.no_grad():
            return model(torch.as_tensor(images, device=device)).double().cpu().numpy()

    base = logits(x)
    result = {}
    for d in shifts:
        out = logits(shift(x, 0, _count(d, "shift", 0)))
        change = np.linalg.norm(out - base, axis=1) / np.linalg.norm(base, axis=1)
        result[d] = dict(change=float(change.mean()),
                         flipped=float(np.mean(out.argmax(1) != base.argmax(1))),
                         accuracy=float(100 * np.mean(out.argmax(1) == y)))  # fmt: skip
    return result


def check_shift(fn) -> Report:
    """Hold the reader's ``fn(x, dy, dx)`` to :func:`shift` on a 2-D image and a batch: shifts
    down, right, up, left and both at once, no shift, and a shift past the edge.

    Shapes:
        x: (..., H, W); fn returns the same shape and dtype
    Formula:
        out[..., i, j] = x[..., i - dy, j - dx] where that index is inside x, else 0
    Torch:
        none (torch.roll wraps round; this shift fills with zeros)
    """
    rng = np.random.default_rng(0)  # fixed: the same report whatever DLBOOK_SEED is
    img, batch = rng.standard_normal((5, 6)), rng.standard_normal((2, 3, 4, 5))
    cases = [
        Case((img, 1, 0), label="down by 1"),
        Case((img, 0, 2), label="right by 2"),
        Case((img, -2, 0), label="up by 2"),
        Case((img, 0, -1), label="left by 1"),
        Case((batch, 1, -2), label="a batch, down and left"),
        Case((img, 0, 0), label="no shift"),
        Case((img, 0, 7), label="past the right edge: all zeros"),
    ]
    return check(fn, shift, cases, name="shift")
