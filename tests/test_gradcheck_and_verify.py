"""The checkers themselves: they must pass correct gradients and catch wrong ones."""

import numpy as np
import pytest
import torch

import dlbook
from dlbook.scratch import conv2d, conv2d_backward
from dlbook.scratch.gradcheck import gradcheck, numerical_gradient, relative_error
from dlbook.verify import compare, max_abs_error


def test_numerical_gradient_of_a_known_function(rng):
    x = rng.standard_normal((3, 4))
    g = numerical_gradient(lambda: np.sin(x), x, grad_output=np.ones_like(x))
    np.testing.assert_allclose(g, np.cos(x), atol=1e-9)
    assert np.all(np.isfinite(x))  # restored, not left nudged


def test_gradcheck_catches_a_wrong_backward(rng):
    x, w = rng.standard_normal((1, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3))

    def wrong_backward(g, x, w, bias=None, **kw):
        gx, gw, gb = conv2d_backward(g, x, w, bias, **kw)
        return gx, gw[:, :, ::-1, ::-1], gb  # the classic bug: a flipped kernel gradient

    result = gradcheck(conv2d, wrong_backward, (x, w, None), dict(padding=1))
    assert not result.ok
    assert result.errors["input"] < 1e-7 and result.errors["weight"] > 0.1
    assert "FAIL" in repr(result) and "pass" in repr(result)


@pytest.mark.parametrize("slip, ok", [(1e-6, True), (3e-6, False)])  # errors ~5e-7, ~1.5e-6
def test_gradcheck_tolerance_defaults_to_1e_6(slip, ok, rng):
    result = gradcheck(lambda x: 2 * x, lambda g, x: 2 * g * (1 + slip), (rng.standard_normal(5),))
    assert result.ok == ok, result.errors


def test_gradcheck_takes_arrays_of_any_layout_and_leaves_them_alone(rng):
    x = rng.standard_normal((4, 6))
    read_only = x.copy()
    read_only.flags.writeable = False
    for a in (x[:, ::2], x.T, read_only):  # strided, Fortran-ordered, read-only
        before = a.copy()
        assert gradcheck(np.sin, lambda g, x: g * np.cos(x), (a,)).ok
        np.testing.assert_array_equal(a, before)


def test_gradcheck_rejects_misaligned_gradients(rng):
    x = rng.standard_normal(4)
    with pytest.raises(ValueError, match="differentiable"):
        gradcheck(lambda x, y: x * y, lambda g, x, y: g * y, (x, x.copy()))


def test_relative_error_is_scale_free():
    a = np.array([1.0, 2.0])
    assert relative_error(a, a) == 0.0
    assert relative_error(1e6 * a, 1e6 * (a + 1e-3)) == pytest.approx(relative_error(a, a + 1e-3))


def test_compare_reports_verdicts(rng):
    a = rng.standard_normal(5)
    good = compare({"same": (a, torch.tensor(a))})
    bad = compare({"same": (a, a), "off": (a, a + 1e-6)}, tol=1e-10)
    assert good.ok and good.worst == 0.0
    assert not bad.ok and bad.errors["off"] == pytest.approx(1e-6)
    assert "FAIL" in repr(bad)
    with pytest.raises(ValueError, match="shapes"):
        max_abs_error(a, a[:3])


def test_device_is_a_real_torch_device():
    dev = dlbook.device()
    assert isinstance(dev, torch.device) and dev.type in {"cuda", "mps", "cpu"}
    assert torch.ones(2, device=dev).sum().item() == 2.0


def test_submodules_load_on_first_use():
    import dlbook as top

    assert top.shapes.conv_output_size(28, 5) == 24
    assert callable(top.scratch.conv2d)
    with pytest.raises(AttributeError, match="nope"):
        top.nope  # noqa: B018


def test_scratch_never_imports_torch():
    """dlbook.scratch is NumPy only: importing it (and running it) must not load torch."""
    import subprocess
    import sys

    code = (
        "import sys, numpy as np; import dlbook.scratch as s; "
        "s.conv2d(np.ones((1, 1, 4, 4)), np.ones((1, 1, 3, 3))); "
        "import dlbook.scratch.gradcheck, dlbook.scratch.matrix, dlbook.shapes; "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_best_time_takes_the_fastest_run():
    import time

    from dlbook.timing import best_time

    calls = []

    def sleepy():
        calls.append(1)
        time.sleep(0.02 if len(calls) == 2 else 0.001)  # the first timed call is slow

    t = best_time(sleepy, repeat=3, warmup=1)
    assert len(calls) == 4 and 0.001 <= t < 0.015
    with pytest.raises(ValueError, match="repeat"):
        best_time(sleepy, repeat=0)


def test_compare_names_its_reference():
    from dlbook.verify import compare

    out = compare({"auc": (0.5, 0.5)}, reference="scikit-learn")
    assert repr(out).splitlines()[0] == "max |scratch - scikit-learn| <= 1e-10:"
    assert repr(compare({"x": (1.0, 1.0)})).startswith("max |scratch - torch|")


def test_one_thread_limits_and_restores():
    import torch
    from threadpoolctl import threadpool_info

    from dlbook.timing import one_thread

    torch.set_num_threads(2)
    with one_thread(blas=True, torch=True):
        assert torch.get_num_threads() == 1
        assert all(p["num_threads"] == 1 for p in threadpool_info() if p["user_api"] == "blas")
    assert torch.get_num_threads() == 2


def test_one_verdict_type_prints_both_headers():
    from dlbook.verify import Verdict, gradient_verdict

    grads = gradient_verdict({"input": 1e-9, "weight": 0.5})
    assert isinstance(grads, Verdict) and not grads.ok and grads.worst == 0.5
    assert repr(grads).splitlines() == [
        "gradient check (relative error <= 1e-06):",
        "  input   pass",
        "  weight  FAIL",
    ]
    same = Verdict(tol=1e-10).add("out", np.ones(2), np.ones(2))
    assert repr(same) == repr(compare({"out": (np.ones(2), np.ones(2))}))
    assert bool(gradient_verdict()) and gradient_verdict().worst == 0.0
    nan = compare({"x": (np.array([np.nan]), np.array([0.0]))})
    assert not nan.ok and "FAIL" in repr(nan)  # a NaN error never passes


def test_gradient_verdict_add_measures_relative_error(rng):
    from dlbook.verify import gradient_verdict

    a = rng.standard_normal(6)
    v = gradient_verdict(tol=1e-6).add("same", a, a).add("scaled", a, 2 * a)
    assert v.errors["same"] == 0.0 and v.errors["scaled"] == pytest.approx(1 / 3)
    assert not v.ok


def test_numerical_gradient_of_chosen_entries(rng):
    w = rng.standard_normal((4, 5))
    x = rng.standard_normal(5)

    def loss():
        return float(np.sum(np.tanh(w @ x)))

    full = numerical_gradient(loss, w)
    idx = np.array([0, 7, 19])
    some = numerical_gradient(loss, w, entries=idx)
    assert some.shape == (3,)
    np.testing.assert_allclose(some, full.reshape(-1)[idx], atol=1e-12)
    exact = (1 - np.tanh(w @ x) ** 2)[:, None] * x[None, :]
    np.testing.assert_allclose(full, exact, atol=1e-8)
    with pytest.raises(ValueError, match="entries"):
        numerical_gradient(loss, w, entries=[20])
    with pytest.raises(ValueError, match="entries"):
        numerical_gradient(loss, w, entries=[[0]])
    with pytest.raises(ValueError, match="contiguous"):
        numerical_gradient(loss, np.asfortranarray(w))
