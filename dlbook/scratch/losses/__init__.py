r"""Loss functions from scratch, each beside its backward pass.

Each loss mirrors its ``torch.nn.functional`` namesake, with the same arguments in the same order
and the same defaults: a loss per element (or per sample), then a reduction, ``'mean'`` by
default (``'sum'`` and ``'none'`` too). Torch's deprecated ``size_average`` and ``reduce`` are
accepted as torch accepts them (with the same warning): when either is given it overrides
``reduction``, ``reduce=False`` meaning ``'none'``, else ``size_average=False`` meaning ``'sum'``.
Each ``<loss>_backward(grad_output, input, target, ...)`` takes the forward's arguments and
returns the gradient for ``input``; ``grad_output`` is a scalar (the upstream gradient of the
reduced loss; 1 when the loss is the end of the graph), or the per-element shape for
``reduction='none'``.

Losses on logits never exponentiate a large number: cross-entropy goes through
:func:`~dlbook.scratch.activations.log_softmax`, and the binary one uses
:math:`\log(1 + e^{x}) = \max(x, 0) + \log(1 + e^{-|x|})`, so logits of :math:`\pm 800` give
finite losses and gradients.

The losses live by kind: :mod:`~dlbook.scratch.losses.classification` (``nll_loss``,
``cross_entropy``), :mod:`~dlbook.scratch.losses.binary` (``binary_cross_entropy`` and its
``_with_logits`` form), :mod:`~dlbook.scratch.losses.hinge` (``multi_margin_loss``,
``hinge_embedding_loss``), :mod:`~dlbook.scratch.losses.regression` (``mse_loss``, ``l1_loss``,
``smooth_l1_loss``, ``huber_loss``) and :mod:`~dlbook.scratch.losses.divergence` (``kl_div``);
:mod:`~dlbook.scratch.losses.common` holds what they share: the reduction, its gradient, and the
argument checks.
"""

from dlbook.scratch.losses.binary import (
    binary_cross_entropy,
    binary_cross_entropy_backward,
    binary_cross_entropy_with_logits,
    binary_cross_entropy_with_logits_backward,
)
from dlbook.scratch.losses.classification import (
    cross_entropy,
    cross_entropy_backward,
    nll_loss,
    nll_loss_backward,
)
from dlbook.scratch.losses.divergence import (
    kl_div,
    kl_div_backward,
)
from dlbook.scratch.losses.hinge import (
    hinge_embedding_loss,
    hinge_embedding_loss_backward,
    multi_margin_loss,
    multi_margin_loss_backward,
)
from dlbook.scratch.losses.regression import (
    huber_loss,
    huber_loss_backward,
    l1_loss,
    l1_loss_backward,
    mse_loss,
    mse_loss_backward,
    smooth_l1_loss,
    smooth_l1_loss_backward,
)

__all__ = [
    "cross_entropy",
    "cross_entropy_backward",
    "nll_loss",
    "nll_loss_backward",
    "mse_loss",
    "mse_loss_backward",
    "l1_loss",
    "l1_loss_backward",
    "multi_margin_loss",
    "multi_margin_loss_backward",
    "hinge_embedding_loss",
    "hinge_embedding_loss_backward",
    "kl_div",
    "kl_div_backward",
    "binary_cross_entropy_with_logits",
    "binary_cross_entropy_with_logits_backward",
    "binary_cross_entropy",
    "binary_cross_entropy_backward",
    "smooth_l1_loss",
    "smooth_l1_loss_backward",
    "huber_loss",
    "huber_loss_backward",
]
