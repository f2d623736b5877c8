r"""Variable-length batches from scratch: padding and packing, equal to ``torch.nn.utils.rnn``.

Sequences of different lengths go into one array by *padding* them to the longest,
``(T, B, *)``, with ``lengths`` saying how much of each is real. A recurrent layer run on that
array also steps through the padding. *Packing* keeps only the real steps, time-major: all the
sequences' step 0, then step 1 of those at least 2 long, and so on. With the batch sorted by
decreasing length, the sequences still running at step :math:`t` are the first
``batch_sizes[t]``, so a packed run is a loop over time on a shrinking batch:

.. math:: \text{batch\_sizes}[t] = \#\{b : \text{lengths}[b] > t\}, \qquad
    \text{data} = \big[x_{0, 0:B_0};\ x_{1, 0:B_1};\ \dots\big] \in \mathbb{R}^{(\sum_b
    \text{lengths}[b]) \times *}.

``enforce_sorted=False`` sorts the batch first (``sorted_indices``, by decreasing length) and
remembers how to undo it (``unsorted_indices``); every result handed back in batch order
(``pad_packed_sequence``, the final states) is unsorted again. Sequences of equal length keep
their batch order here (a stable sort). Torch's sort is not stable: in small batches its order
is the same, in large ones with ties it may order the tied sequences differently, which changes
``sorted_indices`` and the order of ``data`` but no result in batch order.

Packing only selects entries, so its backward scatters the gradient of ``data`` back into a
zero array of the padded shape, and the backward of unpacking selects again: each is the other's
transpose.
"""

from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np

from dlbook import checks
from dlbook.scratch.gru import gru, gru_backward
from dlbook.scratch.lstm import lstm, lstm_backward
from dlbook.scratch.rnn import rnn, rnn_backward

__all__ = [
    "PackedSequence",
    "pack_padded_sequence",
    "pack_padded_sequence_backward",
    "pack_padded_sequence_naive",
    "pad_packed_sequence",
    "pad_packed_sequence_backward",
    "pad_sequence",
    "pad_sequence_backward",
    "pack_sequence",
    "pack_sequence_backward",
    "last_valid",
    "last_valid_backward",
    "rnn_packed",
    "rnn_packed_backward",
    "lstm_packed",
    "lstm_packed_backward",
    "gru_packed",
    "gru_packed_backward",
]


class PackedSequence(NamedTuple):
    """A packed batch, with the fields of torch's: the real steps, time-major, and how many
    sequences run at each step.

    Shapes:
        data: (sum(lengths), *), step 0 of every sequence, then step 1 of those still running, ...
        batch_sizes: (T_max,) int64, non-increasing: batch_sizes[t] = #{b : lengths[b] > t}
        sorted_indices: (B,) int64, the batch order sorted by decreasing length; None if the
            batch came sorted (enforce_sorted=True)
        unsorted_indices: (B,) int64, its inverse permutation; None with sorted_indices
    Formula:
        data[offset_t + b] = x_sorted[t, b] for b < batch_sizes[t], offset_t = sum_{s<t}
            batch_sizes[s]
    Torch:
        torch.nn.utils.rnn.PackedSequence
    """

    data: np.ndarray
    batch_sizes: np.ndarray
    sorted_indices: np.ndarray | None = None
    unsorted_indices: np.ndarray | None = None


# --- checks and the one mask everything here is made of ------------------------------------------


