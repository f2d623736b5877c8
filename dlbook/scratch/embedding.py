r"""The embedding lookup from scratch, forward and backward, equal to ``F.embedding``.

An embedding is a table ``weight`` of ``V`` rows, one ``D``-vector per token id; the forward pass
reads rows:

.. math:: \text{out}[\dots, :] = W[\text{input}[\dots], :].

It is a linear layer on one-hot vectors, :math:`\text{onehot}(i)^\top W = W_i`, computed without
building the one-hots. So the backward is the transposed product: every output gradient is added
to the row it was read from,

.. math:: \frac{\partial L}{\partial W_v} = \sum_{k:\ \text{input}_k = v} \bar{\text{out}}_k,

a *scatter-add* (``np.add.at``, which adds once per occurrence; ``grad[idx] += g`` would keep
only one of a repeated index's contributions). Rows that no index reads get zero gradient.

Torch's extras, all supported:

- ``padding_idx``: that row's gradient is always zero, so the padding vector never trains (the
  forward still reads it; :class:`Embedding` starts it at zeros). Negative values count from the
  end, as in torch.
- ``max_norm``: before the lookup, every row that ``input`` reads whose ``norm_type``-norm
  exceeds ``max_norm`` is rescaled **in place** to norm ``max_norm`` (as
  ``torch.embedding_renorm_``: factor ``max_norm / (norm + 1e-7)``). Torch does this outside
  autograd, so the backward is the plain scatter-add and never touches ``weight``.
- ``scale_grad_by_freq``: each row's gradient is divided by how often its index occurs in
  ``input``, so frequent tokens do not dominate.
- ``sparse``: torch then returns the gradient as a sparse tensor. NumPy has no sparse arrays, so it
  is accepted and the dense gradient is returned; its values are those of torch's sparse one.
  Like torch's, the backward refuses it together with ``scale_grad_by_freq``.
"""

from __future__ import annotations

import numbers

import numpy as np

from dlbook import checks
from dlbook.scratch.layer_base import Layer, parameter_dtype

__all__ = [
    "embedding",
    "embedding_backward",
    "embedding_naive",
    "embedding_backward_naive",
    "embedding_renorm_",
    "Embedding",
]


def _check_weight(weight) -> np.ndarray:
    return checks.float_array(weight, "weight", (2,))


def _check_indices(input, num_embeddings: int) -> np.ndarray:
    """``input`` as an integer array whose every entry is a row of the table."""
    if isinstance(input, np.generic):
        input = np.asarray(input)
    if not isinstance(input, np.ndarray):
        raise TypeError(
            f"input must be a numpy.ndarray of integer indices, got {type(input).__name__}"
        )
    if not np.issubdtype(input.dtype, np.integer):
        raise ValueError(
            f"input must hold integer indices (int64 or int32), got dtype {input.dtype}"
        )
    if input.size and (input.min() < 0 or input.max() >= num_embeddings):
        raise ValueError(
            f"input: every index must lie in [0, {num_embeddings}) (num_embeddings = weight's "
            f"rows); got indices from {input.min()} to {input.max()} (torch: index out of range)"
        )
    return input


def _padding_idx(padding_idx, num_embeddings: int) -> int | None:
    """``padding_idx`` as a row in ``[0, V)``, negative values counted from the end, or None."""
    if padding_idx is None:
        return None
    if isinstance(padding_idx, (bool, np.bool_)) or not isinstance(padding_idx, numbers.Integral):
        raise TypeError(f"padding_idx must be an int or None, got {padding_idx!r}")
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise ValueError(
            f"padding_idx must be within num_embeddings: in [{-num_embeddings}, "
            f"{num_embeddings}), got {padding_idx}"
        )
    return int(padding_idx) % num_embeddings


def _check_flags(scale_grad_by_freq, sparse):
    for name, value in (("scale_grad_by_freq", scale_grad_by_freq), ("sparse", sparse)):
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{name} must be a bool, got {value!r}")


def _check_forward(input, weight, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse):
    """The checked indices; with max_norm, the rows they read renormalized in place."""
    input = _check_indices(input, _check_weight(weight).shape[0])
    _padding_idx(padding_idx, weight.shape[0])
    _check_flags(scale_grad_by_freq, sparse)
    if max_norm is not None:
        embedding_renorm_(weight, input, max_norm, norm_type)
    return input


