"""The residual-network chapter's experiments: a basic block written with :mod:`dlbook.scratch`,
the degradation problem measured on plain and residual twins, and their gradients.

* :func:`pad_shortcut` / :func:`pad_shortcut_backward`: the parameter-free shortcut (option A)
  in NumPy; :func:`basic_block` / :func:`basic_block_backward`: a whole
  :class:`dlbook.nets.BasicBlock` (batch norm in training mode) from scratch functions;
  :func:`block_arrays` reads a torch block's weights as float64 arrays for them.
* :func:`gradient_norms`: the size of the loss's gradient with respect to every block's output
  (and every convolution's weights) of a :class:`dlbook.nets.SmallResNet`.
* :func:`train_twins`: trains residual networks and their plain twins at several depths with
  :func:`dlbook.train.fit`, and measures their gradients before and after;
  :func:`summarize_twins` collects the final training losses and gradient ratios.
* :func:`check_shortcut_backward`: the checker of the chapter's exercise.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from dlbook.exercise import Case, check
from dlbook.scratch import (
    batch_norm,
    batch_norm_backward,
    conv2d,
    conv2d_backward,
    relu,
    relu_backward,
)

__all__ = [
    "pad_shortcut",
    "pad_shortcut_backward",
    "basic_block",
    "basic_block_backward",
    "block_arrays",
    "gradient_norms",
    "train_twins",
    "summarize_twins",
    "unit_centre",
    "erf_side",
    "check_shortcut_backward",
]


def _check_image(input, name="input"):
    if not isinstance(input, np.ndarray) or input.ndim != 4:
        raise ValueError(f"{name} must be a 4-D array (N, C, H, W), got {np.shape(input)}")


def pad_shortcut(input, out_channels, stride=1):
    """The shortcut of He et al.'s option A: every ``stride``-th pixel, then zero channels.

    Shapes:
        input: (N, C_in, H, W)
        returns: (N, out_channels, ceil(H / s), ceil(W / s))
    Formula:
        out[n, c, i, j] = input[n, c, s i, s j] for c < C_in, 0 otherwise
    Torch:
        dlbook.nets.PadShortcut (none in torch itself)
    """
    _check_image(input)
    if out_channels < input.shape[1]:
        raise ValueError(f"out_channels ({out_channels}) must be >= input channels")
    if stride < 1:
        raise ValueError(f"stride must be a positive int, got {stride}")
    sub = input[:, :, ::stride, ::stride]
    out = np.zeros((sub.shape[0], out_channels, *sub.shape[2:]), dtype=input.dtype)
    out[:, : input.shape[1]] = sub
    return out


def pad_shortcut_backward(grad_output, input, out_channels, stride=1):
    """The gradient of :func:`pad_shortcut` for its input: the first ``C_in`` channels of
    ``grad_output`` go back to the pixels the forward pass kept; the rest get zero.

    Shapes:
        grad_output: (N, out_channels, ceil(H / s), ceil(W / s)); input: (N, C_in, H, W)
        returns: (N, C_in, H, W)
    Formula:
        grad_input[n, c, s i, s j] = grad_output[n, c, i, j], 0 at every other pixel
    Torch:
        autograd through dlbook.nets.PadShortcut
    """
    _check_image(input)
    grad_input = np.zeros_like(input, dtype=grad_output.dtype)
    grad_input[:, :, ::stride, ::stride] = grad_output[:, : input.shape[1]]
    return grad_input


def _bn(x, weight, bias):
    c = x.shape[1]
    mean, var = np.zeros(c, x.dtype), np.ones(c, x.dtype)  # running statistics: not kept
    return batch_norm(x, mean, var, weight, bias, training=True)


def _bn_backward(g, x, weight, bias):
    c = x.shape[1]
    return batch_norm_backward(g, x, np.zeros(c), np.ones(c), weight, bias, training=True)


def basic_block(input, conv1_weight, bn1_weight, bn1_bias, conv2_weight, bn2_weight, bn2_bias,
                stride=1, shortcut=True):  # fmt: skip
    """A :class:`dlbook.nets.BasicBlock` with batch norm in training mode (batch statistics) and
    the option-A shortcut, written with :mod:`dlbook.scratch` functions.

    Shapes:
        input: (N, C_in, H, W); conv1_weight: (C_out, C_in, 3, 3); conv2_weight: (C_out, C_out,
        3, 3); bn*_weight, bn*_bias: (C_out,)
        returns: (N, C_out, H_out, W_out), H_out = floor((H - 1) / stride) + 1
    Formula:
        y = relu(bn2(conv2(relu(bn1(conv1(x))))) + pad_shortcut(x)), without the shortcut term
        when shortcut=False
    Torch:
        dlbook.nets.BasicBlock(C_in, C_out, stride, shortcut, downsample="pad") in train mode
    """
    _check_image(input)
    h = relu(_bn(conv2d(input, conv1_weight, None, stride, 1), bn1_weight, bn1_bias))
    y = _bn(conv2d(h, conv2_weight, None, 1, 1), bn2_weight, bn2_bias)
    if shortcut:
        y = y + pad_shortcut(input, conv1_weight.shape[0], stride)
    return relu(y)


def basic_block_backward(grad_output, input, conv1_weight, bn1_weight, bn1_bias, conv2_weight,
                         bn2_weight, bn2_bias, stride=1, shortcut=True):  # fmt: skip
    """The gradients of :func:`basic_block` for its seven array arguments, in order. The
    shortcut's gradient is *added* to the branch's: ``dL/dx = branch term + shortcut term``.

    Shapes:
        grad_output: like basic_block's output; returns: one array per array argument
    Formula:
        g = grad_output * [y_pre > 0]; dL/dx = J_F(x)^T g + pad_shortcut_backward(g)
    Torch:
        autograd through dlbook.nets.BasicBlock(..., downsample="pad") in train mode
    """
    a1 = conv2d(input, conv1_weight, None, stride, 1)
    b1 = _bn(a1, bn1_weight, bn1_bias)
    h = relu(b1)
    a2 = conv2d(h, conv2_weight, None, 1, 1)
    pre = _bn(a2, bn2_weight, bn2_bias)
    if shortcut:
        pre = pre + pad_shortcut(input, conv1_weight.shape[0], stride)
    g = relu_backward(grad_output, pre)
    g_a2, g_bn2w, g_bn2b = _bn_backward(g, a2, bn2_weight, bn2_bias)
    g_h, g_w2, _ = conv2d_backward(g_a2, h, conv2_weight, None, 1, 1)
    g_b1 = relu_backward(g_h, b1)
    g_a1, g_bn1w, g_bn1b = _bn_backward(g_b1, a1, bn1_weight, bn1_bias)
    g_x, g_w1, _ = conv2d_backward(g_a1, input, conv1_weight, None, stride, 1)
    if shortcut:
        g_x = g_x + pad_shortcut_backward(g, input, conv1_weight.shape[0], stride)
    return g_x, g_w1, g_bn1w, g_bn1b, g_w2, g_bn2w, g_bn2b


def block_arrays(block):
    """The six parameter arrays of a :class:`dlbook.nets.BasicBlock` with batch norm, as
    float64 NumPy arrays in :func:`basic_block`'s order."""
    ps = (block.conv1.weight, block.bn1.weight, block.bn1.bias,
          block.conv2.weight, block.bn2.weight, block.bn2.bias)  # fmt: skip
    return tuple(p.detach().cpu().double().numpy().copy() for p in ps)