def _flag(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {value!r}")
    return bool(value)


def _check_padded(input, batch_first, name="input"):
    """``input`` as a time-major ``(T, B, *)`` array (a view: batch_first swaps two axes)."""
    if not isinstance(input, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(input).__name__}")
    want = "(B, T, *)" if batch_first else "(T, B, *)"
    if input.ndim < 2:
        raise ValueError(f"{name} must be at least 2-D, {want}, got shape {input.shape}")
    if input.shape[0] == 0 or input.shape[1] == 0:
        raise ValueError(f"{name} must have T >= 1 and B >= 1 in {want}, got shape {input.shape}")
    return np.swapaxes(input, 0, 1) if _flag(batch_first, "batch_first") else input


def _check_lengths(lengths, t_len, batch):
    """``lengths`` as an int64 array of ``batch`` entries in ``[1, t_len]``."""
    if isinstance(lengths, np.ndarray):
        if not (
            np.issubdtype(lengths.dtype, np.integer) or np.issubdtype(lengths.dtype, np.floating)
        ):
            raise TypeError(f"lengths must hold ints, got dtype {lengths.dtype}")
        lengths_arr = lengths
    elif isinstance(lengths, (list, tuple)) and all(
        isinstance(n, numbers.Real) and not isinstance(n, (bool, np.bool_)) for n in lengths
    ):
        lengths_arr = np.asarray(lengths, dtype=np.float64 if lengths else np.int64)
    else:
        raise TypeError(f"lengths must be a 1-D array or a list of ints, got {lengths!r}")
    if lengths_arr.ndim != 1:
        raise ValueError(f"lengths must be a 1-D sequence of ints, got {lengths!r}")
    if not np.all(np.equal(np.mod(lengths_arr, 1), 0)):  # torch would truncate 1.5 to 1
        raise ValueError(f"lengths must be whole numbers, got {lengths_arr.tolist()}")
    lengths_arr = lengths_arr.astype(np.int64)
    if len(lengths_arr) != batch:
        raise ValueError(
            f"Expected `len(lengths)` to be equal to batch_size, but got {len(lengths_arr)} "
            f"(batch_size={batch})"
        )
    if batch and lengths_arr.min() <= 0:
        raise ValueError(
            "lengths: Length of all samples has to be greater than 0, but found an element in "
            f"'lengths' that is <= 0: {lengths_arr.tolist()}"
        )
    if batch and lengths_arr.max() > t_len:
        raise ValueError(
            f"lengths must be at most the padded length T={t_len}, got {lengths_arr.tolist()}"
        )
    return lengths_arr


def _sort(lengths, enforce_sorted):
    """``(sorted_indices, unsorted_indices)``, both None when the batch must come sorted."""
    if _flag(enforce_sorted, "enforce_sorted"):
        if np.any(np.diff(lengths) > 0):
            raise ValueError(
                "`lengths` array must be sorted in decreasing order when `enforce_sorted` is "
                f"True, got {lengths.tolist()}. You can pass `enforce_sorted=False`"
            )
        return None, None
    sorted_indices = np.argsort(-lengths, kind="stable")  # ties keep their batch order
    return sorted_indices, np.argsort(sorted_indices)


def _steps_mask(sorted_lengths, t_len):
    """``(T, B)``, True where step ``t`` of (sorted) sequence ``b`` is real. Boolean indexing
    reads it row by row, that is, time-major: exactly the packed order."""
    return np.arange(t_len)[:, None] < sorted_lengths[None, :]


def _check_packed(sequence):
    """The packed sequence's fields, checked, and its sorted lengths ``(B,)``."""
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"sequence must be a PackedSequence, got {type(sequence).__name__}")
    data, sizes, sorted_indices, unsorted_indices = sequence
    if not isinstance(data, np.ndarray) or data.ndim < 1:
        raise ValueError("sequence.data must be an array of at least 1 dimension")
    sizes = np.asarray(sizes)
    if (
        sizes.ndim != 1
        or not np.issubdtype(sizes.dtype, np.integer)
        or (sizes.size and (sizes.min() < 1 or np.any(np.diff(sizes) > 0)))
        or sizes.sum() != len(data)
    ):
        raise ValueError(
            "sequence.batch_sizes must be a 1-D int array of positive, non-increasing counts "
            f"summing to len(sequence.data)={len(data)}, got {sizes.tolist()}"
        )
    batch = int(sizes[0]) if sizes.size else 0
    if not _inverse_permutations(sorted_indices, unsorted_indices, batch):
        raise ValueError(
            "sequence.sorted_indices and unsorted_indices must both be None, or inverse "
            f"permutations of the {batch} sequences"
        )
    sorted_lengths = (sizes[None, :] > np.arange(batch)[:, None]).sum(axis=1)
    return data, sizes, sorted_lengths