def _check_backward(grad_output, input, weight, padding_idx, scale_grad_by_freq, sparse):
    """The checked indices, the padding row (or None) and grad_output."""
    v, d = _check_weight(weight).shape
    input = _check_indices(input, v)
    pad = _padding_idx(padding_idx, v)
    _check_flags(scale_grad_by_freq, sparse)
    if sparse and scale_grad_by_freq:
        raise ValueError("scale_grad_by_freq=True is not supported with sparse=True (as in torch)")
    return input, pad, checks.check_grad_output(grad_output, input.shape + (d,), weight.dtype)


def embedding_renorm_(weight, input, max_norm, norm_type=2.0):
    """Rescale, in place, every row of ``weight`` that ``input`` reads and whose norm exceeds
    ``max_norm``, to norm ``max_norm``; rows that are not read are left alone. Returns ``weight``.

    Shapes:
        weight: (V, D), modified in place
        input: any shape, integer indices into weight's rows
        returns: weight
    Formula:
        for v in unique(input): if ||W_v||_p > max_norm: W_v *= max_norm / (||W_v||_p + 1e-7)
    Torch:
        torch.embedding_renorm_ (what torch.nn.functional.embedding calls when max_norm is set)
    """
    weight = _check_weight(weight)
    rows = np.unique(_check_indices(input, weight.shape[0]))
    max_norm = checks.real(max_norm, "max_norm")
    norm_type = checks.real(norm_type, "norm_type")
    if not weight.flags.writeable:
        raise ValueError("weight must be writeable: max_norm rescales its rows in place")
    norms = np.linalg.norm(weight[rows].astype(np.float64), ord=norm_type, axis=1)
    big = norms > max_norm
    scale = max_norm / (norms[big] + 1e-7)  # torch's 1e-7 keeps the new norm just under max_norm
    weight[rows[big]] *= scale[:, None].astype(weight.dtype)
    return weight


def embedding(
    input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
    sparse=False,
):  # fmt: skip
    """Look up the rows of ``weight`` that ``input`` names: ``weight[input]``.

    ``padding_idx`` and ``scale_grad_by_freq`` change only the backward; ``max_norm`` rescales the
    rows it reads in place first (see the module's docstring); ``sparse`` is accepted and changes
    nothing (NumPy has no sparse gradients).

    Shapes:
        input: any shape (...), integer indices in [0, V); a 0-D index gives (D,)
        weight: (V, D), the table: V = num_embeddings rows of D = embedding_dim
        returns: (..., D), input.shape + (D,), weight's dtype
    Formula:
        out[k, :] = weight[input[k], :] for every index position k
    Torch:
        torch.nn.functional.embedding
    """
    input = _check_forward(
        input, weight, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse
    )
    return weight[input]


def _counts(input, num_embeddings):
    """How often each row is read: what scale_grad_by_freq divides its gradient by."""
    return np.bincount(input.ravel(), minlength=num_embeddings)


def embedding_backward(
    grad_output, input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
    scale_grad_by_freq=False, sparse=False,
):  # fmt: skip
    """The gradient of ``weight``: each output row's gradient added to the row it was read from.

    It never modifies ``weight`` (the forward's ``max_norm`` rescaling is outside autograd in
    torch too, so it does not enter the gradient); ``sparse=True`` gives the same dense array.

    Shapes:
        grad_output: (..., D), the output's shape
        input, weight: as for embedding
        returns: grad_weight (V, D), zero in the padding_idx row and in every row never read
    Formula:
        grad_weight[v] = sum_{k: input[k] = v} grad_output[k] (divided by count(v) with
            scale_grad_by_freq); grad_weight[padding_idx] = 0
    Torch:
        autograd through torch.nn.functional.embedding
    """
    input, pad, g = _check_backward(
        grad_output, input, weight, padding_idx, scale_grad_by_freq, sparse
    )
    grad_weight = np.zeros_like(weight)
    rows = g.reshape(input.size, weight.shape[1])
    np.add.at(grad_weight, input.ravel(), rows)  # once per occurrence: repeats add up
    if scale_grad_by_freq:
        grad_weight /= np.maximum(_counts(input, len(weight)), 1)[:, None].astype(weight.dtype)
    if pad is not None:
        grad_weight[pad] = 0  # the padding vector never learns
    return grad_weight


def embedding_naive(
    input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
    sparse=False,
):  # fmt: skip
    """The lookup one index at a time, written for reading: copy row ``input[k]`` to ``out[k]``.

    Shapes:
        as :func:`embedding`
    Formula:
        out[k, :] = weight[input[k], :]
    Torch:
        torch.nn.functional.embedding
    """
    input = _check_forward(
        input, weight, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse
    )
    out = np.empty(input.shape + weight.shape[1:], dtype=weight.dtype)
    for k in np.ndindex(*input.shape):
        out[k] = weight[input[k]]
    return out


