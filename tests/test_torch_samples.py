"""dlbook.scratch on PyTorch's own sample inputs: what torch accepts, dlbook accepts and gets right.

For every mirrored function and its naive version, torch's OpInfo samples (float64, with
gradients); for every layer, torch's ModuleInfo samples in training and evaluation mode. Each
sample torch accepts must give the same forward, backward and in-place updates to 1e-10 (see
``torch_samples.py``); stochastic samples (dropout) are checked for what does not depend on the
draw. A refusal (``ValueError``/``TypeError``/``NotImplementedError``) fails the test unless
``ALLOWED_REFUSALS`` keeps it, with its reason. A wrong answer always fails. The same samples
cast to float32 must give float32 outputs and gradients.

``python tests/test_torch_samples.py`` prints the table: op, samples, equal, random, wrong,
refused, torch✗ (samples torch itself refuses, left out), and every distinct reason for a wrong
or refused sample.
"""

from __future__ import annotations

import sys
from collections import Counter

import numpy as np
import pytest
import torch_samples as ts

import dlbook.scratch as scratch

# (op or layer, why the refusal stays, which samples it covers), e.g.
#   ("softmax[with_dtype]", "dtype= is a torch cast", lambda o: "dtype" in o.kwargs)
# Empty: every refusal seen so far was taken up by dlbook (softmax's and log_softmax's dtype=
# were allowed here until dlbook accepted them).
ALLOWED_REFUSALS: list[tuple[str, str, object]] = []


def allowed(name: str, outcome: ts.Outcome) -> bool:
    return any(op == name and covers(outcome) for op, _, covers in ALLOWED_REFUSALS)


_CACHE: dict[str, list[ts.Outcome]] = {}


def outcomes(name: str) -> list[ts.Outcome]:
    if name not in _CACHE:
        _CACHE[name] = ts.run_op(name) if name in ts.OPS else ts.run_layer(name)
    return _CACHE[name]


def _listing(bad: list[ts.Outcome]) -> str:
    return "\n".join(f"  {o.kind}: {o.desc}\n      {o.reason}" for o in bad)


def _check(name: str) -> None:
    results = outcomes(name)
    assert results, f"{name}: torch gave no sample that it accepts itself; nothing was checked"
    wrong = [o for o in results if o.kind == "wrong"]
    refused = [o for o in results if o.kind == "refused" and not allowed(name, o)]
    if wrong or refused:
        pytest.fail(
            f"{name}: {len(wrong)} wrong and {len(refused)} refused of {len(results)} torch "
            f"samples:\n{_listing(wrong + refused)}",
            pytrace=False,
        )


@pytest.mark.parametrize("name", list(ts.OPS))
def test_function_on_torch_samples(name):
    if ts._lookup(ts.dlbook_name(name)) is None:
        pytest.skip(f"dlbook.scratch has no {ts.dlbook_name(name)} (yet)")
    _check(name)


@pytest.mark.parametrize("name", ts.LAYERS)
def test_layer_on_torch_samples(name):
    if not hasattr(scratch, name):
        pytest.skip(f"dlbook.scratch has no {name} (yet)")
    if not ts.moduleinfos_or_own(name):
        pytest.skip(f"torch has no ModuleInfo for nn.{name}")
    _check(name)


@pytest.mark.parametrize("name", [n for n, spec in ts.OPS.items() if spec.variant != "with_dtype"])
def test_function_keeps_float32(name):
    """The same samples cast to float32: float32 outputs and gradients (API.md)."""
    if ts._lookup(ts.dlbook_name(name)) is None:
        pytest.skip(f"dlbook.scratch has no {ts.dlbook_name(name)} (yet)")
    problems = ts.float32_problems(name)
    if problems:
        lines = "\n".join(f"  {p}" for p in problems)
        pytest.fail(f"{name}: float32 in, not float32 out:\n{lines}", pytrace=False)


def test_every_allowed_refusal_is_still_needed():
    """An allow-list entry that no sample needs any more is stale: drop it."""
    if not ALLOWED_REFUSALS:
        pytest.skip("ALLOWED_REFUSALS is empty")
    for op, reason, covers in ALLOWED_REFUSALS:
        used = [o for o in outcomes(op) if o.kind == "refused" and covers(o)]
        assert used, f"ALLOWED_REFUSALS: ({op!r}, {reason!r}) covers no refused sample any more"


# --- the harness itself: it must see a wrong answer and a refusal ---------------------------------


def test_harness_flags_a_wrong_forward(monkeypatch):
    relu = scratch.relu
    monkeypatch.setattr(scratch, "relu", lambda input: relu(input) * (1 + 1e-8) + 1e-9)
    results = ts.run_op("relu")
    assert results and all(o.kind == "wrong" for o in results), results


def test_harness_flags_a_wrong_backward(monkeypatch):
    backward = scratch.conv2d_backward

    def off(*args, **kwargs):
        gx, gw, gb = backward(*args, **kwargs)
        return gx, gw * (1 + 1e-7), gb

    monkeypatch.setattr(scratch, "conv2d_backward", off)
    results = ts.run_op("conv2d")
    assert results and all(o.kind == "wrong" and "weight" in o.reason for o in results), results


