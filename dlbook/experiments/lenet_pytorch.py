"""What the "LeNet-5 in PyTorch" chapter needs beyond :mod:`dlbook.experiments.lenet_numpy`.

- :func:`watch_epochs` records the weights of the LeNet-5 that :func:`dlbook.train.fit` trains,
  before the first step and after every epoch, without changing the run (so the benchmark's own
  run, :func:`dlbook.experiments.lenet_numpy.train_torch`, can be watched); :func:`replay` turns the
  recorded weights into test-set predictions, epoch by epoch.
- :func:`shift` and :func:`shift_accuracy`: how much a trained LeNet cares where the digit is.
- :func:`feature_maps`: what each stage of a trained LeNet computes for one digit.
- :func:`check_train_step` holds the reader's training step (the chapter's exercise) to
  :func:`train_step`, the four lines the chapter shows.
- The chapter's figures and its explorer live in :mod:`dlbook.viz.lenet_pytorch`.
"""

from __future__ import annotations

import copy
from contextlib import contextmanager

import numpy as np
import torch

from dlbook.exercise import Case, Report, check
from dlbook.nets import LeNet5, LeNet5Modern

__all__ = [
    "Snapshots", "watch_epochs", "replay", "weight_change", "shift", "shift_accuracy",
    "feature_maps", "predict_proba", "train_step", "check_train_step",
]  # fmt: skip

_LENETS = (LeNet5, LeNet5Modern)


class Snapshots:
    """Weights (CPU copies of ``state_dict``) of one LeNet-5: ``states[0]`` before the first
    training step, ``states[e]`` after epoch ``e``."""

    def __init__(self):
        self.states: list[dict] = []
        self._model, self._mode = None, None

    def __call__(self, module, args):  # a forward pre-hook: before batch norm updates its buffers
        if not isinstance(module, _LENETS):
            return
        if self._model is None:
            self._model = module
        if module is not self._model:
            raise RuntimeError("watch_epochs: more than one LeNet-5 ran inside the block")
        mode = "train" if module.training else "eval"
        # fit runs the first training batch before any step, and evaluates after every epoch:
        # the first training forward starts from the initial state, the first evaluation after
        # training from the state at the end of the epoch.
        if mode == "train" and not self.states or mode == "eval" and self._mode == "train":
            self.states.append({k: v.detach().to("cpu", copy=True)
                                for k, v in module.state_dict().items()})  # fmt: skip
        self._mode = mode


@contextmanager
def watch_epochs():
    """``with watch_epochs() as snaps: train_torch(...)``: records the weights of the LeNet-5
    trained in the block (see :class:`Snapshots`) through a global forward pre-hook, which only
    reads the weights, so the run is the same as without it."""
    snaps = Snapshots()
    handle = torch.nn.modules.module.register_module_forward_pre_hook(snaps)
    try:
        yield snaps
    finally:
        handle.remove()


def weight_change(states) -> dict[str, float]:
    """How far each weight matrix moved between the first and the last of ``states``, relative
    to where it started: ``|W_last - W_first| / |W_first|`` (Frobenius norms), for the five
    convolution and linear weights, named by LeNet's stages (C1, C3, C5, F6, output)."""
    if len(states) < 2:
        raise ValueError(f"states: need at least 2 snapshots, got {len(states)}")
    first, last = states[0], states[-1]
    keys = [k for k, v in first.items() if k.endswith("weight") and v.ndim >= 2]
    names = ["C1", "C3", "C5", "F6", "output"]
    if len(keys) != len(names):
        raise ValueError(f"states: expected LeNet-5's 5 weight matrices, found {len(keys)}")
    return {n: float((last[k] - first[k]).norm() / first[k].norm()) for n, k in zip(names, keys)}


def _batches(model, x, device, batch_size=1000):
    """Logits of ``model`` (eval mode, no grad) for ``x`` ``(N, 1, H, W)``, as one CPU tensor."""
    was = model.training
    model.eval()
    with torch.no_grad():
        xt = torch.as_tensor(np.asarray(x), dtype=torch.float32)
        out = torch.cat([model(xt[i : i + batch_size].to(device)).cpu()
                         for i in range(0, len(xt), batch_size)])  # fmt: skip
    model.train(was)
    return out


def replay(model, states, x, device=None) -> np.ndarray:
    """Predicted labels ``(len(states), N)`` of ``model``'s architecture with each of ``states``
    loaded, for images ``x`` ``(N, 1, H, W)``. ``model`` itself is left untouched."""
    if not states:
        raise ValueError("states: nothing recorded (did fit run inside watch_epochs?)")
    net = copy.deepcopy(model).to(device or "cpu")
    out = []
    for state in states:
        net.load_state_dict(state)
        out.append(_batches(net, x, device or "cpu").argmax(1).numpy())
    return np.stack(out)


def predict_proba(model, x, device=None) -> np.ndarray:
    """Softmax probabilities ``(N, classes)`` for images ``x`` ``(N, 1, H, W)``; eval mode."""
    device = device or next(model.parameters()).device
    return torch.softmax(_batches(model, x, device), dim=1).numpy()