def embedding_backward_naive(
    grad_output, input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
    scale_grad_by_freq=False, sparse=False,
):  # fmt: skip
    """The scatter-add one index at a time, written for reading: ``grad[input[k]] += g[k]``.

    Shapes:
        as :func:`embedding_backward`
    Formula:
        grad_weight[input[k]] += grad_output[k] / (count(input[k]) if scale_grad_by_freq else 1)
    Torch:
        autograd through torch.nn.functional.embedding
    """
    input, pad, g = _check_backward(
        grad_output, input, weight, padding_idx, scale_grad_by_freq, sparse
    )
    counts = _counts(input, len(weight))
    grad_weight = np.zeros_like(weight)
    for k in np.ndindex(*input.shape):
        row = input[k]
        if row != pad:
            grad_weight[row] += g[k] / counts[row] if scale_grad_by_freq else g[k]
    return grad_weight


class Embedding(Layer):
    """:func:`embedding` with a table ``weight`` ``(num_embeddings, embedding_dim)`` drawn from
    N(0, 1) as torch starts it, the ``padding_idx`` row zeroed. ``rng`` (a NumPy generator)
    replaces torch's global one; ``_weight`` gives the table itself (it is used, not copied) and
    ``_freeze=True`` leaves it out of ``params`` (torch's ``requires_grad=False``), as
    :meth:`from_pretrained` does by default. ``backward`` returns None: integer indices have no
    gradient. ``grads`` holds the table's.

    Shapes:
        input: any shape (...), integer indices
        returns: (..., embedding_dim)
    Formula:
        out[k] = weight[input[k]]
    Torch:
        torch.nn.Embedding
    """

    def __init__(
        self, num_embeddings, embedding_dim, padding_idx=None, max_norm=None, norm_type=2.0,
        scale_grad_by_freq=False, sparse=False, _weight=None, _freeze=False, device=None,
        dtype=None, rng=None,
    ):  # fmt: skip
        super().__init__()
        v = checks.check_int(num_embeddings, "num_embeddings", 0)
        d = checks.check_int(embedding_dim, "embedding_dim", 0)
        self.padding_idx = _padding_idx(padding_idx, v)
        _check_flags(scale_grad_by_freq, sparse)
        if max_norm is not None:
            max_norm = checks.real(max_norm, "max_norm")
        self.max_norm, self.norm_type = max_norm, checks.real(norm_type, "norm_type")
        self.scale_grad_by_freq, self.sparse = bool(scale_grad_by_freq), bool(sparse)
        if _weight is None:
            weight = (
                checks.generator(rng).standard_normal((v, d)).astype(parameter_dtype(device, dtype))
            )
            if self.padding_idx is not None:
                weight[self.padding_idx] = 0
        else:
            weight = _check_weight(_weight)
            if weight.shape != (v, d):
                raise ValueError(
                    f"_weight must have shape (num_embeddings, embedding_dim) = {(v, d)}, got "
                    f"{weight.shape}"
                )
        self.weight = weight
        self.params = [] if _freeze else [self.weight]

    @classmethod
    def from_pretrained(
        cls, embeddings, freeze=True, padding_idx=None, max_norm=None, norm_type=2.0,
        scale_grad_by_freq=False, sparse=False,
    ):  # fmt: skip
        """An Embedding whose table is ``embeddings`` ``(V, D)``; frozen (no params) by default."""
        embeddings = checks.float_array(embeddings, "embeddings", (2,))
        return cls(
            *embeddings.shape, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse,
            _weight=embeddings, _freeze=freeze,
        )  # fmt: skip

    def _kwargs(self):
        return dict(
            padding_idx=self.padding_idx, max_norm=self.max_norm, norm_type=self.norm_type,
            scale_grad_by_freq=self.scale_grad_by_freq, sparse=self.sparse,
        )  # fmt: skip

    def forward(self, input):
        """``weight[input]``, keeping ``input`` for the backward pass."""
        out = embedding(input, self.weight, **self._kwargs())
        self._input = input
        return out

    def backward(self, grad_output):
        """None (indices have no gradient); ``grads`` gets the table's gradient, if it trains."""
        gw = embedding_backward(grad_output, self._saved_input(), self.weight, **self._kwargs())
        self.grads = [gw] if self.params else []
        return None

    def extra_repr(self):
        s = f"{self.weight.shape[0]}, {self.weight.shape[1]}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2.0:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            s += ", scale_grad_by_freq=True"
        if self.sparse:
            s += ", sparse=True"
        return s