def test_harness_checks_naive_versions(monkeypatch):
    backward = scratch.conv2d_backward_naive

    def off(*args, **kwargs):
        gx, gw, gb = backward(*args, **kwargs)
        return gx * (1 + 1e-7), gw, gb

    monkeypatch.setattr(scratch, "conv2d_backward_naive", off)
    results = ts.run_op("conv2d[naive]")
    assert results and all(o.kind == "wrong" and "input" in o.reason for o in results), results


def test_harness_flags_a_wrong_layer(monkeypatch):
    layer = scratch.Linear
    monkeypatch.setattr(layer, "forward", lambda self, x: scratch.linear(x, self.weight))
    results = ts.run_layer("Linear")
    with_bias = [o for o in results if "bias=False" not in o.desc and o.kind != "refused"]
    assert with_bias and all(o.kind == "wrong" for o in with_bias), results


def test_allow_list_keeps_only_what_it_covers(monkeypatch):
    def refuse(input):
        raise ValueError("input: refused")

    module = sys.modules[__name__]
    monkeypatch.setattr(scratch, "relu", refuse)
    monkeypatch.setattr(module, "_CACHE", {})
    monkeypatch.setattr(module, "ALLOWED_REFUSALS", [("relu", "test", lambda o: "[5" in o.desc)])
    with pytest.raises(pytest.fail.Exception, match="relu: 0 wrong and 1 refused of 4"):
        _check("relu")  # the entry covers the inputs of shape (5, ...), not the 0-d one
    monkeypatch.setattr(module, "ALLOWED_REFUSALS", [("relu", "test", lambda o: True)])
    _check("relu")


def test_harness_flags_float64_from_float32(monkeypatch):
    relu = scratch.relu
    monkeypatch.setattr(scratch, "relu", lambda input: relu(input).astype(np.float64))
    assert ts.float32_problems("relu")


def test_harness_flags_a_refusal(monkeypatch):
    def refuse(input):
        raise ValueError("input: refused")

    monkeypatch.setattr(scratch, "relu", refuse)
    results = ts.run_op("relu")
    assert results and all(o.kind == "refused" for o in results), results


def test_harness_compares_running_statistics(monkeypatch):
    """A batch_norm that leaves the running statistics alone in training is wrong."""
    batch_norm = scratch.batch_norm

    def frozen(input, running_mean, running_var, *args, **kwargs):
        copies = [None if a is None else a.copy() for a in (running_mean, running_var)]
        return batch_norm(input, *copies, *args, **kwargs)

    monkeypatch.setattr(scratch, "batch_norm", frozen)
    results = ts.run_op("batch_norm")
    moved = [o for o in results if "running_mean" in o.reason and "after the forward" in o.reason]
    assert moved and all(o.kind == "wrong" for o in moved), results


def test_harness_checks_random_dropout(monkeypatch):
    """Dropout with 0 < p < 1 cannot be compared with torch's draw, but its structure can."""
    dropout = scratch.dropout

    def scaled(input, p=0.5, training=True, rng=None):
        return dropout(input, p, training, rng) * 1.5

    monkeypatch.setattr(scratch, "dropout", scaled)
    results = [o for o in ts.run_op("dropout") if "p=0.5" in o.desc and "training=True" in o.desc]
    assert results and all(o.kind == "wrong" for o in results), results


def test_harness_checks_random_attention_against_its_own_draw(monkeypatch):
    """Attention with dropout: the backward must be the derivative of the same draw's forward."""
    backward = scratch.scaled_dot_product_attention_backward

    def off(*args, **kwargs):
        gq, gk, gv = backward(*args, **kwargs)
        return gq, gk, gv * 1.001

    monkeypatch.setattr(scratch, "scaled_dot_product_attention_backward", off)
    results = ts.run_op("scaled_dot_product_attention")
    drawn = [o for o in results if "dropout_p=0.5" in o.desc]
    assert drawn and all(o.kind == "wrong" for o in drawn), drawn


# --- script mode: the table -----------------------------------------------------------------------


def print_table(names=None, file=sys.stdout) -> None:
    names = names or [*ts.OPS, *ts.LAYERS]
    print(ts.table_header(), file=file)
    reasons = []
    for name in names:
        try:
            results = outcomes(name)
        except LookupError as e:
            print(f"{name:<34} {'-':>7}  {e}", file=file)
            continue
        print(ts.table_row(name, results), file=file)
        counts = Counter(
            (o.kind, o.reason, allowed(name, o)) for o in results if o.kind in ("wrong", "refused")
        )
        for (kind, reason, ok), n in counts.items():
            reasons.append(f"{name}: {n} {kind}{' (allowed)' if ok else ''}: {reason}")
    print("\nEvery distinct reason:", file=file)
    print("\n".join(reasons) or "none", file=file)


if __name__ == "__main__":
    np.set_printoptions(precision=6)
    print_table(sys.argv[1:] or None)
