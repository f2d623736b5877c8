"""The "seeing inside a network" chapter's experiments: saliency maps of a trained LeNet-5, from
scratch and in torch, the sanity checks of Adebayo et al. (2018) measured, and activation
maximization.

* :func:`class_scores` / :func:`class_scores_backward`: the score of each image's class and its
  gradient for the input, through the NumPy LeNet-5 of :mod:`dlbook.scratch.nets`;
  :func:`numpy_twin` copies a trained :class:`dlbook.nets.LeNet5` into it.
* :func:`saliency`: gradient, gradient × input and SmoothGrad maps in torch; :func:`edge_map`,
  a map that looks at the image only.
* :func:`cascade`: the trained network with its layers re-initialized from the top down;
  :func:`rank_correlation`: Spearman's rank correlation of two maps; :func:`sanity_checks`:
  both randomization tests, measured.
* :func:`layer_output`, :func:`top_images`, :func:`activation_maximization`: what a channel
  responds to, among the test digits and by gradient ascent on the input.
* :func:`check_rank_correlation`: the checker of the chapter's exercise.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from dlbook import seeding
from dlbook.exercise import Case, check

__all__ = [
    "METHODS",
    "STAGES",
    "LAYERS",
    "numpy_twin",
    "class_scores",
    "class_scores_backward",
    "train_lenet",
    "input_gradient",
    "saliency",
    "edge_map",
    "cascade",
    "rank_correlation",
    "sanity_checks",
    "layer_output",
    "top_images",
    "activation_maximization",
    "check_rank_correlation",
]

METHODS = ("gradient", "gradient × input", "SmoothGrad")
# the cascading randomization, top layer first: "logits" re-initializes the output layer, "F6"
# that and F6, ..., "C1" every layer
STAGES = ("trained", "logits", "F6", "C5", "C3", "C1")
# where each named layer's output is, in a dlbook.nets.LeNet5: (part, index of its last module)
LAYERS = {"C1": ("features", 0), "C3": ("features", 3), "C5": ("features", 6),
          "F6": ("classifier", 1), "logits": ("classifier", 3)}  # fmt: skip


def numpy_twin(model):
    """The NumPy LeNet-5 of :func:`dlbook.scratch.nets.lenet5` (float64) with the weights of
    ``model``, a :class:`dlbook.nets.LeNet5` for 28×28 images."""
    from dlbook.scratch.nets import lenet5

    net = lenet5(input_size=28, dtype=np.float64)
    net.set_params(p.detach().cpu().double().numpy() for p in model.parameters())
    return net


def _check_target(input, target):
    if not isinstance(input, np.ndarray) or input.ndim != 4:
        raise ValueError(f"input must be a 4-D array (N, C, H, W), got {np.shape(input)}")
    target = np.asarray(target)
    if target.shape != (len(input),) or not np.issubdtype(target.dtype, np.integer):
        raise ValueError(f"target must be {len(input)} class indices, got {target!r}")
    return target


def class_scores(input, net, target):
    """The score (logit) of class ``target[n]`` for image ``n``, through a NumPy network.

    Shapes:
        input: (N, C, H, W); target: (N,) ints; returns: (N,)
    Formula:
        s[n] = net(input)[n, target[n]]
    Torch:
        model(input).gather(1, target[:, None])[:, 0]
    """
    target = _check_target(input, target)
    return net(input)[np.arange(len(input)), target]


def class_scores_backward(grad_output, input, net, target):
    """The gradient of :func:`class_scores` for the input: a one-hot ``grad_output`` at each
    image's class, sent back through every layer's ``backward``. With ``grad_output`` all ones
    it is each image's saliency by gradient, ``∂s_c/∂x``.

    Shapes:
        grad_output: (N,); input: (N, C, H, W); target: (N,); returns: (N, C, H, W)
    Formula:
        grad_input[n] = grad_output[n] * ∂ net(input)[n, target[n]] / ∂ input[n]
    Torch:
        torch.autograd.grad(model(input).gather(1, target[:, None]), input, grad_output)
    """
    target = _check_target(input, target)
    logits = net(input)
    onehot = np.zeros_like(logits)
    onehot[np.arange(len(input)), target] = grad_output
    return net.backward(onehot)


def train_lenet(data, epochs=8, shuffle_labels=False, lr=3e-3, seed=0, device=None):
    """Train a :class:`dlbook.nets.LeNet5` (28×28 inputs) on ``data`` with
    :func:`dlbook.train.fit` (Adam, batches of 64). ``shuffle_labels=True`` permutes the
    training labels first (a seeded permutation): the data randomization test's network.
    Returns ``(model, history)``, the model in eval mode."""
    from dlbook import nets
    from dlbook.data.offline import Split
    from dlbook.train import fit

    y = data.y_train
    if shuffle_labels:
        y = seeding.rng(seed + 100).permutation(y)
    split = Split(data.x_train, y, data.x_test, data.y_test, data.name)
    seeding.manual_seed(seed)
    model = nets.LeNet5(input_size=28)
    history = fit(model, split, epochs=epochs, lr=lr, batch_size=64, device=device, seed=seed,
                  eval_train=False)  # fmt: skip
    return model.eval(), history


def _device(model):
    return next(model.parameters()).device


def input_gradient(model, x, target):
    """``∂ s_target / ∂ x`` for a batch ``x`` (tensor or array, ``(N, C, H, W)``) by autograd,
    as a tensor on ``x``'s device; the model's parameters get no gradient."""
    p = next(model.parameters())
    x = torch.as_tensor(x, dtype=p.dtype, device=p.device).detach().requires_grad_(True)
    t = torch.as_tensor(np.asarray(target), device=p.device)
    score = model(x).gather(1, t[:, None]).sum()
    (grad,) = torch.autograd.grad(score, x)
    return grad


def saliency(model, x, target, method="gradient", n=16, sigma=0.15, seed=0):
    """A saliency map of each image of ``x`` ``(N, 1, H, W)`` for its class ``target``, as the
    magnitude that Adebayo et al. compare (a float64 array ``(N, H, W)``):

    * ``"gradient"`` (Simonyan et al. 2014): ``|∂s_c/∂x|``;
    * ``"gradient × input"`` (Shrikumar et al. 2017): ``|x ⊙ ∂s_c/∂x|``;
    * ``"SmoothGrad"`` (Smilkov et al. 2017): ``|mean of ∂s_c/∂x at x + noise|`` over ``n``
      copies with Gaussian noise of standard deviation ``sigma`` (the images lie in [0, 1]).
    """
    x = torch.as_tensor(x, dtype=next(model.parameters()).dtype, device=_device(model))
    if method == "gradient":
        out = input_gradient(model, x, target)
    elif method == "gradient × input":
        out = x * input_gradient(model, x, target)
    elif method == "SmoothGrad":
        gen = torch.Generator().manual_seed(seeding.seed(seed))
        out = torch.zeros_like(x)
        for _ in range(n):
            noise = sigma * torch.randn(x.shape, generator=gen, dtype=x.dtype).to(x.device)
            out += input_gradient(model, x + noise, target) / n
    else:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    return out.abs()[:, 0].double().cpu().numpy()


def edge_map(x):
    """A map that ignores the network: the Sobel edge magnitude of each image ``(N, 1, H, W)``,
    as ``(N, H, W)`` float64."""
    from scipy import ndimage

    img = np.asarray(x, dtype=np.float64)[:, 0]
    return np.hypot(ndimage.sobel(img, axis=1), ndimage.sobel(img, axis=2))


def _module(model, layer):
    part, index = LAYERS[layer]
    return getattr(model, part)[index]


def cascade(model, seed=0):
    """Cascading model randomization: ``[(stage, model), ...]`` for :data:`STAGES`, the trained
    ``model`` first, then copies with the output layer, then also F6, C5, C3 and C1
    re-initialized (each layer's own ``reset_parameters``, from a seeded generator)."""
    seeding.manual_seed(seed + 200)
    out = [("trained", model)]
    current = model
    for stage in STAGES[1:]:
        current = copy.deepcopy(current)
        _module(current, stage).reset_parameters()
        out.append((stage, current.eval()))
    return out


def _ranks(v):
    """Ranks 1..n of the entries of a 1-D array; tied entries share the mean of their ranks."""
    order = np.argsort(v, kind="stable")
    ranks = np.empty(len(v))
    ranks[order] = np.arange(1, len(v) + 1)
    _, tie, counts = np.unique(v, return_inverse=True, return_counts=True)
    return (np.bincount(tie, weights=ranks) / counts)[tie]


def rank_correlation(a, b):
    """Spearman's rank correlation between maps ``a[n]`` and ``b[n]``, one per image: the Pearson
    correlation of their ranks, tied values sharing their mean rank.

    Shapes:
        a, b: (N, ...) the same shape; returns: (N,) float64
    Formula:
        rho_n = sum_i (r_i - mean r)(q_i - mean q) / sqrt(sum_i (r_i - mean r)^2 sum_i (q_i -
        mean q)^2), r = ranks of a[n].ravel(), q = ranks of b[n].ravel()
    Torch:
        none (scipy.stats.spearmanr computes the same number)
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim < 2:
        raise ValueError(f"a and b must have one shape (N, ...), got {a.shape} and {b.shape}")
    ra = np.array([_ranks(v) for v in a.reshape(len(a), -1)])
    rb = np.array([_ranks(v) for v in b.reshape(len(b), -1)])
    ra -= ra.mean(1, keepdims=True)
    rb -= rb.mean(1, keepdims=True)
    return (ra * rb).sum(1) / np.sqrt((ra**2).sum(1) * (rb**2).sum(1))


def sanity_checks(model, shuffled, x, target, methods=METHODS, seed=0):
    """Both tests of Adebayo et al. on the images ``x`` with classes ``target``.

    Returns a dict: ``"maps"``: ``{stage: {method: (N, H, W)}}`` along :func:`cascade`, plus
    ``"shuffled labels"``: the maps of ``shuffled``, the network trained on permuted labels;
    ``"model"``: ``{method: (S,)}``, the mean rank correlation of each stage's maps with the
    trained network's; ``"data"``: ``{method: float}``, the same for ``shuffled``;
    ``"input"``: ``{method: float}``, the trained maps' rank correlation with ``|x|`` itself;
    ``"edges"``: the same with :func:`edge_map` of ``x``.
    """
    stages = cascade(model, seed) + [("shuffled labels", shuffled)]
    maps = {s: {m: saliency(net, x, target, m, seed=seed) for m in methods} for s, net in stages}
    ref = maps["trained"]
    out = dict(maps=maps, model={}, data={}, input={}, edges={})
    absx, edges = np.abs(np.asarray(x, dtype=np.float64))[:, 0], edge_map(x)
    for m in methods:
        out["model"][m] = np.array([rank_correlation(ref[m], maps[s][m]).mean() for s in STAGES])
        out["data"][m] = float(rank_correlation(ref[m], maps["shuffled labels"][m]).mean())
        out["input"][m] = float(rank_correlation(ref[m], absx).mean())
        out["edges"][m] = float(rank_correlation(ref[m], edges).mean())
    return out


def layer_output(model, x, layer):
    """The output of the module named ``layer`` (a key of :data:`LAYERS`: a convolution's or a
    linear layer's output, before its activation) for the batch ``x``, a tensor."""
    part, index = LAYERS[layer]
    h = model.features(x) if part == "classifier" else x
    return getattr(model, part)[: index + 1](h)


def top_images(model, x, layer, channel, k=6):
    """Indices of the ``k`` images of ``x`` ``(N, 1, H, W)`` on which ``channel`` of ``layer``
    responds most (its largest value anywhere in the map), strongest first."""
    with torch.no_grad():
        xt = torch.as_tensor(x, dtype=torch.float32, device=_device(model))
        a = layer_output(model, xt, layer)[:, channel].reshape(len(x), -1).amax(1)
    return np.argsort(-a.cpu().numpy(), kind="stable")[:k]


def activation_maximization(model, layer, channel, steps=60, lr=0.05, weight_decay=0.01,
                            size=28, every=5, seed=0):  # fmt: skip
    """Gradient ascent on an input image (Erhan et al. 2009): maximize ``channel`` of ``layer``
    at the centre of its map (a linear layer's output has no map: the unit itself), minus
    ``weight_decay`` times the squared norm of the image, with Adam, from faint noise.

    Returns a dict: ``"frames"`` ``(F, size, size)``, the image every ``every`` steps (the first
    the start), ``"steps"`` the step of each frame, ``"activation"`` ``(steps + 1,)`` the
    unit's value at every step."""
    gen = torch.Generator().manual_seed(seeding.seed(seed + 300))
    x = (0.01 * torch.randn(1, 1, size, size, generator=gen)).to(_device(model))
    x.requires_grad_(True)
    opt = torch.optim.Adam([x], lr=lr)
    frames, marks, acts = [], [], []
    for step in range(steps + 1):
        a = layer_output(model, x, layer)[0, channel]
        act = a[a.shape[0] // 2, a.shape[1] // 2] if a.ndim == 2 else a
        acts.append(act.item())
        if step % every == 0 or step == steps:
            frames.append(x.detach()[0, 0].cpu().double().numpy().copy())
            marks.append(step)
        if step == steps:
            break
        opt.zero_grad()
        (-act + weight_decay * (x**2).sum()).backward()
        opt.step()
    for p in model.parameters():
        p.grad = None
    return dict(frames=np.array(frames), steps=np.array(marks), activation=np.array(acts))


def check_rank_correlation(fn):
    """Hold the reader's ``fn(a, b)`` to :func:`rank_correlation` on four cases from fixed
    generators: continuous maps, a monotone but curved relation, maps with many ties (a zero
    background), and one image."""
    rng = np.random.default_rng(8)
    a1, b1 = rng.normal(size=(3, 6, 6)), rng.normal(size=(3, 6, 6))
    a2 = rng.normal(size=(2, 5, 5))
    a3 = rng.normal(size=(3, 7, 7)) * (rng.random((3, 7, 7)) < 0.4)
    b3 = a3 * (rng.random((3, 7, 7)) + 0.5) + (rng.random((3, 7, 7)) < 0.2)
    a4 = rng.normal(size=(1, 4, 4))
    cases = [
        Case((a1, b1), {}, "continuous maps"),
        Case((a2, np.exp(3 * a2)), {}, "b a monotone (curved) function of a"),
        Case((a3, b3), {}, "many ties: a zero background"),
        Case((a4, -(a4**3)), {}, "one image, reversed order"),
    ]
    return check(fn, rank_correlation, cases, name="rank_correlation", outputs=("rho",))