def gradient_norms(model, x, y):
    """One backward pass of the cross-entropy of ``model`` (a :class:`dlbook.nets.SmallResNet`)
    on ``(x, y)``, in the model's current mode. Returns a dict of float64 arrays:
    ``"activations"``: ``||dL/dx_l||`` for the stem's output ``x_0`` and every block's output
    ``x_1 .. x_L``; ``"weights"``: ``||dL/dW||`` for every convolution, input to output.
    Parameter gradients are left at zero."""
    device = next(model.parameters()).device
    x = torch.as_tensor(x, dtype=torch.float32, device=device)
    y = torch.as_tensor(y, dtype=torch.long, device=device)
    model.zero_grad()
    h = model.relu(model.bn1(model.conv1(x)))
    outs = [h]
    for block in model.blocks():
        h = block(h)
        outs.append(h)
    for o in outs:
        o.retain_grad()
    logits = model.fc(torch.flatten(model.avgpool(h), 1))
    F.cross_entropy(logits, y).backward()
    acts = np.array([o.grad.norm().item() for o in outs])
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    weights = np.array([c.weight.grad.norm().item() for c in convs])
    model.zero_grad()
    return dict(activations=acts, weights=weights)


def train_twins(data, depths=(8, 20), shortcuts=(True, False), batch_norm=True,
                widths=(8, 16, 32), epochs=6, lr=3e-3, batch_size=64, seed=0, device=None,
                probe=128):  # fmt: skip
    """Train :func:`dlbook.nets.resnet_small` of every depth (``6 n + 2``) with and without
    shortcuts, with :func:`dlbook.train.fit` (Adam, running training loss per epoch). Twins of
    one depth start from the same weights and see the same batches.

    Returns one dict per run: ``depth``, ``shortcut``, ``batch_norm``, the ``history``, the
    ``model`` and :func:`gradient_norms` on ``probe`` training images (evenly spaced) before
    (``grads_init``) and after (``grads_trained``) training, the model in training mode.
    """
    from dlbook.devices import resolve
    from dlbook.nets import resnet_small
    from dlbook.train import fit, seed_everything

    device = resolve(device)
    rows = []
    pick = np.linspace(0, len(data.y_train) - 1, probe).astype(int)  # every class
    xs, ys = data.x_train[pick], data.y_train[pick]
    for depth in depths:
        if (depth - 2) % 6 or depth < 8:
            raise ValueError(f"depths must be 6 n + 2 with n >= 1, got {depth}")
        for shortcut in shortcuts:
            seed_everything(seed)
            model = resnet_small((depth - 2) // 6, widths, int(data.y_train.max()) + 1,
                                 shortcut, batch_norm, data.x_train.shape[1])  # fmt: skip
            model.to(device).train()
            before = gradient_norms(model, xs, ys)
            history = fit(model, data, epochs=epochs, lr=lr, batch_size=batch_size,
                          device=device, seed=seed, eval_train=False)  # fmt: skip
            model.train()
            after = gradient_norms(model, xs, ys)
            rows.append(dict(depth=depth, shortcut=shortcut, batch_norm=batch_norm,
                             history=history, model=model, grads_init=before,
                             grads_trained=after))  # fmt: skip
    return rows