def shift(x, dy: int, dx: int) -> np.ndarray:
    """Images ``(..., H, W)`` moved ``dy`` pixels down and ``dx`` right; what moves in is 0 (the
    background), what moves out is lost (no wrap-around, unlike ``np.roll``)."""
    x = np.asarray(x)
    h, w = x.shape[-2:]
    if abs(dy) >= h or abs(dx) >= w:
        raise ValueError(f"shift (dy={dy}, dx={dx}) moves the image out of its {h}x{w} frame")
    out = np.zeros_like(x)
    out[..., max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = x[
        ..., max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    return out


def shift_accuracy(model, x, y, shifts=range(-4, 5), device=None) -> dict:
    """Test accuracy with every image moved by each of ``shifts`` pixels: ``{"right": (S,),
    "down": (S,)}``, one array per direction of motion."""
    y = np.asarray(y)
    device = device or next(model.parameters()).device
    acc = {"right": [], "down": []}
    for s in shifts:
        for name, (dy, dx) in (("right", (0, s)), ("down", (s, 0))):
            pred = _batches(model, shift(x, dy, dx), device).argmax(1).numpy()
            acc[name].append(float(np.mean(pred == y)))
    return {k: np.array(v) for k, v in acc.items()}


def feature_maps(model, image, device=None) -> dict[str, np.ndarray]:
    """What each stage of a LeNet-5 computes for one ``image`` ``(1, H, W)``: ``C1`` ``(6, 28,
    28)`` and ``C3`` ``(16, 10, 10)`` after their activation, ``S2``/``S4`` after pooling, ``C5``
    ``(120,)``, ``F6`` ``(84,)`` and the class probabilities ``p`` ``(10,)``. Eval mode."""
    if not isinstance(model, _LENETS):
        raise ValueError(f"model must be a LeNet5 or LeNet5Modern, got {type(model).__name__}")
    was, device = model.training, device or next(model.parameters()).device
    ends = (torch.nn.Conv2d, torch.nn.AvgPool2d, torch.nn.MaxPool2d)
    layers, names, out = list(model.features), iter(["C1", "S2", "C3", "S4", "C5"]), {}
    x = torch.as_tensor(np.asarray(image), dtype=torch.float32, device=device)[None]
    model.eval()
    with torch.no_grad():
        for i, layer in enumerate(layers):
            x = layer(x)
            # a stage ends where the next convolution or pooling layer begins
            if i + 1 == len(layers) or isinstance(layers[i + 1], ends):
                out[next(names)] = x[0].cpu().numpy()
        f6 = model.classifier[:-1](x)  # flatten, linear, activation (and dropout, off in eval)
        out["C5"] = out["C5"].reshape(-1)
        out["F6"] = f6[0].cpu().numpy()
        out["p"] = torch.softmax(model.classifier[-1](f6), 1)[0].cpu().numpy()
    model.train(was)
    return out


def train_step(model, optimizer, xb, yb) -> float:
    """One step of training: clear the gradients, the mean cross-entropy of the batch, its
    gradient by autograd, one update; returns the loss as a float.

    Shapes:
        xb: (B, 1, H, W) tensor; yb: (B,) class indices (int64 tensor)
        returns: the batch's loss before the update, a float
    Formula:
        L = -(1/B) sum_i log softmax(model(x_i))[y_i];  θ <- optimizer's update with ∇_θ L
    Torch:
        torch.nn.functional.cross_entropy, Tensor.backward, torch.optim.Optimizer.step
    """
    import torch.nn.functional as F

    optimizer.zero_grad()
    loss = F.cross_entropy(model(xb), yb)
    loss.backward()
    optimizer.step()
    return loss.item()


def _replay_steps(step):
    """``run(seed, steps, modern)``: ``steps`` calls of ``step`` on a fresh float64 LeNet-5 with
    SGD (momentum 0.9), each on its own batch of 8 random images; returns every weight after
    the last step, flattened, and the losses the calls returned."""

    def run(seed, steps, modern=False):
        with torch.random.fork_rng(devices=[]):  # the caller's random state stays as it was
            torch.manual_seed(seed)
            model = (LeNet5Modern if modern else LeNet5)(input_size=28).double()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        generator = torch.Generator().manual_seed(seed)
        losses = []
        for _ in range(steps):
            xb = torch.rand(8, 1, 28, 28, dtype=torch.float64, generator=generator)
            yb = torch.randint(0, 10, (8,), generator=generator)
            loss = step(model, optimizer, xb, yb)
            losses.append(float(loss.detach() if hasattr(loss, "detach") else loss))
        weights = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
        return weights.numpy(), np.array(losses)

    return run


def check_train_step(fn) -> Report:
    """Hold the reader's ``fn(model, optimizer, xb, yb)`` to :func:`train_step`: both drive a
    fresh float64 LeNet-5 with SGD and momentum for one and for three steps (which catches
    gradients that are never cleared), and the modern LeNet-5 with batch norm.

    Shapes:
        fn: (model, optimizer, xb (B, 1, 28, 28), yb (B,)) -> the loss, a float
        returns: a Report on the weights after the steps and the losses fn returned
    Formula:
        L = mean cross-entropy of the batch; θ <- SGD with momentum, ∇_θ L
    Torch:
        torch.nn.functional.cross_entropy, Tensor.backward, torch.optim.Optimizer.step
    """
    if not callable(fn):
        raise ValueError(f"fn must be a function, got {type(fn).__name__}")
    cases = [
        Case((0, 1), label="one step"),
        Case((1, 3), label="three steps"),
        Case((2, 2, True), label="two steps of the modern LeNet-5"),
    ]
    return check(
        _replay_steps(fn),
        _replay_steps(train_step),
        cases,
        name=getattr(fn, "__name__", "train_step"),
        outputs=("the weight vector after the steps", "the list of losses returned"),
        atol=1e-10,
    )