def _inverse_permutations(sorted_indices, unsorted_indices, batch):
    if sorted_indices is None or unsorted_indices is None:
        return sorted_indices is None and unsorted_indices is None
    perm, inverse = np.asarray(sorted_indices), np.asarray(unsorted_indices)
    return (
        np.issubdtype(perm.dtype, np.integer)
        and np.array_equal(np.sort(perm), np.arange(batch))
        and np.array_equal(inverse, np.argsort(perm))
    )


def _unsort(a, unsorted_indices, axis):
    return a if unsorted_indices is None else np.take(a, unsorted_indices, axis=axis)


def _resort(a, sorted_indices, axis):
    return a if sorted_indices is None else np.take(a, sorted_indices, axis=axis)


# --- pack and unpack ---------------------------------------------------------------------------


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Keep only the real steps of a padded batch, time-major.

    With ``enforce_sorted=True`` the lengths must be non-increasing; ``False`` sorts the batch
    first and records ``sorted_indices`` and ``unsorted_indices``.

    Shapes:
        input: (T, B, *), or (B, T, *) with batch_first; any dtype
        lengths: (B,) ints in [1, T], a list or an array
        returns: PackedSequence(data (sum(lengths), *), batch_sizes (max(lengths),) int64,
            sorted_indices (B,) or None, unsorted_indices (B,) or None)
    Formula:
        batch_sizes[t] = #{b : lengths[b] > t}; data = x_sorted[t, b] for all (t, b) with
            t < lengths_sorted[b], t-major
    Torch:
        torch.nn.utils.rnn.pack_padded_sequence
    """
    x = _check_padded(input, batch_first)
    lengths = _check_lengths(lengths, x.shape[0], x.shape[1])
    sorted_indices, unsorted_indices = _sort(lengths, enforce_sorted)
    lengths = _resort(lengths, sorted_indices, 0)
    x = _resort(x, sorted_indices, 1)
    t_max = int(lengths.max())
    mask = _steps_mask(lengths, t_max)
    batch_sizes = mask.sum(axis=1).astype(np.int64)
    return PackedSequence(x[:t_max][mask], batch_sizes, sorted_indices, unsorted_indices)


def pack_padded_sequence_naive(input, lengths, batch_first=False, enforce_sorted=True):
    """The same packing step by step, written for reading: at each time step, take the
    sequences that are still running.

    Shapes:
        as :func:`pack_padded_sequence`
    Formula:
        for t: for b in order of decreasing length: if t < lengths[b]: append x[t, b]
    Torch:
        torch.nn.utils.rnn.pack_padded_sequence
    """
    x = _check_padded(input, batch_first)
    lengths = _check_lengths(lengths, x.shape[0], x.shape[1])
    sorted_indices, unsorted_indices = _sort(lengths, enforce_sorted)
    order = range(len(lengths)) if sorted_indices is None else sorted_indices
    rows, batch_sizes = [], []
    for t in range(int(lengths.max())):
        running = [b for b in order if t < lengths[b]]  # a prefix of the sorted batch
        rows += [x[t, b] for b in running]
        batch_sizes.append(len(running))
    data = np.stack(rows)
    return PackedSequence(data, np.array(batch_sizes, np.int64), sorted_indices, unsorted_indices)


def pack_padded_sequence_backward(
    grad_output, input, lengths, batch_first=False, enforce_sorted=True
):
    """The gradient of the padded input: ``data``'s gradient scattered back to where each step
    came from; zero at the padding, which packing dropped.

    Shapes:
        grad_output: (sum(lengths), *), the gradient of the packed data
        returns: grad_input, input's shape
    Formula:
        grad_input[t, b] = grad_output[row of (t, b) in data] if t < lengths[b], else 0
    Torch:
        autograd through torch.nn.utils.rnn.pack_padded_sequence
    """
    x = _check_padded(input, batch_first)
    checks.any_float_array(input, "input")
    lengths = _check_lengths(lengths, x.shape[0], x.shape[1])
    sorted_indices, unsorted_indices = _sort(lengths, enforce_sorted)
    lengths = _resort(lengths, sorted_indices, 0)
    g = checks.check_grad_output(grad_output, (int(lengths.sum()), *x.shape[2:]), x.dtype)
    grad = np.zeros(x.shape, dtype=x.dtype)
    grad[_steps_mask(lengths, x.shape[0])] = g  # in sorted batch order
    grad = _unsort(grad, unsorted_indices, 1)
    return np.swapaxes(grad, 0, 1) if batch_first else grad


def _total_length(total_length, t_max):
    if total_length is None:
        return t_max
    total = checks.check_int(total_length, "total_length", 0)
    if total < t_max:
        raise ValueError(
            "Expected total_length to be at least the length of the longest sequence in input, "
            f"but got total_length={total} and max sequence length being {t_max}"
        )
    return total


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """Unpack: the padded batch, in the original batch order, and the lengths.

    Shapes:
        sequence: a PackedSequence with data (sum(lengths), *)
        returns: padded (T, B, *), or (B, T, *) with batch_first, T = total_length or
            max(lengths), padding_value beyond each length; lengths (B,) int64
    Formula:
        padded[t, b] = data[row of (t, b)] if t < lengths[b] else padding_value
    Torch:
        torch.nn.utils.rnn.pad_packed_sequence
    """
    data, sizes, lengths = _check_packed(sequence)
    batch_first = _flag(batch_first, "batch_first")
    padding_value = checks.real(padding_value, "padding_value")
    total = _total_length(total_length, len(sizes))
    padded = np.full((total, len(lengths), *data.shape[1:]), padding_value, dtype=data.dtype)
    padded[_steps_mask(lengths, total)] = data
    padded = _unsort(padded, sequence.unsorted_indices, 1)
    lengths = _unsort(lengths, sequence.unsorted_indices, 0).astype(np.int64)
    return (np.swapaxes(padded, 0, 1) if batch_first else padded), lengths


def pad_packed_sequence_backward(
    grad_output, sequence, batch_first=False, padding_value=0.0, total_length=None
):
    """The gradient of the packed data: the padded gradient read back in packed order (the
    padding's gradient goes nowhere).

    Shapes:
        grad_output: the padded output's shape
        returns: grad_data (sum(lengths), *), data's shape
    Formula:
        grad_data[row of (t, b)] = grad_output[t, b]
    Torch:
        autograd through torch.nn.utils.rnn.pad_packed_sequence
    """
    data, sizes, lengths = _check_packed(sequence)
    checks.any_float_array(data, "sequence.data")
    batch_first = _flag(batch_first, "batch_first")
    total = _total_length(total_length, len(sizes))
    shape = (total, len(lengths), *data.shape[1:])
    shape = (shape[1], shape[0], *shape[2:]) if batch_first else shape
    g = checks.check_grad_output(grad_output, shape, data.dtype)
    g = np.swapaxes(g, 0, 1) if batch_first else g
    return _resort(g, sequence.sorted_indices, 1)[_steps_mask(lengths, total)]


# --- from a list of sequences ------------------------------------------------------------------


def _check_sequences(sequences):
    """A non-empty list of arrays ``(L_i, *)`` with one trailing shape and one dtype."""
    if isinstance(sequences, np.ndarray):
        sequences = list(sequences)  # torch accepts a tensor too: its rows are the sequences
    if not isinstance(sequences, (list, tuple)) or not sequences:
        raise ValueError(f"sequences must be a non-empty list of arrays, got {sequences!r}")
    for i, s in enumerate(sequences):
        if not isinstance(s, np.ndarray) or s.ndim < 1:
            raise ValueError(f"sequences[{i}] must be an array of at least 1 dimension (L, *)")
        if s.shape[1:] != sequences[0].shape[1:]:
            raise ValueError(
                f"sequences must all have the trailing shape {sequences[0].shape[1:]}, got "
                f"sequences[{i}] of shape {s.shape}"
            )
        checks.same_dtype(sequences[0], s, f"sequences[{i}]")
    return list(sequences)


def _padding_side(padding_side):
    if padding_side not in ("right", "left"):
        raise ValueError(f"padding_side must be 'right' or 'left', got {padding_side!r}")
    return padding_side


def _slots(sequences, t_len, padding_side):
    """Where sequence ``b`` sits along time: its first ``L_b`` steps, or its last with 'left'."""
    return [
        slice(0, len(s)) if padding_side == "right" else slice(t_len - len(s), t_len)
        for s in sequences
    ]


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack sequences of different lengths into one array, padding each to the longest.

    Shapes:
        sequences: a list of B arrays (L_b, *), one trailing shape and dtype
        returns: (T, B, *), or (B, T, *) with batch_first; T = max L_b
    Formula:
        out[t, b] = sequences[b][t] for t < L_b, else padding_value (with padding_side='left'
            the padding comes first: out[T - L_b + t, b] = sequences[b][t])
    Torch:
        torch.nn.utils.rnn.pad_sequence
    """
    sequences = _check_sequences(sequences)
    batch_first, side = _flag(batch_first, "batch_first"), _padding_side(padding_side)
    padding_value = checks.real(padding_value, "padding_value")
    t_len = max(len(s) for s in sequences)
    first = sequences[0]
    out = np.full((t_len, len(sequences), *first.shape[1:]), padding_value, dtype=first.dtype)
    for b, (s, where) in enumerate(zip(sequences, _slots(sequences, t_len, side))):
        out[where, b] = s
    return np.swapaxes(out, 0, 1) if batch_first else out


def pad_sequence_backward(
    grad_output, sequences, batch_first=False, padding_value=0.0, padding_side="right"
):
    """The gradients of the sequences: each one's slice of the padded gradient.

    Shapes:
        grad_output: the padded output's shape
        returns: a list of B arrays (L_b, *), shaped like the sequences
    Formula:
        grad_sequences[b][t] = grad_output[t, b] (at T - L_b + t with padding_side='left')
    Torch:
        autograd through torch.nn.utils.rnn.pad_sequence
    """
    sequences = _check_sequences(sequences)
    batch_first, side = _flag(batch_first, "batch_first"), _padding_side(padding_side)
    checks.any_float_array(sequences[0], "sequences[0]")
    t_len, first = max(len(s) for s in sequences), sequences[0]
    shape = (t_len, len(sequences), *first.shape[1:])
    shape = (shape[1], shape[0], *shape[2:]) if batch_first else shape
    g = checks.check_grad_output(grad_output, shape, first.dtype)
    g = np.swapaxes(g, 0, 1) if batch_first else g
    return [g[where, b].copy() for b, where in enumerate(_slots(sequences, t_len, side))]


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of sequences: :func:`pad_sequence`, then :func:`pack_padded_sequence`.

    Shapes:
        sequences: a list of B arrays (L_b, *), L_b >= 1
        returns: a PackedSequence, as pack_padded_sequence's
    Formula:
        pack_padded_sequence(pad_sequence(sequences), [L_b], enforce_sorted=enforce_sorted)
    Torch:
        torch.nn.utils.rnn.pack_sequence
    """
    sequences = _check_sequences(sequences)
    lengths = [len(s) for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def pack_sequence_backward(grad_output, sequences, enforce_sorted=True):
    """The gradients of the sequences from that of the packed data (the two backwards chained).

    Shapes:
        grad_output: (sum L_b, *), the gradient of the packed data
        returns: a list of B arrays (L_b, *)
    Formula:
        pad_sequence_backward(pack_padded_sequence_backward(grad_output, ...), sequences)
    Torch:
        autograd through torch.nn.utils.rnn.pack_sequence
    """
    sequences = _check_sequences(sequences)
    lengths = [len(s) for s in sequences]
    padded = pad_sequence(sequences)
    g = pack_padded_sequence_backward(grad_output, padded, lengths, enforce_sorted=enforce_sorted)
    return pad_sequence_backward(g, sequences)


# --- the last real step of every sequence ------------------------------------------------------


def last_valid(output, lengths, batch_first=False):
    """Each sequence's output at its last real step, from a run over the padded batch.

    A recurrent layer's state at step ``t`` depends only on steps ``0..t``, so the output at
    step ``lengths[b] - 1`` is what a packed run ends with, its ``h_n``: the padding after it
    changes nothing. (For an LSTM's ``c_n``, which is not in the output, run it packed.)

    Shapes:
        output: (T, B, *), or (B, T, *) with batch_first
        lengths: (B,) ints in [1, T]
        returns: (B, *)
    Formula:
        out[b] = output[lengths[b] - 1, b]
    Torch:
        none (torch gives h_n of a packed run, torch.nn.LSTM on a PackedSequence, which this
        equals; or output[lengths - 1, arange(B)] by hand)
    """
    x = _check_padded(output, batch_first, "output")
    lengths = _check_lengths(lengths, x.shape[0], x.shape[1])
    return x[lengths - 1, np.arange(len(lengths))]


def last_valid_backward(grad_output, output, lengths, batch_first=False):
    """The gradient of the padded output: ``grad_output[b]`` at step ``lengths[b] - 1``, zero
    elsewhere.

    Shapes:
        grad_output: (B, *)
        returns: grad of output, output's shape
    Formula:
        grad[lengths[b] - 1, b] = grad_output[b], 0 elsewhere
    Torch:
        autograd through output[lengths - 1, arange(B)]
    """
    x = _check_padded(output, batch_first, "output")
    checks.any_float_array(output, "output")
    lengths = _check_lengths(lengths, x.shape[0], x.shape[1])
    g = checks.check_grad_output(grad_output, (x.shape[1], *x.shape[2:]), x.dtype)
    grad = np.zeros(x.shape, dtype=x.dtype)
    grad[lengths - 1, np.arange(len(lengths))] = g
    return np.swapaxes(grad, 0, 1) if batch_first else grad


# --- recurrent layers over a packed batch ------------------------------------------------------


def _run(cell, sequence, states):
    """Run ``cell(x_t, *states)`` -> ``(out_t, *states)`` over the packed data, one time step
    on the ``batch_sizes[t]`` sequences still running, which are the first ones; the others keep
    their state. Returns the output rows, the final states and every step's input states."""
    data, before, outs, offset = sequence.data, [], [], 0
    for bs in sequence.batch_sizes:
        before.append(states)
        out, *new = cell(data[offset : offset + bs][None], *(s[:bs] for s in states))
        outs.append(out[0])
        states = [np.concatenate([n, s[bs:]]) for n, s in zip(new, states)]  # new arrays
        offset += bs
    return np.concatenate(outs), states, before


def _run_backward(cell_backward, grad_output, sequence, before, grad_states):
    """BPTT over the packed run, a step at a time backwards: ``cell_backward(g_t, x_t, states,
    grad_states)`` -> ``(grad_x_t, *grad_states, *grad_weights)``. A finished sequence's state
    gradient waits, unchanged, for the step that made its final state."""
    data, ends, grad_w = sequence.data, np.cumsum(sequence.batch_sizes), None
    grad_data, k = np.empty_like(data), len(grad_states)
    for t in reversed(range(len(ends))):
        bs, end = sequence.batch_sizes[t], ends[t]
        res = cell_backward(grad_output[end - bs : end][None], data[end - bs : end][None],
                            [s[:bs] for s in before[t]], [d[:bs] for d in grad_states])  # fmt: skip
        grad_data[end - bs : end] = res[0][0]
        grad_states = [np.concatenate([gs, d[bs:]]) for gs, d in zip(res[1 : 1 + k], grad_states)]
        w = res[1 + k :]
        grad_w = w if grad_w is None else [a if a is None else a + b for a, b in zip(grad_w, w)]
    return grad_data, grad_states, list(grad_w)


def _sorted_states(sequence, named, weight_hh, gates):
    """The states ``[(name, array or None, 'h' or 'c'), ...]`` (initial states, or final-state
    gradients), checked, in sorted batch order; None means zeros."""
    _, _, lengths = _check_packed(sequence)
    checks.float_array(sequence.data, "sequence.data", (2,))
    checks.float_array(weight_hh, "weight_hh", (2,))
    sizes = {"h": weight_hh.shape[1], "c": weight_hh.shape[0] // gates}  # P and H for an LSTM
    out = []
    for name, s, kind in named:
        want = (len(lengths), sizes[kind])
        if s is None:
            out.append(np.zeros(want, dtype=sequence.data.dtype))
            continue
        checks.any_float_array(s, name)
        checks.same_dtype(sequence.data, s, name)
        if s.shape != want:
            raise ValueError(f"{name} must have shape {want} (B, size), got {s.shape}")
        out.append(_resort(s, sequence.sorted_indices, 0))
    return out


def _named(states, kinds="hc"):
    return [(name, a, kind) for (name, a), kind in zip(states.items(), kinds)]


def _forward(cell, sequence, states, weights, gates, **kw):
    initial = _sorted_states(sequence, _named(states), weights[1], gates)
    out, finals, _ = _run(lambda x, *s: cell(x, *s, *weights, **kw), sequence, initial)
    packed = PackedSequence(out, *sequence[1:])
    return (packed, *(_unsort(s, sequence.unsorted_indices, 0) for s in finals))


def _backward(cell, cell_backward, grad_output, sequence, states, finals, weights, gates, **kw):
    initial = _sorted_states(sequence, _named(states), weights[1], gates)
    out, _, before = _run(lambda x, *s: cell(x, *s, *weights, **kw), sequence, initial)
    g = np.zeros_like(out) if grad_output is None else grad_output
    g = checks.check_grad_output(g, out.shape, out.dtype)
    d = _sorted_states(sequence, _named(finals), weights[1], gates)

    def step_backward(g_t, x_t, s, ds):
        return cell_backward(g_t, x_t, *s, *weights, **kw, **dict(zip(finals, ds)))

    grad_data, d, grad_w = _run_backward(step_backward, g, sequence, before, d)
    grad_states = [
        None if given is None else _unsort(ds, sequence.unsorted_indices, 0)
        for given, ds in zip(states.values(), d)
    ]
    return (grad_data, *grad_states, *grad_w)


def rnn_packed(sequence, hx, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    """:func:`~dlbook.scratch.rnn.rnn` over a packed batch: each sequence runs for its own
    length only, so ``h_n`` is every sequence's state after its last real step.

    Shapes:
        sequence: PackedSequence, data (sum(lengths), D)
        hx: (B, H) in the batch's original order, or None (zeros)
        weights: as for rnn
        returns: (PackedSequence of the outputs, data (sum(lengths), H), same batch_sizes and
            indices; h_n (B, H), original order)
    Formula:
        h_t[b] = phi(W_ih x_t[b] + b_ih + W_hh h_{t-1}[b] + b_hh) for t < lengths[b];
            h_n[b] = h_{lengths[b]}[b]
    Torch:
        torch.nn.RNN (one layer, one direction) called on a PackedSequence
    """
    weights = (weight_ih, weight_hh, bias_ih, bias_hh)
    return _forward(rnn, sequence, {"hx": hx}, weights, 1, nonlinearity=nonlinearity)


def rnn_packed_backward(
    grad_output, sequence, hx, weight_ih, weight_hh, bias_ih=None, bias_hh=None,
    nonlinearity="tanh", *, grad_h_n=None,
):  # fmt: skip
    """BPTT through :func:`rnn_packed`, given the gradient of the output's data and optionally
    ``grad_h_n`` (None means zeros).

    Shapes:
        grad_output: (sum(lengths), H), or None; grad_h_n: (B, H), original order, or None
        returns: (grad_data (sum(lengths), D), grad_hx, grad_weight_ih, grad_weight_hh,
            grad_bias_ih, grad_bias_hh), None for an argument given as None
    Formula:
        rnn_backward one step at a time, backwards, on the batch_sizes[t] running sequences
    Torch:
        autograd through torch.nn.RNN called on a PackedSequence
    """
    weights = (weight_ih, weight_hh, bias_ih, bias_hh)
    return _backward(
        rnn, rnn_backward, grad_output, sequence, {"hx": hx}, {"grad_h_n": grad_h_n}, weights,
        1, nonlinearity=nonlinearity,
    )  # fmt: skip


def lstm_packed(sequence, hx, cx, weight_ih, weight_hh, bias_ih=None, bias_hh=None, weight_hr=None):
    """:func:`~dlbook.scratch.lstm.lstm` over a packed batch: ``h_n`` and ``c_n`` are every
    sequence's states after its last real step.

    Shapes:
        sequence: PackedSequence, data (sum(lengths), D)
        hx: (B, P), cx: (B, H), original order, or None (zeros); weights: as for lstm
        returns: (PackedSequence of the outputs (sum(lengths), P), h_n (B, P), c_n (B, H))
    Formula:
        the LSTM step for t < lengths[b]; h_n[b] = h_{lengths[b]}[b], c_n[b] = c_{lengths[b]}[b]
    Torch:
        torch.nn.LSTM (one layer, one direction) called on a PackedSequence
    """
    weights = (weight_ih, weight_hh, bias_ih, bias_hh, weight_hr)
    return _forward(lstm, sequence, {"hx": hx, "cx": cx}, weights, 4)


def lstm_packed_backward(
    grad_output, sequence, hx, cx, weight_ih, weight_hh, bias_ih=None, bias_hh=None,
    weight_hr=None, *, grad_h_n=None, grad_c_n=None,
):  # fmt: skip
    """BPTT through :func:`lstm_packed`, given the gradient of the output's data and optionally
    ``grad_h_n`` and ``grad_c_n`` (None means zeros).

    Shapes:
        grad_output: (sum(lengths), P), or None; grad_h_n: (B, P); grad_c_n: (B, H)
        returns: (grad_data, grad_hx, grad_cx, grad_weight_ih, grad_weight_hh, grad_bias_ih,
            grad_bias_hh), and grad_weight_hr last when weight_hr is given
    Formula:
        lstm_backward one step at a time, backwards, on the batch_sizes[t] running sequences
    Torch:
        autograd through torch.nn.LSTM called on a PackedSequence
    """
    weights = (weight_ih, weight_hh, bias_ih, bias_hh, weight_hr)
    finals = {"grad_h_n": grad_h_n, "grad_c_n": grad_c_n}
    return _backward(
        lstm, lstm_backward, grad_output, sequence, {"hx": hx, "cx": cx}, finals, weights, 4
    )


def gru_packed(sequence, hx, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """:func:`~dlbook.scratch.gru.gru` over a packed batch: ``h_n`` is every sequence's state
    after its last real step.

    Shapes:
        sequence: PackedSequence, data (sum(lengths), D)
        hx: (B, H), original order, or None (zeros); weights: as for gru
        returns: (PackedSequence of the outputs (sum(lengths), H), h_n (B, H))
    Formula:
        the GRU step for t < lengths[b]; h_n[b] = h_{lengths[b]}[b]
    Torch:
        torch.nn.GRU (one layer, one direction) called on a PackedSequence
    """
    return _forward(gru, sequence, {"hx": hx}, (weight_ih, weight_hh, bias_ih, bias_hh), 3)


def gru_packed_backward(
    grad_output, sequence, hx, weight_ih, weight_hh, bias_ih=None, bias_hh=None, *,
    grad_h_n=None,
):  # fmt: skip
    """BPTT through :func:`gru_packed`, given the gradient of the output's data and optionally
    ``grad_h_n`` (None means zeros).

    Shapes:
        grad_output: (sum(lengths), H), or None; grad_h_n: (B, H), original order, or None
        returns: (grad_data, grad_hx, grad_weight_ih, grad_weight_hh, grad_bias_ih,
            grad_bias_hh), None for an argument given as None
    Formula:
        gru_backward one step at a time, backwards, on the batch_sizes[t] running sequences
    Torch:
        autograd through torch.nn.GRU called on a PackedSequence
    """
    weights = (weight_ih, weight_hh, bias_ih, bias_hh)
    return _backward(
        gru, gru_backward, grad_output, sequence, {"hx": hx}, {"grad_h_n": grad_h_n}, weights, 3
    )