def summarize_twins(rows):
    """Per run of :func:`train_twins`, keyed ``(depth, shortcut, batch_norm)``: the final
    training loss ``loss``, the best test accuracy ``test_acc`` (%), and ``ratio_init`` /
    ``ratio_trained``: ``||dL/dx_0|| / ||dL/dx_L||``, the gradient at the first block's input
    over the gradient at the last block's output (below 1: it shrinks on the way down)."""
    out = {}
    for r in rows:
        h = r["history"]
        a0, a1 = r["grads_init"]["activations"], r["grads_trained"]["activations"]
        out[(r["depth"], r["shortcut"], r["batch_norm"])] = dict(
            loss=float(h.final["train_loss"]),
            test_acc=float(100 * max(h["test_acc"])),
            ratio_init=float(a0[0] / a0[-1]),
            ratio_trained=float(a1[0] / a1[-1]),
        )
    return out


def unit_centre(field, unit):
    """The input pixel ``(y, x)`` at the centre of the receptive field of output unit ``unit``
    ``(i, j)``, for a receptive field ``field`` from :func:`dlbook.receptive_field`.

    Shapes:
        field: .size, .stride, .padding, each (h, w); unit: (i, j); returns: (y, x) floats
    Formula:
        centre = unit * stride - padding + (size - 1) / 2, per axis
    Torch:
        none (receptive-field arithmetic)
    """
    return tuple(
        float(u * s - p + (k - 1) / 2)
        for u, s, p, k in zip(unit, field.stride, field.padding, field.size)
    )


def erf_side(erf, fraction=0.9, centre=None):
    """The side, in pixels, of the smallest square centred on ``centre`` (``(y, x)``; default:
    the middle of the map) that holds ``fraction`` of an effective receptive field's total.

    Shapes:
        erf: (H, W) map of gradient magnitudes; returns: an int
    Formula:
        min { s : sum of erf over max(|y - c_y|, |x - c_x|) <= (s - 1) / 2 >= fraction * sum }
    Torch:
        none (a statistic of a map)
    """
    erf = np.asarray(erf, dtype=np.float64)
    if erf.ndim != 2 or erf.sum() <= 0:
        raise ValueError(f"erf must be a non-zero (H, W) map, got shape {erf.shape}")
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    cy, cx = ((erf.shape[0] - 1) / 2, (erf.shape[1] - 1) / 2) if centre is None else centre
    yy, xx = np.indices(erf.shape)
    side = np.ceil(2 * np.maximum(np.abs(yy - cy), np.abs(xx - cx)) + 1)  # square that holds it
    order = np.argsort(side, axis=None, kind="stable")
    mass = np.cumsum(erf.ravel()[order]) / erf.sum()
    return int(side.ravel()[order][np.searchsorted(mass, fraction - 1e-12)])


def check_shortcut_backward(fn):
    """Hold ``fn(grad_output, input, out_channels, stride)`` to :func:`pad_shortcut_backward`
    on four cases from fixed generators: the identity, a stride-2 shortcut that doubles the
    channels, an odd image size, and float32."""
    rng = np.random.default_rng(6)
    x1 = rng.normal(size=(2, 3, 4, 4))
    x2 = rng.normal(size=(2, 4, 6, 6))
    x3 = rng.normal(size=(1, 2, 5, 5))
    x4 = rng.normal(size=(2, 2, 4, 4)).astype(np.float32)
    cases = [
        Case((rng.normal(size=(2, 3, 4, 4)), x1, 3, 1), {}, "identity: 3 channels, stride 1"),
        Case((rng.normal(size=(2, 8, 3, 3)), x2, 8, 2), {}, "4 -> 8 channels, stride 2"),
        Case((rng.normal(size=(1, 4, 3, 3)), x3, 4, 2), {}, "5 x 5 image, stride 2"),
        Case((rng.normal(size=(2, 4, 2, 2)).astype(np.float32), x4, 4, 2), {}, "float32"),
    ]
    return check(fn, pad_shortcut_backward, cases, name="pad_shortcut_backward",
                 outputs=("grad_input",))  # fmt: skip
