r"""Gram matrices of feature maps, the style statistics of Gatys, Ecker and Bethge (2015), and the
style (Gram) loss, forward and backward.

A feature map of ``C`` channels over ``M = H W`` positions is a ``(C, M)`` matrix ``F``. Its Gram
matrix ``G = F F^T / (C M)`` holds, for every pair of channels, how strongly they fire *together*,
averaged over the positions: which features co-occur is kept, *where* they occur is summed away.
Permuting the ``M`` positions leaves ``G`` unchanged.
"""

from __future__ import annotations

import numpy as np

from dlbook.scratch.losses.common import check_reduction, reduce_loss, upstream_grad

__all__ = ["gram_matrix", "gram_matrix_backward", "gram_loss", "gram_loss_backward"]


def _features(features, name="features"):
    """``features`` as a floating ``(N, C, M)`` array (a view), and the divisor ``C M``."""
    if not isinstance(features, (np.ndarray, np.generic)):
        raise TypeError(f"{name} must be a NumPy array, got {type(features).__name__}")
    if not np.issubdtype(features.dtype, np.floating):
        raise TypeError(f"{name} must be a floating array, got dtype {features.dtype}")
    if features.ndim < 3:
        raise ValueError(
            f"{name} must be (N, C, H, W) (or (N, C, *) with any spatial dims), "
            f"got shape {features.shape}"
        )
    n, c = features.shape[:2]
    m = int(np.prod(features.shape[2:]))
    if c == 0 or m == 0:
        raise ValueError(
            f"{name} must have at least one channel and one position, got {features.shape}"
        )
    return features.reshape(n, c, m), c * m


def _check_normalize(normalize):
    if not isinstance(normalize, (bool, np.bool_)):
        raise TypeError(f"normalize must be a bool, got {type(normalize).__name__}")


def gram_matrix(features, normalize=True):
    r"""The Gram matrix of every feature map in a batch: the inner products of its channels.

    Shapes:
        features: (N, C, H, W), or (N, C, *) with any number of spatial dims, M = H W (or their
        product) positions
        returns: (N, C, C), symmetric
    Formula:
        G[n, a, b] = sum_m F[n, a, m] F[n, b, m] / (C M), F = features reshaped to (N, C, M);
        normalize=False drops the division by C M
    Torch:
        none (torch has no Gram function; autograd through torch.bmm)
    """
    _check_normalize(normalize)
    f, divisor = _features(features)
    g = f @ f.transpose(0, 2, 1)
    return g / divisor if normalize else g


def gram_matrix_backward(grad_output, features, normalize=True):
    r"""The gradient of :func:`gram_matrix` for its features: each entry ``G[a, b]`` pulls on
    channel ``a`` along channel ``b`` and on ``b`` along ``a``, so the upstream gradient enters
    with its transpose.

    Shapes:
        grad_output: (N, C, C); features: (N, C, H, W) or (N, C, *)
        returns: the features' shape
    Formula:
        dL/dF[n] = (g[n] + g[n]^T) F[n] / (C M), g = grad_output (without / (C M) when
        normalize=False)
    Torch:
        autograd through torch.bmm
    """
    _check_normalize(normalize)
    f, divisor = _features(features)
    n, c, _ = f.shape
    g = np.asarray(grad_output)
    if g.shape != (n, c, c):
        raise ValueError(f"grad_output must have shape {(n, c, c)}, got {g.shape}")
    grad = (g + g.transpose(0, 2, 1)) @ f
    grad = grad / divisor if normalize else grad
    return grad.reshape(features.shape).astype(features.dtype, copy=False)


def _target(target, shape, dtype):
    if not isinstance(target, (np.ndarray, np.generic)):
        raise TypeError(f"target must be a NumPy array, got {type(target).__name__}")
    if target.shape != shape:
        raise ValueError(f"target must be a Gram matrix of shape {shape}, got {target.shape}")
    return target


def gram_loss(input, target, normalize=True, reduction="mean"):
    r"""The style (Gram) loss: the squared difference between the Gram matrices of ``input``'s
    feature maps and ``target``, averaged (or summed) over the ``N C C`` entries.

    With ``normalize=False`` and ``reduction='sum'``, dividing by ``4 C^2 M^2`` gives one layer's
    term ``E_l`` of Gatys et al. (2015); the default ``normalize=True`` makes the loss of one
    layer comparable to another's whatever their sizes.

    Shapes:
        input: (N, C, H, W) or (N, C, *) feature maps
        target: (N, C, C), the Gram matrices to match (for example gram_matrix of a texture's
        features)
        returns: a scalar, or (N, C, C) for reduction='none'
    Formula:
        loss = mean_{n,a,b} (G[n, a, b] - target[n, a, b])^2, G = gram_matrix(input, normalize)
    Torch:
        none (torch has no Gram function; autograd through torch.bmm and
        torch.nn.functional.mse_loss)
    """
    reduction = check_reduction(reduction)
    g = gram_matrix(input, normalize)
    t = _target(target, g.shape, g.dtype)
    return reduce_loss((g - t) ** 2, reduction)


def gram_loss_backward(grad_output, input, target, normalize=True, reduction="mean"):
    r"""The gradient of :func:`gram_loss` for ``input``: the Gram error, doubled, sent back
    through :func:`gram_matrix_backward`.

    Shapes:
        grad_output: a scalar, or (N, C, C) for reduction='none'
        input: (N, C, H, W) or (N, C, *); target: (N, C, C)
        returns: the input's shape
    Formula:
        dL/dG = 2 (G - target) grad_output (/ N C C for the mean);
        dL/dF[n] = (dL/dG[n] + dL/dG[n]^T) F[n] / (C M)
    Torch:
        autograd through torch.bmm and torch.nn.functional.mse_loss
    """
    reduction = check_reduction(reduction)
    g = gram_matrix(input, normalize)
    t = _target(target, g.shape, g.dtype)
    up = upstream_grad(grad_output, reduction, g.shape, g.dtype)
    return gram_matrix_backward(2 * (g - t) * up, input, normalize)
